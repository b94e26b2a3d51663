// GatewayConfig → what libxds.so stores into the `xds-config` dict. A full state (snapshot) is
// entries [u32 key length][u32 value length][key][value]; a delta record is the same entries for the
// changed keys only, where value length 0xffffffff (and no value) deletes the key. Keys are
// `/<kind>/<id>` as APISIX's config_xds.lua reads them, values the object's JSON (with `id`, which
// APISIX's schemas require for some kinds). Snapshot entries come in dependency order
// (GATEWAY_KINDS), delta entries in the change set's order: the orders nginx stores them in.
import type { Change } from '../../domain/diff.js';
import { GATEWAY_KINDS, type GatewayConfig, type GatewayKind } from '../../domain/gateway-config.js';
import type { JsonObject } from '../../domain/json.js';

interface EncodedEntry {
  readonly value: JsonObject;
  readonly key: string;
  readonly json: string;
  readonly keyBytes: number;
  readonly jsonBytes: number;
}

const DELETED = 0xffffffff;

/** The dict key APISIX's xds provider reads an object from. */
export const dictKey = (kind: GatewayKind, id: string): string => `/${kind}/${id}`;

/** `/routes/r1` → `routes/r1` (GatewayConfig's key), for reporting nginx-side failures. */
export function objectKeyOfDictKey(key: string): string {
  return key.startsWith('/') ? key.slice(1) : key;
}

export interface EncodedState {
  readonly payload: Buffer;
  readonly count: number;
}

/**
 * Encodes whole states and deltas, remembering the serialised entry of every object of the last
 * state it encoded: an object value carried over unchanged (the same reference, as the translator
 * and diff keep them) is not serialised again. Values are JSON.stringify's text, not the canonical
 * (key-sorted) form: several times cheaper for 10k new objects, and nginx needs only valid JSON
 * (the translator's key order is deterministic, so an unchanged object gives the same text). The
 * payload is written into one buffer.
 */
export class StateEncoder {
  private entries = new Map<string, EncodedEntry>();

  encode(config: GatewayConfig): EncodedState {
    const byKind = new Map<GatewayKind, string[]>(GATEWAY_KINDS.map((kind) => [kind, []]));
    for (const [key, object] of config.objects) byKind.get(object.kind)!.push(key);
    const next = new Map<string, EncodedEntry>();
    const ordered: Encoded[] = [];
    for (const kind of GATEWAY_KINDS) {
      for (const key of byKind.get(kind)!) {
        const entry = this.entryOf(config, key);
        next.set(key, entry);
        ordered.push(entry);
      }
    }
    this.entries = next;
    return { payload: write(ordered), count: ordered.length };
  }

  /**
   * The delta record of `changes` (ordered, from the state last encoded to `desired`), or undefined
   * when they do not start from that state (a created key already there, an updated or deleted one
   * missing: then only a full state is right) or need more than `maxBytes`.
   */
  encodeChanges(changes: readonly Change[], desired: GatewayConfig, maxBytes = Infinity): EncodedState | undefined {
    for (const change of changes) if (this.entries.has(change.key) !== (change.op !== 'create')) return undefined;
    const ordered: Encoded[] = [];
    for (const change of changes) {
      if (change.op === 'delete') {
        this.entries.delete(change.key);
        const key = dictKey(change.previous.kind, change.previous.id);
        ordered.push({ key, keyBytes: Buffer.byteLength(key), json: undefined, jsonBytes: 0 });
      } else {
        const entry = this.entryOf(desired, change.key);
        this.entries.set(change.key, entry);
        ordered.push(entry);
      }
    }
    return bytesOf(ordered) > maxBytes ? undefined : { payload: write(ordered), count: ordered.length };
  }

  private entryOf(config: GatewayConfig, key: string): EncodedEntry {
    const object = config.objects.get(key)!;
    const entry = this.entries.get(key);
    if (entry?.value === object.value) return entry;
    const dict = dictKey(object.kind, object.id);
    const json = JSON.stringify(object.value);
    return { value: object.value, key: dict, json, keyBytes: Buffer.byteLength(dict), jsonBytes: Buffer.byteLength(json) };
  }
}

/** An entry to write; `json` undefined deletes the key (delta records only). */
interface Encoded {
  readonly key: string;
  readonly keyBytes: number;
  readonly json: string | undefined;
  readonly jsonBytes: number;
}

function bytesOf(entries: readonly Encoded[]): number {
  let length = 0;
  for (const entry of entries) length += 8 + entry.keyBytes + entry.jsonBytes;
  return length;
}

function write(entries: readonly Encoded[]): Buffer {
  const payload = Buffer.allocUnsafe(bytesOf(entries));
  let offset = 0;
  for (const entry of entries) {
    payload.writeUInt32LE(entry.keyBytes, offset);
    payload.writeUInt32LE(entry.json === undefined ? DELETED : entry.jsonBytes, offset + 4);
    offset += 8;
    offset += payload.write(entry.key, offset, 'utf8');
    if (entry.json !== undefined) offset += payload.write(entry.json, offset, 'utf8');
  }
  return payload;
}

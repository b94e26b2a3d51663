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
  readonly json: string;
  readonly bytes: Buffer;
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
 * Encodes whole states and deltas, remembering the encoded entry of every object of the last state
 * it encoded: an object value carried over unchanged (the same reference, as the translator and
 * diff keep them) is not even serialised, and otherwise the canonical JSON is compared. A full
 * state then costs one copy of the payload, a delta only its changed objects.
 */
export class StateEncoder {
  private entries = new Map<string, EncodedEntry>();

  encode(config: GatewayConfig): EncodedState {
    const byKind = new Map<GatewayKind, string[]>(GATEWAY_KINDS.map((kind) => [kind, []]));
    for (const [key, object] of config.objects) byKind.get(object.kind)!.push(key);
    const next = new Map<string, EncodedEntry>();
    const parts: Buffer[] = [];
    let length = 0;
    for (const kind of GATEWAY_KINDS) {
      for (const key of byKind.get(kind)!) {
        const entry = this.entryOf(config, key);
        next.set(key, entry);
        parts.push(entry.bytes);
        length += entry.bytes.length;
      }
    }
    this.entries = next;
    return { payload: Buffer.concat(parts, length), count: parts.length };
  }

  /**
   * The delta record of `changes` (ordered, from the state last encoded to `desired`), or undefined
   * when they do not start from that state (a created key already there, an updated or deleted one
   * missing): then only a full state is right.
   */
  encodeChanges(changes: readonly Change[], desired: GatewayConfig): EncodedState | undefined {
    for (const change of changes) if (this.entries.has(change.key) !== (change.op !== 'create')) return undefined;
    const parts: Buffer[] = [];
    let length = 0;
    for (const change of changes) {
      let bytes: Buffer;
      if (change.op === 'delete') {
        this.entries.delete(change.key);
        bytes = encodeDeletion(dictKey(change.previous.kind, change.previous.id));
      } else {
        const entry = this.entryOf(desired, change.key);
        this.entries.set(change.key, entry);
        bytes = entry.bytes;
      }
      parts.push(bytes);
      length += bytes.length;
    }
    return { payload: Buffer.concat(parts, length), count: parts.length };
  }

  /** Forgets the last state: the next full encode serialises everything again. */
  reset(): void {
    this.entries = new Map();
  }

  private entryOf(config: GatewayConfig, key: string): EncodedEntry {
    const object = config.objects.get(key)!;
    const entry = this.entries.get(key);
    if (entry?.value === object.value) return entry;
    const json = config.canonicalOf(key)!;
    return entry?.json === json ? { ...entry, value: object.value } : { value: object.value, json, bytes: encodeEntry(dictKey(object.kind, object.id), json) };
  }
}

function encodeEntry(key: string, value: string): Buffer {
  const keyLength = Buffer.byteLength(key);
  const valueLength = Buffer.byteLength(value);
  const bytes = Buffer.allocUnsafe(8 + keyLength + valueLength);
  bytes.writeUInt32LE(keyLength, 0);
  bytes.writeUInt32LE(valueLength, 4);
  bytes.write(key, 8, 'utf8');
  bytes.write(value, 8 + keyLength, 'utf8');
  return bytes;
}

function encodeDeletion(key: string): Buffer {
  const keyLength = Buffer.byteLength(key);
  const bytes = Buffer.allocUnsafe(8 + keyLength);
  bytes.writeUInt32LE(keyLength, 0);
  bytes.writeUInt32LE(DELETED, 4);
  bytes.write(key, 8, 'utf8');
  return bytes;
}

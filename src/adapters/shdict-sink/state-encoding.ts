// GatewayConfig → the slot payload libxds.so stores into the `xds-config` dict: entries
// [u32 key length][u32 value length][key][value], keys `/<kind>/<id>` as APISIX's config_xds.lua
// reads them, values the object's JSON (with `id`, which APISIX's schemas require for some kinds).
// Entries come in dependency order (GATEWAY_KINDS), the order nginx stores them in.
import { GATEWAY_KINDS, type GatewayConfig, type GatewayKind } from '../../domain/gateway-config.js';
import type { JsonObject } from '../../domain/json.js';

interface EncodedEntry {
  readonly value: JsonObject;
  readonly json: string;
  readonly bytes: Buffer;
}

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
 * Encodes whole states, re-encoding only objects that changed since the previous call: an object
 * value carried over unchanged (the same reference, as the translator and diff keep them) is not
 * even serialised, and otherwise the canonical JSON the diff computed is compared. An update then
 * costs one copy of the payload.
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
        const object = config.objects.get(key)!;
        let entry = this.entries.get(key);
        if (entry?.value !== object.value) {
          const json = config.canonicalOf(key)!;
          entry = entry?.json === json ? { ...entry, value: object.value } : { value: object.value, json, bytes: encodeEntry(dictKey(kind, object.id), json) };
        }
        next.set(key, entry);
        parts.push(entry.bytes);
        length += entry.bytes.length;
      }
    }
    this.entries = next;
    return { payload: Buffer.concat(parts, length), count: parts.length };
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

// Test helpers: find every Any in a decoded message tree (typed side) and in the JSON it came from
// (raw side), so a test can assert the typed path neither lost nor retyped any embedded config.
import { isKnownTypeUrl, type KnownTypeUrl, type MessageOf } from '../../../src/adapters/envoy/proto/message-registry.js';
import { TYPE_URL_PREFIX, typeNameOf } from '../../../src/adapters/envoy/proto/type-urls.js';
import { unpackAny, type AnyLike, type UnpackedAny } from '../../../src/adapters/envoy/proto/unpack-any.js';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isAny = (v: unknown): v is AnyLike => isRecord(v) && typeof v['typeUrl'] === 'string' && v['value'] instanceof Uint8Array && Object.keys(v).length === 2;

/** Every Any reachable in a ts-proto message, unpacked, depth-first; descends into known payloads. */
export function* anysIn(value: unknown): Generator<UnpackedAny> {
  if (Array.isArray(value)) {
    for (const v of value) yield* anysIn(v);
  } else if (isAny(value)) {
    const unpacked = unpackAny(value);
    yield unpacked;
    if (unpacked.kind === 'known') yield* anysIn(unpacked.message);
  } else if (isRecord(value)) {
    for (const v of Object.values(value)) yield* anysIn(v);
  }
}

const TYPED_STRUCTS = new Set(['udpa.type.v1.TypedStruct', 'xds.type.v3.TypedStruct']);
const known = (name: string) => isKnownTypeUrl(`${TYPE_URL_PREFIX}${name}`);

/**
 * The type name of every `{"@type": ...}` object in raw JSON, seen the way unpackAny reports it:
 * a TypedStruct counts as its inner type, and the walk stops inside payloads amesh keeps opaque.
 */
export function* rawAnyTypeNames(json: unknown): Generator<string> {
  if (Array.isArray(json)) {
    for (const v of json) yield* rawAnyTypeNames(v);
    return;
  }
  if (!isRecord(json)) return;
  const at = json['@type'];
  if (typeof at !== 'string') {
    for (const v of Object.values(json)) yield* rawAnyTypeNames(v);
    return;
  }
  let name = typeNameOf(at) ?? at;
  let body: unknown = json;
  if (TYPED_STRUCTS.has(name)) {
    const inner = json['type_url'] ?? json['typeUrl'];
    name = typeof inner === 'string' ? (typeNameOf(inner) ?? inner) : '';
    if (!known(name)) {
      yield name;
      return;
    }
    body = json['value'] ?? {};
  }
  yield name;
  if (!known(name) || !isRecord(body)) return;
  for (const [k, v] of Object.entries(body)) if (k !== '@type') yield* rawAnyTypeNames(v);
}

/** Sorted `name xN` lines, for readable equality failures. */
export function tally(names: Iterable<string>): string[] {
  const counts = new Map<string, number>();
  for (const n of names) counts.set(n, (counts.get(n) ?? 0) + 1);
  return [...counts].map(([n, c]) => `${n} x${c}`).sort();
}

export const typeNamesOf = function* (unpacked: Iterable<UnpackedAny>): Generator<string> {
  for (const u of unpacked) yield typeNameOf(u.typeUrl) ?? u.typeUrl;
};

/** Unpacks an Any that must hold `typeUrl` (directly or in a TypedStruct); throws otherwise (tests only). */
export function unpackAs<U extends KnownTypeUrl>(any: AnyLike | undefined, typeUrl: U): MessageOf<U> {
  if (any === undefined) throw new Error(`expected an Any of ${typeUrl}, got none`);
  const u = unpackAny(any);
  if (u.kind !== 'known' || u.typeUrl !== typeUrl) throw new Error(`expected ${typeUrl}, got ${JSON.stringify(u)}`);
  return u.message as MessageOf<U>;
}

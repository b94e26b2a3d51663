// google.protobuf.Any -> a decoded message when amesh knows the type, otherwise an opaque marker.
// Lives apart from message-registry.ts because unwrapping a TypedStruct needs the JSON path
// (proto-json.ts), which itself needs the registry.
import { decodeResource, isKnownTypeUrl, type KnownMessage, type KnownTypeUrl, type MessageOf } from './message-registry.js';
import { formatProtoJsonErrors, parseProtoJson } from './proto-json.js';
import { TYPE_URL, TYPE_URL_PREFIX, typeNameOf } from './type-urls.js';

/** The wire form of an Any, as ts-proto's `Any` (and anything shaped like it) carries it. */
export interface AnyLike {
  readonly typeUrl: string;
  readonly value: Uint8Array;
}

export type TypedStructTypeUrl = typeof TYPE_URL.UdpaTypedStruct | typeof TYPE_URL.XdsTypedStruct;

export type UnpackedAny =
  /** `typeUrl` is canonical (`type.googleapis.com/...`): compare it with TYPE_URL.* to narrow `message`. */
  | ({ readonly kind: 'known' } & KnownMessage)
  /**
   * A type amesh does not model (Istio's `stats.PluginConfig`, metadata exchange, ...): not an error.
   * `wrappedIn` is set when the payload is only available as a TypedStruct's JSON: it came wrapped, or the
   * JSON path parked a type outside the generated closure there.
   */
  | { readonly kind: 'opaque'; readonly typeUrl: string; readonly wrappedIn?: TypedStructTypeUrl }
  | { readonly kind: 'invalid'; readonly typeUrl: string; readonly error: string };

/**
 * Never throws. A udpa/xds TypedStruct is unwrapped: its Struct is converted into the inner message
 * through the JSON path when that type is known, else the result is opaque with the inner type URL.
 */
export function unpackAny(packed: AnyLike): UnpackedAny {
  const name = typeNameOf(packed.typeUrl);
  if (name === undefined) return { kind: 'invalid', typeUrl: packed.typeUrl, error: 'malformed type URL' };
  const typeUrl = `${TYPE_URL_PREFIX}${name}`;
  if (!isKnownTypeUrl(typeUrl)) return { kind: 'opaque', typeUrl: packed.typeUrl };
  if (typeUrl === TYPE_URL.UdpaTypedStruct || typeUrl === TYPE_URL.XdsTypedStruct) {
    return unwrapTypedStruct(typeUrl, packed.value);
  }
  const decoded = decodeResource(typeUrl, packed.value);
  return decoded.ok ? known(typeUrl, decoded.value) : { kind: 'invalid', typeUrl: packed.typeUrl, error: decoded.error.message };
}

function unwrapTypedStruct(wrapper: TypedStructTypeUrl, bytes: Uint8Array): UnpackedAny {
  const decoded = decodeResource(wrapper, bytes);
  if (!decoded.ok) return { kind: 'invalid', typeUrl: wrapper, error: decoded.error.message };
  const { typeUrl: inner, value } = decoded.value;
  const innerName = typeNameOf(inner);
  const wrapperName = typeNameOf(wrapper);
  if (innerName === undefined) return { kind: 'invalid', typeUrl: inner, error: `${wrapperName} with malformed type_url` };
  const innerUrl = `${TYPE_URL_PREFIX}${innerName}`;
  if (!isKnownTypeUrl(innerUrl)) return { kind: 'opaque', typeUrl: inner, wrappedIn: wrapper };
  const parsed = parseProtoJson(innerUrl, value ?? {});
  return parsed.ok ? known(innerUrl, parsed.value) : { kind: 'invalid', typeUrl: inner, error: `in ${wrapperName}: ${formatProtoJsonErrors(parsed.error)}` };
}

function known<U extends KnownTypeUrl>(typeUrl: U, message: MessageOf<U>): UnpackedAny {
  // TypeScript cannot match a generic U to its member of the KnownMessage union; the pairing holds by construction.
  return { kind: 'known', typeUrl, message } as UnpackedAny;
}

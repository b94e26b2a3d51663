// Type URL -> ts-proto codec, for every message amesh decodes from a `google.protobuf.Any` (xDS resources,
// filter configs, config dumps). Hand-maintained on purpose: ts-proto's `outputTypeRegistry` does not
// typecheck, and an explicit list documents what the translator understands; everything else stays opaque.
import type { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';
import { err, ok, type Result } from '../../../domain/result.js';
import { BootstrapConfigDump, ConfigDump, SecretsConfigDump } from '../generated/envoy/admin/v3/config_dump.js';
import {
  ClustersConfigDump,
  EcdsConfigDump,
  EndpointsConfigDump,
  ListenersConfigDump,
  RoutesConfigDump,
  ScopedRoutesConfigDump,
} from '../generated/envoy/admin/v3/config_dump_shared.js';
import { Bootstrap } from '../generated/envoy/config/bootstrap/v3/bootstrap.js';
import { Cluster } from '../generated/envoy/config/cluster/v3/cluster.js';
import { TypedExtensionConfig } from '../generated/envoy/config/core/v3/extension.js';
import { ClusterLoadAssignment } from '../generated/envoy/config/endpoint/v3/endpoint.js';
import { Listener } from '../generated/envoy/config/listener/v3/listener.js';
import { RouteConfiguration } from '../generated/envoy/config/route/v3/route.js';
import { Cors, CorsPolicy } from '../generated/envoy/extensions/filters/http/cors/v3/cors.js';
import { HTTPFault } from '../generated/envoy/extensions/filters/http/fault/v3/fault.js';
import { Router } from '../generated/envoy/extensions/filters/http/router/v3/router.js';
import { HttpConnectionManager } from '../generated/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js';
import { TcpProxy } from '../generated/envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.js';
import { Secret } from '../generated/envoy/extensions/transport_sockets/tls/v3/secret.js';
import { DownstreamTlsContext, UpstreamTlsContext } from '../generated/envoy/extensions/transport_sockets/tls/v3/tls.js';
import { HttpProtocolOptions } from '../generated/envoy/extensions/upstreams/http/v3/http_protocol_options.js';
import { TypedStruct as UdpaTypedStruct } from '../generated/udpa/type/v1/typed_struct.js';
import { TypedStruct as XdsTypedStruct } from '../generated/xds/type/v3/typed_struct.js';
import { TYPE_URL, TYPE_URL_PREFIX } from './type-urls.js';

/**
 * The part of ts-proto's generated `MessageFns<T>` that generic code uses. (Each generated file declares
 * its own identical `MessageFns`; the registry values are those objects, so `fromPartial`/`create` stay
 * available with their exact types through `MESSAGE_CODECS[url]`.)
 */
export interface MessageCodec<T> {
  encode(message: T, writer?: BinaryWriter): BinaryWriter;
  decode(input: BinaryReader | Uint8Array, length?: number): T;
}

export const MESSAGE_CODECS = {
  [TYPE_URL.Listener]: Listener,
  [TYPE_URL.RouteConfiguration]: RouteConfiguration,
  [TYPE_URL.Cluster]: Cluster,
  [TYPE_URL.ClusterLoadAssignment]: ClusterLoadAssignment,
  [TYPE_URL.Secret]: Secret,
  [TYPE_URL.TypedExtensionConfig]: TypedExtensionConfig,
  [TYPE_URL.HttpConnectionManager]: HttpConnectionManager,
  [TYPE_URL.TcpProxy]: TcpProxy,
  [TYPE_URL.HTTPFault]: HTTPFault,
  [TYPE_URL.Cors]: Cors,
  [TYPE_URL.CorsPolicy]: CorsPolicy,
  [TYPE_URL.Router]: Router,
  [TYPE_URL.HttpProtocolOptions]: HttpProtocolOptions,
  [TYPE_URL.UpstreamTlsContext]: UpstreamTlsContext,
  [TYPE_URL.DownstreamTlsContext]: DownstreamTlsContext,
  [TYPE_URL.UdpaTypedStruct]: UdpaTypedStruct,
  [TYPE_URL.XdsTypedStruct]: XdsTypedStruct,
  [TYPE_URL.ConfigDump]: ConfigDump,
  [TYPE_URL.BootstrapConfigDump]: BootstrapConfigDump,
  [TYPE_URL.ListenersConfigDump]: ListenersConfigDump,
  [TYPE_URL.ClustersConfigDump]: ClustersConfigDump,
  [TYPE_URL.RoutesConfigDump]: RoutesConfigDump,
  [TYPE_URL.ScopedRoutesConfigDump]: ScopedRoutesConfigDump,
  [TYPE_URL.EndpointsConfigDump]: EndpointsConfigDump,
  [TYPE_URL.SecretsConfigDump]: SecretsConfigDump,
  [TYPE_URL.EcdsConfigDump]: EcdsConfigDump,
  [TYPE_URL.Bootstrap]: Bootstrap,
} as const;

type Codecs = typeof MESSAGE_CODECS;
/** Canonical (`type.googleapis.com/...`) type URL of a message with a registered codec. */
export type KnownTypeUrl = keyof Codecs;
/** Fully-qualified name of a message with a registered codec. */
export type KnownTypeName = KnownTypeUrl extends `${typeof TYPE_URL_PREFIX}${infer N}` ? N : never;
/** The generated message interface for a type URL, e.g. `MessageOf<typeof TYPE_URL.Listener>` is `Listener`. */
export type MessageOf<U extends KnownTypeUrl> = ReturnType<Codecs[U]['decode']>;
/** A decoded message tagged with its type URL: narrowing on `typeUrl` narrows `message`. */
export type KnownMessage = {
  [U in KnownTypeUrl]: { readonly typeUrl: U; readonly message: MessageOf<U> };
}[KnownTypeUrl];

export function isKnownTypeUrl(typeUrl: string): typeUrl is KnownTypeUrl {
  return Object.hasOwn(MESSAGE_CODECS, typeUrl);
}

export function codecFor<U extends KnownTypeUrl>(typeUrl: U): MessageCodec<MessageOf<U>> {
  // Indexing with a generic key yields the union of all codecs; the key ties it to exactly one.
  return MESSAGE_CODECS[typeUrl] as unknown as MessageCodec<MessageOf<U>>;
}

export interface DecodeError {
  readonly typeUrl: string;
  readonly message: string;
}

/** Binary path (xDS responses, Any payloads): protobuf wire bytes -> generated message, errors as values. */
export function decodeResource<U extends KnownTypeUrl>(typeUrl: U, bytes: Uint8Array): Result<MessageOf<U>, DecodeError> {
  if (!isKnownTypeUrl(typeUrl)) return err({ typeUrl, message: 'no codec registered for this type URL' });
  try {
    return ok(codecFor(typeUrl).decode(bytes));
  } catch (e) {
    // ts-proto throws on truncated input, bad wire types and 64-bit values beyond 2^53.
    return err({ typeUrl, message: e instanceof Error ? e.message : String(e) });
  }
}

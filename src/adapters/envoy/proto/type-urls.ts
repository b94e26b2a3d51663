// Type URLs of the protobuf messages amesh decodes from `google.protobuf.Any`, as Envoy and Istio write them.
// Kept as literal types: message-registry.ts keys its codec map by these, so `MessageOf<typeof TYPE_URL.X>`
// resolves to the generated message interface.

export const TYPE_URL_PREFIX = 'type.googleapis.com/';

export const TYPE_URL = {
  // xDS resource types (the `type_url` of LDS, RDS, CDS, EDS and SDS requests and responses).
  Listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  RouteConfiguration: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  Cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  ClusterLoadAssignment: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  Secret: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
  // ECDS resources, and the entries of an EcdsConfigDump.
  TypedExtensionConfig: 'type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig',

  // Filters and extensions carried in `typed_config` / `typed_per_filter_config` /
  // `typed_extension_protocol_options`.
  HttpConnectionManager: 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  TcpProxy: 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
  HTTPFault: 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault',
  Cors: 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors',
  CorsPolicy: 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy',
  Router: 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
  HttpProtocolOptions: 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
  UpstreamTlsContext: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
  DownstreamTlsContext: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',

  // Wrappers that carry another message as JSON (a Struct) plus its type URL.
  UdpaTypedStruct: 'type.googleapis.com/udpa.type.v1.TypedStruct',
  XdsTypedStruct: 'type.googleapis.com/xds.type.v3.TypedStruct',

  // Envoy admin /config_dump and the bootstrap.
  ConfigDump: 'type.googleapis.com/envoy.admin.v3.ConfigDump',
  BootstrapConfigDump: 'type.googleapis.com/envoy.admin.v3.BootstrapConfigDump',
  ListenersConfigDump: 'type.googleapis.com/envoy.admin.v3.ListenersConfigDump',
  ClustersConfigDump: 'type.googleapis.com/envoy.admin.v3.ClustersConfigDump',
  RoutesConfigDump: 'type.googleapis.com/envoy.admin.v3.RoutesConfigDump',
  ScopedRoutesConfigDump: 'type.googleapis.com/envoy.admin.v3.ScopedRoutesConfigDump',
  EndpointsConfigDump: 'type.googleapis.com/envoy.admin.v3.EndpointsConfigDump',
  SecretsConfigDump: 'type.googleapis.com/envoy.admin.v3.SecretsConfigDump',
  EcdsConfigDump: 'type.googleapis.com/envoy.admin.v3.EcdsConfigDump',
  Bootstrap: 'type.googleapis.com/envoy.config.bootstrap.v3.Bootstrap',
} as const;

export type TypeUrl = (typeof TYPE_URL)[keyof typeof TYPE_URL];

/** The two TypedStruct wrappers (`{type_url, value: Struct}`), unwrapped by unpackAny. */
export const TYPED_STRUCT_TYPE_URLS: ReadonlySet<string> = new Set([TYPE_URL.UdpaTypedStruct, TYPE_URL.XdsTypedStruct]);

/** The xDS resource types amesh subscribes to (Istio's push order: CDS, EDS, LDS, RDS; then SDS). */
export const XDS_RESOURCE_TYPE_URLS = [TYPE_URL.Cluster, TYPE_URL.ClusterLoadAssignment, TYPE_URL.Listener, TYPE_URL.RouteConfiguration, TYPE_URL.Secret] as const;

export type XdsResourceTypeUrl = (typeof XDS_RESOURCE_TYPE_URLS)[number];

/**
 * The fully-qualified message name of a type URL: everything after the last `/` (the Any spec lets the
 * prefix vary, e.g. `type.googleapis.com/` or a custom host). Undefined when there is no name.
 */
export function typeNameOf(typeUrl: string): string | undefined {
  const name = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
  return /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(name) ? name : undefined;
}

/** The canonical type URL of a fully-qualified message name. */
export function typeUrlOf<N extends string>(typeName: N): `${typeof TYPE_URL_PREFIX}${N}` {
  return `${TYPE_URL_PREFIX}${typeName}`;
}

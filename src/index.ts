// amesh-ts as a library: decode Envoy configuration, translate it to APISIX, diff and render the
// result, and the ports with their in-memory adapters for embedding the pipeline in a tool.

// Domain
export type { Cluster, UpstreamTls, LbPolicy, DiscoveryType } from './domain/mesh/cluster.js';
export type { Endpoint, EndpointSet, LocalityEndpoints, HealthStatus } from './domain/mesh/endpoint.js';
export type { Listener, FilterChain, ChainProtocol } from './domain/mesh/listener.js';
export type { RouteTable, VirtualHost, Route, RouteMatch, RouteAction } from './domain/mesh/route.js';
export type { Secret } from './domain/mesh/secret.js';
export type { StringMatcher } from './domain/mesh/string-match.js';
export { createSnapshot, danglingReferences, type MeshSnapshot, type MeshResources, type DanglingReference } from './domain/snapshot.js';
export { FidelityReport, type FidelityRecord, type FidelitySummaryLine, type ResourceRef } from './domain/fidelity.js';
export { GatewayConfig, GATEWAY_KINDS, type GatewayKind, type GatewayObject } from './domain/gateway-config.js';
export { diffConfigs, applyChangeSet, type Change, type ChangeSet } from './domain/diff.js';
export type { Result } from './domain/result.js';
export type { JsonValue, JsonObject } from './domain/json.js';

// Decoding Envoy configuration
export { resourcesOfDocument, streamDocument, type DocumentResources, type DocumentStream, type DocumentError } from './adapters/envoy/config-document.js';
export { decodeXdsResources, type XdsResource, type DecodedMesh, type DecodeError } from './adapters/envoy/xds-resources.js';
export { parseProtoJson, type ProtoJsonError } from './adapters/envoy/proto/proto-json.js';
export { decodeResource } from './adapters/envoy/proto/message-registry.js';
export { TYPE_URL } from './adapters/envoy/proto/type-urls.js';

// Translating and rendering for APISIX
export { translateSnapshot, OWNER_LABEL, OWNER_VALUE, type Translation, type TranslateOptions, type TranslationError, type RouteOrigin } from './adapters/apisix/translate.js';
export { renderStandalone, standaloneDocument, type StandaloneFormat } from './adapters/apisix/standalone-document.js';
export type { ApisixRoute, ApisixUpstream, ApisixSsl, ApisixStreamRoute } from './adapters/apisix/apisix-types.js';

// Ports and adapters
export * from './ports/index.js';
export { MemoryConfigSource } from './adapters/memory/memory-config-source.js';
export { MemoryConfigSink } from './adapters/memory/memory-config-sink.js';
export { FileConfigSource, type FileSourceOptions } from './adapters/file-source/file-config-source.js';
export { FileConfigSink, type FileSinkOptions } from './adapters/file-sink/file-sink.js';
export { translateUpdate, type PipelineOptions, type PipelineError } from './app/pipeline.js';
export { Translator } from './adapters/apisix/translate.js';
export { MemorySecretSource } from './adapters/memory/memory-secret-source.js';
export { MemoryConfigCache } from './adapters/memory/memory-config-cache.js';
export { MemoryMetrics } from './adapters/memory/memory-metrics.js';
export { AdsClient, type AdsClientOptions, type AdsMode } from './adapters/xds/ads-client.js';
export { XdsServer } from './adapters/xds-server/xds-server.js';
export { istioNodeFromEnvironment, istioNodeFromGrpcBootstrap } from './adapters/istio/node-identity.js';
export { toEnvoyNode, type XdsNode } from './adapters/envoy/node.js';

// Traffic capture (istio-iptables compatible)
export { parseCaptureOptions, CAPTURE_DEFAULTS, type RawCaptureOptions, type CaptureOptions, type OptionProblem } from './domain/capture/capture-options.js';
export { planCapture, type CapturePlan, type RoutingStep } from './domain/capture/plan.js';
export { renderIstioRestore, renderSaveFormat } from './domain/capture/render.js';
export type { Rule, RuleSet, Table } from './domain/capture/rule-set.js';
export { IptablesInterceptor, type IptablesBackend, type IptablesInterceptorOptions } from './adapters/iptables/iptables-interceptor.js';
export { MemoryTrafficInterceptor } from './adapters/memory/memory-traffic-interceptor.js';
export { originalDestination, type OriginalDestination } from './adapters/original-dst/original-destination.js';

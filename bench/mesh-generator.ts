// A synthetic mesh shaped like istiod's output for one sidecar (CDS, EDS, LDS, RDS, SDS): per service an
// `outbound|<port>||<fqdn>` EDS cluster with Istio's mTLS transport_socket_matches, its endpoints, one
// virtual host in the per-port route table, and a VIP listener for TCP services. Deterministic per seed.
import { Cluster, Cluster_DiscoveryType, Cluster_LbPolicy } from '../src/adapters/envoy/generated/envoy/config/cluster/v3/cluster.js';
import { ApiVersion } from '../src/adapters/envoy/generated/envoy/config/core/v3/config_source.js';
import { TrafficDirection } from '../src/adapters/envoy/generated/envoy/config/core/v3/base.js';
import { HealthStatus } from '../src/adapters/envoy/generated/envoy/config/core/v3/health_check.js';
import { ClusterLoadAssignment } from '../src/adapters/envoy/generated/envoy/config/endpoint/v3/endpoint.js';
import { Listener } from '../src/adapters/envoy/generated/envoy/config/listener/v3/listener.js';
import { RouteConfiguration } from '../src/adapters/envoy/generated/envoy/config/route/v3/route.js';
import { HTTPFault } from '../src/adapters/envoy/generated/envoy/extensions/filters/http/fault/v3/fault.js';
import { HttpConnectionManager } from '../src/adapters/envoy/generated/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js';
import { TcpProxy } from '../src/adapters/envoy/generated/envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.js';
import { TlsParameters_TlsProtocol } from '../src/adapters/envoy/generated/envoy/extensions/transport_sockets/tls/v3/common.js';
import { Secret } from '../src/adapters/envoy/generated/envoy/extensions/transport_sockets/tls/v3/secret.js';
import { UpstreamTlsContext } from '../src/adapters/envoy/generated/envoy/extensions/transport_sockets/tls/v3/tls.js';
import { HttpProtocolOptions } from '../src/adapters/envoy/generated/envoy/extensions/upstreams/http/v3/http_protocol_options.js';
import { FractionalPercent_DenominatorType } from '../src/adapters/envoy/generated/envoy/type/v3/percent.js';
import type { Any } from '../src/adapters/envoy/generated/google/protobuf/any.js';
import { TYPE_URL, type XdsResourceTypeUrl } from '../src/adapters/envoy/proto/type-urls.js';
import type { XdsResource } from '../src/adapters/envoy/xds-resources.js';
import { prng } from './prng.js';

export interface MeshSpec {
  readonly services: number;
  readonly endpointsPerService: number;
  /** Ports per service (HTTP, gRPC or TCP alike); default 1. */
  readonly portsPerService?: number;
  /** Services with a DestinationRule defining subsets v1/v2 (subset clusters); default 0.2. */
  readonly subsetsFraction?: number;
  /** Services with VirtualService routes (header match, rewrite, regex, fault, weighted subsets); default 0.1. */
  readonly virtualServiceFraction?: number;
  readonly seed: number;
}

interface Codec<T> {
  encode(message: T): { finish(): Uint8Array };
}
const buffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const any = <T>(typeUrl: string, codec: Codec<T>, message: T): Any => ({ typeUrl, value: buffer(codec.encode(message).finish()) });
/** A type amesh does not model (Istio's wasm/stats filters, retry predicates): carried as opaque bytes. */
const opaque = (typeName: string): Any => ({ typeUrl: `type.googleapis.com/${typeName}`, value: Buffer.alloc(0) });
const duration = (seconds: number) => ({ seconds, nanos: 0 });
const ADS = { configSourceSpecifier: { $case: 'ads' as const, value: {} }, initialFetchTimeout: duration(0), resourceApiVersion: ApiVersion.V3 };
const SDS = {
  configSourceSpecifier: { $case: 'apiConfigSource' as const, value: { grpcServices: [{ targetSpecifier: { $case: 'envoyGrpc' as const, value: { clusterName: 'sds-grpc' } } }] } },
  resourceApiVersion: ApiVersion.V3,
};

const HTTP_PORTS = [9080, 8080, 80, 8000, 3000, 5000];
const GRPC_PORTS = [50051, 9090];
const TCP_PORTS = [3306, 5432, 6379, 27017, 443];
const NAMES = ['reviews', 'ratings', 'details', 'productpage', 'cart', 'checkout', 'payment', 'shipping', 'catalog', 'search', 'auth', 'profile'];
const ZONES = ['us-central1-a', 'us-central1-b', 'us-central1-c'];
const ISTIO_RETRY = {
  retryOn: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
  numRetries: 2,
  retryHostPredicate: [
    {
      name: 'envoy.retry_host_predicates.previous_hosts',
      configType: { $case: 'typedConfig' as const, value: opaque('envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate') },
    },
  ],
  hostSelectionRetryMaxAttempts: 5,
  retriableStatusCodes: [503],
};
const ip = (base: number, n: number): string => `10.${base + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;

/** PEM-shaped text (not parsed by the translator; APISIX would). */
function pem(label: string, random: () => number, bytes: number): string {
  const body = Buffer.from(Array.from({ length: bytes }, () => Math.floor(random() * 256))).toString('base64');
  return `-----BEGIN ${label}-----\n${body.replace(/.{64}/g, '$&\n').trimEnd()}\n-----END ${label}-----\n`;
}

function upstreamTls(sni: string, sa: string): Any {
  return any(
    TYPE_URL.UpstreamTlsContext,
    UpstreamTlsContext,
    UpstreamTlsContext.fromPartial({
      sni,
      commonTlsContext: {
        tlsParams: { tlsMinimumProtocolVersion: TlsParameters_TlsProtocol.TLSv1_2, tlsMaximumProtocolVersion: TlsParameters_TlsProtocol.TLSv1_3 },
        alpnProtocols: ['istio-peer-exchange', 'istio'],
        tlsCertificateSdsSecretConfigs: [{ name: 'default', sdsConfig: SDS }],
        validationContextType: {
          $case: 'combinedValidationContext',
          value: {
            defaultValidationContext: { matchSubjectAltNames: [{ matchPattern: { $case: 'exact', value: sa } }] },
            validationContextSdsSecretConfig: { name: 'ROOTCA', sdsConfig: SDS },
          },
        },
      },
    }),
  );
}

interface Service {
  name: string;
  ns: string;
  fqdn: string;
  vip: string;
  kind: 'http' | 'grpc' | 'tcp';
  ports: number[];
  subsets: boolean;
  vs: boolean;
  lb: Cluster_LbPolicy;
  outlier: boolean;
  pods: { ip: string; zone: string; version: string; healthy: boolean }[];
}

function edsCluster(svc: Service, port: number, subset: string): Cluster {
  const name = `outbound|${port}|${subset}|${svc.fqdn}`;
  return Cluster.fromPartial({
    name,
    clusterDiscoveryType: { $case: 'type', value: Cluster_DiscoveryType.EDS },
    edsClusterConfig: { edsConfig: ADS, serviceName: name },
    connectTimeout: duration(10),
    lbPolicy: svc.lb,
    circuitBreakers: { thresholds: [{ maxConnections: 4294967295, maxPendingRequests: 4294967295, maxRequests: 4294967295, maxRetries: 4294967295, trackRemaining: true }] },
    outlierDetection: svc.outlier ? { consecutive5xx: 5, interval: duration(10), baseEjectionTime: duration(30), maxEjectionPercent: 100 } : undefined,
    typedExtensionProtocolOptions:
      svc.kind === 'grpc'
        ? {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': any(
              TYPE_URL.HttpProtocolOptions,
              HttpProtocolOptions,
              HttpProtocolOptions.fromPartial({
                upstreamProtocolOptions: { $case: 'explicitHttpConfig', value: { protocolConfig: { $case: 'http2ProtocolOptions', value: { maxConcurrentStreams: 1073741824 } } } },
              }),
            ),
          }
        : {},
    metadata: { filterMetadata: { istio: { default_original_port: port, services: [{ host: svc.fqdn, name: svc.name, namespace: svc.ns }], ...(subset ? { subset } : {}) } } },
    filters: [{ name: 'istio.metadata_exchange', typedConfig: opaque('envoy.tcp.metadataexchange.config.MetadataExchange') }],
    transportSocketMatches: [
      {
        name: 'tlsMode-istio',
        match: { tlsMode: 'istio' },
        transportSocket: {
          name: 'envoy.transport_sockets.tls',
          configType: { $case: 'typedConfig', value: upstreamTls(`outbound_.${port}_.${subset || '_'}_.${svc.fqdn}`, `spiffe://cluster.local/ns/${svc.ns}/sa/${svc.name}`) },
        },
      },
      {
        name: 'tlsMode-disabled',
        match: {},
        transportSocket: {
          name: 'envoy.transport_sockets.raw_buffer',
          configType: { $case: 'typedConfig', value: opaque('envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer') },
        },
      },
    ],
  });
}

function loadAssignment(svc: Service, port: number, subset: string): ClusterLoadAssignment {
  const pods = svc.pods.filter((p) => subset === '' || p.version === subset);
  return ClusterLoadAssignment.fromPartial({
    clusterName: `outbound|${port}|${subset}|${svc.fqdn}`,
    endpoints: ZONES.map((zone) => pods.filter((p) => p.zone === zone))
      .filter((group) => group.length > 0)
      .map((group) => ({
        locality: { region: 'us-central1', zone: group[0]!.zone },
        loadBalancingWeight: group.length,
        lbEndpoints: group.map((pod) => ({
          hostIdentifier: {
            $case: 'endpoint' as const,
            value: {
              address: { address: { $case: 'socketAddress' as const, value: { address: pod.ip, portSpecifier: { $case: 'portValue' as const, value: port } } } },
              healthCheckConfig: {},
            },
          },
          healthStatus: pod.healthy ? HealthStatus.HEALTHY : HealthStatus.UNHEALTHY,
          loadBalancingWeight: 1,
          metadata: {
            filterMetadata: {
              'envoy.transport_socket_match': { tlsMode: 'istio' },
              istio: { workload: `${svc.name}-${pod.version};${svc.ns};${svc.name};${pod.version};Kubernetes` },
            },
          },
        })),
      })),
    policy: { overprovisioningFactor: 140 },
  });
}

const forward = (cluster: string, extra: object = {}) => ({
  $case: 'route' as const,
  value: { clusterSpecifier: { $case: 'cluster' as const, value: cluster }, timeout: duration(0), retryPolicy: ISTIO_RETRY, maxGrpcTimeout: duration(0), ...extra },
});

function virtualHost(svc: Service, port: number) {
  const cluster = (subset = '') => `outbound|${port}|${subset}|${svc.fqdn}`;
  const hosts = [svc.fqdn, `${svc.name}.${svc.ns}.svc`, `${svc.name}.${svc.ns}`, svc.name, svc.vip];
  const meta = (route: string) => ({
    decorator: { operation: `${svc.fqdn}:${port}/${route}` },
    metadata: { filterMetadata: { istio: { config: `/apis/networking.istio.io/v1alpha3/namespaces/${svc.ns}/virtual-service/${svc.name}` } } },
  });
  const routes = svc.vs
    ? [
        {
          name: 'jason',
          match: {
            pathSpecifier: { $case: 'prefix' as const, value: '/' },
            caseSensitive: true,
            headers: [{ name: 'end-user', headerMatchSpecifier: { $case: 'stringMatch' as const, value: { matchPattern: { $case: 'exact' as const, value: 'jason' } } } }],
          },
          action: forward(cluster(svc.subsets ? 'v2' : '')),
          ...meta('*'),
        },
        {
          name: 'api-v1',
          match: { pathSpecifier: { $case: 'prefix' as const, value: '/api/v1/' }, caseSensitive: true },
          action: forward(cluster(), { prefixRewrite: '/v1/' }),
          ...meta('api/v1/*'),
        },
        {
          name: 'items',
          match: { pathSpecifier: { $case: 'safeRegex' as const, value: { regex: '/items/[0-9]+' } } },
          action: forward(cluster()),
          ...meta('items'),
          typedPerFilterConfig: {
            'envoy.filters.http.fault': any(
              TYPE_URL.HTTPFault,
              HTTPFault,
              HTTPFault.fromPartial({
                abort: { errorType: { $case: 'httpStatus', value: 503 }, percentage: { numerator: 100000, denominator: FractionalPercent_DenominatorType.MILLION } },
                delay: {
                  faultDelaySecifier: { $case: 'fixedDelay', value: duration(2) },
                  percentage: { numerator: 50000, denominator: FractionalPercent_DenominatorType.MILLION },
                },
              }),
            ),
          },
        },
        svc.subsets
          ? {
              name: 'canary',
              match: { pathSpecifier: { $case: 'prefix' as const, value: '/' } },
              ...meta('*'),
              action: {
                $case: 'route' as const,
                value: {
                  ...forward('').value,
                  clusterSpecifier: {
                    $case: 'weightedClusters' as const,
                    value: {
                      clusters: [
                        { name: cluster('v1'), weight: 90 },
                        { name: cluster('v2'), weight: 10 },
                      ],
                    },
                  },
                },
              },
            }
          : { name: 'default', match: { pathSpecifier: { $case: 'prefix' as const, value: '/' } }, action: forward(cluster()), ...meta('*') },
      ]
    : [{ name: 'default', match: { pathSpecifier: { $case: 'prefix' as const, value: '/' } }, action: forward(cluster()), ...meta('*') }];
  return { name: `${svc.fqdn}:${port}`, domains: hosts.flatMap((h) => [h, `${h}:${port}`]), routes, includeRequestAttemptCount: true };
}

const statsFilter = { name: 'istio.stats', configType: { $case: 'typedConfig' as const, value: opaque('stats.PluginConfig') } };
const tcpFilter = (cluster: string) => ({
  name: 'envoy.filters.network.tcp_proxy',
  configType: {
    $case: 'typedConfig' as const,
    value: any(TYPE_URL.TcpProxy, TcpProxy, TcpProxy.fromPartial({ statPrefix: cluster, clusterSpecifier: { $case: 'cluster', value: cluster } })),
  },
});
const httpFilter = (name: string, typeName: string) => ({ name, configType: { $case: 'typedConfig' as const, value: opaque(typeName) } });

function httpListener(port: number): Listener {
  const hcm = HttpConnectionManager.fromPartial({
    statPrefix: `outbound_0.0.0.0_${port}`,
    routeSpecifier: { $case: 'rds', value: { configSource: ADS, routeConfigName: String(port) } },
    httpFilters: [
      httpFilter('istio.metadata_exchange', 'envoy.extensions.filters.http.wasm.v3.Wasm'),
      httpFilter('envoy.filters.http.grpc_stats', 'envoy.extensions.filters.http.grpc_stats.v3.FilterConfig'),
      httpFilter('istio.alpn', 'istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig'),
      httpFilter('envoy.filters.http.fault', TYPE_URL.HTTPFault.slice(20)),
      httpFilter('envoy.filters.http.cors', TYPE_URL.Cors.slice(20)),
      httpFilter('istio.stats', 'stats.PluginConfig'),
      httpFilter('envoy.filters.http.router', TYPE_URL.Router.slice(20)),
    ],
    tracing: { clientSampling: { value: 100 }, randomSampling: { value: 1 }, overallSampling: { value: 100 } },
    useRemoteAddress: false,
    upgradeConfigs: [{ upgradeType: 'websocket' }],
    streamIdleTimeout: duration(0),
    normalizePath: true,
  });
  return Listener.fromPartial({
    name: `0.0.0.0_${port}`,
    address: { address: { $case: 'socketAddress', value: { address: '0.0.0.0', portSpecifier: { $case: 'portValue', value: port } } } },
    filterChains: [
      {
        filterChainMatch: { transportProtocol: 'raw_buffer', applicationProtocols: ['http/1.1', 'h2c'] },
        filters: [
          { name: 'envoy.filters.network.http_connection_manager', configType: { $case: 'typedConfig', value: any(TYPE_URL.HttpConnectionManager, HttpConnectionManager, hcm) } },
        ],
      },
    ],
    defaultFilterChain: { filterChainMatch: {}, filters: [statsFilter, tcpFilter('PassthroughCluster')] },
    listenerFilters: [
      { name: 'envoy.filters.listener.tls_inspector', configType: { $case: 'typedConfig', value: opaque('envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector') } },
    ],
    listenerFiltersTimeout: duration(0),
    continueOnListenerFiltersTimeout: true,
    trafficDirection: TrafficDirection.OUTBOUND,
    bindToPort: false,
  });
}

export function generateMesh(spec: MeshSpec): XdsResource[] {
  const random = prng(spec.seed);
  const portsPerService = spec.portsPerService ?? 1;
  const namespaces = Math.max(1, Math.ceil(spec.services / 50));
  let podCounter = 0;
  const services: Service[] = Array.from({ length: spec.services }, (_, i) => {
    const ns = `ns-${i % namespaces}`;
    const name = `${NAMES[i % NAMES.length]}-${i}`;
    const roll = random();
    const kind = roll < 0.1 ? 'tcp' : roll < 0.2 ? 'grpc' : 'http';
    const pool = kind === 'tcp' ? TCP_PORTS : kind === 'grpc' ? GRPC_PORTS : HTTP_PORTS;
    const first = Math.floor(random() * random() * pool.length); // skewed towards the first ports, as real meshes are
    const subsets = kind !== 'tcp' && random() < (spec.subsetsFraction ?? 0.2);
    return {
      name,
      ns,
      kind,
      subsets,
      fqdn: `${name}.${ns}.svc.cluster.local`,
      vip: ip(96, i + 1),
      ports: Array.from({ length: Math.min(portsPerService, pool.length) }, (_, k) => pool[(first + k) % pool.length]!),
      vs: kind !== 'tcp' && random() < (spec.virtualServiceFraction ?? 0.1),
      lb: random() < 0.8 ? Cluster_LbPolicy.LEAST_REQUEST : Cluster_LbPolicy.ROUND_ROBIN,
      outlier: random() < 0.15,
      pods: Array.from({ length: spec.endpointsPerService }, (_, j) => ({
        ip: ip(244, podCounter++),
        zone: ZONES[(i + j) % ZONES.length]!,
        version: j % 2 === 0 ? 'v1' : 'v2',
        healthy: random() >= 0.03,
      })),
    };
  });

  const out: XdsResource[] = [];
  const tables = new Map<number, ReturnType<typeof virtualHost>[]>();
  for (const svc of services) {
    for (const port of svc.ports) {
      for (const subset of svc.subsets ? ['', 'v1', 'v2'] : ['']) {
        out.push({ type: 'Cluster', message: edsCluster(svc, port, subset) }, { type: 'ClusterLoadAssignment', message: loadAssignment(svc, port, subset) });
      }
      if (svc.kind === 'tcp') {
        out.push({
          type: 'Listener',
          message: Listener.fromPartial({
            name: `${svc.vip}_${port}`,
            address: { address: { $case: 'socketAddress', value: { address: svc.vip, portSpecifier: { $case: 'portValue', value: port } } } },
            filterChains: [{ filters: [statsFilter, tcpFilter(`outbound|${port}||${svc.fqdn}`)] }],
            trafficDirection: TrafficDirection.OUTBOUND,
            bindToPort: false,
          }),
        });
      } else {
        if (!tables.has(port)) tables.set(port, []);
        tables.get(port)!.push(virtualHost(svc, port));
      }
    }
  }
  for (const [port, vhosts] of [...tables].sort(([a], [b]) => a - b)) {
    const allowAny = {
      name: 'allow_any',
      domains: ['*'],
      includeRequestAttemptCount: true,
      routes: [
        {
          name: 'allow_any',
          match: { pathSpecifier: { $case: 'prefix' as const, value: '/' } },
          action: {
            $case: 'route' as const,
            value: { clusterSpecifier: { $case: 'cluster' as const, value: 'PassthroughCluster' }, timeout: duration(0), maxGrpcTimeout: duration(0) },
          },
        },
      ],
    };
    out.push({
      type: 'RouteConfiguration',
      message: RouteConfiguration.fromPartial({ name: String(port), virtualHosts: [...vhosts, allowAny], validateClusters: false, ignorePortInHostMatching: true }),
    });
    out.push({ type: 'Listener', message: httpListener(port) });
  }
  out.push(
    {
      type: 'Listener',
      message: Listener.fromPartial({
        name: 'virtualOutbound',
        address: { address: { $case: 'socketAddress', value: { address: '0.0.0.0', portSpecifier: { $case: 'portValue', value: 15001 } } } },
        useOriginalDst: true,
        filterChains: [{ name: 'virtualOutbound-catchall-tcp', filters: [statsFilter, tcpFilter('PassthroughCluster')] }],
        trafficDirection: TrafficDirection.OUTBOUND,
      }),
    },
    {
      type: 'Cluster',
      message: Cluster.fromPartial({
        name: 'PassthroughCluster',
        clusterDiscoveryType: { $case: 'type', value: Cluster_DiscoveryType.ORIGINAL_DST },
        connectTimeout: duration(10),
        lbPolicy: Cluster_LbPolicy.CLUSTER_PROVIDED,
        circuitBreakers: { thresholds: [{ maxConnections: 4294967295, maxPendingRequests: 4294967295, maxRequests: 4294967295, maxRetries: 4294967295 }] },
      }),
    },
    {
      type: 'Cluster',
      message: Cluster.fromPartial({ name: 'BlackHoleCluster', clusterDiscoveryType: { $case: 'type', value: Cluster_DiscoveryType.STATIC }, connectTimeout: duration(10) }),
    },
    {
      type: 'Secret',
      message: Secret.fromPartial({
        name: 'default',
        type: {
          $case: 'tlsCertificate',
          value: {
            certificateChain: { specifier: { $case: 'inlineBytes', value: Buffer.from(pem('CERTIFICATE', random, 900) + pem('CERTIFICATE', random, 1000)) } },
            privateKey: { specifier: { $case: 'inlineBytes', value: Buffer.from(pem('RSA PRIVATE KEY', random, 1190)) } },
          },
        },
      }),
    },
    {
      type: 'Secret',
      message: Secret.fromPartial({
        name: 'ROOTCA',
        type: { $case: 'validationContext', value: { trustedCa: { specifier: { $case: 'inlineBytes', value: Buffer.from(pem('CERTIFICATE', random, 1000)) } } } },
      }),
    },
  );
  return out;
}

export const TYPE_URL_OF: Record<XdsResource['type'], XdsResourceTypeUrl> = {
  Listener: TYPE_URL.Listener,
  RouteConfiguration: TYPE_URL.RouteConfiguration,
  Cluster: TYPE_URL.Cluster,
  ClusterLoadAssignment: TYPE_URL.ClusterLoadAssignment,
  Secret: TYPE_URL.Secret,
};

/** The resources as an xDS response carries them: type URL and protobuf bytes. */
export function encodeMesh(resources: readonly XdsResource[]): { typeUrl: XdsResourceTypeUrl; bytes: Uint8Array }[] {
  return resources.map((r) => {
    const typeUrl = TYPE_URL_OF[r.type];
    switch (r.type) {
      case 'Listener':
        return { typeUrl, bytes: Listener.encode(r.message).finish() };
      case 'RouteConfiguration':
        return { typeUrl, bytes: RouteConfiguration.encode(r.message).finish() };
      case 'Cluster':
        return { typeUrl, bytes: Cluster.encode(r.message).finish() };
      case 'ClusterLoadAssignment':
        return { typeUrl, bytes: ClusterLoadAssignment.encode(r.message).finish() };
      case 'Secret':
        return { typeUrl, bytes: Secret.encode(r.message).finish() };
    }
  });
}

// Cluster → domain Cluster.
import type { ActiveHealthCheck, Cluster as DomainCluster, DiscoveryType, LbPolicy, UpstreamProtocol, UpstreamTls } from '../../../domain/mesh/cluster.js';
import { Cluster_DiscoveryType, Cluster_LbPolicy, type Cluster } from '../generated/envoy/config/cluster/v3/cluster.js';
import { TYPE_URL } from '../proto/type-urls.js';
import { unpackAny } from '../proto/unpack-any.js';
import type { DecodeContext } from './decode-context.js';
import { decodeClusterLoadAssignment } from './endpoint-decoder.js';
import { checkedDurationMs } from './scalars.js';
import type { Duration } from '../generated/google/protobuf/duration.js';
import { upstreamTls } from './tls-decoder.js';

const DISCOVERY: Record<Cluster_DiscoveryType, DiscoveryType | undefined> = {
  [Cluster_DiscoveryType.STATIC]: 'static',
  [Cluster_DiscoveryType.STRICT_DNS]: 'strict-dns',
  [Cluster_DiscoveryType.LOGICAL_DNS]: 'logical-dns',
  [Cluster_DiscoveryType.EDS]: 'eds',
  [Cluster_DiscoveryType.ORIGINAL_DST]: 'original-dst',
  [Cluster_DiscoveryType.UNRECOGNIZED]: undefined,
};

const LB_POLICY: Partial<Record<Cluster_LbPolicy, LbPolicy>> = {
  [Cluster_LbPolicy.ROUND_ROBIN]: 'round-robin',
  [Cluster_LbPolicy.LEAST_REQUEST]: 'least-request',
  [Cluster_LbPolicy.RING_HASH]: 'ring-hash',
  [Cluster_LbPolicy.RANDOM]: 'random',
  [Cluster_LbPolicy.MAGLEV]: 'maglev',
};

/** load_balancing_policy names its policies by extension type; the first one we know wins. */
function typedLbPolicy(cluster: Cluster): LbPolicy | undefined {
  for (const policy of cluster.loadBalancingPolicy?.policies ?? []) {
    const url = policy.typedExtensionConfig?.typedConfig?.typeUrl ?? '';
    if (url.includes('round_robin')) return 'round-robin';
    if (url.includes('least_request')) return 'least-request';
    if (url.includes('ring_hash')) return 'ring-hash';
    if (url.includes('maglev')) return 'maglev';
    if (url.includes('random')) return 'random';
  }
  return undefined;
}

function protocolOf(cluster: Cluster, ctx: DecodeContext): UpstreamProtocol {
  if (cluster.http2ProtocolOptions) return 'http2';
  for (const [name, any] of Object.entries(cluster.typedExtensionProtocolOptions)) {
    const unpacked = unpackAny(any);
    if (unpacked.kind !== 'known' || unpacked.typeUrl !== TYPE_URL.HttpProtocolOptions) {
      ctx.dropped(`typed_extension_protocol_options["${name}"]`, 'no APISIX equivalent');
      continue;
    }
    const options = unpacked.message.upstreamProtocolOptions;
    if (options?.$case === 'explicitHttpConfig') return options.value.protocolConfig?.$case === 'http2ProtocolOptions' ? 'http2' : 'http1';
    if (options?.$case === 'useDownstreamProtocolConfig') {
      ctx.approximated(`typed_extension_protocol_options["${name}"].use_downstream_protocol_config`, 'APISIX speaks HTTP/1.1 to upstreams whatever the client used');
      return 'downstream';
    }
    if (options?.$case === 'autoConfig') ctx.approximated(`typed_extension_protocol_options["${name}"].auto_config`, 'APISIX speaks HTTP/1.1; ALPN selection is not done');
  }
  return 'http1';
}

/** Istio's pattern: TLS for endpoints labelled tlsMode=istio, plaintext for the rest. */
function tlsOf(cluster: Cluster, ctx: DecodeContext): UpstreamTls | undefined {
  const direct = upstreamTls(cluster.transportSocket, 'transport_socket', ctx);
  if (direct) return { ...direct, onlyIstioEndpoints: false };
  for (const [i, match] of cluster.transportSocketMatches.entries()) {
    const tls = upstreamTls(match.transportSocket, `transport_socket_matches[${i}].transport_socket`, ctx);
    if (!tls) continue;
    const criteria = match.match ?? {};
    return { ...tls, onlyIstioEndpoints: criteria['tlsMode'] === 'istio' };
  }
  return undefined;
}

function healthCheckOf(cluster: Cluster, ctx: DecodeContext): ActiveHealthCheck | undefined {
  const [check, ...more] = cluster.healthChecks;
  if (!check) return undefined;
  if (more.length > 0) ctx.dropped('health_checks', 'APISIX runs one active health check per upstream; the first is used');
  const checker = check.healthChecker;
  if (!checker || checker.$case === 'customHealthCheck') {
    ctx.dropped('health_checks[0]', 'custom health checkers have no APISIX equivalent');
    return undefined;
  }
  const http = checker.$case === 'httpHealthCheck' ? checker.value : undefined;
  const expected = (http?.expectedStatuses ?? []).flatMap((range) => Array.from({ length: Math.max(0, Math.min(range.end, 600) - range.start) }, (_, k) => range.start + k));
  return {
    protocol: checker.$case === 'tcpHealthCheck' ? 'tcp' : checker.$case === 'grpcHealthCheck' ? 'grpc' : 'http',
    path: http?.path || undefined,
    host: http?.host || undefined,
    timeoutMs: requiredPositive(check.timeout, 'health_checks[0].timeout', ctx) ?? 1000,
    intervalMs: requiredPositive(check.interval, 'health_checks[0].interval', ctx) ?? 5000,
    healthyThreshold: check.healthyThreshold ?? 1,
    unhealthyThreshold: check.unhealthyThreshold ?? 1,
    expectedStatuses: expected.length > 0 ? expected : [200],
  };
}

/** health_checks[].timeout and .interval are `required`, `gt: {}` in Envoy's validation rules. */
function requiredPositive(duration: Duration | undefined, field: string, ctx: DecodeContext): number | undefined {
  if (duration === undefined) {
    ctx.fail(field, 'required');
    return undefined;
  }
  return checkedDurationMs(duration, field, ctx, 'positive');
}

const HANDLED = [
  'name',
  'clusterDiscoveryType',
  'edsClusterConfig',
  'connectTimeout',
  'lbPolicy',
  'loadBalancingPolicy',
  'loadAssignment',
  'healthChecks',
  'http2ProtocolOptions',
  'typedExtensionProtocolOptions',
  'transportSocket',
  'transportSocketMatches',
  'outlierDetection',
  'commonLbConfig',
  'lbConfig',
];
/** No effect on where requests go: names, stats, DNS resolution details, metadata. */
const INERT = [
  'altStatName',
  'metadata',
  'dnsLookupFamily',
  'dnsRefreshRate',
  'respectDnsTtl',
  'dnsResolvers',
  'useTcpForDnsLookups',
  'cleanupInterval',
  'trackClusterStats',
  'filters',
];

export function decodeCluster(cluster: Cluster, ctx: DecodeContext): DomainCluster | undefined {
  const type = cluster.clusterDiscoveryType;
  if (type?.$case === 'clusterType') {
    ctx.dropped('cluster_type', `custom cluster type ${type.value.name} has no APISIX equivalent`);
    return undefined;
  }
  const discovery = DISCOVERY[type?.value ?? Cluster_DiscoveryType.STATIC];
  if (!discovery) {
    ctx.fail('type', 'unknown discovery type');
    return undefined;
  }
  const lb = typedLbPolicy(cluster) ?? LB_POLICY[cluster.lbPolicy];
  if (!lb && discovery !== 'original-dst') ctx.approximated('lb_policy', 'unsupported load balancing policy: rendered as round robin');
  if (cluster.lbConfig) ctx.approximated(`lb_config`, 'load balancer tuning (ring size, choice count, slow start) has no APISIX equivalent');
  if (cluster.commonLbConfig?.localityConfigSpecifier?.$case === 'zoneAwareLbConfig') ctx.dropped('common_lb_config.zone_aware_lb_config', 'APISIX does not do zone-aware routing');
  ctx.unhandled(cluster, '', HANDLED, INERT);
  const outlier = cluster.outlierDetection;
  return {
    name: cluster.name,
    discovery,
    edsName: cluster.edsClusterConfig?.serviceName || cluster.name,
    lb: lb ?? 'round-robin',
    connectTimeoutMs: checkedDurationMs(cluster.connectTimeout, 'connect_timeout', ctx, 'positive'),
    protocol: protocolOf(cluster, ctx),
    tls: tlsOf(cluster, ctx),
    inlineEndpoints:
      discovery !== 'eds' && cluster.loadAssignment
        ? decodeClusterLoadAssignment(
            { ...cluster.loadAssignment, clusterName: cluster.name },
            ctx,
            'load_assignment',
            discovery === 'strict-dns' || discovery === 'logical-dns' ? 'name' : 'ip',
          )
        : undefined,
    healthCheck: healthCheckOf(cluster, ctx),
    outlierDetection: outlier ? { consecutive5xx: outlier.consecutive5xx, consecutiveGatewayFailure: outlier.consecutiveGatewayFailure } : undefined,
    localityWeighted: cluster.commonLbConfig?.localityConfigSpecifier?.$case === 'localityWeightedLbConfig',
  };
}

// Cluster + endpoints → APISIX upstream. Some Envoy settings live on the route (hash policy,
// retries, auto host rewrite) but on the upstream in APISIX, so one cluster may need several
// upstream variants; `UpstreamSettings` names a variant.
import type { Cluster, UpstreamTls } from '../../domain/mesh/cluster.js';
import { isServable, type EndpointSet } from '../../domain/mesh/endpoint.js';
import type { HashPolicy } from '../../domain/mesh/route.js';
import type { FidelitySink, ResourceRef } from '../../domain/fidelity.js';
import type { ApisixLabels, ApisixNode, ApisixUpstream, ApisixHealthChecks } from './apisix-types.js';
import { clip, stableId } from './ids.js';

export interface UpstreamSettings {
  readonly hash: HashPolicy | undefined;
  readonly retries: number;
  readonly autoHostRewrite: boolean;
  /** For a stream route (TCP proxy): APISIX's stream subsystem knows only the schemes tcp and tls. */
  readonly stream: boolean;
}

export const DEFAULT_SETTINGS: UpstreamSettings = Object.freeze({ hash: undefined, retries: 0, autoHostRewrite: false, stream: false });
export const STREAM_SETTINGS: UpstreamSettings = Object.freeze({ ...DEFAULT_SETTINGS, stream: true });

/** Suffix that distinguishes a variant's id; empty for the default variant. */
export function settingsSuffix(settings: UpstreamSettings): string {
  const parts: string[] = [];
  if (settings.stream) parts.push('tcp');
  if (settings.retries !== 0) parts.push(`r${settings.retries}`);
  if (settings.autoHostRewrite) parts.push('ah');
  const hash = settings.hash;
  if (hash) parts.push(hash.kind === 'source-ip' ? 'hip' : `h${hash.kind[0]}-${hash.name}`);
  return parts.join('.');
}

export const upstreamBaseId = (clusterName: string): string => stableId('u', clusterName);

export function upstreamId(clusterName: string, settings: UpstreamSettings): string {
  const suffix = settingsSuffix(settings);
  return suffix ? stableId('u', `${clusterName}#${suffix}`) : upstreamBaseId(clusterName);
}

const seconds = (ms: number): number => Math.max(ms, 1) / 1000;
const ENVOY_DEFAULT_CONNECT_MS = 5000;
const NGINX_DEFAULT_IO_SECONDS = 60;

export interface UpstreamContext {
  readonly labels: ApisixLabels;
  readonly fidelity: FidelitySink;
  /** ssl object id holding the client certificate for this cluster's mTLS, if it could be rendered. */
  readonly clientCertId: string | undefined;
}

/** A node and whether Envoy would speak TLS to it (Istio's transport_socket_matches on its tlsMode). */
interface NodeOf {
  readonly node: ApisixNode;
  readonly tls: boolean;
}

/** Integer weights that keep Envoy's split: locality weight share × endpoint weight share. */
function nodesOf(cluster: Cluster, endpoints: EndpointSet | undefined, ref: ResourceRef, fidelity: FidelitySink): NodeOf[] {
  if (!endpoints) return [];
  const nodes: NodeOf[] = [];
  const tlsToEndpoint = (tlsMode: string | undefined): boolean => cluster.tls !== undefined && (!cluster.tls.onlyIstioEndpoints || tlsMode === 'istio');
  const localityTotal = endpoints.localities.reduce((sum, l) => sum + (l.weight ?? 1), 0);
  endpoints.localities.forEach((locality, l) => {
    const servable = locality.endpoints.filter(isServable);
    const skipped = locality.endpoints.length - servable.length;
    if (skipped > 0) {
      fidelity.record({
        resource: ref,
        field: `endpoints[${l}].lb_endpoints[].health_status`,
        severity: 'approximated',
        reason: `${skipped} unhealthy, draining or timed-out endpoint(s) left out, as Envoy excludes them`,
      });
    }
    const endpointTotal = servable.reduce((sum, e) => sum + (e.weight ?? 1), 0);
    for (const endpoint of servable) {
      const own = endpoint.weight ?? 1;
      const weight = cluster.localityWeighted ? Math.max(1, Math.round((1_000_000 * (locality.weight ?? 1) * own) / (localityTotal * endpointTotal))) : own;
      const node: ApisixNode = { host: endpoint.host, port: endpoint.port, weight };
      // Envoy priority 0 is preferred; APISIX prefers the higher node priority.
      if (locality.priority !== 0) node.priority = -locality.priority;
      nodes.push({ node, tls: tlsToEndpoint(endpoint.tlsMode) });
    }
  });
  return nodes;
}

function healthChecks(cluster: Cluster, ref: ResourceRef, fidelity: FidelitySink): ApisixHealthChecks | undefined {
  const check = cluster.healthCheck;
  if (!check) {
    if (cluster.outlierDetection) {
      fidelity.record({ resource: ref, field: 'outlier_detection', severity: 'dropped', reason: 'APISIX passive health checks need an active check, and the cluster has none' });
    }
    return undefined;
  }
  const clampCount = (n: number): number => Math.min(254, Math.max(1, n));
  const interval = Math.max(1, Math.round(check.intervalMs / 1000));
  const active: ApisixHealthChecks['active'] = {
    type: check.protocol === 'tcp' ? 'tcp' : 'http',
    timeout: Math.max(check.timeoutMs / 1000, 0.001),
    healthy: { interval, successes: clampCount(check.healthyThreshold) },
    unhealthy: {
      interval,
      http_failures: clampCount(check.unhealthyThreshold),
      tcp_failures: clampCount(check.unhealthyThreshold),
      timeouts: clampCount(check.unhealthyThreshold),
    },
  };
  if (check.protocol !== 'tcp') active.http_path = check.path ?? '/';
  if (check.host) active.host = check.host;
  if (check.protocol === 'grpc') {
    fidelity.record({
      resource: ref,
      field: 'health_checks[0].grpc_health_check',
      severity: 'approximated',
      reason: 'APISIX has no gRPC health check; an HTTP check of / is used',
    });
  }
  const result: ApisixHealthChecks = { active };
  const outlier = cluster.outlierDetection;
  if (outlier?.consecutive5xx !== undefined || outlier?.consecutiveGatewayFailure !== undefined) {
    const failures = clampCount(outlier.consecutive5xx ?? outlier.consecutiveGatewayFailure ?? 5);
    result.passive = {
      type: 'http',
      healthy: { http_statuses: [200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 306, 307, 308], successes: 1 },
      unhealthy: {
        http_statuses: outlier.consecutive5xx !== undefined ? [500, 501, 502, 503, 504, 505] : [502, 503, 504],
        http_failures: failures,
        tcp_failures: failures,
        timeouts: failures,
      },
    };
    fidelity.record({
      resource: ref,
      field: 'outlier_detection',
      severity: 'approximated',
      reason: 'consecutive errors become APISIX passive checks; ejection time and max ejection percent have no equivalent',
    });
  }
  return result;
}

function lbType(cluster: Cluster, settings: UpstreamSettings, ref: ResourceRef, fidelity: FidelitySink): Pick<ApisixUpstream, 'type' | 'hash_on' | 'key'> {
  const hash = settings.hash;
  if (hash) {
    switch (hash.kind) {
      case 'header':
        return { type: 'chash', hash_on: 'header', key: hash.name };
      case 'cookie':
        return { type: 'chash', hash_on: 'cookie', key: hash.name };
      case 'query':
        return { type: 'chash', hash_on: 'vars', key: `arg_${hash.name}` };
      case 'source-ip':
        return { type: 'chash', hash_on: 'vars', key: 'remote_addr' };
    }
  }
  switch (cluster.lb) {
    case 'round-robin':
      return { type: 'roundrobin' };
    case 'least-request':
      return { type: 'least_conn' };
    case 'random':
      fidelity.record({ resource: ref, field: 'lb_policy', severity: 'approximated', reason: 'RANDOM is rendered as weighted round robin' });
      return { type: 'roundrobin' };
    case 'ring-hash':
    case 'maglev':
      // Without a route hash policy Envoy hashes a random value, i.e. spreads requests evenly.
      fidelity.record({
        resource: ref,
        field: 'lb_policy',
        severity: 'approximated',
        reason: `${cluster.lb === 'maglev' ? 'MAGLEV' : 'RING_HASH'} without a route hash policy is rendered as round robin`,
      });
      return { type: 'roundrobin' };
  }
}

/**
 * Whether the upstream speaks TLS, and its nodes. An upstream has one scheme, but Istio's
 * transport_socket_matches pick TLS per endpoint (`tlsMode: istio`: a sidecar that takes mTLS; none:
 * plaintext, e.g. a service without sidecars). Uniform endpoints get their scheme; a mix keeps the
 * endpoints of the larger weight, so that no request goes to an endpoint in a protocol it does not
 * speak, and the rest are reported.
 */
function chooseTransport(cluster: Cluster, nodes: readonly NodeOf[], ref: ResourceRef, fidelity: FidelitySink): { tls: boolean; nodes: ApisixNode[] } {
  const all = nodes.map((n) => n.node);
  if (!cluster.tls) return { tls: false, nodes: all };
  // No endpoint yet: TLS only where it applies to every endpoint (an update with endpoints re-renders).
  if (nodes.length === 0) return { tls: !cluster.tls.onlyIstioEndpoints, nodes: all };
  const tlsWeight = nodes.reduce((sum, n) => sum + (n.tls ? n.node.weight : 0), 0);
  const plainWeight = nodes.reduce((sum, n) => sum + (n.tls ? 0 : n.node.weight), 0);
  if (plainWeight === 0 || tlsWeight === 0) return { tls: plainWeight === 0, nodes: all };
  const tls = tlsWeight >= plainWeight;
  const kept = nodes.filter((n) => n.tls === tls).map((n) => n.node);
  fidelity.record({
    resource: ref,
    field: 'transport_socket_matches',
    severity: 'approximated',
    reason: `${nodes.length - kept.length} of ${nodes.length} endpoints ${tls ? 'are not labelled tlsMode=istio (plaintext)' : 'are labelled tlsMode=istio (mTLS)'}; an APISIX upstream speaks one scheme, so only the ${kept.length} ${tls ? 'mTLS' : 'plaintext'} endpoints (the larger weight) are used`,
  });
  return { tls, nodes: kept };
}

export function renderUpstream(cluster: Cluster, endpoints: EndpointSet | undefined, settings: UpstreamSettings, context: UpstreamContext): ApisixUpstream {
  const ref: ResourceRef = { type: 'Cluster', name: cluster.name };
  const { fidelity } = context;
  const http2 = cluster.protocol === 'http2';
  const transport = chooseTransport(cluster, nodesOf(cluster, endpoints, ref, fidelity), ref, fidelity);
  const tls = transport.tls ? cluster.tls : undefined;
  if (settings.stream) return renderStreamUpstream(cluster, transport.nodes, tls, settings, context);
  let scheme: ApisixUpstream['scheme'] = http2 ? 'grpc' : 'http';
  if (http2) {
    fidelity.record({
      resource: ref,
      field: 'typed_extension_protocol_options.http2_protocol_options',
      severity: 'approximated',
      reason: 'APISIX proxies HTTP/2 upstreams only as gRPC (scheme grpc/grpcs)',
    });
  }
  if (tls) {
    scheme = http2 ? 'grpcs' : 'https';
    if (tls.validationSecret) {
      fidelity.record({
        resource: ref,
        field: 'transport_socket.common_tls_context.validation_context',
        severity: 'dropped',
        reason: 'APISIX does not verify upstream server certificates for http(s) upstreams',
      });
    }
    if (tls.sni) {
      fidelity.record({ resource: ref, field: 'transport_socket.sni', severity: 'approximated', reason: 'APISIX sends the upstream Host as SNI' });
    }
    if (tls.certificateSecret && !context.clientCertId) {
      fidelity.record({
        resource: ref,
        field: 'transport_socket.common_tls_context.tls_certificate_sds_secret_configs',
        severity: 'dropped',
        reason: `client certificate "${tls.certificateSecret}" is not available (missing secret or private key), TLS without a client certificate`,
      });
    }
  }
  const connect = seconds(cluster.connectTimeoutMs ?? ENVOY_DEFAULT_CONNECT_MS);
  const upstream: ApisixUpstream = {
    id: upstreamId(cluster.name, settings),
    name: clip(cluster.name),
    labels: { ...context.labels },
    ...lbType(cluster, settings, ref, fidelity),
    nodes: transport.nodes,
    scheme,
    pass_host: settings.autoHostRewrite ? 'node' : 'pass',
    timeout: { connect, send: NGINX_DEFAULT_IO_SECONDS, read: NGINX_DEFAULT_IO_SECONDS },
    retries: settings.retries,
  };
  if (tls && context.clientCertId) upstream.tls = { client_cert_id: context.clientCertId };
  const checks = healthChecks(cluster, ref, fidelity);
  if (checks) upstream.checks = checks;
  return upstream;
}

/**
 * The upstream of a stream route. APISIX's stream proxy speaks TLS only with `scheme: tls` (`https` is
 * ignored: plaintext goes out) and sends as SNI the client's server name or `apisix_backend`, never
 * the cluster's.
 */
function renderStreamUpstream(cluster: Cluster, nodes: ApisixNode[], tls: UpstreamTls | undefined, settings: UpstreamSettings, context: UpstreamContext): ApisixUpstream {
  const ref: ResourceRef = { type: 'Cluster', name: cluster.name };
  const { fidelity } = context;
  if (tls?.sni) {
    fidelity.record({
      resource: ref,
      field: 'transport_socket.sni',
      severity: 'approximated',
      reason: "APISIX's stream proxy sends the client's server name (or apisix_backend) as SNI, not the cluster's",
    });
  }
  if (tls?.validationSecret) {
    fidelity.record({
      resource: ref,
      field: 'transport_socket.common_tls_context.validation_context',
      severity: 'dropped',
      reason: 'APISIX does not verify upstream server certificates for stream upstreams',
    });
  }
  if (tls?.certificateSecret && !context.clientCertId) {
    fidelity.record({
      resource: ref,
      field: 'transport_socket.common_tls_context.tls_certificate_sds_secret_configs',
      severity: 'dropped',
      reason: `client certificate "${tls.certificateSecret}" is not available (missing secret or private key), TLS without a client certificate`,
    });
  }
  const upstream: ApisixUpstream = {
    id: upstreamId(cluster.name, settings),
    name: clip(cluster.name),
    labels: { ...context.labels },
    ...lbType(cluster, settings, ref, fidelity),
    nodes,
    scheme: tls ? 'tls' : 'tcp',
    timeout: { connect: seconds(cluster.connectTimeoutMs ?? ENVOY_DEFAULT_CONNECT_MS), send: NGINX_DEFAULT_IO_SECONDS, read: NGINX_DEFAULT_IO_SECONDS },
    retries: settings.retries,
  };
  if (tls && context.clientCertId) upstream.tls = { client_cert_id: context.clientCertId };
  if (cluster.healthCheck || cluster.outlierDetection) {
    fidelity.record({ resource: ref, field: 'health_checks', severity: 'dropped', reason: 'health checks are not rendered for stream upstreams' });
  }
  return upstream;
}

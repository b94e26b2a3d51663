// An upstream service as Envoy's Cluster describes it, reduced to what a gateway can act on.
import type { EndpointSet } from './endpoint.js';

export type DiscoveryType = 'eds' | 'static' | 'strict-dns' | 'logical-dns' | 'original-dst';
export type LbPolicy = 'round-robin' | 'least-request' | 'ring-hash' | 'maglev' | 'random';
export type UpstreamProtocol = 'http1' | 'http2' | 'downstream';

export interface UpstreamTls {
  readonly sni: string | undefined;
  /** SDS name of the client certificate (Istio: `default`), or undefined for TLS without a client cert. */
  readonly certificateSecret: string | undefined;
  /** SDS name of the trust bundle (Istio: `ROOTCA`). */
  readonly validationSecret: string | undefined;
  readonly alpn: readonly string[];
  /** Istio's transport_socket_matches: TLS only to endpoints labelled `tlsMode: istio`. */
  readonly onlyIstioEndpoints: boolean;
}

export interface ActiveHealthCheck {
  readonly protocol: 'http' | 'tcp' | 'grpc';
  readonly path: string | undefined;
  readonly host: string | undefined;
  readonly timeoutMs: number;
  readonly intervalMs: number;
  readonly healthyThreshold: number;
  readonly unhealthyThreshold: number;
  readonly expectedStatuses: readonly number[];
}

export interface OutlierDetection {
  readonly consecutive5xx: number | undefined;
  readonly consecutiveGatewayFailure: number | undefined;
}

export interface Cluster {
  readonly name: string;
  readonly discovery: DiscoveryType;
  /** The name EDS knows this cluster by (eds_cluster_config.service_name, else the cluster name). */
  readonly edsName: string;
  readonly lb: LbPolicy;
  readonly connectTimeoutMs: number | undefined;
  readonly protocol: UpstreamProtocol;
  readonly tls: UpstreamTls | undefined;
  /** Endpoints carried inside the Cluster (STATIC, STRICT_DNS, …); EDS clusters get theirs separately. */
  readonly inlineEndpoints: EndpointSet | undefined;
  readonly healthCheck: ActiveHealthCheck | undefined;
  readonly outlierDetection: OutlierDetection | undefined;
  /** Locality-weighted LB: locality weights split traffic before endpoint weights do. */
  readonly localityWeighted: boolean;
}

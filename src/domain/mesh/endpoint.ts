// Endpoints of a cluster (ClusterLoadAssignment), grouped by locality and priority as Envoy does.
export type HealthStatus = 'unknown' | 'healthy' | 'unhealthy' | 'draining' | 'timeout' | 'degraded';

export interface Endpoint {
  readonly host: string;
  readonly port: number;
  /** undefined: Envoy's default of 1. */
  readonly weight: number | undefined;
  readonly health: HealthStatus;
  /** Istio's `envoy.transport_socket_match.tlsMode`, when present. */
  readonly tlsMode: string | undefined;
}

export interface LocalityEndpoints {
  readonly locality: string;
  /** 0 is the highest priority; higher numbers are failover tiers. */
  readonly priority: number;
  readonly weight: number | undefined;
  readonly endpoints: readonly Endpoint[];
}

export interface EndpointSet {
  readonly name: string;
  readonly localities: readonly LocalityEndpoints[];
}

/** Envoy routes only to these; unhealthy, draining and timed-out hosts are excluded. */
export const isServable = (endpoint: Endpoint): boolean => endpoint.health === 'unknown' || endpoint.health === 'healthy' || endpoint.health === 'degraded';

// Domain objects for hand-written meshes in tests: a cluster with inline endpoints, a forwarding
// route, HTTP and TCP listeners. Defaults are Envoy's; a test names only what it is about.
import type { Cluster } from '../../src/domain/mesh/cluster.js';
import type { Endpoint } from '../../src/domain/mesh/endpoint.js';
import type { ChainMatch, Listener } from '../../src/domain/mesh/listener.js';
import { NO_HEADER_MUTATIONS, type HeaderMutations, type Route, type RouteAction } from '../../src/domain/mesh/route.js';

export const ANY_CHAIN: ChainMatch = { destinationPort: undefined, serverNames: [], transportProtocol: undefined, applicationProtocols: [], prefixRanges: [] };

export const endpointAt = (host: string, port: number, tlsMode?: string): Endpoint => ({ host, port, weight: undefined, health: 'healthy', tlsMode });

/** A STATIC cluster of these endpoints; `tls` gives it Istio's upstream TLS (`istio-auto`: only to tlsMode=istio endpoints). */
export function staticCluster(name: string, endpoints: readonly Endpoint[], tls: 'istio-auto' | 'tls' | 'none' = 'none'): Cluster {
  return {
    name,
    discovery: 'static',
    edsName: name,
    lb: 'round-robin',
    connectTimeoutMs: 2000,
    protocol: 'http1',
    tls:
      tls === 'none'
        ? undefined
        : { sni: `outbound_.9080_._.${name}`, certificateSecret: 'default', validationSecret: 'ROOTCA', alpn: ['istio'], onlyIstioEndpoints: tls === 'istio-auto' },
    inlineEndpoints: { name, localities: [{ locality: '', priority: 0, weight: undefined, endpoints }] },
    healthCheck: undefined,
    outlierDetection: undefined,
    localityWeighted: false,
  };
}

export const forwardTo = (cluster: string): RouteAction => ({
  kind: 'forward',
  backends: [{ cluster, weight: 1 }],
  timeoutMs: undefined,
  retry: undefined,
  prefixRewrite: undefined,
  regexRewrite: undefined,
  hostRewrite: undefined,
  hashPolicies: [],
  mirrors: [],
});

export const prefixRoute = (
  prefix: string,
  action: RouteAction,
  responseHeaders: HeaderMutations = NO_HEADER_MUTATIONS,
  requestHeaders: HeaderMutations = NO_HEADER_MUTATIONS,
): Route => ({
  name: prefix,
  match: { path: { kind: 'prefix', value: prefix }, caseSensitive: true, headers: [], queryParams: [], grpcOnly: false },
  action,
  requestHeaders,
  responseHeaders,
  filters: { fault: undefined, cors: undefined },
});

/** A listener on 0.0.0.0:port whose HTTP chain takes RDS table `String(port)`. */
export const httpListener = (port: number): Listener => ({
  name: `0.0.0.0_${port}`,
  address: { host: '0.0.0.0', port },
  role: 'regular',
  chains: [{ name: undefined, match: ANY_CHAIN, tls: undefined, protocol: { kind: 'http', routes: { kind: 'rds', name: String(port) }, websocket: false } }],
});

export const tcpListener = (host: string, port: number, cluster: string): Listener => ({
  name: `${host}_${port}`,
  address: { host, port },
  role: 'regular',
  chains: [{ name: undefined, match: ANY_CHAIN, tls: undefined, protocol: { kind: 'tcp', backends: [{ cluster, weight: 1 }] } }],
});

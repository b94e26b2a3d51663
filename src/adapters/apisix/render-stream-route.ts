// TCP proxy filter chains → APISIX stream routes. APISIX matches stream routes in list order on
// server address and port (no priority), so more specific routes are listed first.
import type { FilterChain, Listener } from '../../domain/mesh/listener.js';
import type { FidelitySink } from '../../domain/fidelity.js';
import type { ApisixLabels, ApisixStreamRoute } from './apisix-types.js';
import { clip, stableId } from './ids.js';

const WILDCARD_ADDRESSES = new Set(['0.0.0.0', '::', '']);

export interface StreamRouteInput {
  readonly listener: Listener;
  readonly chain: FilterChain;
  readonly chainIndex: number;
  readonly upstreamId: string;
}

export function renderStreamRoute(input: StreamRouteInput, labels: ApisixLabels, fidelity: FidelitySink): ApisixStreamRoute {
  const { listener, chain, chainIndex } = input;
  const route: ApisixStreamRoute = {
    id: stableId('s', `${listener.name}/${chain.name ?? chainIndex}`),
    name: clip(`${listener.name}/${chain.name ?? `#${chainIndex}`}`),
    labels: { ...labels },
    upstream_id: input.upstreamId,
  };
  const address = listener.address?.host ?? '';
  if (!WILDCARD_ADDRESSES.has(address)) route.server_addr = address;
  const port = chain.match.destinationPort ?? (listener.role === 'regular' ? listener.address?.port : undefined);
  if (port !== undefined) route.server_port = port;
  if (chain.match.serverNames.length > 0) {
    // APISIX matches `sni` only on TLS it terminates itself, with an ssl object of its own; Envoy
    // reads the name from the ClientHello and passes the TLS through untouched.
    fidelity.record({
      resource: { type: 'Listener', name: listener.name },
      field: `filter_chains[${chainIndex}].filter_chain_match.server_names`,
      severity: 'approximated',
      reason: 'APISIX cannot match the server name of TLS it passes through: the route matches every server name on its address and port',
    });
  }
  return route;
}

const specificity = (route: ApisixStreamRoute): number => (route.server_addr !== undefined ? 2 : 0) + (route.server_port !== undefined ? 1 : 0);

/** Most specific first; ties keep a stable order by id. */
export function orderStreamRoutes(routes: ApisixStreamRoute[]): ApisixStreamRoute[] {
  return [...routes].sort((a, b) => specificity(b) - specificity(a) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

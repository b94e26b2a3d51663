// TCP proxy filter chains → APISIX stream routes. APISIX matches stream routes in list order on
// server address and port (no priority), so more specific routes are listed first.
import type { FilterChain, Listener } from '../../domain/mesh/listener.js';
import type { ApisixLabels, ApisixStreamRoute } from './apisix-types.js';
import { clip, stableId } from './ids.js';

const WILDCARD_ADDRESSES = new Set(['0.0.0.0', '::', '']);

export interface StreamRouteInput {
  readonly listener: Listener;
  readonly chain: FilterChain;
  readonly chainIndex: number;
  readonly upstreamId: string;
}

export function renderStreamRoute(input: StreamRouteInput, labels: ApisixLabels): ApisixStreamRoute {
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
  const [sni] = chain.match.serverNames;
  if (sni !== undefined) route.sni = sni;
  return route;
}

const specificity = (route: ApisixStreamRoute): number =>
  (route.sni !== undefined ? 4 : 0) + (route.server_addr !== undefined ? 2 : 0) + (route.server_port !== undefined ? 1 : 0);

/** Most specific first; ties keep a stable order by id. */
export function orderStreamRoutes(routes: ApisixStreamRoute[]): ApisixStreamRoute[] {
  return [...routes].sort((a, b) => specificity(b) - specificity(a) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

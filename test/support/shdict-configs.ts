// APISIX-valid gateway configurations of any size for the shared-dict sink's tests and bench:
// upstreams and the routes that use them, shaped like the translator's output.
import { GatewayConfig, type GatewayObject } from '../../src/domain/gateway-config.js';

const upstream = (i: number, tag: string): GatewayObject => ({
  kind: 'upstreams',
  id: `svc-${i}`,
  value: {
    id: `svc-${i}`,
    name: `outbound|8080||svc-${i}.default.svc.cluster.local`,
    type: 'roundrobin',
    scheme: 'http',
    nodes: [
      { host: `10.${(i >> 8) & 255}.${i & 255}.1`, port: 8080, weight: 1 },
      { host: `10.${(i >> 8) & 255}.${i & 255}.2`, port: 8080, weight: 1 },
    ],
    labels: { 'managed-by': 'amesh-ts', revision: tag },
  },
});

const route = (i: number, tag: string): GatewayObject => ({
  kind: 'routes',
  id: `svc-${i}-default`,
  value: {
    id: `svc-${i}-default`,
    name: `svc-${i}.default.svc.cluster.local:8080 default`,
    uris: ['/*'],
    hosts: [`svc-${i}.default.svc.cluster.local`, `svc-${i}`],
    priority: 0,
    upstream_id: `svc-${i}`,
    labels: { 'managed-by': 'amesh-ts', revision: tag },
  },
});

/** `objects` objects: half upstreams, half routes; `tag` changes every value's content. */
export function meshConfig(objects: number, version: string, tag = 'a'): GatewayConfig {
  const list: GatewayObject[] = [];
  for (let i = 0; i < objects / 2; i++) list.push(upstream(i, tag), route(i, tag));
  return GatewayConfig.of(version, list);
}

/** The route `withRouteChanged` puts in (for building the change set directly, as the sidecar does). */
export const changedRoute = (index: number, tag: string): GatewayObject => route(index, tag);

/** `base` with one route's content changed. */
export function withRouteChanged(base: GatewayConfig, version: string, index: number, tag: string): GatewayConfig {
  const changed = route(index, tag);
  return GatewayConfig.of(
    version,
    [...base.objects.values()].map((o) => (o.kind === 'routes' && o.id === changed.id ? changed : o)),
  );
}

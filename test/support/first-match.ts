// Runs one snapshot through the translation and asks both models which route every request gets:
// Envoy's reference matcher on the snapshot, the APISIX router model on the translated routes
// (mapped back through routeOrigins). What they disagree on is returned with enough context to
// debug; disagreements that only port stripping explains are kept apart (a documented approximation).
import type { ApisixRoute } from '../../src/adapters/apisix/apisix-types.js';
import { translateSnapshot, type RouteOrigin } from '../../src/adapters/apisix/translate.js';
import { HOST_PORT_REASON } from '../../src/adapters/apisix/render-route-table.js';
import type { RouteTable } from '../../src/domain/mesh/route.js';
import type { MeshSnapshot } from '../../src/domain/snapshot.js';
import { ApisixRouter } from './apisix-matcher.js';
import { envoyMatch, isNotFound, stripHostPort, tableForPort, type BoundTable, type EnvoyChoice, type TestRequest } from './envoy-matcher.js';

export interface FirstMatchOptions {
  /** Passed to translateSnapshot; also the variable the APISIX model answers with the port. */
  readonly portVariable?: string | undefined;
}

export type ApisixOutcome = { readonly kind: 'route'; readonly id: string; readonly origin: RouteOrigin } | { readonly kind: 'not-found' };

export interface Disagreement {
  readonly request: TestRequest;
  readonly envoy: EnvoyChoice;
  readonly apisix: ApisixOutcome;
  /** The APISIX routes standing for Envoy's choice, with whether their own vars hold. */
  readonly expected: readonly { readonly id: string; readonly varsHold: boolean | undefined; readonly route: ApisixRoute | undefined }[];
  readonly chosen: ApisixRoute | undefined;
  readonly envoyRoute: unknown;
}

export interface FirstMatchReport {
  readonly checked: number;
  readonly disagreements: readonly Disagreement[];
  /** Disagreements that vanish when Envoy ignores ports in Host and domains, as APISIX's $host does. */
  readonly hostPort: readonly Disagreement[];
  readonly routeCount: number;
}

/**
 * The ports each route table serves, as Envoy binds them: a regular listener's own port, or the
 * destination_port of a filter chain (Istio's virtual listeners). A table no listener serves gets
 * no ports, which the translation renders without a port condition (it then serves every port).
 * An inline table without a name is named `<listener>#<chain>`, as translate.ts does.
 */
export function bindingsOf(snapshot: MeshSnapshot): BoundTable[] {
  const ports = new Map<string, { table: RouteTable; ports: Set<number> }>();
  for (const table of snapshot.routeTables.values()) ports.set(table.name, { table, ports: new Set() });
  for (const listener of snapshot.listeners.values()) {
    listener.chains.forEach((chain, c) => {
      const protocol = chain.protocol;
      if (protocol.kind !== 'http') return;
      let entry = protocol.routes.kind === 'rds' ? ports.get(protocol.routes.name) : undefined;
      if (protocol.routes.kind === 'inline') {
        const table = protocol.routes.table.name ? protocol.routes.table : { ...protocol.routes.table, name: `${listener.name}#${c}` };
        entry = ports.get(table.name) ?? { table, ports: new Set() };
        ports.set(table.name, entry);
      }
      const port = chain.match.destinationPort ?? (listener.role === 'regular' ? listener.address?.port : undefined);
      if (entry && port !== undefined) entry.ports.add(port);
    });
  }
  return [...ports.values()].map(({ table, ports: p }) => ({ table, ports: [...p].sort((a, b) => a - b) }));
}

function agrees(envoy: EnvoyChoice, apisix: ApisixOutcome): boolean {
  if (isNotFound(envoy)) return apisix.kind === 'not-found' || apisix.origin.route === undefined;
  return apisix.kind === 'route' && apisix.origin.table === envoy.table && apisix.origin.virtualHost === envoy.virtualHost && apisix.origin.route === envoy.route;
}

const hasPort = (hostOrDomain: string): boolean => stripHostPort(hostOrDomain) !== hostOrDomain;

export function checkFirstMatch(snapshot: MeshSnapshot, requests: readonly TestRequest[], options: FirstMatchOptions = {}): FirstMatchReport {
  const translated = translateSnapshot(snapshot, { portVariable: options.portVariable });
  if (!translated.ok) throw new Error(`translation failed: ${JSON.stringify(translated.error)}`);
  const { config, routeOrigins, report } = translated.value;
  // Port stripping is acceptable only where the translation says so, for the table concerned.
  const hostPortReported = new Set(report.records.filter((r) => r.reason === HOST_PORT_REASON).map((r) => r.resource.name));
  const routes = config.ofKind('routes').map((o) => o.value as unknown as ApisixRoute);
  const router = new ApisixRouter(routes);
  const bindings = bindingsOf(snapshot);
  const idsByOrigin = new Map<string, string[]>();
  for (const [id, origin] of routeOrigins) {
    const key = `${origin.table}/${origin.virtualHost}/${origin.route ?? '404'}`;
    idsByOrigin.set(key, [...(idsByOrigin.get(key) ?? []), id]);
  }
  const matchOptions = { portVariable: options.portVariable };
  const disagreements: Disagreement[] = [];
  const hostPort: Disagreement[] = [];
  for (const request of requests) {
    const envoy = envoyMatch(bindings, request);
    if (envoy === 'ambiguous') throw new Error('unreachable: ambiguity is reported only in port-blind mode');
    const id = router.match(request, matchOptions);
    const origin = id === undefined ? undefined : routeOrigins.get(id);
    if (id !== undefined && !origin) throw new Error(`route ${id} has no origin`);
    const apisix: ApisixOutcome = id === undefined || !origin ? { kind: 'not-found' } : { kind: 'route', id, origin };
    if (agrees(envoy, apisix)) continue;
    const expectedIds = isNotFound(envoy) ? [] : (idsByOrigin.get(`${envoy.table}/${envoy.virtualHost}/${envoy.route}`) ?? []);
    const table = tableForPort(bindings, request.port);
    const disagreement: Disagreement = {
      request,
      envoy,
      apisix,
      expected: expectedIds.map((id) => ({ id, varsHold: router.varsHold(id, request, matchOptions), route: router.route(id) })),
      chosen: apisix.kind === 'route' ? router.route(apisix.id) : undefined,
      envoyRoute: isNotFound(envoy) ? undefined : table?.virtualHosts[envoy.virtualHost]?.routes[envoy.route]?.match,
    };
    const portsInvolved = hasPort(request.host) || (table?.virtualHosts.some((vh) => vh.domains.some(hasPort)) ?? false);
    const blind = portsInvolved ? envoyMatch(bindings, request, { portBlind: true }) : undefined;
    const reported = table !== undefined && hostPortReported.has(table.name);
    if (reported && blind !== undefined && (blind === 'ambiguous' || agrees(blind, apisix))) hostPort.push(disagreement);
    else disagreements.push(disagreement);
  }
  return { checked: requests.length, disagreements, hostPort, routeCount: routes.length };
}

/** A readable account of a disagreement for assertion messages. */
export function describeDisagreement(d: Disagreement): string {
  const apisix = d.apisix.kind === 'route' ? `${d.apisix.id} (origin ${JSON.stringify(d.apisix.origin)})` : '404';
  const brief = (r: ApisixRoute | undefined): string => (r ? JSON.stringify({ id: r.id, hosts: r.hosts, priority: r.priority, vars: r.vars }) : '-');
  return [
    `request: ${JSON.stringify(d.request)}`,
    `envoy:   ${JSON.stringify(d.envoy)} match=${JSON.stringify(d.envoyRoute)}`,
    `apisix:  ${apisix}`,
    `chosen:  ${brief(d.chosen)}`,
    ...d.expected.map((e) => `wanted:  varsHold=${String(e.varsHold)} ${brief(e.route)}`),
  ].join('\n');
}

// fast-check arbitraries for the first-match property: route tables whose virtual hosts overlap
// (exact, `*.suffix`, `prefix*`, `*`, domains with `:port`), routes of every match kind that
// shadow one another, snapshots binding tables to ports, and requests derived from the routes'
// own matchers (hits, near misses, missing headers, odd query forms) so that most of them reach a
// route worth comparing. Small value pools are deliberate: they make routes collide.
import fc from 'fast-check';
import type { Cluster } from '../../src/domain/mesh/cluster.js';
import type { Listener } from '../../src/domain/mesh/listener.js';
import {
  NO_HEADER_MUTATIONS,
  type HeaderMatch,
  type PathMatch,
  type QueryParamMatch,
  type Route,
  type RouteAction,
  type RouteMatch,
  type RouteTable,
  type VirtualHost,
} from '../../src/domain/mesh/route.js';
import type { StringMatcher } from '../../src/domain/mesh/string-match.js';
import { createSnapshot, type MeshSnapshot } from '../../src/domain/snapshot.js';
import { re2FullMatch, type BoundTable, type TestRequest } from './envoy-matcher.js';

const CLUSTERS = ['c0', 'c1', 'c2'];
const HOSTS = ['a.com', 'b.com', 'api.a.com', 'x.a.com', 'svc', 'svc.ns'];
const SUFFIX_WILDCARDS = ['*.a.com', '*.com', '*.b.com', '*a.com', '*-x.a.com'];
const PREFIX_WILDCARDS = ['api.*', 'a*', 'svc*', 'x.*'];
const DOMAIN_PORTS = [80, 8080, 9080];
const LISTENER_PORTS = [80, 8080, 9080, 15006];

/** RE2 path regexes with paths they match in full (regexes cannot be sampled generically). */
export const PATH_REGEXES: Readonly<Record<string, readonly string[]>> = {
  '/api/v[0-9]+': ['/api/v1', '/api/v22'],
  '/api/.*': ['/api/', '/api/x'],
  '/users/[^/]+': ['/users/1', '/users/ab'],
  '/a$': ['/a'],
  '(?i)/admin.*': ['/ADMIN', '/admin/x'],
  '/x\\.y': ['/x.y'],
  '/(a|b)/c': ['/a/c', '/b/c'],
  '.*': ['/anything', '/'],
  '/\\d{2}': ['/12'],
  '[[:alpha:]/]+': ['/abc', '/API'],
  '/api/v1/?': ['/api/v1', '/api/v1/'],
  '(/api)?/health': ['/health', '/api/health'],
  '/Case': ['/Case'],
};
const HEADER_REGEXES: Readonly<Record<string, readonly string[]>> = {
  'jas.*': ['jason', 'jas'],
  '[0-9]+': ['42'],
  'v[12]': ['v1', 'v2'],
  '(?i)DEV': ['dev', 'DEV'],
  'GET|POST': ['GET', 'POST'],
  'a\\.com(:[0-9]+)?': ['a.com', 'a.com:8080'],
};
const VALUES = ['jason', 'Jason', 'dev', 'prod', 'a', 'GET', 'POST', 'http', 'a.com', '/api', '1', 'true', 'a b'];

// === route tables ===

const domainArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...HOSTS) },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...HOSTS), fc.constantFrom(...DOMAIN_PORTS)).map(([h, p]) => `${h}:${p}`) },
  { weight: 3, arbitrary: fc.constantFrom(...SUFFIX_WILDCARDS) },
  { weight: 2, arbitrary: fc.constantFrom(...PREFIX_WILDCARDS) },
  { weight: 2, arbitrary: fc.constant('*') },
);

const stringMatcherArb = (values: readonly string[], regexes: readonly string[]): fc.Arbitrary<StringMatcher> =>
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constantFrom('exact' as const, 'prefix' as const, 'suffix' as const, 'contains' as const),
        value: fc.constantFrom(...values),
        ignoreCase: fc.boolean(),
      }),
    },
    { weight: 1, arbitrary: fc.constantFrom(...regexes).map((regex): StringMatcher => ({ kind: 'regex', regex })) },
  );

const pathArb: fc.Arbitrary<PathMatch> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('/', '/api', '/api/', '/api/v1', '/API', '/a', '/users', '/admin', '/x.y', '').map((value): PathMatch => ({ kind: 'prefix', value })) },
  { weight: 1, arbitrary: fc.constantFrom('/api?x', '/a?').map((value): PathMatch => ({ kind: 'prefix', value })) },
  { weight: 3, arbitrary: fc.constantFrom('/', '/api', '/api/v1', '/a', '/users/1', '/API', '/x.y').map((value): PathMatch => ({ kind: 'exact', value })) },
  { weight: 2, arbitrary: fc.constantFrom('/api', '/api/v1', '/a', '/users').map((value): PathMatch => ({ kind: 'separated-prefix', value })) },
  { weight: 3, arbitrary: fc.constantFrom(...Object.keys(PATH_REGEXES)).map((regex): PathMatch => ({ kind: 'regex', regex })) },
);

const headerArb: fc.Arbitrary<HeaderMatch> = fc.record({
  name: fc.constantFrom('x-user', 'x-env', 'x-ver', 'content-type', ':method', ':authority', ':path', ':scheme'),
  match: fc.oneof(
    { weight: 4, arbitrary: stringMatcherArb(VALUES, Object.keys(HEADER_REGEXES)).map((matcher) => ({ kind: 'string' as const, matcher })) },
    { weight: 2, arbitrary: fc.boolean().map((present) => ({ kind: 'present' as const, present })) },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.integer({ min: -5, max: 10 }), fc.integer({ min: 1, max: 10 })).map(([start, span]) => ({ kind: 'range' as const, start, end: start + span })),
    },
  ),
  invert: fc.boolean(),
});

const queryArb: fc.Arbitrary<QueryParamMatch> = fc.record({
  name: fc.constantFrom('debug', 'q', 'v'),
  match: fc.oneof(
    {
      weight: 3,
      arbitrary: stringMatcherArb(['1', 'true', 'x', 'a b', ''], ['[0-9]+', 'tr.*'])
        .filter((m) => m.kind === 'exact' || m.kind === 'regex' || m.value !== '')
        .map((matcher) => ({ kind: 'string' as const, matcher })),
    },
    { weight: 2, arbitrary: fc.constant({ kind: 'present' as const }) },
  ),
});

const matchArb: fc.Arbitrary<RouteMatch> = fc.record({
  path: pathArb,
  caseSensitive: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
  headers: fc.array(headerArb, { maxLength: 2 }),
  queryParams: fc.array(queryArb, { maxLength: 2 }),
  grpcOnly: fc.oneof({ weight: 9, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
});

const CATCH_ALL: RouteMatch = { path: { kind: 'prefix', value: '/' }, caseSensitive: true, headers: [], queryParams: [], grpcOnly: false };
const forward = (cluster: string): RouteAction => ({
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

const toRoute = (match: RouteMatch, action: RouteAction, name: string | undefined): Route => ({
  name,
  match,
  action,
  requestHeaders: NO_HEADER_MUTATIONS,
  responseHeaders: NO_HEADER_MUTATIONS,
  filters: { fault: undefined, cors: undefined },
});

const actionArb: fc.Arbitrary<RouteAction> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...CLUSTERS).map(forward) },
  { weight: 1, arbitrary: fc.constant<RouteAction>({ kind: 'direct-response', status: 200, body: undefined }) },
  {
    weight: 1,
    arbitrary: fc.constant<RouteAction>({ kind: 'redirect', scheme: undefined, host: 'r.example', port: undefined, path: undefined, responseCode: 301, stripQuery: false }),
  },
);

// Builders for hand-written tables (regression cases, fixture-like tables).
export const routeOf = (match: Partial<RouteMatch>, cluster = 'c0'): Route => toRoute({ ...CATCH_ALL, ...match }, forward(cluster), undefined);
export const virtualHostOf = (name: string, domains: readonly string[], routes: readonly Route[]): VirtualHost => ({
  name,
  domains,
  routes,
  requestHeaders: NO_HEADER_MUTATIONS,
  responseHeaders: NO_HEADER_MUTATIONS,
  retry: undefined,
  filters: { fault: undefined, cors: undefined },
});
export const tableOf = (name: string, virtualHosts: readonly VirtualHost[]): RouteTable => ({
  name,
  virtualHosts,
  requestHeaders: NO_HEADER_MUTATIONS,
  responseHeaders: NO_HEADER_MUTATIONS,
});

/** 1–6 routes; sometimes a catch-all prefix "/" is inserted, shadowing everything after it. */
const routesArb: fc.Arbitrary<Route[]> = fc
  .tuple(
    fc.array(fc.tuple(matchArb, actionArb, fc.boolean()), { minLength: 1, maxLength: 6 }),
    fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat(6) }),
  )
  .map(([specs, catchAllAt]) => {
    const matches = specs.map(([match, action, named], i) => ({ match, action, name: named ? `r${i}` : undefined }));
    if (catchAllAt !== null) matches.splice(Math.min(catchAllAt, matches.length), 0, { match: CATCH_ALL, action: specs[0]![1], name: 'catch-all' });
    return matches.map((m) => toRoute(m.match, m.action, m.name));
  });

/** A route table with 1–4 virtual hosts; every domain is unique in the table, as Envoy requires. */
export const routeTableArb = (name: string): fc.Arbitrary<RouteTable> =>
  fc
    .tuple(fc.uniqueArray(domainArb, { minLength: 1, maxLength: 7 }), fc.integer({ min: 1, max: 4 }), fc.array(fc.nat(3), { minLength: 7, maxLength: 7 }))
    .chain(([domains, wanted, owners]) => {
      const count = Math.min(wanted, domains.length);
      const perVhost: string[][] = Array.from({ length: count }, () => []);
      domains.forEach((domain, i) => perVhost[i < count ? i : owners[i]! % count]!.push(domain));
      return fc.array(routesArb, { minLength: count, maxLength: count }).map((routeLists) =>
        tableOf(
          name,
          routeLists.map((routes, v) => virtualHostOf(`vh${v}`, perVhost[v]!, routes)),
        ),
      );
    });

// === snapshots ===

const cluster = (name: string): Cluster => ({
  name,
  discovery: 'eds',
  edsName: name,
  lb: 'round-robin',
  connectTimeoutMs: undefined,
  protocol: 'http1',
  tls: undefined,
  inlineEndpoints: undefined,
  healthCheck: undefined,
  outlierDetection: undefined,
  localityWeighted: false,
});

const listener = (table: string, port: number): Listener => ({
  name: `0.0.0.0_${port}`,
  address: { host: '0.0.0.0', port },
  role: 'regular',
  chains: [
    {
      name: undefined,
      match: { destinationPort: undefined, serverNames: [], transportProtocol: undefined, applicationProtocols: [], prefixRanges: [] },
      tls: undefined,
      protocol: { kind: 'http', routes: { kind: 'rds', name: table }, websocket: false },
    },
  ],
});

/** Every cluster a route names exists (the generators' own, or `clusters`); each table is bound to its own listener ports. */
export function snapshotOf(bindings: readonly BoundTable[], clusters: Iterable<Cluster> = CLUSTERS.map(cluster)): MeshSnapshot {
  return createSnapshot('gen', {
    routeTables: bindings.map((b) => b.table),
    listeners: bindings.flatMap((b) => b.ports.map((port) => listener(b.table.name, port))),
    clusters,
  });
}

/** `tables` route tables, each on 1–2 listener ports of its own. */
export const bindingsArb = (tables: { min: number; max: number }): fc.Arbitrary<BoundTable[]> =>
  fc
    .tuple(
      fc.integer({ min: tables.min, max: tables.max }),
      fc.shuffledSubarray(LISTENER_PORTS, { minLength: LISTENER_PORTS.length, maxLength: LISTENER_PORTS.length }),
      fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
    )
    .chain(([count, ports, twoPorts]) => {
      let next = 0;
      const portSets = Array.from({ length: count }, (_, i) => {
        const take = twoPorts[i] && ports.length - next > count - i ? 2 : 1;
        next += take;
        return ports.slice(next - take, next);
      });
      return fc.tuple(...portSets.map((_, i) => routeTableArb(`t${i}`))).map((ts): BoundTable[] => ts.map((table, i) => ({ table, ports: portSets[i]! })));
    });

export interface GeneratedCase {
  readonly bindings: readonly BoundTable[];
  readonly snapshot: MeshSnapshot;
  readonly requests: readonly TestRequest[];
}

/** A route match without its defaults, for counterexamples people read. */
const compactMatch = (m: RouteMatch): Record<string, unknown> => ({
  [m.path.kind]: m.path.kind === 'regex' ? m.path.regex : m.path.value,
  ...(m.caseSensitive ? {} : { caseSensitive: false }),
  ...(m.headers.length > 0 ? { headers: m.headers } : {}),
  ...(m.queryParams.length > 0 ? { queryParams: m.queryParams } : {}),
  ...(m.grpcOnly ? { grpcOnly: true } : {}),
});

/** A case whose counterexample print shows the tables (matches only) and requests, not the snapshot. */
export const printable = (bindings: readonly BoundTable[], requests: readonly TestRequest[]): GeneratedCase => {
  const summary = (): string =>
    JSON.stringify({
      tables: bindings.map((b) => ({
        name: b.table.name,
        ports: b.ports,
        virtualHosts: b.table.virtualHosts.map((vh) => ({ domains: vh.domains, routes: vh.routes.map((r) => compactMatch(r.match)) })),
      })),
      requests,
    });
  const generated: GeneratedCase & { [fc.toStringMethod]: () => string } = { bindings, snapshot: snapshotOf(bindings), requests, [fc.toStringMethod]: summary };
  return generated;
};

/** Several route tables on ports of their own, with requests aimed at them. */
export const caseArb = (tables: { min: number; max: number }, requests = 24): fc.Arbitrary<GeneratedCase> =>
  bindingsArb(tables).chain((bindings) => requestsFor(bindings, requests).map((rs) => printable(bindings, rs)));

/** One route table that no listener names: the translation gives it no port condition, Envoy-wise it serves every port. */
export const singleTableCaseArb = (requests = 24): fc.Arbitrary<GeneratedCase> =>
  routeTableArb('t0').chain((table) => {
    const bindings = [{ table, ports: [] }];
    return requestsFor(bindings, requests).map((rs) => printable(bindings, rs));
  });

// === requests ===

/** Consumes generated numbers as choices, so that shrinking moves toward the first (simplest) option. */
class Choices {
  private i = 0;
  constructor(private readonly values: readonly number[]) {}
  int(n: number): number {
    return n <= 1 ? 0 : (this.values[this.i++] ?? 0) % n;
  }
  pick<T>(options: readonly T[]): T {
    return options[this.int(options.length)]!;
  }
  chance(percent: number): boolean {
    return this.int(100) < percent;
  }
}

const flipCase = (c: Choices, s: string): string => (c.chance(50) ? s.toUpperCase() : s.replace(/^(.)/, (x) => x.toUpperCase()));

/** A Host header for one domain: the domain itself, with other ports, other case, wildcard fillings. */
function hostFor(c: Choices, domain: string, port: number): string {
  const bare = domain.replace(/:\d+$/, '');
  let host: string;
  // Fillers mostly outside HOSTS, so that the request usually reaches this domain's virtual host.
  if (domain === '*') host = c.chance(70) ? c.pick(['other.org', 'zz.net']) : c.pick(HOSTS);
  else if (domain.startsWith('*')) host = `${c.pick(['w', 'foo.bar', 'x', ''])}${bare.slice(1)}`;
  else if (domain.endsWith('*')) host = `${domain.slice(0, -1)}${c.pick(['com', 'b.com', 'x', ''])}`;
  else host = bare;
  if (host === '' || host.startsWith('.') || host.endsWith('.')) host = c.pick(HOSTS);
  if (c.chance(15)) host = flipCase(c, host);
  // The exact form of the domain is the hit; other port forms exercise the host-port approximation.
  if (domain !== bare && c.chance(60)) return domain;
  const portChoice = c.int(8);
  if (portChoice === 6) return `${host}:${port}`;
  if (portChoice === 7) return `${host}:${c.pick(DOMAIN_PORTS)}`;
  return host;
}

/** A path for a path matcher: hits first, then near misses. */
function pathFor(c: Choices, path: PathMatch, caseSensitive: boolean): string {
  let base: string;
  switch (path.kind) {
    case 'prefix':
      base = `${path.value === '' ? '/' : path.value}${c.pick(['', 'x', '/', '/x', '/v1', '=1'])}`;
      break;
    case 'exact':
      base = `${path.value}${c.pick(['', '', '/', 'x'])}`;
      break;
    case 'separated-prefix':
      base = `${path.value}${c.pick(['', '/', '/x', 'x'])}`;
      break;
    case 'regex': {
      const examples = PATH_REGEXES[path.regex] ?? [];
      base = examples.length > 0 ? c.pick(examples) : randomPath(c);
      if (c.chance(20)) base += c.pick(['x', '/']);
      break;
    }
  }
  if (!caseSensitive || c.chance(10)) base = c.chance(50) ? flipCase(c, base) : base;
  // nginx merges slashes in $uri, Envoy (merge_slashes off) does not: a normalisation difference the
  // translation cannot remove, so "//" is not generated (nor %-escapes or dot segments in paths).
  return `/${base}`.replace(/\/{2,}/g, '/');
}

const randomPath = (c: Choices): string => `/${c.pick(['api', 'API', 'a', 'users', 'admin', 'x.y', 'health'])}${c.pick(['', '/v1', '/1', '/c', '/'])}`;

/** A value for a string matcher: a hit (maybe case-flipped) when `hit`, else a near miss. */
function valueFor(c: Choices, matcher: StringMatcher, regexes: Readonly<Record<string, readonly string[]>>, hit: boolean): string {
  if (matcher.kind === 'regex') return hit ? c.pick(regexes[matcher.regex] ?? ['x']) : c.pick(VALUES);
  const v = c.chance(20) ? flipCase(c, matcher.value) : matcher.value;
  if (!hit) return c.pick([v.slice(0, -1), `y${v}`, c.pick(VALUES)]);
  return matcher.kind === 'exact' ? v : matcher.kind === 'prefix' ? `${v}x` : matcher.kind === 'suffix' ? `x${v}` : `x${v}y`;
}

/** A query string fragment for one parameter matcher: hits, encoded hits, `?name` alone, duplicates. */
function queryFor(c: Choices, param: QueryParamMatch): string | undefined {
  const value = param.match.kind === 'present' ? c.pick(['1', '']) : valueFor(c, param.match.matcher, { '[0-9]+': ['7'], 'tr.*': ['true', 'tr'] }, c.chance(85));
  const encode = (s: string): string => s.replace(/ /g, '%20');
  switch (c.int(12)) {
    case 7:
      return `${param.name}=${value.replace(/^(.)/, (x) => `%${x.charCodeAt(0).toString(16).toUpperCase()}`)}`;
    case 8:
      return param.name; // `?debug`: Envoy sees "", get_uri_args sees true
    case 9:
      return `${param.name}=other&${param.name}=${encode(value)}`;
    case 10:
      return `${param.name}=`;
    case 11:
      return undefined;
    default:
      return `${param.name}=${encode(value)}`;
  }
}

/** A header value that satisfies the matcher (inverted ones included) most of the time; sometimes none. */
function headerFor(c: Choices, header: HeaderMatch): string | undefined {
  if (c.chance(15)) return undefined; // missing header
  const hit = c.chance(75) !== header.invert;
  const match = header.match;
  switch (match.kind) {
    case 'present':
      return c.pick(['v', '']);
    case 'range':
      return hit
        ? c.pick([String(match.start), String(match.end - 1), `+${match.start}`])
        : c.pick([String(match.end), String(match.start - 1), 'abc', '', '99999999999999999999']);
    case 'string':
      return valueFor(c, match.matcher, HEADER_REGEXES, hit);
  }
}

/** One request aimed at a route of `bindings` (or at nothing in particular), built from `values`. */
export function buildRequest(bindings: readonly BoundTable[], values: readonly number[]): TestRequest {
  const c = new Choices(values);
  const binding = c.pick(bindings);
  const port = binding.ports.length > 0 && c.chance(90) ? c.pick(binding.ports) : c.pick(LISTENER_PORTS);
  const vhost = c.pick(binding.table.virtualHosts);
  const route: Route | undefined = vhost && c.chance(85) ? c.pick(vhost.routes) : undefined;
  let host = vhost && c.chance(90) ? hostFor(c, c.pick(vhost.domains), port) : c.pick([...HOSTS, 'other.org']);
  let method = c.pick(['GET', 'POST', 'PUT']);
  let scheme = c.chance(90) ? 'http' : 'https';
  let path = route ? pathFor(c, route.match.path, route.match.caseSensitive) : randomPath(c);
  const headers: Record<string, string> = {};
  const query: string[] = [];
  for (const header of route?.match.headers ?? []) {
    const value = headerFor(c, header);
    if (value === undefined) continue;
    // Clients cannot send what nginx would reject or the connection decides (lower-case methods, schemes).
    if (header.name === ':method') method = /^[A-Z]+$/.test(value) ? value : method;
    else if (header.name === ':scheme') scheme = value === 'http' || value === 'https' ? value : scheme;
    else if (header.name === ':authority') host = value && /^[a-z0-9.:-]+$/i.test(value) ? value : host;
    else if (!header.name.startsWith(':')) headers[header.name] = value;
  }
  for (const param of route?.match.queryParams ?? []) {
    const part = queryFor(c, param);
    if (part !== undefined) query.push(part);
  }
  if (route?.match.grpcOnly || c.chance(5)) {
    const type = c.pick(['application/grpc', 'application/grpc+proto', 'application/grpc-web', 'application/json', undefined]);
    if (type !== undefined) headers['content-type'] = type;
  }
  if (c.chance(10)) query.push(c.pick(['q=1', 'v=x', 'debug']));
  if (query.length > 0) path += `${path.includes('?') ? '&' : '?'}${query.join('&')}`;
  return { port, host, path, method, scheme, headers };
}

/** Requests derived from any route tables (generated or decoded from fixtures). */
export const requestsFor = (bindings: readonly BoundTable[], max = 24): fc.Arbitrary<TestRequest[]> =>
  fc.array(
    fc.array(fc.nat(999), { minLength: 48, maxLength: 48 }).map((values) => buildRequest(bindings, values)),
    { minLength: 1, maxLength: max, size: 'max' },
  );

/** Sanity check for the example pools: every listed example really matches its regex. */
export function checkRegexPools(): string[] {
  const bad: string[] = [];
  for (const pool of [PATH_REGEXES, HEADER_REGEXES])
    for (const [regex, examples] of Object.entries(pool)) for (const e of examples) if (!re2FullMatch(regex, e)) bad.push(`${regex} !~ ${e}`);
  return bad;
}

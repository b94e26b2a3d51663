// One Envoy RouteConfiguration → APISIX routes that choose what Envoy chooses (see route-precedence.ts).
import type { JsonObject } from '../../domain/json.js';
import type { Cluster } from '../../domain/mesh/cluster.js';
import type { ForwardAction, Route, RouteTable, VirtualHost } from '../../domain/mesh/route.js';
import type { FidelitySink, ResourceRef } from '../../domain/fidelity.js';
import { err, ok, type Result } from '../../domain/result.js';
import type { ApisixLabels, ApisixRoute, ApisixTimeout, VarExpr } from './apisix-types.js';
import { clip, stableId } from './ids.js';
import { matchesEverything, routeMatchVars } from './match-vars.js';
import { cors, faultInjection, fixedResponse, headerOperations, mergeHeaderMutations, proxyMirror, redirect, toNgxSubstitution, type PluginContext } from './render-plugins.js';
import {
  groupVars,
  MAX_ROUTES_PER_VHOST,
  MAX_TABLES,
  MAX_VHOSTS_PER_TABLE,
  portVar,
  routePriority,
  splitDomains,
  stripPort,
  type HostGroup,
  type PriorityPlan,
} from './route-precedence.js';
import { escapePcre, re2ToPcreSearch } from './regex.js';
import { DEFAULT_SETTINGS, type UpstreamSettings } from './render-upstream.js';

export interface TranslationError {
  readonly resource: ResourceRef;
  readonly field: string;
  readonly message: string;
}

export interface MirrorTarget {
  /** `http://host:port` */
  readonly url: string;
  /** How the copies' destination differs from Envoy's, if it does. */
  readonly approximation: string | undefined;
}

export interface RouteTableContext {
  readonly plan: PriorityPlan;
  readonly tableIndex: number;
  /** Listener ports this table serves; empty when unknown. */
  readonly ports: readonly number[];
  readonly portVariable: string | undefined;
  readonly labels: ApisixLabels;
  readonly fidelity: FidelitySink;
  readonly clusters: ReadonlyMap<string, Cluster>;
  /** Registers that a route uses this cluster variant and returns the upstream id. */
  readonly useUpstream: (cluster: string, settings: UpstreamSettings) => string;
  /** Where a mirror of this cluster can send to, if it has an address. */
  readonly mirrorTarget: (cluster: string) => MirrorTarget | undefined;
  /** Whether the listener's HTTP connection manager allows websocket upgrades. */
  readonly websocket: boolean;
}

const ENVOY_DEFAULT_ROUTE_TIMEOUT_MS = 15_000;
/** Envoy's HCM stream idle timeout: the closest nginx analogue of "no route timeout". */
const ENVOY_STREAM_IDLE_TIMEOUT_S = 300;
/** nginx retries only on connection errors and timeouts (proxy_next_upstream error timeout). */
const RETRY_ON_CONNECTION = new Set(['connect-failure', 'reset', 'refused-stream', 'reset-before-request', 'http3-post-connect-failure']);

interface RouteBody {
  upstream_id?: string;
  plugins: { [name: string]: JsonObject };
  timeout?: ApisixTimeout;
}

function forwardBody(
  action: ForwardAction,
  vhost: VirtualHost,
  route: Route,
  ctx: RouteTableContext,
  pc: PluginContext,
  matchedPrefix: string | undefined,
): Result<RouteBody, string> {
  const body: RouteBody = { plugins: {} };
  const unservable = action.backends.find((b) => {
    const cluster = ctx.clusters.get(b.cluster);
    return !cluster || cluster.discovery === 'original-dst';
  });
  if (unservable) {
    const cluster = ctx.clusters.get(unservable.cluster);
    const reason = cluster
      ? `cluster "${unservable.cluster}" forwards to the original destination, which APISIX cannot do: answered with 502`
      : `cluster "${unservable.cluster}" is not in the configuration: answered with 503 as Envoy does`;
    pc.fidelity.record({ resource: pc.ref, field: `${pc.field}.route.cluster`, severity: 'approximated', reason });
    body.plugins['fault-injection'] = fixedResponse(cluster ? 502 : 503, undefined);
    return ok(body);
  }
  const retry = action.retry ?? vhost.retry;
  let retries = 0;
  if (retry) {
    const ignored = retry.retryOn.filter((condition) => !RETRY_ON_CONNECTION.has(condition));
    retries = retry.numRetries;
    if (ignored.length > 0) {
      pc.fidelity.record({
        resource: pc.ref,
        field: `${pc.field}.route.retry_policy.retry_on`,
        severity: 'approximated',
        reason: `APISIX retries on connection errors and timeouts only; not on: ${ignored.join(',')}`,
      });
    }
    if (retry.perTryTimeoutMs !== undefined) {
      pc.fidelity.record({ resource: pc.ref, field: `${pc.field}.route.retry_policy.per_try_timeout`, severity: 'dropped', reason: 'APISIX has no per-try timeout' });
    }
  }
  if (action.hashPolicies.length > 1) {
    pc.fidelity.record({ resource: pc.ref, field: `${pc.field}.route.hash_policy`, severity: 'approximated', reason: 'only the first hash policy is used' });
  }
  const settings: UpstreamSettings = { ...DEFAULT_SETTINGS, retries, autoHostRewrite: action.hostRewrite?.kind === 'auto' };
  const backends = splittableBackends(action.backends, pc);
  // Each backend keeps its own cluster's policy: Envoy hashes only for ring-hash and maglev clusters.
  const hashes = backends.map((b) => hashFor(action, b.cluster, ctx));
  const ids = backends.map((b, i) => ctx.useUpstream(b.cluster, { ...settings, hash: hashes[i] }));
  const hash = hashes.find((h) => h !== undefined);
  if (hash && hash.kind !== 'source-ip') {
    pc.fidelity.record({
      resource: pc.ref,
      field: `${pc.field}.route.hash_policy[0]`,
      severity: 'approximated',
      reason: `a request without ${hash.kind} "${hash.name}" is hashed on the client address by APISIX (always the same endpoint for that client); Envoy picks an endpoint at random`,
    });
  }
  body.upstream_id = ids[0]!;
  if (backends.length > 1) {
    body.plugins['traffic-split'] = {
      rules: [{ weighted_upstreams: backends.map((b, i) => ({ upstream_id: ids[i]!, weight: b.weight })) }],
    };
  }
  const timeoutMs = action.timeoutMs ?? ENVOY_DEFAULT_ROUTE_TIMEOUT_MS;
  const connect = Math.min(...backends.map((b) => (ctx.clusters.get(b.cluster)?.connectTimeoutMs ?? 5000) / 1000));
  if (timeoutMs === 0) {
    body.timeout = { connect, send: ENVOY_STREAM_IDLE_TIMEOUT_S, read: ENVOY_STREAM_IDLE_TIMEOUT_S };
  } else {
    const s = timeoutMs / 1000;
    body.timeout = { connect: Math.min(connect, s), send: s, read: s };
  }
  pc.fidelity.record({
    resource: pc.ref,
    field: `${pc.field}.route.timeout`,
    severity: 'approximated',
    reason:
      timeoutMs === 0
        ? "no route timeout: nginx's send/read timeouts are set to Envoy's 300 s stream idle timeout"
        : "Envoy's whole-request timeout is applied to each nginx phase (connect/send/read)",
  });
  const rewrite: JsonObject = {};
  if (action.prefixRewrite !== undefined) {
    if (matchedPrefix === undefined) return err(`${pc.field}.route.prefix_rewrite: only valid on a prefix, path or path_separated_prefix match`);
    rewrite.regex_uri = [`^${escapePcre(matchedPrefix)}(.*)`, `${toNgxSubstitution(action.prefixRewrite)}$1`];
  }
  if (action.regexRewrite) {
    const pcre = re2ToPcreSearch(action.regexRewrite.regex);
    if (!pcre.ok) return err(`${pc.field}.route.regex_rewrite.pattern.regex: ${pcre.error}`);
    if (pcre.value.caveat) pc.fidelity.record({ resource: pc.ref, field: `${pc.field}.route.regex_rewrite.pattern.regex`, severity: 'approximated', reason: pcre.value.caveat });
    rewrite.regex_uri = [pcre.value.body, toNgxSubstitution(action.regexRewrite.substitution)];
    pc.fidelity.record({
      resource: pc.ref,
      field: `${pc.field}.route.regex_rewrite`,
      severity: 'approximated',
      reason: 'APISIX substitutes the first match; Envoy substitutes every match',
    });
  }
  if (action.hostRewrite?.kind === 'literal') rewrite.host = action.hostRewrite.host;
  if (Object.keys(rewrite).length > 0) body.plugins['proxy-rewrite'] = rewrite;
  const [mirror, ...moreMirrors] = action.mirrors;
  if (mirror) {
    const target = ctx.mirrorTarget(mirror.cluster);
    if (target) {
      body.plugins['proxy-mirror'] = proxyMirror(target.url, mirror.fraction);
      if (target.approximation)
        pc.fidelity.record({
          resource: pc.ref,
          field: `${pc.field}.route.request_mirror_policies[${mirror.index ?? 0}].cluster`,
          severity: 'approximated',
          reason: target.approximation,
        });
    } else
      pc.fidelity.record({
        resource: pc.ref,
        field: `${pc.field}.route.request_mirror_policies[${mirror.index ?? 0}]`,
        severity: 'dropped',
        reason: `mirror cluster "${mirror.cluster}" has no address APISIX can mirror to`,
      });
  }
  if (moreMirrors.length > 0) {
    pc.fidelity.record({
      resource: pc.ref,
      field: `${pc.field}.route.request_mirror_policies`,
      severity: 'dropped',
      reason: 'APISIX mirrors to one target; further mirror policies are dropped',
    });
  }
  return ok(body);
}

/** APISIX 3.18's traffic-split schema: `weighted_upstreams` has at most 20 items. */
export const MAX_WEIGHTED_UPSTREAMS = 20;

/**
 * Envoy takes any number of weighted clusters; APISIX refuses a traffic-split over more than 20
 * and would drop the route. The heaviest 20 are kept (in their order) and the others reported:
 * their share goes to the kept ones in proportion to their weights.
 */
function splittableBackends(backends: ForwardAction['backends'], pc: PluginContext): ForwardAction['backends'] {
  if (backends.length <= MAX_WEIGHTED_UPSTREAMS) return backends;
  const byWeight = backends.map((b, i) => ({ b, i })).sort((x, y) => y.b.weight - x.b.weight || x.i - y.i);
  const kept = new Set(byWeight.slice(0, MAX_WEIGHTED_UPSTREAMS).map(({ i }) => i));
  const total = backends.reduce((sum, b) => sum + b.weight, 0);
  backends.forEach((b, i) => {
    if (kept.has(i)) return;
    pc.fidelity.record({
      resource: pc.ref,
      field: `${pc.field}.route.weighted_clusters.clusters[${i}]`,
      severity: 'dropped',
      reason: `APISIX's traffic-split takes at most ${MAX_WEIGHTED_UPSTREAMS} weighted upstreams (${backends.length} given): cluster "${b.cluster}" (weight ${b.weight} of ${total}) is left out and its share goes to the others in proportion`,
    });
  });
  return backends.filter((_, i) => kept.has(i));
}

/** The route's hash policy if Envoy honours it on this cluster: only ring-hash and maglev clusters hash. */
function hashFor(action: ForwardAction, clusterName: string, ctx: RouteTableContext): UpstreamSettings['hash'] {
  const lb = ctx.clusters.get(clusterName)?.lb;
  return lb === 'ring-hash' || lb === 'maglev' ? action.hashPolicies[0] : undefined;
}

function matchedPrefixOf(route: Route): string | undefined {
  const path = route.match.path;
  return path.kind === 'regex' ? undefined : path.value;
}

function routeBody(route: Route, vhost: VirtualHost, table: RouteTable, ctx: RouteTableContext, pc: PluginContext): Result<RouteBody, string> {
  const action = route.action;
  let body: RouteBody;
  if (action.kind === 'forward') {
    const forward = forwardBody(action, vhost, route, ctx, pc, matchedPrefixOf(route));
    if (!forward.ok) return forward;
    body = forward.value;
  } else if (action.kind === 'redirect') {
    const config = redirect(action, matchedPrefixOf(route), pc);
    if (!config.ok) return config;
    body = { plugins: { redirect: config.value } };
  } else {
    body = { plugins: { 'fault-injection': fixedResponse(action.status, action.body) } };
  }
  const request = headerOperations(
    mergeHeaderMutations([route.requestHeaders, vhost.requestHeaders, table.requestHeaders]),
    { ...pc, field: `${pc.field}.request_headers_to_add` },
    'request',
  );
  if (request) body.plugins['proxy-rewrite'] = { ...(body.plugins['proxy-rewrite'] ?? {}), headers: request };
  const response = headerOperations(
    mergeHeaderMutations([route.responseHeaders, vhost.responseHeaders, table.responseHeaders]),
    { ...pc, field: `${pc.field}.response_headers_to_add` },
    'response',
  );
  if (response) body.plugins['response-rewrite'] = { headers: response };
  const fault = route.filters.fault ?? vhost.filters.fault;
  if (fault && action.kind === 'forward' && !body.plugins['fault-injection']) {
    const config = faultInjection(fault, pc);
    if (config) body.plugins['fault-injection'] = config;
  }
  const corsPolicy = route.filters.cors ?? vhost.filters.cors;
  if (corsPolicy) body.plugins.cors = cors(corsPolicy, pc);
  return ok(body);
}

/** Reason recorded for tables whose routing depends on the Host header (tests look for it). */
export const HOST_PORT_REASON =
  "the Host header's port is not compared (APISIX matches $host): a Host naming a port a virtual host does not list is routed to it, where Envoy would pick another virtual host";

/**
 * APISIX matches $host, without the port; Envoy compares the whole Host header with each domain.
 * Reported once per table that matches on hosts, and per virtual host whose domains differ from
 * another's only by port (APISIX cannot tell them apart and tries the earlier one first).
 */
function reportHostPorts(vhost: VirtualHost, v: number, ref: ResourceRef, ctx: RouteTableContext, bucketOwners: Map<string, string>): void {
  const field = `virtual_hosts[${v}].domains`;
  if (bucketOwners.size === 0 && vhost.domains.some((d) => d !== '*')) {
    ctx.fidelity.record({ resource: ref, field: 'virtual_hosts[].domains', severity: 'approximated', reason: HOST_PORT_REASON });
  }
  for (const bucket of new Set(vhost.domains.filter((d) => d !== '*').map((d) => stripPort(d.toLowerCase())))) {
    const owner = bucketOwners.get(bucket);
    if (owner === undefined) bucketOwners.set(bucket, vhost.name);
    else if (owner !== vhost.name) {
      ctx.fidelity.record({
        resource: ref,
        field,
        severity: 'approximated',
        reason: `"${bucket}" is also a domain of virtual host "${owner}" with another port; APISIX cannot tell them apart and tries "${owner}" first`,
      });
    }
  }
}

/** Renderers report errors as `<field path>: <message>`. */
function splitFieldError(text: string): { field: string; message: string } {
  const colon = text.indexOf(': ');
  return colon === -1 ? { field: '', message: text } : { field: text.slice(0, colon), message: text.slice(colon + 2) };
}

function groupKey(group: HostGroup): string {
  if (group.kind === 'hosts') return group.guardSuffix === undefined ? 'hosts' : `guarded:${group.hosts[0]}`;
  return group.kind === 'prefix-wildcard' ? `prefix:${group.prefix}` : 'any';
}

/** Route names are used in ids when unique within the vhost, so inserting a route keeps the others' ids. */
function routeKeys(vhost: VirtualHost): string[] {
  const counts = new Map<string, number>();
  for (const route of vhost.routes) if (route.name) counts.set(route.name, (counts.get(route.name) ?? 0) + 1);
  return vhost.routes.map((route, i) => (route.name && counts.get(route.name) === 1 ? `name:${route.name}` : `index:${i}`));
}

/** Which Envoy route an APISIX route stands for; `route` is undefined for a virtual host's 404 route. */
export interface RouteOrigin {
  readonly table: string;
  readonly virtualHost: number;
  readonly route: number | undefined;
}

export interface RenderedRoute {
  readonly route: ApisixRoute;
  readonly origin: RouteOrigin;
}

export function renderRouteTable(table: RouteTable, ctx: RouteTableContext): Result<RenderedRoute[], TranslationError[]> {
  const ref: ResourceRef = { type: 'RouteConfiguration', name: table.name };
  const errors: TranslationError[] = [];
  const routes: RenderedRoute[] = [];
  const scope: VarExpr[] = ctx.portVariable && ctx.ports.length > 0 ? [portVar(ctx.portVariable, ctx.ports)] : [];
  const bucketOwners = new Map<string, string>();
  if (ctx.plan.tableCount > MAX_TABLES) {
    return err([{ resource: ref, field: '', message: `more than ${MAX_TABLES} route configurations` }]);
  }
  table.virtualHosts.forEach((vhost, v) => {
    const vhostField = `virtual_hosts[${v}]`;
    if (vhost.routes.length >= MAX_ROUTES_PER_VHOST) {
      errors.push({ resource: ref, field: `${vhostField}.routes`, message: `more than ${MAX_ROUTES_PER_VHOST - 1} routes in one virtual host` });
      return;
    }
    if (v >= MAX_VHOSTS_PER_TABLE) {
      errors.push({ resource: ref, field: 'virtual_hosts', message: `more than ${MAX_VHOSTS_PER_TABLE} virtual hosts in one route configuration` });
      return;
    }
    const split = splitDomains(vhost.domains);
    reportHostPorts(vhost, v, ref, ctx, bucketOwners);
    for (const domain of split.rejected) {
      ctx.fidelity.record({ resource: ref, field: `${vhostField}.domains`, severity: 'dropped', reason: `domain "${domain}" is not a host APISIX can match` });
    }
    const keys = routeKeys(vhost);
    const bodies = vhost.routes.map((route, r) => {
      const pc: PluginContext = { ref, field: `${vhostField}.routes[${r}]`, fidelity: ctx.fidelity };
      const match = routeMatchVars(route.match);
      if (!match.ok) return err(`${pc.field}.${match.error}`);
      for (const caveat of match.value.caveats) ctx.fidelity.record({ resource: ref, field: `${pc.field}.${caveat.field}`, severity: 'approximated', reason: caveat.reason });
      const body = routeBody(route, vhost, table, ctx, pc);
      if (!body.ok) return err(body.error.startsWith(pc.field) ? body.error : `${pc.field}.${body.error}`);
      return ok({ vars: match.value.vars, body: body.value });
    });
    const failed = bodies.filter((b) => !b.ok);
    if (failed.length > 0) {
      for (const failure of failed) if (!failure.ok) errors.push({ resource: ref, ...splitFieldError(failure.error) });
      return;
    }
    const closed = vhost.routes.some((route) => matchesEverything(route.match));
    for (const group of split.groups) {
      const conditions = groupVars(group);
      const count = vhost.routes.length;
      const base = (index: number, key: string, routeName: string): ApisixRoute => {
        const route: ApisixRoute = {
          id: stableId('r', `${table.name}/${vhost.name}/${key}/${groupKey(group)}`),
          name: clip(`${table.name}/${vhost.name}/${routeName}`),
          labels: { ...ctx.labels },
          uri: '/*',
          priority: routePriority(ctx.plan, group, ctx.tableIndex, v, index, count),
          status: 1,
        };
        if (group.kind === 'hosts') route.hosts = [...group.hosts];
        if (ctx.websocket) route.enable_websocket = true;
        return route;
      };
      bodies.forEach((rendered, r) => {
        if (!rendered.ok) return;
        const route = base(r, keys[r]!, vhost.routes[r]!.name ?? `#${r}`);
        const vars = [...scope, ...conditions, ...rendered.value.vars];
        if (vars.length > 0) route.vars = vars;
        const body = rendered.value.body;
        if (body.upstream_id) route.upstream_id = body.upstream_id;
        if (Object.keys(body.plugins).length > 0) route.plugins = body.plugins;
        if (body.timeout) route.timeout = body.timeout;
        routes.push({ route, origin: { table: table.name, virtualHost: v, route: r } });
      });
      // Envoy answers 404 when the chosen virtual host has no matching route; without this route
      // APISIX would go on to routes of other virtual hosts.
      if (group.kind !== 'any' && !closed) {
        const notFound = base(count, '#not-found', '#not-found');
        const vars = [...scope, ...conditions];
        if (vars.length > 0) notFound.vars = vars;
        notFound.plugins = { 'fault-injection': fixedResponse(404, undefined) };
        routes.push({ route: notFound, origin: { table: table.name, virtualHost: v, route: undefined } });
      }
    }
  });
  return errors.length > 0 ? err(errors) : ok(routes);
}

// RouteConfiguration → RouteTable. Keeps Envoy's order; reports what APISIX cannot carry.
import type {
  CorsPolicy,
  FaultPolicy,
  ForwardAction,
  HashPolicy,
  HeaderMatch,
  HeaderMutations,
  MirrorPolicy,
  PathMatch,
  QueryParamMatch,
  RedirectAction as DomainRedirect,
  RetryPolicy as DomainRetry,
  Route as DomainRoute,
  RouteAction as DomainAction,
  RouteFilters,
  RouteMatch as DomainMatch,
  RouteTable,
  VirtualHost as DomainVirtualHost,
} from '../../../domain/mesh/route.js';
import { HeaderValueOption_HeaderAppendAction, type HeaderValueOption } from '../generated/envoy/config/core/v3/base.js';
import type { RouteConfiguration } from '../generated/envoy/config/route/v3/route.js';
import {
  RedirectAction_RedirectResponseCode,
  type CorsPolicy as EnvoyCors,
  type HeaderMatcher,
  type QueryParameterMatcher,
  type RedirectAction,
  type RetryPolicy,
  type Route,
  type RouteAction,
  type RouteMatch,
  type VirtualHost,
} from '../generated/envoy/config/route/v3/route_components.js';
import { TYPE_URL } from '../proto/type-urls.js';
import { unpackAny } from '../proto/unpack-any.js';
import type { Any } from '../generated/google/protobuf/any.js';
import { DecodeContext } from './decode-context.js';
import { checkedDurationMs, durationMs, inlineData, percentOf } from './scalars.js';
import { decodeRegex, decodeStringMatcher } from './string-matcher.js';
import { quote } from '../../../domain/display-text.js';
import { checkHeaderNames, checkHeaderText } from './header-text.js';

const INERT_ROUTE = ['name', 'metadata', 'decorator', 'tracing', 'statPrefix'];

function headerMutations(add: readonly HeaderValueOption[], remove: readonly string[], field: string, ctx: DecodeContext): HeaderMutations {
  checkHeaderNames(remove, `${field}_to_remove`, ctx);
  return {
    add: add.flatMap((option, i) => {
      const header = option.header;
      if (!header) return [];
      const value = header.value !== '' ? header.value : Buffer.from(header.rawValue ?? []).toString('utf8');
      const at = `${field}_to_add[${i}].header`;
      checkHeaderText(header.key, `${at}.key`, ctx, { nonEmpty: true, maxBytes: true });
      checkHeaderText(value, `${at}.${header.value !== '' ? 'value' : 'raw_value'}`, ctx, { maxBytes: true });
      // Before append_action existed, `append` (default true) chose between append and overwrite.
      let action: 'append' | 'overwrite' | 'add-if-absent' = option.append === false ? 'overwrite' : 'append';
      if (option.appendAction === HeaderValueOption_HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD) action = 'overwrite';
      if (option.appendAction === HeaderValueOption_HeaderAppendAction.ADD_IF_ABSENT) action = 'add-if-absent';
      if (option.appendAction === HeaderValueOption_HeaderAppendAction.OVERWRITE_IF_EXISTS) {
        ctx.approximated(`${field}_to_add[${i}].append_action`, 'OVERWRITE_IF_EXISTS is rendered as an overwrite that also adds a missing header');
        action = 'overwrite';
      }
      return [{ name: header.key.toLowerCase(), value, action }];
    }),
    remove: remove.map((name) => name.toLowerCase()),
  };
}

function pathMatch(match: RouteMatch, field: string, ctx: DecodeContext): PathMatch | undefined {
  const specifier = match.pathSpecifier;
  if (!specifier) {
    ctx.fail(`${field}.path_specifier`, 'route match without a path specifier');
    return undefined;
  }
  switch (specifier.$case) {
    case 'prefix':
      return { kind: 'prefix', value: specifier.value };
    case 'path':
      return { kind: 'exact', value: specifier.value };
    case 'pathSeparatedPrefix':
      return { kind: 'separated-prefix', value: specifier.value };
    case 'safeRegex': {
      const regex = decodeRegex(specifier.value, `${field}.safe_regex`, ctx);
      return regex === undefined ? undefined : { kind: 'regex', regex };
    }
    case 'connectMatcher':
      ctx.dropped(`${field}.connect_matcher`, 'route dropped: APISIX does not proxy CONNECT requests');
      return undefined;
    case 'pathMatchPolicy':
      ctx.dropped(`${field}.path_match_policy`, 'route dropped: path templates are not supported; requests it took go to later routes');
      return undefined;
  }
}

function headerMatch(header: HeaderMatcher, field: string, ctx: DecodeContext): HeaderMatch | undefined {
  const name = header.name.toLowerCase();
  if (!checkHeaderText(header.name, `${field}.name`, ctx, { nonEmpty: true })) return undefined;
  const spec = header.headerMatchSpecifier;
  if (header.treatMissingHeaderAsEmpty) ctx.approximated(`${field}.treat_missing_header_as_empty`, 'a missing header does not match as an empty one');
  if (!spec) return { name, match: { kind: 'present', present: true }, invert: header.invertMatch };
  const literal = (kind: 'exact' | 'prefix' | 'suffix' | 'contains', value: string): HeaderMatch => ({
    name,
    match: { kind: 'string', matcher: { kind, value, ignoreCase: false } },
    invert: header.invertMatch,
  });
  switch (spec.$case) {
    case 'exactMatch':
      return literal('exact', spec.value);
    case 'prefixMatch':
      return literal('prefix', spec.value);
    case 'suffixMatch':
      return literal('suffix', spec.value);
    case 'containsMatch':
      return literal('contains', spec.value);
    case 'presentMatch':
      return { name, match: { kind: 'present', present: spec.value }, invert: header.invertMatch };
    case 'rangeMatch':
      return { name, match: { kind: 'range', start: spec.value.start, end: spec.value.end }, invert: header.invertMatch };
    case 'safeRegexMatch': {
      const regex = decodeRegex(spec.value, `${field}.safe_regex_match`, ctx);
      return regex === undefined ? undefined : { name, match: { kind: 'string', matcher: { kind: 'regex', regex } }, invert: header.invertMatch };
    }
    case 'stringMatch': {
      const matcher = decodeStringMatcher(spec.value, `${field}.string_match`, ctx);
      return matcher ? { name, match: { kind: 'string', matcher }, invert: header.invertMatch } : undefined;
    }
  }
}

function queryMatch(param: QueryParameterMatcher, field: string, ctx: DecodeContext): QueryParamMatch | undefined {
  const spec = param.queryParameterMatchSpecifier;
  if (!spec || spec.$case === 'presentMatch') return { name: param.name, match: { kind: 'present' } };
  const matcher = decodeStringMatcher(spec.value, `${field}.string_match`, ctx);
  return matcher ? { name: param.name, match: { kind: 'string', matcher } } : undefined;
}

function routeMatch(match: RouteMatch | undefined, field: string, ctx: DecodeContext): DomainMatch | undefined {
  if (!match) {
    ctx.fail(field, 'route without a match');
    return undefined;
  }
  const path = pathMatch(match, field, ctx);
  const headers = match.headers.map((h, i) => headerMatch(h, `${field}.headers[${i}]`, ctx));
  const queryParams = match.queryParameters.map((q, i) => queryMatch(q, `${field}.query_parameters[${i}]`, ctx));
  if (match.runtimeFraction) ctx.approximated(`${field}.runtime_fraction`, 'runtime fractions are not evaluated: the route always matches');
  if (match.tlsContext) ctx.dropped(`${field}.tls_context`, 'TLS context matching has no APISIX equivalent');
  if (match.dynamicMetadata.length > 0) ctx.dropped(`${field}.dynamic_metadata`, 'dynamic metadata matching has no APISIX equivalent');
  if (!path || headers.includes(undefined) || queryParams.includes(undefined)) return undefined;
  return {
    path,
    caseSensitive: match.caseSensitive ?? true,
    headers: headers as HeaderMatch[],
    queryParams: queryParams as QueryParamMatch[],
    grpcOnly: match.grpc !== undefined,
  };
}

function retryPolicy(policy: RetryPolicy | undefined, field: string, ctx: DecodeContext): DomainRetry | undefined {
  if (!policy) return undefined;
  // retriable_status_codes is covered by the retry_on report (APISIX retries on connection errors only).
  ctx.unhandled(policy, field, ['retryOn', 'numRetries', 'perTryTimeout', 'retriableStatusCodes']);
  return {
    retryOn: policy.retryOn
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s.length > 0),
    numRetries: policy.numRetries ?? 1,
    perTryTimeoutMs: checkedDurationMs(policy.perTryTimeout, `${field}.per_try_timeout`, ctx),
  };
}

function hashPolicies(action: RouteAction, field: string, ctx: DecodeContext): HashPolicy[] {
  return action.hashPolicy.flatMap((policy, i): HashPolicy[] => {
    const spec = policy.policySpecifier;
    switch (spec?.$case) {
      case 'header':
        checkHeaderText(spec.value.headerName, `${field}.hash_policy[${i}].header.header_name`, ctx, { nonEmpty: true });
        return [{ kind: 'header', name: spec.value.headerName.toLowerCase() }];
      case 'cookie':
        if (spec.value.ttl) ctx.dropped(`${field}.hash_policy[${i}].cookie.ttl`, 'APISIX does not generate hash cookies');
        return [{ kind: 'cookie', name: spec.value.name }];
      case 'queryParameter':
        return [{ kind: 'query', name: spec.value.name }];
      case 'connectionProperties':
        return spec.value.sourceIp ? [{ kind: 'source-ip' }] : [];
      default:
        ctx.dropped(`${field}.hash_policy[${i}]`, 'hash policy kind has no APISIX equivalent');
        return [];
    }
  });
}

function forwardAction(action: RouteAction, field: string, ctx: DecodeContext): ForwardAction | undefined {
  const spec = action.clusterSpecifier;
  let backends: ForwardAction['backends'];
  switch (spec?.$case) {
    case 'cluster':
      backends = [{ cluster: spec.value, weight: 1 }];
      break;
    case 'weightedClusters': {
      backends = spec.value.clusters.map((c) => ({ cluster: c.name, weight: c.weight ?? 0 }));
      spec.value.clusters.forEach((c, i) => ctx.unhandled(c, `${field}.weighted_clusters.clusters[${i}]`, ['name', 'weight']));
      if (backends.length === 0) {
        ctx.fail(`${field}.weighted_clusters.clusters`, 'no clusters');
        return undefined;
      }
      // Envoy: "Sum of weights in the weighted_cluster must be greater than 0."
      if (backends.every((b) => b.weight === 0)) {
        ctx.fail(`${field}.weighted_clusters.clusters`, 'the sum of the weights must be greater than 0');
        return undefined;
      }
      break;
    }
    default:
      if (!spec) {
        ctx.fail(`${field}.cluster_specifier`, 'route action without a cluster');
        return undefined;
      }
      return undefined;
  }
  const host = action.hostRewriteSpecifier;
  let hostRewrite: ForwardAction['hostRewrite'];
  if (host?.$case === 'hostRewriteLiteral' && checkHeaderText(host.value, `${field}.host_rewrite_literal`, ctx)) hostRewrite = { kind: 'literal', host: host.value };
  else if (host?.$case === 'autoHostRewrite' && host.value) hostRewrite = { kind: 'auto' };
  else if (host) ctx.dropped(`${field}.${host.$case === 'hostRewriteHeader' ? 'host_rewrite_header' : 'host_rewrite_path_regex'}`, 'no APISIX equivalent');
  const regexRewrite = action.regexRewrite
    ? { regex: decodeRegex(action.regexRewrite.pattern, `${field}.regex_rewrite.pattern`, ctx) ?? '', substitution: action.regexRewrite.substitution }
    : undefined;
  checkHeaderText(action.prefixRewrite, `${field}.prefix_rewrite`, ctx);
  const mirrors: MirrorPolicy[] = action.requestMirrorPolicies.flatMap((m, i): MirrorPolicy[] => {
    const at = `${field}.request_mirror_policies[${i}]`;
    ctx.unhandled(m, at, ['cluster', 'clusterHeader', 'runtimeFraction'], ['traceSampled']);
    // Envoy wants exactly one of cluster and cluster_header.
    if (m.cluster !== '' && m.clusterHeader !== '') {
      ctx.fail(at, 'only one of cluster and cluster_header may be set');
      return [];
    }
    if (m.clusterHeader !== '') {
      ctx.dropped(`${at}.cluster_header`, 'the mirror cluster is named by a request header at request time, which APISIX cannot do: requests are not mirrored');
      return [];
    }
    if (m.cluster === '') {
      ctx.fail(at, 'one of cluster and cluster_header must be set');
      return [];
    }
    return [{ cluster: m.cluster, fraction: percentOf(m.runtimeFraction?.defaultValue) / 100, index: i }];
  });
  ctx.unhandled(
    action,
    field,
    ['clusterSpecifier', 'hostRewriteSpecifier', 'regexRewrite', 'prefixRewrite', 'timeout', 'retryPolicy', 'hashPolicy', 'requestMirrorPolicies', 'cors', 'upgradeConfigs'],
    ['clusterNotFoundResponseCode', 'maxGrpcTimeout', 'internalRedirectAction'],
  );
  return {
    kind: 'forward',
    backends,
    timeoutMs: checkedDurationMs(action.timeout, `${field}.timeout`, ctx),
    retry: retryPolicy(action.retryPolicy, `${field}.retry_policy`, ctx),
    prefixRewrite: action.prefixRewrite !== '' ? action.prefixRewrite : undefined,
    regexRewrite,
    hostRewrite,
    hashPolicies: hashPolicies(action, field, ctx),
    mirrors,
  };
}

const REDIRECT_CODES: Record<RedirectAction_RedirectResponseCode, DomainRedirect['responseCode']> = {
  [RedirectAction_RedirectResponseCode.MOVED_PERMANENTLY]: 301,
  [RedirectAction_RedirectResponseCode.FOUND]: 302,
  [RedirectAction_RedirectResponseCode.SEE_OTHER]: 303,
  [RedirectAction_RedirectResponseCode.TEMPORARY_REDIRECT]: 307,
  [RedirectAction_RedirectResponseCode.PERMANENT_REDIRECT]: 308,
  [RedirectAction_RedirectResponseCode.UNRECOGNIZED]: 301,
};

function redirectAction(action: RedirectAction, field: string, ctx: DecodeContext): DomainRedirect | undefined {
  const scheme = action.schemeRewriteSpecifier;
  const path = action.pathRewriteSpecifier;
  // All of them end up in the Location header.
  checkHeaderText(action.hostRedirect, `${field}.host_redirect`, ctx);
  if (scheme?.$case === 'schemeRedirect') checkHeaderText(scheme.value, `${field}.scheme_redirect`, ctx);
  if (path?.$case === 'pathRedirect') checkHeaderText(path.value, `${field}.path_redirect`, ctx);
  if (path?.$case === 'prefixRewrite') checkHeaderText(path.value, `${field}.prefix_rewrite`, ctx);
  let redirectPath: DomainRedirect['path'];
  if (path?.$case === 'pathRedirect') redirectPath = { kind: 'path', value: path.value };
  else if (path?.$case === 'prefixRewrite') redirectPath = { kind: 'prefix', value: path.value };
  else if (path?.$case === 'regexRewrite') {
    const regex = decodeRegex(path.value.pattern, `${field}.regex_rewrite.pattern`, ctx);
    if (regex === undefined) return undefined;
    redirectPath = { kind: 'regex', regex, substitution: path.value.substitution };
  }
  return {
    kind: 'redirect',
    scheme: scheme?.$case === 'httpsRedirect' ? (scheme.value ? 'https' : undefined) : scheme?.value,
    host: action.hostRedirect !== '' ? action.hostRedirect : undefined,
    port: action.portRedirect !== 0 ? action.portRedirect : undefined,
    path: redirectPath,
    responseCode: REDIRECT_CODES[action.responseCode] ?? 301,
    stripQuery: action.stripQuery,
  };
}

/** Envoy would route these somewhere APISIX cannot follow: answer 503 in the route's place. */
const UNSUPPORTED_CLUSTER_SPECIFIERS: Record<string, string> = {
  clusterHeader: 'cluster_header',
  clusterSpecifierPlugin: 'cluster_specifier_plugin',
  inlineClusterSpecifierPlugin: 'inline_cluster_specifier_plugin',
};

function routeAction(route: Route, field: string, ctx: DecodeContext): DomainAction | undefined {
  const action = route.action;
  switch (action?.$case) {
    case 'route': {
      const specifier = action.value.clusterSpecifier?.$case;
      const unsupported = specifier ? UNSUPPORTED_CLUSTER_SPECIFIERS[specifier] : undefined;
      if (unsupported) {
        ctx.approximated(`${field}.route.${unsupported}`, 'the cluster is chosen at request time, which APISIX cannot do: answered with 503');
        return { kind: 'direct-response', status: 503, body: undefined };
      }
      return forwardAction(action.value, `${field}.route`, ctx);
    }
    case 'redirect':
      return redirectAction(action.value, `${field}.redirect`, ctx);
    case 'directResponse':
      return { kind: 'direct-response', status: action.value.status, body: inlineData(action.value.body, `${field}.direct_response.body`, ctx) };
    case 'filterAction':
    case 'nonForwardingAction':
      ctx.dropped(`${field}.${action.$case === 'filterAction' ? 'filter_action' : 'non_forwarding_action'}`, 'route dropped: the action has no APISIX equivalent');
      return undefined;
    default:
      ctx.fail(`${field}.action`, 'route without an action');
      return undefined;
  }
}

function corsPolicy(cors: EnvoyCors | undefined, field: string, ctx: DecodeContext): CorsPolicy | undefined {
  if (!cors) return undefined;
  const origins = cors.allowOriginStringMatch.map((m, i) => decodeStringMatcher(m, `${field}.allow_origin_string_match[${i}]`, ctx));
  // Sent as Access-Control-* response headers.
  for (const [value, name] of [
    [cors.allowMethods, 'allow_methods'],
    [cors.allowHeaders, 'allow_headers'],
    [cors.exposeHeaders, 'expose_headers'],
    [cors.maxAge, 'max_age'],
  ] as const) {
    checkHeaderText(value, `${field}.${name}`, ctx);
  }
  if (origins.includes(undefined)) return undefined;
  return {
    allowOrigins: origins as CorsPolicy['allowOrigins'],
    allowMethods: cors.allowMethods || undefined,
    allowHeaders: cors.allowHeaders || undefined,
    exposeHeaders: cors.exposeHeaders || undefined,
    maxAge: cors.maxAge || undefined,
    allowCredentials: cors.allowCredentials ?? false,
  };
}

/** typed_per_filter_config: fault and CORS are translated; other filters' overrides are reported. */
function perFilter(configs: { [name: string]: Any }, field: string, ctx: DecodeContext): RouteFilters {
  let fault: FaultPolicy | undefined;
  let cors: CorsPolicy | undefined;
  for (const [name, any] of Object.entries(configs)) {
    const unpacked = unpackAny(any);
    const at = `${field}.typed_per_filter_config["${name}"]`;
    if (unpacked.kind === 'known' && unpacked.typeUrl === TYPE_URL.HTTPFault) {
      const message = unpacked.message;
      const abort = message.abort?.errorType;
      const delay = message.delay?.faultDelaySecifier;
      if (abort && abort.$case !== 'httpStatus') ctx.dropped(`${at}.abort`, `${abort.$case} aborts are not supported`);
      if (delay && delay.$case !== 'fixedDelay') ctx.dropped(`${at}.delay`, 'header-controlled delays are not supported');
      if (message.headers.length > 0 || message.downstreamNodes.length > 0) ctx.approximated(at, 'fault header and downstream-node conditions are ignored');
      fault = {
        abort: abort?.$case === 'httpStatus' ? { httpStatus: abort.value, percent: percentOf(message.abort?.percentage) } : undefined,
        delay: delay?.$case === 'fixedDelay' ? { fixedDelayMs: durationMs(delay.value) ?? 0, percent: percentOf(message.delay?.percentage) } : undefined,
      };
    } else if (unpacked.kind === 'known' && unpacked.typeUrl === TYPE_URL.CorsPolicy) {
      cors = corsPolicy(unpacked.message as EnvoyCors, at, ctx);
    } else if (unpacked.kind === 'invalid') {
      ctx.fail(at, `cannot decode ${unpacked.typeUrl}: ${unpacked.error}`);
    } else {
      ctx.dropped(at, `per-route config of filter type ${unpacked.typeUrl} has no APISIX equivalent`);
    }
  }
  return { fault, cors };
}

function decodeRoute(route: Route, field: string, ctx: DecodeContext): DomainRoute | undefined {
  const match = routeMatch(route.match, `${field}.match`, ctx);
  const action = routeAction(route, field, ctx);
  const filters = perFilter(route.typedPerFilterConfig, field, ctx);
  const cors = route.action?.$case === 'route' ? corsPolicy(route.action.value.cors, `${field}.route.cors`, ctx) : undefined;
  ctx.unhandled(
    route,
    field,
    ['match', 'action', 'typedPerFilterConfig', 'requestHeadersToAdd', 'requestHeadersToRemove', 'responseHeadersToAdd', 'responseHeadersToRemove'],
    INERT_ROUTE,
  );
  if (!match || !action) return undefined;
  return {
    name: route.name || undefined,
    match,
    action,
    requestHeaders: headerMutations(route.requestHeadersToAdd, route.requestHeadersToRemove, `${field}.request_headers`, ctx),
    responseHeaders: headerMutations(route.responseHeadersToAdd, route.responseHeadersToRemove, `${field}.response_headers`, ctx),
    filters: { fault: filters.fault, cors: cors ?? filters.cors },
  };
}

function decodeVirtualHost(vhost: VirtualHost, field: string, ctx: DecodeContext): DomainVirtualHost {
  const routes = vhost.routes.map((r, i) => decodeRoute(r, `${field}.routes[${i}]`, ctx));
  const filters = perFilter(vhost.typedPerFilterConfig, field, ctx);
  ctx.unhandled(
    vhost,
    field,
    [
      'name',
      'domains',
      'routes',
      'typedPerFilterConfig',
      'requestHeadersToAdd',
      'requestHeadersToRemove',
      'responseHeadersToAdd',
      'responseHeadersToRemove',
      'retryPolicy',
      'cors',
    ],
    ['metadata', 'virtualClusters', 'includeRequestAttemptCount', 'includeAttemptCountInResponse'],
  );
  return {
    name: vhost.name,
    domains: vhost.domains.map((d) => d.toLowerCase()),
    routes: routes.filter((r): r is DomainRoute => r !== undefined),
    requestHeaders: headerMutations(vhost.requestHeadersToAdd, vhost.requestHeadersToRemove, `${field}.request_headers`, ctx),
    responseHeaders: headerMutations(vhost.responseHeadersToAdd, vhost.responseHeadersToRemove, `${field}.response_headers`, ctx),
    retry: retryPolicy(vhost.retryPolicy, `${field}.retry_policy`, ctx),
    filters: { fault: filters.fault, cors: corsPolicy(vhost.cors, `${field}.cors`, ctx) ?? filters.cors },
  };
}

/** `field` prefixes every path (for a route config inlined in a listener). */
export function decodeRouteConfiguration(config: RouteConfiguration, ctx: DecodeContext, field = ''): RouteTable {
  const at = (name: string): string => (field ? `${field}.${name}` : name);
  const seen = new Set<string>();
  config.virtualHosts.forEach((vhost, v) =>
    vhost.domains.forEach((domain, d) => {
      checkHeaderText(domain, at(`virtual_hosts[${v}].domains[${d}]`), ctx);
      const key = domain.toLowerCase();
      if (seen.has(key)) ctx.fail(at(`virtual_hosts[${v}].domains`), `domain ${quote(domain)} appears in more than one virtual host`);
      seen.add(key);
    }),
  );
  ctx.unhandled(
    config,
    field,
    ['name', 'virtualHosts', 'requestHeadersToAdd', 'requestHeadersToRemove', 'responseHeadersToAdd', 'responseHeadersToRemove'],
    ['validateClusters', 'internalOnlyHeaders', 'metadata', 'maxDirectResponseBodySizeBytes', 'ignorePortInHostMatching'],
  );
  return {
    name: config.name,
    virtualHosts: config.virtualHosts.map((vhost, v) => decodeVirtualHost(vhost, at(`virtual_hosts[${v}]`), ctx)),
    requestHeaders: headerMutations(config.requestHeadersToAdd, config.requestHeadersToRemove, at('request_headers'), ctx),
    responseHeaders: headerMutations(config.responseHeadersToAdd, config.responseHeadersToRemove, at('response_headers'), ctx),
  };
}

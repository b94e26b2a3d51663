// Reference matcher with Envoy's routing semantics over the domain model, written from Envoy's
// source (source/common/router/config_impl.cc, source/common/common/matchers.cc,
// source/common/http/header_utility.cc, source/common/http/utility.cc, source/common/grpc/common.cc)
// rather than from the translation, so that the two can be compared. Where Envoy's code and its API
// docs disagree, the code wins; each such place says so.
import { RE2JS } from 're2js';
import type { HeaderMatch, PathMatch, QueryParamMatch, Route, RouteTable, VirtualHost } from '../../src/domain/mesh/route.js';
import type { StringMatcher } from '../../src/domain/mesh/string-match.js';

/** One HTTP/1.1 request as it reaches the proxy. */
export interface TestRequest {
  /** The listener port the client connected to. */
  readonly port: number;
  /** The Host header as sent: any case, may carry `:port`. */
  readonly host: string;
  /** The raw `:path`, query string included. */
  readonly path: string;
  readonly method: string;
  /** `:scheme`; http when unset. */
  readonly scheme?: string | undefined;
  /** Other headers, lower-case names, one value each (no pseudo-headers, no `host`). */
  readonly headers: Readonly<Record<string, string>>;
}

/** A route table with the listener ports it serves; no ports: it serves every port (see first-match.ts). */
export interface BoundTable {
  readonly table: RouteTable;
  readonly ports: readonly number[];
}

export type EnvoyChoice =
  | { readonly table: string; readonly virtualHost: number; readonly route: number }
  | { readonly notFound: true; readonly table?: string | undefined; readonly virtualHost?: number | undefined };

export interface EnvoyMatchOptions {
  /**
   * Select virtual hosts with the port removed from the Host header and from every domain, as
   * APISIX's $host does. Used only to tell the documented port approximation apart from real
   * disagreements; two virtual hosts that become indistinguishable make the result `ambiguous`.
   */
  readonly portBlind?: boolean;
}

export const isNotFound = (choice: EnvoyChoice): choice is Extract<EnvoyChoice, { notFound: true }> => 'notFound' in choice;

const lowerAscii = (s: string): string => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

/** Port removal as nginx does it for $host (first ':' outside brackets); IPv6 is not generated. */
export const stripHostPort = (host: string): string => {
  const colon = host.indexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
};

// === virtual host selection (RouteMatcher::findVirtualHost) ===

interface DomainIndex {
  readonly exact: Map<string, number[]>;
  readonly suffixes: Map<string, number[]>;
  readonly prefixes: Map<string, number[]>;
  readonly any: number[];
}

const indexCache = new WeakMap<RouteTable, Map<boolean, DomainIndex>>();

function domainIndex(table: RouteTable, portBlind: boolean): DomainIndex {
  let perMode = indexCache.get(table);
  if (!perMode) indexCache.set(table, (perMode = new Map()));
  const cached = perMode.get(portBlind);
  if (cached) return cached;
  const index: DomainIndex = { exact: new Map(), suffixes: new Map(), prefixes: new Map(), any: [] };
  const add = (map: Map<string, number[]>, key: string, v: number): void => {
    const list = map.get(key) ?? [];
    if (!list.includes(v)) list.push(v);
    map.set(key, list);
    // Envoy rejects a route configuration that lists one domain twice.
    if (!portBlind && list.length > 1) throw new Error(`route table "${table.name}": domain "${key}" appears in two virtual hosts`);
  };
  table.virtualHosts.forEach((vhost, v) => {
    for (const raw of vhost.domains) {
      const domain = lowerAscii(raw);
      if (domain === '*') {
        if (!index.any.includes(v)) index.any.push(v);
        if (!portBlind && index.any.length > 1) throw new Error(`route table "${table.name}": two virtual hosts with domain "*"`);
      } else if (domain.startsWith('*')) add(index.suffixes, portBlind ? stripHostPort(domain.slice(1)) : domain.slice(1), v);
      else if (domain.endsWith('*')) add(index.prefixes, domain.slice(0, -1), v);
      else add(index.exact, portBlind ? stripHostPort(domain) : domain, v);
    }
  });
  perMode.set(portBlind, index);
  return index;
}

/** Longest wildcard first; a wildcard never matches the empty string (`*.a.com` does not take `.a.com`). */
function longestWildcard(map: Map<string, number[]>, host: string, fits: (key: string) => boolean): number[] | undefined {
  let best: string | undefined;
  for (const key of map.keys()) if (key.length < host.length && fits(key) && (best === undefined || key.length > best.length)) best = key;
  return best === undefined ? undefined : map.get(best);
}

/** Index of the virtual host Envoy picks, undefined for none, 'ambiguous' only in port-blind mode. */
export function selectVirtualHost(table: RouteTable, hostHeader: string, options: EnvoyMatchOptions = {}): number | 'ambiguous' | undefined {
  const portBlind = options.portBlind ?? false;
  const index = domainIndex(table, portBlind);
  const host = portBlind ? stripHostPort(lowerAscii(hostHeader)) : lowerAscii(hostHeader);
  const candidates =
    index.exact.get(host) ??
    longestWildcard(index.suffixes, host, (suffix) => host.endsWith(suffix)) ??
    longestWildcard(index.prefixes, host, (prefix) => host.startsWith(prefix)) ??
    (index.any.length > 0 ? index.any : undefined);
  if (!candidates) return undefined;
  return candidates.length > 1 ? 'ambiguous' : candidates[0];
}

// === route matching (RouteEntryImplBase::matchRoute and the path matchers) ===

/** Http::PathUtil::removeQueryAndFragment. */
export const pathWithoutQuery = (path: string): string => path.replace(/[?#].*$/s, '');

const regexCache = new Map<string, RE2JS>();

/** safe_regex: RE2 syntax, whole-input match. */
export function re2FullMatch(regex: string, input: string): boolean {
  let compiled = regexCache.get(regex);
  if (!compiled) regexCache.set(regex, (compiled = RE2JS.compile(regex)));
  return compiled.matches(input);
}

/** Matchers::StringMatcherImpl; ignore_case is ASCII-only (absl's *IgnoreCase and AsciiStrToLower). */
export function stringMatches(matcher: StringMatcher, value: string): boolean {
  if (matcher.kind === 'regex') return re2FullMatch(matcher.regex, value);
  const [subject, expected] = matcher.ignoreCase ? [lowerAscii(value), lowerAscii(matcher.value)] : [value, matcher.value];
  switch (matcher.kind) {
    case 'exact':
      return subject === expected;
    case 'prefix':
      return subject.startsWith(expected);
    case 'suffix':
      return subject.endsWith(expected);
    case 'contains':
      return subject.includes(expected);
  }
}

/**
 * Every path matcher sees the path without query and fragment: PathMatcher::match strips them
 * (matchers.cc), the prefix matcher included, although the API docs say a prefix matches ":path".
 * case_sensitive applies to prefix, path and path_separated_prefix, never to safe_regex.
 */
function pathMatches(path: PathMatch, caseSensitive: boolean, rawPath: string): boolean {
  const bare = pathWithoutQuery(rawPath);
  const fold = (s: string): string => (caseSensitive ? s : lowerAscii(s));
  switch (path.kind) {
    case 'prefix':
      return fold(bare).startsWith(fold(path.value));
    case 'exact':
      return fold(bare) === fold(path.value);
    case 'separated-prefix':
      return fold(bare).startsWith(fold(path.value)) && (bare.length === path.value.length || bare[path.value.length] === '/');
    case 'regex':
      return re2FullMatch(path.regex, bare);
  }
}

/** absl::SimpleAtoi into int64: surrounding ASCII whitespace and one sign allowed, base 10, no overflow. */
export function simpleAtoi64(text: string): bigint | undefined {
  const m = /^[\t\n\v\f\r ]*([+-]?)([0-9]+)[\t\n\v\f\r ]*$/.exec(text);
  if (!m) return undefined;
  const value = BigInt(`${m[1] === '-' ? '-' : ''}${m[2]}`);
  return value >= -(1n << 63n) && value < 1n << 63n ? value : undefined;
}

/** Request header as Envoy's header map holds it; pseudo-headers come from the request line. */
function headerValue(request: TestRequest, name: string): string | undefined {
  switch (name) {
    case ':method':
      return request.method;
    case ':authority':
      return request.host;
    case ':path':
      return request.path;
    case ':scheme':
      return request.scheme ?? 'http';
    case 'host':
      // In Envoy's header map Host is `:authority`; whether a matcher on "host" sees it was not verified.
      throw new Error('header matcher on "host" is not modelled; use ":authority"');
    default:
      return request.headers[name];
  }
}

/**
 * HeaderUtility::matchHeaders. A missing header matches only a present_match (treat_missing_
 * header_as_empty is not in the domain model, so it is false): invert_match does NOT turn a
 * missing header into a match for value, regex or range matchers.
 */
export function headerMatches(header: HeaderMatch, request: TestRequest): boolean {
  const value = headerValue(request, header.name);
  const match = header.match;
  if (value === undefined) return match.kind === 'present' && match.present === header.invert;
  let result: boolean;
  switch (match.kind) {
    case 'present':
      result = match.present;
      break;
    case 'range': {
      const n = simpleAtoi64(value);
      result = n !== undefined && n >= BigInt(match.start) && n < BigInt(match.end);
      break;
    }
    case 'string':
      result = stringMatches(match.matcher, value);
      break;
  }
  return result !== header.invert;
}

/**
 * QueryParamsMulti::parseQueryString: everything after the first '?', split on '&', name and
 * value split at the first '='. Route matching does NOT percent-decode (parseQueryString, not
 * parseAndDecodeQueryString), although the task brief assumed decoding.
 */
export function envoyQueryParams(path: string): Map<string, string> {
  const params = new Map<string, string>();
  const start = path.indexOf('?');
  if (start === -1) return params;
  for (const part of path.slice(start + 1).split('&')) {
    const eq = part.indexOf('=');
    const [name, value] = eq === -1 ? [part, ''] : [part.slice(0, eq), part.slice(eq + 1)];
    if (!params.has(name)) params.set(name, value); // first value wins
  }
  return params;
}

function queryMatches(param: QueryParamMatch, params: Map<string, string>): boolean {
  const value = params.get(param.name);
  if (value === undefined) return false;
  return param.match.kind === 'present' || stringMatches(param.match.matcher, value);
}

/** Grpc::Common::hasGrpcContentType: exactly application/grpc or application/grpc+…, not grpc-web. */
export function isGrpcContentType(contentType: string | undefined): boolean {
  return contentType !== undefined && (contentType === 'application/grpc' || contentType.startsWith('application/grpc+'));
}

export function routeMatches(route: Route, request: TestRequest): boolean {
  const m = route.match;
  if (m.grpcOnly && !isGrpcContentType(request.headers['content-type'])) return false;
  if (!m.headers.every((h) => headerMatches(h, request))) return false;
  if (m.queryParams.length > 0) {
    const params = envoyQueryParams(request.path);
    if (!m.queryParams.every((q) => queryMatches(q, params))) return false;
  }
  return pathMatches(m.path, m.caseSensitive, request.path);
}

export function firstMatchingRoute(vhost: VirtualHost, request: TestRequest): number | undefined {
  const index = vhost.routes.findIndex((route) => routeMatches(route, request));
  return index === -1 ? undefined : index;
}

/**
 * The route table a request at `port` reaches: the tables bound to that port, else the tables
 * bound to no port. More than one is not a configuration Envoy can have; it is an error here.
 */
export function tableForPort(tables: readonly BoundTable[], port: number): RouteTable | undefined {
  let visible = tables.filter((t) => t.ports.includes(port));
  if (visible.length === 0) visible = tables.filter((t) => t.ports.length === 0);
  if (visible.length > 1) throw new Error(`port ${port} is served by several route tables: ${visible.map((t) => t.table.name).join(', ')}`);
  return visible[0]?.table;
}

export function envoyMatch(tables: readonly BoundTable[], request: TestRequest, options: EnvoyMatchOptions = {}): EnvoyChoice | 'ambiguous' {
  const table = tableForPort(tables, request.port);
  if (!table) return { notFound: true };
  const v = selectVirtualHost(table, request.host, options);
  if (v === 'ambiguous') return v;
  if (v === undefined) return { notFound: true, table: table.name };
  const route = firstMatchingRoute(table.virtualHosts[v]!, request);
  return route === undefined ? { notFound: true, table: table.name, virtualHost: v } : { table: table.name, virtualHost: v, route };
}

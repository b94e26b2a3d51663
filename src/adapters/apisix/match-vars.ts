// Envoy route match conditions as lua-resty-expr `vars`. Every path form becomes a condition on
// `uri` so that all routes of a host share one radixtree node and `priority` alone orders them
// (APISIX otherwise prefers exact paths and longer prefixes over Envoy's first match).
import type { StringMatcher } from '../../domain/mesh/string-match.js';
import type { HeaderMatch, PathMatch, QueryParamMatch, RouteMatch } from '../../domain/mesh/route.js';
import { err, ok, type Result } from '../../domain/result.js';
import type { VarExpr } from './apisix-types.js';
import { RE2JS } from 're2js';
import { escapePcre, re2ToPcre } from './regex.js';

export interface MatchVars {
  readonly vars: VarExpr[];
  /** Why a condition is approximated, with the route field it concerns. */
  readonly caveats: readonly { readonly field: string; readonly reason: string }[];
}

type Caveats = { field: string; reason: string }[];

/** `i` flag for case-insensitive regex matches (lua-resty-expr's `~*`). */
const regexOp = (ignoreCase: boolean): string => (ignoreCase ? '~*' : '~~');

function stringMatcherExpr(variable: string, matcher: StringMatcher, field: string, caveats: Caveats): Result<VarExpr, string> {
  if (matcher.kind === 'regex') {
    const pcre = re2ToPcre(matcher.regex);
    if (!pcre.ok) return err(`${field}: ${pcre.error}`);
    if (pcre.value.caveat) caveats.push({ field, reason: pcre.value.caveat });
    return ok([variable, '~~', pcre.value.anchored]);
  }
  const literal = escapePcre(matcher.value);
  switch (matcher.kind) {
    case 'exact':
      return ok(matcher.ignoreCase ? [variable, '~*', `^${literal}\\z`] : [variable, '==', matcher.value]);
    case 'prefix':
      return ok([variable, regexOp(matcher.ignoreCase), `^${literal}`]);
    case 'suffix':
      return ok([variable, regexOp(matcher.ignoreCase), `${literal}\\z`]);
    case 'contains':
      return ok([variable, regexOp(matcher.ignoreCase), literal]);
  }
}

function pathExpr(path: PathMatch, caseSensitive: boolean, caveats: Caveats): Result<VarExpr | undefined, string> {
  const op = regexOp(!caseSensitive);
  switch (path.kind) {
    case 'prefix':
      // Envoy removes the query string before matching, like nginx's $uri.
      if (path.value === '/' || path.value === '') return ok(undefined);
      return ok(['uri', op, `^${escapePcre(path.value)}`]);
    case 'exact':
      return ok(caseSensitive ? ['uri', '==', path.value] : ['uri', '~*', `^${escapePcre(path.value)}\\z`]);
    case 'separated-prefix': {
      const prefix = path.value.replace(/\/+$/, '');
      return ok(['uri', op, `^${escapePcre(prefix)}(?:/|\\z)`]);
    }
    case 'regex': {
      const pcre = re2ToPcre(path.regex);
      if (!pcre.ok) return err(`match.safe_regex.regex: ${pcre.error}`);
      if (pcre.value.caveat) caveats.push({ field: 'match.safe_regex.regex', reason: pcre.value.caveat });
      // Envoy ignores case_sensitive for regex paths.
      return ok(['uri', '~~', pcre.value.anchored]);
    }
  }
}

/** nginx variable that holds a request header; pseudo-headers map to their nginx equivalents. */
export function headerVariable(name: string): string {
  switch (name) {
    case ':method':
      return 'request_method';
    case ':authority':
    case 'host':
      return 'http_host';
    case ':path':
      return 'request_uri';
    case ':scheme':
      return 'scheme';
    default:
      return `http_${name.toLowerCase().replace(/-/g, '_')}`;
  }
}

const negate = (expr: VarExpr): VarExpr => [expr[0] ?? null, '!', ...expr.slice(1)];

/**
 * Holds when the variable is set (lua-resty-expr's regex operators are false on a missing one).
 * Not `["v","~=",null]`: in a YAML standalone file null is not ngx.null and that test misbehaves.
 */
const presentExpr = (variable: string): VarExpr => [variable, '~~', '.*'];

function headerExpr(header: HeaderMatch, index: number, caveats: Caveats): Result<VarExpr[], string> {
  const variable = headerVariable(header.name);
  const field = `match.headers[${index}]`;
  let exprs: VarExpr[];
  switch (header.match.kind) {
    case 'present': {
      const wantPresent = header.match.present !== header.invert;
      return ok([wantPresent ? presentExpr(variable) : negate(presentExpr(variable))]);
    }
    case 'range': {
      const { start, end } = header.match;
      // Envoy parses the value as a signed 64-bit integer (absl::SimpleAtoi accepts a sign).
      const inRange: VarExpr = ['AND', [variable, '~~', '^[+-]?[0-9]+\\z'], [variable, '>=', start], [variable, '<', end]];
      return ok(header.invert ? [presentExpr(variable), ['!AND', ...inRange.slice(1)]] : [inRange]);
    }
    case 'string': {
      const expr = stringMatcherExpr(variable, header.match.matcher, `${field}.string_match`, caveats);
      if (!expr.ok) return expr;
      // A missing header never matches a value matcher, inverted or not (Envoy's matchHeaders).
      exprs = header.invert ? [presentExpr(variable), negate(expr.value)] : [expr.value];
      return ok(exprs);
    }
  }
}

/** A PCRE class per letter: case-insensitive without inline flags (which nest badly in a larger pattern). */
function caseless(pcreLiteral: string): string {
  return pcreLiteral.replace(/[a-zA-Z]/g, (c) => `[${c.toLowerCase()}${c.toUpperCase()}]`);
}

/** PCRE for a raw (still percent-encoded) query value that the matcher accepts, within one parameter. */
function queryValuePattern(matcher: StringMatcher, field: string, caveats: Caveats): Result<string, string> {
  if (matcher.kind === 'regex') {
    const pcre = re2ToPcre(matcher.regex);
    if (!pcre.ok) return err(`${field}: ${pcre.error}`);
    if (pcre.value.caveat) caveats.push({ field, reason: pcre.value.caveat });
    caveats.push({ field, reason: 'a query regex is evaluated on the raw query string and may run past the parameter if it matches "&"' });
    return ok(`(?:${pcre.value.body})`);
  }
  const literal = matcher.ignoreCase ? caseless(escapePcre(matcher.value)) : escapePcre(matcher.value);
  switch (matcher.kind) {
    case 'exact':
      return ok(literal);
    case 'prefix':
      return ok(`${literal}[^&]*`);
    case 'suffix':
      return ok(`[^&]*${literal}`);
    case 'contains':
      return ok(`[^&]*${literal}[^&]*`);
  }
}

/** Whether the matcher accepts the empty value (what Envoy sees for `?flag` without `=`). */
function acceptsEmpty(matcher: StringMatcher): boolean {
  if (matcher.kind === 'regex') return RE2JS.compile(matcher.regex).matches('');
  return matcher.value === '';
}

/**
 * Envoy matches the first occurrence of the parameter, on raw (undecoded) names and values; APISIX's
 * `arg_*` variables are decoded. So the condition is a regex over the raw `query_string`: every
 * parameter before the match must have another name, then the parameter and its whole value.
 */
function queryExpr(param: QueryParamMatch, index: number, caveats: Caveats): Result<VarExpr, string> {
  const name = escapePcre(param.name);
  const before = `^(?:(?!${name}(?:=|&|\\z))[^&]*&)*`;
  if (param.match.kind === 'present') return ok(['query_string', '~~', `${before}${name}(?:=|&|\\z)`]);
  const value = queryValuePattern(param.match.matcher, `match.query_parameters[${index}].string_match`, caveats);
  if (!value.ok) return value;
  const bare = acceptsEmpty(param.match.matcher) ? '|&|\\z' : '';
  return ok(['query_string', '~~', `${before}${name}(?:=${value.value}(?:&|\\z)${bare})`]);
}

export function routeMatchVars(match: RouteMatch): Result<MatchVars, string> {
  const caveats: Caveats = [];
  const vars: VarExpr[] = [];
  const path = pathExpr(match.path, match.caseSensitive, caveats);
  if (!path.ok) return path;
  if (path.value) vars.push(path.value);
  for (const [i, header] of match.headers.entries()) {
    const exprs = headerExpr(header, i, caveats);
    if (!exprs.ok) return exprs;
    vars.push(...exprs.value);
  }
  for (const [i, param] of match.queryParams.entries()) {
    const expr = queryExpr(param, i, caveats);
    if (!expr.ok) return expr;
    vars.push(expr.value);
  }
  // application/grpc or application/grpc+proto…, not application/grpc-web (Envoy's hasGrpcContentType).
  if (match.grpcOnly) vars.push(['http_content_type', '~~', '^application/grpc(?:\\+|\\z)']);
  return ok({ vars, caveats });
}

/** True when the route matches every request of its virtual host (Envoy stops looking after it). */
export function matchesEverything(match: RouteMatch): boolean {
  return match.path.kind === 'prefix' && (match.path.value === '/' || match.path.value === '') && match.headers.length === 0 && match.queryParams.length === 0 && !match.grpcOnly;
}

// A model of APISIX 3.18's default router (radixtree_host_uri over lua-resty-radixtree 2.9.2) and
// of lua-resty-expr 1.3.2's `vars`, written from their sources (see docs/research/apisix-plugins.md)
// and not from the translation. Anything the model does not cover throws UnsupportedApisix.
import type { ApisixRoute } from '../../src/adapters/apisix/apisix-types.js';
import type { JsonValue } from '../../src/domain/json.js';
import type { TestRequest } from './envoy-matcher.js';
import { pcreSearch } from './pcre-to-js.js';

export class UnsupportedApisix extends Error {}

/** What ctx.var yields: nginx variables are strings; ngx.req.get_uri_args gives `true` for `?flag`. */
type VarValue = string | boolean | undefined;
/** A Lua value on the right-hand side; NULL is cjson.null (ngx.null), which compare_val turns into nil. */
type LuaValue = string | number | boolean | undefined | typeof NULL | readonly LuaValue[];
const NULL = Symbol('ngx.null');

// === nginx variables ===

/** $uri: path without query, %XX-decoded, slashes merged (merge_slashes on). */
function nginxUri(rawPath: string): string {
  const path = rawPath.split('?')[0]!;
  if (path.includes('#')) throw new UnsupportedApisix(`'#' in path ${JSON.stringify(rawPath)}`);
  const decoded = path.replace(/%([0-9a-fA-F]{2})?/g, (whole, hex: string | undefined) => {
    if (hex === undefined || hex === '00') throw new UnsupportedApisix(`nginx rejects ${JSON.stringify(rawPath)} with 400`);
    return String.fromCharCode(parseInt(hex, 16));
  });
  const merged = decoded.replace(/\/{2,}/g, '/');
  if (/\/\.\.?(\/|$)/.test(merged)) throw new UnsupportedApisix(`dot segments in ${JSON.stringify(rawPath)} are not modelled`);
  return merged;
}

/** $host from the Host header (ngx_http_validate_host): lower-cased, port and one trailing dot removed. */
export function nginxHost(hostHeader: string): string {
  if (hostHeader.startsWith('[')) throw new UnsupportedApisix('IPv6 hosts are not modelled');
  let host = hostHeader.toLowerCase();
  const colon = host.indexOf(':');
  if (colon !== -1) host = host.slice(0, colon);
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (host === '' || host.includes('..') || /[/\\\0]/.test(host)) throw new UnsupportedApisix(`nginx rejects Host ${JSON.stringify(hostHeader)} with 400`);
  return host;
}

/** ngx.unescape_uri as get_uri_args applies it: '+' is a space. */
function unescapeArg(text: string): string {
  return text.replace(/\+/g, ' ').replace(/%([0-9a-fA-F]{2})?/g, (whole, hex: string | undefined) => {
    if (hex === undefined) throw new UnsupportedApisix(`invalid escape in query argument ${JSON.stringify(text)}`);
    return String.fromCharCode(parseInt(hex, 16));
  });
}

/** ngx.req.get_uri_args(): decoded, `true` for a key without '=', empty keys dropped; first value kept. */
function uriArgs(rawPath: string): Map<string, string | true> {
  const args = new Map<string, string | true>();
  const start = rawPath.indexOf('?');
  if (start === -1) return args;
  for (const part of rawPath.slice(start + 1).split('&')) {
    const eq = part.indexOf('=');
    const key = unescapeArg(eq === -1 ? part : part.slice(0, eq));
    if (key === '') continue;
    if (!args.has(key)) args.set(key, eq === -1 ? true : unescapeArg(part.slice(eq + 1)));
  }
  return args;
}

export interface ApisixMatchOptions {
  /** The nginx variable holding the listener port (the translation's portVariable); server_port always works. */
  readonly portVariable?: string | undefined;
}

class RequestVars {
  private args: Map<string, string | true> | undefined;
  private uri: string | undefined;

  constructor(
    private readonly request: TestRequest,
    private readonly options: ApisixMatchOptions,
  ) {}

  get hostVar(): string {
    return nginxHost(this.request.host);
  }

  get uriVar(): string {
    return (this.uri ??= nginxUri(this.request.path));
  }

  get(name: string): VarValue {
    const r = this.request;
    if (name === 'server_port' || name === this.options.portVariable) return String(r.port);
    if (name.startsWith('arg_')) return (this.args ??= uriArgs(r.path)).get(name.slice(4));
    if (name.startsWith('http_')) {
      const wanted = name.slice(5).toLowerCase().replace(/-/g, '_');
      if (wanted === 'host') return r.host;
      // nginx drops header names with '_' (underscores_in_headers off) and maps '-' to '_'.
      const found = Object.keys(r.headers).find((h) => !h.includes('_') && h.toLowerCase().replace(/-/g, '_') === wanted);
      return found === undefined ? undefined : r.headers[found];
    }
    switch (name) {
      case 'uri':
        return this.uriVar;
      case 'request_uri':
        return r.path;
      case 'query_string':
      case 'args': {
        // nginx's $args: the raw query after '?', without the fragment; empty when there is none.
        const question = r.path.indexOf('?');
        return question === -1 ? '' : r.path.slice(question + 1).replace(/#.*$/s, '');
      }
      case 'host':
        return this.hostVar;
      case 'request_method':
        return r.method;
      case 'scheme':
        return r.scheme ?? 'http';
    }
    throw new UnsupportedApisix(`nginx variable ${name} is not modelled`);
  }
}

// === lua-resty-expr ===

type Op = '==' | '~=' | '>' | '>=' | '<' | '<=' | '~~' | '~*' | 'in' | 'has';
const OPS = new Set<string>(['==', '~=', '>', '>=', '<', '<=', '~~', '~*', 'in', 'has']);
type Logic = 'AND' | 'OR' | '!AND' | '!OR';
type Expr = { readonly logic: Logic; readonly exprs: readonly Expr[] } | { readonly variable: string; readonly op: Op; readonly value: LuaValue; readonly reverse: boolean };

const toLua = (value: JsonValue): LuaValue => (value === null ? NULL : Array.isArray(value) ? value.map(toLua) : typeof value === 'object' ? fail('object operand') : value);
function fail(what: string): never {
  throw new UnsupportedApisix(`invalid or unmodelled vars: ${what}`);
}
const logicOp = (head: JsonValue | undefined): Logic | undefined =>
  typeof head === 'string' && ['AND', 'OR', '!AND', '!OR'].includes(head.toUpperCase()) ? (head.toUpperCase() as Logic) : undefined;

/** compile(): a list of tables is an AND; a logic head needs at least two operands; else a leaf. */
function compileRules(rules: JsonValue): Expr {
  if (!Array.isArray(rules) || rules.length === 0) fail(`rule too short: ${JSON.stringify(rules)}`);
  if (Array.isArray(rules[0])) return { logic: 'AND', exprs: rules.map(compileRules) };
  const logic = logicOp(rules[0]);
  if (logic) {
    if (rules.length <= 2) fail(`rule too short: ${JSON.stringify(rules)}`);
    return { logic, exprs: rules.slice(1).map(compileRules) };
  }
  let [variable, op, value] = rules;
  let reverse = false;
  if (rules.length === 4) {
    if (rules[1] !== '!') fail(`bad 'not' expression ${JSON.stringify(rules)}`);
    [variable, , op, value] = rules;
    reverse = true;
  } else if (rules.length !== 3) fail(`expression of ${rules.length} elements ${JSON.stringify(rules)}`);
  if (typeof variable !== 'string' || typeof op !== 'string' || value === undefined) fail(JSON.stringify(rules));
  if (!OPS.has(op.toLowerCase())) fail(`operator ${op}`);
  return { variable, op: op.toLowerCase() as Op, value: toLua(value), reverse };
}

/** lua-resty-expr's new(): an empty list is always true; the top level must be wrapped in brackets. */
function compileVars(vars: readonly JsonValue[] | undefined): Expr | undefined {
  if (vars === undefined || vars.length === 0) return undefined;
  if (!Array.isArray(vars[0]) && !logicOp(vars[0])) fail('rule should be wrapped inside brackets');
  return compileRules([...vars]);
}

/** Lua's tonumber on a string (decimal and hex forms, surrounding whitespace). */
function tonumber(value: LuaValue | VarValue): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value !== 'string') return undefined;
  const t = value.trim();
  if (/^[+-]?(inf|nan)/i.test(t)) fail(`tonumber(${JSON.stringify(value)})`); // LuaJIT's strscan rules for these were not checked
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return Number(t);
  if (/^[+-]?0[xX][0-9a-fA-F]+$/.test(t)) return (t.startsWith('-') ? -1 : 1) * parseInt(t.replace(/^[+-]?0[xX]/, ''), 16);
  return undefined;
}

/** Lua `==`: same type and value; tables (JSON arrays) are distinct objects, so never equal. */
const luaEq = (a: LuaValue | VarValue, b: LuaValue | VarValue): boolean => typeof a === typeof b && typeof a !== 'object' && a === b;

/** ngx.re.find tostring()s its subject (lua-resty-core since 2016): `?flag`'s true is searched as "true". */
function reFind(subject: VarValue, pattern: LuaValue, caseless: boolean): boolean {
  if (subject === undefined || subject === false) return false; // Lua's `not l_v`: "" is truthy
  if (typeof pattern !== 'string') fail(`regex operand ${String(pattern)}`);
  return pcreSearch(pattern, caseless, String(subject));
}

function compare(left: VarValue, op: Op, rightRaw: LuaValue): boolean {
  const right = rightRaw === NULL ? undefined : rightRaw;
  switch (op) {
    case '==':
      if (typeof right === 'number') {
        const n = tonumber(left);
        return n !== undefined && n === right;
      }
      return luaEq(left, right);
    case '~=':
      if (typeof right === 'number') {
        const n = tonumber(left);
        return n === undefined || n !== right;
      }
      return !luaEq(left, right);
    case '>':
    case '>=':
    case '<':
    case '<=': {
      const [l, r] = [tonumber(left), tonumber(right)];
      if (l === undefined || r === undefined) return false;
      return op === '>' ? l > r : op === '>=' ? l >= r : op === '<' ? l < r : l <= r;
    }
    case '~~':
    case '~*':
      return reFind(left, right, op === '~*');
    case 'in':
      return Array.isArray(right) && right.some((v: LuaValue) => luaEq(v, left));
    case 'has':
      return false; // the left side is never a table here
  }
}

function evaluate(expr: Expr, vars: RequestVars): boolean {
  if ('variable' in expr) return compare(vars.get(expr.variable), expr.op, expr.value) !== expr.reverse;
  const isAnd = expr.logic === 'AND' || expr.logic === '!AND';
  // Short-circuit in order, as eval_and/eval_or do.
  let result = isAnd;
  for (const sub of expr.exprs) {
    if (evaluate(sub, vars) !== isAnd) {
      result = !isAnd;
      break;
    }
  }
  return expr.logic.startsWith('!') ? !result : result;
}

// === the router ===

interface CompiledRoute {
  readonly id: string;
  readonly route: ApisixRoute;
  readonly exact: string | undefined;
  readonly prefix: string | undefined;
  readonly priority: number;
  readonly vars: Expr | undefined;
}

const UNMODELLED_FIELDS = ['uris', 'methods', 'remote_addrs', 'remote_addr', 'filter_func', 'host', 'service_id', 'script', 'plugin_config_id'];
const HOST_DEF = /^\*?[0-9a-zA-Z-._[\]:]+$/;

function compileRoute(route: ApisixRoute): CompiledRoute {
  const record = route as unknown as Record<string, unknown>;
  for (const field of UNMODELLED_FIELDS) if (record[field] !== undefined) throw new UnsupportedApisix(`route ${route.id}: field ${field}`);
  const uri = route.uri;
  const star = uri.indexOf('*');
  if (star !== -1 && star !== uri.length - 1) throw new UnsupportedApisix(`route ${route.id}: uri ${uri}`);
  for (const host of route.hosts ?? []) {
    if (!HOST_DEF.test(host) || host.slice(1).includes('*')) throw new UnsupportedApisix(`route ${route.id}: host ${host}`);
  }
  return {
    id: route.id,
    route,
    exact: star === -1 ? uri : undefined,
    prefix: star === -1 ? undefined : uri.slice(0, -1),
    priority: route.priority ?? 0,
    vars: compileVars(route.vars),
  };
}

/** sort_route: higher priority first, then the longer original path; insertion order on ties. */
const byPriority = (a: CompiledRoute, b: CompiledRoute): number => b.priority - a.priority || b.route.uri.length - a.route.uri.length;

/** One radixtree over uris: exact paths first, then prefixes longest first, priority within a path. */
class UriTree {
  private readonly exact = new Map<string, CompiledRoute[]>();
  private readonly prefixes = new Map<string, CompiledRoute[]>();
  private prefixOrder: string[] = [];

  add(route: CompiledRoute): void {
    const [map, key] = route.exact !== undefined ? [this.exact, route.exact] : [this.prefixes, route.prefix!];
    const list = map.get(key) ?? [];
    list.push(route);
    list.sort(byPriority); // Array.prototype.sort is stable
    map.set(key, list);
    this.prefixOrder = [...this.prefixes.keys()].sort((a, b) => b.length - a.length);
  }

  dispatch(uri: string, vars: RequestVars): CompiledRoute | undefined {
    const candidates = [this.exact.get(uri) ?? [], ...this.prefixOrder.filter((p) => uri.startsWith(p)).map((p) => this.prefixes.get(p)!)];
    for (const list of candidates) for (const route of list) if (!route.vars || evaluate(route.vars, vars)) return route;
    return undefined;
  }
}

export class ApisixRouter {
  private readonly hostTrees = new Map<string, UriTree>();
  private readonly onlyUri = new UriTree();
  private readonly byId = new Map<string, CompiledRoute>();

  constructor(routes: readonly ApisixRoute[]) {
    for (const route of routes) {
      if ((route as { status?: number }).status === 0) continue;
      const compiled = compileRoute(route);
      this.byId.set(route.id, compiled);
      if (!route.hosts) this.onlyUri.add(compiled);
      for (const host of route.hosts ?? []) {
        let tree = this.hostTrees.get(host);
        if (!tree) this.hostTrees.set(host, (tree = new UriTree()));
        tree.add(compiled);
      }
    }
  }

  /**
   * The route APISIX picks, or undefined for its 404. Host entries: the exact host, then `*.x`
   * wildcards longest first (a reversed-prefix match: `*.a.com` also takes ".a.com" and `*a.com`
   * takes "a.com"); a host entry whose routes all fail falls through to the next, then to the
   * routes without hosts.
   */
  match(request: TestRequest, options: ApisixMatchOptions = {}): string | undefined {
    const vars = new RequestVars(request, options);
    const host = vars.hostVar;
    const wildcards = [...this.hostTrees.keys()].filter((k) => k.startsWith('*') && host.endsWith(k.slice(1))).sort((a, b) => b.length - a.length);
    const entries = [host, ...wildcards];
    for (const entry of entries) {
      const found = this.hostTrees.get(entry)?.dispatch(vars.uriVar, vars);
      if (found) return found.id;
    }
    return this.onlyUri.dispatch(vars.uriVar, vars)?.id;
  }

  /** Whether one route's own `vars` hold for the request, for diagnostics. */
  varsHold(id: string, request: TestRequest, options: ApisixMatchOptions = {}): boolean | undefined {
    const route = this.byId.get(id);
    return route ? !route.vars || evaluate(route.vars, new RequestVars(request, options)) : undefined;
  }

  route(id: string): ApisixRoute | undefined {
    return this.byId.get(id)?.route;
  }
}

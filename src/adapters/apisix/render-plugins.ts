// Route actions and per-route filters → APISIX plugin configurations.
import type { JsonObject, JsonValue } from '../../domain/json.js';
import type { CorsPolicy, FaultPolicy, HeaderMutations, RedirectAction } from '../../domain/mesh/route.js';
import type { StringMatcher } from '../../domain/mesh/string-match.js';
import type { FidelitySink, ResourceRef } from '../../domain/fidelity.js';
import { escapePcre, re2ToPcre, re2ToPcreSearch } from './regex.js';
import { literalForResolveVar, ngxTemplateLiteral, redirectUriAltersLiteral } from './nginx-literal.js';
import { quote } from '../../domain/display-text.js';
import { err, ok, type Result } from '../../domain/result.js';

export interface PluginContext {
  readonly ref: ResourceRef;
  readonly field: string;
  readonly fidelity: FidelitySink;
}

/** Envoy applies route, then virtual host, then route-table mutations; the outer level wins on overwrite. */
export function mergeHeaderMutations(levels: readonly HeaderMutations[]): HeaderMutations {
  return { add: levels.flatMap((l) => l.add), remove: levels.flatMap((l) => l.remove) };
}

/** response-rewrite's `headers.add` items: `name: value`, the value without `:` and not ending in `/` (APISIX 3.18). */
const RESPONSE_ADD_ITEM = /^[^:]+:[^:]*[^/]$/;

/**
 * `{add, set, remove}` for proxy-rewrite (`request`) or response-rewrite (`response`); undefined when
 * empty. The two plugins take `add` differently: proxy-rewrite a map whose value may be a list,
 * response-rewrite a list of `"name: value"` strings. Values are literal: a `$` is written so that
 * APISIX substitutes no variable (nginx-literal.ts).
 */
export function headerOperations(mutations: HeaderMutations, ctx: PluginContext, direction: 'request' | 'response'): JsonObject | undefined {
  if (mutations.add.length === 0 && mutations.remove.length === 0) return undefined;
  const appended = new Map<string, string[]>();
  const set: JsonObject = {};
  const approximate = (header: string, reason: string): void =>
    ctx.fidelity.record({ resource: ctx.ref, field: `${ctx.field}.headers_to_add`, severity: 'approximated', reason: `"${header}": ${reason}` });
  for (const header of mutations.add) {
    if (header.value.includes('%')) approximate(header.name, 'Envoy format string is sent literally');
    const value = literalForResolveVar(header.value);
    if (header.action === 'overwrite') {
      set[header.name] = value;
      continue;
    }
    if (header.action === 'add-if-absent') approximate(header.name, 'ADD_IF_ABSENT is rendered as an append');
    const item = `${header.name}: ${value}`;
    if (direction === 'response' && !RESPONSE_ADD_ITEM.test(item)) {
      // APISIX's pattern refuses such an append outright; setting the header is the nearest it accepts.
      approximate(header.name, "APISIX's response-rewrite cannot append a value containing ':' or ending in '/': it replaces the header instead");
      set[header.name] = value;
      continue;
    }
    appended.set(header.name, [...(appended.get(header.name) ?? []), value]);
  }
  const operations: JsonObject = {};
  if (appended.size > 0) {
    if (direction === 'response') operations.add = [...appended].flatMap(([name, values]) => values.map((value) => `${name}: ${value}`));
    else operations.add = Object.fromEntries([...appended].map(([name, values]) => [name, values.length === 1 ? values[0]! : values]));
  }
  if (Object.keys(set).length > 0) operations.set = set;
  const remove = [...new Set(mutations.remove)];
  if (remove.length > 0) operations.remove = remove;
  return operations;
}

const percentOf = (percent: number, what: string, ctx: PluginContext): number => {
  const rounded = Math.min(100, Math.max(0, Math.round(percent)));
  if (rounded !== percent) {
    ctx.fidelity.record({
      resource: ctx.ref,
      field: `${ctx.field}.${what}.percentage`,
      severity: 'approximated',
      reason: `${percent}% rounded to ${rounded}% (APISIX takes whole percents)`,
    });
  }
  return rounded;
};

export function faultInjection(fault: FaultPolicy, ctx: PluginContext): JsonObject | undefined {
  const config: JsonObject = {};
  if (fault.abort) config.abort = { http_status: fault.abort.httpStatus, percentage: percentOf(fault.abort.percent, 'abort', ctx) };
  if (fault.delay) config.delay = { duration: fault.delay.fixedDelayMs / 1000, percentage: percentOf(fault.delay.percent, 'delay', ctx) };
  return Object.keys(config).length > 0 ? config : undefined;
}

/** A fixed response: fault-injection's abort at 100% answers without an upstream; the body is literal (nginx-literal.ts). */
export function fixedResponse(status: number, body: string | undefined): JsonObject {
  const abort: JsonObject = { http_status: status, percentage: 100 };
  if (body !== undefined && body.length > 0) abort.body = literalForResolveVar(body);
  return { abort };
}

const CORS_SAFELISTED_METHODS = 'GET,HEAD,POST';
const CORS_SAFELISTED_HEADER = 'Accept';

export function cors(policy: CorsPolicy, ctx: PluginContext): JsonObject {
  const exact = policy.allowOrigins.filter((o) => o.kind === 'exact' && !o.ignoreCase && /^\w+:\/\/[^,]+$/.test(o.value));
  const config: JsonObject = {};
  // APISIX ignores allow_origins once allow_origins_by_regex is set, so mixed lists go all-regex.
  if (exact.length === policy.allowOrigins.length) config.allow_origins = exact.length > 0 ? exact.map((o) => (o as { value: string }).value).join(',') : '*';
  else {
    const regexes = policy.allowOrigins.flatMap((origin, i) => originRegex(origin, i, ctx));
    // No origin left: a pattern that matches nothing keeps every origin out, as the dropped ones were.
    config.allow_origins_by_regex = regexes.length > 0 ? regexes : ['(?!)'];
  }
  // Envoy sends no Access-Control-Allow-Methods/-Headers when the policy has none, so browsers allow only
  // the CORS-safelisted methods and headers; APISIX's default `*` would allow any. Listing only
  // safelisted ones grants exactly what no list grants.
  config.allow_methods = policy.allowMethods ?? CORS_SAFELISTED_METHODS;
  config.allow_headers = policy.allowHeaders ?? CORS_SAFELISTED_HEADER;
  if (policy.exposeHeaders) config.expose_headers = policy.exposeHeaders;
  if (policy.maxAge !== undefined) config.max_age = Number(policy.maxAge);
  if (policy.allowCredentials) {
    // APISIX refuses credentials together with a literal `*` in any of these options.
    if (config.allow_origins === '*' || config.allow_methods === '*' || config.allow_headers === '*') {
      ctx.fidelity.record({
        resource: ctx.ref,
        field: `${ctx.field}.cors.allow_credentials`,
        severity: 'dropped',
        reason: 'APISIX refuses credentials with a wildcard origin, method or header list',
      });
    } else config.allow_credential = true;
  }
  ctx.fidelity.record({
    resource: ctx.ref,
    field: `${ctx.field}.cors`,
    severity: 'approximated',
    reason: 'APISIX answers every OPTIONS request itself; Envoy only CORS preflights',
  });
  return config;
}

/** [] (reported) for a regex that cannot be used: the origin is then not allowed. */
function originRegex(origin: StringMatcher, index: number, ctx: PluginContext): string[] {
  if (origin.kind === 'regex') {
    const pcre = re2ToPcre(origin.regex);
    const field = `${ctx.field}.cors.allow_origin_string_match[${index}].safe_regex.regex`;
    if (!pcre.ok) {
      ctx.fidelity.record({ resource: ctx.ref, field, severity: 'dropped', reason: `${pcre.error}: the origin is not allowed` });
      return [];
    }
    if (pcre.value.caveat) ctx.fidelity.record({ resource: ctx.ref, field, severity: 'approximated', reason: pcre.value.caveat });
    return [pcre.value.anchored];
  }
  const literal = escapePcre(origin.value);
  const flag = origin.ignoreCase ? '(?i)' : '';
  switch (origin.kind) {
    case 'exact':
      return [`${flag}^${literal}$`];
    case 'prefix':
      return [`${flag}^${literal}`];
    case 'suffix':
      return [`${flag}${literal}$`];
    case 'contains':
      return [`${flag}${literal}`];
  }
}

/** Envoy's `\N` group references in substitutions are `$N` for ngx.re.sub; a literal `$` is `$$`. */
export function toNgxSubstitution(substitution: string): string {
  return substitution.replace(/\$/g, '$$$$').replace(/\\(\d)/g, '$$$1');
}

/**
 * `matchedPrefix` is the route's path prefix, which a prefix_rewrite redirect replaces (Envoy
 * rejects prefix_rewrite on other path matchers).
 */
export function redirect(action: RedirectAction, matchedPrefix: string | undefined, ctx: PluginContext): Result<JsonObject, string> {
  const config: JsonObject = { ret_code: action.responseCode };
  const path = action.path;
  // `uri` substitutes `$x` and drops a lone `\`, with no escape: such a literal location goes as a regex_uri template.
  const literal = [action.scheme, action.host, path?.kind === 'path' ? path.value : undefined].find((t) => t !== undefined && redirectUriAltersLiteral(t));
  if (path?.kind === 'prefix' || path?.kind === 'regex' || literal !== undefined) {
    let rewrite: [string, string];
    if (path?.kind === 'prefix') {
      if (matchedPrefix === undefined) return err(`${ctx.field}.redirect.prefix_rewrite: only valid on a prefix or path match`);
      rewrite = [`^${escapePcre(matchedPrefix)}(.*)`, `${ngxTemplateLiteral(path.value)}$1`];
    } else if (path?.kind === 'regex') {
      const pcre = re2ToPcreSearch(path.regex);
      if (!pcre.ok) return err(`${ctx.field}.redirect.regex_rewrite.pattern.regex: ${pcre.error}`);
      if (pcre.value.caveat)
        ctx.fidelity.record({ resource: ctx.ref, field: `${ctx.field}.redirect.regex_rewrite.pattern.regex`, severity: 'approximated', reason: pcre.value.caveat });
      rewrite = [pcre.value.body, toNgxSubstitution(path.substitution)];
    } else {
      ctx.fidelity.record({
        resource: ctx.ref,
        field: `${ctx.field}.redirect`,
        severity: 'approximated',
        reason: `${quote(literal!)} holds "$" or "\\", which APISIX's redirect uri would substitute: written as a rewritten redirect, literally`,
      });
      // The whole request path is replaced by the literal one, or kept ($1) when the redirect has none.
      rewrite = path?.kind === 'path' ? ['^[\\s\\S]*', ngxTemplateLiteral(path.value)] : ['^([\\s\\S]*)', '$1'];
    }
    config.regex_uri = [rewrite[0], `${ngxTemplateLiteral(literalOrigin(action, ctx))}${rewrite[1]}`];
  } else {
    // Envoy's Location is absolute and keeps the request's authority (port included) unless the
    // redirect changes it; APISIX would send a relative uri as it is. `uri` may hold nginx variables.
    const origin = `${action.scheme ?? '$scheme'}://${action.host ?? (action.port !== undefined || action.scheme !== undefined ? '$host' : '$http_host')}${action.port !== undefined ? `:${action.port}` : ''}`;
    config.uri = `${origin}${path?.kind === 'path' ? path.value : '$uri'}`;
  }
  // Envoy keeps the query unless strip_query; a path_redirect that has its own query replaces it.
  const hasOwnQuery = path?.kind === 'path' && path.value.includes('?');
  if (!action.stripQuery && !hasOwnQuery) config.append_query_string = true;
  return ok(config);
}

/**
 * The scheme and authority in front of a regex_uri replacement. APISIX substitutes regex_uri with
 * ngx.re.sub, whose template knows capture groups but no nginx variables, so what the request must
 * supply is left to the client: a scheme-relative `//host` keeps the request's scheme, a path alone
 * its scheme and authority (browsers and HTTP clients resolve both against the request's URL).
 */
function literalOrigin(action: RedirectAction, ctx: PluginContext): string {
  const port = action.port !== undefined ? `:${action.port}` : '';
  if (action.host !== undefined && action.scheme !== undefined) return `${action.scheme}://${action.host}${port}`;
  const approximate = (reason: string): void => ctx.fidelity.record({ resource: ctx.ref, field: `${ctx.field}.redirect`, severity: 'approximated', reason });
  if (action.host !== undefined) {
    approximate('Location is scheme-relative (//host/…): APISIX cannot put the request scheme into a rewritten redirect; clients resolve it to the same URL');
    return `//${action.host}${port}`;
  }
  if (action.scheme !== undefined || action.port !== undefined) {
    approximate(`the redirect's ${action.scheme !== undefined ? 'scheme' : 'port'} change is dropped: APISIX cannot combine it with the request's host in a rewritten redirect`);
  } else {
    approximate("Location is relative: APISIX cannot put the request's scheme and host into a rewritten redirect; clients resolve it to the same URL");
  }
  return '';
}

export function proxyMirror(host: string, fraction: number): JsonObject {
  const config: { [k: string]: JsonValue } = { host };
  if (fraction < 1) config.sample_ratio = Math.max(0.00001, fraction);
  return config;
}

// How Envoy's virtual host selection and first-match route order are laid onto APISIX's router.
//
// APISIX (radixtree_host_uri) first looks for routes whose `hosts` match $host (exact hosts before
// `*.suffix` wildcards, longest first, as Envoy does), and only when none matches tries routes
// without hosts. Every route we emit has uri "/*", so within one host bucket `priority` alone
// orders them. A virtual host's groups:
//   - host group: exact and `*.suffix` domains → `hosts`; closed by a 404 route so that a request
//     for these hosts never falls through to another virtual host (Envoy answers 404 there);
//   - prefix-wildcard groups (`foo.*`): no `hosts`, a `host` condition, ranked above `*` and
//     longer prefixes first, each closed by a 404 route;
//   - `*`: no hosts and no condition, the lowest band.
import type { JsonValue } from '../../domain/json.js';
import type { VarExpr } from './apisix-types.js';
import { escapePcre } from './regex.js';

export type HostGroup =
  /**
   * `guardSuffix` is set for a wildcard without a dot (`*a.com`): APISIX's host tree also matches
   * the bare `a.com`, which Envoy's wildcard (never empty) does not, so routes carry a condition.
   */
  | { readonly kind: 'hosts'; readonly hosts: readonly string[]; readonly guardSuffix?: string }
  | { readonly kind: 'prefix-wildcard'; readonly prefix: string }
  | { readonly kind: 'any' };

export interface DomainSplit {
  readonly groups: readonly HostGroup[];
  /** Domains APISIX cannot express (reported by the caller). */
  readonly rejected: readonly string[];
}

const HOST_DEF = /^\*?[0-9a-zA-Z-._[\]:]+$/;

/** Envoy domains may carry `:port`; APISIX matches $host, which has none. */
export function stripPort(domain: string): string {
  if (domain.startsWith('[')) {
    const close = domain.indexOf(']');
    return close === -1 ? domain : domain.slice(0, close + 1);
  }
  const colon = domain.lastIndexOf(':');
  return colon !== -1 && domain.indexOf(':') === colon && /^\d+$/.test(domain.slice(colon + 1)) ? domain.slice(0, colon) : domain;
}

export function splitDomains(domains: readonly string[]): DomainSplit {
  const hosts = new Set<string>();
  const guarded = new Set<string>();
  const prefixes = new Set<string>();
  const rejected: string[] = [];
  let any = false;
  for (const raw of domains) {
    const domain = raw.toLowerCase();
    if (domain === '*') {
      any = true;
      continue;
    }
    if (domain.endsWith('*') && !domain.startsWith('*')) {
      prefixes.add(domain.slice(0, -1));
      continue;
    }
    const host = stripPort(domain);
    if (!HOST_DEF.test(host) || host.slice(1).includes('*')) rejected.push(raw);
    else if (host.startsWith('*') && host[1] !== '.') guarded.add(host);
    else hosts.add(host);
  }
  const groups: HostGroup[] = [];
  if (hosts.size > 0) groups.push({ kind: 'hosts', hosts: [...hosts].sort() });
  for (const host of [...guarded].sort()) groups.push({ kind: 'hosts', hosts: [host], guardSuffix: host.slice(1) });
  for (const prefix of [...prefixes].sort((a, b) => b.length - a.length || a.localeCompare(b))) groups.push({ kind: 'prefix-wildcard', prefix });
  if (any) groups.push({ kind: 'any' });
  return { groups, rejected };
}

/** Condition a prefix-wildcard group adds; Envoy's wildcard never matches the empty string. */
export const prefixWildcardVar = (prefix: string): VarExpr => ['host', '~*', `^${escapePcre(prefix)}.`];

/** Conditions every route of a group carries (its 404 closer included). */
export function groupVars(group: HostGroup): VarExpr[] {
  if (group.kind === 'prefix-wildcard') return [prefixWildcardVar(group.prefix)];
  if (group.kind === 'hosts' && group.guardSuffix !== undefined) return [['host', '~*', `.${escapePcre(group.guardSuffix)}\\z`]];
  return [];
}

/**
 * Priority layout (higher runs first), bit fields of one integer below 2^53:
 *   band (8 bits) | table rank (11) | virtual host rank (16) | route rank (14).
 * Each field's limit is checked before rendering, so fields never overflow into each other.
 */
export const MAX_ROUTES_PER_VHOST = 1 << 14;
export const MAX_VHOSTS_PER_TABLE = 1 << 16;
export const MAX_TABLES = 1 << 11;
const MAX_BAND = (1 << 8) - 1;

export interface PriorityPlan {
  readonly tableCount: number;
}

/**
 * Priority of the route at `index` of `count` in virtual host `vhostIndex` of `table`. Tables and
 * virtual hosts are ranked too: that only decides between routes APISIX cannot otherwise tell apart
 * (tables sharing a host without a port variable, virtual hosts differing only by a Host port), which
 * are reported as approximations.
 */
export function routePriority(plan: PriorityPlan, group: HostGroup, tableIndex: number, vhostIndex: number, index: number, count: number): number {
  const band = group.kind === 'prefix-wildcard' ? Math.min(MAX_BAND, 1 + group.prefix.length) : 0;
  const tableRank = plan.tableCount - tableIndex;
  const vhostRank = MAX_VHOSTS_PER_TABLE - 1 - vhostIndex;
  const routeRank = count - index;
  return ((band * MAX_TABLES + tableRank) * MAX_VHOSTS_PER_TABLE + vhostRank) * MAX_ROUTES_PER_VHOST + routeRank;
}

/** Condition restricting a route table to the listener ports it is bound to. */
export function portVar(variable: string, ports: readonly number[]): VarExpr {
  if (ports.length === 1) return [variable, '==', String(ports[0])];
  return [variable, 'in', ports.map((p): JsonValue => String(p))];
}

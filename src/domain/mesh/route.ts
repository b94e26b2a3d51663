// HTTP routing as Envoy evaluates it: a RouteTable's virtual hosts are chosen by domain specificity,
// then the first route in order whose match holds wins. Order of `routes` is therefore semantic.
import type { StringMatcher } from './string-match.js';

export type PathMatch =
  | { readonly kind: 'prefix'; readonly value: string }
  | { readonly kind: 'exact'; readonly value: string }
  | { readonly kind: 'separated-prefix'; readonly value: string }
  | { readonly kind: 'regex'; readonly regex: string };

export type HeaderValueMatch =
  | { readonly kind: 'string'; readonly matcher: StringMatcher }
  | { readonly kind: 'present'; readonly present: boolean }
  | { readonly kind: 'range'; readonly start: number; readonly end: number };

export interface HeaderMatch {
  /** Lower-case header name; pseudo-headers keep their colon (`:method`, `:authority`, `:path`, `:scheme`). */
  readonly name: string;
  readonly match: HeaderValueMatch;
  readonly invert: boolean;
}

export interface QueryParamMatch {
  readonly name: string;
  readonly match: { readonly kind: 'string'; readonly matcher: StringMatcher } | { readonly kind: 'present' };
}

export interface RouteMatch {
  readonly path: PathMatch;
  /** Envoy's default is case-sensitive path matching. */
  readonly caseSensitive: boolean;
  readonly headers: readonly HeaderMatch[];
  readonly queryParams: readonly QueryParamMatch[];
  /** `grpc: {}`: only requests with a gRPC content type. */
  readonly grpcOnly: boolean;
}

export interface HeaderToAdd {
  readonly name: string;
  readonly value: string;
  /** `append` adds another value; `overwrite` replaces; `add-if-absent` only sets a missing header. */
  readonly action: 'append' | 'overwrite' | 'add-if-absent';
}

export interface HeaderMutations {
  readonly add: readonly HeaderToAdd[];
  readonly remove: readonly string[];
}

export const NO_HEADER_MUTATIONS: HeaderMutations = Object.freeze({ add: [], remove: [] });

export interface WeightedBackend {
  readonly cluster: string;
  readonly weight: number;
}

export interface RetryPolicy {
  readonly retryOn: readonly string[];
  readonly numRetries: number;
  readonly perTryTimeoutMs: number | undefined;
}

export type HashPolicy =
  | { readonly kind: 'header'; readonly name: string }
  | { readonly kind: 'cookie'; readonly name: string }
  | { readonly kind: 'query'; readonly name: string }
  | { readonly kind: 'source-ip' };

export interface MirrorPolicy {
  readonly cluster: string;
  /** 0..1 */
  readonly fraction: number;
  /** Position among the route's mirror policies when it differs from this one's (some were not translated). */
  readonly index?: number;
}

export interface ForwardAction {
  readonly kind: 'forward';
  /** One entry for `cluster`, several for `weighted_clusters`. */
  readonly backends: readonly WeightedBackend[];
  /** undefined: Envoy's default (15 s); 0: no timeout. */
  readonly timeoutMs: number | undefined;
  readonly retry: RetryPolicy | undefined;
  readonly prefixRewrite: string | undefined;
  readonly regexRewrite: { readonly regex: string; readonly substitution: string } | undefined;
  readonly hostRewrite: { readonly kind: 'literal'; readonly host: string } | { readonly kind: 'auto' } | undefined;
  readonly hashPolicies: readonly HashPolicy[];
  readonly mirrors: readonly MirrorPolicy[];
}

export interface RedirectAction {
  readonly kind: 'redirect';
  readonly scheme: string | undefined;
  readonly host: string | undefined;
  readonly port: number | undefined;
  readonly path:
    | { readonly kind: 'path'; readonly value: string }
    | { readonly kind: 'prefix'; readonly value: string }
    | { readonly kind: 'regex'; readonly regex: string; readonly substitution: string }
    | undefined;
  readonly responseCode: 301 | 302 | 303 | 307 | 308;
  readonly stripQuery: boolean;
}

export interface DirectResponseAction {
  readonly kind: 'direct-response';
  readonly status: number;
  readonly body: string | undefined;
}

export type RouteAction = ForwardAction | RedirectAction | DirectResponseAction;

export interface FaultPolicy {
  readonly abort: { readonly httpStatus: number; readonly percent: number } | undefined;
  readonly delay: { readonly fixedDelayMs: number; readonly percent: number } | undefined;
}

export interface CorsPolicy {
  readonly allowOrigins: readonly StringMatcher[];
  readonly allowMethods: string | undefined;
  readonly allowHeaders: string | undefined;
  readonly exposeHeaders: string | undefined;
  readonly maxAge: string | undefined;
  readonly allowCredentials: boolean;
}

/** Per-route filter settings that Envoy carries in typed_per_filter_config or on the route/vhost. */
export interface RouteFilters {
  readonly fault: FaultPolicy | undefined;
  readonly cors: CorsPolicy | undefined;
}

export interface Route {
  readonly name: string | undefined;
  readonly match: RouteMatch;
  readonly action: RouteAction;
  readonly requestHeaders: HeaderMutations;
  readonly responseHeaders: HeaderMutations;
  readonly filters: RouteFilters;
}

export interface VirtualHost {
  readonly name: string;
  /** As Envoy has them: lower-cased, may carry `:port`, may be `*`, `*.suffix` or `prefix*`. */
  readonly domains: readonly string[];
  readonly routes: readonly Route[];
  readonly requestHeaders: HeaderMutations;
  readonly responseHeaders: HeaderMutations;
  readonly retry: RetryPolicy | undefined;
  readonly filters: RouteFilters;
}

export interface RouteTable {
  readonly name: string;
  readonly virtualHosts: readonly VirtualHost[];
  readonly requestHeaders: HeaderMutations;
  readonly responseHeaders: HeaderMutations;
}

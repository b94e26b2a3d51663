// An AmeshPluginConfig's plugins against APISIX's own schema of each plugin, before anything is
// delivered. APISIX checks a route's plugins when it loads the route and drops it (file, etcd, xDS
// providers) or refuses it (Admin API) on a mismatch, so one bad config would take every route of
// the selected pods away; caught here, it is marked Invalid and the pods keep what they have. The
// schemas themselves are data the app loads: the domain is handed a check function.
import type { JsonObject } from '../json.js';
import type { FieldProblem, PluginConfigSpec } from './plugin-config.js';

export type SchemaVerdict =
  | { readonly kind: 'valid' }
  /** What APISIX's schema says is wrong, each with its JSON pointer into the config. */
  | { readonly kind: 'invalid'; readonly errors: readonly string[] }
  /** Nothing to check it against (no schema for that name, or one that cannot be used), and why. */
  | { readonly kind: 'unknown'; readonly reason: string };

export type CheckPlugin = (name: string, config: JsonObject) => SchemaVerdict;

export interface UncheckedPlugin {
  readonly field: string;
  readonly name: string;
  readonly reason: string;
}

export interface SchemaReport {
  /** Plugins whose config APISIX would refuse, by field: the whole config is Invalid. */
  readonly problems: readonly FieldProblem[];
  /** Route plugins nothing could check: reported, still delivered (see checkPluginSchemas). */
  readonly unknown: readonly UncheckedPlugin[];
  /** Route plugins that matched their schema. */
  readonly valid: number;
  /** pre-req/post-req plugins: an external runner's, which APISIX only passes on as strings. */
  readonly external: number;
}

/**
 * Route-phase plugins only: runner plugins (pre-req/post-req) are configured inside APISIX's
 * ext-plugin-* with the config as an opaque string, so APISIX has no schema for them. A plugin with no
 * schema is reported, not refused: the schemas cover the plugins of a stock APISIX build, and a
 * cluster may run APISIX with more (custom plugins, ones needing optional libraries); the sidecar
 * still reports a plugin its APISIX does not have.
 */
export function checkPluginSchemas(spec: PluginConfigSpec, check: CheckPlugin): SchemaReport {
  const problems: FieldProblem[] = [];
  const unknown: UncheckedPlugin[] = [];
  let valid = 0;
  let external = 0;
  spec.plugins.forEach((plugin, i) => {
    if (plugin.phase !== 'route') {
      external++;
      return;
    }
    const field = `spec.plugins[${i}]`;
    const verdict = check(plugin.name, plugin.config);
    if (verdict.kind === 'valid') valid++;
    else if (verdict.kind === 'unknown') unknown.push({ field, name: plugin.name, reason: verdict.reason });
    else problems.push({ field: `${field}.config`, message: `${plugin.name}: ${verdict.errors.join('; ')} (APISIX's schema of ${plugin.name})` });
  });
  return { problems, unknown, valid, external };
}

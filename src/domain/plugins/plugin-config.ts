// An AmeshPluginConfig as the controller reasons about it: which pods of its namespace it selects,
// which APISIX plugins it adds to their routes, and how strongly (priority). Checked here for what
// the CRD's OpenAPI schema cannot say, so objects that predate a schema change, or reach a cluster
// whose API server skips CEL rules, are still refused by name and field.
import type { JsonObject } from '../json.js';
import { err, ok, type Result } from '../result.js';
import { selectorProblems, type LabelSelector } from './label-selector.js';

/**
 * `route`: an APISIX plugin on every route of the pod's sidecar (`route.plugins[name] = config`).
 * `pre-req` / `post-req`: a plugin of an external plugin runner, carried in APISIX's
 * `ext-plugin-pre-req` / `ext-plugin-post-req` (`conf: [{name, value: <config as a JSON string>}]`).
 */
export type PluginPhase = 'route' | 'pre-req' | 'post-req';
export const PLUGIN_PHASES: readonly PluginPhase[] = ['route', 'pre-req', 'post-req'];

export interface PluginEntry {
  readonly name: string;
  readonly phase: PluginPhase;
  readonly config: JsonObject;
}

export interface PluginConfigSpec {
  readonly namespace: string;
  readonly name: string;
  readonly generation: number;
  /** Higher wins when several configs set the same plugin for a pod; ties go to the name first in order. */
  readonly priority: number;
  readonly selector: LabelSelector | undefined;
  readonly plugins: readonly PluginEntry[];
}

export const configKey = (c: { readonly namespace: string; readonly name: string }): string => `${c.namespace}/${c.name}`;

export interface FieldProblem {
  readonly field: string;
  readonly message: string;
}

/** What the phases generate: setting them directly would fight the per-phase lists. */
export const RESERVED_PLUGIN_NAMES: ReadonlySet<string> = new Set(['ext-plugin-pre-req', 'ext-plugin-post-req']);

// APISIX plugin names: lower-case words joined by '-' (response-rewrite, limit-count, ext-plugin-pre-req).
const PLUGIN_NAME = /^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$/;
const MAX_PLUGIN_NAME = 64;

export function validatePluginConfig(spec: PluginConfigSpec): Result<PluginConfigSpec, FieldProblem[]> {
  const problems: FieldProblem[] = [...selectorProblems(spec.selector, 'spec.selector')];
  if (spec.plugins.length === 0) problems.push({ field: 'spec.plugins', message: 'at least one plugin is required' });
  const seen = new Map<string, number>();
  spec.plugins.forEach((plugin, i) => {
    const field = `spec.plugins[${i}]`;
    if (!PLUGIN_NAME.test(plugin.name) || plugin.name.length > MAX_PLUGIN_NAME)
      problems.push({ field: `${field}.name`, message: `"${plugin.name}" is not an APISIX plugin name (lower-case letters, digits, '-', '_'; at most ${MAX_PLUGIN_NAME})` });
    if (RESERVED_PLUGIN_NAMES.has(plugin.name))
      problems.push({
        field: `${field}.name`,
        message: `"${plugin.name}" is generated from the plugins with phase pre-req/post-req; list the runner's plugins with that phase instead`,
      });
    if (!PLUGIN_PHASES.includes(plugin.phase)) problems.push({ field: `${field}.phase`, message: `"${plugin.phase}" is not one of ${PLUGIN_PHASES.join(', ')}` });
    const key = `${plugin.phase}/${plugin.name}`;
    const earlier = seen.get(key);
    if (earlier !== undefined) problems.push({ field: `${field}.name`, message: `"${plugin.name}" (phase ${plugin.phase}) is already listed at spec.plugins[${earlier}]` });
    else seen.set(key, i);
  });
  return problems.length === 0 ? ok(spec) : err(problems);
}

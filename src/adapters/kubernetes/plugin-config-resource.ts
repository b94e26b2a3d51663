// AmeshPluginConfig as the API server stores it ↔ the domain's PluginConfigSpec. The CRD schema has
// already checked the shape; this reads it again field by field because objects may predate the
// installed schema, and then applies the domain's own validation.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { JsonObject } from '../../domain/json.js';
import type { LabelSelector, SelectorOperator, SelectorRequirement } from '../../domain/plugins/label-selector.js';
import { validatePluginConfig, type FieldProblem, type PluginConfigSpec, type PluginEntry, type PluginPhase } from '../../domain/plugins/plugin-config.js';
import { err, type Result } from '../../domain/result.js';
import type { ConfigCondition, ConfigStatus, ObservedConfig } from '../../ports/plugin-config-cluster.js';

export const PLUGIN_CONFIG_GROUP = 'amesh.apisix.apache.org';
export const PLUGIN_CONFIG_VERSION = 'v1alpha1';
export const PLUGIN_CONFIG_PLURAL = 'ameshpluginconfigs';
export const PLUGIN_CONFIG_KIND = 'AmeshPluginConfig';

export interface PluginConfigResource extends KubernetesObject {
  spec?: unknown;
  status?: unknown;
}

type Fields = Record<string, unknown>;
const isObject = (v: unknown): v is Fields => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');
const OPERATORS: readonly SelectorOperator[] = ['In', 'NotIn', 'Exists', 'DoesNotExist'];

function readSelector(value: unknown, problems: FieldProblem[]): LabelSelector | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) {
    problems.push({ field: 'spec.selector', message: 'expected an object' });
    return undefined;
  }
  const selector: { matchLabels?: Record<string, string>; matchExpressions?: SelectorRequirement[] } = {};
  if (value['matchLabels'] !== undefined) {
    const labels = value['matchLabels'];
    if (!isObject(labels) || !Object.values(labels).every((v) => typeof v === 'string'))
      problems.push({ field: 'spec.selector.matchLabels', message: 'expected a map of strings' });
    else selector.matchLabels = labels as Record<string, string>;
  }
  if (value['matchExpressions'] !== undefined) {
    const expressions = value['matchExpressions'];
    if (!Array.isArray(expressions)) problems.push({ field: 'spec.selector.matchExpressions', message: 'expected a list' });
    else {
      selector.matchExpressions = [];
      expressions.forEach((e: unknown, i) => {
        const field = `spec.selector.matchExpressions[${i}]`;
        if (!isObject(e) || typeof e['key'] !== 'string' || !OPERATORS.includes(e['operator'] as SelectorOperator) || (e['values'] !== undefined && !isStringArray(e['values']))) {
          problems.push({ field, message: `expected {key, operator: ${OPERATORS.join('|')}, values?: [string]}` });
          return;
        }
        selector.matchExpressions!.push({ key: e['key'], operator: e['operator'] as SelectorOperator, ...(e['values'] ? { values: e['values'] as string[] } : {}) });
      });
    }
  }
  return selector;
}

function readPlugins(value: unknown, problems: FieldProblem[]): PluginEntry[] {
  if (!Array.isArray(value)) {
    problems.push({ field: 'spec.plugins', message: 'expected a list' });
    return [];
  }
  const plugins: PluginEntry[] = [];
  value.forEach((p: unknown, i) => {
    const field = `spec.plugins[${i}]`;
    if (!isObject(p)) return void problems.push({ field, message: 'expected an object' });
    if (typeof p['name'] !== 'string') return void problems.push({ field: `${field}.name`, message: 'expected a string' });
    if (!isObject(p['config'])) return void problems.push({ field: `${field}.config`, message: 'expected an object (the plugin configuration, not a JSON string)' });
    const phase = p['phase'] ?? 'route';
    plugins.push({ name: p['name'], phase: phase as PluginPhase, config: p['config'] as JsonObject });
  });
  return plugins;
}

function readStatus(value: unknown): ConfigStatus | undefined {
  if (!isObject(value)) return undefined;
  const conditions = Array.isArray(value['conditions']) ? (value['conditions'] as ConfigCondition[]) : [];
  return {
    observedGeneration: typeof value['observedGeneration'] === 'number' ? value['observedGeneration'] : 0,
    matchedPods: typeof value['matchedPods'] === 'number' ? value['matchedPods'] : 0,
    conditions,
  };
}

export function observeConfig(resource: PluginConfigResource): ObservedConfig {
  const namespace = resource.metadata?.namespace ?? '';
  const name = resource.metadata?.name ?? '';
  const generation = resource.metadata?.generation ?? 0;
  const ref = { namespace, name, uid: resource.metadata?.uid ?? '' };
  const problems: FieldProblem[] = [];
  const spec = isObject(resource.spec) ? resource.spec : undefined;
  if (!spec) problems.push({ field: 'spec', message: 'missing' });
  const priority = spec?.['priority'] ?? 0;
  if (!Number.isInteger(priority)) problems.push({ field: 'spec.priority', message: 'expected an integer' });
  const selector = readSelector(spec?.['selector'], problems);
  const plugins = readPlugins(spec?.['plugins'], problems);
  const status = readStatus(resource.status);
  const parsed: Result<PluginConfigSpec, FieldProblem[]> =
    problems.length > 0 ? err(problems) : validatePluginConfig({ namespace, name, generation, priority: priority as number, selector, plugins });
  return { ref, generation, spec: parsed, status };
}

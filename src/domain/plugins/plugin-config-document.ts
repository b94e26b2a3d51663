// The spec of an AmeshPluginConfig as stored (free JSON) → PluginConfigSpec, field by field. The
// CRD schema checks the shape already; this reads it again because objects may predate the installed
// schema (or come from elsewhere), and then applies the domain's own validation.
import type { JsonObject } from '../json.js';
import { err, type Result } from '../result.js';
import type { LabelSelector, SelectorOperator, SelectorRequirement } from './label-selector.js';
import { validatePluginConfig, type FieldProblem, type PluginConfigSpec, type PluginEntry, type PluginPhase } from './plugin-config.js';

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

export interface PluginConfigIdentity {
  readonly namespace: string;
  readonly name: string;
  readonly generation: number;
}

export function readPluginConfigSpec(id: PluginConfigIdentity, rawSpec: unknown): Result<PluginConfigSpec, FieldProblem[]> {
  const problems: FieldProblem[] = [];
  const spec = isObject(rawSpec) ? rawSpec : undefined;
  if (!spec) problems.push({ field: 'spec', message: 'missing' });
  const priority = spec?.['priority'] ?? 0;
  if (!Number.isInteger(priority)) problems.push({ field: 'spec.priority', message: 'expected an integer' });
  const selector = readSelector(spec?.['selector'], problems);
  const plugins = readPlugins(spec?.['plugins'], problems);
  return problems.length > 0 ? err(problems) : validatePluginConfig({ ...id, priority: priority as number, selector, plugins });
}

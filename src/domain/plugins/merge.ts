// The plugin set one pod gets from every AmeshPluginConfig that selects it. Precedence is total and
// independent of arrival order: higher `priority` first, then config name (namespace is the pod's);
// for each (phase, plugin name) the first config in that order wins and the others are recorded as
// shadowed, so the controller can say so in their status instead of letting them lose silently.
import { canonicalJson, type JsonObject } from '../json.js';
import { configKey, type PluginConfigSpec, type PluginPhase } from './plugin-config.js';

export interface MergedPlugin {
  readonly name: string;
  readonly phase: PluginPhase;
  readonly config: JsonObject;
  /** `namespace/name` of the AmeshPluginConfig it came from. */
  readonly source: string;
}

export interface ShadowedPlugin {
  readonly name: string;
  readonly phase: PluginPhase;
  readonly source: string;
  readonly winner: string;
}

export interface PluginSet {
  /** In precedence order (the order ext-plugin runners see them). */
  readonly plugins: readonly MergedPlugin[];
  readonly shadowed: readonly ShadowedPlugin[];
}

export function comparePrecedence(a: PluginConfigSpec, b: PluginConfigSpec): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  const ak = configKey(a);
  const bk = configKey(b);
  return ak < bk ? -1 : ak > bk ? 1 : 0;
}

export function mergePluginConfigs(configs: readonly PluginConfigSpec[]): PluginSet {
  const ordered = [...configs].sort(comparePrecedence);
  const winners = new Map<string, MergedPlugin>();
  const plugins: MergedPlugin[] = [];
  const shadowed: ShadowedPlugin[] = [];
  for (const config of ordered) {
    const source = configKey(config);
    for (const plugin of config.plugins) {
      const key = `${plugin.phase}/${plugin.name}`;
      const winner = winners.get(key);
      if (winner) {
        shadowed.push({ name: plugin.name, phase: plugin.phase, source, winner: winner.source });
        continue;
      }
      const merged: MergedPlugin = { name: plugin.name, phase: plugin.phase, config: plugin.config, source };
      winners.set(key, merged);
      plugins.push(merged);
    }
  }
  return { plugins, shadowed };
}

/** Equal sets give equal text (what the sidecar would receive), so "changed?" is a string compare. */
export function pluginSetFingerprint(set: PluginSet): string {
  return canonicalJson(set.plugins.map((p) => ({ name: p.name, phase: p.phase, config: p.config, source: p.source })));
}

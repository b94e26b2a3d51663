// For every pod: the valid configs of its namespace that select it, merged. For every config: the
// pods it selects and the plugins it lost to a higher-precedence config. Pure; the controller runs it
// over its informer caches after each change and compares the result with what it delivered.
import { selectorMatches, type Labels } from './label-selector.js';
import { mergePluginConfigs, type PluginSet, type ShadowedPlugin } from './merge.js';
import { configKey, type PluginConfigSpec } from './plugin-config.js';

export interface PodRef {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Labels;
}

export const podKey = (pod: { readonly namespace: string; readonly name: string }): string => `${pod.namespace}/${pod.name}`;

export interface ConfigReach {
  readonly pods: readonly string[];
  readonly shadowed: readonly ShadowedPlugin[];
}

export interface PluginPlan {
  /** Only pods selected by at least one config. */
  readonly pods: ReadonlyMap<string, PluginSet>;
  readonly configs: ReadonlyMap<string, ConfigReach>;
}

export function planPodPlugins(configs: readonly PluginConfigSpec[], pods: Iterable<PodRef>): PluginPlan {
  const byNamespace = new Map<string, PluginConfigSpec[]>();
  for (const config of configs) {
    const list = byNamespace.get(config.namespace) ?? [];
    list.push(config);
    byNamespace.set(config.namespace, list);
  }
  const reach = new Map<string, { pods: string[]; shadowed: ShadowedPlugin[] }>(configs.map((c) => [configKey(c), { pods: [], shadowed: [] }]));
  const planned = new Map<string, PluginSet>();
  for (const pod of pods) {
    const selecting = (byNamespace.get(pod.namespace) ?? []).filter((c) => selectorMatches(c.selector, pod.labels));
    if (selecting.length === 0) continue;
    const key = podKey(pod);
    const set = mergePluginConfigs(selecting);
    planned.set(key, set);
    for (const config of selecting) reach.get(configKey(config))!.pods.push(key);
    for (const lost of set.shadowed) {
      const entry = reach.get(lost.source)!;
      if (!entry.shadowed.some((s) => s.name === lost.name && s.phase === lost.phase && s.winner === lost.winner)) entry.shadowed.push(lost);
    }
  }
  for (const entry of reach.values()) entry.pods.sort();
  return { pods: planned, configs: reach };
}

// The sidecar's half of AmeshPluginConfig: the pod's merged plugin set rendered into every HTTP
// route it serves. Plugins the translation itself put on a route (traffic-split, fault-injection,
// proxy-rewrite, ... — what carries Istio's routing semantics) win over a configured plugin of the
// same name on that route, and the collision is reported back rather than decided silently.
// Runner plugins (phase pre-req/post-req) become APISIX's ext-plugin-pre-req/post-req with each
// plugin's configuration as a JSON string, the only form APISIX's ext-plugin schema accepts.
import { GatewayConfig, type GatewayObject } from '../gateway-config.js';
import type { JsonObject, JsonValue } from '../json.js';
import type { MergedPlugin } from './merge.js';
import type { PluginPhase } from './plugin-config.js';

export interface RoutePluginProblem {
  readonly name: string;
  readonly phase: PluginPhase;
  readonly source: string;
  readonly reason: string;
}

export interface RoutePluginResult {
  readonly config: GatewayConfig;
  readonly problems: readonly RoutePluginProblem[];
}

const EXT_PLUGIN: Record<Exclude<PluginPhase, 'route'>, string> = { 'pre-req': 'ext-plugin-pre-req', 'post-req': 'ext-plugin-post-req' };

/** Route plugins to add, keyed by the APISIX plugin name, with the configs they came from. */
function renderPlugins(plugins: readonly MergedPlugin[]): Map<string, { value: JsonValue; from: readonly MergedPlugin[] }> {
  const out = new Map<string, { value: JsonValue; from: readonly MergedPlugin[] }>();
  for (const plugin of plugins) if (plugin.phase === 'route') out.set(plugin.name, { value: plugin.config, from: [plugin] });
  for (const phase of ['pre-req', 'post-req'] as const) {
    const runnerPlugins = plugins.filter((p) => p.phase === phase);
    if (runnerPlugins.length === 0) continue;
    out.set(EXT_PLUGIN[phase], { value: { conf: runnerPlugins.map((p) => ({ name: p.name, value: JSON.stringify(p.config) })) }, from: runnerPlugins });
  }
  return out;
}

/** The version of a translated configuration once a plugin set is merged into it. */
export const versionWithPlugins = (version: string, pluginVersion: number): string => `${version}+plugins.${pluginVersion}`;

export function applyPodPlugins(config: GatewayConfig, plugins: readonly MergedPlugin[], pluginVersion: number): RoutePluginResult {
  if (plugins.length === 0) return { config, problems: [] };
  const rendered = renderPlugins(plugins);
  const collisions = new Map<string, string[]>();
  const objects: GatewayObject[] = [];
  for (const object of config.objects.values()) {
    if (object.kind !== 'routes') {
      objects.push(object);
      continue;
    }
    const own = (object.value['plugins'] as JsonObject | undefined) ?? {};
    const merged: JsonObject = { ...own };
    for (const [name, { value }] of rendered) {
      if (Object.hasOwn(own, name)) {
        const routes = collisions.get(name) ?? [];
        routes.push(object.id);
        collisions.set(name, routes);
        continue;
      }
      merged[name] = value;
    }
    objects.push({ ...object, value: { ...object.value, plugins: merged } });
  }
  const problems: RoutePluginProblem[] = [];
  for (const [name, routes] of collisions) {
    for (const plugin of rendered.get(name)!.from) {
      const sample = routes.slice(0, 3).join(', ');
      problems.push({
        name: plugin.name,
        phase: plugin.phase,
        source: plugin.source,
        reason: `${routes.length} route${routes.length === 1 ? '' : 's'} already carr${routes.length === 1 ? 'ies' : 'y'} ${name} from the mesh configuration, which takes precedence there (${sample}${routes.length > 3 ? ', ...' : ''})`,
      });
    }
  }
  return { config: GatewayConfig.of(versionWithPlugins(config.version, pluginVersion), objects), problems };
}

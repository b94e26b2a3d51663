// AmeshPluginConfig as the API server stores it → what the controller observes (spec read and
// validated by the domain, status as last written).
import type { KubernetesObject } from '@kubernetes/client-node';
import { readPluginConfigSpec } from '../../domain/plugins/plugin-config-document.js';
import type { ConfigCondition, ConfigStatus, ObservedConfig } from '../../ports/plugin-config-cluster.js';

export const PLUGIN_CONFIG_GROUP = 'amesh.apisix.apache.org';
export const PLUGIN_CONFIG_VERSION = 'v1alpha1';
export const PLUGIN_CONFIG_PLURAL = 'ameshpluginconfigs';
export const PLUGIN_CONFIG_KIND = 'AmeshPluginConfig';

export interface PluginConfigResource extends KubernetesObject {
  spec?: unknown;
  status?: unknown;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

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
  return {
    ref: { namespace, name, uid: resource.metadata?.uid ?? '' },
    generation,
    spec: readPluginConfigSpec({ namespace, name, generation }, resource.spec),
    status: readStatus(resource.status),
  };
}

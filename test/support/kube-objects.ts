// Helpers for suites that drive the real API server: apply the CRD from deploy/, create pods and
// AmeshPluginConfigs, poll until something holds.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1CustomResourceDefinition,
  type V1Pod,
} from '@kubernetes/client-node';
import { parse } from 'yaml';
import { PLUGIN_CONFIG_GROUP, PLUGIN_CONFIG_PLURAL, PLUGIN_CONFIG_VERSION } from '../../src/adapters/kubernetes/plugin-config-resource.js';

export const CRD_FILE = fileURLToPath(new URL('../../deploy/crd/ameshpluginconfigs.yaml', import.meta.url));

export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${lastError ? ` (last error: ${lastError instanceof Error ? lastError.message : String(lastError)})` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Creates the AmeshPluginConfig CRD and waits until it is Established. */
export async function applyPluginConfigCrd(kc: KubeConfig): Promise<void> {
  const crd = parse(readFileSync(CRD_FILE, 'utf8')) as V1CustomResourceDefinition;
  const api = kc.makeApiClient(ApiextensionsV1Api);
  await api.createCustomResourceDefinition({ body: crd });
  await waitFor('the CRD to be established', async () => {
    const got = await api.readCustomResourceDefinition({ name: crd.metadata!.name! });
    return got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
  });
}

export async function createNamespace(kc: KubeConfig, name: string, labels: Record<string, string> = {}): Promise<void> {
  await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name, labels } } });
}

export function podManifest(name: string, labels: Record<string, string>, extra: Partial<V1Pod['metadata']> = {}): V1Pod {
  return {
    metadata: { name, labels, ...extra },
    // What the ServiceAccount admission plugin (off here: no controller creates the account) would set.
    spec: { serviceAccountName: 'default', containers: [{ name: 'app', image: 'registry.invalid/app:1', ports: [{ containerPort: 8080 }] }] },
  };
}

export async function createPod(kc: KubeConfig, namespace: string, name: string, labels: Record<string, string>): Promise<V1Pod> {
  return kc.makeApiClient(CoreV1Api).createNamespacedPod({ namespace, body: podManifest(name, labels) });
}

export interface PluginConfigBody {
  readonly priority?: number;
  readonly selector?: unknown;
  readonly plugins: readonly unknown[];
}

const coords = { group: PLUGIN_CONFIG_GROUP, version: PLUGIN_CONFIG_VERSION, plural: PLUGIN_CONFIG_PLURAL };
const ref = (namespace: string, name: string) => ({ ...coords, namespace, name });

export async function createPluginConfig(kc: KubeConfig, namespace: string, name: string, spec: PluginConfigBody): Promise<unknown> {
  return kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    ...coords,
    namespace,
    body: { apiVersion: `${PLUGIN_CONFIG_GROUP}/${PLUGIN_CONFIG_VERSION}`, kind: 'AmeshPluginConfig', metadata: { name }, spec },
  });
}

export async function readPluginConfig(
  kc: KubeConfig,
  namespace: string,
  name: string,
): Promise<{
  metadata: { generation: number };
  status?: { observedGeneration?: number; matchedPods?: number; conditions?: { type: string; status: string; reason: string; message: string; observedGeneration: number }[] };
}> {
  return kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject(ref(namespace, name)) as never;
}

/**
 * Replaces the whole spec (like `kubectl apply` of a changed file). A JSON Patch without a
 * resourceVersion: the controller's status writes in between must not make it conflict.
 */
export async function replacePluginConfigSpec(kc: KubeConfig, namespace: string, name: string, spec: PluginConfigBody): Promise<void> {
  await kc
    .makeApiClient(CustomObjectsApi)
    .patchNamespacedCustomObject({ ...ref(namespace, name), body: [{ op: 'replace', path: '/spec', value: spec }] }, setHeaderOptions('Content-Type', PatchStrategy.JsonPatch));
}

export async function deletePluginConfig(kc: KubeConfig, namespace: string, name: string): Promise<void> {
  await kc.makeApiClient(CustomObjectsApi).deleteNamespacedCustomObject(ref(namespace, name));
}

export async function eventsFor(kc: KubeConfig, namespace: string, name: string): Promise<{ type: string; reason: string; message: string }[]> {
  const list = await kc.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` });
  return list.items.map((e) => ({ type: e.type ?? '', reason: e.reason ?? '', message: e.message ?? '' }));
}

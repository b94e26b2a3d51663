// The Kubernetes PluginConfigCluster (client-node informers, status subresource, core Events)
// passes the same contract as the in-memory one, against a real kube-apiserver. Skipped, saying
// why, without the built kube-apiserver or etcd.
import { CoreV1Api } from '@kubernetes/client-node';
import { KubePluginConfigCluster } from '../../src/adapters/kubernetes/kube-plugin-config-cluster.js';
import type { ClusterEvent, ConfigStatus } from '../../src/ports/plugin-config-cluster.js';
import { pluginConfigClusterContract } from '../contract/plugin-config-cluster.contract.js';
import { kubeAvailable, startKube, type KubeControlPlane } from '../support/kube.js';
import {
  applyPluginConfigCrd,
  createNamespace,
  createPluginConfig,
  deletePluginConfig,
  eventsFor,
  readPluginConfig,
  replacePluginConfigSpec,
  type PluginConfigBody,
} from '../support/kube-objects.js';

const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const available = kubeAvailable();

if (!available.apiserver || !available.etcd) {
  console.log(`kube-plugin-config-cluster: skipped: ${available.reason ?? ''}`);
} else {
  let kube: Promise<KubeControlPlane> | undefined;
  let n = 0;
  const control = (): Promise<KubeControlPlane> =>
    (kube ??= startKube().then(async (k) => {
      await applyPluginConfigCrd(k.kubeConfig());
      return k;
    }));
  pluginConfigClusterContract(
    'Kubernetes (real kube-apiserver)',
    async () => {
      const kc = (await control()).kubeConfig();
      const namespace = `contract-${++n}`;
      await createNamespace(kc, namespace);
      const core = kc.makeApiClient(CoreV1Api);
      return {
        cluster: new KubePluginConfigCluster({ kubeConfig: kc, logger: quiet, retry: { initialMs: 100, maxMs: 1000 } }),
        namespace,
        putConfig: async (name, spec) => {
          try {
            await readPluginConfig(kc, namespace, name);
          } catch {
            await createPluginConfig(kc, namespace, name, spec as PluginConfigBody);
            return;
          }
          await replacePluginConfigSpec(kc, namespace, name, spec as PluginConfigBody);
        },
        deleteConfig: (name) => deletePluginConfig(kc, namespace, name),
        putPod: async (name, labels) => {
          try {
            await core.readNamespacedPod({ namespace, name });
          } catch {
            await core.createNamespacedPod({
              namespace,
              body: { metadata: { name, labels }, spec: { serviceAccountName: 'default', containers: [{ name: 'app', image: 'registry.invalid/app:1' }] } },
            });
            return;
          }
          await core.patchNamespacedPod({ namespace, name, body: [{ op: 'replace', path: '/metadata/labels', value: labels }] });
        },
        deletePod: async (name) => void (await core.deleteNamespacedPod({ namespace, name, gracePeriodSeconds: 0 })),
        readStatus: async (name) => (await readPluginConfig(kc, namespace, name)).status as ConfigStatus | undefined,
        readEvents: async (name) => (await eventsFor(kc, namespace, name)) as ClusterEvent[],
        cleanup: async () => undefined,
      };
    },
    async () => {
      await (await kube)?.stop();
    },
  );
}

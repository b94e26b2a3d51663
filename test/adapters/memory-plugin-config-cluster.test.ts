import { MemoryPluginConfigCluster } from '../../src/adapters/memory/memory-plugin-config-cluster.js';
import { pluginConfigClusterContract } from '../contract/plugin-config-cluster.contract.js';

pluginConfigClusterContract('memory', async () => {
  const cluster = new MemoryPluginConfigCluster();
  const namespace = 'ns1';
  return {
    cluster,
    namespace,
    putConfig: async (name, spec) => cluster.putConfig(namespace, name, spec),
    deleteConfig: async (name) => cluster.deleteConfig(namespace, name),
    putPod: async (name, labels) => cluster.putPod({ namespace, name, labels }),
    deletePod: async (name) => cluster.deletePod(namespace, name),
    readStatus: async (name) => cluster.status(namespace, name),
    readEvents: async (name) => cluster.recordedEvents(namespace, name),
    cleanup: async () => undefined,
  };
});

// In-memory PluginConfigCluster: the controller's cluster for unit tests and embedding. Objects are
// put and removed from code; statuses written come back as a config change (as the API server's
// watch echoes them), Events are kept in order.
import { readPluginConfigSpec } from '../../domain/plugins/plugin-config-document.js';
import { ok, type Result } from '../../domain/result.js';
import type { ClusterEvent, ClusterEvents, ConfigRef, ConfigStatus, ObservedConfig, ObservedPod, PluginConfigCluster } from '../../ports/plugin-config-cluster.js';

interface StoredConfig {
  readonly uid: string;
  generation: number;
  spec: unknown;
  status: ConfigStatus | undefined;
}

export class MemoryPluginConfigCluster implements PluginConfigCluster {
  readonly target = 'memory';
  private readonly configs = new Map<string, StoredConfig & { namespace: string; name: string }>();
  private readonly podMap = new Map<string, ObservedPod>();
  private readonly eventLog: { ref: ConfigRef; event: ClusterEvent }[] = [];
  private events: ClusterEvents | undefined;
  private uids = 0;

  async start(events: ClusterEvents): Promise<void> {
    this.events = events;
    for (const config of this.configs.values()) events.configChanged(this.observe(config));
    for (const pod of this.podMap.values()) events.podChanged(pod);
    events.synced();
  }

  async stop(): Promise<void> {
    this.events = undefined;
  }

  async writeStatus(ref: ConfigRef, status: ConfigStatus): Promise<Result<void, string>> {
    const config = this.configs.get(`${ref.namespace}/${ref.name}`);
    if (!config || config.uid !== ref.uid) return { ok: false, error: `AmeshPluginConfig ${ref.namespace}/${ref.name} not found` };
    config.status = status;
    this.events?.configChanged(this.observe(config));
    return ok(undefined);
  }

  async recordEvent(ref: ConfigRef, event: ClusterEvent): Promise<Result<void, string>> {
    this.eventLog.push({ ref, event });
    return ok(undefined);
  }

  /** Creates or replaces the spec of an AmeshPluginConfig (the generation grows on a spec change). */
  putConfig(namespace: string, name: string, spec: unknown): void {
    const key = `${namespace}/${name}`;
    const existing = this.configs.get(key);
    const config = existing ?? { namespace, name, uid: `uid-${++this.uids}`, generation: 0, spec: undefined, status: undefined };
    if (JSON.stringify(config.spec) !== JSON.stringify(spec)) config.generation += 1;
    config.spec = spec;
    this.configs.set(key, config);
    this.events?.configChanged(this.observe(config));
  }

  deleteConfig(namespace: string, name: string): void {
    const config = this.configs.get(`${namespace}/${name}`);
    if (!config) return;
    this.configs.delete(`${namespace}/${name}`);
    this.events?.configDeleted({ namespace, name, uid: config.uid });
  }

  putPod(pod: ObservedPod): void {
    this.podMap.set(`${pod.namespace}/${pod.name}`, pod);
    this.events?.podChanged(pod);
  }

  deletePod(namespace: string, name: string): void {
    if (!this.podMap.delete(`${namespace}/${name}`)) return;
    this.events?.podDeleted({ namespace, name });
  }

  /** Simulates a broken watch. */
  disconnect(reason: string): void {
    this.events?.disconnected(reason);
  }

  reconnect(): void {
    this.events?.synced();
  }

  status(namespace: string, name: string): ConfigStatus | undefined {
    return this.configs.get(`${namespace}/${name}`)?.status;
  }

  recordedEvents(namespace: string, name: string): ClusterEvent[] {
    return this.eventLog.filter((e) => e.ref.namespace === namespace && e.ref.name === name).map((e) => e.event);
  }

  private observe(config: StoredConfig & { namespace: string; name: string }): ObservedConfig {
    const { namespace, name, generation } = config;
    return { ref: { namespace, name, uid: config.uid }, generation, spec: readPluginConfigSpec({ namespace, name, generation }, config.spec), status: config.status };
  }
}

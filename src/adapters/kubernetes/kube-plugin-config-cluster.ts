// The controller's view of a Kubernetes cluster through @kubernetes/client-node informers: every
// AmeshPluginConfig and every pod (cluster-wide), status written through the status subresource,
// Events through core/v1. A broken watch (API server restart, network) is retried with backoff;
// the informer resumes from its last resourceVersion, or relists (reporting what vanished as
// deletions) when that version is gone.
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  type Informer,
  type KubernetesObject,
  type ObjectCache,
  type V1Pod,
} from '@kubernetes/client-node';
import { ok, err, type Result } from '../../domain/result.js';
import type { Logger } from '../../ports/logger.js';
import type { ClusterEvent, ClusterEvents, ConfigRef, ConfigStatus, PluginConfigCluster } from '../../ports/plugin-config-cluster.js';
import { observeConfig, PLUGIN_CONFIG_GROUP, PLUGIN_CONFIG_KIND, PLUGIN_CONFIG_PLURAL, PLUGIN_CONFIG_VERSION, type PluginConfigResource } from './plugin-config-resource.js';

export interface KubePluginConfigClusterOptions {
  readonly kubeConfig: KubeConfig;
  readonly logger: Logger;
  /** Who writes the Events (`source.component`). */
  readonly component?: string;
  readonly retry?: { readonly initialMs: number; readonly maxMs: number };
}

const messageOf = (e: unknown): string => {
  if (e && typeof e === 'object' && 'body' in e && typeof (e as { body: unknown }).body === 'string') {
    try {
      const status = JSON.parse((e as { body: string }).body) as { message?: string };
      if (status.message) return status.message;
    } catch {
      // not a Status object
    }
  }
  return e instanceof Error ? e.message : String(e);
};

/** One informer plus its reconnect loop. */
class Watch<T extends KubernetesObject> {
  private healthy = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private retryMs: number;

  constructor(
    readonly what: string,
    private readonly informer: Informer<T> & ObjectCache<T>,
    private readonly retry: { readonly initialMs: number; readonly maxMs: number },
    private readonly onHealthy: () => void,
    private readonly onBroken: (reason: string) => void,
  ) {
    this.retryMs = retry.initialMs;
    informer.on('error', (e: unknown) => this.broken(messageOf(e)));
  }

  get isHealthy(): boolean {
    return this.healthy;
  }

  async connect(): Promise<void> {
    if (this.stopped) return;
    let failed = false;
    const onError = (): void => void (failed = true);
    this.informer.on('error', onError);
    // start() returns once the list is applied and the watch request is answered (or it failed).
    await this.informer.start().catch((e: unknown) => this.broken(messageOf(e)));
    this.informer.off('error', onError);
    if (failed || this.stopped) return;
    this.healthy = true;
    this.retryMs = this.retry.initialMs;
    this.onHealthy();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.informer.stop();
  }

  private broken(reason: string): void {
    if (this.stopped) return;
    const wasHealthy = this.healthy;
    this.healthy = false;
    if (wasHealthy || this.timer === undefined) this.onBroken(`${this.what}: ${reason}`);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.connect();
    }, this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, this.retry.maxMs);
  }
}

export class KubePluginConfigCluster implements PluginConfigCluster {
  readonly target: string;
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;
  private watches: Watch<KubernetesObject>[] = [];

  constructor(private readonly options: KubePluginConfigClusterOptions) {
    this.target = options.kubeConfig.getCurrentCluster()?.server ?? 'kubernetes';
    this.custom = options.kubeConfig.makeApiClient(CustomObjectsApi);
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
  }

  async start(events: ClusterEvents): Promise<void> {
    const kc = this.options.kubeConfig;
    const configs = makeInformer<PluginConfigResource>(kc, `/apis/${PLUGIN_CONFIG_GROUP}/${PLUGIN_CONFIG_VERSION}/${PLUGIN_CONFIG_PLURAL}`, () =>
      this.custom.listClusterCustomObject({ group: PLUGIN_CONFIG_GROUP, version: PLUGIN_CONFIG_VERSION, plural: PLUGIN_CONFIG_PLURAL }),
    );
    const pods = makeInformer<V1Pod>(kc, '/api/v1/pods', () => this.core.listPodForAllNamespaces());
    const configChanged = (o: PluginConfigResource): void => events.configChanged(observeConfig(o));
    configs.on('add', configChanged);
    configs.on('update', configChanged);
    configs.on('delete', (o) => events.configDeleted({ namespace: o.metadata?.namespace ?? '', name: o.metadata?.name ?? '', uid: o.metadata?.uid ?? '' }));
    const podChanged = (p: V1Pod): void => events.podChanged({ namespace: p.metadata?.namespace ?? '', name: p.metadata?.name ?? '', labels: p.metadata?.labels ?? {} });
    pods.on('add', podChanged);
    pods.on('update', podChanged);
    pods.on('delete', (p) => events.podDeleted({ namespace: p.metadata?.namespace ?? '', name: p.metadata?.name ?? '' }));

    const retry = this.options.retry ?? { initialMs: 250, maxMs: 5000 };
    const synced = (): void => {
      if (this.watches.every((w) => w.isHealthy)) events.synced();
    };
    const broken = (reason: string): void => {
      this.options.logger.warn({ target: this.target, reason }, 'watch broken; retrying');
      events.disconnected(reason);
    };
    this.watches = [
      new Watch('ameshpluginconfigs', configs as Informer<KubernetesObject> & ObjectCache<KubernetesObject>, retry, synced, broken),
      new Watch('pods', pods as Informer<KubernetesObject> & ObjectCache<KubernetesObject>, retry, synced, broken),
    ];
    await Promise.all(this.watches.map((w) => w.connect()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.watches.map((w) => w.stop()));
    this.watches = [];
  }

  async writeStatus(ref: ConfigRef, status: ConfigStatus): Promise<Result<void, string>> {
    try {
      await this.custom.patchNamespacedCustomObjectStatus(
        { group: PLUGIN_CONFIG_GROUP, version: PLUGIN_CONFIG_VERSION, plural: PLUGIN_CONFIG_PLURAL, namespace: ref.namespace, name: ref.name, body: { status } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      return ok(undefined);
    } catch (e) {
      return err(`status of ${PLUGIN_CONFIG_KIND} ${ref.namespace}/${ref.name}: ${messageOf(e)}`);
    }
  }

  async recordEvent(ref: ConfigRef, event: ClusterEvent): Promise<Result<void, string>> {
    const now = new Date();
    try {
      await this.core.createNamespacedEvent({
        namespace: ref.namespace,
        body: {
          metadata: { generateName: `${ref.name}.`, namespace: ref.namespace },
          involvedObject: { apiVersion: `${PLUGIN_CONFIG_GROUP}/${PLUGIN_CONFIG_VERSION}`, kind: PLUGIN_CONFIG_KIND, namespace: ref.namespace, name: ref.name, uid: ref.uid },
          type: event.type,
          reason: event.reason,
          message: event.message,
          source: { component: this.options.component ?? 'amesh-controller' },
          reportingComponent: this.options.component ?? 'amesh-controller',
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
      return ok(undefined);
    } catch (e) {
      return err(`event for ${PLUGIN_CONFIG_KIND} ${ref.namespace}/${ref.name}: ${messageOf(e)}`);
    }
  }
}

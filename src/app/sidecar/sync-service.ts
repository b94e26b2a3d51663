// The sidecar's loop: every update from the source is translated (a translation error rejects the
// update, which an xDS source NACKs), diffed against what each sink holds and applied. Applies are
// serialised and coalesced: while one runs, only the newest desired configuration waits. A failing
// sink is retried with backoff; the last applied configuration is cached so that a restart while the
// control plane is unreachable serves it at once.
import type { Translation } from '../../adapters/apisix/translate.js';
import { Backoff } from '../../adapters/xds/backoff.js';
import { diffConfigs } from '../../domain/diff.js';
import { GatewayConfig, GATEWAY_KINDS } from '../../domain/gateway-config.js';
import type { Secret } from '../../domain/mesh/secret.js';
import { snapshotOfMaps } from '../../domain/snapshot.js';
import { Translator } from '../../adapters/apisix/translate.js';
import type { ConfigCache } from '../../ports/config-cache.js';
import { ACCEPTED, type ConfigSource, type Disposable, type SourceUpdate, type UpdateVerdict } from '../../ports/config-source.js';
import type { ConfigSink } from '../../ports/config-sink.js';
import type { Logger } from '../../ports/logger.js';
import type { Metrics } from '../../ports/metrics.js';
import type { SecretSource } from '../../ports/secret-source.js';
import type { PluginConfigSource, PodPluginSet } from '../../ports/plugin-config-source.js';
import { applyPodPlugins } from '../../domain/plugins/route-plugins.js';
import { translateUpdate, type PipelineOptions } from '../pipeline.js';

export interface SyncDeps {
  readonly source: ConfigSource;
  readonly sinks: readonly ConfigSink[];
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly cache?: ConfigCache | undefined;
  /** Workload certificates (Istio's `default` and `ROOTCA`) merged into every snapshot. */
  readonly secrets?: SecretSource | undefined;
  /** Told about source errors (the run-once mode gives up on them). */
  readonly onSourceError?: ((message: string) => void) | undefined;
  /** AmeshPluginConfig plugins for this pod (from `amesh controller`), merged into every route. */
  readonly plugins?: PluginConfigSource | undefined;
}

export interface SyncStatus {
  /** A configuration (live or cached) has been applied to every sink. */
  readonly ready: boolean;
  readonly version: string | undefined;
  readonly translation: Translation | undefined;
  readonly lastError: string | undefined;
  readonly fromCache: boolean;
}

interface SinkState {
  readonly sink: ConfigSink;
  applied: GatewayConfig;
}

export class SyncService {
  private readonly sinks: SinkState[];
  private subscription: Disposable | undefined;
  private secretSubscription: Disposable | undefined;
  private secrets: readonly Secret[] = [];
  private lastUpdate: SourceUpdate | undefined;
  private desired: GatewayConfig | undefined;
  private translation: Translation | undefined;
  private applying: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly backoff = new Backoff({ initialMs: 200, maxMs: 10_000, multiplier: 2 });
  private status: SyncStatus = { ready: false, version: undefined, translation: undefined, lastError: undefined, fromCache: false };
  private firstLiveApply: { resolve: () => void; promise: Promise<void> };
  /** The configuration read from the cache, told apart from live ones by identity. */
  private cached: GatewayConfig | undefined;
  private readonly translator = new Translator();
  private saving: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private pluginSet: PodPluginSet | undefined;
  private lastPluginReport = '';

  constructor(
    private readonly deps: SyncDeps,
    private readonly options: PipelineOptions,
  ) {
    this.sinks = deps.sinks.map((sink) => ({ sink, applied: GatewayConfig.empty() }));
    let resolve = (): void => undefined;
    const promise = new Promise<void>((r) => (resolve = r));
    this.firstLiveApply = { resolve, promise };
  }

  get state(): SyncStatus {
    return this.status;
  }

  /** Resolves once a configuration from the source (not the cache) is applied to every sink. */
  get applied(): Promise<void> {
    return this.firstLiveApply.promise;
  }

  async start(): Promise<void> {
    await this.serveCached();
    this.secretSubscription = this.deps.secrets?.watch({
      onSecrets: (secrets) => {
        this.secrets = secrets;
        // New workload certificates: translate the last update again with them.
        if (this.lastUpdate) this.onUpdate(this.lastUpdate);
      },
      onError: (error) => this.deps.logger.warn({ location: error.location, error: error.message }, 'workload certificates unreadable; keeping the last ones'),
    });
    this.deps.plugins?.subscribe((set) => {
      this.pluginSet = set;
      this.deps.logger.info({ version: set.version, plugins: set.plugins.map((p) => `${p.source}:${p.name}`) }, 'plugin set received');
      // Only the plugins changed: re-render the last translation, no new translation needed.
      if (this.translation) {
        this.desired = this.withPlugins(this.translation.config);
        void this.runApply();
      }
    });
    this.subscription = this.deps.source.watch({
      onUpdate: (update) => this.onUpdate(update),
      onError: (error) => {
        this.status = { ...this.status, lastError: `${error.location}: ${error.message}` };
        this.deps.onSourceError?.(`${error.location}: ${error.message}`);
        this.deps.logger.error({ location: error.location, error: error.message }, 'configuration source error; the last good configuration stays');
      },
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.subscription?.dispose();
    this.secretSubscription?.dispose();
    await this.deps.plugins?.close();
    await this.applying;
    await this.saving;
  }

  /** The last known good configuration, applied before the control plane answers. */
  private async serveCached(): Promise<void> {
    if (!this.deps.cache) return;
    const cached = await this.deps.cache.load();
    if (!cached.ok) {
      this.deps.logger.warn({ error: cached.error }, 'ignoring the configuration cache');
      return;
    }
    if (!cached.value) return;
    this.deps.logger.info({ version: cached.value.version, objects: cached.value.objects.size }, 'serving the cached configuration until the source answers');
    this.cached = cached.value;
    this.desired = cached.value;
    await this.runApply();
  }

  private withLocalSecrets(update: SourceUpdate): SourceUpdate {
    if (this.secrets.length === 0) return update;
    const { snapshot } = update;
    const secrets = new Map(snapshot.secrets);
    for (const secret of this.secrets) secrets.set(secret.name, secret);
    // Only the secrets map is new: the others keep their identity, so the translation reuses its work.
    return {
      snapshot: snapshotOfMaps(snapshot.version, { ...snapshot, secrets }),
      get fidelity() {
        return update.fidelity;
      },
      fidelityGroups: update.fidelityGroups,
    };
  }

  private onUpdate(update: SourceUpdate): UpdateVerdict {
    const started = performance.now();
    const translated = translateUpdate(this.withLocalSecrets(update), this.options, this.translator);
    const seconds = (performance.now() - started) / 1000;
    if (!translated.ok) {
      this.deps.metrics.translation(seconds, 'error');
      const reason = translated.error
        .slice(0, 10)
        .map((e) => `${e.resource}${e.field ? ` field ${e.field}` : ''}: ${e.message}`)
        .join('; ');
      this.status = { ...this.status, lastError: reason };
      this.deps.logger.error({ version: update.snapshot.version, error: reason }, 'translation failed; the last good configuration stays');
      return { accepted: false, reason };
    }
    this.deps.metrics.translation(seconds, 'ok');
    this.lastUpdate = update;
    this.translation = translated.value;
    this.desired = this.withPlugins(translated.value.config);
    void this.runApply();
    return ACCEPTED;
  }

  /** The translated configuration with this pod's plugins; what cannot be applied goes back to the controller. */
  private withPlugins(config: GatewayConfig): GatewayConfig {
    const set = this.pluginSet;
    if (!set) return config;
    const result = applyPodPlugins(config, set.plugins, set.version);
    const report = JSON.stringify([set.version, result.problems]);
    if (report !== this.lastPluginReport) {
      this.lastPluginReport = report;
      this.deps.plugins?.report({ version: set.version, problems: result.problems });
      for (const problem of result.problems) this.deps.logger.warn({ plugin: problem.name, source: problem.source, reason: problem.reason }, 'plugin not applied');
    }
    return result.config;
  }

  /** Applies the newest desired configuration to every sink; one run at a time. */
  private runApply(): Promise<void> {
    if (this.applying) return this.applying;
    this.applying = (async () => {
      try {
        while (this.desired && !this.stopped) {
          const desired = this.desired;
          const translation = this.translation;
          const failed = await this.applyToSinks(desired, translation);
          if (failed) {
            this.scheduleRetry();
            return;
          }
          this.backoff.reset();
          this.onApplied(desired, translation);
          if (this.desired === desired) this.desired = undefined;
        }
      } finally {
        this.applying = undefined;
      }
    })();
    return this.applying;
  }

  private async applyToSinks(desired: GatewayConfig, translation: Translation | undefined): Promise<boolean> {
    let failed = false;
    // The translation knows what it changed when it patched the config this sink holds: no full diff.
    const delta = translation?.config === desired ? translation.delta : undefined;
    for (const state of this.sinks) {
      const changes = delta && delta.from === state.applied ? delta.changes : diffConfigs(state.applied, desired);
      if (changes.changes.length === 0 && state.applied.version !== '') {
        state.applied = desired;
        continue;
      }
      const started = performance.now();
      const result = await state.sink.apply({ desired, changes }).catch((error: unknown) => ({ applied: 0, failed: [{ key: '*', reason: String(error) }] }));
      const seconds = (performance.now() - started) / 1000;
      if (result.failed.length > 0) {
        failed = true;
        this.deps.metrics.apply(state.sink.target, seconds, 'error');
        const reason = result.failed.slice(0, 5).map((f) => `${f.key}: ${f.reason}`).join('; ');
        this.status = { ...this.status, lastError: `${state.sink.target}: ${reason}` };
        this.deps.logger.error({ sink: state.sink.target, version: desired.version, error: reason }, 'apply failed; will retry');
        continue;
      }
      this.deps.metrics.apply(state.sink.target, seconds, 'ok');
      state.applied = desired;
      this.deps.logger.debug({ sink: state.sink.target, version: desired.version, changes: changes.changes.length, ms: seconds * 1000 }, 'applied');
    }
    return failed;
  }

  private onApplied(desired: GatewayConfig, translation: Translation | undefined): void {
    const live = desired !== this.cached;
    this.status = { ready: true, version: desired.version, translation: live ? translation : undefined, lastError: undefined, fromCache: !live };
    const counts = desired.counts();
    for (const kind of GATEWAY_KINDS) this.deps.metrics.gatewayObjects(kind, counts[kind]);
    if (translation) {
      const { dropped, approximated } = translation.report.counts();
      this.deps.metrics.fidelity(dropped, approximated);
    }
    this.deps.logger.info({ version: desired.version, ...counts, fromCache: !live }, 'configuration applied');
    if (!live) return;
    this.firstLiveApply.resolve();
    const cache = this.deps.cache;
    if (!cache) return;
    this.saving = this.saving.then(() =>
      cache.save(desired).then((saved) => {
        if (!saved.ok) this.deps.logger.warn({ error: saved.error }, 'could not save the configuration cache');
      }),
    );
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    const delay = this.backoff.next();
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => void this.runApply(), delay);
  }
}

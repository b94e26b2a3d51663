// The sidecar's loop: every update from the source is translated (a translation error rejects the
// update, which an xDS source NACKs), diffed against what each sink holds and applied. Applies are
// serialised and coalesced: while one runs, only the newest desired configuration waits. A failing
// sink is retried with backoff; the last applied configuration is cached so that a restart while the
// control plane is unreachable serves it at once.
//
// The verdict on an update that translates is a promise, settled after the first attempt to apply it
// to every sink: a sink's target refusing an object (ApplyFailure.rejected) rejects it, naming the
// sink, the objects and the target's messages, and an xDS source NACKs it; a transient failure
// accepts it (the retries go on). The wait is bounded (`verdictWaitMs`): a hung sink accepts it with a
// warning rather than holding the xDS stream. An update superseded before it reached a sink is
// accepted (it never met one). After a rejection the last accepted update is translated and applied
// again, so that sinks that took the rest of the rejected configuration converge back to it: the
// source (xDS) has undone it too, and its next update builds on that.
//
// A source flooded with updates (SourceUpdate.newerPending: newer ones are queued right behind) gets its
// verdict on each at once after the translation, and the apply is started only once the queued ones have
// been handed over too: 1,000 EDS pushes make one or two applies of the newest state, not 1,000. The last
// of the flood waits for its apply as usual, so a refusal is still NACKed (and restores the one before).
//
// Objects a sink's target does not serve as it is set up (ApplyResult.unserved: APISIX's stream routes
// while its stream mode is off) are neither failures nor refusals: the update is accepted, the apply
// settles (so `--once` finishes), and they are shown in the status (config dump) and counted per sink.
// A sink that held some back is applied again every `unservedProbeMs`, so that they are delivered, and
// no longer reported, once the target takes them.
import type { Translation } from '../../adapters/apisix/translate.js';
import { Backoff } from '../../domain/backoff.js';
import { applyChangeSet, diffConfigs, type ChangeSet } from '../../domain/diff.js';
import { GatewayConfig, GATEWAY_KINDS } from '../../domain/gateway-config.js';
import type { Secret } from '../../domain/mesh/secret.js';
import { referencedSecrets, snapshotOfMaps, type MeshSnapshot } from '../../domain/snapshot.js';
import { Translator } from '../../adapters/apisix/translate.js';
import type { ConfigCache } from '../../ports/config-cache.js';
import { ACCEPTED, type ConfigSource, type Disposable, type SourceUpdate, type UpdateVerdict } from '../../ports/config-source.js';
import type { ApplyFailure, ApplyResult, ApplyUnserved, ConfigSink } from '../../ports/config-sink.js';
import type { Logger } from '../../ports/logger.js';
import type { Metrics } from '../../ports/metrics.js';
import type { SecretFiles, SecretSource } from '../../ports/secret-source.js';
import type { PluginConfigSource, PodPluginSet } from '../../ports/plugin-config-source.js';
import { applyPodPlugins, versionWithPlugins } from '../../domain/plugins/route-plugins.js';
import { translateUpdate, type PipelineOptions } from '../pipeline.js';

export interface SyncDeps {
  readonly source: ConfigSource;
  readonly sinks: readonly ConfigSink[];
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly cache?: ConfigCache | undefined;
  /** Workload certificates (Istio's `default` and `ROOTCA`) merged into every snapshot. */
  readonly secrets?: SecretSource | undefined;
  /** Secrets the configuration names by file (Istio's `file-cert:`/`file-root:`), added when neither source has them. */
  readonly secretFiles?: SecretFiles | undefined;
  /** Told about source errors (the run-once mode gives up on them). */
  readonly onSourceError?: ((message: string) => void) | undefined;
  /** Told about each failed apply, with the sink's target (the run-once mode gives up when they go on too long). */
  readonly onApplyFailed?: ((sink: string, reason: string) => void) | undefined;
  /** AmeshPluginConfig plugins for this pod (from `amesh controller`), merged into every route. */
  readonly plugins?: PluginConfigSource | undefined;
  /**
   * How long the verdict on an update waits for its first apply (and so the xDS ACK or NACK);
   * then it is accepted with a warning. Default DEFAULT_VERDICT_WAIT_MS.
   */
  readonly verdictWaitMs?: number | undefined;
  /** How often a sink that held objects back as unserved is applied again. Default DEFAULT_UNSERVED_PROBE_MS. */
  readonly unservedProbeMs?: number | undefined;
}

/** Half the remote sinks' own resync: an operator who turns stream mode on sees it taken within that. */
export const DEFAULT_UNSERVED_PROBE_MS = 30_000;

/** A few seconds: longer than a healthy apply, short enough not to stall the xDS stream behind a hung sink. */
export const DEFAULT_VERDICT_WAIT_MS = 3_000;
/** A NACK's error_detail stays readable (and far below gRPC's metadata and message limits). */
const MAX_REASON_CHARS = 1_000;
const MAX_REFUSALS_NAMED = 5;

/** The pending verdict on the update that produced a desired configuration. */
interface VerdictWaiter {
  readonly update: SourceUpdate;
  /** False when it was settled already (by the wait running out). */
  settle(verdict: UpdateVerdict): boolean;
}

/** What a first apply of one configuration found: whether something failed, and the refusals that are the configuration's fault. */
interface ApplyOutcome {
  readonly failed: boolean;
  readonly refusals: readonly { readonly target: string; readonly failures: readonly ApplyFailure[] }[];
}

function refusalReason(refusals: ApplyOutcome['refusals']): string {
  const parts: string[] = [];
  let named = 0;
  let total = 0;
  for (const { target, failures } of refusals) {
    total += failures.length;
    const shown = failures.slice(0, Math.max(0, MAX_REFUSALS_NAMED - named));
    named += shown.length;
    if (shown.length > 0) parts.push(`${target} refused ${shown.map((f) => `${f.key} (${f.reason})`).join(', ')}`);
  }
  const more = total > named ? `; and ${total - named} more` : '';
  const text = `${parts.join('; ')}${more}`;
  return text.length > MAX_REASON_CHARS ? `${text.slice(0, MAX_REASON_CHARS - 1)}…` : text;
}

export interface SyncStatus {
  /** A configuration (live or cached) has been applied to every sink. */
  readonly ready: boolean;
  readonly version: string | undefined;
  readonly translation: Translation | undefined;
  readonly lastError: string | undefined;
  readonly fromCache: boolean;
  /** What the sinks reported as not served by their targets, for the configuration they last applied. */
  readonly unserved: readonly SinkUnserved[];
}

export interface SinkUnserved extends ApplyUnserved {
  readonly sink: string;
}

interface SinkState {
  readonly sink: ConfigSink;
  applied: GatewayConfig;
  /** The last apply failed: the sink may hold part of it, so "no changes from `applied`" does not mean nothing to do. */
  unsettled: boolean;
  /** What the sink's last apply reported as unserved. */
  unserved: readonly ApplyUnserved[];
  /** Apply even without changes: it held objects back that its target may take now. */
  probe: boolean;
}

export class SyncService {
  private readonly sinks: SinkState[];
  private subscription: Disposable | undefined;
  private secretSubscription: Disposable | undefined;
  private secrets: readonly Secret[] = [];
  /** The secret names the last listeners and clusters referenced (recomputed only when those maps change). */
  private secretNames: { readonly listeners: MeshSnapshot['listeners']; readonly clusters: MeshSnapshot['clusters']; readonly names: ReadonlySet<string> } | undefined;
  /** The last merged secrets map and what it was made of: the same inputs give the same map (see withLocalSecrets). */
  private mergedSecrets:
    { readonly base: MeshSnapshot['secrets']; readonly local: readonly Secret[]; readonly files: readonly Secret[]; readonly map: MeshSnapshot['secrets'] } | undefined;
  /** Per file-named secret, the problem last logged (each is logged once, not on every update). */
  private readonly fileProblems = new Map<string, string>();
  private lastUpdate: SourceUpdate | undefined;
  private desired: GatewayConfig | undefined;
  private translation: Translation | undefined;
  /** A change set known to take `from` to `to` (the translation's delta, or it carried over the plugins). */
  private delta: { readonly from: GatewayConfig; readonly to: GatewayConfig; readonly changes: ChangeSet } | undefined;
  /** The last configuration with plugins merged in, and what it was made from. */
  private merged: { readonly source: GatewayConfig; readonly set: PodPluginSet; readonly config: GatewayConfig } | undefined;
  private applying: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly backoff = new Backoff({ initialMs: 200, maxMs: 10_000 });
  private status: SyncStatus = { ready: false, version: undefined, translation: undefined, lastError: undefined, fromCache: false, unserved: [] };
  private firstLiveApply: { resolve: () => void; promise: Promise<void> };
  /** The configuration read from the cache, told apart from live ones by identity. */
  private cached: GatewayConfig | undefined;
  private readonly translator = new Translator();
  private saving: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private pluginSet: PodPluginSet | undefined;
  private lastPluginReport = '';
  /** The verdict on `desired`, until the apply loop takes it. */
  private waiting: VerdictWaiter | undefined;
  /** The last update whose verdict was acceptance: where a rejection goes back to. */
  private lastAccepted: SourceUpdate | undefined;
  /** The order updates came in: a verdict settled late (an apply in flight) must not take `lastAccepted` back to an older one. */
  private readonly arrival = new WeakMap<SourceUpdate, number>();
  private arrivals = 0;
  /** The configuration last applied to every sink. */
  private inForce: GatewayConfig | undefined;
  private probeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: SyncDeps,
    private readonly options: PipelineOptions,
  ) {
    this.sinks = deps.sinks.map((sink) => ({ sink, applied: GatewayConfig.empty(), unsettled: false, unserved: [], probe: false }));
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
        this.desired = this.desiredOf(this.translation);
        void this.runApply();
      }
    });
    this.subscription = this.deps.source.watch({
      onUpdate: (update) => this.onUpdate(update, true),
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
    clearTimeout(this.probeTimer);
    this.waiting?.settle(ACCEPTED);
    this.waiting = undefined;
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
    const { snapshot } = update;
    const files = this.fileSecrets(snapshot);
    if (this.secrets.length === 0 && files.length === 0) return update;
    // The same inputs give the same map: the translation reuses its work only for maps it has seen
    // (an endpoints-only update is patched, not translated again, only if the secrets map is the same).
    const memo = this.mergedSecrets;
    let map: MeshSnapshot['secrets'];
    if (memo && memo.base === snapshot.secrets && memo.local === this.secrets && memo.files.length === files.length && memo.files.every((f, i) => f === files[i])) {
      map = memo.map;
    } else {
      const merged = new Map(snapshot.secrets);
      for (const secret of this.secrets) merged.set(secret.name, secret);
      for (const secret of files) merged.set(secret.name, secret);
      map = merged;
      this.mergedSecrets = { base: snapshot.secrets, local: this.secrets, files, map };
    }
    // Only the secrets map is new: the others keep their identity, so the translation reuses its work.
    return {
      snapshot: snapshotOfMaps(snapshot.version, { ...snapshot, secrets: map }),
      get fidelity() {
        return update.fidelity;
      },
      fidelityGroups: update.fidelityGroups,
    };
  }

  /** The referenced secrets neither the control plane nor the secret source has, read from the files they name. */
  private fileSecrets(snapshot: MeshSnapshot): Secret[] {
    const reader = this.deps.secretFiles;
    if (!reader) return [];
    let memo = this.secretNames;
    if (memo?.listeners !== snapshot.listeners || memo.clusters !== snapshot.clusters) {
      memo = { listeners: snapshot.listeners, clusters: snapshot.clusters, names: referencedSecrets(snapshot) };
      this.secretNames = memo;
    }
    const found: Secret[] = [];
    for (const name of memo.names) {
      if (snapshot.secrets.has(name) || this.secrets.some((s) => s.name === name)) continue;
      const read = reader.read(name);
      if (!read) continue;
      if (read.ok) {
        found.push(read.value);
        this.fileProblems.delete(name);
        continue;
      }
      const problem = `${read.error.location}: ${read.error.message}`;
      if (this.fileProblems.get(name) === problem) continue;
      this.fileProblems.set(name, problem);
      this.deps.logger.warn(
        { secret: name, location: read.error.location, error: read.error.message },
        'a secret the configuration names by its files cannot be read; it is left out',
      );
    }
    return found;
  }

  /** `judged`: the source waits for a verdict (else: the same update again, e.g. with new certificates). */
  private onUpdate(update: SourceUpdate, judged = false): UpdateVerdict | Promise<UpdateVerdict> {
    if (judged) this.arrival.set(update, ++this.arrivals);
    const started = performance.now();
    const translated = this.translated(update);
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
    this.desired = this.desiredOf(translated.value);
    if (judged && update.newerPending) {
      // Superseded before it could reach a sink: accepted now (as awaitVerdict does for a waiting one),
      // and the apply waits for the queued updates, which the source hands over in this same turn.
      this.waiting?.settle(ACCEPTED);
      this.accepted(update);
      queueMicrotask(() => void this.runApply());
      return ACCEPTED;
    }
    const verdict = judged ? this.awaitVerdict(update) : ACCEPTED;
    void this.runApply();
    return verdict;
  }

  /**
   * The translation of `update`; an exception (a bug an input found) is a rejection of that input like any
   * translation error, not the end of the sidecar: the last good configuration stays and the source NACKs it.
   */
  private translated(update: SourceUpdate): ReturnType<typeof translateUpdate> {
    try {
      return translateUpdate(this.withLocalSecrets(update), this.options, this.translator);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.deps.logger.debug({ version: update.snapshot.version, stack: error instanceof Error ? error.stack : undefined }, 'the translation threw');
      return { ok: false, error: [{ resource: 'configuration', field: '', message: `could not be translated (${message})` }] };
    }
  }

  /** `update` was accepted: the newest accepted one is where a rejection goes back to. */
  private accepted(update: SourceUpdate): void {
    const previous = this.lastAccepted && this.arrival.get(this.lastAccepted);
    if (previous === undefined || (this.arrival.get(update) ?? 0) > previous) this.lastAccepted = update;
  }

  /** The verdict on `update`, settled by its first apply, or by a newer update, or when the wait is over. */
  private awaitVerdict(update: SourceUpdate): Promise<UpdateVerdict> {
    // Superseded before it reached a sink: nothing refused it, and the source holds it as the base of the newer one.
    this.waiting?.settle(ACCEPTED);
    return new Promise<UpdateVerdict>((resolve) => {
      const waitMs = this.deps.verdictWaitMs ?? DEFAULT_VERDICT_WAIT_MS;
      let timer: NodeJS.Timeout | undefined;
      let settled = false;
      const waiter: VerdictWaiter = {
        update,
        settle: (verdict) => {
          if (settled) return false;
          settled = true;
          clearTimeout(timer);
          if (this.waiting === waiter) this.waiting = undefined;
          if (verdict.accepted) this.accepted(update);
          resolve(verdict);
          return true;
        },
      };
      timer = setTimeout(() => {
        this.deps.logger.warn({ version: update.snapshot.version, waitMs }, 'the first apply is taking longer than the verdict may wait; accepting the update, the apply goes on');
        waiter.settle(ACCEPTED);
      }, waitMs);
      timer.unref();
      this.waiting = waiter;
    });
  }

  /**
   * The sinks refused part of `update` and the source keeps the previous one: translate that again
   * so that what the sinks took of the refused configuration is put back.
   */
  private restoreAfterRejection(update: SourceUpdate): void {
    const previous = this.lastAccepted;
    if (this.lastUpdate !== update || !previous) return; // a newer update is on its way, or there is nothing to go back to
    this.deps.logger.warn({ rejected: update.snapshot.version, restoring: previous.snapshot.version }, 'restoring the last accepted configuration on the sinks');
    this.onUpdate(previous);
  }

  /**
   * What to apply for a translation, and the change set from the last one when it is known without a
   * diff. An endpoints-only translation changed no route, so with plugins the last merged configuration is
   * patched with its changes rather than the plugins merged into every route again (O(change), not O(mesh)).
   */
  private desiredOf(translation: Translation): GatewayConfig {
    const { delta } = translation;
    const set = this.pluginSet;
    const merged = this.merged;
    if (!set) {
      this.delta = delta ? { ...delta, to: translation.config } : undefined;
      return translation.config;
    }
    const routesUntouched = delta?.changes.changes.every((c) => (c.op === 'delete' ? c.previous : c.object).kind !== 'routes');
    if (delta && merged && merged.set === set && merged.source === delta.from && routesUntouched) {
      const changes: ChangeSet = { fromVersion: merged.config.version, toVersion: versionWithPlugins(translation.config.version, set.version), changes: delta.changes.changes };
      const to = applyChangeSet(merged.config, changes);
      this.delta = { from: merged.config, to, changes };
      this.merged = { source: translation.config, set, config: to };
      return to;
    }
    this.delta = undefined;
    const config = this.withPlugins(translation.config);
    this.merged = { source: translation.config, set, config };
    return config;
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
          const waiter = this.waiting;
          this.waiting = undefined;
          const { failed, refusals } = await this.applyToSinks(desired);
          this.scheduleProbe();
          if (waiter && refusals.length > 0) {
            if (waiter.settle({ accepted: false, reason: refusalReason(refusals) })) this.restoreAfterRejection(waiter.update);
          } else waiter?.settle(ACCEPTED);
          if (failed) {
            // Restoring set a new desired configuration: apply it now rather than after a backoff.
            if (this.desired !== desired && refusals.length > 0) continue;
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

  private async applyToSinks(desired: GatewayConfig): Promise<ApplyOutcome> {
    let failed = false;
    const refusals: { target: string; failures: readonly ApplyFailure[] }[] = [];
    // What changed is known when the translation (or the plugin merge) patched the config this sink holds: no full diff.
    const delta = this.delta?.to === desired ? this.delta : undefined;
    for (const state of this.sinks) {
      const changes = delta && delta.from === state.applied ? delta.changes : diffConfigs(state.applied, desired);
      if (changes.changes.length === 0 && state.applied.version !== '' && !state.unsettled && !state.probe) {
        state.applied = desired;
        continue;
      }
      const started = performance.now();
      const result = await state.sink.apply({ desired, changes }).catch((error: unknown): ApplyResult => ({ applied: 0, failed: [{ key: '*', reason: String(error) }] }));
      const seconds = (performance.now() - started) / 1000;
      state.probe = false;
      this.noteUnserved(state, result.unserved ?? []);
      if (result.failed.length > 0) {
        failed = true;
        state.unsettled = true;
        this.deps.metrics.apply(state.sink.target, seconds, 'error');
        const reason = result.failed
          .slice(0, 5)
          .map((f) => `${f.key}: ${f.reason}`)
          .join('; ');
        this.status = { ...this.status, lastError: `${state.sink.target}: ${reason}` };
        this.deps.logger.error({ sink: state.sink.target, version: desired.version, error: reason }, 'apply failed; will retry');
        this.deps.onApplyFailed?.(state.sink.target, reason);
        const refused = result.failed.filter((f) => f.rejected);
        if (refused.length > 0) refusals.push({ target: state.sink.target, failures: refused });
        continue;
      }
      this.deps.metrics.apply(state.sink.target, seconds, 'ok');
      state.applied = desired;
      state.unsettled = false;
      this.deps.logger.debug({ sink: state.sink.target, version: desired.version, changes: changes.changes.length, ms: seconds * 1000 }, 'applied');
    }
    return { failed, refusals };
  }

  /** Keeps what `state`'s sink reported as unserved, for the status and its gauge. */
  private noteUnserved(state: SinkState, unserved: readonly ApplyUnserved[]): void {
    if (unserved.length === 0 && state.unserved.length === 0) return;
    state.unserved = unserved;
    this.deps.metrics.unserved(state.sink.target, unserved.length);
    this.status = { ...this.status, unserved: this.allUnserved() };
  }

  private allUnserved(): SinkUnserved[] {
    return this.sinks.flatMap((state) => state.unserved.map((u) => ({ sink: state.sink.target, ...u })));
  }

  /** Applies again, after a while, to the sinks that held objects back: their targets may take them now (stream mode turned on). */
  private scheduleProbe(): void {
    if (this.stopped || this.probeTimer) return;
    if (!this.sinks.some((state) => state.unserved.some((u) => !u.written))) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      if (this.stopped || !this.inForce) return;
      for (const state of this.sinks) if (state.unserved.some((u) => !u.written)) state.probe = true;
      // Nothing newer waiting: the configuration in force goes to the probed sinks again.
      this.desired ??= this.inForce;
      void this.runApply();
    }, this.deps.unservedProbeMs ?? DEFAULT_UNSERVED_PROBE_MS);
    this.probeTimer.unref();
  }

  private onApplied(desired: GatewayConfig, translation: Translation | undefined): void {
    const live = desired !== this.cached;
    // Applied once more (a probe): nothing new is in force, only what the sinks report may have changed.
    const again = desired === this.inForce;
    this.inForce = desired;
    this.status = { ready: true, version: desired.version, translation: live ? translation : undefined, lastError: undefined, fromCache: !live, unserved: this.allUnserved() };
    if (again) return;
    const counts = desired.counts();
    for (const kind of GATEWAY_KINDS) this.deps.metrics.gatewayObjects(kind, counts[kind]);
    if (translation) {
      const { dropped, approximated } = translation.report.counts();
      this.deps.metrics.fidelity(dropped, approximated);
    }
    const unserved = this.status.unserved.length;
    this.deps.logger.info({ version: desired.version, ...counts, fromCache: !live, ...(unserved > 0 ? { unserved } : {}) }, 'configuration applied');
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

// `amesh controller`'s reconcile loop. Cluster events only update caches and mark their namespace
// dirty (selection never crosses namespaces); one reconcile at a time then recomputes the merged set
// of every pod in the dirty namespaces, publishes the sets that changed (exactly the affected pods,
// each with a new version), forgets deleted pods, and brings those namespaces' AmeshPluginConfig
// status and Events in line. Failed writes, a periodic resync and every watch reconnect trigger a
// pass over all namespaces. Only while leading (lead() .. follow()): a replica that is not the
// leader keeps its caches current and publishes and writes nothing.
import { planPodPlugins, podKey, type PodRef } from '../../domain/plugins/pod-plugin-plan.js';
import { pluginSetFingerprint, type PluginSet } from '../../domain/plugins/merge.js';
import { configKey, type FieldProblem, type PluginConfigSpec } from '../../domain/plugins/plugin-config.js';
import { checkPluginSchemas } from '../../domain/plugins/plugin-schema-check.js';
import { err, type Result } from '../../domain/result.js';
import type { VersionClock } from '../../domain/plugins/version-clock.js';
import type { ControllerMetrics } from '../../ports/controller-metrics.js';
import type { Logger } from '../../ports/logger.js';
import type { ClusterEvents, ConfigRef, ObservedConfig, PluginConfigCluster } from '../../ports/plugin-config-cluster.js';
import type { PluginProblem } from '../../ports/plugin-config-source.js';
import type { PluginDelivery, PodReport } from '../../ports/plugin-delivery.js';
import type { PluginSchemas } from '../../ports/plugin-schemas.js';
import { desiredConditions, eventFor, sameStatus, statusFor, type ConfigOutcome, type SchemaOutcome } from './config-status.js';

export interface PluginControllerDeps {
  readonly cluster: PluginConfigCluster;
  readonly delivery: PluginDelivery;
  readonly clock: VersionClock;
  readonly logger: Logger;
  /** APISIX's plugin schemas; without them only the structural checks run. */
  readonly schemas?: PluginSchemas;
  readonly metrics?: ControllerMetrics;
}

/** A config as observed, with its plugins checked against the schemas (once per generation). */
interface CheckedConfig {
  readonly observed: ObservedConfig;
  /** The observed spec, or its structural problems, or its plugins' schema problems. */
  readonly spec: Result<PluginConfigSpec, readonly FieldProblem[]>;
  readonly schema: SchemaOutcome;
}

export interface PluginControllerOptions {
  /** Full reconcile this often even without events (status drift, lost writes). */
  readonly resyncMs: number;
  /** Back-off before retrying failed status/Event writes. */
  readonly retryMs?: number;
}

export interface ControllerState {
  readonly leading: boolean;
  readonly synced: boolean;
  readonly connected: boolean;
  readonly pods: number;
  readonly configs: number;
  readonly reconciles: number;
}

const EMPTY_SET: PluginSet = { plugins: [], shadowed: [] };

export class PluginController {
  private readonly configs = new Map<string, CheckedConfig>();
  private readonly pods = new Map<string, PodRef>();
  private readonly podsByNamespace = new Map<string, Map<string, PodRef>>();
  private readonly delivered = new Map<string, { readonly fingerprint: string; readonly version: number }>();
  private readonly reports = new Map<string, PodReport>();
  /** Status we wrote and the API server may not have echoed back yet: not written twice. */
  private readonly written = new Map<string, string>();
  private readonly eventKeys = new Map<string, string>();
  private synced = false;
  private connected = false;
  private reconciles = 0;
  /** Namespaces to reconcile next; 'all' after a (re)sync, a resync tick or a failed write. */
  private dirty: Set<string> | 'all' = new Set();
  private running: Promise<void> | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private leading = false;
  /** Bumped by lead() and follow(): a reconcile publishes and writes only for the term it began in. */
  private term = 0;
  /** lead() calls waiting for their term's first full pass. */
  private readonly firstPass: { readonly term: number; readonly resolve: (published: boolean) => void }[] = [];

  constructor(
    private readonly deps: PluginControllerDeps,
    private readonly options: PluginControllerOptions,
  ) {}

  get state(): ControllerState {
    return { leading: this.leading, synced: this.synced, connected: this.connected, pods: this.pods.size, configs: this.configs.size, reconciles: this.reconciles };
  }

  async start(): Promise<void> {
    this.deps.delivery.onReport((report) => {
      this.deps.metrics?.sidecarReport(report.problems.length);
      this.reports.set(report.pod, report);
      this.schedule(report.pod.slice(0, report.pod.indexOf('/')));
    });
    const events: ClusterEvents = {
      configChanged: (config) => {
        const key = configKey(config.ref);
        this.configs.set(key, this.check(config, this.configs.get(key)));
        this.schedule(config.ref.namespace);
      },
      configDeleted: (ref) => {
        const key = configKey(ref);
        this.configs.delete(key);
        this.written.delete(key);
        this.eventKeys.delete(key);
        this.schedule(ref.namespace);
      },
      podChanged: (pod) => {
        const key = podKey(pod);
        const before = this.pods.get(key);
        this.pods.set(key, pod);
        this.namespacePods(pod.namespace).set(key, pod);
        // Only labels matter to selection; status updates of the pod change nothing here.
        if (!before || JSON.stringify(before.labels) !== JSON.stringify(pod.labels)) this.schedule(pod.namespace);
      },
      podDeleted: (pod) => {
        this.pods.delete(podKey(pod));
        this.podsByNamespace.get(pod.namespace)?.delete(podKey(pod));
        this.schedule(pod.namespace);
      },
      synced: () => {
        const first = !this.synced;
        this.synced = true;
        this.connected = true;
        this.deps.metrics?.watchConnected(true);
        this.deps.logger.info({ target: this.deps.cluster.target, configs: this.configs.size, pods: this.pods.size }, first ? 'caches synced' : 'watches reconnected');
        this.schedule('all');
      },
      disconnected: () => {
        this.connected = false;
        this.deps.metrics?.watchConnected(false);
        this.deps.metrics?.error('watch');
      },
    };
    await this.deps.cluster.start(events);
    this.resyncTimer = setInterval(() => this.schedule('all'), this.options.resyncMs);
    this.resyncTimer.unref();
  }

  /**
   * Starts acting as the leader: every pod's set is computed afresh and published (with versions
   * from the clock, which the app has moved past the previous leader's). Resolves true once that
   * first full pass has published (caches synced first), false if leadership or the controller
   * ended before.
   */
  lead(): Promise<boolean> {
    this.leading = true;
    const term = ++this.term;
    this.delivered.clear();
    const published = new Promise<boolean>((resolve) => this.firstPass.push({ term, resolve }));
    this.schedule('all');
    return published;
  }

  /** Stops acting as the leader at once: nothing more is published or written until lead(). */
  follow(): void {
    this.leading = false;
    this.term++;
    // What the next term finds is whatever the other leader left: nothing of ours is assumed.
    this.delivered.clear();
    this.reports.clear();
    this.written.clear();
    this.eventKeys.clear();
    clearTimeout(this.retryTimer);
    this.settleFirstPass(() => false);
  }

  private settleFirstPass(outcome: (term: number) => boolean | undefined): void {
    for (let i = this.firstPass.length - 1; i >= 0; i--) {
      const waiter = this.firstPass[i]!;
      const result = outcome(waiter.term);
      if (result === undefined) continue;
      this.firstPass.splice(i, 1);
      waiter.resolve(result);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.settleFirstPass(() => false);
    clearInterval(this.resyncTimer);
    clearTimeout(this.retryTimer);
    await this.deps.cluster.stop();
    await this.running;
  }

  /** Resolves when no reconcile is pending or running (tests, graceful stop). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private namespacePods(namespace: string): Map<string, PodRef> {
    let pods = this.podsByNamespace.get(namespace);
    if (!pods) {
      pods = new Map();
      this.podsByNamespace.set(namespace, pods);
    }
    return pods;
  }

  private schedule(namespace: string | 'all'): void {
    if (namespace === 'all') this.dirty = 'all';
    else if (this.dirty !== 'all') this.dirty.add(namespace);
    if (this.running || !this.synced || this.stopped || !this.leading) return;
    this.running = (async () => {
      // Coalesce a burst of events (a relist delivers hundreds) into one pass.
      await new Promise((r) => setTimeout(r, 10));
      while ((this.dirty === 'all' || this.dirty.size > 0) && !this.stopped && this.leading) {
        const scope = this.dirty;
        this.dirty = new Set();
        const started = performance.now();
        const kind = scope === 'all' ? 'all' : 'namespaces';
        await this.reconcile(scope).then(
          (ran) => ran && this.deps.metrics?.reconcile(kind, (performance.now() - started) / 1000, 'ok'),
          (e: unknown) => {
            this.deps.metrics?.reconcile(kind, (performance.now() - started) / 1000, 'error');
            this.deps.metrics?.error('reconcile');
            this.deps.logger.error({ error: e instanceof Error ? e.message : String(e) }, 'reconcile failed');
          },
        );
      }
      this.running = undefined;
    })();
  }

  /** Resolves false when it did nothing (not leading). */
  private async reconcile(scope: ReadonlySet<string> | 'all'): Promise<boolean> {
    const term = this.term;
    const leads = (): boolean => this.leading && this.term === term && !this.stopped;
    if (!leads()) return false;
    this.reconciles++;
    this.countObjects();
    const inScope = (namespace: string): boolean => scope === 'all' || scope.has(namespace);
    const valid: PluginConfigSpec[] = [];
    for (const config of this.configs.values()) if (config.spec.ok && inScope(config.observed.ref.namespace)) valid.push(config.spec.value);
    const pods = scope === 'all' ? [...this.pods.values()] : [...scope].flatMap((ns) => [...(this.podsByNamespace.get(ns)?.values() ?? [])]);
    const plan = planPodPlugins(valid, pods);

    let published = 0;
    for (const { namespace, name } of pods) {
      const key = `${namespace}/${name}`;
      const set = plan.pods.get(key) ?? EMPTY_SET;
      const fingerprint = pluginSetFingerprint(set);
      const before = this.delivered.get(key);
      if (before ? before.fingerprint === fingerprint : set.plugins.length === 0) continue;
      const version = this.deps.clock.next();
      published++;
      this.delivered.set(key, { fingerprint, version });
      this.deps.delivery.publish(key, { version, plugins: set.plugins });
      this.deps.logger.info({ pod: key, version, plugins: set.plugins.map((p) => `${p.source}:${p.name}`) }, 'plugin set changed');
    }
    for (const key of [...this.delivered.keys()]) {
      if (this.pods.has(key) || !inScope(key.slice(0, key.indexOf('/')))) continue;
      this.delivered.delete(key);
      this.reports.delete(key);
      this.deps.delivery.forget(key);
    }
    if (published > 0) this.deps.metrics?.setsPublished(published);
    if (scope === 'all') this.settleFirstPass((waiting) => (waiting === term ? true : undefined));

    let failures = 0;
    for (const [key, { observed: config, spec, schema }] of this.configs) {
      // Deposed while writing: the new leader writes from now on.
      if (!leads()) return true;
      if (!inScope(config.ref.namespace)) continue;
      const reach = plan.configs.get(key);
      const outcome: ConfigOutcome = {
        generation: config.generation,
        problems: spec.ok ? [] : spec.error,
        schema,
        pods: reach?.pods ?? [],
        shadowed: reach?.shadowed ?? [],
        sidecarProblems: this.sidecarProblems(key, reach?.pods ?? []),
      };
      const written = await this.writeStatus(key, config, outcome);
      if (written === 'failed') failures++;
      // A status already in place (e.g. after a controller restart) was announced by an earlier run.
      if (written === 'unchanged' && !this.eventKeys.has(key)) {
        const current = eventFor(outcome, desiredConditions(outcome));
        if (current) this.eventKeys.set(key, current.key);
      }
      if (!(await this.recordEvent(key, config.ref, outcome))) failures++;
    }
    if (failures > 0 && leads()) {
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => this.schedule('all'), this.options.retryMs ?? 1000);
    }
    return true;
  }

  private countObjects(): void {
    let valid = 0;
    for (const config of this.configs.values()) if (config.spec.ok) valid++;
    this.deps.metrics?.objects(valid, this.configs.size - valid, this.pods.size);
  }

  /**
   * The config's plugins against APISIX's schemas. A status echo or a relist brings the same
   * generation again: its earlier verdict is kept rather than checked anew.
   */
  private check(observed: ObservedConfig, before: CheckedConfig | undefined): CheckedConfig {
    if (before && before.observed.ref.uid === observed.ref.uid && before.observed.generation === observed.generation) return { ...before, observed };
    const schemas = this.deps.schemas;
    if (!observed.spec.ok) return { observed, spec: observed.spec, schema: schemas ? { kind: 'not-checked' } : { kind: 'off' } };
    if (!schemas) return { observed, spec: observed.spec, schema: { kind: 'off' } };
    const report = checkPluginSchemas(observed.spec.value, (name, config) => {
      const verdict = schemas.check(name, config);
      this.deps.metrics?.schemaCheck(verdict.kind);
      return verdict;
    });
    const key = configKey(observed.ref);
    if (report.problems.length > 0)
      this.deps.logger.warn(
        { config: key, generation: observed.generation, problems: report.problems.map((p) => `${p.field}: ${p.message}`) },
        'plugin config refused by the APISIX schemas; not delivered',
      );
    if (report.unknown.length > 0)
      this.deps.logger.warn(
        { config: key, generation: observed.generation, plugins: report.unknown.map((u) => u.name), reason: report.unknown[0]!.reason },
        'plugins without an APISIX schema; delivered unchecked',
      );
    return { observed, spec: report.problems.length > 0 ? err(report.problems) : observed.spec, schema: { kind: 'checked', report } };
  }

  /** Problems reported against the version each pod currently has, for this config's plugins. */
  private sidecarProblems(config: string, pods: readonly string[]): Map<string, PluginProblem[]> {
    const out = new Map<string, PluginProblem[]>();
    for (const pod of pods) {
      const report = this.reports.get(pod);
      if (!report || report.version !== this.delivered.get(pod)?.version) continue;
      const mine = report.problems.filter((p) => p.source === config);
      if (mine.length > 0) out.set(pod, mine);
    }
    return out;
  }

  private async writeStatus(key: string, config: ObservedConfig, outcome: ConfigOutcome): Promise<'unchanged' | 'written' | 'failed'> {
    const status = statusFor(outcome, config.status, new Date());
    if (sameStatus(config.status, status)) {
      this.written.delete(key);
      return 'unchanged';
    }
    const text = JSON.stringify(status.conditions.map((c) => [c.type, c.status, c.reason, c.message])) + `/${status.observedGeneration}/${status.matchedPods}`;
    if (this.written.get(key) === text) return 'written';
    const result = await this.deps.cluster.writeStatus(config.ref, status);
    this.deps.metrics?.statusWrite(result.ok ? 'ok' : 'error');
    if (!result.ok) {
      this.deps.metrics?.error('status');
      this.deps.logger.warn({ config: key, reason: result.error }, 'status not written; will retry');
      return 'failed';
    }
    this.written.set(key, text);
    return 'written';
  }

  private async recordEvent(key: string, ref: ConfigRef, outcome: ConfigOutcome): Promise<boolean> {
    const next = eventFor(outcome, desiredConditions(outcome));
    if (!next || this.eventKeys.get(key) === next.key) return true;
    const result = await this.deps.cluster.recordEvent(ref, next.event);
    this.deps.metrics?.eventRecorded(result.ok ? 'ok' : 'error');
    if (!result.ok) {
      this.deps.metrics?.error('event');
      this.deps.logger.warn({ config: key, reason: result.error }, 'event not recorded; will retry');
      return false;
    }
    this.eventKeys.set(key, next.key);
    return true;
  }
}

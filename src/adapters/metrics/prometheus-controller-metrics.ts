// ControllerMetrics over prom-client, in a registry of its own (served on the controller's metrics
// endpoint), next to the process metrics the sidecar also exports (prefix amesh_).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { SchemaVerdict } from '../../domain/plugins/plugin-schema-check.js';
import type { ControllerErrorKind, ControllerMetrics, ReconcileScope, SubscriptionOutcome } from '../../ports/controller-metrics.js';
import type { Outcome } from '../../ports/metrics.js';

const RECONCILE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class PrometheusControllerMetrics implements ControllerMetrics {
  readonly registry = new Registry();
  private readonly reconciles = new Histogram({
    name: 'amesh_controller_reconcile_seconds',
    help: 'reconcile passes (as leader) and their duration; _count counts them',
    labelNames: ['scope', 'outcome'],
    buckets: RECONCILE_BUCKETS,
    registers: [this.registry],
  });
  private readonly published = new Counter({
    name: 'amesh_controller_plugin_sets_published_total',
    help: 'pod plugin sets published with a new version (the pod set changed)',
    registers: [this.registry],
  });
  private readonly sent = new Counter({
    name: 'amesh_controller_plugin_sets_sent_total',
    help: 'plugin sets written to sidecar streams (on subscribe and on publish)',
    registers: [this.registry],
  });
  private readonly subscribedPods = new Gauge({ name: 'amesh_controller_subscribed_pods', help: 'pods with at least one subscribed sidecar', registers: [this.registry] });
  private readonly streams = new Gauge({ name: 'amesh_controller_subscription_streams', help: 'open sidecar subscription streams', registers: [this.registry] });
  private readonly subscriptions = new Counter({
    name: 'amesh_controller_subscriptions_total',
    help: 'sidecar subscriptions: accepted, refused while paused (not the leader), refused as invalid',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  private readonly reports = new Counter({ name: 'amesh_controller_sidecar_reports_total', help: 'problem reports received from sidecars', registers: [this.registry] });
  private readonly reportedProblems = new Counter({
    name: 'amesh_controller_sidecar_reported_problems_total',
    help: 'plugins sidecars reported they could not apply',
    registers: [this.registry],
  });
  private readonly statusWrites = new Counter({
    name: 'amesh_controller_status_writes_total',
    help: 'AmeshPluginConfig status writes',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  private readonly events = new Counter({
    name: 'amesh_controller_events_total',
    help: 'Kubernetes Events recorded on AmeshPluginConfigs',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  private readonly configs = new Gauge({
    name: 'amesh_controller_plugin_configs',
    help: 'AmeshPluginConfigs in the cache, by state (valid, invalid: not delivered)',
    labelNames: ['state'],
    registers: [this.registry],
  });
  private readonly pods = new Gauge({ name: 'amesh_controller_pods', help: 'pods in the cache', registers: [this.registry] });
  private readonly schemaChecks = new Counter({
    name: 'amesh_controller_plugin_schema_checks_total',
    help: "plugins checked against APISIX's schema, by verdict (valid, invalid, unknown)",
    labelNames: ['verdict'],
    registers: [this.registry],
  });
  private readonly watch = new Gauge({ name: 'amesh_controller_watch_connected', help: '1 while the watches on AmeshPluginConfigs and pods are up', registers: [this.registry] });
  private readonly leading = new Gauge({ name: 'amesh_controller_leader', help: '1 while this replica is the leader (delivers and writes status)', registers: [this.registry] });
  private readonly transitions = new Counter({
    name: 'amesh_controller_leadership_changes_total',
    help: 'leadership changes of this replica (elected, deposed)',
    labelNames: ['change'],
    registers: [this.registry],
  });
  private readonly errors = new Counter({
    name: 'amesh_controller_errors_total',
    help: 'failures by kind (reconcile, status, event, watch, lease)',
    labelNames: ['kind'],
    registers: [this.registry],
  });
  private isLeader = false;

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'amesh_' });
    this.leading.set(0);
    this.watch.set(0);
  }

  reconcile(scope: ReconcileScope, seconds: number, outcome: Outcome): void {
    this.reconciles.observe({ scope, outcome }, seconds);
  }
  setsPublished(count: number): void {
    this.published.inc(count);
  }
  setsSent(count: number): void {
    this.sent.inc(count);
  }
  subscribers(pods: number, streams: number): void {
    this.subscribedPods.set(pods);
    this.streams.set(streams);
  }
  subscription(outcome: SubscriptionOutcome): void {
    this.subscriptions.inc({ outcome });
  }
  sidecarReport(problems: number): void {
    this.reports.inc();
    this.reportedProblems.inc(problems);
  }
  statusWrite(outcome: Outcome): void {
    this.statusWrites.inc({ outcome });
  }
  eventRecorded(outcome: Outcome): void {
    this.events.inc({ outcome });
  }
  objects(valid: number, invalid: number, pods: number): void {
    this.configs.set({ state: 'valid' }, valid);
    this.configs.set({ state: 'invalid' }, invalid);
    this.pods.set(pods);
  }
  schemaCheck(verdict: SchemaVerdict['kind']): void {
    this.schemaChecks.inc({ verdict });
  }
  watchConnected(connected: boolean): void {
    this.watch.set(connected ? 1 : 0);
  }
  leader(leading: boolean): void {
    this.leading.set(leading ? 1 : 0);
    if (leading !== this.isLeader) this.transitions.inc({ change: leading ? 'elected' : 'deposed' });
    this.isLeader = leading;
  }
  error(kind: ControllerErrorKind): void {
    this.errors.inc({ kind });
  }
}

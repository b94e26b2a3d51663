// ControllerMetrics that records the series the Prometheus adapter would expose, by the same
// names and labels (`name{label="value"}`), for tests of the controller.
import type { SchemaVerdict } from '../../domain/plugins/plugin-schema-check.js';
import type { ControllerErrorKind, ControllerMetrics, ReconcileScope, SubscriptionOutcome } from '../../ports/controller-metrics.js';
import type { Outcome } from '../../ports/metrics.js';

export class MemoryControllerMetrics implements ControllerMetrics {
  /** Series → value; a histogram is recorded as its `_count` and `_sum`. */
  readonly series = new Map<string, number>([
    ['amesh_controller_leader', 0],
    ['amesh_controller_watch_connected', 0],
  ]);
  private isLeader = false;

  /** The value of a series, 0 when never touched (as a Prometheus counter starts). */
  value(series: string): number {
    return this.series.get(series) ?? 0;
  }

  private add(series: string, by = 1): void {
    this.series.set(series, this.value(series) + by);
  }

  reconcile(scope: ReconcileScope, seconds: number, outcome: Outcome): void {
    this.add(`amesh_controller_reconcile_seconds_count{scope="${scope}",outcome="${outcome}"}`);
    this.add(`amesh_controller_reconcile_seconds_sum{scope="${scope}",outcome="${outcome}"}`, seconds);
  }
  setsPublished(count: number): void {
    this.add('amesh_controller_plugin_sets_published_total', count);
  }
  setsSent(count: number): void {
    this.add('amesh_controller_plugin_sets_sent_total', count);
  }
  subscribers(pods: number, streams: number): void {
    this.series.set('amesh_controller_subscribed_pods', pods);
    this.series.set('amesh_controller_subscription_streams', streams);
  }
  subscription(outcome: SubscriptionOutcome): void {
    this.add(`amesh_controller_subscriptions_total{outcome="${outcome}"}`);
  }
  sidecarReport(problems: number): void {
    this.add('amesh_controller_sidecar_reports_total');
    this.add('amesh_controller_sidecar_reported_problems_total', problems);
  }
  statusWrite(outcome: Outcome): void {
    this.add(`amesh_controller_status_writes_total{outcome="${outcome}"}`);
  }
  eventRecorded(outcome: Outcome): void {
    this.add(`amesh_controller_events_total{outcome="${outcome}"}`);
  }
  objects(valid: number, invalid: number, pods: number): void {
    this.series.set('amesh_controller_plugin_configs{state="valid"}', valid);
    this.series.set('amesh_controller_plugin_configs{state="invalid"}', invalid);
    this.series.set('amesh_controller_pods', pods);
  }
  schemaCheck(verdict: SchemaVerdict['kind']): void {
    this.add(`amesh_controller_plugin_schema_checks_total{verdict="${verdict}"}`);
  }
  watchConnected(connected: boolean): void {
    this.series.set('amesh_controller_watch_connected', connected ? 1 : 0);
  }
  leader(leading: boolean): void {
    this.series.set('amesh_controller_leader', leading ? 1 : 0);
    if (leading !== this.isLeader) this.add(`amesh_controller_leadership_changes_total{change="${leading ? 'elected' : 'deposed'}"}`);
    this.isLeader = leading;
  }
  error(kind: ControllerErrorKind): void {
    this.add(`amesh_controller_errors_total{kind="${kind}"}`);
  }
}

// What every ControllerMetrics owes: the same series, by the same names and labels, for the same
// calls (what docs/operations.md and the Grafana dashboard rely on). Counters add, gauges hold the
// last value, leadership changes count only real changes, and the leader and watch gauges exist
// (at 0) before anything happened, so "no leader" is a value rather than a missing series.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ControllerMetrics } from '../../src/ports/controller-metrics.js';

export interface MetricsFixture {
  readonly metrics: ControllerMetrics;
  /** Every series now: `name{a="x",b="y"}` (labels in any order) → value. */
  read(): Promise<Map<string, number>>;
}

/** `name{b="2",a="1"}` → `name{a="1",b="2"}`. */
export function canonicalSeries(series: string): string {
  const open = series.indexOf('{');
  if (open < 0) return series;
  const labels = series.slice(open + 1, -1).match(/[a-zA-Z_]+="[^"]*"/g) ?? [];
  return `${series.slice(0, open)}{${[...labels].sort().join(',')}}`;
}

export function controllerMetricsContract(name: string, setup: () => MetricsFixture): void {
  const s = suite<{ f: MetricsFixture }>(`ControllerMetrics contract: ${name}`);
  s.before.each((ctx) => {
    ctx.f = setup();
  });
  const value = async (ctx: { f: MetricsFixture }, series: string): Promise<number | undefined> => {
    const all = await ctx.f.read();
    return all.get(canonicalSeries(series));
  };

  s('leader and watch gauges exist at 0 before anything happened', async (ctx) => {
    assert.is(await value(ctx, 'amesh_controller_leader'), 0);
    assert.is(await value(ctx, 'amesh_controller_watch_connected'), 0);
  });

  s('counters add up, per label', async (ctx) => {
    const m = ctx.f.metrics;
    m.reconcile('all', 0.01, 'ok');
    m.reconcile('all', 0.02, 'ok');
    m.reconcile('namespaces', 0.5, 'error');
    m.setsPublished(3);
    m.setsPublished(2);
    m.setsSent(4);
    m.subscription('accepted');
    m.subscription('paused');
    m.subscription('paused');
    m.sidecarReport(2);
    m.statusWrite('ok');
    m.statusWrite('error');
    m.eventRecorded('ok');
    m.schemaCheck('invalid');
    m.schemaCheck('valid');
    m.schemaCheck('valid');
    m.error('lease');
    m.error('lease');
    m.error('status');
    const expected: Record<string, number> = {
      'amesh_controller_reconcile_seconds_count{scope="all",outcome="ok"}': 2,
      'amesh_controller_reconcile_seconds_count{scope="namespaces",outcome="error"}': 1,
      amesh_controller_plugin_sets_published_total: 5,
      amesh_controller_plugin_sets_sent_total: 4,
      'amesh_controller_subscriptions_total{outcome="accepted"}': 1,
      'amesh_controller_subscriptions_total{outcome="paused"}': 2,
      amesh_controller_sidecar_reports_total: 1,
      amesh_controller_sidecar_reported_problems_total: 2,
      'amesh_controller_status_writes_total{outcome="ok"}': 1,
      'amesh_controller_status_writes_total{outcome="error"}': 1,
      'amesh_controller_events_total{outcome="ok"}': 1,
      'amesh_controller_plugin_schema_checks_total{verdict="valid"}': 2,
      'amesh_controller_plugin_schema_checks_total{verdict="invalid"}': 1,
      'amesh_controller_errors_total{kind="lease"}': 2,
      'amesh_controller_errors_total{kind="status"}': 1,
    };
    for (const [series, want] of Object.entries(expected)) assert.is(await value(ctx, series), want, series);
    const sum = await value(ctx, 'amesh_controller_reconcile_seconds_sum{scope="all",outcome="ok"}');
    assert.ok(sum !== undefined && Math.abs(sum - 0.03) < 1e-9, `sum ${sum}`);
  });

  s('gauges hold the last value', async (ctx) => {
    const m = ctx.f.metrics;
    m.subscribers(3, 4);
    m.subscribers(1, 2);
    m.objects(5, 1, 40);
    m.objects(4, 0, 41);
    m.watchConnected(true);
    assert.is(await value(ctx, 'amesh_controller_subscribed_pods'), 1);
    assert.is(await value(ctx, 'amesh_controller_subscription_streams'), 2);
    assert.is(await value(ctx, 'amesh_controller_plugin_configs{state="valid"}'), 4);
    assert.is(await value(ctx, 'amesh_controller_plugin_configs{state="invalid"}'), 0);
    assert.is(await value(ctx, 'amesh_controller_pods'), 41);
    assert.is(await value(ctx, 'amesh_controller_watch_connected'), 1);
  });

  s('leadership: the gauge follows, and only real changes count as transitions', async (ctx) => {
    const m = ctx.f.metrics;
    m.leader(false);
    m.leader(true);
    m.leader(true);
    assert.is(await value(ctx, 'amesh_controller_leader'), 1);
    m.leader(false);
    assert.is(await value(ctx, 'amesh_controller_leader'), 0);
    assert.is(await value(ctx, 'amesh_controller_leadership_changes_total{change="elected"}'), 1);
    assert.is(await value(ctx, 'amesh_controller_leadership_changes_total{change="deposed"}'), 1);
  });

  s.run();
}

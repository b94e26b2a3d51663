// docs/operations.md lists every metric the sidecar and the controller export (read from their
// real prom-client registries), and the Grafana dashboard under deploy/grafana queries only series
// that exist, through its Prometheus data source variable, with well-formed panels.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PrometheusControllerMetrics } from '../../src/adapters/metrics/prometheus-controller-metrics.js';
import { PrometheusMetrics } from '../../src/adapters/metrics/prometheus-metrics.js';
import { repoRoot } from '../support/shared-fixtures.js';

const DOC = readFileSync(join(repoRoot, 'docs/operations.md'), 'utf8');
const DASHBOARD = JSON.parse(readFileSync(join(repoRoot, 'deploy/grafana/amesh-dashboard.json'), 'utf8')) as {
  uid: string;
  templating: { list: { name: string; type: string; query: string }[] };
  panels: {
    id: number;
    type: string;
    title: string;
    description?: string;
    gridPos: { x: number; y: number; w: number; h: number };
    datasource?: { uid: string };
    targets?: { expr: string }[];
  }[];
};

/** Metric families of both processes, as Prometheus scrapes them. */
async function families(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const [process, registry] of [
    ['sidecar', new PrometheusMetrics().registry],
    ['controller', new PrometheusControllerMetrics().registry],
  ] as const) {
    for (const metric of await registry.getMetricsAsJSON()) out.set(metric.name, `${process} ${metric.type}`);
  }
  return out;
}

const s = suite('operations docs and Grafana dashboard');

s('docs/operations.md names every exported metric', async () => {
  const all = await families();
  assert.ok(all.size > 40, `only ${all.size} metrics found`);
  const missing = [...all.keys()].filter((name) => !DOC.includes(`\`${name}\``));
  assert.equal(missing, [], `not in docs/operations.md: ${missing.join(', ')}`);
  // And nothing listed there that does not exist (a renamed metric left behind).
  const listed = [...DOC.matchAll(/`(amesh_[a-z0-9_]+)`/g)].map((m) => m[1]!);
  const unknown = listed.filter((name) => !all.has(name) && !all.has(name.replace(/_(bucket|sum|count)$/, '')));
  assert.equal([...new Set(unknown)], [], `docs/operations.md lists metrics nobody exports: ${unknown.join(', ')}`);
});

s('the dashboard queries only exported series, through its data source variable', async () => {
  const all = await families();
  assert.ok(DASHBOARD.templating.list.some((v) => v.name === 'datasource' && v.type === 'datasource' && v.query === 'prometheus'));
  const queried = new Set<string>();
  for (const panel of DASHBOARD.panels.filter((p) => p.type !== 'row')) {
    assert.is(panel.datasource?.uid, '${datasource}', panel.title);
    assert.ok(panel.description && panel.description.length > 0, `${panel.title}: no description`);
    assert.ok(panel.targets && panel.targets.length > 0, `${panel.title}: no query`);
    for (const target of panel.targets!) for (const m of target.expr.matchAll(/\b(amesh_[a-z0-9_]+)/g)) queried.add(m[1]!);
  }
  const unknown = [...queried].filter((name) => !all.has(name) && !all.has(name.replace(/_(bucket|sum|count)$/, '')));
  assert.equal(unknown, [], `the dashboard queries series nobody exports: ${unknown.join(', ')}`);
  // Every controller metric has a panel (the process metrics are sampled, not all charted).
  const controller = [...all].filter(([name, what]) => what.startsWith('controller') && name.startsWith('amesh_controller_')).map(([name]) => name);
  const uncharted = controller.filter((name) => ![...queried].some((q) => q === name || q.replace(/_(bucket|sum|count)$/, '') === name));
  assert.equal(uncharted, [], `controller metrics without a panel: ${uncharted.join(', ')}`);
});

s('panels have unique ids and fit the 24-column grid without overlapping', () => {
  const ids = DASHBOARD.panels.map((p) => p.id);
  assert.is(new Set(ids).size, ids.length);
  const cells = new Set<string>();
  for (const { title, gridPos } of DASHBOARD.panels) {
    assert.ok(gridPos.x >= 0 && gridPos.x + gridPos.w <= 24, `${title}: outside the grid`);
    for (let x = gridPos.x; x < gridPos.x + gridPos.w; x++)
      for (let y = gridPos.y; y < gridPos.y + gridPos.h; y++) {
        assert.not.ok(cells.has(`${x},${y}`), `${title} overlaps another panel at ${x},${y}`);
        cells.add(`${x},${y}`);
      }
  }
});

s.run();

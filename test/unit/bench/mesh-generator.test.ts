// The benchmark's synthetic mesh decodes and translates cleanly, and the translation does all the work
// the bench claims to measure (every cluster an upstream, every route an APISIX route, TCP VIPs stream routes).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeMesh, generateMesh, type MeshSpec } from '../../../bench/mesh-generator.js';
import { runTranslation } from '../../../bench/translate.bench.js';
import { decodeXdsResources, type XdsResource } from '../../../src/adapters/envoy/xds-resources.js';
import { FidelityReport } from '../../../src/domain/fidelity.js';
import { createSnapshot, danglingReferences } from '../../../src/domain/snapshot.js';

const spec: MeshSpec = { services: 20, endpointsPerService: 3, portsPerService: 2, subsetsFraction: 0.5, virtualServiceFraction: 0.5, seed: 7 };
const mesh = generateMesh(spec);
type Messages = { [R in XdsResource as R['type']]: R['message'] };
const ofType = <T extends keyof Messages>(type: T): Messages[T][] => mesh.filter((r) => r.type === type).map((r) => r.message as Messages[T]);

test("istiod-shaped resources: an EDS cluster and endpoints per service port, per-port route tables, Istio's cluster names", () => {
  const clusters = ofType('Cluster');
  const eds = clusters.filter((c) => c.name.startsWith('outbound|'));
  for (const c of eds) assert.match(c.name, /^outbound\|\d+\|(v1|v2|)\|[a-z]+-\d+\.ns-0\.svc\.cluster\.local$/);
  assert.equal(new Set(ofType('ClusterLoadAssignment').map((c) => c.clusterName)), new Set(eds.map((c) => c.name)));
  assert.ok(
    eds.some((c) => c.name.includes('|v1|')),
    'subset clusters',
  );
  assert.equal(
    clusters
      .filter((c) => !c.name.startsWith('outbound|'))
      .map((c) => c.name)
      .sort(),
    ['BlackHoleCluster', 'PassthroughCluster'],
  );
  assert.equal(
    ofType('Secret').map((s) => s.name),
    ['default', 'ROOTCA'],
  );
  for (const table of ofType('RouteConfiguration')) {
    assert.match(table.name, /^\d+$/);
    assert.ok(
      ofType('Listener').some((l) => l.name === `0.0.0.0_${table.name}`),
      `listener for route table ${table.name}`,
    );
    assert.equal(table.virtualHosts.at(-1)?.domains, ['*']);
  }
  const routes = ofType('RouteConfiguration').flatMap((t) => t.virtualHosts.flatMap((v) => v.routes));
  assert.ok(
    routes.some((r) => r.action?.$case === 'route' && r.action.value.clusterSpecifier?.$case === 'weightedClusters'),
    'weighted subsets',
  );
  assert.ok(
    routes.some((r) => r.match?.pathSpecifier?.$case === 'safeRegex'),
    'regex match',
  );
  assert.ok(
    routes.some((r) => 'envoy.filters.http.fault' in r.typedPerFilterConfig),
    'fault injection',
  );
});

test('deterministic for a seed', () => {
  const bytes = (s: MeshSpec) => Buffer.concat(encodeMesh(generateMesh(s)).map((r) => r.bytes));
  assert.ok(bytes(spec).equals(bytes(spec)));
  assert.not.ok(bytes(spec).equals(bytes({ ...spec, seed: 8 })));
});

test('decodes with no errors and no dangling references', () => {
  const decoded = decodeXdsResources(mesh, new FidelityReport());
  assert.equal(decoded.errors, []);
  assert.equal(danglingReferences(createSnapshot('t', decoded.resources)), []);
});

test('the bench pipeline (bytes → APISIX objects) emits the expected object counts', () => {
  const run = runTranslation(encodeMesh(mesh), 'server_port');
  const clusters = ofType('Cluster').length;
  const routes = ofType('RouteConfiguration').reduce((n, t) => n + t.virtualHosts.reduce((m, v) => m + v.routes.length, 0), 0);
  const vipListeners = ofType('Listener').filter((l) => /^10\.\d+\.\d+\.\d+_\d+$/.test(l.name)).length;
  assert.ok(vipListeners > 0, 'TCP services');
  assert.equal(run.counts, {
    ssls: 1, // the client certificate of Istio mTLS, shared by every cluster
    upstreams: clusters - 1, // all but PassthroughCluster (ORIGINAL_DST)
    plugin_configs: 0,
    services: 0,
    routes, // every virtual host ends in a catch-all route, so no 404 routes are added
    stream_routes: vipListeners,
    global_rules: 0,
  });
  assert.is(run.changes, clusters - 1 + routes + vipListeners + 1);
  const config = run.config;
  const plugins = config.ofKind('routes').map((o) => Object.keys((o.value.plugins ?? {}) as object));
  assert.ok(plugins.some((p) => p.includes('traffic-split')) && plugins.some((p) => p.includes('proxy-rewrite')));
  assert.ok(plugins.filter((p) => p.includes('fault-injection')).length > ofType('RouteConfiguration').length, "VS faults besides allow_any's 502");
});

test.run();

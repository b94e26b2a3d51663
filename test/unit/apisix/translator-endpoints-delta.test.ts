// The Translator's endpoints-only path (an EDS push that changes nothing but endpoints re-renders only the
// upstreams it touches and patches the previous config) must give exactly what a fresh translation gives,
// and its delta must list exactly what diffConfigs would.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { generateMesh } from '../../../bench/mesh-generator.js';
import { Translator, translateSnapshot } from '../../../src/adapters/apisix/translate.js';
import { decodeXdsResources } from '../../../src/adapters/envoy/xds-resources.js';
import { diffConfigs } from '../../../src/domain/diff.js';
import { FidelityReport } from '../../../src/domain/fidelity.js';
import type { GatewayConfig } from '../../../src/domain/gateway-config.js';
import type { EndpointSet } from '../../../src/domain/mesh/endpoint.js';
import { patchMap } from '../../../src/domain/patched-map.js';
import { createSnapshot, snapshotOfMaps, type MeshSnapshot } from '../../../src/domain/snapshot.js';

const decoded = decodeXdsResources(
  generateMesh({ services: 12, endpointsPerService: 2, portsPerService: 2, subsetsFraction: 0.5, virtualServiceFraction: 0, seed: 3 }),
  new FidelityReport(),
);
const base = createSnapshot('v0', decoded.resources);
const edsNames = [...base.endpoints.keys()];

const canonical = (config: GatewayConfig): Record<string, string> => Object.fromEntries([...config.objects.keys()].map((k) => [k, config.canonicalOf(k)!]));
const describe = (changes: ReturnType<typeof diffConfigs>['changes']): string[] => changes.map((c) => `${c.op} ${c.key}`);

/** One EDS push: new endpoint sets for some names (scaled, reweighted, drained or emptied). */
const edit = fc.record({
  name: fc.constantFrom(...edsNames),
  kind: fc.constantFrom('scale', 'weight', 'drain', 'empty', 'same'),
  n: fc.integer({ min: 1, max: 4 }),
});

function edited(set: EndpointSet, kind: string, n: number): EndpointSet {
  const [first] = set.localities;
  if (!first || kind === 'same') return { ...set };
  if (kind === 'empty') return { ...set, localities: [] };
  const endpoints = first.endpoints.map((e, i) => (kind === 'weight' ? { ...e, weight: n * 10 + i } : kind === 'drain' && i === 0 ? { ...e, health: 'draining' as const } : e));
  const scaled = kind === 'scale' ? Array.from({ length: n }, (_, i) => ({ ...first.endpoints[0]!, host: `10.99.${n}.${i}` })) : endpoints;
  return { ...set, localities: [{ ...first, endpoints: scaled }, ...set.localities.slice(1)] };
}

test('endpoint-only pushes: same config and fidelity as a fresh translation; the delta is diffConfigs', () => {
  let updates = 0;
  fc.assert(
    fc.property(fc.array(fc.array(edit, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 6 }), fc.boolean(), (pushes, patched) => {
      const translator = new Translator();
      const first = translator.translate(base);
      assert.ok(first.ok);
      let snapshot: MeshSnapshot = base;
      let previous = first.value.config;
      let version = 0;
      for (const push of pushes) {
        const replaced = new Map(push.map((e) => [e.name, edited(snapshot.endpoints.get(e.name)!, e.kind, e.n)]));
        // The ADS client patches the previous map; a file source builds a new one: both must work.
        const endpoints = (patched ? patchMap(snapshot.endpoints, replaced) : undefined) ?? new Map([...snapshot.endpoints, ...replaced]);
        snapshot = snapshotOfMaps(`v${++version}`, { ...snapshot, endpoints });
        const incremental = translator.translate(snapshot);
        const fresh = translateSnapshot(snapshot);
        assert.ok(incremental.ok && fresh.ok);
        assert.equal(canonical(incremental.value.config), canonical(fresh.value.config));
        assert.is(incremental.value.config.version, snapshot.version);
        assert.equal(incremental.value.config.counts(), fresh.value.config.counts());
        assert.equal(new Set(incremental.value.report.records), new Set(fresh.value.report.records));
        assert.equal(incremental.value.report.counts(), fresh.value.report.counts());
        const delta = incremental.value.delta;
        assert.ok(delta, 'an endpoints-only push is translated as a delta');
        assert.is(delta.from, previous);
        assert.equal(describe(delta.changes.changes), describe(diffConfigs(previous, incremental.value.config).changes));
        updates += delta.changes.changes.length;
        previous = incremental.value.config;
      }
    }),
    { numRuns: 60 },
  );
  assert.ok(updates > 60, `pushes changed upstreams (${updates} updates)`);
});

test('a push that changes clusters (not only endpoints) is translated in full: no delta', () => {
  const translator = new Translator();
  assert.ok(translator.translate(base).ok);
  const clusters = new Map(base.clusters);
  const [name, cluster] = [...clusters][0]!;
  clusters.set(name, { ...cluster });
  const next = translator.translate(snapshotOfMaps('v1', { ...base, clusters }));
  assert.ok(next.ok);
  assert.is(next.value.delta, undefined);
});

test.run();

// The ADS client's assembler patches the previous snapshot's maps when one commit replaced some values
// of a kind: every snapshot it publishes must equal the one assembled from scratch from the same cache.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { encodeMesh, generateMesh } from '../../bench/mesh-generator.js';
import type { XdsResource } from '../../src/adapters/envoy/xds-resources.js';
import { NO_LOCAL_SECRETS, referencesOf, SnapshotAssembler, type KindChange } from '../../src/adapters/xds/dependency-tracker.js';
import { ResourceCache } from '../../src/adapters/xds/resource-cache.js';
import { xdsTypeOf } from '../../src/adapters/xds/xds-types.js';
import { FidelityReport } from '../../src/domain/fidelity.js';

const mesh = generateMesh({ services: 10, endpointsPerService: 2, subsetsFraction: 0.3, virtualServiceFraction: 0.3, seed: 5 });
type Assignment = Extract<XdsResource, { type: 'ClusterLoadAssignment' }>;
const assignments = mesh.filter((r): r is Assignment => r.type === 'ClusterLoadAssignment');

function put(cache: ResourceCache, resources: readonly XdsResource[], version: string, removed: readonly string[] = []): KindChange | undefined {
  const kind = resources[0]?.type ?? 'ClusterLoadAssignment';
  const incoming = encodeMesh(resources).map(({ typeUrl, bytes }) => ({ version, any: { typeUrl, value: Buffer.from(bytes) } }));
  const staged = cache.stage(xdsTypeOf(kind), incoming, { replaceAll: false, removed });
  assert.equal(staged.errors, []);
  const from = cache.generation(kind);
  cache.commit(staged);
  return { kind, from, to: cache.generation(kind), names: [...staged.puts.keys(), ...staged.deletes] };
}

const plain = (map: ReadonlyMap<string, unknown>): [string, unknown][] => [...map];

const edit = fc.record({ index: fc.nat({ max: assignments.length - 1 }), port: fc.integer({ min: 1000, max: 9000 }), op: fc.constantFrom('update', 'update', 'update', 'remove') });

test('patched snapshots equal snapshots assembled from scratch, through updates and removals of endpoints', () => {
  fc.assert(
    fc.property(fc.array(fc.uniqueArray(edit, { minLength: 1, maxLength: 4, selector: (e) => e.index }), { minLength: 1, maxLength: 8 }), (pushes) => {
      const cache = new ResourceCache();
      for (const type of ['Cluster', 'Listener', 'RouteConfiguration', 'ClusterLoadAssignment', 'Secret'] as const) {
        put(
          cache,
          mesh.filter((r) => r.type === type),
          'v0',
        );
      }
      const incremental = new SnapshotAssembler();
      incremental.assemble(cache, referencesOf(cache, NO_LOCAL_SECRETS), 'v0');
      pushes.forEach((push, i) => {
        const updates = push
          .filter((e) => e.op === 'update')
          .map((e): Assignment => {
            const { message } = assignments[e.index]!;
            const endpoints = message.endpoints.map((group) => ({ ...group, lbEndpoints: group.lbEndpoints.map((lb) => ({ ...lb, loadBalancingWeight: e.port })) }));
            return { type: 'ClusterLoadAssignment', message: { ...message, endpoints } };
          });
        const removed = push.filter((e) => e.op === 'remove').map((e) => assignments[e.index]!.message.clusterName);
        const change = put(
          cache,
          updates,
          `v${i + 1}`,
          removed.filter((name) => !updates.some((u) => u.message.clusterName === name)),
        );
        const references = referencesOf(cache, NO_LOCAL_SECRETS);
        const patched = incremental.assemble(cache, references, `v${i + 1}`, change);
        const fresh = new SnapshotAssembler().assemble(cache, references, `v${i + 1}`);
        for (const kind of ['listeners', 'routeTables', 'clusters', 'endpoints', 'secrets'] as const) {
          assert.equal(plain(patched.snapshot[kind]), plain(fresh.snapshot[kind]), kind);
        }
        const report = (groups: typeof patched.fidelityGroups): FidelityReport => {
          const r = new FidelityReport();
          for (const group of groups) r.recordGroup(group);
          return r;
        };
        assert.equal(report(patched.fidelityGroups).counts(), report(fresh.fidelityGroups).counts());
        assert.equal(patched.fidelity, fresh.fidelity);
      });
    }),
    { numRuns: 40 },
  );
});

test('an endpoints-only commit keeps every other kind map, and patches the endpoints map instead of copying it', () => {
  const cache = new ResourceCache();
  for (const type of ['Cluster', 'Listener', 'RouteConfiguration', 'ClusterLoadAssignment', 'Secret'] as const)
    put(
      cache,
      mesh.filter((r) => r.type === type),
      'v0',
    );
  const assembler = new SnapshotAssembler();
  const references = referencesOf(cache, NO_LOCAL_SECRETS);
  const before = assembler.assemble(cache, references, 'v0');
  const { message } = assignments[0]!;
  const change = put(cache, [{ type: 'ClusterLoadAssignment', message: { ...message, endpoints: [] } }], 'v1');
  const after = assembler.assemble(cache, references, 'v1', change);
  for (const kind of ['listeners', 'routeTables', 'clusters', 'secrets'] as const) assert.is(after.snapshot[kind], before.snapshot[kind], kind);
  assert.is.not(after.snapshot.endpoints, before.snapshot.endpoints);
  assert.is(after.snapshot.endpoints.get(message.clusterName)?.localities.length, 0);
  assert.is(after.snapshot.endpoints.constructor.name, 'PatchedMap');
});

test.run();

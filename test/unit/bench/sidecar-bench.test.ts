// The sidecar benchmark measures what it claims: a one-endpoint change on the server reaches the sink as
// exactly one changed upstream, with every stage of the update timed. No timing is asserted here (times
// are for `npm run bench:sidecar`, never for tests).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { STAGE_NAMES, startMeshServer, startPipeline } from '../../../bench/sidecar.bench.js';

test('a one-endpoint change reaches the sink as one upstream update, every stage timed', async () => {
  const served = await startMeshServer({ kind: 'generated', spec: { services: 20, endpointsPerService: 3, seed: 3 } });
  const pipeline = startPipeline({ address: served.address, portVariable: 'server_port' });
  try {
    const initial = await pipeline.initial;
    assert.ok(initial.objects['upstreams']! > 20, 'the mesh was applied');
    const nodes = (): Map<string, number> => new Map(pipeline.sink.applied.ofKind('upstreams').map((u) => [u.value['name'] as string, (u.value['nodes'] as unknown[]).length]));
    for (let k = 0; k < 4; k++) {
      const before = nodes();
      const measured = pipeline.arm();
      const change = served.changeEndpoint(k);
      const sample = await measured;
      assert.is(sample.changes, 1, `update ${k}: one object changed`);
      assert.is(sample.responses, 1, `update ${k}: one EDS response`);
      assert.is(change.op, k % 2 === 0 ? 'add' : 'remove');
      // Even updates add a (healthy) endpoint to a cluster, odd ones remove it again.
      const after = nodes();
      assert.is(after.get(change.cluster), before.get(change.cluster)! + (change.op === 'add' ? 1 : -1), `update ${k}: ${change.op} on ${change.cluster}`);
      for (const [name, count] of after) if (name !== change.cluster) assert.is(count, before.get(name), `update ${k}: ${name} untouched`);
      assert.ok(sample.propagationMs >= 0 && sample.cpuMs >= 0 && sample.updateCpuMs >= 0);
      for (const stage of STAGE_NAMES) assert.ok(Number.isFinite(sample.stages[stage]) && sample.stages[stage] >= 0, `stage ${stage}: ${sample.stages[stage]}`);
    }
    assert.equal(pipeline.problems, []);
  } finally {
    await pipeline.stop();
    await served.stop();
  }
});

test('serves the bookinfo example', async () => {
  const served = await startMeshServer({ kind: 'bookinfo' });
  const pipeline = startPipeline({ address: served.address, portVariable: undefined });
  try {
    const initial = await pipeline.initial;
    assert.ok(initial.objects['routes']! > 0 && initial.objects['upstreams']! > 0);
    const measured = pipeline.arm();
    served.changeEndpoint(0);
    assert.is((await measured).changes, 1);
  } finally {
    await pipeline.stop();
    await served.stop();
  }
});

test.run();

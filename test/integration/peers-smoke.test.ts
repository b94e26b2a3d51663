// The real xDS peers answer our generated grpc-js client: istiod (bookinfo file config, the
// productpage sidecar's node) and go-control-plane's test server (ADS, node test-id).
// Needs scripts/peers/build-peers.sh to have run (.ci/run does); otherwise says it is skipped.
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type GoControlPlanePeer, type IstiodPeer, peersAvailable, startGoControlPlane, startIstiod } from '../support/peers.js';
import { CDS, LDS, istioSidecarNode, sotwFetch } from '../support/sotw-fetch.js';

const bookinfo = fileURLToPath(new URL('../peers/bookinfo-istio', import.meta.url));
const PRODUCTPAGE = istioSidecarNode({
  ip: '10.244.0.7',
  pod: 'productpage-v1-abc',
  namespace: 'default',
  labels: { app: 'productpage', version: 'v1' },
});
const REVIEWS = 'reviews.default.svc.cluster.local';

const available = peersAvailable();
const s = suite<{ istiod?: IstiodPeer; gcp?: GoControlPlanePeer }>('xDS peers: istiod and go-control-plane speak SotW ADS');

if (!available.istiod || !available.goControlPlane) {
  console.log(`peers-smoke: skipped: peers not built (run scripts/peers/build-peers.sh): ${available.reason ?? ''}`);
} else {
  s.before(async (ctx) => {
    [ctx.istiod, ctx.gcp] = await Promise.all([startIstiod({ configDir: bookinfo }), startGoControlPlane({ mode: 'ads', nodeId: 'test-id' })]);
  });
  s.after(async (ctx) => {
    await Promise.all([ctx.istiod?.stop(), ctx.gcp?.stop()]);
  });

  s('istiod: CDS and LDS for the productpage sidecar, which it treats as the productpage workload', async (ctx) => {
    const istiod = ctx.istiod!;
    const got = await sotwFetch({ address: istiod.address, node: PRODUCTPAGE, requests: [{ typeUrl: CDS }, { typeUrl: LDS }] });
    const clusters = got.get(CDS)?.names ?? [];
    for (const name of [
      `outbound|9080||${REVIEWS}`,
      `outbound|9080|v1|${REVIEWS}`,
      `outbound|9080|v2|${REVIEWS}`,
      `outbound|9080|v3|${REVIEWS}`,
      'outbound|9080|v1|ratings.default.svc.cluster.local',
      'outbound|27017||mongodb.default.svc.cluster.local',
      // Only because the WorkloadEntry at 10.244.0.7 in "default" matched the node:
      'inbound|9080||',
    ])
      assert.ok(clusters.includes(name), `CDS lacks ${name}; got ${clusters.join(', ')}`);
    const listeners = got.get(LDS)?.names ?? [];
    for (const name of ['virtualOutbound', 'virtualInbound', '0.0.0.0_9080']) assert.ok(listeners.includes(name), `LDS lacks ${name}; got ${listeners.join(', ')}`);
    assert.match(got.get(CDS)?.versionInfo ?? '', /^\d{4}-\d\d-\d\dT.*\/\d+$/); // istiod's push version
    // It logged no config errors while loading the bookinfo dir.
    const problems = istiod
      .logs()
      .split('\n')
      .filter((l) => /\terror\t/.test(l));
    assert.equal(problems, []);
  });

  s('go-control-plane (ads): CDS and LDS for test-id', async (ctx) => {
    const got = await sotwFetch({ address: ctx.gcp!.address, node: { id: 'test-id' }, requests: [{ typeUrl: CDS }, { typeUrl: LDS }] });
    assert.equal(got.get(CDS)?.versionInfo, 'v0');
    assert.equal([...(got.get(CDS)?.names ?? [])].sort(), ['cluster-v0-0', 'cluster-v0-1', 'cluster-v0-2', 'cluster-v0-3']);
    assert.equal(got.get(LDS)?.names.length, 6); // 2 HTTP (RDS), 2 scoped-RDS, 2 TCP
  });
}

s.run();

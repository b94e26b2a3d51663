// Smoke probe: do the built peers speak xDS to our generated grpc-js client?
//   npx tsx scripts/peers/probe.ts            start both peers (bookinfo config for istiod), probe, stop
//   npx tsx scripts/peers/probe.ts --istiod=127.0.0.1:15010 --gcp=127.0.0.1:18000   probe running ones
// For each: one SotW ADS stream, CDS then LDS (wildcard), each response ACKed once; prints counts/names.
import { fileURLToPath } from 'node:url';
import { type RunningPeer, startGoControlPlane, startIstiod } from '../../test/support/peers.js';
import { CDS, LDS, istioSidecarNode, sotwFetch } from '../../test/support/sotw-fetch.js';

const arg = (name: string): string | undefined => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

const PRODUCTPAGE = istioSidecarNode({
  ip: '10.244.0.7',
  pod: 'productpage-v1-abc',
  namespace: 'default',
  labels: { app: 'productpage', version: 'v1' },
});

async function probe(label: string, address: string, node: { id: string; cluster?: string; metadata?: Record<string, unknown> }): Promise<void> {
  const started = Date.now();
  const got = await sotwFetch({ address, node, requests: [{ typeUrl: CDS }, { typeUrl: LDS }] });
  console.log(`\n== ${label} at ${address}, node ${node.id} (${Date.now() - started} ms)`);
  for (const t of got.values()) {
    console.log(`${t.typeUrl.split('.').pop()}: ${t.names.length} resources, version ${t.versionInfo}, control plane ${t.controlPlane ?? '-'}`);
    for (const name of t.names) console.log(`  ${name}`);
  }
}

const peers: RunningPeer[] = [];
try {
  let istiod = arg('istiod');
  let gcp = arg('gcp');
  if (!istiod && !gcp) {
    const configDir = fileURLToPath(new URL('../../test/peers/bookinfo-istio', import.meta.url));
    const i = await startIstiod({ configDir });
    const g = await startGoControlPlane({ mode: 'ads', nodeId: 'test-id' });
    peers.push(i, g);
    istiod = i.address;
    gcp = g.address;
  }
  if (istiod) await probe('istiod', istiod, PRODUCTPAGE);
  if (gcp) await probe('go-control-plane (ads)', gcp, { id: 'test-id' });
} catch (err) {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
} finally {
  await Promise.all(peers.map((p) => p.stop()));
}

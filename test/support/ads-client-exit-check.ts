// Run as its own process by ads-client.test.ts (argument: sotw | delta): an AdsClient gets bookinfo from
// an XdsServer, its only watcher is disposed, the server is stopped. The process must then exit by itself;
// a client left running (channel, stream, reconnect timer) would keep it alive until the parent kills it.
import type { Node } from '../../src/adapters/envoy/ads-protocol.js';
import { XdsServer } from '../../src/adapters/xds-server/xds-server.js';
import { AdsClient } from '../../src/adapters/xds/ads-client.js';
import { bookinfoFixture, EDS, serve, withResource, loadAssignment } from './xds-fixtures.js';

const mode = process.argv[2] === 'delta' ? 'delta' : 'sotw';
const node: Node = {
  id: 'sidecar~10.0.0.1~exit-check.default~default.svc.cluster.local',
  cluster: 'exit-check',
  dynamicParameters: {},
  userAgentName: 'amesh-ts',
  extensions: [],
  clientFeatures: [],
  listeningAddresses: [],
};
const silent = { debug() {}, info() {}, warn() {}, error() {} };
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const server = new XdsServer({ stopGraceMs: 200, istiodStrict: true });
const address = await server.start('127.0.0.1:0');
const fixture = bookinfoFixture();
serve(server, fixture);
const client = new AdsClient({ mode, target: address, node, logger: silent, backoff: { initialMs: 20, maxMs: 100, multiplier: 2 } });
let published = 0;
const watching = client.watch({ onUpdate: () => void (published += 1), onError() {} });
const deadline = Date.now() + 5000;
while (published === 0 && Date.now() < deadline) await sleep(10);
watching.dispose();
await sleep(50);
const before = server.requests.length;
server.disconnectAll();
server.setResources(EDS, withResource(fixture[EDS], loadAssignment('outbound|9080|v3|reviews.default.svc.cluster.local', ['10.244.3.99'])));
await sleep(300);
console.log(`disposed: published ${published}, connected ${client.connected}, requests after dispose ${server.requests.length - before}, violations ${server.violations().length}`);
await server.stop();

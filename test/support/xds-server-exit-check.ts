// Run as its own process by xds-server.test.ts: a full client/server life that leaves a client stream open
// and a waitFor pending when stop() is called. The process must then exit by itself; a leaked server
// handle (listener, session, timer) would keep it alive until the parent's timeout kills it.
import { status as GrpcStatus } from '@grpc/grpc-js';
import { TYPE_URL } from '../../src/adapters/envoy/proto/type-urls.js';
import { XdsServer } from '../../src/adapters/xds-server/xds-server.js';
import { adsClient, deltaRequest, openDelta, openSotw, sotwRequest } from './raw-ads-stream.js';

const server = new XdsServer({ stopGraceMs: 200 });
const client = adsClient(await server.start('127.0.0.1:0'));
server.setResources(TYPE_URL.Cluster, []);
const sotw = openSotw(client);
const delta = openDelta(client);
sotw.send(sotwRequest({ typeUrl: TYPE_URL.Cluster }));
delta.send(deltaRequest({ typeUrl: TYPE_URL.Cluster, resourceNamesSubscribe: ['*', 'missing'] }));
await Promise.all([sotw.next(), delta.next()]);

const pending = server
  .waitFor(() => false, 60_000)
  .then(
    () => 'resolved',
    () => 'rejected',
  );
await server.stop();
const [status, waited] = await Promise.all([sotw.status, pending]);
client.close();
const code = status.code === GrpcStatus.UNAVAILABLE ? 'UNAVAILABLE' : String(status.code);
console.log(`stopped: stream ${code}, waitFor ${waited}`);

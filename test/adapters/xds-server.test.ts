// XdsServer driven by raw @grpc/grpc-js clients built from the same generated service definition: the
// answering rules of SotW and Delta ADS (istiod's, where it is stricter than the spec), the strict-mode
// violation log, payloads served unvalidated, disconnects, unix sockets, large messages, clean shutdown.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Cluster } from '../../src/adapters/envoy/generated/envoy/config/cluster/v3/cluster.js';
import { Node } from '../../src/adapters/envoy/generated/envoy/config/core/v3/base.js';
import { ClusterLoadAssignment } from '../../src/adapters/envoy/generated/envoy/config/endpoint/v3/endpoint.js';
import { RouteConfiguration } from '../../src/adapters/envoy/generated/envoy/config/route/v3/route.js';
import type { AggregatedDiscoveryServiceClient } from '../../src/adapters/envoy/generated/envoy/service/discovery/v3/ads.js';
import type { DeltaDiscoveryResponse, DiscoveryResponse } from '../../src/adapters/envoy/generated/envoy/service/discovery/v3/discovery.js';
import { Status } from '../../src/adapters/envoy/generated/google/rpc/status.js';
import { TYPE_URL } from '../../src/adapters/envoy/proto/type-urls.js';
import { XdsServer, type ResourceInput } from '../../src/adapters/xds-server/xds-server.js';
import { adsClient, deltaRequest, openDelta, openSotw, sotwRequest } from '../support/raw-ads-stream.js';

const CDS = TYPE_URL.Cluster;
const EDS = TYPE_URL.ClusterLoadAssignment;
const LDS = TYPE_URL.Listener;
const RDS = TYPE_URL.RouteConfiguration;

/** `variant` changes the bytes, hence the default per-resource version. */
const cluster = (name: string, variant = ''): ResourceInput => ({
  name,
  resource: Cluster.encode(Cluster.fromPartial({ name, altStatName: variant })).finish(),
});
const route = (name: string, variant = ''): ResourceInput => ({
  name,
  resource: RouteConfiguration.encode(RouteConfiguration.fromPartial({ name, virtualHosts: variant ? [{ name: variant }] : [] })).finish(),
});
const endpoints = (clusterName: string, variant = ''): ResourceInput => ({
  name: clusterName,
  resource: ClusterLoadAssignment.encode(ClusterLoadAssignment.fromPartial({ clusterName, endpoints: variant ? [{ priority: 1 }] : [] })).finish(),
});

const sotwNames = (r: DiscoveryResponse): string[] => r.resources.map((a) => Cluster.decode(a.value).name);
const routeNames = (r: DiscoveryResponse): string[] => r.resources.map((a) => RouteConfiguration.decode(a.value).name);
const deltaNames = (r: DeltaDiscoveryResponse): string[] => r.resources.map((x) => x.name);
const versions = (r: DeltaDiscoveryResponse): Record<string, string> => Object.fromEntries(r.resources.map((x) => [x.name, x.version]));

interface Context {
  server: XdsServer;
  client: AggregatedDiscoveryServiceClient;
}

const s = suite<Context>('XdsServer', {} as Context);

s.before.each(async (ctx) => {
  ctx.server = new XdsServer();
  ctx.client = adsClient(await ctx.server.start('127.0.0.1:0'));
});

s.after.each(async (ctx) => {
  ctx.client.close();
  await ctx.server.stop();
});

s('SotW wildcard CDS: all clusters, ACK unanswered, updates pushed, NACK and stale nonce recorded', async ({ server, client }) => {
  server.setResources(CDS, [cluster('a'), cluster('b')]);
  const cds = openSotw(client);
  const node = Node.fromPartial({ id: 'sidecar~10.0.0.1~reviews-v1.default~default.svc.cluster.local' });
  cds.send(sotwRequest({ typeUrl: CDS, node }));
  const first = await cds.next();
  assert.equal(sotwNames(first), ['a', 'b']);
  assert.is(first.versionInfo, '1');
  assert.is(first.typeUrl, CDS);

  cds.send(sotwRequest({ typeUrl: CDS, versionInfo: first.versionInfo, responseNonce: first.nonce }));
  const ack = await server.waitFor((e) => e.nonce === first.nonce, 1000);
  assert.ok(ack.ack);
  assert.is(ack.nack, undefined);
  await cds.expectNone();

  server.setResources(CDS, [cluster('a'), cluster('c')]);
  const second = await cds.next();
  assert.equal(sotwNames(second), ['a', 'c'], 'full state: b is gone by omission');
  assert.is(second.versionInfo, '2');
  assert.is.not(second.nonce, first.nonce);

  const errorDetail = Status.fromPartial({ code: GrpcStatus.INVALID_ARGUMENT, message: 'cluster c: no endpoints' });
  cds.send(sotwRequest({ typeUrl: CDS, versionInfo: '1', responseNonce: second.nonce, errorDetail }));
  const nack = await server.waitFor((e) => e.nack !== undefined, 1000);
  assert.equal(nack.nack, { code: GrpcStatus.INVALID_ARGUMENT, message: 'cluster c: no endpoints' });
  assert.is(nack.ack, false);
  assert.is(nack.versionInfo, '1', 'a NACK carries the previous good version');
  await cds.expectNone();

  cds.send(sotwRequest({ typeUrl: CDS, versionInfo: '1', responseNonce: first.nonce }));
  const stale = await server.waitFor((e) => e.stale, 1000);
  assert.is(stale.ack, false);
  await cds.expectNone();

  assert.is(server.requests[0]?.node?.id, node.id);
  assert.is(server.requests[1]?.node, undefined, 'later requests carry no node');
  const [info] = server.connectedStreams();
  assert.is(info?.node?.id, node.id, 'the stream remembers the first node');
  assert.equal(info?.subscriptions, [{ typeUrl: CDS, wildcard: true, names: [] }]);
  cds.cancel();
});

s('SotW RDS: named subscription; unknown names omitted; removals unanswered; empty list unsubscribes', async ({ server, client }) => {
  server.setResources(RDS, [route('80'), route('8080'), route('9080')]);
  const rds = openSotw(client);
  rds.send(sotwRequest({ typeUrl: RDS, resourceNames: ['80', 'missing'] }));
  const r1 = await rds.next();
  assert.equal(routeNames(r1), ['80']);

  rds.send(sotwRequest({ typeUrl: RDS, resourceNames: ['80', '9080'], versionInfo: r1.versionInfo, responseNonce: r1.nonce }));
  const r2 = await rds.next();
  assert.equal(routeNames(r2), ['80', '9080'], 'an added name is answered with the whole subscribed set');

  rds.send(sotwRequest({ typeUrl: RDS, resourceNames: ['9080'], versionInfo: r2.versionInfo, responseNonce: r2.nonce }));
  await rds.expectNone();

  server.setResources(RDS, [route('80'), route('9080', 'changed')]);
  const r3 = await rds.next();
  assert.equal(routeNames(r3), ['9080']);

  rds.send(sotwRequest({ typeUrl: RDS, resourceNames: [], versionInfo: r3.versionInfo, responseNonce: r3.nonce }));
  await server.waitFor((e) => e.nonce === r3.nonce, 1000);
  server.setResources(RDS, [route('80', 'again'), route('9080', 'again')]);
  await rds.expectNone();
  assert.equal(server.connectedStreams()[0]?.subscriptions, [{ typeUrl: RDS, wildcard: false, names: [] }]);
  rds.cancel();
});

s('a type never set is held, then served on its first setResources, even when empty', async ({ server, client }) => {
  const lds = openSotw(client);
  lds.send(sotwRequest({ typeUrl: LDS }));
  await server.waitFor((e) => e.typeUrl === LDS, 1000);
  await lds.expectNone();
  server.setResources(LDS, [], { version: '2026-08-22T00:00:00Z/1' });
  const r = await lds.next();
  assert.equal(r.resources, []);
  assert.is(r.versionInfo, '2026-08-22T00:00:00Z/1');
  lds.cancel();
});

s('Delta wildcard: everything, then only changes; identical re-set sends nothing; removal', async ({ server, client }) => {
  server.setResources(CDS, [cluster('a'), cluster('b')]);
  const d = openDelta(client);
  d.send(deltaRequest({ typeUrl: CDS, resourceNamesSubscribe: ['*'] }));
  const r1 = await d.next();
  assert.equal(deltaNames(r1), ['a', 'b']);
  assert.equal(r1.removedResources, []);
  assert.ok(r1.resources.every((x) => x.version.length > 0 && x.resource?.typeUrl === CDS));

  d.send(deltaRequest({ typeUrl: CDS, responseNonce: r1.nonce }));
  assert.ok((await server.waitFor((e) => e.nonce === r1.nonce, 1000)).ack);
  await d.expectNone();

  server.setResources(CDS, [cluster('a'), cluster('b', 'changed'), cluster('c')]);
  const r2 = await d.next();
  assert.equal(deltaNames(r2), ['b', 'c']);
  assert.is.not(versions(r2).b, versions(r1).b);
  d.send(deltaRequest({ typeUrl: CDS, responseNonce: r2.nonce }));

  server.setResources(CDS, [cluster('a'), cluster('b', 'changed'), cluster('c')]);
  await d.expectNone();

  server.removeResources(CDS, ['a']);
  const r3 = await d.next();
  assert.equal(deltaNames(r3), []);
  assert.equal(r3.removedResources, ['a']);
  assert.is(server.removeResources(CDS, ['a']), r3.systemVersionInfo, 'removing nothing: no new version');
  await d.expectNone();

  // Legacy wildcard: a first request for CDS that names nothing.
  const legacy = openDelta(client);
  legacy.send(deltaRequest({ typeUrl: CDS }));
  assert.equal(deltaNames(await legacy.next()), ['b', 'c']);
  d.cancel();
  legacy.cancel();
});

s('Delta named: absent names come back in removed_resources and are sent once they exist', async ({ server, client }) => {
  server.setResources(EDS, [endpoints('x')]);
  const d = openDelta(client);
  d.send(deltaRequest({ typeUrl: EDS, resourceNamesSubscribe: ['x', 'y'] }));
  const r1 = await d.next();
  assert.equal(deltaNames(r1), ['x']);
  assert.equal(r1.removedResources, ['y']);
  d.send(deltaRequest({ typeUrl: EDS, responseNonce: r1.nonce }));

  server.setResources(EDS, [endpoints('x'), endpoints('y'), endpoints('z')]);
  const r2 = await d.next();
  assert.equal(deltaNames(r2), ['y'], 'z is not subscribed');
  d.send(deltaRequest({ typeUrl: EDS, responseNonce: r2.nonce }));

  d.send(deltaRequest({ typeUrl: EDS, resourceNamesUnsubscribe: ['x'] }));
  await d.expectNone();
  server.setResources(EDS, [endpoints('x', 'changed'), endpoints('y'), endpoints('z')]);
  await d.expectNone();

  d.send(deltaRequest({ typeUrl: EDS, resourceNamesSubscribe: ['y'] }));
  const r3 = await d.next();
  assert.equal(deltaNames(r3), ['y'], 'a re-subscribed name is sent again even though the client has it');
  d.cancel();
});

s('Delta reconnect: initial_resource_versions spare unchanged resources', async ({ server, client }) => {
  server.setResources(CDS, [cluster('a'), cluster('b'), cluster('c')]);
  const d1 = openDelta(client);
  d1.send(deltaRequest({ typeUrl: CDS, resourceNamesSubscribe: ['*'] }));
  const held = versions(await d1.next());
  d1.cancel();

  server.setResources(CDS, [cluster('a'), cluster('b', 'changed'), cluster('d')]);
  const d2 = openDelta(client);
  d2.send(deltaRequest({ typeUrl: CDS, resourceNamesSubscribe: ['*'], initialResourceVersions: held }));
  const r = await d2.next();
  assert.equal(deltaNames(r), ['b', 'd']);
  assert.equal(r.removedResources, ['c']);
  const event = server.requests.at(-1);
  assert.equal(event?.initialResourceVersions, held);
  assert.ok((event?.stream ?? 0) > (server.requests[0]?.stream ?? 0), 'a new stream id');
  d2.cancel();
});

s('istiodStrict: subscription changes on an ACK and no-op spontaneous requests are violations', async () => {
  const strict = new XdsServer({ istiodStrict: true });
  const client = adsClient(await strict.start('127.0.0.1:0'));
  try {
    strict.setResources(EDS, [endpoints('x'), endpoints('y')]);
    const d = openDelta(client);
    d.send(deltaRequest({ typeUrl: EDS, resourceNamesSubscribe: ['x'] }));
    const r1 = await d.next();
    d.send(deltaRequest({ typeUrl: EDS, responseNonce: r1.nonce }));
    d.send(deltaRequest({ typeUrl: EDS, resourceNamesSubscribe: ['y'] }));
    const r2 = await d.next();
    assert.equal(strict.violations(), [], 'ACK alone, then a nonce-less change: what istiod wants');

    const mark = strict.requests.length;
    d.send(deltaRequest({ typeUrl: EDS, responseNonce: r2.nonce, resourceNamesSubscribe: ['z'] }));
    d.send(deltaRequest({ typeUrl: EDS, resourceNamesSubscribe: ['y'] }));
    await strict.waitFor((e) => e.nonce === '' && e.subscribe?.[0] === 'y', 1000, { since: mark });
    assert.equal(
      strict.violations().map((v) => [v.kind, v.nonce, v.subscribe]),
      [
        ['ack-changed-subscriptions', r2.nonce, ['z']],
        ['spontaneous-request-changed-nothing', '', ['y']],
      ],
    );
    d.cancel();
  } finally {
    client.close();
    await strict.stop();
  }
});

s('payloads are served as given: malformed bytes, foreign type URLs, duplicate names', async ({ server, client }) => {
  const garbage = new Uint8Array([0xff, 0xff, 0xff, 0x0f]);
  const foreign = { typeUrl: RDS, value: route('r').resource as Uint8Array };
  server.setResources(CDS, [{ name: 'garbage', resource: garbage }, { name: 'foreign', resource: foreign }, cluster('dup'), cluster('dup', 'second')]);
  const sotw = openSotw(client);
  sotw.send(sotwRequest({ typeUrl: CDS }));
  const r = await sotw.next();
  assert.equal(
    r.resources.map((a) => a.typeUrl),
    [CDS, RDS, CDS, CDS],
  );
  assert.equal(new Uint8Array(r.resources[0]!.value), garbage);
  assert.equal(new Uint8Array(r.resources[1]!.value), foreign.value);

  const delta = openDelta(client);
  delta.send(deltaRequest({ typeUrl: CDS, resourceNamesSubscribe: ['*'] }));
  const d = await delta.next();
  assert.equal(deltaNames(d), ['garbage', 'foreign', 'dup', 'dup']);
  assert.equal(new Uint8Array(d.resources[0]!.resource!.value), garbage);
  sotw.cancel();
  delta.cancel();
});

s('disconnectAll ends every stream with UNAVAILABLE; the client can open new ones', async ({ server, client }) => {
  server.setResources(CDS, [cluster('a')]);
  const sotw = openSotw(client);
  const delta = openDelta(client);
  sotw.send(sotwRequest({ typeUrl: CDS }));
  delta.send(deltaRequest({ typeUrl: CDS, resourceNamesSubscribe: ['*'] }));
  await Promise.all([sotw.next(), delta.next()]);
  assert.equal(
    server
      .connectedStreams()
      .map((i) => i.mode)
      .sort(),
    ['delta', 'sotw'],
  );

  assert.is(server.disconnectAll(), 2);
  const [a, b] = await Promise.all([sotw.status, delta.status]);
  assert.is(a.code, GrpcStatus.UNAVAILABLE);
  assert.is(b.code, GrpcStatus.UNAVAILABLE);
  assert.equal(server.connectedStreams(), []);

  const again = openSotw(client);
  again.send(sotwRequest({ typeUrl: CDS }));
  assert.equal(sotwNames(await again.next()), ['a']);
  again.cancel();
});

s('large messages: a >4 MiB request is accepted and a >4 MiB response is sent', async ({ server, client }) => {
  const big = 'x'.repeat(5 * 1024 * 1024);
  server.setResources(CDS, [cluster('big', big)]);
  const sotw = openSotw(client);
  sotw.send(sotwRequest({ typeUrl: CDS }));
  const r = await sotw.next(10_000);
  assert.ok(r.resources[0]!.value.length > 5 * 1024 * 1024);

  const initial = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`outbound|9080|v${i}|reviews.default.svc.cluster.local`, 'v1']));
  const delta = openDelta(client);
  delta.send(deltaRequest({ typeUrl: EDS, resourceNamesSubscribe: ['*'], initialResourceVersions: initial }));
  const event = await server.waitFor((e) => e.mode === 'delta', 10_000);
  assert.is(Object.keys(event.initialResourceVersions ?? {}).length, 100_000);
  sotw.cancel();
  delta.cancel();
});

s.run();

const unix = suite('XdsServer on a unix socket, and shutdown');

unix('listens on unix:/path in a temp dir and serves', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'amesh-xds-server-'));
  const server = new XdsServer();
  try {
    const address = await server.start(`unix:${join(dir, 'xds.sock')}`);
    assert.is(address, `unix:${join(dir, 'xds.sock')}`);
    assert.ok(existsSync(join(dir, 'xds.sock')));
    server.setResources(CDS, [cluster('a')]);
    const client = adsClient(address);
    const cds = openSotw(client);
    cds.send(sotwRequest({ typeUrl: CDS }));
    assert.equal(sotwNames(await cds.next()), ['a']);
    client.close();
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

unix('stop() ends open streams, rejects pending waitFor, and lets the process exit', () => {
  // Open handles only show as a process that does not exit, so run a whole client/server life in a child.
  const script = fileURLToPath(new URL('../support/xds-server-exit-check.ts', import.meta.url));
  const child = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 20_000 });
  assert.is(child.signal, null, `the child was killed (timeout: handles left open?)\n${child.stderr}`);
  assert.is(child.status, 0, child.stderr);
  assert.match(child.stdout, /^stopped: stream UNAVAILABLE, waitFor rejected$/m);
});

unix.run();

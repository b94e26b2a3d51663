// The ADS client against the in-process xDS server (istiod-strict), in SotW and in Delta: bookinfo
// subscribed and published once warm, updates, NACKs that keep the last good configuration, verdicts
// that come later (a promise: the ACK waits, later responses queue in order), warming
// and does-not-exist, reconnect with resubscription, backoff, unix sockets, and a clean stop.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Node } from '../../src/adapters/envoy/ads-protocol.js';
import { Listener } from '../../src/adapters/envoy/generated/envoy/config/listener/v3/listener.js';
import type { Translation } from '../../src/adapters/apisix/translate.js';
import { XdsServer, type XdsRequestEvent, type XdsServerLogEvent } from '../../src/adapters/xds-server/xds-server.js';
import { AdsClient, type AdsClientOptions, type AdsMode } from '../../src/adapters/xds/ads-client.js';
import { translateUpdate } from '../../src/app/pipeline.js';
import type { LogFields, Logger } from '../../src/ports/logger.js';
import { ACCEPTED, type ConfigWatcher, type Disposable, type SourceUpdate, type UpdateVerdict } from '../../src/ports/config-source.js';
import { bookinfoFixture, CDS, EDS, edsCluster, LDS, loadAssignment, RDS, resourcesOf, SDS, serve, withResource, type XdsFixture } from '../support/xds-fixtures.js';

const NODE: Node = {
  id: 'sidecar~10.244.2.7~productpage-v1-6b746f74dc-9stvm.default~default.svc.cluster.local',
  cluster: 'productpage.default',
  dynamicParameters: {},
  userAgentName: 'amesh-ts',
  extensions: [],
  clientFeatures: [],
  listeningAddresses: [],
};

const DETAILS = 'outbound|9080||details.default.svc.cluster.local';
const REVIEWS_V3 = 'outbound|9080|v3|reviews.default.svc.cluster.local';
const MONGODB = 'outbound|27017||mongodb.default.svc.cluster.local';
const GHOST = 'outbound|9080||ghost.default.svc.cluster.local';
const EDS_NAMES = [
  'outbound|27017||mongodb.default.svc.cluster.local',
  'outbound|9080|v1|ratings.default.svc.cluster.local',
  'outbound|9080|v1|reviews.default.svc.cluster.local',
  'outbound|9080|v2|reviews.default.svc.cluster.local',
  'outbound|9080|v3|reviews.default.svc.cluster.local',
  'outbound|9080||details.default.svc.cluster.local',
  'outbound|9080||productpage.default.svc.cluster.local',
];
const CLUSTER_NAMES = [...EDS_NAMES, 'BlackHoleCluster', 'PassthroughCluster'].sort();
const LISTENER_NAMES = ['0.0.0.0_9080', '10.96.40.17_27017', 'virtualOutbound'];
const SECRET_NAMES = ['ROOTCA', 'default'];
const SHORT: Record<string, string> = { [CDS]: 'CDS', [EDS]: 'EDS', [LDS]: 'LDS', [RDS]: 'RDS', [SDS]: 'SDS' };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const sorted = (names: Iterable<string>): string[] => [...names].sort();

async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

class RecordingLogger implements Logger {
  readonly warnings: { fields: LogFields; message: string }[] = [];
  debug(): void {}
  info(): void {}
  warn(fields: LogFields, message: string): void {
    this.warnings.push({ fields, message });
  }
  error(fields: LogFields, message: string): void {
    this.warnings.push({ fields, message });
  }
  /** The delays the client announced before each reconnect. */
  retries(): number[] {
    return this.warnings.flatMap((w) => (typeof w.fields['retryInMs'] === 'number' ? [w.fields['retryInMs']] : []));
  }
}

interface Published {
  readonly update: SourceUpdate;
  readonly translation: Translation;
  readonly at: number;
}

/** Translates each update as the sidecar's SyncService does, and rejects what does not translate. */
class TranslatingWatcher implements ConfigWatcher {
  readonly published: Published[] = [];
  readonly rejected: string[] = [];
  /** While set, an update that translates waits for the test to settle its verdict (as the sidecar's apply does). */
  hold = false;
  readonly held: ((verdict: UpdateVerdict) => void)[] = [];
  onUpdate(update: SourceUpdate): UpdateVerdict | Promise<UpdateVerdict> {
    const translated = translateUpdate(update, { partial: true });
    if (!translated.ok) {
      const reason = translated.error.map((e) => `${e.resource}${e.field ? ` field ${e.field}` : ''}: ${e.message}`).join('; ');
      this.rejected.push(reason);
      return { accepted: false, reason };
    }
    this.published.push({ update, translation: translated.value, at: Date.now() });
    if (!this.hold) return ACCEPTED;
    return new Promise((resolve) => this.held.push(resolve));
  }
  /** Settles the oldest held verdict. */
  settle(verdict: UpdateVerdict): void {
    const next = this.held.shift();
    if (!next) throw new Error('no verdict is held');
    next(verdict);
  }
  onError(): void {}
  get last(): Published {
    const last = this.published.at(-1);
    if (!last) throw new Error('nothing published');
    return last;
  }
}

type ResponseEvent = Extract<XdsServerLogEvent, { kind: 'response' }>;

const FAST_BACKOFF = { initialMs: 20, maxMs: 200, multiplier: 2, random: () => 1 };

/** One server (istiod-strict), one client and its watcher per test. */
class Harness {
  readonly server: XdsServer;
  readonly responses: ResponseEvent[] = [];
  readonly logger = new RecordingLogger();
  readonly watcher = new TranslatingWatcher();
  /** Nonces the client is expected to NACK. */
  readonly nacked = new Set<string>();
  address = '';
  client: AdsClient | undefined;
  private subscription: Disposable | undefined;

  constructor(readonly mode: AdsMode) {
    this.server = new XdsServer({
      istiodStrict: true,
      stopGraceMs: 100,
      logger: (event) => {
        if (event.kind === 'response') this.responses.push(event);
      },
    });
  }

  async listen(address = '127.0.0.1:0'): Promise<void> {
    this.address = await this.server.start(address);
  }

  start(options: Partial<AdsClientOptions> = {}): AdsClient {
    const client = new AdsClient({ mode: this.mode, target: this.address, node: NODE, logger: this.logger, backoff: FAST_BACKOFF, doesNotExistTimeoutMs: 5000, ...options });
    this.client = client;
    this.subscription = client.watch(this.watcher);
    return client;
  }

  dispose(): void {
    this.subscription?.dispose();
    this.subscription = undefined;
  }

  async close(): Promise<void> {
    this.dispose();
    await this.server.stop();
  }

  /** Serves bookinfo and waits for the client's first snapshot. */
  async warm(fixture: XdsFixture = bookinfoFixture(), options: Partial<AdsClientOptions> = {}): Promise<Published> {
    serve(this.server, fixture);
    this.start(options);
    await until(() => this.watcher.published.length > 0, 'the first snapshot');
    await this.settled();
    return this.watcher.last;
  }

  /** Every response has had its answer (the client handles them in order, so the last suffices). */
  async settled(): Promise<void> {
    await until(() => this.responses.every((r) => this.answerTo(r) !== undefined || !this.isOpen(r.stream)), 'answers to every response');
  }

  answerTo(response: ResponseEvent): XdsRequestEvent | undefined {
    return this.server.requests.find((q) => q.stream === response.stream && q.typeUrl === response.typeUrl && q.nonce === response.nonce);
  }

  isOpen(stream: number): boolean {
    return this.server.connectedStreams().some((s) => s.stream === stream);
  }

  streamIds(): number[] {
    return [...new Set(this.server.requests.map((r) => r.stream))];
  }

  currentStream(): number {
    const open = this.server.connectedStreams();
    assert.is(open.length, 1, 'one open stream');
    return open[0]!.stream;
  }

  lastResponse(typeUrl: string, stream?: number): ResponseEvent {
    const found = this.responses.filter((r) => r.typeUrl === typeUrl && (stream === undefined || r.stream === stream)).at(-1);
    if (!found) throw new Error(`no ${SHORT[typeUrl]} response`);
    return found;
  }

  /** The first request of a type on a stream. */
  firstRequest(stream: number, typeUrl: string): XdsRequestEvent {
    const found = this.server.requests.find((r) => r.stream === stream && r.typeUrl === typeUrl);
    if (!found) throw new Error(`no ${SHORT[typeUrl]} request on stream ${stream}`);
    return found;
  }

  /**
   * The protocol checks every test ends with: each response answered once, by an ACK with the right
   * version and nonce (or an expected NACK); node on each stream's first request only; in delta, no
   * subscription change on an ACK and no istiod violation.
   */
  assertProtocol(): void {
    for (const response of this.responses) {
      const answer = this.answerTo(response);
      const label = `${SHORT[response.typeUrl]} response ${response.nonce} (stream ${response.stream})`;
      if (!answer) {
        assert.ok(!this.isOpen(response.stream), `${label} was never answered`);
        continue;
      }
      if (this.nacked.has(response.nonce)) {
        assert.ok(answer.nack, `${label} should have been NACKed`);
        continue;
      }
      assert.is(answer.nack, undefined, `${label} NACKed: ${answer.nack?.message}`);
      assert.ok(answer.ack, `${label}: the answer is not an ACK of the latest nonce`);
      if (this.mode === 'sotw') {
        assert.is(answer.versionInfo, response.version, `${label}: version_info of the ACK`);
      } else {
        assert.equal(answer.subscribe, [], `${label}: the ACK subscribes`);
        assert.equal(answer.unsubscribe, [], `${label}: the ACK unsubscribes`);
        assert.is(answer.initialResourceVersions, undefined, `${label}: the ACK carries initial versions`);
      }
    }
    for (const stream of this.streamIds()) {
      const requests = this.server.requests.filter((r) => r.stream === stream);
      assert.equal(requests[0]?.node?.id, NODE.id, `node on the first request of stream ${stream}`);
      assert.equal(
        requests
          .slice(1)
          .filter((r) => r.node)
          .map((r) => SHORT[r.typeUrl]),
        [],
        `node on a later request of stream ${stream}`,
      );
    }
    if (this.mode === 'delta') assert.equal(this.server.violations(), [], 'istiod violations');
  }
}

// What a snapshot and its translation contain.
const hostsOf = (p: Published, edsName: string): string[] | undefined => {
  const set = p.update.snapshot.endpoints.get(edsName);
  return set ? sorted(set.localities.flatMap((l) => l.endpoints.map((e) => e.host))) : undefined;
};
const upstreamHosts = (p: Published, cluster: string): string[] =>
  sorted(
    p.translation.config
      .ofKind('upstreams')
      .filter((u) => u.value['name'] === cluster)
      .flatMap((u) => (u.value['nodes'] as { host: string }[]).map((n) => n.host)),
  );
const splitWeights = (p: Published): number[] => {
  const canary = p.translation.config.ofKind('routes').find((r) => String(r.value['name']).endsWith('/canary'));
  return [...JSON.stringify(canary?.value['plugins'] ?? {}).matchAll(/"weight":(\d+)/g)].map((m) => Number(m[1]));
};

const withWeights =
  (v1: number, v3: number) =>
  (yaml: string): string =>
    yaml.replace('weight: 80', `weight: ${v1}`).replace('weight: 20', `weight: ${v3}`);
const withBadRegex = (yaml: string): string => yaml.replace('regex: "/reviews/[0-9]+"', 'regex: "/reviews/(?=x)"');
const staticCluster = (name: string) => resourcesOf(CDS, { name, type: 'STATIC', connect_timeout: '1s' })[0]!;

for (const mode of ['sotw', 'delta'] as const) {
  const s = suite<{ h: Harness }>(`AdsClient (${mode})`, { h: undefined as unknown as Harness });

  s.before.each(async (ctx) => {
    ctx.h = new Harness(mode);
    await ctx.h.listen();
  });

  s.after.each(async (ctx) => {
    await ctx.h.close();
  });

  s('bookinfo: LDS/CDS wildcard, then RDS and EDS by name; one snapshot once warm; every response ACKed; node once', async ({ h }) => {
    const first = await h.warm();
    await sleep(150);
    assert.is(h.watcher.published.length, 1, 'exactly one snapshot');
    assert.is(h.client!.current, first.update);

    const stream = h.currentStream();
    const cds = h.firstRequest(stream, CDS);
    const lds = h.firstRequest(stream, LDS);
    const eds = h.firstRequest(stream, EDS);
    const rds = h.firstRequest(stream, RDS);
    const sds = h.firstRequest(stream, SDS);
    const requests = h.server.requests;
    assert.ok(requests.indexOf(cds) < requests.indexOf(eds) && requests.indexOf(lds) < requests.indexOf(rds), 'named types are subscribed after what references them');
    for (const r of [cds, lds, eds, rds, sds]) assert.is(r.nonce, '', `${SHORT[r.typeUrl]}: the first request carries no nonce`);
    if (mode === 'sotw') {
      assert.equal(cds.resourceNames, []);
      assert.equal(lds.resourceNames, []);
      assert.equal(sorted(eds.resourceNames!), sorted(EDS_NAMES));
      assert.equal(rds.resourceNames, ['9080']);
      assert.equal(sorted(sds.resourceNames!), SECRET_NAMES);
    } else {
      assert.equal(cds.subscribe, ['*']);
      assert.equal(lds.subscribe, ['*']);
      assert.equal(sorted(eds.subscribe!), sorted(EDS_NAMES));
      assert.equal(rds.subscribe, ['9080']);
      assert.equal(sorted(sds.subscribe!), SECRET_NAMES);
    }

    const { snapshot } = first.update;
    assert.equal(sorted(snapshot.clusters.keys()), CLUSTER_NAMES);
    assert.equal(sorted(snapshot.listeners.keys()), LISTENER_NAMES);
    assert.equal(sorted(snapshot.endpoints.keys()), sorted(EDS_NAMES));
    assert.equal([...snapshot.routeTables.keys()], ['9080']);
    assert.equal(sorted(snapshot.secrets.keys()), SECRET_NAMES);
    const counts = first.translation.config.counts();
    assert.is(counts.routes, 10);
    assert.is(counts.upstreams, 9);
    assert.is(counts.stream_routes, 1);
    assert.is(counts.ssls, 1);
    assert.equal(upstreamHosts(first, REVIEWS_V3), ['10.244.3.50']);
    assert.equal(upstreamHosts(first, MONGODB), ['10.244.3.70']);
    assert.equal(splitWeights(first), [80, 20]);
    h.assertProtocol();
  });

  s('publishes nothing until EDS and RDS have arrived', async ({ h }) => {
    const fixture = bookinfoFixture();
    serve(h.server, fixture, [CDS, LDS, SDS]);
    const since = h.server.requests.length;
    h.start();
    // The server holds EDS and RDS (never set) after the client subscribes to them.
    await h.server.waitFor((e) => e.typeUrl === EDS, 3000, { since });
    await h.server.waitFor((e) => e.typeUrl === RDS, 3000, { since });
    await sleep(150);
    assert.is(h.watcher.published.length, 0, 'published without EDS and RDS');
    h.server.setResources(EDS, fixture[EDS]);
    await h.settled();
    await sleep(100);
    assert.is(h.watcher.published.length, 0, 'published without RDS');
    h.server.setResources(RDS, fixture[RDS]);
    await until(() => h.watcher.published.length > 0, 'the snapshot');
    await h.settled();
    await sleep(100);
    assert.is(h.watcher.published.length, 1);
    assert.equal(sorted(h.watcher.last.update.snapshot.endpoints.keys()), sorted(EDS_NAMES));
    assert.equal([...h.watcher.last.update.snapshot.routeTables.keys()], ['9080']);
    h.assertProtocol();
  });

  s('scaling a workload (EDS) publishes a snapshot with the new endpoints', async ({ h }) => {
    const fixture = bookinfoFixture();
    await h.warm(fixture);
    const stream = h.currentStream();
    h.server.setResources(EDS, withResource(fixture[EDS], loadAssignment(REVIEWS_V3, ['10.244.3.50', '10.244.3.51'])));
    await until(() => h.watcher.published.length === 2, 'a second snapshot');
    await h.settled();
    await sleep(100);
    assert.is(h.watcher.published.length, 2, 'one snapshot per update');
    const next = h.watcher.last;
    assert.equal(hostsOf(next, REVIEWS_V3), ['10.244.3.50', '10.244.3.51']);
    assert.equal(upstreamHosts(next, REVIEWS_V3), ['10.244.3.50', '10.244.3.51']);
    assert.equal(upstreamHosts(next, DETAILS), ['10.244.1.12'], 'other clusters unchanged');
    assert.is(h.client!.current, next.update);
    assert.is(h.currentStream(), stream);
    h.assertProtocol();
  });

  s('changing route weights (RDS) publishes a snapshot with the new weights', async ({ h }) => {
    await h.warm();
    h.server.setResources(RDS, bookinfoFixture(withWeights(50, 50))[RDS]);
    await until(() => h.watcher.published.length === 2, 'a second snapshot');
    await h.settled();
    assert.equal(splitWeights(h.watcher.last), [50, 50]);
    h.assertProtocol();
  });

  s('removing a cluster drops it and its endpoints and unsubscribes its EDS name; re-adding it waits for fresh endpoints', async ({ h }) => {
    const fixture = bookinfoFixture();
    await h.warm(fixture);
    const stream = h.currentStream();
    const since = h.server.requests.length;
    h.server.removeResources(CDS, [MONGODB]);
    if (mode === 'delta') assert.equal(h.lastResponse(CDS).removed, [MONGODB], 'delta: removed_resources');
    else assert.not.ok(h.lastResponse(CDS).resources.includes(MONGODB), 'SotW: absent from the full CDS state');
    await until(() => h.watcher.published.length === 2, 'a snapshot without the cluster');
    const without = h.watcher.last.update.snapshot;
    assert.not.ok(without.clusters.has(MONGODB));
    assert.not.ok(without.endpoints.has(MONGODB));
    assert.is(without.clusters.size, CLUSTER_NAMES.length - 1);
    const unsubscribe = await h.server.waitFor(
      (e) => e.typeUrl === EDS && (mode === 'sotw' ? e.resourceNames?.length === EDS_NAMES.length - 1 : e.unsubscribe?.length !== 0),
      3000,
      { since },
    );
    if (mode === 'sotw') assert.equal(sorted(unsubscribe.resourceNames!), sorted(EDS_NAMES.filter((n) => n !== MONGODB)));
    else {
      assert.equal(unsubscribe.unsubscribe, [MONGODB]);
      assert.equal(unsubscribe.subscribe, []);
      assert.is(unsubscribe.nonce, '', 'delta: a subscription change goes in a nonce-less request');
    }
    await h.settled();

    // Back, with other endpoints: no snapshot may show it with the endpoints it had before removal.
    const count = h.watcher.published.length;
    h.server.setResources(EDS, withResource(fixture[EDS], loadAssignment(MONGODB, ['10.244.3.99'], 27017)));
    h.server.setResources(CDS, fixture[CDS]);
    await until(() => h.watcher.published.some((p, i) => i >= count && hostsOf(p, MONGODB)?.[0] === '10.244.3.99'), 'the fresh endpoints');
    await h.settled();
    for (const p of h.watcher.published.slice(count)) {
      if (p.update.snapshot.clusters.has(MONGODB)) assert.equal(hostsOf(p, MONGODB), ['10.244.3.99'], `snapshot ${p.update.snapshot.version} has stale endpoints`);
    }
    assert.is(h.currentStream(), stream);
    h.assertProtocol();
  });

  /**
   * Serves `bad` for one type and expects a NACK whose message matches, the last good snapshot kept,
   * then serves `good` and expects an ACK on the same stream and a new snapshot.
   */
  async function rejects(h: Harness, typeUrl: string, bad: XdsFixture[typeof CDS], message: RegExp, good: XdsFixture[typeof CDS], check: (p: Published) => void): Promise<void> {
    const before = h.watcher.last;
    const count = h.watcher.published.length;
    const stream = h.currentStream();
    const goodVersion = h.lastResponse(typeUrl, stream).version;
    const since = h.server.requests.length;
    h.server.setResources(typeUrl, bad);
    const response = h.lastResponse(typeUrl, stream);
    h.nacked.add(response.nonce);
    const nack = await h.server.waitFor((e) => e.typeUrl === typeUrl && e.stream === stream && e.nonce === response.nonce, 3000, { since });
    assert.ok(nack.nack, `expected a NACK, got ${JSON.stringify(nack)}`);
    assert.match(nack.nack.message, message);
    assert.is(nack.nack.code, 3, 'INVALID_ARGUMENT');
    if (h.mode === 'sotw') assert.is(nack.versionInfo, goodVersion, 'SotW: the NACK carries the previous good version');
    await sleep(100);
    assert.is(h.watcher.published.length, count, 'nothing published for the rejected response');
    assert.is(h.client!.current, before.update, 'the last good snapshot stays current');
    assert.is(h.currentStream(), stream, 'the stream stays up');

    h.server.setResources(typeUrl, good);
    const next = h.lastResponse(typeUrl, stream);
    const ack = await h.server.waitFor((e) => e.typeUrl === typeUrl && e.nonce === next.nonce, 3000, { since });
    assert.is(ack.nack, undefined, `the good update was NACKed: ${ack.nack?.message}`);
    assert.is(ack.stream, stream);
    await until(() => h.watcher.published.length === count + 1, 'the snapshot of the good update');
    check(h.watcher.last);
    await h.settled();
  }

  s('NACK: malformed Any bytes', async ({ h }) => {
    const fixture = bookinfoFixture();
    await h.warm(fixture);
    const bad = [...fixture[CDS], { name: 'outbound|9080||bad.default.svc.cluster.local', resource: { typeUrl: CDS, value: Uint8Array.from([0x0a, 0x10, 0x41]) } }];
    const named = mode === 'delta' ? /Cluster "outbound\|9080\|\|bad\.default\.svc\.cluster\.local"/ : new RegExp(`Cluster "#${fixture[CDS].length}"`);
    await rejects(h, CDS, bad, named, [...fixture[CDS], staticCluster('extra')], (p) => assert.ok(p.update.snapshot.clusters.has('extra')));
    assert.match(h.server.requests.find((e) => e.nack)!.nack!.message, /cannot decode/);
    h.assertProtocol();
  });

  s('NACK: a resource whose type URL differs from the response', async ({ h }) => {
    const fixture = bookinfoFixture();
    await h.warm(fixture);
    const stray = { name: 'stray', resource: { typeUrl: LDS, value: Listener.encode(Listener.fromPartial({ name: 'stray' })).finish() } };
    const named = /Cluster "stray"/;
    await rejects(h, CDS, [...fixture[CDS], stray], named, [...fixture[CDS], staticCluster('extra')], (p) => assert.ok(p.update.snapshot.clusters.has('extra')));
    assert.match(h.server.requests.find((e) => e.nack)!.nack!.message, /envoy\.config\.listener\.v3\.Listener.*envoy\.config\.cluster\.v3\.Cluster/);
    h.assertProtocol();
  });

  s('NACK: duplicate names in one response', async ({ h }) => {
    const fixture = bookinfoFixture();
    await h.warm(fixture);
    const duplicate = fixture[CDS].find((r) => r.name === DETAILS)!;
    await rejects(
      h,
      CDS,
      [...fixture[CDS], duplicate],
      /Cluster "outbound\|9080\|\|details\.default\.svc\.cluster\.local" field name: duplicate/,
      [...fixture[CDS], staticCluster('extra')],
      (p) => assert.ok(p.update.snapshot.clusters.has('extra')),
    );
    h.assertProtocol();
  });

  s('NACK: an endpoint port over 65535 (Envoy refuses it) is NACKed naming the field', async ({ h }) => {
    const fixture = bookinfoFixture();
    await h.warm(fixture);
    const bad = withResource(fixture[EDS], loadAssignment(REVIEWS_V3, ['10.244.3.50'], 70000));
    const field =
      /ClusterLoadAssignment "outbound\|9080\|v3\|reviews\.default\.svc\.cluster\.local" field endpoints\[0\]\.lb_endpoints\[0\]\.endpoint\.address\.socket_address\.port_value: port 70000 is over 65535/;
    await rejects(h, EDS, bad, field, withResource(fixture[EDS], loadAssignment(REVIEWS_V3, ['10.244.3.51'])), (p) => assert.equal(upstreamHosts(p, REVIEWS_V3), ['10.244.3.51']));
    h.assertProtocol();
  });

  s('NACK: a route the watcher rejects (invalid RE2) is NACKed and undone', async ({ h }) => {
    const fixture = bookinfoFixture();
    await h.warm(fixture);
    const stream = h.currentStream();
    const goodVersion = h.lastResponse(RDS).version;
    const since = h.server.requests.length;
    h.server.setResources(RDS, bookinfoFixture(withBadRegex)[RDS]);
    const response = h.lastResponse(RDS);
    h.nacked.add(response.nonce);
    const nack = await h.server.waitFor((e) => e.typeUrl === RDS && e.nonce === response.nonce, 3000, { since });
    assert.ok(nack.nack, 'NACKed');
    assert.match(nack.nack.message, /RouteConfiguration "9080".*safe_regex\.regex/);
    if (mode === 'sotw') assert.is(nack.versionInfo, goodVersion, 'SotW: the NACK carries the previous good version');
    assert.is(h.watcher.rejected.length, 1);
    await sleep(100);
    assert.is(h.watcher.published.length, 1, 'nothing new published');
    assert.is(h.client!.current, h.watcher.last.update);

    // An unrelated update is published with the last good routes: the rejected ones were undone.
    h.server.setResources(EDS, withResource(fixture[EDS], loadAssignment(REVIEWS_V3, ['10.244.3.50', '10.244.3.51'])));
    await until(() => h.watcher.published.length === 2, 'the EDS update');
    assert.is(h.watcher.rejected.length, 1, 'the rejected routes came back');
    assert.equal(splitWeights(h.watcher.last), [80, 20]);
    assert.equal(hostsOf(h.watcher.last, REVIEWS_V3), ['10.244.3.50', '10.244.3.51']);

    // A good route update on the same stream is accepted.
    h.server.setResources(RDS, bookinfoFixture(withWeights(60, 40))[RDS]);
    await until(() => h.watcher.published.length === 3, 'the good RDS update');
    assert.equal(splitWeights(h.watcher.last), [60, 40]);
    assert.is(h.currentStream(), stream);
    await h.settled();
    h.assertProtocol();
  });

  if (mode === 'sotw') {
    s('does-not-exist: an EDS name never answered is taken as absent when its timer fires', async ({ h }) => {
      const fixture = bookinfoFixture();
      fixture[CDS].push(edsCluster(GHOST));
      serve(h.server, fixture);
      let subscribedAt = 0;
      h.server.onRequest((e) => {
        if (!subscribedAt && e.typeUrl === EDS && e.resourceNames?.includes(GHOST)) subscribedAt = Date.now();
      });
      h.start({ doesNotExistTimeoutMs: 300 });
      await until(() => subscribedAt > 0, 'the EDS subscription');
      await sleep(150);
      assert.is(h.watcher.published.length, 0, 'published while an EDS name is still warming');
      await until(() => h.watcher.published.length > 0, 'the snapshot after the timer');
      assert.ok(h.watcher.last.at - subscribedAt >= 280, `published ${h.watcher.last.at - subscribedAt} ms after subscribing`);
      assert.ok(h.watcher.last.update.snapshot.clusters.has(GHOST));
      assert.is(hostsOf(h.watcher.last, GHOST), undefined);
      await h.settled();
      // It shows up later: a new snapshot with its endpoints.
      h.server.setResources(EDS, [...fixture[EDS], loadAssignment(GHOST, ['10.244.9.9'])]);
      await until(() => h.watcher.published.length === 2, 'the late endpoints');
      assert.equal(hostsOf(h.watcher.last, GHOST), ['10.244.9.9']);
      await h.settled();
      h.assertProtocol();
    });
  } else {
    s('does-not-exist: a subscribed name in removed_resources is absent at once (no wait, no second publish)', async ({ h }) => {
      const fixture = bookinfoFixture();
      fixture[CDS].push(edsCluster(GHOST));
      serve(h.server, fixture);
      let subscribedAt = 0;
      h.server.onRequest((e) => {
        if (!subscribedAt && e.typeUrl === EDS && e.subscribe?.includes(GHOST)) subscribedAt = Date.now();
      });
      h.start({ doesNotExistTimeoutMs: 800 });
      await until(() => h.watcher.published.length > 0, 'the snapshot');
      assert.ok(
        h.responses.some((r) => r.typeUrl === EDS && r.removed.includes(GHOST)),
        'the server said the name does not exist',
      );
      assert.ok(h.watcher.last.at - subscribedAt < 500, `published ${h.watcher.last.at - subscribedAt} ms after subscribing`);
      assert.ok(h.watcher.last.update.snapshot.clusters.has(GHOST));
      assert.is(hostsOf(h.watcher.last, GHOST), undefined);
      await sleep(subscribedAt + 1100 - Date.now());
      assert.is(h.watcher.published.length, 1, 'published again when the (moot) timer fired');
      h.server.setResources(EDS, [...fixture[EDS], loadAssignment(GHOST, ['10.244.9.9'])]);
      await until(() => h.watcher.published.length === 2, 'the late endpoints');
      assert.equal(hostsOf(h.watcher.last, GHOST), ['10.244.9.9']);
      await h.settled();
      h.assertProtocol();
    });
  }

  s('reconnect: serves the last snapshot while away, resubscribes every type, converges on what changed meanwhile', async ({ h }) => {
    const fixture = bookinfoFixture();
    const first = await h.warm(fixture, { backoff: { initialMs: 300, maxMs: 1000, multiplier: 2, random: () => 1 } });
    const old = h.currentStream();
    const accepted = Object.fromEntries([CDS, EDS, LDS, RDS, SDS].map((t) => [t, h.lastResponse(t, old).version]));
    h.server.disconnectAll();
    // Changed while the client is away: nobody is connected to be told.
    h.server.setResources(EDS, withResource(fixture[EDS], loadAssignment(REVIEWS_V3, ['10.244.3.50', '10.244.3.52'])));
    await until(() => !h.client!.connected, 'the client to notice');
    await sleep(100);
    assert.is(h.client!.current, first.update, 'the last snapshot stays in force');
    assert.is(h.watcher.published.length, 1);

    await until(() => hostsOf(h.watcher.last, REVIEWS_V3)?.length === 2, 'the snapshot after reconnecting');
    await h.settled();
    assert.equal(hostsOf(h.watcher.last, REVIEWS_V3), ['10.244.3.50', '10.244.3.52']);
    assert.is(h.client!.current, h.watcher.last.update);
    const fresh = h.currentStream();
    assert.is.not(fresh, old);
    const first5 = [CDS, EDS, LDS, RDS, SDS].map((t) => h.firstRequest(fresh, t));
    for (const r of first5) assert.is(r.nonce, '', `${SHORT[r.typeUrl]}: nonces restart empty`);
    const [cds, eds, lds, rds, sds] = first5 as [XdsRequestEvent, XdsRequestEvent, XdsRequestEvent, XdsRequestEvent, XdsRequestEvent];
    if (mode === 'sotw') {
      for (const r of first5) assert.is(r.versionInfo, accepted[r.typeUrl], `${SHORT[r.typeUrl]}: the last accepted version`);
      assert.equal(sorted(eds.resourceNames!), sorted(EDS_NAMES));
      assert.equal(rds.resourceNames, ['9080']);
      assert.equal(sorted(sds.resourceNames!), SECRET_NAMES);
      assert.equal(cds.resourceNames, []);
      assert.equal(lds.resourceNames, []);
    } else {
      assert.equal(cds.subscribe, ['*']);
      assert.equal(lds.subscribe, ['*']);
      assert.equal(sorted(eds.subscribe!), sorted(EDS_NAMES));
      assert.equal(rds.subscribe, ['9080']);
      assert.equal(sorted(sds.subscribe!), SECRET_NAMES);
      assert.equal(sorted(Object.keys(cds.initialResourceVersions ?? {})), CLUSTER_NAMES);
      assert.equal(sorted(Object.keys(lds.initialResourceVersions ?? {})), LISTENER_NAMES);
      assert.equal(sorted(Object.keys(eds.initialResourceVersions ?? {})), sorted(EDS_NAMES));
      assert.equal(Object.keys(rds.initialResourceVersions ?? {}), ['9080']);
      assert.equal(sorted(Object.keys(sds.initialResourceVersions ?? {})), SECRET_NAMES);
      // The server trusts those versions: only what changed while away is sent again.
      const resent = h.responses.filter((r) => r.stream === fresh).flatMap((r) => r.resources);
      assert.equal(resent, [REVIEWS_V3], 'initial_resource_versions matched what the server had sent');
    }
    // SotW resends everything: the unchanged types publish nothing again.
    assert.is(h.watcher.published.length, 2, 'one snapshot for the one change');
    h.assertProtocol();
  });

  s('backoff grows while the server keeps failing and resets after a response', async ({ h }) => {
    let failing = true;
    h.server.onRequest(() => {
      if (failing) setImmediate(() => h.server.disconnectAll());
    });
    h.start({ backoff: { initialMs: 20, maxMs: 10_000, multiplier: 2, random: () => 1 } });
    await until(() => h.logger.retries().length >= 4, 'four failed streams');
    failing = false;
    assert.equal(h.logger.retries().slice(0, 4), [20, 40, 80, 160]);
    assert.is(h.watcher.published.length, 0);
    serve(h.server, bookinfoFixture());
    await until(() => h.watcher.published.length > 0, 'a snapshot once the server answers');
    await h.settled();
    const before = h.logger.retries().length;
    h.server.disconnectAll();
    await until(() => h.logger.retries().length > before, 'the next retry');
    assert.is(h.logger.retries()[before], 20, 'reset by the responses');
    await until(() => h.client!.connected && h.server.connectedStreams().length === 1, 'the reconnect');
    await h.settled();
    h.assertProtocol();
  });

  s('dispose() of the last watcher stops the client: stream closed, no reconnect', async ({ h }) => {
    const fixture = bookinfoFixture();
    await h.warm(fixture);
    const other = new TranslatingWatcher();
    const second = h.client!.watch(other);
    assert.is(other.published.length, 1, 'a late watcher gets the current snapshot');
    h.dispose();
    await sleep(100);
    assert.ok(h.client!.connected, 'still running for the other watcher');
    assert.is(h.server.connectedStreams().length, 1);
    second.dispose();
    assert.not.ok(h.client!.connected);
    await until(() => h.server.connectedStreams().length === 0, 'the stream to close');
    const requests = h.server.requests.length;
    h.server.disconnectAll();
    h.server.setResources(EDS, withResource(fixture[EDS], loadAssignment(REVIEWS_V3, ['10.244.3.53'])));
    await sleep(300);
    assert.is(h.server.requests.length, requests, 'requests after dispose');
    assert.is(h.server.connectedStreams().length, 0);
    assert.is(other.published.length, 1);
    h.assertProtocol();
  });

  s('serves over a unix socket target', async ({ h }) => {
    const dir = await mkdtemp(join(tmpdir(), 'amesh-ads-client-'));
    const unixServer = new Harness(mode);
    try {
      await unixServer.listen(`unix:${join(dir, 'xds.sock')}`);
      assert.is(unixServer.address, `unix:${join(dir, 'xds.sock')}`);
      const first = await unixServer.warm();
      assert.is(first.translation.config.counts().routes, 10);
      assert.equal(sorted(first.update.snapshot.endpoints.keys()), sorted(EDS_NAMES));
      unixServer.assertProtocol();
    } finally {
      await unixServer.close();
      await rm(dir, { recursive: true, force: true });
    }
    assert.is(h.server.requests.length, 0, 'nothing went to the TCP server');
  });

  s('a verdict that comes later holds the ACK; later responses wait for it and are handled in order', async ({ h }) => {
    const fixture = bookinfoFixture();
    const first = await h.warm(fixture);
    const stream = h.currentStream();
    h.watcher.hold = true;
    h.server.setResources(EDS, withResource(fixture[EDS], loadAssignment(REVIEWS_V3, ['10.244.3.50', '10.244.3.51'])));
    const eds = h.lastResponse(EDS);
    await until(() => h.watcher.held.length === 1, 'the EDS update offered');
    h.server.setResources(RDS, bookinfoFixture(withWeights(60, 40))[RDS]);
    const rds = h.lastResponse(RDS);
    await sleep(150);
    assert.is(h.answerTo(eds), undefined, 'EDS answered before its verdict');
    assert.is(h.answerTo(rds), undefined, 'RDS answered before the EDS verdict');
    assert.is(h.watcher.published.length, 2, 'the RDS update was offered before the EDS verdict settled');
    assert.is(h.client!.current, first.update, 'the snapshot in force is the last accepted one');

    h.watcher.settle(ACCEPTED);
    await until(() => h.watcher.held.length === 1, 'the RDS update offered after the EDS verdict');
    const edsAck = h.answerTo(eds);
    assert.ok(edsAck?.ack, 'EDS ACKed once its verdict settled');
    assert.is(h.answerTo(rds), undefined, 'RDS answered before its own verdict');
    assert.equal(hostsOf(h.watcher.last, REVIEWS_V3), ['10.244.3.50', '10.244.3.51'], 'built on the accepted EDS change');
    assert.equal(splitWeights(h.watcher.last), [60, 40]);

    h.watcher.settle(ACCEPTED);
    await h.settled();
    const rdsAck = h.answerTo(rds)!;
    assert.ok(h.server.requests.indexOf(edsAck) < h.server.requests.indexOf(rdsAck), 'answers in the order of the responses');
    assert.is(h.client!.current, h.watcher.last.update);
    assert.is(h.currentStream(), stream);
    h.assertProtocol();
  });

  s('a verdict that comes later as a rejection NACKs with its reason and undoes the change', async ({ h }) => {
    const fixture = bookinfoFixture();
    const first = await h.warm(fixture);
    const goodVersion = h.lastResponse(EDS).version;
    h.watcher.hold = true;
    h.server.setResources(EDS, withResource(fixture[EDS], loadAssignment(REVIEWS_V3, ['10.244.3.50', '10.244.3.51'])));
    const response = h.lastResponse(EDS);
    h.nacked.add(response.nonce);
    await until(() => h.watcher.held.length === 1, 'the EDS update offered');
    const since = h.server.requests.length;
    const reason = 'admin:http://127.0.0.1:9180 refused upstreams/u1: PUT /apisix/admin/upstreams/u1: 400 invalid configuration';
    h.watcher.settle({ accepted: false, reason });
    const nack = await h.server.waitFor((e) => e.typeUrl === EDS && e.nonce === response.nonce, 3000, { since });
    assert.is(nack.nack?.message, reason);
    if (mode === 'sotw') assert.is(nack.versionInfo, goodVersion, 'SotW: the NACK carries the previous good version');
    assert.is(h.client!.current, first.update, 'the last good snapshot stays in force');

    // The next update is built on the last good endpoints: the rejected ones were undone.
    h.watcher.hold = false;
    h.server.setResources(RDS, bookinfoFixture(withWeights(60, 40))[RDS]);
    await until(() => splitWeights(h.watcher.last)[0] === 60, 'the RDS update');
    assert.equal(hostsOf(h.watcher.last, REVIEWS_V3), ['10.244.3.50']);
    assert.is(h.client!.current, h.watcher.last.update);
    await h.settled();
    h.assertProtocol();
  });

  s('a stream that closes while a verdict is pending: no answer on it; the next stream asks from the settled state', async ({ h }) => {
    const fixture = bookinfoFixture();
    await h.warm(fixture);
    const before = new Set(h.streamIds());
    h.watcher.hold = true;
    h.server.setResources(EDS, withResource(fixture[EDS], loadAssignment(REVIEWS_V3, ['10.244.3.50', '10.244.3.51'])));
    const response = h.lastResponse(EDS);
    await until(() => h.watcher.held.length === 1, 'the EDS update offered');
    h.server.disconnectAll();
    await sleep(200); // the client notices and reconnects (20 ms backoff)
    const asked = (): number => h.server.requests.filter((r) => !before.has(r.stream)).length;
    assert.is(asked(), 0, 'the new stream asked before the pending verdict settled');

    h.watcher.hold = false;
    h.watcher.settle(ACCEPTED);
    await until(() => asked() > 0 && h.client!.connected, 'the new stream');
    await h.settled();
    assert.is(h.answerTo(response), undefined, 'answered on the closed stream');
    const hosts = h.client!.current!.snapshot.endpoints.get(REVIEWS_V3)!.localities.flatMap((l) => l.endpoints.map((e) => e.host));
    assert.equal(sorted(hosts), ['10.244.3.50', '10.244.3.51'], 'the accepted change stays');
    const fresh = h.currentStream();
    if (mode === 'delta') {
      const eds = h.firstRequest(fresh, EDS);
      assert.ok(eds.initialResourceVersions?.[REVIEWS_V3], 'the new stream tells what it holds');
    }
    h.assertProtocol();
  });

  if (mode === 'delta') {
    s('a stream that closes while a verdict is pending, then a rejection: the change is undone before the next stream says what it holds', async ({ h }) => {
      const fixture = bookinfoFixture();
      await h.warm(fixture);
      // A plain reconnect first: what the client reports holding for the endpoints it accepted.
      const streams = new Set(h.streamIds());
      h.server.disconnectAll();
      await until(() => h.streamIds().some((id) => !streams.has(id)), 'the reconnect');
      const reconnected = h.streamIds().find((id) => !streams.has(id))!;
      // On a loaded machine the new stream's EDS request can come after the others settle.
      await until(() => h.server.requests.some((r) => r.stream === reconnected && r.typeUrl === EDS), 'EDS on the reconnected stream');
      await h.settled();
      const goodVersion = h.firstRequest(reconnected, EDS).initialResourceVersions?.[REVIEWS_V3];
      assert.ok(goodVersion, 'the reconnect reports the endpoints it holds');

      const before = new Set(h.streamIds());
      h.watcher.hold = true;
      h.server.setResources(EDS, withResource(fixture[EDS], loadAssignment(REVIEWS_V3, ['10.244.3.50', '10.244.3.51'])));
      await until(() => h.watcher.held.length === 1, 'the EDS update offered');
      h.server.disconnectAll();
      await sleep(200);
      assert.equal(
        h.server.requests.filter((r) => !before.has(r.stream)),
        [],
        'the new stream asked before the pending verdict settled',
      );
      h.watcher.hold = false;
      h.watcher.settle({ accepted: false, reason: 'refused by the gateway' });
      await until(() => h.server.requests.some((r) => !before.has(r.stream) && r.typeUrl === EDS), 'the new stream');
      const fresh = h.server.requests.find((r) => !before.has(r.stream) && r.typeUrl === EDS)!;
      assert.is(fresh.initialResourceVersions?.[REVIEWS_V3], goodVersion, 'the rejected version was undone');
      // The server sends the newer endpoints again; this time they are accepted.
      await until(() => hostsOf(h.watcher.last, REVIEWS_V3)?.length === 2 && h.client!.current === h.watcher.last.update, 'the endpoints again');
      await h.settled();
      h.assertProtocol();
    });
  }

  s('dispose() lets the process exit (no open handles)', () => {
    const script = fileURLToPath(new URL('../support/ads-client-exit-check.ts', import.meta.url));
    const child = spawnSync(process.execPath, ['--import', 'tsx', script, mode], { encoding: 'utf8', timeout: 20_000 });
    assert.is(child.signal, null, `the child was killed (timeout: handles left open?)\n${child.stdout}\n${child.stderr}`);
    assert.is(child.status, 0, child.stderr);
    assert.match(child.stdout, /^disposed: published 1, connected false, requests after dispose 0, violations 0$/m);
  });

  s.run();
}

// A flood of pushes (issue 12: 1,000 EDS pushes took 10 s to reach the latest, one apply each): the
// ADS client marks a publish made while newer responses wait behind it (SourceUpdate.newerPending),
// and the SyncService judges such an update on its translation alone and applies only the newest.
// Every response is still answered (ACK, or NACK for what does not translate), and the last one of a
// flood still waits for its apply, so that a refusal by a sink's target is NACKed.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Node } from '../../src/adapters/envoy/ads-protocol.js';
import { MemoryMetrics } from '../../src/adapters/memory/memory-metrics.js';
import { XdsServer, type XdsServerLogEvent } from '../../src/adapters/xds-server/xds-server.js';
import { AdsClient } from '../../src/adapters/xds/ads-client.js';
import { SyncService } from '../../src/app/sidecar/sync-service.js';
import type { GatewayConfig } from '../../src/domain/gateway-config.js';
import type { ApplyResult, ConfigSink, SinkUpdate } from '../../src/ports/config-sink.js';
import type { ConfigSource, ConfigWatcher, Disposable, SourceUpdate, UpdateVerdict } from '../../src/ports/config-source.js';
import { RecordingLogger, until } from '../support/mesh-sidecar.js';
import { loadFile } from '../support/translate-file.js';
import { bookinfoFixture, EDS, loadAssignment, serve, withResource } from '../support/xds-fixtures.js';

const bookinfo = fileURLToPath(new URL('../../examples/bookinfo/sidecar-resources.yaml', import.meta.url));
const DETAILS = 'outbound|9080||details.default.svc.cluster.local';
const NODE: Node = {
  id: 'sidecar~10.244.2.7~productpage-v1-6b746f74dc-9stvm.default~default.svc.cluster.local',
  cluster: 'productpage.default',
  dynamicParameters: {},
  userAgentName: 'amesh-ts',
  extensions: [],
  clientFeatures: [],
  listeningAddresses: [],
};

/** A sink whose applies wait for the test while `held`, and answer at once otherwise. */
class GatedSink implements ConfigSink {
  readonly target = 'gated:test';
  readonly received: GatewayConfig[] = [];
  held = false;
  private readonly gates: ((result: ApplyResult) => void)[] = [];
  apply(update: SinkUpdate): Promise<ApplyResult> {
    this.received.push(update.desired);
    if (!this.held) return Promise.resolve({ applied: 1, failed: [] });
    return new Promise((resolve) => this.gates.push(resolve));
  }
  get waiting(): number {
    return this.gates.length;
  }
  answer(result: ApplyResult): void {
    const gate = this.gates.shift();
    if (!gate) throw new Error('no apply is waiting');
    gate(result);
  }
}

/** A source that hands the test the watcher, to offer updates and read the verdicts. */
class OfferingSource implements ConfigSource {
  watcher: ConfigWatcher | undefined;
  watch(watcher: ConfigWatcher): Disposable {
    this.watcher = watcher;
    return { dispose: () => (this.watcher = undefined) };
  }
  offer(update: SourceUpdate): Promise<UpdateVerdict> {
    return Promise.resolve(this.watcher!.onUpdate(update) ?? { accepted: true });
  }
}

const OK: ApplyResult = { applied: 1, failed: [] };

/** Whether `promise` has settled once every callback already queued has run (no timing involved). */
async function settledAfterCallbacks(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(() => (settled = true));
  await new Promise((resolve) => setImmediate(resolve));
  return settled;
}
/** Variant i of bookinfo splits reviews 80 - i / 20 + i. */
const variants: SourceUpdate[] = [];
const weighted = (config: GatewayConfig, weight: number): boolean => JSON.stringify(config.ofKind('routes')).includes(`"weight":${weight}`);

const unit = suite('SyncService: updates with newer ones pending');

unit.before(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'amesh-flood-'));
  try {
    const text = readFileSync(bookinfo, 'utf8');
    for (let i = 0; i < 4; i++) {
      const file = path.join(dir, `v${i}.yaml`);
      writeFileSync(file, text.replace('weight: 80', `weight: ${80 - i}`).replace('weight: 20', `weight: ${20 + i}`));
      variants.push(await loadFile(file));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

unit('judged on the translation at once; only the newest reaches the sink; the last waits for its apply and a refusal restores the one before', async () => {
  const source = new OfferingSource();
  const sink = new GatedSink();
  sink.held = true;
  const sync = new SyncService({ source, sinks: [sink], logger: new RecordingLogger(), metrics: new MemoryMetrics() }, {});
  await sync.start();
  try {
    const first = source.offer(variants[0]!);
    await until(() => sink.waiting === 1, 'the first apply');
    const pending = Promise.all([variants[1]!, variants[2]!].map((update) => source.offer({ ...update, newerPending: true })));
    assert.ok(await settledAfterCallbacks(pending), 'accepted without waiting for an apply');
    assert.equal(await pending, [{ accepted: true }, { accepted: true }]);
    const last = source.offer(variants[3]!);
    sink.answer(OK);
    assert.equal(await first, { accepted: true });
    await until(() => sink.waiting === 1, 'the apply after the first');
    assert.is(sink.received.length, 2, 'the pending ones never reached the sink');
    assert.ok(weighted(sink.received[1]!, 77), 'the newest did');
    sink.answer({ applied: 0, failed: [{ key: 'routes/r1', reason: '400 invalid', rejected: true }] });
    const verdict = await last;
    assert.ok(!verdict.accepted && verdict.reason.includes('routes/r1'), JSON.stringify(verdict));
    // The source keeps the update before the refused one: that is what the sinks get back.
    await until(() => sink.waiting === 1, 'the restoring apply');
    assert.ok(weighted(sink.received[2]!, 78), 'the one before the refused one');
    sink.held = false;
    sink.answer(OK);
  } finally {
    sink.held = false;
    while (sink.waiting > 0) sink.answer(OK);
    await sync.stop();
  }
});

unit('an update with newer ones pending that does not translate is still rejected', async () => {
  const source = new OfferingSource();
  const sink = new GatedSink();
  const sync = new SyncService({ source, sinks: [sink], logger: new RecordingLogger(), metrics: new MemoryMetrics() }, {});
  await sync.start();
  try {
    const dir = mkdtempSync(path.join(tmpdir(), 'amesh-flood-'));
    let bad: SourceUpdate;
    try {
      writeFileSync(path.join(dir, 'bad.yaml'), readFileSync(bookinfo, 'utf8').replace('regex: "/reviews/[0-9]+"', 'regex: "/reviews/(?=x)"'));
      bad = await loadFile(path.join(dir, 'bad.yaml'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const verdict = await source.offer({ ...bad, newerPending: true });
    assert.ok(!verdict.accepted && /safe_regex\.regex/.test(verdict.reason), JSON.stringify(verdict));
  } finally {
    await sync.stop();
  }
});

unit.run();

for (const mode of ['sotw', 'delta'] as const) {
  const e2e = suite(`a flood of EDS pushes through the ADS client and the SyncService (${mode})`);

  e2e('200 pushes behind a held apply: every one ACKed, the newest applied, not each in turn', async () => {
    const responses: Extract<XdsServerLogEvent, { kind: 'response' }>[] = [];
    const server = new XdsServer({ istiodStrict: true, stopGraceMs: 100, logger: (event) => void (event.kind === 'response' && responses.push(event)) });
    const address = await server.start('127.0.0.1:0');
    const fixture = bookinfoFixture();
    serve(server, fixture);
    const client = new AdsClient({ mode, target: address, node: NODE, logger: new RecordingLogger(), backoff: { initialMs: 20, maxMs: 200, multiplier: 2, random: () => 1 } });
    const sink = new GatedSink();
    const sync = new SyncService({ source: client, sinks: [sink], logger: new RecordingLogger(), metrics: new MemoryMetrics() }, { partial: true });
    try {
      await sync.start();
      await sync.applied;
      const warm = sink.received.length;
      sink.held = true;
      const hosts = (i: number): string[] => [`10.9.${i >> 8}.${i & 255}`];
      let eds = withResource(fixture[EDS], loadAssignment(DETAILS, hosts(0)));
      server.setResources(EDS, eds);
      await until(() => sink.waiting === 1, 'the apply of the first push, held');
      const N = 200;
      for (let i = 1; i <= N; i++) {
        eds = withResource(eds, loadAssignment(DETAILS, hosts(i)));
        server.setResources(EDS, eds);
      }
      await until(() => client.queuedResponses === N, `the ${N} pushes queued behind the held verdict`, 20_000);
      sink.held = false;
      sink.answer(OK);
      await until(
        () => JSON.stringify(sync.state.translation?.config.ofKind('upstreams') ?? []).includes(hosts(N)[0]!) && sync.state.version !== undefined,
        'the newest applied',
        20_000,
      );
      const edsResponses = (): typeof responses => responses.filter((r) => r.typeUrl === EDS);
      const answered = (): boolean => edsResponses().every((r) => server.requests.some((q) => q.stream === r.stream && q.typeUrl === EDS && q.nonce === r.nonce));
      await until(answered, 'an answer to every EDS response', 20_000);
      const answers = edsResponses().map((r) => server.requests.find((q) => q.stream === r.stream && q.typeUrl === EDS && q.nonce === r.nonce)!);
      assert.equal(
        answers.filter((a) => a.nack).map((a) => a.nack?.message),
        [],
        'no NACK',
      );
      assert.ok(edsResponses().length >= N + 1, `${edsResponses().length} EDS responses`);
      const applies = sink.received.length - warm;
      assert.ok(applies <= 3, `${applies} applies for ${N + 1} pushes: the held one and the newest`);
      assert.ok(JSON.stringify(sink.received.at(-1)!.ofKind('upstreams')).includes(hosts(N)[0]!), 'the sink holds the newest endpoints');
    } finally {
      sink.held = false;
      while (sink.waiting > 0) sink.answer(OK);
      await sync.stop();
      client.stop();
      await server.stop();
    }
  });

  e2e.run();
}

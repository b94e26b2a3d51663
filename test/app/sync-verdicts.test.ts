// The SyncService's verdict on an update (what an xDS source ACKs or NACKs): settled after the first
// apply of that configuration to every sink; a target refusing an object rejects it, a transient
// failure does not; a superseded update is accepted; a hung sink cannot hold it past the wait.
// The sinks here are gated doubles (this is about the settling logic); test/app/sidecar-nack.test.ts
// does it end to end with the Admin API sink, the Admin API test server and the xDS server.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MemoryMetrics } from '../../src/adapters/memory/memory-metrics.js';
import { SyncService } from '../../src/app/sidecar/sync-service.js';
import type { ConfigSource, ConfigWatcher, Disposable, SourceUpdate, UpdateVerdict } from '../../src/ports/config-source.js';
import type { ApplyFailure, ApplyResult, ApplyUnserved, ConfigSink, SinkUpdate } from '../../src/ports/config-sink.js';
import type { GatewayConfig } from '../../src/domain/gateway-config.js';
import { RecordingLogger } from '../support/mesh-sidecar.js';
import { loadFile } from '../support/translate-file.js';

const bookinfo = fileURLToPath(new URL('../../examples/bookinfo/sidecar-resources.yaml', import.meta.url));

/** A source that hands the test the watcher, to offer updates and read the verdicts. */
class OfferingSource implements ConfigSource {
  watcher: ConfigWatcher | undefined;
  watch(watcher: ConfigWatcher): Disposable {
    this.watcher = watcher;
    return { dispose: () => (this.watcher = undefined) };
  }
  offer(update: SourceUpdate): Promise<UpdateVerdict> {
    const answer = this.watcher!.onUpdate(update);
    return Promise.resolve(answer ?? { accepted: true });
  }
}

/** A sink whose applies wait for the test, which decides each result. */
class GatedSink implements ConfigSink {
  readonly target = 'gated:test';
  readonly received: GatewayConfig[] = [];
  private readonly gates: ((result: ApplyResult) => void)[] = [];
  /** When set, applies answer at once with it. */
  auto: ApplyResult | undefined;
  apply(update: SinkUpdate): Promise<ApplyResult> {
    this.received.push(update.desired);
    if (this.auto) return Promise.resolve(this.auto);
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

const OK: ApplyResult = { applied: 1, failed: [] };
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Whether `promise` has settled (after letting pending callbacks run). */
async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(() => (settled = true));
  await sleep(5);
  return settled;
}

interface Rig {
  readonly source: OfferingSource;
  readonly sink: GatedSink;
  readonly logger: RecordingLogger;
  readonly sync: SyncService;
}

const variants: SourceUpdate[] = [];
const s = suite<{ rig: Rig }>('SyncService verdicts', { rig: undefined as unknown as Rig });

s.before(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'amesh-verdicts-'));
  try {
    const text = readFileSync(bookinfo, 'utf8');
    // Updates that differ in one route's weights: each one is a change for the sink.
    for (let i = 0; i < 4; i++) {
      const file = path.join(dir, `v${i}.yaml`);
      writeFileSync(file, text.replace('weight: 80', `weight: ${80 - i}`).replace('weight: 20', `weight: ${20 + i}`));
      variants.push(await loadFile(file));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

async function rig(verdictWaitMs?: number, unservedProbeMs?: number): Promise<Rig> {
  const source = new OfferingSource();
  const sink = new GatedSink();
  const logger = new RecordingLogger();
  const sync = new SyncService({ source, sinks: [sink], logger, metrics: new MemoryMetrics(), verdictWaitMs, unservedProbeMs }, {});
  await sync.start();
  return { source, sink, logger, sync };
}

s.after.each(async ({ rig }) => {
  rig.sink.auto = OK;
  while (rig.sink.waiting > 0) rig.sink.answer(OK);
  await rig.sync.stop();
});

s('accepted once the first apply reached every sink, not before', async (ctx) => {
  ctx.rig = await rig();
  const { source, sink } = ctx.rig;
  const verdict = source.offer(variants[0]!);
  await until(() => sink.waiting === 1, 'the apply');
  assert.not.ok(await isSettled(verdict), 'settled before the sink answered');
  sink.answer(OK);
  assert.equal(await verdict, { accepted: true });
});

s('objects the target does not serve are neither a failure nor a refusal: accepted, applied, shown; the sink is applied again until its target takes them', async (ctx) => {
  ctx.rig = await rig(undefined, 10);
  const { source, sink, sync } = ctx.rig;
  const unserved: ApplyUnserved = { key: 'stream_routes/s1', reason: 'GET /apisix/admin/stream_routes: 400 stream mode is disabled, can not add stream routes', written: false };
  sink.auto = { applied: 1, failed: [], unserved: [unserved] };
  assert.equal(await source.offer(variants[0]!), { accepted: true });
  await sync.applied;
  assert.equal(
    { ready: sync.state.ready, lastError: sync.state.lastError, unserved: sync.state.unserved },
    { ready: true, lastError: undefined, unserved: [{ sink: 'gated:test', ...unserved }] },
  );
  const first = sink.received[0]!;
  await until(() => sink.received.length >= 3, 'the sink applied again');
  assert.ok(
    sink.received.every((config) => config === first),
    'the configuration in force, again',
  );
  sink.auto = OK;
  await until(() => sync.state.unserved.length === 0, 'the sink no longer reporting them');
});

s('a refused object rejects the update, naming the sink, the object and the message; the last accepted one is applied again', async (ctx) => {
  ctx.rig = await rig();
  const { source, sink } = ctx.rig;
  sink.auto = OK;
  assert.equal(await source.offer(variants[0]!), { accepted: true });
  sink.auto = undefined;
  const verdict = source.offer(variants[1]!);
  await until(() => sink.waiting === 1, 'the apply');
  const refused: ApplyFailure = { key: 'routes/r1', reason: 'PUT /apisix/admin/routes/r1: 400 invalid configuration: property "uri" validation failed', rejected: true };
  const heldBack: ApplyFailure = { key: 'routes/r2', reason: 'held back: it references upstreams/u1, which was not written' };
  sink.answer({ applied: 3, failed: [refused, heldBack] });
  const settled = await verdict;
  assert.ok(!settled.accepted);
  assert.is(settled.reason, `gated:test refused routes/r1 (${refused.reason})`);
  // The sink took the rest of the refused configuration: it gets the last accepted one back.
  await until(() => sink.waiting === 1, 'the restoring apply');
  assert.is(sink.received.length, 3);
  assert.is(sink.received[2]!.version, sink.received[0]!.version, 'the last accepted configuration again');
  sink.answer(OK);
  await until(() => ctx.rig.sync.state.version === sink.received[0]!.version, 'the restored configuration in force');
});

s('a transient failure accepts the update; the apply is retried until it succeeds', async (ctx) => {
  ctx.rig = await rig();
  const { source, sink } = ctx.rig;
  const verdict = source.offer(variants[0]!);
  await until(() => sink.waiting === 1, 'the apply');
  sink.answer({ applied: 0, failed: [{ key: '*', reason: 'PUT /apisix/admin/routes/r1: 503 (after 3 attempts; will retry)' }] });
  assert.equal(await verdict, { accepted: true });
  await until(() => sink.waiting === 1, 'the retry');
  sink.answer(OK);
  await until(() => ctx.rig.sync.state.ready, 'converged');
  assert.is(sink.received.length, 2);
  assert.is(sink.received[1]!.version, sink.received[0]!.version);
});

s('coalescing: an update superseded before it reached a sink is accepted at once; the others wait for their own apply', async (ctx) => {
  ctx.rig = await rig();
  const { source, sink } = ctx.rig;
  const first = source.offer(variants[0]!);
  await until(() => sink.waiting === 1, 'the first apply');
  const second = source.offer(variants[1]!);
  assert.not.ok(await isSettled(second), 'the second settled while it was still the newest');
  const third = source.offer(variants[2]!);
  assert.equal(await second, { accepted: true }, 'the superseded update');
  assert.not.ok(await isSettled(first), 'the first settled before its apply ended');
  assert.not.ok(await isSettled(third), 'the third settled before it was applied');
  sink.answer(OK);
  assert.equal(await first, { accepted: true });
  await until(() => sink.waiting === 1, 'the third apply');
  assert.is(sink.received.length, 2, 'the second never reached the sink');
  sink.answer({ applied: 0, failed: [{ key: 'routes/r9', reason: '400 invalid', rejected: true }] });
  const verdict = await third;
  assert.ok(!verdict.accepted && verdict.reason.includes('routes/r9'), JSON.stringify(verdict));
});

s('a hung sink: the update is accepted with a warning once the wait is over; the apply goes on', async (ctx) => {
  ctx.rig = await rig(100);
  const { source, sink, logger } = ctx.rig;
  const started = Date.now();
  const verdict = source.offer(variants[0]!);
  // The wait's timer does not keep a process alive (a stream does, in the sidecar): this test must.
  const alive = setInterval(() => undefined, 20);
  try {
    assert.equal(await verdict, { accepted: true });
  } finally {
    clearInterval(alive);
  }
  assert.ok(Date.now() - started >= 90, `settled after ${Date.now() - started} ms`);
  assert.ok(logger.entries.some((e) => e.level === 'warn' && /verdict may wait/.test(e.message)));
  assert.is(sink.waiting, 1, 'the apply is still under way');
  // A refusal found after the wait is logged, but the update has been accepted: nothing is restored.
  sink.answer({ applied: 0, failed: [{ key: 'routes/r1', reason: '400 invalid', rejected: true }] });
  await sleep(50);
  assert.is(sink.received.length, 1);
});

s('the reason stays bounded: a few objects named, the rest counted', async (ctx) => {
  ctx.rig = await rig();
  const { source, sink } = ctx.rig;
  const verdict = source.offer(variants[0]!);
  await until(() => sink.waiting === 1, 'the apply');
  const failed: ApplyFailure[] = Array.from({ length: 40 }, (_, i) => ({ key: `routes/r${i}`, reason: `400 ${'x'.repeat(300)}`, rejected: true }));
  sink.answer({ applied: 0, failed });
  const settled = await verdict;
  assert.ok(!settled.accepted);
  assert.ok(settled.reason.length <= 1000, `${settled.reason.length} characters`);
  assert.match(settled.reason, /^gated:test refused routes\/r0 \(400 x+/);
});

s('a reason with few short refusals names them all and counts the rest', async (ctx) => {
  ctx.rig = await rig();
  const { source, sink } = ctx.rig;
  const verdict = source.offer(variants[0]!);
  await until(() => sink.waiting === 1, 'the apply');
  sink.answer({ applied: 0, failed: Array.from({ length: 7 }, (_, i) => ({ key: `routes/r${i}`, reason: '400 bad', rejected: true as const })) });
  const settled = await verdict;
  assert.ok(!settled.accepted);
  assert.is(settled.reason, `gated:test refused ${[0, 1, 2, 3, 4].map((i) => `routes/r${i} (400 bad)`).join(', ')}; and 2 more`);
});

s.run();

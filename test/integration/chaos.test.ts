// Chaos: istiod is SIGKILLed and restarted 20 times while it is pushing, and the config dir is edited
// both just before each kill (so the kill lands before, during or after the resulting push) and while
// istiod is down. The sidecar (amesh sidecar as bookinfo productpage, Delta ADS, reconnect backoff
// 50 ms doubling to 800 ms, no jitter) runs in a child process of its own so that it is measured alone:
// - it never exits;
// - while istiod is down it keeps serving the last good configuration: /healthz/ready stays 200 and the
//   sink does not change;
// - it reconnects with backoff (each outage's announced delays are 50, 100, 200, ... from the start,
//   i.e. reset once the server answered), and after each restart converges to the config dir's state;
// - at the end its sink equals what a fresh sidecar gets from the final istiod;
// - its RSS (after gc) does not grow: median of cycles 16-20 vs median of cycles 6-10 (1-5 are warm-up).
// Skipped when the peers are not built.
import { type ChildProcess, fork } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { freePort, type IstiodPeer, peersAvailable, startIstiod } from '../support/peers.js';
import type { ChaosChildOptions, ChaosChildRequest, ChaosChildState } from '../support/chaos-sidecar-child.js';
import {
  configDigest,
  copyBookinfoIstio,
  median,
  productpageNode,
  REVIEWS_V1,
  REVIEWS_V3,
  reviewsV1Replicas,
  reviewsVirtualService,
  sleep,
  startMeshSidecar,
  until,
  withTimeout,
  workloadSecrets,
  writeConfigFile,
} from '../support/mesh-sidecar.js';
import { repoRoot } from '../support/shared-fixtures.js';

const NAME = 'chaos';
/** 20 by default; AMESH_CHAOS_CYCLES runs a longer soak (at least 15: 5 warm-up, 5 first, 5 last). */
const CYCLES = Math.max(15, Number(process.env['AMESH_CHAOS_CYCLES'] ?? 20) || 20);
const WARM_UP = 5;
const DOWN_MS = 300;
const CONVERGE_TIMEOUT_MS = 15_000;
const RSS_MARGIN_MB = 30;
const BACKOFF_SEQUENCE = [50, 100, 200, 400, 800];
const CHILD = fileURLToPath(new URL('../support/chaos-sidecar-child.ts', import.meta.url));
const MB = 1024 * 1024;
const available = peersAvailable();

/** The sidecar process and a request/response channel to it. */
class ChildSidecar {
  private nextId = 1;
  private readonly waiting = new Map<number, (state: ChaosChildState & { gcExposed?: boolean }) => void>();
  output = '';
  exitCode: number | null | undefined;
  readonly exited: Promise<number | null>;
  readonly started: Promise<{ ops: string }>;

  constructor(readonly child: ChildProcess) {
    child.stdout?.on('data', (c: Buffer) => (this.output += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (this.output += c.toString()));
    this.exited = new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? -1 : null);
        resolve(this.exitCode);
      }),
    );
    this.started = new Promise((resolve, reject) => {
      child.on('message', (message: { id: number; started?: boolean; ops?: string }) => {
        if (message.started) return resolve({ ops: message.ops! });
        this.waiting.get(message.id)?.(message as unknown as ChaosChildState);
        this.waiting.delete(message.id);
      });
      void this.exited.then((code) => reject(new Error(`the sidecar process exited with ${code} before starting: ${this.output.slice(-2000)}`)));
    });
  }

  ask(cmd: ChaosChildRequest['cmd']): Promise<ChaosChildState & { gcExposed?: boolean }> {
    if (this.exitCode !== undefined) return Promise.reject(new Error(`the sidecar process exited with ${this.exitCode}: ${this.output.slice(-2000)}`));
    const id = this.nextId++;
    const answer = new Promise<ChaosChildState>((resolve) => this.waiting.set(id, resolve));
    this.child.send({ id, cmd } satisfies ChaosChildRequest);
    return withTimeout(answer, 5000, () => `no answer to ${cmd} from the sidecar process`);
  }
}

/** What each cycle writes: weights just before the kill, reviews-v1 replicas while istiod is down. */
const weightsOf = (cycle: number): [number, number] => [90 - ((cycle * 7) % 80), 10 + ((cycle * 7) % 80)];
const replicasOf = (cycle: number): string[] => Array.from({ length: cycle % 4 }, (_, i) => `10.244.${1 + (cycle % 200)}.${i + 1}`);
/** How long after the edit istiod is killed: spread over istiod's file-watch + debounce + push window. */
const killDelayOf = (cycle: number): number => (cycle * 53) % 320;
const killDelays = Array.from({ length: CYCLES }, (_, i) => killDelayOf(i + 1));

function expectedSplit(cycle: number): Record<string, number> {
  const [v1, v3] = weightsOf(cycle);
  return { [REVIEWS_V1]: v1, [REVIEWS_V3]: v3 };
}
const expectedReviewsV1 = (cycle: number): string[] => ['10.244.0.9:9080', ...replicasOf(cycle).map((a) => `${a}:9080`)].sort();

function converged(state: ChaosChildState, cycle: number): boolean {
  return JSON.stringify(state.split) === JSON.stringify(expectedSplit(cycle)) && JSON.stringify(state.reviewsV1) === JSON.stringify(expectedReviewsV1(cycle));
}

const s = suite(`${NAME}: istiod SIGKILLed and restarted ${CYCLES} times during pushes; the sidecar keeps serving and converges`);

if (!available.istiod) {
  console.log(`${NAME}: skipped: peers not built (run scripts/peers/build-peers.sh): ${available.reason ?? ''}`);
} else {
  s('never crashes, serves the last good config while istiod is down, reconnects with backoff, converges, RSS flat', async () => {
    const dir = copyBookinfoIstio('amesh-chaos-');
    const ports = { grpcPort: await freePort(), httpPort: await freePort(), monitoringPort: await freePort() };
    let istiod: IstiodPeer | undefined;
    let sidecar: ChildSidecar | undefined;
    const suiteStarted = Date.now();
    try {
      istiod = await startIstiod({ configDir: dir, ...ports });
      const options: ChaosChildOptions = { target: istiod.address, mode: 'delta', secrets: workloadSecrets() };
      sidecar = new ChildSidecar(fork(CHILD, [JSON.stringify(options)], { cwd: repoRoot, execArgv: ['--expose-gc', '--import', 'tsx'], stdio: ['ignore', 'pipe', 'pipe', 'ipc'] }));
      const { ops } = await withTimeout(sidecar.started, 20_000, () => `the sidecar process did not start: ${sidecar?.output.slice(-2000)}`);
      await until(async () => (await sidecar!.ask('state')).ready, 'the first configuration', CONVERGE_TIMEOUT_MS, 50);
      const ready = async (): Promise<number> => (await fetch(`http://${ops}/healthz/ready`, { signal: AbortSignal.timeout(2000) })).status;

      const rss: number[] = [];
      const heap: number[] = [];
      const reconnectMs: number[] = [];
      const outages: { killedAt: number; backAt: number }[] = [];
      /** Cycles whose edit had already reached the sink when istiod was killed. */
      let appliedBeforeKill = 0;
      let gcExposed = false;

      for (let cycle = 1; cycle <= CYCLES; cycle++) {
        const where = `cycle ${cycle}`;
        // 1. Edit, then kill istiod somewhere in the push that follows.
        writeConfigFile(dir, 'virtual-services.yaml', reviewsVirtualService(...weightsOf(cycle)));
        await sleep(killDelayOf(cycle));
        const preKill = await sidecar.ask('state');
        const killedAt = Date.now();
        process.kill(-istiod.pid, 'SIGKILL');
        await istiod.exited;
        if (JSON.stringify(preKill.split) === JSON.stringify(expectedSplit(cycle))) appliedBeforeKill += 1;

        // 2. The sidecar notices (its stream closes and it announces a retry), then nothing changes.
        await until(async () => (await sidecar!.ask('state')).retries.some((r) => r.at >= killedAt), `${where}: the sidecar to notice the kill`, 5000, 20);
        await sleep(20); // anything already received has been applied by now
        const held = await sidecar.ask('state');
        writeConfigFile(dir, 'reviews-v1-replicas.yaml', reviewsV1Replicas(replicasOf(cycle)));
        const downUntil = Date.now() + DOWN_MS;
        while (Date.now() < downUntil) {
          assert.is(await ready(), 200, `${where}: /healthz/ready while istiod is down`);
          const now = await sidecar.ask('state');
          assert.is(now.digest, held.digest, `${where}: the sink changed while istiod was down`);
          assert.is(now.applies, held.applies, `${where}: applied while istiod was down`);
          await sleep(50);
        }

        // 3. Restart on the same ports; the sidecar reconnects and converges to the dir's state.
        istiod = await startIstiod({ configDir: dir, ...ports });
        const upAt = Date.now();
        let last: ChaosChildState | undefined;
        await until(
          async () => converged((last = await sidecar!.ask('state')), cycle),
          `${where}: convergence after the restart (last: split ${JSON.stringify(last?.split)}, reviews-v1 ${JSON.stringify(last?.reviewsV1)})`,
          CONVERGE_TIMEOUT_MS,
          20,
        );
        reconnectMs.push(Date.now() - upAt);
        outages.push({ killedAt, backAt: Date.now() });
        assert.is(await ready(), 200, `${where}: ready after the restart`);

        // 4. Memory after gc.
        const measured = await sidecar.ask('measure');
        gcExposed = measured.gcExposed === true;
        rss.push(measured.rss);
        heap.push(measured.heapUsed);
        assert.is(sidecar.exitCode, undefined, `${where}: the sidecar process exited`);
      }

      // Backoff: in every outage the announced delays start at 50 ms and double (capped at 800 ms).
      const final = await sidecar.ask('state');
      for (const [i, outage] of outages.entries()) {
        const delays = final.retries.filter((r) => r.at >= outage.killedAt && r.at <= outage.backAt).map((r) => r.delayMs);
        assert.ok(delays.length > 0, `outage ${i + 1}: no reconnect attempt announced`);
        const expected = delays.map((_, k) => BACKOFF_SEQUENCE[Math.min(k, BACKOFF_SEQUENCE.length - 1)]);
        assert.equal(delays, expected, `outage ${i + 1}: reconnect delays`);
      }
      assert.equal(final.nacks, [], 'nothing NACKed');
      for (const [type, c] of Object.entries(final.counts)) assert.is(c.nacks, 0, `${type} NACKed`);

      // Convergence: the same configuration as a fresh sidecar gets from the final istiod.
      const fresh = await startMeshSidecar({ target: istiod.address, mode: 'delta', node: productpageNode() });
      try {
        await withTimeout(fresh.app.sync.applied, CONVERGE_TIMEOUT_MS, () => 'the fresh sidecar got nothing');
        const dump = await sidecar.ask('dump');
        const mine = new Map(dump.objects ?? []);
        const theirs = fresh.sink.applied;
        const differing = [...new Set([...mine.keys(), ...theirs.objects.keys()])].filter((k) => mine.get(k) !== theirs.canonicalOf(k));
        assert.equal(
          differing.map((k) => ({ key: k, chaos: mine.get(k) ?? null, fresh: theirs.canonicalOf(k) ?? null })),
          [],
          'the chaos sidecar and a fresh one hold the same configuration',
        );
        assert.is(dump.digest, configDigest(theirs));
      } finally {
        await fresh.stop();
      }

      // Memory: no growth from the first measured cycles to the last.
      const first = median(rss.slice(WARM_UP, WARM_UP + 5));
      const lastFive = median(rss.slice(-5));
      const toMb = (bytes: number): string => (bytes / MB).toFixed(1);
      console.log(
        `${NAME}: ${CYCLES} kill/restart cycles in ${((Date.now() - suiteStarted) / 1000).toFixed(1)} s; ` +
          `kill ${Math.min(...killDelays)}..${Math.max(...killDelays)} ms after the edit, which had reached the sink in ${appliedBeforeKill}/${CYCLES} cycles; ` +
          `restart → converged ms: median ${median(reconnectMs)}, max ${Math.max(...reconnectMs)}; ` +
          `reconnect attempts announced: ${final.retries.length}`,
      );
      console.log(
        `${NAME}: RSS MB after gc${gcExposed ? '' : ' (gc NOT exposed)'} per cycle: ${rss.map(toMb).join(' ')}; ` +
          `median cycles ${WARM_UP + 1}-${WARM_UP + 5}: ${toMb(first)}, last 5: ${toMb(lastFive)}, delta ${toMb(lastFive - first)}; ` +
          `heapUsed MB: first ${toMb(median(heap.slice(WARM_UP, WARM_UP + 5)))}, last ${toMb(median(heap.slice(-5)))}`,
      );
      assert.ok(gcExposed, 'the sidecar process runs with --expose-gc');
      assert.ok(lastFive - first < RSS_MARGIN_MB * MB, `RSS grew by ${toMb(lastFive - first)} MB`);

      // Nothing went to stderr/stdout: no uncaught errors, no unhandled rejections, no listener-leak warnings.
      assert.is(sidecar.output.trim(), '', 'the sidecar process printed something');

      // A clean stop.
      await sidecar.ask('stop').catch(() => undefined);
      assert.is(await withTimeout(sidecar.exited, 5000, () => 'the sidecar process did not exit when told to stop'), 0);
    } finally {
      if (sidecar && sidecar.exitCode === undefined) {
        sidecar.child.kill('SIGKILL');
        await sidecar.exited;
      }
      await istiod?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

s.run();

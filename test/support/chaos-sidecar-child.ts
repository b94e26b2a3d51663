// The sidecar under test in test/integration/chaos.test.ts, in a process of its own so that its
// memory can be measured alone (run with --expose-gc) and a crash would show as an exit. Started by
// fork() with `--import tsx`; argv[2] is JSON { target, mode, secrets }. It answers the parent's IPC
// messages { id, cmd: 'state' | 'measure' | 'dump' | 'stop' } with { id, ...state }, and exits when told to
// stop or when the parent goes away.
import { ackCounts, configDigest, productpageNode, REVIEWS_ALL, REVIEWS_V1, reviewsRouting, setWorkloadSecrets, startMeshSidecar, upstreamNodes } from './mesh-sidecar.js';
import type { Secret } from '../../src/domain/mesh/secret.js';

export interface ChaosChildState {
  readonly pid: number;
  readonly ops: string;
  readonly ready: boolean;
  readonly version: string | undefined;
  readonly applies: number;
  readonly digest: string;
  readonly reviewsV1: string[] | undefined;
  readonly reviewsAll: string[] | undefined;
  readonly split: Record<string, number>;
  /** Every reconnect delay the ADS client announced: when, and how long. */
  readonly retries: { at: number; delayMs: number }[];
  readonly nacks: string[];
  readonly counts: ReturnType<typeof ackCounts>;
  readonly rss: number;
  readonly heapUsed: number;
  /** With `dump`: every object's key and canonical JSON. */
  readonly objects?: [string, string][];
}

export interface ChaosChildRequest {
  readonly id: number;
  readonly cmd: 'state' | 'measure' | 'dump' | 'stop';
}

export interface ChaosChildOptions {
  readonly target: string;
  readonly mode: 'sotw' | 'delta';
  /** The parent's workload certificates, so that both sides translate the same secrets. */
  readonly secrets: Secret[];
}

/** The backoff the chaos run gives the ADS client: deterministic (no jitter), 50 ms doubling to 800 ms. */
export const CHAOS_BACKOFF = { initialMs: 50, maxMs: 800, multiplier: 2, random: (): number => 1 };

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as ChaosChildOptions;
  setWorkloadSecrets(options.secrets);
  const sidecar = await startMeshSidecar({
    target: options.target,
    mode: options.mode,
    node: productpageNode(),
    backoff: CHAOS_BACKOFF,
    historyLimit: 2,
  });
  const state = (): ChaosChildState => {
    const applied = sidecar.sink.applied;
    const memory = process.memoryUsage();
    return {
      pid: process.pid,
      ops: sidecar.ops,
      ready: sidecar.app.sync.state.ready,
      version: sidecar.app.sync.state.version,
      applies: sidecar.sink.applyCount,
      digest: configDigest(applied),
      reviewsV1: upstreamNodes(applied, REVIEWS_V1),
      reviewsAll: upstreamNodes(applied, REVIEWS_ALL),
      split: reviewsRouting(applied).split,
      retries: sidecar.logger.retries(),
      nacks: sidecar.logger.nacks(),
      counts: ackCounts(sidecar.metrics),
      rss: memory.rss,
      heapUsed: memory.heapUsed,
    };
  };
  const gc = (globalThis as { gc?: () => void }).gc;
  process.on('message', (message: ChaosChildRequest) => {
    void (async () => {
      if (message.cmd === 'measure') {
        // Twice: the first pass may leave finalizable objects for the second.
        gc?.();
        await new Promise((resolve) => setImmediate(resolve));
        gc?.();
      }
      if (message.cmd === 'stop') {
        await sidecar.stop();
        process.send?.({ id: message.id, stopped: true }, () => process.exit(0));
        return;
      }
      const objects = message.cmd === 'dump' ? [...sidecar.sink.applied.objects.keys()].sort().map((key) => [key, sidecar.sink.applied.canonicalOf(key)!]) : undefined;
      process.send?.({ id: message.id, gcExposed: gc !== undefined, ...state(), ...(objects ? { objects } : {}) });
    })();
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ id: 0, started: true, ops: sidecar.ops });
}

main().catch((error: unknown) => {
  console.error(`chaos child failed to start: ${String(error)}`);
  process.exit(70);
});

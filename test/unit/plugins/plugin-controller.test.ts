// The controller's reconcile loop over the in-memory cluster and delivery: only pods whose merged
// set changed get a new version; status is written once per real change (its own echo does not make
// it write again); a restarted controller neither re-announces Events nor sends old versions.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MemoryPluginConfigCluster } from '../../../src/adapters/memory/memory-plugin-config-cluster.js';
import { MemoryPluginDelivery } from '../../../src/adapters/memory/memory-plugin-delivery.js';
import { PluginController } from '../../../src/app/controller/plugin-controller.js';
import { VersionClock } from '../../../src/domain/plugins/version-clock.js';
import type { Logger } from '../../../src/ports/logger.js';
import type { ClusterEvent, ConfigRef, ConfigStatus } from '../../../src/ports/plugin-config-cluster.js';
import type { PodPluginSet } from '../../../src/ports/plugin-config-source.js';

const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** Counts status writes and can make them fail. */
class CountingCluster extends MemoryPluginConfigCluster {
  statusWrites = 0;
  failWrites = false;
  override async writeStatus(ref: ConfigRef, status: ConfigStatus) {
    this.statusWrites++;
    if (this.failWrites) return { ok: false as const, error: 'API server unavailable' };
    return super.writeStatus(ref, status);
  }
}

interface Ctx {
  cluster: CountingCluster;
  delivery: MemoryPluginDelivery;
  controller: PluginController;
  sets: Map<string, PodPluginSet[]>;
}

const spec = (labels: Record<string, string>, plugin = 'cors', priority = 0) => ({
  priority,
  selector: { matchLabels: labels },
  plugins: [{ name: plugin, phase: 'route', config: { v: plugin } }],
});

function subscribe(ctx: Ctx, pod: string): void {
  const list: PodPluginSet[] = [];
  ctx.sets.set(pod, list);
  ctx.delivery.source(pod).subscribe((set) => list.push(set));
}

async function start(ctx: Ctx, clock = new VersionClock(Date.now)): Promise<void> {
  ctx.delivery = new MemoryPluginDelivery(() => clock.next());
  ctx.controller = new PluginController({ cluster: ctx.cluster, delivery: ctx.delivery, clock, logger: quiet }, { resyncMs: 60_000, retryMs: 50 });
  await ctx.controller.start();
  assert.ok(await ctx.controller.lead(), 'the first pass as leader did not publish');
  await settle(ctx);
}

async function settle(ctx: Ctx): Promise<void> {
  await new Promise((r) => setTimeout(r, 30));
  await ctx.controller.idle();
}

const names = (ctx: Ctx, pod: string): string[] =>
  ctx.sets
    .get(pod)!
    .at(-1)!
    .plugins.map((p) => p.name);

const s = suite<Ctx>('PluginController (in-memory cluster and delivery)');

s.before.each(async (ctx) => {
  ctx.cluster = new CountingCluster();
  ctx.sets = new Map();
  for (const [name, app] of [
    ['a', 'web'],
    ['b', 'web'],
    ['c', 'db'],
  ] as const)
    ctx.cluster.putPod({ namespace: 'ns', name, labels: { app } });
  await start(ctx);
  for (const pod of ['ns/a', 'ns/b', 'ns/c']) subscribe(ctx, pod);
});

s.after.each(async (ctx) => {
  await ctx.controller.stop();
});

s('only pods whose set changed get a new version', async (ctx) => {
  ctx.cluster.putConfig('ns', 'web', spec({ app: 'web' }));
  await settle(ctx);
  assert.equal(
    [...ctx.sets].map(([pod, sets]) => [pod, sets.length]),
    [
      ['ns/a', 2],
      ['ns/b', 2],
      ['ns/c', 1],
    ],
  );
  // A second config for db only: a and b keep their set, no new version for them.
  ctx.cluster.putConfig('ns', 'db', spec({ app: 'db' }, 'limit-count'));
  await settle(ctx);
  assert.equal(
    [...ctx.sets].map(([pod, sets]) => [pod, sets.length]),
    [
      ['ns/a', 2],
      ['ns/b', 2],
      ['ns/c', 2],
    ],
  );
  assert.equal(names(ctx, 'ns/c'), ['limit-count']);
  // A pod status update (labels unchanged) is not a change.
  ctx.cluster.putPod({ namespace: 'ns', name: 'a', labels: { app: 'web' } });
  await settle(ctx);
  assert.is(ctx.sets.get('ns/a')!.length, 2);
});

s("the controller's own status write does not make it write again; a real change does", async (ctx) => {
  ctx.cluster.putConfig('ns', 'web', spec({ app: 'web' }));
  await settle(ctx);
  assert.is(ctx.cluster.statusWrites, 1);
  assert.is(ctx.cluster.status('ns', 'web')?.matchedPods, 2);
  ctx.cluster.putPod({ namespace: 'ns', name: 'c', labels: { app: 'web' } });
  await settle(ctx);
  assert.is(ctx.cluster.statusWrites, 2);
  assert.is(ctx.cluster.status('ns', 'web')?.matchedPods, 3);
  const events: ClusterEvent[] = ctx.cluster.recordedEvents('ns', 'web');
  assert.equal(events, [{ type: 'Normal', reason: 'Delivered', message: 'selects 2 pods' }]);
});

s('failed status writes are retried until they land', async (ctx) => {
  ctx.cluster.failWrites = true;
  ctx.cluster.putConfig('ns', 'web', spec({ app: 'web' }));
  await settle(ctx);
  assert.is(ctx.cluster.status('ns', 'web'), undefined);
  ctx.cluster.failWrites = false;
  await new Promise((r) => setTimeout(r, 120));
  await ctx.controller.idle();
  assert.is(ctx.cluster.status('ns', 'web')?.conditions.find((c) => c.type === 'Ready')?.status, 'True');
});

s('a deleted pod is forgotten; a pod that reappears starts from an empty set with a newer version', async (ctx) => {
  ctx.cluster.putConfig('ns', 'web', spec({ app: 'web' }));
  await settle(ctx);
  const had = ctx.sets.get('ns/a')!.at(-1)!.version;
  ctx.cluster.deletePod('ns', 'a');
  await settle(ctx);
  assert.equal(ctx.delivery.subscribers().includes('ns/a'), true); // the old sidecar is still connected
  ctx.cluster.putPod({ namespace: 'ns', name: 'a', labels: { app: 'db' } });
  await settle(ctx);
  subscribe(ctx, 'ns/a');
  const fresh = ctx.sets.get('ns/a')!;
  assert.equal(fresh.at(-1)!.plugins, []);
  assert.ok(fresh.at(-1)!.version > had);
});

s('a restarted controller sends newer versions and does not repeat Events already reflected in status', async (ctx) => {
  ctx.cluster.putConfig('ns', 'web', spec({ app: 'web' }));
  await settle(ctx);
  const before = ctx.sets.get('ns/a')!.at(-1)!.version;
  await ctx.controller.stop();
  await start(ctx);
  subscribe(ctx, 'ns/a');
  const after = ctx.sets.get('ns/a')!.at(-1)!;
  assert.ok(after.version > before, `${after.version} is not newer than ${before}`);
  assert.equal(
    after.plugins.map((p) => p.name),
    ['cors'],
  );
  assert.is(ctx.cluster.recordedEvents('ns', 'web').length, 1);
});

s('a reconnect after a broken watch reconciles what changed meanwhile', async (ctx) => {
  ctx.cluster.disconnect('watch closed');
  assert.is(ctx.controller.state.connected, false);
  ctx.cluster.putConfig('ns', 'web', spec({ app: 'web' }));
  ctx.cluster.reconnect();
  await settle(ctx);
  assert.is(ctx.controller.state.connected, true);
  assert.equal(names(ctx, 'ns/a'), ['cors']);
});

s.run();

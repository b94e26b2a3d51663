// ControllerApp under leader election (in-memory cluster, lease and metrics; the real gRPC delivery
// and sidecar source): nothing is delivered or written before the replica is elected; elected, it
// delivers once every set is published; deposed, it pauses at once (sidecars cut off and refused,
// status left alone); elected again, its versions go above what the previous leader could have
// handed out. Leadership shows in /readyz's state and in the metrics.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MemoryControllerMetrics } from '../../src/adapters/memory/memory-controller-metrics.js';
import { MemoryLease, MemoryLeaderElection } from '../../src/adapters/memory/memory-leader-election.js';
import { MemoryPluginConfigCluster } from '../../src/adapters/memory/memory-plugin-config-cluster.js';
import { GrpcPluginConfigSource } from '../../src/adapters/plugin-grpc/grpc-plugin-config-source.js';
import { GrpcPluginDelivery } from '../../src/adapters/plugin-grpc/grpc-plugin-delivery.js';
import { ControllerApp } from '../../src/app/controller/controller-app.js';
import { PluginController } from '../../src/app/controller/plugin-controller.js';
import { VersionClock } from '../../src/domain/plugins/version-clock.js';
import type { Logger } from '../../src/ports/logger.js';
import type { PodPluginSet } from '../../src/ports/plugin-config-source.js';
import { waitFor } from '../support/kube-objects.js';

const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const FAR_FUTURE = Date.now() + 3_600_000;

interface Ctx {
  cluster: MemoryPluginConfigCluster;
  lease: MemoryLease;
  rival: MemoryLeaderElection;
  metrics: MemoryControllerMetrics;
  app: ControllerApp;
  source: GrpcPluginConfigSource;
  sets: PodPluginSet[];
  warnings: string[];
}

const s = suite<Ctx>('ControllerApp with leader election');

s.before.each(async (ctx) => {
  ctx.cluster = new MemoryPluginConfigCluster();
  ctx.cluster.putPod({ namespace: 'ns', name: 'a', labels: { app: 'web' } });
  ctx.cluster.putConfig('ns', 'web', { plugins: [{ name: 'cors', config: {} }] });
  // The rival's lease "expires" at a time far ahead of our clock: our versions must go above it.
  ctx.lease = new MemoryLease(() => FAR_FUTURE);
  // Another replica leads first.
  ctx.rival = new MemoryLeaderElection('rival', ctx.lease);
  await ctx.rival.start({ elected: () => undefined, deposed: () => undefined });
  const clock = new VersionClock(Date.now);
  ctx.metrics = new MemoryControllerMetrics();
  const delivery = new GrpcPluginDelivery({ address: '127.0.0.1:0', nextVersion: () => clock.next(), logger: quiet, metrics: ctx.metrics });
  const controller = new PluginController({ cluster: ctx.cluster, delivery, clock, logger: quiet, metrics: ctx.metrics }, { resyncMs: 60_000, retryMs: 50 });
  ctx.app = new ControllerApp({
    controller,
    delivery,
    election: new MemoryLeaderElection('me', ctx.lease),
    clock,
    metrics: ctx.metrics,
    logger: quiet,
    healthAddress: undefined,
    metricsAddress: undefined,
    registry: undefined,
    pluginSchemas: undefined,
  });
  await ctx.app.start();
  ctx.sets = [];
  ctx.warnings = [];
  const recording: Logger = { ...quiet, warn: (_fields, message) => ctx.warnings.push(message) };
  ctx.source = new GrpcPluginConfigSource({ target: ctx.app.address!, pod: { namespace: 'ns', name: 'a' }, logger: recording, retry: { initialMs: 50, maxMs: 200 } });
  ctx.source.subscribe((set) => ctx.sets.push(set));
});

s.after.each(async (ctx) => {
  await ctx.source.close();
  await ctx.app.stop();
  await ctx.rival.stop();
});

s('a follower delivers nothing and writes no status; elected, it delivers, with versions above the previous leader', async (ctx) => {
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(ctx.sets, [], 'a follower delivered');
  assert.is(ctx.cluster.status('ns', 'web'), undefined, 'a follower wrote status');
  assert.equal([ctx.app.state.leading, ctx.app.state.leader, ctx.app.state.delivering], [false, 'rival', false]);
  assert.ok(ctx.metrics.value('amesh_controller_subscriptions_total{outcome="paused"}') > 0, 'refusals not counted');
  assert.is(ctx.metrics.value('amesh_controller_leader'), 0);

  ctx.lease.expire();
  await waitFor('the set', () => ctx.sets.length === 1);
  assert.equal(
    ctx.sets[0]!.plugins.map((p) => p.name),
    ['cors'],
  );
  assert.ok(ctx.sets[0]!.version > FAR_FUTURE, `version ${ctx.sets[0]!.version} not above the previous leader's ${FAR_FUTURE}`);
  await waitFor('status', () => ctx.cluster.status('ns', 'web'));
  assert.equal([ctx.app.state.leading, ctx.app.state.leader, ctx.app.state.delivering], [true, 'me', true]);
  assert.is(ctx.metrics.value('amesh_controller_leader'), 1);
  assert.is(ctx.metrics.value('amesh_controller_leadership_changes_total{change="elected"}'), 1);
  assert.is(ctx.metrics.value('amesh_controller_plugin_sets_published_total'), 1);
  assert.is(ctx.metrics.value('amesh_controller_subscribed_pods'), 1);
});

s('deposed, it pauses at once: the sidecar is cut off, changes are neither delivered nor written; elected again, it catches up', async (ctx) => {
  ctx.lease.expire(); // we lead
  await waitFor('the first set', () => ctx.sets.length === 1);
  await waitFor('status', () => ctx.cluster.status('ns', 'web'));
  ctx.lease.expire(); // the rival leads again
  assert.equal([ctx.app.state.leading, ctx.app.state.delivering], [false, false]);
  await waitFor('the sidecar cut off', () => ctx.metrics.value('amesh_controller_subscribed_pods') === 0);
  const generationBefore = ctx.cluster.status('ns', 'web')!.observedGeneration;
  ctx.cluster.putConfig('ns', 'web', { plugins: [{ name: 'cors', config: { allow_origins: '*' } }] });
  await new Promise((r) => setTimeout(r, 300));
  assert.is(ctx.sets.length, 1, 'delivered while deposed');
  assert.is(ctx.cluster.status('ns', 'web')!.observedGeneration, generationBefore, 'status written while deposed');
  assert.is(ctx.metrics.value('amesh_controller_leadership_changes_total{change="deposed"}'), 1);

  await ctx.rival.stop(); // releases: we lead again
  await waitFor('the changed set', () => ctx.sets.length === 2);
  assert.equal(ctx.sets[1]!.plugins[0]!.config, { allow_origins: '*' });
  assert.ok(ctx.sets[1]!.version > ctx.sets[0]!.version);
  await waitFor('status of the new generation', () => ctx.cluster.status('ns', 'web')!.observedGeneration > generationBefore);
  assert.equal(
    ctx.warnings.filter((w) => w.includes('older')),
    [],
  );
});

s.run();

// The reconcile loop with APISIX plugin schemas (in-memory): a config whose plugin does not match is
// Invalid with the schema's error and nothing of it is delivered, even when it shares a pod with
// valid configs; fixing it delivers; an unknown plugin is delivered and reported (Validated=Unknown,
// a Warning Event); without schemas the status says only structural checks ran.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MemoryPluginConfigCluster } from '../../../src/adapters/memory/memory-plugin-config-cluster.js';
import { MemoryPluginDelivery } from '../../../src/adapters/memory/memory-plugin-delivery.js';
import { MemoryPluginSchemas } from '../../../src/adapters/memory/memory-plugin-schemas.js';
import { PluginController } from '../../../src/app/controller/plugin-controller.js';
import { VersionClock } from '../../../src/domain/plugins/version-clock.js';
import type { Logger } from '../../../src/ports/logger.js';
import type { PodPluginSet } from '../../../src/ports/plugin-config-source.js';
import type { PluginSchemas } from '../../../src/ports/plugin-schemas.js';

const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

const SCHEMAS = new MemoryPluginSchemas({
  cors: (config) => (config['allow_origins'] === undefined || typeof config['allow_origins'] === 'string' ? [] : ['/allow_origins must be string']),
  'key-auth': () => [],
});

interface Ctx {
  cluster: MemoryPluginConfigCluster;
  controller: PluginController;
  sets: PodPluginSet[];
}

async function setup(ctx: Ctx, schemas: PluginSchemas | undefined): Promise<void> {
  ctx.cluster = new MemoryPluginConfigCluster();
  ctx.cluster.putPod({ namespace: 'ns', name: 'a', labels: { app: 'web' } });
  const clock = new VersionClock(Date.now);
  const delivery = new MemoryPluginDelivery(() => clock.next());
  ctx.controller = new PluginController({ cluster: ctx.cluster, delivery, clock, logger: quiet, ...(schemas ? { schemas } : {}) }, { resyncMs: 60_000, retryMs: 50 });
  await ctx.controller.start();
  assert.ok(await ctx.controller.lead(), 'the first pass as leader did not publish');
  ctx.sets = [];
  delivery.source('ns/a').subscribe((set) => ctx.sets.push(set));
  await settle(ctx);
}

async function settle(ctx: Ctx): Promise<void> {
  await new Promise((r) => setTimeout(r, 30));
  await ctx.controller.idle();
}

const condition = (ctx: Ctx, name: string, type: string) => ctx.cluster.status('ns', name)?.conditions.find((c) => c.type === type);
const plugins = (ctx: Ctx) => ctx.sets.at(-1)!.plugins.map((p) => `${p.source}:${p.name}`);

const s = suite<Ctx>('PluginController with APISIX plugin schemas');
s.before.each((ctx) => setup(ctx, SCHEMAS));
s.after.each((ctx) => ctx.controller.stop());

s('a config that does not match a plugin schema is Invalid with the error and never delivered; fixed, it is', async (ctx) => {
  ctx.cluster.putConfig('ns', 'good', { selector: { matchLabels: { app: 'web' } }, plugins: [{ name: 'key-auth', config: {} }] });
  await settle(ctx);
  assert.equal(plugins(ctx), ['ns/good:key-auth']);
  const delivered = ctx.sets.length;
  ctx.cluster.putConfig('ns', 'bad', { selector: { matchLabels: { app: 'web' } }, priority: 5, plugins: [{ name: 'cors', config: { allow_origins: 5 } }] });
  await settle(ctx);
  assert.is(ctx.sets.length, delivered, 'the invalid config changed what the pod has');
  const ready = condition(ctx, 'bad', 'Ready')!;
  assert.equal([ready.status, ready.reason], ['False', 'Invalid']);
  assert.is(ready.message, "not delivered: spec.plugins[0].config: cors: /allow_origins must be string (APISIX's schema of cors)");
  const validated = condition(ctx, 'bad', 'Validated')!;
  assert.equal(
    [validated.status, validated.reason, validated.message],
    ['False', 'SchemaMismatch', "spec.plugins[0].config: cors: /allow_origins must be string (APISIX's schema of cors)"],
  );
  assert.equal(ctx.cluster.recordedEvents('ns', 'bad'), [{ type: 'Warning', reason: 'Invalid', message: ready.message }]);
  assert.is(ctx.cluster.status('ns', 'bad')!.matchedPods, 0);

  ctx.cluster.putConfig('ns', 'bad', { selector: { matchLabels: { app: 'web' } }, priority: 5, plugins: [{ name: 'cors', config: { allow_origins: '*' } }] });
  await settle(ctx);
  assert.equal(plugins(ctx), ['ns/bad:cors', 'ns/good:key-auth']);
  assert.equal(
    [condition(ctx, 'bad', 'Ready')!.reason, condition(ctx, 'bad', 'Validated')!.status, condition(ctx, 'bad', 'Validated')!.message],
    ['Delivered', 'True', "1 plugin matches APISIX's schema"],
  );
});

s('a plugin without a schema is delivered and reported: Validated=Unknown (UnknownPlugin), a Warning Event', async (ctx) => {
  ctx.cluster.putConfig('ns', 'custom', {
    plugins: [
      { name: 'my-plugin', config: { x: 1 } },
      { name: 'cors', config: {} },
      { name: 'auth', phase: 'pre-req', config: {} },
    ],
  });
  await settle(ctx);
  assert.equal(plugins(ctx), ['ns/custom:my-plugin', 'ns/custom:cors', 'ns/custom:auth']);
  assert.is(condition(ctx, 'custom', 'Ready')!.reason, 'Delivered');
  const validated = condition(ctx, 'custom', 'Validated')!;
  assert.equal([validated.status, validated.reason], ['Unknown', 'UnknownPlugin']);
  assert.is(validated.message, "no APISIX schema for spec.plugins[0] my-plugin: delivered unchecked; 1 runner plugin (pre-req/post-req) not APISIX's to check");
  assert.equal(ctx.cluster.recordedEvents('ns', 'custom'), [{ type: 'Warning', reason: 'UnknownPlugin', message: validated.message }]);
});

s('the check runs once per generation, not on every status echo', async (ctx) => {
  let checks = 0;
  await ctx.controller.stop();
  await setup(ctx, {
    source: 'counting',
    names: () => SCHEMAS.names(),
    check: (name, config) => {
      checks++;
      return SCHEMAS.check(name, config);
    },
  });
  ctx.cluster.putConfig('ns', 'c', { plugins: [{ name: 'cors', config: {} }] });
  await settle(ctx);
  assert.ok(ctx.cluster.status('ns', 'c'), 'status written (and echoed back)');
  assert.is(checks, 1);
  ctx.cluster.putConfig('ns', 'c', { plugins: [{ name: 'cors', config: { allow_origins: '*' } }] });
  await settle(ctx);
  assert.is(checks, 2);
});

const off = suite<Ctx>('PluginController without plugin schemas');
off.before.each((ctx) => setup(ctx, undefined));
off.after.each((ctx) => ctx.controller.stop());

off('only the structural checks run, and the status says so', async (ctx) => {
  ctx.cluster.putConfig('ns', 'c', { plugins: [{ name: 'cors', config: { allow_origins: 5 } }] });
  await settle(ctx);
  assert.equal(plugins(ctx), ['ns/c:cors']);
  const validated = condition(ctx, 'c', 'Validated')!;
  assert.equal([validated.status, validated.reason], ['Unknown', 'NoSchemas']);
  assert.equal(ctx.cluster.recordedEvents('ns', 'c'), [{ type: 'Normal', reason: 'Delivered', message: 'selects 1 pod' }]);
});

s.run();
off.run();

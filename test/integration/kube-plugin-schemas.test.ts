// amesh controller with APISIX's own plugin schemas (../shared/apisix-schemas/plugins, loaded at run
// time with --plugin-schemas) against a real kube-apiserver: an AmeshPluginConfig whose plugin
// config APISIX would refuse passes the CRD schema, is marked Invalid with the schema's error and a
// Warning Event, and never reaches the pod's real gRPC subscriber; fixed, it is delivered; a plugin
// APISIX's schemas do not know is delivered and reported. Skipped, saying why, without the kube
// peers or ../shared.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import { GrpcPluginConfigSource } from '../../src/adapters/plugin-grpc/grpc-plugin-config-source.js';
import type { ControllerApp } from '../../src/app/controller/controller-app.js';
import { parseControllerConfig } from '../../src/app/controller/controller-config.js';
import { buildControllerContainer, ControllerAppToken } from '../../src/app/controller/controller-container.js';
import type { Logger } from '../../src/ports/logger.js';
import type { PodPluginSet } from '../../src/ports/plugin-config-source.js';
import { kubeAvailable, startKube, type KubeControlPlane } from '../support/kube.js';
import { applyPluginConfigCrd, createNamespace, createPluginConfig, createPod, eventsFor, readPluginConfig, replacePluginConfigSpec, waitFor } from '../support/kube-objects.js';
import { requireShared } from '../support/shared-fixtures.js';

const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const NS = 'shop';

interface Ctx {
  kube?: KubeControlPlane;
  app?: ControllerApp;
  source?: GrpcPluginConfigSource;
  sets: PodPluginSet[];
}

async function conditions(ctx: Ctx, name: string, generation: number) {
  return waitFor(`status of ${name} at generation ${generation}`, async () => {
    const got = await readPluginConfig(ctx.kube!.kubeConfig(), NS, name);
    if (got.status?.observedGeneration !== generation) return undefined;
    return Object.fromEntries((got.status.conditions ?? []).map((c) => [c.type, c]));
  });
}

const available = kubeAvailable();
const shared = requireShared('kube-plugin-schemas');
const s = suite<Ctx>('amesh controller --plugin-schemas on a real kube-apiserver: configs APISIX would refuse are never delivered', { sets: [] });

if (!available.apiserver || !available.etcd) {
  console.log(`kube-plugin-schemas: skipped: ${available.reason ?? ''}`);
} else if (shared) {
  s.before(async (ctx) => {
    ctx.kube = await startKube();
    const kc = ctx.kube.kubeConfig();
    await applyPluginConfigCrd(kc);
    await createNamespace(kc, NS);
    await createPod(kc, NS, 'web-1', { app: 'web' });
    const config = parseControllerConfig({
      listen: '127.0.0.1:0',
      metricsAddress: 'off',
      healthAddress: 'off',
      logLevel: 'silent',
      pluginSchemas: join(shared, 'apisix-schemas/plugins'),
    });
    if (!config.ok) throw new Error(config.error);
    ctx.app = buildControllerContainer(config.value, { kubeConfig: kc, logger: quiet }).get<ControllerApp>(ControllerAppToken);
    await ctx.app.start();
    ctx.source = new GrpcPluginConfigSource({ target: ctx.app.address!, pod: { namespace: NS, name: 'web-1' }, logger: quiet, retry: { initialMs: 100, maxMs: 1000 } });
    ctx.source.subscribe((set) => ctx.sets.push(set));
    await waitFor('the first (empty) set', () => ctx.sets.length === 1);
  });

  s.after(async (ctx) => {
    await ctx.source?.close();
    await ctx.app?.stop();
    await ctx.kube?.stop();
  });

  s('a valid config is delivered and Validated=True', async (ctx) => {
    await createPluginConfig(ctx.kube!.kubeConfig(), NS, 'headers', { plugins: [{ name: 'response-rewrite', config: { headers: { set: { 'x-amesh': 'v1' } } } }] });
    await waitFor('the set', () => ctx.sets.at(-1)!.plugins.length === 1);
    const c = await conditions(ctx, 'headers', 1);
    assert.equal(
      [c['Ready']!.reason, c['Validated']!.status, c['Validated']!.reason, c['Validated']!.message],
      ['Delivered', 'True', 'SchemaValid', "1 plugin matches APISIX's schema"],
    );
  });

  s("a config APISIX's schema refuses is Invalid with the schema error, a Warning Event, and never delivered", async (ctx) => {
    const kc = ctx.kube!.kubeConfig();
    const before = ctx.sets.length;
    // Valid for the CRD (config is any object), not for APISIX: status_code must be 200..598.
    await createPluginConfig(kc, NS, 'teapot', {
      priority: 10,
      plugins: [
        { name: 'response-rewrite', config: { status_code: 99 } },
        { name: 'fault-injection', config: { abort: { http_status: 'teapot' } } },
      ],
    });
    const c = await conditions(ctx, 'teapot', 1);
    assert.equal([c['Ready']!.status, c['Ready']!.reason], ['False', 'Invalid']);
    assert.is(
      c['Ready']!.message,
      "not delivered: spec.plugins[0].config: response-rewrite: /status_code must be >= 200 (APISIX's schema of response-rewrite); spec.plugins[1].config: fault-injection: /abort/http_status must be integer (APISIX's schema of fault-injection)",
    );
    assert.equal([c['Validated']!.status, c['Validated']!.reason], ['False', 'SchemaMismatch']);
    const warning = await waitFor('the Invalid event', async () => (await eventsFor(kc, NS, 'teapot')).find((e) => e.reason === 'Invalid'));
    assert.equal(warning, { type: 'Warning', reason: 'Invalid', message: c['Ready']!.message });
    // The higher-priority invalid config would have overridden response-rewrite: the pod got nothing new.
    await new Promise((r) => setTimeout(r, 400));
    assert.is(ctx.sets.length, before);
    assert.equal(
      ctx.sets.at(-1)!.plugins.map((p) => p.source),
      [`${NS}/headers`],
    );

    await replacePluginConfigSpec(kc, NS, 'teapot', { priority: 10, plugins: [{ name: 'response-rewrite', config: { status_code: 418 } }] });
    await waitFor('the fixed config delivered', () => ctx.sets.at(-1)!.plugins.some((p) => p.source === `${NS}/teapot`));
    assert.equal(
      ctx.sets.at(-1)!.plugins.map((p) => [p.source, p.name, p.config]),
      [[`${NS}/teapot`, 'response-rewrite', { status_code: 418 }]],
    );
    const fixed = await conditions(ctx, 'teapot', 2);
    assert.equal([fixed['Ready']!.reason, fixed['Validated']!.reason], ['Delivered', 'SchemaValid']);
  });

  s('a plugin without an APISIX schema is delivered and reported: Validated=Unknown and a Warning Event', async (ctx) => {
    const kc = ctx.kube!.kubeConfig();
    await createPluginConfig(kc, NS, 'custom', { plugins: [{ name: 'limit-count', config: { count: 10, time_window: 60 } }] });
    await waitFor('the set with limit-count', () => ctx.sets.at(-1)!.plugins.some((p) => p.name === 'limit-count'));
    const c = await conditions(ctx, 'custom', 1);
    assert.equal([c['Ready']!.reason, c['Validated']!.status, c['Validated']!.reason], ['Delivered', 'Unknown', 'UnknownPlugin']);
    assert.is(c['Validated']!.message, 'no APISIX schema for spec.plugins[0] limit-count: delivered unchecked');
    const warning = await waitFor('the UnknownPlugin event', async () => (await eventsFor(kc, NS, 'custom')).find((e) => e.reason === 'UnknownPlugin'));
    assert.is(warning.type, 'Warning');
  });

  s.run();
}

// amesh controller against a real kube-apiserver (+ etcd): AmeshPluginConfigs created, changed
// (plugins, then only the selector), overridden and deleted reach exactly the selected pods'
// sidecars over real gRPC subscriptions; status conditions and Events appear on the objects;
// invalid objects are refused by the CRD schema or marked Invalid with nothing delivered; the
// controller rides out an API-server restart. Needs scripts/peers/build-kube-peers.sh and
// Debian etcd-server (.ci/run installs both); otherwise says it is skipped.
import { CoreV1Api } from '@kubernetes/client-node';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { GrpcPluginConfigSource } from '../../src/adapters/plugin-grpc/grpc-plugin-config-source.js';
import type { ControllerApp } from '../../src/app/controller/controller-app.js';
import { parseControllerConfig } from '../../src/app/controller/controller-config.js';
import { buildControllerContainer, ControllerAppToken } from '../../src/app/controller/controller-container.js';
import type { Logger } from '../../src/ports/logger.js';
import type { PodPluginSet } from '../../src/ports/plugin-config-source.js';
import { kubeAvailable, startKube, type KubeControlPlane } from '../support/kube.js';
import path from 'node:path';
import { MemoryConfigSink } from '../../src/adapters/memory/memory-config-sink.js';
import { PinoLogger } from '../../src/adapters/logging/pino-logger.js';
import { parseSidecarConfig } from '../../src/app/sidecar/sidecar-config.js';
import { buildSidecarContainer, SidecarAppToken } from '../../src/app/sidecar/sidecar-container.js';
import type { SidecarApp } from '../../src/app/sidecar/sidecar-app.js';
import type { JsonObject } from '../../src/domain/json.js';
import { repoRoot } from '../support/shared-fixtures.js';
import {
  applyPluginConfigCrd,
  createNamespace,
  createPluginConfig,
  createPod,
  deletePluginConfig,
  eventsFor,
  readPluginConfig,
  replacePluginConfigSpec,
  waitFor,
} from '../support/kube-objects.js';

const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const NS = 'shop';
const OTHER_NS = 'other';
/** The pods (namespace/name → labels); each gets a real gRPC subscriber. */
const PODS: Record<string, Record<string, string>> = {
  [`${NS}/web-1`]: { app: 'web', tier: 'front' },
  [`${NS}/web-2`]: { app: 'web' },
  [`${NS}/db-1`]: { app: 'db' },
  [`${OTHER_NS}/web-x`]: { app: 'web' },
};

interface Sidecar {
  readonly source: GrpcPluginConfigSource;
  readonly sets: PodPluginSet[];
}

interface Ctx {
  kube?: KubeControlPlane;
  app?: ControllerApp;
  sidecars: Map<string, Sidecar>;
}

const rewrite = (value: string) => ({ name: 'response-rewrite', config: { headers: { set: { 'x-amesh': value } } } });
const latest = (ctx: Ctx, pod: string): PodPluginSet | undefined => ctx.sidecars.get(pod)!.sets.at(-1);
const counts = (ctx: Ctx): Record<string, number> => Object.fromEntries([...ctx.sidecars].map(([pod, s]) => [pod, s.sets.length]));
const pluginsOf = (set: PodPluginSet | undefined): unknown => set?.plugins.map((p) => ({ name: p.name, phase: p.phase, config: p.config, source: p.source }));

/** Waits until exactly `changed` got a new set since `before`; then checks that no other pod did. */
async function expectDeliveredTo(ctx: Ctx, before: Record<string, number>, changed: readonly string[]): Promise<void> {
  await waitFor(`new plugin sets for ${changed.join(', ')}`, () => changed.every((pod) => ctx.sidecars.get(pod)!.sets.length > before[pod]!));
  await new Promise((r) => setTimeout(r, 400)); // anything else in flight arrives now
  for (const [pod, sidecar] of ctx.sidecars) {
    const expected = changed.includes(pod) ? before[pod]! + 1 : before[pod]!;
    assert.is(sidecar.sets.length, expected, `${pod}: ${sidecar.sets.length - before[pod]!} new sets, expected ${expected - before[pod]!}`);
    const versions = sidecar.sets.map((s) => s.version);
    assert.equal(
      versions,
      [...versions].sort((a, b) => a - b),
      `${pod}: versions not increasing: ${versions.join(', ')}`,
    );
  }
}

async function readyCondition(ctx: Ctx, name: string, generation?: number) {
  return waitFor(`status of ${name}${generation ? ` at generation ${generation}` : ''}`, async () => {
    const got = await readPluginConfig(ctx.kube!.kubeConfig(), NS, name);
    const ready = got.status?.conditions?.find((c) => c.type === 'Ready');
    return ready && got.status?.observedGeneration === (generation ?? got.metadata.generation) ? { status: got.status!, ready } : undefined;
  });
}

const available = kubeAvailable();
const s = suite<Ctx>('amesh controller on a real kube-apiserver: AmeshPluginConfig → sidecars', { sidecars: new Map() });

if (!available.apiserver || !available.etcd) {
  console.log(`kube-plugin-controller: skipped: ${available.reason ?? ''}`);
} else {
  s.before(async (ctx) => {
    ctx.kube = await startKube();
    const kc = ctx.kube.kubeConfig();
    await applyPluginConfigCrd(kc);
    await createNamespace(kc, NS);
    await createNamespace(kc, OTHER_NS);
    for (const [key, labels] of Object.entries(PODS)) {
      const [namespace, name] = key.split('/') as [string, string];
      await createPod(kc, namespace, name, labels);
    }
    const config = parseControllerConfig({ listen: '127.0.0.1:0', leaderElect: 'off', metricsAddress: 'off', healthAddress: 'off', resync: '60s', logLevel: 'silent' });
    if (!config.ok) throw new Error(config.error);
    ctx.app = buildControllerContainer(config.value, { kubeConfig: kc, logger: quiet }).get<ControllerApp>(ControllerAppToken);
    await ctx.app.start();
    for (const key of Object.keys(PODS)) {
      const [namespace, name] = key.split('/') as [string, string];
      const source = new GrpcPluginConfigSource({ target: ctx.app.address!, pod: { namespace, name }, logger: quiet, retry: { initialMs: 100, maxMs: 1000 } });
      const sets: PodPluginSet[] = [];
      source.subscribe((set) => sets.push(set));
      ctx.sidecars.set(key, { source, sets });
    }
    await waitFor('every sidecar to get its first (empty) set', () => [...ctx.sidecars.values()].every((sc) => sc.sets.length === 1));
  });

  s.after(async (ctx) => {
    await Promise.all([...ctx.sidecars.values()].map((sc) => sc.source.close()));
    await ctx.app?.stop();
    await ctx.kube?.stop();
  });

  s('creating a config delivers its plugins to exactly the selected pods; Ready status and an Event appear', async (ctx) => {
    const kc = ctx.kube!.kubeConfig();
    for (const sc of ctx.sidecars.values()) assert.equal(sc.sets[0]!.plugins, []);
    const before = counts(ctx);
    await createPluginConfig(kc, NS, 'web-headers', { selector: { matchLabels: { app: 'web' } }, plugins: [rewrite('v1')] });
    await expectDeliveredTo(ctx, before, [`${NS}/web-1`, `${NS}/web-2`]);
    const expected = [{ name: 'response-rewrite', phase: 'route', config: { headers: { set: { 'x-amesh': 'v1' } } }, source: `${NS}/web-headers` }];
    assert.equal(pluginsOf(latest(ctx, `${NS}/web-1`)), expected);
    assert.equal(pluginsOf(latest(ctx, `${NS}/web-2`)), expected);

    const { status, ready } = await readyCondition(ctx, 'web-headers', 1);
    assert.is(ready.status, 'True');
    assert.is(ready.reason, 'Delivered');
    assert.is(status.matchedPods, 2);
    const events = await waitFor('an Event', async () => {
      const got = await eventsFor(kc, NS, 'web-headers');
      return got.length > 0 ? got : undefined;
    });
    assert.equal(events[0], { type: 'Normal', reason: 'Delivered', message: 'selects 2 pods' });
  });

  s('changing the plugins re-delivers to the same pods with higher versions', async (ctx) => {
    const before = counts(ctx);
    const versionBefore = latest(ctx, `${NS}/web-1`)!.version;
    await replacePluginConfigSpec(ctx.kube!.kubeConfig(), NS, 'web-headers', { selector: { matchLabels: { app: 'web' } }, plugins: [rewrite('v2')] });
    await expectDeliveredTo(ctx, before, [`${NS}/web-1`, `${NS}/web-2`]);
    assert.ok(latest(ctx, `${NS}/web-1`)!.version > versionBefore);
    assert.equal(latest(ctx, `${NS}/web-2`)!.plugins[0]!.config, { headers: { set: { 'x-amesh': 'v2' } } });
    const { ready } = await readyCondition(ctx, 'web-headers', 2);
    assert.is(ready.observedGeneration, 2);
  });

  s('changing only the selector moves the plugins: the old pods lose them, the new pod gets them', async (ctx) => {
    const before = counts(ctx);
    await replacePluginConfigSpec(ctx.kube!.kubeConfig(), NS, 'web-headers', { selector: { matchLabels: { tier: 'front' } }, plugins: [rewrite('v2')] });
    // web-1 keeps the same set (it has tier=front), web-2 loses it: only web-2 changes.
    await expectDeliveredTo(ctx, before, [`${NS}/web-2`]);
    assert.equal(latest(ctx, `${NS}/web-2`)!.plugins, []);
    const before2 = counts(ctx);
    await replacePluginConfigSpec(ctx.kube!.kubeConfig(), NS, 'web-headers', {
      selector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['db'] }] },
      plugins: [rewrite('v2')],
    });
    await expectDeliveredTo(ctx, before2, [`${NS}/web-1`, `${NS}/db-1`]);
    assert.equal(latest(ctx, `${NS}/web-1`)!.plugins, []);
    assert.equal(
      latest(ctx, `${NS}/db-1`)!.plugins.map((p) => p.name),
      ['response-rewrite'],
    );
    const { status } = await readyCondition(ctx, 'web-headers', 4);
    assert.is(status.matchedPods, 1);
  });

  s('a pod whose labels change moves in and out of a selection', async (ctx) => {
    const core = ctx.kube!.kubeConfig().makeApiClient(CoreV1Api);
    const before = counts(ctx);
    await core.patchNamespacedPod({ namespace: NS, name: 'web-2', body: [{ op: 'replace', path: '/metadata/labels/app', value: 'db' }] });
    await expectDeliveredTo(ctx, before, [`${NS}/web-2`]);
    assert.equal(
      latest(ctx, `${NS}/web-2`)!.plugins.map((p) => p.name),
      ['response-rewrite'],
    );
    const before2 = counts(ctx);
    await core.patchNamespacedPod({ namespace: NS, name: 'web-2', body: [{ op: 'replace', path: '/metadata/labels/app', value: 'web' }] });
    await expectDeliveredTo(ctx, before2, [`${NS}/web-2`]);
    assert.equal(latest(ctx, `${NS}/web-2`)!.plugins, []);
  });

  s('two configs on one pod: the higher priority wins the shared plugin, both contribute the rest; the loser says so', async (ctx) => {
    const kc = ctx.kube!.kubeConfig();
    const before = counts(ctx);
    await createPluginConfig(kc, NS, 'db-strict', {
      priority: 10,
      selector: { matchLabels: { app: 'db' } },
      plugins: [
        rewrite('strict'),
        { name: 'limit-count', config: { count: 10, time_window: 60, rejected_code: 429 } },
        { name: 'auth', phase: 'pre-req', config: { realm: 'db' } },
      ],
    });
    await expectDeliveredTo(ctx, before, [`${NS}/db-1`]);
    const set = latest(ctx, `${NS}/db-1`)!;
    assert.equal(
      set.plugins.map((p) => [p.name, p.phase, p.source]),
      [
        ['response-rewrite', 'route', `${NS}/db-strict`],
        ['limit-count', 'route', `${NS}/db-strict`],
        ['auth', 'pre-req', `${NS}/db-strict`],
      ],
    );
    assert.equal(set.plugins[0]!.config, { headers: { set: { 'x-amesh': 'strict' } } });
    const { ready } = await waitFor('the loser to report the override', async () => {
      const got = await readyCondition(ctx, 'web-headers');
      return got.ready.reason === 'PartlyOverridden' ? got : undefined;
    });
    assert.is(ready.message, `selects 1 pod; plugin response-rewrite (route) is overridden by ${NS}/db-strict`);
  });

  s('a sidecar that cannot apply a plugin reports it: Applied=False and a Warning Event on that config', async (ctx) => {
    const pod = `${NS}/db-1`;
    const set = latest(ctx, pod)!;
    ctx.sidecars
      .get(pod)!
      .source.report({ version: set.version, problems: [{ name: 'limit-count', phase: 'route', source: `${NS}/db-strict`, reason: 'plugin not enabled in APISIX' }] });
    const applied = await waitFor('Applied=False', async () => {
      const got = await readPluginConfig(ctx.kube!.kubeConfig(), NS, 'db-strict');
      const c = got.status?.conditions?.find((x) => x.type === 'Applied');
      return c?.status === 'False' ? c : undefined;
    });
    assert.is(applied.reason, 'SidecarRejected');
    assert.is(applied.message, `pod ${pod}: limit-count: plugin not enabled in APISIX`);
    const events = await waitFor('the Warning Event', async () => (await eventsFor(ctx.kube!.kubeConfig(), NS, 'db-strict')).find((e) => e.reason === 'SidecarRejected'));
    assert.is(events.type, 'Warning');
  });

  s('the CRD schema refuses malformed configs; nothing is delivered', async (ctx) => {
    const kc = ctx.kube!.kubeConfig();
    const before = counts(ctx);
    const refusal = async (name: string, spec: unknown): Promise<string> => {
      try {
        await createPluginConfig(kc, NS, name, spec as never);
      } catch (e) {
        return String((e as { body?: unknown }).body ?? e);
      }
      throw new Error(`${name} was accepted`);
    };
    assert.match(await refusal('bad-phase', { plugins: [{ name: 'cors', phase: 'sometimes', config: {} }] }), /spec\.plugins\[0\]\.phase.*Unsupported value/);
    assert.match(await refusal('config-string', { plugins: [{ name: 'cors', config: '{"allow_origins":"*"}' }] }), /spec\.plugins\[0\]\.config/);
    assert.match(await refusal('no-plugins', { plugins: [] }), /spec\.plugins/);
    assert.match(
      await refusal('bad-selector', { selector: { matchExpressions: [{ key: 'app', operator: 'In' }] }, plugins: [{ name: 'cors', config: {} }] }),
      /In and NotIn need at least one value/,
    );
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(counts(ctx), before);
  });

  s('a config the schema lets through but the controller refuses is marked Invalid, with a Warning Event, and delivers nothing', async (ctx) => {
    const kc = ctx.kube!.kubeConfig();
    const before = counts(ctx);
    await createPluginConfig(kc, NS, 'dup-plugin', {
      plugins: [
        { name: 'cors', phase: 'route', config: {} },
        { name: 'cors', phase: 'route', config: { allow_origins: '*' } },
      ],
    });
    const dup = await readyCondition(ctx, 'dup-plugin', 1);
    assert.is(dup.ready.reason, 'Invalid');
    assert.is(dup.ready.message, 'not delivered: spec.plugins[1].name: "cors" (phase route) is already listed at spec.plugins[0]');
    await createPluginConfig(kc, NS, 'reserved-name', { selector: { matchLabels: { app: 'web' } }, plugins: [{ name: 'ext-plugin-pre-req', config: { conf: [] } }] });
    const { ready, status } = await readyCondition(ctx, 'reserved-name', 1);
    assert.is(ready.status, 'False');
    assert.is(ready.reason, 'Invalid');
    assert.match(ready.message, /^not delivered: spec\.plugins\[0\]\.name: "ext-plugin-pre-req" is generated from the plugins with phase pre-req\/post-req/);
    assert.is(status.matchedPods, 0);
    const warning = await waitFor('the Invalid event', async () => (await eventsFor(kc, NS, 'reserved-name')).find((e) => e.reason === 'Invalid'));
    assert.is(warning.type, 'Warning');
    assert.equal(counts(ctx), before);
  });

  s('deleting configs takes their plugins away from exactly their pods', async (ctx) => {
    const kc = ctx.kube!.kubeConfig();
    const before = counts(ctx);
    await deletePluginConfig(kc, NS, 'db-strict');
    await expectDeliveredTo(ctx, before, [`${NS}/db-1`]);
    // web-headers (app In [db]) is what db-1 has left.
    assert.equal(pluginsOf(latest(ctx, `${NS}/db-1`)), [
      { name: 'response-rewrite', phase: 'route', config: { headers: { set: { 'x-amesh': 'v2' } } }, source: `${NS}/web-headers` },
    ]);
    const before2 = counts(ctx);
    await deletePluginConfig(kc, NS, 'web-headers');
    await deletePluginConfig(kc, NS, 'reserved-name');
    await deletePluginConfig(kc, NS, 'dup-plugin');
    await expectDeliveredTo(ctx, before2, [`${NS}/db-1`]);
    assert.equal(latest(ctx, `${NS}/db-1`)!.plugins, []);
  });

  s('end to end: an amesh sidecar subscribed with --plugins-from renders the plugins into its routes and its collision report reaches the status', async (ctx) => {
    const kc = ctx.kube!.kubeConfig();
    const bookinfo = path.join(repoRoot, 'examples/bookinfo/sidecar-resources.yaml');
    const flags = parseSidecarConfig({
      file: bookinfo,
      sink: ['memory'],
      readyAddress: 'off',
      metricsAddress: 'off',
      adminAddress: 'off',
      pluginsFrom: ctx.app!.address!,
      podName: 'web-1',
      podNamespace: NS,
    });
    if (!flags.ok) throw new Error(flags.error);
    const sink = new MemoryConfigSink();
    const node = { id: 'web-1.shop', cluster: 'test', dynamicParameters: {}, userAgentName: 'amesh-ts', extensions: [], clientFeatures: [], listeningAddresses: [] };
    const sidecar = (await buildSidecarContainer(flags.value, node, { logger: new PinoLogger({ level: 'silent' }), sinks: [sink] })).get<SidecarApp>(SidecarAppToken);
    await sidecar.start();
    try {
      const routePlugins = (): JsonObject[] => sink.applied.ofKind('routes').map((r) => (r.value['plugins'] as JsonObject | undefined) ?? {});
      await waitFor('the translated routes', () => routePlugins().length > 0);
      await createPluginConfig(kc, NS, 'e2e', {
        selector: { matchLabels: { tier: 'front' } },
        plugins: [
          { name: 'fault-injection', config: { abort: { http_status: 503, percentage: 1 } } },
          { name: 'key-auth', config: { header: 'apikey' } },
        ],
      });
      await waitFor('key-auth on every route of web-1', () => routePlugins().every((p) => 'key-auth' in p));
      const applied = await waitFor('Applied=False from the sidecar report', async () => {
        const got = await readPluginConfig(kc, NS, 'e2e');
        const c = got.status?.conditions?.find((x) => x.type === 'Applied');
        return c?.status === 'False' ? c : undefined;
      });
      assert.match(applied.message, new RegExp(`^pod ${NS}/web-1: fault-injection: 3 routes already carry fault-injection from the mesh configuration`));
      await deletePluginConfig(kc, NS, 'e2e');
      await waitFor('the plugins to leave the routes', () => routePlugins().every((p) => !('key-auth' in p)));
    } finally {
      await sidecar.stop();
    }
  });

  s('the controller survives an API-server restart and converges on what changed around it', async (ctx) => {
    const kube = ctx.kube!;
    const app = ctx.app!;
    await kube.killApiServer();
    await waitFor('the controller to notice', () => !app.controller.state.connected, 30_000);
    await kube.startApiServer();
    await waitFor('the controller to reconnect', () => app.controller.state.connected, 30_000);
    const kc = kube.kubeConfig();
    const before = counts(ctx);
    await createPluginConfig(kc, OTHER_NS, 'after-restart', { plugins: [rewrite('after')] });
    await expectDeliveredTo(ctx, before, [`${OTHER_NS}/web-x`]);
    assert.equal(latest(ctx, `${OTHER_NS}/web-x`)!.plugins[0]!.source, `${OTHER_NS}/after-restart`);
    const status = await waitFor('status after the restart', async () => {
      const got = await readPluginConfig(kc, OTHER_NS, 'after-restart');
      return got.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? got.status : undefined;
    });
    assert.is(status.matchedPods, 1);
  });

  s.run();
}

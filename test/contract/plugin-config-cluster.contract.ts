// What every PluginConfigCluster owes the controller, in memory or on a real API server: what exists
// at start is reported before `synced`, later changes and deletions are reported as they happen,
// specs arrive read and validated (problems name their field), written status is stored and echoed
// back, Events are recorded, and writes to objects that are gone fail as values.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ClusterEvent, ClusterEvents, ConfigRef, ConfigStatus, ObservedConfig, ObservedPod } from '../../src/ports/plugin-config-cluster.js';
import type { PluginConfigCluster } from '../../src/ports/plugin-config-cluster.js';

export interface ClusterFixture {
  readonly cluster: PluginConfigCluster;
  /** A namespace of its own for this test. */
  readonly namespace: string;
  putConfig(name: string, spec: unknown): Promise<void>;
  deleteConfig(name: string): Promise<void>;
  putPod(name: string, labels: Record<string, string>): Promise<void>;
  deletePod(name: string): Promise<void>;
  readStatus(name: string): Promise<ConfigStatus | undefined>;
  readEvents(name: string): Promise<ClusterEvent[]>;
  cleanup(): Promise<void>;
}

type Seen =
  | { kind: 'config'; config: ObservedConfig }
  | { kind: 'config-deleted'; ref: ConfigRef }
  | { kind: 'pod'; pod: ObservedPod }
  | { kind: 'pod-deleted'; name: string }
  | { kind: 'synced' };

function recorder(): { events: ClusterEvents; seen: Seen[] } {
  const seen: Seen[] = [];
  return {
    seen,
    events: {
      configChanged: (config) => seen.push({ kind: 'config', config }),
      configDeleted: (ref) => seen.push({ kind: 'config-deleted', ref }),
      podChanged: (pod) => seen.push({ kind: 'pod', pod }),
      podDeleted: (pod) => seen.push({ kind: 'pod-deleted', name: pod.name }),
      synced: () => seen.push({ kind: 'synced' }),
      disconnected: () => undefined,
    },
  };
}

async function until<T>(what: string, check: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const spec = (plugin: string, labels: Record<string, string> = { app: 'web' }) => ({
  selector: { matchLabels: labels },
  plugins: [{ name: plugin, phase: 'route', config: { n: 1 } }],
});
const lastConfig = (seen: Seen[], ns: string, name: string): ObservedConfig | undefined =>
  seen.filter((e): e is Extract<Seen, { kind: 'config' }> => e.kind === 'config' && e.config.ref.namespace === ns && e.config.ref.name === name).at(-1)?.config;

const STATUS: ConfigStatus = {
  observedGeneration: 1,
  matchedPods: 1,
  conditions: [{ type: 'Ready', status: 'True', reason: 'Delivered', message: 'selects 1 pod', observedGeneration: 1, lastTransitionTime: '2026-01-02T03:04:05Z' }],
};

export function pluginConfigClusterContract(name: string, setup: () => Promise<ClusterFixture>, teardown?: () => Promise<void>): void {
  const s = suite<{ f: ClusterFixture }>(`PluginConfigCluster contract: ${name}`);
  s.before.each(async (ctx) => {
    ctx.f = await setup();
  });
  s.after.each(async (ctx) => {
    await ctx.f.cluster.stop();
    await ctx.f.cleanup();
  });
  if (teardown) s.after(teardown);

  s('what exists at start is reported before synced', async ({ f }) => {
    await f.putConfig('existing', spec('cors'));
    await f.putPod('web-1', { app: 'web' });
    const { events, seen } = recorder();
    await f.cluster.start(events);
    await until('synced', () => seen.some((e) => e.kind === 'synced'));
    const syncedAt = seen.findIndex((e) => e.kind === 'synced');
    const before = seen.slice(0, syncedAt);
    const config = lastConfig(before, f.namespace, 'existing');
    assert.ok(config, 'the existing config was not reported before synced');
    assert.ok(config!.spec.ok);
    if (config!.spec.ok) assert.equal(config!.spec.value.plugins, [{ name: 'cors', phase: 'route', config: { n: 1 } }]);
    assert.is(config!.generation, 1);
    assert.ok(before.some((e) => e.kind === 'pod' && e.pod.namespace === f.namespace && e.pod.name === 'web-1' && e.pod.labels['app'] === 'web'));
  });

  s('changes and deletions after start are reported', async ({ f }) => {
    const { events, seen } = recorder();
    await f.cluster.start(events);
    await f.putConfig('c1', spec('cors'));
    await until('c1', () => lastConfig(seen, f.namespace, 'c1'));
    await f.putConfig('c1', spec('cors', { app: 'db' }));
    const changed = await until('c1 generation 2', () => (lastConfig(seen, f.namespace, 'c1')?.generation === 2 ? lastConfig(seen, f.namespace, 'c1') : undefined));
    if (changed.spec.ok) assert.equal(changed.spec.value.selector, { matchLabels: { app: 'db' } });
    await f.putPod('p1', { app: 'web' });
    await f.putPod('p1', { app: 'db' });
    await until('p1 relabelled', () => seen.some((e) => e.kind === 'pod' && e.pod.name === 'p1' && e.pod.labels['app'] === 'db'));
    await f.deletePod('p1');
    await f.deleteConfig('c1');
    await until('both deletions', () => seen.some((e) => e.kind === 'pod-deleted' && e.name === 'p1') && seen.some((e) => e.kind === 'config-deleted' && e.ref.name === 'c1'));
  });

  s('an invalid spec arrives as problems naming the field', async ({ f }) => {
    const { events, seen } = recorder();
    await f.cluster.start(events);
    await f.putConfig('bad', { plugins: [{ name: 'ext-plugin-post-req', phase: 'route', config: {} }] });
    const config = await until('bad', () => lastConfig(seen, f.namespace, 'bad'));
    assert.not.ok(config.spec.ok);
    if (!config.spec.ok)
      assert.equal(
        config.spec.error.map((p) => p.field),
        ['spec.plugins[0].name'],
      );
  });

  s('written status is stored and echoed back; a write to a deleted object fails as a value', async ({ f }) => {
    const { events, seen } = recorder();
    await f.cluster.start(events);
    await f.putConfig('st', spec('cors'));
    const config = await until('st', () => lastConfig(seen, f.namespace, 'st'));
    const written = await f.cluster.writeStatus(config.ref, STATUS);
    assert.ok(written.ok, written.ok ? '' : written.error);
    assert.equal(await f.readStatus('st'), STATUS);
    await until('the status echo', () => lastConfig(seen, f.namespace, 'st')?.status?.conditions[0]?.reason === 'Delivered');
    await f.deleteConfig('st');
    const gone = await f.cluster.writeStatus(config.ref, STATUS);
    assert.not.ok(gone.ok);
    if (!gone.ok) assert.match(gone.error, /st/);
  });

  s('Events are recorded against the object', async ({ f }) => {
    const { events, seen } = recorder();
    await f.cluster.start(events);
    await f.putConfig('ev', spec('cors'));
    const config = await until('ev', () => lastConfig(seen, f.namespace, 'ev'));
    const recorded = await f.cluster.recordEvent(config.ref, { type: 'Warning', reason: 'Invalid', message: 'spec.plugins[0].name: nope' });
    assert.ok(recorded.ok);
    assert.equal(await f.readEvents('ev'), [{ type: 'Warning', reason: 'Invalid', message: 'spec.plugins[0].name: nope' }]);
  });

  s.run();
}

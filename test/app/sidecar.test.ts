// The sidecar app wired as in production (container, sync loop, ops endpoints) with in-memory sinks:
// updates reach the sinks, bad updates are rejected with the last good config kept, the cache is
// served at start, failing sinks are retried, and the endpoints answer as Istio's probes expect.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MemoryConfigCache } from '../../src/adapters/memory/memory-config-cache.js';
import { MemoryConfigSink } from '../../src/adapters/memory/memory-config-sink.js';
import { MemoryConfigSource } from '../../src/adapters/memory/memory-config-source.js';
import { MemoryMetrics } from '../../src/adapters/memory/memory-metrics.js';
import { PinoLogger } from '../../src/adapters/logging/pino-logger.js';
import type { Node } from '../../src/adapters/envoy/ads-protocol.js';
import { parseSidecarConfig, type SidecarFlags } from '../../src/app/sidecar/sidecar-config.js';
import { buildSidecarContainer, SidecarAppToken, type SidecarOverrides } from '../../src/app/sidecar/sidecar-container.js';
import type { SidecarApp } from '../../src/app/sidecar/sidecar-app.js';
import type { ApplyResult, ConfigSink, SinkUpdate } from '../../src/ports/config-sink.js';
import type { ConfigWatcher, Disposable, SourceUpdate, UpdateVerdict } from '../../src/ports/config-source.js';
import { repoRoot } from '../support/shared-fixtures.js';
import { loadFile } from '../support/translate-file.js';

const s = suite('amesh sidecar');
const bookinfo = path.join(repoRoot, 'examples/bookinfo/sidecar-resources.yaml');
const node: Node = { id: 'test', cluster: 'test', dynamicParameters: {}, userAgentName: 'amesh-ts', extensions: [], clientFeatures: [], listeningAddresses: [] };
const quiet = new PinoLogger({ level: 'silent' });

async function startApp(flags: SidecarFlags, overrides: SidecarOverrides): Promise<SidecarApp> {
  const config = parseSidecarConfig({ sink: ['memory'], readyAddress: '127.0.0.1:0', metricsAddress: 'off', adminAddress: '127.0.0.1:0', ...flags });
  if (!config.ok) throw new Error(config.error);
  const app = (await buildSidecarContainer(config.value, node, { logger: quiet, ...overrides })).get<SidecarApp>(SidecarAppToken);
  await app.start();
  return app;
}

async function get(app: SidecarApp, urlPath: string, on = app.ops[0]): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://${on}${urlPath}`);
  return { status: response.status, body: await response.text() };
}

async function until(condition: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A source that records the verdict the sidecar gives each update. */
class VerdictSource extends MemoryConfigSource {
  readonly verdicts: (UpdateVerdict | void)[] = [];
  private watcher: ConfigWatcher | undefined;
  override watch(watcher: ConfigWatcher): Disposable {
    this.watcher = watcher;
    return super.watch(watcher);
  }
  /** The verdict once settled: the sidecar answers with a promise when the update reaches the sinks. */
  async offer(update: SourceUpdate): Promise<UpdateVerdict | void> {
    const verdict = await this.watcher?.onUpdate(update);
    this.verdicts.push(verdict);
    return verdict;
  }
}

s('a file source reaches the sinks; probes and metrics answer; not ready before', async () => {
  const sink = new MemoryConfigSink();
  const source = new MemoryConfigSource();
  const app = await startApp({ file: bookinfo, metricsAddress: '127.0.0.1:0' }, { sinks: [sink], source });
  try {
    assert.is((await get(app, '/healthz/ready')).status, 503, 'nothing applied yet');
    source.publish(await loadFile(bookinfo));
    await app.sync.applied;
    assert.is(sink.applied.ofKind('routes').length, 10);
    assert.is((await get(app, '/healthz/ready')).status, 200);
    const dump = JSON.parse((await get(app, '/debug/config_dump', app.admin)).body) as { version: string; fidelity: { records: unknown[] }; config: { routes: unknown[] } };
    assert.is(dump.config.routes.length, 10);
    assert.ok(dump.fidelity.records.length > 10);
  } finally {
    await app.stop();
  }
});

s('Prometheus metrics are served where Istio scrapes them', async () => {
  const app = await startApp({ file: bookinfo, metricsAddress: '127.0.0.1:0', readyAddress: 'off', once: true }, {});
  try {
    await app.sync.applied;
    const metrics = await get(app, '/stats/prometheus');
    assert.is(metrics.status, 200);
    assert.match(metrics.body, /amesh_gateway_objects\{kind="routes"\} 10/);
    assert.match(metrics.body, /amesh_translation_seconds_count\{outcome="ok"\} 1/);
    assert.match(metrics.body, /amesh_apply_seconds_count\{sink="memory",outcome="ok"\} 1/);
  } finally {
    await app.stop();
  }
});

s('a translation error rejects the update and keeps the last good configuration', async () => {
  const sink = new MemoryConfigSink();
  const source = new VerdictSource();
  const metrics = new MemoryMetrics();
  const app = await startApp({ file: bookinfo }, { sinks: [sink], source, metrics });
  try {
    const good = await loadFile(bookinfo);
    assert.equal(await source.offer(good), { accepted: true });
    await app.sync.applied;
    const dir = mkdtempSync(path.join(tmpdir(), 'amesh-sidecar-'));
    try {
      const text = readFileSync(bookinfo, 'utf8').replace('regex: "/reviews/[0-9]+"', 'regex: "/reviews/(?=x)"');
      writeFileSync(path.join(dir, 'bad.yaml'), text);
      const verdict = await source.offer(await loadFile(path.join(dir, 'bad.yaml')));
      assert.ok(verdict && !verdict.accepted && /safe_regex\.regex/.test(verdict.reason), JSON.stringify(verdict));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.is(sink.applyCount, 1, 'nothing applied for the rejected update');
    assert.is(metrics.counters.get('translation:error'), 1);
    assert.is((await get(app, '/healthz/ready')).status, 200, 'still serving the last good configuration');
  } finally {
    await app.stop();
  }
});

s('follows the file: an edit reaches the sink', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'amesh-sidecar-'));
  const file = path.join(dir, 'resources.yaml');
  copyFileSync(bookinfo, file);
  const sink = new MemoryConfigSink();
  const app = await startApp({ file }, { sinks: [sink] });
  try {
    await app.sync.applied;
    const weightOf = (): unknown => JSON.stringify(sink.applied.ofKind('routes').map((r) => r.value.plugins ?? {})).match(/"weight":(\d+)/)?.[1];
    assert.is(weightOf(), '80');
    writeFileSync(file, readFileSync(bookinfo, 'utf8').replace('weight: 80', 'weight: 60'));
    await until(() => weightOf() === '60', 'the weight change');
  } finally {
    await app.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

s('serves the cached configuration when the source never answers, then the live one', async () => {
  const cache = new MemoryConfigCache();
  const first = new MemoryConfigSink();
  const warm = await startApp({ file: bookinfo, once: true }, { sinks: [first], cache });
  await warm.sync.applied;
  await warm.stop();
  const saved = await cache.load();
  assert.ok(saved.ok && saved.value && saved.value.objects.size === first.applied.objects.size, 'the applied config was cached');

  const sink = new MemoryConfigSink();
  const silent = new MemoryConfigSource();
  const app = await startApp({ file: bookinfo }, { sinks: [sink], cache, source: silent });
  try {
    await until(() => sink.applyCount === 1, 'the cached config to be applied');
    assert.is(sink.applied.objects.size, first.applied.objects.size);
    assert.is((await get(app, '/healthz/ready')).status, 200, 'ready on the cached configuration');
    assert.ok(app.sync.state.fromCache);
    const dir = mkdtempSync(path.join(tmpdir(), 'amesh-sidecar-'));
    try {
      writeFileSync(path.join(dir, 'live.yaml'), readFileSync(bookinfo, 'utf8').replace('weight: 80', 'weight: 70'));
      silent.publish(await loadFile(path.join(dir, 'live.yaml')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    await app.sync.applied;
    assert.not.ok(app.sync.state.fromCache);
    assert.is(sink.applyCount, 2, 'only the change from the cached config is applied');
    assert.match(JSON.stringify(sink.applied.ofKind('routes').map((r) => r.value.plugins ?? {})), /"weight":70/);
  } finally {
    await app.stop();
  }
});

s('a failing sink is retried until it converges; other sinks are not blocked', async () => {
  class FlakySink implements ConfigSink {
    readonly target = 'flaky';
    calls = 0;
    last: SinkUpdate | undefined;
    async apply(update: SinkUpdate): Promise<ApplyResult> {
      this.calls += 1;
      if (this.calls <= 2) return { applied: 0, failed: [{ key: '*', reason: 'injected failure' }] };
      this.last = update;
      return { applied: update.changes.changes.length, failed: [] };
    }
  }
  const flaky = new FlakySink();
  const steady = new MemoryConfigSink();
  const app = await startApp({ file: bookinfo }, { sinks: [flaky, steady] });
  try {
    await app.sync.applied;
    assert.is(flaky.calls, 3);
    assert.is(steady.applyCount, 1, 'the healthy sink applied once and was not re-sent the config');
    assert.is(flaky.last?.changes.changes.length, flaky.last?.desired.objects.size, 'the retried sink got the full change set');
  } finally {
    await app.stop();
  }
});

s('--sink shdict:<path>[?group=<name|gid>] selects the shared-dict sink', () => {
  const parsed = parseSidecarConfig({ file: 'x', sink: ['shdict:/run/amesh/xds.shm', 'shdict:/run/b.shm?group=nogroup'] });
  assert.ok(parsed.ok);
  assert.equal(parsed.value.sinks, [
    { kind: 'shdict', path: '/run/amesh/xds.shm', group: undefined },
    { kind: 'shdict', path: '/run/b.shm', group: 'nogroup' },
  ]);
});

s('usage errors name the flag', () => {
  const bad: [SidecarFlags, RegExp][] = [
    [{ sink: ['memory'] }, /missing source/],
    [{ xds: 'istiod', sink: ['memory'] }, /--xds/],
    [{ xds: '127.0.0.1:15010', xdsMode: 'push', sink: ['memory'] }, /--xds-mode/],
    [{ file: 'x', sink: ['etcd:foo'] }, /--sink/],
    [{ file: 'x', sink: ['shdict:relative/xds.shm'] }, /--sink.*absolute/],
    [{ file: 'x', sink: ['shdict:/run/amesh/xds.shm?group=no group'] }, /--sink.*group/],
    [{ file: 'x', sink: ['memory'], readyAddress: 'nope' }, /--ready-address/],
    [{ xds: '127.0.0.1:15010', certFile: 'c.pem', sink: ['memory'] }, /--cert-file and --key-file/],
  ];
  for (const [flags, message] of bad) {
    const config = parseSidecarConfig(flags);
    assert.ok(!config.ok && message.test(config.error), `${JSON.stringify(flags)} → ${JSON.stringify(config)}`);
  }
});

s.run();

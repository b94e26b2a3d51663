// ShdictConfigSink against a real Debian nginx + lua-nginx-module loading native/build/libxds.so as
// APISIX's config_xds.lua does: the sink contract, then what APISIX's xds provider relies on —
// the dict equals the agent's snapshot (create, update, delete, 10k objects), deletes delete,
// `version` moves once per batch, a full dict fails the apply and leaves the dict as it was,
// reloads / worker and nginx restarts rebuild without the agent, an agent restart blanks nothing,
// and every value passes APISIX's schemas.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ShdictConfigSink } from '../../src/adapters/shdict-sink/shdict-sink.js';
import type { Node } from '../../src/adapters/envoy/ads-protocol.js';
import { PinoLogger } from '../../src/adapters/logging/pino-logger.js';
import type { SidecarApp } from '../../src/app/sidecar/sidecar-app.js';
import { parseSidecarConfig } from '../../src/app/sidecar/sidecar-config.js';
import { buildSidecarContainer, SidecarAppToken } from '../../src/app/sidecar/sidecar-container.js';
import { diffConfigs } from '../../src/domain/diff.js';
import { GatewayConfig, GATEWAY_KINDS, type GatewayKind, type GatewayObject } from '../../src/domain/gateway-config.js';
import type { JsonObject, JsonValue } from '../../src/domain/json.js';
import type { ApplyResult } from '../../src/ports/config-sink.js';
import { configSinkContract, type ReadBack } from '../contract/config-sink.contract.js';
import { ApisixSchemas } from '../support/apisix-schemas.js';
import { MARKER_KEY, NGINX_GID, NginxShdict, nginxUnavailable, shmSlots, type DictDump, type NginxOptions } from '../support/nginx-shdict.js';
import { repoRoot, requireShared } from '../support/shared-fixtures.js';
import { meshConfig, withRouteChanged } from '../support/shdict-configs.js';
import { translateFile } from '../support/translate-file.js';

const NAME = 'ShdictConfigSink (real nginx)';

/** The dict as `kind/id` → parsed value, failing on any key that is neither ours nor the marker. */
function objectsOf(dump: DictDump): Map<string, JsonValue> {
  const objects = new Map<string, JsonValue>();
  for (const [key, value] of dump.keys) {
    if (key === MARKER_KEY) continue;
    const match = /^\/([a-z_]+)\/(.+)$/.exec(key);
    assert.ok(match && (GATEWAY_KINDS as readonly string[]).includes(match[1]!), `unexpected dict key ${key}`);
    objects.set(`${match![1]}/${match![2]}`, JSON.parse(value) as JsonValue);
  }
  return objects;
}

function assertDictHolds(dump: DictDump, config: GatewayConfig): void {
  const objects = objectsOf(dump);
  assert.is(objects.size, config.objects.size, 'as many keys as objects');
  for (const [key, object] of config.objects) assert.equal(objects.get(key), object.value, key);
  assert.ok(dump.keys.has(MARKER_KEY), 'the marker keeps the dict non-empty (APISIX ignores an empty dict)');
}

/** The dict's content as a GatewayConfig, for the schema oracle. */
function configOf(dump: DictDump): GatewayConfig {
  const objects: GatewayObject[] = [];
  for (const [key, value] of objectsOf(dump)) {
    const [kind, id] = [key.slice(0, key.indexOf('/')), key.slice(key.indexOf('/') + 1)];
    objects.push({ kind: kind as GatewayKind, id, value: value as JsonObject });
  }
  return GatewayConfig.of(dump.version ?? '', objects);
}

async function applyNext(sink: ShdictConfigSink, from: GatewayConfig, to: GatewayConfig): Promise<ApplyResult> {
  return sink.apply({ desired: to, changes: diffConfigs(from, to) });
}

interface Rig {
  readonly nginx: NginxShdict;
  readonly shmPath: string;
  readonly sink: ShdictConfigSink;
  destroy(): Promise<void>;
}

async function rig(options: Partial<NginxOptions> = {}): Promise<Rig> {
  const { prefix, shmDir } = await NginxShdict.makeDirs();
  const shmPath = join(shmDir, 'xds.shm');
  const nginx = await NginxShdict.start(prefix, { ...options, shmPath });
  const sink = new ShdictConfigSink({ path: shmPath, group: NGINX_GID });
  return {
    nginx,
    shmPath,
    sink,
    destroy: async () => {
      sink.close();
      await nginx.destroy();
    },
  };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const readerLines = (log: string): string[] => log.split('\n').filter((line) => line.includes('[amesh libxds]'));

const unavailable = nginxUnavailable();
if (unavailable) {
  console.log(`${NAME}: skipped: ${unavailable}`);
} else {
  configSinkContract(NAME, async () => {
    const r = await rig();
    return { sink: r.sink, readBack: async (): Promise<ReadBack> => objectsOf(await r.nginx.dump()), cleanup: r.destroy };
  });

  const s = suite(`${NAME}: what APISIX's xds provider reads`);

  s("the file is mode 0660 and of nginx's group; nginx reads it as nobody", async () => {
    const r = await rig();
    try {
      const v1 = meshConfig(4, 'v1');
      assert.equal((await applyNext(r.sink, GatewayConfig.empty(), v1)).failed, []);
      const info = await stat(r.shmPath);
      assert.is((info.mode & 0o777).toString(8), '660');
      assert.is(info.gid, NGINX_GID);
      assertDictHolds(await r.nginx.dump(), v1);
    } finally {
      await r.destroy();
    }
  });

  const shared = requireShared(`${NAME} (schemas)`);
  if (shared) {
    s("bookinfo: create, update, delete; the dict equals the snapshot, version moves per batch, every value passes APISIX's schemas", async () => {
      const schemas = new ApisixSchemas(join(shared, 'apisix-schemas'));
      const bookinfo = (await translateFile(join(repoRoot, 'examples/bookinfo/istiod-capture.json'))).translation.config;
      const r = await rig();
      try {
        assert.equal((await applyNext(r.sink, GatewayConfig.empty(), bookinfo)).failed, []);
        const created = await r.nginx.dump();
        assertDictHolds(created, bookinfo);
        assert.equal(schemas.violations(configOf(created)), []);
        assert.match(created.version ?? '', /^\d{13}$/, 'a millisecond version like the reference library writes');

        // Update one upstream's nodes, delete one route: a real diff of the translated config.
        const [routeKey] = [...bookinfo.objects.keys()].filter((k) => k.startsWith('routes/'));
        const [upstreamKey] = [...bookinfo.objects.keys()].filter((k) => k.startsWith('upstreams/'));
        const objects = [...bookinfo.objects.values()].filter((o) => `${o.kind}/${o.id}` !== routeKey);
        const next = GatewayConfig.of(
          'v2',
          objects.map((o) => (`${o.kind}/${o.id}` === upstreamKey ? { ...o, value: { ...o.value, nodes: [{ host: '10.9.9.9', port: 9080, weight: 3 }] } } : o)),
        );
        assert.equal((await applyNext(r.sink, bookinfo, next)).failed, []);
        const updated = await r.nginx.dump();
        assertDictHolds(updated, next);
        assert.not.ok(updated.keys.has(`/${routeKey!}`), 'the deleted route is gone, not an empty string');
        assert.ok(BigInt(updated.version!) > BigInt(created.version!), 'version moved');
        assert.equal(schemas.violations(configOf(updated)), []);
      } finally {
        await r.destroy();
      }
    });
  }

  s('a worker polling version every millisecond finds every batch complete when it sees its version', async () => {
    const r = await rig({ observe: true });
    try {
      // Growing batches (each adds 1000 keys): if version moved before the keys, a poll in that window counts too few.
      const expectedKeys = new Map<string, number>();
      let current = GatewayConfig.empty();
      for (let objects = 1000; objects <= 10_000; objects += 1000) {
        const next = meshConfig(objects, `g${objects}`);
        assert.equal((await applyNext(r.sink, current, next)).failed, []);
        current = next;
        expectedKeys.set((await r.nginx.dump()).version!, objects + 1); // + the marker
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
      const seen = await r.nginx.observations();
      assert.ok(seen.length >= 1, 'the poller saw versions');
      for (const { version, keys } of seen) {
        const expected = expectedKeys.get(version);
        assert.ok(expected !== undefined, `version ${version} was never published by a batch`);
        assert.ok(keys >= expected!, `at version ${version} the dict held ${keys} keys, the batch has ${expected}`);
      }
    } finally {
      await r.destroy();
    }
  });

  s('10k objects: all there, then one update, then half of them deleted', async () => {
    const r = await rig();
    try {
      const big = meshConfig(10_000, 'v1');
      assert.equal((await applyNext(r.sink, GatewayConfig.empty(), big)).failed, []);
      assertDictHolds(await r.nginx.dump(), big);
      const one = withRouteChanged(big, 'v2', 4321, 'b');
      const before = await r.nginx.dump();
      assert.equal((await applyNext(r.sink, big, one)).failed, []);
      const after = await r.nginx.dump();
      assertDictHolds(after, one);
      assert.ok(BigInt(after.version!) > BigInt(before.version!));
      const half = meshConfig(5_000, 'v3');
      assert.equal((await applyNext(r.sink, one, half)).failed, []);
      assertDictHolds(await r.nginx.dump(), half);
    } finally {
      await r.destroy();
    }
  });

  s('a dict too small: the apply fails naming the key and "no memory", the dict and version stay as they were', async () => {
    const r = await rig({ configDictSize: '1m' });
    try {
      const small = meshConfig(10, 'v1');
      assert.equal((await applyNext(r.sink, GatewayConfig.empty(), small)).failed, []);
      const before = await r.nginx.dump();
      const big = meshConfig(10_000, 'v2');
      const result = await applyNext(r.sink, small, big);
      assert.is(result.applied, 0);
      assert.is(result.failed.length, 1);
      assert.match(result.failed[0]!.key, /^(routes|upstreams)\/svc-/);
      assert.match(result.failed[0]!.reason, /no memory/);
      assert.match(result.failed[0]!.reason, /rolled back/);
      const after = await r.nginx.dump();
      assert.is(after.version, before.version, 'no version bump for a failed batch');
      assertDictHolds(after, small);
      assert.match(await r.nginx.errorLog(), /not applied: .*no memory/);
      // What fits still goes through afterwards (the sidecar's retry path).
      const other = meshConfig(20, 'v3', 'c');
      assert.equal((await applyNext(r.sink, small, other)).failed, []);
      assertDictHolds(await r.nginx.dump(), other);
    } finally {
      await r.destroy();
    }
  });

  s('nginx -s reload in the middle of a stream of applies: none lost, the new worker takes over', async () => {
    const r = await rig();
    try {
      let current = meshConfig(1000, 'v0');
      assert.equal((await applyNext(r.sink, GatewayConfig.empty(), current)).failed, []);
      for (let i = 1; i <= 40; i++) {
        if (i === 10) await r.nginx.reload();
        const next = withRouteChanged(current, `v${i}`, i, `r${i}`);
        assert.equal((await applyNext(r.sink, current, next)).failed, [], `apply ${i}`);
        current = next;
      }
      assertDictHolds(await r.nginx.dump(), current);
      const lines = readerLines(await r.nginx.errorLog());
      assert.ok(lines.filter((l) => l.includes('following')).length >= 2, `a second instance attached:\n${lines.join('\n')}`);
      assert.ok(
        lines.some((l) => l.includes('another instance follows')),
        'the old one stopped',
      );
    } finally {
      await r.destroy();
    }
  });

  s('nginx restarted (fresh dicts) and worker 0 killed: the dicts are rebuilt from the shared state, the agent sends nothing', async () => {
    const r = await rig();
    let nginx = r.nginx;
    try {
      const v1 = meshConfig(500, 'v1');
      assert.equal((await applyNext(r.sink, GatewayConfig.empty(), v1)).failed, []);
      await nginx.stop();
      nginx = await NginxShdict.start(nginx.prefix, { shmPath: r.shmPath });
      await until('the restarted nginx to hold v1', async () => {
        const dump = await nginx.dump();
        return dump.version && objectsOf(dump).size === v1.objects.size ? dump : undefined;
      });
      assertDictHolds(await nginx.dump(), v1);

      const reader = r.sink.readerStatus()!.readerPid;
      process.kill(reader, 'SIGKILL');
      await until('a respawned worker 0 to follow the file', async () =>
        readerLines(await nginx.errorLog()).filter((l) => l.includes('following')).length >= 3 ? true : undefined,
      );
      assertDictHolds(await nginx.dump(), v1);
      const v2 = withRouteChanged(v1, 'v2', 7, 'after-respawn');
      assert.equal((await applyNext(r.sink, v1, v2)).failed, []);
      assert.is.not(r.sink.readerStatus()!.readerPid, reader, 'acknowledged by the new worker');
      assertDictHolds(await nginx.dump(), v2);
    } finally {
      r.sink.close();
      await nginx.destroy();
    }
  });

  s('agent restart: a new sink over the same file blanks nothing and continues with a diff', async () => {
    const r = await rig();
    try {
      const v1 = meshConfig(200, 'v1');
      assert.equal((await applyNext(r.sink, GatewayConfig.empty(), v1)).failed, []);
      const generation = r.sink.readerStatus()!.appliedGeneration;
      r.sink.close();
      const restarted = new ShdictConfigSink({ path: r.shmPath, group: NGINX_GID });
      try {
        const untouched = await r.nginx.dump();
        assertDictHolds(untouched, v1);
        // A restarted sidecar starts from nothing applied: its first change set creates everything.
        const v2 = withRouteChanged(v1, 'v2', 3, 'restarted');
        assert.equal((await applyNext(restarted, GatewayConfig.empty(), v2)).failed, []);
        assertDictHolds(await r.nginx.dump(), v2);
        assert.ok(restarted.readerStatus()!.appliedGeneration > generation, 'generations keep growing across agent restarts');
      } finally {
        restarted.close();
      }
    } finally {
      await r.destroy();
    }
  });

  /** A log grows only by delta records: its total grows while the snapshot generation stays. */
  async function deltaLogBytes(shmPath: string): Promise<bigint> {
    const slots = await shmSlots(shmPath);
    const head = slots.reduce((a, b) => (b.lastGeneration > a.lastGeneration ? b : a));
    return head.logBytes;
  }

  /** `base` plus / minus objects, and one route changed: the mix a delta must carry. */
  function mutate(base: GatewayConfig, step: number): GatewayConfig {
    const changed = withRouteChanged(base, `d${step}`, step % 50, `d${step}`);
    const extra = meshConfig(2 * (step + 1), `x${step}`, `x${step}`);
    const added = [...extra.objects.values()]
      .filter((o) => !changed.objects.has(`${o.kind}/${o.id}`))
      .map((o) => ({ ...o, id: `${o.id}-n${step}`, value: { ...o.value, id: `${o.id}-n${step}` } }));
    // Every third step deletes what step-1 added (route first, by the diff's order).
    const kept = [...changed.objects.values()].filter((o) => !(step % 3 === 0 && o.id.endsWith(`-n${step - 1}`)));
    return GatewayConfig.of(`d${step}`, [...kept, ...added.slice(0, 2)]);
  }

  s(
    "small deltas (creates, updates, deletes) travel as delta records; a restarted nginx and a respawned worker rebuild exactly the agent's state from snapshot + log",
    async () => {
      const r = await rig();
      let nginx = r.nginx;
      try {
        let current = meshConfig(100, 'base');
        assert.equal((await applyNext(r.sink, GatewayConfig.empty(), current)).failed, []);
        const logBefore = await deltaLogBytes(r.shmPath);
        for (let step = 1; step <= 30; step++) {
          const next = mutate(current, step);
          const before = (await nginx.dump()).version!;
          assert.equal((await applyNext(r.sink, current, next)).failed, [], `delta ${step}`);
          current = next;
          const dump = await nginx.dump();
          assertDictHolds(dump, current);
          assert.ok(BigInt(dump.version!) > BigInt(before), `version moved at delta ${step}`);
        }
        assert.ok((await deltaLogBytes(r.shmPath)) > logBefore, 'the changes went into the delta log, not a new snapshot');

        await nginx.stop();
        nginx = await NginxShdict.start(nginx.prefix, { shmPath: r.shmPath });
        await until('the restarted nginx to rebuild the state', async () => {
          const dump = await nginx.dump();
          return dump.version && objectsOf(dump).size === current.objects.size ? dump : undefined;
        });
        assertDictHolds(await nginx.dump(), current);

        // The respawned worker adopts the dict at a generation inside the log, then takes the next delta.
        process.kill(r.sink.readerStatus()!.readerPid, 'SIGKILL');
        await until('a respawned worker 0 to follow the file', async () =>
          readerLines(await nginx.errorLog()).filter((l) => l.includes('following')).length >= 3 ? true : undefined,
        );
        assert.not.match(await nginx.errorLog(), /cannot describe/, "the marker's generation was found in the log");
        for (let step = 31; step <= 35; step++) {
          const next = mutate(current, step);
          assert.equal((await applyNext(r.sink, current, next)).failed, [], `delta ${step} after the respawn`);
          current = next;
        }
        assertDictHolds(await nginx.dump(), current);
      } finally {
        r.sink.close();
        await nginx.destroy();
      }
    },
  );

  s("a full delta log is compacted into a new snapshot; the dict stays equal to the agent's state", async () => {
    const r = await rig();
    try {
      let current = meshConfig(10, 'base');
      assert.equal((await applyNext(r.sink, GatewayConfig.empty(), current)).failed, []);
      const firstSnapshot = (await shmSlots(r.shmPath)).find((slot) => slot.generation > 0n)!.generation;
      // Each change carries ~100 KiB: the log (bounded by snapshot + 1 MiB) fills within a dozen applies.
      for (let step = 1; step <= 15; step++) {
        const big = {
          ...current.objects.get('routes/svc-1-default')!,
          value: { ...current.objects.get('routes/svc-1-default')!.value, desc: `${step}`.repeat(100_000 / `${step}`.length) },
        };
        const next = GatewayConfig.of(
          `c${step}`,
          [...current.objects.values()].map((o) => (o.kind === 'routes' && o.id === 'svc-1-default' ? big : o)),
        );
        assert.equal((await applyNext(r.sink, current, next)).failed, [], `apply ${step}`);
        current = next;
        assertDictHolds(await r.nginx.dump(), current);
      }
      const head = (await shmSlots(r.shmPath)).reduce((a, b) => (b.lastGeneration > a.lastGeneration ? b : a));
      assert.ok(head.generation > firstSnapshot, `a new snapshot (generation ${head.generation}) replaced the log of ${firstSnapshot}`);
      assert.ok(head.logBytes > 0n && head.lastGeneration > head.generation, 'and deltas continued after it');
    } finally {
      await r.destroy();
    }
  });

  s('a delta that overflows the dict fails with "no memory", is rolled back, and the next apply goes through', async () => {
    const r = await rig({ configDictSize: '1m' });
    try {
      const base = meshConfig(200, 'v1');
      assert.equal((await applyNext(r.sink, GatewayConfig.empty(), base)).failed, []);
      const logBefore = await deltaLogBytes(r.shmPath);
      const before = await r.nginx.dump();
      // 12 new upstreams of ~80 KiB each: a delta record (under the log's bound) the 1 MiB dict cannot hold.
      const huge = [...Array(12).keys()].map((i) => ({
        kind: 'upstreams' as const,
        id: `huge-${i}`,
        value: { id: `huge-${i}`, type: 'roundrobin', nodes: [{ host: '10.0.0.1', port: 80, weight: 1 }], desc: 'x'.repeat(80_000) },
      }));
      const tooBig = GatewayConfig.of('v2', [...base.objects.values(), ...huge]);
      const result = await applyNext(r.sink, base, tooBig);
      assert.ok((await deltaLogBytes(r.shmPath)) > logBefore, 'it was published as a delta record');
      assert.is(result.failed.length, 1);
      assert.match(result.failed[0]!.key, /^upstreams\/huge-/);
      assert.match(result.failed[0]!.reason, /no memory.*rolled back/);
      const after = await r.nginx.dump();
      assert.is(after.version, before.version, 'no version bump for a failed batch');
      assertDictHolds(after, base);
      const next = withRouteChanged(base, 'v3', 5, 'after');
      assert.equal((await applyNext(r.sink, base, next)).failed, []);
      assertDictHolds(await r.nginx.dump(), next);
    } finally {
      await r.destroy();
    }
  });

  s("amesh sidecar --sink shdict:<path>?group=nogroup: the bookinfo file source reaches nginx's dicts", async () => {
    const { prefix, shmDir } = await NginxShdict.makeDirs();
    const shmPath = join(shmDir, 'xds.shm');
    const nginx = await NginxShdict.start(prefix, { shmPath });
    const file = join(repoRoot, 'examples/bookinfo/sidecar-resources.yaml');
    const config = parseSidecarConfig({ file, sink: [`shdict:${shmPath}?group=nogroup`], readyAddress: '127.0.0.1:0', metricsAddress: 'off', adminAddress: 'off' });
    assert.ok(config.ok, JSON.stringify(config));
    const node: Node = { id: 'test', cluster: 'test', dynamicParameters: {}, userAgentName: 'amesh-ts', extensions: [], clientFeatures: [], listeningAddresses: [] };
    const app = (await buildSidecarContainer(config.value, node, { logger: new PinoLogger({ level: 'silent' }) })).get<SidecarApp>(SidecarAppToken);
    try {
      await app.start();
      await app.sync.applied;
      const expected = (await translateFile(file)).translation.config;
      assertDictHolds(await nginx.dump(), expected);
      assert.is((await stat(shmPath)).gid, NGINX_GID, 'group resolved by name');
    } finally {
      await app.stop();
      await nginx.destroy();
    }
  });

  s('no nginx attached: the apply fails after the timeout and says why', async () => {
    const { prefix, shmDir } = await NginxShdict.makeDirs();
    const sink = new ShdictConfigSink({ path: join(shmDir, 'xds.shm'), ackTimeoutMs: 200 });
    try {
      const result = await applyNext(sink, GatewayConfig.empty(), meshConfig(2, 'v1'));
      assert.is(result.failed.length, 1);
      assert.is(result.failed[0]!.key, '*');
      assert.match(result.failed[0]!.reason, /no nginx has attached/);
    } finally {
      sink.close();
      await NginxShdict.removeDirs(prefix);
    }
  });

  s.run();
}

// EtcdSink against a real etcd (Debian etcd-server, started here on ephemeral ports): the sink
// contract, APISIX's key layout and values exactly as the Admin API stores them, one watch event per
// changed object, ownership, and convergence when etcd is killed and restarted in the middle of a sync.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AdminApiSink } from '../../src/adapters/admin-api-sink/admin-api-sink.js';
import { EtcdSink } from '../../src/adapters/etcd-sink/etcd-sink.js';
import { OWNER_LABEL, OWNER_VALUE } from '../../src/adapters/apisix/translate.js';
import { GatewayConfig } from '../../src/domain/gateway-config.js';
import type { JsonObject, JsonValue } from '../../src/domain/json.js';
import { configSinkContract, type ReadBack } from '../contract/config-sink.contract.js';
import { ApisixAdminServer } from '../support/apisix-admin-server.js';
import { EtcdProcess, EtcdWatcher, findEtcd } from '../support/etcd-process.js';
import { RecordingLogger } from '../support/mesh-sidecar.js';
import { applyChange, applyUntilConverged, bookinfoConfig, meshConfig, movedEndpoint, sortedEntries, valuesOf, withoutKeys } from '../support/sink-configs.js';

const FAST_RETRY = { initialMs: 10, maxMs: 200, budgetMs: 3_000 };
const etcdBinary = findEtcd();
if (!etcdBinary.ok) console.log(`EtcdSink: skipped: ${etcdBinary.reason}`);

let shared: Promise<EtcdProcess> | undefined;
const sharedEtcd = (): Promise<EtcdProcess> => (shared ??= EtcdProcess.start((etcdBinary as { path: string }).path));
let prefixes = 0;
const freshPrefix = (): string => `/apisix-test-${process.pid}-${++prefixes}`;

interface RawKv {
  readonly key: string;
  readonly value: JsonObject;
}

async function rangeOf(url: string, prefix: string): Promise<RawKv[]> {
  const start = Buffer.from(`${prefix}/`);
  const end = Buffer.from(`${prefix}/`);
  end[end.length - 1] = end[end.length - 1]! + 1;
  const response = await fetch(`${url}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: start.toString('base64'), range_end: end.toString('base64') }) });
  const body = (await response.json()) as { kvs?: { key: string; value: string }[] };
  const out: RawKv[] = [];
  for (const kv of body.kvs ?? []) {
    const text = Buffer.from(kv.value, 'base64').toString();
    if (text === 'init_dir') continue; // APISIX's directory marker
    out.push({ key: Buffer.from(kv.key, 'base64').toString(), value: JSON.parse(text) as JsonObject });
  }
  return out;
}

/** kind/id → value without the timestamps, read straight from etcd. */
async function readBackOf(url: string, prefix: string): Promise<Map<string, JsonValue>> {
  const out = new Map<string, JsonValue>();
  for (const { key, value } of await rangeOf(url, prefix)) {
    const { create_time: _c, update_time: _u, ...rest } = value;
    out.set(key.slice(prefix.length + 1), rest);
  }
  return out;
}

if (etcdBinary.ok) {
  configSinkContract('EtcdSink', async () => {
    const etcd = await sharedEtcd();
    const prefix = freshPrefix();
    const sink = new EtcdSink({ endpoints: [etcd.url], prefix, retry: FAST_RETRY, resyncMs: 0 });
    return {
      sink,
      readBack: async (): Promise<ReadBack> => readBackOf(etcd.url, prefix),
      cleanup: async () => sink.close(),
    };
  });
}

const s = suite('EtcdSink against a real etcd');
let bookinfo: GatewayConfig;
s.before(async () => {
  bookinfo = await bookinfoConfig();
});
s.after(async () => {
  if (shared) await (await shared).stop();
});

if (etcdBinary.ok) {
  s('keys and values follow the layout APISIX’s Admin API writes: <prefix>/<kind>/<id> → body + id + create_time + update_time', async () => {
    const etcd = await sharedEtcd();
    let clock = 1_800_000_000;
    const sink = new EtcdSink({ endpoints: [etcd.url], retry: FAST_RETRY, resyncMs: 0, now: () => clock, prefix: freshPrefix() });
    const admin = await ApisixAdminServer.start();
    const adminSink = new AdminApiSink({ url: admin.url, retry: FAST_RETRY, resyncMs: 0 });
    try {
      const prefix = sink.target.slice(sink.target.indexOf('/apisix'));
      assert.equal((await applyChange(sink, GatewayConfig.empty(), bookinfo)).failed, []);
      assert.equal((await applyChange(adminSink, GatewayConfig.empty(), bookinfo)).failed, []);
      const kvs = await rangeOf(etcd.url, prefix);
      assert.is(kvs.length, bookinfo.objects.size);
      // The Admin API's response `key` is the etcd key under the default prefix; the value is the stored object.
      const adminLayout = new Map<string, JsonObject>([...admin.objects].map(([key, stored]): [string, JsonObject] => [`/apisix/${key}`, stored.value]));
      for (const { key, value } of kvs) {
        const adminKey = `/apisix${key.slice(prefix.length)}`;
        const adminValue = adminLayout.get(adminKey);
        assert.ok(adminValue, `${adminKey} is a key the Admin API would write`);
        assert.equal(Object.keys(value).sort(), Object.keys(adminValue!).sort(), `${key}: same fields`);
        const { create_time, update_time, ...body } = value;
        const { create_time: _c, update_time: _u, ...adminBody } = adminValue!;
        assert.equal(body, adminBody, `${key}: same body`);
        assert.equal([create_time, update_time], [clock, clock]);
        assert.is(body.id, key.slice(key.lastIndexOf('/') + 1));
      }
      clock += 100;
      const { config: moved, key } = movedEndpoint(bookinfo, 'v2');
      await applyChange(sink, bookinfo, moved);
      const after = (await rangeOf(etcd.url, prefix)).find((kv) => kv.key === `${prefix}/${key}`)!;
      assert.equal([after.value.create_time, after.value.update_time], [clock - 100, clock], 'an update keeps create_time, like inject_timestamp');
    } finally {
      sink.close();
      adminSink.close();
      await admin.close();
    }
  });

  s('a watcher sees one event per changed object and none for unchanged ones', async () => {
    const etcd = await sharedEtcd();
    const prefix = freshPrefix();
    const sink = new EtcdSink({ endpoints: [etcd.url], prefix, retry: FAST_RETRY, resyncMs: 0 });
    const watcher = await EtcdWatcher.start(etcd.url, `${prefix}/`);
    try {
      await applyChange(sink, GatewayConfig.empty(), bookinfo);
      const initial = await watcher.settle(bookinfo.objects.size);
      assert.is(initial.length, bookinfo.objects.size, 'one PUT event per object');
      assert.equal(new Set(initial.map((e) => e.key)).size, bookinfo.objects.size);
      const { config: moved, key } = movedEndpoint(bookinfo, 'v2');
      const removedRoute = `routes/${bookinfo.ofKind('routes')[0]!.id}`;
      const next = withoutKeys(moved, 'v3', [removedRoute]);
      await applyChange(sink, bookinfo, next);
      const changes = (await watcher.settle(initial.length + 2)).slice(initial.length);
      assert.equal(
        changes.map((e) => `${e.type} ${e.key.slice(prefix.length + 1)}`),
        [`PUT ${key}`, `DELETE ${removedRoute}`],
      );
      await applyChange(sink, next, GatewayConfig.of('same', [...next.objects.values()]));
      assert.is((await watcher.settle(0)).length, initial.length + 2, 'no event when nothing changed');
    } finally {
      watcher.close();
      sink.close();
    }
  });

  s('ownership and reconciliation: stale owned keys removed, foreign ones untouched, out-of-band deletes repaired', async () => {
    const etcd = await sharedEtcd();
    const prefix = freshPrefix();
    const put = (key: string, value: JsonValue): Promise<Response> =>
      fetch(`${etcd.url}/v3/kv/put`, {
        method: 'POST',
        body: JSON.stringify({
          key: Buffer.from(`${prefix}/${key}`).toString('base64'),
          value: Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64'),
        }),
      });
    await put('routes', 'init_dir');
    await put('routes/stale', { id: 'stale', uri: '/s/*', labels: { [OWNER_LABEL]: OWNER_VALUE } });
    await put('routes/foreign', { id: 'foreign', uri: '/f/*', create_time: 1, update_time: 1 });
    const sink = new EtcdSink({ endpoints: [etcd.url], prefix, retry: FAST_RETRY, resyncMs: 0 });
    try {
      assert.equal((await applyChange(sink, GatewayConfig.empty(), bookinfo)).failed, []);
      const expected = valuesOf(bookinfo) as Map<string, JsonValue>;
      expected.set('routes/foreign', { id: 'foreign', uri: '/f/*' });
      const read = await readBackOf(etcd.url, prefix);
      assert.equal(sortedEntries(read), sortedEntries(expected));
      const route = bookinfo.ofKind('routes')[0]!;
      await fetch(`${etcd.url}/v3/kv/deleterange`, { method: 'POST', body: JSON.stringify({ key: Buffer.from(`${prefix}/routes/${route.id}`).toString('base64') }) });
      const report = await sink.reconcile();
      assert.equal({ drift: report.drift, applied: report.applied, failed: report.failed }, { drift: 1, applied: 1, failed: [] });
      assert.equal(sortedEntries(await readBackOf(etcd.url, prefix)), sortedEntries(expected));
    } finally {
      sink.close();
    }
  });

  s('a data plane without stream mode (etcd:…?stream=off): every object written, the stream routes reported as written but not served, logged once', async () => {
    const etcd = await sharedEtcd();
    const prefix = freshPrefix();
    const logger = new RecordingLogger();
    const sink = new EtcdSink({ endpoints: [etcd.url], prefix, retry: FAST_RETRY, resyncMs: 0, streamMode: 'off', logger });
    try {
      const streamKeys = bookinfo
        .ofKind('stream_routes')
        .map((o) => `stream_routes/${o.id}`)
        .sort();
      const result = await applyChange(sink, GatewayConfig.empty(), bookinfo);
      assert.equal({ applied: result.applied, failed: result.failed }, { applied: bookinfo.objects.size, failed: [] });
      assert.equal(result.unserved?.map((u) => u.key).sort(), streamKeys);
      for (const unserved of result.unserved ?? []) {
        assert.is(unserved.written, true);
        assert.match(unserved.reason, /stream mode is off.*proxy_mode/);
      }
      assert.equal(sortedEntries(await readBackOf(etcd.url, prefix)), sortedEntries(valuesOf(bookinfo)), 'written all the same: served as soon as stream mode is on');
      const again = await applyChange(sink, bookinfo, GatewayConfig.of(bookinfo.version, [...bookinfo.objects.values()]));
      assert.equal(again.unserved?.length, streamKeys.length, 'reported on every apply');
      assert.is(logger.entries.filter((e) => e.fields['kind'] === 'stream_routes').length, 1, 'logged once');
      const httpOnly = withoutKeys(bookinfo, 'http-only', streamKeys);
      const removed = await applyChange(sink, bookinfo, httpOnly);
      assert.equal({ failed: removed.failed, unserved: removed.unserved }, { failed: [], unserved: undefined }, 'no stream route, nothing to report');
    } finally {
      sink.close();
    }
  });

  s('etcd killed and restarted in the middle of a sync: the sink converges and nothing is lost', async () => {
    const etcd = await EtcdProcess.start((etcdBinary as { path: string }).path);
    const mesh = meshConfig(1_000);
    const sink = new EtcdSink({ endpoints: [etcd.url], retry: FAST_RETRY, resyncMs: 0, timeoutMs: 1_000, concurrency: 1 });
    try {
      const syncing = applyUntilConverged(sink, GatewayConfig.empty(), mesh);
      let written = 0;
      while (written === 0) written = (await rangeOf(etcd.url, '/apisix')).length;
      await etcd.kill();
      assert.ok(written < mesh.objects.size, `killed mid-sync: ${written} of ${mesh.objects.size} written`);
      await new Promise((resolve) => setTimeout(resolve, 500));
      await etcd.restart();
      const rounds = await syncing;
      assert.equal(sortedEntries(await readBackOf(etcd.url, '/apisix')), sortedEntries(valuesOf(mesh)), `converged after ${rounds} rounds`);
    } finally {
      sink.close();
      await etcd.stop();
    }
  });
}

s.run();

// StandaloneApiSink against the test Admin API in standalone mode (PUT /apisix/admin/configs with
// APISIX 3.18's digest, conf_version and modifiedIndex rules): the sink contract, no request when
// nothing changed, monotonic conf_versions that move only for changed kinds, a refused body reported
// per object, foreign items kept, a restarted APISIX noticed, and faults survived.
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { StandaloneApiSink } from '../../src/adapters/standalone-api-sink/standalone-api-sink.js';
import { GATEWAY_KINDS, GatewayConfig } from '../../src/domain/gateway-config.js';
import type { JsonObject, JsonValue } from '../../src/domain/json.js';
import { SecretText } from '../../src/domain/secret-text.js';
import { configSinkContract, type ReadBack } from '../contract/config-sink.contract.js';
import { ApisixAdminServer } from '../support/apisix-admin-server.js';
import { ApisixSchemas } from '../support/apisix-schemas.js';
import { requireShared } from '../support/shared-fixtures.js';
import { applyChange, applyUntilConverged, bookinfoConfig, movedEndpoint, sortedEntries, valuesOf, withObject, withoutKeys } from '../support/sink-configs.js';

const FAST_RETRY = { initialMs: 5, maxMs: 50, budgetMs: 2_000 };
const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The items APISIX holds, keyed kind/id, without the modifiedIndex the sink adds. */
function itemsOf(server: ApisixAdminServer): Map<string, JsonValue> {
  const out = new Map<string, JsonValue>();
  const doc = server.standaloneDocument;
  for (const kind of GATEWAY_KINDS) {
    const list = doc?.[kind];
    for (const item of Array.isArray(list) ? list : []) {
      if (!isObject(item)) continue;
      const { modifiedIndex: _m, ...value } = item;
      out.set(`${kind}/${String(value.id)}`, value);
    }
  }
  return out;
}

const modifiedIndexOf = (server: ApisixAdminServer, key: string): JsonValue | undefined => {
  const [kind, id] = key.split('/');
  const list = server.standaloneDocument?.[kind!];
  return (Array.isArray(list) ? list : []).find((i) => isObject(i) && i.id === id) as JsonValue | undefined;
};

configSinkContract('StandaloneApiSink', async () => {
  const server = await ApisixAdminServer.start({ mode: 'standalone' });
  const sink = new StandaloneApiSink({ url: server.url, retry: FAST_RETRY, resyncMs: 0 });
  return {
    sink,
    readBack: async (): Promise<ReadBack> => itemsOf(server),
    cleanup: async () => {
      sink.close();
      await server.close();
    },
  };
});

const shared = requireShared('StandaloneApiSink against the APISIX Admin API test server');
const s = suite('StandaloneApiSink against API-driven standalone APISIX');
const schemas = shared ? new ApisixSchemas(path.join(shared, 'apisix-schemas')) : undefined;
const KEY = 'standalone-admin-key-never-logged';

let bookinfo: GatewayConfig;
s.before(async () => {
  bookinfo = await bookinfoConfig();
});

async function withServer(run: (server: ApisixAdminServer, sink: StandaloneApiSink) => Promise<void>, timeoutMs = 5_000): Promise<void> {
  const server = await ApisixAdminServer.start({ schemas, apiKey: KEY, mode: 'standalone' });
  const sink = new StandaloneApiSink({ url: server.url, apiKey: new SecretText(KEY), retry: FAST_RETRY, resyncMs: 0, timeoutMs });
  try {
    await run(server, sink);
  } finally {
    sink.close();
    await server.close();
  }
}

if (shared) {
  s('full sync of bookinfo in one PUT; nothing changed → no PUT, also from a restarted agent', async () => {
    await withServer(async (server, sink) => {
      const result = await applyChange(sink, GatewayConfig.empty(), bookinfo);
      assert.equal(result, { applied: bookinfo.objects.size, failed: [] });
      assert.is(server.countRequests('PUT'), 1);
      assert.equal(sortedEntries(itemsOf(server)), sortedEntries(valuesOf(bookinfo)));
      await applyChange(sink, bookinfo, GatewayConfig.of('again', [...bookinfo.objects.values()]));
      const restarted = new StandaloneApiSink({ url: server.url, apiKey: new SecretText(KEY), retry: FAST_RETRY, resyncMs: 0 });
      try {
        assert.equal(await applyChange(restarted, GatewayConfig.empty(), bookinfo), { applied: bookinfo.objects.size, failed: [] });
      } finally {
        restarted.close();
      }
      assert.is(server.countRequests('PUT'), 1, 'the digest matched: no second PUT');
    });
  });

  s('conf_version is monotonic and moves only for changed kinds; modifiedIndex only for changed items', async () => {
    await withServer(async (server, sink) => {
      await applyChange(sink, GatewayConfig.empty(), bookinfo);
      const { config: moved, key } = movedEndpoint(bookinfo, 'v2');
      const untouched = bookinfo.ofKind('upstreams').find((u) => `upstreams/${u.id}` !== key)!;
      const untouchedIndex = modifiedIndexOf(server, `upstreams/${untouched.id}`);
      const movedIndex = modifiedIndexOf(server, key);
      await applyChange(sink, bookinfo, moved);
      const removed = withoutKeys(moved, 'v3', [`routes/${bookinfo.ofKind('routes')[0]!.id}`]);
      await applyChange(sink, moved, removed);
      const history = server.confVersionHistory;
      assert.is(history.length, 3);
      for (const kind of GATEWAY_KINDS) for (let i = 1; i < history.length; i++) assert.ok(history[i]![kind]! >= history[i - 1]![kind]!, `${kind} monotonic`);
      assert.is(history[1]!.upstreams, history[0]!.upstreams + 1, 'upstreams changed in v2');
      assert.is(history[1]!.routes, history[0]!.routes, 'routes unchanged in v2');
      assert.is(history[2]!.routes, history[1]!.routes + 1, 'routes changed in v3');
      assert.is(history[2]!.upstreams, history[1]!.upstreams, 'upstreams unchanged in v3');
      assert.equal(modifiedIndexOf(server, `upstreams/${untouched.id}`), untouchedIndex, 'an unchanged item keeps its modifiedIndex');
      const after = modifiedIndexOf(server, key) as JsonObject;
      assert.ok((after.modifiedIndex as number) > ((movedIndex as JsonObject).modifiedIndex as number), 'the changed item got a new modifiedIndex');
      assert.equal(sortedEntries(itemsOf(server)), sortedEntries(valuesOf(removed)));
    });
  });

  s('a refused body is reported per object with APISIX error, not resent unchanged, and the old config stays', async () => {
    await withServer(async (server, sink) => {
      await applyChange(sink, GatewayConfig.empty(), bookinfo);
      const upstream = bookinfo.ofKind('upstreams')[0]!;
      const broken = withObject(bookinfo, 'bad', { ...upstream, value: { ...upstream.value, retries: -1 } });
      const result = await applyChange(sink, bookinfo, broken);
      assert.is(result.failed.length, 1);
      assert.is(result.failed[0]!.key, `upstreams/${upstream.id}`);
      assert.match(result.failed[0]!.reason, /400 invalid configuration: property "\/retries" validation failed/);
      assert.is(result.failed[0]!.rejected, true, 'the configuration is at fault');
      assert.equal(sortedEntries(itemsOf(server)), sortedEntries(valuesOf(bookinfo)), 'APISIX keeps the last good config');
      const puts = server.countRequests('PUT');
      const again = await applyChange(sink, bookinfo, broken);
      assert.equal(again.failed, result.failed);
      assert.is(server.countRequests('PUT'), puts, 'not resent');
      assert.equal((await applyChange(sink, broken, movedEndpoint(bookinfo, 'good').config)).failed, []);
    });
  });

  s('foreign items and kinds are kept; stale owned items are dropped', async () => {
    await withServer(async (server, sink) => {
      const foreign = { id: 'foreign', uri: '/foreign/*', upstream: { type: 'roundrobin', nodes: { '10.9.9.9:80': 1 } } };
      const stale = { id: 'stale', uri: '/stale/*', upstream: { type: 'roundrobin', nodes: { '10.9.9.8:80': 1 } }, labels: { 'managed-by': 'amesh-ts' } };
      const seeded = await fetch(`${server.url}/apisix/admin/configs`, {
        method: 'PUT',
        headers: { 'x-api-key': KEY, 'x-digest': 'someone-else' },
        body: JSON.stringify({ routes: [foreign, stale] }),
      });
      assert.is(seeded.status, 202);
      assert.equal((await applyChange(sink, GatewayConfig.empty(), bookinfo)).failed, []);
      const items = itemsOf(server);
      assert.equal(items.get('routes/foreign'), foreign);
      assert.not.ok(items.has('routes/stale'));
      assert.is(items.size, bookinfo.objects.size + 1);
    });
  });

  s('a restarted APISIX (empty, versions back to 0) or another writer is noticed and the config put again', async () => {
    await withServer(async (server, sink) => {
      await applyChange(sink, GatewayConfig.empty(), bookinfo);
      assert.equal({ ...(await sink.reconcile()) }, { applied: 0, failed: [], drift: 0 });
      server.resetStandalone();
      const report = await sink.reconcile();
      assert.equal({ ...report }, { applied: 1, failed: [], drift: 1 });
      assert.equal(sortedEntries(itemsOf(server)), sortedEntries(valuesOf(bookinfo)));
      // Another writer bumps the versions: the next PUT's versions are behind, the sink re-reads and wins.
      const other = await fetch(`${server.url}/apisix/admin/configs`, {
        method: 'PUT',
        headers: { 'x-api-key': KEY, 'x-digest': 'other' },
        body: JSON.stringify(Object.fromEntries(GATEWAY_KINDS.map((k) => [`${k}_conf_version`, 50]))),
      });
      assert.is(other.status, 202);
      const moved = movedEndpoint(bookinfo, 'v2').config;
      assert.equal((await applyChange(sink, bookinfo, moved)).failed, []);
      assert.equal(sortedEntries(itemsOf(server)), sortedEntries(valuesOf(moved)));
      assert.ok(server.confVersionHistory.at(-1)!.upstreams > 50);
    });
  });

  s('converges under 5xx, delays past the timeout and dropped connections', async () => {
    await withServer(async (server, sink) => {
      server.startChaos(0.5, 7, [
        { kind: 'status', status: 503 },
        { kind: 'drop', when: 'before' },
        { kind: 'drop', when: 'after' },
        { kind: 'delay', ms: 400 },
      ]);
      await applyUntilConverged(sink, GatewayConfig.empty(), bookinfo);
      const moved = movedEndpoint(bookinfo, 'v2').config;
      await applyUntilConverged(sink, bookinfo, moved);
      server.stopChaos();
      assert.equal(sortedEntries(itemsOf(server)), sortedEntries(valuesOf(moved)));
    }, 200);
  });
}

s.run();

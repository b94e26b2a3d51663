// AdminApiSink against an APISIX-compatible Admin API (test/support/apisix-admin-server.ts) that
// enforces APISIX's schemas, its status codes and bodies and the references between objects: the sink
// contract, full syncs of bookinfo and of 10k services, incremental changes and deletes in order,
// ownership and reconciliation, faults, refusals, and the API key.
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AdminApiSink } from '../../src/adapters/admin-api-sink/admin-api-sink.js';
import { OWNER_LABEL, OWNER_VALUE } from '../../src/adapters/apisix/translate.js';
import { GatewayConfig, type GatewayObject } from '../../src/domain/gateway-config.js';
import { SecretText } from '../../src/domain/secret-text.js';
import { configSinkContract } from '../contract/config-sink.contract.js';
import { ApisixAdminServer } from '../support/apisix-admin-server.js';
import { ApisixSchemas } from '../support/apisix-schemas.js';
import { RecordingLogger } from '../support/mesh-sidecar.js';
import { requireShared } from '../support/shared-fixtures.js';
import { applyChange, applyUntilConverged, bookinfoConfig, meshConfig, movedEndpoint, sortedEntries, valuesOf, withObject, withoutKeys } from '../support/sink-configs.js';

const FAST_RETRY = { initialMs: 5, maxMs: 50, budgetMs: 2_000 };

// The contract's objects are deliberately tiny (a fake certificate): the schema oracle is not applied
// to them, only to real translations below.
configSinkContract('AdminApiSink', async () => {
  const server = await ApisixAdminServer.start();
  const sink = new AdminApiSink({ url: server.url, retry: FAST_RETRY, resyncMs: 0 });
  return {
    sink,
    readBack: async () => server.stored(),
    cleanup: async () => {
      sink.close();
      await server.close();
    },
  };
});

const shared = requireShared('AdminApiSink against the APISIX Admin API test server');
const s = suite('AdminApiSink against an APISIX-compatible Admin API');
const schemas = shared ? new ApisixSchemas(path.join(shared, 'apisix-schemas')) : undefined;
const KEY = 'k3y-that-must-never-show-up-anywhere';

let bookinfo: GatewayConfig;
s.before(async () => {
  bookinfo = await bookinfoConfig();
});

async function withServer(run: (server: ApisixAdminServer, sink: AdminApiSink) => Promise<void>, options: { timeoutMs?: number } = {}): Promise<void> {
  const server = await ApisixAdminServer.start({ schemas, apiKey: KEY });
  const sink = new AdminApiSink({ url: server.url, apiKey: new SecretText(KEY), retry: FAST_RETRY, resyncMs: 0, ...options });
  try {
    await run(server, sink);
  } finally {
    sink.close();
    await server.close();
  }
}

const owned = { [OWNER_LABEL]: OWNER_VALUE };
const foreignRoute = (id: string): GatewayObject => ({
  kind: 'routes',
  id,
  value: { id, uri: '/foreign/*', upstream: { type: 'roundrobin', nodes: { '10.9.9.9:80': 1 } }, labels: { team: 'edge' } },
});

s(
  'APISIX with proxy_mode http (its default): the HTTP objects are applied, the stream routes reported as unserved, not failed; stream mode turned on, the next apply or resync delivers them',
  async () => {
    const server = await ApisixAdminServer.start({ schemas, proxyMode: 'http' });
    const logger = new RecordingLogger();
    const sink = new AdminApiSink({ url: server.url, retry: FAST_RETRY, resyncMs: 0, logger });
    try {
      const streamKeys = bookinfo
        .ofKind('stream_routes')
        .map((o) => `stream_routes/${o.id}`)
        .sort();
      assert.ok(streamKeys.length > 0, 'bookinfo has stream routes');
      const httpOnly = withoutKeys(bookinfo, 'http-only', streamKeys);

      const result = await applyChange(sink, GatewayConfig.empty(), bookinfo);
      assert.equal(result.failed, [], 'nothing failed: the rest of the configuration is in force');
      assert.is(result.applied, bookinfo.objects.size - streamKeys.length, 'the stream routes are not counted as applied');
      assert.equal(result.unserved?.map((u) => u.key).sort(), streamKeys);
      for (const unserved of result.unserved ?? []) {
        assert.match(unserved.reason, /GET \/apisix\/admin\/stream_routes: 400 stream mode is disabled, can not add stream routes/);
        assert.is(unserved.written, false);
      }
      assert.equal(sortedEntries(server.stored()), sortedEntries(valuesOf(httpOnly)), 'every HTTP object, no stream route');
      assert.is(server.countRequests('PUT', '/apisix/admin/stream_routes'), 0, 'no write that is bound to be refused');

      // Nothing changed: still reported, not failed, and the warning is not repeated.
      const again = await applyChange(sink, bookinfo, GatewayConfig.of(bookinfo.version, [...bookinfo.objects.values()]));
      assert.equal({ applied: again.applied, failed: again.failed }, { applied: 0, failed: [] });
      assert.equal(again.unserved?.map((u) => u.key).sort(), streamKeys);
      const warnings = logger.entries.filter((e) => e.fields['kind'] === 'stream_routes');
      assert.is(warnings.length, 1, JSON.stringify(logger.entries));
      assert.equal({ ...warnings[0]!.fields, reason: undefined }, { sink: sink.target, kind: 'stream_routes', objects: streamKeys.length, written: false, reason: undefined });

      // APISIX reloaded with stream mode: the next apply (nothing changed) probes again and delivers.
      server.proxyMode = 'http&stream';
      const delivered = await applyChange(sink, bookinfo, bookinfo);
      assert.equal(delivered, { applied: 0, failed: [] });
      assert.equal(sortedEntries(server.stored()), sortedEntries(valuesOf(bookinfo)));

      // Turned off again (its stream routes stay in etcd, out of the Admin API's reach): the resync notices.
      server.proxyMode = 'http';
      const report = await sink.reconcile();
      assert.equal(report.failed, []);
      assert.equal(report.unserved?.map((u) => u.key).sort(), streamKeys);
      server.proxyMode = 'stream';
      const repaired = await sink.reconcile();
      assert.equal({ failed: repaired.failed, unserved: repaired.unserved }, { failed: [], unserved: undefined });
      assert.equal(sortedEntries(server.stored()), sortedEntries(valuesOf(bookinfo)));
    } finally {
      sink.close();
      await server.close();
    }
  },
);

if (shared) {
  s('full sync of bookinfo: every object accepted by the schemas and references, then nothing to send', async () => {
    await withServer(async (server, sink) => {
      const result = await applyChange(sink, GatewayConfig.empty(), bookinfo);
      assert.equal(result.failed, []);
      assert.is(result.applied, bookinfo.objects.size);
      assert.equal(sortedEntries(server.stored()), sortedEntries(valuesOf(bookinfo)));
      const puts = server.countRequests('PUT');
      assert.is(puts, bookinfo.objects.size, 'one PUT per object');
      const again = await applyChange(sink, bookinfo, GatewayConfig.of(bookinfo.version, [...bookinfo.objects.values()]));
      assert.equal(again, { applied: 0, failed: [] });
      assert.is(server.countRequests('PUT'), puts, 'no request for unchanged objects');
      assert.ok(server.maxInFlight <= 16, `bounded concurrency: ${server.maxInFlight}`);
      assert.ok(server.connections <= 16, `keep-alive: ${server.connections} connections for ${puts} requests`);
    });
  });

  s('full sync of 10k services, then a one-endpoint change is one PUT', async () => {
    const mesh = meshConfig(10_000);
    await withServer(async (server, sink) => {
      const result = await applyChange(sink, GatewayConfig.empty(), mesh);
      assert.equal(result.failed.slice(0, 3), []);
      assert.is(server.objects.size, mesh.objects.size);
      const { config: moved, key } = movedEndpoint(mesh, 'v2');
      const before = server.requests.length;
      const update = await applyChange(sink, mesh, moved);
      assert.equal(update, { applied: 1, failed: [] });
      assert.equal(server.requests.slice(before), [{ method: 'PUT', path: `/apisix/admin/${key}` }]);
      assert.equal(server.stored().get(key), moved.objects.get(key)?.value);
    });
  });

  s('a removed service: its routes are deleted before its upstream, in one apply', async () => {
    await withServer(async (server, sink) => {
      await applyChange(sink, GatewayConfig.empty(), bookinfo);
      const route = bookinfo.ofKind('routes').find((r) => typeof r.value.upstream_id === 'string')!;
      const upstreamKey = `upstreams/${route.value.upstream_id as string}`;
      const users = bookinfo
        .ofKind('routes')
        .filter((r) => r.value.upstream_id === route.value.upstream_id || JSON.stringify(r.value.plugins ?? {}).includes(`"${route.value.upstream_id as string}"`));
      const gone = [...users.map((r) => `routes/${r.id}`), upstreamKey];
      const smaller = withoutKeys(bookinfo, 'v2', gone);
      const before = server.requests.length;
      const result = await applyChange(sink, bookinfo, smaller);
      assert.equal(result.failed, []);
      const deletes = server.requests
        .slice(before)
        .filter((r) => r.method === 'DELETE')
        .map((r) => r.path.replace('/apisix/admin/', ''));
      assert.equal(new Set(deletes), new Set(gone));
      assert.is(deletes.at(-1), upstreamKey, 'the upstream goes last');
      assert.equal(sortedEntries(server.stored()), sortedEntries(valuesOf(smaller)));
    });
  });

  s('on start: stale owned objects are removed, foreign ones left alone; a foreign object at a desired id is reported, not replaced', async () => {
    await withServer(async (server, sink) => {
      server.putDirect('routes', 'stale-owned', { uri: '/old/*', upstream: { type: 'roundrobin', nodes: { '10.0.0.1:80': 1 } }, labels: owned });
      const foreign = foreignRoute('foreign');
      server.putDirect('routes', 'foreign', foreign.value);
      const clash = bookinfo.ofKind('upstreams')[0]!;
      server.putDirect('upstreams', clash.id, { type: 'roundrobin', nodes: { '10.7.7.7:80': 1 } });
      const result = await applyChange(sink, GatewayConfig.empty(), bookinfo);
      const stored = server.stored();
      assert.not.ok(stored.has('routes/stale-owned'), 'stale owned route removed');
      assert.equal(stored.get('routes/foreign'), { ...foreign.value });
      assert.equal(stored.get(`upstreams/${clash.id}`), { id: clash.id, type: 'roundrobin', nodes: { '10.7.7.7:80': 1 } }, 'foreign upstream untouched');
      const clashFailure = result.failed.find((f) => f.key === `upstreams/${clash.id}`);
      assert.ok(clashFailure?.reason.includes('without the label managed-by=amesh-ts'), JSON.stringify(result.failed.slice(0, 2)));
      for (const failure of result.failed.filter((f) => f.key !== `upstreams/${clash.id}`)) assert.match(failure.reason, /held back/);
    });
  });

  s('reconciliation repairs what was added, deleted or changed behind the agent, and nothing else', async () => {
    await withServer(async (server, sink) => {
      await applyChange(sink, GatewayConfig.empty(), bookinfo);
      const [route, other] = bookinfo.ofKind('routes');
      const upstream = bookinfo.ofKind('upstreams').find((u) => u.value.nodes !== undefined)!;
      server.deleteDirect('routes', route!.id);
      server.putDirect('upstreams', upstream.id, { ...upstream.value, nodes: [{ host: '10.66.66.66', port: 1, weight: 1 }] });
      server.putDirect('routes', 'intruder', { uri: '/x/*', upstream_id: upstream.id, labels: owned });
      server.putDirect('routes', 'foreign', foreignRoute('foreign').value);
      const report = await sink.reconcile();
      assert.equal(report.failed, []);
      assert.is(report.drift, 4, 'deleted route, changed upstream, owned intruder, foreign route');
      assert.is(report.applied, 3);
      const expected = valuesOf(bookinfo);
      expected.set('routes/foreign', foreignRoute('foreign').value);
      assert.equal(sortedEntries(server.stored()), sortedEntries(expected));
      assert.ok(other, 'bookinfo has several routes');
      const quiet = server.requests.length;
      const second = await sink.reconcile();
      assert.equal({ ...second }, { applied: 0, failed: [], drift: 0 });
      assert.equal(
        server.requests.slice(quiet).map((r) => r.method),
        Array(7).fill('GET'),
        'a clean reconcile only lists',
      );
    });
  });

  s('the periodic resync repairs drift without being asked', async () => {
    const server = await ApisixAdminServer.start({ schemas });
    const sink = new AdminApiSink({ url: server.url, retry: FAST_RETRY, resyncMs: 50 });
    try {
      await applyChange(sink, GatewayConfig.empty(), bookinfo);
      const route = bookinfo.ofKind('routes')[0]!;
      server.deleteDirect('routes', route.id);
      for (let i = 0; i < 100 && !server.objects.has(`routes/${route.id}`); i++) await new Promise((r) => setTimeout(r, 20));
      assert.ok(server.objects.has(`routes/${route.id}`), 'recreated by the resync');
    } finally {
      sink.close();
      await server.close();
    }
  });

  s('converges under injected faults (5xx, delays past the timeout, connections dropped before and after the write) with nothing lost', async () => {
    await withServer(
      async (server, sink) => {
        server.startChaos(0.3, 42, [
          { kind: 'status', status: 503 },
          { kind: 'status', status: 500 },
          { kind: 'drop', when: 'before' },
          { kind: 'drop', when: 'after' },
          { kind: 'delay', ms: 300 },
        ]);
        const rounds = await applyUntilConverged(sink, GatewayConfig.empty(), bookinfo);
        const moved = movedEndpoint(bookinfo, 'v2').config;
        const smaller = withoutKeys(moved, 'v3', [`routes/${bookinfo.ofKind('routes')[0]!.id}`]);
        await applyUntilConverged(sink, bookinfo, moved);
        await applyUntilConverged(sink, moved, smaller);
        server.stopChaos();
        assert.ok(server.requests.length > bookinfo.objects.size, 'faults forced retries');
        assert.equal(sortedEntries(server.stored()), sortedEntries(valuesOf(smaller)), `converged (first sync took ${rounds} rounds)`);
      },
      { timeoutMs: 150 },
    );
  });

  s('an upstream is not deleted while a failed route change still points at it; the next apply finishes the move', async () => {
    const server = await ApisixAdminServer.start({ schemas });
    const sink = new AdminApiSink({ url: server.url, retry: { initialMs: 5, maxMs: 20, budgetMs: 100 }, resyncMs: 0 });
    try {
      const upstream = (id: string): GatewayObject => ({
        kind: 'upstreams',
        id,
        value: { id, type: 'roundrobin', nodes: [{ host: '10.0.0.1', port: 80, weight: 1 }], labels: owned },
      });
      const route = (target: string): GatewayObject => ({ kind: 'routes', id: 'r1', value: { id: 'r1', uri: '/a/*', upstream_id: target, labels: owned } });
      const v1 = GatewayConfig.of('v1', [upstream('u1'), route('u1')]);
      const v2 = GatewayConfig.of('v2', [upstream('u3'), route('u3')]);
      assert.equal((await applyChange(sink, GatewayConfig.empty(), v1)).failed, []);
      server.inject({ kind: 'status', status: 503 }, 1_000, (r) => r.method === 'PUT' && r.path === '/apisix/admin/routes/r1');
      const stuck = await applyChange(sink, v1, v2);
      assert.equal(
        stuck.failed.map((f) => f.key),
        ['routes/r1', 'upstreams/u1'],
      );
      assert.match(stuck.failed[0]!.reason, /503 injected fault 503 \(after \d+ attempts; will retry\)/);
      assert.is(stuck.failed[1]!.reason, 'held back: routes/r1 still references it');
      assert.equal(
        stuck.failed.filter((f) => f.rejected),
        [],
        "a 5xx is not the configuration's fault",
      );
      assert.ok(server.objects.has('upstreams/u1') && server.objects.has('upstreams/u3'));
      assert.is(server.countRequests('DELETE'), 0, 'no DELETE was even tried');
      server.clearFaults();
      assert.equal((await applyChange(sink, v1, v2)).failed, []);
      assert.equal(sortedEntries(server.stored()), sortedEntries(valuesOf(v2)));
    } finally {
      sink.close();
      await server.close();
    }
  });

  s('a refused object is reported with its key and APISIX error_msg, blocks only what depends on it, and is not resent unchanged', async () => {
    await withServer(async (server, sink) => {
      const upstream = bookinfo.ofKind('upstreams').find((u) => bookinfo.ofKind('routes').some((r) => r.value.upstream_id === u.id))!;
      const broken = withObject(bookinfo, 'v1', { ...upstream, value: { ...upstream.value, type: 'roundrobin', retries: -1 } });
      const result = await applyChange(sink, GatewayConfig.empty(), broken);
      const refused = result.failed.find((f) => f.key === `upstreams/${upstream.id}`);
      assert.ok(refused, 'the broken upstream is reported');
      assert.match(refused!.reason, /400 invalid configuration: property "\/retries" validation failed/);
      assert.is(refused!.rejected, true, 'the configuration is at fault');
      assert.equal(
        result.failed.filter((f) => f.rejected).map((f) => f.key),
        [refused!.key],
        'what is held back is not itself refused',
      );
      const dependents = bookinfo.ofKind('routes').filter((r) => r.value.upstream_id === upstream.id || JSON.stringify(r.value.plugins ?? {}).includes(`"${upstream.id}"`));
      assert.equal(new Set(result.failed.filter((f) => f.key !== refused!.key).map((f) => f.key)), new Set(dependents.map((r) => `routes/${r.id}`)));
      assert.is(server.objects.size, bookinfo.objects.size - 1 - dependents.length, 'everything unrelated was written');
      const puts = server.countRequests('PUT');
      const again = await applyChange(sink, GatewayConfig.empty(), broken);
      assert.equal(again.failed.map((f) => f.key).sort(), result.failed.map((f) => f.key).sort());
      assert.equal(
        again.failed.filter((f) => f.rejected).map((f) => f.key),
        [refused!.key],
        'still refused when reported from memory',
      );
      assert.is(server.countRequests('PUT'), puts, 'the refused body is not sent again');
      const fixed = await applyChange(sink, broken, bookinfo);
      assert.equal(fixed.failed, []);
      assert.equal(sortedEntries(server.stored()), sortedEntries(valuesOf(bookinfo)));
    });
  });

  s('the API key: a wrong key is a 401 reported without the key; the key never appears in target or reasons', async () => {
    const server = await ApisixAdminServer.start({ schemas, apiKey: KEY });
    const wrong = 'wrong-key-also-secret';
    const sink = new AdminApiSink({ url: server.url, apiKey: new SecretText(wrong), retry: FAST_RETRY, resyncMs: 0 });
    try {
      const result = await applyChange(sink, GatewayConfig.empty(), bookinfo);
      assert.is(result.failed.length, 1);
      assert.match(result.failed[0]!.reason, /401 failed to check token \(wrong apikey\)/);
      assert.is(result.failed[0]!.rejected, undefined, "a wrong key is not the configuration's fault");
      const everything = JSON.stringify({ result, target: sink.target, sink, key: new SecretText(KEY) });
      assert.not.ok(everything.includes(wrong) || everything.includes(KEY), everything.slice(0, 300));
    } finally {
      sink.close();
      await server.close();
    }
  });
}

s.run();

// `amesh sidecar --sink admin:|standalone:|etcd:`: the specs and their flags parse into sink
// configurations, bad ones fail naming the flag (and never echoing a credential), and the CLI run
// once against the APISIX-compatible Admin API test server leaves bookinfo there, keyed from the environment
// or a key file.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from '../../src/app/cli.js';
import { parseSidecarConfig } from '../../src/app/sidecar/sidecar-config.js';
import { SecretText } from '../../src/domain/secret-text.js';
import type { Logger } from '../../src/ports/logger.js';
import { MemoryMetrics } from '../../src/adapters/memory/memory-metrics.js';
import { ApisixAdminServer } from '../support/apisix-admin-server.js';
import { withTimeout } from '../support/mesh-sidecar.js';
import { repoRoot } from '../support/shared-fixtures.js';

const s = suite('sidecar --sink admin:/standalone:/etcd:');
const quiet: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const KEY = 'cli-admin-key-secret';

s('admin:, standalone: and etcd: specs with their key and prefix options', () => {
  const parsed = parseSidecarConfig({
    file: 'x',
    sink: ['admin:http://127.0.0.1:9180', 'standalone:https://apisix.local:9180/', 'etcd:127.0.0.1:2379,http://10.0.0.2:2379'],
    adminKeyFile: '/run/secrets/admin-key',
    etcdPrefix: '/mesh',
  });
  assert.ok(parsed.ok, JSON.stringify(parsed));
  assert.equal(parsed.value.sinks, [
    { kind: 'admin', url: 'http://127.0.0.1:9180', apiKey: { from: 'file', path: '/run/secrets/admin-key' } },
    { kind: 'standalone', url: 'https://apisix.local:9180', apiKey: { from: 'file', path: '/run/secrets/admin-key' } },
    { kind: 'etcd', endpoints: ['http://127.0.0.1:2379', 'http://10.0.0.2:2379'], prefix: '/mesh', streamMode: 'on' },
  ]);
  const streamOff = parseSidecarConfig({ file: 'x', sink: ['etcd:127.0.0.1:2379,10.0.0.2:2379?stream=off', 'etcd:h:2379?stream=on'] });
  assert.ok(streamOff.ok, JSON.stringify(streamOff));
  assert.equal(streamOff.value.sinks, [
    { kind: 'etcd', endpoints: ['http://127.0.0.1:2379', 'http://10.0.0.2:2379'], prefix: '/apisix', streamMode: 'off' },
    { kind: 'etcd', endpoints: ['http://h:2379'], prefix: '/apisix', streamMode: 'on' },
  ]);
  const fromEnv = parseSidecarConfig({ file: 'x', sink: ['admin:http://h:9180', 'etcd:h:2379'], adminKey: new SecretText(KEY) });
  assert.ok(fromEnv.ok);
  assert.is(fromEnv.value.sinks[1]!.kind === 'etcd' && fromEnv.value.sinks[1]!.prefix, '/apisix');
  assert.not.ok(JSON.stringify(fromEnv.value).includes(KEY), 'the key does not show in the configuration');
});

s('bad specs fail naming the flag, and credentials are not echoed', () => {
  const bad: [Parameters<typeof parseSidecarConfig>[0], RegExp][] = [
    [{ file: 'x', sink: ['admin:127.0.0.1:9180'] }, /--sink admin: .*http/],
    [{ file: 'x', sink: ['admin:http://admin:hunter2@h:9180'] }, /credentials in the URL are not allowed/],
    [{ file: 'x', sink: ['standalone:http://h:9180/apisix/admin'] }, /origin only/],
    [{ file: 'x', sink: ['etcd:foo'] }, /--sink etcd: "foo"/],
    [{ file: 'x', sink: ['etcd:h:2379'], etcdPrefix: 'apisix/' }, /--etcd-prefix/],
    [{ file: 'x', sink: ['etcd:h:2379?stream=maybe'] }, /--sink etcd: .*stream=on or stream=off/],
    [{ file: 'x', sink: ['admin:http://h:9180'], adminKey: new SecretText(KEY), adminKeyFile: 'k' }, /either in AMESH_ADMIN_KEY or with --admin-key-file/],
  ];
  for (const [flags, message] of bad) {
    const parsed = parseSidecarConfig(flags);
    assert.ok(!parsed.ok && message.test(parsed.error), `${JSON.stringify(flags)} → ${JSON.stringify(parsed)}`);
    assert.not.ok(parsed.ok || parsed.error.includes('hunter2'));
  }
});

async function runOnce(args: readonly string[], env: Record<string, string>, metrics?: MemoryMetrics): Promise<{ code: number; err: string }> {
  let err = '';
  const code = await runCli(
    [
      'sidecar',
      '--file',
      join(repoRoot, 'examples/bookinfo/istiod-capture.json'),
      '--once',
      '--ready-address',
      'off',
      '--metrics-address',
      'off',
      '--admin-address',
      'off',
      ...args,
    ],
    { out: () => {}, err: (t) => void (err += t), env },
    { sidecar: { logger: quiet, ...(metrics ? { metrics } : {}) } },
  );
  return { code, err };
}

s('amesh sidecar --once --sink admin:<url> writes bookinfo with the key from AMESH_ADMIN_KEY or --admin-key-file', async () => {
  const server = await ApisixAdminServer.start({ apiKey: KEY });
  const dir = await mkdtemp(join(tmpdir(), 'amesh-admin-key-'));
  try {
    const viaEnv = await runOnce(['--sink', `admin:${server.url}`], { AMESH_ADMIN_KEY: KEY });
    assert.is(viaEnv.code, 0, viaEnv.err);
    assert.ok(server.objects.size > 0, 'objects were written');
    const written = server.objects.size;
    server.objects.clear();
    const keyFile = join(dir, 'key');
    await writeFile(keyFile, `${KEY}\n`);
    const viaFile = await runOnce(['--sink', `admin:${server.url}`, '--admin-key-file', keyFile], {});
    assert.is(viaFile.code, 0, viaFile.err);
    assert.is(server.objects.size, written);
    const missing = await runOnce(['--sink', `admin:${server.url}`, '--admin-key-file', join(dir, 'nope')], {});
    assert.is(missing.code, 2);
    assert.match(missing.err, /--admin-key-file .*nope: ENOENT/);
  } finally {
    await rm(dir, { recursive: true, force: true });
    await server.close();
  }
});

s(
  'amesh sidecar --once --sink admin:<url> against APISIX without stream mode (proxy_mode http) writes the HTTP objects, counts the stream routes as unserved and exits',
  async () => {
    const server = await ApisixAdminServer.start({ proxyMode: 'http' });
    const metrics = new MemoryMetrics();
    try {
      // Before the fix the first listing failed on stream_routes and --once waited for ever.
      const run = await withTimeout(runOnce(['--sink', `admin:${server.url}`], {}, metrics), 20_000, () => 'amesh sidecar --once to exit');
      assert.is(run.code, 0, run.err);
      const kinds = new Set([...server.objects.keys()].map((key) => key.slice(0, key.indexOf('/'))));
      assert.equal([...kinds].sort(), ['routes', 'ssls', 'upstreams']);
      assert.is(metrics.gauges.get(`unserved:admin:${server.url}`), 3, "bookinfo's three stream routes");
      assert.is(metrics.counters.get(`apply:admin:${server.url}:error`), undefined, 'not a failed apply');
    } finally {
      await server.close();
    }
  },
);

s.run();

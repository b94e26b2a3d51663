// Issue 12, item 11: what `amesh translate` echoes from its input reaches a terminal. Control
// characters in resource names are escaped (no cursor moves, no forged `error:` lines), a 100 KB name
// is cut to a bounded line with a marker, and a duplicate is reported where its second copy is.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from '../../src/app/cli.js';
import type { Logger } from '../../src/ports/logger.js';

const quiet: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

async function cli(args: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(args, { out: (t) => void (out += t), err: (t) => void (err += t) }, { logger: quiet });
  return { code, out, err };
}

async function inTempDir(files: Record<string, string>, body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'amesh-cli-messages-'));
  try {
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A cluster named `name` (a JSON string, so any character can be in it) with a field APISIX drops. */
const cluster = (name: string): string => `- "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster
  name: ${JSON.stringify(name)}
  type: STATIC
  connect_timeout: 1s
  per_connection_buffer_limit_bytes: 1024
  load_assignment: { cluster_name: c, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: 10.0.0.1, port_value: 80 } } } }] }] }
`;
const listener = (name: string, routeConfig: string): string => `- "@type": type.googleapis.com/envoy.config.listener.v3.Listener
  name: ${JSON.stringify(name)}
  address: { socket_address: { address: 0.0.0.0, port_value: 8080 } }
  filter_chains:
  - filters:
    - name: envoy.filters.network.http_connection_manager
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
        stat_prefix: http
        rds: { route_config_name: ${JSON.stringify(routeConfig)}, config_source: { ads: {} } }
        http_filters: [{ name: envoy.filters.http.router, typed_config: { "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router } }]
`;

const s = suite('amesh translate: echoed input');

// Terminal controls: C0 (ESC, CR, LF, BEL), DEL, C1 (CSI) and bidi overrides.
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
const FORGED = 'c\u001b[2J\u0007\r\nerror: forged line\u009b31m\u202e';

s('--explain (text and json) shows a name with control characters escaped, on the line it belongs to', async () => {
  await inTempDir({ 'in.yaml': `resources:\n${cluster(FORGED)}` }, async (dir) => {
    for (const explain of ['text', 'json']) {
      const run = await cli(['translate', join(dir, 'in.yaml'), '--explain', explain, '-o', join(dir, 'out.yaml')]);
      assert.is(run.code, 0, run.err);
      const shown = run.out + run.err;
      assert.not.match(shown, RAW_CONTROL, `${explain}: ${JSON.stringify(shown.slice(0, 300))}`);
      assert.not.ok(
        shown.split('\n').some((line) => line.startsWith('error: forged')),
        'no forged line',
      );
      if (explain === 'text') assert.ok(shown.includes('c\\x1b[2J\\x07\\r\\nerror: forged line\\x9b31m\\u202e'), shown);
      else {
        const records = JSON.parse(run.out.slice(0, run.out.lastIndexOf(']') + 1)) as { resource: { name: string } }[];
        assert.ok(
          records.some((r) => r.resource.name === FORGED),
          'the JSON keeps the name as it is (escaped only as JSON)',
        );
      }
    }
  });
});

s('--explain never shows a private key, even one that landed in a reported field (a key pasted as a filename)', async () => {
  const key = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n';
  const secret = `- "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret
  name: client
  tls_certificate: { certificate_chain: { inline_string: "-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----\\n" }, private_key: { filename: ${JSON.stringify(key)} } }
`;
  await inTempDir({ 'in.yaml': `resources:\n${cluster('c1')}${secret}` }, async (dir) => {
    for (const explain of ['text', 'json']) {
      const run = await cli(['translate', join(dir, 'in.yaml'), '--explain', explain, '-o', join(dir, 'out.yaml')]);
      assert.is(run.code, 0, run.err);
      assert.ok((run.out + run.err).includes('private_key.filename'), `${explain}: the record is shown`);
      assert.not.match(run.out + run.err, /PRIVATE KEY|MIIEvQIBADAN/, explain);
    }
  });
});

s('an error echoing a 100 KB name is one bounded line with a marker', async () => {
  const huge = `r${'x'.repeat(100_000)}`;
  await inTempDir({ 'in.yaml': `resources:\n${listener(`l\r\n${huge}`, huge)}` }, async (dir) => {
    const run = await cli(['translate', join(dir, 'in.yaml'), '-o', join(dir, 'out.yaml')]);
    assert.is(run.code, 1);
    const lines = run.err.trimEnd().split('\n');
    assert.is(lines.length, 1, run.err.slice(0, 500));
    assert.ok(lines[0]!.length < 1000, `${lines[0]!.length} characters`);
    assert.match(lines[0]!, /more characters\]/);
    assert.match(lines[0]!, /^error: Listener "l\\r\\nrxxx/);
  });
});

s('a duplicate is reported in the file that holds the second copy, naming where the first is', async () => {
  await inTempDir({ 'a.yaml': `resources:\n${cluster('c1')}`, 'b.yaml': `resources:\n${cluster('c2')}${cluster('c1')}` }, async (dir) => {
    const run = await cli(['translate', dir, '-o', join(dir, 'out.yaml')]);
    assert.is(run.code, 1);
    assert.ok(run.err.startsWith(`error: ${join(dir, 'b.yaml')}: Cluster "c1" field name: duplicate Cluster "c1" (first in ${join(dir, 'a.yaml')})`), run.err);
  });
  await inTempDir({ 'a.yaml': `resources:\n${cluster('c1')}${cluster('c1')}`, 'b.yaml': `resources:\n${cluster('c2')}` }, async (dir) => {
    const run = await cli(['translate', dir, '-o', join(dir, 'out.yaml')]);
    assert.is(run.code, 1);
    assert.ok(run.err.startsWith(`error: ${join(dir, 'a.yaml')}: Cluster "c1" field name: duplicate Cluster "c1" (earlier in this file)`), run.err);
  });
});

s.run();

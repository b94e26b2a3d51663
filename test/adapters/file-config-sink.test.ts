// FileConfigSink writes conf/apisix.yaml|json for APISIX standalone mode. Besides the sink contract
// (for both formats), the file itself has rules APISIX imposes: the #END marker, an mtime that
// moves by whole seconds, owner-only permissions when private keys are inside, and atomic
// replacement that never leaves temp files behind.
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parse as parseYaml } from 'yaml';
import { FileConfigSink } from '../../src/adapters/file-sink/file-sink.js';
import { renderStandalone } from '../../src/adapters/apisix/standalone-document.js';
import { diffConfigs } from '../../src/domain/diff.js';
import { GatewayConfig, type GatewayObject } from '../../src/domain/gateway-config.js';
import type { JsonObject, JsonValue } from '../../src/domain/json.js';
import { configSinkContract, type ReadBack } from '../contract/config-sink.contract.js';

const freshDir = (): Promise<string> => mkdtemp(join(tmpdir(), 'amesh-file-sink-'));

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The standalone document (one array per kind) → `kind/id` → object, as GatewayConfig keys it. */
function readBackDocument(document: unknown): ReadBack {
  const objects = new Map<string, JsonValue>();
  if (document === null || document === undefined) return objects;
  assert.ok(isObject(document), 'the document is an object of kinds');
  for (const [kind, list] of Object.entries(document)) {
    assert.ok(Array.isArray(list), `${kind} is an array`);
    for (const item of list) {
      assert.ok(isObject(item) && typeof item.id === 'string', `every ${kind} entry has a string id`);
      objects.set(`${kind}/${item.id}`, item as JsonObject);
    }
  }
  return objects;
}

async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

for (const format of ['yaml', 'json'] as const) {
  configSinkContract(`FileConfigSink (.${format})`, async () => {
    const dir = await freshDir();
    const path = join(dir, `apisix.${format}`);
    return {
      sink: new FileConfigSink({ path }),
      readBack: async () => {
        const text = await readIfPresent(path);
        if (text === undefined) return new Map();
        return readBackDocument(format === 'json' ? JSON.parse(text) : parseYaml(text));
      },
      raw: async () => (await readIfPresent(path)) ?? '',
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  });
}

const s = suite('FileConfigSink: the file APISIX reads');

const upstream: GatewayObject = { kind: 'upstreams', id: 'u1', value: { id: 'u1', type: 'roundrobin', nodes: [{ host: '10.0.0.1', port: 80, weight: 1 }] } };
const route = (uri: string): GatewayObject => ({ kind: 'routes', id: 'r1', value: { id: 'r1', uri, upstream_id: 'u1' } });
const sslWith = (body: JsonObject): GatewayObject => ({ kind: 'ssls', id: 's1', value: { id: 's1', snis: ['a.example.com'], cert: 'CERT', ...body } });

/** Applies `desired` as the next state after `previous`, expecting success. */
async function write(sink: FileConfigSink, previous: GatewayConfig, desired: GatewayConfig): Promise<GatewayConfig> {
  const result = await sink.apply({ desired, changes: diffConfigs(previous, desired) });
  assert.equal(result.failed, []);
  return desired;
}

const modeOf = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

s('apisix.yaml ends with #END within its last 10 bytes, also when the config is empty', async () => {
  const dir = await freshDir();
  try {
    const path = join(dir, 'apisix.yaml');
    const sink = new FileConfigSink({ path });
    const config = await write(sink, GatewayConfig.empty(), GatewayConfig.of('v1', [upstream, route('/a/*')]));
    assert.ok((await readFile(path)).subarray(-10).toString('latin1').includes('#END'), 'non-empty config');
    await write(sink, config, GatewayConfig.of('v2', []));
    assert.ok((await readFile(path)).subarray(-10).toString('latin1').includes('#END'), 'empty config');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

s('mode 0600 while an ssl holds a private key, 0644 otherwise', async () => {
  const dir = await freshDir();
  try {
    const path = join(dir, 'apisix.yaml');
    const sink = new FileConfigSink({ path });
    let config = await write(sink, GatewayConfig.empty(), GatewayConfig.of('v1', [upstream]));
    assert.is((await modeOf(path)).toString(8), '644', 'no ssl');
    config = await write(sink, config, GatewayConfig.of('v2', [upstream, sslWith({ key: 'PRIVATE KEY' })]));
    assert.is((await modeOf(path)).toString(8), '600', 'ssl with key');
    await write(sink, config, GatewayConfig.of('v3', [upstream, sslWith({})]));
    assert.is((await modeOf(path)).toString(8), '644', 'ssl with a certificate only');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

s('writes within one second still move the mtime by whole seconds (APISIX compares seconds)', async () => {
  const dir = await freshDir();
  try {
    const path = join(dir, 'apisix.yaml');
    const sink = new FileConfigSink({ path });
    const seconds: number[] = [];
    let previous = GatewayConfig.empty();
    // Back to back: these land in the same wall-clock second unless one happens to straddle a tick.
    for (const [i, uri] of ['/a/*', '/b/*', '/c/*'].entries()) {
      previous = await write(sink, previous, GatewayConfig.of(`v${i + 1}`, [upstream, route(uri)]));
      seconds.push(Math.floor((await stat(path)).mtimeMs / 1000));
    }
    for (let i = 1; i < seconds.length; i++) assert.ok(seconds[i]! > seconds[i - 1]!, `write ${i + 1} is seen: mtime seconds ${seconds.join(', ')}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

s('no temp file is left beside the target after successful writes', async () => {
  const dir = await freshDir();
  try {
    const sink = new FileConfigSink({ path: join(dir, 'apisix.json') });
    const config = await write(sink, GatewayConfig.empty(), GatewayConfig.of('v1', [upstream, route('/a/*')]));
    await write(sink, config, GatewayConfig.of('v2', [upstream, route('/b/*')]));
    assert.equal(await readdir(dir), ['apisix.json']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

s('a failed write is reported as failed with key * (not thrown) and leaves no temp file', async () => {
  const dir = await freshDir();
  try {
    // A directory where the file should be: the final rename cannot replace it.
    const path = join(dir, 'apisix.yaml');
    await mkdir(path);
    const sink = new FileConfigSink({ path });
    const desired = GatewayConfig.of('v1', [upstream, route('/a/*')]);
    const result = await sink.apply({ desired, changes: diffConfigs(GatewayConfig.empty(), desired) });
    assert.is(result.applied, 0);
    assert.is(result.failed.length, 1);
    assert.is(result.failed[0]?.key, '*');
    assert.ok(result.failed[0]?.reason.includes(path), `the reason names the target: ${result.failed[0]?.reason}`);
    assert.equal(await readdir(dir), ['apisix.yaml'], 'only the (directory) target remains');
    assert.equal(await readdir(path), [], 'nothing was written into the directory either');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** Strings a YAML 1.1 reader (lyaml, which APISIX uses) turns into booleans, null or numbers when unquoted. */
const YAML11_TRAPS = [
  'yes',
  'No',
  'ON',
  'off',
  'Off',
  'y',
  'N',
  '~',
  'null',
  'NULL',
  'true',
  'False',
  '0755',
  '0x1F',
  '1_000',
  '1:20',
  '190:20:30',
  '.inf',
  '-.Inf',
  '.NaN',
  '1e3',
  '12',
  '+12',
  '3.14',
  '',
  ' padded ',
  'a: b',
  '#x',
  '2001-12-14',
  '=',
  '<<',
  'oFF',
];

/** A route whose header names and values are all the traps (as keys and as values). */
function trapRoute(): GatewayObject {
  const set: JsonObject = {};
  YAML11_TRAPS.forEach((trap, i) => {
    set[`x-trap-${i}`] = trap;
    set[trap || 'empty'] = `v${i}`;
  });
  return { kind: 'routes', id: 'r-traps', value: { id: 'r-traps', uri: '/traps', upstream_id: 'u1', plugins: { 'proxy-rewrite': { headers: { set } } } } };
}

s('apisix.yaml reads back as the same strings in YAML 1.1 (yes, on, ~, 0755, 1_000, 1:20 stay strings)', () => {
  const config = GatewayConfig.of('v1', [upstream, trapRoute()]);
  const expected = JSON.parse(renderStandalone(config, 'json'));
  const yaml = renderStandalone(config, 'yaml');
  assert.equal(parseYaml(yaml, { version: '1.1' }), expected, 'the yaml package in YAML 1.1 mode');
  // PyYAML implements YAML 1.1's implicit types as lyaml does (Debian's python3-yaml; .ci/run installs it).
  const python = spawnSync('python3', ['-c', 'import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'], { input: yaml, encoding: 'utf8' });
  if (python.status !== 0) {
    console.log(`  (PyYAML not available, YAML 1.1 read-back by the yaml package only: ${python.stderr.trim().split('\n').pop() ?? python.error?.message})`);
    return;
  }
  assert.equal(JSON.parse(python.stdout), expected, 'PyYAML (YAML 1.1)');
});

s('file:?group= gives the file that group, and a file with private keys is 0640 instead of 0600', async () => {
  const dir = await freshDir();
  try {
    const path = join(dir, 'apisix.yaml');
    const gid = process.getgid?.() === 0 ? 65534 : (process.getgid?.() ?? 0); // root can give nogroup; others their own group
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, error() {}, warn: (_: object, message: string) => void warnings.push(message) };
    const sink = new FileConfigSink({ path, group: String(gid), logger });
    const config = await write(sink, GatewayConfig.empty(), GatewayConfig.of('v1', [upstream, sslWith({ key: 'PRIVATE KEY' })]));
    assert.is((await modeOf(path)).toString(8), '640');
    assert.is((await stat(path)).gid, gid);
    await write(sink, config, GatewayConfig.of('v2', [upstream]));
    assert.is((await modeOf(path)).toString(8), '644');
    assert.is((await stat(path)).gid, gid);
    assert.equal(warnings, [], 'no warning with a group');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

s('without a group, a private file is 0600 and a warning says APISIX workers cannot read it (once)', async () => {
  const dir = await freshDir();
  try {
    const path = join(dir, 'apisix.yaml');
    const warnings: string[] = [];
    const logger = { debug() {}, info() {}, error() {}, warn: (_: object, message: string) => void warnings.push(message) };
    const sink = new FileConfigSink({ path, logger });
    const config = await write(sink, GatewayConfig.empty(), GatewayConfig.of('v1', [upstream, sslWith({ key: 'PRIVATE KEY' })]));
    await write(sink, config, GatewayConfig.of('v2', [upstream, sslWith({ key: 'OTHER KEY' })]));
    assert.is((await modeOf(path)).toString(8), '600');
    assert.is(warnings.length, 1);
    assert.match(warnings[0]!, /\?group=/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

s('an unknown group fails the apply naming the file and the group, and writes nothing', async () => {
  const dir = await freshDir();
  try {
    const path = join(dir, 'apisix.yaml');
    const sink = new FileConfigSink({ path, group: 'no-such-group-amesh' });
    const desired = GatewayConfig.of('v1', [upstream]);
    const result = await sink.apply({ desired, changes: diffConfigs(GatewayConfig.empty(), desired) });
    assert.is(result.failed.length, 1);
    assert.match(result.failed[0]!.reason, /no-such-group-amesh/);
    assert.equal(await readdir(dir), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

s.run();

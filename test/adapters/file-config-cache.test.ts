// FileConfigCache: the cache contract on a temp file, then what only a file has: owner-only mode
// (ssls hold private keys), atomic replacement, and a damaged or foreign file read as a value,
// never a crash.
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FileConfigCache } from '../../src/adapters/file-cache/file-config-cache.js';
import { gatewayConfigToJson } from '../../src/domain/gateway-config-json.js';
import { GatewayConfig, type GatewayObject } from '../../src/domain/gateway-config.js';
import type { LogFields, Logger } from '../../src/ports/logger.js';
import { configCacheContract } from '../contract/config-cache.contract.js';

const freshDir = (): Promise<string> => mkdtemp(join(tmpdir(), 'amesh-file-cache-'));

configCacheContract('FileConfigCache', async () => {
  const dir = await freshDir();
  const path = join(dir, 'state', 'last-applied.json'); // a directory that does not exist yet
  return { cache: new FileConfigCache({ path }), reopen: () => new FileConfigCache({ path }), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

class RecordingLogger implements Logger {
  readonly warnings: Array<{ fields: LogFields; message: string }> = [];
  debug(): void {}
  info(): void {}
  warn(fields: LogFields, message: string): void {
    this.warnings.push({ fields, message });
  }
  error(): void {}
}

const s = suite('FileConfigCache: the file');

const upstream: GatewayObject = { kind: 'upstreams', id: 'u1', value: { id: 'u1', type: 'roundrobin', nodes: [{ host: '10.0.0.1', port: 80, weight: 1 }] } };
const ssl: GatewayObject = { kind: 'ssls', id: 's1', value: { id: 's1', snis: ['a.example.com'], cert: 'CERT', key: 'PRIVATE KEY' } };
const config = GatewayConfig.of('v1', [ssl, upstream]);

async function withCache(body: (cache: FileConfigCache, path: string, dir: string) => Promise<void>, logger?: Logger): Promise<void> {
  const dir = await freshDir();
  try {
    const path = join(dir, 'last-applied.json');
    await body(new FileConfigCache({ path }, logger ? { logger } : {}), path, dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function loadError(cache: FileConfigCache): Promise<string> {
  const result = await cache.load();
  if (result.ok) throw new Error(`expected an error, got ${result.value ? `config ${result.value.version}` : 'undefined'}`);
  return result.error;
}

s('mode 0600, also when replacing a world-readable file', async () => {
  await withCache(async (cache, path) => {
    await writeFile(path, '{}', { mode: 0o644 });
    assert.ok((await cache.save(config)).ok);
    assert.is(((await stat(path)).mode & 0o777).toString(8), '600');
  });
});

s('no temp file is left beside the cache', async () => {
  await withCache(async (cache, _path, dir) => {
    await cache.save(config);
    await cache.save(GatewayConfig.of('v2', [upstream]));
    assert.equal(await readdir(dir), ['last-applied.json']);
  });
});

s('the file is the versioned JSON document', async () => {
  await withCache(async (cache, path) => {
    await cache.save(config);
    assert.equal(JSON.parse(await readFile(path, 'utf8')), gatewayConfigToJson(config));
  });
});

s('corrupt files are error values naming the file: bad JSON, truncated, wrong content', async () => {
  await withCache(async (cache, path) => {
    await cache.save(config);
    const text = await readFile(path, 'utf8');
    await writeFile(path, text.slice(0, text.length / 2));
    assert.match(await loadError(cache), new RegExp(`^${path} is corrupt: invalid JSON`));
    await writeFile(path, '');
    assert.match(await loadError(cache), /is corrupt: invalid JSON/);
    await writeFile(path, JSON.stringify({ ...gatewayConfigToJson(config), objects: [{ kind: 'plugins', id: 'p', value: {} }] }));
    assert.match(await loadError(cache), /is corrupt: objects\[0\]\.kind "plugins" is not one of/);
    await writeFile(path, '{"apisix": "yaml?"}');
    assert.match(await loadError(cache), /is corrupt: not an amesh-ts\/gateway-config document/);
    // A good save replaces the damage.
    assert.ok((await cache.save(config)).ok);
    assert.ok((await cache.load()).ok);
  });
});

s('a cache from another format version is ignored (undefined) with the reason logged', async () => {
  const logger = new RecordingLogger();
  await withCache(async (cache, path) => {
    await writeFile(path, JSON.stringify({ ...gatewayConfigToJson(config), formatVersion: 2, objects: 'a shape this release does not know' }));
    assert.equal(await cache.load(), { ok: true, value: undefined });
    assert.is(logger.warnings.length, 1);
    assert.equal(logger.warnings[0]!.fields, { path, reason: 'format version 2, this release reads 1' });
  }, logger);
});

s('an unreadable cache is an error value; a failed save is an error value and the next save works', async () => {
  await withCache(async (cache, path) => {
    await mkdir(path); // a directory where the file should be
    assert.match(await loadError(cache), new RegExp(`^reading ${path}: `));
    const failed = await cache.save(config);
    assert.not.ok(failed.ok);
    if (!failed.ok) assert.match(failed.error, new RegExp(`^writing ${path}: `));
    await rm(path, { recursive: true });
    assert.ok((await cache.save(config)).ok, 'a failed save does not wedge the queue');
    const back = await cache.load();
    assert.ok(back.ok && back.value?.version === 'v1');
  });
});

s.run();

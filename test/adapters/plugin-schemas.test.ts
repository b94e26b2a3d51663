// PluginSchemas: the contract for the in-memory adapter and the JSON Schema directory adapter (over
// a temp dir), then the directory adapter over APISIX's real plugin schemas
// (../shared/apisix-schemas/plugins; skipped, saying so, without it).
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MemoryPluginSchemas } from '../../src/adapters/memory/memory-plugin-schemas.js';
import { JsonSchemaPluginSchemas } from '../../src/adapters/plugin-schemas/json-schema-plugin-schemas.js';
import type { JsonObject } from '../../src/domain/json.js';
import { DEMO_SCHEMA, pluginSchemasContract } from '../contract/plugin-schemas.contract.js';
import { requireShared } from '../support/shared-fixtures.js';

pluginSchemasContract('memory', async () => ({
  schemas: new MemoryPluginSchemas({
    'demo-limit': (config: JsonObject) => {
      const errors: string[] = [];
      const count = config['count'];
      if (count === undefined) errors.push("/ must have required property 'count'");
      else if (typeof count !== 'number' || !Number.isInteger(count) || count < 1) errors.push('/count must be an integer >= 1');
      if (config['policy'] !== undefined && config['policy'] !== 'local' && config['policy'] !== 'cluster') errors.push('/policy must be equal to one of the allowed values');
      for (const key of Object.keys(config)) if (key !== 'count' && key !== 'policy') errors.push(`/ must NOT have additional properties (${key})`);
      return errors;
    },
  }),
  cleanup: async () => undefined,
}));

pluginSchemasContract('JSON Schema directory (ajv)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'amesh-schemas-'));
  writeFileSync(join(dir, 'demo-limit.schema.json'), JSON.stringify(DEMO_SCHEMA));
  writeFileSync(join(dir, 'other.schema.json'), JSON.stringify({ type: 'object' }));
  // Beside the schemas, not a schema: ignored.
  writeFileSync(join(dir, 'README.md'), '# not a schema');
  const loaded = JsonSchemaPluginSchemas.load(dir);
  if (!loaded.ok) throw new Error(loaded.error);
  return { schemas: loaded.value, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
});

const s = suite('JsonSchemaPluginSchemas: loading');

s('a missing directory, an empty one, or a file that is not JSON is an error value naming the path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'amesh-schemas-'));
  try {
    const missing = JsonSchemaPluginSchemas.load(join(dir, 'nope'));
    assert.equal(missing, { ok: false, error: `${join(dir, 'nope')}: not a directory` });
    const empty = JsonSchemaPluginSchemas.load(dir);
    assert.equal(empty, { ok: false, error: `${dir}: no <plugin>.schema.json files` });
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'broken.schema.json'), '{"type": ');
    const broken = JsonSchemaPluginSchemas.load(dir);
    assert.is(broken.ok, false);
    if (!broken.ok) assert.match(broken.error, new RegExp(`^${join(dir, 'broken.schema.json')}: `));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

s('a schema that cannot be compiled makes its plugin unknown (with why), not the controller fail', () => {
  const dir = mkdtempSync(join(tmpdir(), 'amesh-schemas-'));
  try {
    writeFileSync(join(dir, 'weird.schema.json'), JSON.stringify({ type: 'object', properties: { x: { type: 'string', pattern: '\\A[a-z]+\\z' } } }));
    const loaded = JsonSchemaPluginSchemas.load(dir);
    if (!loaded.ok) throw new Error(loaded.error);
    const verdict = loaded.value.check('weird', { x: 'a' });
    assert.is(verdict.kind, 'unknown');
    if (verdict.kind === 'unknown') assert.match(verdict.reason, /^the schema of plugin "weird" in .* cannot be used: /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const shared = requireShared('plugin-schemas (APISIX 3.18 plugin schemas)');
if (shared) {
  s("APISIX's own schemas: every file loads; real configs pass, broken ones fail with APISIX's field named", () => {
    const loaded = JsonSchemaPluginSchemas.load(join(shared, 'apisix-schemas/plugins'));
    if (!loaded.ok) throw new Error(loaded.error);
    const schemas = loaded.value;
    assert.ok(schemas.names().length >= 60, `only ${schemas.names().length} schemas`);
    for (const name of ['response-rewrite', 'proxy-rewrite', 'cors', 'key-auth', 'fault-injection', 'ip-restriction']) assert.ok(schemas.names().includes(name), name);
    assert.equal(schemas.check('response-rewrite', { headers: { set: { 'x-amesh': 'v1' } } }), { kind: 'valid' });
    assert.equal(schemas.check('fault-injection', { abort: { http_status: 503, percentage: 1 } }), { kind: 'valid' });
    assert.equal(schemas.check('key-auth', { header: 'apikey' }), { kind: 'valid' });
    assert.equal(schemas.check('ip-restriction', { whitelist: ['10.0.0.0/8'] }), { kind: 'valid' });
    const badStatus = schemas.check('response-rewrite', { status_code: 99 });
    assert.is(badStatus.kind, 'invalid');
    if (badStatus.kind === 'invalid') assert.match(badStatus.errors.join('; '), /\/status_code must be >= 200/);
    const badAbort = schemas.check('fault-injection', { abort: { http_status: 'teapot' } });
    assert.is(badAbort.kind, 'invalid');
    if (badAbort.kind === 'invalid') assert.match(badAbort.errors.join('; '), /\/abort\/http_status must be integer/);
    // limit-count needs lua-resty-redis, so its schema was not dumped: unknown, not invalid.
    assert.is(schemas.check('limit-count', { count: 1, time_window: 60 }).kind, 'unknown');
    // Every schema compiles except openwhisk's PCRE-only pattern (see the data's README).
    const unusable = schemas.names().filter((name) => {
      const verdict = schemas.check(name, {});
      return verdict.kind === 'unknown';
    });
    assert.equal(unusable, ['openwhisk']);
  });
}

s.run();

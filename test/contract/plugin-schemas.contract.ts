// What every PluginSchemas owes the controller: a known plugin's config is valid or invalid with the
// offending JSON pointer named, a name without a schema is "unknown" with a reason (never an
// exception, never a file outside the schemas), and names() lists what it can check.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { PluginSchemas } from '../../src/ports/plugin-schemas.js';

/**
 * The fixture knows plugin `demo-limit`: `{count: integer >= 1, policy?: "local" | "cluster"}`,
 * no other properties (written as a JSON Schema file, or as a rule, by each adapter's test).
 */
export const DEMO_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  properties: { count: { type: 'integer', minimum: 1 }, policy: { type: 'string', enum: ['local', 'cluster'] } },
  required: ['count'],
  additionalProperties: false,
} as const;

export function pluginSchemasContract(name: string, setup: () => Promise<{ schemas: PluginSchemas; cleanup(): Promise<void> }>): void {
  const s = suite<{ schemas: PluginSchemas; cleanup(): Promise<void> }>(`PluginSchemas contract: ${name}`);
  s.before.each(async (ctx) => {
    Object.assign(ctx, await setup());
  });
  s.after.each(async (ctx) => ctx.cleanup());

  s('a config that matches is valid', (ctx) => {
    assert.equal(ctx.schemas.check('demo-limit', { count: 5 }), { kind: 'valid' });
    assert.equal(ctx.schemas.check('demo-limit', { count: 1, policy: 'cluster' }), { kind: 'valid' });
  });

  s('a config that does not match is invalid, each error naming where', (ctx) => {
    const wrongType = ctx.schemas.check('demo-limit', { count: 'five' });
    assert.is(wrongType.kind, 'invalid');
    if (wrongType.kind === 'invalid') assert.match(wrongType.errors.join('; '), /\/count/);
    const missing = ctx.schemas.check('demo-limit', { policy: 'local' });
    assert.is(missing.kind, 'invalid');
    if (missing.kind === 'invalid') assert.match(missing.errors.join('; '), /count/);
    const badEnum = ctx.schemas.check('demo-limit', { count: 2, policy: 'everywhere' });
    assert.is(badEnum.kind, 'invalid');
    if (badEnum.kind === 'invalid') assert.match(badEnum.errors.join('; '), /\/policy/);
  });

  s('a name without a schema is unknown, with a reason; names that are paths find nothing', (ctx) => {
    for (const name of ['no-such-plugin', '../demo-limit', 'demo-limit/../demo-limit', '', 'constructor', '__proto__']) {
      const verdict = ctx.schemas.check(name, { count: 1 });
      assert.is(verdict.kind, 'unknown', `${JSON.stringify(name)}: ${verdict.kind}`);
      if (verdict.kind === 'unknown') assert.ok(verdict.reason.length > 0);
    }
  });

  s('names() lists the plugins it can check, sorted', (ctx) => {
    const names = ctx.schemas.names();
    assert.ok(names.includes('demo-limit'));
    assert.equal([...names], [...names].sort());
    assert.ok(ctx.schemas.source.length > 0);
  });

  s.run();
}

// checkPluginSchemas (pure): route plugins go to the check, runner plugins do not; verdicts become
// field problems (the config is refused) or unknown plugins (reported, still delivered).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { checkPluginSchemas, type CheckPlugin } from '../../../src/domain/plugins/plugin-schema-check.js';
import type { PluginConfigSpec } from '../../../src/domain/plugins/plugin-config.js';

const spec = (plugins: PluginConfigSpec['plugins']): PluginConfigSpec => ({ namespace: 'ns', name: 'cfg', generation: 1, priority: 0, selector: undefined, plugins });

const check: CheckPlugin = (name, config) => {
  if (name === 'cors') return config['allow_origins'] === 5 ? { kind: 'invalid', errors: ['/allow_origins must be string'] } : { kind: 'valid' };
  return { kind: 'unknown', reason: `no schema for plugin "${name}"` };
};

const s = suite('checkPluginSchemas');

s('valid route plugins are counted; runner plugins are not checked', () => {
  const asked: string[] = [];
  const report = checkPluginSchemas(
    spec([
      { name: 'cors', phase: 'route', config: {} },
      { name: 'auth', phase: 'pre-req', config: { realm: 'x' } },
      { name: 'audit', phase: 'post-req', config: {} },
    ]),
    (name, config) => {
      asked.push(name);
      return check(name, config);
    },
  );
  assert.equal(report, { problems: [], unknown: [], valid: 1, external: 2 });
  assert.equal(asked, ['cors']);
});

s('a mismatch is a problem on the plugin config field, naming the plugin and the schema', () => {
  const report = checkPluginSchemas(
    spec([
      { name: 'key-auth', phase: 'route', config: {} },
      { name: 'cors', phase: 'route', config: { allow_origins: 5 } },
    ]),
    check,
  );
  assert.equal(report.problems, [{ field: 'spec.plugins[1].config', message: "cors: /allow_origins must be string (APISIX's schema of cors)" }]);
  assert.equal(report.unknown, [{ field: 'spec.plugins[0]', name: 'key-auth', reason: 'no schema for plugin "key-auth"' }]);
  assert.is(report.valid, 0);
});

s.run();

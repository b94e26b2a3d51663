// The pure AmeshPluginConfig rules: selector matching and checks, spec validation naming fields,
// precedence that does not depend on the order configs arrive in, and the per-pod plan.
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { selectorMatches, selectorProblems } from '../../../src/domain/plugins/label-selector.js';
import { mergePluginConfigs, pluginSetFingerprint } from '../../../src/domain/plugins/merge.js';
import { validatePluginConfig, type PluginConfigSpec } from '../../../src/domain/plugins/plugin-config.js';
import { readPluginConfigSpec } from '../../../src/domain/plugins/plugin-config-document.js';
import { planPodPlugins } from '../../../src/domain/plugins/pod-plugin-plan.js';
import { VersionClock } from '../../../src/domain/plugins/version-clock.js';

const config = (name: string, priority: number, plugins: [string, object][], selector?: PluginConfigSpec['selector']): PluginConfigSpec => ({
  namespace: 'ns',
  name,
  generation: 1,
  priority,
  selector,
  plugins: plugins.map(([n, c]) => ({ name: n, phase: 'route', config: c as never })),
});

const s = suite('AmeshPluginConfig domain');

s('selectors: matchLabels and every operator; absent selects all', () => {
  const labels = { app: 'web', tier: 'front' };
  assert.ok(selectorMatches(undefined, labels));
  assert.ok(selectorMatches({}, labels));
  assert.ok(selectorMatches({ matchLabels: { app: 'web' } }, labels));
  assert.not.ok(selectorMatches({ matchLabels: { app: 'db' } }, labels));
  assert.ok(selectorMatches({ matchExpressions: [{ key: 'app', operator: 'In', values: ['db', 'web'] }] }, labels));
  assert.not.ok(selectorMatches({ matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['web'] }] }, labels));
  assert.ok(selectorMatches({ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, labels), 'NotIn matches pods without the key');
  assert.ok(selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, labels));
  assert.not.ok(selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] }, labels));
  assert.not.ok(selectorMatches({ matchLabels: { app: 'web' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['back'] }] }, labels), 'all terms must hold');
});

s('selector problems name the field', () => {
  assert.equal(selectorProblems({ matchExpressions: [{ key: 'app', operator: 'In', values: [] }] }, 'spec.selector'), [
    { field: 'spec.selector.matchExpressions[0].values', message: 'operator In needs at least one value' },
  ]);
  assert.equal(
    selectorProblems({ matchLabels: { 'bad key!': 'x', app: 'no spaces' } }, 'spec.selector').map((p) => p.field),
    ['spec.selector.matchLabels', 'spec.selector.matchLabels.app'],
  );
  assert.equal(selectorProblems({ matchLabels: { 'app.kubernetes.io/name': 'web' } }, 'spec.selector'), []);
});

s('validation: reserved names, duplicates per phase, plugin name syntax', () => {
  const bad = validatePluginConfig({
    ...config('c', 0, []),
    plugins: [
      { name: 'ext-plugin-pre-req', phase: 'route', config: {} },
      { name: 'cors', phase: 'route', config: {} },
      { name: 'cors', phase: 'pre-req', config: {} },
      { name: 'cors', phase: 'route', config: {} },
      { name: 'Bad_Name', phase: 'route', config: {} },
    ],
  });
  assert.not.ok(bad.ok);
  if (!bad.ok)
    assert.equal(
      bad.error.map((p) => p.field),
      ['spec.plugins[0].name', 'spec.plugins[3].name', 'spec.plugins[4].name'],
    );
  assert.ok(validatePluginConfig(config('c', 0, [['cors', {}]])).ok);
  assert.not.ok(validatePluginConfig(config('c', 0, [])).ok, 'no plugins');
});

s('reading a stored spec: a JSON string config (the Amesh form) is refused with a hint', () => {
  const read = readPluginConfigSpec({ namespace: 'ns', name: 'c', generation: 3 }, { plugins: [{ name: 'cors', config: '{"allow_origins":"*"}' }] });
  assert.not.ok(read.ok);
  if (!read.ok) assert.equal(read.error, [{ field: 'spec.plugins[0].config', message: 'expected an object (the plugin configuration, not a JSON string)' }]);
  const ok = readPluginConfigSpec({ namespace: 'ns', name: 'c', generation: 3 }, { priority: 5, plugins: [{ name: 'cors', config: { a: 1 } }] });
  assert.ok(ok.ok);
  if (ok.ok) assert.equal([ok.value.priority, ok.value.plugins[0]!.phase, ok.value.generation], [5, 'route', 3]);
});

s('merge: higher priority wins, then name order; losers are recorded', () => {
  const set = mergePluginConfigs([
    config('b', 0, [
      ['cors', { from: 'b' }],
      ['gzip', {}],
    ]),
    config('a', 0, [['cors', { from: 'a' }]]),
    config('z', 9, [['cors', { from: 'z' }]]),
  ]);
  assert.equal(
    set.plugins.map((p) => [p.name, p.source]),
    [
      ['cors', 'ns/z'],
      ['gzip', 'ns/b'],
    ],
  );
  assert.equal(
    set.shadowed.map((x) => [x.source, x.winner]),
    [
      ['ns/a', 'ns/z'],
      ['ns/b', 'ns/z'],
    ],
  );
});

s('merge: the result does not depend on the order configs arrive in (property)', () => {
  const arbConfig = fc.record({
    name: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
    priority: fc.integer({ min: -2, max: 2 }),
    plugins: fc.uniqueArray(fc.constantFrom('cors', 'gzip', 'limit-count', 'key-auth'), { minLength: 1, maxLength: 3 }),
  });
  fc.assert(
    fc.property(fc.uniqueArray(arbConfig, { selector: (c) => c.name, maxLength: 5 }), fc.integer(), (raw, seed) => {
      const configs = raw.map((c) =>
        config(
          c.name,
          c.priority,
          c.plugins.map((p) => [p, { owner: c.name }]),
        ),
      );
      const shuffled = [...configs].sort((x, y) => ((x.name.charCodeAt(0) * 31 + seed) % 7) - ((y.name.charCodeAt(0) * 31 + seed) % 7));
      assert.is(pluginSetFingerprint(mergePluginConfigs(shuffled)), pluginSetFingerprint(mergePluginConfigs(configs)));
    }),
  );
});

s('plan: per pod, only configs of its namespace that select it', () => {
  const web = config('web', 0, [['cors', {}]], { matchLabels: { app: 'web' } });
  const all = config('all', 0, [['gzip', {}]]);
  const other = { ...config('x', 0, [['key-auth', {}]]), namespace: 'other' };
  const plan = planPodPlugins(
    [web, all, other],
    [
      { namespace: 'ns', name: 'w', labels: { app: 'web' } },
      { namespace: 'ns', name: 'd', labels: { app: 'db' } },
      { namespace: 'third', name: 't', labels: { app: 'web' } },
    ],
  );
  assert.equal([...plan.pods.keys()].sort(), ['ns/d', 'ns/w']);
  assert.equal(
    plan.pods.get('ns/w')!.plugins.map((p) => p.name),
    ['gzip', 'cors'],
  );
  assert.equal(plan.configs.get('ns/web')!.pods, ['ns/w']);
  assert.equal(plan.configs.get('ns/all')!.pods, ['ns/d', 'ns/w']);
  assert.equal(plan.configs.get('other/x')!.pods, []);
});

s('version clock: strictly increasing, never below the wall clock', () => {
  let now = 1000;
  const clock = new VersionClock(() => now);
  assert.equal([clock.next(), clock.next(), clock.next()], [1000, 1001, 1002]);
  now = 5000;
  assert.is(clock.next(), 5000);
  now = 10;
  assert.is(clock.next(), 5001);
});

s.run();

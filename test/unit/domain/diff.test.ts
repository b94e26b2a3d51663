// The diff yields exactly the objects to create, update and delete, ordered so that no reference
// dangles at any step: dependencies are upserted first and removed last.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { applyChangeSet, diffConfigs } from '../../../src/domain/diff.js';
import { GatewayConfig, type GatewayObject } from '../../../src/domain/gateway-config.js';

const upstream = (id: string, port = 80): GatewayObject => ({ kind: 'upstreams', id, value: { id, nodes: [{ host: '10.0.0.1', port, weight: 1 }] } });
const route = (id: string, upstreamId: string): GatewayObject => ({ kind: 'routes', id, value: { id, uri: '/*', upstream_id: upstreamId } });
const ssl = (id: string): GatewayObject => ({ kind: 'ssls', id, value: { id, type: 'client' } });

test('identical configs give no changes, even when built separately', () => {
  const a = GatewayConfig.of('1', [upstream('u1'), route('r1', 'u1')]);
  const b = GatewayConfig.of('2', [route('r1', 'u1'), upstream('u1')]);
  assert.equal(diffConfigs(a, b).changes, []);
});

test('key order inside values does not count as a change', () => {
  const a = GatewayConfig.of('1', [{ kind: 'routes', id: 'r', value: { id: 'r', uri: '/*', priority: 1 } }]);
  const b = GatewayConfig.of('2', [{ kind: 'routes', id: 'r', value: { priority: 1, uri: '/*', id: 'r' } }]);
  assert.is(diffConfigs(a, b).changes.length, 0);
});

test('creates, updates and deletes exactly what changed, in dependency-safe order', () => {
  const applied = GatewayConfig.of('1', [upstream('old'), upstream('kept'), route('r1', 'old'), route('r2', 'kept')]);
  const desired = GatewayConfig.of('2', [upstream('new'), upstream('kept', 8080), ssl('s1'), route('r1', 'new'), route('r2', 'kept')]);
  const ops = diffConfigs(applied, desired).changes.map((c) => `${c.op} ${c.key}`);
  assert.equal(ops, ['create ssls/s1', 'update upstreams/kept', 'create upstreams/new', 'update routes/r1', 'delete upstreams/old']);
});

test('deletes routes before the upstreams they used', () => {
  const applied = GatewayConfig.of('1', [upstream('u'), route('r', 'u'), ssl('s')]);
  const ops = diffConfigs(applied, GatewayConfig.empty()).changes.map((c) => c.key);
  assert.equal(ops, ['routes/r', 'upstreams/u', 'ssls/s']);
});

test('applying the change set to the applied config gives the desired config', () => {
  const applied = GatewayConfig.of('1', [upstream('a'), upstream('b'), route('r', 'a')]);
  const desired = GatewayConfig.of('2', [upstream('b', 81), upstream('c'), route('r', 'c')]);
  const result = applyChangeSet(applied, diffConfigs(applied, desired));
  assert.is(result.version, '2');
  assert.equal(diffConfigs(result, desired).changes, []);
  assert.equal([...result.objects.keys()].sort(), [...desired.objects.keys()].sort());
});

test('duplicate objects in one config are refused', () => {
  assert.throws(() => GatewayConfig.of('1', [upstream('u'), upstream('u')]), /duplicate gateway object upstreams\/u/);
});

test.run();

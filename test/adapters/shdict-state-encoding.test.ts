// The payloads the shared-dict sink hands libxds.so: whole states in dependency order, and delta
// records of exactly the change set, with deletions marked; a change set that does not start from
// the last encoded state, or one bigger than the log's room, yields no delta (the sink then publishes
// the whole state).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { StateEncoder } from '../../src/adapters/shdict-sink/state-encoding.js';
import { diffConfigs } from '../../src/domain/diff.js';
import { GatewayConfig } from '../../src/domain/gateway-config.js';
import { meshConfig, withRouteChanged } from '../support/shdict-configs.js';

type Entry = { key: string; value: string | undefined };

function entriesOf(payload: Buffer, count: number): Entry[] {
  const entries: Entry[] = [];
  let offset = 0;
  for (let i = 0; i < count; i++) {
    const keyLength = payload.readUInt32LE(offset);
    const valueLength = payload.readUInt32LE(offset + 4);
    offset += 8;
    const key = payload.toString('utf8', offset, offset + keyLength);
    offset += keyLength;
    if (valueLength === 0xffffffff) entries.push({ key, value: undefined });
    else {
      entries.push({ key, value: payload.toString('utf8', offset, offset + valueLength) });
      offset += valueLength;
    }
  }
  assert.is(offset, payload.length, 'no trailing bytes');
  return entries;
}

test('a whole state: every object once, upstreams before the routes that use them', () => {
  const config = meshConfig(6, 'v1');
  const { payload, count } = new StateEncoder().encode(config);
  const entries = entriesOf(payload, count);
  assert.is(count, 6);
  assert.equal(
    entries.map((e) => e.key.split('/')[1]),
    ['upstreams', 'upstreams', 'upstreams', 'routes', 'routes', 'routes'],
  );
  for (const entry of entries) assert.equal(JSON.parse(entry.value!), config.objects.get(entry.key.slice(1))!.value);
});

test("a delta: the changed and created objects, the deleted keys marked, in the change set's order", () => {
  const encoder = new StateEncoder();
  const v1 = meshConfig(6, 'v1');
  encoder.encode(v1);
  const changed = withRouteChanged(v1, 'v2', 1, 'b');
  const merged = [...changed.objects.values(), ...meshConfig(8, 'x').objects.values()].filter((o, i, all) => all.findIndex((p) => p.kind === o.kind && p.id === o.id) === i);
  const v2 = GatewayConfig.of(
    'v2',
    merged.filter((o) => o.id !== 'svc-2-default'),
  );
  const changes = diffConfigs(v1, v2).changes;
  const delta = encoder.encodeChanges(changes, v2)!;
  const entries = entriesOf(delta.payload, delta.count);
  assert.equal(
    entries.map((e) => e.key),
    changes.map((c) => `/${c.key}`),
  );
  assert.equal(
    entries.filter((e) => e.value === undefined).map((e) => e.key),
    ['/routes/svc-2-default'],
  );
  assert.equal(JSON.parse(entries.find((e) => e.key === '/routes/svc-1-default')!.value!), v2.objects.get('routes/svc-1-default')!.value);
  // The encoder now stands at v2: the same change set again does not start from it.
  assert.is(encoder.encodeChanges(changes, v2), undefined);
  assert.is(encoder.encodeChanges(diffConfigs(v2, v1).changes, v1)!.count, changes.length);
});

test('a delta larger than the room the log has left: none (the whole state is published instead)', () => {
  const encoder = new StateEncoder();
  const v1 = meshConfig(4, 'v1');
  encoder.encode(v1);
  const v2 = withRouteChanged(v1, 'v2', 1, 'b');
  const changes = diffConfigs(v1, v2).changes;
  assert.is(encoder.encodeChanges(changes, v2, 16), undefined);
  const whole = encoder.encode(v2);
  assert.equal(JSON.parse(entriesOf(whole.payload, whole.count).find((e) => e.key === '/routes/svc-1-default')!.value!), v2.objects.get('routes/svc-1-default')!.value);
});

test.run();

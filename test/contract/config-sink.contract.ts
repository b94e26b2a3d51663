// The behaviour every ConfigSink owes the apps, whatever its target (memory, files, Admin API…):
// what was applied can be read back exactly, an empty change set is a no-op, deletes delete,
// updates replace whole objects, and the change sets sinks receive never reference what is not
// there yet. Each adapter's test runs this suite with its own setup and read-back.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { diffConfigs, type ChangeSet } from '../../src/domain/diff.js';
import { GatewayConfig, type GatewayKind, type GatewayObject } from '../../src/domain/gateway-config.js';
import type { JsonObject, JsonValue } from '../../src/domain/json.js';
import type { ConfigSink } from '../../src/ports/config-sink.js';

/** What the target holds, keyed `kind/id` like GatewayConfig.objects. */
export type ReadBack = ReadonlyMap<string, JsonValue>;

export interface SinkFixture {
  readonly sink: ConfigSink;
  /** Reads the target independently of the sink (parses the file, queries the store…). */
  readBack(): Promise<ReadBack>;
  /** For sinks with a textual artefact: its exact bytes, to check that a no-op rewrites nothing. */
  raw?(): Promise<string>;
  cleanup(): Promise<void>;
}

const object = (kind: GatewayKind, id: string, body: JsonObject = {}): GatewayObject => ({ kind, id, value: { id, ...body } });

// Small APISIX-shaped objects: enough structure to notice a merge instead of a replace.
const ssl = (id: string): GatewayObject =>
  object('ssls', id, {
    snis: [`${id}.example.com`],
    cert: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    key: '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n',
  });
const upstream = (id: string, host = '10.0.0.1'): GatewayObject => object('upstreams', id, { type: 'roundrobin', nodes: [{ host, port: 8080, weight: 1 }] });
const route = (id: string, upstreamId: string, extra: JsonObject = {}): GatewayObject => object('routes', id, { uri: `/${id}/*`, priority: 10, upstream_id: upstreamId, ...extra });

const expectedOf = (config: GatewayConfig): Record<string, JsonValue> =>
  Object.fromEntries([...config.objects].map(([key, o]) => [key, o.value] as const).sort(([a], [b]) => (a < b ? -1 : 1)));

const sorted = (readBack: ReadBack): Record<string, JsonValue> => Object.fromEntries([...readBack].sort(([a], [b]) => (a < b ? -1 : 1)));

/** Routes whose upstream_id names no upstream in the target: what an ordering mistake would leave. */
function danglingUpstreamIds(readBack: ReadBack): string[] {
  const dangling: string[] = [];
  for (const [key, value] of readBack) {
    if (!key.startsWith('routes/') || typeof value !== 'object' || value === null || Array.isArray(value)) continue;
    const target = value.upstream_id;
    if (typeof target === 'string' && !readBack.has(`upstreams/${target}`)) dangling.push(`${key} → ${target}`);
  }
  return dangling;
}

async function applyDiff(sink: ConfigSink, from: GatewayConfig, to: GatewayConfig): Promise<ChangeSet> {
  const changes = diffConfigs(from, to);
  const result = await sink.apply({ desired: to, changes });
  assert.equal(result.failed, [], `apply ${from.version || '∅'} → ${to.version} failed`);
  assert.is(result.applied, changes.changes.length, 'applied counts the changes');
  return changes;
}

const indexOfKey = (changes: ChangeSet, key: string): number => changes.changes.findIndex((c) => c.key === key);

export function configSinkContract(name: string, setup: () => Promise<SinkFixture>): void {
  const s = suite(`ConfigSink contract: ${name}`);

  /** A fresh fixture per test, cleaned up even when an assertion fails. */
  const withFixture = (run: (fixture: SinkFixture) => Promise<void>) => async (): Promise<void> => {
    const fixture = await setup();
    try {
      await run(fixture);
    } finally {
      await fixture.cleanup();
    }
  };

  const v1 = GatewayConfig.of('v1', [ssl('s1'), upstream('u1'), upstream('u2'), route('r1', 'u1'), route('r2', 'u2')]);

  s(
    'apply to an empty target, then read back: exactly the desired objects',
    withFixture(async ({ sink, readBack }) => {
      assert.type(sink.target, 'string');
      assert.ok(sink.target.length > 0, 'target names where the config goes');
      await applyDiff(sink, GatewayConfig.empty(), v1);
      assert.equal(sorted(await readBack()), expectedOf(v1));
    }),
  );

  s(
    're-applying the same config (an empty change set) changes nothing',
    withFixture(async ({ sink, readBack, raw }) => {
      await applyDiff(sink, GatewayConfig.empty(), v1);
      const before = sorted(await readBack());
      const rawBefore = raw ? await raw() : undefined;
      // Equal content in fresh objects: the diff compares content, not identity.
      const again = GatewayConfig.of('v1', [upstream('u2'), route('r2', 'u2'), ssl('s1'), route('r1', 'u1'), upstream('u1')]);
      const changes = await applyDiff(sink, v1, again);
      assert.is(changes.changes.length, 0, 'precondition: the diff is empty');
      assert.equal(sorted(await readBack()), before);
      if (raw) assert.is(await raw(), rawBefore, 'the artefact is byte-identical');
    }),
  );

  s(
    'removal deletes the objects',
    withFixture(async ({ sink, readBack }) => {
      await applyDiff(sink, GatewayConfig.empty(), v1);
      const v2 = GatewayConfig.of('v2', [ssl('s1'), upstream('u1'), route('r1', 'u1')]);
      await applyDiff(sink, v1, v2);
      const after = await readBack();
      assert.not.ok(after.has('routes/r2'), 'routes/r2 is gone');
      assert.not.ok(after.has('upstreams/u2'), 'upstreams/u2 is gone');
      assert.equal(sorted(after), expectedOf(v2));
    }),
  );

  s(
    'an update replaces the whole object: a field the new version lacks is gone, not merged',
    withFixture(async ({ sink, readBack }) => {
      const before = GatewayConfig.of('v1', [upstream('u1'), route('r1', 'u1', { methods: ['GET'], hosts: ['a.example.com'] })]);
      const after = GatewayConfig.of('v2', [upstream('u1', '10.0.0.9'), route('r1', 'u1', { uri: '/renamed/*' })]);
      await applyDiff(sink, GatewayConfig.empty(), before);
      const changes = await applyDiff(sink, before, after);
      assert.equal(
        changes.changes.map((c) => `${c.op} ${c.key}`),
        ['update upstreams/u1', 'update routes/r1'],
      );
      const read = await readBack();
      assert.equal(read.get('routes/r1'), after.objects.get('routes/r1')?.value);
      assert.equal(read.get('upstreams/u1'), after.objects.get('upstreams/u1')?.value);
      assert.equal(sorted(read), expectedOf(after));
    }),
  );

  s(
    'ordering: ssls and upstreams are created before the routes that use them, and routes deleted before their upstreams',
    withFixture(async ({ sink, readBack }) => {
      // Listed routes-first on purpose: the order must come from diffConfigs, not from insertion.
      const first = GatewayConfig.of('v1', [route('r1', 'u1'), route('r2', 'u2'), upstream('u2'), ssl('s1'), upstream('u1')]);
      const created = await applyDiff(sink, GatewayConfig.empty(), first);
      for (const routeKey of ['routes/r1', 'routes/r2']) {
        for (const dependency of ['ssls/s1', 'upstreams/u1', 'upstreams/u2']) {
          assert.ok(indexOfKey(created, dependency) < indexOfKey(created, routeKey), `${dependency} before ${routeKey}`);
        }
      }
      assert.equal(danglingUpstreamIds(await readBack()), []);

      // Repoint r1 to a new upstream and retire u1 and r2 (with its u2) in one change set.
      const second = GatewayConfig.of('v2', [ssl('s1'), route('r1', 'u3'), upstream('u3')]);
      const moved = await applyDiff(sink, first, second);
      assert.ok(indexOfKey(moved, 'upstreams/u3') < indexOfKey(moved, 'routes/r1'), 'new upstream before the route that moves to it');
      assert.ok(indexOfKey(moved, 'routes/r1') < indexOfKey(moved, 'upstreams/u1'), 'the route leaves u1 before u1 is deleted');
      assert.ok(indexOfKey(moved, 'routes/r2') < indexOfKey(moved, 'upstreams/u2'), 'r2 is deleted before its upstream');
      const read = await readBack();
      assert.equal(danglingUpstreamIds(read), []);
      assert.equal(sorted(read), expectedOf(second));
    }),
  );

  s.run();
}

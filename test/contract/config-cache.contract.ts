// The behaviour every ConfigCache owes the sync service (memory, file…): nothing saved loads as
// undefined, what was saved loads back exactly (order and bodies, private keys included), the last
// save wins even when saves are not awaited, and a fresh instance over the same storage (a restart)
// sees it. Each adapter's test runs this suite with its own setup.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { GatewayConfig, type GatewayObject } from '../../src/domain/gateway-config.js';
import type { ConfigCache } from '../../src/ports/config-cache.js';

export interface CacheFixture {
  readonly cache: ConfigCache;
  /** Another cache over the same storage, as the next process would open it. */
  reopen(): ConfigCache;
  cleanup(): Promise<void>;
}

const upstream = (id: string, host = '10.0.0.1'): GatewayObject => ({ kind: 'upstreams', id, value: { id, type: 'roundrobin', nodes: [{ host, port: 8080, weight: 1 }] } });
const route = (id: string, upstreamId: string): GatewayObject => ({
  kind: 'routes',
  id,
  value: { id, uri: `/${id}/*`, priority: 10, upstream_id: upstreamId, vars: [['http_x_user', '==', 'jason']] },
});
const ssl = (id: string): GatewayObject => ({
  kind: 'ssls',
  id,
  value: {
    id,
    snis: ['a.example.com'],
    cert: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    key: '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n',
  },
});

/** Version, keys in order and bodies: everything a sink would see. */
const shapeOf = (config: GatewayConfig) => ({ version: config.version, objects: [...config.objects.entries()] });

async function loaded(cache: ConfigCache): Promise<GatewayConfig | undefined> {
  const result = await cache.load();
  if (!result.ok) assert.unreachable(`load failed: ${result.error}`);
  return result.ok ? result.value : undefined;
}

async function saved(cache: ConfigCache, config: GatewayConfig): Promise<void> {
  const result = await cache.save(config);
  assert.equal(result, { ok: true, value: undefined }, `save ${config.version}`);
}

export function configCacheContract(name: string, setup: () => Promise<CacheFixture>): void {
  const s = suite(`ConfigCache contract: ${name}`);

  const withFixture = (run: (fixture: CacheFixture) => Promise<void>) => async (): Promise<void> => {
    const fixture = await setup();
    try {
      await run(fixture);
    } finally {
      await fixture.cleanup();
    }
  };

  // Routes first on purpose: the cache must keep the config's order, not sort it.
  const v1 = GatewayConfig.of('v1', [route('r1', 'u1'), upstream('u1'), ssl('s1')]);
  const v2 = GatewayConfig.of('v2', [upstream('u2', '10.0.0.2'), route('r2', 'u2')]);

  s(
    'nothing saved: load gives undefined, not an error',
    withFixture(async ({ cache }) => {
      assert.is(await loaded(cache), undefined);
    }),
  );

  s(
    'save then load gives the same config: version, order, bodies, private keys',
    withFixture(async ({ cache }) => {
      await saved(cache, v1);
      const back = await loaded(cache);
      assert.ok(back, 'a config comes back');
      if (back) assert.equal(shapeOf(back), shapeOf(v1));
    }),
  );

  s(
    'an empty config is a config, not "nothing saved"',
    withFixture(async ({ cache }) => {
      await saved(cache, GatewayConfig.of('v0', []));
      const back = await loaded(cache);
      assert.ok(back);
      if (back) assert.equal(shapeOf(back), { version: 'v0', objects: [] });
    }),
  );

  s(
    'the last save wins, also when saves are not awaited one by one',
    withFixture(async ({ cache }) => {
      await saved(cache, v1);
      await saved(cache, v2);
      assert.equal(shapeOf((await loaded(cache))!), shapeOf(v2));
      const configs = Array.from({ length: 5 }, (_, i) => GatewayConfig.of(`v${10 + i}`, [upstream(`u${i}`)]));
      const results = await Promise.all(configs.map((config) => cache.save(config)));
      assert.ok(results.every((result) => result.ok));
      assert.equal(shapeOf((await loaded(cache))!), shapeOf(configs[4]!));
    }),
  );

  s(
    'a fresh instance over the same storage loads what the previous one saved',
    withFixture(async ({ cache, reopen }) => {
      await saved(cache, v1);
      const back = await loaded(reopen());
      assert.ok(back);
      if (back) assert.equal(shapeOf(back), shapeOf(v1));
    }),
  );

  s.run();
}

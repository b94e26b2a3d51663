// The pure helpers behind the remote sinks: bounded concurrency, the references that
// decide what a failed write holds back, and the SecretText that keeps the Admin API key out of logs.
import { inspect } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { referencesOf } from '../../../src/adapters/apisix/object-references.js';
import { mapBounded } from '../../../src/adapters/apisix/retry.js';
import { SecretText } from '../../../src/domain/secret-text.js';

test('mapBounded keeps at most `limit` tasks in flight and returns results in input order', async () => {
  let inFlight = 0;
  let most = 0;
  const results = await mapBounded([5, 1, 4, 2, 3, 0, 6], 3, async (n) => {
    inFlight += 1;
    most = Math.max(most, inFlight);
    await new Promise((resolve) => setTimeout(resolve, n));
    inFlight -= 1;
    return n * 10;
  });
  assert.equal(results, [50, 10, 40, 20, 30, 0, 60]);
  assert.is(most, 3);
});

test('references: upstream, service and plugin_config ids, client certificates, traffic-split upstreams', () => {
  assert.equal(
    referencesOf('routes', {
      uri: '/*',
      upstream_id: 'u1',
      service_id: 's1',
      plugin_config_id: 'p1',
      plugins: {
        'traffic-split': { rules: [{ weighted_upstreams: [{ upstream_id: 'u2', weight: 1 }, { upstream: { nodes: {}, tls: { client_cert_id: 'c2' } } }, { weight: 1 }] }] },
      },
    }).sort(),
    ['plugin_configs/p1', 'services/s1', 'ssls/c2', 'upstreams/u1', 'upstreams/u2'],
  );
  assert.equal(referencesOf('upstreams', { nodes: {}, tls: { client_cert_id: 'c1' } }), ['ssls/c1']);
  assert.equal(referencesOf('stream_routes', { upstream_id: 7, service_id: 's' }).sort(), ['services/s', 'upstreams/7']);
  assert.equal(referencesOf('ssls', { cert: 'x' }), []);
});

test('SecretText shows as [redacted] in every printable form and reveals only on request', () => {
  const key = new SecretText('edd1c9f034335f136f87ad84b625c8f1');
  const printed = [String(key), `${key}`, JSON.stringify({ key }), inspect({ key }), inspect(key)];
  for (const text of printed) assert.not.ok(text.includes('edd1c9f0'), text);
  assert.is(key.reveal(), 'edd1c9f034335f136f87ad84b625c8f1');
});

test.run();

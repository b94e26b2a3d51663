// Issue 12, item 11: a NACK's text is what istiod logs and istioctl shows. It carries the watcher's
// reason, which may quote a sink's target (APISIX's error_msg, with CR/LF) or a 100 KB input: the
// ADS client sends it as one bounded line, with private keys redacted.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PinoLogger } from '../../src/adapters/logging/pino-logger.js';
import { AdsClient } from '../../src/adapters/xds/ads-client.js';
import { XdsServer } from '../../src/adapters/xds-server/xds-server.js';
import { plainNode } from '../support/mesh-sidecar.js';
import { bookinfoFixture, serve } from '../support/xds-fixtures.js';

const s = suite('ADS client: NACK text');

s('the rejection reason goes out escaped, cut and without keys', async () => {
  const server = new XdsServer({ stopGraceMs: 100 });
  const address = await server.start('127.0.0.1:0');
  serve(server, bookinfoFixture());
  const reason = `admin:http://apisix:9180 refused ssls/s1 (invalid\r\nerror: forged -----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----) ${'x'.repeat(100_000)}`;
  const client = new AdsClient({
    target: address,
    mode: 'sotw',
    node: plainNode('sidecar~10.244.0.7~productpage-v1.default~default.svc.cluster.local'),
    logger: new PinoLogger({ level: 'silent' }),
  });
  const subscription = client.watch({ onUpdate: () => ({ accepted: false, reason }), onError: () => undefined });
  try {
    const nack = await server.waitFor((e) => e.nack !== undefined, 5000, { since: 0 });
    const message = nack.nack!.message;
    assert.ok(message.startsWith('admin:http://apisix:9180 refused ssls/s1 (invalid\\r\\nerror: forged [redacted private key]) xxx'), message.slice(0, 120));
    assert.not.match(message, /[\r\n]|PRIVATE KEY/);
    assert.ok(message.length <= 4200 && message.endsWith('more characters]'), `${message.length}`);
  } finally {
    subscription.dispose();
    client.stop?.();
    await server.stop();
  }
});

s.run();

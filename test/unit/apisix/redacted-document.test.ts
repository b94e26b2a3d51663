// The configuration as the config dump shows it (issue 12, item 1): every private key replaced,
// whatever its form and wherever it is; certificates and everything else as they are; the
// configuration itself (what the sinks write) untouched.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { redactedDocument } from '../../../src/adapters/apisix/redacted-document.js';
import { standaloneDocument } from '../../../src/adapters/apisix/standalone-document.js';
import { GatewayConfig } from '../../../src/domain/gateway-config.js';

const s = suite('redacted standalone document');
const PEM_KEY = '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIIrYSSNQFaA2Hwf1duRSxKtLYX5CB04fSeQ6tF1aY/PuoAoGCCqGSM49\n-----END EC PRIVATE KEY-----\n';
const CERT = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----\n';

s('ssl keys in any form, inline upstream client keys and PEM keys elsewhere are redacted; the config is not', () => {
  const config = GatewayConfig.of('1', [
    { kind: 'ssls', id: 's1', value: { id: 's1', type: 'client', cert: CERT, key: 'not even PEM' } },
    { kind: 'ssls', id: 's2', value: { id: 's2', cert: CERT, key: PEM_KEY, certs: [CERT], keys: [PEM_KEY, 'garbage'] } },
    { kind: 'upstreams', id: 'u1', value: { id: 'u1', nodes: [{ host: '10.0.0.1', port: 443, weight: 1 }], tls: { client_cert: CERT, client_key: 'raw key bytes' } } },
    { kind: 'routes', id: 'r1', value: { id: 'r1', uri: '/*', plugins: { 'some-plugin': { private_key: PEM_KEY, note: 'kept' } } } },
  ]);
  const shown = JSON.stringify(redactedDocument(config));
  assert.not.match(shown, /PRIVATE KEY|MHcCAQEE|not even PEM|raw key bytes|garbage/);
  assert.is(shown.split('[redacted private key]').length - 1, 6);
  assert.is(shown.split('BEGIN CERTIFICATE').length - 1, 4, 'certificates are shown');
  assert.ok(shown.includes('"note":"kept"'));
  assert.ok(JSON.stringify(standaloneDocument(config)).includes('not even PEM'), 'the configuration itself keeps its keys');
});

s.run();

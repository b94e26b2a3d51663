// The cache's document format: a round trip gives the same config (order included, since the
// standalone document keeps it), and a document read back from disk is checked before it is used.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { gatewayConfigFromJson, gatewayConfigToJson, GATEWAY_CONFIG_FORMAT } from '../../../src/domain/gateway-config-json.js';
import { GatewayConfig, type GatewayObject } from '../../../src/domain/gateway-config.js';

const s = suite('GatewayConfig JSON');

const objects: GatewayObject[] = [
  { kind: 'routes', id: 'r1', value: { id: 'r1', uri: '/a/*', upstream_id: 'u1', vars: [['http_x', '==', 'y']] } },
  { kind: 'upstreams', id: 'u1', value: { id: 'u1', type: 'roundrobin', nodes: [{ host: '10.0.0.1', port: 80, weight: 1 }] } },
  {
    kind: 'ssls',
    id: 's1',
    value: {
      id: 's1',
      snis: ['a.example.com'],
      cert: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
      key: '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n',
    },
  },
  { kind: 'global_rules', id: 'g1', value: { id: 'g1', plugins: { prometheus: {} } } },
];

const roundTrip = (config: GatewayConfig): GatewayConfig => {
  const result = gatewayConfigFromJson(JSON.parse(JSON.stringify(gatewayConfigToJson(config))));
  if (!result.ok) throw new Error(result.error.message);
  return result.value;
};

s('round trip through JSON text keeps version, order and bodies', () => {
  const config = GatewayConfig.of('v7', objects);
  const back = roundTrip(config);
  assert.is(back.version, 'v7');
  assert.equal([...back.objects.keys()], [...config.objects.keys()]);
  assert.equal([...back.objects.values()], [...config.objects.values()]);
  assert.equal(roundTrip(GatewayConfig.empty()).objects.size, 0);
});

const documentWith = (patch: Record<string, unknown>): Record<string, unknown> => ({ ...gatewayConfigToJson(GatewayConfig.of('v1', objects)), ...patch });

const invalidMessage = (document: unknown): string => {
  const result = gatewayConfigFromJson(document);
  if (result.ok) throw new Error('expected an error');
  assert.is(result.error.kind, 'invalid');
  return result.error.message;
};

s('another format version is unsupported, not invalid', () => {
  const result = gatewayConfigFromJson(documentWith({ formatVersion: 2 }));
  assert.equal(result, { ok: false, error: { kind: 'unsupported-format', message: 'format version 2, this release reads 1' } });
});

s('invalid documents: the message names the field', () => {
  assert.is(invalidMessage(null), `not an ${GATEWAY_CONFIG_FORMAT} document`);
  assert.is(invalidMessage({ version: 'v1', objects: [] }), `not an ${GATEWAY_CONFIG_FORMAT} document`);
  assert.is(invalidMessage(documentWith({ version: 7 })), 'version must be a string');
  assert.is(invalidMessage(documentWith({ objects: {} })), 'objects must be an array');
  const entry = (patch: Record<string, unknown>) => documentWith({ objects: [{ kind: 'routes', id: 'r1', value: { id: 'r1' }, ...patch }] });
  assert.match(invalidMessage(entry({ kind: 'plugins' })), /^objects\[0\]\.kind "plugins" is not one of ssls, upstreams/);
  assert.is(invalidMessage(entry({ id: '' })), 'objects[0].id must be a non-empty string');
  assert.is(invalidMessage(entry({ id: 3 })), 'objects[0].id must be a non-empty string');
  assert.is(invalidMessage(entry({ value: [] })), 'objects[0].value must be an object');
  assert.is(invalidMessage(entry({ value: { id: 'r2' } })), 'objects[0].value.id "r2" differs from objects[0].id "r1"');
  assert.is(invalidMessage(entry({ value: { id: 'r1', priority: Number.NaN } })), 'objects[0].value.priority is not a JSON value');
  assert.is(invalidMessage(entry({ value: { id: 'r1', vars: [['a', new Date(0)]] } })), 'objects[0].value.vars[0][1] is not a JSON value');
  assert.is(invalidMessage(documentWith({ objects: [objects[1], objects[1]] })), 'objects[1]: upstreams/u1 appears twice');
  assert.is(invalidMessage(documentWith({ objects: ['routes/r1'] })), 'objects[0] is not an object');
});

s.run();

// Header mutations → proxy-rewrite / response-rewrite in the shapes APISIX 3.18 accepts. Istio's
// `headers.response.add` becomes Envoy's response_headers_to_add with the default append action;
// APISIX's response-rewrite takes appends only as `"name: value"` strings, and refuses a map.
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { headerOperations } from '../../../src/adapters/apisix/render-plugins.js';
import { FidelityReport } from '../../../src/domain/fidelity.js';
import type { HeaderMutations } from '../../../src/domain/mesh/route.js';
import { ApisixSchemas } from '../../support/apisix-schemas.js';
import { requireShared } from '../../support/shared-fixtures.js';

const s = suite('header plugins');
const shared = requireShared('header plugins against APISIX plugin schemas');
const schemas = shared ? new ApisixSchemas(path.join(shared, 'apisix-schemas')) : undefined;

const mutations: HeaderMutations = {
  add: [
    { name: 'x-envoy-added', value: 'one', action: 'append' },
    { name: 'x-envoy-added', value: 'two', action: 'append' },
    { name: 'x-set', value: 'v', action: 'overwrite' },
    { name: 'x-url', value: 'http://a/', action: 'append' },
  ],
  remove: ['x-gone'],
};

const render = (direction: 'request' | 'response') => {
  const fidelity = new FidelityReport();
  const ops = headerOperations(mutations, { ref: { type: 'RouteConfiguration', name: 't' }, field: 'virtual_hosts[0].routes[0]', fidelity }, direction);
  return { ops, fidelity };
};

s('response appends are "name: value" strings, every value kept; a value APISIX cannot append is set and reported', () => {
  const { ops, fidelity } = render('response');
  assert.equal(ops, { add: ['x-envoy-added: one', 'x-envoy-added: two'], set: { 'x-set': 'v', 'x-url': 'http://a/' }, remove: ['x-gone'] });
  assert.ok(fidelity.records.some((r) => r.reason.includes('"x-url"') && r.reason.includes("containing ':'")));
  if (schemas) assert.is(schemas.pluginError('response-rewrite', { headers: ops }), undefined);
});

s('request appends are a map, several values of one header a list', () => {
  const { ops } = render('request');
  assert.equal(ops, { add: { 'x-envoy-added': ['one', 'two'], 'x-url': 'http://a/' }, set: { 'x-set': 'v' }, remove: ['x-gone'] });
  if (schemas) assert.is(schemas.pluginError('proxy-rewrite', { headers: ops }), undefined);
});

s('the map form the old renderer gave response-rewrite is what APISIX refuses', () => {
  if (!schemas) return;
  assert.ok(schemas.pluginError('response-rewrite', { headers: { add: { 'x-envoy-added': 'one' } } }));
});

s.run();

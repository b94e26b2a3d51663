// What the bundled bookinfo example must become in APISIX: each Envoy feature it shows, checked
// on the emitted objects.
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { GatewayObject } from '../../../src/domain/gateway-config.js';
import type { JsonObject, JsonValue } from '../../../src/domain/json.js';
import { isValidApisixId } from '../../../src/adapters/apisix/ids.js';
import type { Translation } from '../../../src/adapters/apisix/translate.js';
import { repoRoot } from '../../support/shared-fixtures.js';
import { translateFile } from '../../support/translate-file.js';

const render = suite('bookinfo rendering');
const example = path.join(repoRoot, 'examples/bookinfo/sidecar-resources.yaml');
// uvu loads suites as CommonJS (no top-level await): the translation is made once, before the tests.
let translation: Translation;
let objects: GatewayObject[] = [];
const byKind = (kind: GatewayObject['kind']): JsonObject[] => objects.filter((o) => o.kind === kind).map((o) => o.value);
let routes: JsonObject[] = [];
let upstreams: JsonObject[] = [];
render.before(async () => {
  translation = (await translateFile(example)).translation;
  objects = [...translation.config.objects.values()];
  routes = byKind('routes');
  upstreams = byKind('upstreams');
});
const route = (name: string): JsonObject => {
  const found = routes.find((r) => r.name === name);
  if (!found) throw new Error(`no route ${name}; have ${routes.map((r) => r.name).join(', ')}`);
  return found;
};
const upstreamById = (id: JsonValue | undefined): JsonObject => {
  const found = upstreams.find((u) => u.id === id);
  if (!found) throw new Error(`no upstream ${String(id)}`);
  return found;
};
const plugin = (r: JsonObject, name: string): JsonObject => (r.plugins as JsonObject)[name] as JsonObject;

render('every id is valid for APISIX and every object is owned', () => {
  for (const object of objects) {
    assert.ok(isValidApisixId(object.id), object.id);
    assert.is((object.value.labels as JsonObject)['managed-by'], 'amesh-ts');
  }
});

render('hosts are the vhost domains without ports', () => {
  const hosts = route('9080/reviews.default.svc.cluster.local:9080/default').hosts as string[];
  assert.equal(hosts, ['10.96.88.41', 'reviews', 'reviews.default', 'reviews.default.svc', 'reviews.default.svc.cluster.local']);
});

render('first match: routes of a vhost are ordered by priority in Envoy order, on one uri node', () => {
  const vhost = 'reviews.default.svc.cluster.local:9080';
  const [jason, canary, fallback] = ['jason', 'canary', 'default'].map((n) => route(`9080/${vhost}/${n}`));
  assert.ok((jason!.priority as number) > (canary!.priority as number));
  assert.ok((canary!.priority as number) > (fallback!.priority as number));
  for (const r of [jason, canary, fallback]) assert.is(r!.uri, '/*');
});

render('header match, regex path and weighted split', () => {
  const vhost = 'reviews.default.svc.cluster.local:9080';
  assert.equal(route(`9080/${vhost}/jason`).vars, [['http_end_user', '==', 'jason']]);
  const canary = route(`9080/${vhost}/canary`);
  assert.equal(canary.vars, [['uri', '~~', '^(?:/reviews/[0-9]+)\\z']]);
  const split = plugin(canary, 'traffic-split') as { rules: { weighted_upstreams: { upstream_id: string; weight: number }[] }[] };
  const weights = split.rules[0]!.weighted_upstreams.map((w) => [upstreamById(w.upstream_id).name, w.weight]);
  assert.equal(weights, [
    ['outbound|9080|v1|reviews.default.svc.cluster.local', 80],
    ['outbound|9080|v3|reviews.default.svc.cluster.local', 20],
  ]);
});

render("Istio's retry policy becomes upstream retries; sub-second timeouts are kept", () => {
  const details = route('9080/details.default.svc.cluster.local:9080/default');
  assert.equal(details.timeout, { connect: 2.5, send: 2.5, read: 2.5 });
  assert.is(upstreamById(details.upstream_id).retries, 2);
  // A route without a retry policy gets no retries (APISIX's default would retry once per node).
  const jasonDelay = route('9080/ratings.default.svc.cluster.local:9080/jason-delay');
  assert.is(upstreamById(jasonDelay.upstream_id).retries, 0);
});

render('fault injection, direct response and redirect', () => {
  const ratings = 'ratings.default.svc.cluster.local:9080';
  assert.equal(plugin(route(`9080/${ratings}/jason-delay`), 'fault-injection'), { delay: { duration: 7, percentage: 100 } });
  const health = route(`9080/${ratings}/health`);
  assert.equal(health.vars, [['uri', '==', '/health']]);
  assert.equal(plugin(health, 'fault-injection'), { abort: { http_status: 200, percentage: 100, body: 'ok' } });
  assert.is(health.upstream_id, undefined);
  const legacy = route('9080/details.default.svc.cluster.local:9080/details-legacy');
  assert.equal(plugin(legacy, 'redirect'), { ret_code: 301, regex_uri: ['^/details/v0/(.*)', '/details/$1'], append_query_string: true });
});

render('response headers', () => {
  const page = route('9080/productpage.default.svc.cluster.local:9080/default');
  assert.equal(plugin(page, 'response-rewrite'), { headers: { set: { 'x-served-by': 'amesh' } } });
});

render('Istio mTLS upstream: https with the workload certificate; draining endpoints left out', () => {
  const v1 = upstreams.find((u) => u.name === 'outbound|9080|v1|reviews.default.svc.cluster.local' && u.retries === 2)!;
  assert.is(v1.scheme, 'https');
  const ssl = byKind('ssls')[0]!;
  assert.equal(v1.tls, { client_cert_id: ssl.id });
  assert.is(ssl.type, 'client');
  assert.equal(v1.nodes, [{ host: '10.244.1.30', port: 9080, weight: 1 }]);
  assert.is(v1.type, 'least_conn');
  assert.equal(v1.timeout, { connect: 10, send: 60, read: 60 });
});

render('allow_any: lowest priority, no hosts, answered 502 because APISIX cannot pass through', () => {
  const allowAny = route('9080/allow_any/allow_any');
  assert.is(allowAny.hosts, undefined);
  assert.equal(plugin(allowAny, 'fault-injection'), { abort: { http_status: 502, percentage: 100 } });
  assert.ok(translation.report.records.some((r) => r.reason.includes('original destination')));
});

render('TCP listener → stream route on the service VIP and port', () => {
  const [stream] = byKind('stream_routes');
  assert.is(stream!.server_addr, '10.96.40.17');
  assert.is(stream!.server_port, 27017);
  assert.is(upstreamById(stream!.upstream_id).name, 'outbound|27017||mongodb.default.svc.cluster.local');
});

render('ids are stable across runs', async () => {
  const again = await translateFile(example);
  assert.equal([...again.translation.config.objects.keys()], [...translation.config.objects.keys()]);
});

render.run();

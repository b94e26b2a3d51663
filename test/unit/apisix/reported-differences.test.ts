// Differences between Envoy and APISIX that used to reach APISIX unreported (issue 11, item 8): each is
// now either rendered as Envoy behaves or recorded in the fidelity report.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { translateSnapshot } from '../../../src/adapters/apisix/translate.js';
import type { ApisixRoute, ApisixUpstream } from '../../../src/adapters/apisix/apisix-types.js';
import type { JsonObject } from '../../../src/domain/json.js';
import type { Cluster } from '../../../src/domain/mesh/cluster.js';
import type { EndpointSet } from '../../../src/domain/mesh/endpoint.js';
import type { Listener } from '../../../src/domain/mesh/listener.js';
import { NO_HEADER_MUTATIONS, type CorsPolicy, type ForwardAction, type Route, type RouteAction } from '../../../src/domain/mesh/route.js';
import { createSnapshot } from '../../../src/domain/snapshot.js';
import { tableOf, virtualHostOf } from '../../support/route-generators.js';

const s = suite('reported differences');

const cluster = (name: string, lb: Cluster['lb'] = 'round-robin'): Cluster => ({
  name,
  discovery: 'eds',
  edsName: name,
  lb,
  connectTimeoutMs: undefined,
  protocol: 'http1',
  tls: undefined,
  inlineEndpoints: undefined,
  healthCheck: undefined,
  outlierDetection: undefined,
  localityWeighted: false,
});
const endpoints = (name: string, ...hosts: string[]): EndpointSet => ({
  name,
  localities: [
    { locality: '', priority: 0, weight: undefined, endpoints: hosts.map((host) => ({ host, port: 9080, weight: undefined, health: 'healthy' as const, tlsMode: undefined })) },
  ],
});
const forward = (overrides: Partial<ForwardAction>): ForwardAction => ({
  kind: 'forward',
  backends: [{ cluster: 'outbound|9080||reviews.default.svc.cluster.local', weight: 1 }],
  timeoutMs: undefined,
  retry: undefined,
  prefixRewrite: undefined,
  regexRewrite: undefined,
  hostRewrite: undefined,
  hashPolicies: [],
  mirrors: [],
  ...overrides,
});
const route = (action: RouteAction, cors?: CorsPolicy): Route => ({
  name: 'r',
  match: { path: { kind: 'prefix', value: '/' }, caseSensitive: true, headers: [], queryParams: [], grpcOnly: false },
  action,
  requestHeaders: NO_HEADER_MUTATIONS,
  responseHeaders: NO_HEADER_MUTATIONS,
  filters: { fault: undefined, cors },
});
const listener: Listener = {
  name: '0.0.0.0_9080',
  address: { host: '0.0.0.0', port: 9080 },
  role: 'regular',
  chains: [
    {
      name: undefined,
      match: { destinationPort: undefined, serverNames: [], transportProtocol: undefined, applicationProtocols: [], prefixRanges: [] },
      tls: undefined,
      protocol: { kind: 'http', routes: { kind: 'rds', name: '9080' }, websocket: false },
    },
  ],
};
const REVIEWS = 'outbound|9080||reviews.default.svc.cluster.local';
const REVIEWS_V2 = 'outbound|9080|v2|reviews.default.svc.cluster.local';

function translate(r: Route, clusters: Cluster[] = [cluster(REVIEWS), cluster(REVIEWS_V2)], eps: EndpointSet[] = []) {
  const snapshot = createSnapshot('v1', { listeners: [listener], routeTables: [tableOf('9080', [virtualHostOf('reviews', ['reviews'], [r])])], clusters, endpoints: eps });
  const result = translateSnapshot(snapshot);
  assert.ok(result.ok, JSON.stringify(!result.ok && result.error));
  const { config, report } = result.value;
  const served = config
    .ofKind('routes')
    .map((o) => o.value as unknown as ApisixRoute)
    .find((x) => x.upstream_id !== undefined || x.plugins);
  assert.ok(served);
  return {
    route: served,
    plugins: (served.plugins ?? {}) as { [name: string]: JsonObject },
    upstreams: config.ofKind('upstreams').map((o) => o.value as unknown as ApisixUpstream),
    records: report.records,
  };
}

s('a mirror to a subset cluster goes to an endpoint of that subset, not to the whole service, and is reported', () => {
  const { plugins, records } = translate(route(forward({ mirrors: [{ cluster: REVIEWS_V2, fraction: 1 }] })), undefined, [endpoints(REVIEWS_V2, '10.0.2.1', '10.0.2.2')]);
  assert.is(plugins['proxy-mirror']?.host, 'http://10.0.2.1:9080');
  assert.ok(records.some((r) => r.field.endsWith('request_mirror_policies[0].cluster') && r.reason.includes('one host')));
});

s('a mirror to a whole Istio service goes to its name, unreported', () => {
  const { plugins, records } = translate(route(forward({ mirrors: [{ cluster: REVIEWS, fraction: 1 }] })));
  assert.is(plugins['proxy-mirror']?.host, 'http://reviews.default.svc.cluster.local:9080');
  assert.ok(!records.some((r) => r.field.includes('request_mirror_policies')));
});

s('CORS without allow_headers/allow_methods allows only what browsers allow without them (not APISIX\'s "*")', () => {
  const policy: CorsPolicy = {
    allowOrigins: [{ kind: 'exact', value: 'https://a.example', ignoreCase: false }],
    allowMethods: undefined,
    allowHeaders: undefined,
    exposeHeaders: undefined,
    maxAge: undefined,
    allowCredentials: true,
  };
  const { plugins } = translate(route(forward({}), policy));
  assert.is(plugins.cors?.allow_headers, 'Accept');
  assert.is(plugins.cors?.allow_methods, 'GET,HEAD,POST');
  assert.is(plugins.cors?.allow_credential, true, 'no wildcard left to refuse credentials over');
});

s('a consistent hash on a header is reported: APISIX hashes a request without it on the client address', () => {
  const { upstreams, records } = translate(route(forward({ hashPolicies: [{ kind: 'header', name: 'x-user' }] })), [cluster(REVIEWS, 'ring-hash'), cluster(REVIEWS_V2)]);
  assert.ok(upstreams.some((u) => u.type === 'chash' && u.key === 'x-user'));
  assert.ok(records.some((r) => r.field.endsWith('hash_policy[0]') && r.reason.includes('client address')));
});

s("a weighted backend keeps its own cluster's LB policy: least_conn stays least_conn beside a ring-hash one", () => {
  const action = forward({
    backends: [
      { cluster: REVIEWS, weight: 50 },
      { cluster: REVIEWS_V2, weight: 50 },
    ],
    hashPolicies: [{ kind: 'cookie', name: 'session' }],
  });
  const { upstreams } = translate(route(action), [cluster(REVIEWS, 'ring-hash'), cluster(REVIEWS_V2, 'least-request')]);
  assert.equal(upstreams.find((u) => u.name === REVIEWS_V2)?.type, 'least_conn');
  assert.equal(upstreams.find((u) => u.name === REVIEWS)?.type, 'chash');
});

s('a redirect with only a path sends an absolute Location, as Envoy does', () => {
  const { plugins } = translate(
    route({ kind: 'redirect', scheme: undefined, host: undefined, port: undefined, path: { kind: 'path', value: '/new' }, responseCode: 302, stripQuery: false }),
  );
  assert.is(plugins.redirect?.uri, '$scheme://$http_host/new');
});

s.run();

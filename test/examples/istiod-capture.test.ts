// The bundled `bookinfo` example is istiod's own output (examples/bookinfo/istiod-capture.json, made by
// examples/capture-istiod.ts): it translates cleanly, APISIX's schemas accept the result, and it holds
// the bookinfo services with the VirtualService rules of test/peers/bookinfo-istio. Then the capture
// script's proto3-JSON conversion, unit-level (no istiod): an Any of a type amesh has no descriptor
// for comes back as an opaque filter of that type, also when nested in a described Any.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { agentSecrets, captureDocument, newNotes, resourceToProtoJson } from '../../examples/capture-istiod.js';
import type { Translation } from '../../src/adapters/apisix/translate.js';
import { resourcesOfDocument } from '../../src/adapters/envoy/config-document.js';
import { Listener } from '../../src/adapters/envoy/generated/envoy/config/listener/v3/listener.js';
import { FilterConfig } from '../../src/adapters/envoy/generated/envoy/config/route/v3/route_components.js';
import { RouteConfiguration } from '../../src/adapters/envoy/generated/envoy/config/route/v3/route.js';
import { HttpConnectionManager } from '../../src/adapters/envoy/generated/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js';
import { parseProtoJson } from '../../src/adapters/envoy/proto/proto-json.js';
import { TYPE_URL } from '../../src/adapters/envoy/proto/type-urls.js';
import { unpackAny } from '../../src/adapters/envoy/proto/unpack-any.js';
import { EXAMPLES } from '../../src/app/config.js';
import type { JsonObject, JsonValue } from '../../src/domain/json.js';
import { ApisixSchemas } from '../support/apisix-schemas.js';
import { repoRoot, requireShared } from '../support/shared-fixtures.js';
import { translateFile } from '../support/translate-file.js';

const capturePath = path.join(repoRoot, 'examples/bookinfo/istiod-capture.json');
const SVC = (name: string): string => `${name}.default.svc.cluster.local`;

// --- the bundled capture ------------------------------------------------------------------------

const bundled = suite('bookinfo example captured from istiod');
// uvu loads suites as CommonJS (no top-level await): the translation is made once, before the tests.
let translation: Translation;
let routes: JsonObject[] = [];
let upstreams: JsonObject[] = [];
bundled.before(async () => {
  translation = (await translateFile(capturePath)).translation; // throws on any error (no --partial)
  const values = (kind: string): JsonObject[] => [...translation.config.objects.values()].filter((o) => o.kind === kind).map((o) => o.value);
  routes = values('routes');
  upstreams = values('upstreams');
});
const route = (name: string): JsonObject => {
  const found = routes.find((r) => r.name === name);
  if (!found) throw new Error(`no route ${name}; have ${routes.map((r) => r.name).join(', ')}`);
  return found;
};
const upstreamName = (id: JsonValue | undefined): string => String(upstreams.find((u) => u.id === id)?.name);
const plugin = (r: JsonObject, name: string): JsonObject | undefined => (r.plugins as JsonObject | undefined)?.[name] as JsonObject | undefined;

bundled('is the `bookinfo` example; the hand-written one stays available', () => {
  assert.is(path.resolve(repoRoot, EXAMPLES['bookinfo']!), capturePath);
  assert.is(EXAMPLES['bookinfo-handwritten'], 'examples/bookinfo/sidecar-resources.yaml');
});

bundled('holds what istiod sends the productpage sidecar, sorted, plus istio-agent secrets', () => {
  const document = JSON.parse(readFileSync(capturePath, 'utf8')) as { resources: JsonObject[] };
  const names = (type: string): string[] => document.resources.filter((r) => r['@type'] === type).map((r) => String(r['name'] ?? r['cluster_name']));
  const clusters = names(TYPE_URL.Cluster);
  for (const name of [
    `outbound|9080|v1|${SVC('reviews')}`,
    `outbound|9080|v2|${SVC('reviews')}`,
    `outbound|9080|v3|${SVC('reviews')}`,
    `outbound|9080|v1|${SVC('ratings')}`,
    `outbound|9080||${SVC('details')}`,
    `outbound|27017||${SVC('mongodb')}`,
    'inbound|9080||',
  ])
    assert.ok(clusters.includes(name), `CDS lacks ${name}`);
  assert.equal(clusters, [...clusters].sort());
  assert.ok(names(TYPE_URL.ClusterLoadAssignment).includes(`outbound|9080|v3|${SVC('reviews')}`));
  assert.equal(names(TYPE_URL.Listener), ['0.0.0.0_9080', '10.96.0.20_27017', 'virtualInbound', 'virtualOutbound']);
  assert.equal(names(TYPE_URL.RouteConfiguration), ['9080']);
  assert.equal(names(TYPE_URL.Secret), ['ROOTCA', 'default']);
  // Type order as Istio pushes: CDS, EDS, LDS, RDS, then SDS.
  const order = [TYPE_URL.Cluster, TYPE_URL.ClusterLoadAssignment, TYPE_URL.Listener, TYPE_URL.RouteConfiguration, TYPE_URL.Secret] as string[];
  const ranks = document.resources.map((r) => order.indexOf(String(r['@type'])));
  assert.equal(
    ranks,
    [...ranks].sort((a, b) => a - b),
  );
});

bundled('reviews: jason → v2, everyone else 80 % v1 / 20 % v3', () => {
  const vhost = `9080/${SVC('reviews')}:9080`;
  const jason = route(`${vhost}/#0`);
  assert.equal(jason.vars, [['http_end_user', '==', 'jason']]);
  assert.is(upstreamName(jason.upstream_id), `outbound|9080|v2|${SVC('reviews')}`);
  const split = plugin(route(`${vhost}/#1`), 'traffic-split') as { rules: { weighted_upstreams: { upstream_id: string; weight: number }[] }[] };
  assert.equal(
    split.rules[0]!.weighted_upstreams.map((w) => [upstreamName(w.upstream_id), w.weight]),
    [
      [`outbound|9080|v1|${SVC('reviews')}`, 80],
      [`outbound|9080|v3|${SVC('reviews')}`, 20],
    ],
  );
  assert.ok((jason.priority as number) > (route(`${vhost}/#1`).priority as number), 'Envoy order');
});

bundled('ratings: 7 s delay for jason; details and productpage; mongodb over TCP', () => {
  const ratings = `9080/${SVC('ratings')}:9080`;
  assert.equal(plugin(route(`${ratings}/#0`), 'fault-injection'), { delay: { duration: 7, percentage: 100 } });
  assert.is(upstreamName(route(`${ratings}/#1`).upstream_id), `outbound|9080|v1|${SVC('ratings')}`);
  const details = route(`9080/${SVC('details')}:9080/default`);
  assert.is(upstreamName(details.upstream_id), `outbound|9080||${SVC('details')}`);
  assert.ok((details.hosts as string[]).includes(SVC('details')));
  assert.is(upstreamName(route(`9080/${SVC('productpage')}:9080/default`).upstream_id), `outbound|9080||${SVC('productpage')}`);
  const mongo = [...translation.config.objects.values()].find((o) => o.kind === 'stream_routes' && o.value.server_port === 27017);
  assert.is(upstreamName(mongo?.value.upstream_id), `outbound|27017||${SVC('mongodb')}`);
});

bundled('Istio mTLS to the reviews pods, with the workload certificate', () => {
  const v1 = upstreams.find((u) => u.name === `outbound|9080|v1|${SVC('reviews')}`)!;
  assert.is(v1.scheme, 'https');
  assert.equal(v1.nodes, [{ host: '10.244.0.9', port: 9080, weight: 1 }]);
  const ssl = [...translation.config.objects.values()].find((o) => o.kind === 'ssls');
  assert.equal(v1.tls, { client_cert_id: ssl?.id });
});

bundled('the inbound side: virtualInbound routes to inbound|9080||, forwarded to the local application (reported)', () => {
  const inbound = route('inbound|9080||/inbound|http|9080/default');
  assert.is(inbound.plugins && (inbound.plugins as Record<string, unknown>)['fault-injection'], undefined, 'not answered with an error');
  const upstream = translation.config.ofKind('upstreams').find((u) => u.id === inbound.upstream_id);
  assert.equal(upstream?.value.nodes, [{ host: '127.0.0.1', port: 9080, weight: 1 }]);
  assert.ok(translation.report.records.some((r) => r.resource.type === 'Cluster' && r.resource.name === 'inbound|9080||' && /ORIGINAL_DST.*127\.0\.0\.1:9080/.test(r.reason)));
});

bundled("Istio's filters amesh cannot decode are reported by type", () => {
  const reasons = translation.report.records.map((r) => r.reason);
  for (const type of ['istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig', 'io.istio.http.peer_metadata.Config', 'envoy.tcp.metadataexchange.config.MetadataExchange'])
    assert.ok(
      reasons.some((r) => r.includes(`type.googleapis.com/${type}`)),
      type,
    );
});

bundled("validates against APISIX's schemas", () => {
  const shared = requireShared('istiod capture: APISIX schemas');
  if (!shared) return;
  const violations = new ApisixSchemas(path.join(shared, 'apisix-schemas')).violations(translation.config);
  assert.equal(violations, [], JSON.stringify(violations.slice(0, 3), null, 1));
});

bundled.run();

// --- the conversion, without istiod -------------------------------------------------------------

const convert = suite('capture-istiod: binary xDS → proto3 JSON');
const STATS = 'type.googleapis.com/stats.PluginConfig';
const anyOf = (typeUrl: string, bytes: Uint8Array): { typeUrl: string; value: Buffer } => ({ typeUrl, value: Buffer.from(bytes) });
// Some bytes a PluginConfig could hold (field 1, a string): dropped by the conversion.
const PRIVATE_PAYLOAD = Uint8Array.of(0x0a, 0x03, 0x61, 0x62, 0x63);

function listenerWithStats(): Uint8Array {
  const hcm = HttpConnectionManager.fromPartial({
    statPrefix: 'outbound_0.0.0.0_9080',
    routeSpecifier: { $case: 'rds', value: { routeConfigName: '9080' } },
    httpFilters: [
      { name: 'istio.stats', configType: { $case: 'typedConfig', value: anyOf(STATS, PRIVATE_PAYLOAD) } },
      { name: 'envoy.filters.http.router', configType: { $case: 'typedConfig', value: anyOf(TYPE_URL.Router, new Uint8Array()) } },
    ],
  });
  const listener = Listener.fromPartial({
    name: '0.0.0.0_9080',
    filterChains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            configType: { $case: 'typedConfig', value: anyOf(TYPE_URL.HttpConnectionManager, HttpConnectionManager.encode(hcm).finish()) },
          },
        ],
      },
    ],
  });
  return Listener.encode(listener).finish();
}

convert('a Listener whose HCM carries stats.PluginConfig: the filter comes back opaque, with its type URL', () => {
  const notes = newNotes();
  const json = resourceToProtoJson(TYPE_URL.Listener, listenerWithStats(), notes);
  assert.is(json['@type'], TYPE_URL.Listener);
  assert.equal([...notes.opaque], [[STATS, 1]]);
  const text = JSON.stringify(json);
  assert.ok(text.includes(`{"@type":"${TYPE_URL.UdpaTypedStruct}","type_url":"${STATS}","value":{}}`), text);

  const { '@type': _type, ...body } = json;
  const parsed = parseProtoJson(TYPE_URL.Listener, body);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
  const filter = parsed.value.filterChains[0]!.filters[0]!;
  assert.is(filter.configType?.$case, 'typedConfig');
  const hcm = unpackAny(filter.configType!.value as { typeUrl: string; value: Uint8Array });
  if (hcm.kind !== 'known' || hcm.typeUrl !== TYPE_URL.HttpConnectionManager) throw new Error(`HCM: ${JSON.stringify(hcm)}`);
  assert.equal(hcm.message.routeSpecifier, { $case: 'rds', value: { routeConfigName: '9080', configSource: undefined } });
  const [stats, router] = hcm.message.httpFilters.map((f) => (f.configType?.$case === 'typedConfig' ? unpackAny(f.configType.value) : undefined));
  assert.equal(stats, { kind: 'opaque', typeUrl: STATS, wrappedIn: TYPE_URL.UdpaTypedStruct });
  assert.is(router?.kind, 'known');
  assert.is(router?.typeUrl, TYPE_URL.Router);
  // And the file source's document reader takes it.
  assert.ok(resourcesOfDocument({ resources: [json] }).ok);
});

convert('a private Any inside a described type without a ts-proto codec (route FilterConfig) is replaced too', () => {
  const filterConfig = FilterConfig.encode(FilterConfig.fromPartial({ config: anyOf(STATS, PRIVATE_PAYLOAD), isOptional: true })).finish();
  const routeConfig = RouteConfiguration.encode(
    RouteConfiguration.fromPartial({
      name: '9080',
      // Map entries out of order: the JSON lists them by key.
      virtualHosts: [
        {
          name: 'vh',
          domains: ['*'],
          typedPerFilterConfig: { 'z.filter': anyOf(STATS, PRIVATE_PAYLOAD), 'istio.stats': anyOf('type.googleapis.com/envoy.config.route.v3.FilterConfig', filterConfig) },
        },
      ],
    }),
  ).finish();
  const notes = newNotes();
  const json = resourceToProtoJson(TYPE_URL.RouteConfiguration, routeConfig, notes);
  assert.equal([...notes.opaque], [[STATS, 2]]);
  const perFilter = (json['virtual_hosts'] as JsonObject[])[0]!['typed_per_filter_config'] as JsonObject;
  assert.equal(Object.keys(perFilter), ['istio.stats', 'z.filter']);
  assert.equal(perFilter['istio.stats'], {
    '@type': 'type.googleapis.com/envoy.config.route.v3.FilterConfig',
    config: { '@type': TYPE_URL.UdpaTypedStruct, type_url: STATS, value: {} },
    is_optional: true,
  });
  const { '@type': _type, ...body } = json;
  assert.ok(parseProtoJson(TYPE_URL.RouteConfiguration, body).ok);
});

convert('a document is ordered by type (CDS, EDS, LDS, RDS, SDS), then name', async () => {
  const secrets = await agentSecrets(path.join(repoRoot, 'examples/bookinfo/sidecar-resources.yaml'));
  const route = (name: string) => anyOf(TYPE_URL.RouteConfiguration, RouteConfiguration.encode(RouteConfiguration.fromPartial({ name })).finish());
  const document = captureDocument([...secrets, route('b'), { typeUrl: TYPE_URL.Listener, value: listenerWithStats() }, route('a')]);
  assert.equal(
    document.resources.map((r) => `${String(r['@type']).split('.').pop()} ${String(r['name'])}`),
    ['Listener 0.0.0.0_9080', 'RouteConfiguration a', 'RouteConfiguration b', 'Secret ROOTCA', 'Secret default'],
  );
});

convert.run();

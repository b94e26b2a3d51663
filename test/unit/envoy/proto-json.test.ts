import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Cluster_DiscoveryType, Cluster_LbPolicy } from '../../../src/adapters/envoy/generated/envoy/config/cluster/v3/cluster.js';
import { checkProtoJson, parseProtoJson, type ProtoJsonError } from '../../../src/adapters/envoy/proto/proto-json.js';
import { TYPE_URL } from '../../../src/adapters/envoy/proto/type-urls.js';
import { unpackAny } from '../../../src/adapters/envoy/proto/unpack-any.js';

const HCM = TYPE_URL.HttpConnectionManager;

function errorsOf(type: Parameters<typeof parseProtoJson>[0], json: unknown): ProtoJsonError[] {
  const r = parseProtoJson(type, json);
  if (r.ok) throw new Error(`expected errors, parsed: ${JSON.stringify(json)}`);
  return r.error;
}

function listenerWithRoutes(routes: unknown[]): unknown {
  return {
    name: 'l',
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.tcp_proxy',
            typed_config: { '@type': TYPE_URL.TcpProxy, stat_prefix: 's', cluster: 'c' },
          },
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': HCM,
              stat_prefix: 'in',
              route_config: { virtual_hosts: [{ name: 'vh', domains: ['*'], routes }] },
            },
          },
        ],
      },
    ],
  };
}

const okRoute = (prefix: string) => ({ match: { prefix }, route: { cluster: 'c' } });

test('a wrong type deep inside nested Anys is reported at its exact path', () => {
  const errors = errorsOf('envoy.config.listener.v3.Listener', listenerWithRoutes([okRoute('/a'), okRoute('/b'), { match: { prefix: 42 }, route: { cluster: 'c' } }]));
  assert.equal(errors, [
    {
      path: 'filter_chains[0].filters[1].typed_config.route_config.virtual_hosts[0].routes[2].match.prefix',
      message: 'expected string, got number',
    },
  ]);
});

test('all errors are collected, not just the first', () => {
  const errors = errorsOf('envoy.config.cluster.v3.Cluster', {
    name: 7,
    connect_timeout: 5,
    per_connection_buffer_limit_bytes: -1,
  });
  assert.equal(
    errors.map((e) => e.path),
    ['name', 'connect_timeout', 'per_connection_buffer_limit_bytes'],
  );
  assert.match(errors[1]?.message ?? '', /expected duration string such as "1.5s", got number/);
  assert.match(errors[2]?.message ?? '', /uint32 out of range: -1/);
});

test('checking without building a copy finds the same errors, in the same order', () => {
  const broken = {
    configs: [
      { '@type': TYPE_URL.ClustersConfigDump, dynamic_active_clusters: [{ cluster: { '@type': TYPE_URL.Cluster, name: 7, lb_policy: 'nope' } }, null] },
      { '@type': TYPE_URL.ListenersConfigDump, static_listeners: [{ listener: { '@type': TYPE_URL.Listener, ...(listenerWithRoutes([{ match: { prefix: 42 } }]) as object) } }] },
      { '@type': 'type.googleapis.com/example.Unknown', x: [1, Infinity] },
    ],
    bogus: true,
  };
  const built = checkProtoJson('envoy.admin.v3.ConfigDump', broken);
  const checked = checkProtoJson('envoy.admin.v3.ConfigDump', broken, false);
  assert.ok(!built.ok && built.error.length >= 5, JSON.stringify(built));
  assert.equal(checked, built);
  const valid = { configs: [{ '@type': TYPE_URL.ClustersConfigDump, dynamic_active_clusters: [{ cluster: { '@type': TYPE_URL.Cluster, name: 'c' } }] }] };
  assert.ok(checkProtoJson('envoy.admin.v3.ConfigDump', valid, false).ok);
});

test('unknown field names are errors, with the message type named', () => {
  const errors = errorsOf(TYPE_URL.Cluster, { name: 'c', load_assignment: { cluster_name: 'c', endpoint: [] } });
  assert.equal(errors, [
    {
      path: 'load_assignment.endpoint',
      message: 'unknown field "endpoint" in envoy.config.endpoint.v3.ClusterLoadAssignment',
    },
  ]);
});

test('bad enum value lists the allowed names', () => {
  const [e, ...rest] = errorsOf('envoy.config.cluster.v3.Cluster', { name: 'c', type: 'STRICTDNS' });
  assert.is(rest.length, 0);
  assert.is(e?.path, 'type');
  assert.match(e?.message ?? '', /^unknown value "STRICTDNS" for enum envoy\.config\.cluster\.v3\.Cluster\.DiscoveryType \(one of STATIC, STRICT_DNS/);
});

test('enum names are case-insensitive and numbers are accepted, as in Envoy', () => {
  const r = parseProtoJson('envoy.config.cluster.v3.Cluster', {
    name: 'c',
    type: 'strict_dns',
    lb_policy: 'Least_Request',
    dns_lookup_family: 1,
  });
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.equal(r.value.clusterDiscoveryType, { $case: 'type', value: Cluster_DiscoveryType.STRICT_DNS });
  assert.is(r.value.lbPolicy, Cluster_LbPolicy.LEAST_REQUEST);
  assert.is(r.value.dnsLookupFamily, 1);
});

test('proto names and lowerCamelCase JSON names both work; giving both is an error', () => {
  const r = parseProtoJson('envoy.config.cluster.v3.Cluster', {
    name: 'c',
    connectTimeout: '0.25s',
    per_connection_buffer_limit_bytes: { value: 1 },
  });
  assert.is(r.ok, false, 'a wrapper (UInt32Value) is a bare number in JSON, not an object');
  const good = parseProtoJson('envoy.config.cluster.v3.Cluster', {
    name: 'c',
    connectTimeout: '0.25s',
    per_connection_buffer_limit_bytes: '1024',
  });
  assert.ok(good.ok);
  if (good.ok) {
    assert.equal(good.value.connectTimeout, { seconds: 0, nanos: 250_000_000 });
    assert.is(good.value.perConnectionBufferLimitBytes, 1024);
  }
  const errors = errorsOf('envoy.config.cluster.v3.Cluster', {
    name: 'c',
    connect_timeout: '1s',
    connectTimeout: '2s',
  });
  assert.equal(errors, [{ path: 'connectTimeout', message: 'field given twice (also as "connect_timeout")' }]);
});

test('two members of one oneof are an error', () => {
  const errors = errorsOf(TYPE_URL.RouteConfiguration, {
    virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/', path: '/x' } }] }],
  });
  assert.equal(errors, [{ path: 'virtual_hosts[0].routes[0].match.path', message: 'oneof "path_specifier" is already set by "prefix"' }]);
});

test('64-bit integers accept numbers and decimal strings; 32-bit ranges are checked', () => {
  const ok = parseProtoJson(TYPE_URL.ClusterLoadAssignment, {
    cluster_name: 'c',
    endpoints: [{ lb_endpoints: [{ load_balancing_weight: 3 }], priority: '1' }],
    policy: { overprovisioning_factor: 140 },
  });
  assert.ok(ok.ok);
  if (ok.ok) assert.is(ok.value.endpoints[0]?.priority, 1);
  const errors = errorsOf(TYPE_URL.ClusterLoadAssignment, {
    cluster_name: 'c',
    endpoints: [{ priority: 4294967296 }, { priority: 1.5 }, { priority: 'x' }],
  });
  assert.equal(errors, [
    { path: 'endpoints[0].priority', message: 'uint32 out of range: 4294967296' },
    { path: 'endpoints[1].priority', message: 'expected uint32, got 1.5' },
    { path: 'endpoints[2].priority', message: 'expected uint32, got string "x"' },
  ]);
});

test('malformed Any: missing @type, non-string @type, malformed type URL', () => {
  const listener = (typed_config: unknown) => ({
    name: 'l',
    filter_chains: [{ filters: [{ name: 'f', typed_config }] }],
  });
  const at = 'filter_chains[0].filters[0].typed_config';
  assert.equal(errorsOf(TYPE_URL.Listener, listener({ stat_prefix: 'x' })), [{ path: at, message: 'Any has fields but no "@type"' }]);
  assert.equal(errorsOf(TYPE_URL.Listener, listener({ '@type': 12 })), [{ path: `${at}.@type`, message: 'expected type URL string, got number' }]);
  assert.equal(errorsOf(TYPE_URL.Listener, listener({ '@type': 'type.googleapis.com/' })), [{ path: `${at}.@type`, message: 'malformed type URL "type.googleapis.com/"' }]);
  assert.equal(errorsOf(TYPE_URL.Listener, listener('not an object')), [{ path: at, message: 'expected object (Any), got string' }]);
});

test('an Any of a type outside the generated closure stays opaque instead of failing', () => {
  const r = parseProtoJson(TYPE_URL.Listener, {
    name: 'l',
    filter_chains: [
      {
        filters: [
          {
            name: 'istio.stats',
            typed_config: {
              '@type': 'type.googleapis.com/stats.PluginConfig',
              disable_host_header_fallback: true,
              whatever: [1, { a: null }],
            },
          },
        ],
      },
    ],
  });
  assert.ok(r.ok);
  if (!r.ok) return;
  const config = r.value.filterChains[0]?.filters[0]?.configType;
  assert.is(config?.$case, 'typedConfig');
  if (config?.$case !== 'typedConfig') return;
  assert.equal(unpackAny(config.value), {
    kind: 'opaque',
    typeUrl: 'type.googleapis.com/stats.PluginConfig',
    wrappedIn: TYPE_URL.UdpaTypedStruct,
  });
});

test('an Any of a well-known type uses {"@type", "value"}', () => {
  const r = parseProtoJson(TYPE_URL.Listener, {
    name: 'l',
    filter_chains: [
      {
        filters: [{ name: 'f', typed_config: { '@type': 'type.googleapis.com/google.protobuf.Duration', value: '2s' } }],
      },
    ],
  });
  assert.ok(r.ok);
  const bad = errorsOf(TYPE_URL.Listener, {
    name: 'l',
    filter_chains: [
      {
        filters: [{ name: 'f', typed_config: { '@type': 'type.googleapis.com/google.protobuf.Duration', seconds: 2 } }],
      },
    ],
  });
  assert.equal(
    bad.map((e) => e.path),
    ['filter_chains[0].filters[0].typed_config.seconds'],
  );
});

test('a TypedStruct wrapping a known type is checked against that type and unpacked into it', () => {
  const listener = (value: unknown) => ({
    name: 'l',
    filter_chains: [
      {
        filters: [{ name: 'f', typed_config: { '@type': TYPE_URL.XdsTypedStruct, type_url: TYPE_URL.TcpProxy, value } }],
      },
    ],
  });
  const r = parseProtoJson(TYPE_URL.Listener, listener({ stat_prefix: 'tcp', cluster: 'backend', idle_timeout: '30s' }));
  assert.ok(r.ok);
  if (!r.ok) return;
  const config = r.value.filterChains[0]?.filters[0]?.configType;
  if (config?.$case !== 'typedConfig') return assert.unreachable('typed_config expected');
  const unpacked = unpackAny(config.value);
  if (unpacked.kind !== 'known' || unpacked.typeUrl !== TYPE_URL.TcpProxy) return assert.unreachable(JSON.stringify(unpacked));
  assert.equal(unpacked.message.clusterSpecifier, { $case: 'cluster', value: 'backend' });
  assert.equal(unpacked.message.idleTimeout, { seconds: 30, nanos: 0 });

  const errors = errorsOf(TYPE_URL.Listener, listener({ stat_prefix: 'tcp', cluster: ['x'] }));
  assert.equal(errors, [{ path: 'filter_chains[0].filters[0].typed_config.value.cluster', message: 'expected string, got array' }]);
});

test('null means unset, except for google.protobuf.Value; null list items are errors', () => {
  const r = parseProtoJson(TYPE_URL.Cluster, {
    name: 'c',
    connect_timeout: null,
    metadata: { filter_metadata: { istio: { a: null, b: [1, 'x'] } } },
  });
  assert.ok(r.ok);
  if (r.ok) {
    assert.is(r.value.connectTimeout, undefined);
    assert.equal(r.value.metadata?.filterMetadata['istio'], { a: null, b: [1, 'x'] });
  }
  assert.equal(errorsOf(TYPE_URL.RouteConfiguration, { virtual_hosts: [{ name: 'v', domains: ['a', null] }] }), [
    { path: 'virtual_hosts[0].domains[1]', message: 'null is not allowed in a repeated field' },
  ]);
});

test('map keys and values are checked', () => {
  const errors = errorsOf(TYPE_URL.Cluster, { name: 'c', metadata: { filter_metadata: { istio: 'not a struct' } } });
  assert.equal(errors, [{ path: 'metadata.filter_metadata["istio"]', message: 'expected object (Struct), got string' }]);
});

test('the top level must be an object, and unknown type names are errors, not exceptions', () => {
  assert.equal(errorsOf(TYPE_URL.Cluster, [1]), [{ path: '', message: 'expected object (envoy.config.cluster.v3.Cluster), got array' }]);
  const r = parseProtoJson('envoy.config.route.v3.NotAType' as 'envoy.config.route.v3.RouteConfiguration', {});
  assert.equal(r, {
    ok: false,
    error: [{ path: '', message: 'no codec registered for envoy.config.route.v3.NotAType' }],
  });
});

test("a single value where a list is expected counts as a one-element list (Envoy's legacy JSON parser)", () => {
  const r = parseProtoJson(TYPE_URL.RouteConfiguration, {
    virtual_hosts: { name: 'v', domains: '*', routes: { match: { prefix: 7 } } },
  });
  assert.equal(r.ok ? [] : r.error, [{ path: 'virtual_hosts.routes.match.prefix', message: 'expected string, got number' }]);
  const good = parseProtoJson(TYPE_URL.RouteConfiguration, { virtual_hosts: { name: 'v', domains: '*' } });
  assert.equal(good.ok && good.value.virtualHosts.map((v) => v.domains), [['*']]);
});

test('lowercase enums inside a nested Any; oneofs come out as { $case, value }', () => {
  const r = parseProtoJson(
    TYPE_URL.Listener,
    listenerWithRoutes([
      {
        match: { safe_regex: { regex: '^/a' } },
        route: { cluster: 'c', cluster_not_found_response_code: 'not_found' },
      },
    ]),
  );
  if (!r.ok) return assert.unreachable(JSON.stringify(r.error));
  const config = r.value.filterChains[0]?.filters[1]?.configType;
  if (config?.$case !== 'typedConfig') return assert.unreachable('typed_config expected');
  const hcm = unpackAny(config.value);
  if (hcm.kind !== 'known' || hcm.typeUrl !== TYPE_URL.HttpConnectionManager) return assert.unreachable(hcm.kind);
  if (hcm.message.routeSpecifier?.$case !== 'routeConfig') return assert.unreachable('inline route_config expected');
  const route = hcm.message.routeSpecifier.value.virtualHosts[0]?.routes[0];
  assert.equal(route?.match?.pathSpecifier, { $case: 'safeRegex', value: { regex: '^/a', engineType: undefined } });
  assert.is(route?.action?.$case === 'route' && route.action.value.clusterNotFoundResponseCode, 1 /* NOT_FOUND */);
});

test.run();

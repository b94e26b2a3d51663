// Every Envoy /config_dump in ../shared/fixtures parses as envoy.admin.v3.ConfigDump, keeps every embedded
// Any, and its content matches the fixture README's description.
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ConfigDump } from '../../../src/adapters/envoy/generated/envoy/admin/v3/config_dump.js';
import type { Listener } from '../../../src/adapters/envoy/generated/envoy/config/listener/v3/listener.js';
import type { RouteConfiguration } from '../../../src/adapters/envoy/generated/envoy/config/route/v3/route.js';
import { formatProtoJsonErrors, parseProtoJson } from '../../../src/adapters/envoy/proto/proto-json.js';
import { TYPE_URL } from '../../../src/adapters/envoy/proto/type-urls.js';
import { unpackAny } from '../../../src/adapters/envoy/proto/unpack-any.js';
import { listFiles, requireShared } from '../../support/shared-fixtures.js';
import { anysIn, rawAnyTypeNames, tally, typeNamesOf, unpackAs } from './any-walk.js';

const shared = requireShared('envoy config dump fixtures');
const ISTIOCTL = 'istio/istioctl/pkg/';
const isConfigDump = (f: string) =>
  /(^|\/)(configdump[^/]*\.json|config_dump\.json)$/.test(f) ||
  f.endsWith('authz/testdata/configdump.yaml') || // JSON text despite the name
  f.includes('describe/testdata/describe/');

type Check = (dump: ConfigDump) => void;

const section = <U extends (typeof TYPE_URL)[keyof typeof TYPE_URL]>(dump: ConfigDump, typeUrl: U) => {
  const entries = dump.configs.filter((c) => c.typeUrl === typeUrl);
  assert.is(entries.length, 1, `one ${typeUrl} in the dump`);
  return unpackAs(entries[0], typeUrl);
};
const listenersOf = (dump: ConfigDump): Listener[] => {
  const l = section(dump, TYPE_URL.ListenersConfigDump);
  return [...l.staticListeners.map((s) => unpackAs(s.listener, TYPE_URL.Listener)), ...l.dynamicListeners.map((d) => unpackAs(d.activeState?.listener, TYPE_URL.Listener))];
};
const routeConfigsOf = (dump: ConfigDump) => {
  const r = section(dump, TYPE_URL.RoutesConfigDump);
  return {
    static: r.staticRouteConfigs.map((s) => unpackAs(s.routeConfig, TYPE_URL.RouteConfiguration)),
    dynamic: r.dynamicRouteConfigs.map((d) => unpackAs(d.routeConfig, TYPE_URL.RouteConfiguration)),
  };
};
const routeCount = (rc: RouteConfiguration) => rc.virtualHosts.reduce((n, vh) => n + vh.routes.length, 0);
const clusterNames = (dump: ConfigDump) => {
  const c = section(dump, TYPE_URL.ClustersConfigDump);
  return [...c.staticClusters, ...c.dynamicActiveClusters].map((x) => unpackAs(x.cluster, TYPE_URL.Cluster).name);
};

// One entry per config dump fixture: what the README's table says about it.
const EXPECTED: Record<string, Check> = {
  'authz/testdata/configdump.yaml': (dump) => {
    const l = section(dump, TYPE_URL.ListenersConfigDump);
    assert.is(l.staticListeners.length, 2);
    assert.is(l.dynamicListeners.length, 27);
    const listeners = listenersOf(dump);
    const chains = listeners.flatMap((x) => [...x.filterChains, ...(x.defaultFilterChain ? [x.defaultFilterChain] : [])]);
    assert.is(chains.length, 49);
    const found = [...anysIn(listeners)];
    const names = tally(typeNamesOf(found));
    const count = (name: string) => Number(names.find((n) => n.startsWith(`${name} x`))?.split(' x')[1] ?? 0);
    assert.is(count('envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy'), 29);
    assert.is(count('envoy.extensions.filters.http.rbac.v3.RBAC'), 10);
    assert.is(count('envoy.extensions.filters.network.rbac.v3.RBAC'), 3);
    assert.is(count('envoy.extensions.filters.http.ext_authz.v3.ExtAuthz'), 5);
    const hcms = found.flatMap((u) => (u.kind === 'known' && u.typeUrl === TYPE_URL.HttpConnectionManager ? [u.message] : []));
    assert.is(hcms.length, 20);
    assert.is(hcms.filter((h) => h.routeSpecifier?.$case === 'rds').length, 12);
    assert.is(hcms.filter((h) => h.routeSpecifier?.$case === 'routeConfig').length, 8);
    // Istio's own filter config types are not Envoy protos: opaque, with their own type URL.
    const stats = found.filter((u) => u.typeUrl === 'type.googleapis.com/stats.PluginConfig');
    assert.ok(stats.length > 0 && stats.every((u) => u.kind === 'opaque'));
    const kinds = new Set(found.map((u) => u.kind));
    assert.equal([...kinds].sort(), ['known', 'opaque'], 'nothing invalid');
  },
  'describe/testdata/describe/http_config.json': (dump) => {
    const routes = routeConfigsOf(dump);
    assert.equal(
      routes.dynamic.map((r) => r.name),
      ['http.8080'],
    );
    assert.equal(
      routes.dynamic[0]?.virtualHosts.map((v) => v.name),
      ['*:80'],
    );
    assert.is(routeCount(routes.dynamic[0]!), 5);
    assert.equal(routes.dynamic[0]?.virtualHosts[0]?.routes[0]?.match?.pathSpecifier, {
      $case: 'path',
      value: '/productpage',
    });
    assert.equal(clusterNames(dump), ['outbound|9080|v1|productpage.default.svc.cluster.local']);
    assert.is(listenersOf(dump).length, 0);
  },
  'describe/testdata/describe/tls_config.json': (dump) => {
    const routes = routeConfigsOf(dump);
    assert.equal(
      routes.dynamic.map((r) => r.name),
      ['https.443.https.bookinfo-gateway.default'],
    );
    assert.is(routes.dynamic[0]?.virtualHosts.length, 1);
    assert.is(routeCount(routes.dynamic[0]!), 5);
  },
  'writer/compare/testdata/configdump.json': (dump) => {
    assert.equal(
      listenersOf(dump).map((l) => l.name),
      ['connect_terminate', 'main_internal', 'connect_originate'],
    );
    assert.ok(listenersOf(dump)[1]?.filterChainMatcher, "main_internal's unified filter_chain_matcher kept");
    assert.equal(clusterNames(dump), ['inbound-vip|9080|http|ratings.default.svc.cluster.local']);
    const routes = routeConfigsOf(dump);
    assert.equal([routes.dynamic.length, routes.dynamic[0]?.virtualHosts.length, routeCount(routes.dynamic[0]!)], [1, 1, 1]);
    const opaque = [...anysIn(dump.configs)].filter((u) => u.kind === 'opaque' && u.wrappedIn !== undefined);
    assert.ok(opaque.some((u) => u.typeUrl === 'type.googleapis.com/io.istio.http.peer_metadata.Config'));
  },
  'writer/compare/testdata/configdump_diff.json': (dump) => {
    assert.equal(clusterNames(dump), ['inbound-vip|9999|http|ratings.default.svc.cluster.local']);
  },
  'writer/envoy/configdump/testdata/configdump.json': (dump) => {
    const node = section(dump, TYPE_URL.BootstrapConfigDump).bootstrap?.node;
    assert.is(node?.metadata?.['ISTIO_VERSION'], '1.10.0');
    // camelCase keys in the fixture (userAgentBuildVersion, majorNumber) parse like snake_case ones.
    assert.equal(node?.userAgentVersionType, {
      $case: 'userAgentBuildVersion',
      value: {
        version: { majorNumber: 1, minorNumber: 18, patch: 3 },
        metadata: {
          'build.type': 'RELEASE',
          'revision.sha': '436f365a8007cd8a13a9f1321e7cce94bcc8883e',
          'revision.status': 'Clean',
          'ssl.version': 'BoringSSL',
        },
      },
    });
  },
  'writer/envoy/configdump/testdata/ecds/configdump.json': (dump) => {
    // Three EcdsConfigDump entries: the two Wasm plugins, then Istio's telemetry filters (names only).
    const sections = dump.configs.map((c) => unpackAs(c, TYPE_URL.EcdsConfigDump));
    const filters = sections.flatMap((s) => s.ecdsFilters.map((f) => unpackAs(f.ecdsFilter, TYPE_URL.TypedExtensionConfig)));
    assert.is(filters.length, 6);
    const wasm = filters.filter((f) => f.typedConfig !== undefined);
    assert.equal(wasm.map((f) => f.name).sort(), ['default.display-metadata', 'default.httpbin-rate-limiting']);
    assert.ok(filters.filter((f) => !f.typedConfig).every((f) => f.name.startsWith('istio.io/telemetry/stats/prometheus/')));
    for (const f of wasm) {
      assert.equal(unpackAny(f.typedConfig!), {
        kind: 'opaque',
        typeUrl: 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm',
        wrappedIn: TYPE_URL.UdpaTypedStruct,
      });
    }
  },
  'writer/envoy/configdump/testdata/endpoint/configdump.json': (dump) => {
    const e = section(dump, TYPE_URL.EndpointsConfigDump);
    assert.is(e.staticEndpointConfigs.length, 5);
    assert.is(e.dynamicEndpointConfigs.length, 32);
    const clas = [...e.staticEndpointConfigs, ...e.dynamicEndpointConfigs].map((c) => unpackAs(c.endpointConfig, TYPE_URL.ClusterLoadAssignment));
    assert.is(clas.flatMap((c) => c.endpoints.flatMap((l) => l.lbEndpoints)).length, 36);
    assert.ok(clas.some((c) => c.clusterName === 'outbound|8000||httpbin.default.svc.cluster.local'));
  },
  'writer/envoy/configdump/testdata/routes/empty-gateway/configdump.json': (dump) => {
    const routes = routeConfigsOf(dump);
    assert.equal([routes.static.length, routes.dynamic.length], [2, 0]);
    assert.equal(
      routes.static.map((r) => r.virtualHosts[0]?.routes[0]?.match?.pathSpecifier),
      [
        { $case: 'prefix', value: '/healthz/ready' },
        { $case: 'prefix', value: '/stats/prometheus' },
      ],
    );
  },
  'writer/envoy/configdump/testdata/routes/istio-gateway-http-route-prefix/configdump.json': (dump) => {
    const [rc, ...rest] = routeConfigsOf(dump).dynamic;
    assert.is(rest.length, 0);
    assert.is(rc?.name, 'http.8080');
    const vh = rc?.virtualHosts[0];
    assert.is(vh?.name, 'httpbin.example.com:80');
    assert.equal(vh?.routes[0]?.match?.pathSpecifier, { $case: 'prefix', value: '/get' });
    const istio = vh?.routes[0]?.metadata?.filterMetadata['istio'];
    assert.match(String(istio?.['config']), /virtual-service\/httpbin$/);
  },
  'writer/envoy/configdump/testdata/routes/k8s-gateway-http-route-path-prefix/configdump.json': (dump) => {
    const rc = routeConfigsOf(dump).dynamic[0];
    assert.is(rc?.name, 'http.80');
    assert.equal(rc?.virtualHosts[0]?.routes[0]?.match?.pathSpecifier, { $case: 'pathSeparatedPrefix', value: '/get' });
  },
  'writer/envoy/configdump/testdata/secret/istio/config_dump.json': (dump) => {
    const s = section(dump, TYPE_URL.SecretsConfigDump);
    assert.equal(
      s.dynamicActiveSecrets.map((x) => x.name),
      ['default', 'ROOTCA'],
    );
    assert.equal(
      s.dynamicWarmingSecrets.map((x) => x.name),
      ['configmap://some/thing'],
    );
    const cert = unpackAs(s.dynamicActiveSecrets[0]?.secret, TYPE_URL.Secret).type;
    assert.is(cert?.$case, 'tlsCertificate');
    if (cert?.$case !== 'tlsCertificate') return;
    const key = cert.value.privateKey?.specifier;
    assert.equal(key?.$case === 'inlineBytes' ? key.value.toString() : key, '[redacted]');
    const chain = cert.value.certificateChain?.specifier;
    assert.match(chain?.$case === 'inlineBytes' ? chain.value.toString() : '', /^-----BEGIN CERTIFICATE-----/);
  },
  'writer/envoy/configdump/testdata/secret/spire/config_dump.json': (dump) => {
    const s = section(dump, TYPE_URL.SecretsConfigDump);
    assert.equal(
      s.dynamicActiveSecrets.map((x) => x.name),
      ['default', 'ROOTCA'],
    );
    const root = unpackAs(s.dynamicActiveSecrets[1]?.secret, TYPE_URL.Secret).type;
    if (root?.$case !== 'validationContext') return assert.unreachable('ROOTCA is a validation context');
    const validator = root.value.customValidatorConfig;
    assert.is(validator?.name, 'envoy.tls.cert_validator.spiffe');
    assert.equal(unpackAny(validator!.typedConfig!), {
      kind: 'opaque',
      typeUrl: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.SPIFFECertValidatorConfig',
      wrappedIn: TYPE_URL.UdpaTypedStruct,
    });
  },
};

function load(rel: string): unknown {
  return JSON.parse(fs.readFileSync(path.join(shared!, 'fixtures', ISTIOCTL, rel), 'utf8'));
}

if (shared) {
  const found = listFiles(path.join(shared, 'fixtures', ISTIOCTL)).filter(isConfigDump);

  test('the discovered config dumps are exactly the ones described', () => {
    assert.equal(found, Object.keys(EXPECTED).sort());
  });

  for (const rel of found) {
    test(`${rel} parses as envoy.admin.v3.ConfigDump`, () => {
      const json = load(rel);
      const r = parseProtoJson('envoy.admin.v3.ConfigDump', json);
      if (!r.ok) return assert.unreachable(formatProtoJsonErrors(r.error, 10));
      assert.ok(r.value.configs.length > 0);
      // Every Any of the input comes back, as the same type (TypedStructs as their inner type).
      assert.equal(tally(typeNamesOf(anysIn(r.value.configs))), tally(rawAnyTypeNames(json)));
      EXPECTED[rel]?.(r.value);
    });
  }

  test('bootstrapdump.json is a bare BootstrapConfigDump', () => {
    const r = parseProtoJson(TYPE_URL.BootstrapConfigDump, load('writer/envoy/configdump/testdata/bootstrapdump.json'));
    if (!r.ok) return assert.unreachable(formatProtoJsonErrors(r.error));
    assert.is(r.value.bootstrap?.node?.metadata?.['ISTIO_VERSION'], '1.10.0');
    assert.is(r.value.bootstrap?.node?.userAgentVersionType?.$case, 'userAgentBuildVersion');
  });
}

test.run();

// The node an amesh sidecar presents must be the node istiod expects from istio-proxy: checked
// against the injected environment, the downward-API files, pilot-agent's own golden bootstrap
// metadata, and the gRPC bootstrap it writes. Plus the errors that name what to fix.
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Node } from '../../../src/adapters/envoy/generated/envoy/config/core/v3/base.js';
import { toEnvoyNode } from '../../../src/adapters/envoy/node.js';
import { istioNodeFromEnvironment, istioNodeFromGrpcBootstrap, type Environment, type IstioNodeOptions, type XdsNode } from '../../../src/adapters/istio/node-identity.js';
import type { JsonValue } from '../../../src/domain/json.js';
import { requireShared } from '../../support/shared-fixtures.js';

/** A temp dir with the given files, removed after `body`. */
function withDir<T>(files: Record<string, string>, body: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'amesh-node-'));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Lines as the kubelet writes them: Go's `%s=%q`. */
const downwardApi = (values: Record<string, string>): string =>
  Object.entries(values)
    .map(([key, value]) => `${key}=${JSON.stringify(value)}\n`)
    .join('');

/** What the injector sets on istio-proxy (injection-template.yaml at istio/istio@86c9f01), trimmed to what matters. */
const injected: Environment = {
  POD_NAME: 'reviews-v1-7d8f9c-abcde',
  POD_NAMESPACE: 'bookinfo',
  INSTANCE_IP: '10.244.0.7',
  SERVICE_ACCOUNT: 'bookinfo-reviews',
  HOST_IP: '172.18.0.2',
  CA_ADDR: 'istiod.istio-system.svc:15012',
  PROXY_CONFIG: '{"discoveryAddress":"istiod.istio-system.svc:15012","tracing":{"zipkin":{"address":"zipkin.istio-system:9411"}}}\n',
  ISTIO_META_POD_PORTS: '[\n{"name":"http","containerPort":9080,"protocol":"TCP"}\n]',
  ISTIO_META_APP_CONTAINERS: 'reviews',
  ISTIO_META_CLUSTER_ID: 'Kubernetes',
  ISTIO_META_NODE_NAME: 'kind-worker',
  ISTIO_META_INTERCEPTION_MODE: 'REDIRECT',
  ISTIO_META_WORKLOAD_NAME: 'reviews-v1',
  ISTIO_META_OWNER: 'kubernetes://apis/apps/v1/namespaces/bookinfo/deployments/reviews-v1',
  ISTIO_META_MESH_ID: 'cluster.local',
  TRUST_DOMAIN: 'cluster.local',
  PATH: '/usr/bin',
};

const podLabels = { app: 'reviews', version: 'v1', 'pod-template-hash': '7d8f9c', 'topology.istio.io/locality': 'eu-west.eu-west-1a.rack7', 'security.istio.io/tlsMode': 'istio' };
const podAnnotations = { 'kubectl.kubernetes.io/default-container': 'reviews', 'sidecar.istio.io/status': '{"initContainers":["istio-init"],"containers":["istio-proxy"]}' };

function nodeOf(env: Environment, options: IstioNodeOptions = {}, files: Record<string, string> = {}): XdsNode {
  return withDir(files, (dir) => {
    const result = istioNodeFromEnvironment(env, { podInfoDir: dir, ...options });
    if (!result.ok) throw new Error(`expected a node, got: ${result.error}`);
    return result.value;
  });
}

function errorOf(env: Environment, options: IstioNodeOptions = {}, files: Record<string, string> = {}): string {
  return withDir(files, (dir) => {
    const result = istioNodeFromEnvironment(env, { podInfoDir: dir, ...options });
    if (result.ok) throw new Error(`expected an error, got node ${result.value.id}`);
    return result.error;
  });
}

const s = suite('Istio node identity: from the environment');

s('an injected sidecar: id, NAMESPACE, labels, annotations, locality, cluster', () => {
  const node = nodeOf(injected, { istioVersion: '1.30.3', agentVersion: '0.1.0' }, { labels: downwardApi(podLabels), annotations: downwardApi(podAnnotations) });
  assert.is(node.id, 'sidecar~10.244.0.7~reviews-v1-7d8f9c-abcde.bookinfo~bookinfo.svc.cluster.local');
  // istiod ≥1.27 splits the id's third part on the first `.` and requires NAMESPACE to match.
  const podKey = node.id.split('~')[2]!;
  assert.is(podKey.slice(podKey.indexOf('.') + 1), node.metadata.NAMESPACE);
  assert.is(node.metadata.NAME, 'reviews-v1-7d8f9c-abcde');
  assert.is(node.metadata.NAMESPACE, 'bookinfo');
  assert.is(node.metadata.SERVICE_ACCOUNT, 'bookinfo-reviews');
  assert.is(node.metadata.INSTANCE_IPS, '10.244.0.7');
  assert.is(node.metadata.ISTIO_VERSION, '1.30.3');
  assert.is(node.metadata.CLUSTER_ID, 'Kubernetes');
  assert.is(node.metadata.INTERCEPTION_MODE, 'REDIRECT');
  assert.equal(node.metadata.LABELS, {
    app: 'reviews',
    version: 'v1',
    'security.istio.io/tlsMode': 'istio',
    'topology.istio.io/locality': 'eu-west.eu-west-1a.rack7',
    // pilot-agent writes the sanitised locality back under the legacy label.
    'istio-locality': 'eu-west/eu-west-1a/rack7',
  });
  assert.equal(node.metadata.ANNOTATIONS, podAnnotations);
  assert.equal(node.locality, { region: 'eu-west', zone: 'eu-west-1a', subZone: 'rack7' });
  assert.is(node.cluster, 'reviews.bookinfo');
  assert.equal(node.metadata.PROXY_CONFIG, { discoveryAddress: 'istiod.istio-system.svc:15012', tracing: { zipkin: { address: 'zipkin.istio-system:9411' } } });
  assert.is(node.metadata.ENVOY_STATUS_PORT, 15021);
  assert.is(node.metadata.ENVOY_PROMETHEUS_PORT, 15090);
  for (const key of ['POD_PORTS', 'APP_CONTAINERS', 'NODE_NAME', 'WORKLOAD_NAME', 'OWNER', 'MESH_ID']) {
    assert.is(node.metadata[key], injected[`ISTIO_META_${key}`], `${key} passes through`);
  }
  assert.not.ok('GENERATOR' in node.metadata);
  assert.not.ok('PATH' in node.metadata || 'HOST_IP' in node.metadata || 'TRUST_DOMAIN' in node.metadata, 'only ISTIO_META_* become metadata');
  assert.is(node.userAgentName, 'amesh-ts');
  assert.is(node.userAgentVersion, '0.1.0');
});

s('GENERATOR is dropped wherever it comes from (ISTIO_META_, ISTIO_METAJSON_, proxyMetadata)', () => {
  for (const env of [
    { ...injected, ISTIO_META_GENERATOR: 'grpc' },
    { ...injected, ISTIO_METAJSON_EXTRA: '{"GENERATOR":"grpc"}' },
    { ...injected, PROXY_CONFIG: '{"proxyMetadata":{"ISTIO_META_GENERATOR":"grpc"}}' },
  ]) {
    assert.not.ok('GENERATOR' in nodeOf(env).metadata);
  }
});

s('defaults: CLUSTER_ID Kubernetes, INTERCEPTION_MODE REDIRECT, no ISTIO_VERSION unless known, no labels without a labels file', () => {
  const node = nodeOf({ POD_NAME: 'p', POD_NAMESPACE: 'ns', INSTANCE_IP: '10.0.0.1' });
  assert.equal(Object.keys(node.metadata), ['CLUSTER_ID', 'ENVOY_PROMETHEUS_PORT', 'ENVOY_STATUS_PORT', 'INSTANCE_IPS', 'INTERCEPTION_MODE', 'NAME', 'NAMESPACE']);
  assert.is(node.metadata.CLUSTER_ID, 'Kubernetes');
  assert.is(node.metadata.INTERCEPTION_MODE, 'REDIRECT');
  assert.is(node.locality, undefined);
  assert.is(node.cluster, 'istio-proxy.ns');
  // The image's ISTIO_META_ISTIO_VERSION wins over the option, as pilot-agent's typed field does.
  assert.is(
    nodeOf({ POD_NAME: 'p', POD_NAMESPACE: 'ns', INSTANCE_IP: '10.0.0.1', ISTIO_META_ISTIO_VERSION: '1.29.6' }, { istioVersion: '1.30.3' }).metadata.ISTIO_VERSION,
    '1.29.6',
  );
});

s('id parts: proxy type, DNS domain, IPv6 and extra IPs', () => {
  const base = { POD_NAME: 'gw-1', POD_NAMESPACE: 'edge', INSTANCE_IP: 'fd00::7' };
  assert.is(nodeOf(base).id, 'sidecar~fd00::7~gw-1.edge~edge.svc.cluster.local');
  assert.is(nodeOf({ ...base, PROXY_TYPE: 'router' }).id.split('~')[0], 'router');
  assert.is(nodeOf(base, { proxyType: 'router' }).id.split('~')[0], 'router');
  assert.is(nodeOf({ ...base, ISTIO_META_DNS_DOMAIN: 'corp.internal' }).id.split('~')[3], 'edge.svc.corp.internal');
  assert.is(nodeOf(base, { dnsDomain: 'edge.svc.example' }).id.split('~')[3], 'edge.svc.example');
  assert.is(nodeOf(base, { extraIps: ['10.1.0.4', 'fd00::7', '10.1.0.4'] }).metadata.INSTANCE_IPS, 'fd00::7,10.1.0.4', 'INSTANCE_IP first, duplicates dropped');
});

s('ISTIO_METAJSON_*: each JSON object is merged into the top level; ISTIO_METAJSON_LABELS also sets LABELS and STATIC_LABELS', () => {
  const node = nodeOf({ ...injected, ISTIO_METAJSON_LABELS: '{"app":"ratings","version":"v2"}', ISTIO_METAJSON_WHATEVER: '{"CUSTOM":{"nested":[1,2]}}' });
  assert.equal(node.metadata.LABELS, { app: 'ratings', version: 'v2' });
  assert.equal(node.metadata.STATIC_LABELS, { app: 'ratings', version: 'v2' });
  assert.is(node.metadata.app, 'ratings', 'pilot-agent leaves the merged keys at the top level too');
  assert.equal(node.metadata.CUSTOM, { nested: [1, 2] });
  assert.is(node.cluster, 'ratings.bookinfo');
  // The labels file, when there is one, goes over the static labels.
  const withFile = nodeOf({ ...injected, ISTIO_METAJSON_LABELS: '{"app":"ratings","tier":"backend"}' }, {}, { labels: downwardApi({ app: 'reviews' }) });
  assert.equal(withFile.metadata.LABELS, { app: 'reviews', tier: 'backend' });
});

s('proxyMetadata in PROXY_CONFIG becomes metadata, below ISTIO_META_* env vars', () => {
  const node = nodeOf({ ...injected, PROXY_CONFIG: '{"proxyMetadata":{"ISTIO_META_DNS_CAPTURE":"true","ISTIO_META_MESH_ID":"from-proxy-config","OTHER":"x"}}' });
  assert.is(node.metadata.DNS_CAPTURE, 'true');
  assert.is(node.metadata.MESH_ID, 'cluster.local', 'the env var wins');
  assert.not.ok('OTHER' in node.metadata);
});

s('cluster follows ProxyConfig.serviceCluster and tracingServiceName', () => {
  const labels = { labels: downwardApi({ app: 'reviews', 'service.istio.io/canonical-name': 'reviews-canonical' }) };
  assert.is(nodeOf({ ...injected, PROXY_CONFIG: '{"serviceCluster":"custom"}' }, {}, labels).cluster, 'custom');
  assert.is(nodeOf({ ...injected, PROXY_CONFIG: '{"tracingServiceName":"CANONICAL_NAME_ONLY"}' }, {}, labels).cluster, 'reviews-canonical');
  assert.is(nodeOf({ ...injected, PROXY_CONFIG: '{"tracingServiceName":"CANONICAL_NAME_AND_NAMESPACE"}' }, {}, labels).cluster, 'reviews-canonical.bookinfo');
  assert.is(nodeOf(injected).cluster, 'reviews-v1.bookinfo', 'no app label: the workload name');
});

s('errors name the variable or file to fix', () => {
  const { POD_NAME: _p, ...noPod } = injected;
  assert.match(errorOf(noPod), /^POD_NAME is not set/);
  const { POD_NAMESPACE: _n, ...noNamespace } = injected;
  assert.match(errorOf(noNamespace), /^POD_NAMESPACE is not set/);
  const { INSTANCE_IP: _i, ...noIp } = injected;
  assert.match(errorOf(noIp), /^INSTANCE_IP is not set/);
  assert.match(errorOf({ ...injected, INSTANCE_IP: '10.244.0.300' }), /^INSTANCE_IP "10\.244\.0\.300" is not an IP address/);
  assert.match(errorOf(injected, { extraIps: ['eth0'] }), /"eth0" is not an IP address/);
  assert.match(errorOf({ ...injected, POD_NAMESPACE: 'a.b' }), /POD_NAMESPACE "a\.b" is not a Kubernetes namespace name/);
  assert.match(errorOf({ ...injected, POD_NAME: 'a~b' }), /POD_NAME "a~b" contains ~/);
  assert.match(errorOf({ ...injected, PROXY_TYPE: 'envoy' }), /proxy type \(PROXY_TYPE or --type\) "envoy" is not one of sidecar, router/);
  assert.match(errorOf({ ...injected, PROXY_CONFIG: '{oops' }), /^PROXY_CONFIG is not valid JSON/);
  assert.match(errorOf({ ...injected, PROXY_CONFIG: '[]' }), /^PROXY_CONFIG must be a JSON object/);
  assert.match(errorOf({ ...injected, ISTIO_METAJSON_ANNOTATIONS: '{"a":' }), /^ISTIO_METAJSON_ANNOTATIONS is not valid JSON/);
  assert.match(errorOf({ ...injected, ISTIO_METAJSON_LABELS: '["app"]' }), /^ISTIO_METAJSON_LABELS must hold a JSON object/);
  assert.match(errorOf({ ...injected, ISTIO_META_INTERCEPTION_MODE: 'redirect' }), /ISTIO_META_INTERCEPTION_MODE "redirect" is not one of REDIRECT, TPROXY, NONE/);
  assert.match(errorOf({ ...injected, ENVOY_STATUS_PORT: 'http' }), /ENVOY_STATUS_PORT "http" is not a port number/);
  assert.match(errorOf({ ...injected }, {}, { labels: 'app=reviews\n' }), /pod labels file .*labels: line 1: cannot unquote reviews/);
});

s('metadata istiod would refuse to decode is an error naming its source', () => {
  // Each of these makes istiod's ParseBootstrapNodeMetadata fail, and the stream with it.
  assert.match(errorOf({ ...injected, ISTIO_META_LABELS: 'app=reviews' }), /node metadata LABELS \(from ISTIO_META_LABELS\) must be an object of strings/);
  assert.match(errorOf({ ...injected, ISTIO_META_DNS_CAPTURE: 'yes' }), /DNS_CAPTURE \(from ISTIO_META_DNS_CAPTURE\) must be the string "true" or "false"/);
  assert.match(
    errorOf({ ...injected, ISTIO_META_POD_PORTS: '[{"containerPort":"http"}]' }),
    /POD_PORTS \(from ISTIO_META_POD_PORTS\) must hold a JSON array .*containerPort is not an integer/,
  );
  assert.match(errorOf({ ...injected, ISTIO_METAJSON_X: '{"labels":"x"}' }), /node metadata labels \(from ISTIO_METAJSON_X\)/, 'Go matches field names case-insensitively');
  assert.match(errorOf({ ...injected, ISTIO_META_ENVOY_STATUS_PORT: '15021' }), /ENVOY_STATUS_PORT \(from ISTIO_META_ENVOY_STATUS_PORT\) must be an integer/);
});

s('an unreadable labels file is an error; a missing one is not', () => {
  // A directory where the file should be: readFileSync fails with EISDIR.
  const dir = mkdtempSync(join(tmpdir(), 'amesh-node-'));
  try {
    mkdirSync(join(dir, 'labels'));
    const result = istioNodeFromEnvironment(injected, { podInfoDir: dir });
    assert.not.ok(result.ok);
    if (!result.ok) assert.match(result.error, new RegExp(`pod labels file ${join(dir, 'labels')} is unreadable`));
    assert.ok(istioNodeFromEnvironment(injected, { podInfoDir: join(dir, 'absent') }).ok);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

s('toEnvoyNode: the proto message carries id, cluster, metadata Struct, locality and user agent through encode/decode', () => {
  const node = nodeOf(injected, { istioVersion: '1.30.3', agentVersion: '0.1.0' }, { labels: downwardApi(podLabels) });
  const decoded = Node.decode(Node.encode(toEnvoyNode(node)).finish());
  assert.is(decoded.id, node.id);
  assert.is(decoded.cluster, node.cluster);
  assert.equal(decoded.metadata, node.metadata);
  assert.equal(decoded.locality, node.locality);
  assert.is(decoded.userAgentName, 'amesh-ts');
  assert.equal(decoded.userAgentVersionType, { $case: 'userAgentVersion', value: '0.1.0' });
});

s.run();

const golden = suite('Istio node identity: against pilot-agent goldens');
const shared = requireShared('Istio node identity: against pilot-agent goldens');

golden('the `running` case of pkg/bootstrap/instance_test.go gives the metadata pilot-agent wrote, minus Envoy-only keys', () => {
  if (!shared) return;
  const bootstrap = JSON.parse(readFileSync(join(shared, 'fixtures/istio/pkg/bootstrap/testdata/running_golden.json'), 'utf8')) as {
    node: { metadata: Record<string, JsonValue>; cluster: string; locality: Record<string, string> };
  };
  const want = bootstrap.node.metadata;
  // That test's inputs: its envVars, ISTIO_METAJSON_LABELS/ANNOTATIONS from createEnv, an annotations
  // file, and InstanceIPs passed directly (here: INSTANCE_IP plus extras).
  const env: Environment = {
    ISTIO_META_ISTIO_PROXY_SHA: 'istio-proxy:sha',
    ISTIO_META_INTERCEPTION_MODE: 'REDIRECT',
    ISTIO_META_ISTIO_VERSION: 'release-3.1',
    ISTIO_META_POD_NAME: 'svc-0-0-0-6944fb884d-4pgx8',
    POD_NAME: 'svc-0-0-0-6944fb884d-4pgx8',
    POD_NAMESPACE: 'test',
    INSTANCE_IP: '10.3.3.3',
    ISTIO_METAJSON_LABELS: '{"version": "v1alpha1", "app": "test", "istio-locality":"regionA.zoneB.sub_zoneC"}',
    ISTIO_METAJSON_ANNOTATIONS: JSON.stringify({ 'istio.io/insecurepath': '{"paths":["/metrics","/live"]}' }),
    PROXY_CONFIG: JSON.stringify(want.PROXY_CONFIG),
  };
  const node = nodeOf(
    env,
    { extraIps: ['10.4.4.4', '10.5.5.5', '10.6.6.6', '10.4.4.4'] },
    { annotations: downwardApi({ 'istio.io/insecurepath': '{"paths":["/metrics","/live"]}' }) },
  );

  // Keys only Envoy's bootstrap needs (its SDS socket, outlier log, peer-metadata filters, xDS SAN).
  const envoyOnly = ['METADATA_DISCOVERY', 'OUTLIER_LOG_PATH', 'PILOT_SAN', 'WORKLOAD_IDENTITY_SOCKET_FILE'];
  const expected = Object.fromEntries(Object.entries(want).filter(([key]) => !envoyOnly.includes(key)));
  // The injector always sets ISTIO_META_CLUSTER_ID; that test did not, so amesh's default shows.
  assert.equal(node.metadata, { ...expected, CLUSTER_ID: 'Kubernetes' });
  assert.is(node.cluster, bootstrap.node.cluster);
  assert.equal(node.locality, { region: 'regionA', zone: 'zoneB', subZone: 'sub_zoneC' });
});

golden.run();

const grpc = suite('Istio node identity: from grpc-bootstrap.json');

/** Shaped like pilot-agent's output (pkg/istio-agent/testdata/grpc-bootstrap.json), with the metadata a real pod gets. */
const grpcBootstrap = (node: Record<string, JsonValue>): string =>
  JSON.stringify(
    {
      xds_servers: [{ server_uri: 'unix:///etc/istio/proxy/XDS', channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
      node,
      certificate_providers: {
        default: {
          plugin_name: 'file_watcher',
          config: {
            certificate_file: '/var/lib/istio/data/cert-chain.pem',
            private_key_file: '/var/lib/istio/data/key.pem',
            ca_certificate_file: '/var/lib/istio/data/root-cert.pem',
            refresh_interval: '900s',
          },
        },
      },
      server_listener_resource_name_template: 'xds.istio.io/grpc/lds/inbound/%s',
    },
    null,
    2,
  );

const bootstrapNode = {
  id: 'sidecar~10.244.0.7~reviews-v1-7d8f9c-abcde.bookinfo~bookinfo.svc.cluster.local',
  metadata: {
    ANNOTATIONS: { 'kubectl.kubernetes.io/default-container': 'reviews' },
    APP_CONTAINERS: 'reviews',
    CLUSTER_ID: 'Kubernetes',
    ENVOY_PROMETHEUS_PORT: 15090,
    ENVOY_STATUS_PORT: 15021,
    GENERATOR: 'grpc',
    INSTANCE_IPS: '10.244.0.7',
    INTERCEPTION_MODE: 'REDIRECT',
    ISTIO_VERSION: '1.30.3',
    LABELS: { app: 'reviews', version: 'v1', 'istio-locality': 'eu-west/eu-west-1a' },
    METADATA_DISCOVERY: 'false',
    NAME: 'reviews-v1-7d8f9c-abcde',
    NAMESPACE: 'bookinfo',
    PILOT_SAN: ['istiod.istio-system.svc'],
    PROXY_CONFIG: { discoveryAddress: 'istiod.istio-system.svc:15012' },
  },
  locality: { region: 'eu-west', zone: 'eu-west-1a' },
  UserAgentVersionType: null,
};

function fromBootstrap(text: string): ReturnType<typeof istioNodeFromGrpcBootstrap> {
  return withDir({ 'grpc-bootstrap.json': text }, (dir) => istioNodeFromGrpcBootstrap(join(dir, 'grpc-bootstrap.json'), { agentVersion: '0.1.0' }));
}

grpc('node id, metadata without GENERATOR, snake_case locality, cluster derived from labels', () => {
  const result = fromBootstrap(grpcBootstrap(bootstrapNode));
  if (!result.ok) throw new Error(result.error);
  const node = result.value;
  assert.is(node.id, bootstrapNode.id);
  const { GENERATOR: _g, ...rest } = bootstrapNode.metadata;
  assert.equal(node.metadata, rest);
  assert.equal(node.locality, { region: 'eu-west', zone: 'eu-west-1a', subZone: '' });
  assert.is(node.cluster, 'reviews.bookinfo', 'pilot-agent leaves node.cluster out of this file');
  assert.is(node.userAgentName, 'amesh-ts');
});

grpc("istio's own test bootstrap is refused: its metadata has no NAMESPACE, so istiod ≥1.27 would find no pod", () => {
  const istioTestdata = {
    id: 'sidecar~127.0.0.1~pod1.fake-namespace~fake-namespace.svc.cluster.local',
    metadata: { GENERATOR: 'grpc', INSTANCE_IPS: '127.0.0.1', ISTIO_VERSION: 'version', METADATA_DISCOVERY: 'false', PILOT_SAN: ['istiod.istio-system.svc'] },
    locality: {},
    UserAgentVersionType: null,
  };
  const result = fromBootstrap(grpcBootstrap(istioTestdata));
  assert.not.ok(result.ok);
  if (!result.ok) assert.match(result.error, /metadata NAMESPACE \(null\) must equal the id's namespace "fake-namespace"/);
  const fixed = fromBootstrap(grpcBootstrap({ ...istioTestdata, metadata: { ...istioTestdata.metadata, NAMESPACE: 'fake-namespace' } }));
  assert.ok(fixed.ok);
  if (fixed.ok) assert.is(fixed.value.locality, undefined, 'an empty locality is no locality');
});

grpc('errors: missing file, invalid JSON, no node, malformed id', () => {
  const missing = istioNodeFromGrpcBootstrap('/nonexistent/grpc-bootstrap.json');
  assert.not.ok(missing.ok);
  if (!missing.ok) assert.match(missing.error, /gRPC bootstrap \/nonexistent\/grpc-bootstrap\.json is unreadable/);
  const cases: Array<[string, RegExp]> = [
    ['{"node":', /is not valid JSON/],
    ['{"xds_servers":[]}', /has no node object/],
    [grpcBootstrap({ ...bootstrapNode, id: 'sidecar~10.0.0.1~pod.ns' }), /does not have the 4 parts/],
    [grpcBootstrap({ ...bootstrapNode, id: 'envoy~10.0.0.1~pod.bookinfo~bookinfo.svc.cluster.local' }), /type "envoy" is not one of/],
    [grpcBootstrap({ ...bootstrapNode, id: 'sidecar~10.0.0.1~pod~bookinfo.svc.cluster.local' }), /third part must be <pod>\.<namespace>/],
  ];
  for (const [text, expected] of cases) {
    const result = fromBootstrap(text);
    assert.not.ok(result.ok, text);
    if (!result.ok) assert.match(result.error, expected);
  }
});

grpc.run();

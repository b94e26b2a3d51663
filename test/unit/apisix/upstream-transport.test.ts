// Istio's transport_socket_matches: mTLS only to endpoints labelled tlsMode=istio, plaintext to the
// rest (services without sidecars, WorkloadEntries without the label). An upstream speaking TLS to a
// plaintext server fails every request (`SSL_do_handshake() failed … wrong version number`).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { renderUpstream, DEFAULT_SETTINGS } from '../../../src/adapters/apisix/render-upstream.js';
import { FidelityReport } from '../../../src/domain/fidelity.js';
import type { Cluster } from '../../../src/domain/mesh/cluster.js';
import type { Endpoint, EndpointSet } from '../../../src/domain/mesh/endpoint.js';

const s = suite('upstream transport per endpoint tlsMode');

const cluster = (onlyIstioEndpoints: boolean, protocol: Cluster['protocol'] = 'http1'): Cluster => ({
  name: 'outbound|9080||reviews.default.svc.cluster.local',
  discovery: 'eds',
  edsName: 'outbound|9080||reviews.default.svc.cluster.local',
  lb: 'round-robin',
  connectTimeoutMs: 10_000,
  protocol,
  tls: { sni: 'outbound_.9080_._.reviews.default.svc.cluster.local', certificateSecret: 'default', validationSecret: 'ROOTCA', alpn: ['istio'], onlyIstioEndpoints },
  inlineEndpoints: undefined,
  healthCheck: undefined,
  outlierDetection: undefined,
  localityWeighted: false,
});

const endpoint = (host: string, tlsMode: string | undefined, weight = 1): Endpoint => ({ host, port: 9080, weight, health: 'healthy', tlsMode });
const endpointsOf = (...endpoints: Endpoint[]): EndpointSet => ({ name: 'reviews', localities: [{ locality: '', priority: 0, weight: undefined, endpoints }] });

function render(c: Cluster, endpoints: EndpointSet) {
  const fidelity = new FidelityReport();
  const upstream = renderUpstream(c, endpoints, DEFAULT_SETTINGS, { labels: {}, fidelity, clientCertId: 'ssl-default' });
  return { upstream, records: fidelity.records };
}

s('no endpoint labelled tlsMode=istio: plaintext http, no client certificate, nothing reported about TLS', () => {
  const { upstream, records } = render(cluster(true), endpointsOf(endpoint('10.0.0.1', undefined), endpoint('10.0.0.2', 'disabled')));
  assert.is(upstream.scheme, 'http');
  assert.is(upstream.tls, undefined);
  assert.equal(
    upstream.nodes.map((n) => n.host),
    ['10.0.0.1', '10.0.0.2'],
  );
  assert.ok(!records.some((r) => r.field.startsWith('transport_socket')), JSON.stringify(records));
});

s('HTTP/2 plaintext endpoints: grpc, not grpcs', () => {
  assert.is(render(cluster(true, 'http2'), endpointsOf(endpoint('10.0.0.1', undefined))).upstream.scheme, 'grpc');
});

s('every endpoint labelled tlsMode=istio: https with the workload certificate', () => {
  const { upstream } = render(cluster(true), endpointsOf(endpoint('10.0.0.1', 'istio'), endpoint('10.0.0.2', 'istio')));
  assert.is(upstream.scheme, 'https');
  assert.equal(upstream.tls, { client_cert_id: 'ssl-default' });
  assert.is(upstream.nodes.length, 2);
});

s('a mix: the larger weight decides, only its endpoints are used, and the cluster is reported', () => {
  const mostlyPlain = render(cluster(true), endpointsOf(endpoint('10.0.0.1', 'istio'), endpoint('10.0.0.2', undefined), endpoint('10.0.0.3', undefined)));
  assert.is(mostlyPlain.upstream.scheme, 'http');
  assert.equal(
    mostlyPlain.upstream.nodes.map((n) => n.host),
    ['10.0.0.2', '10.0.0.3'],
  );
  const record = mostlyPlain.records.find((r) => r.field === 'transport_socket_matches');
  assert.ok(record, 'reported');
  assert.is(record.resource.name, 'outbound|9080||reviews.default.svc.cluster.local');
  const mostlyTls = render(cluster(true), endpointsOf(endpoint('10.0.0.1', 'istio', 5), endpoint('10.0.0.2', undefined, 1)));
  assert.is(mostlyTls.upstream.scheme, 'https');
  assert.equal(
    mostlyTls.upstream.nodes.map((n) => n.host),
    ['10.0.0.1'],
  );
});

s('plain TLS (transport_socket, no match criteria) stays TLS whatever the labels', () => {
  assert.is(render(cluster(false), endpointsOf(endpoint('10.0.0.1', undefined))).upstream.scheme, 'https');
});

s.run();

// TCP proxy chains → stream routes and their upstreams as APISIX's stream subsystem runs them: TLS to
// an upstream only with `scheme: tls` (`https` is ignored there and plaintext goes out), no way to
// send the cluster's SNI, and `sni` matching only on TLS APISIX terminates itself.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { translateSnapshot } from '../../../src/adapters/apisix/translate.js';
import type { ApisixStreamRoute, ApisixUpstream } from '../../../src/adapters/apisix/apisix-types.js';
import type { Cluster } from '../../../src/domain/mesh/cluster.js';
import type { FilterChain, Listener } from '../../../src/domain/mesh/listener.js';
import { createSnapshot } from '../../../src/domain/snapshot.js';

const s = suite('stream upstreams');

const mysql = 'outbound|3306||mysql.default.svc.cluster.local';
const cluster = (name: string, tls: boolean): Cluster => ({
  name,
  discovery: 'static',
  edsName: name,
  lb: 'round-robin',
  connectTimeoutMs: 1000,
  protocol: 'http1',
  tls: tls ? { sni: `outbound_.3306_._.${name}`, certificateSecret: undefined, validationSecret: undefined, alpn: [], onlyIstioEndpoints: false } : undefined,
  inlineEndpoints: {
    name,
    localities: [{ locality: '', priority: 0, weight: undefined, endpoints: [{ host: '10.1.0.7', port: 3306, weight: undefined, health: 'healthy', tlsMode: undefined }] }],
  },
  healthCheck: undefined,
  outlierDetection: undefined,
  localityWeighted: false,
});
const chain = (clusterName: string, serverNames: string[] = []): FilterChain => ({
  name: undefined,
  match: { destinationPort: undefined, serverNames, transportProtocol: undefined, applicationProtocols: [], prefixRanges: [] },
  tls: undefined,
  protocol: { kind: 'tcp', backends: [{ cluster: clusterName, weight: 1 }] },
});
const listener = (name: string, port: number, chains: FilterChain[]): Listener => ({ name, address: { host: '10.96.0.9', port }, role: 'regular', chains });

function translate(clusters: Cluster[], listeners: Listener[]) {
  const result = translateSnapshot(createSnapshot('v1', { listeners, clusters }));
  assert.ok(result.ok, JSON.stringify(!result.ok && result.error));
  const { config, report } = result.value;
  return {
    upstreams: config.ofKind('upstreams').map((o) => o.value as unknown as ApisixUpstream),
    streamRoutes: config.ofKind('stream_routes').map((o) => o.value as unknown as ApisixStreamRoute),
    records: report.records,
  };
}

s('a TLS cluster behind a TCP proxy gets scheme tls, and the lost upstream SNI is reported', () => {
  const { upstreams, streamRoutes, records } = translate([cluster(mysql, true)], [listener('10.96.0.9_3306', 3306, [chain(mysql)])]);
  assert.is(upstreams.length, 1);
  assert.is(upstreams[0]!.scheme, 'tls');
  assert.is(streamRoutes[0]!.upstream_id, upstreams[0]!.id);
  assert.ok(records.some((r) => r.resource.name === mysql && r.field === 'transport_socket.sni'));
});

s('a plaintext cluster behind a TCP proxy gets scheme tcp', () => {
  const { upstreams } = translate([cluster(mysql, false)], [listener('10.96.0.9_3306', 3306, [chain(mysql)])]);
  assert.is(upstreams[0]!.scheme, 'tcp');
});

s('server_names on a passthrough chain are not rendered as sni (APISIX would terminate TLS without a certificate) and are reported', () => {
  const { streamRoutes, records } = translate([cluster(mysql, false)], [listener('10.96.0.9_443', 443, [chain(mysql, ['db.example.com'])])]);
  assert.is(streamRoutes[0]!.sni, undefined);
  assert.is(streamRoutes[0]!.server_port, 443);
  assert.ok(records.some((r) => r.resource.name === '10.96.0.9_443' && r.field.endsWith('filter_chain_match.server_names')));
});

s.run();

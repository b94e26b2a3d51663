// What a real APISIX 3.18 does with our translation, where our own models once agreed with us and
// APISIX did not (issue 11): Istio's per-endpoint tlsMode (plaintext endpoints over plaintext, mTLS
// with the workload certificate to tlsMode=istio ones, the server verifying the SPIFFE identity),
// appended response headers, values a YAML 1.1 reader would change, a file holding private keys read
// by workers running as nobody, stream upstreams with TLS, the Admin API with stream mode off, and
// absolute redirects. Requests go through APISIX to real servers. Runs per build present. Issue 12,
// item 3: a `$` in header values, a direct response body and a redirect location arrives literally
// (APISIX would otherwise copy the request's Authorization into the response).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { createServer as createTcpServer, connect, type Server as TcpServer, type AddressInfo } from 'node:net';
import { stat } from 'node:fs/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { AdminApiSink } from '../../src/adapters/admin-api-sink/admin-api-sink.js';
import { translateSnapshot } from '../../src/adapters/apisix/translate.js';
import { FileConfigSink } from '../../src/adapters/file-sink/file-sink.js';
import { diffConfigs } from '../../src/domain/diff.js';
import { GatewayConfig } from '../../src/domain/gateway-config.js';
import type { Listener } from '../../src/domain/mesh/listener.js';
import type { Secret } from '../../src/domain/mesh/secret.js';
import { SecretText } from '../../src/domain/secret-text.js';
import { createSnapshot } from '../../src/domain/snapshot.js';
import { EtcdProcess, findEtcd } from '../support/etcd-process.js';
import { ADMIN_KEY, ApisixInstance, apisixBuilds, NOBODY_GROUP, type ApisixBuild } from '../support/real-apisix.js';
import { deliver, rawRequest, withProbe, type RawResponse } from '../support/real-first-match.js';
import { tableOf, virtualHostOf } from '../support/route-generators.js';
import { endpointAt, forwardTo, httpListener, prefixRoute, staticCluster, tcpListener } from '../support/mesh-builders.js';
import { makeTestPki, type TestPki } from '../support/test-pki.js';

const { builds, missing } = apisixBuilds();
for (const reason of missing) console.log(`real APISIX traffic: skipped: ${reason}`);
const etcdBinary = findEtcd();

const HTTP_PORT = 9080;
const STREAM_PORT = 3306;
const STREAM_TLS_PORT = 3307;
const SPIFFE = 'spiffe://cluster.local/ns/bookinfo/sa/reviews';

// === the mesh: one HTTP listener with a route per case, TCP listeners, Istio-shaped clusters ===

const endpoint = (port: number, tlsMode: string | undefined) => endpointAt('127.0.0.1', port, tlsMode);
const route = prefixRoute;
const forward = forwardTo;
const cluster = (name: string, endpoints: Parameters<typeof staticCluster>[1], tls: Parameters<typeof staticCluster>[2] = 'istio-auto') => staticCluster(name, endpoints, tls);
const tcpAt = (port: number, clusterName: string): Listener => tcpListener('0.0.0.0', port, clusterName);

interface Servers {
  readonly http: number;
  readonly mtls: number;
  readonly tcp: number;
  readonly tlsTcp: number;
}

/** The mesh under test; `streams` adds the TCP listeners (stream routes). */
function meshSnapshot(version: string, servers: Servers, pki: TestPki, options: { streams: boolean; mtls: boolean }) {
  const yaml11 = {
    add: [
      { name: 'x-yes', value: 'yes', action: 'overwrite' as const },
      { name: 'x-octal', value: '0755', action: 'overwrite' as const },
    ],
    remove: [],
  };
  const literalDollars = {
    response: {
      add: [
        { name: 'x-literal', value: '$http_authorization', action: 'overwrite' as const },
        { name: 'x-literal-added', value: 'Bearer ${http_authorization}', action: 'append' as const },
      ],
      remove: [],
    },
    request: { add: [{ name: 'x-request-literal', value: '$http_authorization $1 $$host', action: 'overwrite' as const }], remove: [] },
  };
  const appended = {
    add: [
      { name: 'x-added', value: 'one', action: 'append' as const },
      { name: 'x-added', value: 'two', action: 'append' as const },
    ],
    remove: [],
  };
  const routes = [
    route('/plain', forward('outbound|9080||plain.default.svc.cluster.local')),
    route('/headers', forward('outbound|9080||plain.default.svc.cluster.local'), appended, {
      add: [
        { name: 'x-on', value: 'on', action: 'overwrite' },
        { name: 'x-null', value: '~', action: 'overwrite' },
      ],
      remove: [],
    }),
    route('/yaml11', forward('outbound|9080||plain.default.svc.cluster.local'), yaml11),
    route('/moved', { kind: 'redirect', scheme: undefined, host: undefined, port: undefined, path: { kind: 'path', value: '/new' }, responseCode: 302, stripQuery: false }),
    route('/dollar-headers', forward('outbound|9080||plain.default.svc.cluster.local'), literalDollars.response, literalDollars.request),
    route('/dollar-body', { kind: 'direct-response', status: 200, body: 'token=$http_authorization ${http_authorization} $1' }),
    route('/dollar-moved', {
      kind: 'redirect',
      scheme: undefined,
      host: undefined,
      port: undefined,
      path: { kind: 'path', value: '/pay/$http_authorization' },
      responseCode: 302,
      stripQuery: true,
    }),
  ];
  if (options.mtls) routes.push(route('/mtls', forward('outbound|9080||secure.default.svc.cluster.local')));
  const workload = pki.workloads[1];
  const secrets: Secret[] = [
    { kind: 'certificate', name: 'default', certificateChain: workload.chain, privateKey: workload.key },
    { kind: 'validation', name: 'ROOTCA', trustedCa: pki.root },
  ];
  return createSnapshot(version, {
    listeners: [httpListener(HTTP_PORT), ...(options.streams ? [tcpAt(STREAM_PORT, 'tcp-plain'), ...(options.mtls ? [tcpAt(STREAM_TLS_PORT, 'tcp-tls')] : [])] : [])],
    routeTables: [tableOf(String(HTTP_PORT), [virtualHostOf('svc', ['*'], routes)])],
    clusters: [
      // Istio auto-mTLS: TLS only to endpoints labelled tlsMode=istio; these have no label (no sidecar).
      cluster('outbound|9080||plain.default.svc.cluster.local', [endpoint(servers.http, undefined)]),
      cluster('outbound|9080||secure.default.svc.cluster.local', [endpoint(servers.mtls, 'istio')]),
      cluster('tcp-plain', [endpoint(servers.tcp, undefined)], 'none'),
      cluster('tcp-tls', [endpoint(servers.tlsTcp, 'istio')], 'tls'),
    ],
    secrets,
  });
}

function translate(version: string, servers: Servers, pki: TestPki, options: { streams: boolean; mtls: boolean }): GatewayConfig {
  const result = translateSnapshot(meshSnapshot(version, servers, pki, options), { portVariable: 'server_port' });
  if (!result.ok) throw new Error(JSON.stringify(result.error));
  return withProbe(result.value.config);
}

// === real servers behind APISIX ===

interface Peers extends Servers {
  readonly tcpSeen: string[];
  readonly tlsSeen: string[];
  close(): Promise<void>;
}

async function listen(server: Server | TcpServer): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function startPeers(pki: TestPki): Promise<Peers> {
  const echo = (req: IncomingMessage, res: ServerResponse): void => void res.end(JSON.stringify({ path: req.url, headers: req.headers }));
  const http = createServer(echo);
  // A sidecar's inbound side as Istio has it: mTLS required, the client's SPIFFE identity checked.
  const mtls = createTlsServer({ key: pki.workloads[0].key, cert: pki.workloads[0].chain, ca: pki.root, requestCert: true, rejectUnauthorized: true }, (socket: TLSSocket) => {
    const san = socket.getPeerCertificate().subjectaltname ?? '';
    socket.once('data', () => {
      const body = san.includes(`URI:${SPIFFE}`) ? `peer ${SPIFFE}` : `wrong peer identity: ${san}`;
      socket.end(`HTTP/1.1 ${san.includes(`URI:${SPIFFE}`) ? 200 : 403} OK\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
    });
  });
  const tcpSeen: string[] = [];
  const tcp = createTcpServer((socket) =>
    socket.on('data', (data) => {
      tcpSeen.push(data.toString());
      socket.end(`tcp:${data.toString()}`);
    }),
  );
  const tlsSeen: string[] = [];
  const tlsTcp = createTlsServer({ key: pki.workloads[0].key, cert: pki.workloads[0].chain, ca: pki.root, requestCert: true, rejectUnauthorized: true }, (socket: TLSSocket) => {
    socket.on('data', (data) => {
      tlsSeen.push(`${socket.getPeerCertificate().subjectaltname ?? ''} ${data.toString()}`);
      socket.end(`tls:${data.toString()}`);
    });
  });
  const ports = { http: await listen(http), mtls: await listen(mtls), tcp: await listen(tcp), tlsTcp: await listen(tlsTcp) };
  return {
    ...ports,
    tcpSeen,
    tlsSeen,
    close: async () => {
      for (const server of [http, mtls, tcp, tlsTcp]) await new Promise((resolve) => server.close(resolve));
    },
  };
}

const get = (instance: ApisixInstance, path: string): Promise<RawResponse> => rawRequest(instance.ip, { port: HTTP_PORT, host: 'svc.example', path, method: 'GET', headers: {} });

function tcpExchange(ip: string, port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: ip, port }, () => socket.write(text));
    let answer = '';
    socket.setTimeout(5000, () => socket.destroy(new Error(`no answer on ${ip}:${port}`)));
    socket.on('data', (d) => (answer += d.toString()));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
}

function suiteFor(build: ApisixBuild): void {
  const s = suite(`real APISIX 3.18 (${build.name} nginx): translated traffic`);
  let pki: TestPki;
  let peers: Peers;
  s.before(async () => {
    pki = makeTestPki();
    peers = await startPeers(pki);
  });
  s.after(() => peers.close());

  const streams = build.streamModule !== undefined || build.privilegedAgent;

  s('apisix.yaml (group nogroup, private keys inside): plaintext endpoints over plaintext, headers as Envoy adds them, YAML 1.1 words kept, absolute redirects', async () => {
    const instance = await ApisixInstance.start({ build, mode: { kind: 'yaml' }, httpPorts: [HTTP_PORT], ...(streams ? { streamPorts: [STREAM_PORT] } : {}) });
    try {
      const sink = new FileConfigSink({ path: instance.configFile, group: String(NOBODY_GROUP) });
      const config = translate('v1', peers, pki, { streams, mtls: false });
      assert.ok(config.ofKind('ssls').length > 0, 'the workload certificate is in the file');
      await deliver(sink, GatewayConfig.empty(), config, instance.ip, HTTP_PORT);
      const mode = await stat(instance.configFile);
      assert.is((mode.mode & 0o777).toString(8), '640');
      assert.is(mode.gid, NOBODY_GROUP);

      const plain = await get(instance, '/plain/x');
      assert.is(plain.status, 200, `plaintext endpoint through an Istio auto-mTLS cluster: ${plain.body}`);

      const headers = await get(instance, '/headers');
      assert.is(headers.status, 200);
      assert.is(headers.headers.get('x-added'), 'one, two', 'both appended response header values (Envoy appends)');
      const seen = JSON.parse(headers.body) as { headers: Record<string, string> };
      assert.is(seen.headers['x-on'], 'on');
      assert.is(seen.headers['x-null'], '~');

      const yaml11 = await get(instance, '/yaml11');
      assert.is(yaml11.headers.get('x-yes'), 'yes');
      assert.is(yaml11.headers.get('x-octal'), '0755');

      const moved = await get(instance, '/moved');
      assert.is(moved.status, 302);
      assert.is(moved.headers.get('location'), `http://svc.example/new`);

      const withCredentials = (path: string): Promise<RawResponse> =>
        rawRequest(instance.ip, { port: HTTP_PORT, host: 'svc.example', path, method: 'GET', headers: { Authorization: 'Bearer secret-token' } });
      const dollars = await withCredentials('/dollar-headers');
      assert.is(dollars.status, 200, dollars.body);
      assert.is(dollars.headers.get('x-literal'), '$http_authorization', 'response header value arrives literally');
      assert.is(dollars.headers.get('x-literal-added'), 'Bearer ${http_authorization}');
      assert.is(
        (JSON.parse(dollars.body) as { headers: Record<string, string> }).headers['x-request-literal'],
        '$http_authorization $1 $$host',
        'request header value arrives literally',
      );
      assert.not.match(JSON.stringify([...dollars.headers]), /secret-token/);
      const body = await withCredentials('/dollar-body');
      assert.is(body.status, 200);
      assert.is(body.body, 'token=$http_authorization ${http_authorization} $1');
      const dollarMoved = await withCredentials('/dollar-moved');
      assert.is(dollarMoved.status, 302);
      assert.is(dollarMoved.headers.get('location'), '/pay/$http_authorization', 'the literal location (relative: regex_uri cannot hold the request host)');

      if (streams) assert.is(await tcpExchange(instance.ip, STREAM_PORT, 'ping'), 'tcp:ping', 'stream route to a plaintext TCP upstream');
      assert.equal(await instance.errors(), [], 'error.log');
    } finally {
      await instance.stop();
    }
  });

  s('apisix.yaml without a group: mode 0600, which APISIX (nobody) cannot read', async () => {
    const instance = await ApisixInstance.start({ build, mode: { kind: 'yaml' }, httpPorts: [HTTP_PORT] });
    try {
      const sink = new FileConfigSink({ path: instance.configFile });
      const config = translate('v1', peers, pki, { streams: false, mtls: false });
      await sink.apply({ desired: config, changes: diffConfigs(GatewayConfig.empty(), config) });
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && !(await instance.errorLog()).includes('Permission denied')) await new Promise((r) => setTimeout(r, 100));
      assert.match(await instance.errorLog(), /Permission denied/);
      assert.is((await get(instance, '/plain/x')).status, 404, 'the route never arrived');
    } finally {
      await instance.stop();
    }
  });

  if (build.privilegedAgent) {
    s('tlsMode=istio endpoints: upstream mTLS with the workload certificate, the server verifying the SPIFFE identity; TLS stream upstreams (scheme tls)', async () => {
      const instance = await ApisixInstance.start({ build, mode: { kind: 'yaml' }, httpPorts: [HTTP_PORT], streamPorts: [STREAM_PORT, STREAM_TLS_PORT] });
      try {
        const sink = new FileConfigSink({ path: instance.configFile, group: String(NOBODY_GROUP) });
        await deliver(sink, GatewayConfig.empty(), translate('v1', peers, pki, { streams: true, mtls: true }), instance.ip, HTTP_PORT);
        const mtls = await get(instance, '/mtls');
        assert.is(mtls.status, 200, mtls.body);
        assert.is(mtls.body, `peer ${SPIFFE}`);
        assert.is(await tcpExchange(instance.ip, STREAM_TLS_PORT, 'hello'), 'tls:hello', 'stream route to a TLS upstream');
        assert.ok(
          peers.tlsSeen.some((line) => line.includes(`URI:${SPIFFE}`)),
          `the TLS stream upstream saw the workload certificate: ${peers.tlsSeen.join(' | ')}`,
        );
        assert.equal(await instance.errors(), [], 'error.log');
      } finally {
        await instance.stop();
      }
    });
  }

  if (etcdBinary.ok) {
    s("Admin API with stream mode off (APISIX's default): HTTP objects applied, stream routes reported; with stream mode on, delivered and proxied", async () => {
      const etcd = await EtcdProcess.start(etcdBinary.path);
      try {
        for (const streamMode of [false, true]) {
          if (streamMode && !streams) continue;
          const instance = await ApisixInstance.start({
            build,
            mode: { kind: 'admin', etcd: etcd.url, prefix: `/amesh-admin-${build.name}-${String(streamMode)}` },
            httpPorts: [HTTP_PORT],
            ...(streamMode ? { streamPorts: [STREAM_PORT] } : {}),
          });
          const sink = new AdminApiSink({ url: instance.adminUrl, apiKey: new SecretText(ADMIN_KEY), resyncMs: 0 });
          try {
            const result = await deliver(sink, GatewayConfig.empty(), translate('v1', peers, pki, { streams: true, mtls: false }), instance.ip, HTTP_PORT);
            assert.is((await get(instance, '/plain/x')).status, 200);
            if (streamMode) {
              assert.equal(result.unserved ?? [], []);
              assert.is(await tcpExchange(instance.ip, STREAM_PORT, 'ping'), 'tcp:ping');
            } else {
              assert.ok(
                (result.unserved ?? []).some((u) => u.key.startsWith('stream_routes/')),
                JSON.stringify(result),
              );
            }
          } finally {
            sink.close();
            await instance.stop();
          }
        }
      } finally {
        await etcd.stop();
      }
    });
  }

  s.run();
}

for (const build of builds) suiteFor(build);

// `amesh sidecar` against go-control-plane's own integration-test server (pkg/test/main), in SotW ADS
// (`-xds ads`) and Delta ADS (`-xds delta-ads`), node id `test-id`.
//
// That server pushes snapshot v0, then checks the data plane by sending HTTP requests to its listener
// ports (base, base+1, ...) expecting its upstream's body, and only after those batches moves on to v1,
// v2 (every version renames its resources: cluster-v0-N → cluster-v1-N, route-v0-PORT → route-v1-PORT).
// A failed version makes it exit 1. So the test stands in for APISIX: a small TCP forwarder on each
// listener port looks up, in the sidecar's memory sink, the stream route or route (matched by
// `--port-variable server_port`) for that port, and forwards the connection to its upstream's node,
// where an echo server answers "Default message". The server passing all its versions is thus
// go-control-plane's own verdict that the applied config routes its listeners to its clusters.
//
// Between the sidecar and the server, a recording proxy sees the raw protocol: every response is ACKed
// (SotW: with that response's version and nonce; Delta: its nonce), none is NACKed. The sink follows
// the renames, and the forwarder used each version's clusters. Skipped when the peers are not built.
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect, createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { GatewayConfig } from '../../src/domain/gateway-config.js';
import type { JsonValue } from '../../src/domain/json.js';
import { type GoControlPlanePeer, freePort, peersAvailable, startGoControlPlane } from '../support/peers.js';
import { ackCounts, type AppliedRecord, type MeshSidecar, plainNode, startMeshSidecar, withTimeout } from '../support/mesh-sidecar.js';
import { RecordingAdsProxy } from '../support/recording-ads-proxy.js';

const NAME = 'go-control-plane-sidecar';
const MESSAGE = 'Default message';
const UPDATES = 3;
/** HTTP (RDS) and TCP listeners; no scoped-RDS ones (amesh does not translate SRDS, see below). */
const HTTP_LISTENERS = 2;
const TCP_LISTENERS = 2;
const LISTENERS = HTTP_LISTENERS + TCP_LISTENERS;
const available = peersAvailable();

/** The echo upstream go-control-plane's clusters point at. */
async function startEcho(): Promise<{ server: HttpServer; port: number }> {
  const server = createHttpServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(MESSAGE);
  });
  const port = await freePort();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return { server, port };
}

interface Forwarded {
  readonly at: number;
  readonly port: number;
  /** The upstream's name (its cluster), or undefined when the sink had nothing for the port. */
  readonly cluster: string | undefined;
}

const routeMatchesPort = (vars: JsonValue | undefined, port: number): boolean =>
  Array.isArray(vars) &&
  vars.some(
    (v) => Array.isArray(v) && v[0] === 'server_port' && ((v[1] === '==' && v[2] === String(port)) || (v[1] === 'in' && Array.isArray(v[2]) && v[2].includes(String(port)))),
  );

/** Where APISIX would send a connection to `port`, per the applied config: the upstream's name and first node. */
function upstreamForPort(config: GatewayConfig, port: number): { cluster: string; host: string; port: number } | undefined {
  const route = config.ofKind('stream_routes').find((r) => r.value['server_port'] === port) ?? config.ofKind('routes').find((r) => routeMatchesPort(r.value['vars'], port));
  if (!route) return undefined;
  const upstream = config.objects.get(`upstreams/${String(route.value['upstream_id'])}`);
  const nodes = upstream?.value['nodes'];
  const node = Array.isArray(nodes) ? nodes[0] : undefined;
  if (!upstream || !node || typeof node !== 'object' || Array.isArray(node)) return undefined;
  return { cluster: String(upstream.value['name']), host: String(node['host']), port: Number(node['port']) };
}

/** A stand-in for APISIX's listeners: forwards each connection as the sink's config says. */
class SinkForwarder {
  readonly forwarded: Forwarded[] = [];
  private readonly servers: NetServer[] = [];
  private readonly sockets = new Set<Socket>();

  constructor(private readonly config: () => GatewayConfig | undefined) {}

  /** Binds `count` consecutive loopback ports; returns the first. */
  async listen(count: number): Promise<number> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const base = 20_000 + Math.floor(Math.random() * 40_000);
      try {
        for (let i = 0; i < count; i++) this.servers.push(await this.bind(base + i));
        return base;
      } catch {
        await this.close();
      }
    }
    throw new Error(`no ${count} consecutive free ports`);
  }

  private bind(port: number): Promise<NetServer> {
    const server = createNetServer((socket) => this.forward(port, socket));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve(server));
    });
  }

  private forward(port: number, socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    const config = this.config();
    const target = config ? upstreamForPort(config, port) : undefined;
    this.forwarded.push({ at: Date.now(), port, cluster: target?.cluster });
    if (!target) {
      socket.destroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    this.sockets.add(upstream);
    upstream.on('close', () => this.sockets.delete(upstream));
    upstream.on('error', () => socket.destroy());
    socket.pipe(upstream).pipe(socket);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await Promise.all(this.servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

/** upstream_ids that routes, stream routes and traffic-split rules name but the config lacks. */
function danglingUpstreamIds(config: GatewayConfig): string[] {
  const ids = new Set(config.ofKind('upstreams').map((u) => u.id));
  const named = [...config.ofKind('routes'), ...config.ofKind('stream_routes')].flatMap((r) => [
    r.value['upstream_id'],
    ...[...JSON.stringify(r.value['plugins'] ?? {}).matchAll(/"upstream_id":"([^"]+)"/g)].map((m) => m[1]),
  ]);
  return named.filter((id): id is string => typeof id === 'string' && !ids.has(id));
}

/** `cluster-vK-N` → K. */
const versionOfCluster = (name: string): string | undefined => /^cluster-(v\d+)-\d+$/.exec(name)?.[1];

function clusterVersions(config: GatewayConfig): string[] {
  return [...new Set(config.ofKind('upstreams').map((u) => versionOfCluster(String(u.value['name'])) ?? `other:${String(u.value['name'])}`))].sort();
}

for (const [gcpMode, clientMode] of [
  ['ads', 'sotw'],
  ['delta-ads', 'delta'],
] as const) {
  const s = suite(`${NAME} (${gcpMode}): go-control-plane's test server drives amesh sidecar through its snapshot versions`);
  if (!available.goControlPlane) {
    console.log(`${NAME} (${gcpMode}): skipped: peers not built (run scripts/peers/build-peers.sh): ${available.reason ?? ''}`);
  } else {
    s(`every snapshot is ACKed and reflected in the sink; go-control-plane's own HTTP checks pass (${clientMode})`, async () => {
      let gcp: GoControlPlanePeer | undefined;
      let proxy: RecordingAdsProxy | undefined;
      let sidecar: MeshSidecar | undefined;
      let echo: HttpServer | undefined;
      const forwarder = new SinkForwarder(() => sidecar?.sink.applied);
      try {
        const upstream = await startEcho();
        echo = upstream.server;
        const base = await forwarder.listen(LISTENERS);
        gcp = await startGoControlPlane({
          mode: gcpMode,
          nodeId: 'test-id',
          // -scopedhttp=0: amesh does not subscribe to SRDS, so it never asks for the scoped listeners'
          // routes; in ADS mode go-control-plane answers an RDS request only when it names every route
          // of the snapshot (its "superset" rule), so no route would ever come. -vhdshttp only applies to -xds=delta.
          flags: { upstream: upstream.port, base, u: UPDATES, r: 4, delay: '300ms', http: HTTP_LISTENERS, tcp: TCP_LISTENERS, scopedhttp: 0, vhdshttp: 0 },
        });
        proxy = new RecordingAdsProxy(gcp.address);
        const target = await proxy.start();
        sidecar = await startMeshSidecar({ target, mode: clientMode, node: plainNode('test-id'), workloadCertificates: false, portVariable: 'server_port' });
        const started = Date.now();
        const exitCode = await withTimeout(gcp.exited, 30_000, () => `go-control-plane still running; last output:\n${gcp?.logs().slice(-3000)}`);
        const logs = gcp.logs();
        console.log(`${NAME} (${gcpMode}): go-control-plane went through ${UPDATES} versions and exited ${exitCode} after ${Date.now() - started} ms`);
        assert.is(exitCode, 0, `go-control-plane's checks failed; output:\n${logs.slice(-3000)}`);
        assert.match(logs, `Test for ${gcpMode} passed!`);

        // The sink went v0 → v1 → v2. Every applied config names one version's clusters only, all
        // pointing at the echo upstream, and never references an upstream it lacks. go-control-plane's
        // Delta ADS is not ordered: a version's RDS/EDS removals may come before the CDS/LDS that stop
        // referencing them, and are applied as they come (a route table or a cluster's endpoints gone
        // for a few ms); such transitional configs are counted, not failed.
        const versions: string[] = [];
        let transitional = 0;
        const complete = new Set<AppliedRecord>();
        for (const record of sidecar.sink.history) {
          const seen = clusterVersions(record.config);
          assert.is(seen.length, 1, `applied ${record.version} mixes cluster versions: ${seen.join(', ')}`);
          if (versions.at(-1) !== seen[0]) versions.push(seen[0]!);
          assert.equal(danglingUpstreamIds(record.config), [], `applied ${record.version} references missing upstreams`);
          let whole = record.config.ofKind('routes').length === HTTP_LISTENERS && record.config.ofKind('stream_routes').length === TCP_LISTENERS;
          for (const u of record.config.ofKind('upstreams')) {
            const nodes = JSON.stringify(u.value['nodes']);
            if (nodes === '[]') whole = false;
            else assert.equal(u.value['nodes'], [{ host: '127.0.0.1', port: upstream.port, weight: 1 }], `${String(u.value['name'])} nodes`);
          }
          if (whole) complete.add(record);
          else transitional += 1;
        }
        assert.equal(
          versions,
          Array.from({ length: UPDATES }, (_, i) => `v${i}`),
          'the sink followed every snapshot, in order',
        );
        for (let k = 0; k < UPDATES; k++) {
          // Version k was applied whole: the snapshot, renamed — 4 clusters, 2 HTTP routes, 2 stream routes.
          const record = sidecar.sink.history.find((h) => complete.has(h) && clusterVersions(h.config)[0] === `v${k}`);
          assert.ok(record, `v${k} was never applied whole`);
          const last = record.config;
          // A cluster that both routes and TCP proxies use has two upstreams: APISIX's stream proxy takes only tcp/tls.
          assert.equal(
            [...new Set(last.ofKind('upstreams').map((u) => u.value['name']))].sort(),
            [0, 1, 2, 3].map((i) => `cluster-v${k}-${i}`),
          );
          const routeNames = last
            .ofKind('routes')
            .map((r) => String(r.value['name']).split('/')[0])
            .sort();
          assert.equal(
            routeNames,
            [base, base + 1].map((p) => `route-v${k}-${p}`),
            `v${k} routes`,
          );
          for (let i = 0; i < LISTENERS; i++) assert.ok(upstreamForPort(last, base + i)?.cluster.startsWith(`cluster-v${k}-`), `v${k}: port ${base + i} routed to a v${k} cluster`);
        }
        const final = sidecar.sink.history.at(-1)!;
        assert.ok(complete.has(final) && clusterVersions(final.config)[0] === `v${UPDATES - 1}`, 'the sink ends on the whole last snapshot');
        // The forwarder (APISIX's stand-in) sent traffic through every version's clusters.
        for (let k = 0; k < UPDATES; k++)
          assert.ok(
            forwarder.forwarded.some((f) => f.cluster?.startsWith(`cluster-v${k}-`)),
            `no connection used a v${k} cluster; forwarded ${JSON.stringify(forwarder.forwarded.slice(0, 20))}`,
          );
        const passes = logs.split('\n').filter((l) => /request batch \d+, ok \d+, failed 0, pass true/.test(l)).length;
        assert.ok(passes >= UPDATES, `passing batches: ${passes}`);

        // The protocol on the wire: every response answered by an ACK.
        const types = new Set<string>();
        if (clientMode === 'sotw') {
          const responses = proxy.sotwResponses();
          assert.ok(responses.length >= 4 * UPDATES, `${responses.length} responses`);
          for (const response of responses) {
            types.add(response.message.typeUrl.split('.').at(-1)!);
            const answer = proxy.answerTo(response);
            const what = `${response.message.typeUrl} version ${response.message.versionInfo} nonce ${response.message.nonce}`;
            assert.ok(answer, `no ACK for ${what}`);
            assert.is(answer.message.errorDetail, undefined, `NACK for ${what}: ${JSON.stringify(answer.message.errorDetail)}`);
            assert.is(answer.message.versionInfo, response.message.versionInfo, `ACK of ${what} carries its version`);
          }
          const versionsOnWire = [...new Set(responses.map((r) => r.message.versionInfo))];
          assert.equal(
            versionsOnWire,
            Array.from({ length: UPDATES }, (_, i) => `v${i}`),
          );
          console.log(`${NAME} (${gcpMode}): ${responses.length} SotW responses (${[...types].join(', ')}), each ACKed with its version and nonce`);
        } else {
          const responses = proxy.deltaResponses();
          assert.ok(responses.length >= 4 * UPDATES, `${responses.length} responses`);
          let removed = 0;
          for (const response of responses) {
            types.add(response.message.typeUrl.split('.').at(-1)!);
            removed += response.message.removedResources.length;
            const answer = proxy.answerTo(response);
            const what = `${response.message.typeUrl} nonce ${response.message.nonce}`;
            assert.ok(answer, `no ACK for ${what}`);
            assert.is(answer.message.errorDetail, undefined, `NACK for ${what}: ${JSON.stringify(answer.message.errorDetail)}`);
          }
          assert.ok(removed > 0, 'the renames came as removals');
          console.log(`${NAME} (${gcpMode}): ${responses.length} Delta responses (${[...types].join(', ')}; ${removed} removals), each ACKed`);
        }
        assert.equal([...types].sort(), ['Cluster', 'ClusterLoadAssignment', 'Listener', 'RouteConfiguration']);
        const counts = ackCounts(sidecar.metrics);
        for (const [type, c] of Object.entries(counts)) {
          assert.is(c.nacks, 0, `${type} NACKed: ${sidecar.logger.nacks().join('; ')}`);
          assert.is(c.acks, c.responses, `${type}: ${c.acks} ACKs for ${c.responses} responses`);
        }
        console.log(
          `${NAME} (${gcpMode}): applied ${sidecar.sink.history.length} configurations (${transitional} transitional); forwarded ${forwarder.forwarded.length} connections (${forwarder.forwarded.filter((f) => !f.cluster).length} refused before config)`,
        );
      } finally {
        await sidecar?.stop();
        await proxy?.stop();
        await gcp?.stop();
        await forwarder.close();
        echo?.closeAllConnections();
        await new Promise<void>((resolve) => (echo ? echo.close(() => resolve()) : resolve()));
      }
    });
  }
  s.run();
}

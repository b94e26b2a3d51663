// A real APISIX 3.18 as a pod's sidecar behind `amesh intercept` (REDIRECT, IPv4 and IPv6), loading
// the project's original-destination Lua (docs/original-destination.md): routes translated with
// --port-variable amesh_original_dst_port are chosen by the port the application dialled, although
// every outbound connection arrives on 15001 and every inbound one on 15006; stream routes rendered
// from Istio's per-VIP TCP listeners are chosen by the VIP and port dialled, although APISIX's
// stream router matches what nginx says is the server address (127.0.0.1:15001). Backends live in a
// peer namespace; the app's connections come from an application uid inside the pod. Runs per
// APISIX build present (test/support/real-apisix.ts), the stream half where the build has stream Lua.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { translateSnapshot } from '../../src/adapters/apisix/translate.js';
import { FileConfigSink } from '../../src/adapters/file-sink/file-sink.js';
import { diffConfigs } from '../../src/domain/diff.js';
import { GatewayConfig } from '../../src/domain/gateway-config.js';
import type { Cluster } from '../../src/domain/mesh/cluster.js';
import { createSnapshot, type MeshSnapshot } from '../../src/domain/snapshot.js';
import { createNetns, deleteNetns, netnsUnavailable, sh } from '../support/netns.js';
import { HTTP_SERVER_SNIPPET } from '../support/original-dst.js';
import { ApisixInstance, apisixBuilds, NOBODY_GROUP, type ApisixBuild } from '../support/real-apisix.js';
import { tableOf, virtualHostOf } from '../support/route-generators.js';
import { endpointAt, forwardTo, httpListener, prefixRoute, staticCluster, tcpListener } from '../support/mesh-builders.js';
import { repoRoot } from '../support/shared-fixtures.js';

const MAIN = path.join(repoRoot, 'src/app/main.ts');
const ENDPOINT = path.join(repoRoot, 'test/support/netns-endpoint.ts');
const APP_UID = '4242';
const PORT_VARIABLE = 'amesh_original_dst_port';
const POD = { v4: '10.84.0.1', v6: 'fd84::1' };
const PEER = { v4: '10.84.0.2', v6: 'fd84::2' };
/** Where the peer's servers listen, per service port (what the clusters' endpoints say). */
const BACKEND = { http9080: 19080, http80: 10080, http8080: 18080, dbA: 15432, dbB: 25432, cache: 16379 };

// === the mesh: three HTTP route tables that serve the same host on different ports, TCP services per VIP ===

/** The peer's address on `port`: what the clusters' endpoints say. */
const peerCluster = (name: string, port: number): Cluster => staticCluster(name, [endpointAt(PEER.v4, port)]);

function mesh(): MeshSnapshot {
  const ports = [
    [9080, BACKEND.http9080],
    [80, BACKEND.http80],
    [8080, BACKEND.http8080],
  ] as const;
  return createSnapshot('v1', {
    listeners: [
      ...ports.map(([port]) => httpListener(port)),
      // One port, two VIPs, two databases; and a service known by its port alone.
      tcpListener('10.96.0.30', 5432, 'db-a'),
      tcpListener('10.96.0.31', 5432, 'db-b'),
      tcpListener('fd96::31', 5432, 'db-b'),
      tcpListener('0.0.0.0', 6379, 'cache'),
    ],
    // The same host ('*') in every table: only the port tells them apart.
    routeTables: ports.map(([port]) => tableOf(String(port), [virtualHostOf(`vh${port}`, ['*'], [prefixRoute('/', forwardTo(`http-${port}`))])])),
    clusters: [
      ...ports.map(([port, backend]) => peerCluster(`http-${port}`, backend)),
      peerCluster('db-a', BACKEND.dbA),
      peerCluster('db-b', BACKEND.dbB),
      peerCluster('cache', BACKEND.cache),
    ],
  });
}

// === talking from inside the namespaces ===

interface Answer {
  readonly label?: string;
  readonly localPort?: number;
  readonly error?: string;
  readonly error_msg?: string;
}
interface Target {
  readonly host: string;
  readonly port: number;
}

async function probe(netns: string, uid: string | undefined, targets: readonly Target[], http: boolean): Promise<Answer[]> {
  const asUser = uid ? ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups'] : [];
  const out = await sh('ip', ['netns', 'exec', netns, ...asUser, process.execPath, '--import', 'tsx', ENDPOINT, 'probe', JSON.stringify(targets.map((t) => ({ ...t, http })))]);
  return JSON.parse(out) as Answer[];
}

/** APISIX's file provider notices a new apisix.yaml within about a second: ask until a backend answers. */
async function untilServed(netns: string, target: Target, http: boolean, instance: ApisixInstance): Promise<void> {
  const deadline = Date.now() + 20_000;
  let last: Answer | undefined;
  while (Date.now() < deadline) {
    [last] = await probe(netns, APP_UID, [target], http);
    if (last?.label) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`no backend answered ${target.host}:${target.port} through APISIX: ${JSON.stringify(last)}\n${await instance.errorLog()}`);
}

function serve(netns: string, mode: 'serve' | 'serve-http', ports: readonly number[]): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '--import', 'tsx', ENDPOINT, mode, 'peer', ...ports.map(String)], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve(child));
    child.once('exit', (code) => reject(new Error(`peer ${mode} exited (${code})`)));
  });
}

const backendPorts = (answers: readonly Answer[]): (number | string | undefined)[] => answers.map((a) => a.localPort ?? a.error ?? a.error_msg);

function suiteFor(build: ApisixBuild): void {
  const s = suite(`real APISIX 3.18 (${build.name} nginx): routing on the original destination behind REDIRECT`);
  const ctx = { pod: '', peer: '', servers: [] as ChildProcess[], config: GatewayConfig.empty() };
  s.before(async () => {
    const translated = translateSnapshot(mesh(), { portVariable: PORT_VARIABLE });
    if (!translated.ok) throw new Error(JSON.stringify(translated.error));
    ctx.config = translated.value.config;
    ctx.pod = await createNetns('odst-apisix-pod');
    ctx.peer = await createNetns('odst-apisix-peer');
    const [a, b] = [`ra${process.pid % 100000}`, `rb${process.pid % 100000}`];
    await sh('ip', ['link', 'add', a, 'netns', ctx.pod, 'type', 'veth', 'peer', 'name', b, 'netns', ctx.peer]);
    for (const [ns, dev, v4, v6] of [
      [ctx.pod, a, `${POD.v4}/24`, `${POD.v6}/64`],
      [ctx.peer, b, `${PEER.v4}/24`, `${PEER.v6}/64`],
    ] as const) {
      await sh('ip', ['-n', ns, 'addr', 'add', v4, 'dev', dev]);
      await sh('ip', ['-n', ns, 'addr', 'add', v6, 'dev', dev, 'nodad']);
      await sh('ip', ['-n', ns, 'link', 'set', dev, 'up']);
    }
    // Service VIPs belong to nobody; the pod routes them towards the peer, as towards a node.
    await sh('ip', ['-n', ctx.pod, 'route', 'add', '10.96.0.0/16', 'via', PEER.v4]);
    await sh('ip', ['-n', ctx.pod, '-6', 'route', 'add', 'fd96::/64', 'via', PEER.v6]);
    // APISIX's workers run as nobody: that is the proxy uid the capture leaves alone.
    await sh(process.execPath, [
      '--import',
      'tsx',
      MAIN,
      'intercept',
      'install',
      '--netns',
      ctx.pod,
      '--iptables-backend',
      'nft',
      '--log-level',
      'silent',
      '-p',
      '15001',
      '-z',
      '15006',
      '-u',
      String(NOBODY_GROUP),
      '-m',
      'REDIRECT',
      '-i',
      '*',
      '-x',
      '',
      '-b',
      '*',
      '-d',
      '15090,15021,15020',
      '--ipv6',
    ]);
    ctx.servers.push(
      await serve(ctx.peer, 'serve-http', [BACKEND.http9080, BACKEND.http80, BACKEND.http8080]),
      await serve(ctx.peer, 'serve', [BACKEND.dbA, BACKEND.dbB, BACKEND.cache]),
    );
  });
  s.after(async () => {
    for (const server of ctx.servers) server.kill();
    await deleteNetns(ctx.pod);
    await deleteNetns(ctx.peer);
  });

  s('http: the route table of the dialled port answers, outbound through 15001 and inbound through 15006, IPv4 and IPv6', async () => {
    const instance = await ApisixInstance.start({
      build,
      mode: { kind: 'yaml' },
      httpPorts: [15001, 15006],
      netns: ctx.pod,
      originalDestination: { httpServerSnippet: HTTP_SERVER_SNIPPET },
    });
    try {
      const sink = new FileConfigSink({ path: instance.configFile, group: String(NOBODY_GROUP) });
      const applied = await sink.apply({ desired: ctx.config, changes: diffConfigs(GatewayConfig.empty(), ctx.config) });
      assert.equal(applied.failed, [], JSON.stringify(applied));
      await untilServed(ctx.pod, { host: '10.96.0.20', port: 9080 }, true, instance);
      const outbound = [
        { host: '10.96.0.20', port: 9080 },
        { host: '10.96.0.20', port: 80 },
        { host: '10.96.0.21', port: 8080 },
        { host: 'fd96::20', port: 9080 },
        { host: 'fd96::20', port: 80 },
        { host: 'fd96::21', port: 8080 },
      ];
      assert.equal(
        backendPorts(await probe(ctx.pod, APP_UID, outbound, true)),
        [BACKEND.http9080, BACKEND.http80, BACKEND.http8080, BACKEND.http9080, BACKEND.http80, BACKEND.http8080],
        'outbound',
      );
      const inbound = [
        { host: POD.v4, port: 8080 },
        { host: POD.v4, port: 9080 },
        { host: POD.v6, port: 8080 },
        { host: POD.v6, port: 9080 },
      ];
      assert.equal(backendPorts(await probe(ctx.peer, undefined, inbound, true)), [BACKEND.http8080, BACKEND.http9080, BACKEND.http8080, BACKEND.http9080], 'inbound');
      assert.equal(await instance.errors(), [], 'error.log');
    } finally {
      await instance.stop();
    }
  });

  if (build.streamModule !== undefined || build.privilegedAgent) {
    s('stream: the stream route of the dialled VIP and port answers, through 15001, IPv4 and IPv6', async () => {
      const instance = await ApisixInstance.start({
        build,
        mode: { kind: 'yaml' },
        httpPorts: [15080],
        streamPorts: [15001],
        netns: ctx.pod,
        originalDestination: { httpServerSnippet: HTTP_SERVER_SNIPPET },
      });
      try {
        const sink = new FileConfigSink({ path: instance.configFile, group: String(NOBODY_GROUP) });
        const applied = await sink.apply({ desired: ctx.config, changes: diffConfigs(GatewayConfig.empty(), ctx.config) });
        assert.equal(applied.failed, [], JSON.stringify(applied));
        await untilServed(ctx.pod, { host: '10.96.0.30', port: 5432 }, false, instance);
        const targets = [
          { host: '10.96.0.30', port: 5432 },
          { host: '10.96.0.31', port: 5432 },
          { host: '10.96.0.30', port: 6379 },
          { host: 'fd96::31', port: 5432 },
          { host: 'fd96::77', port: 6379 },
        ];
        assert.equal(backendPorts(await probe(ctx.pod, APP_UID, targets, false)), [BACKEND.dbA, BACKEND.dbB, BACKEND.cache, BACKEND.dbB, BACKEND.cache]);
        assert.equal(await instance.errors(), [], 'error.log');
      } finally {
        await instance.stop();
      }
    });
  } else {
    console.log(`real APISIX original destination (${build.name}), stream half: skipped: no stream Lua module for this nginx`);
  }

  s.run();
}

const { builds, missing } = apisixBuilds();
const netns = netnsUnavailable('nft', ['setpriv']);
if (netns) console.log(`real APISIX original destination: skipped: ${netns}`);
else {
  for (const reason of missing) console.log(`real APISIX original destination: skipped: ${reason}`);
  for (const build of builds) suiteFor(build);
}

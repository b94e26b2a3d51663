// Real traffic through the rules, per iptables backend: a pod namespace (rules installed there, a TCP
// server standing in for the proxy on 15001/15006 and the app on 8080/8081) and a peer namespace on the
// other end of a veth pair. Outbound connections of an app uid land on the proxy's outbound port,
// inbound ones on its inbound port, and the proxy reads the original destination with SO_ORIGINAL_DST
// (koffi), over IPv4 and IPv6; the proxy uid, excluded ports and excluded ranges pass through. Install
// twice, uninstall: the pod's tables are as they were. Needs root, iproute2, iptables and setpriv.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { IptablesInterceptor } from '../../src/adapters/iptables/iptables-interceptor.js';
import { normalizeSave } from '../../src/domain/capture/netfilter-tables.js';
import type { Logger } from '../../src/ports/logger.js';
import { planOf } from '../contract/traffic-interceptor.contract.js';
import { createNetns, deleteNetns, inNetns, netnsUnavailable, sh, type Backend } from '../support/netns.js';
import { repoRoot } from '../support/shared-fixtures.js';

const ENDPOINT = path.join(repoRoot, 'test/support/netns-endpoint.ts');
const APP_UID = '4242';
const PROXY_UID = '1337';
const quiet: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

const PLAN = planOf({
  proxyPort: '15001',
  inboundCapturePort: '15006',
  proxyUid: PROXY_UID,
  proxyGid: PROXY_UID,
  inboundInterceptionMode: 'REDIRECT',
  outboundIpRangesInclude: '*',
  outboundIpRangesExclude: '10.77.0.0/16,fd77::/64',
  inboundPortsInclude: '*',
  inboundPortsExclude: '8081',
  outboundPortsExclude: '9091',
  ipv6: true,
});

interface Answer {
  readonly label?: string;
  readonly localPort?: number;
  readonly original?: { family: string; address: string; port: number } | null;
  readonly error?: string;
}

async function connect(netns: string, uid: string | undefined, host: string, port: number): Promise<Answer> {
  const asUser = uid ? ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups'] : [];
  const out = await sh('ip', ['netns', 'exec', netns, ...asUser, process.execPath, '--import', 'tsx', ENDPOINT, 'connect', host, String(port)]);
  return JSON.parse(out.trim() || '{"error":"no answer"}') as Answer;
}

function serve(netns: string, label: string, ports: readonly number[]): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '--import', 'tsx', ENDPOINT, 'serve', label, ...ports.map(String)], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve(child));
    child.once('exit', (code) => reject(new Error(`${label} server exited (${code})`)));
  });
}

async function tables(netns: string, backend: Backend): Promise<string> {
  return `${normalizeSave(await inNetns(netns, `iptables-${backend}-save`, []))}\n${normalizeSave(await inNetns(netns, `ip6tables-${backend}-save`, []))}`;
}

function captureSuite(backend: Backend): void {
  const s = suite(`traffic capture in a network namespace (${backend})`);
  const ctx = { pod: '', peer: '', servers: [] as ChildProcess[] };
  s.before(async () => {
    ctx.pod = await createNetns(`pod-${backend}`);
    ctx.peer = await createNetns(`peer-${backend}`);
    const [a, b] = [`ap${process.pid % 100000}`, `bp${process.pid % 100000}`];
    await sh('ip', ['link', 'add', a, 'netns', ctx.pod, 'type', 'veth', 'peer', 'name', b, 'netns', ctx.peer]);
    for (const [ns, dev, v4, v6] of [
      [ctx.pod, a, '10.66.0.1/24', 'fd66::1/64'],
      [ctx.peer, b, '10.66.0.2/24', 'fd66::2/64'],
    ] as const) {
      await sh('ip', ['-n', ns, 'addr', 'add', v4, 'dev', dev]);
      await sh('ip', ['-n', ns, 'addr', 'add', v6, 'dev', dev, 'nodad']);
      await sh('ip', ['-n', ns, 'link', 'set', dev, 'up']);
    }
    // The peer also owns addresses in the excluded ranges, routed from the pod over the veth.
    await sh('ip', ['-n', ctx.peer, 'addr', 'add', '10.77.0.2/32', 'dev', 'lo']);
    await sh('ip', ['-n', ctx.peer, 'addr', 'add', 'fd77::2/128', 'dev', 'lo']);
    await sh('ip', ['-n', ctx.pod, 'route', 'add', '10.77.0.0/16', 'via', '10.66.0.2']);
    await sh('ip', ['-n', ctx.pod, '-6', 'route', 'add', 'fd77::/64', 'via', 'fd66::2']);
    ctx.servers.push(await serve(ctx.pod, 'pod', [15001, 15006, 8080, 8081]), await serve(ctx.peer, 'peer', [9090, 9091]));
  });
  s.after(async () => {
    for (const server of ctx.servers) server.kill();
    await deleteNetns(ctx.pod);
    await deleteNetns(ctx.peer);
  });

  s('without the rules, the app reaches the peer directly', async () => {
    const answer = await connect(ctx.pod, APP_UID, '10.66.0.2', 9090);
    assert.is(answer.label, 'peer', JSON.stringify(answer));
  });

  s('capture, pass-through and original destinations over IPv4 and IPv6; install twice, uninstall restores the tables', async () => {
    const interceptor = new IptablesInterceptor({ logger: quiet }, { backend, netns: ctx.pod });
    const before = await tables(ctx.pod, backend);
    const first = await interceptor.install(PLAN);
    if (!first.ok) throw new Error(JSON.stringify(first.error));
    const once = await tables(ctx.pod, backend);
    const second = await interceptor.install(PLAN);
    if (!second.ok) throw new Error(JSON.stringify(second.error));
    assert.is(await tables(ctx.pod, backend), once, 'a second install leaves one copy');

    for (const [peer, excluded] of [
      ['10.66.0.2', '10.77.0.2'],
      ['fd66::2', 'fd77::2'],
    ] as const) {
      const family = peer.includes(':') ? 'ipv6' : 'ipv4';
      const outbound = await connect(ctx.pod, APP_UID, peer, 9090);
      assert.equal(outbound, { label: 'pod', localPort: 15001, original: { family, address: peer, port: 9090 } }, `app → ${peer}:9090 captured`);
      assert.is((await connect(ctx.pod, PROXY_UID, peer, 9090)).label, 'peer', `proxy uid → ${peer} not captured`);
      assert.is((await connect(ctx.pod, APP_UID, peer, 9091)).label, 'peer', `excluded port 9091 to ${peer} passes`);
      assert.is((await connect(ctx.pod, APP_UID, excluded, 9090)).label, 'peer', `excluded range ${excluded} passes`);
    }
    for (const pod of ['10.66.0.1', 'fd66::1']) {
      const family = pod.includes(':') ? 'ipv6' : 'ipv4';
      const inbound = await connect(ctx.peer, undefined, pod, 8080);
      assert.equal(inbound, { label: 'pod', localPort: 15006, original: { family, address: pod, port: 8080 } }, `peer → ${pod}:8080 captured`);
      const excluded = await connect(ctx.peer, undefined, pod, 8081);
      assert.is(excluded.localPort, 8081, `inbound excluded port 8081 on ${pod} reaches the app`);
    }

    const removed = await interceptor.uninstall(PLAN);
    if (!removed.ok) throw new Error(JSON.stringify(removed.error));
    assert.is(await tables(ctx.pod, backend), before, 'tables exactly as before');
    assert.is((await connect(ctx.pod, APP_UID, '10.66.0.2', 9090)).label, 'peer', 'no capture after uninstall');
  });

  s.run();
}

for (const backend of ['nft', 'legacy'] as const) {
  const reason = netnsUnavailable(backend, ['setpriv']);
  if (reason) console.log(`traffic capture (${backend}): skipped: ${reason}`);
  else captureSuite(backend);
}

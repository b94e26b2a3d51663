// The original destination inside nginx, behind the capture a pod really gets: a pod namespace with
// `amesh intercept install` (Istio's REDIRECT rules, IPv4 and IPv6), Debian's stock nginx in it
// listening on 15001 (dual-stack, as one [::] ipv6only=off socket) and 15006 (separate IPv4 and IPv6
// sockets), loading the project's Lua module (native/lua/amesh/original_dst.lua, LuaJIT FFI only,
// no libxds.so), and a peer namespace at the other end of a veth pair. An application uid dials
// addresses of the peer and service VIPs routed to it on several ports; the peer dials the pod's
// addresses. HTTP: $amesh_original_dst_addr / $amesh_original_dst_port, set by the server-level
// snippet APISIX gets, read in the access phase (where APISIX routes), equal what was dialled and
// inbound keeps its destination port; stream (when the stream Lua module built for Debian's nginx is
// present): the same from the module's get() in preread (where APISIX's stream router runs).
// Connections that were not redirected report the socket's own address. Needs root, iproute2,
// iptables (nft), setpriv and nginx with libnginx-mod-http-lua; prints why it skips otherwise.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createNetns, deleteNetns, netnsUnavailable, sh } from '../support/netns.js';
import { DEBIAN_MODULES, debianNginxUnavailable, HTTP_SERVER_SNIPPET, NGINX, streamLuaModule, streamLuaUnavailable } from '../support/original-dst.js';
import { repoRoot } from '../support/shared-fixtures.js';

const MAIN = path.join(repoRoot, 'src/app/main.ts');
const ENDPOINT = path.join(repoRoot, 'test/support/netns-endpoint.ts');
const APP_UID = '4242';
/** nginx's workers run as nobody: that is the proxy uid whose own traffic is never captured. */
const PROXY_UID = '65534';

const LISTEN = `
    listen [::]:15001 ipv6only=off;
    listen 0.0.0.0:15006;
    listen [::]:15006;`;

// What APISIX's router would read: the variables as the access phase sees them.
const httpConf = (prefix: string): string => `
load_module ${DEBIAN_MODULES}/ndk_http_module.so;
load_module ${DEBIAN_MODULES}/ngx_http_lua_module.so;
user nobody nogroup;
worker_processes 1;
daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log info;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${prefix}/tmp/body;
  proxy_temp_path ${prefix}/tmp/proxy;
  fastcgi_temp_path ${prefix}/tmp/fastcgi;
  uwsgi_temp_path ${prefix}/tmp/uwsgi;
  scgi_temp_path ${prefix}/tmp/scgi;
  lua_package_path "${prefix}/lua/?.lua;;";
  server {${LISTEN}
    ${HTTP_SERVER_SNIPPET.trim().split('\n').join('\n    ')}
    location / {
      default_type application/json;
      access_by_lua_block {
        ngx.ctx.addr = ngx.var.amesh_original_dst_addr
        ngx.ctx.port = ngx.var.amesh_original_dst_port
      }
      content_by_lua_block {
        ngx.say(string.format('{"addr":"%s","port":"%s","serverPort":"%s"}', tostring(ngx.ctx.addr), tostring(ngx.ctx.port), ngx.var.server_port))
      }
    }
  }
}
`;

const streamConf = (prefix: string): string => `
load_module ${DEBIAN_MODULES}/ngx_stream_module.so;
load_module ${streamLuaModule()};
user nobody nogroup;
worker_processes 1;
daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log info;
events { worker_connections 64; }
stream {
  lua_package_path "${prefix}/lua/?.lua;;";
  server {${LISTEN}
    preread_by_lua_block {
      local addr, port, redirected = require("amesh.original_dst").get()
      ngx.ctx.found = string.format('{"addr":"%s","port":"%s","redirected":%s,"serverPort":"%s"}', tostring(addr), tostring(port), tostring(redirected), ngx.var.server_port)
    }
    content_by_lua_block {
      ngx.say(ngx.ctx.found)
    }
  }
}
`;

interface Seen {
  readonly addr?: string;
  readonly port?: string;
  readonly redirected?: boolean;
  readonly serverPort?: string;
  readonly error?: string;
}

interface Nginx {
  readonly prefix: string;
  readonly child: ChildProcess;
}

async function startNginx(netns: string, conf: (prefix: string) => string): Promise<Nginx> {
  // Traversable by the workers (nobody), with the Lua copied in: they cannot read a worktree under /root.
  const prefix = await mkdtemp('/tmp/amesh-odst-');
  await chmod(prefix, 0o755);
  await mkdir(path.join(prefix, 'tmp'));
  await cp(path.join(repoRoot, 'native', 'lua'), path.join(prefix, 'lua'), { recursive: true });
  await writeFile(path.join(prefix, 'nginx.conf'), conf(prefix));
  const child = spawn('ip', ['netns', 'exec', netns, NGINX, '-p', `${prefix}/`, '-c', `${prefix}/nginx.conf`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  let exited = false;
  child.once('exit', () => (exited = true));
  // nginx writes its pid file after binding the listeners: from then on connections queue until a worker takes them.
  const deadline = Date.now() + 15_000;
  while (!existsSync(path.join(prefix, 'nginx.pid'))) {
    if (exited || Date.now() > deadline) {
      const log = await readFile(path.join(prefix, 'error.log'), 'utf8').catch(() => '');
      await rm(prefix, { recursive: true, force: true });
      throw new Error(`nginx did not start: ${stderr}\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { prefix, child };
}

async function stopNginx(nginx: Nginx | undefined): Promise<void> {
  if (!nginx) return;
  if (nginx.child.exitCode === null) {
    const exited = new Promise((resolve) => nginx.child.once('exit', resolve));
    nginx.child.kill('SIGTERM');
    await exited;
  }
  await rm(nginx.prefix, { recursive: true, force: true });
}

/** Lines of nginx's error log at [error] or worse (a Lua error would land there). */
async function logErrors(nginx: Nginx): Promise<string[]> {
  const log = await readFile(path.join(nginx.prefix, 'error.log'), 'utf8').catch(() => '');
  return log.split('\n').filter((line) => /\[(error|crit|alert|emerg)\]/.test(line));
}

interface Target {
  readonly host: string;
  readonly port: number;
}

/** Connects to each target in turn from `netns` (as `uid` when given), in one process. */
async function probe(netns: string, uid: string | undefined, targets: readonly Target[], http: boolean): Promise<Seen[]> {
  const asUser = uid ? ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups'] : [];
  const list = JSON.stringify(targets.map((t) => ({ ...t, http })));
  const out = await sh('ip', ['netns', 'exec', netns, ...asUser, process.execPath, '--import', 'tsx', ENDPOINT, 'probe', list]);
  return JSON.parse(out) as Seen[];
}

// The peer owns 10.81.0.2 / fd81::2 (the veth) and 10.82.0.2 / fd82::2 (its lo); the VIPs 10.96.0.10 and
// fd96::10 are owned by nobody, only routed towards the peer (kube-proxy's service addresses are like that).
const OUTBOUND: readonly Target[] = [
  { host: '10.81.0.2', port: 80 },
  { host: '10.81.0.2', port: 9080 },
  { host: '10.82.0.2', port: 5432 },
  { host: '10.96.0.10', port: 8443 },
  { host: 'fd81::2', port: 80 },
  { host: 'fd81::2', port: 9080 },
  { host: 'fd82::2', port: 5432 },
  { host: 'fd96::10', port: 8443 },
];
const INBOUND: readonly Target[] = [
  { host: '10.81.0.1', port: 8080 },
  { host: '10.81.0.1', port: 9090 },
  { host: 'fd81::1', port: 8080 },
  { host: 'fd81::1', port: 9090 },
];
/** Not redirected (the capture leaves loopback alone): the socket's own address. */
const DIRECT: readonly Target[] = [
  { host: '127.0.0.1', port: 15001 },
  { host: '::1', port: 15001 },
  { host: '127.0.0.1', port: 15006 },
  { host: '::1', port: 15006 },
];

const expected = (targets: readonly Target[], serverPort: string | ((t: Target) => string), redirected?: boolean): Seen[] =>
  targets.map((t) => ({
    addr: t.host,
    port: String(t.port),
    ...(redirected === undefined ? {} : { redirected }),
    serverPort: typeof serverPort === 'string' ? serverPort : serverPort(t),
  }));

const reason = netnsUnavailable('nft', ['setpriv']) ?? debianNginxUnavailable();
if (reason) console.log(`original destination in nginx (netns): skipped: ${reason}`);
else {
  const s = suite('original destination inside nginx, behind amesh intercept (netns)');
  const ctx = { pod: '', peer: '', nginx: undefined as Nginx | undefined };
  s.before(async () => {
    ctx.pod = await createNetns('odst-pod');
    ctx.peer = await createNetns('odst-peer');
    const [a, b] = [`oa${process.pid % 100000}`, `ob${process.pid % 100000}`];
    await sh('ip', ['link', 'add', a, 'netns', ctx.pod, 'type', 'veth', 'peer', 'name', b, 'netns', ctx.peer]);
    for (const [ns, dev, v4, v6] of [
      [ctx.pod, a, '10.81.0.1/24', 'fd81::1/64'],
      [ctx.peer, b, '10.81.0.2/24', 'fd81::2/64'],
    ] as const) {
      await sh('ip', ['-n', ns, 'addr', 'add', v4, 'dev', dev]);
      await sh('ip', ['-n', ns, 'addr', 'add', v6, 'dev', dev, 'nodad']);
      await sh('ip', ['-n', ns, 'link', 'set', dev, 'up']);
    }
    await sh('ip', ['-n', ctx.peer, 'addr', 'add', '10.82.0.2/32', 'dev', 'lo']);
    await sh('ip', ['-n', ctx.peer, 'addr', 'add', 'fd82::2/128', 'dev', 'lo']);
    for (const [net, via] of [
      ['10.82.0.0/16', '10.81.0.2'],
      ['10.96.0.0/16', '10.81.0.2'],
      ['fd82::/64', 'fd81::2'],
      ['fd96::/64', 'fd81::2'],
    ]) {
      await sh('ip', ['-n', ctx.pod, ...(net!.includes(':') ? ['-6'] : []), 'route', 'add', net!, 'via', via!]);
    }
    // As the pod's init container runs it (istio-init's arguments), from outside the namespace.
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
      PROXY_UID,
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
  });
  s.after.each(async () => {
    await stopNginx(ctx.nginx);
    ctx.nginx = undefined;
  });
  s.after(async () => {
    await deleteNetns(ctx.pod);
    await deleteNetns(ctx.peer);
  });

  s('http: $amesh_original_dst_addr/_port in the access phase are what was dialled, IPv4 and IPv6; inbound keeps its port', async () => {
    ctx.nginx = await startNginx(ctx.pod, httpConf);
    assert.equal(await probe(ctx.pod, APP_UID, OUTBOUND, true), expected(OUTBOUND, '15001'), 'outbound (app uid → peer and VIPs) through 15001');
    assert.equal(await probe(ctx.peer, undefined, INBOUND, true), expected(INBOUND, '15006'), 'inbound (peer → pod) through 15006');
    assert.equal(
      await probe(ctx.pod, undefined, DIRECT, true),
      expected(DIRECT, (t) => String(t.port)),
      'not redirected: the listener itself',
    );
    assert.equal(await logErrors(ctx.nginx), []);
  });

  const streamReason = streamLuaUnavailable();
  if (streamReason) console.log(`original destination in nginx (netns), stream half: skipped: ${streamReason}`);
  else {
    s('stream: get() in preread is what was dialled, IPv4 and IPv6; inbound keeps its port', async () => {
      ctx.nginx = await startNginx(ctx.pod, streamConf);
      assert.equal(await probe(ctx.pod, APP_UID, OUTBOUND, false), expected(OUTBOUND, '15001', true), 'outbound through 15001');
      assert.equal(await probe(ctx.peer, undefined, INBOUND, false), expected(INBOUND, '15006', true), 'inbound through 15006');
      assert.equal(
        await probe(ctx.pod, undefined, DIRECT, false),
        expected(DIRECT, (t) => String(t.port), false),
        'not redirected: the listener itself',
      );
      assert.equal(await logErrors(ctx.nginx), []);
    });
  }
  s.run();
}

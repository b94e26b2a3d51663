// A real Apache APISIX 3.18 for tests, started from a build outside the repository
// (../shared/notes/real-apisix.md): the APISIX home in ~/.cache/amesh-ts/apisix (AMESH_APISIX_HOME),
// run on Debian's stock nginx, and, when ~/.cache/amesh-ts/apisix-runtime (AMESH_APISIX_RUNTIME) holds
// an APISIX-Runtime-like nginx (OpenResty's and API7's patches: privileged agent, upstream mTLS,
// stream proxy), on that too. Each instance is a copy of the home in its own directory (the workers
// run as nobody and cannot enter /root), listening on its own loopback address so that instances
// never collide, whatever ports a test needs. Nothing of APISIX is part of this repository.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, chown, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { defaultLibraryPath } from '../../src/adapters/shdict-sink/native-writer.js';
import { repoRoot } from './shared-fixtures.js';

export type BuildName = 'debian' | 'runtime';

export interface ApisixBuild {
  readonly name: BuildName;
  /** The APISIX home (apisix/, deps/, conf/). */
  readonly home: string;
  readonly nginx: string;
  /** A directory with an `openresty` wrapper for this nginx (APISIX's CLI runs `openresty -V`). */
  readonly binDir: string;
  /** Lines prepended to nginx.conf (Debian's dynamic modules); the stream one only with a stream block. */
  readonly loadModules: readonly string[];
  readonly streamModule: string | undefined;
  /**
   * Lua trees copied into each instance and searched before APISIX's own (the runtime's patched
   * lua-resty-core): copied, because workers (nobody) cannot read /root and would silently fall back
   * to Debian's older lua-resty-core.
   */
  readonly luaTrees: readonly string[];
  /** APISIX-Runtime's `lua {}` block declares prometheus-cache and standalone-config itself. */
  readonly declaresApisixDicts: boolean;
  /** Whether the nginx has OpenResty's privileged agent (and so upstream mTLS, stream TLS). */
  readonly privilegedAgent: boolean;
}

const cacheDir = join(homedir(), '.cache', 'amesh-ts');
const DEBIAN_MODULES = ['ndk_http_module', 'ngx_http_lua_module', 'ngx_stream_module', 'ngx_http_headers_more_filter_module'].map(
  (m) => `load_module /usr/lib/nginx/modules/${m}.so;`,
);

/** The builds present on this machine, and why the others are not. */
export function apisixBuilds(): { readonly builds: readonly ApisixBuild[]; readonly missing: readonly string[] } {
  const builds: ApisixBuild[] = [];
  const missing: string[] = [];
  if (process.getuid?.() !== 0) return { builds, missing: ['not root (nginx workers must switch to nobody)'] };
  const home = process.env.AMESH_APISIX_HOME ?? join(cacheDir, 'apisix');
  if (!existsSync(join(home, '.built'))) {
    return { builds, missing: [`no APISIX build in ${home} (build it as ../shared/notes/real-apisix.md describes; AMESH_APISIX_HOME)`] };
  }
  if (!existsSync('/usr/sbin/nginx') || !existsSync('/usr/lib/nginx/modules/ngx_http_lua_module.so')) missing.push("debian: Debian's nginx or its lua module is not installed");
  else {
    const stream = join(cacheDir, 'nginx-debian', 'modules', 'ngx_stream_lua_module.so');
    builds.push({
      name: 'debian',
      home,
      nginx: '/usr/sbin/nginx',
      binDir: join(home, 'bin'),
      loadModules: DEBIAN_MODULES,
      streamModule: existsSync(stream) ? `load_module ${stream};` : undefined,
      luaTrees: [],
      declaresApisixDicts: false,
      privilegedAgent: false,
    });
  }
  const runtime = process.env.AMESH_APISIX_RUNTIME ?? join(cacheDir, 'apisix-runtime');
  if (!existsSync(join(runtime, '.built'))) missing.push(`runtime: no APISIX-Runtime-like nginx in ${runtime} (AMESH_APISIX_RUNTIME)`);
  else {
    builds.push({
      name: 'runtime',
      home,
      nginx: join(runtime, 'sbin', 'nginx'),
      binDir: join(runtime, 'bin'),
      loadModules: [],
      streamModule: undefined,
      // shims/: resty.rediscluster with the init() APISIX 3.18 calls in the privileged agent, which the
      // fetchable lua-resty-redis-cluster lacks (it would log an error at every start).
      luaTrees: [join(runtime, 'lualib'), join(runtime, 'shims')].filter((dir) => existsSync(dir)),
      declaresApisixDicts: true,
      privilegedAgent: true,
    });
  }
  return { builds, missing };
}

/** How the configuration reaches this instance (APISIX's deployment modes). */
export type ApisixMode =
  | { readonly kind: 'yaml' | 'json' }
  /** traditional role, etcd behind the Admin API */
  | { readonly kind: 'admin'; readonly etcd: string; readonly prefix: string }
  /** traditional role, API-driven standalone (PUT /apisix/admin/configs) */
  | { readonly kind: 'standalone' }
  /** data plane reading etcd directly */
  | { readonly kind: 'etcd'; readonly etcd: string; readonly prefix: string }
  /** data plane fed by libxds.so from the shared-memory file */
  | { readonly kind: 'xds'; readonly shmPath: string };

export interface InstanceOptions {
  readonly build: ApisixBuild;
  readonly mode: ApisixMode;
  /** Ports the data plane listens on (all on the instance's own loopback address). */
  readonly httpPorts: readonly number[];
  /** Stream (TCP) proxy ports; proxy_mode becomes `http&stream`. */
  readonly streamPorts?: readonly number[];
  /**
   * Lets the Admin API answer stream_routes requests (proxy_mode `http&stream`) on nginx without a
   * stream Lua module: APISIX's CLI renders nginx.conf for `http`, the Admin API then reads the mode.
   */
  readonly adminStreamMode?: boolean;
  /**
   * Run inside this network namespace, as a pod's sidecar behind `amesh intercept`: every listener on
   * 0.0.0.0 and [::] (REDIRECT sends to 127.0.0.1 and ::1), and ready once nginx has bound them (no
   * probe can reach in from here). The test talks to it from inside the namespace.
   */
  readonly netns?: string;
  /**
   * The project's original-destination Lua (docs/original-destination.md): `amesh.hook` as the
   * lua_module_hook (stream router on the original destination; it includes the xds worker hook)
   * and the http server snippet that sets $amesh_original_dst_addr/_port.
   */
  readonly originalDestination?: { readonly httpServerSnippet: string };
}

export const ADMIN_KEY = 'amesh-test-admin-key-0123456789';
const ADMIN_PORT = 9180;
/** The plugins this project emits, the ones its tests use, and nothing that needs a missing library. */
const PLUGINS = [
  'real-ip',
  'request-id',
  'ext-plugin-pre-req',
  'fault-injection',
  'cors',
  'ip-restriction',
  'key-auth',
  'proxy-mirror',
  'proxy-rewrite',
  'limit-count',
  'traffic-split',
  'redirect',
  'response-rewrite',
  'echo',
  'serverless-post-function',
  'ext-plugin-post-req',
  'ext-plugin-post-resp',
];

let nextAddress = 0;
/** A loopback address of this instance's own: 127.77.x.y, so any port can be used without collisions. */
function loopbackAddress(): string {
  const n = (process.pid * 97 + nextAddress++) % 60_000;
  return `127.77.${(n >> 8) & 255}.${n & 255 || 1}`;
}

function configYaml(options: InstanceOptions, ip: string, dir: string): string {
  const { build, mode } = options;
  const stream = (options.streamPorts?.length ?? 0) > 0;
  const dicts: Record<string, string> = build.declaresApisixDicts ? {} : { 'prometheus-cache': '10m', 'standalone-config': '10m' };
  if (mode.kind === 'xds') Object.assign(dicts, { 'xds-config': '10m', 'xds-config-version': '1m' });
  const inNetns = options.netns !== undefined;
  const apisix: Record<string, unknown> = {
    // Without an ip, APISIX listens on 0.0.0.0 and, with enable_ipv6, on [::] too.
    node_listen: options.httpPorts.map((port) => (inNetns ? { port } : { ip, port })),
    enable_admin: mode.kind === 'admin' || mode.kind === 'standalone',
    enable_ipv6: inNetns,
    enable_http2: false, // 3.18 renders `http2 on;`, which nginx 1.22 does not know
    enable_control: false,
    ssl: { enable: false },
    router: { http: 'radixtree_host_uri' },
  };
  if (stream) {
    apisix.proxy_mode = 'http&stream';
    const addrs = (port: number): string[] => (inNetns ? [`0.0.0.0:${port}`, `[::]:${port}`] : [`${ip}:${port}`]);
    apisix.stream_proxy = { tcp: options.streamPorts!.flatMap(addrs).map((addr) => ({ addr })) };
  }
  const luaPath = [...build.luaTrees.map((_, i) => `${dir}/lua-${i}/?.lua;${dir}/lua-${i}/?/init.lua;`), withAmeshLua(options) ? `${dir}/amesh-lua/?.lua;` : ''].join('');
  if (luaPath) apisix.extra_lua_path = luaPath;
  if (mode.kind === 'xds') {
    apisix.extra_lua_cpath = `${dir}/xds/?.so;`;
    if (!build.privilegedAgent) apisix.lua_module_hook = 'amesh.xds_worker_hook';
  }
  if (options.originalDestination) apisix.lua_module_hook = 'amesh.hook';
  const deployment: Record<string, unknown> = {};
  const etcd = (m: { etcd: string; prefix: string }) => ({ host: [m.etcd], prefix: m.prefix, timeout: 30 });
  const admin = {
    admin_key_required: true,
    admin_key: [{ name: 'admin', key: ADMIN_KEY, role: 'admin' }],
    allow_admin: ['127.0.0.0/8'],
    admin_listen: { ip, port: ADMIN_PORT },
  };
  switch (mode.kind) {
    case 'yaml':
    case 'json':
      Object.assign(deployment, { role: 'data_plane', role_data_plane: { config_provider: mode.kind } });
      break;
    case 'xds':
      Object.assign(deployment, { role: 'data_plane', role_data_plane: { config_provider: 'xds' } });
      break;
    case 'etcd':
      Object.assign(deployment, { role: 'data_plane', role_data_plane: { config_provider: 'etcd' }, etcd: etcd(mode) });
      break;
    case 'admin':
      Object.assign(deployment, { role: 'traditional', role_traditional: { config_provider: 'etcd' }, admin, etcd: etcd(mode) });
      break;
    case 'standalone':
      Object.assign(deployment, { role: 'traditional', role_traditional: { config_provider: 'yaml' }, admin });
      break;
  }
  const nginxConfig: Record<string, unknown> = {
    worker_processes: 1,
    error_log_level: 'warn',
  };
  if (Object.keys(dicts).length > 0) nginxConfig.http = { custom_lua_shared_dict: dicts };
  // Only APISIX-Runtime sets $apisix_request_id, which the default access log format uses.
  if (!build.privilegedAgent) nginxConfig.http_configuration_snippet = 'map $request_id $apisix_request_id { default $request_id; }\n';
  if (mode.kind === 'xds') nginxConfig.envs = ['AMESH_XDS_SHM'];
  if (options.originalDestination) nginxConfig.http_server_configuration_snippet = options.originalDestination.httpServerSnippet;
  return stringify({ apisix, nginx_config: nginxConfig, plugins: PLUGINS, stream_plugins: stream ? ['ip-restriction'] : [], deployment });
}

/** The project's Lua (native/lua) is copied in for the xds worker hook and the original destination. */
const withAmeshLua = (options: InstanceOptions): boolean => options.mode.kind === 'xds' || options.originalDestination !== undefined;

function run(command: string, args: string[], cwd: string, build: ApisixBuild): void {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${build.binDir}:${process.env.PATH ?? ''}` };
  delete env.LUA_PATH;
  delete env.LUA_CPATH;
  const result = spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} in ${cwd}: exit ${result.status}: ${result.stderr || result.stdout}`);
}

export class ApisixInstance {
  private exited = false;

  private constructor(
    readonly dir: string,
    readonly ip: string,
    readonly options: InstanceOptions,
    private readonly child: ChildProcess,
  ) {
    child.once('exit', () => (this.exited = true));
  }

  get adminUrl(): string {
    return `http://${this.ip}:${ADMIN_PORT}`;
  }

  /** Where the file providers read their configuration. */
  get configFile(): string {
    return join(this.dir, 'conf', this.options.mode.kind === 'json' ? 'apisix.json' : 'apisix.yaml');
  }

  static async start(options: InstanceOptions): Promise<ApisixInstance> {
    const { build, mode } = options;
    // Short (unix socket paths in it are limited to 107 bytes) and traversable by nobody.
    const dir = await mkdtemp('/tmp/amesh-apisix-');
    await chmod(dir, 0o755);
    try {
      await cp(join(build.home, 'apisix'), join(dir, 'apisix'), { recursive: true });
      await cp(join(build.home, 'deps'), join(dir, 'deps'), { recursive: true, verbatimSymlinks: true });
      for (const sub of ['conf', 'logs']) await mkdir(join(dir, sub), { mode: 0o755 });
      await cp(join(build.home, 'conf', 'mime.types'), join(dir, 'conf', 'mime.types'));
      for (const [i, tree] of build.luaTrees.entries()) await cp(tree, join(dir, `lua-${i}`), { recursive: true });
      const ip = loopbackAddress();
      if (mode.kind === 'yaml') await writeFile(join(dir, 'conf', 'apisix.yaml'), 'routes: []\n#END\n', { mode: 0o644 });
      if (mode.kind === 'json') await writeFile(join(dir, 'conf', 'apisix.json'), '{"routes":[]}\n', { mode: 0o644 });
      if (mode.kind === 'xds') {
        // The project's own parts, as a pod has them: libxds.so and the worker hook.
        await mkdir(join(dir, 'xds'), { mode: 0o755 });
        await cp(defaultLibraryPath(), join(dir, 'xds', 'libxds.so'));
      }
      if (withAmeshLua(options)) await cp(join(repoRoot, 'native', 'lua'), join(dir, 'amesh-lua'), { recursive: true });
      await writeFile(join(dir, 'conf', 'config.yaml'), configYaml(options, ip, dir), { mode: 0o644 });
      run('luajit', ['./apisix/cli/apisix.lua', 'init'], dir, build);
      if (mode.kind === 'admin') run('luajit', ['./apisix/cli/apisix.lua', 'init_etcd'], dir, build);
      const confPath = join(dir, 'conf', 'nginx.conf');
      const rendered = readFileSync(confPath, 'utf8');
      const modules = [...build.loadModules, ...(/^stream \{/m.test(rendered) && build.streamModule ? [build.streamModule] : [])];
      await writeFile(confPath, `${modules.join('\n')}\n${rendered}`);
      if (options.adminStreamMode) {
        const config = join(dir, 'conf', 'config.yaml');
        await writeFile(config, `${readFileSync(config, 'utf8').replace(/^apisix:\n/m, 'apisix:\n  proxy_mode: "http&stream"\n')}`);
      }
      const env: NodeJS.ProcessEnv = { ...process.env };
      if (mode.kind === 'xds') env.AMESH_XDS_SHM = mode.shmPath;
      const nginxArgs = [build.nginx, '-p', `${dir}/`, '-c', 'conf/nginx.conf', '-g', 'daemon off;'];
      // `ip netns exec` execs nginx itself: signals to the child reach the master.
      const [file = '', ...args] = options.netns ? ['ip', 'netns', 'exec', options.netns, ...nginxArgs] : nginxArgs;
      const child = spawn(file, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const instance = new ApisixInstance(dir, ip, options, child);
      await instance.waitUntilServing(() => stderr);
      return instance;
    } catch (error) {
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** The data plane answers (APISIX's own 404 for an unknown route), and the Admin API when enabled. */
  private async waitUntilServing(stderr: () => string): Promise<void> {
    const deadline = Date.now() + 30_000;
    const probe = async (url: string): Promise<boolean> => {
      try {
        await fetch(url, { headers: { 'x-api-key': ADMIN_KEY }, signal: AbortSignal.timeout(1000) });
        return true;
      } catch {
        return false;
      }
    };
    const admin = this.options.mode.kind === 'admin' || this.options.mode.kind === 'standalone';
    if (this.options.netns) {
      // nginx writes its pid file after binding every listener; connections then wait in the backlog
      // until a worker, whose init_worker has loaded the configuration, accepts them.
      while (!existsSync(join(this.dir, 'logs', 'nginx.pid'))) {
        if (this.exited) throw new Error(`nginx exited at start: ${stderr()}\n${await this.errorLog()}`);
        if (Date.now() > deadline) throw new Error(`APISIX in ${this.dir} did not start within 30 s: ${stderr()}\n${await this.errorLog()}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return;
    }
    // With the xds provider APISIX's workers wait in init_worker for a first configuration: they
    // answer only once the sink has published one (its apply waits for libxds.so to take it).
    if (this.options.mode.kind === 'xds') {
      await new Promise((resolve) => setTimeout(resolve, 300));
      if (this.exited) throw new Error(`nginx exited at start: ${stderr()}\n${await this.errorLog()}`);
      return;
    }
    while (Date.now() < deadline) {
      if (this.exited) throw new Error(`nginx exited at start: ${stderr()}\n${await this.errorLog()}`);
      const data = await probe(`http://${this.ip}:${this.options.httpPorts[0]}/__amesh_not_a_route`);
      if (data && (!admin || (await probe(`${this.adminUrl}/apisix/admin/routes`)))) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`APISIX in ${this.dir} did not answer within 30 s: ${stderr()}\n${await this.errorLog()}`);
  }

  errorLog(): Promise<string> {
    return readFile(join(this.dir, 'logs', 'error.log'), 'utf8').catch(() => '');
  }

  /** error.log lines at [error] or worse that are not the known noise of these builds. */
  async errors(): Promise<string[]> {
    const noise = [/failed to enable privileged_agent/, /setrlimit\(RLIMIT_NOFILE/, /ngx\.sleep\(0\) called without delayed events patch/];
    // Stock nginx lacks the patch that sets stream upstream timeouts: nginx's defaults apply (docs/sinks.md).
    if (!this.options.build.privilegedAgent) noise.push(/could not set upstream timeouts: required Nginx patch not present/);
    return (await this.errorLog()).split('\n').filter((line) => /\[(error|crit|alert|emerg)\]/.test(line) && !noise.some((n) => n.test(line)));
  }

  async stop(): Promise<void> {
    if (!this.exited) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** A directory for the shared-memory file that nginx's workers (nobody:nogroup) can reach. */
export async function shmDirectory(): Promise<string> {
  const dir = await mkdtemp('/tmp/amesh-shm-');
  await chown(dir, 0, 65534);
  await chmod(dir, 0o750);
  return dir;
}

export const NOBODY_GROUP = 65534;

// Real xDS control planes as test peers: Istio's discovery server (run without Kubernetes) and
// go-control-plane's test server, built by scripts/peers/build-peers.sh into a cache outside the repo.
// Each start picks free loopback ports and a fresh temp dir; every process runs in its own process
// group, which stop() (or, failing that, this process's exit) kills, so no peer outlives the tests.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, Socket } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** Where build-peers.sh puts the binaries (AMESH_PEERS_CACHE, else ~/.cache/amesh-ts/peers). */
export function peersCacheDir(): string {
  return resolve(process.env['AMESH_PEERS_CACHE'] ?? join(homedir(), '.cache/amesh-ts/peers'));
}

export interface PeerBinaries {
  istiod?: string;
  goControlPlane?: string;
  /** Why one or both are missing. */
  reason?: string;
}

/** Paths of the built peer binaries, or why they are not there. */
export function peersAvailable(): PeerBinaries {
  const dir = peersCacheDir();
  const istiod = join(dir, 'bin/istiod-kubeless');
  const goControlPlane = join(dir, 'bin/go-control-plane-test');
  const found: PeerBinaries = {};
  const missing: string[] = [];
  if (existsSync(istiod)) found.istiod = istiod;
  else missing.push(istiod);
  if (existsSync(goControlPlane)) found.goControlPlane = goControlPlane;
  else missing.push(goControlPlane);
  if (missing.length > 0) found.reason = `missing ${missing.join(', ')}`;
  return found;
}

/** A port nothing listened on a moment ago (bind 0, read it, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface RunningPeer {
  /** `127.0.0.1:<port>` of the xDS gRPC server (plaintext). */
  readonly address: string;
  readonly pid: number;
  /** Everything the process wrote to stdout and stderr so far (the last 4 MB). */
  logs(): string;
  /** Resolves when the process has exited (also when it exits by itself). */
  readonly exited: Promise<number | null>;
  /** SIGTERM to the process group, SIGKILL after 5 s. Idempotent. The temp dir goes when the process does. */
  stop(): Promise<void>;
}

// --- process bookkeeping: kill every live peer group when this process goes away ------------------

/** Running peers and their temp dirs. */
const live = new Map<ChildProcess, string>();
let hooksInstalled = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  const killAll = (): void => {
    for (const [child, tempDir] of live) {
      killGroup(child, 'SIGKILL');
      rmSync(tempDir, { recursive: true, force: true });
    }
  };
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      process.exit(128 + (signal === 'SIGHUP' ? 1 : signal === 'SIGINT' ? 2 : 15));
    });
  }
}

const LOG_LIMIT = 4 * 1024 * 1024;

/** Spawns `binary` in its own process group, in `cwd`; output is kept for logs(). */
export function launch(binary: string, args: string[], env: NodeJS.ProcessEnv, cwd: string, tempDir: string, address: string): RunningPeer {
  installExitHooks();
  const child = spawn(binary, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  live.set(child, tempDir);
  let output = '';
  const append = (chunk: Buffer): void => {
    output += chunk.toString('utf8');
    if (output.length > LOG_LIMIT) output = output.slice(output.length - LOG_LIMIT);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const exited = new Promise<number | null>((resolveExit) => {
    const gone = (code: number | null): void => {
      live.delete(child);
      rmSync(tempDir, { recursive: true, force: true });
      resolveExit(code);
    };
    child.on('exit', gone);
    child.on('error', (err) => {
      append(Buffer.from(`\n[spawn error] ${err.message}\n`));
      gone(null);
    });
  });
  // A forgotten peer must not keep the test process alive; the exit hook still kills it.
  child.unref();
  (child.stdout as unknown as Socket | null)?.unref?.();
  (child.stderr as unknown as Socket | null)?.unref?.();

  let stopping: Promise<void> | undefined;
  return {
    address,
    pid: child.pid ?? -1,
    logs: () => output,
    exited,
    stop: () => {
      stopping ??= (async () => {
        killGroup(child, 'SIGTERM');
        const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 5000);
        await exited; // which removes the temp dir
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}

/** Polls `check` every 50 ms until it is true; fails early if the process exits, with its logs. */
export async function waitUntil(peer: RunningPeer, what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  let exitCode: number | null | undefined;
  void peer.exited.then((code) => (exitCode = code));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exitCode !== undefined) break;
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  await peer.stop();
  const why = exitCode !== undefined ? `exited with ${exitCode}` : `not ready within ${timeoutMs} ms`;
  throw new Error(`${what} ${why}; last output:\n${peer.logs().slice(-4000)}`);
}

export function tcpAccepts(port: number): Promise<boolean> {
  return new Promise((resolveConnect) => {
    const socket = new Socket();
    socket.setTimeout(500);
    socket.once('connect', () => {
      socket.destroy();
      resolveConnect(true);
    });
    socket.once('error', () => resolveConnect(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolveConnect(false);
    });
    socket.connect(port, '127.0.0.1');
  });
}

// --- istiod ------------------------------------------------------------------------------------

export interface IstiodOptions {
  /** Directory of Istio config YAML (ServiceEntry, WorkloadEntry, VirtualService, ...); watched live. */
  configDir: string;
  /** Ports default to free ones. */
  grpcPort?: number;
  httpPort?: number;
  monitoringPort?: number;
  /** Extra environment (e.g. PILOT_* feature flags); overrides the defaults below. */
  env?: Record<string, string>;
  /** Mesh config YAML; default: a minimal mesh pointing proxies at this istiod. */
  meshConfig?: string;
  /** Extra command-line flags, e.g. ['--log_output_level=ads:debug']. */
  args?: string[];
  readyTimeoutMs?: number;
}

export interface IstiodPeer extends RunningPeer {
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly monitoringPort: number;
  /** `http://127.0.0.1:<httpPort>`: /ready, /debug/syncz, /debug/configz, /debug/adsz, ... */
  readonly httpBase: string;
}

/** Environment istiod runs with unless `env` overrides it (see docs in scripts/peers/istiod/main.go). */
export const ISTIOD_DEFAULT_ENV: Readonly<Record<string, string>> = {
  POD_NAMESPACE: 'istio-system',
  // No CA and no istiod DNS certificate: only the plaintext xDS port is served.
  ENABLE_CA_SERVER: 'false',
  PILOT_CERT_PROVIDER: 'none',
  // Push config changes within ~100 ms instead of 100 ms..10 s.
  PILOT_DEBOUNCE_AFTER: '10ms',
  PILOT_DEBOUNCE_MAX: '100ms',
};

/** Starts istiod on loopback with file config and waits until /ready answers 200. */
export async function startIstiod(options: IstiodOptions): Promise<IstiodPeer> {
  const binary = peersAvailable().istiod;
  if (!binary) throw new Error(`istiod not built (run scripts/peers/build-peers.sh): ${peersAvailable().reason ?? ''}`);
  const grpcPort = options.grpcPort ?? (await freePort());
  const httpPort = options.httpPort ?? (await freePort());
  const monitoringPort = options.monitoringPort ?? (await freePort());
  const tempDir = await mkdtemp(join(tmpdir(), 'amesh-istiod-'));
  const meshFile = join(tempDir, 'mesh.yaml');
  await writeFile(
    meshFile,
    options.meshConfig ??
      ['rootNamespace: istio-system', 'trustDomain: cluster.local', 'defaultConfig:', `  discoveryAddress: 127.0.0.1:${grpcPort}`, ''].join('\n'),
  );
  const args = [
    'discovery',
    '--registries=',
    `--configDir=${resolve(options.configDir)}`,
    `--meshConfig=${meshFile}`,
    `--networksConfig=${join(tempDir, 'mesh-networks.yaml')}`, // absent: default networks
    `--grpcAddr=127.0.0.1:${grpcPort}`,
    '--secureGRPCAddr=',
    `--httpAddr=127.0.0.1:${httpPort}`,
    '--httpsAddr=',
    `--monitoringAddr=127.0.0.1:${monitoringPort}`,
    ...(options.args ?? []),
  ];
  const env = { ...process.env, ...ISTIOD_DEFAULT_ENV, ...options.env };
  const peer = launch(binary, args, env, tempDir, tempDir, `127.0.0.1:${grpcPort}`);
  const httpBase = `http://127.0.0.1:${httpPort}`;
  await waitUntil(peer, 'istiod', options.readyTimeoutMs ?? 30_000, async () => {
    const res = await fetch(`${httpBase}/ready`, { signal: AbortSignal.timeout(1000) });
    return res.status === 200 && (await tcpAccepts(grpcPort));
  });
  return { ...peer, grpcPort, httpPort, monitoringPort, httpBase };
}

// --- go-control-plane test server --------------------------------------------------------------

export interface GoControlPlaneOptions {
  /** -xds: SotW ADS, per-type SotW, REST, Delta per type or Delta ADS. Default 'ads'. */
  mode?: 'ads' | 'xds' | 'rest' | 'delta' | 'delta-ads';
  /** xDS port; default a free one. */
  port?: number;
  /** The node id it serves snapshots to (-nodeID). Default 'test-id'. */
  nodeId?: string;
  /**
   * Other flags of pkg/test/main, without the dash: clusters, http, scopedhttp, vhdshttp, tcp,
   * runtimes, extension, tls, u, r, delay, mux, debug, message. Ports (gateway, upstream, base, als)
   * default to free ones. `r` and `delay` default to values that keep it serving for hours.
   */
  flags?: Record<string, string | number | boolean>;
  readyTimeoutMs?: number;
}

export interface GoControlPlanePeer extends RunningPeer {
  readonly port: number;
  /** First listener port of its snapshots; it sends test HTTP requests to base.. while running. */
  readonly basePort: number;
  readonly upstreamPort: number;
}

/**
 * Starts go-control-plane's test server and waits until its gRPC port accepts connections.
 *
 * What it does (pkg/test/main at v0.14.0): nothing until the first xDS request (exits 1 after 1 min
 * without one); then it sets snapshot "v0" for `nodeId` (clusters cluster-v0-N, listeners
 * listener-v0-PORT, routes, runtimes, extension configs) and sends `r` batches of HTTP requests to
 * 127.0.0.1:base+i, expecting Envoy there. When no batch passes it exits 1, so the defaults here
 * (r = 100000, delay 1s) keep it at v0 for about a day. To see its renaming updates (v1, v2, ...),
 * serve "Default message" on the listener ports and pass small `r`/`delay` and `u`.
 */
export async function startGoControlPlane(options: GoControlPlaneOptions = {}): Promise<GoControlPlanePeer> {
  const binary = peersAvailable().goControlPlane;
  if (!binary) throw new Error(`go-control-plane not built (run scripts/peers/build-peers.sh): ${peersAvailable().reason ?? ''}`);
  const port = options.port ?? (await freePort());
  const flags: Record<string, string | number | boolean> = {
    xds: options.mode ?? 'ads',
    port,
    nodeID: options.nodeId ?? 'test-id',
    gateway: await freePort(),
    upstream: await freePort(),
    als: await freePort(),
    base: await freePort(),
    r: 100_000,
    delay: '1s',
    ...options.flags,
  };
  const args = Object.entries(flags).map(([k, v]) => `-${k}=${String(v)}`);
  const tempDir = await mkdtemp(join(tmpdir(), 'amesh-gcp-'));
  const peer = launch(binary, args, process.env, tempDir, tempDir, `127.0.0.1:${port}`);
  await waitUntil(peer, 'go-control-plane', options.readyTimeoutMs ?? 15_000, () => tcpAccepts(port));
  return { ...peer, port, basePort: Number(flags['base']), upstreamPort: Number(flags['upstream']) };
}

/** The stamp build-peers.sh wrote (pins and Go version), for test output; undefined if absent. */
export function peersStamp(): string | undefined {
  const file = join(peersCacheDir(), 'stamp');
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
}

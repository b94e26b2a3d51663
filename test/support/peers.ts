// Real xDS control planes as test peers: Istio's discovery server (run without Kubernetes) and
// go-control-plane's test server, built by scripts/peers/build-peers.sh into a cache outside the repo.
// Each start picks free loopback ports and a fresh temp dir; every process runs in its own process
// group, which stop() (or, failing that, this process's exit) kills, so no peer outlives the tests.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
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
  /** Istio's pilot-agent, same pin as istiod. */
  pilotAgent?: string;
  /** Why some are missing. */
  reason?: string;
}

/** Paths of the built peer binaries, or why they are not there. */
export function peersAvailable(): PeerBinaries {
  const dir = peersCacheDir();
  const istiod = join(dir, 'bin/istiod-kubeless');
  const goControlPlane = join(dir, 'bin/go-control-plane-test');
  const pilotAgent = join(dir, 'bin/pilot-agent');
  const found: PeerBinaries = {};
  const missing: string[] = [];
  if (existsSync(istiod)) found.istiod = istiod;
  else missing.push(istiod);
  if (existsSync(goControlPlane)) found.goControlPlane = goControlPlane;
  else missing.push(goControlPlane);
  if (existsSync(pilotAgent)) found.pilotAgent = pilotAgent;
  else missing.push(pilotAgent);
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
  // Decided before stop(), whose own exit would otherwise read as the process exiting by itself.
  const why = exitCode !== undefined ? `exited with ${exitCode}` : `not ready within ${timeoutMs} ms`;
  await peer.stop();
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

/** A CA for istiod to run (Istio's "plugged-in" CA files, PEM): it signs workload certificates with caKey. */
export interface PluggedCa {
  /** The intermediate that signs (ca-cert.pem) and its key (ca-key.pem). */
  readonly caCert: string;
  readonly caKey: string;
  /** The mesh's root (root-cert.pem): what pods trust (istio-ca-root-cert). */
  readonly rootCert: string;
  /** caCert up to the root (cert-chain.pem). */
  readonly certChain: string;
}

export interface IstiodOptions {
  /** Directory of Istio config YAML (ServiceEntry, WorkloadEntry, VirtualService, ...); watched live. */
  configDir: string;
  /**
   * Run inside this network namespace (`ip netns exec`), where Istio's own ports are free: 15010,
   * 15012, 8080, 15014 unless given. The test process cannot reach it there; readiness is taken
   * from istiod-kubeless's "ready to serve" line (logged after bootstrap.Server.Start, which
   * opens the listeners and waits for the config caches).
   */
  netns?: string;
  /**
   * Run istiod's CA with these files in its ./etc/cacerts (ENABLE_CA_SERVER=true,
   * PILOT_CERT_PROVIDER=istiod) and serve the secure xDS port (TLS with a certificate from that CA
   * for istiod.istio-system.svc; CSRs and xDS authenticated).
   */
  ca?: PluggedCa;
  /** PEM public key: istiod-kubeless --tokenReviewKeyFile, so pods' JWTs signed by its key authenticate. */
  tokenReviewKey?: string;
  /** Ports default to free ones (to Istio's in a netns). */
  grpcPort?: number;
  /** The TLS xDS/CA port, served only with `ca`. */
  secureGrpcPort?: number;
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
  /** Only with `ca`. */
  readonly secureGrpcPort: number | undefined;
  readonly httpPort: number;
  readonly monitoringPort: number;
  /** `http://127.0.0.1:<httpPort>`: /ready, /debug/syncz, /debug/configz, /debug/adsz, ... (not from outside its netns). */
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
  const inNetns = options.netns !== undefined;
  const port = async (given: number | undefined, istios: number): Promise<number> => given ?? (inNetns ? istios : await freePort());
  const grpcPort = await port(options.grpcPort, 15010);
  const secureGrpcPort = options.ca ? await port(options.secureGrpcPort, 15012) : undefined;
  const httpPort = await port(options.httpPort, 8080);
  const monitoringPort = await port(options.monitoringPort, 15014);
  const tempDir = await mkdtemp(join(tmpdir(), 'amesh-istiod-'));
  if (options.ca) {
    // Where istiod looks for a plugged-in CA (pilot/pkg/bootstrap: LocalCertDir, ./etc/cacerts).
    const cacerts = join(tempDir, 'etc/cacerts');
    await mkdir(cacerts, { recursive: true });
    await writeFile(join(cacerts, 'ca-cert.pem'), options.ca.caCert);
    await writeFile(join(cacerts, 'ca-key.pem'), options.ca.caKey, { mode: 0o600 });
    await writeFile(join(cacerts, 'root-cert.pem'), options.ca.rootCert);
    await writeFile(join(cacerts, 'cert-chain.pem'), options.ca.certChain);
  }
  const tokenReviewArgs: string[] = [];
  if (options.tokenReviewKey) {
    await writeFile(join(tempDir, 'token-review-key.pem'), options.tokenReviewKey);
    tokenReviewArgs.push(`--tokenReviewKeyFile=${join(tempDir, 'token-review-key.pem')}`);
  }
  const meshFile = join(tempDir, 'mesh.yaml');
  await writeFile(
    meshFile,
    options.meshConfig ?? ['rootNamespace: istio-system', 'trustDomain: cluster.local', 'defaultConfig:', `  discoveryAddress: 127.0.0.1:${grpcPort}`, ''].join('\n'),
  );
  const args = [
    'discovery',
    '--registries=',
    `--configDir=${resolve(options.configDir)}`,
    `--meshConfig=${meshFile}`,
    `--networksConfig=${join(tempDir, 'mesh-networks.yaml')}`, // absent: default networks
    `--grpcAddr=127.0.0.1:${grpcPort}`,
    `--secureGRPCAddr=${secureGrpcPort === undefined ? '' : `127.0.0.1:${secureGrpcPort}`}`,
    `--httpAddr=127.0.0.1:${httpPort}`,
    '--httpsAddr=',
    `--monitoringAddr=127.0.0.1:${monitoringPort}`,
    ...tokenReviewArgs,
    ...(options.args ?? []),
  ];
  const caEnv = options.ca ? { ENABLE_CA_SERVER: 'true', PILOT_CERT_PROVIDER: 'istiod' } : {};
  const env = { ...process.env, ...ISTIOD_DEFAULT_ENV, ...caEnv, ...options.env };
  const [file, argv] = inNetns ? ['ip', ['netns', 'exec', options.netns!, binary, ...args]] : [binary, args];
  // `ip netns exec` execs the binary: the process (and group) launch() kills is istiod's.
  const peer = launch(file, argv, env, tempDir, tempDir, `127.0.0.1:${grpcPort}`);
  const httpBase = `http://127.0.0.1:${httpPort}`;
  await waitUntil(peer, 'istiod', options.readyTimeoutMs ?? 30_000, async () => {
    if (inNetns) return peer.logs().includes(' ready to serve (config dir ');
    const res = await fetch(`${httpBase}/ready`, { signal: AbortSignal.timeout(1000) });
    return res.status === 200 && (await tcpAccepts(grpcPort)) && (secureGrpcPort === undefined || (await tcpAccepts(secureGrpcPort)));
  });
  return { ...peer, grpcPort, secureGrpcPort, httpPort, monitoringPort, httpBase };
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

// A real Kubernetes control plane for the Kubernetes integration suites: Debian's etcd plus
// kube-apiserver built by scripts/peers/build-kube-peers.sh, on free loopback ports, in a fresh
// temp dir. No controller-manager, scheduler or kubelet: pods are API objects only, so the
// ServiceAccount admission plugin (which waits for a controller to create "default") is off.
// Authentication is a static bearer token in group system:masters; the serving certificate is the
// one kube-apiserver generates itself into --cert-dir, which the KubeConfig trusts.
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { KubeConfig } from '@kubernetes/client-node';
import { freePort, launch, peersCacheDir, tcpAccepts, waitUntil, type RunningPeer } from './peers.js';

export interface KubeBinaries {
  apiserver?: string;
  etcd?: string;
  /** Why one of them is missing. */
  reason?: string;
}

function onPath(name: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Istio's injection renderer (scripts/peers/istiod/inject), or why it is not there. */
export function istioInjectAvailable(): { binary?: string; reason?: string } {
  const binary = join(peersCacheDir(), 'bin/istio-inject');
  return existsSync(binary) ? { binary } : { reason: `missing ${binary} (run scripts/peers/build-kube-peers.sh)` };
}

/** kube-apiserver from the peers cache and etcd from PATH (Debian etcd-server), or why not. */
export function kubeAvailable(): KubeBinaries {
  const apiserver = join(peersCacheDir(), 'bin/kube-apiserver');
  const etcd = process.env['AMESH_ETCD'] ?? onPath('etcd');
  const missing: string[] = [];
  if (!existsSync(apiserver)) missing.push(`${apiserver} (run scripts/peers/build-kube-peers.sh)`);
  if (!etcd) missing.push('etcd (apt-get install etcd-server)');
  return { ...(existsSync(apiserver) ? { apiserver } : {}), ...(etcd ? { etcd } : {}), ...(missing.length > 0 ? { reason: `missing ${missing.join(', ')}` } : {}) };
}

export interface KubeControlPlane {
  /** `https://127.0.0.1:<port>`. */
  readonly server: string;
  /** A fresh KubeConfig (admin token, the apiserver's own CA). */
  kubeConfig(): KubeConfig;
  /** The same as a kubeconfig file, for processes the tests start. */
  readonly kubeconfigPath: string;
  /** kube-apiserver's output so far (the current process). */
  apiserverLogs(): string;
  /** Kills kube-apiserver (SIGKILL: no graceful goodbye to watchers); etcd keeps the state. */
  killApiServer(): Promise<void>;
  /** Starts kube-apiserver again on the same port with the same etcd and certificates. */
  startApiServer(): Promise<void>;
  stop(): Promise<void>;
}

const ADMIN_TOKEN_BYTES = 24;

async function readyz(port: number, ca: string, token: string): Promise<boolean> {
  return new Promise((resolveReady) => {
    const req = request({ host: '127.0.0.1', port, path: '/readyz', ca, headers: { authorization: `Bearer ${token}` }, timeout: 2000 }, (res) => {
      res.resume();
      resolveReady(res.statusCode === 200);
    });
    req.on('error', () => resolveReady(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** Starts etcd and kube-apiserver; resolves when /readyz answers 200. */
export async function startKube(options: { readyTimeoutMs?: number } = {}): Promise<KubeControlPlane> {
  const binaries = kubeAvailable();
  if (!binaries.apiserver || !binaries.etcd) throw new Error(`kube control plane unavailable: ${binaries.reason ?? ''}`);
  const apiserverBinary = binaries.apiserver;
  const dir = await mkdtemp(join(tmpdir(), 'amesh-kube-'));
  const certDir = join(dir, 'pki');
  await mkdir(certDir);
  const token = randomBytes(ADMIN_TOKEN_BYTES).toString('hex');
  await writeFile(join(dir, 'tokens.csv'), `${token},amesh-test-admin,amesh-test-admin,"system:masters"\n`);
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  await writeFile(join(dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
  await writeFile(join(dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));

  const [etcdClient, etcdPeer, securePort] = await Promise.all([freePort(), freePort(), freePort()]);
  const etcdScratch = await mkdtemp(join(tmpdir(), 'amesh-etcd-run-'));
  const etcd = launch(
    binaries.etcd,
    [
      '--name=amesh-test',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=amesh-test=http://127.0.0.1:${etcdPeer}`,
      '--logger=zap',
      '--log-level=warn',
    ],
    process.env,
    etcdScratch,
    etcdScratch,
    `127.0.0.1:${etcdClient}`,
  );
  await waitUntil(etcd, 'etcd', 20_000, () => tcpAccepts(etcdClient));

  const args = [
    `--etcd-servers=http://127.0.0.1:${etcdClient}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${securePort}`,
    `--cert-dir=${certDir}`,
    `--token-auth-file=${join(dir, 'tokens.csv')}`,
    '--authorization-mode=RBAC',
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${join(dir, 'sa.pub')}`,
    `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
    '--service-cluster-ip-range=10.96.0.0/16',
    // No controller-manager creates the "default" ServiceAccount, so this plugin would refuse every pod.
    '--disable-admission-plugins=ServiceAccount',
    '--allow-privileged=true',
    '--enable-priority-and-fairness=false',
    '--v=1',
  ];
  let apiserver: RunningPeer | undefined;
  const caFile = join(certDir, 'apiserver.crt');
  const startApiServer = async (): Promise<void> => {
    const scratch = await mkdtemp(join(tmpdir(), 'amesh-apiserver-run-'));
    apiserver = launch(apiserverBinary, args, process.env, scratch, scratch, `127.0.0.1:${securePort}`);
    const started = apiserver;
    await waitUntil(started, 'kube-apiserver', options.readyTimeoutMs ?? 90_000, async () => existsSync(caFile) && (await readyz(securePort, readFileSync(caFile, 'utf8'), token)));
  };
  try {
    await startApiServer();
  } catch (e) {
    await etcd.stop();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }

  const server = `https://127.0.0.1:${securePort}`;
  const kubeconfigPath = join(dir, 'kubeconfig.yaml');
  const kubeConfig = (): KubeConfig => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'amesh-test', server, caFile, skipTLSVerify: false }],
      users: [{ name: 'admin', token }],
      contexts: [{ name: 'amesh-test', cluster: 'amesh-test', user: 'admin' }],
      currentContext: 'amesh-test',
    });
    return kc;
  };
  await writeFile(kubeconfigPath, kubeConfig().exportConfig());
  return {
    server,
    kubeConfig,
    kubeconfigPath,
    apiserverLogs: () => apiserver?.logs() ?? '',
    killApiServer: async () => {
      const running = apiserver;
      if (!running) return;
      process.kill(-running.pid, 'SIGKILL');
      // The child is unref'd: keep the loop alive until its exit is seen.
      const keepAlive = setInterval(() => undefined, 50);
      await running.exited;
      clearInterval(keepAlive);
      apiserver = undefined;
    },
    startApiServer,
    stop: async () => {
      await apiserver?.stop();
      await etcd.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

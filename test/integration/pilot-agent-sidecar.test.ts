// Istio's real pilot-agent (built from the pinned istio.io/istio by scripts/peers/build-peers.sh) run as
// the injected pod runs it, and `amesh sidecar` run with the injected proxy container's arguments,
// once per injection path (amesh injector's template; the amesh template rendered by Istio's own
// injector when bin/istio-inject is built):
// - the pod's containers, volumes and environment are the rendered ones, made runnable by
//   test/support/pod-files.ts (volume directories, downward-API files, the projected JWT, istiod's root
//   in the istio-ca-root-cert configMap, fieldRefs); the only addition is SECRET_TTL, to force rotations;
// - istiod (kube-less wrapper) runs its CA with plugged-in CA files made with openssl, serves the TLS
//   port 15012 with a certificate from that CA, and answers TokenReviews for JWTs signed by the test's
//   service-account key (--tokenReviewKeyFile);
// - pilot-agent (DISABLE_ENVOY=true, OUTPUT_CERTS on the shared emptyDir) authenticates with the pod's
//   JWT only, at istiod.istio-system.svc:15012 as in the pod; both run in a private network namespace
//   holding only lo (pilot-agent's status server binds every interface), where /etc/netns/<ns>/hosts
//   maps istiod.istio-system.svc to 127.0.0.1, so CA_ADDR and the discovery address are the pod's;
// - amesh sidecar, in this process (memory sink; no plugin controller; ops on 127.0.0.1), gets its
//   configuration through pilot-agent's XDS socket and the workload certificate from OUTPUT_CERTS: the
//   client ssl object equals the files pilot-agent wrote, the leaf verifies against istiod's CA, and a
//   rotation by pilot-agent reaches the ssl object without the sidecar restarting or reconnecting.
// Skipped, saying why, without the built peers or without root (network namespaces).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { stringify } from 'yaml';
import { runCli } from '../../src/app/cli.js';
import { sslId } from '../../src/adapters/apisix/render-ssl.js';
import { WORKLOAD_CERTIFICATE_SECRET } from '../../src/adapters/istio/sds-names.js';
import { OUTPUT_CERT_FILES } from '../../src/adapters/istio/output-certs-source.js';
import type { GatewayConfig } from '../../src/domain/gateway-config.js';
import { DEFAULT_TEMPLATE_OPTIONS, pilotAgentContainer, proxyContainer, sidecarVolumes } from '../../src/domain/injection/sidecar-template.js';
import type { JsonObject } from '../../src/domain/json.js';
import type { PluginConfigSource } from '../../src/ports/plugin-config-source.js';
import { AGENT_CONTAINER, certificateWiringProblems, PILOT_AGENT_PATHS, PROXY_CONTAINER, renderedPodOf } from '../support/injected-pod.js';
import { istioInjectAvailable } from '../support/kube.js';
import { renderWithIstio } from '../support/istio-inject.js';
import { issuedBy, type IstiodCa, makeIstiodCa, pemCertificates } from '../support/istiod-ca.js';
import {
  ackCounts,
  copyBookinfoIstio,
  PRODUCTPAGE_IP,
  RecordingLogger,
  RecordingSink,
  REVIEWS_V1,
  TimedMetrics,
  until,
  upstreamNames,
  withTimeout,
} from '../support/mesh-sidecar.js';
import { createNetns, deleteNetns } from '../support/netns.js';
import { type IstiodPeer, launch, peersAvailable, type RunningPeer, startIstiod, waitUntil } from '../support/peers.js';
import { materializePod, type PodFiles, type PodIdentity, type RenderedPod } from '../support/pod-files.js';

const NAME = 'pilot-agent-sidecar';
/** Short enough that pilot-agent renews within a few seconds (at half the lifetime, ±1 %). */
const SECRET_TTL = '8s';
const WAIT_MS = 30_000;
const SPIFFE_ID = 'URI:spiffe://cluster.local/ns/default/sa/bookinfo-productpage';

const PRODUCTPAGE_POD = {
  name: 'productpage-v1-6b746f74dc-9stvm',
  namespace: 'default',
  serviceAccountName: 'bookinfo-productpage',
  labels: { app: 'productpage', version: 'v1', 'pod-template-hash': '6b746f74dc', 'security.istio.io/tlsMode': 'istio' },
} as const;

function identity(labels: Record<string, string>, annotations: Record<string, string>): PodIdentity {
  return { ...PRODUCTPAGE_POD, podIP: PRODUCTPAGE_IP, hostIP: '172.18.0.2', nodeName: 'kind-worker', labels, annotations };
}

interface Rendering {
  readonly name: string;
  /** Why it cannot be rendered here, or undefined. */
  readonly unavailable: string | undefined;
  render(): { pod: RenderedPod; identity: PodIdentity };
}

const RENDERINGS: readonly Rendering[] = [
  {
    name: 'amesh injector',
    unavailable: undefined,
    render: () => {
      const o = { ...DEFAULT_TEMPLATE_OPTIONS, image: 'amesh-proxy:test', pilotAgentImage: 'proxyv2:test' };
      const app: JsonObject = { name: 'productpage', image: 'productpage:test', ports: [{ containerPort: 9080 }] };
      return { pod: { containers: [pilotAgentContainer(o), proxyContainer(o), app], volumes: sidecarVolumes() }, identity: identity({ ...PRODUCTPAGE_POD.labels }, {}) };
    },
  },
  {
    name: "Istio's injector, amesh template",
    unavailable: istioInjectAvailable().reason,
    render: () => {
      const pod = renderWithIstio(
        stringify({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: PRODUCTPAGE_POD.name, namespace: PRODUCTPAGE_POD.namespace, labels: PRODUCTPAGE_POD.labels, annotations: { 'inject.istio.io/templates': 'amesh' } },
          spec: { serviceAccountName: PRODUCTPAGE_POD.serviceAccountName, containers: [{ name: 'productpage', image: 'productpage:test', ports: [{ containerPort: 9080 }] }] },
        }),
      );
      return { pod: renderedPodOf(pod), identity: identity(pod.metadata?.labels ?? {}, pod.metadata?.annotations ?? {}) };
    },
  },
];

/** Why this machine cannot run the suite, or undefined. */
function unavailable(): string | undefined {
  const peers = peersAvailable();
  if (!peers.istiod || !peers.pilotAgent) return `peers not built (run scripts/peers/build-peers.sh): ${peers.reason ?? ''}`;
  if (process.getuid?.() !== 0) return 'needs root (ip netns add: pilot-agent binds every interface, so it runs in a private network namespace)';
  for (const program of ['ip', 'openssl']) if (spawnSync('sh', ['-c', `command -v ${program}`]).status !== 0) return `${program} not installed`;
  return undefined;
}

/** A plugin source with nothing to deliver: the pod has no amesh controller here. */
const NO_PLUGINS: PluginConfigSource = { target: 'none (test)', subscribe: () => undefined, report: () => undefined, close: async () => undefined };

/** TimedMetrics that also count xDS (re)connections. */
class ConnectionMetrics extends TimedMetrics {
  connects = 0;
  override xdsConnected(connected: boolean): void {
    super.xdsConnected(connected);
    if (connected) this.connects += 1;
  }
}

interface Ctx {
  /** What failed in before(): uvu reports a throwing before hook as nothing at all (its runner returns from `finally`). */
  setupError?: unknown;
  netns?: string;
  configDir?: string;
  istiod?: IstiodPeer;
  files?: PodFiles;
  agent?: RunningPeer;
  agentLaunchDir?: string;
  sidecar?: {
    sink: RecordingSink;
    metrics: ConnectionMetrics;
    logger: RecordingLogger;
    exit: Promise<number>;
    exited: () => boolean;
    stop: () => Promise<number>;
    err: () => string;
  };
}

const read = (path: string): string => readFileSync(path, 'utf8');

/** The client ssl object of the workload certificate (`default`), if applied. */
function workloadSsl(config: GatewayConfig): JsonObject | undefined {
  return config.ofKind('ssls').find((o) => o.id === sslId(WORKLOAD_CERTIFICATE_SECRET))?.value;
}

let ca: IstiodCa | undefined;

function podSuite(rendering: Rendering): void {
  const s = suite<Ctx>(`${NAME} (${rendering.name}): pilot-agent without Envoy against istiod's CA, amesh sidecar on its XDS socket and OUTPUT_CERTS`);
  const why = unavailable() ?? (rendering.unavailable ? `cannot render: ${rendering.unavailable}` : undefined);
  if (why) {
    console.log(`${NAME} (${rendering.name}): skipped: ${why}`);
    return;
  }
  s.before(async (ctx) => {
    try {
      await setUp(ctx);
    } catch (error) {
      ctx.setupError = error;
    }
  });
  // Every test fails with the set-up's error instead (see Ctx.setupError).
  s.before.each((ctx) => {
    if (ctx.setupError !== undefined) throw ctx.setupError;
  });

  async function setUp(ctx: Ctx): Promise<void> {
    ca ??= makeIstiodCa();
    const { pod, identity: id } = rendering.render();
    // What is run is what was rendered: the wiring the unit and template tests check.
    assert.equal(certificateWiringProblems(pod), []);

    ctx.netns = await createNetns('pilot');
    // `ip netns exec` bind-mounts /etc/netns/<ns>/* over /etc: in there istiod.istio-system.svc is
    // istiod on lo, so pilot-agent dials the pod's CA_ADDR and discovery address and checks istiod's
    // certificate against that name, as in a cluster.
    mkdirSync(`/etc/netns/${ctx.netns}`, { recursive: true });
    writeFileSync(`/etc/netns/${ctx.netns}/hosts`, '127.0.0.1 localhost istiod.istio-system.svc\n::1 localhost\n');

    ctx.configDir = copyBookinfoIstio();
    ctx.istiod = await startIstiod({
      configDir: ctx.configDir,
      netns: ctx.netns,
      ca,
      tokenReviewKey: ca.serviceAccountPublicKey,
      meshConfig: ['rootNamespace: istio-system', 'trustDomain: cluster.local', 'defaultConfig:', '  discoveryAddress: istiod.istio-system.svc:15012', ''].join('\n'),
    });

    const authority = ca;
    ctx.files = materializePod(pod, id, {
      serviceAccountToken: (audience, seconds) =>
        authority.serviceAccountToken({ namespace: id.namespace, serviceAccount: id.serviceAccountName, audience, lifetimeSeconds: seconds }),
      configMaps: { 'istio-ca-root-cert': { 'root-cert.pem': ca.rootCert } },
    });
    const files = ctx.files;
    const agentEnv = files.env(AGENT_CONTAINER);
    const certsDir = agentEnv['OUTPUT_CERTS']!;
    const binary = peersAvailable().pilotAgent!;
    ctx.agentLaunchDir = mkdtempSync(join(tmpdir(), 'amesh-pilot-agent-'));
    // The container's environment only (plus PATH), and its arguments; its working directory is its
    // root, as / is in the proxyv2 image (pilot-agent's paths are relative: ./etc/istio/proxy, ...).
    ctx.agent = launch(
      'ip',
      ['netns', 'exec', ctx.netns, binary, ...files.args(AGENT_CONTAINER)],
      { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...agentEnv, SECRET_TTL },
      files.containerRoot(AGENT_CONTAINER),
      ctx.agentLaunchDir,
      `unix:${files.hostPath(AGENT_CONTAINER, PILOT_AGENT_PATHS.xdsSocket)}`,
    );
    await waitUntil(ctx.agent, 'pilot-agent', WAIT_MS, async () =>
      [files.hostPath(AGENT_CONTAINER, PILOT_AGENT_PATHS.xdsSocket), ...Object.values(OUTPUT_CERT_FILES).map((f) => join(certsDir, f))].every((p) => existsSync(p)),
    );

    const sink = new RecordingSink(50);
    const metrics = new ConnectionMetrics();
    const logger = new RecordingLogger();
    const abort = new AbortController();
    // The container's arguments, but the ops endpoints on loopback (0.0.0.0:15021 is the pod's, not
    // this machine's) and the memory sink instead of the shared-memory one (no nginx here).
    const args = files
      .args(PROXY_CONTAINER)
      .map((a) => (a.startsWith('--ready-address=') ? '--ready-address=127.0.0.1:0' : a.startsWith('--metrics-address=') ? '--metrics-address=off' : a));
    let err = '';
    let done = false;
    const exit = runCli(
      args,
      { out: () => undefined, err: (t) => void (err += t), env: files.env(PROXY_CONTAINER), signal: abort.signal },
      { sidecar: { sinks: [sink], metrics, logger, plugins: NO_PLUGINS } },
    ).finally(() => (done = true));
    ctx.sidecar = { sink, metrics, logger, exit, exited: () => done, stop: () => (abort.abort(), exit), err: () => err };
    await withTimeout(
      until(() => workloadSsl(sink.applied) !== undefined, 'an applied configuration with the workload ssl object', WAIT_MS, 50),
      WAIT_MS + 1000,
      () => `sidecar: ${err} ${logger.describe()}`,
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}\nsidecar: ${err}\n${logger.describe()}\npilot-agent:\n${ctx.agent?.logs().slice(-3000) ?? ''}`);
    });
  }

  s.after(async (ctx) => {
    await ctx.sidecar?.stop();
    await ctx.agent?.stop();
    await ctx.istiod?.stop();
    if (ctx.netns) {
      await deleteNetns(ctx.netns);
      rmSync(`/etc/netns/${ctx.netns}`, { recursive: true, force: true });
    }
    ctx.files?.remove();
    for (const dir of [ctx.configDir, ctx.agentLaunchDir]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  s("pilot-agent gets the workload certificate from istiod's CA with the pod's JWT and writes it to OUTPUT_CERTS; no SDS socket", (ctx) => {
    const dir = ctx.files!.env(AGENT_CONTAINER)['OUTPUT_CERTS']!;
    const chain = pemCertificates(read(join(dir, OUTPUT_CERT_FILES.certificateChain)));
    const leaf = chain[0]!;
    assert.is(leaf.subjectAltName, SPIFFE_ID, "the pod's identity: the JWT's service account");
    assert.is(issuedBy(leaf, ca!), undefined);
    assert.ok(!leaf.ca, 'a leaf');
    assert.is(read(join(dir, OUTPUT_CERT_FILES.rootCert)).trim(), ca!.rootCert.trim(), 'root-cert.pem is the mesh root');
    // The JWT was its only credential: no provisioned or file-mounted certificates.
    const env = ctx.files!.env(AGENT_CONTAINER);
    for (const name of ['PROV_CERT', 'FILE_MOUNTED_CERTS']) assert.is(env[name], undefined, name);
    assert.ok(!existsSync(join(ctx.files!.containerRoot(AGENT_CONTAINER), 'etc/certs')), 'no ./etc/certs');
    // With DISABLE_ENVOY=true pilot-agent serves no SDS socket, not even its default one.
    assert.ok(!existsSync(join(ctx.files!.containerRoot(AGENT_CONTAINER), 'var/run/secrets/workload-spiffe-uds/socket')), 'an SDS socket appeared');
  });

  s("amesh sidecar gets the mesh configuration through pilot-agent's XDS socket", (ctx) => {
    const { sink, metrics, logger } = ctx.sidecar!;
    const names = [...upstreamNames(sink.applied).values()];
    assert.ok(names.includes(REVIEWS_V1), `an upstream for ${REVIEWS_V1}; got ${names.join(', ')}`);
    assert.ok(sink.applied.ofKind('routes').length > 0, 'routes applied');
    const counts = ackCounts(metrics);
    for (const type of ['cds', 'eds', 'lds', 'rds']) assert.ok((counts[type]?.responses ?? 0) > 0, `no ${type} response; ${JSON.stringify(counts)}`);
    for (const [type, c] of Object.entries(counts)) assert.is(c.nacks, 0, `${type} NACKed: ${logger.nacks().join('; ')}`);
    assert.is(counts['sds'], undefined, "SDS over ADS was used for pilot-agent's secrets");
    const target = ctx.files!.args(PROXY_CONTAINER).find((a) => a.startsWith('--xds='));
    assert.is(target, `--xds=unix:${ctx.files!.hostPath(PROXY_CONTAINER, PILOT_AGENT_PATHS.xdsSocket)}`);
    // pilot-agent's upstream was istiod's TLS port under the pod's name for it (JWT-authenticated: XDS_AUTH).
    assert.match(ctx.agent!.logs(), /connected to (delta )?upstream XDS server: istiod\.istio-system\.svc:15012/);
  });

  s("the client ssl object is the certificate pilot-agent wrote, issued by istiod's CA, and the mTLS upstreams use it", async (ctx) => {
    const { sink } = ctx.sidecar!;
    const dir = ctx.files!.env(AGENT_CONTAINER)['OUTPUT_CERTS']!;
    // pilot-agent renews every few seconds here (SECRET_TTL): compare with the files as they are at one moment.
    let ssl: JsonObject | undefined;
    await until(
      () => {
        ssl = workloadSsl(sink.applied);
        return ssl?.['cert'] === read(join(dir, OUTPUT_CERT_FILES.certificateChain)) && ssl['key'] === read(join(dir, OUTPUT_CERT_FILES.privateKey));
      },
      'the ssl object to equal cert-chain.pem and key.pem',
      WAIT_MS,
      20,
    );
    assert.is(ssl!['type'], 'client');
    const leaf = pemCertificates(String(ssl!['cert']))[0]!;
    assert.is(issuedBy(leaf, ca!), undefined);
    assert.is(leaf.subjectAltName, SPIFFE_ID);
    const users = sink.applied.ofKind('upstreams').filter((u) => JSON.stringify(u.value['tls'] ?? null).includes(sslId(WORKLOAD_CERTIFICATE_SECRET)));
    assert.ok(users.length > 0, 'no upstream presents the workload certificate');
  });

  s('a rotation by pilot-agent reaches the ssl object without a restart', async (ctx) => {
    const { sink, metrics, exited } = ctx.sidecar!;
    const dir = ctx.files!.env(AGENT_CONTAINER)['OUTPUT_CERTS']!;
    const before = String(workloadSsl(sink.applied)!['cert']);
    const beforeLeaf = pemCertificates(before)[0]!;
    const connects = metrics.connects;
    await until(() => read(join(dir, OUTPUT_CERT_FILES.certificateChain)) !== before, 'pilot-agent to write a renewed certificate', WAIT_MS, 50);
    let after = '';
    await until(
      () => {
        after = String(workloadSsl(sink.applied)?.['cert'] ?? '');
        return after !== before && after === read(join(dir, OUTPUT_CERT_FILES.certificateChain));
      },
      'the renewed certificate in the ssl object',
      WAIT_MS,
      20,
    );
    const afterLeaf = pemCertificates(after)[0]!;
    assert.is.not(afterLeaf.serialNumber, beforeLeaf.serialNumber);
    assert.is(issuedBy(afterLeaf, ca!), undefined);
    assert.is(afterLeaf.subjectAltName, SPIFFE_ID);
    assert.ok(new Date(afterLeaf.validTo) > new Date(beforeLeaf.validTo), 'the renewed certificate outlives the old one');
    assert.not.ok(exited(), 'the sidecar exited');
    assert.is(metrics.connects, connects, 'the xDS stream was re-established');
    console.log(
      `${NAME} (${rendering.name}): the ssl object followed pilot-agent's renewal, serial ${beforeLeaf.serialNumber.slice(0, 12)}… → ${afterLeaf.serialNumber.slice(0, 12)}…`,
    );
  });

  s.run();
}

for (const rendering of RENDERINGS) podSuite(rendering);

// amesh injector called by a real kube-apiserver: the MutatingWebhookConfiguration from
// deploy/injector.yaml (clientConfig pointed at the test's HTTPS listener) is registered, and pods
// created through the API server come back with the sidecar, the init container and the probes —
// or untouched when they opt out or their namespace did not opt in. With the injector down, the
// documented failurePolicy (Fail) refuses pods in labelled namespaces only.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AdmissionregistrationV1Api, CoreV1Api, type V1MutatingWebhookConfiguration, type V1Pod } from '@kubernetes/client-node';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseAllDocuments } from 'yaml';
import type { InjectorApp } from '../../src/app/injector/injector-app.js';
import { buildInjectorContainer, InjectorAppToken } from '../../src/app/injector/injector-container.js';
import { parseInjectorConfig } from '../../src/app/injector/injector-config.js';
import type { Logger } from '../../src/ports/logger.js';
import { freePort } from '../support/peers.js';
import { kubeAvailable, startKube, type KubeControlPlane } from '../support/kube.js';
import { createNamespace, podManifest, waitFor } from '../support/kube-objects.js';

const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const MANIFEST = fileURLToPath(new URL('../../deploy/injector.yaml', import.meta.url));
const MESHED = 'meshed';
const PLAIN = 'plain';

/** A CA and a serving certificate for 127.0.0.1 (openssl CLI). */
function servingCert(dir: string): { ca: string; cert: string; key: string } {
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  openssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'ca-key.pem',
    '-out',
    'ca.pem',
    '-days',
    '1',
    '-subj',
    '/CN=amesh-injector-test-ca',
  );
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'key.pem', '-out', 'req.csr', '-subj', '/CN=amesh-injector');
  openssl('x509', '-req', '-in', 'req.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-days', '1', '-out', 'cert.pem', '-extfile', 'san.ext');
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
}

/** deploy/injector.yaml's webhook configuration, calling `url` with `caBundle` instead of the Service. */
function webhookFromManifest(url: string, caPem: string): V1MutatingWebhookConfiguration {
  const docs = parseAllDocuments(readFileSync(MANIFEST, 'utf8')).map((d) => d.toJS() as { kind?: string });
  const config = docs.find((d) => d.kind === 'MutatingWebhookConfiguration') as V1MutatingWebhookConfiguration;
  return {
    ...config,
    metadata: { name: config.metadata!.name! },
    webhooks: config.webhooks!.map((w) => ({ ...w, clientConfig: { url, caBundle: Buffer.from(caPem).toString('base64') } })),
  };
}

interface Ctx {
  kube?: KubeControlPlane;
  injector?: InjectorApp;
  dir?: string;
  port?: number;
  certs?: { ca: string; cert: string; key: string };
}

const available = kubeAvailable();
const s = suite<Ctx>('amesh injector as the real API server calls it');

const startInjector = async (ctx: Ctx): Promise<void> => {
  const config = parseInjectorConfig({
    listen: `127.0.0.1:${ctx.port}`,
    tlsCertFile: ctx.certs!.cert,
    tlsKeyFile: ctx.certs!.key,
    image: 'registry.invalid/amesh-proxy:test',
    pilotAgentImage: 'registry.invalid/proxyv2:test',
  });
  if (!config.ok) throw new Error(config.error);
  // Wired as `amesh injector` wires it.
  ctx.injector = buildInjectorContainer(config.value, { logger: quiet }).get<InjectorApp>(InjectorAppToken);
  await ctx.injector.start();
};

const names = (list: { name: string }[] | undefined): string[] => (list ?? []).map((c) => c.name);

if (!available.apiserver || !available.etcd) {
  console.log(`kube-injector: skipped: ${available.reason ?? ''}`);
} else {
  s.before(async (ctx) => {
    ctx.dir = mkdtempSync(join(tmpdir(), 'amesh-injector-'));
    ctx.certs = servingCert(ctx.dir);
    ctx.port = await freePort();
    await startInjector(ctx);
    ctx.kube = await startKube();
    const kc = ctx.kube.kubeConfig();
    await createNamespace(kc, MESHED, { 'amesh-injection': 'enabled' });
    await createNamespace(kc, PLAIN);
    await kc
      .makeApiClient(AdmissionregistrationV1Api)
      .createMutatingWebhookConfiguration({ body: webhookFromManifest(`https://127.0.0.1:${ctx.port}/inject`, readFileSync(ctx.certs.ca, 'utf8')) });
    // The API server picks webhook configurations up asynchronously: probe until it calls us.
    const core = kc.makeApiClient(CoreV1Api);
    let probe = 0;
    await waitFor('the API server to call the webhook', async () => {
      const name = `probe-${probe++}`;
      const pod = await core.createNamespacedPod({ namespace: MESHED, body: podManifest(name, { app: 'probe' }) });
      await core.deleteNamespacedPod({ namespace: MESHED, name, gracePeriodSeconds: 0 });
      return names(pod.spec?.initContainers as { name: string }[]).includes('amesh-init');
    });
  });

  s.after(async (ctx) => {
    await ctx.injector?.stop();
    await ctx.kube?.stop();
    if (ctx.dir) rmSync(ctx.dir, { recursive: true, force: true });
  });

  s('a pod in a labelled namespace gets amesh-init, istio-proxy (no Envoy), amesh-proxy with probes, and the volumes', async (ctx) => {
    const core = ctx.kube!.kubeConfig().makeApiClient(CoreV1Api);
    const pod: V1Pod = await core.createNamespacedPod({ namespace: MESHED, body: podManifest('web-1', { app: 'web' }) });
    assert.equal(names(pod.spec!.initContainers), ['amesh-init']);
    assert.equal(names(pod.spec!.containers), ['istio-proxy', 'amesh-proxy', 'app']);
    const init = pod.spec!.initContainers![0]!;
    assert.equal(init.command, ['amesh', 'intercept', 'install']);
    assert.equal(init.securityContext?.capabilities?.add, ['NET_ADMIN', 'NET_RAW']);
    assert.is(init.securityContext?.runAsUser, 0);
    const agent = pod.spec!.containers[0]!;
    assert.is(agent.env?.find((e) => e.name === 'DISABLE_ENVOY')?.value, 'true');
    assert.equal(agent.args, ['proxy', 'sidecar', '--domain', '$(POD_NAMESPACE).svc.cluster.local']);
    const proxy = pod.spec!.containers[1]!;
    assert.ok(proxy.args?.includes('--xds=unix:/etc/istio/proxy/XDS'), 'amesh-proxy does not use the pilot-agent XDS socket');
    assert.equal(proxy.readinessProbe?.httpGet?.path, '/healthz/ready');
    assert.equal(proxy.readinessProbe?.httpGet?.port, 15021);
    assert.equal(proxy.startupProbe?.httpGet?.port, 15021);
    assert.is(proxy.securityContext?.runAsUser, 1337);
    // Both containers share pilot-agent's socket directory.
    for (const c of [agent, proxy])
      assert.ok(
        c.volumeMounts?.some((m) => m.name === 'istio-envoy' && m.mountPath === '/etc/istio/proxy'),
        `${c.name} lacks /etc/istio/proxy`,
      );
    assert.equal(
      names(pod.spec!.volumes as { name: string }[]).filter((n) => n.startsWith('istio')),
      ['istio-envoy', 'istio-data', 'istio-podinfo', 'istio-token', 'istiod-ca-cert'],
    );
    assert.is(pod.metadata?.annotations?.['amesh.apisix.apache.org/injected'], 'amesh-proxy,istio-proxy,amesh-init');
    assert.is(pod.metadata?.annotations?.['kubectl.kubernetes.io/default-container'], 'app');
    // The API server validated the patched pod: the projected token and downward API volumes are real.
    assert.is(pod.spec!.volumes!.find((v) => v.name === 'istio-token')?.projected?.sources?.[0]?.serviceAccountToken?.audience, 'istio-ca');
  });

  s("a pod's existing init containers and volumes are kept; the capture runs after them", async (ctx) => {
    const core = ctx.kube!.kubeConfig().makeApiClient(CoreV1Api);
    const body = podManifest('with-init', { app: 'web' });
    body.spec!.initContainers = [{ name: 'fetch-config', image: 'registry.invalid/fetch:1' }];
    body.spec!.volumes = [{ name: 'config', emptyDir: {} }];
    const pod = await core.createNamespacedPod({ namespace: MESHED, body });
    assert.equal(names(pod.spec!.initContainers), ['fetch-config', 'amesh-init']);
    assert.equal(names(pod.spec!.volumes as { name: string }[])[0], 'config');
  });

  s('a pod that opts out (label or annotation) is untouched', async (ctx) => {
    const core = ctx.kube!.kubeConfig().makeApiClient(CoreV1Api);
    const byLabel = await core.createNamespacedPod({ namespace: MESHED, body: podManifest('no-mesh', { app: 'batch', 'sidecar.istio.io/inject': 'false' }) });
    const byAnnotation = await core.createNamespacedPod({
      namespace: MESHED,
      body: podManifest('no-mesh-2', { app: 'batch' }, { annotations: { 'sidecar.istio.io/inject': 'false' } }),
    });
    for (const pod of [byLabel, byAnnotation]) {
      assert.equal(names(pod.spec!.containers), ['app'], `${pod.metadata?.name} was injected`);
      assert.is(pod.spec!.initContainers, undefined);
      assert.is(pod.metadata?.annotations?.['amesh.apisix.apache.org/injected'], undefined);
    }
  });

  s('a pod in a namespace without the label is untouched', async (ctx) => {
    const pod = await ctx
      .kube!.kubeConfig()
      .makeApiClient(CoreV1Api)
      .createNamespacedPod({ namespace: PLAIN, body: podManifest('web-1', { app: 'web' }) });
    assert.equal(names(pod.spec!.containers), ['app']);
    assert.is(pod.spec!.initContainers, undefined);
  });

  s('failurePolicy Fail: with the injector down, pods in labelled namespaces are refused, others still admitted', async (ctx) => {
    const core = ctx.kube!.kubeConfig().makeApiClient(CoreV1Api);
    await ctx.injector!.stop();
    try {
      const refused = await core.createNamespacedPod({ namespace: MESHED, body: podManifest('while-down', { app: 'web' }) }).then(
        () => undefined,
        (e: { body?: string }) => String(e.body),
      );
      assert.ok(refused, 'a pod was admitted without its sidecar while the injector was down');
      assert.ok(/failed calling webhook .*sidecar-injector\.amesh\.apisix\.apache\.org/.test(refused!), refused);
      const plain = await core.createNamespacedPod({ namespace: PLAIN, body: podManifest('while-down', { app: 'web' }) });
      assert.equal(names(plain.spec!.containers), ['app']);
    } finally {
      await startInjector(ctx);
    }
    const after = await core.createNamespacedPod({ namespace: MESHED, body: podManifest('after-restart', { app: 'web' }) });
    assert.equal(names(after.spec!.containers), ['istio-proxy', 'amesh-proxy', 'app']);
  });

  s.run();
}

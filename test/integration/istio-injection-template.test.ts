// deploy/istio/amesh-injection-values.yaml rendered by Istio's own injection code (pkg/kube/inject
// at the pinned Istio version, built as bin/istio-inject), then created on a real kube-apiserver:
// the template parses and executes with istiod's values, produces pilot-agent without Envoy writing
// the workload certificate to OUTPUT_CERTS on a volume the amesh proxy reads (--output-certs), the
// amesh proxy with its probes and the capture init container, the result is a pod the API server
// accepts, and an opted-out pod is left alone. Skipped, saying why, without the built binaries.
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { stringify } from 'yaml';
import { istioInjectAvailable, kubeAvailable, startKube, type KubeControlPlane } from '../support/kube.js';
import { createNamespace } from '../support/kube-objects.js';
import { renderWithIstio } from '../support/istio-inject.js';
import { certificateWiringProblems, renderedPodOf } from '../support/injected-pod.js';
import {
  initContainer,
  proxyContainer,
  DEFAULT_TEMPLATE_OPTIONS,
  OUTPUT_CERTS_DIR,
  PROXY_RUNTIME_ENV,
  SHDICT_PATH,
  XDS_SOCKET,
} from '../../src/domain/injection/sidecar-template.js';

interface Ctx {
  kube?: KubeControlPlane;
}

function podYaml(name: string, extra: { labels?: Record<string, string>; annotations?: Record<string, string> } = {}): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'shop', labels: { app: 'web', version: 'v1', ...extra.labels }, annotations: { 'inject.istio.io/templates': 'amesh', ...extra.annotations } },
    spec: { serviceAccountName: 'default', containers: [{ name: 'app', image: 'registry.invalid/app:1', ports: [{ containerPort: 8080 }] }] },
  });
}

function render(_ctx: Ctx, input: string): { pod: V1Pod } {
  return { pod: renderWithIstio(input) };
}

const names = (list: { name: string }[] | undefined): string[] => (list ?? []).map((c) => c.name);

const inject = istioInjectAvailable();
const kube = kubeAvailable();
const s = suite<Ctx>("Istio custom injection template 'amesh', rendered by Istio's injector");

if (!inject.binary || !kube.apiserver || !kube.etcd) {
  console.log(`istio-injection-template: skipped: ${inject.reason ?? kube.reason ?? ''}`);
} else {
  s.before(async (ctx) => {
    ctx.kube = await startKube();
    await createNamespace(ctx.kube.kubeConfig(), 'shop', { 'istio-injection': 'enabled' });
  });
  s.after(async (ctx) => {
    await ctx.kube?.stop();
  });

  s('a pod asking for the amesh template gets amesh-init, pilot-agent without Envoy and amesh-proxy with probes; the API server accepts it', async (ctx) => {
    const { pod } = render(ctx, podYaml('web-1'));
    assert.equal(names(pod.spec!.initContainers), ['amesh-init']);
    assert.equal(names(pod.spec!.containers).sort(), ['amesh-proxy', 'app', 'istio-proxy']);
    const init = pod.spec!.initContainers![0]!;
    assert.equal(init.command, ['amesh', 'intercept', 'install']);
    // The same capture as `amesh injector` sets up.
    assert.equal(init.args, initContainer({ ...DEFAULT_TEMPLATE_OPTIONS, image: 'x', pilotAgentImage: 'y' })['args']);
    const agent = pod.spec!.containers.find((c) => c.name === 'istio-proxy')!;
    assert.is(agent.env?.find((e) => e.name === 'DISABLE_ENVOY')?.value, 'true');
    assert.is(agent.image, 'docker.io/istio/proxyv2:1.29.6');
    assert.is(agent.env?.find((e) => e.name === 'CA_ADDR')?.value, 'istiod.istio-system.svc:15012');
    const proxy = pod.spec!.containers.find((c) => c.name === 'amesh-proxy')!;
    assert.ok(proxy.args?.includes('--xds=unix:/etc/istio/proxy/XDS'));
    assert.ok(proxy.args?.includes('--plugins-from=amesh-controller.amesh-system.svc:15810'));
    // The same sink and runtime settings as `amesh injector` gives the proxy.
    const ours = proxyContainer({ ...DEFAULT_TEMPLATE_OPTIONS, image: 'x', pilotAgentImage: 'y' });
    assert.ok(proxy.args?.includes(`--sink=shdict:${SHDICT_PATH}`));
    for (const env of PROXY_RUNTIME_ENV)
      assert.equal(
        proxy.env?.find((e) => e.name === env['name']),
        env,
      );
    assert.equal(
      (ours['args'] as string[]).filter((a) => a.startsWith('--sink')),
      [`--sink=shdict:${SHDICT_PATH}`],
    );
    // The certificate and xDS paths: OUTPUT_CERTS on a shared emptyDir read with --output-certs, no SDS
    // socket (none exists with DISABLE_ENVOY=true), the same paths as `amesh injector` uses.
    assert.equal(certificateWiringProblems(renderedPodOf(pod)), []);
    assert.is(agent.env?.find((e) => e.name === 'OUTPUT_CERTS')?.value, OUTPUT_CERTS_DIR);
    assert.equal(
      proxy.args?.filter((a) => /^--(xds|output-certs|sds)=/.test(a)),
      [`--xds=unix:${XDS_SOCKET}`, `--output-certs=${OUTPUT_CERTS_DIR}`],
    );
    assert.equal(
      proxy.volumeMounts?.find((m) => m.mountPath === OUTPUT_CERTS_DIR),
      { name: 'istio-data', mountPath: OUTPUT_CERTS_DIR, readOnly: true },
    );
    assert.is(proxy.readinessProbe?.httpGet?.port, 15021);
    assert.is(proxy.readinessProbe?.httpGet?.path, '/healthz/ready');
    // Istio's bookkeeping saw our containers as the injected ones.
    const status = JSON.parse(pod.metadata!.annotations!['sidecar.istio.io/status']!) as { containers: string[]; initContainers: string[] };
    assert.equal(status.containers, ['istio-proxy', 'amesh-proxy']);
    assert.equal(status.initContainers, ['amesh-init']);
    assert.is(pod.metadata!.labels!['service.istio.io/canonical-name'], 'web');
    const created = await ctx.kube!.kubeConfig().makeApiClient(CoreV1Api).createNamespacedPod({ namespace: 'shop', body: pod });
    assert.equal(names(created.spec!.initContainers), ['amesh-init']);
  });

  s('per-pod annotations choose the amesh image and controller', (ctx) => {
    const { pod } = render(
      ctx,
      podYaml('web-2', { annotations: { 'amesh.apisix.apache.org/image': 'registry.example/amesh:2', 'amesh.apisix.apache.org/controller': 'ctl.mesh.svc:15810' } }),
    );
    const proxy = pod.spec!.containers.find((c) => c.name === 'amesh-proxy')!;
    assert.is(proxy.image, 'registry.example/amesh:2');
    assert.is(pod.spec!.initContainers![0]!.image, 'registry.example/amesh:2');
    assert.ok(proxy.args?.includes('--plugins-from=ctl.mesh.svc:15810'));
  });

  s('a pod that opts out is untouched', (ctx) => {
    const { pod } = render(ctx, podYaml('batch', { labels: { 'sidecar.istio.io/inject': 'false' } }));
    assert.equal(names(pod.spec!.containers), ['app']);
    assert.is(pod.spec!.initContainers, undefined);
  });

  s.run();
}

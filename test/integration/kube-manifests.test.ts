// The install manifests under deploy/ against a real kube-apiserver: every object is accepted (the
// namespace, CRD and the controller's RBAC for real, the rest with server-side dry run; cert-manager's
// Issuer/Certificate need cert-manager's CRDs and are the only ones left out), and the controller's
// ClusterRole and leader-election Role are enough: a controller authenticated as the
// amesh-controller ServiceAccount (a real bound token, RBAC authorization on) takes the Lease,
// watches, delivers, writes status and records Events.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoordinationV1Api, CoreV1Api, KubeConfig, KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseAllDocuments } from 'yaml';
import { GrpcPluginConfigSource } from '../../src/adapters/plugin-grpc/grpc-plugin-config-source.js';
import type { ControllerApp } from '../../src/app/controller/controller-app.js';
import { parseControllerConfig } from '../../src/app/controller/controller-config.js';
import { buildControllerContainer, ControllerAppToken } from '../../src/app/controller/controller-container.js';
import type { Logger } from '../../src/ports/logger.js';
import type { PodPluginSet } from '../../src/ports/plugin-config-source.js';
import { kubeAvailable, startKube, type KubeControlPlane } from '../support/kube.js';
import { createNamespace, createPluginConfig, createPod, eventsFor, readPluginConfig, waitFor } from '../support/kube-objects.js';

const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const DEPLOY = fileURLToPath(new URL('../../deploy/', import.meta.url));
const NEEDS_CERT_MANAGER = new Set(['Issuer', 'Certificate']);
/** Created for real (the rest is dry run): what the RBAC test below needs. */
const APPLIED_FOR_REAL = new Set(['Namespace', 'CustomResourceDefinition', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);

function documents(file: string): KubernetesObject[] {
  return parseAllDocuments(readFileSync(join(DEPLOY, file), 'utf8'))
    .map((d) => d.toJS() as KubernetesObject | null)
    .filter((d): d is KubernetesObject => d !== null);
}

const ORDER = ['namespace.yaml', 'crd/ameshpluginconfigs.yaml', 'controller.yaml', 'injector.yaml'];

interface Ctx {
  kube?: KubeControlPlane;
  app?: ControllerApp;
}

const available = kubeAvailable();
const s = suite<Ctx>('deploy/ manifests on a real kube-apiserver');

if (!available.apiserver || !available.etcd) {
  console.log(`kube-manifests: skipped: ${available.reason ?? ''}`);
} else {
  s.before(async (ctx) => {
    ctx.kube = await startKube();
  });
  s.after(async (ctx) => {
    await ctx.app?.stop();
    await ctx.kube?.stop();
  });

  s('every manifest under deploy/ is accepted by the API server', async (ctx) => {
    const files = ['namespace.yaml', 'controller.yaml', 'injector.yaml', ...readdirSync(join(DEPLOY, 'crd')).map((f) => `crd/${f}`)];
    assert.equal([...new Set(files)].sort(), [...ORDER].sort(), 'a manifest is not covered by this test');
    const api = KubernetesObjectApi.makeApiClient(ctx.kube!.kubeConfig());
    const created: string[] = [];
    for (const file of ORDER) {
      for (const object of documents(file)) {
        const name = `${object.kind}/${object.metadata?.name}`;
        if (NEEDS_CERT_MANAGER.has(object.kind ?? '')) continue;
        const dryRun = APPLIED_FOR_REAL.has(object.kind ?? '') ? undefined : 'All';
        try {
          await api.create(object, undefined, dryRun);
        } catch (e) {
          assert.unreachable(`${file}: ${name} refused: ${String((e as { body?: unknown }).body ?? e)}`);
        }
        created.push(name);
        if (object.kind === 'CustomResourceDefinition') {
          await waitFor(
            'the CRD',
            async () => (await api.read({ apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition', metadata: { name: object.metadata!.name! } })) !== undefined,
          );
        }
      }
    }
    assert.ok(created.includes('MutatingWebhookConfiguration/amesh-sidecar-injector'));
    assert.ok(created.includes('Deployment/amesh-controller'));
  });

  s("the controller's ClusterRole is enough: running as the amesh-controller ServiceAccount it delivers, writes status, records Events", async (ctx) => {
    const admin = ctx.kube!.kubeConfig();
    const token = await admin.makeApiClient(CoreV1Api).createNamespacedServiceAccountToken({
      namespace: 'amesh-system',
      name: 'amesh-controller',
      body: { spec: { audiences: ['https://kubernetes.default.svc.cluster.local'], expirationSeconds: 3600 } },
    });
    const asController = new KubeConfig();
    const cluster = admin.getCurrentCluster()!;
    asController.loadFromOptions({
      clusters: [{ name: 'c', server: cluster.server, caFile: cluster.caFile, skipTLSVerify: false }],
      users: [{ name: 'amesh-controller', token: token.status!.token }],
      contexts: [{ name: 'c', cluster: 'c', user: 'amesh-controller' }],
      currentContext: 'c',
    });
    // Without the binding this would be forbidden: check that RBAC is really in force.
    const forbidden = await asController
      .makeApiClient(CoreV1Api)
      .listSecretForAllNamespaces()
      .then(
        () => false,
        (e: { code?: number }) => e.code === 403,
      );
    assert.ok(forbidden, 'the ServiceAccount can list secrets: RBAC is not in force, the test would prove nothing');

    await createNamespace(admin, 'rbac');
    await createPod(admin, 'rbac', 'web-1', { app: 'web' });
    const config = parseControllerConfig({ listen: '127.0.0.1:0', metricsAddress: 'off', leaderElectResourceNamespace: 'amesh-system', healthAddress: 'off' });
    if (!config.ok) throw new Error(config.error);
    ctx.app = buildControllerContainer(config.value, { kubeConfig: asController, logger: quiet }).get<ControllerApp>(ControllerAppToken);
    await ctx.app.start();
    const sets: PodPluginSet[] = [];
    const source = new GrpcPluginConfigSource({ target: ctx.app.address!, pod: { namespace: 'rbac', name: 'web-1' }, logger: quiet });
    source.subscribe((set) => sets.push(set));
    try {
      await createPluginConfig(admin, 'rbac', 'headers', { plugins: [{ name: 'response-rewrite', config: { headers: { set: { 'x-rbac': 'ok' } } } }] });
      await waitFor('the set', () => sets.some((set) => set.plugins.length === 1));
      const status = await waitFor('status written by the ServiceAccount', async () => (await readPluginConfig(admin, 'rbac', 'headers')).status);
      assert.is(status.matchedPods, 1);
      const events = await waitFor('an Event recorded by the ServiceAccount', async () => {
        const list = await eventsFor(admin, 'rbac', 'headers');
        return list.length > 0 ? list : undefined;
      });
      assert.is(events[0]!.reason, 'Delivered');
      // Delivering means leading: the Role lets it hold the Lease in amesh-system.
      const lease = await admin.makeApiClient(CoordinationV1Api).readNamespacedLease({ namespace: 'amesh-system', name: 'amesh-controller' });
      assert.is(lease.spec?.holderIdentity, ctx.app.state.identity);
    } finally {
      await source.close();
    }
  });

  s.run();
}

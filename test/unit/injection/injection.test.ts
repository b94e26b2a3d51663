// Injection as pure data: who gets the sidecar, the JSON Patch for pods with and without the lists
// it extends (applied here with a small RFC 6902 "add"), and the AdmissionReview codec.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { admissionResponse, decodeAdmissionReview } from '../../../src/app/injector/admission-review.js';
import { parseInjectorConfig } from '../../../src/app/injector/injector-config.js';
import { decideInjection } from '../../../src/domain/injection/injection-decision.js';
import { injectionPatch, type PatchOperation } from '../../../src/domain/injection/injection-patch.js';
import type { PodShape } from '../../../src/domain/injection/pod-shape.js';
import { DEFAULT_TEMPLATE_OPTIONS, OUTPUT_CERTS_DIR, XDS_SOCKET } from '../../../src/domain/injection/sidecar-template.js';
import type { JsonObject } from '../../../src/domain/json.js';
import { certificateWiringProblems } from '../../support/injected-pod.js';

const options = { ...DEFAULT_TEMPLATE_OPTIONS, image: 'amesh:1', pilotAgentImage: 'proxyv2:1' };

/** RFC 6902 "add" (the only operation injection emits), on a deep copy. */
function applyAdds(document: unknown, ops: readonly PatchOperation[]): Record<string, unknown> {
  const root = structuredClone(document) as Record<string, unknown>;
  for (const op of ops) {
    const tokens = op.path
      .split('/')
      .slice(1)
      .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = tokens.pop()!;
    let target: unknown = root;
    for (const t of tokens) target = (target as Record<string, unknown>)[t];
    if (Array.isArray(target)) target.splice(last === '-' ? target.length : Number(last), 0, op.value);
    else {
      assert.ok(target && typeof target === 'object', `${op.path}: parent missing`);
      (target as Record<string, unknown>)[last] = op.value;
    }
  }
  return root;
}

const names = (list: unknown): string[] => (list as { name: string }[]).map((c) => c.name);

const s = suite('sidecar injection (pure)');

s('who is injected: opt-outs by label or annotation, hostNetwork, already injected', () => {
  const pod = (metadata: PodShape['metadata'], spec: PodShape['spec'] = { containers: [{ name: 'app' }] }): PodShape => ({ metadata, spec });
  assert.equal(decideInjection(pod({ name: 'p' })), { inject: true });
  assert.equal(decideInjection(pod({ labels: { 'sidecar.istio.io/inject': 'false' } })).inject, false);
  assert.equal(decideInjection(pod({ annotations: { 'sidecar.istio.io/inject': 'No' } })).inject, false);
  assert.equal(decideInjection(pod({ labels: { 'sidecar.istio.io/inject': 'true' } })).inject, true);
  assert.equal(decideInjection(pod({}, { hostNetwork: true, containers: [{ name: 'app' }] })).inject, false);
  assert.equal(decideInjection(pod({}, { containers: [{ name: 'amesh-proxy' }, { name: 'app' }] })), { inject: false, reason: 'already injected' });
});

s('a bare pod: every list and the annotations are created', () => {
  const pod = { metadata: { name: 'p' }, spec: { containers: [{ name: 'app', image: 'app:1' }] } };
  const out = applyAdds(pod, injectionPatch(pod, options)) as { metadata: { annotations: Record<string, string> }; spec: Record<string, unknown> };
  assert.equal(names(out.spec['initContainers']), ['amesh-init']);
  assert.equal(names(out.spec['containers']), ['istio-proxy', 'amesh-proxy', 'app']);
  assert.equal(names(out.spec['volumes']), ['istio-envoy', 'istio-data', 'istio-podinfo', 'istio-token', 'istiod-ca-cert']);
  assert.equal(out.metadata.annotations, { 'amesh.apisix.apache.org/injected': 'amesh-proxy,istio-proxy,amesh-init', 'kubectl.kubernetes.io/default-container': 'app' });
  const proxy = (out.spec['containers'] as Record<string, unknown>[])[1]!;
  assert.ok((proxy['args'] as string[]).includes('--plugins-from=amesh-controller.amesh-system.svc:15810'));
});

s('pilot-agent without Envoy hands over the certificate as OUTPUT_CERTS files on a shared emptyDir; the proxy reads them, never an SDS socket', () => {
  const pod = { metadata: { name: 'p' }, spec: { containers: [{ name: 'app', image: 'app:1' }] } };
  const out = applyAdds(pod, injectionPatch(pod, options)) as { spec: { containers: JsonObject[]; volumes: JsonObject[] } };
  assert.equal(certificateWiringProblems(out.spec), []);
  const [agent, proxy] = out.spec.containers as [JsonObject, JsonObject];
  assert.equal(
    (agent['env'] as JsonObject[]).find((e) => e['name'] === 'OUTPUT_CERTS'),
    { name: 'OUTPUT_CERTS', value: OUTPUT_CERTS_DIR },
  );
  assert.equal(
    (proxy['args'] as string[]).filter((a) => /^--(xds|output-certs|sds)=/.test(a)),
    [`--xds=unix:${XDS_SOCKET}`, `--output-certs=${OUTPUT_CERTS_DIR}`],
  );
  // The checker catches what the template used to render: no OUTPUT_CERTS, --sds on a socket no mode serves.
  const before = structuredClone(out.spec);
  const [oldAgent, oldProxy] = before.containers as [JsonObject, JsonObject];
  oldAgent['env'] = (oldAgent['env'] as JsonObject[]).filter((e) => e['name'] !== 'OUTPUT_CERTS');
  oldProxy['args'] = (oldProxy['args'] as string[]).map((a) => (a.startsWith('--output-certs=') ? '--sds=unix:/etc/istio/proxy/SDS' : a));
  const problems = certificateWiringProblems(before);
  assert.ok(
    problems.some((p) => p.startsWith('istio-proxy: no OUTPUT_CERTS')),
    problems.join('\n'),
  );
  assert.ok(
    problems.some((p) => p.startsWith('amesh-proxy: --sds given')),
    problems.join('\n'),
  );
  assert.ok(
    problems.some((p) => p.startsWith('amesh-proxy: no --output-certs')),
    problems.join('\n'),
  );
});

s("a pod with its own lists: they are extended, the user's default-container kept, keys with '/' escaped", () => {
  const pod = {
    metadata: { name: 'p', annotations: { 'kubectl.kubernetes.io/default-container': 'main' } },
    spec: { initContainers: [{ name: 'setup' }], containers: [{ name: 'side' }, { name: 'main' }], volumes: [{ name: 'data', emptyDir: {} }] },
  };
  const ops = injectionPatch(pod, options);
  assert.ok(ops.some((o) => o.path === '/metadata/annotations/amesh.apisix.apache.org~1injected'));
  const out = applyAdds(pod, ops) as { metadata: { annotations: Record<string, string> }; spec: Record<string, unknown> };
  assert.equal(names(out.spec['initContainers']), ['setup', 'amesh-init']);
  assert.equal(names(out.spec['containers']), ['istio-proxy', 'amesh-proxy', 'side', 'main']);
  assert.equal(names(out.spec['volumes'])[0], 'data');
  assert.is(out.metadata.annotations['kubectl.kubernetes.io/default-container'], 'main');
});

s('AdmissionReview: decoded with named errors; the response carries a base64 JSON Patch', () => {
  const review = (request: unknown) => JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request });
  const ok = decodeAdmissionReview(
    review({ uid: 'u1', kind: { group: '', version: 'v1', kind: 'Pod' }, namespace: 'ns', operation: 'CREATE', object: { spec: { containers: [] } } }),
  );
  assert.ok(ok.ok);
  const wrongKind = decodeAdmissionReview(review({ uid: 'u1', kind: { group: 'apps', version: 'v1', kind: 'Deployment' }, object: {} }));
  assert.not.ok(wrongKind.ok);
  if (!wrongKind.ok) assert.match(wrongKind.error, /^request\.kind: expected core\/v1 Pod/);
  const badList = decodeAdmissionReview(review({ uid: 'u1', kind: { kind: 'Pod' }, object: { spec: { containers: {} } } }));
  assert.equal(badList, { ok: false, error: 'request.object.spec.containers: expected a list' });
  assert.equal(decodeAdmissionReview('{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview"}').ok, false);
  const response = JSON.parse(admissionResponse('u1', [{ op: 'add', path: '/x', value: 1 }])) as { response: { uid: string; allowed: boolean; patchType: string; patch: string } };
  assert.equal(response.response.uid, 'u1');
  assert.equal(JSON.parse(Buffer.from(response.response.patch, 'base64').toString()), [{ op: 'add', path: '/x', value: 1 }]);
  const none = JSON.parse(admissionResponse('u2', undefined)) as { response: Record<string, unknown> };
  assert.equal(none.response, { uid: 'u2', allowed: true });
});

s('injector flags: TLS and images are required, addresses checked', () => {
  assert.equal(parseInjectorConfig({ image: 'a', pilotAgentImage: 'b' }), {
    ok: false,
    error: '--tls-cert-file and --tls-key-file are required (the API server only calls webhooks over TLS)',
  });
  assert.equal(parseInjectorConfig({ tlsCertFile: 'c', tlsKeyFile: 'k', pilotAgentImage: 'b' }).ok, false);
  assert.equal(parseInjectorConfig({ tlsCertFile: 'c', tlsKeyFile: 'k', image: 'a', pilotAgentImage: 'b', controller: 'nope' }), {
    ok: false,
    error: '--controller: "nope" is not host:port',
  });
  const good = parseInjectorConfig({ tlsCertFile: 'c', tlsKeyFile: 'k', image: 'a', pilotAgentImage: 'b' });
  assert.ok(good.ok);
  if (good.ok) assert.is(good.value.template.controllerAddress, 'amesh-controller.amesh-system.svc:15810');
});

s.run();

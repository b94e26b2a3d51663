// deploy/istio/amesh-injection-values.yaml rendered by Istio's own injection code (pkg/kube/inject at
// the pinned Istio version, built as bin/istio-inject by scripts/peers/build-kube-peers.sh), as
// istiod's injector would render it with the values `helm install istiod` gives it by default.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { V1Pod } from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';
import { istioInjectAvailable } from './kube.js';

export const AMESH_VALUES_FILE = fileURLToPath(new URL('../../deploy/istio/amesh-injection-values.yaml', import.meta.url));

/** istiod's chart values the template reads (a subset; what `helm install istiod` renders by default). */
export const ISTIOD_VALUES = {
  global: {
    hub: 'docker.io/istio',
    tag: '1.29.6',
    istioNamespace: 'istio-system',
    pilotCertProvider: 'istiod',
    proxy: { image: 'proxyv2', clusterDomain: 'cluster.local' },
    sds: { token: { aud: 'istio-ca' } },
    multiCluster: { clusterName: '' },
  },
  revision: '',
};

/** The first pod of `podYaml` after Istio's injector applied the templates of the values file. */
export function renderWithIstio(podYaml: string): V1Pod {
  const binary = istioInjectAvailable().binary;
  if (!binary) throw new Error(istioInjectAvailable().reason);
  const dir = mkdtempSync(join(tmpdir(), 'amesh-istio-inject-'));
  try {
    const config = join(dir, 'config.yaml');
    const values = join(dir, 'values.yaml');
    const templates = (parse(readFileSync(AMESH_VALUES_FILE, 'utf8')) as { sidecarInjectorWebhook: { templates: Record<string, string> } }).sidecarInjectorWebhook.templates;
    writeFileSync(config, stringify({ templates }));
    writeFileSync(values, stringify(ISTIOD_VALUES));
    const out = execFileSync(binary, ['-config', config, '-values', values], { input: podYaml, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
    return parse(out.split(/^---$/m)[0]!) as V1Pod;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// The RFC 6902 JSON Patch that turns a pod into a meshed pod: the init container first (so the
// capture is in place before any app starts), pilot-agent and the amesh proxy before the app
// containers (the app must not start before its proxy is ready: holdApplicationUntilProxyStarts
// semantics come from the proxy's startupProbe), volumes, and bookkeeping annotations.
import type { JsonObject, JsonValue } from '../json.js';
import { STATUS_ANNOTATION } from './injection-decision.js';
import type { PodShape } from './pod-shape.js';
import { initContainer, pilotAgentContainer, proxyContainer, sidecarVolumes, type SidecarTemplateOptions } from './sidecar-template.js';

export interface PatchOperation {
  readonly op: 'add';
  readonly path: string;
  readonly value: JsonValue;
}

/** RFC 6901: '~' → '~0', '/' → '~1'. */
const pointerToken = (key: string): string => key.replace(/~/g, '~0').replace(/\//g, '~1');

/** Adds `items` to the array at `path`: at `index` (0 = front, undefined = end); creates the array if absent. */
function addAll(ops: PatchOperation[], path: string, present: boolean, items: readonly JsonValue[], front: boolean): void {
  if (!present) {
    ops.push({ op: 'add', path, value: [...items] });
    return;
  }
  items.forEach((item, i) => ops.push({ op: 'add', path: `${path}/${front ? i : '-'}`, value: item }));
}

export function injectionPatch(pod: PodShape, options: SidecarTemplateOptions): PatchOperation[] {
  const ops: PatchOperation[] = [];
  // Init containers run in order: the capture goes last, so earlier init containers (which may
  // need the network, e.g. to fetch secrets) run before traffic is redirected to a proxy that is not up.
  addAll(ops, '/spec/initContainers', pod.spec?.initContainers !== undefined, [initContainer(options)], false);
  addAll(ops, '/spec/containers', pod.spec?.containers !== undefined, [pilotAgentContainer(options), proxyContainer(options)], true);
  addAll(ops, '/spec/volumes', pod.spec?.volumes !== undefined, sidecarVolumes(), false);
  const annotations: JsonObject = { [STATUS_ANNOTATION]: 'amesh-proxy,istio-proxy,amesh-init' };
  const firstApp = pod.spec?.containers?.[0]?.name;
  if (firstApp && !pod.metadata?.annotations?.['kubectl.kubernetes.io/default-container']) annotations['kubectl.kubernetes.io/default-container'] = firstApp;
  if (pod.metadata?.annotations === undefined) ops.push({ op: 'add', path: '/metadata/annotations', value: annotations });
  else for (const [key, value] of Object.entries(annotations)) ops.push({ op: 'add', path: `/metadata/annotations/${pointerToken(key)}`, value });
  return ops;
}

// Whether a pod gets the amesh sidecar. The namespace opt-in is the webhook's namespaceSelector
// (the API server applies it); this decides per pod, with Istio's own opt-out spellings, so a pod
// written for Istio keeps meaning the same thing here.
import type { PodShape } from './pod-shape.js';

export const INJECT_LABEL = 'sidecar.istio.io/inject';
export const STATUS_ANNOTATION = 'amesh.apisix.apache.org/injected';
export const PROXY_CONTAINER = 'amesh-proxy';

export type InjectionDecision = { readonly inject: true } | { readonly inject: false; readonly reason: string };

const FALSE = new Set(['false', 'n', 'no', 'off', '0']);

export function decideInjection(pod: PodShape): InjectionDecision {
  const label = pod.metadata?.labels?.[INJECT_LABEL];
  const annotation = pod.metadata?.annotations?.[INJECT_LABEL];
  if (label !== undefined && FALSE.has(label.toLowerCase())) return { inject: false, reason: `label ${INJECT_LABEL}=${label}` };
  if (annotation !== undefined && FALSE.has(annotation.toLowerCase())) return { inject: false, reason: `annotation ${INJECT_LABEL}=${annotation}` };
  if (pod.spec?.hostNetwork) return { inject: false, reason: 'hostNetwork pods share the node network: intercepting their traffic would capture the node' };
  if (pod.metadata?.annotations?.[STATUS_ANNOTATION] !== undefined || (pod.spec?.containers ?? []).some((c) => c.name === PROXY_CONTAINER))
    return { inject: false, reason: 'already injected' };
  return { inject: true };
}

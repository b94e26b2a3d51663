// admission.k8s.io/v1 AdmissionReview in and out: just the fields a mutating webhook reads and
// writes. A review that is not shaped like one is an error value naming the field.
import type { PodShape } from '../../domain/injection/pod-shape.js';
import type { PatchOperation } from '../../domain/injection/injection-patch.js';
import { err, ok, type Result } from '../../domain/result.js';

export interface PodAdmissionRequest {
  readonly uid: string;
  readonly namespace: string;
  readonly operation: string;
  readonly dryRun: boolean;
  readonly pod: PodShape;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function decodeAdmissionReview(body: string): Result<PodAdmissionRequest, string> {
  let review: unknown;
  try {
    review = JSON.parse(body);
  } catch (e) {
    return err(`the body is not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!isObject(review)) return err('the body is not a JSON object');
  if (review['apiVersion'] !== 'admission.k8s.io/v1' || review['kind'] !== 'AdmissionReview')
    return err(`apiVersion/kind: expected admission.k8s.io/v1 AdmissionReview, got ${String(review['apiVersion'])} ${String(review['kind'])}`);
  const request = review['request'];
  if (!isObject(request)) return err('request: missing');
  if (typeof request['uid'] !== 'string' || request['uid'] === '') return err('request.uid: expected a string');
  const kind = request['kind'];
  if (!isObject(kind) || kind['kind'] !== 'Pod' || (kind['group'] ?? '') !== '') return err(`request.kind: expected core/v1 Pod, got ${JSON.stringify(kind)}`);
  const pod = request['object'];
  if (!isObject(pod)) return err('request.object: expected the pod');
  if (pod['spec'] !== undefined && !isObject(pod['spec'])) return err('request.object.spec: expected an object');
  const spec = pod['spec'] as Record<string, unknown> | undefined;
  for (const list of ['containers', 'initContainers', 'volumes'])
    if (spec?.[list] !== undefined && !Array.isArray(spec[list])) return err(`request.object.spec.${list}: expected a list`);
  return ok({
    uid: request['uid'],
    namespace: typeof request['namespace'] === 'string' ? request['namespace'] : '',
    operation: typeof request['operation'] === 'string' ? request['operation'] : '',
    dryRun: request['dryRun'] === true,
    pod: pod as PodShape,
  });
}

export function admissionResponse(uid: string, patch: readonly PatchOperation[] | undefined, warnings: readonly string[] = []): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: {
      uid,
      allowed: true,
      ...(patch && patch.length > 0 ? { patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') } : {}),
      ...(warnings.length > 0 ? { warnings } : {}),
    },
  });
}

// Small derivations pilot-agent and istiod make from a workload's labels, namespace and node id,
// shared by the two ways of building the node (environment, grpc-bootstrap.json). Pure.
import { isIP } from 'node:net';
import type { JsonValue } from '../../domain/json.js';
import { err, ok, type Result } from '../../domain/result.js';
import type { XdsLocality } from '../envoy/node.js';

/** istiod accepts these node types (pkg/model/proxy.go IsApplicationNodeType). */
export const NODE_TYPES: readonly string[] = ['sidecar', 'router', 'waypoint', 'ztunnel', 'agentgateway'];

type JsonMap = { readonly [key: string]: JsonValue };

const isObject = (value: JsonValue | undefined): value is JsonMap => typeof value === 'object' && value !== null && !Array.isArray(value);

/** An object of strings as a record; anything else (wrong shape, absent) as undefined. */
export function stringMapOf(value: JsonValue | undefined): Record<string, string> | undefined {
  if (!isObject(value)) return undefined;
  const map: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string') return undefined;
    map[key] = item;
  }
  return map;
}

const LOCALITY_LABEL = 'istio-locality';
const TOPOLOGY_LOCALITY_LABEL = 'topology.istio.io/locality';

/**
 * The locality from the workload's labels (pkg/bootstrap/config.go GetNodeMetaData): the topology
 * label wins over the legacy one; Kubernetes label values cannot hold `/`, so `.` separates the
 * parts unless a `/` is present. pilot-agent also rewrites `istio-locality` to the `/` form, which
 * `labels` returns.
 */
export function localityFromLabels(labels: Readonly<Record<string, string>>): { labels: Record<string, string>; locality: XdsLocality | undefined } {
  const raw = labels[TOPOLOGY_LOCALITY_LABEL] ?? labels[LOCALITY_LABEL] ?? '';
  if (raw === '') return { labels: { ...labels }, locality: undefined };
  const sanitized = raw.includes('/') ? raw : raw.replaceAll('.', '/');
  const [region = '', zone = '', subZone = ''] = sanitized.split('/');
  return { labels: { ...labels, [LOCALITY_LABEL]: sanitized }, locality: { region, zone, subZone } };
}

const CANONICAL_NAME_LABELS = ['service.istio.io/canonical-name', 'app.kubernetes.io/name', 'app'];
// serviceClusterOrDefault checks `app` first, for backward compatibility (pkg/kube/labels GetApp).
const APP_LABELS = ['app', 'app.kubernetes.io/name', 'service.istio.io/canonical-name'];

const firstLabel = (labels: Readonly<Record<string, string>>, keys: readonly string[]): string | undefined => {
  for (const key of keys) if (labels[key] !== undefined) return labels[key];
  return undefined;
};

export interface ServiceClusterInputs {
  readonly proxyConfig: JsonMap | undefined;
  readonly labels: Readonly<Record<string, string>>;
  readonly workloadName: string | undefined;
  readonly namespace: string;
}

/**
 * The node's `cluster`, as pilot-agent computes it (pkg/bootstrap/config.go getServiceCluster):
 * ProxyConfig.serviceCluster, or the tracingServiceName rule, falling back to `<app>.<namespace>`.
 * Envoy uses it for stats and tracing; istiod does not route by it.
 */
export function serviceCluster({ proxyConfig, labels, workloadName, namespace }: ServiceClusterInputs): string {
  const orDefault = (name: string): string => {
    if (name !== '' && name !== 'istio-proxy') return name;
    const app = firstLabel(labels, APP_LABELS);
    if (app !== undefined) return `${app}.${namespace}`;
    if (workloadName) return `${workloadName}.${namespace}`;
    return namespace ? `istio-proxy.${namespace}` : 'istio-proxy';
  };
  const configured = proxyConfig?.serviceCluster;
  if (typeof configured === 'string') return orDefault(configured);
  const canonical = firstLabel(labels, CANONICAL_NAME_LABELS) ?? (workloadName || 'istio-proxy');
  switch (proxyConfig?.tracingServiceName) {
    case 'CANONICAL_NAME_ONLY':
      return orDefault(canonical);
    case 'CANONICAL_NAME_AND_NAMESPACE':
      return namespace ? `${canonical}.${namespace}` : orDefault(canonical);
    default:
      return orDefault('istio-proxy');
  }
}

/**
 * Checks a node id the way istiod parses it (pilot/pkg/model/context.go ParseServiceNodeWithMetadata)
 * plus what its pod lookup needs since 1.27 (kube/controller/util.go podKeyByProxy): the third
 * part is `<pod>.<namespace>` and metadata NAMESPACE equals that namespace. Without that istiod
 * finds no pod, and inbound listeners and clusters silently fall back to metadata LABELS alone.
 */
export function checkNodeId(id: string, metadata: JsonMap): Result<void, string> {
  const parts = id.split('~');
  if (parts.length !== 4) return err(`node id "${id}" does not have the 4 parts type~ip~pod.namespace~domain`);
  const [type, ip, podKey] = parts as [string, string, string, string];
  if (!NODE_TYPES.includes(type)) return err(`node id "${id}": type "${type}" is not one of ${NODE_TYPES.join(', ')}`);
  const instanceIps = typeof metadata.INSTANCE_IPS === 'string' ? metadata.INSTANCE_IPS.split(',') : [];
  if (!instanceIps.some((candidate) => isIP(candidate) !== 0) && isIP(ip) === 0) {
    return err(`node id "${id}": neither the id nor metadata INSTANCE_IPS holds an IP address`);
  }
  const dot = podKey.indexOf('.');
  const namespace = dot === -1 ? '' : podKey.slice(dot + 1);
  if (dot <= 0 || namespace === '') return err(`node id "${id}": the third part must be <pod>.<namespace> for istiod to find the pod`);
  if (metadata.NAMESPACE !== namespace) {
    return err(`node id "${id}": metadata NAMESPACE (${JSON.stringify(metadata.NAMESPACE ?? null)}) must equal the id's namespace "${namespace}" for istiod to find the pod`);
  }
  return ok(undefined);
}

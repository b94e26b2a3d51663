// The Envoy Node an Istio sidecar presents to istiod: id, cluster, locality and the node metadata
// istiod reads, built the way pilot-agent builds it (pilot/cmd/pilot-agent/app/cmd.go initProxy,
// pkg/bootstrap/config.go GetNodeMetaData, istio/istio@86c9f01), either from the injected
// environment and downward-API files or from the grpc-bootstrap.json pilot-agent writes.
// Never GENERATOR: `grpc` would switch istiod to its proxyless-gRPC generator.
import { describeRefusal, readRegularFileSync, SMALL_FILE_MAX_BYTES } from '../fs/bounded-read.js';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { JsonValue } from '../../domain/json.js';
import { err, ok, type Result } from '../../domain/result.js';
import { USER_AGENT_NAME, type XdsLocality, type XdsNode } from '../envoy/node.js';
import { parseDownwardApi } from './downward-api.js';
import { istiodMetadataProblem } from './istiod-metadata-types.js';
import { checkNodeId, localityFromLabels, NODE_TYPES, serviceCluster, stringMapOf } from './workload-identity.js';

export type { XdsLocality, XdsNode } from '../envoy/node.js';

export type Environment = Readonly<Record<string, string | undefined>>;

export interface IstioNodeOptions {
  /** Downward-API directory with `labels` and `annotations`. Default `./etc/istio/pod`, pilot-agent's (its cwd is /). */
  readonly podInfoDir?: string;
  /**
   * ISTIO_VERSION to announce when ISTIO_META_ISTIO_VERSION is not set: the Istio release whose xDS
   * the translator targets. Without either, istiod warns and assumes the newest proxy.
   */
  readonly istioVersion?: string;
  /** pilot-agent's `proxy <type>` argument. Default: PROXY_TYPE, else `sidecar`. */
  readonly proxyType?: string;
  /** pilot-agent's `--domain`. Default `<namespace>.svc.<ISTIO_META_DNS_DOMAIN or cluster.local>`. */
  readonly dnsDomain?: string;
  /** The pod's other addresses, after INSTANCE_IP (pilot-agent adds every private interface address). */
  readonly extraIps?: readonly string[];
  /** Announced as the user agent version. */
  readonly agentVersion?: string;
}

const DEFAULT_POD_INFO_DIR = './etc/istio/pod';
const META_PREFIX = 'ISTIO_META_';
const META_JSON_PREFIX = 'ISTIO_METAJSON_';
const INTERCEPTION_MODES = ['REDIRECT', 'TPROXY', 'NONE'];
// Namespaces are DNS labels: no `.` (the pod key splits on the first one) and no `~` (the id separator).
const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
// Only what would break the id's syntax is refused. Pod names are DNS subdomains, so a `.` is legal,
// but istiod splits the pod key on the first `.` and then misses the pod, exactly as it would for
// istio-proxy: allowed, not fixable here.
const POD_NAME = /^[^~\s]+$/;

type JsonMap = { [key: string]: JsonValue };

const isObject = (value: unknown): value is JsonMap => typeof value === 'object' && value !== null && !Array.isArray(value);

function parseJson(text: string, what: string): Result<JsonValue, string> {
  try {
    return ok(JSON.parse(text) as JsonValue);
  } catch (error) {
    return err(`${what} is not valid JSON: ${(error as Error).message}`);
  }
}

/** A downward-API file; absent (not on Kubernetes, or no volume) is not an error. */
function readPodInfo(directory: string, name: 'labels' | 'annotations'): Result<Record<string, string> | undefined, string> {
  const path = join(directory, name);
  // Never blocks on a FIFO nor reads a device: this runs before anything else and would hold the process.
  const read = readRegularFileSync(path, SMALL_FILE_MAX_BYTES);
  if (!read.ok) {
    if (read.error.kind === 'refused' && read.error.code === 'ENOENT') return ok(undefined);
    return err(`pod ${name} file ${path} is unreadable: ${describeRefusal(read.error, SMALL_FILE_MAX_BYTES)}`);
  }
  const parsed = parseDownwardApi(read.value.toString('utf8'));
  return parsed.ok ? parsed : err(`pod ${name} file ${path}: ${parsed.error}`);
}

function requiredVariable(env: Environment, name: string, why: string): Result<string, string> {
  const value = env[name]?.trim();
  return value ? ok(value) : err(`${name} is not set: ${why}`);
}

function integerVariable(env: Environment, name: string, fallback: number): Result<number, string> {
  const text = env[name]?.trim();
  if (!text) return ok(fallback);
  return /^\d+$/.test(text) ? ok(Number(text)) : err(`${name} "${text}" is not a port number`);
}

/**
 * The untyped metadata layer: proxyMetadata from PROXY_CONFIG, then ISTIO_META_* (prefix dropped),
 * then ISTIO_METAJSON_* (each a JSON object merged into the top level; its own name is ignored, as
 * pilot-agent does). `origins` remembers which variable set each key, for error messages.
 */
function rawMetadata(env: Environment, proxyConfig: JsonMap | undefined): Result<{ metadata: JsonMap; origins: Map<string, string> }, string> {
  const metadata: JsonMap = {};
  const origins = new Map<string, string>();
  const set = (key: string, value: JsonValue, origin: string): void => {
    metadata[key] = value;
    origins.set(key, origin);
  };
  const proxyMetadata = proxyConfig?.proxyMetadata;
  if (isObject(proxyMetadata)) {
    for (const [name, value] of Object.entries(proxyMetadata)) {
      if (name.startsWith(META_PREFIX) && typeof value === 'string') set(name.slice(META_PREFIX.length), value, `PROXY_CONFIG.proxyMetadata.${name}`);
    }
  }
  const names = Object.keys(env).sort();
  for (const name of names) {
    const value = env[name];
    if (value !== undefined && name.startsWith(META_PREFIX) && name.length > META_PREFIX.length) set(name.slice(META_PREFIX.length), value, name);
  }
  for (const name of names) {
    const value = env[name];
    if (value === undefined || !name.startsWith(META_JSON_PREFIX)) continue;
    const parsed = parseJson(value, name);
    if (!parsed.ok) return parsed;
    if (!isObject(parsed.value)) return err(`${name} must hold a JSON object (its keys become node metadata)`);
    for (const [key, item] of Object.entries(parsed.value)) set(key, item, name);
  }
  const dnsProxyAddress = env.DNS_PROXY_ADDR;
  if (dnsProxyAddress) set('DNS_PROXY_ADDR', dnsProxyAddress, 'DNS_PROXY_ADDR');
  return ok({ metadata, origins });
}

/** LABELS as pilot-agent settles them: ISTIO_METAJSON_LABELS (also STATIC_LABELS), then the pod labels file over them. */
function workloadLabels(
  env: Environment,
  raw: JsonMap,
  fileLabels: Record<string, string> | undefined,
): Result<{ labels: Record<string, string>; staticLabels: Record<string, string> }, string> {
  let labels = stringMapOf(raw.LABELS) ?? {};
  let staticLabels = stringMapOf(raw.STATIC_LABELS) ?? {};
  const jsonLabels = env.ISTIO_METAJSON_LABELS;
  if (jsonLabels !== undefined) {
    const parsed = stringMapOf(JSON.parse(jsonLabels) as JsonValue); // already parsed once by rawMetadata
    if (!parsed) return err('ISTIO_METAJSON_LABELS must be a JSON object of strings');
    if (Object.keys(parsed).length > 0) labels = staticLabels = parsed;
  }
  if (fileLabels) {
    labels = { ...staticLabels };
    // The ReplicaSet hash changes on every rollout and selects nothing: pilot-agent drops it.
    for (const [key, value] of Object.entries(fileLabels)) if (key !== 'pod-template-hash') labels[key] = value;
  }
  return ok({ labels, staticLabels });
}

const sortedObject = (object: JsonMap): JsonMap => Object.fromEntries(Object.entries(object).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

export function istioNodeFromEnvironment(env: Environment, options: IstioNodeOptions = {}): Result<XdsNode, string> {
  const podName = requiredVariable(env, 'POD_NAME', 'the node id must be <pod>.<namespace> (istiod ≥1.27 finds the pod only by name)');
  if (!podName.ok) return podName;
  if (!POD_NAME.test(podName.value)) return err(`POD_NAME "${podName.value}" contains ~ or whitespace`);
  const namespace = requiredVariable(env, 'POD_NAMESPACE', 'the node id must be <pod>.<namespace> and metadata NAMESPACE must equal it');
  if (!namespace.ok) return namespace;
  if (!NAMESPACE_NAME.test(namespace.value)) return err(`POD_NAMESPACE "${namespace.value}" is not a Kubernetes namespace name`);
  const instanceIp = requiredVariable(env, 'INSTANCE_IP', 'istiod needs the pod IP in the node id and INSTANCE_IPS');
  if (!instanceIp.ok) return instanceIp;
  if (isIP(instanceIp.value) === 0) return err(`INSTANCE_IP "${instanceIp.value}" is not an IP address`);
  for (const extra of options.extraIps ?? []) if (isIP(extra) === 0) return err(`extra pod IP "${extra}" is not an IP address`);
  const instanceIps = [...new Set([instanceIp.value, ...(options.extraIps ?? [])])];

  const proxyType = options.proxyType ?? (env.PROXY_TYPE?.trim() || 'sidecar');
  if (!NODE_TYPES.includes(proxyType)) return err(`proxy type (PROXY_TYPE or --type) "${proxyType}" is not one of ${NODE_TYPES.join(', ')}`);
  const dnsDomain = options.dnsDomain ?? `${namespace.value}.svc.${env.ISTIO_META_DNS_DOMAIN?.trim() || 'cluster.local'}`;
  if (dnsDomain.includes('~') || dnsDomain === '') return err(`DNS domain "${dnsDomain}" (--domain or ISTIO_META_DNS_DOMAIN) is empty or contains ~`);

  let proxyConfig: JsonMap | undefined;
  if (env.PROXY_CONFIG?.trim()) {
    const parsed = parseJson(env.PROXY_CONFIG, 'PROXY_CONFIG');
    if (!parsed.ok) return parsed;
    if (!isObject(parsed.value)) return err('PROXY_CONFIG must be a JSON object (a mesh ProxyConfig)');
    proxyConfig = parsed.value;
  }
  const statusPort = integerVariable(env, 'ENVOY_STATUS_PORT', 15021);
  if (!statusPort.ok) return statusPort;
  const prometheusPort = integerVariable(env, 'ENVOY_PROMETHEUS_PORT', 15090);
  if (!prometheusPort.ok) return prometheusPort;

  const raw = rawMetadata(env, proxyConfig);
  if (!raw.ok) return raw;
  const { metadata, origins } = raw.value;
  // Checked before the typed fields are laid over: pilot-agent itself fails on these, and istiod
  // refuses the stream when one reaches it.
  const problem = istiodMetadataProblem(metadata);
  if (problem) return err(`node metadata ${problem.key} (from ${origins.get(problem.key) ?? 'the environment'}) ${problem.problem}`);

  const podInfoDir = options.podInfoDir ?? DEFAULT_POD_INFO_DIR;
  const fileLabels = readPodInfo(podInfoDir, 'labels');
  if (!fileLabels.ok) return fileLabels;
  const fileAnnotations = readPodInfo(podInfoDir, 'annotations');
  if (!fileAnnotations.ok) return fileAnnotations;
  const settled = workloadLabels(env, metadata, fileLabels.value);
  if (!settled.ok) return settled;
  const { labels, locality } = localityFromLabels(settled.value.labels);
  // From ISTIO_METAJSON_LABELS without a labels file, pilot-agent's LABELS and STATIC_LABELS are one
  // Go map, so the locality rewrite shows in both; the goldens record that.
  const aliased = settled.value.labels === settled.value.staticLabels;
  const staticLabels = aliased ? localityFromLabels(settled.value.staticLabels).labels : settled.value.staticLabels;
  const annotations = { ...stringMapOf(metadata.ANNOTATIONS), ...fileAnnotations.value };

  const interceptionMode = typeof metadata.INTERCEPTION_MODE === 'string' && metadata.INTERCEPTION_MODE !== '' ? metadata.INTERCEPTION_MODE : 'REDIRECT';
  if (!INTERCEPTION_MODES.includes(interceptionMode)) return err(`ISTIO_META_INTERCEPTION_MODE "${interceptionMode}" is not one of ${INTERCEPTION_MODES.join(', ')}`);
  const istioVersion = typeof metadata.ISTIO_VERSION === 'string' && metadata.ISTIO_VERSION !== '' ? metadata.ISTIO_VERSION : options.istioVersion;

  // The typed fields pilot-agent sets itself; they replace whatever the environment said.
  const typed: JsonMap = {
    NAME: podName.value,
    NAMESPACE: namespace.value,
    INSTANCE_IPS: instanceIps.join(','),
    CLUSTER_ID: typeof metadata.CLUSTER_ID === 'string' && metadata.CLUSTER_ID !== '' ? metadata.CLUSTER_ID : 'Kubernetes',
    INTERCEPTION_MODE: interceptionMode,
    // istiod keeps outbound listeners off the ports the proxy serves itself (readiness, metrics).
    ENVOY_STATUS_PORT: statusPort.value,
    ENVOY_PROMETHEUS_PORT: prometheusPort.value,
  };
  if (istioVersion) typed.ISTIO_VERSION = istioVersion;
  if (env.SERVICE_ACCOUNT?.trim()) typed.SERVICE_ACCOUNT = env.SERVICE_ACCOUNT.trim();
  if (proxyConfig) typed.PROXY_CONFIG = proxyConfig;
  if (Object.keys(labels).length > 0) typed.LABELS = labels;
  if (Object.keys(staticLabels).length > 0) typed.STATIC_LABELS = staticLabels;
  if (Object.keys(annotations).length > 0) typed.ANNOTATIONS = annotations;
  const combined: JsonMap = { ...metadata, ...typed };
  delete combined.GENERATOR;

  const workloadName = typeof combined.WORKLOAD_NAME === 'string' ? combined.WORKLOAD_NAME : undefined;
  return ok({
    id: `${proxyType}~${instanceIp.value}~${podName.value}.${namespace.value}~${dnsDomain}`,
    cluster: serviceCluster({ proxyConfig, labels, workloadName, namespace: namespace.value }),
    metadata: sortedObject(combined),
    ...(locality ? { locality } : {}),
    userAgentName: USER_AGENT_NAME,
    userAgentVersion: options.agentVersion ?? 'unknown',
  });
}

function localityOfBootstrap(value: JsonValue | undefined): Result<XdsLocality | undefined, string> {
  if (value === undefined || value === null) return ok(undefined);
  if (!isObject(value)) return err('node.locality is not an object');
  const field = (...names: string[]): string => {
    for (const name of names) if (typeof value[name] === 'string') return value[name] as string;
    return '';
  };
  // Written with Go's encoding/json from the proto struct: snake_case tags (sub_zone).
  const locality = { region: field('region'), zone: field('zone'), subZone: field('sub_zone', 'subZone') };
  return ok(locality.region || locality.zone || locality.subZone ? locality : undefined);
}

/**
 * The node from pilot-agent's grpc-bootstrap.json (GRPC_XDS_BOOTSTRAP, default
 * ./etc/istio/proxy/grpc-bootstrap.json), minus the GENERATOR=grpc pilot-agent forces into it.
 * That file carries only pilot-agent's typed metadata: custom ISTIO_META_* keys are not in it.
 */
export function istioNodeFromGrpcBootstrap(path: string, options: Pick<IstioNodeOptions, 'agentVersion'> = {}): Result<XdsNode, string> {
  const read = readRegularFileSync(path, SMALL_FILE_MAX_BYTES);
  if (!read.ok) return err(`gRPC bootstrap ${path} is unreadable: ${describeRefusal(read.error, SMALL_FILE_MAX_BYTES)}`);
  const parsed = parseJson(read.value.toString('utf8'), `gRPC bootstrap ${path}`);
  if (!parsed.ok) return parsed;
  const node = isObject(parsed.value) ? parsed.value.node : undefined;
  if (!isObject(node)) return err(`gRPC bootstrap ${path} has no node object`);
  if (typeof node.id !== 'string' || node.id === '') return err(`gRPC bootstrap ${path}: node.id is missing`);
  const given = node.metadata ?? {};
  if (!isObject(given)) return err(`gRPC bootstrap ${path}: node.metadata is not an object`);
  const metadata: JsonMap = { ...given };
  delete metadata.GENERATOR;
  const idCheck = checkNodeId(node.id, metadata);
  if (!idCheck.ok) return err(`gRPC bootstrap ${path}: ${idCheck.error}`);
  const locality = localityOfBootstrap(node.locality);
  if (!locality.ok) return err(`gRPC bootstrap ${path}: ${locality.error}`);
  const cluster =
    typeof node.cluster === 'string' && node.cluster !== ''
      ? node.cluster
      : serviceCluster({
          proxyConfig: isObject(metadata.PROXY_CONFIG) ? metadata.PROXY_CONFIG : undefined,
          labels: stringMapOf(metadata.LABELS) ?? {},
          workloadName: typeof metadata.WORKLOAD_NAME === 'string' ? metadata.WORKLOAD_NAME : undefined,
          namespace: typeof metadata.NAMESPACE === 'string' ? metadata.NAMESPACE : '',
        });
  return ok({
    id: node.id,
    cluster,
    metadata: sortedObject(metadata),
    ...(locality.value ? { locality: locality.value } : {}),
    userAgentName: USER_AGENT_NAME,
    userAgentVersion: options.agentVersion ?? 'unknown',
  });
}

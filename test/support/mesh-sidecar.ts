// The sidecar app (`amesh sidecar`, wired by buildSidecarContainer as in production) pointed at a real
// control plane, with in-memory sinks that remember every applied configuration, a logger that keeps
// warnings, and metrics that count responses/ACKs/NACKs per type. Plus what the integration suites
// share: the bookinfo productpage pod's node, its workload certificates, editable copies of the Istio
// config dir, and readers for the bits of the applied APISIX config they assert on.
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Node } from '../../src/adapters/envoy/ads-protocol.js';
import { toEnvoyNode } from '../../src/adapters/envoy/node.js';
import { istioNodeFromEnvironment } from '../../src/adapters/istio/node-identity.js';
import { isAgentSecret } from '../../src/adapters/istio/sds-names.js';
import { MemoryConfigSink } from '../../src/adapters/memory/memory-config-sink.js';
import { MemoryMetrics } from '../../src/adapters/memory/memory-metrics.js';
import { MemorySecretSource } from '../../src/adapters/memory/memory-secret-source.js';
import { AdsClient } from '../../src/adapters/xds/ads-client.js';
import type { BackoffOptions } from '../../src/domain/backoff.js';
import type { SidecarApp } from '../../src/app/sidecar/sidecar-app.js';
import { parseSidecarConfig } from '../../src/app/sidecar/sidecar-config.js';
import { buildSidecarContainer, SidecarAppToken } from '../../src/app/sidecar/sidecar-container.js';
import type { GatewayConfig } from '../../src/domain/gateway-config.js';
import type { JsonObject, JsonValue } from '../../src/domain/json.js';
import type { Secret } from '../../src/domain/mesh/secret.js';
import type { ApplyResult, SinkUpdate } from '../../src/ports/config-sink.js';
import { ConfigSource } from '../../src/ports/config-source.js';
import type { LogFields, Logger } from '../../src/ports/logger.js';
import { makeTestPki } from './test-pki.js';

export const BOOKINFO_ISTIO = fileURLToPath(new URL('../peers/bookinfo-istio', import.meta.url));
export const REVIEWS = 'reviews.default.svc.cluster.local';
export const REVIEWS_V1 = `outbound|9080|v1|${REVIEWS}`;
export const REVIEWS_V2 = `outbound|9080|v2|${REVIEWS}`;
export const REVIEWS_V3 = `outbound|9080|v3|${REVIEWS}`;
export const REVIEWS_ALL = `outbound|9080||${REVIEWS}`;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000, everyMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** `promise`, or a rejection after `ms` (the timer does not outlive it). */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what()}`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

// --- the Istio config dir ---------------------------------------------------------------------

/** A private, editable copy of test/peers/bookinfo-istio (remove it with rmSync when done). */
export function copyBookinfoIstio(prefix = 'amesh-bookinfo-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  cpSync(BOOKINFO_ISTIO, dir, { recursive: true });
  rmSync(join(dir, 'README.md'), { force: true });
  return dir;
}

/**
 * Replaces (or creates) `name` in `dir` atomically: written beside the dir, then renamed in, so
 * istiod's watcher never reads half a file. Returns the time of the rename (ms since the epoch).
 */
export function writeConfigFile(dir: string, name: string, text: string): number {
  const staging = mkdtempSync(join(tmpdir(), 'amesh-staging-'));
  try {
    const file = join(staging, name);
    writeFileSync(file, text);
    const at = Date.now();
    renameSync(file, join(dir, name));
    return at;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** The reviews VirtualService of the bookinfo dir with other weights for the v1/v3 split. */
export function reviewsVirtualService(v1: number, v3: number): string {
  return [
    '# reviews: jason -> v2, everyone else v1/v3 by weight. ratings: 7 s delay for jason, all to v1.',
    'apiVersion: networking.istio.io/v1',
    'kind: VirtualService',
    'metadata: {name: reviews, namespace: default}',
    'spec:',
    '  hosts: [reviews.default.svc.cluster.local]',
    '  http:',
    '    - match: [{headers: {end-user: {exact: jason}}}]',
    '      route: [{destination: {host: reviews.default.svc.cluster.local, subset: v2}}]',
    '    - route:',
    `        - {destination: {host: reviews.default.svc.cluster.local, subset: v1}, weight: ${v1}}`,
    `        - {destination: {host: reviews.default.svc.cluster.local, subset: v3}, weight: ${v3}}`,
    '---',
    'apiVersion: networking.istio.io/v1',
    'kind: VirtualService',
    'metadata: {name: ratings, namespace: default}',
    'spec:',
    '  hosts: [ratings.default.svc.cluster.local]',
    '  http:',
    '    - match: [{headers: {end-user: {exact: jason}}}]',
    '      fault: {delay: {percentage: {value: 100.0}, fixedDelay: 7s}}',
    '      route: [{destination: {host: ratings.default.svc.cluster.local, subset: v1}}]',
    '    - route: [{destination: {host: ratings.default.svc.cluster.local, subset: v1}}]',
    '',
  ].join('\n');
}

/** Extra reviews-v1 replicas (WorkloadEntries) at the given addresses; '' for none. */
export function reviewsV1Replicas(addresses: readonly string[]): string {
  return addresses
    .map((address, i) =>
      [
        'apiVersion: networking.istio.io/v1',
        'kind: WorkloadEntry',
        `metadata: {name: reviews-v1-replica-${i + 1}, namespace: default}`,
        'spec:',
        `  address: ${address}`,
        '  labels: {app: reviews, version: v1}',
        '  serviceAccount: bookinfo-reviews',
        '',
      ].join('\n'),
    )
    .join('---\n');
}

// --- the productpage pod ----------------------------------------------------------------------

/** productpage-v1's WorkloadEntry address in test/peers/bookinfo-istio. */
export const PRODUCTPAGE_IP = '10.244.0.7';

/**
 * The node the productpage pod's sidecar presents: the environment Istio's injector gives the proxy
 * container (downward API: POD_NAME, POD_NAMESPACE, INSTANCE_IP, SERVICE_ACCOUNT; ISTIO_META_*) and
 * the pod-labels file it mounts, through the same code as `amesh sidecar --node-from env`.
 */
export function productpageNode(): Node {
  const podInfoDir = mkdtempSync(join(tmpdir(), 'amesh-pod-info-'));
  try {
    return productpageNodeFrom(podInfoDir);
  } finally {
    rmSync(podInfoDir, { recursive: true, force: true });
  }
}

function productpageNodeFrom(podInfoDir: string): Node {
  const env = productpagePodEnvironment(podInfoDir);
  const node = istioNodeFromEnvironment(env, { podInfoDir, istioVersion: '1.29.6', agentVersion: 'integration-test' });
  if (!node.ok) throw new Error(`productpage node: ${node.error}`);
  return toEnvoyNode(node.value);
}

/**
 * The productpage proxy container's environment (for `amesh sidecar --node-from env`), with its
 * pod-labels file written into `podInfoDir` (`--pod-info-dir`).
 */
export function productpagePodEnvironment(podInfoDir: string): Record<string, string> {
  writeFileSync(
    join(podInfoDir, 'labels'),
    ['app="productpage"', 'pod-template-hash="6b746f74dc"', 'security.istio.io/tlsMode="istio"', 'service.istio.io/canonical-name="productpage"', 'version="v1"'].join('\n'),
  );
  return {
    POD_NAME: 'productpage-v1-6b746f74dc-9stvm',
    POD_NAMESPACE: 'default',
    INSTANCE_IP: PRODUCTPAGE_IP,
    SERVICE_ACCOUNT: 'bookinfo-productpage',
    HOST_IP: '172.18.0.2',
    PROXY_CONFIG: JSON.stringify({ discoveryAddress: 'istiod.istio-system.svc:15012' }),
    ISTIO_META_POD_PORTS: JSON.stringify([{ containerPort: 9080, protocol: 'TCP' }]),
    ISTIO_META_APP_CONTAINERS: 'productpage',
    ISTIO_META_CLUSTER_ID: 'Kubernetes',
    ISTIO_META_NODE_NAME: 'kind-worker',
    ISTIO_META_INTERCEPTION_MODE: 'REDIRECT',
    ISTIO_META_WORKLOAD_NAME: 'productpage-v1',
    ISTIO_META_OWNER: 'kubernetes://apis/apps/v1/namespaces/default/deployments/productpage-v1',
    ISTIO_META_MESH_ID: 'cluster.local',
    TRUST_DOMAIN: 'cluster.local',
  };
}

/** A plain node (go-control-plane serves snapshots by node id only). */
export function plainNode(id: string): Node {
  return toEnvoyNode({ id, cluster: 'amesh-test', metadata: {}, userAgentName: 'amesh-ts', userAgentVersion: 'integration-test' });
}

let pkiSecrets: Secret[] | undefined;

/** Istio's `default` (workload certificate and key) and `ROOTCA`, as pilot-agent hands them over; made once. */
export function workloadSecrets(): Secret[] {
  if (!pkiSecrets) {
    const pki = makeTestPki();
    pkiSecrets = [
      { kind: 'certificate', name: 'default', certificateChain: pki.workloads[0].chain, privateKey: pki.workloads[0].key },
      { kind: 'validation', name: 'ROOTCA', trustedCa: pki.root },
    ];
  }
  return pkiSecrets;
}

/** Use these workload certificates from now on (a child process shares its parent's). */
export function setWorkloadSecrets(secrets: Secret[]): void {
  pkiSecrets = secrets;
}

// --- recording doubles --------------------------------------------------------------------------

export interface AppliedRecord {
  readonly at: number;
  readonly version: string;
  readonly config: GatewayConfig;
}

/** A MemoryConfigSink that remembers each configuration it applied and when. */
export class RecordingSink extends MemoryConfigSink {
  readonly history: AppliedRecord[] = [];

  /** `limit`: how many of the last applies to keep (a long run keeps few, so as not to grow). */
  constructor(private readonly limit = Number.POSITIVE_INFINITY) {
    super();
  }

  override async apply(update: SinkUpdate): Promise<ApplyResult> {
    const result = await super.apply(update);
    this.history.push({ at: Date.now(), version: update.desired.version, config: this.applied });
    if (this.history.length > this.limit) this.history.shift();
    return result;
  }
}

export class RecordingLogger implements Logger {
  readonly entries: { level: 'warn' | 'error'; fields: LogFields; message: string; at: number }[] = [];
  debug(): void {}
  /** Not kept (a subclass may). */
  info(_fields: LogFields, _message: string): void {}
  /** Entries logged so far (also those no longer kept). */
  count = 0;
  constructor(private readonly limit = 10_000) {}
  warn(fields: LogFields, message: string): void {
    this.keep({ level: 'warn', fields, message, at: Date.now() });
  }
  error(fields: LogFields, message: string): void {
    this.keep({ level: 'error', fields, message, at: Date.now() });
  }
  private keep(entry: RecordingLogger['entries'][number]): void {
    this.count += 1;
    this.entries.push(entry);
    if (this.entries.length > this.limit) this.entries.shift();
  }
  /** What was NACKed, as the client logged it. */
  nacks(): string[] {
    return this.entries.filter((e) => /NACK/.test(e.message)).map((e) => `${String(e.fields['type'])}: ${String(e.fields['error'])}`);
  }
  /** The reconnect delays the ADS client announced, with when. */
  retries(): { at: number; delayMs: number }[] {
    return this.entries.flatMap((e) => (typeof e.fields['retryInMs'] === 'number' ? [{ at: e.at, delayMs: e.fields['retryInMs'] }] : []));
  }
  describe(): string {
    return this.entries
      .slice(-20)
      .map((e) => `${e.level} ${e.message} ${JSON.stringify(e.fields)}`)
      .join('\n');
  }
}

// --- the app ------------------------------------------------------------------------------------

/** MemoryMetrics that also remember when each xDS response arrived. */
export class TimedMetrics extends MemoryMetrics {
  readonly responses: { type: string; at: number }[] = [];
  override xdsResponse(type: string, resources: number): void {
    super.xdsResponse(type, resources);
    this.responses.push({ type, at: Date.now() });
    if (this.responses.length > 1000) this.responses.shift();
  }
}

/** Splits `written → applied`: when the control plane first answered after the write, and the last response before the apply. */
export function pushTimeline(metrics: TimedMetrics, writtenAt: number, appliedAt: number): string {
  const after = metrics.responses.filter((r) => r.at >= writtenAt && r.at <= appliedAt);
  if (after.length === 0) return 'no response in between';
  const last = after.at(-1)!;
  return `first response ${after[0]!.at - writtenAt} ms after the write; ${after.map((r) => r.type).join('+')}; applied ${appliedAt - last.at} ms after the last (${last.type})`;
}

export interface MeshSidecarOptions {
  readonly target: string;
  readonly mode: 'sotw' | 'delta';
  readonly node: Node;
  /** Workload certificates from a local source (pilot-agent's), so `default`/`ROOTCA` are not asked of the control plane. Default true. */
  readonly workloadCertificates?: boolean;
  /** `--port-variable`. */
  readonly portVariable?: string;
  /**
   * Build the ADS client here with this backoff instead of letting the container build it (the
   * container's uses the default 0.5..30 s). Its events still feed the metrics, as the container's do.
   */
  readonly backoff?: BackoffOptions;
  /** How many applied configurations the sink keeps (default all). */
  readonly historyLimit?: number;
}

export interface MeshSidecar {
  readonly app: SidecarApp;
  readonly sink: RecordingSink;
  readonly metrics: TimedMetrics;
  readonly logger: RecordingLogger;
  readonly source: AdsClient;
  /** `host:port` of /healthz/ready. */
  readonly ops: string;
  /** `host:port` of /debug/config_dump. */
  readonly admin: string;
  stop(): Promise<void>;
}

export async function startMeshSidecar(options: MeshSidecarOptions): Promise<MeshSidecar> {
  const config = parseSidecarConfig({
    xds: options.target,
    xdsMode: options.mode,
    sink: ['memory'],
    readyAddress: '127.0.0.1:0',
    metricsAddress: 'off',
    adminAddress: '127.0.0.1:0',
    ...(options.portVariable ? { portVariable: options.portVariable } : {}),
  });
  if (!config.ok) throw new Error(config.error);
  const sink = new RecordingSink(options.historyLimit);
  const metrics = new TimedMetrics();
  const logger = new RecordingLogger();
  let secrets: MemorySecretSource | undefined;
  if (options.workloadCertificates ?? true) {
    secrets = new MemorySecretSource();
    secrets.publish(workloadSecrets());
  }
  const source = options.backoff
    ? new AdsClient({
        target: options.target,
        mode: options.mode,
        node: options.node,
        logger,
        backoff: options.backoff,
        ...(secrets ? { isLocalSecret: isAgentSecret } : {}),
        events: {
          connected: () => metrics.xdsConnected(true),
          disconnected: () => metrics.xdsConnected(false),
          response: (type, resources) => metrics.xdsResponse(type.short, resources),
          ack: (type) => metrics.xdsAck(type.short),
          nack: (type) => metrics.xdsNack(type.short),
        },
      })
    : undefined;
  const container = await buildSidecarContainer(config.value, options.node, {
    sinks: [sink],
    metrics,
    logger,
    ...(secrets ? { secrets } : {}),
    ...(source ? { source } : {}),
  });
  const app = container.get<SidecarApp>(SidecarAppToken);
  const adsClient = container.get<AdsClient>(ConfigSource);
  // Not `instanceof`: under uvu's CommonJS loading, the container's dynamic import() yields the ESM copy of the class.
  if (adsClient.constructor.name !== AdsClient.name) throw new Error('the sidecar did not get an ADS client');
  await app.start();
  let stopped: Promise<void> | undefined;
  return {
    app,
    sink,
    metrics,
    logger,
    source: adsClient,
    ops: app.ops[0]!,
    admin: app.admin!,
    stop: () => (stopped ??= app.stop()),
  };
}

/** Per xDS type: responses, ACKs and NACKs the client counted (through the metrics port). */
export function ackCounts(metrics: MemoryMetrics): Record<string, { responses: number; acks: number; nacks: number }> {
  const out: Record<string, { responses: number; acks: number; nacks: number }> = {};
  for (const type of ['cds', 'eds', 'lds', 'rds', 'sds']) {
    const responses = metrics.counters.get(`response:${type}`) ?? 0;
    const acks = metrics.counters.get(`ack:${type}`) ?? 0;
    const nacks = metrics.counters.get(`nack:${type}`) ?? 0;
    if (responses + acks + nacks > 0) out[type] = { responses, acks, nacks };
  }
  return out;
}

// --- reading the applied APISIX config ---------------------------------------------------------

const isObject = (value: JsonValue | undefined): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Upstream name (the Envoy cluster name) of each upstream id. */
export function upstreamNames(config: GatewayConfig): Map<string, string> {
  return new Map(config.ofKind('upstreams').map((u) => [u.id, String(u.value['name'])]));
}

/** `host:port` of the nodes of the upstream made from cluster `name`, sorted; undefined if there is none. */
export function upstreamNodes(config: GatewayConfig, name: string): string[] | undefined {
  const upstream = config.ofKind('upstreams').find((u) => u.value['name'] === name);
  if (!upstream) return undefined;
  const nodes = upstream.value['nodes'];
  if (!Array.isArray(nodes)) return [];
  return nodes
    .filter(isObject)
    .map((n) => `${String(n['host'])}:${String(n['port'])}`)
    .sort();
}

export interface ReviewsRouting {
  /** Cluster of the route matching `end-user: jason`. */
  readonly jason: string | undefined;
  /** The header match of that route, as APISIX vars. */
  readonly jasonVars: JsonValue | undefined;
  /** The weighted split of the default route: cluster → weight. */
  readonly split: Record<string, number>;
}

/** How the sink routes reviews.default.svc.cluster.local. */
export function reviewsRouting(config: GatewayConfig): ReviewsRouting {
  const names = upstreamNames(config);
  const routes = config.ofKind('routes').filter((r) => Array.isArray(r.value['hosts']) && (r.value['hosts'] as JsonValue[]).includes(REVIEWS));
  const jasonRoute = routes.find((r) => JSON.stringify(r.value['vars'] ?? null).includes('jason'));
  const splitRoute = routes.find((r) => isObject(r.value['plugins']) && 'traffic-split' in r.value['plugins']);
  const split: Record<string, number> = {};
  if (splitRoute) {
    const plugin = (splitRoute.value['plugins'] as JsonObject)['traffic-split'] as JsonObject;
    for (const rule of (plugin['rules'] as JsonValue[]).filter(isObject)) {
      for (const weighted of (rule['weighted_upstreams'] as JsonValue[]).filter(isObject)) {
        const id = weighted['upstream_id'];
        // No upstream_id: the route's own upstream takes that share.
        const cluster = names.get(String(id ?? splitRoute.value['upstream_id'])) ?? `?${String(id)}`;
        split[cluster] = Number(weighted['weight']);
      }
    }
  }
  return {
    jason: jasonRoute ? names.get(String(jasonRoute.value['upstream_id'])) : undefined,
    jasonVars: jasonRoute?.value['vars'],
    split,
  };
}

/** Every object's key and canonical JSON, hashed: equal digests, equal configurations (whatever the version). */
export function configDigest(config: GatewayConfig): string {
  const hash = createHash('sha256');
  for (const key of [...config.objects.keys()].sort()) hash.update(`${key}\n${config.canonicalOf(key)}\n`);
  return hash.digest('hex').slice(0, 16);
}

/** Median of numbers. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

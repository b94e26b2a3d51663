// The sidecar's steady state, measured: an in-process xDS server serves a mesh (generated, or the bookinfo
// example), the sidecar pipeline (AdsClient in delta mode → SyncService → MemoryConfigSink) syncs it, then
// one ClusterLoadAssignment at a time changes by one endpoint and each update is timed from the client
// receiving the response to the configuration being applied. Nothing in src/ is patched: every stage is
// timed through the hooks the pipeline already has (AdsClient events, the watcher, Metrics, the sink, the
// logger's "configuration applied").
//
// Used two ways: as a library (startMeshServer, startPipeline; the unit test drives both in one process)
// and as the child process of bench/sidecar-run.ts (`--role server` or `--role pipeline`, talking over
// the IPC channel), so that the sidecar's RSS and CPU time are its own and not the server's.
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { ClusterLoadAssignment } from '../src/adapters/envoy/generated/envoy/config/endpoint/v3/endpoint.js';
import type { Node } from '../src/adapters/envoy/ads-protocol.js';
import { TYPE_URL } from '../src/adapters/envoy/proto/type-urls.js';
import type { XdsResource } from '../src/adapters/envoy/xds-resources.js';
import { MemoryConfigSink } from '../src/adapters/memory/memory-config-sink.js';
import { MemoryMetrics } from '../src/adapters/memory/memory-metrics.js';
import type { ResourceInput, XdsServer } from '../src/adapters/xds-server/xds-server.js';
import { AdsClient } from '../src/adapters/xds/ads-client.js';
import { SyncService } from '../src/app/sidecar/sync-service.js';
import type { Outcome } from '../src/ports/metrics.js';
import type { ApplyResult, SinkUpdate } from '../src/ports/config-sink.js';
import type { ConfigSource, ConfigWatcher, Disposable } from '../src/ports/config-source.js';
import type { LogFields, Logger } from '../src/ports/logger.js';
import type { MeshSpec } from './mesh-generator.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** examples/ from the source tree, also when this file runs compiled from a temporary directory. */
const BOOKINFO = path.join(process.env.AMESH_ROOT ?? root, 'examples/bookinfo/sidecar-resources.yaml');

/** istiod's push order. */
const PUSH_ORDER = [TYPE_URL.Cluster, TYPE_URL.ClusterLoadAssignment, TYPE_URL.Listener, TYPE_URL.RouteConfiguration, TYPE_URL.Secret] as const;
const EDS = TYPE_URL.ClusterLoadAssignment;

export type MeshChoice = { readonly kind: 'bookinfo' } | { readonly kind: 'generated'; readonly spec: MeshSpec };

export interface MeshServer {
  readonly server: XdsServer;
  readonly address: string;
  readonly resources: number;
  readonly wireBytes: number;
  readonly loadAssignments: number;
  /** Update `k` (0, 1, …): even k adds an endpoint to a ClusterLoadAssignment, odd k removes it again. */
  changeEndpoint(k: number): { readonly cluster: string; readonly op: 'add' | 'remove'; readonly endpoints: number };
  stop(): Promise<void>;
}

const cpuMs = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

async function meshResources(mesh: MeshChoice): Promise<XdsResource[]> {
  if (mesh.kind === 'generated') return (await import('./mesh-generator.js')).generateMesh(mesh.spec);
  const { parse } = await import('yaml');
  const { resourcesOfDocument } = await import('../src/adapters/envoy/config-document.js');
  const parsed = resourcesOfDocument(parse(readFileSync(BOOKINFO, 'utf8')));
  if (!parsed.ok) throw new Error(`${BOOKINFO}: ${parsed.error.map((e) => e.message).join('; ')}`);
  return [...parsed.value.resources];
}

type Locality = ClusterLoadAssignment['endpoints'][number];
type LbEndpoint = Locality['lbEndpoints'][number];

/**
 * The same assignment with one more endpoint in its first locality: a copy of its first endpoint at a new
 * address, healthy (an unhealthy copy would not reach the upstream's nodes).
 */
function withExtraEndpoint(cla: ClusterLoadAssignment, k: number, healthy: LbEndpoint['healthStatus']): ClusterLoadAssignment {
  const [first, ...rest] = cla.endpoints;
  const template = first?.lbEndpoints[0];
  const host = template?.hostIdentifier;
  const socket = host?.$case === 'endpoint' && host.value.address?.address?.$case === 'socketAddress' ? host.value.address.address.value : undefined;
  if (!first || !template || host?.$case !== 'endpoint' || !socket) throw new Error(`${cla.clusterName}: no socket-address endpoint to copy`);
  const address = `10.250.${(k >> 8) & 255}.${k & 255}`;
  const extra: LbEndpoint = {
    ...template,
    healthStatus: healthy,
    hostIdentifier: { $case: 'endpoint', value: { ...host.value, address: { ...host.value.address, address: { $case: 'socketAddress', value: { ...socket, address } } } } },
  };
  return { ...cla, endpoints: [{ ...first, lbEndpoints: [...first.lbEndpoints, extra] }, ...rest] };
}

const countEndpoints = (cla: ClusterLoadAssignment): number => cla.endpoints.reduce((n, l) => n + l.lbEndpoints.length, 0);

/**
 * Serves `mesh` on `address` (127.0.0.1:0 picks a port). Explicit per-resource versions, so that a change
 * re-versions one resource and the server hashes nothing: the delta stream sends only that resource.
 */
export async function startMeshServer(mesh: MeshChoice, address = '127.0.0.1:0'): Promise<MeshServer> {
  // Imported here, so that the pipeline process loads only what the sidecar loads.
  const [{ encodeMesh }, { XdsServer }, { xdsResourceName }, { ClusterLoadAssignment }, { HealthStatus }] = await Promise.all([
    import('./mesh-generator.js'),
    import('../src/adapters/xds-server/xds-server.js'),
    import('../src/adapters/envoy/xds-resources.js'),
    import('../src/adapters/envoy/generated/envoy/config/endpoint/v3/endpoint.js'),
    import('../src/adapters/envoy/generated/envoy/config/core/v3/health_check.js'),
  ]);
  const resources = await meshResources(mesh);
  const encoded = encodeMesh(resources);
  const byType = new Map<string, ResourceInput[]>(PUSH_ORDER.map((t) => [t, []]));
  const assignments: { name: string; message: ClusterLoadAssignment; index: number }[] = [];
  let wireBytes = 0;
  resources.forEach((resource, i) => {
    const { typeUrl, bytes } = encoded[i]!;
    const name = xdsResourceName(resource);
    wireBytes += bytes.length;
    const list = byType.get(typeUrl)!;
    if (resource.type === 'ClusterLoadAssignment') assignments.push({ name, message: resource.message, index: list.length });
    list.push({ name, resource: bytes, version: 'v0' });
  });
  // Change the assignments of regular EDS clusters only, spread over the mesh (a stride prime to the count).
  const changeable = assignments.filter((a) => countEndpoints(a.message) > 0);
  if (changeable.length === 0) throw new Error('the mesh has no ClusterLoadAssignment with endpoints');
  const stride = [7919, 104729, 1].find((p) => changeable.length % p !== 0)!;
  const server = new XdsServer({ stopGraceMs: 50 });
  const bound = await server.start(address);
  for (const typeUrl of PUSH_ORDER) server.setResources(typeUrl, byType.get(typeUrl)!);
  const eds = byType.get(EDS)!;
  return {
    server,
    address: bound,
    resources: resources.length,
    wireBytes,
    loadAssignments: assignments.length,
    changeEndpoint(k) {
      const target = changeable[(Math.floor(k / 2) * stride) % changeable.length]!;
      const op = k % 2 === 0 ? 'add' : 'remove';
      const message = op === 'add' ? withExtraEndpoint(target.message, k, HealthStatus.HEALTHY) : target.message;
      eds[target.index] = { name: target.name, resource: ClusterLoadAssignment.encode(message).finish(), version: `v${k + 1}` };
      server.setResources(EDS, eds);
      return { cluster: target.name, op, endpoints: countEndpoints(message) };
    },
    stop: () => server.stop(),
  };
}

// ---------------------------------------------------------------------------------------------------
// The sidecar pipeline, instrumented.

export const NODE: Node = {
  id: 'sidecar~10.244.0.10~bench-0.default~default.svc.cluster.local',
  cluster: 'bench.default',
  dynamicParameters: {},
  userAgentName: 'amesh-ts',
  extensions: [],
  clientFeatures: [],
  listeningAddresses: [],
};

/** Points in one update, performance.now() ms; see STAGE_NAMES for what lies between them. */
interface Marks {
  response?: number;
  published?: number;
  translated?: number;
  sinkStart?: number;
  sinkEnd?: number;
  ack?: number;
  applyMetric?: number;
  applied?: number;
  /** CPU clock (ms) at `applied`. */
  cpuAtApplied?: number;
}

export const STAGE_NAMES = ['client', 'translate', 'diff', 'sink', 'continuation', 'onApplied', 'then ack'] as const;
export type StageName = (typeof STAGE_NAMES)[number];
/**
 * client: stage + commit + references + warming check + snapshot assembly (response → watcher called);
 * translate: translateUpdate (consistency check, Translator); diff: diffConfigs against the applied config;
 * sink: MemoryConfigSink.apply; continuation: the hop to the apply's continuation and the apply metric;
 * onApplied: status, gauges, fidelity counts, the "applied" log. Then, after *propagation* (the ACK waits
 * for the first apply: the verdict), *then ack*: the verdict settles, the ACK is written and the
 * named-type subscriptions checked.
 */
const STAGE_BOUNDS: Record<StageName, readonly [keyof Marks, keyof Marks]> = {
  client: ['response', 'published'],
  translate: ['published', 'translated'],
  diff: ['translated', 'sinkStart'],
  sink: ['sinkStart', 'sinkEnd'],
  continuation: ['sinkEnd', 'applyMetric'],
  onApplied: ['applyMetric', 'applied'],
  'then ack': ['applied', 'ack'],
};

export interface UpdateSample {
  /** Wall time from the client receiving the EDS response to the SyncService having applied it. */
  readonly propagationMs: number;
  /** CPU time (user + system, all threads) of the process over the same interval. */
  readonly cpuMs: number;
  /** CPU time from being armed (before the server changed anything) to shortly after the apply: adds gRPC receive and decode. */
  readonly updateCpuMs: number;
  /** Time inside GC pauses that started within the propagation interval. */
  readonly gcMs: number;
  readonly stages: Record<StageName, number>;
  /** Objects the sink was told to change. */
  readonly changes: number;
  readonly responses: number;
  readonly applies: number;
}

export interface SyncSample {
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly rssMb: number;
  readonly maxRssMb: number;
  readonly heapUsedMb: number;
  readonly objects: Record<string, number>;
  readonly fidelityRecords: number;
}

export interface MemorySample {
  readonly rssMb: number;
  readonly maxRssMb: number;
  readonly heapUsedMb: number;
  readonly heapTotalMb: number;
  readonly externalMb: number;
}

export function memorySample(): MemorySample {
  const m = process.memoryUsage();
  const mb = (bytes: number): number => bytes / 2 ** 20;
  return {
    rssMb: mb(m.rss),
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    heapUsedMb: mb(m.heapUsed),
    heapTotalMb: mb(m.heapTotal),
    externalMb: mb(m.external + m.arrayBuffers),
  };
}

class TimedSink extends MemoryConfigSink {
  lastChanges = 0;
  constructor(private readonly marks: () => Marks) {
    super();
  }
  override apply(update: SinkUpdate): Promise<ApplyResult> {
    this.marks().sinkStart = performance.now();
    // MemoryConfigSink.apply does its work before its first await: the end is when the call returns.
    const result = super.apply(update);
    this.marks().sinkEnd = performance.now();
    this.lastChanges = update.changes.changes.length;
    return result;
  }
}

class TimedMetrics extends MemoryMetrics {
  constructor(private readonly marks: () => Marks) {
    super();
  }
  override translation(seconds: number, outcome: Outcome): void {
    this.marks().translated = performance.now();
    super.translation(seconds, outcome);
  }
  override apply(sink: string, seconds: number, outcome: Outcome): void {
    this.marks().applyMetric = performance.now();
    super.apply(sink, seconds, outcome);
  }
}

/** Marks when the source hands an update to the SyncService. */
class TimedSource implements ConfigSource {
  constructor(
    private readonly inner: ConfigSource,
    private readonly marks: () => Marks,
  ) {}
  watch(watcher: ConfigWatcher): Disposable {
    return this.inner.watch({
      onUpdate: (update) => {
        this.marks().published = performance.now();
        return watcher.onUpdate(update);
      },
      onError: (error) => watcher.onError(error),
    });
  }
}

export interface PipelineOptions {
  readonly address: string;
  readonly portVariable: string | undefined;
}

export interface Pipeline {
  readonly sync: SyncService;
  readonly sink: MemoryConfigSink;
  readonly client: AdsClient;
  /** Resolves when the first configuration is applied, with the time it took from start. */
  readonly initial: Promise<SyncSample>;
  /** Call before the server changes anything; resolves once the resulting update is applied. */
  arm(): Promise<UpdateSample>;
  /** Warnings and errors the pipeline logged (drained by the caller). */
  readonly problems: string[];
  stop(): Promise<void>;
}

/** AdsClient (delta) → SyncService → MemoryConfigSink, as `amesh sidecar --xds … --sink memory` wires them. */
export function startPipeline(options: PipelineOptions): Pipeline {
  let marks: Marks = {};
  const current = (): Marks => marks;
  const problems: string[] = [];
  let armed: { cpuArmed: number; cpuAtResponse: number; responses: number; applies: number; resolve: (s: UpdateSample) => void } | undefined;
  const gcs: { start: number; duration: number }[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcs.push({ start: entry.startTime, duration: entry.duration });
  });
  observer.observe({ entryTypes: ['gc'] });

  const sink = new TimedSink(current);
  const onApplied = (): void => {
    marks.applied = performance.now();
    marks.cpuAtApplied = cpuMs();
    const pending = armed;
    if (!pending || marks.response === undefined) return;
    pending.applies += 1;
    armed = undefined;
    const done = marks;
    // Let the ACK and anything the apply scheduled run before reading the CPU clock, and the GC observer deliver.
    setTimeout(() => {
      const updateCpuMs = cpuMs() - pending.cpuArmed;
      const start = done.response!;
      const end = done.applied!;
      const stages = Object.fromEntries(
        STAGE_NAMES.map((s) => {
          const [from, to] = STAGE_BOUNDS[s];
          const a = done[from];
          const b = done[to];
          return [s, a !== undefined && b !== undefined ? b - a : Number.NaN];
        }),
      ) as Record<StageName, number>;
      const gcMs = gcs.filter((g) => g.start >= start && g.start < end).reduce((n, g) => n + g.duration, 0);
      pending.resolve({
        propagationMs: end - start,
        cpuMs: done.cpuAtApplied! - pending.cpuAtResponse,
        updateCpuMs,
        gcMs,
        stages,
        changes: sink.lastChanges,
        responses: pending.responses,
        applies: pending.applies,
      });
    }, 2);
  };
  const logger: Logger = {
    debug: () => undefined,
    info: (_fields: LogFields, message: string) => {
      if (message === 'configuration applied') onApplied();
    },
    warn: (fields: LogFields, message: string) => void problems.push(`${message} ${JSON.stringify(fields)}`),
    error: (fields: LogFields, message: string) => void problems.push(`${message} ${JSON.stringify(fields)}`),
  };
  const client = new AdsClient({
    target: options.address,
    mode: 'delta',
    node: NODE,
    logger,
    events: {
      response: () => {
        if (!armed) return;
        armed.responses += 1;
        if (armed.responses > 1) return; // the first response of the update starts the clock
        marks = { response: performance.now() };
        armed.cpuAtResponse = cpuMs();
      },
      ack: () => {
        marks.ack = performance.now();
      },
    },
  });
  const sync = new SyncService(
    { source: new TimedSource(client, current), sinks: [sink], logger, metrics: new TimedMetrics(current) },
    // As the sidecar container builds it for an xDS source.
    { partial: true, portVariable: options.portVariable },
  );
  const wall = performance.now();
  const cpu = cpuMs();
  const initial = (async (): Promise<SyncSample> => {
    await sync.start();
    await sync.applied;
    const wallMs = performance.now() - wall;
    const cpuSpent = cpuMs() - cpu;
    const memory = memorySample();
    const translation = sync.state.translation;
    return {
      wallMs,
      cpuMs: cpuSpent,
      rssMb: memory.rssMb,
      maxRssMb: memory.maxRssMb,
      heapUsedMb: memory.heapUsedMb,
      objects: sink.applied.counts(),
      fidelityRecords: translation?.report.size ?? 0,
    };
  })();
  return {
    sync,
    sink,
    client,
    initial,
    problems,
    arm() {
      if (armed) throw new Error('an update is already being measured');
      return new Promise<UpdateSample>((resolve) => {
        armed = { cpuArmed: cpuMs(), cpuAtResponse: 0, responses: 0, applies: 0, resolve };
      });
    },
    async stop() {
      observer.disconnect();
      await sync.stop();
      client.stop();
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// Child processes of bench/sidecar-run.ts. Messages over the IPC channel.

export type ServerRequest = { readonly type: 'change'; readonly k: number } | { readonly type: 'stop' };
export type ServerMessage =
  | { readonly type: 'ready'; readonly address: string; readonly resources: number; readonly wireBytes: number; readonly loadAssignments: number }
  | { readonly type: 'changed'; readonly k: number; readonly cluster: string; readonly op: 'add' | 'remove'; readonly endpoints: number };

export type PipelineRequest =
  | { readonly type: 'arm' }
  | { readonly type: 'profile'; readonly action: 'start' }
  | { readonly type: 'profile'; readonly action: 'stop'; readonly file: string }
  | { readonly type: 'memory'; readonly settleMs: number }
  | { readonly type: 'stop' };
export type PipelineMessage =
  | { readonly type: 'synced'; readonly sync: SyncSample; readonly baseline: MemorySample }
  | { readonly type: 'armed' }
  | { readonly type: 'sample'; readonly sample: UpdateSample }
  | { readonly type: 'profiled' }
  | { readonly type: 'memory'; readonly memory: MemorySample }
  | { readonly type: 'problem'; readonly message: string };

function send(message: ServerMessage | PipelineMessage): void {
  process.send!(message);
}

async function serverRole(mesh: MeshChoice): Promise<void> {
  const served = await startMeshServer(mesh);
  send({ type: 'ready', address: served.address, resources: served.resources, wireBytes: served.wireBytes, loadAssignments: served.loadAssignments });
  process.on('message', (request: ServerRequest) => {
    if (request.type === 'change') send({ type: 'changed', k: request.k, ...served.changeEndpoint(request.k) });
    else void served.stop().then(() => process.exit(0));
  });
  process.on('disconnect', () => process.exit(0));
}

async function pipelineRole(options: PipelineOptions): Promise<void> {
  const baseline = memorySample();
  const pipeline = startPipeline(options);
  const sync = await pipeline.initial;
  send({ type: 'synced', sync, baseline });
  let session: Session | undefined;
  const post = <T>(method: string, params?: object): Promise<T> =>
    new Promise((resolve, reject) => session!.post(method, params ?? {}, (error, result) => (error ? reject(error) : resolve(result as T))));
  process.on('message', (request: PipelineRequest) => {
    void (async () => {
      switch (request.type) {
        case 'arm': {
          const sample = pipeline.arm();
          send({ type: 'armed' });
          send({ type: 'sample', sample: await sample });
          for (const problem of pipeline.problems.splice(0)) send({ type: 'problem', message: problem });
          return;
        }
        case 'profile':
          if (request.action === 'start') {
            session = new Session();
            session.connect();
            await post('Profiler.enable');
            await post('Profiler.setSamplingInterval', { interval: 100 });
            await post('Profiler.start');
          } else {
            const { profile } = await post<{ profile: unknown }>('Profiler.stop');
            writeFileSync(request.file, JSON.stringify(profile));
            session?.disconnect();
          }
          send({ type: 'profiled' });
          return;
        case 'memory':
          await new Promise((resolve) => setTimeout(resolve, request.settleMs));
          send({ type: 'memory', memory: memorySample() });
          return;
        case 'stop':
          await pipeline.stop();
          process.exit(0);
      }
    })().catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
  });
  process.on('disconnect', () => process.exit(0));
}

function argValue(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

const role = argValue('role');
if (role === 'server') {
  const mesh = JSON.parse(argValue('mesh')!) as MeshChoice;
  void serverRole(mesh);
} else if (role === 'pipeline') {
  const portVariable = argValue('port-variable');
  void pipelineRole({ address: argValue('address')!, portVariable: portVariable === '' ? undefined : portVariable });
}

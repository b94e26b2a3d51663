// The full translation of one xDS state of the world, stage by stage, as the xDS client path runs it:
// protobuf bytes → typed messages → domain resources → snapshot (+ consistency check) → APISIX config → changes.
import { translateSnapshot } from '../src/adapters/apisix/translate.js';
import { decodeResource } from '../src/adapters/envoy/proto/message-registry.js';
import { TYPE_URL, type XdsResourceTypeUrl } from '../src/adapters/envoy/proto/type-urls.js';
import { decodeXdsResources, type XdsResource } from '../src/adapters/envoy/xds-resources.js';
import { diffConfigs } from '../src/domain/diff.js';
import { FidelityReport } from '../src/domain/fidelity.js';
import { GatewayConfig, type GatewayKind } from '../src/domain/gateway-config.js';
import type { Result } from '../src/domain/result.js';
import { createSnapshot, danglingReferences, type MeshSnapshot } from '../src/domain/snapshot.js';
import { FileConfigSource } from '../src/adapters/file-source/file-config-source.js';

export interface EncodedResource {
  readonly typeUrl: XdsResourceTypeUrl;
  readonly bytes: Uint8Array;
}

export const STAGES = ['decode', 'domain', 'snapshot', 'translate', 'diff'] as const;
export type Stage = (typeof STAGES)[number];

export interface TranslateRun {
  /** CPU time (user + system, all threads) per stage: robust against other processes on the machine. */
  readonly ms: Record<Stage, number>;
  readonly totalMs: number;
  /** Wall-clock time of the whole pipeline; equals totalMs on an otherwise idle, pinned core. */
  readonly wallMs: number;
  /**
   * Not part of the total: the diff against the previous run's config (same input, freshly rendered
   * objects), i.e. every object's canonical JSON is computed on the new side and compared. The sidecar's
   * Translator reuses unchanged values, which diffConfigs skips; this is the cost when nothing is reused.
   */
  readonly steadyDiffMs: number | undefined;
  readonly config: GatewayConfig;
  readonly counts: Record<GatewayKind, number>;
  readonly changes: number;
  readonly fidelityRecords: number;
}

const cpuMs = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

function must<T>(result: Result<T, { message: string }>): T {
  if (!result.ok) throw new Error(result.error.message);
  return result.value;
}

function decodeOne({ typeUrl, bytes }: EncodedResource): XdsResource {
  switch (typeUrl) {
    case TYPE_URL.Listener:
      return { type: 'Listener', message: must(decodeResource(typeUrl, bytes)) };
    case TYPE_URL.RouteConfiguration:
      return { type: 'RouteConfiguration', message: must(decodeResource(typeUrl, bytes)) };
    case TYPE_URL.Cluster:
      return { type: 'Cluster', message: must(decodeResource(typeUrl, bytes)) };
    case TYPE_URL.ClusterLoadAssignment:
      return { type: 'ClusterLoadAssignment', message: must(decodeResource(typeUrl, bytes)) };
    case TYPE_URL.Secret:
      return { type: 'Secret', message: must(decodeResource(typeUrl, bytes)) };
  }
}

/** One full translation; throws on any decode error, dangling reference or translation error. */
/**
 * `streaming`: each resource is decoded only when decodeXdsResources reaches it, so the typed messages die
 * young, as in the xDS client's ResourceCache; the decode time is then part of the domain stage.
 */
export function runTranslation(input: readonly EncodedResource[], portVariable: string | undefined, previous?: GatewayConfig, streaming = false): TranslateRun {
  const wall = performance.now();
  const t0 = cpuMs();
  const messages = streaming
    ? (function* () {
        for (const r of input) yield decodeOne(r);
      })()
    : input.map(decodeOne);
  const t1 = cpuMs();
  const report = new FidelityReport();
  const decoded = decodeXdsResources(messages, report);
  const t2 = cpuMs();
  if (decoded.errors.length > 0) throw new Error(`decode errors: ${JSON.stringify(decoded.errors.slice(0, 3))}`);
  return translateFrom(createSnapshot('bench', decoded.resources), report, { wall, t0, t1, t2 }, portVariable, previous);
}

/**
 * The same translation through the file source: `FileConfigSource.load` reads the config dump, parses it
 * (JSON.parse + the strict proto-JSON check), types and converts every resource and builds the snapshot;
 * all of that is reported as the domain stage (decode 0), the consistency check as the snapshot stage.
 */
export async function runFileTranslation(file: string, portVariable: string | undefined, previous?: GatewayConfig): Promise<TranslateRun> {
  const wall = performance.now();
  const t0 = cpuMs();
  const loaded = await new FileConfigSource({ path: file }).load();
  const t2 = cpuMs();
  if (!loaded.ok) throw new Error(`file source: ${loaded.error.location}: ${loaded.error.message}`);
  const report = new FidelityReport();
  report.recordAll(loaded.value.fidelity);
  return translateFrom(loaded.value.snapshot, report, { wall, t0, t1: t0, t2 }, portVariable, previous);
}

function translateFrom(
  snapshot: MeshSnapshot,
  report: FidelityReport,
  at: { wall: number; t0: number; t1: number; t2: number },
  portVariable: string | undefined,
  previous?: GatewayConfig,
): TranslateRun {
  const { wall, t0, t1, t2 } = at;
  const dangling = danglingReferences(snapshot);
  const t3 = cpuMs();
  const translation = translateSnapshot(snapshot, { portVariable }, report);
  const t4 = cpuMs();
  if (!translation.ok) throw new Error(`translation failed: ${JSON.stringify(translation.error.slice(0, 3))}`);
  const changes = diffConfigs(GatewayConfig.empty(), translation.value.config);
  const t5 = cpuMs();
  const wallMs = performance.now() - wall;
  if (dangling.length > 0) throw new Error(`dangling references: ${JSON.stringify(dangling.slice(0, 3))}`);
  const config = translation.value.config;
  const t6 = cpuMs();
  const steady = previous ? diffConfigs(previous, config) : undefined;
  const steadyDiffMs = previous ? cpuMs() - t6 : undefined;
  if (steady && steady.changes.length > 0) throw new Error(`same input, yet ${steady.changes.length} changes (first: ${steady.changes[0]!.key})`);
  return {
    ms: { decode: t1 - t0, domain: t2 - t1, snapshot: t3 - t2, translate: t4 - t3, diff: t5 - t4 },
    totalMs: t5 - t0,
    wallMs,
    steadyDiffMs,
    config,
    counts: config.counts(),
    changes: changes.changes.length,
    fidelityRecords: report.size,
  };
}

// Gateway configs the sink tests apply: the bookinfo example as istiod serves it, a generated mesh of
// any size, and the helpers that apply a change the way the sidecar does.
import path from 'node:path';
import * as assert from 'uvu/assert';
import { encodeMesh, generateMesh } from '../../bench/mesh-generator.js';
import { runTranslation } from '../../bench/translate.bench.js';
import { diffConfigs } from '../../src/domain/diff.js';
import { GatewayConfig, type GatewayObject } from '../../src/domain/gateway-config.js';
import type { JsonObject } from '../../src/domain/json.js';
import type { ApplyResult, ConfigSink } from '../../src/ports/config-sink.js';
import { repoRoot } from './shared-fixtures.js';
import { translateFile } from './translate-file.js';

export async function bookinfoConfig(): Promise<GatewayConfig> {
  const { translation } = await translateFile(path.join(repoRoot, 'examples/bookinfo/istiod-capture.json'));
  return translation.config;
}

/** The translation of a generated Istio-shaped mesh (bench/mesh-generator.ts). */
export function meshConfig(services: number, seed = 1): GatewayConfig {
  return runTranslation(encodeMesh(generateMesh({ services, endpointsPerService: 2, seed })), undefined).config;
}

export function applyChange(sink: ConfigSink, from: GatewayConfig, to: GatewayConfig): Promise<ApplyResult> {
  return sink.apply({ desired: to, changes: diffConfigs(from, to) });
}

/** Applies until the sink reports no failure, as the sidecar's retry loop does; returns the rounds taken. */
export async function applyUntilConverged(sink: ConfigSink, from: GatewayConfig, to: GatewayConfig, maxRounds = 30): Promise<number> {
  let last: ApplyResult | undefined;
  for (let round = 1; round <= maxRounds; round++) {
    last = await applyChange(sink, from, to);
    if (last.failed.length === 0) return round;
  }
  assert.unreachable(`no convergence after ${maxRounds} rounds: ${JSON.stringify(last?.failed.slice(0, 3))}`);
  return maxRounds;
}

/** `config` with one object replaced (same key). */
export function withObject(config: GatewayConfig, version: string, object: GatewayObject): GatewayConfig {
  const objects = new Map(config.objects);
  objects.set(`${object.kind}/${object.id}`, object);
  return new GatewayConfig(version, objects);
}

export function withoutKeys(config: GatewayConfig, version: string, keys: readonly string[]): GatewayConfig {
  const objects = new Map(config.objects);
  for (const key of keys) objects.delete(key);
  return new GatewayConfig(version, objects);
}

/** The first upstream of `config` with its nodes moved to another address: a typical EDS change. */
export function movedEndpoint(config: GatewayConfig, version: string): { config: GatewayConfig; key: string } {
  const upstream = config.ofKind('upstreams').find((u) => Array.isArray(u.value.nodes) && u.value.nodes.length > 0)!;
  const nodes = (upstream.value.nodes as JsonObject[]).map((n, i) => (i === 0 ? { ...n, host: '10.99.99.99' } : n));
  return { config: withObject(config, version, { ...upstream, value: { ...upstream.value, nodes } }), key: `upstreams/${upstream.id}` };
}

export const valuesOf = (config: GatewayConfig): Map<string, JsonObject> => new Map([...config.objects].map(([k, o]) => [k, o.value] as const));

export const sortedEntries = <V>(map: ReadonlyMap<string, V>): [string, V][] => [...map].sort(([a], [b]) => (a < b ? -1 : 1));

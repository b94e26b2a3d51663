// Sinks, measured end to end: a full sync of a generated 10k-service mesh (translated once) into each
// remote sink, then one-object updates (one upstream's endpoint moves) and a no-op apply. Targets: the
// APISIX-compatible Admin API test server (traditional and standalone modes, schemas enforced) in its
// own process, and a real etcd started here. Wall time is the agent's view (request to accepted);
// CPU is the agent process's own user+system time.
//
//   npm run bench:sinks -- [--services 10000] [--updates 50] [--sinks admin,standalone,etcd]
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { AdminApiSink } from '../src/adapters/admin-api-sink/admin-api-sink.js';
import { EtcdSink } from '../src/adapters/etcd-sink/etcd-sink.js';
import { StandaloneApiSink } from '../src/adapters/standalone-api-sink/standalone-api-sink.js';
import { diffConfigs } from '../src/domain/diff.js';
import { GatewayConfig, type GatewayObject } from '../src/domain/gateway-config.js';
import type { JsonObject } from '../src/domain/json.js';
import { SecretText } from '../src/domain/secret-text.js';
import type { ConfigSink } from '../src/ports/config-sink.js';
import { EtcdProcess, findEtcd } from '../test/support/etcd-process.js';
import { encodeMesh, generateMesh } from './mesh-generator.js';
import { runTranslation } from './translate.bench.js';

const { values: args } = parseArgs({
  options: {
    services: { type: 'string', default: '10000' },
    updates: { type: 'string', default: '50' },
    sinks: { type: 'string', default: 'admin,standalone,etcd' },
  },
});
const here = path.dirname(fileURLToPath(import.meta.url));

const cpuMs = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

async function startAdminServer(mode: 'traditional' | 'standalone'): Promise<{ url: string; schemas: boolean; child: ChildProcess }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'admin-server-child.ts'), mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    let text = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('\n')) resolve(text.split('\n')[0]!);
    });
    child.once('exit', (code) => reject(new Error(`admin server exited with ${code}`)));
  });
  const [url, schemas] = line.split(' ');
  return { url: url!, schemas: schemas === 'schemas', child };
}

function movedUpstream(config: GatewayConfig, index: number, version: string): GatewayConfig {
  const upstreams = config.ofKind('upstreams').filter((u) => Array.isArray(u.value.nodes) && u.value.nodes.length > 0);
  const upstream = upstreams[index % upstreams.length]!;
  const nodes = (upstream.value.nodes as JsonObject[]).map((n, i) => (i === 0 ? { ...n, host: `10.200.${index % 250}.${(index >> 8) % 250}` } : n));
  const objects = new Map(config.objects);
  const moved: GatewayObject = { ...upstream, value: { ...upstream.value, nodes } };
  objects.set(`upstreams/${upstream.id}`, moved);
  return new GatewayConfig(version, objects);
}

const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

interface Figures {
  readonly sink: string;
  readonly fullWallMs: number;
  readonly fullCpuMs: number;
  readonly noopMs: number;
  readonly updateMedianMs: number;
  readonly updateP99Ms: number;
  readonly updateCpuMs: number;
}

async function measure(name: string, sink: ConfigSink, config: GatewayConfig, updates: number): Promise<Figures> {
  const wall = performance.now();
  const cpu = cpuMs();
  const full = await sink.apply({ desired: config, changes: diffConfigs(GatewayConfig.empty(), config) });
  const fullWallMs = performance.now() - wall;
  const fullCpuMs = cpuMs() - cpu;
  if (full.failed.length > 0) throw new Error(`${name}: full sync failed: ${JSON.stringify(full.failed.slice(0, 3))}`);
  const noopStart = performance.now();
  await sink.apply({ desired: config, changes: diffConfigs(config, config) });
  const noopMs = performance.now() - noopStart;
  const times: number[] = [];
  let previous = config;
  let updateCpuTotal = 0;
  for (let i = 0; i < updates; i++) {
    const next = movedUpstream(config, i, `u${i}`);
    const changes = diffConfigs(previous, next);
    const started = performance.now();
    const cpuBefore = cpuMs();
    const result = await sink.apply({ desired: next, changes });
    updateCpuTotal += cpuMs() - cpuBefore;
    times.push(performance.now() - started);
    if (result.failed.length > 0) throw new Error(`${name}: update failed: ${JSON.stringify(result.failed.slice(0, 3))}`);
    previous = next;
  }
  const updateCpuMs = updateCpuTotal / updates;
  times.sort((a, b) => a - b);
  return { sink: name, fullWallMs, fullCpuMs, noopMs, updateMedianMs: percentile(times, 50), updateP99Ms: percentile(times, 99), updateCpuMs };
}

async function main(): Promise<void> {
  const services = Number(args.services);
  const updates = Number(args.updates);
  const wanted = new Set(args.sinks!.split(','));
  const translated = runTranslation(encodeMesh(generateMesh({ services, endpointsPerService: 2, seed: 1 })), undefined).config;
  const counts = translated.counts();
  const bytes = JSON.stringify([...translated.objects.values()].map((o) => o.value)).length;
  console.log(
    `mesh: ${services} services → ${translated.objects.size} objects (${counts.routes} routes, ${counts.upstreams} upstreams, ${counts.ssls} ssls, ${counts.stream_routes} stream routes), ${(bytes / 1e6).toFixed(1)} MB of JSON`,
  );
  const results: Figures[] = [];
  const retry = { initialMs: 50, maxMs: 1_000, budgetMs: 60_000 };
  for (const mode of ['admin', 'standalone'] as const) {
    if (!wanted.has(mode)) continue;
    const server = await startAdminServer(mode === 'admin' ? 'traditional' : 'standalone');
    const options = { url: server.url, apiKey: new SecretText('bench-key'), retry, resyncMs: 0, timeoutMs: 120_000 };
    const sink = mode === 'admin' ? new AdminApiSink(options) : new StandaloneApiSink(options);
    try {
      results.push(await measure(`${mode} (test server${server.schemas ? ', schemas enforced' : ''})`, sink, translated, updates));
    } finally {
      sink.close();
      server.child.kill('SIGTERM');
    }
  }
  if (wanted.has('etcd')) {
    const binary = findEtcd();
    if (!binary.ok) console.log(`etcd: skipped: ${binary.reason}`);
    else {
      const etcd = await EtcdProcess.start(binary.path);
      const sink = new EtcdSink({ endpoints: [etcd.url], retry, resyncMs: 0 });
      try {
        results.push(await measure('etcd (etcd-server 3.4, local)', sink, translated, updates));
      } finally {
        sink.close();
        await etcd.stop();
      }
    }
  }
  console.log('\n| sink | full sync wall | full sync agent CPU | no-op apply | one-object update median | p99 | agent CPU per update |');
  console.log('|---|---|---|---|---|---|---|');
  const ms = (n: number): string => (n >= 100 ? n.toFixed(0) : n.toFixed(2));
  for (const r of results)
    console.log(
      `| ${r.sink} | ${ms(r.fullWallMs)} ms | ${ms(r.fullCpuMs)} ms | ${ms(r.noopMs)} ms | ${ms(r.updateMedianMs)} ms | ${ms(r.updateP99Ms)} ms | ${ms(r.updateCpuMs)} ms |`,
    );
}

await main();

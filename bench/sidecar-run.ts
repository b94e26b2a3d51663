// Sidecar benchmark runner: `npm run bench:sidecar -- --help`. Prints markdown tables.
//
// Per mesh size, two child processes: an xDS server serving a generated mesh (bench/sidecar.bench.ts
// `--role server`, on another CPU when there is one) and the sidecar pipeline (`--role pipeline`, pinned
// with taskset), so that the pipeline's CPU time and RSS are its own. The runner drives both over IPC:
// arm the pipeline, tell the server to change one endpoint, collect the sample. Then the real CLI
// (`amesh sidecar`, compiled and under tsx) is started against a served mesh and its RSS read from /proc
// once it has applied the configuration and settled.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { MemorySample, MeshChoice, PipelineMessage, PipelineRequest, ServerMessage, ServerRequest, StageName, SyncSample, UpdateSample } from './sidecar.bench.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PROFILE_DIR = path.join(root, 'bench/.cache/profiles');
/** The stages inside *propagation*; `then ack` follows it (the ACK waits for the apply). */
const STAGES: readonly StageName[] = ['client', 'translate', 'diff', 'sink', 'continuation', 'onApplied'];
const GOALS = { services: 10_000, p99Ms: 10, idleRssMb: 70, proportional: 1.5 };

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,10000' },
    endpoints: { type: 'string', default: '3' },
    ports: { type: 'string', default: '1' },
    seed: { type: 'string', default: '1' },
    runs: { type: 'string', default: '200' },
    warmup: { type: 'string', default: '50' },
    'gap-ms': { type: 'string', default: '10' },
    'port-variable': { type: 'string', default: 'server_port' },
    'no-port-variable': { type: 'boolean', default: false },
    cpu: { type: 'string', default: '0' },
    'no-pin': { type: 'boolean', default: false },
    runtime: { type: 'string', default: 'compiled' },
    sections: { type: 'string', default: 'updates,cli' },
    'cli-meshes': { type: 'string', default: 'bookinfo,1000,10000' },
    'cli-runtimes': { type: 'string', default: 'bundle,compiled,tsx' },
    'cli-sink': { type: 'string', default: 'file' },
    'settle-ms': { type: 'string', default: '20000' },
    'cli-node-options': { type: 'string', default: '' },
    'cli-env': { type: 'string', default: '' },
    profile: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (args.help) {
  console.log(`npm run bench:sidecar -- [options]
  --sizes 1000,10000        generated mesh sizes (services) for the update and initial-sync measurements
  --endpoints 3 --ports 1 --seed 1   mesh shape (bench/mesh-generator.ts)
  --runs 200 --warmup 50    measured one-endpoint updates per size, after warm-up updates
  --gap-ms 10               idle time between updates
  --port-variable server_port | --no-port-variable   as \`amesh sidecar --port-variable\`
  --cpu 0 | --no-pin        pin the measured process with taskset (the server gets another CPU if any)
  --runtime compiled|tsx    pipeline process: src/ compiled by tsc to a temp dir and run by node, or tsx
  --sections updates,cli    updates: initial sync + one-endpoint updates; cli: idle RSS of \`amesh sidecar\`
  --cli-meshes bookinfo,1000,10000   meshes served to the CLI (bookinfo = examples/bookinfo)
  --cli-runtimes bundle,compiled,tsx how the CLI runs: node dist-like build, the minified bundle of it
                                     (bundle: npm run build:bundle), or node --import tsx src/app/main.ts
  --cli-sink file|memory    the CLI's sink (file: an apisix.yaml in a temp dir, as in production)
  --settle-ms 20000         how long the CLI idles after its first apply before RSS is read (V8 shrinks the heap after ~10 s idle)
  --cli-node-options "--max-semi-space-size=1"   NODE_OPTIONS for the CLI (memory knobs; shown in the table)
  --cli-env MALLOC_ARENA_MAX=1,…                   extra environment for the CLI (shown in the table)
  --profile                 CPU profile of the measured updates (inspector), per size, in bench/.cache/profiles,
                            with the top functions by self time printed`);
  process.exit(0);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Nearest-rank percentile. */
function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
const median = (values: readonly number[]): number => percentile(values, 50);
const f = (ms: number): string => (Number.isNaN(ms) ? '–' : ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));
const mb = (value: number): string => value.toFixed(0);

// ---------------------------------------------------------------------------------------------------
// Processes

interface Build {
  readonly dir: string;
  readonly out: string;
}

/** src/ and this benchmark compiled to plain JS, as the product runs (no loader in the measured process). */
function compile(): Build {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'amesh-sidecar-bench-'));
  const out = path.join(dir, 'out');
  const compilerOptions = {
    outDir: out,
    rootDir: root,
    noEmit: false,
    declaration: false,
    sourceMap: false,
    incremental: false,
    typeRoots: [path.join(root, 'node_modules/@types')],
  };
  const include = [path.join(root, 'src'), path.join(root, 'bench/sidecar.bench.ts')];
  writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ extends: path.join(root, 'tsconfig.json'), compilerOptions, include }));
  const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(dir, 'tsconfig.json')], { encoding: 'utf8' });
  if (!existsSync(path.join(out, 'bench/sidecar.bench.js')) || !existsSync(path.join(out, 'src/app/main.js'))) throw new Error(`tsc failed:\n${tsc.stdout}${tsc.stderr}`);
  if (tsc.status !== 0) console.warn(`tsc reported type errors (the emitted JS is used anyway):\n${tsc.stdout.slice(0, 2000)}`);
  writeFileSync(path.join(out, 'package.json'), '{"type":"module"}');
  symlinkSync(path.join(root, 'node_modules'), path.join(out, 'node_modules'), 'dir');
  // The deployable form too (npm run build:bundle), for the `bundle` CLI runtime.
  const bundled = spawnSync(process.execPath, [path.join(root, 'scripts/bundle.mjs'), path.join(out, 'src/app/main.js'), path.join(out, 'bundle')], { encoding: 'utf8' });
  if (bundled.status !== 0) throw new Error(`bundling failed:\n${bundled.stdout}${bundled.stderr}`);
  return { dir, out };
}

interface Placement {
  /** taskset prefix for the measured process. */
  readonly measured: readonly string[];
  /** taskset prefix for the xDS server. */
  readonly server: readonly string[];
  readonly description: string;
}

function placement(): Placement {
  const cpus = os.availableParallelism();
  const cpu = Number(args.cpu);
  if (args['no-pin'] || spawnSync('taskset', ['-c', String(cpu), 'true']).status !== 0) return { measured: [], server: [], description: 'not pinned' };
  const other = cpus > 1 ? (cpu + 1) % cpus : undefined;
  return {
    measured: ['taskset', '-c', String(cpu)],
    server: other === undefined ? [] : ['taskset', '-c', String(other)],
    description: `measured process pinned to CPU ${cpu} (taskset)${other === undefined ? '' : `, xDS server on CPU ${other}`}`,
  };
}

/** A child that speaks over IPC; messages are queued until asked for. */
class Child<Out extends { type: string }, In> {
  private readonly queue: Out[] = [];
  private waiting: { type: string; resolve: (m: Out) => void; reject: (e: Error) => void } | undefined;
  private stderr = '';
  private exited: string | undefined;

  constructor(
    readonly proc: ChildProcess,
    readonly name: string,
  ) {
    proc.stderr?.on('data', (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString()).slice(-8000)));
    proc.on('message', (message: Out) => {
      if (message.type === 'problem') console.warn(`${name}: ${(message as unknown as { message: string }).message}`);
      else this.queue.push(message);
      this.deliver();
    });
    proc.on('exit', (code, signal) => {
      this.exited = `${name} exited (${code ?? signal})${this.stderr ? `:\n${this.stderr}` : ''}`;
      this.waiting?.reject(new Error(this.exited));
      this.waiting = undefined;
    });
  }

  private deliver(): void {
    if (!this.waiting) return;
    const at = this.queue.findIndex((m) => m.type === this.waiting!.type);
    if (at < 0) return;
    const [message] = this.queue.splice(at, 1);
    const { resolve } = this.waiting;
    this.waiting = undefined;
    resolve(message!);
  }

  next<T extends Out['type']>(type: T, timeoutMs = 600_000): Promise<Extract<Out, { type: T }>> {
    if (this.exited) return Promise.reject(new Error(this.exited));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no "${type}" within ${timeoutMs} ms${this.stderr ? `\n${this.stderr}` : ''}`)), timeoutMs);
      this.waiting = {
        type,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m as Extract<Out, { type: T }>);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.deliver();
    });
  }

  send(message: In): void {
    this.proc.send(message as object);
  }

  async end(request: In): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.proc.once('exit', () => resolve()));
    this.send(request);
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

function spawnNode(prefix: readonly string[], nodeArgs: readonly string[], name: string, env: NodeJS.ProcessEnv = {}): ChildProcess {
  const command = [...prefix, process.execPath, ...nodeArgs];
  return spawn(command[0]!, command.slice(1), { cwd: root, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: { ...process.env, AMESH_ROOT: root, ...env } }).once('error', (e) => {
    throw new Error(`${name}: ${e.message}`);
  });
}

const benchScript = (build: Build | undefined): string[] =>
  build ? [path.join(build.out, 'bench/sidecar.bench.js')] : ['--import', 'tsx', path.join(root, 'bench/sidecar.bench.ts')];

async function startServer(mesh: MeshChoice, where: Placement): Promise<{ child: Child<ServerMessage, ServerRequest>; ready: Extract<ServerMessage, { type: 'ready' }> }> {
  // The server is not measured: tsx is fine, and it never shares the measured CPU when there are two.
  const proc = spawnNode(where.server, [...benchScript(undefined), '--role', 'server', '--mesh', JSON.stringify(mesh)], 'xDS server');
  const child = new Child<ServerMessage, ServerRequest>(proc, 'xDS server');
  return { child, ready: await child.next('ready') };
}

const meshOf = (services: number): MeshChoice => ({
  kind: 'generated',
  spec: { services, endpointsPerService: Number(args.endpoints), portsPerService: Number(args.ports), seed: Number(args.seed) },
});
const portVariable = (): string => (args['no-port-variable'] ? '' : args['port-variable']!);

// ---------------------------------------------------------------------------------------------------
// Updates: initial sync, then one-endpoint changes

interface SizeResult {
  readonly services: number;
  readonly resources: number;
  readonly wireMb: number;
  readonly sync: SyncSample;
  readonly baseline: MemorySample;
  readonly samples: readonly UpdateSample[];
  readonly after: MemorySample;
  readonly profile: string | undefined;
}

async function measureSize(services: number, where: Placement, build: Build | undefined): Promise<SizeResult> {
  const server = await startServer(meshOf(services), where);
  const proc = spawnNode(where.measured, [...benchScript(build), '--role', 'pipeline', '--address', server.ready.address, '--port-variable', portVariable()], 'sidecar pipeline');
  const pipeline = new Child<PipelineMessage, PipelineRequest>(proc, 'sidecar pipeline');
  try {
    const synced = await pipeline.next('synced');
    await sleep(500);
    const samples: UpdateSample[] = [];
    const warmup = Number(args.warmup);
    const runs = Number(args.runs);
    let profile: string | undefined;
    for (let k = 0; k < warmup + runs; k++) {
      if (k === warmup && args.profile) {
        mkdirSync(PROFILE_DIR, { recursive: true });
        pipeline.send({ type: 'profile', action: 'start' });
        await pipeline.next('profiled');
      }
      pipeline.send({ type: 'arm' });
      await pipeline.next('armed');
      server.child.send({ type: 'change', k });
      const changed = await server.child.next('changed');
      const { sample } = await pipeline.next('sample');
      if (sample.changes !== 1) console.warn(`update ${k} (${changed.op} on ${changed.cluster}): ${sample.changes} objects changed, expected 1`);
      if (k >= warmup) samples.push(sample);
      await sleep(Number(args['gap-ms']));
    }
    if (args.profile) {
      profile = path.join(PROFILE_DIR, `sidecar-update-${services}.cpuprofile`);
      pipeline.send({ type: 'profile', action: 'stop', file: profile });
      await pipeline.next('profiled');
    }
    pipeline.send({ type: 'memory', settleMs: 2000 });
    const { memory: after } = await pipeline.next('memory');
    return { services, resources: server.ready.resources, wireMb: server.ready.wireBytes / 2 ** 20, sync: synced.sync, baseline: synced.baseline, samples, after, profile };
  } finally {
    await pipeline.end({ type: 'stop' });
    await server.child.end({ type: 'stop' });
  }
}

function printUpdates(results: readonly SizeResult[]): string[] {
  const verdicts: string[] = [];
  console.log('\n#### Initial full sync (delta ADS: connect → first configuration applied to the sink)\n');
  console.log(
    '| services | resources | wire MB | routes / upstreams / stream routes | fidelity records | wall ms | CPU ms | RSS MB before → after sync | peak RSS MB | heap used MB |',
  );
  console.log(`|${' ---: |'.repeat(10)}`);
  for (const r of results) {
    const o = r.sync.objects;
    console.log(
      `| ${r.services} | ${r.resources} | ${r.wireMb.toFixed(1)} | ${o.routes} / ${o.upstreams} / ${o.stream_routes} | ${r.sync.fidelityRecords} | ${f(r.sync.wallMs)} | ${f(r.sync.cpuMs)} | ` +
        `${mb(r.baseline.rssMb)} → ${mb(r.sync.rssMb)} | ${mb(r.sync.maxRssMb)} | ${mb(r.sync.heapUsedMb)} |`,
    );
  }

  const runs = results[0]?.samples.length ?? 0;
  console.log(`\n#### One-endpoint change (one ClusterLoadAssignment ±1 endpoint over delta; ${runs} updates after ${args.warmup} warm-up)\n`);
  console.log(
    '*propagation*: wall time from the ADS client receiving the response to the SyncService having applied it; ' +
      '*CPU*: process CPU time over the same interval; *update CPU*: also the gRPC receive/decode and the ACK.\n',
  );
  console.log(
    '| services | propagation ms p50 / p90 / p99 / max | CPU ms p50 / p90 / p99 / max | update CPU ms p50 / p99 | GC ms in update p50 / p99 | objects changed | RSS MB after updates (heap used) |',
  );
  console.log(`|${' ---: |'.repeat(7)}`);
  const q = (xs: number[]): string => [50, 90, 99, 100].map((p) => f(percentile(xs, p))).join(' / ');
  for (const r of results) {
    const changes = [...new Set(r.samples.map((s) => s.changes))].join(', ');
    console.log(
      `| ${r.services} | ${q(r.samples.map((s) => s.propagationMs))} | ${q(r.samples.map((s) => s.cpuMs))} | ` +
        `${f(median(r.samples.map((s) => s.updateCpuMs)))} / ${f(
          percentile(
            r.samples.map((s) => s.updateCpuMs),
            99,
          ),
        )} | ` +
        `${f(median(r.samples.map((s) => s.gcMs)))} / ${f(
          percentile(
            r.samples.map((s) => s.gcMs),
            99,
          ),
        )} | ${changes} | ${mb(r.after.rssMb)} (${mb(r.after.heapUsedMb)}) |`,
    );
  }

  console.log('\n#### Where the update time goes (median wall ms per stage)\n');
  console.log(`| services | ${STAGES.join(' | ')} | total (propagation) | then ack |`);
  console.log(`|${' ---: |'.repeat(STAGES.length + 3)}`);
  for (const r of results) {
    const stages = STAGES.map((s) => f(median(r.samples.map((x) => x.stages[s]))));
    console.log(`| ${r.services} | ${stages.join(' | ')} | ${f(median(r.samples.map((s) => s.propagationMs)))} | ${f(median(r.samples.map((x) => x.stages['then ack'])))} |`);
  }

  const goal = results.find((r) => r.services === GOALS.services);
  if (goal) {
    const p99 = percentile(
      goal.samples.map((s) => s.propagationMs),
      99,
    );
    verdicts.push(`one-endpoint change at ${GOALS.services} services ≤ ${GOALS.p99Ms} ms p99: ${p99 <= GOALS.p99Ms ? 'met' : 'MISSED'} — p99 ${f(p99)} ms`);
  }
  const sized = results.filter((r) => r.services >= 1000);
  if (sized.length >= 2) {
    const small = sized[0]!;
    const large = sized.at(-1)!;
    const ratio = median(large.samples.map((s) => s.cpuMs)) / median(small.samples.map((s) => s.cpuMs));
    verdicts.push(
      `work proportional to the change (same cost at ${large.services} as at ${small.services} services, ≤ ×${GOALS.proportional}): ` +
        `${ratio <= GOALS.proportional ? 'met' : 'MISSED'} — median CPU ×${ratio.toFixed(1)} for ×${(large.services / small.services).toFixed(0)} services`,
    );
  }
  return verdicts;
}

// ---------------------------------------------------------------------------------------------------
// The CLI at rest

interface CliResult {
  readonly mesh: string;
  readonly runtime: string;
  readonly firstApplyMs: number;
  readonly rssMb: number;
  readonly peakRssMb: number;
  readonly samples: readonly number[];
}

/** NODE_OPTIONS and extra variables for the CLI, from --cli-node-options and --cli-env. */
function cliEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  if (args['cli-node-options']) env.NODE_OPTIONS = args['cli-node-options'];
  for (const pair of args['cli-env']!.split(',').filter(Boolean)) {
    const at = pair.indexOf('=');
    env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return env;
}

const cliKnobs = (): string =>
  [args['cli-env']!.split(',').filter(Boolean).join(' '), args['cli-node-options'] ? `NODE_OPTIONS="${args['cli-node-options']}"` : ''].filter(Boolean).join(' ');

function procStatus(pid: number): { rssMb: number; peakRssMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssMb: kb('VmRSS') / 1024, peakRssMb: kb('VmHWM') / 1024 };
}

async function measureCli(meshName: string, runtime: string, where: Placement, build: Build | undefined): Promise<CliResult> {
  const mesh: MeshChoice = meshName === 'bookinfo' ? { kind: 'bookinfo' } : meshOf(Number(meshName));
  const server = await startServer(mesh, where);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'amesh-sidecar-cli-'));
  try {
    const main = runtime === 'tsx' ? ['--import', 'tsx', path.join(root, 'src/app/main.ts')] : [path.join(build!.out, runtime === 'bundle' ? 'bundle/main.js' : 'src/app/main.js')];
    const sink = args['cli-sink'] === 'memory' ? 'memory' : `file:${path.join(dir, 'apisix.yaml')}`;
    const flags = [
      'sidecar',
      '--xds',
      server.ready.address,
      '--sink',
      sink,
      '--ready-address',
      '127.0.0.1:0',
      '--metrics-address',
      '127.0.0.1:0',
      '--admin-address',
      'off',
      '--log-level',
      'info',
    ];
    if (portVariable()) flags.push('--port-variable', portVariable());
    const started = performance.now();
    const env: NodeJS.ProcessEnv = { POD_NAME: 'bench-0', POD_NAMESPACE: 'default', INSTANCE_IP: '10.244.0.10', ...cliEnv() };
    const proc = spawnNode(where.measured, [...main, ...flags], `amesh sidecar (${runtime})`, env);
    let output = '';
    const applied = new Promise<number>((resolve, reject) => {
      // pino writes JSON lines to stderr.
      const onData = (chunk: Buffer): void => {
        output = (output + chunk.toString()).slice(-20_000);
        if (output.includes('"msg":"configuration applied"')) resolve(performance.now() - started);
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      proc.once('exit', (code) => reject(new Error(`amesh sidecar exited (${code}) before applying:\n${output}`)));
    });
    try {
      const firstApplyMs = await applied;
      const samples: number[] = [];
      const settle = Number(args['settle-ms']);
      for (let t = 0; t < settle; t += 500) {
        await sleep(500);
        samples.push(procStatus(proc.pid!).rssMb);
      }
      const { rssMb, peakRssMb } = procStatus(proc.pid!);
      return { mesh: meshName, runtime, firstApplyMs, rssMb, peakRssMb, samples };
    } finally {
      const exited = new Promise<void>((resolve) => (proc.exitCode !== null ? resolve() : proc.once('exit', () => resolve())));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
  } finally {
    await server.child.end({ type: 'stop' });
    rmSync(dir, { recursive: true, force: true });
  }
}

const RUNTIME_LABEL: Record<string, string> = {
  tsx: 'tsx (`node --import tsx src/app/main.ts`)',
  compiled: 'compiled (`node <build>/src/app/main.js`)',
  bundle: 'bundle (`node <build>/bundle/main.js`, npm run build:bundle)',
};

function printCli(results: readonly CliResult[]): string[] {
  const knobs = cliKnobs();
  console.log(
    `\n#### \`amesh sidecar\` at rest (${args['cli-sink']} sink${knobs ? `, ${knobs}` : ''}; RSS from /proc after the first apply and ${Number(args['settle-ms']) / 1000} s idle)\n`,
  );
  console.log('| mesh | runtime | start → first apply ms | RSS MB at rest | RSS MB min / max while settling | peak RSS MB (VmHWM) |');
  console.log(`| --- | --- |${' ---: |'.repeat(4)}`);
  for (const r of results) {
    console.log(
      `| ${r.mesh === 'bookinfo' ? 'bookinfo' : `${r.mesh} services`} | ${RUNTIME_LABEL[r.runtime] ?? r.runtime} | ` +
        `${f(r.firstApplyMs)} | **${mb(r.rssMb)}** | ${mb(Math.min(...r.samples))} / ${mb(Math.max(...r.samples))} | ${mb(r.peakRssMb)} |`,
    );
  }
  // Judged on the deployable form when it was measured.
  const idle = results.find((r) => r.mesh === 'bookinfo' && r.runtime === 'bundle') ?? results.find((r) => r.mesh === 'bookinfo' && r.runtime === 'compiled');
  return idle
    ? [
        `idle sidecar RSS (bookinfo, ${idle.runtime}${knobs ? `, ${knobs}` : ''}) ≤ ${GOALS.idleRssMb} MB: ${idle.rssMb <= GOALS.idleRssMb ? 'met' : 'MISSED'} — ${mb(idle.rssMb)} MB`,
      ]
    : [];
}

// ---------------------------------------------------------------------------------------------------
// Profiles

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

/** Top functions by self time, and src/ functions by inclusive time, over the non-idle samples. */
function summarizeProfile(file: string, top = 20): void {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000));
  const label = (n: ProfileNode): string => {
    const url = n.callFrame.url.replace(/^file:\/\//, '').replace(/^.*?\/(src|bench|node_modules)\//, '$1/');
    return `${n.callFrame.functionName || '(anonymous)'}${url ? ` ${url}:${n.callFrame.lineNumber + 1}` : ''}`;
  };
  const selfBy = new Map<string, number>();
  const inclusiveBy = new Map<string, number>();
  let busy = 0;
  for (const [id, ms] of self) {
    const node = byId.get(id)!;
    if (node.callFrame.functionName === '(idle)') continue;
    busy += ms;
    selfBy.set(label(node), (selfBy.get(label(node)) ?? 0) + ms);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const name = label(byId.get(at)!);
      if (seen.has(name)) continue;
      seen.add(name);
      inclusiveBy.set(name, (inclusiveBy.get(name) ?? 0) + ms);
    }
  }
  const rows = (map: Map<string, number>, filter: (name: string) => boolean): string[] =>
    [...map]
      .filter(([name]) => filter(name))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, ms]) => `| ${((100 * ms) / busy).toFixed(1)} % | \`${name}\` |`);
  console.log(`\nProfile ${path.relative(root, file)} (${(busy / 1000).toFixed(1)} s busy):\n\n| self | function |\n| ---: | --- |\n${rows(selfBy, () => true).join('\n')}`);
  console.log(`\n| inclusive | src/ function |\n| ---: | --- |\n${rows(inclusiveBy, (name) => name.includes(' src/')).join('\n')}`);
}

// ---------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const where = placement();
  const sections = new Set(args.sections!.split(','));
  const runtimes = args['cli-runtimes']!.split(',');
  if (args.runtime !== 'compiled' && args.runtime !== 'tsx') throw new Error('--runtime: compiled or tsx');
  const needBuild = (sections.has('updates') && args.runtime === 'compiled') || (sections.has('cli') && runtimes.some((r) => r === 'compiled' || r === 'bundle'));
  const build = needBuild ? compile() : undefined;
  const load = os.loadavg()[0]!;
  console.log(
    `bench sidecar: endpoints/service ${args.endpoints}, ports/service ${args.ports}, seed ${args.seed}, port variable ${portVariable() || 'none'}, ` +
      `pipeline ${args.runtime}, ${where.description}, node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown CPU'} × ${os.availableParallelism()}`,
  );
  console.log(`load average ${load.toFixed(2)}${load > 0.5 ? ' — WARNING: other work is running; wall times will be noisy (CPU times less so)' : ''}`);
  const verdicts: string[] = [];
  try {
    if (sections.has('updates')) {
      const results: SizeResult[] = [];
      for (const services of args.sizes!.split(',').map(Number)) results.push(await measureSize(services, where, args.runtime === 'compiled' ? build : undefined));
      verdicts.push(...printUpdates(results));
      for (const r of results) if (r.profile) summarizeProfile(r.profile);
    }
    if (sections.has('cli')) {
      const results: CliResult[] = [];
      for (const mesh of args['cli-meshes']!.split(',')) {
        for (const runtime of runtimes) results.push(await measureCli(mesh, runtime, where, build));
      }
      verdicts.push(...printCli(results));
    }
  } finally {
    if (build) rmSync(build.dir, { recursive: true, force: true });
  }
  if (verdicts.length > 0) console.log(`\n${verdicts.map((v) => `- ${v}`).join('\n')}`);
}

await main();

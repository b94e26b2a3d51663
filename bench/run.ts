// Benchmark runner. `npm run bench -- --help`. Each size runs in a fresh child process (pinned to CPU 0
// with taskset when available) so that its peak RSS is its own; the parent generates the input and prints
// a markdown table.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { XDS_RESOURCE_TYPE_URLS } from '../src/adapters/envoy/proto/type-urls.js';
import { encodeMesh, generateMesh } from './mesh-generator.js';
import { configDumpJson } from './config-dump.js';
import { runFileTranslation, runTranslation, STAGES, type EncodedResource, type TranslateRun } from './translate.bench.js';

const BENCHES = ['translate'] as const;
const GOAL = { services: 10_000, totalMs: 1500, rssMb: 400 };
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PROFILE_DIR = path.join(root, 'bench/.cache/profiles');

const { values: args } = parseArgs({
  options: {
    bench: { type: 'string', default: 'translate' },
    sizes: { type: 'string', default: '100,1000,3000,10000' },
    endpoints: { type: 'string', default: '3' },
    ports: { type: 'string', default: '1' },
    runs: { type: 'string', default: '7' },
    warmup: { type: 'string', default: '3' },
    'warmup-ms': { type: 'string', default: '3000' },
    seed: { type: 'string', default: '1' },
    'port-variable': { type: 'string', default: 'server_port' },
    'no-port-variable': { type: 'boolean', default: false },
    'no-pin': { type: 'boolean', default: false },
    runtime: { type: 'string', default: 'compiled' },
    streaming: { type: 'boolean', default: false },
    source: { type: 'string', default: 'xds' },
    profile: { type: 'boolean', default: false },
    child: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

if (args.help) {
  console.log(`npm run bench -- [--bench ${BENCHES.join('|')}] [--sizes 100,1000,3000,10000] [--endpoints 3] [--ports 1]
  [--runs 7] [--warmup 3] [--warmup-ms 3000] [--seed 1] [--port-variable server_port | --no-port-variable] [--no-pin]
  [--streaming]  (decode each resource when it is converted, as the xDS client does: no separate decode stage)
  [--source xds|file]  (file: the mesh as a JSON config dump, loaded by FileConfigSource; its whole load is the domain stage)
  [--runtime compiled|tsx]  (compiled: this runner and what it imports built with tsc into a temp dir, run by plain node)
  [--profile]  (writes a .cpuprofile per size to bench/.cache/profiles; open in Chrome DevTools)`);
  process.exit(0);
}

interface ChildResult {
  readonly runs: Omit<TranslateRun, 'config'>[];
  readonly coldMs: number;
  readonly baselineRssMb: number;
  /** maxRSS after the first (cold) translation: what translating this mesh once needs. */
  readonly peakRssMb: number;
  /** maxRSS after all runs: mostly V8's lazy heap growth, reported for information. */
  readonly steadyRssMb: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Frames: u8 type index, u32 length, protobuf bytes. */
function writeInput(file: string, resources: EncodedResource[]): number {
  const size = resources.reduce((n, r) => n + 5 + r.bytes.length, 0);
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const r of resources) {
    out.writeUInt8(XDS_RESOURCE_TYPE_URLS.indexOf(r.typeUrl), at);
    out.writeUInt32LE(r.bytes.length, at + 1);
    out.set(r.bytes, at + 5);
    at += 5 + r.bytes.length;
  }
  writeFileSync(file, out);
  return size;
}

function readInput(file: string): EncodedResource[] {
  const data = readFileSync(file);
  const resources: EncodedResource[] = [];
  for (let at = 0; at < data.length;) {
    const length = data.readUInt32LE(at + 1);
    resources.push({ typeUrl: XDS_RESOURCE_TYPE_URLS[data.readUInt8(at)]!, bytes: data.subarray(at + 5, at + 5 + length) });
    at += 5 + length;
  }
  return resources;
}

async function child(file: string): Promise<void> {
  const input = args.source === 'file' ? undefined : readInput(file);
  const portVariable = args['no-port-variable'] ? undefined : args['port-variable'];
  const baselineRssMb = process.memoryUsage().rss / 2 ** 20;
  const runs: Omit<TranslateRun, 'config'>[] = [];
  let coldMs = 0;
  // No forced GC between runs: a full GC drops optimized code whose embedded maps died (V8 "weak
  // objects" deopts), which a process translating push after push does not see each time. The previous
  // config stays alive, as the applied config does in the real pipeline.
  let previous: TranslateRun['config'] | undefined;
  let peakRssMb = 0;
  const warmupUntil = performance.now() + Number(args['warmup-ms']);
  for (let i = 0; runs.length < Number(args.runs); i++) {
    const { config, ...run } = input ? runTranslation(input, portVariable, previous, args.streaming) : await runFileTranslation(file, portVariable, previous);
    previous = config;
    if (i === 0) {
      coldMs = run.totalMs;
      peakRssMb = process.resourceUsage().maxRSS / 1024;
    }
    if (i >= Number(args.warmup) && performance.now() >= warmupUntil) runs.push(run);
  }
  const result: ChildResult = { runs, coldMs, baselineRssMb, peakRssMb, steadyRssMb: process.resourceUsage().maxRSS / 1024 };
  process.stdout.write(JSON.stringify(result));
}

/** Compiles this runner and what it imports to plain JS (as the product runs: no tsx loader in the measured process). */
function compile(): string {
  const dir = path.join(os.tmpdir(), `amesh-bench-build-${process.pid}`);
  const out = path.join(dir, 'out');
  mkdirSync(out, { recursive: true });
  const compilerOptions = { outDir: out, rootDir: root, noEmit: false, declaration: false, sourceMap: false, incremental: false };
  writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ extends: path.join(root, 'tsconfig.json'), compilerOptions, files: [path.join(root, 'bench/run.ts')] }));
  const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(dir, 'tsconfig.json')], { encoding: 'utf8' });
  if (!existsSync(path.join(out, 'bench/run.js'))) throw new Error(`tsc failed:\n${tsc.stdout}${tsc.stderr}`);
  if (tsc.status !== 0) console.warn(`tsc reported type errors (the emitted JS is used anyway):\n${tsc.stdout.slice(0, 2000)}`);
  writeFileSync(path.join(out, 'package.json'), '{"type":"module"}');
  symlinkSync(path.join(root, 'node_modules'), path.join(out, 'node_modules'), 'dir');
  return dir;
}

function runSize(services: number, pin: boolean, build: string | undefined): { result: ChildResult; resources: number; inputMb: number } {
  const spec = { services, endpointsPerService: Number(args.endpoints), portsPerService: Number(args.ports), seed: Number(args.seed) };
  const encoded = encodeMesh(generateMesh(spec));
  const fromFile = args.source === 'file';
  const file = path.join(os.tmpdir(), `amesh-bench-${process.pid}-${services}.${fromFile ? 'json' : 'bin'}`);
  let inputBytes: number;
  if (fromFile) {
    const json = configDumpJson(encoded);
    writeFileSync(file, json);
    inputBytes = Buffer.byteLength(json);
  } else inputBytes = writeInput(file, encoded);
  const node = [process.execPath];
  if (args.profile) {
    mkdirSync(PROFILE_DIR, { recursive: true });
    node.push('--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=${args.bench}-${services}.cpuprofile`);
  }
  const script = build ? [path.join(build, 'out/bench/run.js')] : ['--import', 'tsx', path.join(root, 'bench/run.ts')];
  const command = [...(pin ? ['taskset', '-c', '0'] : []), ...node, ...script, ...process.argv.slice(2), '--child', file];
  const proc = spawnSync(command[0]!, command.slice(1), { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 });
  rmSync(file, { force: true });
  if (proc.status !== 0) throw new Error(`child for ${services} services failed:\n${proc.stderr}`);
  return { result: JSON.parse(proc.stdout) as ChildResult, resources: encoded.length, inputMb: inputBytes / 2 ** 20 };
}

function main(): void {
  if (!(BENCHES as readonly string[]).includes(args.bench!)) throw new Error(`unknown bench "${args.bench}"; one of ${BENCHES.join(', ')}`);
  const pin = !args['no-pin'] && spawnSync('taskset', ['-c', '0', 'true']).status === 0;
  if (args.runtime !== 'compiled' && args.runtime !== 'tsx') throw new Error('--runtime: compiled or tsx');
  if (args.source !== 'xds' && args.source !== 'file') throw new Error('--source: xds or file');
  const load = os.loadavg()[0]!; // before compiling, which loads both CPUs itself
  const loadLine = `load average ${load.toFixed(2)} on ${os.availableParallelism()} CPUs${load > 0.5 ? ' — WARNING: other work is running; times will be noisy' : ''}`;
  const build = args.runtime === 'compiled' ? compile() : undefined;
  try {
    report(pin, build, loadLine);
  } finally {
    if (build) rmSync(build, { recursive: true, force: true });
  }
}

function report(pin: boolean, build: string | undefined, loadLine: string): void {
  const sizes = args.sizes!.split(',').map(Number);
  console.log(
    `bench ${args.bench}: endpoints/service ${args.endpoints}, ports/service ${args.ports}, median of ${args.runs} runs after ≥ ${args.warmup} warm-up runs and ≥ ${args['warmup-ms']} ms, ` +
      `${pin ? 'pinned to CPU 0 (taskset -c 0)' : 'not pinned'}, ${args.runtime}, ${args.source === 'file' ? 'file source (JSON config dump)' : args.streaming ? 'streaming decode' : 'staged decode'}, port variable ${args['no-port-variable'] ? 'none' : args['port-variable']}, node ${process.version}`,
  );
  console.log(`${loadLine}\n`);
  const f = (ms: number): string => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));
  console.log(
    `| services | resources | input MB | routes / upstreams / stream routes | ${STAGES.join(' ms | ')} ms | **total CPU ms** | wall ms | µs / service | cold ms | re-diff ms | peak RSS MB, 1st run (baseline) | max RSS MB, all runs |`,
  );
  console.log(`|${' ---: |'.repeat(11 + STAGES.length)}`);
  const perService: number[] = [];
  let goal: string | undefined;
  for (const services of sizes) {
    const { result, resources, inputMb } = runSize(services, pin, build);
    const total = median(result.runs.map((r) => r.totalMs));
    const stages = STAGES.map((s) => f(median(result.runs.map((r) => r.ms[s]))));
    const c = result.runs[0]!.counts;
    perService.push((total * 1000) / services);
    console.log(
      `| ${services} | ${resources} | ${inputMb.toFixed(1)} | ${c.routes} / ${c.upstreams} / ${c.stream_routes} | ${stages.join(' | ')} | **${f(total)}** | ${f(median(result.runs.map((r) => r.wallMs)))} | ${perService.at(-1)!.toFixed(1)} | ` +
        `${f(result.coldMs)} | ${f(median(result.runs.map((r) => r.steadyDiffMs ?? 0)))} | ${result.peakRssMb.toFixed(0)} (${result.baselineRssMb.toFixed(0)}) | ${result.steadyRssMb.toFixed(0)} |`,
    );
    if (services === GOAL.services) {
      const ok = total <= GOAL.totalMs && result.peakRssMb <= GOAL.rssMb;
      goal = `goal (10k services ≤ ${GOAL.totalMs} ms median CPU time, ≤ ${GOAL.rssMb} MB peak RSS): ${ok ? 'met' : 'MISSED'} — ${f(total)} ms, ${result.peakRssMb.toFixed(0)} MB`;
    }
  }
  if (perService.length > 1) {
    const growth = perService.slice(1).map((p, i) => `${sizes[i]}→${sizes[i + 1]}: ×${(p / perService[i]!).toFixed(2)}`);
    // Below 1000 services fixed costs and a heap that fits the young generation dominate: judge
    // linearity as the largest size against the smallest size of at least 1000.
    const base = sizes.findIndex((n) => n >= 1000);
    const ratio = base >= 0 && base < sizes.length - 1 ? perService.at(-1)! / perService[base]! : undefined;
    const verdict =
      ratio === undefined
        ? 'two sizes ≥ 1000 needed to judge'
        : `${ratio <= 1.25 ? 'linear' : 'NOT linear'}: ${sizes.at(-1)} vs ${sizes[base]} services ×${ratio.toFixed(2)} per service`;
    console.log(`\ntime per service, growth between sizes: ${growth.join(', ')} (${verdict})`);
  }
  if (goal) console.log(goal);
  if (args.profile) console.log(`profiles: ${PROFILE_DIR}`);
}

if (args.child) await child(args.child);
else main();

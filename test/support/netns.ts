// Network namespaces for tests that need real iptables: created with unique names, deleted afterwards.
// Suites call netnsUnavailable() first and print the reason they skip (not root, tools missing).
import { spawn, spawnSync } from 'node:child_process';

export type Backend = 'nft' | 'legacy';

let counter = 0;

export interface Ran {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function run(file: string, args: readonly string[], input?: string): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(file, [...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => resolve({ exitCode: 127, stdout, stderr: String(e) }));
    child.on('close', (code) => resolve({ exitCode: code ?? -1, stdout, stderr }));
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
  });
}

export async function sh(file: string, args: readonly string[], input?: string): Promise<string> {
  const result = await run(file, args, input);
  if (result.exitCode !== 0) throw new Error(`${file} ${args.join(' ')} failed (${result.exitCode}): ${result.stderr}`);
  return result.stdout;
}

function has(program: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${program}`]).status === 0;
}

/** Why namespace tests cannot run here, or undefined when they can (synchronous: suites register at load). */
export function netnsUnavailable(backend: Backend, extra: readonly string[] = []): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (ip netns add, iptables)';
  for (const program of ['ip', `iptables-${backend}-restore`, `iptables-${backend}-save`, `ip6tables-${backend}-restore`, `ip6tables-${backend}-save`, ...extra]) {
    if (!has(program)) return `${program} not installed (apt-get install iproute2 iptables util-linux)`;
  }
  return undefined;
}

export async function createNetns(tag: string): Promise<string> {
  const name = `amesh-${tag}-${process.pid}-${++counter}`;
  await sh('ip', ['netns', 'add', name]);
  await sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return name;
}

export async function deleteNetns(name: string): Promise<void> {
  await run('ip', ['netns', 'del', name]);
}

export async function inNetns(netns: string, file: string, args: readonly string[], input?: string): Promise<string> {
  return sh('ip', ['netns', 'exec', netns, file, ...args], input);
}

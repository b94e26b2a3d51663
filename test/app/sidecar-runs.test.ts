// `amesh sidecar` as an operator runs it (issue 12): with a file source and the endpoints off it keeps
// watching the file until stopped (it exited with code 13 after the first apply); a busy address is one
// line and exit 2 (it was an EADDRINUSE stack trace); --once gives up on a sink that keeps failing after
// a bounded wait, naming the sink (it never exited); an unwritable file sink is logged at once (mkdir
// under /proc hung); a file that turns empty or hostile is refused and the last good configuration stays.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from '../../src/app/cli.js';
import type { SidecarOverrides } from '../../src/app/sidecar/sidecar-container.js';
import type { ApplyResult, ConfigSink } from '../../src/ports/config-sink.js';
import { RecordingLogger, until, withTimeout } from '../support/mesh-sidecar.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const bookinfo = join(repo, 'examples/bookinfo/sidecar-resources.yaml');

interface Run {
  readonly code: number;
  readonly err: string;
}

/** runCli for the sidecar with captured output; a run that never ends fails the test (a watchdog, not a timing assertion). */
async function sidecar(args: readonly string[], overrides: SidecarOverrides = {}, signal?: AbortSignal): Promise<Run> {
  let err = '';
  const run = runCli(['sidecar', ...args], { out: () => undefined, err: (t) => void (err += t), env: {}, ...(signal ? { signal } : {}) }, { sidecar: overrides });
  const code = await withTimeout(run, 30_000, () => `amesh sidecar ${args.join(' ')} did not end; stderr: ${err}`);
  return { code, err };
}

const s = suite('amesh sidecar: runs as an operator runs it');

s('--file with the endpoints off keeps watching the file until stopped', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'amesh-sidecar-runs-'));
  const input = join(dir, 'resources.yaml');
  const output = join(dir, 'apisix.yaml');
  copyFileSync(bookinfo, input);
  // A real process: how it ends (exit code 13 was Node's "unsettled top-level await") is the point.
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(repo, 'src/app/main.ts'),
      'sidecar',
      '--file',
      input,
      '--sink',
      `file:${output}`,
      '--ready-address',
      'off',
      '--metrics-address',
      'off',
      '--log-level',
      'warn',
    ],
    {
      cwd: repo,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  try {
    await until(() => existsSync(output) || exitCode !== undefined, 'the first apply', 30_000);
    await until(() => /productpage/.test(readFileSync(output, 'utf8')) || exitCode !== undefined, 'the first apply', 30_000);
    writeFileSync(input, readFileSync(bookinfo, 'utf8').replaceAll('productpage', 'frontpage'));
    await until(() => /frontpage/.test(readFileSync(output, 'utf8')) || exitCode !== undefined, 'the edit to reach the sink', 30_000);
    assert.is(exitCode, undefined, `the sidecar ended with code ${String(exitCode)} instead of watching the file; stderr: ${stderr}`);
    child.kill('SIGTERM');
    assert.is(await withTimeout(exited, 30_000, () => 'the sidecar to stop on SIGTERM'), 0, stderr);
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

s('a busy --ready-address: one line naming the flags and the address, exit 2, nothing left running', async () => {
  const busy: Server = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  const { port } = busy.address() as AddressInfo;
  try {
    const run = await sidecar(['--file', bookinfo, '--sink', 'memory', '--ready-address', `127.0.0.1:${port}`, '--metrics-address', 'off', '--log-level', 'silent']);
    assert.is(run.code, 2);
    assert.is(run.err, `error: cannot serve the operations endpoints (--ready-address, --metrics-address): listen EADDRINUSE: address already in use 127.0.0.1:${port}\n`);
  } finally {
    busy.close();
  }
});

/** A sink whose target refuses every object, as an Admin API refusing the configuration does. */
class RefusingSink implements ConfigSink {
  readonly target = 'admin:http://127.0.0.1:9180';
  applies = 0;
  async apply(): Promise<ApplyResult> {
    this.applies += 1;
    return { applied: 0, failed: [{ key: 'routes/r1', reason: 'PUT /apisix/admin/routes/r1: 400 invalid configuration', rejected: true }] };
  }
}

s('--once gives up on a sink that keeps refusing after --once-wait, naming the sink and its answer', async () => {
  const sink = new RefusingSink();
  const run = await sidecar(['--file', bookinfo, '--sink', 'memory', '--once', '--once-wait', '300', '--ready-address', 'off', '--metrics-address', 'off'], {
    sinks: [sink],
    logger: new RecordingLogger(),
  });
  assert.is(run.code, 1);
  assert.is(
    run.err,
    'error: --once: the sinks still fail after 300 ms of retries: admin:http://127.0.0.1:9180: routes/r1: PUT /apisix/admin/routes/r1: 400 invalid configuration\n',
  );
  assert.ok(sink.applies >= 2, 'retried before giving up');
});

s('--once-wait is checked', async () => {
  const run = await sidecar(['--file', bookinfo, '--sink', 'memory', '--once', '--once-wait', 'soon']);
  assert.is(run.code, 2);
  assert.match(run.err, /^error: --once-wait: expected milliseconds/);
});

s('an unwritable file sink is logged at its first apply, and --once then fails naming it', async () => {
  const logger = new RecordingLogger();
  const sinkPath = '/proc/amesh-no-such-dir/apisix.yaml';
  const run = await sidecar(['--file', bookinfo, '--sink', `file:${sinkPath}`, '--once', '--once-wait', '100', '--ready-address', 'off', '--metrics-address', 'off'], { logger });
  assert.is(run.code, 1);
  assert.match(run.err, new RegExp(`^error: --once: the sinks still fail after 100 ms of retries: file:${sinkPath}: \\*: writing ${sinkPath}: ENOENT`));
  const failure = logger.entries.find((e) => e.level === 'error' && e.message === 'apply failed; will retry');
  assert.ok(failure, 'the failed apply is logged');
  assert.is(failure?.fields['sink'], `file:${sinkPath}`);
});

s('a watched file that turns empty, truncated or hostile is refused: the last good configuration stays in the sink', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'amesh-sidecar-runs-'));
  const input = join(dir, 'resources.yaml');
  const output = join(dir, 'apisix.yaml');
  copyFileSync(bookinfo, input);
  const logger = new RecordingLogger();
  const stop = new AbortController();
  const running = sidecar(['--file', input, '--sink', `file:${output}`, '--ready-address', 'off', '--metrics-address', 'off'], { logger }, stop.signal);
  try {
    await until(() => existsSync(output) && /productpage/.test(readFileSync(output, 'utf8')), 'the first apply', 30_000);
    const good = readFileSync(output, 'utf8');
    const deep = `{"resources": [{"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "c", "metadata": {"filter_metadata": {"f": ${'{"x":'.repeat(3500)}1${'}'.repeat(3500)}}}}]}`;
    const hostile: [string, RegExp][] = [
      ['', /holds no resources/],
      ['# truncated\n', /holds no resources/],
      [deep, /nested deeper than 100 levels/],
    ];
    for (const [text, expected] of hostile) {
      const before = logger.entries.length;
      writeFileSync(input, text);
      await until(() => logger.entries.slice(before).some((e) => expected.test(String(e.fields['error']))), `the refusal of ${expected}`, 30_000);
      assert.is(readFileSync(output, 'utf8'), good, 'the sink keeps the last good configuration');
    }
  } finally {
    stop.abort();
    const run = await running;
    rmSync(dir, { recursive: true, force: true });
    assert.is(run.code, 0, run.err);
  }
});

s.run();

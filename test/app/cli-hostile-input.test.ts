// `amesh translate` on hostile or broken input (issue 12): an empty input exits 1 unless --allow-empty,
// special files and over-size inputs are refused (exit 1), an output under /proc fails (exit 3) instead
// of hanging, inputs that crashed the process are errors, and an exception nothing handled comes out as
// one line (exit 70), its stack only at debug level. The output file stays as it was whenever a run fails.
import { spawnSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli, type CliOverrides } from '../../src/app/cli.js';
import type { ConfigSource } from '../../src/ports/config-source.js';
import type { Logger } from '../../src/ports/logger.js';

interface Run {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

const quiet: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const repo = fileURLToPath(new URL('../..', import.meta.url));
const bookinfo = join(repo, 'examples/bookinfo/sidecar-resources.yaml');

/** runCli with captured output; a run that never returns fails the test (a watchdog for hangs, not a timing assertion). */
async function cli(args: readonly string[], env: Record<string, string> = {}, overrides: CliOverrides = {}): Promise<Run> {
  let out = '';
  let err = '';
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`amesh ${args.join(' ')} did not return: it hangs`)), 30_000);
  });
  try {
    const code = await Promise.race([runCli(args, { out: (t) => void (out += t), err: (t) => void (err += t), env }, { logger: quiet, ...overrides }), hung]);
    return { code, out, err };
  } finally {
    clearTimeout(timer);
  }
}

async function inTempDir(files: Record<string, string>, body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'amesh-cli-hostile-'));
  try {
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const PREVIOUS = Buffer.from('# the last good apisix.yaml\nroutes: []\n#END\n');

/** Runs `args -o out.yaml` over an existing out.yaml: it must fail with one line and leave the directory as it was. */
async function failsKeepingOutput(dir: string, args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  const output = join(dir, 'out.yaml');
  await writeFile(output, PREVIOUS);
  const before = (await readdir(dir)).sort();
  const run = await cli([...args, '-o', output], env);
  assert.is.not(run.code, 0, `expected a failure; stderr: ${run.err}`);
  assert.ok((await readFile(output)).equals(PREVIOUS), 'out.yaml is byte-identical');
  assert.equal((await readdir(dir)).sort(), before, 'no temp file left beside out.yaml');
  assert.match(run.err, /^error: [^\n]*\n$/, 'one line on stderr');
  return run;
}

const s = suite('amesh translate: hostile and broken input');

s('an empty, comment-only or truncated input exits 1 and leaves the output alone; --allow-empty translates it', async () => {
  await inTempDir({ 'empty.yaml': '', 'comments.yaml': '# nothing left\n', 'truncated.json': '{"resources": []}' }, async (dir) => {
    for (const name of ['empty.yaml', 'comments.yaml', 'truncated.json']) {
      const run = await failsKeepingOutput(dir, ['translate', join(dir, name)]);
      assert.is(run.code, 1, name);
      assert.ok(run.err.startsWith(`error: ${join(dir, name)}: holds no resources`), run.err);
      assert.match(run.err, /allow-empty/);
    }
    const allowed = await cli(['translate', join(dir, 'empty.yaml'), '--allow-empty', '-o', join(dir, 'empty-out.yaml')]);
    assert.is(allowed.code, 0, allowed.err);
    assert.match(await readFile(join(dir, 'empty-out.yaml'), 'utf8'), /^#END$/m);
  });
});

s('a FIFO or a device as input exits 1 at once', async () => {
  await inTempDir({}, async (dir) => {
    spawnSync('mkfifo', [join(dir, 'pipe.yaml')]);
    await symlink('/dev/zero', join(dir, 'zero.yaml'));
    const fifo = await failsKeepingOutput(dir, ['translate', join(dir, 'pipe.yaml')]);
    assert.is(fifo.code, 1);
    assert.match(fifo.err, /a FIFO, not a regular file/);
    const zero = await failsKeepingOutput(dir, ['translate', join(dir, 'zero.yaml')]);
    assert.is(zero.code, 1);
    assert.match(zero.err, /a character device, not a regular file/);
  });
});

s('--max-input-bytes and AMESH_MAX_INPUT_BYTES bound the input; a bad size is a usage error', async () => {
  await inTempDir({}, async (dir) => {
    const flag = await failsKeepingOutput(dir, ['translate', bookinfo, '--max-input-bytes', '1Ki']);
    assert.is(flag.code, 1);
    assert.match(flag.err, /over the input size limit of 1024 bytes \(max-input-bytes\)/);
    const env = await failsKeepingOutput(dir, ['translate', bookinfo], { AMESH_MAX_INPUT_BYTES: '2048' });
    assert.match(env.err, /over the input size limit of 2048 bytes/);
    const bad = await failsKeepingOutput(dir, ['translate', bookinfo, '--max-input-bytes', 'lots']);
    assert.is(bad.code, 2);
    assert.match(bad.err, /--max-input-bytes: expected a size in bytes/);
    assert.is((await cli(['translate', bookinfo, '--max-input-bytes', '1Mi', '-o', join(dir, 'fits.yaml')])).code, 0, 'bookinfo fits in 1 MiB');
  });
});

s('inputs that crashed the process with a stack trace are errors of one line, exit 1', async () => {
  let bomb = 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n';
  for (let i = 0, previous = 'a'; i < 9; previous = `l${i}`, i++) bomb += `l${i}: &l${i} [${Array(10).fill(`*${previous}`).join(', ')}]\n`;
  const deep = `{"resources": [{"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "c", "metadata": {"filter_metadata": {"f": ${'{"x":'.repeat(3500)}1${'}'.repeat(3500)}}}}]}`;
  await inTempDir({ 'bomb.yaml': bomb, 'deep.json': deep }, async (dir) => {
    const aliases = await failsKeepingOutput(dir, ['translate', join(dir, 'bomb.yaml')]);
    assert.is(aliases.code, 1);
    assert.match(aliases.err, /the alias expansion limit/);
    const nested = await failsKeepingOutput(dir, ['translate', join(dir, 'deep.json')]);
    assert.is(nested.code, 1);
    assert.match(nested.err, /nested deeper than 100 levels \(the nesting limit\)/);
  });
});

s('an output under /proc fails with exit 3 instead of hanging in mkdir', async () => {
  const run = await cli(['translate', bookinfo, '-o', '/proc/amesh-no-such-dir/apisix.yaml']);
  assert.is(run.code, 3);
  assert.match(run.err, /^error: could not write the output: .*mkdir '\/proc\/amesh-no-such-dir'\n$/);
});

s('an error echoing the input stays one bounded, printable line: no raw newline or escape sequence, no 100 KB value', async () => {
  const name = `evil\n\u001b[2Jcluster${'x'.repeat(100_000)}`;
  // A route without a path specifier: refused by the decoder, which names the resource.
  const route = { match: { headers: [{ name: 'x-a', present_match: true }] }, route: { cluster: 'c' } };
  const document = {
    resources: [{ '@type': 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration', name, virtual_hosts: [{ name: 'vh', domains: ['*'], routes: [route] }] }],
  };
  await inTempDir({ 'evil.json': JSON.stringify(document) }, async (dir) => {
    const run = await failsKeepingOutput(dir, ['translate', join(dir, 'evil.json')]);
    assert.is(run.code, 1);
    assert.ok(run.err.length <= 1_010, `${run.err.length} characters`);
    assert.not.match(run.err.slice(0, -1), /[\u0000-\u001f]/, 'no control character but the final newline');
    // The name is quoted as every echoed value is (display-text.ts): escaped, cut at 200 characters, counted.
    assert.match(
      run.err,
      /RouteConfiguration "evil\\n\\x1b\[2Jclusterx+…\[\d+ more characters\]" field virtual_hosts\[0\]\.routes\[0\]\.match\.path_specifier: /,
      'the name escaped and cut, the field kept',
    );
  });
});

s('an output that is not a regular file (a FIFO, a link to a device, a directory) is refused with exit 3 and left in place', async () => {
  await inTempDir({}, async (dir) => {
    spawnSync('mkfifo', [join(dir, 'pipe.yaml')]);
    // Through a link: the rename would have replaced the link; `-o /dev/full` replaced the device node itself.
    await symlink('/dev/null', join(dir, 'null.yaml'));
    for (const output of [join(dir, 'pipe.yaml'), join(dir, 'null.yaml'), dir]) {
      const run = await cli(['translate', bookinfo, '-o', output]);
      assert.is(run.code, 3, run.err);
      assert.match(run.err, /is not a regular file \((a FIFO|a device|a directory)\): refusing to replace it\n$/);
    }
    assert.equal((await readdir(dir)).sort(), ['null.yaml', 'pipe.yaml'], 'both still there, no temp file');
    assert.ok(lstatSync(join(dir, 'pipe.yaml')).isFIFO() && lstatSync(join(dir, 'null.yaml')).isSymbolicLink());
  });
});

s('a reader that goes away (translate … | head): exit 3 saying so, not an unexpected failure', () => {
  const dir = mkdtempSync(join(tmpdir(), 'amesh-cli-pipe-'));
  try {
    // Output well beyond a pipe's buffer, so that the write meets the closed pipe.
    const clusters = Array.from({ length: 2_000 }, (_, i) => ({
      '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
      name: `c${i}`,
      type: 'STATIC',
      connect_timeout: '1s',
    }));
    writeFileSync(join(dir, 'many.json'), JSON.stringify({ resources: clusters }));
    const command = `"${process.execPath}" --import tsx "${join(repo, 'src/app/main.ts')}" translate "${join(dir, 'many.json')}" 2>"${join(dir, 'err')}" | head -c 10 >/dev/null; echo \${PIPESTATUS[0]}`;
    const run = spawnSync('bash', ['-c', command], { cwd: repo, encoding: 'utf8', timeout: 60_000 });
    assert.is(run.stdout.trim(), '3');
    assert.match(readFileSync(join(dir, 'err'), 'utf8'), /^error: could not write the output: \*: writing stdout: write EPIPE\n$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A source that fails in a way no command expects. */
const throwingSource: ConfigSource = {
  watch: () => {
    throw new TypeError(`something broke\n${'x'.repeat(5000)}`);
  },
};

s('an exception nothing handled: one line (exit 70), bounded; the stack only with --log-level debug', async () => {
  const run = await cli(['translate', bookinfo], {}, { source: throwingSource });
  assert.is(run.code, 70);
  assert.match(run.err, /^error: unexpected failure \(a bug, please report it\): TypeError: something broke x+(…x+)? \(--log-level debug shows where\)\n$/);
  assert.ok(run.err.length < 700, `${run.err.length} characters`);
  const debug = await cli(['translate', bookinfo, '--log-level', 'debug'], {}, { source: throwingSource });
  assert.is(debug.code, 70);
  assert.match(debug.err, /\n {4}at /, 'the stack');
});

s('the real process: an input that crashed it prints one line and exits 1', () => {
  const dir = mkdtempSync(join(tmpdir(), 'amesh-cli-process-'));
  try {
    writeFileSync(
      join(dir, 'deep.json'),
      `{"resources": [{"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "c", "metadata": {"filter_metadata": {"f": ${'{"x":'.repeat(3500)}1${'}'.repeat(3500)}}}}]}`,
    );
    const run = spawnSync(process.execPath, ['--import', 'tsx', join(repo, 'src/app/main.ts'), 'translate', join(dir, 'deep.json')], {
      encoding: 'utf8',
      cwd: repo,
      timeout: 60_000,
    });
    assert.is(run.status, 1, run.stderr);
    assert.is(run.stderr, `error: ${join(dir, 'deep.json')}: nested deeper than 100 levels (the nesting limit)\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

s.run();

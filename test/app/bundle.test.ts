// The deployable form (`npm run build:bundle`: esbuild, npm packages bundled in) runs every command as
// the sources do: the same apisix.yaml for the bundled example, the same iptables plan, and a sidecar run
// from a file to a file sink. Run as a child process, as an image would run it.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from '../../src/app/cli.js';
import { repoRoot } from '../support/shared-fixtures.js';

const run = promisify(execFile);

interface Ctx {
  dir: string;
  main: string;
}

const s = suite<Ctx>('amesh as bundled by scripts/bundle.mjs');

s.before(async (ctx) => {
  // Inside the checkout, so that the external packages resolve from its node_modules.
  await mkdir(path.join(repoRoot, 'out'), { recursive: true });
  ctx.dir = await mkdtemp(path.join(repoRoot, 'out', 'bundle-test-'));
  await run(process.execPath, [path.join(repoRoot, 'scripts/bundle.mjs'), path.join(repoRoot, 'src/app/main.ts'), path.join(ctx.dir, 'bundle')], { cwd: repoRoot });
  ctx.main = path.join(ctx.dir, 'bundle', 'main.js');
});

s.after(async (ctx) => {
  await rm(ctx.dir, { recursive: true, force: true });
});

async function inProcess(args: readonly string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await runCli(args, { out: (t) => void (out += t), err: () => undefined, env: {} });
  return { code, out };
}

s('translate --example bookinfo: byte-identical to the sources', async ({ dir, main }) => {
  const bundled = path.join(dir, 'bundled.yaml');
  const sources = path.join(dir, 'sources.yaml');
  await run(process.execPath, [main, 'translate', '--example', 'bookinfo', '-o', bundled]);
  assert.is((await inProcess(['translate', '--example', 'bookinfo', '-o', sources])).code, 0);
  assert.is(await readFile(bundled, 'utf8'), await readFile(sources, 'utf8'));
});

s('intercept plan: the same rules as the sources', async ({ main }) => {
  const args = ['intercept', 'plan', '--envoy-port', '15001', '--inbound-capture-port', '15006', '--proxy-uid', '1337', '--istio-inbound-ports', '*'];
  const { stdout } = await run(process.execPath, [main, ...args], { env: { PATH: process.env.PATH ?? '' } });
  const expected = await inProcess(args);
  assert.is(expected.code, 0);
  assert.match(stdout, /ISTIO_REDIRECT/);
  assert.is(stdout, expected.out);
});

s('sidecar --once from a file to a file sink', async ({ dir, main }) => {
  const sink = path.join(dir, 'apisix.json');
  const input = path.join(repoRoot, 'examples/bookinfo/istiod-capture.json');
  await run(process.execPath, [
    main,
    'sidecar',
    '--file',
    input,
    '--sink',
    `file:${sink}`,
    '--ready-address',
    'off',
    '--metrics-address',
    'off',
    '--admin-address',
    'off',
    '--once',
    '--log-level',
    'silent',
  ]);
  const written = JSON.parse(await readFile(sink, 'utf8')) as { routes?: unknown[]; upstreams?: unknown[] };
  assert.ok((written.routes?.length ?? 0) > 0 && (written.upstreams?.length ?? 0) > 0, 'routes and upstreams written');
});

s.run();

// The other files the sidecar reads from directories it is given (issue 12, "special files hang"): the
// downward-API files of --pod-info-dir, pilot-agent's certificates in --output-certs, the --cache file.
// A FIFO (which blocked: the pod info is read synchronously, before anything is served) or a device in
// their place is refused as not a regular file, and an oversized one as over its limit. Each load is
// watched for a hang (a bound far above any real load, not a timing assertion).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FileConfigCache } from '../../src/adapters/file-cache/file-config-cache.js';
import { readRegularFile, readRegularFileSync } from '../../src/adapters/fs/bounded-read.js';
import { OutputCertsSource } from '../../src/adapters/istio/output-certs-source.js';
import { SecretRecorder } from '../contract/secret-source.contract.js';
import { until, withTimeout } from '../support/mesh-sidecar.js';
import { repoRoot } from '../support/shared-fixtures.js';

const s = suite("special files in the sidecar's input directories");

function withDir(body: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'amesh-special-'));
  return Promise.resolve()
    .then(() => body(dir))
    .finally(() => rmSync(dir, { recursive: true, force: true }));
}

const mkfifo = (path: string): void => void execFileSync('mkfifo', [path]);

const ENV = { POD_NAME: 'reviews-v1-abc', POD_NAMESPACE: 'bookinfo', INSTANCE_IP: '10.244.0.7' };

s('a FIFO as the pod labels file is refused at once (the process blocked in a synchronous read)', async () => {
  await withDir((dir) => {
    mkfifo(join(dir, 'labels'));
    // In a child: a synchronous read of a FIFO blocks the whole process, a watchdog in it could not fire.
    const script = `import { istioNodeFromEnvironment } from ${JSON.stringify(join(repoRoot, 'src/adapters/istio/node-identity.ts'))};
      const node = istioNodeFromEnvironment(${JSON.stringify(ENV)}, { podInfoDir: ${JSON.stringify(dir)} });
      process.stdout.write(node.ok ? 'ok' : node.error);`;
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
    assert.is(run.signal, null, 'the read returned (the child was not killed by the watchdog)');
    assert.match(run.stdout, /^pod labels file .*labels is unreadable: a FIFO, not a regular file/, run.stderr);
  });
});

s("a FIFO among pilot-agent's certificates is reported, not waited on", async () => {
  await withDir(async (dir) => {
    mkfifo(join(dir, 'cert-chain.pem'));
    const recorder = new SecretRecorder(20_000);
    const subscription = new OutputCertsSource({ directory: dir, debounceMs: 10, settleMs: 50 }).watch(recorder);
    try {
      await until(() => recorder.events.some((e) => e.kind === 'error' && /a FIFO, not a regular file/.test(e.error.message)), 'the FIFO named', 25_000);
    } finally {
      subscription.dispose();
    }
  });
});

s('a FIFO or /dev/zero as the --cache file is an error value, not a hang or a read without end', async () => {
  await withDir(async (dir) => {
    mkfifo(join(dir, 'fifo.json'));
    symlinkSync('/dev/zero', join(dir, 'zero.json'));
    for (const name of ['fifo.json', 'zero.json']) {
      const loaded = await withTimeout(new FileConfigCache({ path: join(dir, name) }).load(), 25_000, () => `loading ${name} hangs`);
      assert.ok(!loaded.ok && /not a regular file/.test(loaded.error), JSON.stringify(loaded));
    }
  });
});

s('the readers: a file that grows past the limit while it is read is over it; what the file says is not trusted', async () => {
  // /proc files claim to be empty (size 0) and are not: read to the end, within the limit.
  const status = readRegularFileSync('/proc/self/status', 1024 * 1024);
  assert.ok(status.ok && status.value.toString().includes('Name:'), 'a /proc file is read whole although it claims size 0');
  const small = await readRegularFile('/proc/self/status', 16);
  assert.ok(!small.ok && small.error.kind === 'over-limit' && small.error.bytes === undefined, JSON.stringify(small));
  const missing = readRegularFileSync('/nonexistent/amesh', 10);
  assert.ok(!missing.ok && missing.error.kind === 'refused' && missing.error.code === 'ENOENT');
});

s.run();

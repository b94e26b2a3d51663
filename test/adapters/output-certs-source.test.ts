// OutputCertsSource: the SecretSource contract on a temp OUTPUT_CERTS directory, then what pilot-agent's
// rotation does to it: files replaced by rename one at a time (key first), a key that briefly does
// not match its chain, files that are not there yet, a directory that appears late, and rewrites
// with equal content. Certificates are real (openssl), so the key/chain check is the real one.
import { X509Certificate, createPrivateKey, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { OutputCertsSource, type OutputCertsSourceOptions } from '../../src/adapters/istio/output-certs-source.js';
import type { Secret } from '../../src/domain/mesh/secret.js';
import { SecretRecorder, secretSourceContract } from '../contract/secret-source.contract.js';
import { makeTestPki, type Workload } from '../support/test-pki.js';

const pki = makeTestPki();
const timing: Omit<OutputCertsSourceOptions, 'directory'> = { debounceMs: 20, settleMs: 150 };
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** As pilot-agent's file.AtomicWrite: a temp file in the same directory, renamed over the target. */
async function replace(dir: string, name: string, text: string): Promise<void> {
  const temp = join(dir, `${name}.tmp${randomBytes(4).toString('hex')}`);
  await writeFile(temp, text, { mode: 0o600 });
  await rename(temp, join(dir, name));
}

/** OutputKeyCertToDir's order: key.pem, cert-chain.pem, root-cert.pem; `pauseMs` between files. */
async function writeAsPilotAgent(dir: string, workload: Workload, root: string, pauseMs = 0): Promise<void> {
  await replace(dir, 'key.pem', workload.key);
  if (pauseMs) await sleep(pauseMs);
  await replace(dir, 'cert-chain.pem', workload.chain);
  if (pauseMs) await sleep(pauseMs);
  await replace(dir, 'root-cert.pem', root);
}

const secretsOf = (workload: Workload, root = pki.root): readonly Secret[] => [
  { kind: 'certificate', name: 'default', certificateChain: workload.chain, privateKey: workload.key },
  { kind: 'validation', name: 'ROOTCA', trustedCa: root },
];

const freshDir = (): Promise<string> => mkdtemp(join(tmpdir(), 'amesh-output-certs-'));

secretSourceContract(
  'OutputCertsSource',
  async () => {
    const dir = await freshDir();
    return {
      source: new OutputCertsSource({ directory: dir, ...timing }),
      publish: (n) => writeAsPilotAgent(dir, pki.workloads[n - 1]!, pki.root),
      // A chain cut short, as a non-atomic copy would leave it.
      publishInvalid: () => writeFile(join(dir, 'cert-chain.pem'), pki.workloads[1].chain.slice(0, 200)),
      expected: (n) => secretsOf(pki.workloads[n - 1]!),
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  },
  { quietMs: 400 },
);

const s = suite('OutputCertsSource: rotation as pilot-agent writes it');

async function withWatch(body: (dir: string, recorder: SecretRecorder) => Promise<void>, directory?: (dir: string) => string): Promise<void> {
  const dir = await freshDir();
  const recorder = new SecretRecorder(3000);
  const subscription = new OutputCertsSource({ directory: directory ? directory(dir) : dir, ...timing }).watch(recorder);
  try {
    await body(dir, recorder);
  } finally {
    subscription.dispose();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Whether a published set is internally consistent: the key belongs to the chain's leaf. */
function consistent(secrets: readonly Secret[]): boolean {
  const certificate = secrets.find((secret) => secret.kind === 'certificate');
  if (!certificate || certificate.kind !== 'certificate' || certificate.privateKey === undefined) return false;
  return new X509Certificate(certificate.certificateChain).checkPrivateKey(createPrivateKey(certificate.privateKey));
}

s('rotations with the key landing before its chain only ever publish matching pairs, and no error', async () => {
  await withWatch(async (dir, recorder) => {
    await writeAsPilotAgent(dir, pki.workloads[0], pki.root);
    let { index } = await recorder.next('secrets', 0);
    // 60 ms between files: longer than the debounce, so reads do see the new key beside the old chain.
    for (const workload of [pki.workloads[1], pki.workloads[2], pki.workloads[0]]) {
      await writeAsPilotAgent(dir, workload, pki.root, 60);
      for (;;) {
        const next = await recorder.next('secrets', index + 1);
        index = next.index;
        if (next.event.secrets[0]?.kind === 'certificate' && next.event.secrets[0].certificateChain === workload.chain) break;
      }
    }
    const published = recorder.events.flatMap((event) => (event.kind === 'secrets' ? [event.secrets] : []));
    assert.ok(published.every(consistent), 'every published set has a matching key');
    assert.equal(
      recorder.events.filter((event) => event.kind === 'error'),
      [],
      'a rotation in progress is waited out, not reported',
    );
  });
});

s('a mismatched pair is not published; it is reported after settling, and fixing it publishes', async () => {
  await withWatch(async (dir, recorder) => {
    await replace(dir, 'key.pem', pki.workloads[1].key);
    await replace(dir, 'cert-chain.pem', pki.workloads[0].chain);
    await replace(dir, 'root-cert.pem', pki.root);
    const failure = await recorder.next('error', 0);
    assert.is(failure.event.error.location, dir);
    assert.match(failure.event.error.message, /key\.pem does not belong to the leaf certificate of cert-chain\.pem/);
    assert.is(recorder.secretsSince(0), 0);
    await replace(dir, 'key.pem', pki.workloads[0].key);
    const fixed = await recorder.next('secrets', failure.index + 1);
    assert.equal(fixed.event.secrets, secretsOf(pki.workloads[0]));
  });
});

s('nothing is published until all three files exist; the missing one is named', async () => {
  await withWatch(async (dir, recorder) => {
    await replace(dir, 'key.pem', pki.workloads[0].key);
    await replace(dir, 'cert-chain.pem', pki.workloads[0].chain);
    const waiting = await recorder.next('error', 0);
    assert.equal(waiting.event.error, { location: join(dir, 'root-cert.pem'), message: 'not written yet' });
    await replace(dir, 'root-cert.pem', pki.root);
    assert.equal((await recorder.next('secrets', waiting.index + 1)).event.secrets, secretsOf(pki.workloads[0]));
  });
});

s('a directory that does not exist yet is reported, then watched once it appears', async () => {
  await withWatch(
    async (dir, recorder) => {
      const missing = await recorder.next('error', 0);
      assert.is(missing.event.error.location, join(dir, 'data'));
      assert.match(missing.event.error.message, /^cannot watch: .*ENOENT/);
      await mkdir(join(dir, 'data'));
      await writeAsPilotAgent(join(dir, 'data'), pki.workloads[2], pki.root);
      assert.equal((await recorder.next('secrets', missing.index + 1)).event.secrets, secretsOf(pki.workloads[2]));
    },
    (dir) => join(dir, 'data'),
  );
});

s('a new root alone publishes a new ROOTCA; rewriting equal content publishes nothing', async () => {
  await withWatch(async (dir, recorder) => {
    await writeAsPilotAgent(dir, pki.workloads[0], pki.root);
    const first = await recorder.next('secrets', 0);
    await writeAsPilotAgent(dir, pki.workloads[0], pki.root);
    await sleep(300);
    assert.is(recorder.secretsSince(first.index + 1), 0, 'same bytes, no new event');
    await replace(dir, 'root-cert.pem', pki.root + pki.otherRoot);
    const rotated = await recorder.next('secrets', first.index + 1);
    assert.equal(rotated.event.secrets, secretsOf(pki.workloads[0], pki.root + pki.otherRoot));
  });
});

s('dispose() leaves no watcher or timer behind', async () => {
  const count = (): Record<string, number> => {
    const counts: Record<string, number> = {};
    for (const resource of process.getActiveResourcesInfo()) if (resource === 'FSEventWrap' || resource === 'Timeout') counts[resource] = (counts[resource] ?? 0) + 1;
    return counts;
  };
  const dir = await freshDir();
  try {
    await writeAsPilotAgent(dir, pki.workloads[0], pki.root);
    const before = count();
    const recorder = new SecretRecorder(3000);
    // A missing file keeps a settle timer pending: dispose must clear that too.
    await rm(join(dir, 'root-cert.pem'));
    const subscription = new OutputCertsSource({ directory: dir, debounceMs: 20, settleMs: 5000 }).watch(recorder);
    await sleep(100);
    assert.ok((count().FSEventWrap ?? 0) > (before.FSEventWrap ?? 0), 'precondition: the watch is open');
    assert.ok((count().Timeout ?? 0) > (before.Timeout ?? 0), 'precondition: a settle timer is pending');
    subscription.dispose();
    await sleep(20); // closing a handle completes on the next loop turn
    assert.equal(count(), before);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

s.run();

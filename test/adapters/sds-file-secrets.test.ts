// IstioFileSecrets: Istio's `file-cert:`/`file-root:` SDS names read from the files they name, as
// pilot-agent's SDS reads them for Envoy; checked like OUTPUT_CERTS (complete PEM, the key belongs to
// the leaf), problems as values naming the file, and a file read again only when it changed.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { IstioFileSecrets } from '../../src/adapters/istio/file-secrets.js';
import { makeTestPki, type TestPki } from '../support/test-pki.js';

interface Ctx {
  dir: string;
  pki: TestPki;
}

const s = suite<Ctx>('Istio file-named SDS secrets', { dir: '', pki: undefined as unknown as TestPki });

s.before((ctx) => {
  ctx.pki = makeTestPki();
});

s.before.each((ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'amesh-file-secrets-'));
});

s.after.each((ctx) => {
  rmSync(ctx.dir, { recursive: true, force: true });
});

const write = (dir: string, name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

s('file-cert: the chain and key of a DestinationRule MUTUAL, each key encoding pilot-agent may find', ({ dir, pki }) => {
  const files = new IstioFileSecrets();
  for (const [i, workload] of pki.workloads.entries()) {
    const chain = write(dir, `chain-${i}.pem`, workload.chain);
    const key = write(dir, `key-${i}.pem`, workload.key);
    const name = `file-cert:${chain}~${key}`;
    assert.equal(files.read(name), { ok: true, value: { kind: 'certificate', name, certificateChain: workload.chain, privateKey: workload.key } });
  }
});

s('file-root: a CA bundle', ({ dir, pki }) => {
  const path = write(dir, 'ca.pem', pki.root + pki.otherRoot);
  const name = `file-root:${path}`;
  assert.equal(new IstioFileSecrets().read(name), { ok: true, value: { kind: 'validation', name, trustedCa: pki.root + pki.otherRoot } });
});

s('file-root:system: the first OS bundle that exists, as GetOSRootFilePath looks for it', ({ dir, pki }) => {
  const bundle = write(dir, 'second.pem', pki.root);
  const files = new IstioFileSecrets({ systemRootBundles: [join(dir, 'first-missing.pem'), bundle, write(dir, 'third.pem', pki.otherRoot)] });
  assert.equal(files.read('file-root:system'), { ok: true, value: { kind: 'validation', name: 'file-root:system', trustedCa: pki.root } });
  const none = new IstioFileSecrets({ systemRootBundles: [join(dir, 'a.pem'), join(dir, 'b.pem')] }).read('file-root:system');
  assert.ok(none && !none.ok && /no OS trust store/.test(none.error.message), JSON.stringify(none));
});

s('problems are values that name the file', ({ dir, pki }) => {
  const files = new IstioFileSecrets();
  const chain = write(dir, 'chain.pem', pki.workloads[0].chain);
  const otherKey = write(dir, 'other-key.pem', pki.workloads[1].key);
  const cut = write(dir, 'cut.pem', pki.root.slice(0, pki.root.length - 30));
  const cases: [string, string, RegExp][] = [
    [`file-cert:${chain}~${otherKey}`, otherKey, /does not belong to the leaf certificate/],
    [`file-cert:${chain}~${join(dir, 'missing-key.pem')}`, join(dir, 'missing-key.pem'), /no such file/],
    [`file-root:${cut}`, cut, /no END line/],
    [`file-root:${dir}`, dir, /not a regular file/],
    [`file-cert:${chain}`, `file-cert:${chain}`, /expected file-cert:<certificate path>~<key path>/],
  ];
  for (const [name, location, message] of cases) {
    const read = files.read(name);
    assert.ok(read && !read.ok, `${name}: ${JSON.stringify(read)}`);
    assert.is(read.error.location, location, name);
    assert.match(read.error.message, message, name);
  }
});

s("names that are not files are not this reader's", () => {
  const files = new IstioFileSecrets();
  for (const name of ['default', 'ROOTCA', 'kubernetes://cred', 'sds://x', 'my-cert']) assert.is(files.read(name), undefined, name);
});

s('an unchanged file gives the same object; a rewritten one is read again', ({ dir, pki }) => {
  const files = new IstioFileSecrets();
  const path = write(dir, 'ca.pem', pki.root);
  const name = `file-root:${path}`;
  const first = files.read(name);
  assert.ok(first?.ok);
  assert.is(files.read(name), first, 'the same result object while the file is unchanged');
  writeFileSync(path, pki.root + pki.otherRoot);
  const second = files.read(name);
  assert.ok(second?.ok && second.value.kind === 'validation');
  assert.is.not(second, first);
  assert.is(second.value.trustedCa, pki.root + pki.otherRoot);
  rmSync(path);
  const gone = files.read(name);
  assert.ok(gone && !gone.ok && /no such file/.test(gone.error.message));
});

s.run();

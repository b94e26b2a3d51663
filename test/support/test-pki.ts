// A throwaway CA and workload certificates made with the openssl CLI, shaped like Istio's: a root
// CA, leaves with a SPIFFE URI SAN, cert-chain.pem = leaf + CA. Keys in the three encodings
// pilot-agent may write: PKCS#1 RSA (default), PKCS#8 (PKCS8_KEY=true), SEC1 EC with parameters.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Workload {
  readonly chain: string;
  readonly key: string;
}

export interface TestPki {
  readonly root: string;
  /** Three leaves of one CA, each with its own key. */
  readonly workloads: readonly [Workload, Workload, Workload];
  /** A root from another CA, to rotate trust. */
  readonly otherRoot: string;
}

const openssl = (cwd: string, ...args: string[]): void => void execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });

function makeRoot(dir: string, name: string): void {
  openssl(
    dir,
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    `${name}-key.pem`,
    '-out',
    `${name}.pem`,
    '-days',
    '2',
    '-subj',
    `/O=amesh-test/CN=${name}`,
  );
}

function makeLeaf(dir: string, name: string, keyArgs: string[]): Workload {
  openssl(dir, ...keyArgs, '-out', `${name}-key.pem`);
  openssl(dir, 'req', '-new', '-key', `${name}-key.pem`, '-out', `${name}.csr`, '-subj', '/O=amesh-test');
  openssl(dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', 'root.pem', '-CAkey', 'root-key.pem', '-CAcreateserial', '-days', '1', '-out', `${name}.pem`, '-extfile', 'san.ext');
  const read = (file: string): string => readFileSync(join(dir, file), 'utf8');
  return { chain: read(`${name}.pem`) + read('root.pem'), key: read(`${name}-key.pem`) };
}

export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'amesh-pki-'));
  try {
    writeFileSync(join(dir, 'san.ext'), 'subjectAltName=URI:spiffe://cluster.local/ns/bookinfo/sa/reviews\n');
    makeRoot(dir, 'root');
    makeRoot(dir, 'other');
    const workloads: [Workload, Workload, Workload] = [
      makeLeaf(dir, 'rsa-pkcs1', ['genrsa', '-traditional']),
      makeLeaf(dir, 'ec-pkcs8', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']),
      makeLeaf(dir, 'ec-sec1', ['ecparam', '-genkey', '-name', 'prime256v1']),
    ];
    return { root: readFileSync(join(dir, 'root.pem'), 'utf8'), workloads, otherRoot: readFileSync(join(dir, 'other.pem'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

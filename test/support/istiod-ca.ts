// istiod's CA for the pod tests, made at test time: a root and an intermediate (Istio's "plugged-in
// CA" files, made with the openssl CLI like test-pki.ts), and the cluster's service-account signing key
// with the projected tokens a kubelet would mount (ES256 JWTs, node:crypto).
import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, type KeyObject, sign, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PluggedCa } from './peers.js';

export interface IstiodCa extends PluggedCa {
  /** PEM public key of the service-account signer: istiod-kubeless --tokenReviewKeyFile. */
  readonly serviceAccountPublicKey: string;
  /** A projected service-account token for this pod identity, as the kubelet writes it. */
  serviceAccountToken(claims: { namespace: string; serviceAccount: string; audience: string; lifetimeSeconds?: number }): string;
}

const openssl = (cwd: string, ...args: string[]): void => void execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });

export function makeIstiodCa(): IstiodCa {
  const dir = mkdtempSync(join(tmpdir(), 'amesh-istiod-ca-'));
  try {
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
    openssl(
      dir,
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'root-key.pem',
      '-out',
      'root-cert.pem',
      '-days',
      '2',
      '-subj',
      '/O=amesh-test/CN=amesh-test root CA',
      '-addext',
      'basicConstraints=critical,CA:true',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    );
    openssl(dir, 'req', '-new', ...ec, '-keyout', 'ca-key.pem', '-out', 'ca.csr', '-subj', '/O=amesh-test/CN=amesh-test istiod intermediate CA');
    // Istio's plugged-in intermediates are CA certificates that may sign leaves only (pathlen 0).
    writeFileSync(join(dir, 'ca.ext'), 'basicConstraints=critical,CA:true,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\n');
    openssl(dir, 'x509', '-req', '-in', 'ca.csr', '-CA', 'root-cert.pem', '-CAkey', 'root-key.pem', '-CAcreateserial', '-days', '2', '-out', 'ca-cert.pem', '-extfile', 'ca.ext');
    const read = (file: string): string => readFileSync(join(dir, file), 'utf8');
    const rootCert = read('root-cert.pem');
    const caCert = read('ca-cert.pem');
    const serviceAccountKey: KeyObject = createPrivateKey(execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']));
    return {
      rootCert,
      caCert,
      caKey: read('ca-key.pem'),
      certChain: caCert + rootCert,
      serviceAccountPublicKey: createPublicKey(serviceAccountKey).export({ type: 'spki', format: 'pem' }).toString(),
      serviceAccountToken: ({ namespace, serviceAccount, audience, lifetimeSeconds = 3600 }) => {
        const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
        const now = Math.floor(Date.now() / 1000);
        const header = part({ alg: 'ES256', typ: 'JWT', kid: 'amesh-test' });
        const payload = part({
          iss: 'https://kubernetes.default.svc.cluster.local',
          sub: `system:serviceaccount:${namespace}:${serviceAccount}`,
          aud: [audience],
          iat: now,
          nbf: now,
          exp: now + lifetimeSeconds,
          'kubernetes.io': { namespace, serviceaccount: { name: serviceAccount } },
        });
        // JWS ES256: the raw r||s signature, not DER.
        const signature = sign('sha256', Buffer.from(`${header}.${payload}`), { key: serviceAccountKey, dsaEncoding: 'ieee-p1363' });
        return `${header}.${payload}.${signature.toString('base64url')}`;
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The certificates of a PEM bundle, in order. */
export function pemCertificates(pem: string): X509Certificate[] {
  return (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((block) => new X509Certificate(block));
}

/** Why `leaf` was not issued by `ca`'s intermediate under its root, or undefined when it was (signatures and issuer names). */
export function issuedBy(leaf: X509Certificate, ca: PluggedCa): string | undefined {
  const intermediate = new X509Certificate(ca.caCert);
  const root = new X509Certificate(ca.rootCert);
  if (!leaf.checkIssued(intermediate)) return `issuer "${leaf.issuer}" is not the intermediate "${intermediate.subject}"`;
  if (!leaf.verify(intermediate.publicKey)) return "the leaf's signature does not verify with the intermediate's key";
  if (!intermediate.verify(root.publicKey)) return "the intermediate's signature does not verify with the root's key";
  return undefined;
}

// SecretFiles for Istio's file names, read as pilot-agent's SDS reads them for Envoy
// (security/pkg/nodeagent/cache/secretcache.go generateFileSecret): `file-cert:<chain>~<key>` (a
// DestinationRule MUTUAL's clientCertificate/privateKey, or server certificates named by proxy
// metadata), `file-root:<bundle>` (caCertificates) and `file-root:system` (the OS trust store, the
// first bundle of security.GetOSRootFilePath that exists). The control plane chooses which files are
// read, exactly as istiod does for pilot-agent; a key read here goes where `default`'s goes.
//
// Files are checked like the OUTPUT_CERTS ones and SDS secrets (secret-check.ts: complete PEM, a key
// that belongs to its leaf certificate, a chain in order) and read again only when a stat says they
// changed, so a reader asked on every update costs a stat per file. The result for an unchanged file is the same object, which lets callers
// tell "nothing changed" by identity.
import { readFileSync, statSync } from 'node:fs';
import type { Secret } from '../../domain/mesh/secret.js';
import { err, ok, type Result } from '../../domain/result.js';
import type { SourceError } from '../../ports/config-source.js';
import type { SecretField, SecretFiles } from '../../ports/secret-source.js';
import { checkSecret } from './secret-check.js';
import { parseIstioSecretName } from './sds-names.js';

/** pkg/security/security.go GetOSRootFilePath, in its order (Go's crypto/x509 root_linux.go list). */
export const OS_ROOT_BUNDLES: readonly string[] = [
  '/etc/ssl/certs/ca-certificates.crt',
  '/etc/pki/tls/certs/ca-bundle.crt',
  '/etc/ssl/ca-bundle.pem',
  '/etc/pki/tls/cacert.pem',
  '/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem',
  '/etc/ssl/cert.pem',
  '/usr/local/etc/ssl/cert.pem',
  '/etc/ssl/certs/ca-certificates',
];

export interface IstioFileSecretsOptions {
  /** Where to look for the OS trust store, first found wins. Default OS_ROOT_BUNDLES. */
  readonly systemRootBundles?: readonly string[];
}

type Read = Result<Secret, SourceError>;

/** What identifies a file's content without reading it, or why it cannot be stat'ed. */
function stampOf(path: string): Result<string, SourceError> {
  try {
    const stat = statSync(path);
    if (!stat.isFile()) return err({ location: path, message: 'not a regular file' });
    return ok(`${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeMs}`);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return err({ location: path, message: code === 'ENOENT' ? 'no such file' : `cannot stat: ${(error as Error).message}` });
  }
}

function readText(path: string): Result<string, SourceError> {
  try {
    return ok(readFileSync(path, 'utf8'));
  } catch (error) {
    return err({ location: path, message: `unreadable: ${(error as Error).message}` });
  }
}

function readRoots(name: string, path: string): Read {
  const text = readText(path);
  if (!text.ok) return text;
  const secret: Secret = { kind: 'validation', name, trustedCa: text.value };
  const problem = checkSecret(secret);
  return problem ? err({ location: path, message: problem.message }) : ok(secret);
}

function readCertificate(name: string, chainPath: string, keyPath: string): Read {
  const chainText = readText(chainPath);
  if (!chainText.ok) return chainText;
  const keyText = readText(keyPath);
  if (!keyText.ok) return keyText;
  const secret: Secret = { kind: 'certificate', name, certificateChain: chainText.value, privateKey: keyText.value };
  const pathOf = (field: SecretField): string => (field === 'tls_certificate.private_key' ? keyPath : chainPath);
  const problem = checkSecret(secret, pathOf);
  return problem ? err({ location: pathOf(problem.field), message: problem.message }) : ok(secret);
}

export class IstioFileSecrets implements SecretFiles {
  private readonly systemRootBundles: readonly string[];
  /** Per name: the stamps of its files when last read, and what that read gave. */
  private readonly reads = new Map<string, { readonly stamp: string; readonly result: Read }>();

  constructor(options: IstioFileSecretsOptions = {}) {
    this.systemRootBundles = options.systemRootBundles ?? OS_ROOT_BUNDLES;
  }

  read(name: string): Read | undefined {
    const parsed = parseIstioSecretName(name);
    switch (parsed.kind) {
      case 'file-certificate':
        return this.cached(name, [parsed.certificatePath, parsed.privateKeyPath], () => readCertificate(name, parsed.certificatePath, parsed.privateKeyPath));
      case 'file-roots':
        return this.cached(name, [parsed.path], () => readRoots(name, parsed.path));
      case 'system-roots': {
        const path = this.systemRootBundles.find((candidate) => stampOf(candidate).ok);
        if (!path) return err({ location: name, message: `no OS trust store at ${this.systemRootBundles.join(', ')}` });
        return this.cached(name, [path], () => readRoots(name, path));
      }
      case 'malformed-file':
        return err({ location: name, message: parsed.reason });
      default:
        return undefined;
    }
  }

  /** The last read of `name` while none of `paths` changed; else a fresh one. */
  private cached(name: string, paths: readonly string[], read: () => Read): Read {
    const stamps: string[] = [];
    for (const path of paths) {
      const stamp = stampOf(path);
      if (!stamp.ok) {
        this.reads.delete(name);
        return stamp;
      }
      stamps.push(`${path}\0${stamp.value}`);
    }
    const stamp = stamps.join('\0');
    const last = this.reads.get(name);
    if (last?.stamp === stamp) return last.result;
    const result = read();
    this.reads.set(name, { stamp, result });
    return result;
  }
}

// SecretSource over pilot-agent's OUTPUT_CERTS directory: with DISABLE_ENVOY=true pilot-agent runs no
// SDS server and instead writes the workload certificate there (cert-chain.pem, key.pem,
// root-cert.pem; security/pkg/nodeagent/util/util.go OutputKeyCertToDir), rewriting them on every
// rotation. They become Istio's SDS names: `default` (chain and key) and `ROOTCA` (trust bundle).
//
// pilot-agent replaces each file by rename, key first, then chain, then root, so a reader can catch
// a new key beside the old chain. Hence: watch the directory (a file watch would stay on the
// replaced inode), settle for a debounce, and publish only a complete set that passes secret-check.ts
// (the key belongs to its leaf certificate, the chain is in order). Anything else gets one more look
// after `settleMs`, then is reported through onError while the last good set stays in force. The watch holds the event loop until disposed.
import { watch as watchFs, type FSWatcher } from 'node:fs';
import { describeRefusal, readRegularFile, SMALL_FILE_MAX_BYTES } from '../fs/bounded-read.js';
import { basename, join } from 'node:path';
import type { Secret } from '../../domain/mesh/secret.js';
import { err, ok, type Result } from '../../domain/result.js';
import type { Disposable, SourceError } from '../../ports/config-source.js';
import type { SecretField, SecretSource, SecretWatcher } from '../../ports/secret-source.js';
import { checkSecret } from './secret-check.js';
import { ROOT_CA_SECRET, WORKLOAD_CERTIFICATE_SECRET } from './sds-names.js';

export const OUTPUT_CERT_FILES = { certificateChain: 'cert-chain.pem', privateKey: 'key.pem', rootCert: 'root-cert.pem' } as const;
export { ROOT_CA_SECRET, WORKLOAD_CERTIFICATE_SECRET } from './sds-names.js';

export interface OutputCertsSourceOptions {
  /** pilot-agent's OUTPUT_CERTS directory (Istio's proxyless template uses /var/lib/istio/data). */
  readonly directory: string;
  /** Quiet time after a change before reading; pilot-agent's own FILE_DEBOUNCE_DURATION is 100 ms. */
  readonly debounceMs?: number;
  /** How long an incomplete or inconsistent set may stay so before it is reported; also the retry interval for a missing directory. */
  readonly settleMs?: number;
}

async function readText(path: string): Promise<Result<string, SourceError>> {
  // A regular file of a certificate's size: a FIFO or a device dropped in the directory is refused, not waited on.
  const read = await readRegularFile(path, SMALL_FILE_MAX_BYTES);
  if (read.ok) return ok(read.value.toString('utf8'));
  const missing = read.error.kind === 'refused' && read.error.code === 'ENOENT';
  return err({ location: path, message: missing ? 'not written yet' : `unreadable: ${describeRefusal(read.error, SMALL_FILE_MAX_BYTES)}` });
}

/** The two secrets from the directory as it is now, or why they cannot be published. */
export async function readOutputCerts(directory: string): Promise<Result<Secret[], SourceError>> {
  const paths = {
    chain: join(directory, OUTPUT_CERT_FILES.certificateChain),
    key: join(directory, OUTPUT_CERT_FILES.privateKey),
    root: join(directory, OUTPUT_CERT_FILES.rootCert),
  };
  const [chainText, keyText, rootText] = await Promise.all([readText(paths.chain), readText(paths.key), readText(paths.root)]);
  if (!chainText.ok) return chainText;
  if (!keyText.ok) return keyText;
  if (!rootText.ok) return rootText;
  const secrets: Secret[] = [
    { kind: 'certificate', name: WORKLOAD_CERTIFICATE_SECRET, certificateChain: chainText.value, privateKey: keyText.value },
    { kind: 'validation', name: ROOT_CA_SECRET, trustedCa: rootText.value },
  ];
  const pathOf: Record<SecretField, string> = {
    'tls_certificate.certificate_chain': paths.chain,
    'tls_certificate.private_key': paths.key,
    'validation_context.trusted_ca': paths.root,
  };
  const fileOf = (field: SecretField): string => basename(pathOf[field]);
  for (const secret of secrets) {
    const problem = checkSecret(secret, fileOf);
    if (!problem) continue;
    // A key beside another chain is what a reader sees halfway through pilot-agent's rotation.
    if (problem.related) return err({ location: directory, message: `${fileOf(problem.field)} ${problem.message} (rotation half-written?)` });
    return err({ location: pathOf[problem.field], message: problem.message });
  }
  return ok(secrets);
}

const fingerprint = (secrets: readonly Secret[]): string =>
  secrets.map((s) => (s.kind === 'certificate' ? `${s.name}\0${s.certificateChain}\0${s.privateKey ?? ''}` : `${s.name}\0${s.trustedCa}`)).join('\0');

export class OutputCertsSource implements SecretSource {
  constructor(private readonly options: OutputCertsSourceOptions) {}

  watch(watcher: SecretWatcher): Disposable {
    const watch = new DirectoryWatch(this.options, watcher);
    watch.start();
    return { dispose: () => watch.dispose() };
  }
}

/** The state of one watch() call. */
class DirectoryWatch {
  private readonly debounceMs: number;
  private readonly settleMs: number;
  private fsWatcher: FSWatcher | undefined;
  private debounceTimer: NodeJS.Timeout | undefined;
  private settleTimer: NodeJS.Timeout | undefined;
  private reopenTimer: NodeJS.Timeout | undefined;
  private disposed = false;
  private reading = false;
  private readAgain = false;
  /** Whether the current problem already had its second look. */
  private settled = false;
  private published: string | undefined;
  private reported: string | undefined;

  constructor(
    private readonly options: OutputCertsSourceOptions,
    private readonly watcher: SecretWatcher,
  ) {
    this.debounceMs = options.debounceMs ?? 100;
    this.settleMs = options.settleMs ?? 1000;
  }

  start(): void {
    if (this.open()) this.changed(0);
  }

  dispose(): void {
    this.disposed = true;
    clearTimeout(this.debounceTimer);
    clearTimeout(this.settleTimer);
    clearTimeout(this.reopenTimer);
    this.fsWatcher?.close();
    this.fsWatcher = undefined;
  }

  /** Watches the directory; while it cannot (not created yet), reports once and retries. */
  private open(): boolean {
    try {
      this.fsWatcher = watchFs(this.options.directory, () => this.changed(this.debounceMs));
    } catch (error) {
      this.report({ location: this.options.directory, message: `cannot watch: ${(error as Error).message}` });
      this.reopenTimer = setTimeout(() => {
        if (!this.disposed && this.open()) this.changed(0);
      }, this.settleMs);
      return false;
    }
    this.fsWatcher.on('error', (error) => {
      this.fsWatcher?.close();
      this.fsWatcher = undefined;
      if (this.disposed) return;
      this.report({ location: this.options.directory, message: `watch failed: ${error.message}` });
      this.reopenTimer = setTimeout(() => {
        if (!this.disposed && this.open()) this.changed(0);
      }, this.settleMs);
    });
    return true;
  }

  /** Every change restarts the debounce and earns a problem a fresh second look. */
  private changed(delayMs: number): void {
    if (this.disposed) return;
    this.settled = false;
    clearTimeout(this.settleTimer);
    clearTimeout(this.debounceTimer);
    this.debounceTimer = setTimeout(() => void this.read(), delayMs);
  }

  private async read(): Promise<void> {
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = true;
    const result = await readOutputCerts(this.options.directory);
    this.reading = false;
    if (this.disposed) return;
    if (this.readAgain) {
      this.readAgain = false;
      return this.read();
    }
    if (result.ok) {
      this.reported = undefined;
      const print = fingerprint(result.value);
      if (print === this.published) return; // rewritten with equal content, or only a temp file came and went
      this.published = print;
      this.watcher.onSecrets(result.value);
    } else if (!this.settled) {
      this.settled = true;
      this.settleTimer = setTimeout(() => void this.read(), this.settleMs);
    } else {
      this.report(result.error);
    }
  }

  /** The same problem is reported once, not on every retry. */
  private report(error: SourceError): void {
    const text = `${error.location}\0${error.message}`;
    if (text === this.reported) return;
    this.reported = text;
    this.watcher.onError(error);
  }
}

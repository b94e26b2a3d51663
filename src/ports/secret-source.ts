// Ports: where the workload's own TLS material comes from (pilot-agent's OUTPUT_CERTS files, memory),
// as opposed to secrets the control plane names in xDS. A source publishes the complete set each
// time; on bad or half-written input it reports an error and the last good set stays in force.
// And SecretFiles: secrets the control plane names by their files in the pod.
import type { Secret } from '../domain/mesh/secret.js';
import type { Result } from '../domain/result.js';
import type { Disposable, SourceError } from './config-source.js';

export const SecretSource = Symbol.for('amesh.SecretSource');
export const SecretFiles = Symbol.for('amesh.SecretFiles');

export interface SecretWatcher {
  /** Every secret the source holds, replacing the previous set. */
  onSecrets(secrets: readonly Secret[]): void;
  onError(error: SourceError): void;
}

export interface SecretSource {
  /** Starts delivering secrets; the first set may arrive synchronously or later. */
  watch(watcher: SecretWatcher): Disposable;
}

/**
 * Secrets the configuration names by where they are on disk (Istio's `file-cert:<chain>~<key>`,
 * `file-root:<bundle>`, `file-root:system`), read on demand as pilot-agent's SDS reads them for
 * Envoy. Synchronous, so that the configuration they belong to never goes out without them (a
 * `--once` run applies only one).
 */
export interface SecretFiles {
  /** undefined when `name` is not a name this reader knows; else the secret as the files are now, or why not. */
  read(name: string): Result<Secret, SourceError> | undefined;
}

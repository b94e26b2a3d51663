// Port: where the workload's own TLS material comes from (pilot-agent's OUTPUT_CERTS files, memory),
// as opposed to secrets the control plane names in xDS. A source publishes the complete set each
// time; on bad or half-written input it reports an error and the last good set stays in force.
import type { Secret } from '../domain/mesh/secret.js';
import type { Disposable, SourceError } from './config-source.js';

export const SecretSource = Symbol.for('amesh.SecretSource');

export interface SecretWatcher {
  /** Every secret the source holds, replacing the previous set. */
  onSecrets(secrets: readonly Secret[]): void;
  onError(error: SourceError): void;
}

export interface SecretSource {
  /** Starts delivering secrets; the first set may arrive synchronously or later. */
  watch(watcher: SecretWatcher): Disposable;
}

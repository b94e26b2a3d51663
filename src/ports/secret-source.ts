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

/** The part of a Secret a check found wrong, by Envoy's field names. */
export type SecretField = 'tls_certificate.certificate_chain' | 'tls_certificate.private_key' | 'validation_context.trusted_ca';

export interface SecretProblem {
  readonly field: SecretField;
  /** What is wrong, without the secret's content. */
  readonly message: string;
  /** The other field, when the problem is between two (a key that does not belong to the chain's leaf). */
  readonly related?: SecretField;
}

/**
 * Checks TLS material before it is published: whatever a source delivers goes through the same check
 * (parse, the key belongs to the leaf, the chain is in order). `nameOf` names the other field in a
 * message about two of them (a file path instead of the field name). undefined: nothing wrong.
 */
export type SecretCheck = (secret: Secret, nameOf?: (field: SecretField) => string) => SecretProblem | undefined;

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

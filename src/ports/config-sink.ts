// Port: where the gateway configuration goes (files, APISIX Admin API, shared dicts, etcd, memory).
// Partial failure is data, not an exception.
import type { ChangeSet } from '../domain/diff.js';
import type { GatewayConfig } from '../domain/gateway-config.js';

export const ConfigSink = Symbol.for('amesh.ConfigSink');

export interface SinkUpdate {
  /** The whole configuration that should be in force after this apply. */
  readonly desired: GatewayConfig;
  /** The ordered changes from the previously applied configuration (for incremental sinks). */
  readonly changes: ChangeSet;
}

export interface ApplyFailure {
  /** `kind/id` of the object, or `*` when the whole apply failed. */
  readonly key: string;
  readonly reason: string;
  /**
   * The target refused the object itself (a validation error such as APISIX's 400 `error_msg`): the
   * configuration is at fault and resending it won't help, so the source that delivered it may be told
   * (an xDS NACK). Never set for faults of the target or the way there: transient ones (5xx, timeouts,
   * refused connections), authorisation (401/403), capacity (a full shared dict), foreign objects.
   */
  readonly rejected?: true;
}

export interface ApplyResult {
  readonly applied: number;
  readonly failed: readonly ApplyFailure[];
}

export interface ConfigSink {
  /** Human-readable target, for logs (never contains credentials). */
  readonly target: string;
  apply(update: SinkUpdate): Promise<ApplyResult>;
}

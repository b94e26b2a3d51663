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

/**
 * An object of the desired configuration that the target, as it is set up, does not serve: APISIX's
 * stream routes while its `apisix.proxy_mode` is `http` (its default). Not a failure: the rest of the
 * configuration is in force, the configuration is not at fault (no NACK), and applying again does not
 * help until the target is reconfigured, which the sink notices on a later apply or resync.
 */
export interface ApplyUnserved {
  /** `kind/id` of the object. */
  readonly key: string;
  readonly reason: string;
  /**
   * The object was written anyway (served once the target is reconfigured), or held back because the
   * target refuses it (the Admin API answers 400 for every stream_routes request then).
   */
  readonly written: boolean;
}

export interface ApplyResult {
  readonly applied: number;
  readonly failed: readonly ApplyFailure[];
  /** Absent (or empty) when the target serves every object. */
  readonly unserved?: readonly ApplyUnserved[];
}

export interface ConfigSink {
  /** Human-readable target, for logs (never contains credentials). */
  readonly target: string;
  apply(update: SinkUpdate): Promise<ApplyResult>;
}

// Port: what `amesh controller` measures (the sidecar's are in metrics.ts). Adapters turn these into
// Prometheus series (or record them); docs/operations.md lists the series and what they mean.
import type { SchemaVerdict } from '../domain/plugins/plugin-schema-check.js';
import type { Outcome } from './metrics.js';

export const ControllerMetrics = Symbol.for('amesh.ControllerMetrics');

/** A pass over every namespace (sync, resync, retry, new term) or over the namespaces that changed. */
export type ReconcileScope = 'all' | 'namespaces';

/** Why a subscription ended before delivering: the replica does not deliver, or the sidecar spoke wrongly. */
export type SubscriptionOutcome = 'accepted' | 'paused' | 'invalid';

export type ControllerErrorKind = 'reconcile' | 'status' | 'event' | 'watch' | 'lease';

export interface ControllerMetrics {
  reconcile(scope: ReconcileScope, seconds: number, outcome: Outcome): void;
  /** Pods whose merged set changed and was published with a new version. */
  setsPublished(count: number): void;
  /** Sets written to sidecar streams: on subscribe, and on each publish to a subscribed pod. */
  setsSent(count: number): void;
  /** Pods with at least one subscribed sidecar, and the open streams. */
  subscribers(pods: number, streams: number): void;
  subscription(outcome: SubscriptionOutcome): void;
  /** A sidecar's problem report arrived, listing `problems` plugins it could not apply. */
  sidecarReport(problems: number): void;
  statusWrite(outcome: Outcome): void;
  eventRecorded(outcome: Outcome): void;
  /** What the caches hold: AmeshPluginConfigs by validity, and pods. */
  objects(valid: number, invalid: number, pods: number): void;
  /** One plugin checked against APISIX's schema. */
  schemaCheck(verdict: SchemaVerdict['kind']): void;
  watchConnected(connected: boolean): void;
  /** This replica leads (or not); each change counts as a transition. */
  leader(leading: boolean): void;
  /** Every failure, whatever else counts it: one series to alert on. */
  error(kind: ControllerErrorKind): void;
}

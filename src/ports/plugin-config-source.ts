// Port (sidecar side): the APISIX plugins the controller has for this pod, from every
// AmeshPluginConfig that selects it, already merged in precedence order. The sidecar renders them
// into its routes and reports back the plugins it could not apply.
import type { MergedPlugin } from '../domain/plugins/merge.js';
import type { PluginPhase } from '../domain/plugins/plugin-config.js';

export const PluginConfigSource = Symbol.for('amesh.PluginConfigSource');

export interface PodPluginSet {
  /** Grows with every change the controller makes to this pod's set. */
  readonly version: number;
  readonly plugins: readonly MergedPlugin[];
}

export interface PluginProblem {
  readonly name: string;
  readonly phase: PluginPhase;
  /** `namespace/name` of the AmeshPluginConfig. */
  readonly source: string;
  readonly reason: string;
}

export interface PluginReport {
  /** The set version the report is about. */
  readonly version: number;
  readonly problems: readonly PluginProblem[];
}

export interface PluginConfigSource {
  /** Human-readable target, for logs. */
  readonly target: string;
  /**
   * Starts delivering: `onSet` gets the current set as soon as it is known, then every newer one.
   * A version never goes backwards; a set that is not newer than the last one is not delivered.
   */
  subscribe(onSet: (set: PodPluginSet) => void): void;
  /** Tells the controller what the sidecar could not apply (an empty list clears earlier problems). */
  report(report: PluginReport): void;
  close(): Promise<void>;
}

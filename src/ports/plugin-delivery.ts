// Port (controller side): hands each pod its merged plugin set and hears back what the pod's
// sidecar could not apply. The controller decides which pods changed; the delivery only carries.
import type { PodPluginSet, PluginReport } from './plugin-config-source.js';

export const PluginDelivery = Symbol.for('amesh.PluginDelivery');

export interface PodReport extends PluginReport {
  /** `namespace/name` of the reporting pod. */
  readonly pod: string;
}

export interface PluginDelivery {
  readonly target: string;
  /** The set for `pod` (`namespace/name`) from now on; connected sidecars of that pod get it at once. */
  publish(pod: string, set: PodPluginSet): void;
  /**
   * The pod is gone: its set is dropped. A sidecar subscribing for a pod without a published set
   * gets an empty set with a fresh version (newer than anything an earlier controller sent).
   */
  forget(pod: string): void;
  /**
   * Stops delivering (this replica is not, or no longer, the leader; or not ready yet): open
   * subscriptions end and new ones are refused, with `reason`, so sidecars go looking for the
   * leader; every published set is dropped. Sets published while paused are kept for resume().
   */
  pause(reason: string): void;
  /** Accepts subscriptions again; each gets the set published for its pod (or an empty one). */
  resume(): void;
  /** Sidecars' problem reports. */
  onReport(listener: (report: PodReport) => void): void;
  /** Pods with at least one subscribed sidecar. */
  subscribers(): readonly string[];
  close(): Promise<void>;
}

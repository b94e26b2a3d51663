// Port (controller side): the cluster the controller watches (AmeshPluginConfigs and pods) and
// writes to (their status, Events). Adapters keep their own caches and reconnect by themselves;
// after a reconnect they replay what changed, including deletions they missed.
import type { Labels } from '../domain/plugins/label-selector.js';
import type { FieldProblem, PluginConfigSpec } from '../domain/plugins/plugin-config.js';
import type { Result } from '../domain/result.js';

export const PluginConfigCluster = Symbol.for('amesh.PluginConfigCluster');

export interface ConfigRef {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

export interface ConfigCondition {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
  readonly observedGeneration: number;
  readonly lastTransitionTime: string;
}

export interface ConfigStatus {
  readonly observedGeneration: number;
  readonly matchedPods: number;
  readonly conditions: readonly ConfigCondition[];
}

export interface ObservedConfig {
  readonly ref: ConfigRef;
  readonly generation: number;
  /** The spec as the controller understands it, or what is wrong with it (field by field). */
  readonly spec: Result<PluginConfigSpec, FieldProblem[]>;
  readonly status: ConfigStatus | undefined;
}

export interface ObservedPod {
  readonly namespace: string;
  readonly name: string;
  readonly labels: Labels;
}

export interface ClusterEvents {
  configChanged(config: ObservedConfig): void;
  configDeleted(ref: ConfigRef): void;
  podChanged(pod: ObservedPod): void;
  podDeleted(pod: { readonly namespace: string; readonly name: string }): void;
  /** The watches (re)connected and the caches are complete again. */
  synced(): void;
  /** A watch broke; the adapter retries by itself. */
  disconnected(reason: string): void;
}

export interface ClusterEvent {
  readonly type: 'Normal' | 'Warning';
  readonly reason: string;
  readonly message: string;
}

export interface PluginConfigCluster {
  readonly target: string;
  start(events: ClusterEvents): Promise<void>;
  stop(): Promise<void>;
  writeStatus(ref: ConfigRef, status: ConfigStatus): Promise<Result<void, string>>;
  recordEvent(ref: ConfigRef, event: ClusterEvent): Promise<Result<void, string>>;
}

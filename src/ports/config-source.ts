// Port: where mesh configuration comes from (xDS, files, memory). A source publishes complete,
// consistent snapshots; on bad input it reports an error and the last good snapshot stays in force.
import type { FidelityGroup, FidelityRecord } from '../domain/fidelity.js';
import type { MeshSnapshot } from '../domain/snapshot.js';

export const ConfigSource = Symbol.for('amesh.ConfigSource');

export interface SourceUpdate {
  readonly snapshot: MeshSnapshot;
  /** What decoding the resources already could not carry over. */
  readonly fidelity: readonly FidelityRecord[];
  /**
   * The same records as groups that keep their counts and arrays while their resources do: lets the
   * consumer's report reuse them instead of walking every record of the mesh on each update.
   */
  readonly fidelityGroups?: readonly FidelityGroup[];
  /**
   * The source already holds newer updates that it delivers right after this one (a flood of xDS pushes):
   * the consumer may give its verdict on this one without applying it, and apply only the newest.
   */
  readonly newerPending?: boolean;
}

export interface SourceError {
  /** Where the bad input is: file, resource and field when known. */
  readonly location: string;
  readonly message: string;
}

/**
 * The consumer's judgement of an update. A rejected update is NACKed by sources that can (xDS)
 * and logged by the others; either way the last accepted configuration stays in force.
 */
export type UpdateVerdict = { readonly accepted: true } | { readonly accepted: false; readonly reason: string };

export const ACCEPTED: UpdateVerdict = Object.freeze({ accepted: true });

/**
 * For sources that cannot tell anyone upstream (files, memory): hands a rejection, now or once a
 * promised verdict settles, to `report`; a promise that rejects counts as a rejection, never unhandled.
 */
export function onRejection(answer: UpdateVerdict | Promise<UpdateVerdict> | void, report: (reason: string) => void): void {
  if (!answer) return;
  if (!(answer instanceof Promise)) {
    if (!answer.accepted) report(answer.reason);
    return;
  }
  answer.then(
    (verdict) => {
      if (!verdict.accepted) report(verdict.reason);
    },
    (error: unknown) => report(`the consumer failed: ${error instanceof Error ? error.message : String(error)}`),
  );
}

export interface ConfigWatcher {
  /**
   * A promise says the verdict needs work first (applying to the gateway): a source that can hold its
   * acknowledgement (xDS) waits for it, and handles later updates only after it settles, in order.
   * The promise must not reject; a source treats a rejection as a rejected update.
   */
  onUpdate(update: SourceUpdate): UpdateVerdict | Promise<UpdateVerdict> | void;
  onError(error: SourceError): void;
}

export interface Disposable {
  dispose(): void;
}

export interface ConfigSource {
  /** Starts delivering updates; the first may arrive synchronously or later. */
  watch(watcher: ConfigWatcher): Disposable;
  /** Whether the connection to the control plane is up; absent for sources without one (files, memory). */
  readonly connected?: boolean;
  /** Ends the source's work for good (streams, timers), when it has such work beyond its watchers. */
  stop?(): void;
}

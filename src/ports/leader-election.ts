// Port (controller side): who among the controller's replicas leads. Only the leader writes status
// and delivers plugin sets; the others keep their caches warm and take over when the leader stops
// or stops renewing. Adapters campaign and renew by themselves once started.
export const LeaderElection = Symbol.for('amesh.LeaderElection');

export interface LeadershipTerm {
  readonly identity: string;
  /** Who held it before ('' when it was released), undefined when nobody ever did. */
  readonly previousHolder: string | undefined;
  /**
   * Wall-clock ms (on the previous holder's clock) until which the previous holder may have acted as
   * leader: what it handed out (plugin set versions) stays below it. Undefined when unknown or none.
   */
  readonly previousUntilMs: number | undefined;
}

export interface LeadershipEvents {
  elected(term: LeadershipTerm): void;
  /** Leadership is lost (not renewed within the renew deadline, or taken): stop leading at once. */
  deposed(reason: string): void;
  /** The holder as last observed ('' or undefined: nobody), when it changes. */
  leaderObserved?(holder: string | undefined): void;
  /** A read or write of the lease failed; the adapter retries by itself. */
  failed?(reason: string): void;
}

export interface LeaderElection {
  readonly identity: string;
  /** Where the lease lives, for logs (`lease amesh-system/amesh-controller`). */
  readonly target: string;
  /** Starts campaigning; resolves once started, not once elected. */
  start(events: LeadershipEvents): Promise<void>;
  /**
   * Stops campaigning. A leader frees the lease (`release`, the default) so another replica takes
   * over at once; `release: false` leaves it to expire, as a crash would.
   */
  stop(options?: { readonly release?: boolean }): Promise<void>;
}

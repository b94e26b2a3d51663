// In-memory leader election: candidates sharing one MemoryLease (unit tests, embedding), or a
// single candidate with a lease of its own, which is elected at once (`amesh controller
// --leader-elect=false`: one replica, nothing to coordinate with). Time does not pass by itself
// here: a lease whose holder stopped without releasing it stays held until expire().
import type { LeaderElection, LeadershipEvents, LeadershipTerm } from '../../ports/leader-election.js';

export class MemoryLease {
  private holder: MemoryLeaderElection | undefined;
  /** The identity of a holder that stopped without releasing (a crash): it keeps the lease until expire(). */
  private abandonedBy: string | undefined;
  private readonly waiting: MemoryLeaderElection[] = [];

  /** `wallMs`: the clock written as the previous holder's last renewal (tests pass a counter). */
  constructor(private readonly wallMs: () => number = Date.now) {}

  /** The identity holding the lease, '' when free. */
  get holderIdentity(): string {
    return this.holder?.identity ?? this.abandonedBy ?? '';
  }

  /** The lease runs out: its holder (alive or crashed) loses it, the next candidate gets it. */
  expire(): void {
    const previous = this.holderIdentity;
    if (previous === '') return;
    const holder = this.holder;
    this.holder = undefined;
    this.abandonedBy = undefined;
    // Deposed but still running: a candidate again, behind the others, as a real one would be.
    if (holder?.lose('the lease expired')) this.waiting.push(holder);
    this.handOver(previous);
  }

  /** @internal */
  join(candidate: MemoryLeaderElection): void {
    this.waiting.push(candidate);
    if (this.holderIdentity === '') this.handOver(undefined);
    else candidate.observed(this.holderIdentity);
  }

  /** @internal */
  leave(candidate: MemoryLeaderElection, release: boolean): void {
    const at = this.waiting.indexOf(candidate);
    if (at >= 0) this.waiting.splice(at, 1);
    if (this.holder !== candidate) return;
    this.holder = undefined;
    if (!release) {
      this.abandonedBy = candidate.identity;
      return;
    }
    this.handOver('');
  }

  private handOver(previousHolder: string | undefined): void {
    const next = this.waiting.shift();
    if (next) {
      this.holder = next;
      next.win({ identity: next.identity, previousHolder, previousUntilMs: previousHolder === undefined ? undefined : this.wallMs() });
    }
    for (const candidate of this.waiting) candidate.observed(this.holderIdentity);
  }
}

export class MemoryLeaderElection implements LeaderElection {
  readonly target: string;
  private events: LeadershipEvents | undefined;

  constructor(
    readonly identity: string,
    private readonly lease: MemoryLease = new MemoryLease(),
    target = 'memory',
  ) {
    this.target = target;
  }

  async start(events: LeadershipEvents): Promise<void> {
    this.events = events;
    this.lease.join(this);
  }

  async stop(options: { readonly release?: boolean } = {}): Promise<void> {
    this.events = undefined;
    this.lease.leave(this, options.release ?? true);
  }

  /** @internal */
  win(term: LeadershipTerm): void {
    this.events?.leaderObserved?.(this.identity);
    this.events?.elected(term);
  }

  /** @internal Returns whether it is still running (so a candidate again). */
  lose(reason: string): boolean {
    this.events?.deposed(reason);
    return this.events !== undefined;
  }

  /** @internal */
  observed(holder: string): void {
    this.events?.leaderObserved?.(holder === '' ? undefined : holder);
  }
}

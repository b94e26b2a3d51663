// Leader election through a coordination.k8s.io/v1 Lease (@kubernetes/client-node has no leader
// election of its own; this follows client-go's: same Lease fields, so `kubectl get lease` reads
// the same). Every retry period each candidate reads the Lease; the rules of src/domain/leader/lease.ts
// decide; writes are compare-and-swap on the resourceVersion, so two candidates never both win.
// A leader that cannot renew within the renew deadline (API server away, requests hanging) stops
// leading before the lease can expire for the others.
import { CoordinationV1Api, KubeConfig, V1MicroTime, type V1Lease } from '@kubernetes/client-node';
import { decide, observe, released, renewOverdue, type LeaseObservation, type LeaseRecord, type LeaseTiming } from '../../domain/leader/lease.js';
import type { LeaderElection, LeadershipEvents } from '../../ports/leader-election.js';
import type { Logger } from '../../ports/logger.js';

export interface KubeLeaseElectionOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  readonly name: string;
  /** Unique per process (a restarted process is a new candidate). */
  readonly identity: string;
  readonly timing: LeaseTiming;
  readonly logger: Logger;
}

const statusCode = (e: unknown): number | undefined =>
  e && typeof e === 'object' && 'code' in e && typeof (e as { code: unknown }).code === 'number' ? (e as { code: number }).code : undefined;

function messageOf(e: unknown): string {
  if (statusCode(e) === 409) return 'the lease changed meanwhile (another candidate wrote it)';
  const body = e && typeof e === 'object' && 'body' in e ? (e as { body: unknown }).body : undefined;
  if (typeof body === 'string') {
    try {
      const status = JSON.parse(body) as { message?: string };
      if (status.message) return status.message;
    } catch {
      // not a Status object
    }
  }
  return e instanceof Error ? e.message : String(e);
}

/** Lease times are MicroTime; read back they may be strings or Dates. */
function millis(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  const ms = value instanceof Date ? value.getTime() : Date.parse(String(value));
  return Number.isFinite(ms) ? ms : undefined;
}

function recordOf(lease: V1Lease): LeaseRecord {
  const spec = lease.spec ?? {};
  return {
    holder: spec.holderIdentity ?? '',
    durationMs: (spec.leaseDurationSeconds ?? 0) * 1000,
    acquireMs: millis(spec.acquireTime),
    renewMs: millis(spec.renewTime),
    transitions: spec.leaseTransitions ?? 0,
  };
}

function specOf(record: LeaseRecord): NonNullable<V1Lease['spec']> {
  return {
    holderIdentity: record.holder,
    leaseDurationSeconds: Math.max(1, Math.round(record.durationMs / 1000)),
    ...(record.acquireMs !== undefined ? { acquireTime: new V1MicroTime(record.acquireMs) } : {}),
    ...(record.renewMs !== undefined ? { renewTime: new V1MicroTime(record.renewMs) } : {}),
    leaseTransitions: record.transitions,
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export class KubeLeaseElection implements LeaderElection {
  readonly target: string;
  private readonly api: CoordinationV1Api;
  private events: LeadershipEvents | undefined;
  private observation: LeaseObservation | undefined;
  /** The Lease as last read or written (its resourceVersion makes the next write a compare-and-swap). */
  private lease: V1Lease | undefined;
  private leading = false;
  /** When (monotonic) the last successful renewal was sent. */
  private lastRenewMs = 0;
  /** Bumped on every loss of leadership: an attempt begun before it cannot make us leader. */
  private epoch = 0;
  private observedHolder: string | undefined;
  private loopTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: KubeLeaseElectionOptions) {
    this.api = options.kubeConfig.makeApiClient(CoordinationV1Api);
    this.target = `lease ${options.namespace}/${options.name}`;
  }

  get identity(): string {
    return this.options.identity;
  }

  async start(events: LeadershipEvents): Promise<void> {
    this.events = events;
    this.stopped = false;
    this.next(0);
  }

  async stop(options: { readonly release?: boolean } = {}): Promise<void> {
    this.stopped = true;
    clearTimeout(this.loopTimer);
    await this.running;
    clearTimeout(this.deadlineTimer);
    const wasLeading = this.leading;
    this.leading = false;
    this.events = undefined;
    if (!wasLeading || !(options.release ?? true) || !this.lease) return;
    try {
      const record = released(recordOf(this.lease), Date.now());
      await withTimeout(this.write({ ...this.lease, spec: specOf(record) }), this.options.timing.renewDeadlineMs, 'releasing the lease');
      this.options.logger.info({ lease: this.target, identity: this.identity }, 'lease released');
    } catch (e) {
      // The lease then expires by itself; the others wait for it.
      this.options.logger.warn({ lease: this.target, identity: this.identity, reason: messageOf(e) }, 'lease not released; the other replicas wait for it to expire');
    }
  }

  private now(): number {
    return performance.now();
  }

  private next(delayMs: number): void {
    if (this.stopped) return;
    this.loopTimer = setTimeout(() => {
      this.running = this.attempt().then((after) => {
        this.running = undefined;
        this.next(after);
      });
    }, delayMs);
  }

  /** One read-decide-write round; resolves to the delay before the next. */
  private async attempt(): Promise<number> {
    const { timing } = this.options;
    const epoch = this.epoch;
    const sentMs = this.now();
    try {
      const lease = await withTimeout(this.read(), timing.renewDeadlineMs, 'reading the lease');
      if (this.stopped) return timing.retryPeriodMs;
      this.lease = lease;
      const before = this.observation?.record;
      this.observation = lease ? observe(this.observation, recordOf(lease), this.now()) : undefined;
      this.noteHolder(this.observation?.record.holder);
      const decision = decide(this.identity, this.observation, this.now(), Date.now(), timing);
      if (decision.kind === 'wait') {
        if (this.leading) this.depose(`the lease is held by ${decision.holder}`);
        // Wake up right when it would expire rather than up to a retry period later.
        return Math.max(0, Math.min(timing.retryPeriodMs, decision.untilMs - this.now()));
      }
      const written = await withTimeout(this.write(lease ? { ...lease, spec: specOf(decision.record) } : undefined, decision.record), timing.renewDeadlineMs, 'writing the lease');
      this.lease = written;
      if (this.stopped) {
        this.leading = true; // we hold it now: stop() (waiting for this attempt) releases it
        return timing.retryPeriodMs;
      }
      this.observation = observe(undefined, recordOf(written), this.now());
      if (epoch !== this.epoch) return timing.retryPeriodMs;
      this.lastRenewMs = sentMs;
      this.armDeadline();
      if (!this.leading) {
        this.leading = true;
        this.noteHolder(this.identity);
        const previous =
          decision.kind === 'acquire'
            ? decision.previous
            : before
              ? { holder: before.holder, untilMs: before.renewMs === undefined ? undefined : before.renewMs + before.durationMs }
              : undefined;
        this.options.logger.info({ lease: this.target, identity: this.identity, previousHolder: previous?.holder }, 'elected leader');
        this.events?.elected({ identity: this.identity, previousHolder: previous?.holder, previousUntilMs: previous?.untilMs });
      }
      return timing.retryPeriodMs;
    } catch (e) {
      const reason = messageOf(e);
      this.events?.failed?.(reason);
      if (this.leading && renewOverdue(this.lastRenewMs, this.now(), timing)) this.depose(`the lease was not renewed within ${timing.renewDeadlineMs} ms: ${reason}`);
      else this.options.logger.debug({ lease: this.target, reason }, 'lease attempt failed; retrying');
      return timing.retryPeriodMs;
    }
  }

  private armDeadline(): void {
    clearTimeout(this.deadlineTimer);
    const { timing } = this.options;
    this.deadlineTimer = setTimeout(
      () => {
        if (this.leading && renewOverdue(this.lastRenewMs, this.now(), timing)) this.depose(`the lease was not renewed within ${timing.renewDeadlineMs} ms`);
      },
      timing.renewDeadlineMs - (this.now() - this.lastRenewMs),
    );
  }

  private depose(reason: string): void {
    if (!this.leading) return;
    this.leading = false;
    this.epoch++;
    clearTimeout(this.deadlineTimer);
    this.options.logger.warn({ lease: this.target, identity: this.identity, reason }, 'no longer the leader');
    this.events?.deposed(reason);
  }

  private noteHolder(holder: string | undefined): void {
    const normalized = holder === '' ? undefined : holder;
    if (normalized === this.observedHolder) return;
    this.observedHolder = normalized;
    this.events?.leaderObserved?.(normalized);
  }

  private async read(): Promise<V1Lease | undefined> {
    try {
      return await this.api.readNamespacedLease({ name: this.options.name, namespace: this.options.namespace });
    } catch (e) {
      if (statusCode(e) === 404) return undefined;
      throw e;
    }
  }

  /** Replaces `lease` (compare-and-swap on its resourceVersion), or creates the Lease from `record`. */
  private async write(lease: V1Lease | undefined, record?: LeaseRecord): Promise<V1Lease> {
    const { name, namespace } = this.options;
    if (lease) return this.api.replaceNamespacedLease({ name, namespace, body: lease });
    return this.api.createNamespacedLease({ namespace, body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec: specOf(record!) } });
  }
}

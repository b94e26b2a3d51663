// Leader election over a lease record (a Kubernetes coordination.k8s.io Lease, or any store with
// compare-and-swap), the rules client-go's leaderelection follows: whoever holds an unexpired lease
// leads and renews it; the others wait, and take it over only once it has not changed for its whole
// duration, as measured on *their own* clock from when they last saw it change (so clock skew between
// replicas does not matter); a holder that cannot renew within its renew deadline, which is shorter
// than the lease, stops leading before anyone else may start. Pure: times are passed in.
import { err, ok, type Result } from '../result.js';

export interface LeaseRecord {
  /** '' when nobody holds it (released). */
  readonly holder: string;
  readonly durationMs: number;
  /** Wall-clock ms of the holder's machine; undefined when the store has none. */
  readonly acquireMs: number | undefined;
  readonly renewMs: number | undefined;
  readonly transitions: number;
}

/** The record a candidate last saw, and when (its clock) it first saw it in that state. */
export interface LeaseObservation {
  readonly record: LeaseRecord;
  readonly sinceMs: number;
}

export interface LeaseTiming {
  /** How long a lease that nobody renews keeps others waiting. */
  readonly leaseDurationMs: number;
  /** A leader that has not renewed for this long steps down (before others may take over). */
  readonly renewDeadlineMs: number;
  /** How often candidates try and leaders renew. */
  readonly retryPeriodMs: number;
}

/** client-go's constraints, plus room for a renewal attempt inside the deadline. */
export function checkLeaseTiming(timing: LeaseTiming): Result<LeaseTiming, string> {
  if (timing.leaseDurationMs <= timing.renewDeadlineMs) return err('the lease duration must be longer than the renew deadline');
  if (timing.renewDeadlineMs <= timing.retryPeriodMs) return err('the renew deadline must be longer than the retry period');
  if (timing.leaseDurationMs < 1000) return err('the lease duration is at least 1s (Leases count whole seconds)');
  return ok(timing);
}

const sameRecord = (a: LeaseRecord, b: LeaseRecord): boolean =>
  a.holder === b.holder && a.renewMs === b.renewMs && a.acquireMs === b.acquireMs && a.transitions === b.transitions && a.durationMs === b.durationMs;

/** Keeps the time of the earlier observation while the record is unchanged. */
export function observe(previous: LeaseObservation | undefined, record: LeaseRecord, nowMs: number): LeaseObservation {
  return previous && sameRecord(previous.record, record) ? previous : { record, sinceMs: nowMs };
}

/** What the previous holder may still have done as leader: up to its last renewal plus the lease. */
export interface PreviousHolder {
  readonly holder: string;
  /** Wall-clock ms (the previous holder's clock) until which it may have acted as leader. */
  readonly untilMs: number | undefined;
}

export type LeaseDecision =
  /** We hold it: write `record` (a renewal). */
  | { readonly kind: 'renew'; readonly record: LeaseRecord }
  /** Nobody holds it, or its holder let it expire: write `record` (compare-and-swap) to take it. */
  | { readonly kind: 'acquire'; readonly record: LeaseRecord; readonly previous: PreviousHolder | undefined }
  /** Someone else holds it; at the earliest at `untilMs` (our clock) may we try to take it. */
  | { readonly kind: 'wait'; readonly holder: string; readonly untilMs: number };

/**
 * The next step for `identity`, given what it observed (undefined: no lease exists yet) at `nowMs`
 * (monotonic, for expiry) and `wallMs` (written into the record, as Kubernetes does).
 */
export function decide(identity: string, observation: LeaseObservation | undefined, nowMs: number, wallMs: number, timing: LeaseTiming): LeaseDecision {
  const durationMs = Math.ceil(timing.leaseDurationMs / 1000) * 1000;
  if (!observation) return { kind: 'acquire', record: { holder: identity, durationMs, acquireMs: wallMs, renewMs: wallMs, transitions: 0 }, previous: undefined };
  const { record, sinceMs } = observation;
  if (record.holder === identity) return { kind: 'renew', record: { ...record, durationMs, renewMs: wallMs } };
  const untilMs = sinceMs + record.durationMs;
  if (record.holder !== '' && nowMs < untilMs) return { kind: 'wait', holder: record.holder, untilMs };
  const previous: PreviousHolder | undefined =
    record.holder === '' && record.renewMs === undefined
      ? undefined
      : { holder: record.holder, untilMs: record.renewMs === undefined ? undefined : record.renewMs + record.durationMs };
  return { kind: 'acquire', record: { holder: identity, durationMs, acquireMs: wallMs, renewMs: wallMs, transitions: record.transitions + 1 }, previous };
}

/** The record a leader writes when it stops: free at once (client-go's ReleaseOnCancel). */
export function released(record: LeaseRecord, wallMs: number): LeaseRecord {
  return { ...record, holder: '', durationMs: 1000, renewMs: wallMs };
}

/** A leader whose last successful renewal began at `lastRenewMs` must stop leading at `nowMs`. */
export function renewOverdue(lastRenewMs: number, nowMs: number, timing: LeaseTiming): boolean {
  return nowMs - lastRenewMs >= timing.renewDeadlineMs;
}

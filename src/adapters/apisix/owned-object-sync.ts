// Keeps a per-object APISIX target (Admin API, etcd) in step with the desired configuration.
//
// - It lists the target first and remembers what it holds, so an apply sends one request per object
//   that differs (never one per unchanged object), also when the caller's own diff is stale.
// - It owns what carries the label managed-by=amesh-ts (or what it wrote itself): stale owned objects
//   are deleted, everything else is left alone, and a desired id held by a foreign object is refused.
// - Writes go kind by kind in dependency order (ssls, upstreams … routes), deletes in reverse, so no
//   reference ever dangles; an object whose dependency failed is held back, not sent.
// - Transient failures (5xx, timeouts, refused or dropped connections) are retried with backoff and
//   jitter within a budget; a refusal (4xx) is reported with the target's message and not sent again
//   until the object or the target changes.
// - A periodic resync lists again and repairs objects changed behind the agent's back.
// - A kind the target refuses altogether (APISIX's Admin API and stream_routes while stream mode is
//   off) does not stop the others: its objects are reported as unserved, not failed, and the kind is
//   asked for again on every apply and resync, so they are delivered once the target takes them. Kinds
//   the caller knows the data plane does not serve (etcd with stream mode off) are written and reported
//   the same way. Either is logged once per change, not on every apply.
import { diffConfigs } from '../../domain/diff.js';
import { GATEWAY_KINDS, GatewayConfig, objectKey, type GatewayKind, type GatewayObject } from '../../domain/gateway-config.js';
import { canonicalJson, type JsonObject } from '../../domain/json.js';
import type { ApplyFailure, ApplyResult, ApplyUnserved, ConfigSink, SinkUpdate } from '../../ports/config-sink.js';
import type { Logger } from '../../ports/logger.js';
import type { ListOutcome, ObjectStore, OpOutcome, StoreOp, StoredObject } from './object-store.js';
import { referencesOf } from './object-references.js';
import { backoffDelay } from '../../domain/backoff.js';
import { DEFAULT_RETRY, sleep, type RetryPolicy } from './retry.js';
import { OWNER_LABEL, OWNER_VALUE } from './translate.js';

export interface OwnedObjectSyncOptions {
  readonly retry?: RetryPolicy | undefined;
  /** List the target again this often and repair drift; 0 turns it off. */
  readonly resyncMs?: number | undefined;
  readonly logger?: Logger | undefined;
  /**
   * Kinds that are written but that the data plane does not serve, with why (the etcd sink told that
   * APISIX's stream mode is off): reported in every result as unserved, written: true.
   */
  readonly unservedKinds?: ReadonlyMap<GatewayKind, string> | undefined;
}

interface KnownObject {
  readonly kind: GatewayKind;
  readonly id: string;
  /** The body this agent wrote, or (when only listed) the comparable part of what the target shows. */
  readonly value: JsonObject;
  readonly owned: boolean;
  readonly createTime: number | undefined;
}

interface Rejection {
  readonly canonical: string;
  readonly failure: ApplyFailure;
}

export interface ReconcileReport extends ApplyResult {
  /** Objects found different from what the agent last knew (added, deleted or changed behind its back). */
  readonly drift: number;
}

const isOwnedValue = (value: JsonObject): boolean => {
  const labels = value.labels;
  return typeof labels === 'object' && labels !== null && !Array.isArray(labels) && labels[OWNER_LABEL] === OWNER_VALUE;
};

const createTimeOf = (value: JsonObject): number | undefined => (typeof value.create_time === 'number' ? value.create_time : undefined);

export class OwnedObjectSync {
  private known: Map<string, KnownObject> | undefined;
  /** The owned entries of `known` as gateway objects, kept in step so that an apply does not copy them. */
  private owned = new Map<string, GatewayObject>();
  private relistWanted = false;
  private readonly rejected = new Map<string, Rejection>();
  private lastDesired: GatewayConfig | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly retry: RetryPolicy;
  /** Kinds the target refused to list, with its message: their objects are held back and reported. */
  private refusedKinds = new Map<GatewayKind, string>();
  /** The unserved kinds last logged (kind, reason, written), so that each change is logged once. */
  private loggedUnserved = new Map<GatewayKind, string>();

  constructor(
    private readonly store: ObjectStore,
    private readonly options: OwnedObjectSyncOptions = {},
  ) {
    this.retry = options.retry ?? DEFAULT_RETRY;
  }

  apply(update: SinkUpdate): Promise<ApplyResult> {
    return this.serialised(async () => {
      const report = await this.sync(update.desired);
      const notApplied = new Set(report.failed.map((f) => f.key));
      for (const unserved of report.unserved ?? []) if (!unserved.written) notApplied.add(unserved.key);
      const applied = notApplied.has('*')
        ? 0
        : update.changes.changes.filter((c) => !notApplied.has(c.key) && !this.refusedKinds.has(c.op === 'delete' ? c.previous.kind : c.object.kind)).length;
      return { applied, failed: report.failed, ...(report.unserved ? { unserved: report.unserved } : {}) };
    });
  }

  /** Lists the target and repairs every difference from the last desired configuration. */
  reconcile(): Promise<ReconcileReport> {
    return this.serialised(async () => {
      if (!this.lastDesired) return { applied: 0, failed: [], drift: 0 };
      this.relistWanted = true;
      return this.sync(this.lastDesired);
    });
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.store.close();
  }

  private serialised<T>(run: () => Promise<T>): Promise<T> {
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private scheduleResync(): void {
    const every = this.options.resyncMs ?? 0;
    if (every <= 0 || this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.reconcile().then(
        (report) => {
          if (report.drift > 0 || report.failed.length > 0) {
            this.options.logger?.warn(
              { sink: this.store.target, drift: report.drift, repaired: report.applied, failed: report.failed.slice(0, 5) },
              'resync found objects changed behind the agent',
            );
          }
          this.scheduleResync();
        },
        () => this.scheduleResync(),
      );
    }, every);
    this.timer.unref();
  }

  private async sync(desired: GatewayConfig): Promise<ReconcileReport> {
    this.lastDesired = desired;
    let drift = 0;
    if (!this.known || this.relistWanted) {
      const listed = await this.listWithRetry();
      if (!listed.ok) return { applied: 0, failed: [{ key: '*', reason: listed.reason }], drift: 0 };
      const refused = listed.closed ?? new Map<GatewayKind, string>();
      drift = this.absorb(listed.objects, new Set(GATEWAY_KINDS.filter((kind) => !refused.has(kind))));
      this.refusedKinds = new Map(refused);
      this.relistWanted = false;
      // The target moved: what it refused before may pass now (a missing reference appeared).
      if (drift > 0) this.rejected.clear();
    } else if (this.refusedKinds.size > 0) {
      await this.probeRefusedKinds();
    }
    const report = await this.converge(desired);
    const unserved = this.unservedOf(desired, report.failed);
    this.logUnserved(unserved);
    this.scheduleResync();
    return { ...report, ...(unserved.length > 0 ? { unserved } : {}), drift };
  }

  /**
   * Asks again for the kinds the target refused (one request each): it may have been reconfigured
   * (stream mode turned on). A failure keeps them refused until the next apply or resync.
   */
  private async probeRefusedKinds(): Promise<void> {
    const probed = await this.store.list([...this.refusedKinds.keys()]);
    if (!probed.ok) return;
    const refused = probed.closed ?? new Map<GatewayKind, string>();
    const reopened = new Set([...this.refusedKinds.keys()].filter((kind) => !refused.has(kind)));
    // Objects of a kind the agent could not see are not drift: not counted, nothing else re-checked.
    if (reopened.size > 0) this.absorb(probed.objects, reopened);
    this.refusedKinds = new Map(refused);
  }

  /** The desired objects of refused kinds (not written) and of kinds the data plane does not serve (written unless failed). */
  private unservedOf(desired: GatewayConfig, failed: readonly ApplyFailure[]): ApplyUnserved[] {
    const notServed = this.options.unservedKinds;
    if (this.refusedKinds.size === 0 && !notServed?.size) return [];
    const counts = desired.counts();
    const failedKeys = new Set(failed.map((f) => f.key));
    if (failedKeys.has('*')) return [];
    const unserved: ApplyUnserved[] = [];
    for (const kind of GATEWAY_KINDS) {
      if (counts[kind] === 0) continue;
      const refusal = this.refusedKinds.get(kind);
      const reason = refusal ?? notServed?.get(kind);
      if (reason === undefined) continue;
      for (const object of desired.ofKind(kind)) {
        const key = objectKey(kind, object.id);
        if (refusal !== undefined) unserved.push({ key, reason, written: false });
        else if (!failedKeys.has(key)) unserved.push({ key, reason, written: true });
      }
    }
    return unserved;
  }

  /** Logs a kind when it becomes unserved (or its reason changes) and when it no longer is: once, not per apply. */
  private logUnserved(unserved: readonly ApplyUnserved[]): void {
    const now = new Map<GatewayKind, { reason: string; written: boolean; objects: number }>();
    for (const { key, reason, written } of unserved) {
      const kind = key.slice(0, key.indexOf('/')) as GatewayKind;
      const entry = now.get(kind);
      if (entry) entry.objects += 1;
      else now.set(kind, { reason, written, objects: 1 });
    }
    const logger = this.options.logger;
    for (const [kind, { reason, written, objects }] of now) {
      const signature = `${written}\u0000${reason}`;
      if (this.loggedUnserved.get(kind) === signature) continue;
      this.loggedUnserved.set(kind, signature);
      logger?.warn(
        { sink: this.store.target, kind, objects, written, reason },
        written
          ? 'objects written that the data plane does not serve as it is set up; the rest of the configuration is in force'
          : 'the target does not take these objects as it is set up; the rest of the configuration is applied, and they are asked for again on every apply and resync',
      );
    }
    for (const kind of this.loggedUnserved.keys()) {
      if (now.has(kind)) continue;
      this.loggedUnserved.delete(kind);
      logger?.info({ sink: this.store.target, kind }, 'no unserved objects of this kind any more');
    }
  }

  private async listWithRetry(): Promise<Extract<ListOutcome, { ok: true }> | { ok: false; reason: string }> {
    const deadline = Date.now() + this.retry.budgetMs;
    for (let attempt = 0; ; attempt++) {
      const listed = await this.store.list();
      if (listed.ok) return listed;
      const delay = backoffDelay(this.retry, attempt);
      if (!listed.transient || Date.now() + delay > deadline || this.closed) {
        return { ok: false, reason: `listing ${this.store.target}: ${listed.reason}${listed.transient ? ' (will retry)' : ''}` };
      }
      await sleep(delay);
    }
  }

  /**
   * Replaces what the agent knows of the `listed` kinds by what was listed (what it knows of other
   * kinds stays); returns how many objects of those kinds differ.
   */
  private absorb(objects: readonly StoredObject[], listed: ReadonlySet<GatewayKind>): number {
    const before = this.known;
    const known = new Map<string, KnownObject>();
    if (before) for (const [key, entry] of before) if (!listed.has(entry.kind)) known.set(key, entry);
    let drift = 0;
    for (const { kind, id, value } of objects) {
      if (!listed.has(kind)) continue;
      const key = objectKey(kind, id);
      const shown = this.store.comparable(kind, value);
      const prior = before?.get(key);
      const same = prior !== undefined && canonicalJson(this.store.comparable(kind, prior.value)) === canonicalJson(shown);
      if (before && !same) drift += 1;
      known.set(key, {
        kind,
        id,
        // What the agent wrote is trusted while the target still shows it (the target may hide fields, e.g. ssl keys).
        value: same ? prior.value : shown,
        owned: isOwnedValue(value) || (same && prior.owned),
        createTime: createTimeOf(value),
      });
    }
    if (before) for (const [key, entry] of before) if (listed.has(entry.kind) && !known.has(key)) drift += 1;
    this.known = known;
    this.owned = new Map();
    for (const [key, entry] of known) if (entry.owned) this.owned.set(key, { kind: entry.kind, id: entry.id, value: entry.value });
    return drift;
  }

  /** The owned part of the target as a config, so that diffConfigs gives the changes in their safe order. */
  private ownedConfig(): GatewayConfig {
    return new GatewayConfig('target', this.owned);
  }

  private async converge(desired: GatewayConfig): Promise<ApplyResult> {
    const known = this.known!;
    const failures = new Map<string, ApplyFailure>();
    const phases: StoreOp[][] = [];
    let phaseOf = '';
    for (const change of diffConfigs(this.ownedConfig(), desired).changes) {
      // The target refuses the whole kind: reported as unserved (unservedOf); a stale one is deleted once it takes the kind again.
      if (this.refusedKinds.has(change.op === 'delete' ? change.previous.kind : change.object.kind)) continue;
      let op: StoreOp;
      if (change.op === 'delete') {
        op = { op: 'delete', key: change.key, kind: change.previous.kind, id: change.previous.id };
      } else {
        const entry = known.get(change.key);
        if (entry && !entry.owned) {
          failures.set(change.key, {
            key: change.key,
            reason: `the target already holds ${change.key} without the label ${OWNER_LABEL}=${OWNER_VALUE}; it is not this agent's to replace`,
          });
          continue;
        }
        const rejection = this.rejected.get(change.key);
        if (rejection && rejection.canonical === desired.canonicalOf(change.key)) {
          failures.set(change.key, rejection.failure);
          continue;
        }
        op = { op: 'put', key: change.key, object: change.object, createTime: entry?.createTime };
      }
      // Consecutive changes of one kind and direction do not reference each other: they go out together.
      const phase = `${op.op === 'delete' ? 'delete' : 'put'} ${op.op === 'delete' ? op.kind : op.object.kind}`;
      if (phase !== phaseOf) phases.push([]);
      phaseOf = phase;
      phases[phases.length - 1]!.push(op);
    }
    let applied = 0;
    for (const phase of phases) {
      const ready: StoreOp[] = [];
      const stillReferenced = phase[0]?.op === 'delete' ? this.referencedByFailures(failures) : undefined;
      for (const op of phase) {
        const blocker = this.blockerOf(op, failures, stillReferenced);
        if (blocker) failures.set(op.key, { key: op.key, reason: blocker });
        else ready.push(op);
      }
      applied += await this.runPhase(ready, failures);
    }
    const failed: ApplyFailure[] = [...failures.values()];
    return { applied, failed };
  }

  /** Objects that the known (old) versions of failed changes point at: deleting them would leave a dangling reference. */
  private referencedByFailures(failures: ReadonlyMap<string, ApplyFailure>): Map<string, string> {
    const referenced = new Map<string, string>();
    for (const failedKey of failures.keys()) {
      const holder = this.known!.get(failedKey);
      if (holder?.owned) for (const reference of referencesOf(holder.kind, holder.value)) referenced.set(reference, failedKey);
    }
    return referenced;
  }

  /** Why `op` must wait: a put whose reference failed, or a delete of something a failed change still points at. */
  private blockerOf(op: StoreOp, failures: ReadonlyMap<string, ApplyFailure>, stillReferenced: ReadonlyMap<string, string> | undefined): string | undefined {
    if (failures.size === 0) return undefined;
    if (op.op === 'put') {
      for (const reference of referencesOf(op.object.kind, op.object.value)) {
        if (failures.has(reference)) return `held back: it references ${reference}, which was not written`;
      }
      return undefined;
    }
    const holder = stillReferenced?.get(op.key);
    return holder ? `held back: ${holder} still references it` : undefined;
  }

  /** Sends one phase, retrying transient failures within the budget; returns how many succeeded. */
  private async runPhase(ops: readonly StoreOp[], failures: Map<string, ApplyFailure>): Promise<number> {
    let pending = ops;
    let succeeded = 0;
    const deadline = Date.now() + this.retry.budgetMs;
    for (let attempt = 0; pending.length > 0; attempt++) {
      const outcomes = await this.store.write(pending);
      const again: StoreOp[] = [];
      const reasons = new Map<string, string>();
      pending.forEach((op, index) => {
        const outcome = outcomes[index]!;
        if (outcome.ok) {
          this.record(op, outcome);
          succeeded += 1;
        } else if (outcome.transient) {
          again.push(op);
          reasons.set(op.key, outcome.reason);
        } else {
          const failure: ApplyFailure = outcome.rejected ? { key: op.key, reason: outcome.reason, rejected: true } : { key: op.key, reason: outcome.reason };
          failures.set(op.key, failure);
          if (op.op === 'put') this.rejected.set(op.key, { canonical: canonicalJson(op.object.value), failure });
          // A refusal may come from a change behind the agent's back: look again before the next apply.
          this.relistWanted = true;
        }
      });
      pending = again;
      if (pending.length === 0) break;
      const delay = backoffDelay(this.retry, attempt);
      if (Date.now() + delay > deadline || this.closed) {
        for (const op of pending) failures.set(op.key, { key: op.key, reason: `${reasons.get(op.key)} (after ${attempt + 1} attempts; will retry)` });
        break;
      }
      await sleep(delay);
    }
    return succeeded;
  }

  private record(op: StoreOp, outcome: Extract<OpOutcome, { ok: true }>): void {
    const known = this.known!;
    if (op.op === 'delete') {
      known.delete(op.key);
      this.owned.delete(op.key);
      return;
    }
    const { kind, id, value } = op.object;
    known.set(op.key, { kind, id, value, owned: true, createTime: outcome.createTime ?? op.createTime });
    this.owned.set(op.key, op.object);
    this.rejected.delete(op.key);
  }
}

/**
 * A ConfigSink over an ObjectStore: the per-object remote sinks (Admin API, etcd) are this with their
 * own store. Drift is repaired every minute unless told otherwise.
 */
export class OwnedObjectSink implements ConfigSink {
  readonly target: string;
  private readonly sync: OwnedObjectSync;

  constructor(store: ObjectStore, options: OwnedObjectSyncOptions = {}) {
    this.target = store.target;
    this.sync = new OwnedObjectSync(store, { ...options, resyncMs: options.resyncMs ?? 60_000 });
  }

  apply(update: SinkUpdate): Promise<ApplyResult> {
    return this.sync.apply(update);
  }

  reconcile(): Promise<ReconcileReport> {
    return this.sync.reconcile();
  }

  close(): void {
    this.sync.close();
  }
}

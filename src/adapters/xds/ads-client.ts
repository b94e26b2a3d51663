// The ADS client: a ConfigSource that speaks to istiod (or any xDS server) like an Envoy sidecar.
// State of the world or delta over one stream; per-type version, nonce and subscription; ACK and
// NACK with error detail; warming; does-not-exist timers; reconnect with backoff, resubscribing with
// `initial_resource_versions` in delta. The last published snapshot stays in force while the
// server is unreachable and whenever a response is NACKed.
//
// A watcher may answer an update with a promise (the sidecar applies to the gateway first): the ACK or
// NACK of that response waits for it, and everything after it (later responses, does-not-exist timers,
// a new stream's first requests) waits in a serial queue, so the cache is only ever changed on top of a
// settled state and a NACK can still undo its commit. A stream that closes meanwhile gets no answer:
// its queued responses are dropped, the settled verdict still keeps or undoes the cache.
//
// A flood of pushes (istiod sends without waiting for ACKs) queues behind a pending verdict. Each queued
// response is still handled, committed and answered in order, but a publish made while newer responses
// of the stream wait in the queue says so (SourceUpdate.newerPending): the watcher may judge it without
// applying it, so that only the newest state reaches the gateway instead of every one in turn.
import { ACCEPTED, type ConfigSource, type ConfigWatcher, type Disposable, type SourceUpdate, type UpdateVerdict } from '../../ports/config-source.js';
import type { Logger } from '../../ports/logger.js';
import type { DecodeError } from '../envoy/xds-resources.js';
import { Backoff, type BackoffOptions } from '../../domain/backoff.js';

/** Reconnects to the control plane; reset only when the server actually sent data, so a server that accepts
 * streams and kills them at once cannot cause a hot loop (grpc-node's rule). */
export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000 };
import { isWarm, missingOf, NO_LOCAL_SECRETS, ReferenceTracker, SnapshotAssembler, type KindChange, type LocalSecretRule, type References } from './dependency-tracker.js';
import { GrpcAdsTransport, type AdsStream, type AdsTransportOptions } from './grpc-transport.js';
import { ResourceCache, type StagedChange } from './resource-cache.js';
import { SubscriptionState, type ResponseMeta } from './subscription-state.js';
import { XDS_TYPES, xdsTypeOfUrl, type XdsType } from './xds-types.js';
import { displayText, quote } from '../../domain/display-text.js';

export type AdsMode = 'sotw' | 'delta';

/** Hooks for metrics and tests; all optional. */
export interface AdsEvents {
  connected?(): void;
  disconnected?(reason: string): void;
  response?(type: XdsType, resources: number): void;
  ack?(type: XdsType): void;
  nack?(type: XdsType, message: string): void;
  published?(version: string): void;
}

export interface AdsClientOptions extends AdsTransportOptions {
  readonly mode: AdsMode;
  readonly logger: Logger;
  readonly backoff?: BackoffOptions;
  /** How long a subscribed name may stay unanswered before it is taken as absent (xDS: 15 s). */
  readonly doesNotExistTimeoutMs?: number;
  /**
   * Which referenced secrets are delivered outside this stream (for istiod: every name but credentials,
   * see adapters/istio/sds-names.ts): never subscribed, never waited for, left out of the snapshot for
   * whoever delivers them to add. Default: none, every referenced secret is asked of the server.
   */
  readonly isLocalSecret?: LocalSecretRule;
  readonly events?: AdsEvents;
}

const INVALID_ARGUMENT = 3;

/** A verdict now, or later when the watcher needs to work first. */
type Pending<T> = T | Promise<T>;

const isPromise = <T>(value: Pending<T>): value is Promise<T> => value instanceof Promise;

/** `next` applied to `value`, at once when it is there (the common, synchronous path), else when it settles. */
function andThen<T, R>(value: Pending<T>, next: (value: T) => Pending<R>): Pending<R> {
  return isPromise(value) ? value.then(next) : next(value);
}

/** A watcher's answer as a verdict; a promise that rejects rejects the update (it must not go unhandled). */
function verdictOf(answer: UpdateVerdict | Promise<UpdateVerdict> | void): Pending<UpdateVerdict> {
  if (!answer) return ACCEPTED;
  if (!isPromise(answer)) return answer;
  return answer.then(
    (verdict) => verdict ?? ACCEPTED,
    (error: unknown) => ({ accepted: false, reason: `the consumer failed: ${error instanceof Error ? error.message : String(error)}` }),
  );
}

/** Combines the watchers' verdicts: the first rejection wins; waits only when someone answered with a promise. */
function combined(verdicts: readonly Pending<UpdateVerdict>[]): Pending<UpdateVerdict> {
  if (verdicts.length === 1) return verdicts[0]!;
  if (!verdicts.some(isPromise)) return verdicts.find((v) => !(v as UpdateVerdict).accepted) ?? ACCEPTED;
  return Promise.all(verdicts).then((settled) => settled.find((v) => !v.accepted) ?? ACCEPTED);
}

/** error_detail is shown in the control plane's logs and istioctl: ten errors' worth, not a whole input. */
const NACK_MESSAGE_LIMIT = 4096;

function describeErrors(errors: readonly DecodeError[]): string {
  const shown = errors.slice(0, 10).map((e) => `${e.resource.type} ${quote(e.resource.name)}${e.field ? ` field ${e.field}` : ''}: ${e.message}`);
  return errors.length > 10 ? `${shown.join('; ')}; and ${errors.length - 10} more` : shown.join('; ');
}

export class AdsClient implements ConfigSource {
  private readonly watchers = new Set<ConfigWatcher>();
  private readonly cache = new ResourceCache();
  private readonly assembler = new SnapshotAssembler();
  private readonly subscriptions: SubscriptionState;
  private readonly backoff: Backoff;
  private readonly absent = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private stream: AdsStream | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private running = false;
  private published: SourceUpdate | undefined;
  private publishCount = 0;
  /** The cache's generations per kind when `published` was assembled. */
  private publishedGenerations = '';
  /** LDS and CDS must have answered once before anything is published (else we would publish nothing). */
  private readonly received = new Set<string>();
  private readonly transport: GrpcAdsTransport;
  private readonly references: ReferenceTracker;
  /** The references of the last publish that found everything referenced present. */
  private warmWith: References | undefined;
  /** The references the cache was last garbage-collected against. */
  private collectedWith: References | undefined;
  /** Local secrets already logged as not asked for (once per name: they come with every change of references). */
  private readonly announcedLocal = new Set<string>();
  private announcedWith: References | undefined;
  /** Per named type, the wanted set last reconciled with the subscription (same object: nothing to do). */
  private readonly reconciled = new Map<XdsType, ReadonlySet<string>>();
  /** The work waiting for a watcher's verdict; while set, new work goes to `backlog`, run in order after it. */
  private busy: Promise<void> | undefined;
  private readonly backlog: { readonly task: () => Pending<void>; readonly stream?: AdsStream }[] = [];

  constructor(private readonly options: AdsClientOptions) {
    this.subscriptions = new SubscriptionState(options.mode);
    this.backoff = new Backoff(options.backoff ?? DEFAULT_BACKOFF);
    this.transport = new GrpcAdsTransport(options);
    this.references = new ReferenceTracker(options.isLocalSecret ?? NO_LOCAL_SECRETS);
  }

  watch(watcher: ConfigWatcher): Disposable {
    this.watchers.add(watcher);
    if (this.published) this.settleQuietly(verdictOf(watcher.onUpdate(this.published)), 'late watcher');
    if (!this.running) this.start();
    return {
      dispose: () => {
        this.watchers.delete(watcher);
        if (this.watchers.size === 0) this.stop();
      },
    };
  }

  /** The snapshot in force, if any (for config dumps and readiness). */
  get current(): SourceUpdate | undefined {
    return this.published;
  }

  get connected(): boolean {
    return this.stream !== undefined;
  }

  /** Responses received and waiting behind a pending verdict (a flood of pushes queues here). */
  get queuedResponses(): number {
    return this.backlog.filter((queued) => queued.stream !== undefined).length;
  }

  private start(): void {
    this.running = true;
    this.connect();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.reconnectTimer);
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.stream?.close();
    this.stream = undefined;
    this.transport.shutdown();
  }

  private connect(): void {
    const { logger } = this.options;
    const stream = this.transport.open(this.options.mode, {
      onSotwResponse: (response) =>
        this.onResponse(
          stream,
          response.typeUrl,
          { nonce: response.nonce, version: response.versionInfo },
          () => response.resources.map((any) => ({ version: response.versionInfo, any })),
          [],
        ),
      onDeltaResponse: (response) =>
        this.onResponse(
          stream,
          response.typeUrl,
          { nonce: response.nonce, version: response.systemVersionInfo },
          () => response.resources.flatMap((r) => (r.resource ? [{ name: r.name, version: r.version, any: r.resource }] : [])),
          response.removedResources,
        ),
      onClose: (reason) => {
        if (this.stream !== stream) return;
        this.stream = undefined;
        this.options.events?.disconnected?.(reason);
        if (!this.running) return;
        const delay = this.backoff.next();
        logger.warn({ target: this.options.target, reason, retryInMs: delay }, 'xDS stream closed; serving the last configuration');
        this.reconnectTimer = setTimeout(() => this.connect(), delay);
      },
    });
    this.stream = stream;
    this.subscriptions.newStream();
    this.reconciled.clear();
    logger.info({ target: this.options.target, mode: this.options.mode }, 'xDS stream opened');
    this.options.events?.connected?.();
    // What we hold is only known once a verdict still pending (from the previous stream) has settled.
    this.enqueue(() => {
      if (this.stream !== stream) return;
      // Cluster and Listener first (wildcard), then the named types already known from a previous stream.
      for (const type of XDS_TYPES) {
        const request = this.subscriptions.initialRequest(type, type.wildcard ? undefined : this.wantedNames(type), this.cache.versions(type.kind));
        if (request) stream.send(request);
      }
    });
  }

  /** Runs `task` now if nothing waits for a verdict, else after everything queued before it. */
  /** `stream`: the task handles a response of that stream. */
  private enqueue(task: () => Pending<void>, stream?: AdsStream): void {
    if (this.busy) this.backlog.push({ task, ...(stream ? { stream } : {}) });
    else this.run(task);
  }

  /** Whether a response of `stream` waits in the queue: what is published now will be superseded at once. */
  private responseQueued(stream: AdsStream): boolean {
    return this.backlog.some((queued) => queued.stream === stream);
  }

  private run(task: () => Pending<void>): void {
    const outcome = task();
    if (!isPromise(outcome)) return;
    const done = (): void => {
      this.busy = undefined;
      while (!this.busy && this.backlog.length > 0) this.run(this.backlog.shift()!.task);
    };
    this.busy = outcome.then(done, (error: unknown) => {
      this.options.logger.error({ error: String(error) }, 'handling an xDS response failed');
      done();
    });
  }

  /** For verdicts nobody can be told about (no response to answer): a rejection is logged. */
  private settleQuietly(verdict: Pending<UpdateVerdict>, what: string): Pending<void> {
    return andThen(verdict, (settled) => {
      if (!settled.accepted) this.options.logger.warn({ publish: what, error: settled.reason }, 'the consumer rejected a publish that answers no response');
    });
  }

  private wantedNames(type: XdsType): ReadonlySet<string> {
    const references = this.references.of(this.cache);
    return type.kind === 'RouteConfiguration' ? references.routeConfigs : type.kind === 'ClusterLoadAssignment' ? references.endpoints : references.secrets;
  }

  private onResponse(stream: AdsStream, typeUrl: string, meta: ResponseMeta, incoming: () => Parameters<ResourceCache['stage']>[1], removed: readonly string[]): void {
    if (this.stream !== stream) return;
    this.backoff.reset();
    this.enqueue(() => (this.stream === stream ? this.handleResponse(stream, typeUrl, meta, incoming, removed) : undefined), stream);
  }

  private handleResponse(stream: AdsStream, typeUrl: string, meta: ResponseMeta, incoming: () => Parameters<ResourceCache['stage']>[1], removed: readonly string[]): Pending<void> {
    const type = xdsTypeOfUrl(typeUrl);
    if (!type || !this.subscriptions.isSubscribed(type)) {
      this.options.logger.debug({ typeUrl }, 'ignoring a response for a type we did not ask for');
      return;
    }
    const resources = incoming();
    this.options.events?.response?.(type, resources.length);
    let staged: StagedChange;
    try {
      staged = this.cache.stage(type, resources, { replaceAll: this.options.mode === 'sotw' && type.wildcard, removed });
    } catch (error) {
      // Decoding threw (a bug a response found): that response is refused, and nothing was committed.
      this.nack(stream, type, meta, `the response could not be decoded (${error instanceof Error ? error.message : String(error)})`);
      return;
    }
    if (staged.errors.length > 0) {
      this.nack(stream, type, meta, describeErrors(staged.errors));
      return;
    }
    for (const name of staged.puts.keys()) this.resolved(type, name);
    for (const name of removed) if (this.subscriptions.subscribedNames(type).has(name)) this.markAbsent(type, name);
    return andThen(this.accept(type, staged, this.responseQueued(stream)), (verdict) => {
      // Closed while the verdict was pending: the new stream asks afresh, this answer would go nowhere.
      if (this.stream !== stream) return;
      if (!verdict.accepted) {
        this.nack(stream, type, meta, verdict.reason);
        return;
      }
      stream.send(this.subscriptions.ack(type, meta));
      this.options.events?.ack?.(type);
      this.updateSubscriptions(stream);
    });
  }

  private nack(stream: AdsStream, type: XdsType, meta: ResponseMeta, reason: string): void {
    // The reason may quote a sink's target (APISIX's error_msg) or the input: one bounded line, no keys.
    const message = displayText(reason, NACK_MESSAGE_LIMIT);
    this.options.logger.warn({ type: type.short, nonce: meta.nonce, error: message }, 'rejecting xDS response (NACK); the last good configuration stays');
    stream.send(this.subscriptions.nack(type, meta, { code: INVALID_ARGUMENT, message, details: [] }));
    this.options.events?.nack?.(type, message);
  }

  /** Commits the staged change and publishes if warm; undone when the consumer rejects it. `newerPending`: see SourceUpdate. */
  private accept(type: XdsType, staged: StagedChange, newerPending: boolean): Pending<UpdateVerdict> {
    const from = this.cache.generation(type.kind);
    const undo = this.cache.commit(staged);
    this.received.add(type.kind);
    const change: KindChange = { kind: type.kind, from, to: this.cache.generation(type.kind), names: [...staged.puts.keys(), ...staged.deletes] };
    return andThen(this.publishIfWarm(change, staged.deletes.size === 0, newerPending), (verdict) => {
      if (!verdict.accepted) {
        undo();
        // The undone state may lack what the rejected one had: check warming in full next time.
        this.warmWith = undefined;
      }
      return verdict;
    });
  }

  /**
   * `change`: what the commit that led here changed (lets the assembler patch rather than rebuild);
   * `onlyAdded`: that commit deleted nothing, so if everything referenced was present before, it still is.
   * `newerPending`: responses that will be handled right after this one are queued (see SourceUpdate).
   */
  private publishIfWarm(change?: KindChange, onlyAdded = false, newerPending = false): Pending<UpdateVerdict> {
    if (!this.received.has('Listener') || !this.received.has('Cluster')) return { accepted: true };
    const references = this.references.of(this.cache);
    if (!(onlyAdded && this.warmWith === references)) {
      this.warmWith = undefined;
      const missing = missingOf(this.cache, references, this.absent);
      if (!isWarm(missing)) {
        this.options.logger.debug({ missing }, 'waiting for referenced resources before publishing');
        return { accepted: true };
      }
      this.warmWith = references;
    }
    // Nothing held changed since the last publish (a SotW server resending its state after a reconnect,
    // a does-not-exist timer for a name already settled): the snapshot would be the same one again.
    const generations = XDS_TYPES.map((type) => this.cache.generation(type.kind)).join(',');
    if (this.published && generations === this.publishedGenerations) return ACCEPTED;
    const version = `xds-${this.publishCount + 1}`;
    const state = this.assembler.assemble(this.cache, references, version, change);
    // The flag goes on a view of the state: spreading it would flatten its lazy fidelity records.
    const update: SourceUpdate = newerPending
      ? {
          snapshot: state.snapshot,
          fidelityGroups: state.fidelityGroups,
          newerPending,
          get fidelity() {
            return state.fidelity;
          },
        }
      : state;
    const verdicts: Pending<UpdateVerdict>[] = [];
    for (const watcher of this.watchers) {
      const verdict = verdictOf(watcher.onUpdate(update));
      if (!isPromise(verdict) && !verdict.accepted) return verdict;
      verdicts.push(verdict);
    }
    return andThen(combined(verdicts), (verdict) => {
      if (!verdict.accepted) return verdict;
      // Only once accepted: a rejected change is undone, and what it made unreferenced must still be there.
      this.collectGarbage(references, change);
      this.publishCount += 1;
      this.published = update;
      this.publishedGenerations = generations;
      this.options.events?.published?.(version);
      return verdict;
    });
  }

  /**
   * Drop what LDS and CDS no longer reference. SotW sends no deletions for named types, and in delta we
   * unsubscribe such names, after which the server says nothing more about them: a copy kept here would
   * be published, stale, as soon as a cluster or listener referenced the name again.
   */
  private collectGarbage(references: References, change: KindChange | undefined): void {
    if (this.collectedWith === references && change) {
      // Same references as at the last collection: only what this commit put can be unreferenced.
      const keep =
        change.kind === 'RouteConfiguration'
          ? references.routeConfigs
          : change.kind === 'ClusterLoadAssignment'
            ? references.endpoints
            : change.kind === 'Secret'
              ? references.secrets
              : undefined;
      if (keep) this.cache.retainOnly(change.kind, keep, change.names);
      return;
    }
    this.cache.retainOnly('RouteConfiguration', references.routeConfigs);
    this.cache.retainOnly('ClusterLoadAssignment', references.endpoints);
    this.cache.retainOnly('Secret', references.secrets);
    this.collectedWith = references;
  }

  /** Subscribes named types to what LDS/CDS now reference, in separate requests (istiod's rule for delta). */
  private updateSubscriptions(stream: AdsStream): void {
    this.announceLocalSecrets();
    for (const type of XDS_TYPES) {
      if (type.wildcard) continue;
      const wanted = this.wantedNames(type);
      if (this.reconciled.get(type) === wanted) continue;
      const request = this.subscriptions.resubscribe(type, wanted);
      this.reconciled.set(type, wanted);
      if (!request) continue;
      for (const name of wanted) if (!this.cache.of(type.kind).has(name)) this.armDoesNotExist(type, name);
      stream.send(request);
    }
  }

  private announceLocalSecrets(): void {
    const references = this.references.of(this.cache);
    if (references === this.announcedWith) return;
    this.announcedWith = references;
    for (const name of references.localSecrets) {
      if (this.announcedLocal.has(name)) continue;
      this.announcedLocal.add(name);
      this.options.logger.info({ secret: name }, 'secret not requested from the control plane: it is delivered locally, or absent');
    }
  }

  private armDoesNotExist(type: XdsType, name: string): void {
    const key = `${type.kind}/${name}`;
    if (this.timers.has(key) || this.absent.has(key)) return;
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.enqueue(() => {
        // Arrived while earlier work waited for a verdict.
        if (this.cache.of(type.kind).has(name)) return;
        this.options.logger.warn({ type: type.short, name }, 'subscribed resource did not arrive; treating it as absent');
        this.markAbsent(type, name);
        return this.settleQuietly(this.publishIfWarm(), 'does-not-exist timeout');
      });
    }, this.options.doesNotExistTimeoutMs ?? 15_000);
    timer.unref();
    this.timers.set(key, timer);
  }

  private markAbsent(type: XdsType, name: string): void {
    const key = `${type.kind}/${name}`;
    this.absent.add(key);
    // Known absent (delta removed_resources): the does-not-exist timer is moot, and would publish again.
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
  }

  private resolved(type: XdsType, name: string): void {
    const key = `${type.kind}/${name}`;
    this.absent.delete(key);
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
  }
}

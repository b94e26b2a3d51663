// DeltaAggregatedResources: incremental ADS. Per type: the subscription, the last nonce sent, and what the
// client holds (name -> version, or null once told the name does not exist). Every response is the
// difference between that and the store, so pushes, (re)subscriptions and initial_resource_versions all go
// through one reconcile(). Request handling follows istiod's `shouldRespondDelta` (pilot/pkg/xds/delta.go).
import type { DeltaDiscoveryRequest, DeltaDiscoveryResponse, Resource } from '../envoy/ads-protocol.js';
import { versionOf, type ResourceChange } from './resource-store.js';
import { Subscription, WILDCARD } from './subscription.js';
import type { ProtocolViolation, XdsRequestEvent } from './types.js';
import { WILDCARD_TYPE_URLS, XdsStream } from './xds-stream.js';

interface TypeState {
  readonly subscription: Subscription;
  lastNonce: string;
  /** What the client holds: a version, or null after it was told the (explicitly named) resource is absent. */
  readonly known: Map<string, string | null>;
  /** Names that must be answered even though absent: unsubscribed from a wildcard stream (xds_protocol). */
  readonly mustAnswer: Set<string>;
}

export class DeltaStream extends XdsStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse> {
  protected readonly types = new Map<string, TypeState>();

  protected handle(request: DeltaDiscoveryRequest): void {
    this.noteNode(request.node);
    const { typeUrl, responseNonce: nonce } = request;
    const subscribe = request.resourceNamesSubscribe;
    const unsubscribe = request.resourceNamesUnsubscribe;
    const initial = request.initialResourceVersions;
    let state = this.types.get(typeUrl);
    const first = state === undefined;
    const stale = !first && nonce !== '' && nonce !== state?.lastNonce;
    const nack = request.errorDetail;
    const event: XdsRequestEvent = {
      stream: this.id,
      mode: 'delta',
      typeUrl,
      nonce,
      ack: !nack && !first && nonce !== '' && nonce === state?.lastNonce,
      ...(nack ? { nack: { code: nack.code, message: nack.message } } : {}),
      stale,
      subscribe: [...subscribe],
      unsubscribe: [...unsubscribe],
      ...(Object.keys(initial).length > 0 ? { initialResourceVersions: { ...initial } } : {}),
      ...(request.node ? { node: request.node } : {}),
    };
    this.ctx.log.record(event);
    this.ctx.emit({ kind: 'request', request: event });
    if (nack) return;
    // istiod drops a stale request whole; the spec says its subscription changes still count.
    if (stale && this.ctx.istiodStrict) return;

    if (!state) {
      const subscription = new Subscription(WILDCARD_TYPE_URLS.has(typeUrl));
      state = { subscription, lastNonce: '', known: new Map(), mustAnswer: new Set() };
      this.types.set(typeUrl, state);
      // Reconnect: trust what the client says it holds, so unchanged resources are not sent again.
      for (const [name, version] of Object.entries(initial)) state.known.set(name, version);
    }
    const change = state.subscription.update(subscribe, unsubscribe, first);
    // istiod's INIT skips the check; afterwards subscription changes belong in nonce-less requests only.
    if (!first && !stale && this.ctx.istiodStrict) {
      const spontaneous = nonce === '';
      if (spontaneous !== change.changed) {
        this.violation({
          kind: spontaneous ? 'spontaneous-request-changed-nothing' : 'ack-changed-subscriptions',
          stream: this.id,
          typeUrl,
          nonce,
          subscribe: [...subscribe],
          unsubscribe: [...unsubscribe],
        });
      }
    }
    // "A server must resend every name in resource_names_subscribe", except what initial versions vouch for.
    for (const name of subscribe) {
      if (name !== WILDCARD && !(first && Object.hasOwn(initial, name))) state.known.delete(name);
    }
    for (const name of change.unsubscribed) {
      state.known.delete(name);
      if (state.subscription.wildcard) state.mustAnswer.add(name);
    }
    if (unsubscribe.includes(WILDCARD) && !state.subscription.wildcard) {
      // Leaving wildcard: the client drops what it held only through it.
      for (const name of [...state.known.keys()]) if (!state.subscription.hasName(name)) state.known.delete(name);
    }
    this.reconcile(typeUrl, state);
  }

  onChange(change: ResourceChange): void {
    const state = this.types.get(change.typeUrl);
    if (state) this.reconcile(change.typeUrl, state);
  }

  private violation(violation: ProtocolViolation): void {
    this.ctx.log.violations.push(violation);
    this.ctx.emit({ kind: 'violation', violation });
  }

  /** Send what the client lacks and remove what it holds but the store no longer has. */
  private reconcile(typeUrl: string, state: TypeState): void {
    const { store } = this.ctx;
    // A type never set is held (no "does not exist" answers either) until its first setResources.
    if (!store.isReady(typeUrl)) return;
    const { subscription, known, mustAnswer } = state;
    const resources: Resource[] = [];
    const sentNames: string[] = [];
    const removed = new Set<string>();
    for (const name of store.names(typeUrl)) {
      if (!subscription.wants(name)) continue;
      const entries = store.get(typeUrl, name) ?? [];
      const version = versionOf(entries);
      if (known.get(name) === version) continue;
      for (const e of entries) resources.push({ name: e.name, aliases: [], version: e.version, resource: e.any });
      sentNames.push(name);
      known.set(name, version);
    }
    for (const [name, version] of known) {
      if (version === null || store.get(typeUrl, name)) continue;
      removed.add(name);
      // Keep a "told absent" mark only for explicit names, so a later appearance is sent.
      if (subscription.hasName(name)) known.set(name, null);
      else known.delete(name);
    }
    // Explicitly requested but absent: say so (xds_protocol "Knowing When a Requested Resource Does Not Exist").
    for (const name of subscription.names) {
      if (known.has(name) || store.get(typeUrl, name)) continue;
      removed.add(name);
      known.set(name, null);
    }
    for (const name of mustAnswer) if (!store.get(typeUrl, name)) removed.add(name);
    mustAnswer.clear();
    if (resources.length === 0 && removed.size === 0) return;

    const nonce = this.nextNonce();
    const version = store.version(typeUrl);
    const response: DeltaDiscoveryResponse = {
      systemVersionInfo: version,
      resources,
      typeUrl,
      removedResources: [...removed],
      removedResourceNames: [],
      nonce,
      ...(this.ctx.controlPlane ? { controlPlane: this.ctx.controlPlane } : {}),
    };
    if (!this.send(response)) return;
    state.lastNonce = nonce;
    this.ctx.emit({
      kind: 'response',
      stream: this.id,
      mode: 'delta',
      typeUrl,
      nonce,
      version,
      resources: sentNames,
      removed: [...removed],
    });
  }
}

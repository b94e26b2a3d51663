// StreamAggregatedResources: state-of-the-world ADS. Per type: the subscription and the last nonce sent.
// When to answer follows istiod's `ShouldRespond` (pkg/xds/server.go): a NACK is recorded and not
// answered; a stale nonce is ignored; an ACK with unchanged names is not answered; added names are.
import type { DiscoveryRequest, DiscoveryResponse } from '../envoy/ads-protocol.js';
import type { ResourceChange } from './resource-store.js';
import { Subscription } from './subscription.js';
import type { XdsRequestEvent } from './types.js';
import { WILDCARD_TYPE_URLS, XdsStream } from './xds-stream.js';

interface TypeState {
  readonly subscription: Subscription;
  /** '' until the first response of the type on this stream. */
  lastNonce: string;
}

export class SotwStream extends XdsStream<DiscoveryRequest, DiscoveryResponse> {
  protected readonly types = new Map<string, TypeState>();

  protected handle(request: DiscoveryRequest): void {
    this.noteNode(request.node);
    const { typeUrl, responseNonce: nonce } = request;
    const state = this.types.get(typeUrl);
    const stale = state !== undefined && nonce !== '' && nonce !== state.lastNonce;
    const nack = request.errorDetail;
    const event: XdsRequestEvent = {
      stream: this.id,
      mode: 'sotw',
      typeUrl,
      nonce,
      versionInfo: request.versionInfo,
      ack: !nack && state !== undefined && nonce !== '' && nonce === state.lastNonce,
      ...(nack ? { nack: { code: nack.code, message: nack.message } } : {}),
      stale,
      resourceNames: [...request.resourceNames],
      ...(request.node ? { node: request.node } : {}),
    };
    this.ctx.log.record(event);
    this.ctx.emit({ kind: 'request', request: event });
    // Detect a NACK by error_detail, not by version (xds_protocol). Its names are not taken either: the
    // client will repeat its interest on the next request.
    if (nack || stale) return;

    if (!state || nonce === '') {
      // First request of the type on this stream, or a nonce-less one: istiod treats both as INIT.
      const fresh = state ?? { subscription: new Subscription(WILDCARD_TYPE_URLS.has(typeUrl)), lastNonce: '' };
      this.types.set(typeUrl, fresh);
      fresh.subscription.setNames(request.resourceNames);
      this.respond(typeUrl, fresh);
      return;
    }

    const change = state.subscription.setNames(request.resourceNames);
    // Full-state types must see removals and wildcard switches; for the others a smaller set needs nothing
    // sent (xds_protocol "Deleting Resources"), and an empty list is an unsubscribe.
    const fullState = state.subscription.allowsWildcard;
    const answer = change.added.length > 0 || (fullState && (change.removed.length > 0 || change.wildcardChanged));
    if (answer) this.respond(typeUrl, state);
  }

  onChange(change: ResourceChange): void {
    const state = this.types.get(change.typeUrl);
    // Every subscribed stream gets the new state, even when none of its names changed: a new version is
    // what Envoy's warming waits for, and tests use a re-set to force a push.
    if (state) this.respond(change.typeUrl, state);
  }

  private respond(typeUrl: string, state: TypeState): void {
    const { store } = this.ctx;
    // A type never set is held, as go-control-plane holds a watch, rather than answered empty.
    if (state.subscription.isEmpty() || !store.isReady(typeUrl)) return;
    // Entries in the store's order, duplicates included; unknown names are simply absent (SotW has no
    // "does not exist" signal besides absence).
    const entries = store.entries(typeUrl).filter((e) => state.subscription.wants(e.name));
    const nonce = this.nextNonce();
    const version = store.version(typeUrl);
    const response: DiscoveryResponse = {
      versionInfo: version,
      resources: entries.map((e) => e.any),
      canary: false,
      typeUrl,
      nonce,
      ...(this.ctx.controlPlane ? { controlPlane: this.ctx.controlPlane } : {}),
    };
    if (!this.send(response)) return;
    state.lastNonce = nonce;
    this.ctx.emit({
      kind: 'response',
      stream: this.id,
      mode: 'sotw',
      typeUrl,
      nonce,
      version,
      resources: entries.map((e) => e.name),
      removed: [],
    });
  }
}

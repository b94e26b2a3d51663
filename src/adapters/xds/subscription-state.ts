// Per-type protocol state of one client: what is subscribed, the nonce of the last response on the
// current stream, and (SotW) the last accepted version, which survives reconnects. Builds every
// request, so the rules live in one place: ACK = version + nonce (SotW) or nonce alone (delta);
// NACK = previous good version + nonce + error_detail; subscription changes in delta go in their
// own nonce-less request, never on an ACK (istiod rejects those).
import type { DeltaDiscoveryRequest, DiscoveryRequest, Status } from '../envoy/ads-protocol.js';
import type { XdsType } from './xds-types.js';

export type AdsRequest = { readonly mode: 'sotw'; readonly request: DiscoveryRequest } | { readonly mode: 'delta'; readonly request: DeltaDiscoveryRequest };

export interface ResponseMeta {
  readonly nonce: string;
  readonly version: string;
}

interface TypeState {
  subscribed: boolean;
  names: Set<string>;
  nonce: string;
  acceptedVersion: string;
}

const sorted = (names: Iterable<string>): string[] => [...names].sort();

export class SubscriptionState {
  private readonly types = new Map<string, TypeState>();

  constructor(private readonly mode: 'sotw' | 'delta') {}

  private state(type: XdsType): TypeState {
    let state = this.types.get(type.typeUrl);
    if (!state) this.types.set(type.typeUrl, (state = { subscribed: false, names: new Set(), nonce: '', acceptedVersion: '' }));
    return state;
  }

  /** Nonces do not survive a stream; subscriptions are sent again by initialRequest. */
  newStream(): void {
    for (const state of this.types.values()) {
      state.nonce = '';
      state.subscribed = false;
    }
  }

  isSubscribed(type: XdsType): boolean {
    return this.state(type).subscribed;
  }

  subscribedNames(type: XdsType): ReadonlySet<string> {
    return this.state(type).names;
  }

  /**
   * The first request of a type on a stream: wildcard types always, named types once something
   * references them. Delta lists what we hold so the server can skip unchanged resources.
   */
  initialRequest(type: XdsType, names: ReadonlySet<string> | undefined, held: Record<string, string>): AdsRequest | undefined {
    if (!type.wildcard && (!names || names.size === 0)) return undefined;
    const state = this.state(type);
    state.subscribed = true;
    state.names = new Set(names ?? []);
    if (this.mode === 'sotw') {
      return { mode: 'sotw', request: sotwRequest(type, state.acceptedVersion, '', sorted(state.names)) };
    }
    const initialResourceVersions = type.wildcard ? held : Object.fromEntries(Object.entries(held).filter(([name]) => state.names.has(name)));
    return {
      mode: 'delta',
      request: deltaRequest(type, { resourceNamesSubscribe: type.wildcard ? ['*'] : sorted(state.names), initialResourceVersions }),
    };
  }

  ack(type: XdsType, meta: ResponseMeta): AdsRequest {
    const state = this.state(type);
    state.nonce = meta.nonce;
    if (this.mode === 'delta') return { mode: 'delta', request: deltaRequest(type, { responseNonce: meta.nonce }) };
    state.acceptedVersion = meta.version;
    return { mode: 'sotw', request: sotwRequest(type, meta.version, meta.nonce, sorted(state.names)) };
  }

  nack(type: XdsType, meta: ResponseMeta, errorDetail: Status): AdsRequest {
    const state = this.state(type);
    state.nonce = meta.nonce;
    if (this.mode === 'delta') return { mode: 'delta', request: deltaRequest(type, { responseNonce: meta.nonce, errorDetail }) };
    return { mode: 'sotw', request: { ...sotwRequest(type, state.acceptedVersion, meta.nonce, sorted(state.names)), errorDetail } };
  }

  /** The request that moves a named type's subscription to `wanted`, or undefined if unchanged. */
  resubscribe(type: XdsType, wanted: ReadonlySet<string>): AdsRequest | undefined {
    const state = this.state(type);
    if (!state.subscribed) return this.initialRequest(type, wanted, {});
    const added = [...wanted].filter((n) => !state.names.has(n));
    const removed = [...state.names].filter((n) => !wanted.has(n));
    if (added.length === 0 && removed.length === 0) return undefined;
    state.names = new Set(wanted);
    if (this.mode === 'delta') {
      return { mode: 'delta', request: deltaRequest(type, { resourceNamesSubscribe: added.sort(), resourceNamesUnsubscribe: removed.sort() }) };
    }
    // SotW: a new request supersedes the previous one of its type; it carries the latest nonce.
    return { mode: 'sotw', request: sotwRequest(type, state.acceptedVersion, state.nonce, sorted(wanted)) };
  }
}

function sotwRequest(type: XdsType, versionInfo: string, responseNonce: string, resourceNames: string[]): DiscoveryRequest {
  return { versionInfo, node: undefined, resourceNames, resourceLocators: [], typeUrl: type.typeUrl, responseNonce, errorDetail: undefined };
}

function deltaRequest(type: XdsType, fields: Partial<DeltaDiscoveryRequest>): DeltaDiscoveryRequest {
  return {
    node: undefined,
    typeUrl: type.typeUrl,
    resourceNamesSubscribe: [],
    resourceNamesUnsubscribe: [],
    resourceLocatorsSubscribe: [],
    resourceLocatorsUnsubscribe: [],
    initialResourceVersions: {},
    responseNonce: '',
    errorDetail: undefined,
    ...fields,
  };
}

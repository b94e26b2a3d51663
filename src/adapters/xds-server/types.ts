// Public value types of the in-process xDS server: what callers hand in (resources, options) and what
// they observe (request events, protocol violations, log events, stream snapshots). No behaviour here,
// so the stream handlers, the request log and the server can share them without importing each other.
import type { Node } from '../envoy/ads-protocol.js';

export type XdsMode = 'sotw' | 'delta';

/** A raw `google.protobuf.Any`: lets tests send bytes that do not decode, or carry another type URL. */
export interface RawAny {
  readonly typeUrl: string;
  readonly value: Uint8Array;
}

export interface ResourceInput {
  readonly name: string;
  /** Encoded message bytes (wrapped in an Any of the set's type URL), or the Any itself, sent as given. */
  readonly resource: Uint8Array | RawAny;
  /** Delta `Resource.version`. Defaults to a hash of the Any, so re-setting identical bytes is "unchanged". */
  readonly version?: string;
}

export interface SetResourcesOptions {
  /** SotW `version_info` / Delta `system_version_info` of the type. Defaults to a per-type counter. */
  readonly version?: string;
}

export interface XdsRequestEvent {
  /** Server-wide stream id, increasing; a reconnect gets a new one. */
  readonly stream: number;
  readonly mode: XdsMode;
  readonly typeUrl: string;
  /** `response_nonce` as sent ('' on an initial or spontaneous request). */
  readonly nonce: string;
  /** SotW only: `version_info`. */
  readonly versionInfo?: string;
  /** The nonce is the last one this stream was sent for this type and `error_detail` is unset. */
  readonly ack: boolean;
  /** Set when `error_detail` was present; such a request is recorded and never answered. */
  readonly nack?: { readonly code: number; readonly message: string };
  /** The nonce is neither empty nor the latest sent for this type: ignored, as istiod does. */
  readonly stale: boolean;
  /** SotW only. */
  readonly resourceNames?: readonly string[];
  /** Delta only. */
  readonly subscribe?: readonly string[];
  readonly unsubscribe?: readonly string[];
  /** Delta only, and only when the request carried any. */
  readonly initialResourceVersions?: Readonly<Record<string, string>>;
  /** Only when the request carried one (normally the first request of a stream). */
  readonly node?: Node;
}

export type ViolationKind =
  /** istiod: "Subscribed resources check mismatch" with an ACK that changes subscriptions. */
  | 'ack-changed-subscriptions'
  /** istiod: the same message for a nonce-less request that changes nothing. */
  | 'spontaneous-request-changed-nothing';

export interface ProtocolViolation {
  readonly kind: ViolationKind;
  readonly stream: number;
  readonly typeUrl: string;
  readonly nonce: string;
  readonly subscribe: readonly string[];
  readonly unsubscribe: readonly string[];
}

export interface SubscriptionInfo {
  readonly typeUrl: string;
  readonly wildcard: boolean;
  readonly names: readonly string[];
}

export interface StreamInfo {
  readonly stream: number;
  readonly mode: XdsMode;
  readonly peer: string;
  readonly node?: Node;
  readonly subscriptions: readonly SubscriptionInfo[];
}

export type XdsServerLogEvent =
  | { readonly kind: 'listening'; readonly address: string }
  | { readonly kind: 'stopped' }
  | { readonly kind: 'stream-opened'; readonly stream: number; readonly mode: XdsMode; readonly peer: string }
  | { readonly kind: 'stream-closed'; readonly stream: number; readonly mode: XdsMode; readonly reason: string }
  | { readonly kind: 'request'; readonly request: XdsRequestEvent }
  | {
      readonly kind: 'response';
      readonly stream: number;
      readonly mode: XdsMode;
      readonly typeUrl: string;
      readonly nonce: string;
      readonly version: string;
      readonly resources: readonly string[];
      readonly removed: readonly string[];
    }
  | { readonly kind: 'violation'; readonly violation: ProtocolViolation }
  | { readonly kind: 'error'; readonly stream?: number; readonly message: string };

export interface XdsServerOptions {
  readonly logger?: (event: XdsServerLogEvent) => void;
  /**
   * Delta only: behave like istiod's `pilot/pkg/xds/delta.go`. Record a violation for an ACK that changes
   * subscriptions and for a nonce-less request that changes nothing, and drop stale-nonce requests whole
   * (the spec would still honour their subscription changes).
   */
  readonly istiodStrict?: boolean;
  /** How long stop() waits for clients to go away before forcing. Default 250 ms. */
  readonly stopGraceMs?: number;
  /** `control_plane.identifier` on every response. */
  readonly controlPlaneId?: string;
  /** Serve TLS (istiod's 15012): PEM certificate chain and key; with `clientCa`, clients must present a certificate it signed. */
  readonly tls?: { readonly certChain: string; readonly privateKey: string; readonly clientCa?: string };
  /** Streams without `authorization: Bearer <token>` are refused with UNAUTHENTICATED (istiod's JWT check). */
  readonly requiredToken?: string;
}

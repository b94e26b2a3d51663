// What SotW and Delta streams share: the gRPC call, the per-stream nonce counter, writes that never throw,
// and the end of a stream. A client hanging up is normal, so every exit path just settles bookkeeping once.
import { status as GrpcStatus, type ServerDuplexStream } from '@grpc/grpc-js';
import type { ControlPlane, Node } from '../envoy/ads-protocol.js';
import { messageOf, type RequestLog } from './request-log.js';
import type { ResourceChange, ResourceStore } from './resource-store.js';
import type { StreamInfo, SubscriptionInfo, XdsMode, XdsServerLogEvent } from './types.js';
import type { Subscription } from './subscription.js';

/** What a stream needs from its server; the server owns the store, the log and the set of live streams. */
export interface StreamContext {
  readonly store: ResourceStore;
  readonly log: RequestLog;
  readonly istiodStrict: boolean;
  readonly controlPlane: ControlPlane | undefined;
  emit(event: XdsServerLogEvent): void;
  closed(stream: XdsStream, reason: string): void;
}

export interface CloseStatus {
  readonly code: GrpcStatus;
  readonly details: string;
}

/** Types whose SotW responses must carry the full state and that may be wildcard (xds_protocol, istiod). */
export const WILDCARD_TYPE_URLS: ReadonlySet<string> = new Set(['type.googleapis.com/envoy.config.listener.v3.Listener', 'type.googleapis.com/envoy.config.cluster.v3.Cluster']);

export abstract class XdsStream<Req = unknown, Res = unknown> {
  private nonceCounter = 0;
  private done = false;
  private firstNode: Node | undefined;

  constructor(
    readonly id: number,
    readonly mode: XdsMode,
    private readonly call: ServerDuplexStream<Req, Res>,
    protected readonly ctx: StreamContext,
  ) {
    call.on('data', (request: Req) => this.guard(() => this.handle(request)));
    // A client half-close ends the RPC: answer with OK so the call completes on both sides.
    call.on('end', () => this.guard(() => this.end('client half-closed', () => call.writableEnded || call.end())));
    call.on('cancelled', () => this.end('client cancelled'));
    call.on('error', (e: Error) => this.end(`stream error: ${e.message}`));
    call.on('close', () => this.end('closed'));
  }

  get isOpen(): boolean {
    return !this.done;
  }

  /** React to a store mutation of one type; only streams subscribed to it answer. */
  abstract onChange(change: ResourceChange): void;

  protected abstract handle(request: Req): void;

  /** Per-type state; each protocol keeps more than the subscription, which is all that is shared. */
  protected abstract readonly types: ReadonlyMap<string, { readonly subscription: Subscription }>;

  protected subscriptions(): SubscriptionInfo[] {
    return [...this.types].map(([typeUrl, { subscription }]) => ({ typeUrl, wildcard: subscription.wildcard, names: subscription.names }));
  }

  info(): StreamInfo {
    return {
      stream: this.id,
      mode: this.mode,
      peer: this.peer(),
      ...(this.firstNode ? { node: this.firstNode } : {}),
      subscriptions: this.subscriptions(),
    };
  }

  /** End the RPC with a status (UNAVAILABLE by default, which clients treat as "reconnect"). */
  close(status: CloseStatus = { code: GrpcStatus.UNAVAILABLE, details: 'xds-server: stream closed by server' }): void {
    if (this.done) return;
    this.end(`closed by server: ${status.details}`);
    try {
      // grpc-js turns an 'error' event carrying {code, details} into the trailing status and ends the call.
      this.call.emit('error', Object.assign(new Error(status.details), status));
    } catch (e) {
      this.ctx.emit({ kind: 'error', stream: this.id, message: `closing stream: ${messageOf(e)}` });
    }
  }

  /** Remember the node: only the first request of a stream is guaranteed to carry it. */
  protected noteNode(node: Node | undefined): void {
    if (node && !this.firstNode) this.firstNode = node;
  }

  /** Monotonic per stream; the stream id prefix keeps nonces of different streams apart in test logs. */
  protected nextNonce(): string {
    this.nonceCounter += 1;
    return `${this.id}.${this.nonceCounter}`;
  }

  protected send(response: Res): boolean {
    if (this.done || this.call.destroyed || this.call.writableEnded) return false;
    try {
      this.call.write(response);
      return true;
    } catch (e) {
      this.ctx.emit({ kind: 'error', stream: this.id, message: `write failed: ${messageOf(e)}` });
      return false;
    }
  }

  protected guard(action: () => void): void {
    try {
      action();
    } catch (e) {
      // A bug here must not take the server down; report it where tests and embedders can see it.
      this.ctx.emit({ kind: 'error', stream: this.id, message: messageOf(e) });
    }
  }

  private peer(): string {
    try {
      return this.call.getPeer();
    } catch {
      return 'unknown';
    }
  }

  private end(reason: string, then?: () => void): void {
    if (this.done) return;
    this.done = true;
    then?.();
    this.ctx.closed(this, reason);
  }
}

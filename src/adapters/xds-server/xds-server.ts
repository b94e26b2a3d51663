// An in-process ADS server (SotW and Delta) for client tests and embedders: serves whatever resources the
// caller sets, follows istiod's answering rules, and records every request it sees. It is the transport
// half of go-control-plane's cache/server split: the store never sees a stream, and the streams look at
// nothing in a resource except its name. Never throws from a gRPC handler; a client hanging up is normal.
import { Metadata, Server, ServerCredentials, status as GrpcStatus } from '@grpc/grpc-js';
import {
  AggregatedDiscoveryServiceService,
  SecretDiscoveryServiceService,
  type AggregatedDiscoveryServiceServer,
  type SecretDiscoveryServiceServer,
} from '../envoy/ads-protocol.js';
import type { ControlPlane } from '../envoy/ads-protocol.js';
import { DeltaStream } from './delta-stream.js';
import { messageOf, RequestLog, type RequestListener, type WaitForOptions } from './request-log.js';
import { ResourceStore, type ResourceChange } from './resource-store.js';
import { SotwStream } from './sotw-stream.js';
import type { ProtocolViolation, ResourceInput, SetResourcesOptions, StreamInfo, XdsMode, XdsRequestEvent, XdsServerLogEvent, XdsServerOptions } from './types.js';
import type { CloseStatus, StreamContext } from './xds-stream.js';

export type * from './types.js';
export type { CloseStatus } from './xds-stream.js';
export type { RequestListener, WaitForOptions } from './request-log.js';

/** Istio's own clients use math.MaxInt32; gRPC's 4 MiB default breaks at ~1000 services (contract §A.8). */
const MAX_MESSAGE_BYTES = 2 ** 31 - 1;
const DEFAULT_STOP_GRACE_MS = 250;

export class XdsServer {
  private server: Server | undefined;
  private boundAddress: string | undefined;
  private nextStreamId = 0;
  private readonly streams = new Map<number, SotwStream | DeltaStream>();
  private readonly store = new ResourceStore();
  private readonly log: RequestLog;
  private readonly ctx: StreamContext;

  constructor(private readonly options: XdsServerOptions = {}) {
    this.log = new RequestLog((message) => this.emit({ kind: 'error', message }));
    const controlPlane: ControlPlane | undefined = options.controlPlaneId !== undefined ? { identifier: options.controlPlaneId } : undefined;
    this.ctx = {
      store: this.store,
      log: this.log,
      istiodStrict: options.istiodStrict ?? false,
      controlPlane,
      emit: (event) => this.emit(event),
      closed: (stream, reason) => {
        this.streams.delete(stream.id);
        this.emit({ kind: 'stream-closed', stream: stream.id, mode: stream.mode, reason });
      },
    };
  }

  /** The address clients should dial, once started. */
  get address(): string | undefined {
    return this.boundAddress;
  }

  /**
   * Listen on `host:port` (port 0 picks one) or `unix:/path`; resolves to the bound address. Resources,
   * the request log and stream ids survive a stop() and a new start(), so server restarts can be tested.
   */
  async start(address: string): Promise<string> {
    if (this.server) throw new Error(`xds-server: already listening on ${this.boundAddress ?? address}`);
    const server = new Server({
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    });
    const implementation: AggregatedDiscoveryServiceServer = {
      streamAggregatedResources: (call) => {
        if (this.authorized(call)) this.accept('sotw', () => new SotwStream(this.nextId(), 'sotw', call, this.ctx));
      },
      deltaAggregatedResources: (call) => {
        if (this.authorized(call)) this.accept('delta', () => new DeltaStream(this.nextId(), 'delta', call, this.ctx));
      },
    };
    server.addService(AggregatedDiscoveryServiceService, implementation);
    // SDS as pilot-agent serves it on its unix socket: the same SotW protocol, Secrets only.
    const sds: Pick<SecretDiscoveryServiceServer, 'streamSecrets'> = {
      streamSecrets: (call) => {
        if (this.authorized(call)) this.accept('sotw', () => new SotwStream(this.nextId(), 'sotw', call, this.ctx));
      },
    };
    server.addService(SecretDiscoveryServiceService, sds as SecretDiscoveryServiceServer);
    let port: number;
    try {
      port = await new Promise<number>((resolve, reject) => server.bindAsync(address, this.credentials(), (e, bound) => (e ? reject(e) : resolve(bound))));
    } catch (e) {
      server.forceShutdown();
      throw new Error(`xds-server: cannot listen on ${address}: ${messageOf(e)}`, { cause: e });
    }
    this.server = server;
    // A unix socket has no port to report; for TCP the bound port replaces a requested 0.
    this.boundAddress = address.startsWith('unix:') ? address : `${address.slice(0, address.lastIndexOf(':'))}:${port}`;
    this.emit({ kind: 'listening', address: this.boundAddress });
    return this.boundAddress;
  }

  private credentials(): ServerCredentials {
    const tls = this.options.tls;
    if (!tls) return ServerCredentials.createInsecure();
    const ca = tls.clientCa ? Buffer.from(tls.clientCa) : null;
    return ServerCredentials.createSsl(ca, [{ cert_chain: Buffer.from(tls.certChain), private_key: Buffer.from(tls.privateKey) }], ca !== null);
  }

  /** istiod refuses streams without a valid JWT; so does this server when it is given a token. */
  private authorized(call: { metadata: Metadata; emit(event: 'error', error: object): boolean }): boolean {
    const token = this.options.requiredToken;
    if (token === undefined) return true;
    if (call.metadata.get('authorization')[0] === `Bearer ${token}`) return true;
    this.emit({ kind: 'error', message: 'stream refused: missing or wrong bearer token' });
    call.emit('error', { code: GrpcStatus.UNAUTHENTICATED, details: 'authentication failure' });
    return false;
  }

  /**
   * End every stream with UNAVAILABLE, let connections close for `stopGraceMs`, then force. Pending
   * waitFor() calls are rejected, so nothing of the server keeps the process alive.
   */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.boundAddress = undefined;
    this.disconnectAll({ code: GrpcStatus.UNAVAILABLE, details: 'xds-server: shutting down' });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, this.options.stopGraceMs ?? DEFAULT_STOP_GRACE_MS);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.log.rejectWaiters('server stopped');
    this.emit({ kind: 'stopped' });
  }

  /**
   * Replace the whole set of one type and push: SotW streams get the full state (LDS/CDS) or their
   * subscribed names (others), Delta streams only what changed plus removed_resources. Returns the type's
   * new version (SotW `version_info`, Delta `system_version_info`).
   */
  setResources(typeUrl: string, resources: readonly ResourceInput[], options?: SetResourcesOptions): string {
    const change = this.store.set(typeUrl, resources, options);
    this.push(change);
    return change.version;
  }

  /** Drop some names of one type and push; removing nothing present is a no-op (no new version). */
  removeResources(typeUrl: string, names: readonly string[]): string {
    const change = this.store.remove(typeUrl, names);
    if (change.changed.length > 0 || change.removed.length > 0) this.push(change);
    return change.version;
  }

  /** End every open stream (UNAVAILABLE unless told otherwise) while still listening: clients reconnect. */
  disconnectAll(status?: CloseStatus): number {
    const open = [...this.streams.values()];
    for (const stream of open) stream.close(status);
    return open.length;
  }

  onRequest(listener: RequestListener): () => void {
    return this.log.onRequest(listener);
  }

  /** The first request (from now on, or from `options.since` in `requests`) matching `predicate`. */
  waitFor(predicate: (event: XdsRequestEvent) => boolean, timeoutMs: number, options?: WaitForOptions): Promise<XdsRequestEvent> {
    return this.log.waitFor(predicate, timeoutMs, options);
  }

  /** Every request received since construction, in order (a live view). */
  get requests(): readonly XdsRequestEvent[] {
    return this.log.requests;
  }

  /** Recorded only with `istiodStrict`: what istiod would log as "Subscribed resources check mismatch". */
  violations(): readonly ProtocolViolation[] {
    return [...this.log.violations];
  }

  connectedStreams(): StreamInfo[] {
    return [...this.streams.values()].filter((s) => s.isOpen).map((s) => s.info());
  }

  private nextId(): number {
    this.nextStreamId += 1;
    return this.nextStreamId;
  }

  private accept(mode: XdsMode, create: () => SotwStream | DeltaStream): void {
    try {
      const stream = create();
      // A call cancelled before its handler ran has already reported itself closed.
      if (!stream.isOpen) return;
      this.streams.set(stream.id, stream);
      this.emit({ kind: 'stream-opened', stream: stream.id, mode, peer: stream.info().peer });
    } catch (e) {
      this.emit({ kind: 'error', message: `accepting a ${mode} stream: ${messageOf(e)}` });
    }
  }

  private push(change: ResourceChange): void {
    for (const stream of [...this.streams.values()]) {
      try {
        stream.onChange(change);
      } catch (e) {
        this.emit({ kind: 'error', stream: stream.id, message: `pushing ${change.typeUrl}: ${messageOf(e)}` });
      }
    }
  }

  private emit(event: XdsServerLogEvent): void {
    try {
      this.options.logger?.(event);
    } catch {
      // A failing logger must not break the protocol it is logging.
    }
  }
}

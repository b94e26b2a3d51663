// The controller's gRPC delivery server: sidecars subscribe with their pod identity and get the
// pod's merged plugin set at once and after every change. One pod may have several streams (a
// restarting sidecar overlaps its old stream); a stream that ends removes only itself.
import { readFileSync } from 'node:fs';
import { Metadata, Server, ServerCredentials, status as GrpcStatus, type ServerDuplexStream } from '@grpc/grpc-js';
import type { ControllerMetrics } from '../../ports/controller-metrics.js';
import type { Logger } from '../../ports/logger.js';
import type { PodPluginSet } from '../../ports/plugin-config-source.js';
import type { PluginDelivery, PodReport } from '../../ports/plugin-delivery.js';
import { PAUSED_TRAILER, PluginDeliveryService, type ControllerMessage, type Decoded, type SidecarMessage } from './wire.js';

export interface GrpcPluginDeliveryTls {
  readonly certFile: string;
  readonly keyFile: string;
  /** When given, sidecars must present a client certificate signed by this CA. */
  readonly clientCaFile?: string;
}

export interface GrpcPluginDeliveryOptions {
  /** `host:port` (port 0 picks one). */
  readonly address: string;
  readonly tls?: GrpcPluginDeliveryTls;
  /** Stamps the empty set of a pod nothing was published for (see VersionClock). */
  readonly nextVersion: () => number;
  readonly logger: Logger;
  readonly metrics?: Pick<ControllerMetrics, 'setsSent' | 'subscribers' | 'subscription'>;
}

type Stream = ServerDuplexStream<Decoded<SidecarMessage>, ControllerMessage>;

// Dead sidecars (node gone, no FIN) are noticed by keepalive pings rather than never.
const KEEPALIVE = { 'grpc.keepalive_time_ms': 30_000, 'grpc.keepalive_timeout_ms': 10_000, 'grpc.keepalive_permit_without_calls': 1 };

export class GrpcPluginDelivery implements PluginDelivery {
  private server: Server | undefined;
  private bound: string | undefined;
  private readonly sets = new Map<string, PodPluginSet>();
  private readonly streams = new Map<string, Set<Stream>>();
  private readonly listeners: ((report: PodReport) => void)[] = [];
  /** Why subscriptions are refused now; undefined while delivering. */
  private paused: string | undefined;

  constructor(private readonly options: GrpcPluginDeliveryOptions) {}

  get target(): string {
    return `grpc://${this.bound ?? this.options.address}`;
  }

  /** Resolves to the bound `host:port`. */
  async listen(): Promise<string> {
    const server = new Server(KEEPALIVE);
    server.addService(PluginDeliveryService, { subscribe: (call: Stream) => this.accept(call) });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(this.options.address, this.credentials(), (e, p) =>
        e ? reject(new Error(`plugin delivery: cannot listen on ${this.options.address}: ${e.message}`)) : resolve(p),
      ),
    );
    this.server = server;
    this.bound = `${this.options.address.slice(0, this.options.address.lastIndexOf(':'))}:${port}`;
    return this.bound;
  }

  publish(pod: string, set: PodPluginSet): void {
    this.sets.set(pod, set);
    const streams = this.streams.get(pod) ?? new Set();
    for (const stream of streams) stream.write({ set });
    if (streams.size > 0) this.options.metrics?.setsSent(streams.size);
  }

  forget(pod: string): void {
    this.sets.delete(pod);
  }

  pause(reason: string): void {
    this.paused = reason;
    this.sets.clear();
    const streams = [...this.streams.values()].flatMap((set) => [...set]);
    this.streams.clear();
    this.countSubscribers();
    for (const stream of streams) this.unavailable(stream, reason);
    if (streams.length > 0) this.options.logger.info({ streams: streams.length, reason }, 'plugin delivery paused; subscriptions ended');
  }

  resume(): void {
    this.paused = undefined;
  }

  onReport(listener: (report: PodReport) => void): void {
    this.listeners.push(listener);
  }

  subscribers(): readonly string[] {
    return [...this.streams]
      .filter(([, s]) => s.size > 0)
      .map(([pod]) => pod)
      .sort();
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const streams of this.streams.values()) for (const stream of streams) stream.emit('error', { code: GrpcStatus.UNAVAILABLE, details: 'controller shutting down' });
    this.streams.clear();
    this.countSubscribers();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, 2000);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private credentials(): ServerCredentials {
    const tls = this.options.tls;
    if (!tls) return ServerCredentials.createInsecure();
    const clientCa = tls.clientCaFile ? readFileSync(tls.clientCaFile) : null;
    return ServerCredentials.createSsl(clientCa, [{ cert_chain: readFileSync(tls.certFile), private_key: readFileSync(tls.keyFile) }], clientCa !== null);
  }

  private countSubscribers(): void {
    let pods = 0;
    let streams = 0;
    for (const set of this.streams.values()) {
      if (set.size > 0) pods++;
      streams += set.size;
    }
    this.options.metrics?.subscribers(pods, streams);
  }

  /** UNAVAILABLE with a trailer that tells the sidecar to look for the leader soon (see GrpcPluginConfigSource). */
  private unavailable(call: Stream, details: string): void {
    const trailer = new Metadata();
    trailer.set(PAUSED_TRAILER, '1');
    call.emit('error', { code: GrpcStatus.UNAVAILABLE, details, metadata: trailer });
  }

  private accept(call: Stream): void {
    let pod: string | undefined;
    const refuse = (details: string): void => {
      this.options.logger.warn({ pod, peer: call.getPeer(), reason: details }, 'plugin subscription refused');
      this.options.metrics?.subscription('invalid');
      call.emit('error', { code: GrpcStatus.INVALID_ARGUMENT, details });
    };
    const detach = (): void => {
      if (pod && this.streams.get(pod)?.delete(call)) this.countSubscribers();
    };
    call.on('data', (message: Decoded<SidecarMessage>) => {
      if (!message.ok) return refuse(`bad message: ${message.error}`);
      const body = message.value;
      if ('subscribe' in body) {
        if (pod) return refuse('subscribe sent twice on one stream');
        if (this.paused !== undefined) {
          this.options.logger.debug(
            { pod: `${body.subscribe.namespace}/${body.subscribe.pod}`, peer: call.getPeer(), reason: this.paused },
            'plugin subscription refused: delivery paused',
          );
          this.options.metrics?.subscription('paused');
          return this.unavailable(call, this.paused);
        }
        pod = `${body.subscribe.namespace}/${body.subscribe.pod}`;
        const streams = this.streams.get(pod) ?? new Set();
        streams.add(call);
        this.streams.set(pod, streams);
        this.options.metrics?.subscription('accepted');
        this.options.metrics?.setsSent(1);
        this.countSubscribers();
        this.options.logger.debug({ pod, peer: call.getPeer() }, 'sidecar subscribed');
        call.write({ set: this.sets.get(pod) ?? { version: this.options.nextVersion(), plugins: [] } });
        return;
      }
      if (!pod) return refuse('report before subscribe');
      const report: PodReport = { ...body.report, pod };
      for (const listener of this.listeners) listener(report);
    });
    call.on('end', () => {
      detach();
      call.end();
    });
    call.on('cancelled', detach);
    call.on('error', detach);
    call.on('close', detach);
  }
}

// The sidecar end of plugin delivery: one stream to `amesh controller`, subscribed with the pod's
// identity, reopened with backoff whenever it ends (controller restart, network), for as long as
// the sidecar runs. Versions only go forward: a set that is not newer than the last one delivered
// (a resend after reconnecting) is dropped here. Each reopen uses a new connection, so a Service in
// front of several controller replicas picks again: a replica that is not the leader refuses
// (UNAVAILABLE with the paused trailer), and the sidecar retries within a second to find the one
// that is.
import { readFileSync } from 'node:fs';
import { Client, credentials, type ChannelCredentials, type ClientDuplexStream, type ServiceError } from '@grpc/grpc-js';
import type { Logger } from '../../ports/logger.js';
import type { PluginConfigSource, PluginReport, PodPluginSet } from '../../ports/plugin-config-source.js';
import { decodeControllerMessage, encodeMessage, PAUSED_TRAILER, SUBSCRIBE_PATH, type ControllerMessage, type Decoded, type SidecarMessage } from './wire.js';

export interface GrpcPluginConfigSourceOptions {
  /** The controller's `host:port`. */
  readonly target: string;
  readonly pod: { readonly namespace: string; readonly name: string };
  /** TLS to the controller: its CA, and a client certificate when it requires one. */
  readonly tls?: { readonly caFile: string; readonly certFile?: string; readonly keyFile?: string; readonly serverName?: string };
  readonly logger: Logger;
  readonly retry?: { readonly initialMs: number; readonly maxMs: number };
}

type Stream = ClientDuplexStream<SidecarMessage, Decoded<ControllerMessage>>;

/** Retry bound after a refusal by a replica that does not deliver: a leader is elected in seconds. */
const PAUSED_RETRY_MAX_MS = 1000;

export class GrpcPluginConfigSource implements PluginConfigSource {
  readonly target: string;
  private client: Client | undefined;
  private stream: Stream | undefined;
  private onSet: ((set: PodPluginSet) => void) | undefined;
  private lastVersion = -1;
  private lastReport: PluginReport | undefined;
  private closed = false;
  private retryMs: number;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: GrpcPluginConfigSourceOptions) {
    this.target = `grpc://${options.target}`;
    this.retryMs = options.retry?.initialMs ?? 200;
  }

  subscribe(onSet: (set: PodPluginSet) => void): void {
    this.onSet = onSet;
    this.open();
  }

  report(report: PluginReport): void {
    this.lastReport = report;
    this.stream?.write({ report });
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.stream?.cancel();
    this.stream = undefined;
    this.client?.close();
  }

  /** A channel of its own (not grpc-js's shared subchannel pool), so a new connection. */
  private connect(): Client {
    this.client?.close();
    const serverName = this.options.tls?.serverName;
    this.client = new Client(this.options.target, this.credentials(), {
      'grpc.keepalive_time_ms': 30_000,
      'grpc.use_local_subchannel_pool': 1,
      ...(serverName ? { 'grpc.ssl_target_name_override': serverName, 'grpc.default_authority': serverName } : {}),
    });
    return this.client;
  }

  private credentials(): ChannelCredentials {
    const tls = this.options.tls;
    if (!tls) return credentials.createInsecure();
    const read = (file: string | undefined): Buffer | null => (file ? readFileSync(file) : null);
    return credentials.createSsl(read(tls.caFile), read(tls.keyFile), read(tls.certFile));
  }

  private open(): void {
    if (this.closed) return;
    const stream: Stream = this.connect().makeBidiStreamRequest(SUBSCRIBE_PATH, encodeMessage, decodeControllerMessage);
    this.stream = stream;
    const { namespace, name } = this.options.pod;
    stream.write({ subscribe: { namespace, pod: name } });
    // A report the previous stream may have lost: the controller keeps only the latest anyway.
    if (this.lastReport) stream.write({ report: this.lastReport });
    stream.on('data', (message: Decoded<ControllerMessage>) => {
      if (!message.ok) {
        this.options.logger.warn({ target: this.options.target, reason: message.error }, 'plugin delivery: bad message from the controller; reconnecting');
        stream.cancel();
        return;
      }
      this.retryMs = this.options.retry?.initialMs ?? 200;
      const { set } = message.value;
      if (set.version < this.lastVersion)
        // Never expected (versions grow across restarts and leader changes): say so, keep the newer set.
        this.options.logger.warn({ target: this.options.target, version: set.version, inForce: this.lastVersion }, 'plugin delivery: a set older than the one in force; ignored');
      if (set.version <= this.lastVersion) return;
      this.lastVersion = set.version;
      this.onSet?.(set);
    });
    let ended = false;
    const reopen = (reason: string, paused = false): void => {
      if (ended) return;
      ended = true;
      if (this.stream === stream) this.stream = undefined;
      if (this.closed) return;
      const maxMs = Math.min(this.options.retry?.maxMs ?? 10_000, paused ? PAUSED_RETRY_MAX_MS : Infinity);
      const delayMs = Math.min(this.retryMs, maxMs);
      this.options.logger.info(
        { target: this.options.target, reason, retryMs: delayMs },
        paused ? 'plugin delivery refused by a controller replica that does not deliver; looking for the leader' : 'plugin delivery stream ended; reconnecting',
      );
      this.retryTimer = setTimeout(() => this.open(), delayMs);
      this.retryMs = Math.min(delayMs * 2, maxMs);
    };
    stream.on('error', (e: ServiceError) => reopen(e.details || e.message, e.metadata?.get(PAUSED_TRAILER).length > 0));
    stream.on('end', () => reopen('closed by the controller'));
  }
}

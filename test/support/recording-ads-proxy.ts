// A transparent ADS proxy for watching a client talk to a REAL control plane: every stream the client
// opens here is opened upstream too, messages are forwarded unchanged both ways and recorded (with the
// stream they belong to and when they passed), and the upstream's final status is handed back. Tests
// use the record to check the protocol (each response ACKed with its version and nonce, no NACK)
// without instrumenting either side.
import { Server, ServerCredentials, status as GrpcStatus, type ClientDuplexStream, type ServerDuplexStream, type StatusObject } from '@grpc/grpc-js';
import {
  AggregatedDiscoveryServiceService,
  type AggregatedDiscoveryServiceClient,
  type AggregatedDiscoveryServiceServer,
} from '../../src/adapters/envoy/generated/envoy/service/discovery/v3/ads.js';
import type {
  DeltaDiscoveryRequest,
  DeltaDiscoveryResponse,
  DiscoveryRequest,
  DiscoveryResponse,
} from '../../src/adapters/envoy/generated/envoy/service/discovery/v3/discovery.js';
import { adsClient } from './raw-ads-stream.js';

export type ProxiedMessage =
  | { readonly stream: number; readonly at: number; readonly mode: 'sotw'; readonly dir: 'request'; readonly message: DiscoveryRequest }
  | { readonly stream: number; readonly at: number; readonly mode: 'sotw'; readonly dir: 'response'; readonly message: DiscoveryResponse }
  | { readonly stream: number; readonly at: number; readonly mode: 'delta'; readonly dir: 'request'; readonly message: DeltaDiscoveryRequest }
  | { readonly stream: number; readonly at: number; readonly mode: 'delta'; readonly dir: 'response'; readonly message: DeltaDiscoveryResponse };

export type SotwResponseRecord = Extract<ProxiedMessage, { mode: 'sotw'; dir: 'response' }>;
export type DeltaResponseRecord = Extract<ProxiedMessage, { mode: 'delta'; dir: 'response' }>;

export class RecordingAdsProxy {
  readonly messages: ProxiedMessage[] = [];
  private server: Server | undefined;
  private readonly client: AggregatedDiscoveryServiceClient;
  private streams = 0;
  private readonly open = new Set<{ cancel(): void }>();

  constructor(readonly upstream: string) {
    this.client = adsClient(upstream);
  }

  /** Listens on a free loopback port; resolves to `127.0.0.1:<port>`. */
  async start(): Promise<string> {
    const server = new Server({ 'grpc.max_receive_message_length': -1, 'grpc.max_send_message_length': -1 });
    const implementation: AggregatedDiscoveryServiceServer = {
      streamAggregatedResources: (call) => this.pipe('sotw', call, this.client.streamAggregatedResources(call.metadata)),
      deltaAggregatedResources: (call) => this.pipe('delta', call, this.client.deltaAggregatedResources(call.metadata)),
    };
    server.addService(AggregatedDiscoveryServiceService, implementation);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, bound) => (e ? reject(e) : resolve(bound))),
    );
    this.server = server;
    return `127.0.0.1:${port}`;
  }

  private pipe<Req, Res>(mode: 'sotw' | 'delta', down: ServerDuplexStream<Req, Res>, up: ClientDuplexStream<Req, Res>): void {
    const stream = ++this.streams;
    const record = (dir: 'request' | 'response', message: Req | Res): void => {
      this.messages.push({ stream, at: Date.now(), mode, dir, message } as unknown as ProxiedMessage);
    };
    const handle = { cancel: () => up.cancel() };
    this.open.add(handle);
    let finished = false;
    const finish = (status: StatusObject | undefined): void => {
      if (finished) return;
      finished = true;
      this.open.delete(handle);
      if (down.destroyed || down.writableEnded) return;
      if (!status || status.code === GrpcStatus.OK) down.end();
      else down.emit('error', Object.assign(new Error(status.details), { code: status.code, details: status.details }));
    };
    down.on('data', (request: Req) => {
      record('request', request);
      up.write(request);
    });
    down.on('end', () => up.end());
    down.on('cancelled', () => up.cancel());
    down.on('error', () => up.cancel());
    up.on('data', (response: Res) => {
      record('response', response);
      if (!down.destroyed && !down.writableEnded) down.write(response);
    });
    up.on('error', () => {}); // the status follows
    up.on('status', (s: StatusObject) => finish(s));
  }

  /** Responses of one mode, in order. */
  sotwResponses(): SotwResponseRecord[] {
    return this.messages.filter((m): m is SotwResponseRecord => m.mode === 'sotw' && m.dir === 'response');
  }

  deltaResponses(): DeltaResponseRecord[] {
    return this.messages.filter((m): m is DeltaResponseRecord => m.mode === 'delta' && m.dir === 'response');
  }

  /** The first request after `response` on its stream that answers it (names its nonce), if any. */
  answerTo(response: SotwResponseRecord): Extract<ProxiedMessage, { mode: 'sotw'; dir: 'request' }> | undefined;
  answerTo(response: DeltaResponseRecord): Extract<ProxiedMessage, { mode: 'delta'; dir: 'request' }> | undefined;
  answerTo(response: SotwResponseRecord | DeltaResponseRecord): ProxiedMessage | undefined {
    const from = this.messages.indexOf(response);
    return this.messages
      .slice(from + 1)
      .find((m) => m.stream === response.stream && m.dir === 'request' && m.message.typeUrl === response.message.typeUrl && m.message.responseNonce === response.message.nonce);
  }

  /** Cancels the streams in flight and stops listening. */
  async stop(): Promise<void> {
    for (const handle of [...this.open]) handle.cancel();
    const server = this.server;
    this.server = undefined;
    if (server) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 500);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    this.client.close();
  }
}

// The gRPC side of ADS: channel (plaintext host:port, TLS/mTLS with an optional JWT, or a unix
// socket such as pilot-agent's ./etc/istio/proxy/XDS), one bidirectional stream at a time, and a
// single writer per stream that puts the node on the first request only.
import { readFileSync } from 'node:fs';
import { credentials as grpcCredentials, Metadata, status, type ChannelCredentials, type ClientDuplexStream } from '@grpc/grpc-js';
import {
  AggregatedDiscoveryServiceClient,
  type DeltaDiscoveryRequest,
  type DeltaDiscoveryResponse,
  type DiscoveryRequest,
  type DiscoveryResponse,
  type Node,
} from '../envoy/ads-protocol.js';
import type { AdsRequest } from './subscription-state.js';

export interface AdsTransportOptions {
  /** `host:port` or `unix:/path/to/socket`. */
  readonly target: string;
  readonly node: Node;
  /** TLS to the server (istiod 15012); `caFile` pins the root, `certFile`/`keyFile` give mTLS. */
  readonly tls?: { readonly caFile?: string; readonly certFile?: string; readonly keyFile?: string; readonly serverName?: string };
  /** A JWT sent as `authorization: Bearer …` (read on every stream, so rotation needs no restart). */
  readonly tokenFile?: string;
}

export interface AdsStream {
  send(request: AdsRequest): void;
  close(): void;
}

export interface AdsHandlers {
  onSotwResponse(response: DiscoveryResponse): void;
  onDeltaResponse(response: DeltaDiscoveryResponse): void;
  onClose(reason: string): void;
}

/** Istio's own clients accept responses of any size; the 4 MiB default breaks at ~1k services. */
const MAX_MESSAGE = 2 ** 31 - 1;

const CHANNEL_OPTIONS = {
  'grpc.max_receive_message_length': MAX_MESSAGE,
  'grpc.max_send_message_length': MAX_MESSAGE,
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  // The channel reconnects below the ADS client's own backoff, which decides when streams are retried.
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 2_000,
};

function channelCredentials(options: AdsTransportOptions): ChannelCredentials {
  if (!options.tls) return grpcCredentials.createInsecure();
  const read = (file: string | undefined): Buffer | null => (file ? readFileSync(file) : null);
  return grpcCredentials.createSsl(read(options.tls.caFile), read(options.tls.keyFile), read(options.tls.certFile));
}

export function grpcTarget(target: string): string {
  // grpc-js wants unix:///absolute/path or unix:relative.
  return target.startsWith('unix:') && !target.startsWith('unix://') && target.startsWith('unix:/') ? `unix://${target.slice(5)}` : target;
}

export class GrpcAdsTransport {
  private client: AggregatedDiscoveryServiceClient | undefined;

  constructor(private readonly options: AdsTransportOptions) {}

  private clientOf(): AggregatedDiscoveryServiceClient {
    const extra = this.options.tls?.serverName ? { 'grpc.ssl_target_name_override': this.options.tls.serverName } : {};
    this.client ??= new AggregatedDiscoveryServiceClient(grpcTarget(this.options.target), channelCredentials(this.options), { ...CHANNEL_OPTIONS, ...extra });
    return this.client;
  }

  open(mode: 'sotw' | 'delta', handlers: AdsHandlers): AdsStream {
    const metadata = new Metadata();
    if (this.options.tokenFile) metadata.set('authorization', `Bearer ${readFileSync(this.options.tokenFile, 'utf8').trim()}`);
    const client = this.clientOf();
    const call: ClientDuplexStream<DiscoveryRequest, DiscoveryResponse> | ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse> =
      mode === 'sotw' ? client.streamAggregatedResources(metadata) : client.deltaAggregatedResources(metadata);
    let closed = false;
    const close = (reason: string): void => {
      if (closed) return;
      closed = true;
      handlers.onClose(reason);
    };
    call.on('data', (response: DiscoveryResponse | DeltaDiscoveryResponse) => {
      if (closed) return;
      if (mode === 'sotw') handlers.onSotwResponse(response as DiscoveryResponse);
      else handlers.onDeltaResponse(response as DeltaDiscoveryResponse);
    });
    call.on('error', (error: Error & { code?: number }) => close(error.code === status.CANCELLED ? 'cancelled' : error.message));
    call.on('end', () => close('stream ended by the server'));
    let nodeSent = false;
    return {
      send: (request) => {
        if (closed) return;
        // The node goes on the first request of each stream only (set_node_on_first_message_only).
        const withNode = nodeSent ? request.request : { ...request.request, node: this.options.node };
        nodeSent = true;
        (call as ClientDuplexStream<DiscoveryRequest | DeltaDiscoveryRequest, unknown>).write(withNode);
      },
      close: () => {
        closed = true;
        call.cancel();
      },
    };
  }

  shutdown(): void {
    this.client?.close();
    this.client = undefined;
  }
}

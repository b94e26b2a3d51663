// A raw ADS stream for driving XdsServer from tests: plain @grpc/grpc-js calls built from the generated
// service definition, with responses queued so a test can await the next one or assert that none came.
import { credentials, type ClientDuplexStream, type StatusObject } from '@grpc/grpc-js';
import { AggregatedDiscoveryServiceClient } from '../../src/adapters/envoy/generated/envoy/service/discovery/v3/ads.js';
import type {
  DeltaDiscoveryRequest,
  DeltaDiscoveryResponse,
  DiscoveryRequest,
  DiscoveryResponse,
} from '../../src/adapters/envoy/generated/envoy/service/discovery/v3/discovery.js';

export class RawStream<Req, Res> {
  private readonly queued: Res[] = [];
  private readonly waiting: ((response: Res) => void)[] = [];
  /** The call's final status (server close, cancel, or error). */
  readonly status: Promise<StatusObject>;

  constructor(readonly call: ClientDuplexStream<Req, Res>) {
    call.on('data', (response: Res) => {
      const waiter = this.waiting.shift();
      if (waiter) waiter(response);
      else this.queued.push(response);
    });
    // Errors also arrive as 'status'; without a listener an error event would crash the test process.
    call.on('error', () => {});
    this.status = new Promise((resolve) => call.on('status', resolve));
  }

  send(request: Req): void {
    this.call.write(request);
  }

  next(timeoutMs = 2000): Promise<Res> {
    const queued = this.queued.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const waiter = (response: Res): void => {
        clearTimeout(timer);
        resolve(response);
      };
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(waiter), 1);
        reject(new Error(`no response within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.push(waiter);
    });
  }

  /** Resolves if nothing arrives for `ms`; rejects with what did. */
  async expectNone(ms = 150): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    if (this.queued.length > 0) throw new Error(`unexpected response: ${JSON.stringify(this.queued[0])}`);
  }

  cancel(): void {
    this.call.cancel();
  }
}

export type SotwStream = RawStream<DiscoveryRequest, DiscoveryResponse>;
export type DeltaStream = RawStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;

/** One channel per test: `close()` it, or its connection keeps the process alive. */
export function adsClient(address: string): AggregatedDiscoveryServiceClient {
  return new AggregatedDiscoveryServiceClient(address, credentials.createInsecure(), {
    'grpc.max_receive_message_length': -1,
  });
}

export const openSotw = (client: AggregatedDiscoveryServiceClient): SotwStream => new RawStream(client.streamAggregatedResources());

export const openDelta = (client: AggregatedDiscoveryServiceClient): DeltaStream => new RawStream(client.deltaAggregatedResources());

/** A DiscoveryRequest with the defaults ts-proto's interface insists on. */
export function sotwRequest(fields: Partial<DiscoveryRequest> & { typeUrl: string }): DiscoveryRequest {
  return { versionInfo: '', resourceNames: [], resourceLocators: [], responseNonce: '', ...fields };
}

export function deltaRequest(fields: Partial<DeltaDiscoveryRequest> & { typeUrl: string }): DeltaDiscoveryRequest {
  return {
    resourceNamesSubscribe: [],
    resourceNamesUnsubscribe: [],
    resourceLocatorsSubscribe: [],
    resourceLocatorsUnsubscribe: [],
    initialResourceVersions: {},
    responseNonce: '',
    ...fields,
  };
}

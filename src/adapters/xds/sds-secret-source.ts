// Workload certificates from pilot-agent's SDS socket (./var/run/secrets/workload-spiffe-uds/socket),
// as Envoy gets them: SotW SecretDiscoveryService for `default` (certificate and key) and `ROOTCA`.
// Each response is ACKed, or NACKed when a secret does not decode or fails the check every source of
// TLS material passes (`check`, given by the container: parse, key matches certificate, chain in
// order); a NACKed response changes nothing, the last good set stays. Rotations arrive as new responses.
import { credentials as grpcCredentials, type ClientDuplexStream } from '@grpc/grpc-js';
import { FidelityReport } from '../../domain/fidelity.js';
import type { Secret } from '../../domain/mesh/secret.js';
import type { Disposable } from '../../ports/config-source.js';
import type { Logger } from '../../ports/logger.js';
import type { SecretCheck, SecretSource, SecretWatcher } from '../../ports/secret-source.js';
import { SecretDiscoveryServiceClient, type DiscoveryRequest, type DiscoveryResponse, type Node } from '../envoy/ads-protocol.js';
import { TYPE_URL } from '../envoy/proto/type-urls.js';
import { xdsResourceFromAny } from '../envoy/xds-any.js';
import { decodeXdsResource } from '../envoy/xds-resources.js';
import { Backoff } from '../../domain/backoff.js';
import { displayText, quote } from '../../domain/display-text.js';
import { grpcTarget } from './grpc-transport.js';

export const ISTIO_SDS_SOCKET = 'unix:./var/run/secrets/workload-spiffe-uds/socket';

export interface SdsSecretSourceOptions {
  readonly target: string;
  readonly node: Node;
  readonly names?: readonly string[];
  readonly logger: Logger;
  /** What a secret must pass to be published. */
  readonly check: SecretCheck;
}

const INVALID_ARGUMENT = 3;

export class SdsSecretSource implements SecretSource {
  constructor(private readonly options: SdsSecretSourceOptions) {}

  watch(watcher: SecretWatcher): Disposable {
    const names = [...(this.options.names ?? ['default', 'ROOTCA'])];
    const client = new SecretDiscoveryServiceClient(grpcTarget(this.options.target), grpcCredentials.createInsecure());
    const backoff = new Backoff({ initialMs: 200, maxMs: 10_000 });
    const held = new Map<string, Secret>();
    let acceptedVersion = '';
    let call: ClientDuplexStream<DiscoveryRequest, DiscoveryResponse> | undefined;
    let timer: NodeJS.Timeout | undefined;
    let disposed = false;
    const request = (fields: Partial<DiscoveryRequest>): DiscoveryRequest => ({
      versionInfo: acceptedVersion,
      node: undefined,
      resourceNames: names,
      resourceLocators: [],
      typeUrl: TYPE_URL.Secret,
      responseNonce: '',
      errorDetail: undefined,
      ...fields,
    });
    const onResponse = (stream: ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>, response: DiscoveryResponse): void => {
      backoff.reset();
      const secrets: Secret[] = [];
      const problems: string[] = [];
      for (const any of response.resources) {
        const resource = xdsResourceFromAny(any);
        if (!resource.ok || resource.value.type !== 'Secret') {
          problems.push(resource.ok ? `a ${resource.value.type} in an SDS response` : resource.error);
          continue;
        }
        const decoded = decodeXdsResource(resource.value, new FidelityReport());
        if (decoded.errors.length > 0) problems.push(...decoded.errors.map((e) => `Secret ${quote(e.resource.name)} field ${e.field}: ${e.message}`));
        else if (decoded.domain?.type === 'Secret') {
          const secret = decoded.domain.value;
          const problem = this.options.check(secret);
          if (problem) problems.push(`Secret ${quote(secret.name)} field ${problem.field}: ${problem.message}`);
          else secrets.push(secret);
        }
      }
      if (problems.length > 0) {
        const message = displayText(problems.join('; '));
        stream.write(request({ responseNonce: response.nonce, errorDetail: { code: INVALID_ARGUMENT, message, details: [] } }));
        watcher.onError({ location: this.options.target, message });
        return;
      }
      acceptedVersion = response.versionInfo;
      stream.write(request({ versionInfo: response.versionInfo, responseNonce: response.nonce }));
      for (const secret of secrets) held.set(secret.name, secret);
      watcher.onSecrets([...held.values()]);
    };
    const connect = (): void => {
      const stream = client.streamSecrets();
      call = stream;
      stream.on('data', (response: DiscoveryResponse) => onResponse(stream, response));
      const retry = (reason: string): void => {
        if (disposed || call !== stream) return;
        call = undefined;
        const delay = backoff.next();
        this.options.logger.warn({ target: this.options.target, reason, retryInMs: delay }, 'SDS stream closed; keeping the current certificates');
        timer = setTimeout(connect, delay);
      };
      stream.on('error', (error: Error) => retry(error.message));
      stream.on('end', () => retry('stream ended by the server'));
      stream.write(request({ node: this.options.node }));
    };
    connect();
    return {
      dispose: () => {
        disposed = true;
        clearTimeout(timer);
        call?.cancel();
        client.close();
      },
    };
  }
}

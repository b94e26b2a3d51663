// One-shot SotW ADS fetch against a real control plane (test peers): on one stream, request each type
// in turn, wait for its response, decode the resources with the generated codecs, ACK it once, close.
import type { Any } from '../../src/adapters/envoy/generated/google/protobuf/any.js';
import { Cluster } from '../../src/adapters/envoy/generated/envoy/config/cluster/v3/cluster.js';
import { Node } from '../../src/adapters/envoy/generated/envoy/config/core/v3/base.js';
import { ClusterLoadAssignment } from '../../src/adapters/envoy/generated/envoy/config/endpoint/v3/endpoint.js';
import { Listener } from '../../src/adapters/envoy/generated/envoy/config/listener/v3/listener.js';
import { RouteConfiguration } from '../../src/adapters/envoy/generated/envoy/config/route/v3/route.js';
import { Secret } from '../../src/adapters/envoy/generated/envoy/extensions/transport_sockets/tls/v3/secret.js';
import type { DiscoveryResponse } from '../../src/adapters/envoy/generated/envoy/service/discovery/v3/discovery.js';
import { adsClient, openSotw, sotwRequest } from './raw-ads-stream.js';

export const CDS = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
export const EDS = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';
export const LDS = 'type.googleapis.com/envoy.config.listener.v3.Listener';
export const RDS = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';
export const SDS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';

/** The resource's name, decoding the whole message (so a decode failure shows up here). */
const NAME_OF: Record<string, (value: Uint8Array) => string> = {
  [CDS]: (v) => Cluster.decode(v).name,
  [EDS]: (v) => ClusterLoadAssignment.decode(v).clusterName,
  [LDS]: (v) => Listener.decode(v).name,
  [RDS]: (v) => RouteConfiguration.decode(v).name,
  [SDS]: (v) => Secret.decode(v).name,
};

export interface FetchedType {
  typeUrl: string;
  versionInfo: string;
  nonce: string;
  controlPlane: string | undefined;
  names: string[];
  resources: Any[];
}

export interface SotwFetchOptions {
  address: string;
  /** Sent on the first request of the stream. `metadata` is a google.protobuf.Struct: JSON values. */
  node: { id: string; cluster?: string; metadata?: Record<string, unknown> };
  /** Types in request order, with the names to subscribe ([] = wildcard, for CDS/LDS). */
  requests: { typeUrl: string; resourceNames?: string[] }[];
  /** Per response. Default 10 s. */
  timeoutMs?: number;
}

/**
 * Requests each type on one SotW ADS stream, ACKs each response once (version + nonce), and returns
 * what came back per type. Responses to other types that arrive meanwhile are ACKed and recorded too.
 */
export async function sotwFetch(options: SotwFetchOptions): Promise<Map<string, FetchedType>> {
  const client = adsClient(options.address);
  const stream = openSotw(client);
  const got = new Map<string, FetchedType>();
  const subscribed = new Map<string, string[]>();
  const record = (res: DiscoveryResponse): void => {
    const names = res.resources.map((any) => {
      const decode = NAME_OF[any.typeUrl];
      return decode ? decode(any.value) : `<${any.typeUrl}>`;
    });
    got.set(res.typeUrl, {
      typeUrl: res.typeUrl,
      versionInfo: res.versionInfo,
      nonce: res.nonce,
      controlPlane: res.controlPlane?.identifier,
      names,
      resources: res.resources,
    });
    // ACK: same names, the response's version and nonce.
    stream.send(
      sotwRequest({
        typeUrl: res.typeUrl,
        resourceNames: subscribed.get(res.typeUrl) ?? [],
        versionInfo: res.versionInfo,
        responseNonce: res.nonce,
      }),
    );
  };
  const closed = stream.status.then((s): never => {
    throw new Error(`stream closed: ${s.code} ${s.details}`);
  });
  closed.catch(() => {}); // also closes on cancel() below: not an error then
  try {
    let first = true;
    for (const { typeUrl, resourceNames = [] } of options.requests) {
      subscribed.set(typeUrl, resourceNames);
      stream.send(
        sotwRequest({
          typeUrl,
          resourceNames,
          ...(first ? { node: Node.fromPartial({ id: options.node.id, cluster: options.node.cluster ?? '', metadata: options.node.metadata ?? {} }) } : {}),
        }),
      );
      first = false;
      for (;;) {
        const res = await Promise.race([stream.next(options.timeoutMs ?? 10_000), closed]);
        record(res);
        if (res.typeUrl === typeUrl) break;
      }
    }
    return got;
  } finally {
    stream.cancel();
    client.close();
  }
}

/** Istio's node id and metadata for a sidecar of pod `<pod>.<namespace>` at `ip` (contract notes B.1/B.2). */
export function istioSidecarNode(p: { ip: string; pod: string; namespace: string; labels: Record<string, string>; istioVersion?: string }): {
  id: string;
  cluster: string;
  metadata: Record<string, unknown>;
} {
  return {
    id: `sidecar~${p.ip}~${p.pod}.${p.namespace}~${p.namespace}.svc.cluster.local`,
    cluster: `${p.labels['app'] ?? p.pod}.${p.namespace}`,
    metadata: {
      NAMESPACE: p.namespace,
      ISTIO_VERSION: p.istioVersion ?? '1.29.6',
      CLUSTER_ID: 'Kubernetes',
      INTERCEPTION_MODE: 'REDIRECT',
      LABELS: p.labels,
      INSTANCE_IPS: p.ip,
    },
  };
}

// A set of decoded xDS resources (typed messages) → the domain resources of a MeshSnapshot.
// Shared by the file source and the xDS client: both end up with typed messages.
import type { FidelitySink, ResourceType } from '../../domain/fidelity.js';
import type { Cluster as DomainCluster } from '../../domain/mesh/cluster.js';
import type { EndpointSet } from '../../domain/mesh/endpoint.js';
import type { Listener as DomainListener } from '../../domain/mesh/listener.js';
import type { RouteTable } from '../../domain/mesh/route.js';
import type { Secret as DomainSecret } from '../../domain/mesh/secret.js';
import type { MeshResources } from '../../domain/snapshot.js';
import type { Cluster } from './generated/envoy/config/cluster/v3/cluster.js';
import type { ClusterLoadAssignment } from './generated/envoy/config/endpoint/v3/endpoint.js';
import type { Listener } from './generated/envoy/config/listener/v3/listener.js';
import type { RouteConfiguration } from './generated/envoy/config/route/v3/route.js';
import type { Secret } from './generated/envoy/extensions/transport_sockets/tls/v3/secret.js';
import { decodeCluster } from './decode/cluster-decoder.js';
import { DecodeContext, type DecodeError } from './decode/decode-context.js';
import { decodeClusterLoadAssignment } from './decode/endpoint-decoder.js';
import { decodeListener } from './decode/listener-decoder.js';
import { decodeRouteConfiguration } from './decode/route-decoder.js';
import { decodeSecret } from './decode/secret-decoder.js';

export type { DecodeError } from './decode/decode-context.js';

export type XdsResource =
  | { readonly type: 'Listener'; readonly message: Listener }
  | { readonly type: 'RouteConfiguration'; readonly message: RouteConfiguration }
  | { readonly type: 'Cluster'; readonly message: Cluster }
  | { readonly type: 'ClusterLoadAssignment'; readonly message: ClusterLoadAssignment }
  | { readonly type: 'Secret'; readonly message: Secret };

export interface DecodedMesh {
  readonly resources: MeshResources;
  readonly errors: readonly DecodeError[];
}

const nameOf = (resource: XdsResource): string =>
  resource.type === 'ClusterLoadAssignment' ? resource.message.clusterName : resource.message.name;

/** Decodes every resource; a name given twice for one type is an error (xDS requires a NACK). */
export function decodeXdsResources(resources: Iterable<XdsResource>, fidelity: FidelitySink): DecodedMesh {
  const listeners: DomainListener[] = [];
  const routeTables: RouteTable[] = [];
  const clusters: DomainCluster[] = [];
  const endpoints: EndpointSet[] = [];
  const secrets: DomainSecret[] = [];
  const errors: DecodeError[] = [];
  const seen = new Set<string>();
  for (const resource of resources) {
    const name = nameOf(resource);
    const ref = { type: resource.type as ResourceType, name };
    if (name === '') {
      errors.push({ resource: ref, field: resource.type === 'ClusterLoadAssignment' ? 'cluster_name' : 'name', message: 'empty name' });
      continue;
    }
    const key = `${resource.type}/${name}`;
    if (seen.has(key)) {
      errors.push({ resource: ref, field: 'name', message: `duplicate ${resource.type} "${name}"` });
      continue;
    }
    seen.add(key);
    const ctx = new DecodeContext(ref, fidelity);
    switch (resource.type) {
      case 'Listener':
        listeners.push(decodeListener(resource.message, ctx));
        break;
      case 'RouteConfiguration':
        routeTables.push(decodeRouteConfiguration(resource.message, ctx));
        break;
      case 'Cluster': {
        const cluster = decodeCluster(resource.message, ctx);
        if (cluster) clusters.push(cluster);
        break;
      }
      case 'ClusterLoadAssignment':
        endpoints.push(decodeClusterLoadAssignment(resource.message, ctx));
        break;
      case 'Secret': {
        const secret = decodeSecret(resource.message, ctx);
        if (secret) secrets.push(secret);
        break;
      }
    }
    errors.push(...ctx.errors);
  }
  return { resources: { listeners, routeTables, clusters, endpoints, secrets }, errors };
}

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
import { quote } from '../../domain/display-text.js';

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

const nameOf = (resource: XdsResource): string => (resource.type === 'ClusterLoadAssignment' ? resource.message.clusterName : resource.message.name);

/** A decoded resource in the domain, by type. */
export type DomainResource =
  | { readonly type: 'Listener'; readonly value: DomainListener }
  | { readonly type: 'RouteConfiguration'; readonly value: RouteTable }
  | { readonly type: 'Cluster'; readonly value: DomainCluster }
  | { readonly type: 'ClusterLoadAssignment'; readonly value: EndpointSet }
  | { readonly type: 'Secret'; readonly value: DomainSecret };

export interface DecodedResource {
  /** undefined when the resource is valid but has nothing APISIX can use (reported in fidelity). */
  readonly domain: DomainResource | undefined;
  readonly errors: readonly DecodeError[];
}

export const xdsResourceName = nameOf;

/** One resource → domain. Used by the xDS client, which decodes only what changed. */
export function decodeXdsResource(resource: XdsResource, fidelity: FidelitySink): DecodedResource {
  const name = nameOf(resource);
  const ref = { type: resource.type as ResourceType, name };
  if (name === '') {
    return { domain: undefined, errors: [{ resource: ref, field: resource.type === 'ClusterLoadAssignment' ? 'cluster_name' : 'name', message: 'empty name' }] };
  }
  const ctx = new DecodeContext(ref, fidelity);
  let domain: DomainResource | undefined;
  switch (resource.type) {
    case 'Listener':
      domain = { type: 'Listener', value: decodeListener(resource.message, ctx) };
      break;
    case 'RouteConfiguration':
      domain = { type: 'RouteConfiguration', value: decodeRouteConfiguration(resource.message, ctx) };
      break;
    case 'Cluster': {
      const cluster = decodeCluster(resource.message, ctx);
      domain = cluster ? { type: 'Cluster', value: cluster } : undefined;
      break;
    }
    case 'ClusterLoadAssignment':
      domain = { type: 'ClusterLoadAssignment', value: decodeClusterLoadAssignment(resource.message, ctx) };
      break;
    case 'Secret': {
      const secret = decodeSecret(resource.message, ctx);
      domain = secret ? { type: 'Secret', value: secret } : undefined;
      break;
    }
  }
  return { domain: ctx.errors.length > 0 ? undefined : domain, errors: ctx.errors };
}

/** Groups domain resources by kind, as a MeshSnapshot takes them. */
export function meshResourcesOf(resources: Iterable<DomainResource>): MeshResources {
  const listeners: DomainListener[] = [];
  const routeTables: RouteTable[] = [];
  const clusters: DomainCluster[] = [];
  const endpoints: EndpointSet[] = [];
  const secrets: DomainSecret[] = [];
  for (const resource of resources) {
    if (resource.type === 'Listener') listeners.push(resource.value);
    else if (resource.type === 'RouteConfiguration') routeTables.push(resource.value);
    else if (resource.type === 'Cluster') clusters.push(resource.value);
    else if (resource.type === 'ClusterLoadAssignment') endpoints.push(resource.value);
    else secrets.push(resource.value);
  }
  return { listeners, routeTables, clusters, endpoints, secrets };
}

/** Decodes every resource; a name given twice for one type is an error (xDS requires a NACK). */
export function decodeXdsResources(resources: Iterable<XdsResource>, fidelity: FidelitySink): DecodedMesh {
  const decoded: DomainResource[] = [];
  const errors: DecodeError[] = [];
  const seen = new Set<string>();
  for (const resource of resources) {
    const name = nameOf(resource);
    const key = `${resource.type}/${name}`;
    if (name !== '' && seen.has(key)) {
      errors.push({ resource: { type: resource.type as ResourceType, name }, field: 'name', message: `duplicate ${resource.type} ${quote(name)}` });
      continue;
    }
    seen.add(key);
    const result = decodeXdsResource(resource, fidelity);
    if (result.domain) decoded.push(result.domain);
    errors.push(...result.errors);
  }
  return { resources: meshResourcesOf(decoded), errors };
}

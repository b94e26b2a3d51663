// A complete, immutable view of the mesh configuration one data plane receives, versioned.
import type { Cluster } from './mesh/cluster.js';
import type { EndpointSet } from './mesh/endpoint.js';
import type { Listener } from './mesh/listener.js';
import type { RouteTable, WeightedBackend } from './mesh/route.js';
import type { Secret } from './mesh/secret.js';
import type { ResourceRef } from './fidelity.js';

export interface MeshSnapshot {
  readonly version: string;
  readonly listeners: ReadonlyMap<string, Listener>;
  readonly routeTables: ReadonlyMap<string, RouteTable>;
  readonly clusters: ReadonlyMap<string, Cluster>;
  /** Keyed by EDS name (Cluster.edsName). */
  readonly endpoints: ReadonlyMap<string, EndpointSet>;
  readonly secrets: ReadonlyMap<string, Secret>;
}

export interface MeshResources {
  readonly listeners?: Iterable<Listener>;
  readonly routeTables?: Iterable<RouteTable>;
  readonly clusters?: Iterable<Cluster>;
  readonly endpoints?: Iterable<EndpointSet>;
  readonly secrets?: Iterable<Secret>;
}

/** A snapshot made of maps the caller already has: unchanged kinds keep their map (and its identity). */
export function snapshotOfMaps(version: string, maps: Omit<MeshSnapshot, 'version'>): MeshSnapshot {
  return Object.freeze({ version, ...maps });
}

export function createSnapshot(version: string, resources: MeshResources): MeshSnapshot {
  const byName = <T extends { readonly name: string }>(items: Iterable<T> | undefined): ReadonlyMap<string, T> => new Map([...(items ?? [])].map((item) => [item.name, item]));
  return Object.freeze({
    version,
    listeners: byName(resources.listeners),
    routeTables: byName(resources.routeTables),
    clusters: byName(resources.clusters),
    endpoints: byName(resources.endpoints),
    secrets: byName(resources.secrets),
  });
}

/** A reference from one resource to another that the snapshot does not contain. */
export interface DanglingReference {
  readonly from: ResourceRef;
  readonly field: string;
  readonly to: ResourceRef;
}

export interface ClusterReference {
  readonly field: string;
  readonly cluster: string;
}

/** Every cluster a route table sends traffic to, with the field that names it. */
export function clusterReferencesOfTable(table: RouteTable, fieldPrefix = ''): ClusterReference[] {
  const refs: ClusterReference[] = [];
  table.virtualHosts.forEach((vhost, v) =>
    vhost.routes.forEach((route, r) => {
      if (route.action.kind !== 'forward') return;
      const base = `${fieldPrefix}virtual_hosts[${v}].routes[${r}].route`;
      const single = route.action.backends.length === 1;
      route.action.backends.forEach((backend, b) => refs.push({ field: single ? `${base}.cluster` : `${base}.weighted_clusters.clusters[${b}].name`, cluster: backend.cluster }));
      route.action.mirrors.forEach((mirror, m) => refs.push({ field: `${base}.request_mirror_policies[${mirror.index ?? m}].cluster`, cluster: mirror.cluster }));
    }),
  );
  return refs;
}

const backendRefs = (backends: readonly WeightedBackend[], field: string): ClusterReference[] =>
  backends.map((backend, b) => ({ field: backends.length === 1 ? `${field}.cluster` : `${field}.weighted_clusters.clusters[${b}].name`, cluster: backend.cluster }));

/**
 * References the snapshot cannot resolve: listeners → route tables and clusters, route tables →
 * clusters, clusters → secrets. Endpoints are not required (an EDS cluster may have none yet).
 */
export function danglingReferences(snapshot: MeshSnapshot, options: { readonly clusters?: boolean } = {}): DanglingReference[] {
  const dangling: DanglingReference[] = [];
  const withClusters = options.clusters ?? true;
  const checkCluster = (from: ResourceRef, ref: ClusterReference): void => {
    if (withClusters && !snapshot.clusters.has(ref.cluster)) dangling.push({ from, field: ref.field, to: { type: 'Cluster', name: ref.cluster } });
  };
  for (const listener of snapshot.listeners.values()) {
    const from: ResourceRef = { type: 'Listener', name: listener.name };
    listener.chains.forEach((chain, c) => {
      const field = `filter_chains[${c}].filters`;
      const protocol = chain.protocol;
      if (protocol.kind === 'tcp') backendRefs(protocol.backends, `${field}.tcp_proxy`).forEach((ref) => checkCluster(from, ref));
      if (protocol.kind === 'http' && protocol.routes.kind === 'rds' && !snapshot.routeTables.has(protocol.routes.name)) {
        dangling.push({ from, field: `${field}.http_connection_manager.rds.route_config_name`, to: { type: 'RouteConfiguration', name: protocol.routes.name } });
      }
      if (protocol.kind === 'http' && protocol.routes.kind === 'inline') {
        clusterReferencesOfTable(protocol.routes.table, `${field}.http_connection_manager.route_config.`).forEach((ref) => checkCluster(from, ref));
      }
    });
  }
  if (withClusters) {
    for (const table of snapshot.routeTables.values()) {
      const from: ResourceRef = { type: 'RouteConfiguration', name: table.name };
      clusterReferencesOfTable(table).forEach((ref) => checkCluster(from, ref));
    }
  }
  for (const cluster of snapshot.clusters.values()) {
    const tls = cluster.tls;
    if (!tls) continue;
    const from: ResourceRef = { type: 'Cluster', name: cluster.name };
    for (const [field, name] of [
      ['transport_socket.tls_certificate_sds_secret_configs[0].name', tls.certificateSecret],
      ['transport_socket.validation_context_sds_secret_config.name', tls.validationSecret],
    ] as const) {
      if (name !== undefined && !snapshot.secrets.has(name)) dangling.push({ from, field, to: { type: 'Secret', name } });
    }
  }
  return dangling;
}

/** Every secret name the listeners' and clusters' TLS settings reference. */
export function referencedSecrets(snapshot: Pick<MeshSnapshot, 'listeners' | 'clusters'>): Set<string> {
  const names = new Set<string>();
  for (const listener of snapshot.listeners.values()) {
    for (const chain of listener.chains) {
      for (const name of chain.tls?.certificateSecrets ?? []) names.add(name);
      if (chain.tls?.validationSecret) names.add(chain.tls.validationSecret);
    }
  }
  for (const cluster of snapshot.clusters.values()) {
    if (cluster.tls?.certificateSecret) names.add(cluster.tls.certificateSecret);
    if (cluster.tls?.validationSecret) names.add(cluster.tls.validationSecret);
  }
  return names;
}

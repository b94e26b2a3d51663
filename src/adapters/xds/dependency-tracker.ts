// Follows LDS → RDS and CDS → EDS (and SDS) references: which named resources to subscribe to,
// whether everything referenced has arrived (warming), and the snapshot to publish. Envoy does not
// activate a listener before its routes or a cluster before its endpoints; neither do we.
import type { FidelityRecord } from '../../domain/fidelity.js';
import { createSnapshot, type MeshSnapshot } from '../../domain/snapshot.js';
import { meshResourcesOf, type DomainResource } from '../envoy/xds-resources.js';
import type { ResourceCache } from './resource-cache.js';

export interface References {
  readonly routeConfigs: ReadonlySet<string>;
  readonly endpoints: ReadonlySet<string>;
  readonly secrets: ReadonlySet<string>;
}

export function referencesOf(cache: ResourceCache, localSecrets: ReadonlySet<string>): References {
  const routeConfigs = new Set<string>();
  const endpoints = new Set<string>();
  const secrets = new Set<string>();
  for (const { domain } of cache.of('Listener').values()) {
    if (domain?.type !== 'Listener') continue;
    for (const chain of domain.value.chains) {
      if (chain.protocol.kind === 'http' && chain.protocol.routes.kind === 'rds') routeConfigs.add(chain.protocol.routes.name);
      for (const name of chain.tls?.certificateSecrets ?? []) secrets.add(name);
      if (chain.tls?.validationSecret) secrets.add(chain.tls.validationSecret);
    }
  }
  for (const { domain } of cache.of('Cluster').values()) {
    if (domain?.type !== 'Cluster') continue;
    const cluster = domain.value;
    if (cluster.discovery === 'eds') endpoints.add(cluster.edsName);
    if (cluster.tls?.certificateSecret) secrets.add(cluster.tls.certificateSecret);
    if (cluster.tls?.validationSecret) secrets.add(cluster.tls.validationSecret);
  }
  for (const name of localSecrets) secrets.delete(name);
  return { routeConfigs, endpoints, secrets };
}

export interface Missing {
  readonly routeConfigs: readonly string[];
  readonly endpoints: readonly string[];
  readonly secrets: readonly string[];
}

/** Referenced names not received yet and not known to be absent. */
export function missingOf(cache: ResourceCache, references: References, absent: ReadonlySet<string>): Missing {
  const missing = (kind: 'RouteConfiguration' | 'ClusterLoadAssignment' | 'Secret', names: ReadonlySet<string>): string[] =>
    [...names].filter((name) => !cache.of(kind).has(name) && !absent.has(`${kind}/${name}`));
  return { routeConfigs: missing('RouteConfiguration', references.routeConfigs), endpoints: missing('ClusterLoadAssignment', references.endpoints), secrets: missing('Secret', references.secrets) };
}

export const isWarm = (missing: Missing): boolean => missing.routeConfigs.length + missing.endpoints.length + missing.secrets.length === 0;

export interface PublishedState {
  readonly snapshot: MeshSnapshot;
  readonly fidelity: readonly FidelityRecord[];
}

/** The snapshot of everything held and still referenced. */
export function snapshotOf(cache: ResourceCache, references: References, version: string): PublishedState {
  const domain: DomainResource[] = [];
  const fidelity: FidelityRecord[] = [];
  const take = (kind: 'Listener' | 'Cluster' | 'RouteConfiguration' | 'ClusterLoadAssignment' | 'Secret', keep?: ReadonlySet<string>): void => {
    for (const [name, cached] of cache.of(kind)) {
      if (keep && !keep.has(name)) continue;
      if (cached.domain) domain.push(cached.domain);
      fidelity.push(...cached.records);
    }
  };
  take('Listener');
  take('Cluster');
  take('RouteConfiguration', references.routeConfigs);
  take('ClusterLoadAssignment', references.endpoints);
  take('Secret', references.secrets);
  return { snapshot: createSnapshot(version, meshResourcesOf(domain)), fidelity };
}

// Follows LDS → RDS and CDS → EDS (and SDS) references: which named resources to subscribe to,
// whether everything referenced has arrived (warming), and the snapshot to publish. Envoy does not
// activate a listener before its routes or a cluster before its endpoints; neither do we.
import type { FidelityRecord } from '../../domain/fidelity.js';
import { snapshotOfMaps, type MeshSnapshot } from '../../domain/snapshot.js';
import type { DomainResource } from '../envoy/xds-resources.js';
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

type SnapshotKind = 'Listener' | 'Cluster' | 'RouteConfiguration' | 'ClusterLoadAssignment' | 'Secret';

interface KindMemo {
  readonly generation: number;
  readonly map: ReadonlyMap<string, DomainResource['value']>;
  readonly fidelity: readonly FidelityRecord[];
}

/**
 * Builds the snapshot of everything held and still referenced. A kind whose resources and
 * references did not change since the last snapshot keeps its map (the same object), which is what
 * lets the translation reuse its work: an endpoint change rebuilds the endpoints map only.
 */
export class SnapshotAssembler {
  private readonly memos = new Map<SnapshotKind, KindMemo>();

  private kind(cache: ResourceCache, kind: SnapshotKind, keep: ReadonlySet<string> | undefined): KindMemo {
    const generation = cache.generation(kind);
    const memo = this.memos.get(kind);
    if (memo && memo.generation === generation && sameSelection(cache, kind, keep, memo.map)) return memo;
    const map = new Map<string, DomainResource['value']>();
    const fidelity: FidelityRecord[] = [];
    for (const [name, cached] of cache.of(kind)) {
      if (keep && !keep.has(name)) continue;
      if (cached.domain) map.set(name, cached.domain.value);
      for (const record of cached.records) fidelity.push(record);
    }
    const fresh = { generation, map, fidelity };
    this.memos.set(kind, fresh);
    return fresh;
  }

  assemble(cache: ResourceCache, references: References, version: string): PublishedState {
    const listeners = this.kind(cache, 'Listener', undefined);
    const clusters = this.kind(cache, 'Cluster', undefined);
    const routes = this.kind(cache, 'RouteConfiguration', references.routeConfigs);
    const endpoints = this.kind(cache, 'ClusterLoadAssignment', references.endpoints);
    const secrets = this.kind(cache, 'Secret', references.secrets);
    return {
      snapshot: snapshotOfMaps(version, {
        listeners: listeners.map as MeshSnapshot['listeners'],
        clusters: clusters.map as MeshSnapshot['clusters'],
        routeTables: routes.map as MeshSnapshot['routeTables'],
        endpoints: endpoints.map as MeshSnapshot['endpoints'],
        secrets: secrets.map as MeshSnapshot['secrets'],
      }),
      fidelity: [...listeners.fidelity, ...clusters.fidelity, ...routes.fidelity, ...endpoints.fidelity, ...secrets.fidelity],
    };
  }
}

/** Whether filtering the (unchanged) cache by `keep` selects exactly the names the memo holds. */
function sameSelection(cache: ResourceCache, kind: SnapshotKind, keep: ReadonlySet<string> | undefined, held: ReadonlyMap<string, unknown>): boolean {
  if (!keep) return true;
  let selected = 0;
  for (const [name, cached] of cache.of(kind)) {
    if (!keep.has(name) || !cached.domain) continue;
    selected += 1;
    if (!held.has(name)) return false;
  }
  return selected === held.size;
}

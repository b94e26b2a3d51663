// Follows LDS → RDS and CDS → EDS (and SDS) references: which named resources to subscribe to,
// whether everything referenced has arrived (warming), and the snapshot to publish. Envoy does not
// activate a listener before its routes or a cluster before its endpoints; neither do we.
import { KeyedFidelity, type FidelityGroup, type FidelityRecord } from '../../domain/fidelity.js';
import { patchMap } from '../../domain/patched-map.js';
import { snapshotOfMaps, type MeshSnapshot } from '../../domain/snapshot.js';
import type { DomainResource } from '../envoy/xds-resources.js';
import type { ResourceCache } from './resource-cache.js';

export interface References {
  readonly routeConfigs: ReadonlySet<string>;
  readonly endpoints: ReadonlySet<string>;
  /** Secrets to get over this stream. */
  readonly secrets: ReadonlySet<string>;
  /** Referenced secrets delivered elsewhere: neither subscribed nor waited for. */
  readonly localSecrets: ReadonlySet<string>;
}

/** Whether a referenced secret is delivered outside the ADS stream (e.g. by Istio's pilot-agent). */
export type LocalSecretRule = (name: string) => boolean;

export const NO_LOCAL_SECRETS: LocalSecretRule = () => false;

export function referencesOf(cache: ResourceCache, isLocal: LocalSecretRule): References {
  const routeConfigs = new Set<string>();
  const endpoints = new Set<string>();
  const secrets = new Set<string>();
  const localSecrets = new Set<string>();
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
  for (const name of secrets) {
    if (!isLocal(name)) continue;
    secrets.delete(name);
    localSecrets.add(name);
  }
  return { routeConfigs, endpoints, secrets, localSecrets };
}

/** referencesOf, computed again only when listeners or clusters changed: the same object otherwise. */
export class ReferenceTracker {
  private memo: { listeners: number; clusters: number; references: References } | undefined;

  constructor(private readonly isLocal: LocalSecretRule) {}

  of(cache: ResourceCache): References {
    const listeners = cache.generation('Listener');
    const clusters = cache.generation('Cluster');
    if (this.memo?.listeners !== listeners || this.memo.clusters !== clusters) {
      this.memo = { listeners, clusters, references: referencesOf(cache, this.isLocal) };
    }
    return this.memo.references;
  }
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
  return {
    routeConfigs: missing('RouteConfiguration', references.routeConfigs),
    endpoints: missing('ClusterLoadAssignment', references.endpoints),
    secrets: missing('Secret', references.secrets),
  };
}

export const isWarm = (missing: Missing): boolean => missing.routeConfigs.length + missing.endpoints.length + missing.secrets.length === 0;

export interface PublishedState {
  readonly snapshot: MeshSnapshot;
  readonly fidelity: readonly FidelityRecord[];
  /** The records per kind, as groups that keep their counts (per resource arrays inside). */
  readonly fidelityGroups: readonly FidelityGroup[];
}

type SnapshotKind = 'Listener' | 'Cluster' | 'RouteConfiguration' | 'ClusterLoadAssignment' | 'Secret';

interface KindMemo {
  readonly generation: number;
  readonly keep: ReadonlySet<string> | undefined;
  readonly map: ReadonlyMap<string, DomainResource['value']>;
  /** Per held name (with a domain value or not), its records. */
  readonly fidelity: KeyedFidelity<string>;
}

/** What one commit changed in one kind: lets the assembler patch its map instead of rebuilding it. */
export interface KindChange {
  readonly kind: SnapshotKind;
  /** Generation of the kind before and after the commit. */
  readonly from: number;
  readonly to: number;
  readonly names: readonly string[];
}

/**
 * Builds the snapshot of everything held and still referenced. A kind whose resources and
 * references did not change since the last snapshot keeps its map (the same object), which is what
 * lets the translation reuse its work: an endpoint change rebuilds the endpoints map only — and when
 * told which names one commit replaced, patches the previous map (PatchedMap) instead: O(change).
 */
export class SnapshotAssembler {
  private readonly memos = new Map<SnapshotKind, KindMemo>();

  private kind(cache: ResourceCache, kind: SnapshotKind, keep: ReadonlySet<string> | undefined, change: KindChange | undefined): KindMemo {
    const generation = cache.generation(kind);
    const memo = this.memos.get(kind);
    if (memo && memo.generation === generation && (memo.keep === keep || sameSelection(cache, kind, keep, memo.map))) return memo;
    const fresh =
      (memo && change?.kind === kind && change.from === memo.generation && change.to === generation && memo.keep === keep
        ? patched(cache, kind, memo, change, generation)
        : undefined) ?? built(cache, kind, keep, generation);
    this.memos.set(kind, fresh);
    return fresh;
  }

  assemble(cache: ResourceCache, references: References, version: string, change?: KindChange): PublishedState {
    const listeners = this.kind(cache, 'Listener', undefined, change);
    const clusters = this.kind(cache, 'Cluster', undefined, change);
    const routes = this.kind(cache, 'RouteConfiguration', references.routeConfigs, change);
    const endpoints = this.kind(cache, 'ClusterLoadAssignment', references.endpoints, change);
    const secrets = this.kind(cache, 'Secret', references.secrets, change);
    const fidelityGroups = [listeners, clusters, routes, endpoints, secrets].map((k) => k.fidelity);
    let flat: readonly FidelityRecord[] | undefined;
    return {
      snapshot: snapshotOfMaps(version, {
        listeners: listeners.map as MeshSnapshot['listeners'],
        clusters: clusters.map as MeshSnapshot['clusters'],
        routeTables: routes.map as MeshSnapshot['routeTables'],
        endpoints: endpoints.map as MeshSnapshot['endpoints'],
        secrets: secrets.map as MeshSnapshot['secrets'],
      }),
      fidelityGroups,
      // Flattened only when someone asks (the translation takes the groups).
      get fidelity(): readonly FidelityRecord[] {
        flat ??= fidelityGroups.flatMap((g) => [...g.parts()].flat());
        return flat;
      },
    };
  }
}

function built(cache: ResourceCache, kind: SnapshotKind, keep: ReadonlySet<string> | undefined, generation: number): KindMemo {
  const map = new Map<string, DomainResource['value']>();
  const records = new Map<string, readonly FidelityRecord[]>();
  for (const [name, cached] of cache.of(kind)) {
    if (keep && !keep.has(name)) continue;
    records.set(name, cached.records);
    if (cached.domain) map.set(name, cached.domain.value);
  }
  return { generation, keep, map, fidelity: KeyedFidelity.of(records) };
}

/**
 * The previous memo with the values of `change.names` replaced, when every one of them was held and
 * still is (with a domain value): no name added or removed. Otherwise undefined (rebuild).
 */
function patched(cache: ResourceCache, kind: SnapshotKind, memo: KindMemo, change: KindChange, generation: number): KindMemo | undefined {
  const values = new Map<string, DomainResource['value']>();
  const records = new Map<string, readonly FidelityRecord[]>();
  for (const name of change.names) {
    if (memo.keep && !memo.keep.has(name)) continue; // not selected before, not now
    const now = cache.of(kind).get(name);
    if (!now?.domain || !memo.map.has(name)) return undefined;
    values.set(name, now.domain.value);
    records.set(name, now.records);
  }
  const map = patchMap(memo.map, values);
  const fidelity = memo.fidelity.with(records);
  if (!map || !fidelity) return undefined;
  return { generation, keep: memo.keep, map, fidelity };
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

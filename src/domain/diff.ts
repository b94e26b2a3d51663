// The change from the applied gateway config to the desired one: exactly the objects to create,
// update and delete, in an order that never leaves a dangling reference (upserts by ascending
// dependency rank, then deletes by descending rank).
import { GatewayConfig, kindRank, type GatewayObject } from './gateway-config.js';
import { patchMap } from './patched-map.js';

export type Change =
  | { readonly op: 'create'; readonly key: string; readonly object: GatewayObject }
  | { readonly op: 'update'; readonly key: string; readonly object: GatewayObject; readonly previous: GatewayObject }
  | { readonly op: 'delete'; readonly key: string; readonly previous: GatewayObject };

export interface ChangeSet {
  readonly fromVersion: string;
  readonly toVersion: string;
  /** Ordered: apply in sequence. */
  readonly changes: readonly Change[];
}

const rankOf = (change: Change): number => kindRank(change.op === 'delete' ? change.previous.kind : change.object.kind);

export function diffConfigs(applied: GatewayConfig, desired: GatewayConfig): ChangeSet {
  const upserts: Change[] = [];
  const deletes: Change[] = [];
  for (const [key, object] of desired.objects) {
    const previous = applied.objects.get(key);
    if (!previous) upserts.push({ op: 'create', key, object });
    // Unchanged objects are usually the very same value (translation reuses what it rendered before).
    else if (previous.value !== object.value && applied.canonicalOf(key) !== desired.canonicalOf(key)) upserts.push({ op: 'update', key, object, previous });
  }
  for (const [key, previous] of applied.objects) {
    if (!desired.objects.has(key)) deletes.push({ op: 'delete', key, previous });
  }
  const byKey = (a: Change, b: Change): number => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  upserts.sort((a, b) => rankOf(a) - rankOf(b) || byKey(a, b));
  deletes.sort((a, b) => rankOf(b) - rankOf(a) || byKey(a, b));
  return { fromVersion: applied.version, toVersion: desired.version, changes: [...upserts, ...deletes] };
}

/** The config that results from applying `changes` to `applied` (what an incremental sink holds after). */
export function applyChangeSet(applied: GatewayConfig, changeSet: ChangeSet): GatewayConfig {
  if (changeSet.changes.every((c) => c.op === 'update')) {
    // Same keys: patch the map (O(changes)) rather than copy it.
    const replaced = new Map(changeSet.changes.map((c) => [c.key, (c as Extract<Change, { op: 'update' }>).object]));
    const patched = patchMap(applied.objects, replaced);
    if (patched) return new GatewayConfig(changeSet.toVersion, patched, applied);
  }
  const objects = new Map(applied.objects);
  for (const change of changeSet.changes) {
    if (change.op === 'delete') objects.delete(change.key);
    else objects.set(change.key, change.object);
  }
  return new GatewayConfig(changeSet.toVersion, objects);
}

// What a translation could not carry over, per resource and field. Nothing is dropped silently:
// every decoder and renderer reports here, and the report is data for the CLI and the apps.
import { patchMap } from './patched-map.js';

export type ResourceType = 'Listener' | 'RouteConfiguration' | 'Cluster' | 'ClusterLoadAssignment' | 'Secret';

export interface ResourceRef {
  readonly type: ResourceType;
  readonly name: string;
}

export type FidelitySeverity =
  /** The field has no effect in APISIX. */
  | 'dropped'
  /** The field is carried over with different semantics (named in `reason`). */
  | 'approximated';

export interface FidelityRecord {
  readonly resource: ResourceRef;
  /** proto3-JSON path inside the resource, e.g. `virtual_hosts[0].routes[2].route.retry_policy`. */
  readonly field: string;
  readonly severity: FidelitySeverity;
  readonly reason: string;
}

export interface FidelitySink {
  record(entry: FidelityRecord): void;
}

/**
 * Collects records; the same field of the same resource with the same reason is kept once.
 * De-duplication is deferred to the first read: a sidecar records tens of thousands of entries per
 * update and mostly never reads them.
 */
export class FidelityReport implements FidelitySink {
  /**
   * In recording order: arrays handed to recordAll (kept by reference, never copied: callers must not
   * mutate them afterwards), groups, and runs of single records. A sidecar's update re-records tens of
   * thousands of memoised records, almost all in the arrays and groups of the previous update.
   */
  private items: (readonly FidelityRecord[] | FidelityGroup)[] = [];
  private loose: FidelityRecord[] = [];
  private unique: FidelityRecord[] | undefined = [];

  record(entry: FidelityRecord): void {
    this.loose.push(entry);
    this.unique = undefined;
  }

  /** Adds many records at once (a resource's decode records, a memoised rendering's). */
  recordAll(entries: readonly FidelityRecord[]): void {
    if (entries.length === 0) return;
    this.flushLoose();
    this.items.push(entries);
    this.unique = undefined;
  }

  /** Adds a group of arrays whose counts its owner keeps (see KeyedFidelity). */
  recordGroup(group: FidelityGroup): void {
    this.flushLoose();
    this.items.push(group);
    this.unique = undefined;
  }

  private flushLoose(): void {
    if (this.loose.length === 0) return;
    this.items.push(this.loose);
    this.loose = [];
  }

  get records(): readonly FidelityRecord[] {
    if (this.unique) return this.unique;
    this.flushLoose();
    const seen = new Map<string, FidelityRecord>();
    const add = (entries: readonly FidelityRecord[]): void => {
      for (const entry of entries) {
        const key = recordKey(entry);
        if (!seen.has(key)) seen.set(key, entry);
      }
    };
    for (const item of this.items) {
      if (isGroup(item)) for (const part of item.parts()) add(part);
      else add(item);
    }
    this.unique = [...seen.values()];
    this.items = [this.unique];
    return this.unique;
  }

  get size(): number {
    return this.records.length;
  }

  /**
   * Dropped and approximated records, for gauges: arrays are counted once each (cached per array) and
   * groups carry their counts, so a report made of the previous update's arrays costs a lookup per item.
   * Exact when no record is repeated across arrays (renderings and decoders record their own resource's fields).
   */
  counts(): FidelityCounts {
    if (this.unique) return countOf(this.unique);
    let dropped = 0;
    let approximated = 0;
    for (const item of this.items) {
      const c = isGroup(item) ? item.counts : countOf(item);
      dropped += c.dropped;
      approximated += c.approximated;
    }
    const c = countUnique(this.loose);
    return { dropped: dropped + c.dropped, approximated: approximated + c.approximated };
  }

  /** Groups by severity, field shape (indices folded) and reason, most frequent first. */
  summary(): readonly FidelitySummaryLine[] {
    const groups = new Map<string, { line: FidelitySummaryLine; resources: Set<string> }>();
    for (const entry of this.records) {
      const fieldShape = entry.field.replace(/\[\d+\]/g, '[]');
      const key = `${entry.severity}\u0000${entry.resource.type}\u0000${fieldShape}\u0000${entry.reason}`;
      let group = groups.get(key);
      if (!group) {
        group = {
          line: { severity: entry.severity, resourceType: entry.resource.type, field: fieldShape, reason: entry.reason, count: 0, examples: [] },
          resources: new Set(),
        };
        groups.set(key, group);
      }
      group.line = { ...group.line, count: group.line.count + 1 };
      if (group.resources.size < 3 && !group.resources.has(entry.resource.name)) {
        group.resources.add(entry.resource.name);
        group.line = { ...group.line, examples: [...group.resources] };
      }
    }
    return [...groups.values()].map((g) => g.line).sort((a, b) => b.count - a.count || a.field.localeCompare(b.field));
  }
}

export interface FidelitySummaryLine {
  readonly severity: FidelitySeverity;
  readonly resourceType: ResourceType;
  readonly field: string;
  readonly reason: string;
  readonly count: number;
  readonly examples: readonly string[];
}

export interface FidelityCounts {
  readonly dropped: number;
  readonly approximated: number;
}

/** Arrays of records with their counts, kept by whoever produces them (an xDS kind, a translator's upstreams). */
export interface FidelityGroup {
  parts(): Iterable<readonly FidelityRecord[]>;
  readonly counts: FidelityCounts;
}

const isGroup = (item: readonly FidelityRecord[] | FidelityGroup): item is FidelityGroup => !Array.isArray(item);

const recordKey = (entry: FidelityRecord): string => `${entry.resource.type}\u0000${entry.resource.name}\u0000${entry.field}\u0000${entry.reason}`;

const chunkCounts = new WeakMap<readonly FidelityRecord[], FidelityCounts>();
const NONE: FidelityCounts = Object.freeze({ dropped: 0, approximated: 0 });

/** Counts of one array (its duplicates once), cached per array. */
export function countOf(chunk: readonly FidelityRecord[]): FidelityCounts {
  if (chunk.length === 0) return NONE;
  let counts = chunkCounts.get(chunk);
  if (!counts) chunkCounts.set(chunk, (counts = countUnique(chunk)));
  return counts;
}

function countUnique(entries: readonly FidelityRecord[]): FidelityCounts {
  const seen = new Set<string>();
  let dropped = 0;
  let approximated = 0;
  for (const entry of entries) {
    const key = recordKey(entry);
    if (seen.has(key)) continue;
    seen.add(key);
    if (entry.severity === 'dropped') dropped += 1;
    else approximated += 1;
  }
  return { dropped, approximated };
}

/**
 * Records per key (per resource, per upstream…), as a group whose counts are kept up to date when some
 * keys' arrays are replaced: O(replaced), the map itself patched rather than copied.
 */
export class KeyedFidelity<K> implements FidelityGroup {
  private constructor(
    readonly byKey: ReadonlyMap<K, readonly FidelityRecord[]>,
    readonly counts: FidelityCounts,
  ) {}

  static of<K>(byKey: ReadonlyMap<K, readonly FidelityRecord[]>): KeyedFidelity<K> {
    let dropped = 0;
    let approximated = 0;
    for (const part of byKey.values()) {
      const c = countOf(part);
      dropped += c.dropped;
      approximated += c.approximated;
    }
    return new KeyedFidelity(byKey, { dropped, approximated });
  }

  /** The same with the arrays of `replaced` keys (all present already) swapped in; undefined if a key is new. */
  with(replaced: ReadonlyMap<K, readonly FidelityRecord[]>): KeyedFidelity<K> | undefined {
    const byKey = patchMap(this.byKey, replaced);
    if (!byKey) return undefined;
    let { dropped, approximated } = this.counts;
    for (const [key, part] of replaced) {
      const before = countOf(this.byKey.get(key)!);
      const after = countOf(part);
      dropped += after.dropped - before.dropped;
      approximated += after.approximated - before.approximated;
    }
    return new KeyedFidelity(byKey, { dropped, approximated });
  }

  parts(): Iterable<readonly FidelityRecord[]> {
    return this.byKey.values();
  }
}

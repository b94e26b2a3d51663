// What a translation could not carry over, per resource and field. Nothing is dropped silently:
// every decoder and renderer reports here, and the report is data for the CLI and the apps.
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
  private pending: FidelityRecord[] = [];
  private unique: FidelityRecord[] | undefined = [];

  record(entry: FidelityRecord): void {
    this.pending.push(entry);
    this.unique = undefined;
  }

  /** Adds many records at once (a resource's decode records, a memoised rendering's). */
  recordAll(entries: readonly FidelityRecord[]): void {
    for (const entry of entries) this.pending.push(entry);
    if (entries.length > 0) this.unique = undefined;
  }

  get records(): readonly FidelityRecord[] {
    if (this.unique) return this.unique;
    const seen = new Map<string, FidelityRecord>();
    for (const entry of this.pending) {
      const key = `${entry.resource.type}\u0000${entry.resource.name}\u0000${entry.field}\u0000${entry.reason}`;
      if (!seen.has(key)) seen.set(key, entry);
    }
    this.unique = [...seen.values()];
    this.pending = [...this.unique];
    return this.unique;
  }

  get size(): number {
    return this.records.length;
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

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

/** Collects records; the same field of the same resource is kept once. */
export class FidelityReport implements FidelitySink {
  private readonly entries = new Map<string, FidelityRecord>();

  record(entry: FidelityRecord): void {
    const key = `${entry.resource.type}\u0000${entry.resource.name}\u0000${entry.field}\u0000${entry.reason}`;
    if (!this.entries.has(key)) this.entries.set(key, entry);
  }

  get records(): readonly FidelityRecord[] {
    return [...this.entries.values()];
  }

  get size(): number {
    return this.entries.size;
  }

  /** Groups by severity, field shape (indices folded) and reason, most frequent first. */
  summary(): readonly FidelitySummaryLine[] {
    const groups = new Map<string, { line: FidelitySummaryLine; resources: Set<string> }>();
    for (const entry of this.entries.values()) {
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

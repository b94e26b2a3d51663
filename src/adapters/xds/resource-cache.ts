// The resources the client holds, per type, with their decoded domain value. A response is first
// staged (decoded, validated) and committed only when it is accepted, so a NACKed response leaves
// the last good state untouched. Unchanged resources (same bytes) keep their decoded value, so the
// work per response is proportional to what changed.
import { FidelityReport, type FidelityRecord, type ResourceType } from '../../domain/fidelity.js';
import type { Any } from '../envoy/ads-protocol.js';
import { xdsResourceFromAny } from '../envoy/xds-any.js';
import { decodeXdsResource, xdsResourceName, type DecodeError, type DomainResource } from '../envoy/xds-resources.js';
import type { XdsType } from './xds-types.js';
import { quote } from '../../domain/display-text.js';

export interface CachedResource {
  readonly name: string;
  readonly version: string;
  readonly bytes: Uint8Array;
  /** undefined when valid but untranslatable (reported in `records`). */
  readonly domain: DomainResource | undefined;
  readonly records: readonly FidelityRecord[];
}

export interface IncomingResource {
  /** Known from delta responses; for SotW it is read from the decoded resource. */
  readonly name?: string;
  readonly version: string;
  readonly any: Any;
}

export interface StagedChange {
  readonly type: XdsType;
  readonly puts: ReadonlyMap<string, CachedResource>;
  readonly deletes: ReadonlySet<string>;
  readonly errors: readonly DecodeError[];
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);

/** SotW carries no names: a resource of another (known) type still names itself in the NACK. */
function strayName(any: Any): string | undefined {
  const other = xdsResourceFromAny(any);
  return other.ok ? xdsResourceName(other.value) || undefined : undefined;
}

export class ResourceCache {
  private readonly byType = new Map<ResourceType, Map<string, CachedResource>>();
  /** Bumped whenever a kind's content changes: lets consumers reuse what they built from it. */
  private readonly generations = new Map<ResourceType, number>();

  generation(kind: ResourceType): number {
    return this.generations.get(kind) ?? 0;
  }

  private bump(kind: ResourceType): void {
    this.generations.set(kind, this.generation(kind) + 1);
  }

  of(kind: ResourceType): ReadonlyMap<string, CachedResource> {
    let map = this.byType.get(kind);
    if (!map) this.byType.set(kind, (map = new Map()));
    return map;
  }

  /** name → version, for delta's initial_resource_versions after a reconnect. */
  versions(kind: ResourceType): Record<string, string> {
    const versions: Record<string, string> = {};
    for (const [name, cached] of this.of(kind)) versions[name] = cached.version;
    return versions;
  }

  /**
   * Decodes a response's resources. `replaceAll` (SotW LDS/CDS) deletes every held name the
   * response lacks; `removed` (delta) deletes those names.
   */
  stage(type: XdsType, incoming: readonly IncomingResource[], options: { replaceAll: boolean; removed: readonly string[] }): StagedChange {
    const current = this.of(type.kind);
    const puts = new Map<string, CachedResource>();
    const errors: DecodeError[] = [];
    incoming.forEach((item, index) => {
      const bytes = item.any.value;
      // Delta names its resources: check duplicates before the unchanged-bytes shortcut below skips it.
      if (item.name !== undefined && puts.has(item.name)) {
        errors.push({ resource: { type: type.kind, name: item.name }, field: 'name', message: `duplicate ${type.kind} ${quote(item.name)} in one response` });
        return;
      }
      const known = item.name !== undefined ? current.get(item.name) : undefined;
      if (known && item.any.typeUrl === type.typeUrl && sameBytes(known.bytes, bytes)) {
        puts.set(known.name, known.version === item.version ? known : { ...known, version: item.version });
        return;
      }
      const parsed = item.any.typeUrl === type.typeUrl ? xdsResourceFromAny(item.any) : undefined;
      if (!parsed?.ok) {
        const message = parsed ? parsed.error : `resource of type ${item.any.typeUrl} in a ${type.typeUrl} response`;
        errors.push({ resource: { type: type.kind, name: item.name ?? (parsed ? undefined : strayName(item.any)) ?? `#${index}` }, field: '', message });
        return;
      }
      const name = xdsResourceName(parsed.value);
      if (item.name !== undefined && item.name !== name) {
        errors.push({ resource: { type: type.kind, name: item.name }, field: 'name', message: `the resource is named ${quote(name)}` });
        return;
      }
      if (puts.has(name)) {
        errors.push({ resource: { type: type.kind, name }, field: 'name', message: `duplicate ${type.kind} ${quote(name)} in one response` });
        return;
      }
      const previous = current.get(name);
      if (previous && sameBytes(previous.bytes, bytes)) {
        puts.set(name, previous.version === item.version ? previous : { ...previous, version: item.version });
        return;
      }
      const report = new FidelityReport();
      const decoded = decodeXdsResource(parsed.value, report);
      errors.push(...decoded.errors);
      // The Any's bytes are already a copy of their own (ts-proto decodes them with Buffer.from), so
      // keeping them does not pin the whole response buffer.
      puts.set(name, { name, version: item.version, bytes, domain: decoded.domain, records: report.records });
    });
    const deletes = new Set<string>(options.removed.filter((name) => current.has(name) && !puts.has(name)));
    if (options.replaceAll) for (const name of current.keys()) if (!puts.has(name)) deletes.add(name);
    return { type, puts, deletes, errors };
  }

  /** Applies a staged change; the returned function undoes it (when the update is rejected). */
  commit(change: StagedChange): () => void {
    const kind = change.type.kind;
    const map = this.of(kind) as Map<string, CachedResource>;
    const before = new Map<string, CachedResource | undefined>();
    for (const name of change.deletes) if (map.has(name)) before.set(name, map.get(name));
    for (const [name, cached] of change.puts) if (map.get(name) !== cached) before.set(name, map.get(name));
    if (before.size === 0) return () => undefined;
    for (const name of change.deletes) map.delete(name);
    for (const [name, cached] of change.puts) map.set(name, cached);
    this.bump(kind);
    return () => {
      for (const [name, cached] of before) {
        if (cached) map.set(name, cached);
        else map.delete(name);
      }
      this.bump(kind);
    };
  }

  /** Drops named resources nothing references any more (SotW gives no deletion signal for them). */
  retainOnly(kind: ResourceType, names: ReadonlySet<string>, among?: readonly string[]): void {
    const map = this.of(kind) as Map<string, CachedResource>;
    let removed = false;
    for (const name of among ?? [...map.keys()]) {
      if (!names.has(name)) removed = map.delete(name) || removed;
    }
    if (removed) this.bump(kind);
  }
}

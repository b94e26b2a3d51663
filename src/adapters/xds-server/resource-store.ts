// What the server serves, per type URL: the resources as Any payloads, each with a version, plus the type's
// version. Knows nothing of streams or subscriptions (go-control-plane's cache/server split); the server asks
// it for state and pushes the returned change to the streams. Payloads are never decoded or validated, so
// tests can serve malformed bytes, wrong type URLs or duplicate names on purpose.
import { createHash } from 'node:crypto';
import type { Any } from '../envoy/ads-protocol.js';
import type { ResourceInput, SetResourcesOptions } from './types.js';

export interface StoredResource {
  readonly name: string;
  readonly any: Any;
  readonly version: string;
}

interface TypeState {
  version: string;
  counter: number;
  /** In the caller's order; duplicates are kept so a client's duplicate-name check can be exercised. */
  entries: readonly StoredResource[];
  byName: Map<string, StoredResource[]>;
}

/** Names whose served state differs after a mutation; `removed` ones are gone altogether. */
export interface ResourceChange {
  readonly typeUrl: string;
  readonly version: string;
  readonly changed: readonly string[];
  readonly removed: readonly string[];
}

function toAny(typeUrl: string, resource: ResourceInput['resource']): Any {
  // Buffer.from over the same memory: the generated Any wants a Buffer, the caller gave any Uint8Array.
  const view = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return resource instanceof Uint8Array ? { typeUrl, value: view(resource) } : { typeUrl: resource.typeUrl, value: view(resource.value) };
}

function contentVersion(any: Any): string {
  return createHash('sha256').update(any.typeUrl).update('\0').update(any.value).digest('hex').slice(0, 16);
}

/** The version a client holding `entries` is at; duplicates (rare, deliberate) fold into one string. */
export function versionOf(entries: readonly StoredResource[]): string {
  return entries.length === 1 ? entries[0]!.version : entries.map((e) => e.version).join(',');
}

export class ResourceStore {
  private readonly types = new Map<string, TypeState>();

  /** A type is ready once set at least once; until then requests for it are held, not answered empty. */
  isReady(typeUrl: string): boolean {
    return this.types.has(typeUrl);
  }

  version(typeUrl: string): string {
    return this.types.get(typeUrl)?.version ?? '';
  }

  entries(typeUrl: string): readonly StoredResource[] {
    return this.types.get(typeUrl)?.entries ?? [];
  }

  get(typeUrl: string, name: string): readonly StoredResource[] | undefined {
    return this.types.get(typeUrl)?.byName.get(name);
  }

  names(typeUrl: string): IterableIterator<string> {
    return (this.types.get(typeUrl)?.byName ?? new Map<string, StoredResource[]>()).keys();
  }

  set(typeUrl: string, inputs: readonly ResourceInput[], options: SetResourcesOptions = {}): ResourceChange {
    const previous = this.types.get(typeUrl);
    const entries = inputs.map((input): StoredResource => {
      const any = toAny(typeUrl, input.resource);
      return { name: input.name, any, version: input.version ?? contentVersion(any) };
    });
    return this.replace(typeUrl, previous, entries, options.version);
  }

  remove(typeUrl: string, names: readonly string[]): ResourceChange {
    const previous = this.types.get(typeUrl);
    const drop = new Set(names);
    const entries = (previous?.entries ?? []).filter((e) => !drop.has(e.name));
    // Removing nothing is not an update: no new version, and the server pushes nothing.
    if (!previous || entries.length === previous.entries.length) {
      return { typeUrl, version: previous?.version ?? '', changed: [], removed: [] };
    }
    return this.replace(typeUrl, previous, entries, undefined);
  }

  private replace(typeUrl: string, previous: TypeState | undefined, entries: readonly StoredResource[], explicitVersion: string | undefined): ResourceChange {
    const byName = new Map<string, StoredResource[]>();
    for (const entry of entries) {
      const list = byName.get(entry.name);
      if (list) list.push(entry);
      else byName.set(entry.name, [entry]);
    }
    const changed: string[] = [];
    for (const [name, list] of byName) {
      const before = previous?.byName.get(name);
      if (!before || versionOf(before) !== versionOf(list)) changed.push(name);
    }
    const removed = [...(previous?.byName.keys() ?? [])].filter((name) => !byName.has(name));
    const counter = (previous?.counter ?? 0) + 1;
    const version = explicitVersion ?? String(counter);
    this.types.set(typeUrl, { version, counter, entries, byName });
    return { typeUrl, version, changed, removed };
  }
}

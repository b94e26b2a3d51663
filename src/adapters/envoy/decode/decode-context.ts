// Shared state of decoding one resource: where we are (resource and field path), what was dropped
// or approximated, and what is invalid. Decoders never throw on bad input.
import type { FidelitySink, ResourceRef } from '../../../domain/fidelity.js';

export interface DecodeError {
  readonly resource: ResourceRef;
  readonly field: string;
  readonly message: string;
}

export class DecodeContext {
  readonly errors: DecodeError[] = [];

  constructor(
    readonly resource: ResourceRef,
    private readonly fidelity: FidelitySink,
  ) {}

  dropped(field: string, reason: string): void {
    this.fidelity.record({ resource: this.resource, field, severity: 'dropped', reason });
  }

  approximated(field: string, reason: string): void {
    this.fidelity.record({ resource: this.resource, field, severity: 'approximated', reason });
  }

  fail(field: string, message: string): void {
    this.errors.push({ resource: this.resource, field, message });
  }

  /**
   * Reports every field of `message` that is set (not its proto default) and not in `handled` or
   * `inert` as dropped: nothing the translation ignores goes unreported. `inert` fields have no
   * effect on where or how traffic is routed (stat prefixes, names, metadata, tracing…).
   */
  unhandled(message: object, path: string, handled: readonly string[], inert: readonly string[] = []): void {
    const known = knownFields(handled, inert);
    const fields = message as Record<string, unknown>;
    // for…in over a Set lookup: this runs on every decoded message, tens of thousands per push.
    for (const key in fields) {
      if (known.has(key) || !isSet(fields[key])) continue;
      this.dropped(joinPath(path, snakeCase(key)), 'no APISIX equivalent');
    }
  }
}

/** The decoders pass the same constant arrays every time: one Set per pair of arrays. */
const knownFieldSets = new WeakMap<readonly string[], WeakMap<readonly string[], ReadonlySet<string>>>();
function knownFields(handled: readonly string[], inert: readonly string[]): ReadonlySet<string> {
  let byInert = knownFieldSets.get(handled);
  if (!byInert) knownFieldSets.set(handled, (byInert = new WeakMap()));
  let set = byInert.get(inert);
  if (!set) byInert.set(inert, (set = new Set([...handled, ...inert])));
  return set;
}

export const joinPath = (path: string, field: string): string => (path ? `${path}.${field}` : field);

export const snakeCase = (key: string): string => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** A proto3 value that differs from its default. */
export function isSet(value: unknown): boolean {
  if (value === undefined || value === null || value === false || value === 0 || value === '') return false;
  if (Array.isArray(value) || value instanceof Uint8Array) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}

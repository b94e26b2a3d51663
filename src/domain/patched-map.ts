// A read-only map that is another map with some values replaced (never keys added or removed): what
// an update that changes a few values of a large map needs, without copying it. A patch of a patch
// folds into one level over the same base; when the patch grows past √(2·base) it is compacted into a
// plain Map (amortised O(√base) per step, microseconds at mesh sizes).

export class PatchedMap<K, V> implements ReadonlyMap<K, V> {
  constructor(
    /** Never itself a PatchedMap. */
    readonly base: ReadonlyMap<K, V>,
    /** Keys ⊆ base's keys. */
    readonly patch: ReadonlyMap<K, V>,
    /**
     * The last step: the patch of the map this one was made from, and the keys replaced then. Lets
     * patchedKeys answer in O(step) rather than O(patch).
     * Holds the previous patch only (a plain Map), never the previous PatchedMap: no chain is retained.
     */
    readonly step?: { readonly previousPatch: ReadonlyMap<K, V>; readonly keys: readonly K[] },
  ) {}

  get size(): number {
    return this.base.size;
  }
  get(key: K): V | undefined {
    const value = this.patch.get(key);
    return value !== undefined ? value : this.base.get(key);
  }
  has(key: K): boolean {
    return this.base.has(key);
  }
  *entries(): MapIterator<[K, V]> {
    for (const [key, value] of this.base) {
      const patched = this.patch.get(key);
      yield [key, patched !== undefined ? patched : value];
    }
  }
  keys(): MapIterator<K> {
    return this.base.keys();
  }
  *values(): MapIterator<V> {
    for (const [, value] of this.entries()) yield value;
  }
  forEach(callback: (value: V, key: K, map: ReadonlyMap<K, V>) => void, thisArg?: unknown): void {
    for (const [key, value] of this.entries()) callback.call(thisArg, value, key, this);
  }
  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }
}

/**
 * `previous` with the values of `replaced` (keys it already has; undefined values are not allowed).
 * Returns undefined when a key of `replaced` is not in `previous` (the caller copies instead).
 */
export function patchMap<K, V>(previous: ReadonlyMap<K, V>, replaced: ReadonlyMap<K, V>): ReadonlyMap<K, V> | undefined {
  for (const key of replaced.keys()) if (!previous.has(key)) return undefined;
  if (replaced.size === 0) return previous;
  const base = previous instanceof PatchedMap ? (previous.base as ReadonlyMap<K, V>) : previous;
  const patch = previous instanceof PatchedMap ? new Map(previous.patch as ReadonlyMap<K, V>) : new Map<K, V>();
  for (const [key, value] of replaced) patch.set(key, value);
  // Each step copies the patch (O(patch)) and a compaction copies the base (O(base)) once per `limit`
  // replaced keys: limit = √(2·base) minimises the sum, ~230 entries at 26k objects.
  if (patch.size > Math.max(64, Math.sqrt(2 * base.size))) {
    const flat = new Map(base);
    for (const [key, value] of patch) flat.set(key, value);
    return flat;
  }
  const step = previous instanceof PatchedMap ? { previousPatch: previous.patch as ReadonlyMap<K, V>, keys: [...replaced.keys()] } : undefined;
  return new PatchedMap(base, patch, step);
}

/**
 * Keys whose values may differ between `from` and `to`, when both are patches of one base (or `to` a patch
 * of `from`): O(patch), not O(map). Undefined when that cannot be told cheaply.
 */
export function patchedKeys<K, V>(from: ReadonlyMap<K, V>, to: ReadonlyMap<K, V>): Iterable<K> | undefined {
  if (from === to) return [];
  if (!(to instanceof PatchedMap)) return undefined;
  if (to.base === from) return to.patch.keys();
  if (from instanceof PatchedMap && to.step && to.step.previousPatch === from.patch) return to.step.keys;
  if (from instanceof PatchedMap && from.base === to.base) return new Set([...from.patch.keys(), ...to.patch.keys()]);
  return undefined;
}

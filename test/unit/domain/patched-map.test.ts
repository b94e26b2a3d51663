// A PatchedMap reads exactly like the plain Map it stands for, through any chain of patches, and
// patchedKeys names (at least) every key whose value differs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { patchedKeys, patchMap, PatchedMap } from '../../../src/domain/patched-map.js';

const entries = <K, V>(map: ReadonlyMap<K, V>): [K, V][] => [...map];

test('a chain of patches reads as the equivalent plain Map (get, has, size, order of iteration)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 300 }), fc.array(fc.array(fc.tuple(fc.nat(), fc.integer()), { maxLength: 40 }), { maxLength: 12 }), (size, rounds) => {
      const expected = new Map(Array.from({ length: size }, (_, i) => [i, -i]));
      let actual: ReadonlyMap<number, number> = new Map(expected);
      for (const round of rounds) {
        const replaced = new Map(round.map(([k, v]) => [k % size, v]));
        const next = patchMap(actual, replaced);
        assert.ok(next, 'keys already present: always patchable');
        const previous = actual;
        actual = next;
        const keys = patchedKeys(previous, actual);
        const changed = keys && new Set(keys);
        for (const [k, v] of replaced) expected.set(k, v);
        if (changed) for (const [k] of replaced) assert.ok(changed.has(k), `patchedKeys names ${k}`);
      }
      assert.equal(actual.size, expected.size);
      assert.equal(entries(actual), entries(expected));
      assert.equal([...actual.keys()], [...expected.keys()]);
      assert.equal([...actual.values()], [...expected.values()]);
      for (const [k, v] of expected) {
        assert.equal(actual.get(k), v);
        assert.ok(actual.has(k));
      }
      assert.not.ok(actual.has(size));
    }),
    { numRuns: 200 },
  );
});

test('a key the map lacks cannot be patched in: undefined, the caller copies', () => {
  assert.is(patchMap(new Map([['a', 1]]), new Map([['b', 2]])), undefined);
});

test('patches never nest and are compacted into a plain Map once large', () => {
  const base = new Map(Array.from({ length: 1000 }, (_, i) => [i, i]));
  const once = patchMap(base, new Map([[1, 10]]));
  const twice = patchMap(once!, new Map([[2, 20]]));
  assert.instance(twice, PatchedMap);
  assert.is((twice as PatchedMap<number, number>).base, base);
  const big = patchMap(base, new Map(Array.from({ length: 500 }, (_, i) => [i, -i])));
  assert.instance(big, Map);
  assert.is(big!.get(499), -499);
});

test('patchedKeys: nothing between a map and itself; unknown between unrelated maps', () => {
  const base = new Map([[1, 1]]);
  assert.equal([...patchedKeys(base, base)!], []);
  assert.is(patchedKeys(base, new Map(base)), undefined);
});

test.run();

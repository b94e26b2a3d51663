import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { IdRegistry, isValidApisixId, labelValue, stableId } from '../../../src/adapters/apisix/ids.js';

test('ids are valid for APISIX, readable, stable, and distinct for distinct names', () => {
  const names = ['outbound|9080||reviews.default.svc.cluster.local', 'outbound|9080|v1|reviews.default.svc.cluster.local', 'x'.repeat(300), '|||', ''];
  const ids = names.map((n) => stableId('u', n));
  for (const id of ids) assert.ok(isValidApisixId(id), id);
  assert.is(new Set(ids).size, names.length);
  assert.equal(
    names.map((n) => stableId('u', n)),
    ids,
  );
  assert.match(ids[0]!, /^u-outbound_9080_reviews\.default\.svc\.cluster[a-z.]*-[0-9a-f]{16}$/);
});

test('a collision is an error, not a silent merge', () => {
  const registry = new IdRegistry();
  registry.claim('u-1', 'a');
  registry.claim('u-1', 'a');
  assert.throws(() => registry.claim('u-1', 'b'), /id collision/);
});

test('label values have no white space and fit APISIX limits', () => {
  assert.is(labelValue('a b\tc'), 'a_b_c');
  assert.ok(labelValue('x'.repeat(400)).length <= 256);
});

test.run();

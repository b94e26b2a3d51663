// The embedding example keeps working and does what its comments say.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { main } from '../../examples/embed-translator.js';

test('translates, then applies a weight shift as a single route update', async () => {
  const lines: string[] = [];
  const sink = await main((text) => lines.push(text));
  assert.match(lines[0]!, /traffic-split/);
  assert.match(lines[0]!, /#END\n$/);
  assert.match(lines[1]!, /^changed: update routes\/r-web_shop_index_1_hosts-[0-9a-f]{16}$/);
  // Two Envoy routes, plus the virtual host's 404 closer (no route matches every request).
  const routes = sink.applied.ofKind('routes');
  assert.is(routes.length, 3);
  assert.equal(routes.filter((r) => JSON.stringify(r.value.plugins ?? {}).includes('"http_status":404')).length, 1);
  assert.is(sink.applyCount, 2);
});

test.run();

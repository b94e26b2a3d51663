// Downward-API files are written with Go's %q; reading them back must undo every escape %q emits,
// or annotations holding JSON, newlines or non-ASCII text come out wrong.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseDownwardApi, unquoteGo } from '../../../src/adapters/istio/downward-api.js';

const s = suite('downward API files');

s('unquoteGo undoes Go %q escapes', () => {
  assert.is(unquoteGo('"reviews"'), 'reviews');
  assert.is(unquoteGo('""'), '');
  assert.is(unquoteGo(String.raw`"{\"paths\":[\"/metrics\"]}"`), '{"paths":["/metrics"]}');
  assert.is(unquoteGo(String.raw`"a\nb\tc\\d\r\a\b\f\v"`), 'a\nb\tc\\d\r\x07\b\f\v');
  assert.is(unquoteGo('"café ☕"'), 'café ☕', 'printable non-ASCII is written raw');
  assert.is(unquoteGo(String.raw`"caf\xc3\xa9"`), 'café', '\\x escapes are bytes of UTF-8');
  assert.is(unquoteGo(String.raw`"caf\303\251"`), 'café', 'so are octal escapes');
  assert.is(unquoteGo(String.raw`"\u00e9\U0001F600"`), 'é😀');
});

s('unquoteGo refuses what strconv.Unquote refuses', () => {
  for (const bad of ['reviews', '"open', 'close"', String.raw`"\'"`, String.raw`"\q"`, String.raw`"\x4"`, String.raw`"\400"`, String.raw`"\ud800"`, '"a"b"', '"a\nb"']) {
    assert.is(unquoteGo(bad), undefined, bad);
  }
});

s('parseDownwardApi: key="value" lines; lines without = are skipped; a bad value fails the file', () => {
  const parsed = parseDownwardApi('app="reviews"\nversion="v1"\n\nsecurity.istio.io/tlsMode="istio"\nkubectl.kubernetes.io/restartedAt="2026-08-01T10:00:00Z"\n');
  assert.equal(parsed, { ok: true, value: { app: 'reviews', version: 'v1', 'security.istio.io/tlsMode': 'istio', 'kubectl.kubernetes.io/restartedAt': '2026-08-01T10:00:00Z' } });
  assert.equal(parseDownwardApi('a="x=y"'), { ok: true, value: { a: 'x=y' } }, 'split on the first =');
  const bad = parseDownwardApi('app="reviews"\nversion=v1\n');
  assert.equal(bad, { ok: false, error: 'line 2: cannot unquote v1' });
});

s.run();

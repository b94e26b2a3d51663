// RE2 (Envoy) → PCRE (APISIX): invalid RE2 is refused with the reason; constructs PCRE reads
// differently are rewritten so both accept the same ASCII inputs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { escapePcre, re2ToPcre } from '../../../src/adapters/apisix/regex.js';

const pcre = (regex: string): string => {
  const result = re2ToPcre(regex);
  if (!result.ok) throw new Error(result.error);
  return result.value.anchored;
};

test('anchors for full-match semantics', () => {
  assert.is(pcre('/v[0-9]+/items'), '^(?:/v[0-9]+/items)\\z');
});

test('invalid RE2 is an error naming the regex and the cause', () => {
  for (const bad of ['a(b', '(?<=x)y', 'a\\1', 'x{2,1}', '\\Z']) {
    const result = re2ToPcre(bad);
    assert.not.ok(result.ok, bad);
    if (!result.ok) assert.match(result.error, /invalid RE2 regex/);
  }
});

test('$ is end of text in RE2 but may match before a final newline in PCRE', () => {
  assert.is(pcre('/a$'), '^(?:/a\\z)\\z');
  assert.is(pcre('(?m)^a$'), '^(?:(?m)^a$)\\z', 'multi-line mode keeps $');
  assert.is(pcre('[$]'), '^(?:[$])\\z', 'a literal inside a class is untouched');
});

test('\\v and \\s mean other things in PCRE', () => {
  assert.is(pcre('a\\vb'), '^(?:a\\x0bb)\\z');
  assert.is(pcre('a\\sb'), '^(?:a[\\t\\n\\f\\r ]b)\\z');
  assert.is(pcre('[\\s.]'), '^(?:[\\t\\n\\f\\r .])\\z');
});

test('POSIX classes and a leading ] in a class do not end the class early', () => {
  assert.is(pcre('[[:alpha:]$]'), '^(?:[[:alpha:]$])\\z');
  assert.is(pcre('[]a]$'), '^(?:[]a]\\z)\\z');
});

test('Unicode classes are accepted with a caveat', () => {
  const result = re2ToPcre('\\pL+');
  assert.ok(result.ok && result.value.caveat !== undefined);
});

test('escaping literals', () => {
  assert.is(escapePcre('/api/v1.0/(x)?*+'), '/api/v1\\.0/\\(x\\)\\?\\*\\+');
  assert.ok(new RegExp(`^${escapePcre('a.b[c]{1}|$^\\')}$`).test('a.b[c]{1}|$^\\'));
});

test.run();

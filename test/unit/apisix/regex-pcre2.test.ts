// The regexes of issue 12 (item 4) through real PCRE2 with JIT, as APISIX runs them: printed as
// they were before (RE2 text in a PCRE wrapper) they reach PCRE2's match limit on adversarial
// subjects of a few dozen characters; translated, PCRE2 needs a number of steps that grows linearly
// and answers as RE2 does. Needs pcre2test (Debian: pcre2-utils); says it is skipped without it.
import { RE2JS } from 're2js';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { re2ToPcre, re2ToPcreSearch } from '../../../src/adapters/apisix/regex.js';
import { parseRe2, printPcre } from '../../../src/adapters/apisix/regex-syntax.js';
import { PCRE2TEST_AVAILABLE, pcre2 } from '../../support/pcre2test.js';

/** As the translation printed a route regex before it knew about backtracking. */
const naive = (regex: string): string => `^(?:${printPcre(parseRe2(regex).root)})\\z`;

/** regex, the text pumped n times, what ends the subject (so that it fails late). */
const HAZARDS: readonly [string, string, string][] = [
  ['(a+)+$', 'a', '!'],
  ['(a|aa)+$', 'a', '!'],
  ['(a*)*b', 'a', 'b!'],
  ['(?:a*b*)*c', 'ab', 'c!'],
  ['.*a.*b.*c.*d', 'abc', 'd!'],
  ['.*a.*a.*a.*a.*a.*a', 'a', '!'],
  ['.*.*.*.*.*.*x', 'a', 'x!'],
];

const subject = (pump: string, n: number, tail: string): string => pump.repeat(n) + tail;

if (!PCRE2TEST_AVAILABLE) {
  test('skipped: pcre2test is not installed (Debian package pcre2-utils)', () => {});
} else {
  test('as printed before, each regex reaches PCRE2 match limit on a subject of at most 3,000 characters', () => {
    for (const [regex, pump, tail] of HAZARDS) {
      const results = pcre2(
        naive(regex),
        [26, 300, 3000].map((n) => subject(pump, Math.ceil(n / pump.length), tail)),
      );
      assert.ok(
        results.some((r) => r.error?.includes('match limit exceeded')),
        `${regex}: ${JSON.stringify(results.map((r) => r.error ?? r.steps))}`,
      );
    }
  });

  test('translated, PCRE2 answers as RE2 does, in a number of steps that grows linearly', () => {
    for (const [regex, pump, tail] of HAZARDS) {
      const translated = re2ToPcre(regex);
      assert.ok(translated.ok, regex);
      if (!translated.ok) continue;
      const sizes = [100, 400, 1600];
      const subjects = sizes.flatMap((n) => [subject(pump, n, tail), subject(pump, n, ''), subject(pump, n, tail.slice(0, -1))]);
      const results = pcre2(translated.value.anchored, subjects, true);
      const re2 = RE2JS.compile(regex);
      results.forEach((r, i) => {
        assert.is(r.error, undefined, `${regex} → ${translated.value.anchored}`);
        assert.is(r.groups !== undefined, re2.matches(subjects[i]!), `${regex} → ${translated.value.anchored} on ${subjects[i]!.slice(0, 20)}…`);
      });
      // Four times the input, at most four times the steps (plus a constant).
      for (let k = 0; k + 3 < results.length; k += 3) {
        for (let j = 0; j < 3; j++) assert.ok(results[k + 3 + j]!.steps <= 4 * results[k + j]!.steps + 16, `${regex}: steps ${results.map((r) => r.steps).join(', ')}`);
      }
    }
  });

  test('a search (regex_uri) keeps PCRE2 first match and captures, and stops backtracking', () => {
    const cases: readonly [string, string[]][] = [
      ['^/(a+)+$', ['/aaa', '/aaab', '/']],
      ['^/(a|aa)+/x', ['/aaaa/x', '/a/x/y', '/aaab/x']],
      ['^/(a|aa)+', ['/aaaa/x', '/b', '/aa']],
      ['/(ab|a|b)+/(c)', ['/abba/c', 'x/ab/c/', '/c']],
    ];
    for (const [regex, subjects] of cases) {
      const search = re2ToPcreSearch(regex);
      assert.ok(search.ok, regex);
      if (!search.ok) continue;
      const original = printPcre(parseRe2(regex).root);
      assert.is.not(search.value.body, original, `${regex} is rewritten`);
      assert.equal(
        pcre2(search.value.body, subjects).map((r) => r.groups),
        pcre2(original, subjects).map((r) => r.groups),
        `${regex} → ${search.value.body}`,
      );
      const adversarial = pcre2(search.value.body, ['/' + 'a'.repeat(5000) + '!']);
      assert.is(adversarial[0]!.error, undefined, regex);
    }
  });

  test('what the translation refuses does backtrack catastrophically in PCRE2', () => {
    const refused: readonly [string, string][] = [
      ['(x+x+)+y', `${'x'.repeat(40)}y!`],
      ['b+/(?:b|[^a][a/]\\w)+', `b/${'b/abb'.repeat(30)}a!`],
      ['(ab|a|ba)*c', `${'aba'.repeat(30)}c!`],
    ];
    for (const [regex, adversarial] of refused) {
      assert.not.ok(re2ToPcre(regex).ok, regex);
      const [result] = pcre2(naive(regex), [adversarial]);
      assert.match(result!.error ?? '', /match limit exceeded/, regex);
    }
    // Cubic: accepted with a report (see regex.ts); PCRE2's steps grow faster than n² (JIT counts only part of them).
    const cubic = re2ToPcreSearch('^/(.*)/(.*)/(.*)$');
    assert.ok(cubic.ok && /O\(n\^3\)/.test(cubic.value.caveat ?? ''));
    const [small, large] = pcre2('^/(.*)/(.*)/(.*)\\z', ['/'.repeat(50) + '\n', '/'.repeat(200) + '\n'], true);
    assert.ok(large!.steps > 12 * small!.steps, `steps ${small!.steps} → ${large!.steps}`);
  });
}

test.run();

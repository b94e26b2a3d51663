// Regexes RE2 runs in linear time but PCRE backtracks on: the rewrites must not change what a regex
// accepts (whole-input yes/no) or what a search finds and captures (regex_uri); what cannot be made
// safe is refused with the reason. Semantics are checked against re2js (RE2's meaning) and, for the
// rewritten PCRE, through the PCRE→JS converter of test/support (a backtracking engine like PCRE).
import fc from 'fast-check';
import { RE2JS } from 're2js';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MAX_RE2_PROGRAM_SIZE, re2ToPcre, re2ToPcreSearch } from '../../../src/adapters/apisix/regex.js';
import { analyseBacktracking, linearizeForSearch } from '../../../src/adapters/apisix/regex-backtracking.js';
import { parseRe2, printPcre, programSize } from '../../../src/adapters/apisix/regex-syntax.js';
import { pcreToJs } from '../../support/pcre-to-js.js';

const SEED = Number(process.env.REGEX_SEED ?? 20261205);

const anchored = (regex: string): string => {
  const result = re2ToPcre(regex);
  if (!result.ok) throw new Error(result.error);
  return result.value.anchored;
};

test('nested repetitions over one character set become one repetition: (a+)+, (a|aa)+, (a*)*, (?:a*b*)*', () => {
  assert.is(anchored('(a+)+$'), '^(?:a+\\z)\\z');
  assert.is(anchored('(a|aa)+$'), '^(?:a+\\z)\\z');
  assert.is(anchored('(a*)*b'), '^(?:a*b)\\z');
  assert.is(anchored('(?:a*b*)*c'), '^(?:[ab]*c)\\z');
  assert.is(anchored('(?i)(a|A)+b'), '^(?:(?i)[Aa]+b)\\z');
});

test('chains of .* commit to the first occurrence of what follows; repeated .* collapse', () => {
  assert.is(anchored('.*a.*b.*c.*d'), '^(?:(?>.*?a)(?>.*?b)(?>.*?c).*d)\\z');
  assert.is(anchored('/api/.*/items/.*'), '^(?:/api/(?>.*?/items/).*)\\z');
  assert.is(anchored('.*.*.*x'), '^(?:.*x)\\z');
  assert.is(anchored('^/(.*)/(.*)/(.*)$'), '^(?:^/(?>.*?/)(?>.*?/).*\\z)\\z');
});

test('under (?U) the first-occurrence scan is written with the quantifier that is lazy there', () => {
  assert.is(anchored('(?U)(a|b)*a[ab]*'), '^(?:(?U)(?>[ab]*a)[ab]*)\\z', 'also after a loop was rewritten');
  const pattern = anchored('(?U).*a.*b');
  assert.is(pattern, '^(?:(?U)(?>.*a).*b)\\z');
  const re2 = RE2JS.compile('(?U).*a.*b');
  for (const subject of ['xaxb', 'aab', 'ab', 'ba', 'xaxbxb', 'aaa']) assert.is(pcreToJs(pattern, false).test(subject), re2.matches(subject), subject);
});

test('large regexes stay within bounds: a long literal is analysed, a huge loop is refused, not run out of memory', () => {
  assert.ok(re2ToPcre(`/${'abcdefgh/'.repeat(3000)}`).ok);
  const loop = re2ToPcre(`(?:${Array.from({ length: 2000 }, (_, i) => `p${i}`).join('|')})*`);
  assert.not.ok(loop.ok);
  if (!loop.ok) assert.match(loop.error, /too large to prove/);
  const unbalanced = re2ToPcre(`${'x'.repeat(50_000)}(`);
  assert.not.ok(unbalanced.ok);
  if (!unbalanced.ok) assert.ok(unbalanced.error.length < 400, 'the message quotes the regex in part');
});

test('regexes with no backtracking hazard are printed as before', () => {
  assert.is(anchored('/v[0-9]+/items'), '^(?:/v[0-9]+/items)\\z');
  assert.is(anchored('^/api(/[a-z0-9]+)*/?$'), '^(?:^/api(?:/[a-z0-9]+)*/?\\z)\\z');
  assert.is(anchored('\\d{1,3}(\\.\\d{1,3}){3}'), '^(?:\\d{1,3}(?:\\.\\d{1,3}){3})\\z');
});

test('a search keeps its captures: loops are made possessive only where PCRE could not backtrack into them with success', () => {
  const search = (regex: string): string => {
    const result = re2ToPcreSearch(regex);
    if (!result.ok) throw new Error(result.error);
    return result.value.body;
  };
  assert.is(search('^/(a+)+$'), '^/(a+)++\\z');
  assert.is(search('^/(a|aa)+/x'), '^/(a|aa)++/x', "what follows starts with '/', which the loop never takes");
  assert.is(search('^/(a|aa)+'), '^/(a|aa)++', 'at the end of the pattern the first path already succeeds');
  // An 'a' may follow (backtracking into the loop can succeed), or only an assertion stands between
  // the loop and the end: not proven, so the loop stays and is refused.
  for (const regex of ['^/(a|aa)+a', '^/(a|aa)+\\b']) assert.not.ok(re2ToPcreSearch(regex).ok, regex);
});

test('what stays exponential is refused with the reason', () => {
  for (const regex of ['(x+x+)+y', '(ab|a|ba)*c', '(.*,)*x', '(a+b?)+c']) {
    const result = re2ToPcre(regex);
    assert.not.ok(result.ok, regex);
    if (!result.ok) assert.match(result.error, /backtrack exponentially/, regex);
  }
});

test('polynomial backtracking is accepted and reported with its degree (a common rewrite must not NACK a route table)', () => {
  const cubic = re2ToPcreSearch('^/(.*)/(.*)/(.*)$');
  assert.ok(cubic.ok);
  if (cubic.ok) assert.match(cubic.value.caveat ?? '', /O\(n\^3\)/);
  const quadratic = re2ToPcreSearch('/api/(.*)/items/(.*)');
  assert.ok(quadratic.ok);
  if (quadratic.ok) assert.match(quadratic.value.caveat ?? '', /O\(n\^2\)/);
  assert.equal(analyseBacktracking(parseRe2('[a-z]+/[a-z]+').root), { exponential: false, degree: 0, tooComplex: false });
});

test("the RE2 program size is bounded as Envoy bounds it (Istio's re2.max_program_size.error_level)", () => {
  const huge = 'a'.repeat(100_000);
  const result = re2ToPcre(huge);
  assert.not.ok(result.ok);
  if (!result.ok) {
    assert.match(result.error, /RE2 program size of about \d+, over the 32768/);
    assert.ok(result.error.length < 400, 'the regex is quoted in part');
  }
  // Sizes RE2 2022-06-01 reports (ProgramSize()) for a few regexes, against the estimate.
  for (const [regex, re2] of [
    ['a', 5],
    ['abcdefghij', 14],
    ['.*', 12],
    ['/api/v[0-9]+/items', 18],
    ['x{1000}', 1004],
    ['.{100}', 804],
    ['\\pL', 1197],
  ] as const) {
    const estimate = programSize(parseRe2(regex).root);
    assert.ok(estimate >= re2 * 0.6 && estimate <= re2 * 1.5, `${regex}: estimated ${estimate}, RE2 says ${re2}`);
  }
  assert.ok(re2ToPcre('(?:x{1000}){40}').ok === false, 'repetitions count as RE2 expands them');
  assert.ok(MAX_RE2_PROGRAM_SIZE === 32_768);
});

// ---- semantics: generated regexes over a small alphabet, adversarial subjects -----------------

const ALPHABET = ['a', 'b', '/', 'A'];
const atom = fc.constantFrom('a', 'b', '/', '.', '[ab]', '[^a]', '\\w', '[a/]', 'A', '(?i:a)', '$', '^', '\\b', '[^/]');
const regexArb: fc.Arbitrary<string> = fc.letrec<{ re: string; seq: string; item: string }>((tie) => ({
  re: fc.oneof({ weight: 3, arbitrary: tie('seq') }, { weight: 1, arbitrary: fc.tuple(tie('seq'), tie('seq')).map(([x, y]) => `${x}|${y}`) }),
  seq: fc.array(tie('item'), { minLength: 1, maxLength: 4 }).map((items) => items.join('')),
  item: fc.oneof(
    { maxDepth: 3, depthIdentifier: 'regex' },
    { weight: 4, arbitrary: atom },
    { weight: 2, arbitrary: fc.tuple(atom, fc.constantFrom('*', '+', '?', '*?', '{1,2}')).map(([x, q]) => `${x}${q}`) },
    { weight: 2, arbitrary: fc.tuple(tie('re'), fc.constantFrom('', '*', '+', '?', '{2}', '+?'), fc.boolean()).map(([x, q, capture]) => `(${capture ? '' : '?:'}${x})${q}`) },
  ),
})).re;
const subjectArb = fc.array(fc.constantFrom(...ALPHABET), { maxLength: 9 }).map((cs) => cs.join(''));

test('property: the whole-input PCRE accepts exactly what RE2 accepts', () => {
  let checked = 0;
  let refused = 0;
  fc.assert(
    fc.property(regexArb, fc.boolean(), fc.array(subjectArb, { minLength: 1, maxLength: 12 }), (generated, ungreedy, subjects) => {
      const regex = ungreedy ? `(?U)${generated}` : generated;
      const pcre = re2ToPcre(regex);
      if (!pcre.ok) {
        refused++;
        return;
      }
      const re2 = RE2JS.compile(regex);
      const js = pcreToJs(pcre.value.anchored, false);
      for (const subject of subjects) {
        assert.is(js.test(subject), re2.matches(subject), `${regex} → ${pcre.value.anchored} on ${JSON.stringify(subject)}`);
        checked++;
      }
    }),
    { numRuns: 600, seed: SEED },
  );
  console.log(`whole-input: ${checked} subjects checked, ${refused} regexes refused (seed ${SEED})`);
});

test('property: the search PCRE finds the same first match as before the rewrite', () => {
  let checked = 0;
  fc.assert(
    fc.property(regexArb, fc.boolean(), fc.array(subjectArb, { minLength: 1, maxLength: 12 }), (generated, ungreedy, subjects) => {
      const regex = ungreedy ? `(?U)${generated}` : generated;
      const root = parseRe2(regex).root;
      const before = pcreToJs(printPcre(root), false);
      const after = pcreToJs(printPcre(linearizeForSearch(root)), false);
      for (const subject of subjects) {
        // The converter drops captures (test/unit/apisix/regex-pcre2.test.ts compares them with real PCRE2).
        const found = (m: RegExpExecArray | null): unknown => m && { index: m.index, match: m[0] };
        assert.equal(found(after.exec(subject)), found(before.exec(subject)), `${regex} → ${printPcre(linearizeForSearch(root))} on ${JSON.stringify(subject)}`);
        checked++;
      }
    }),
    { numRuns: 600, seed: SEED },
  );
  console.log(`search: ${checked} subjects checked (seed ${SEED})`);
});

test.run();

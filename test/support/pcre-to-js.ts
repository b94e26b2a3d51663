// PCRE (as APISIX runs it: ngx.re.find, no UTF mode, default newline LF) → an equivalent JS RegExp
// for ASCII subjects. Every construct whose meaning differs between the dialects is rewritten
// explicitly (no JS flags are used): case-insensitivity expands letters into [aA], `.` excludes
// only \n, `$` also matches before a final \n, `\z` is the end. Constructs not handled here throw
// UnsupportedPcre so that a test never guesses.

export class UnsupportedPcre extends Error {}

interface Flags {
  i: boolean;
  m: boolean;
  s: boolean;
  /** Ungreedy: swaps what a trailing `?` means (it matters inside atomic groups). */
  U: boolean;
}

const ASCII = 128;
const hex2 = (c: number): string => `\\x${c.toString(16).padStart(2, '0')}`;
const isAlpha = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const otherCase = (c: number): number => (c >= 65 && c <= 90 ? c + 32 : c >= 97 && c <= 122 ? c - 32 : c);

function rangeSet(...ranges: [number, number][]): Set<number> {
  const set = new Set<number>();
  for (const [from, to] of ranges) for (let c = from; c <= to; c++) set.add(c);
  return set;
}

const DIGIT = rangeSet([48, 57]);
const WORD = rangeSet([48, 57], [65, 90], [97, 122], [95, 95]);
/** PCRE ≥ 8.34 and PCRE2: \s includes VT. */
const SPACE = rangeSet([9, 13], [32, 32]);
const complement = (set: Set<number>): Set<number> => new Set([...rangeSet([0, ASCII - 1])].filter((c) => !set.has(c)));

const POSIX: Record<string, Set<number>> = {
  alpha: rangeSet([65, 90], [97, 122]),
  digit: DIGIT,
  alnum: rangeSet([48, 57], [65, 90], [97, 122]),
  upper: rangeSet([65, 90]),
  lower: rangeSet([97, 122]),
  space: SPACE,
  blank: rangeSet([9, 9], [32, 32]),
  punct: rangeSet([33, 47], [58, 64], [91, 96], [123, 126]),
  xdigit: rangeSet([48, 57], [65, 70], [97, 102]),
  word: WORD,
  cntrl: rangeSet([0, 31], [127, 127]),
  print: rangeSet([32, 126]),
  graph: rangeSet([33, 126]),
  ascii: rangeSet([0, 127]),
};

/** A set of ASCII code points as a JS class; matches nothing when empty. */
function classSource(set: Set<number>): string {
  if (set.size === 0) return '[^\\s\\S]';
  const codes = [...set].sort((a, b) => a - b);
  let out = '';
  for (let i = 0; i < codes.length;) {
    let j = i;
    while (j + 1 < codes.length && codes[j + 1] === codes[j]! + 1) j++;
    out += j > i ? `${hex2(codes[i]!)}-${hex2(codes[j]!)}` : hex2(codes[i]!);
    i = j + 1;
  }
  return `[${out}]`;
}

function caseClosed(set: Set<number>): Set<number> {
  const out = new Set(set);
  for (const c of set) if (isAlpha(c)) out.add(otherCase(c));
  return out;
}

/** Assertions as JS writes them without flags: \z is the very end, \Z also before a final \n. */
const ASSERTIONS: Readonly<Record<string, string>> = { z: '(?![\\s\\S])', Z: '(?=\\n?(?![\\s\\S]))', A: '(?<![\\s\\S])', b: '\\b', B: '\\B' };

class Converter {
  private pos = 0;
  private out = '';
  private readonly stack: Flags[] = [];
  /** For each open group: the capture number when it is atomic (emulated as `(?=(…))\N`). */
  private readonly atomic: (number | undefined)[] = [];
  private captures = 0;
  /** Where in the output each open group began, and where the last complete atom began (for possessive quantifiers). */
  private readonly groupStarts: number[] = [];
  private lastAtom = 0;
  private flags: Flags;

  constructor(
    private readonly src: string,
    caseless: boolean,
  ) {
    this.flags = { i: caseless, m: false, s: false, U: false };
  }

  private fail(what: string): never {
    throw new UnsupportedPcre(`${what} at ${this.pos} in ${JSON.stringify(this.src)}`);
  }

  private literal(code: number): string {
    if (code >= ASCII) this.fail('non-ASCII literal');
    if (this.flags.i && isAlpha(code)) return classSource(new Set([code, otherCase(code)]));
    return hex2(code);
  }

  /** Reads a hex escape after `\x` (PCRE: up to two digits, or `{…}`). */
  private hexEscape(): number {
    const src = this.src;
    if (src[this.pos] === '{') {
      const end = src.indexOf('}', this.pos);
      if (end === -1) this.fail('unterminated \\x{');
      const code = parseInt(src.slice(this.pos + 1, end), 16);
      this.pos = end + 1;
      return code;
    }
    const m = /^[0-9a-fA-F]{0,2}/.exec(src.slice(this.pos))![0];
    this.pos += m.length;
    return m === '' ? 0 : parseInt(m, 16);
  }

  /** An escape after the backslash: a set of code points or one code point. */
  private escape(inClass: boolean): Set<number> | number {
    const ch = this.src[this.pos++];
    if (ch === undefined) this.fail('trailing backslash');
    switch (ch) {
      case 'd':
        return DIGIT;
      case 'D':
        return complement(DIGIT);
      case 'w':
        return WORD;
      case 'W':
        return complement(WORD);
      case 's':
        return SPACE;
      case 'S':
        return complement(SPACE);
      case 't':
        return 9;
      case 'n':
        return 10;
      case 'r':
        return 13;
      case 'f':
        return 12;
      case 'e':
        return 27;
      case 'a':
        return 7;
      case 'x':
        return this.hexEscape();
      case '0': {
        const m = /^[0-7]{0,2}/.exec(this.src.slice(this.pos))![0];
        this.pos += m.length;
        return parseInt(`0${m}`, 8);
      }
      case 'b':
        if (inClass) return 8;
        break;
    }
    if (/[A-Za-z0-9]/.test(ch)) this.fail(`escape \\${ch}`);
    return ch.charCodeAt(0);
  }

  private charClass(): string {
    const src = this.src;
    let negated = false;
    if (src[this.pos] === '^') {
      negated = true;
      this.pos++;
    }
    const set = new Set<number>();
    let first = true;
    for (;;) {
      const ch = src[this.pos];
      if (ch === undefined) this.fail('unterminated class');
      if (ch === ']' && !first) {
        this.pos++;
        break;
      }
      first = false;
      if (ch === '[' && /^\[:\^?[a-z]+:\]/.test(src.slice(this.pos))) {
        const m = /^\[:(\^?)([a-z]+):\]/.exec(src.slice(this.pos))!;
        const posix = POSIX[m[2]!];
        if (!posix) this.fail(`POSIX class ${m[0]}`);
        for (const c of m[1] ? complement(posix) : posix) set.add(c);
        this.pos += m[0].length;
        continue;
      }
      if (ch === '\\' && src[this.pos + 1] === 'Q') {
        const end = src.indexOf('\\E', this.pos + 2);
        const quoted = src.slice(this.pos + 2, end === -1 ? src.length : end);
        for (const q of quoted) set.add(q.charCodeAt(0));
        this.pos = end === -1 ? src.length : end + 2;
        continue;
      }
      this.pos++;
      let item: Set<number> | number = ch === '\\' ? this.escape(true) : ch.charCodeAt(0);
      if (typeof item === 'number' && src[this.pos] === '-' && src[this.pos + 1] !== ']' && src[this.pos + 1] !== undefined) {
        this.pos++;
        const endCh = src[this.pos++]!;
        if (endCh === '[') this.fail('range ending in a bracket');
        const end = endCh === '\\' ? this.escape(true) : endCh.charCodeAt(0);
        if (typeof end !== 'number' || end < item) this.fail('bad range');
        item = rangeSet([item, end]);
      }
      if (typeof item === 'number') {
        if (item >= ASCII) this.fail('non-ASCII in class');
        set.add(item);
      } else for (const c of item) set.add(c);
    }
    let result = this.flags.i ? caseClosed(set) : set;
    if (negated) result = complement(result);
    return classSource(result);
  }

  /** After `(?`…: pushes the enclosing flags when a group opens; returns what to emit. */
  private groupOpener(): string {
    const src = this.src;
    const rest = src.slice(this.pos);
    const open = (emit: string, length: number): string => {
      this.stack.push({ ...this.flags });
      this.atomic.push(undefined);
      this.groupStarts.push(this.out.length);
      this.pos += length;
      return emit;
    };
    if (rest.startsWith('?:')) return open('(?:', 2);
    if (rest.startsWith('?>')) {
      // JS has no atomic groups: a lookahead captures the first way the group matches, a back-reference consumes it.
      const emit = open(`(?:(?=(?<a${++this.captures}>`, 2);
      this.atomic[this.atomic.length - 1] = this.captures;
      return emit;
    }
    for (const look of ['?=', '?!', '?<=', '?<!']) if (rest.startsWith(look)) return open(`(${look}`, look.length);
    // Captures are never referenced (no back-references are accepted), so a plain group is equivalent.
    const named = /^\?(?:P?<([A-Za-z_]\w*)>|'([A-Za-z_]\w*)')/.exec(rest);
    if (named) return open('(?:', named[0].length);
    if (rest.startsWith('?#')) {
      const end = src.indexOf(')', this.pos);
      if (end === -1) this.fail('unterminated comment');
      this.pos = end + 1;
      return '';
    }
    const flags = /^\?([imsU]*)(?:-([imsU]*))?([:)])/.exec(rest);
    if (!flags || (flags[1] === '' && flags[2] === undefined)) this.fail('group construct');
    const apply = (): void => {
      for (const f of flags[1] ?? '') this.flags[f as keyof Flags] = true;
      for (const f of flags[2] ?? '') this.flags[f as keyof Flags] = false;
    };
    if (flags[3] === ')') {
      // (?i) alone: in force to the end of the enclosing group (PCRE), so no push.
      this.pos += flags[0].length;
      this.flags = { ...this.flags };
      apply();
      return '';
    }
    const emit = open('(?:', flags[0].length);
    this.flags = { ...this.flags };
    apply();
    return emit;
  }

  convert(): string {
    const src = this.src;
    while (this.pos < src.length) {
      const ch = src[this.pos++]!;
      if (!'*+?{)('.includes(ch)) this.lastAtom = this.out.length;
      switch (ch) {
        case '\\': {
          const next = src[this.pos];
          if (next === 'Q') {
            const end = src.indexOf('\\E', this.pos + 1);
            const quoted = src.slice(this.pos + 1, end === -1 ? src.length : end);
            for (const q of quoted) this.out += this.literal(q.charCodeAt(0));
            this.pos = end === -1 ? src.length : end + 2;
          } else if (next === 'E') this.pos++;
          else if (next !== undefined && next in ASSERTIONS) {
            this.out += ASSERTIONS[next];
            this.pos++;
          } else {
            const e = this.escape(false);
            this.out += typeof e === 'number' ? this.literal(e) : classSource(this.flags.i ? caseClosed(e) : e);
          }
          break;
        }
        case '.':
          this.out += this.flags.s ? '[\\s\\S]' : '[^\\n]';
          break;
        case '^':
          this.out += this.flags.m ? '(?:(?<![\\s\\S])|(?<=\\n)(?=[\\s\\S]))' : '(?<![\\s\\S])';
          break;
        case '$':
          this.out += this.flags.m ? '(?=\\n|(?![\\s\\S]))' : '(?=\\n?(?![\\s\\S]))';
          break;
        case '[':
          this.out += this.charClass();
          break;
        case '(':
          if (src[this.pos] === '*') this.fail('backtracking verb');
          if (src[this.pos] === '?') this.out += this.groupOpener();
          else {
            this.stack.push({ ...this.flags });
            this.atomic.push(undefined);
            this.groupStarts.push(this.out.length);
            this.out += '(?:';
          }
          break;
        case ')': {
          const outer = this.stack.pop();
          if (!outer) this.fail('unbalanced )');
          this.flags = outer;
          const capture = this.atomic.pop();
          this.out += capture === undefined ? ')' : `))\\k<a${capture}>)`;
          this.lastAtom = this.groupStarts.pop()!;
          break;
        }
        case '|':
          this.out += '|';
          break;
        case '*':
        case '+':
        case '?':
          this.out += ch;
          this.quantifierSuffix(this.lastAtom);
          break;
        case '{': {
          const m = /^(\d+)(,(\d*))?\}/.exec(src.slice(this.pos));
          if (m) {
            this.out += `{${m[0]}`;
            this.pos += m[0].length;
            this.quantifierSuffix(this.lastAtom);
          } else this.out += this.literal(123);
          break;
        }
        default:
          this.out += this.literal(ch.charCodeAt(0));
      }
    }
    if (this.stack.length > 0) this.fail('unbalanced (');
    return this.out;
  }

  /**
   * Lazy `?` is kept, swapped under (?U) (inside an atomic group it decides what is kept). A possessive `X*+` is `(?>X*)`: the
   * quantified atom just written is wrapped as an atomic group.
   */
  private quantifierSuffix(atomStart: number): void {
    const next = this.src[this.pos];
    if (next === '+') {
      this.pos++;
      const capture = ++this.captures;
      this.out = `${this.out.slice(0, atomStart)}(?:(?=(?<a${capture}>${this.out.slice(atomStart)}))\\k<a${capture}>)`;
    } else if (next === '?') {
      this.pos++;
      if (!this.flags.U) this.out += '?';
    } else if (this.flags.U) this.out += '?';
  }
}

const cache = new Map<string, RegExp>();

/** PCRE `pattern` (with `caseless` = the `i` option of `~*`) as a JS RegExp for ASCII subjects. */
export function pcreToJs(pattern: string, caseless: boolean): RegExp {
  const key = `${caseless ? 'i' : '-'}${pattern}`;
  let re = cache.get(key);
  if (!re) {
    re = new RegExp(new Converter(pattern, caseless).convert());
    cache.set(key, re);
  }
  return re;
}

/** ngx.re.find semantics (unanchored search) on an ASCII subject. */
export function pcreSearch(pattern: string, caseless: boolean, subject: string): boolean {
  if (/[\u0080-\uffff]/.test(subject)) throw new UnsupportedPcre(`non-ASCII subject ${JSON.stringify(subject)}`);
  return pcreToJs(pattern, caseless).test(subject);
}

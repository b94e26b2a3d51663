// RE2 syntax (as Envoy accepts it, already validated by re2js) parsed into a small tree that is
// printed back as PCRE for APISIX. The tree carries, for every single-character matcher, the set of
// input bytes PCRE (no UTF mode) lets it consume, so that rewrites and the backtracking analysis
// (regex-backtracking.ts) can reason about what each part may consume.

/**
 * A set of input symbols as a bit mask: bits 0..127 are ASCII bytes, NON_ASCII stands for every
 * byte ≥ 0x80 at once, END for the end of the subject (only in first/follow sets).
 */
export type SymbolSet = bigint;
export const NON_ASCII = 128n;
export const END_BIT = 129n;
export const END: SymbolSet = 1n << END_BIT;
const bit = (code: number | bigint): SymbolSet => 1n << BigInt(code);
const range = (from: number, to: number): SymbolSet => ((1n << BigInt(to + 1)) - 1n) ^ ((1n << BigInt(from)) - 1n);
/** Every byte: ASCII and non-ASCII. */
export const ANY_BYTE: SymbolSet = range(0, 127) | bit(NON_ASCII);

export type Node =
  /** One character. `exact` is false when the set only over-approximates what PCRE consumes (Unicode classes, multi-byte characters). */
  | { readonly kind: 'chars'; readonly set: SymbolSet; readonly exact: boolean; readonly src: string; readonly cost: number }
  /** Zero-width: ^ $ \A \z \b \B. `end` when it only holds at the end of the subject. */
  | { readonly kind: 'assert'; readonly src: string; readonly end: boolean }
  /** A flag change alone, `(?i)`: in force to the end of the enclosing group in both dialects. */
  | { readonly kind: 'flags'; readonly src: string }
  | { readonly kind: 'group'; readonly open: string; readonly capture: boolean; readonly body: Node }
  | { readonly kind: 'concat'; readonly items: readonly Node[] }
  | { readonly kind: 'alt'; readonly alts: readonly Node[] }
  | { readonly kind: 'repeat'; readonly body: Node; readonly min: number; readonly max: number; readonly greedy: boolean; readonly quant: string; readonly possessive: boolean }
  /** `(?>…)`: made by the rewrites only (RE2 has no atomic groups). */
  | { readonly kind: 'atomic'; readonly body: Node };

interface Flags {
  readonly i: boolean;
  readonly m: boolean;
  readonly s: boolean;
  readonly U: boolean;
}

export interface Parsed {
  readonly root: Node;
  /** Why PCRE's meaning may still differ from RE2's (non-ASCII input); undefined when it does not. */
  readonly caveat: string | undefined;
}

const RE2_WHITESPACE = '\\t\\n\\f\\r ';
const SPACE: SymbolSet = bit(9) | bit(10) | bit(12) | bit(13) | bit(32);
const DIGIT: SymbolSet = range(48, 57);
const WORD: SymbolSet = range(48, 57) | range(65, 90) | range(97, 122) | bit(95);
const ASCII: SymbolSet = range(0, 127);
const POSIX: Readonly<Record<string, SymbolSet>> = {
  alnum: range(48, 57) | range(65, 90) | range(97, 122),
  alpha: range(65, 90) | range(97, 122),
  ascii: ASCII,
  blank: bit(9) | bit(32),
  cntrl: range(0, 31) | bit(127),
  digit: DIGIT,
  graph: range(33, 126),
  lower: range(97, 122),
  print: range(32, 126),
  punct: range(33, 47) | range(58, 64) | range(91, 96) | range(123, 126),
  space: SPACE | bit(11),
  upper: range(65, 90),
  word: WORD,
  xdigit: range(48, 57) | range(65, 70) | range(97, 102),
};
const LETTERS: SymbolSet = range(65, 90) | range(97, 122);

/** Adds the other case of every ASCII letter (PCRE's default tables fold ASCII only). */
function caseClosed(set: SymbolSet): SymbolSet {
  const upper = (set >> 65n) & ((1n << 26n) - 1n);
  const lower = (set >> 97n) & ((1n << 26n) - 1n);
  const both = upper | lower;
  return set | (both << 65n) | (both << 97n);
}

function utf8Length(code: number): number {
  return code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
}

/**
 * Parses a regex that re2js already accepted. The printed PCRE keeps the source text except where
 * PCRE reads it differently: `\v` (PCRE: any vertical space), `\s`/`\S` (PCRE's take VT), `$`
 * without (?m) (PCRE's also matches before a final newline), octal escapes (PCRE may read them as
 * back-references).
 */
export function parseRe2(regex: string): Parsed {
  return new Parser(regex).parse();
}

class Parser {
  private pos = 0;
  private caveat: string | undefined;

  constructor(private readonly src: string) {}

  parse(): Parsed {
    const root = this.alternation({ i: false, m: false, s: false, U: false });
    if (/[^\x00-\x7f]/.test(this.src)) this.caveat = 'non-ASCII characters are matched per byte by APISIX (PCRE without UTF mode)';
    return { root, caveat: this.caveat };
  }

  /** Up to a `)` of the enclosing group (not consumed) or the end. */
  private alternation(outer: Flags): Node {
    const alts: Node[] = [];
    let items: Node[] = [];
    // A bare flag group changes the flags for the rest of the enclosing group, alternatives included.
    let flags = outer;
    while (this.pos < this.src.length && this.src[this.pos] !== ')') {
      if (this.src[this.pos] === '|') {
        this.pos++;
        alts.push(concat(items));
        items = [];
        continue;
      }
      const bare = /^\(\?([imsU]*)(?:-([imsU]*))?\)/.exec(this.src.slice(this.pos));
      if (bare) {
        flags = applyFlags(flags, bare[1] ?? '', bare[2] ?? '');
        items.push({ kind: 'flags', src: bare[0] });
        this.pos += bare[0].length;
        continue;
      }
      const atom = this.atom(flags);
      items.push(this.quantified(atom, flags));
    }
    alts.push(concat(items));
    return alts.length === 1 ? alts[0]! : { kind: 'alt', alts };
  }

  private quantified(atom: Node, flags: Flags): Node {
    let node = atom;
    for (;;) {
      const rest = this.src.slice(this.pos);
      const m = /^(?:([*+?])|\{(\d+)(?:(,)(\d*))?\})(\??)/.exec(rest);
      if (!m) return node;
      this.pos += m[0].length;
      let min: number;
      let max: number;
      if (m[1] === '*') [min, max] = [0, Infinity];
      else if (m[1] === '+') [min, max] = [1, Infinity];
      else if (m[1] === '?') [min, max] = [0, 1];
      else {
        min = Number(m[2]);
        max = m[3] === undefined ? min : m[4] === '' ? Infinity : Number(m[4]);
      }
      // (?U) swaps what a trailing `?` means.
      const greedy = (m[5] === '') !== flags.U;
      node = { kind: 'repeat', body: node, min, max, greedy, quant: m[0], possessive: false };
    }
  }

  private atom(flags: Flags): Node {
    const ch = this.src[this.pos]!;
    if (ch === '(') return this.group(flags);
    if (ch === '[') return this.charClass(flags);
    this.pos++;
    if (ch === '\\') return this.escape(flags);
    if (ch === '.') return chars(flags.s ? ANY_BYTE : ANY_BYTE & ~bit(10), true, '.', flags.s ? 7 : 8);
    if (ch === '^') return { kind: 'assert', src: '^', end: false };
    if (ch === '$') return flags.m ? { kind: 'assert', src: '$', end: false } : { kind: 'assert', src: '\\z', end: true };
    const code = this.src.codePointAt(this.pos - 1)!;
    if (code > 0xffff) this.pos++;
    // A `{` that does not start a repetition is a literal in RE2; newer PCRE2 reads `{,n}` as one.
    return literal(code, ch === '{' ? '\\{' : String.fromCodePoint(code), flags);
  }

  private group(flags: Flags): Node {
    const rest = this.src.slice(this.pos);
    const named = /^\(\?P?<[A-Za-z_][A-Za-z0-9_]*>/.exec(rest);
    const flagged = /^\(\?([imsU]*)(?:-([imsU]*))?:/.exec(rest);
    let open: string;
    let inner = flags;
    if (named) open = named[0];
    else if (flagged) {
      open = flagged[0];
      inner = applyFlags(flags, flagged[1] ?? '', flagged[2] ?? '');
    } else open = '(';
    this.pos += open.length;
    const body = this.alternation(inner);
    this.pos++; // ')'
    return { kind: 'group', open, capture: !flagged, body };
  }

  private escape(flags: Flags): Node {
    const next = this.src[this.pos++] ?? '';
    switch (next) {
      case 'Q': {
        // \Q…\E quotes literally; the characters are kept one by one (escaped for PCRE).
        const end = this.src.indexOf('\\E', this.pos);
        const quoted = this.src.slice(this.pos, end === -1 ? this.src.length : end);
        this.pos = end === -1 ? this.src.length : end + 2;
        return concat([...quoted].map((c) => literal(c.codePointAt(0)!, escapeLiteral(c), flags)));
      }
      case 'E':
        return concat([]);
      case 'd':
      case 'D':
      case 'w':
      case 'W': {
        const base = next.toLowerCase() === 'd' ? DIGIT : WORD;
        return chars(next === next.toLowerCase() ? base : ANY_BYTE & ~base, true, `\\${next}`, next === next.toLowerCase() ? 3 : 8);
      }
      case 's':
        return chars(SPACE, true, `[${RE2_WHITESPACE}]`, 5);
      case 'S':
        return chars(ANY_BYTE & ~SPACE, true, `[^${RE2_WHITESPACE}]`, 8);
      case 'p':
      case 'P': {
        const name = this.src[this.pos] === '{' ? this.src.slice(this.pos, this.src.indexOf('}', this.pos) + 1) : (this.src[this.pos] ?? '');
        this.pos += name.length;
        this.caveat = 'Unicode classes are matched per byte by APISIX (PCRE without UTF mode)';
        // RE2 compiles a Unicode class into a UTF-8 automaton: \pL alone is about 1,200 instructions.
        return chars(ANY_BYTE, false, `\\${next}${name}`, 1000);
      }
      case 'A':
        return { kind: 'assert', src: '\\A', end: false };
      case 'z':
        return { kind: 'assert', src: '\\z', end: true };
      case 'b':
      case 'B':
        return { kind: 'assert', src: `\\${next}`, end: false };
      case 'v':
        return chars(bit(11), true, '\\x0b', 1);
      case 'x': {
        const m = /^(?:\{([0-9a-fA-F]+)\}|([0-9a-fA-F]{2}))/.exec(this.src.slice(this.pos))!;
        this.pos += m[0].length;
        return literal(parseInt(m[1] ?? m[2]!, 16), `\\x${m[0]}`, flags);
      }
      default: {
        if (/[0-7]/.test(next)) {
          const digits = /^[0-7]{0,2}/.exec(this.src.slice(this.pos))![0];
          this.pos += digits.length;
          const code = parseInt(next + digits, 8);
          return literal(code, code < 0x80 ? hex(code) : `\\x{${code.toString(16)}}`, flags);
        }
        const code = CONTROL_ESCAPES[next];
        if (code !== undefined) return literal(code, `\\${next}`, flags);
        return literal(next.codePointAt(0)!, `\\${next}`, flags);
      }
    }
  }

  private charClass(flags: Flags): Node {
    const src = this.src;
    this.pos++;
    const negated = src[this.pos] === '^';
    if (negated) this.pos++;
    let out = negated ? '[^' : '[';
    let set: SymbolSet = 0n;
    let exact = true;
    let first = true;
    while (this.pos < src.length && (src[this.pos] !== ']' || first)) {
      first = false;
      const posix = /^\[:(\^?)([a-z]+):\]/.exec(src.slice(this.pos));
      if (posix) {
        const members = POSIX[posix[2]!] ?? ASCII;
        set |= posix[1] ? ANY_BYTE & ~members : members;
        out += posix[0];
        this.pos += posix[0].length;
        continue;
      }
      const item = this.classItem();
      out += item.src;
      exact &&= item.exact;
      if (item.code !== undefined && src[this.pos] === '-' && src[this.pos + 1] !== ']' && this.pos + 1 < src.length) {
        this.pos++;
        const end = this.classItem();
        out += `-${end.src}`;
        exact &&= end.exact;
        set |= codeRange(item.code, end.code ?? item.code);
        if ((end.code ?? 0) >= 0x80) exact = false;
        continue;
      }
      set |= item.set;
    }
    this.pos++; // ']'
    out += ']';
    if (flags.i) set = caseClosed(set);
    if (negated) set = ANY_BYTE & ~set;
    // A class with non-ASCII members is a set of bytes to PCRE (without UTF mode), so the set is not exact.
    return chars(set, exact, out, Math.max(1, classRanges(set)) + (set & bit(NON_ASCII) ? 6 : 0));
  }

  /** One member of a class: a character (with its code) or a shorthand class. */
  private classItem(): { src: string; set: SymbolSet; code: number | undefined; exact: boolean } {
    const src = this.src;
    const ch = src[this.pos]!;
    if (ch !== '\\') {
      const code = src.codePointAt(this.pos)!;
      this.pos += code > 0xffff ? 2 : 1;
      return { src: String.fromCodePoint(code), set: codeRange(code, code), code, exact: code < 0x80 };
    }
    const next = src[this.pos + 1] ?? '';
    this.pos += 2;
    switch (next) {
      case 'd':
        return { src: '\\d', set: DIGIT, code: undefined, exact: true };
      case 'D':
        return { src: '\\D', set: ANY_BYTE & ~DIGIT, code: undefined, exact: true };
      case 'w':
        return { src: '\\w', set: WORD, code: undefined, exact: true };
      case 'W':
        return { src: '\\W', set: ANY_BYTE & ~WORD, code: undefined, exact: true };
      case 's':
        return { src: RE2_WHITESPACE, set: SPACE, code: undefined, exact: true };
      case 'S':
        this.caveat = 'a negated whitespace class inside brackets is approximated';
        return { src: '\\S', set: ANY_BYTE & ~SPACE, code: undefined, exact: false };
      case 'v':
        return { src: '\\x0b', set: bit(11), code: 11, exact: true };
      case 'p':
      case 'P': {
        const name = src[this.pos] === '{' ? src.slice(this.pos, src.indexOf('}', this.pos) + 1) : (src[this.pos] ?? '');
        this.pos += name.length;
        this.caveat = 'Unicode classes are matched per byte by APISIX (PCRE without UTF mode)';
        return { src: `\\${next}${name}`, set: ANY_BYTE, code: undefined, exact: false };
      }
      case 'x': {
        const m = /^(?:\{([0-9a-fA-F]+)\}|([0-9a-fA-F]{2}))/.exec(src.slice(this.pos))!;
        this.pos += m[0].length;
        const code = parseInt(m[1] ?? m[2]!, 16);
        return { src: `\\x${m[0]}`, set: codeRange(code, code), code, exact: code < 0x80 };
      }
      default: {
        if (/[0-7]/.test(next)) {
          const digits = /^[0-7]{0,2}/.exec(src.slice(this.pos))![0];
          this.pos += digits.length;
          const code = parseInt(next + digits, 8);
          return { src: code < 0x80 ? hex(code) : `\\x{${code.toString(16)}}`, set: codeRange(code, code), code, exact: code < 0x80 };
        }
        const code = CONTROL_ESCAPES[next] ?? next.codePointAt(0)!;
        return { src: `\\${next}`, set: codeRange(code, code), code, exact: code < 0x80 };
      }
    }
  }
}

const CONTROL_ESCAPES: Readonly<Record<string, number>> = { a: 7, f: 12, t: 9, n: 10, r: 13 };

function applyFlags(flags: Flags, on: string, off: string): Flags {
  const next = { ...flags };
  for (const f of on) next[f as keyof Flags] = true;
  for (const f of off) next[f as keyof Flags] = false;
  return next;
}

function codeRange(from: number, to: number): SymbolSet {
  const ascii = from < 0x80 ? range(from, Math.min(to, 0x7f)) : 0n;
  return to >= 0x80 ? ascii | bit(NON_ASCII) : ascii;
}

function classRanges(set: SymbolSet): number {
  let count = 0;
  for (let c = 0n; c < 128n; c++) if ((set >> c) & 1n && !(c > 0n && (set >> (c - 1n)) & 1n)) count++;
  return count;
}

const hex = (code: number): string => `\\x${code.toString(16).padStart(2, '0')}`;

export function chars(set: SymbolSet, exact: boolean, src: string, cost: number): Node {
  return { kind: 'chars', set, exact, src, cost };
}

/** A literal character; a non-ASCII one is several bytes to PCRE, so its set is not exact. */
function literal(code: number, src: string, flags: Flags): Node {
  if (code >= 0x80) return chars(bit(NON_ASCII), false, src, utf8Length(code));
  const set = bit(code);
  return chars(flags.i && set & LETTERS ? caseClosed(set) : set, true, src, 1);
}

export function concat(items: readonly Node[]): Node {
  return items.length === 1 ? items[0]! : { kind: 'concat', items };
}

export function escapeLiteral(c: string): string {
  return /[\\^$.|?*+()[\]{}/]/.test(c) ? `\\${c}` : c;
}

/** A class (or a single character) that consumes exactly `set` (ASCII, plus every non-ASCII byte if NON_ASCII is in it). */
export function classSource(set: SymbolSet): string {
  const codes: number[] = [];
  for (let c = 0; c < 128; c++) if ((set >> BigInt(c)) & 1n) codes.push(c);
  const nonAscii = (set & bit(NON_ASCII)) !== 0n;
  if (codes.length === 1 && !nonAscii) {
    const c = String.fromCharCode(codes[0]!);
    return /[\x21-\x7e]/.test(c) ? escapeLiteral(c) : hex(codes[0]!);
  }
  const member = (code: number): string => {
    const c = String.fromCharCode(code);
    if (!/[\x21-\x7e]/.test(c)) return hex(code);
    return /[\\\][^-]/.test(c) ? `\\${c}` : c;
  };
  let out = '';
  for (let i = 0; i < codes.length;) {
    let j = i;
    while (j + 1 < codes.length && codes[j + 1] === codes[j]! + 1) j++;
    out +=
      j > i + 1
        ? `${member(codes[i]!)}-${member(codes[j]!)}`
        : codes
            .slice(i, j + 1)
            .map(member)
            .join('');
    i = j + 1;
  }
  return `[${out}${nonAscii ? '\\x80-\\xff' : ''}]`;
}

/** PCRE text of a tree. */
export function printPcre(node: Node): string {
  switch (node.kind) {
    case 'chars':
    case 'assert':
    case 'flags':
      return node.src;
    case 'group':
      return `${node.open}${printPcre(node.body)})`;
    case 'atomic':
      return `(?>${printPcre(node.body)})`;
    case 'concat':
      return node.items.map(printPcre).join('');
    case 'alt':
      return node.alts.map(printPcre).join('|');
    case 'repeat': {
      const body = node.body;
      const atom =
        body.kind === 'concat' || body.kind === 'alt' || body.kind === 'repeat' || body.kind === 'flags' || body.kind === 'assert' ? `(?:${printPcre(body)})` : printPcre(body);
      // A possessive quantifier is greedy whatever (?U) says: `X+?` under (?U) becomes `X++`.
      return node.possessive ? `${atom}${node.quant.replace(/\?$/, '')}+` : `${atom}${node.quant}`;
    }
  }
}

/**
 * An estimate of RE2's ProgramSize() (what Envoy compares with re2.max_program_size): about one
 * instruction per byte to match, a UTF-8 automaton for `.` and negated or Unicode classes,
 * repetitions expanded as RE2 expands them, two per capture.
 */
export function programSize(root: Node): number {
  return 3 + cost(root);
}

function cost(node: Node): number {
  switch (node.kind) {
    case 'chars':
      return node.cost;
    case 'assert':
      return 1;
    case 'flags':
      return 0;
    case 'group':
      return cost(node.body) + (node.capture ? 2 : 0);
    case 'atomic':
      return cost(node.body);
    case 'concat':
      return node.items.reduce((sum, item) => sum + cost(item), 0);
    case 'alt':
      return node.alts.reduce((sum, alt) => sum + cost(alt), 0) + node.alts.length - 1;
    case 'repeat': {
      const body = cost(node.body);
      if (node.max === Infinity) return Math.max(1, node.min) * body + 1;
      return node.max * body + (node.max - node.min);
    }
  }
}

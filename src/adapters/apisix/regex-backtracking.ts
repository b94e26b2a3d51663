// RE2 runs in linear time; APISIX's PCRE backtracks, and some regexes RE2 runs safely make it try
// exponentially or polynomially many paths (`(a+)+$` on 26 characters reaches PCRE's match limit).
// This module rewrites what can be rewritten without changing what the regex accepts, then
// measures what remains on the regex's position automaton:
// - exponential: a state that returns to itself by two different paths on one word (EDA);
// - polynomial of degree d: d+1 loops in sequence that can all consume one word (IDA chains).
// Rewritten parts that PCRE may not backtrack into (possessive loops, atomic groups) are marked
// "committed": two paths cannot part inside them.
import { END, chars, classSource, concat, type Node, type SymbolSet } from './regex-syntax.js';

interface Info {
  /** What the first character consumed may be; END when the node may demand the end of the subject first. */
  readonly first: SymbolSet;
  /** May be passed without consuming anything and without demanding the end (zero-width assertions pass). */
  readonly transparent: boolean;
  /** Matches the empty string with no assertion on the way. */
  readonly pureNullable: boolean;
  readonly nullable: boolean;
  /** Every symbol the node may consume. */
  readonly chars: SymbolSet;
  /** Symbols c for which the one-character string "c" is matched (without assertions). */
  readonly singles: SymbolSet;
  /** Every character set is exact. */
  readonly exact: boolean;
  readonly asserts: boolean;
  /** Contains a repetition. */
  readonly repeats: boolean;
}

const infos = new WeakMap<Node, Info>();

function info(node: Node): Info {
  const known = infos.get(node);
  if (known) return known;
  const computed = computeInfo(node);
  infos.set(node, computed);
  return computed;
}

function computeInfo(node: Node): Info {
  switch (node.kind) {
    case 'chars':
      return {
        first: node.set,
        transparent: false,
        pureNullable: false,
        nullable: false,
        chars: node.set,
        singles: node.exact ? node.set : 0n,
        exact: node.exact,
        asserts: false,
        repeats: false,
      };
    case 'assert':
      return { first: node.end ? END : 0n, transparent: !node.end, pureNullable: false, nullable: true, chars: 0n, singles: 0n, exact: true, asserts: true, repeats: false };
    case 'flags':
      return { first: 0n, transparent: true, pureNullable: true, nullable: true, chars: 0n, singles: 0n, exact: true, asserts: false, repeats: false };
    case 'group':
    case 'atomic':
      return info(node.body);
    case 'concat': {
      const parts = node.items.map(info);
      let first = 0n;
      let transparent = true;
      for (const part of parts) {
        first |= part.first;
        if (!part.transparent) {
          transparent = false;
          break;
        }
      }
      let singles = 0n;
      parts.forEach((part, i) => {
        if (parts.every((other, j) => j === i || other.pureNullable)) singles |= part.singles;
      });
      return {
        first,
        transparent,
        pureNullable: parts.every((p) => p.pureNullable),
        nullable: parts.every((p) => p.nullable),
        chars: parts.reduce((set, p) => set | p.chars, 0n),
        singles,
        exact: parts.every((p) => p.exact),
        asserts: parts.some((p) => p.asserts),
        repeats: parts.some((p) => p.repeats),
      };
    }
    case 'alt': {
      const parts = node.alts.map(info);
      return {
        first: parts.reduce((set, p) => set | p.first, 0n),
        transparent: parts.some((p) => p.transparent),
        pureNullable: parts.some((p) => p.pureNullable),
        nullable: parts.some((p) => p.nullable),
        chars: parts.reduce((set, p) => set | p.chars, 0n),
        singles: parts.reduce((set, p) => set | p.singles, 0n),
        exact: parts.every((p) => p.exact),
        asserts: parts.some((p) => p.asserts),
        repeats: parts.some((p) => p.repeats),
      };
    }
    case 'repeat': {
      const body = info(node.body);
      const none = node.max === 0;
      return {
        first: none ? 0n : body.first,
        transparent: node.min === 0 || body.transparent,
        pureNullable: node.min === 0 || body.pureNullable,
        nullable: node.min === 0 || body.nullable,
        chars: none ? 0n : body.chars,
        singles: node.max >= 1 && (node.min <= 1 || body.pureNullable) ? body.singles : 0n,
        exact: body.exact,
        asserts: body.asserts,
        repeats: true,
      };
    }
  }
}

/**
 * A loop whose body matches each single character of its character set S and nothing but strings
 * of S (no assertions) accepts exactly S{min,}: `(a+)+`, `(a|aa)+`, `(?:ab|a|b)*` — or S* when the
 * body may match the empty string (`(a*)*`, `(?:a*b*)+`), which `nullable` allows.
 */
function loopOverOneSet(node: Node, nullable: boolean): { set: SymbolSet; min: number } | undefined {
  if (node.kind !== 'repeat' || node.max !== Infinity || isSingleChar(node.body)) return undefined;
  const body = info(node.body);
  if (body.asserts || (body.nullable && !nullable) || !body.exact || body.chars === 0n || body.singles !== body.chars) return undefined;
  return { set: body.chars, min: body.nullable ? 0 : node.min };
}

function isSingleChar(node: Node): boolean {
  return node.kind === 'chars' || ((node.kind === 'group' || node.kind === 'atomic') && isSingleChar(node.body));
}

/** Whether (?U) is in force where a repetition stands: a quantifier without `?` is then the lazy one. */
const underUngreedy = (node: Node & { kind: 'repeat' }): boolean => node.greedy === node.quant.endsWith('?');

/** The character set of `S*`, `S+`, `S{n,}` over one character (no group around it). */
function classLoop(node: Node): { set: SymbolSet; min: number; body: Node; ungreedyFlag: boolean } | undefined {
  if (node.kind !== 'repeat' || node.max !== Infinity || node.body.kind !== 'chars' || !node.body.exact) return undefined;
  return { set: node.body.set, min: node.min, body: node.body, ungreedyFlag: underUngreedy(node) };
}

const subset = (a: SymbolSet, b: SymbolSet): boolean => (a & ~b) === 0n;

function quantifier(min: number): string {
  return min === 0 ? '*' : min === 1 ? '+' : `{${min},}`;
}

/**
 * For a whole-subject yes/no match (route conditions): only the set of accepted strings matters,
 * not which path or captures PCRE finds, so the rewrites may change both. Each keeps the language:
 * - captures become plain groups (RE2 has no back-references), plain groups are flattened;
 * - a loop over one character set S (see loopOverOneSet) becomes `[S]{min,}`;
 * - `S1* S2*` with S1 ⊆ S2 is `S2*` (and `S1+ S2*` is `S1 S2*`; likewise the other way round);
 * - `S* y1…yk T` where each yi ⊆ S and T starts with a loop over a superset of S: any split that
 *   works can be moved to the first occurrence of y1…yk (the gap is absorbed by T's loop), so
 *   `(?>S*?y1…yk)` (commit to the first occurrence) accepts the same strings.
 */
export function linearizeForMatch(root: Node): Node {
  return rewriteMatch(root);
}

function rewriteMatch(node: Node): Node {
  switch (node.kind) {
    case 'chars':
    case 'assert':
    case 'flags':
      return node;
    case 'atomic':
      return { kind: 'atomic', body: rewriteMatch(node.body) };
    case 'group': {
      const body = rewriteMatch(node.body);
      return node.capture ? { kind: 'group', open: '(?:', capture: false, body } : { ...node, body };
    }
    case 'alt':
      return { kind: 'alt', alts: node.alts.map(rewriteMatch) };
    case 'repeat': {
      const rewritten: Node = { ...node, body: rewriteMatch(node.body) };
      const loop = loopOverOneSet(rewritten, true);
      if (loop === undefined) return rewritten;
      // `greedy` says what the quantifier means where it stands: a plain one is lazy under (?U).
      return {
        kind: 'repeat',
        body: chars(loop.set, true, classSource(loop.set), 1),
        min: loop.min,
        max: Infinity,
        greedy: !underUngreedy(node),
        quant: quantifier(loop.min),
        possessive: false,
      };
    }
    case 'concat': {
      const items: Node[] = [];
      for (const item of node.items.map(rewriteMatch)) {
        // A plain group in a sequence is only parentheses (unless a bare flag change in it must end with it).
        const plain = item.kind === 'group' && item.open === '(?:' && item.body.kind !== 'alt' && !(item.body.kind === 'concat' && item.body.items.some((i) => i.kind === 'flags'));
        if (plain && item.body.kind === 'concat') items.push(...item.body.items);
        else if (plain && item.body.kind !== 'flags') items.push(item.body);
        else items.push(item);
      }
      return concat(firstOccurrences(mergeClassLoops(items)));
    }
  }
}

function mergeClassLoops(items: Node[]): Node[] {
  const out: Node[] = [];
  for (const item of items) {
    const previous = out[out.length - 1];
    const a = previous ? classLoop(previous) : undefined;
    const b = classLoop(item);
    if (a && b && a.min <= 1 && subset(a.set, b.set)) {
      out.pop();
      if (a.min === 1) out.push(a.body);
      out.push(item);
    } else if (a && b && b.min <= 1 && subset(b.set, a.set)) {
      if (b.min === 1) out.push(b.body);
    } else out.push(item);
  }
  return out;
}

function firstOccurrences(items: Node[]): Node[] {
  const out: Node[] = [];
  for (let i = 0; i < items.length; i++) {
    const loop = classLoop(items[i]!);
    if (loop && loop.min === 0) {
      let k = i + 1;
      while (k < items.length && items[k]!.kind === 'chars' && isExactSubset(items[k]!, loop.set)) k++;
      const rest = k < items.length ? classLoop(items[k]!) : undefined;
      if (k > i + 1 && rest && subset(loop.set, rest.set)) {
        const scan: Node = { kind: 'repeat', body: loop.body, min: 0, max: Infinity, greedy: false, quant: loop.ungreedyFlag ? '*' : '*?', possessive: false };
        out.push({ kind: 'atomic', body: concat([scan, ...items.slice(i + 1, k)]) });
        i = k - 1;
        continue;
      }
    }
    out.push(items[i]!);
  }
  return out;
}

function isExactSubset(node: Node, set: SymbolSet): boolean {
  return node.kind === 'chars' && node.exact && subset(node.set, set);
}

/**
 * For a search whose match and captures are used (regex_uri substitutions): a greedy loop over one
 * character set S is made possessive when PCRE could never succeed by backtracking into it, so the
 * first match and its captures are the ones PCRE finds without the change. Its first path ends at
 * the end of the run of S characters; a path that stops earlier leaves an S character next, so it
 * only succeeds if what follows can begin with that character (`follow`), or if what follows may be
 * empty without conditions (then the first path already succeeded).
 * The loop's body must match each iteration without a long search of its own: a finite set of
 * strings, or one character class repeated.
 */
export function linearizeForSearch(root: Node): Node {
  return rewriteSearch(root, ACCEPT, true);
}

/** In a search, the end of the pattern: the match may end there. */
const ACCEPT: SymbolSet = 1n << 130n;

function rewriteSearch(node: Node, follow: SymbolSet, pureTail: boolean): Node {
  switch (node.kind) {
    case 'chars':
    case 'assert':
    case 'flags':
      return node;
    case 'group':
      return { ...node, body: rewriteSearch(node.body, follow, pureTail) };
    case 'atomic':
      return { kind: 'atomic', body: rewriteSearch(node.body, follow, pureTail) };
    case 'alt':
      return { kind: 'alt', alts: node.alts.map((alt) => rewriteSearch(alt, follow, pureTail)) };
    case 'concat': {
      const items = node.items;
      const out: Node[] = new Array<Node>(items.length);
      let after = follow;
      let tail = pureTail;
      for (let i = items.length - 1; i >= 0; i--) {
        const item = items[i]!;
        out[i] = rewriteSearch(item, after, tail);
        const part = info(item);
        after = part.transparent ? part.first | after : part.first;
        tail = tail && part.pureNullable;
      }
      return { kind: 'concat', items: out };
    }
    case 'repeat': {
      const self = info(node.body);
      const inner = rewriteSearch(node.body, node.max > 1 ? follow | self.first : follow, pureTail && node.min <= 1);
      const rewritten: Node = { ...node, body: inner };
      const loop = loopOverOneSet(rewritten, false);
      if (loop === undefined || !node.greedy || !isSimpleBody(inner)) return rewritten;
      if (pureTail || (follow & (loop.set | ACCEPT)) === 0n) return { ...rewritten, possessive: true };
      return rewritten;
    }
  }
}

/** A finite set of strings, or one character class repeated: one iteration needs no long search. */
function isSimpleBody(node: Node): boolean {
  if (!info(node).repeats) return true;
  if (node.kind === 'group') return isSimpleBody(node.body);
  return node.kind === 'repeat' && isSingleChar(node.body);
}

// ---------------------------------------------------------------------------------------------
// The analysis: positions (one per character matcher) and the transitions between them.

export interface Backtracking {
  /** Some input makes PCRE try exponentially many paths. */
  readonly exponential: boolean;
  /** d when PCRE may try on the order of n^(d+1) paths on an input of n characters (0: linear). */
  readonly degree: number;
  /** The automaton was too large to analyse within the work bound. */
  readonly tooComplex: boolean;
}

/** Above what the RE2 program-size bound lets through, so that a long literal regex is still analysed. */
const MAX_POSITIONS = 40_000;
/** Bounds on the product automata: past them the regex is "too large to prove" safe. */
const MAX_WORK = 4_000_000;
const MAX_PAIRS = 1_000_000;

interface Automaton {
  readonly sets: SymbolSet[];
  readonly committed: boolean[];
  readonly follow: Set<number>[];
  /**
   * Transitions made twice, by two parts of the regex: `(a*)*` loops on `a` as the inner or as the
   * outer repetition, and PCRE tries both. Keys `from,to`.
   */
  readonly twice: Set<string>;
}

class TooComplex extends Error {}

interface Fragment {
  readonly first: number[];
  readonly last: number[];
  readonly nullable: boolean;
}

function buildAutomaton(root: Node): Automaton {
  const a: Automaton = { sets: [], committed: [], follow: [], twice: new Set() };
  const position = (set: SymbolSet, committed: boolean): number => {
    if (a.sets.length >= MAX_POSITIONS) throw new TooComplex();
    a.sets.push(set);
    a.committed.push(committed);
    a.follow.push(new Set());
    return a.sets.length - 1;
  };
  const link = (from: readonly number[], to: readonly number[]): void => {
    for (const f of from) {
      for (const t of to) {
        if (a.follow[f]!.has(t)) a.twice.add(`${f},${t}`);
        a.follow[f]!.add(t);
      }
    }
  };
  const seq = (x: Fragment, y: Fragment): Fragment => {
    link(x.last, y.first);
    return {
      first: x.nullable ? [...x.first, ...y.first] : x.first,
      last: y.nullable ? [...y.last, ...x.last] : y.last,
      nullable: x.nullable && y.nullable,
    };
  };
  const empty: Fragment = { first: [], last: [], nullable: true };
  const build = (node: Node): Fragment => {
    switch (node.kind) {
      case 'chars': {
        const p = position(node.set & ~END, false);
        return { first: [p], last: [p], nullable: false };
      }
      case 'assert':
      case 'flags':
        // Zero-width: passing them freely only adds paths, so the analysis stays on the safe side.
        return empty;
      case 'group':
        return build(node.body);
      case 'atomic':
        return token(node);
      case 'concat':
        return node.items.reduce((acc, item) => seq(acc, build(item)), empty);
      case 'alt': {
        const parts = node.alts.map(build);
        return { first: parts.flatMap((p) => p.first), last: parts.flatMap((p) => p.last), nullable: parts.some((p) => p.nullable) };
      }
      case 'repeat': {
        if (node.possessive) return token(node);
        if (node.max === 0) return empty;
        const exactCopies = node.max !== Infinity && node.max <= 8;
        if (node.max === Infinity || !exactCopies) {
          // X{m,}: m-1 copies then X+; a large bounded X{m,n} is analysed as X{min(m,1),} (more paths, not fewer).
          const min = node.max === Infinity ? Math.min(node.min, 8) : Math.min(node.min, 1);
          let acc = empty;
          for (let k = 1; k < min; k++) acc = seq(acc, build(node.body));
          const loop = build(node.body);
          link(loop.last, loop.first);
          return seq(acc, { ...loop, nullable: loop.nullable || min === 0 });
        }
        let acc = empty;
        for (let k = 0; k < node.min; k++) acc = seq(acc, build(node.body));
        // Optional copies nest as PCRE tries them: a later copy only after the one before it.
        let enter = acc.last;
        let enterFromStart = acc.nullable;
        let first = acc.first;
        let last = acc.last;
        for (let k = node.min; k < node.max; k++) {
          const copy = build(node.body);
          link(enter, copy.first);
          if (enterFromStart) first = [...first, ...copy.first];
          last = [...last, ...copy.last];
          enter = copy.nullable ? [...enter, ...copy.last] : copy.last;
          enterFromStart &&= copy.nullable;
        }
        return { first, last, nullable: acc.nullable };
      }
    }
  };
  /** A committed part: one position that consumes any of its characters and loops on itself. */
  const token = (node: Node): Fragment => {
    const set = info(node).chars & ~END;
    const p = position(set, true);
    a.follow[p]!.add(p);
    return { first: [p], last: [p], nullable: info(node).nullable };
  };
  build(root);
  return a;
}

/** Strongly connected components (iterative Tarjan) of a graph given by successor lists. */
function components(count: number, successors: (v: number) => Iterable<number>): number[] {
  const index = new Array<number>(count).fill(-1);
  const low = new Array<number>(count).fill(0);
  const onStack = new Array<boolean>(count).fill(false);
  const component = new Array<number>(count).fill(-1);
  const stack: number[] = [];
  let next = 0;
  let components = 0;
  for (let root = 0; root < count; root++) {
    if (index[root] !== -1) continue;
    const work: { v: number; it: Iterator<number> }[] = [{ v: root, it: successors(root)[Symbol.iterator]() }];
    index[root] = low[root] = next++;
    stack.push(root);
    onStack[root] = true;
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const step = frame.it.next();
      if (!step.done) {
        const w = step.value;
        if (index[w] === -1) {
          index[w] = low[w] = next++;
          stack.push(w);
          onStack[w] = true;
          work.push({ v: w, it: successors(w)[Symbol.iterator]() });
        } else if (onStack[w]) low[frame.v] = Math.min(low[frame.v]!, index[w]!);
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low[parent.v] = Math.min(low[parent.v]!, low[frame.v]!);
      if (low[frame.v] === index[frame.v]) {
        let w: number;
        do {
          w = stack.pop()!;
          onStack[w] = false;
          component[w] = components;
        } while (w !== frame.v);
        components++;
      }
    }
  }
  return component;
}

export function analyseBacktracking(root: Node): Backtracking {
  try {
    return analyse(buildAutomaton(root));
  } catch (error) {
    if (error instanceof TooComplex) return { exponential: false, degree: 0, tooComplex: true };
    throw error;
  }
}

function analyse(a: Automaton): Backtracking {
  const n = a.sets.length;
  const scc = components(n, (v) => a.follow[v]!);
  const members = new Map<number, number[]>();
  for (let v = 0; v < n; v++) {
    const list = members.get(scc[v]!);
    if (list) list.push(v);
    else members.set(scc[v]!, [v]);
  }
  const looping = (c: number): boolean => {
    const vs = members.get(c)!;
    return vs.length > 1 || a.follow[vs[0]!]!.has(vs[0]!);
  };
  let work = 0;
  const spend = (): void => {
    if (++work > MAX_WORK) throw new TooComplex();
  };
  // Two paths may part at (x, x) only where PCRE could take either: not inside a committed part.
  const parts = (x: number, y: number, x2: number, y2: number): boolean => !(x === y && a.committed[x] && x2 !== y2);

  // Exponential: in some looping component C, a pair (p, p) and a pair (x, y), x ≠ y, of C × C lie
  // on one cycle of the product automaton.
  for (const [c, vs] of members) {
    if (!looping(c)) continue;
    const local = new Map(vs.map((v, i) => [v, i]));
    const k = vs.length;
    if (k * k > MAX_PAIRS) throw new TooComplex();
    const succ = (node: number): number[] => {
      spend();
      const x = vs[Math.floor(node / k)]!;
      const y = vs[node % k]!;
      const out: number[] = [];
      for (const x2 of a.follow[x]!) {
        const i = local.get(x2);
        if (i === undefined) continue;
        for (const y2 of a.follow[y]!) {
          const j = local.get(y2);
          if (j === undefined || (a.sets[x2]! & a.sets[y2]!) === 0n || !parts(x, y, x2, y2)) continue;
          out.push(i * k + j);
        }
      }
      return out;
    };
    const pairScc = components(k * k, succ);
    const diagonal = new Set<number>();
    for (let i = 0; i < k; i++) diagonal.add(pairScc[i * k + i]!);
    for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) if (i !== j && diagonal.has(pairScc[i * k + j]!)) return { exponential: true, degree: 0, tooComplex: false };
    // Or two paths that only differ by a transition made twice, on a cycle through (x, x).
    for (const edge of a.twice) {
      const [x, x2] = edge.split(',').map(Number) as [number, number];
      const i = local.get(x);
      const j = local.get(x2);
      if (i === undefined || j === undefined || a.committed[x]) continue;
      if (pairScc[i * k + i] === pairScc[j * k + j]) return { exponential: true, degree: 0, tooComplex: false };
    }
  }

  // Polynomial: p and q in different looping components, q after p, and one word w that leads
  // p → p, p → q and q → q (Weber and Seidl's IDA). Each such pair adds one to the degree.
  // Only positions on loops take part; reachability is computed for them alone (a long literal has none).
  const preceding: number[][] = Array.from({ length: n }, () => []);
  for (let v = 0; v < n; v++) for (const w of a.follow[v]!) preceding[w]!.push(v);
  const closure = (from: number, next: (v: number) => Iterable<number>): Set<number> => {
    const seen = new Set<number>([from]);
    const queue = [from];
    while (queue.length > 0) {
      spend();
      for (const w of next(queue.pop()!)) {
        if (seen.has(w)) continue;
        seen.add(w);
        queue.push(w);
      }
    }
    return seen;
  };
  const loopPositions = [...Array(n).keys()].filter((v) => looping(scc[v]!));
  const leadsTo = new Map(loopPositions.map((q) => [q, closure(q, (v) => preceding[v]!)]));
  const ida = new Map<number, Set<number>>();
  for (const p of loopPositions) {
    for (const q of closure(p, (v) => a.follow[v]!)) {
      if (scc[q] === scc[p] || !looping(scc[q]!)) continue;
      if (ida.get(scc[p]!)?.has(scc[q]!)) continue;
      if (hasIda(a, scc, p, q, leadsTo.get(q)!, parts, spend)) ida.set(scc[p]!, new Set([...(ida.get(scc[p]!) ?? []), scc[q]!]));
    }
  }
  // The degree is the longest chain of IDA pairs (the components form a DAG).
  const longest = new Map<number, number>();
  const chain = (c: number): number => {
    const known = longest.get(c);
    if (known !== undefined) return known;
    let best = 0;
    for (const d of ida.get(c) ?? []) best = Math.max(best, 1 + chain(d));
    longest.set(c, best);
    return best;
  };
  let degree = 0;
  for (const c of ida.keys()) degree = Math.max(degree, chain(c));
  return { exponential: false, degree, tooComplex: false };
}

function hasIda(
  a: Automaton,
  scc: number[],
  p: number,
  q: number,
  /** Positions from which q can be reached. */
  leadsToQ: Set<number>,
  parts: (x: number, y: number, x2: number, y2: number) => boolean,
  spend: () => void,
): boolean {
  const cp = scc[p]!;
  const cq = scc[q]!;
  const key = (x: number, y: number, z: number): string => `${x},${y},${z}`;
  const seen = new Set<string>();
  const queue: [number, number, number][] = [];
  const visit = (x: number, y: number, z: number): boolean => {
    if (x === p && y === q && z === q) return true;
    const k = key(x, y, z);
    if (!seen.has(k)) {
      seen.add(k);
      queue.push([x, y, z]);
    }
    return false;
  };
  const expand = (x: number, y: number, z: number): boolean => {
    spend();
    for (const x2 of a.follow[x]!) {
      if (scc[x2] !== cp) continue;
      for (const y2 of a.follow[y]!) {
        if (!leadsToQ.has(y2) || !parts(x, y, x2, y2)) continue;
        const xy = a.sets[x2]! & a.sets[y2]!;
        if (xy === 0n) continue;
        for (const z2 of a.follow[z]!) {
          if (scc[z2] !== cq || (xy & a.sets[z2]!) === 0n) continue;
          if (visit(x2, y2, z2)) return true;
        }
      }
    }
    return false;
  };
  if (expand(p, p, q)) return true;
  for (let head = 0; head < queue.length; head++) {
    const [x, y, z] = queue[head]!;
    if (expand(x, y, z)) return true;
  }
  return false;
}

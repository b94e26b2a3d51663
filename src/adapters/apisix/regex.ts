// Envoy regexes are RE2 and must match the whole input; APISIX evaluates PCRE (ngx.re, no UTF mode)
// with search semantics. This module validates RE2 syntax and Envoy's program-size rule, prints the
// regex as PCRE (rewriting the constructs PCRE reads differently, regex-syntax.ts) so that the PCRE
// pattern accepts exactly what RE2 accepts (ASCII input), and refuses what PCRE would run in
// exponential or worse than quadratic time after the rewrites that keep the meaning
// (regex-backtracking.ts): RE2 guarantees linear time, and a request must not buy seconds of CPU.
import { RE2JS } from 're2js';
import { err, ok, type Result } from '../../domain/result.js';
import { analyseBacktracking, linearizeForMatch, linearizeForSearch } from './regex-backtracking.js';
import { parseRe2, printPcre, programSize, type Node } from './regex-syntax.js';

export interface PcrePattern {
  /** Search pattern for APISIX, anchored: `^(?:…)\z`. */
  readonly anchored: string;
  /** The body alone (not anchored), to embed in a larger yes/no pattern. */
  readonly body: string;
  /** Set when PCRE's meaning or cost may still differ (non-ASCII input, quadratic backtracking); the reason is reported. */
  readonly caveat: string | undefined;
}

/**
 * Envoy refuses a regex whose RE2 program is larger than the runtime key
 * re2.max_program_size.error_level: 100 by default, 32768 in the bootstrap Istio gives its proxies.
 * The translation follows Istio (its configurations are what it translates), with RE2's program
 * size estimated from the parsed regex.
 */
export const MAX_RE2_PROGRAM_SIZE = 32_768;

/** How much of a regex an error message quotes. */
const QUOTED = 80;
const quote = (regex: string): string => (regex.length <= QUOTED ? JSON.stringify(regex) : `${JSON.stringify(regex.slice(0, QUOTED))}… (${regex.length} characters)`);

function parse(regex: string): Result<{ root: Node; caveat: string | undefined }, string> {
  try {
    RE2JS.compile(regex);
  } catch (error) {
    // re2js quotes the offending part, which may be the whole regex.
    const message = (error as Error).message;
    return err(`invalid RE2 regex ${quote(regex)}: ${message.length <= 2 * QUOTED ? message : `${message.slice(0, 2 * QUOTED)}…`}`);
  }
  const parsed = parseRe2(regex);
  const size = programSize(parsed.root);
  if (size > MAX_RE2_PROGRAM_SIZE) {
    return err(
      `regex ${quote(regex)} has an RE2 program size of about ${size}, over the ${MAX_RE2_PROGRAM_SIZE} Envoy accepts (re2.max_program_size.error_level as Istio sets it)`,
    );
  }
  return ok(parsed);
}

/** Refuses what PCRE would backtrack on exponentially; reports polynomial backtracking. */
function checkBacktracking(regex: string, root: Node, caveat: string | undefined): Result<string | undefined, string> {
  const cost = analyseBacktracking(root);
  if (cost.tooComplex) return err(`regex ${quote(regex)} is too large to prove that APISIX's PCRE matches it without catastrophic backtracking`);
  if (cost.exponential) {
    return err(
      `regex ${quote(regex)} can make APISIX's PCRE backtrack exponentially (repetitions that can match the same text in more than one way); RE2 runs it in linear time, so write it so that each character can be matched only one way`,
    );
  }
  // Polynomial backtracking is reported, not refused: forms like `^/(.*)/(.*)/(.*)$` are common in
  // real rewrites, and refusing one would NACK a whole route configuration. PCRE's match limit
  // bounds the cost per request; a path long enough to reach it does not match.
  if (cost.degree >= 1) {
    const polynomial = `APISIX's PCRE may backtrack in O(n^${cost.degree + 1}) time on an n-character input (${cost.degree + 1} repetitions in a row that can match the same text; RE2 runs it in linear time): a long input can reach PCRE's match limit and not match`;
    return ok(caveat ? `${caveat}; ${polynomial}` : polynomial);
  }
  return ok(caveat);
}

/** For a yes/no match of the whole input (route conditions): rewritten freely as long as the accepted strings are the same. */
export function re2ToPcre(regex: string): Result<PcrePattern, string> {
  const parsed = parse(regex);
  if (!parsed.ok) return parsed;
  const root = linearizeForMatch(parsed.value.root);
  const caveat = checkBacktracking(regex, root, parsed.value.caveat);
  if (!caveat.ok) return caveat;
  const body = printPcre(root);
  return ok({ anchored: `^(?:${body})\\z`, body, caveat: caveat.value });
}

/**
 * For a search whose match and captures are used (regex_uri substitutions): only rewrites that
 * keep PCRE's first match and its captures are applied.
 */
export function re2ToPcreSearch(regex: string): Result<{ readonly body: string; readonly caveat: string | undefined }, string> {
  const parsed = parse(regex);
  if (!parsed.ok) return parsed;
  const root = linearizeForSearch(parsed.value.root);
  const caveat = checkBacktracking(regex, root, parsed.value.caveat);
  if (!caveat.ok) return caveat;
  return ok({ body: printPcre(root), caveat: caveat.value });
}

/** Escapes a literal for PCRE. */
export function escapePcre(literal: string): string {
  return literal.replace(/[\\^$.|?*+()[\]{}]/g, (c) => `\\${c}`);
}

// Envoy regexes are RE2 and must match the whole input; APISIX evaluates PCRE (ngx.re, no UTF mode)
// with search semantics. This module validates RE2 syntax and rewrites the constructs PCRE reads
// differently, so that the PCRE pattern accepts exactly what RE2 full-match accepts (ASCII input).
import { RE2JS } from 're2js';
import { err, ok, type Result } from '../../domain/result.js';

export interface PcrePattern {
  /** Search pattern for APISIX, anchored: `^(?:…)\z`. */
  readonly anchored: string;
  /** The body alone (not anchored), for regex_uri and similar substitutions. */
  readonly body: string;
  /** Set when PCRE's meaning may still differ (non-ASCII input); the reason is reported. */
  readonly caveat: string | undefined;
}

const RE2_WHITESPACE = '\\t\\n\\f\\r ';

export function re2ToPcre(regex: string): Result<PcrePattern, string> {
  try {
    RE2JS.compile(regex);
  } catch (error) {
    return err(`invalid RE2 regex ${JSON.stringify(regex)}: ${(error as Error).message}`);
  }
  let body = '';
  let inClass = false;
  let multiline = false;
  let caveat: string | undefined;
  for (let i = 0; i < regex.length; i++) {
    const ch = regex[i]!;
    if (ch === '\\') {
      const next = regex[i + 1] ?? '';
      i++;
      if (next === 'Q') {
        // \Q…\E quotes literally in both dialects; copy through to the \E unchanged.
        const end = regex.indexOf('\\E', i + 1);
        const stop = end === -1 ? regex.length : end + 2;
        body += regex.slice(i - 1, stop);
        i = stop - 1;
      } else if (next === 'v') body += '\\x0b'; // RE2: vertical tab; PCRE: any vertical whitespace
      else if (next === 's') body += inClass ? RE2_WHITESPACE : `[${RE2_WHITESPACE}]`; // PCRE's \s also takes \v
      else if (next === 'S') {
        if (inClass) caveat = 'a negated whitespace class inside brackets is approximated';
        body += inClass ? '\\S' : `[^${RE2_WHITESPACE}]`;
      } else if (next === 'p' || next === 'P') {
        caveat = 'Unicode classes are matched per byte by APISIX (PCRE without UTF mode)';
        body += `\\${next}`;
      } else body += `\\${next}`;
      continue;
    }
    if (inClass) {
      if (ch === '[' && regex.startsWith('[:', i)) {
        // A POSIX class such as [:alpha:] is copied whole: its ']' does not close the bracket.
        const end = regex.indexOf(':]', i + 2);
        const stop = end === -1 ? i + 1 : end + 2;
        body += regex.slice(i, stop);
        i = stop - 1;
        continue;
      }
      if (ch === ']') inClass = false;
      body += ch;
      continue;
    }
    if (ch === '[') {
      // A ']' right after '[' or '[^' is a literal in both dialects.
      inClass = true;
      const negated = regex[i + 1] === '^';
      const opener = negated ? '[^' : '[';
      body += opener;
      i += opener.length - 1;
      if (regex[i + 1] === ']') {
        body += ']';
        i++;
      }
      continue;
    }
    if (ch === '(' && regex.startsWith('(?', i)) {
      const flags = /^\(\?([a-zA-Z-]*)[:)]/.exec(regex.slice(i));
      if (flags?.[1]?.includes('m')) multiline = true;
    }
    // RE2's $ (without m) is end of text; PCRE's also matches before a final newline.
    body += ch === '$' && !multiline ? '\\z' : ch;
  }
  if (/[\u0080-\uffff]/.test(regex)) caveat = 'non-ASCII characters are matched per byte by APISIX (PCRE without UTF mode)';
  return ok({ anchored: `^(?:${body})\\z`, body, caveat });
}

/** Escapes a literal for PCRE. */
export function escapePcre(literal: string): string {
  return literal.replace(/[\\^$.|?*+()[\]{}]/g, (c) => `\\${c}`);
}

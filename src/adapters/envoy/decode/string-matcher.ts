// type.matcher.v3.StringMatcher → domain StringMatcher.
import type { StringMatcher as DomainStringMatcher } from '../../../domain/mesh/string-match.js';
import type { StringMatcher } from '../generated/envoy/type/matcher/v3/string.js';
import type { RegexMatcher } from '../generated/envoy/type/matcher/v3/regex.js';
import type { DecodeContext } from './decode-context.js';

export function decodeRegex(regex: RegexMatcher | undefined, field: string, ctx: DecodeContext): string | undefined {
  if (!regex || regex.regex === '') {
    ctx.fail(`${field}.regex`, 'empty regex');
    return undefined;
  }
  return regex.regex;
}

export function decodeStringMatcher(matcher: StringMatcher | undefined, field: string, ctx: DecodeContext): DomainStringMatcher | undefined {
  const pattern = matcher?.matchPattern;
  if (!matcher || !pattern) {
    ctx.fail(field, 'string matcher without a match pattern');
    return undefined;
  }
  if (pattern.$case === 'safeRegex') {
    const regex = decodeRegex(pattern.value, `${field}.safe_regex`, ctx);
    if (regex === undefined) return undefined;
    return { kind: 'regex', regex };
  }
  if (pattern.$case === 'custom') {
    ctx.fail(`${field}.custom`, 'custom string matchers are not supported');
    return undefined;
  }
  return { kind: pattern.$case, value: pattern.value, ignoreCase: matcher.ignoreCase };
}

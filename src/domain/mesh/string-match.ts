// String matching as Envoy defines it (type.matcher.v3.StringMatcher). Regexes are RE2 syntax and
// must match the whole input, as Envoy's safe_regex does.
export type StringMatcher =
  { readonly kind: 'exact' | 'prefix' | 'suffix' | 'contains'; readonly value: string; readonly ignoreCase: boolean } | { readonly kind: 'regex'; readonly regex: string };

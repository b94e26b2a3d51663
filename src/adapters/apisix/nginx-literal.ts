// Literal text in APISIX plugin options that APISIX reads as templates. Envoy sends header values,
// direct response bodies and redirect locations as they are; APISIX 3.18 substitutes variables in
// them, so `$http_authorization` in a response header would copy the request's credentials into the
// response.
//
// - proxy-rewrite and response-rewrite header values and fault-injection's body go through
//   core.utils.resolve_var (proxy-rewrite first through resolve_var_with_captures, `$1`/`${1}`):
//   `(?<!\\)\$(\{\s*([^}]+?)\s*\}|([\w\.]+))`. There is no escape: `\$x` keeps its backslash, `$$x`
//   still resolves the second `$`. There is a default for a variable that is not set,
//   `${name ?? default}`, so a `$` that would start a variable is written as a variable no request
//   can set (not an nginx, APISIX or prefixed `http_`/`arg_`/`cookie_` name) whose default is `$`.
//   Its own `$` is followed by `}`, which starts no variable; nothing APISIX substitutes is scanned
//   again. The result is exactly the literal text, checked against a real APISIX 3.18.
// - the redirect plugin's `uri` has neither an escape nor defaults (`\$x` keeps its backslash, a
//   lone `\` is dropped): a literal location holding `$` or `\` cannot be written there (see
//   render-plugins.ts redirect, which then uses regex_uri, whose template escapes `$` as `$$`).
const LITERAL_DOLLAR = '${amesh_literal_dollar??$}';

/** A `$` APISIX would take as the start of a variable: not after `\`, before `{`, a word character or `.`. */
const VARIABLE_START = /(?<!\\)\$(?=[{\w.])/g;

/** `text` written so that resolve_var (and resolve_var_with_captures) gives it back unchanged. */
export function literalForResolveVar(text: string): string {
  return text.includes('$') ? text.replace(VARIABLE_START, () => LITERAL_DOLLAR) : text;
}

/** Whether the redirect plugin's `uri` would change `text` (it substitutes `$x`/`${x}` and drops a lone `\`). */
export const redirectUriAltersLiteral = (text: string): boolean => /[$\\]/.test(text);

/** `text` as an ngx.re.sub template (regex_uri's replacement) that gives it back unchanged: only `$` is special there. */
export const ngxTemplateLiteral = (text: string): string => text.replace(/\$/g, '$$$$');

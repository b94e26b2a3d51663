// Envoy's HTTP_HEADER_NAME and HTTP_HEADER_VALUE rules as its API declares them (`strict: false`):
// no NUL, CR or LF, and for HeaderValue a non-empty key and at most 16 KiB each. Envoy NACKs what
// breaks them; APISIX would write them into requests and responses as they are (header injection,
// a forged response split). Text that becomes a header (CORS values, a redirect's scheme) is held to
// the same rule here, although Envoy's API leaves it unchecked.
import { quote } from '../../../domain/display-text.js';
import type { DecodeContext } from './decode-context.js';

const FORBIDDEN = /[\u0000\r\n]/;
const HEADER_MAX_BYTES = 16_384;

const nameOf = (c: string): string => (c === '\r' ? 'CR' : c === '\n' ? 'LF' : 'NUL');

/** Whether `text` may be sent as a header name or value; if not, fails `field` naming the character. */
export function checkHeaderText(text: string, field: string, ctx: DecodeContext, options: { readonly nonEmpty?: boolean; readonly maxBytes?: boolean } = {}): boolean {
  const bad = FORBIDDEN.exec(text);
  if (bad) {
    ctx.fail(field, `${quote(text, 60)} contains ${nameOf(bad[0])} at ${bad.index}: a header cannot hold CR, LF or NUL`);
    return false;
  }
  if (options.nonEmpty && text === '') {
    ctx.fail(field, 'empty header name');
    return false;
  }
  if (options.maxBytes && Buffer.byteLength(text) > HEADER_MAX_BYTES) {
    ctx.fail(field, `${Buffer.byteLength(text)} bytes; Envoy takes at most ${HEADER_MAX_BYTES}`);
    return false;
  }
  return true;
}

/** Every item of a header-name list (`*_headers_to_remove`, CORS-style lists). */
export function checkHeaderNames(names: readonly string[], field: string, ctx: DecodeContext): void {
  names.forEach((name, i) => checkHeaderText(name, `${field}[${i}]`, ctx, { nonEmpty: true }));
}

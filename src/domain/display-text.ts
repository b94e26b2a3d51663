// Text that came from inputs (resource names, values, a target's error messages) on its way to a
// terminal, a log line, a NACK or an HTTP body: control characters escaped so that they cannot move
// the cursor, recolour the terminal or forge lines; long values cut with a marker, so that one value
// cannot make a 100 KB line; private keys never shown.
import { redactJsonStrings, redactPrivateKeys } from './redaction.js';

/** How much of one echoed value (a name, a pattern, a header value) is shown. */
export const ECHO_LIMIT = 200;
/** How much of one message (an error line, a NACK's text) is shown. */
export const MESSAGE_LIMIT = 2000;

// C0 and C1 controls, DEL, the Unicode line and paragraph separators, and the bidirectional
// overrides and isolates (which reorder what a terminal shows: "Trojan Source").
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

const hex = (c: string): string => {
  const code = c.charCodeAt(0);
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
};

export function escapeControls(text: string): string {
  CONTROL.lastIndex = 0;
  return CONTROL.test(text) ? text.replace(CONTROL, (c) => NAMED[c] ?? hex(c)) : text;
}

/** At most `max` characters of `text` (never half a surrogate pair), then how many were left out. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = /[\ud800-\udbff]/.test(text.charAt(max - 1)) ? max - 1 : max;
  return `${text.slice(0, cut)}…[${text.length - cut} more characters]`;
}

/** An input value quoted for a message: cut to ECHO_LIMIT, controls escaped. */
export const quote = (value: string, max = ECHO_LIMIT): string => `"${escapeControls(clip(value, max))}"`;

/**
 * JSON text for a terminal: JSON escapes C0 controls but not DEL, C1, the line separators or bidi
 * controls, which can only occur inside strings, where a \u escape keeps the value as it is.
 * Private keys are redacted.
 */
export function displayJson(value: unknown, indent?: number): string {
  return JSON.stringify(redactJsonStrings(value), null, indent).replace(
    /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** A whole message for display: private keys redacted, cut to `max`, controls escaped (one line). */
export const displayText = (text: string, max = MESSAGE_LIMIT): string => escapeControls(clip(redactPrivateKeys(text), max));

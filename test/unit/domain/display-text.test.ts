// Echoed input on its way to a terminal, a NACK or a log (issue 12, item 11): control characters
// escaped (a resource name cannot move the cursor or forge a line), long values cut with a marker,
// keys redacted.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { clip, displayText, ECHO_LIMIT, escapeControls, quote } from '../../../src/domain/display-text.js';

const s = suite('display text');

s('C0, DEL, C1, line separators and bidi overrides are escaped; printable text and other scripts are not', () => {
  assert.is(escapeControls('a\nb\rc\td\u0000e\u001b[31mf\u007fg\u009bh\u2028i\u202ej'), 'a\\nb\\rc\\td\\x00e\\x1b[31mf\\x7fg\\x9bh\\u2028i\\u202ej');
  assert.is(escapeControls('reviews.default.svc — ✓ 日本'), 'reviews.default.svc — ✓ 日本');
});

s('long values are cut with a marker saying how much is left out; never half a surrogate pair', () => {
  const long = 'x'.repeat(100_000);
  const shown = quote(long);
  assert.ok(shown.length < ECHO_LIMIT + 40, `${shown.length}`);
  assert.ok(shown.endsWith(`…[${100_000 - ECHO_LIMIT} more characters]"`), shown.slice(-40));
  assert.is(clip('ab😀cd', 3), 'ab…[4 more characters]');
  assert.is(clip('short', 10), 'short');
});

s('a message for display is one line, bounded, with keys redacted', () => {
  const shown = displayText(`refused\r\nX-Injected: 1 -----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY----- ${'y'.repeat(5000)}`);
  assert.not.match(shown, /[\r\n]/);
  assert.not.match(shown, /PRIVATE KEY-----/);
  assert.ok(shown.startsWith('refused\\r\\nX-Injected: 1 [redacted private key]'), shown.slice(0, 80));
  assert.ok(shown.length < 2100);
});

s.run();

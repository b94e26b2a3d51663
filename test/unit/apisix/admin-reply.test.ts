// APISIX's error_msg travels into logs, the config dump and NACK text (issue 12, item 11): CR/LF and
// other controls escaped, long messages cut, keys redacted; the reason stays readable.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { failureOf, messageOf, refusalOf } from '../../../src/adapters/apisix/admin-reply.js';

const s = suite('Admin API replies');

s('error_msg with CR/LF becomes one line; a long one is cut; a quoted key is redacted', () => {
  const forged = JSON.stringify({ error_msg: 'invalid configuration: property "uri" validation failed\r\nerror: forged\u001b[2J' });
  assert.is(messageOf(forged), 'invalid configuration: property "uri" validation failed\\r\\nerror: forged\\x1b[2J');
  const long = messageOf(JSON.stringify({ error_msg: 'x'.repeat(50_000) }));
  assert.ok(long.length < 1100 && long.endsWith('more characters]'), long.slice(-40));
  const key = messageOf(JSON.stringify({ error_msg: 'bad ssl: -----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----' }));
  assert.is(key, 'bad ssl: [redacted private key]');
  assert.is(messageOf('<html>\r\n502 Bad Gateway\r\n</html>'), '<html>\\r\\n502 Bad Gateway\\r\\n</html>');
});

s('a 400 refusal keeps its escaped reason and is marked as the configuration being refused', () => {
  const failure = refusalOf({ ok: true, reply: { status: 400, headers: {}, body: JSON.stringify({ error_msg: 'bad\nthing' }) } }, 'PUT routes/r1');
  assert.equal(failure, { ok: false, transient: false, reason: 'PUT routes/r1: 400 bad\\nthing', rejected: true });
});

s("a delete refused because APISIX's workers still see the route that just stopped using the object is retried, not a refusal", () => {
  const body = JSON.stringify({ error_msg: 'can not delete this upstream, route [r1] is still using it now' });
  const failure = failureOf({ ok: true, reply: { status: 400, headers: {}, body } }, 'DELETE upstreams/u1');
  assert.is(failure.transient, true);
  assert.is(refusalOf({ ok: true, reply: { status: 400, headers: {}, body } }, 'PUT routes/r1').rejected, undefined);
});

s.run();

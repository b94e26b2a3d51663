// Private keys are redacted from whatever is shown (issue 12, item 1): PEM keys of every label,
// anywhere in a text or a JSON-like value, a key cut short, and the logger's lines; certificates and
// everything else are left as they are.
import { Writable } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PinoLogger } from '../../../src/adapters/logging/pino-logger.js';
import { REDACTED_PRIVATE_KEY, redactJsonStrings, redactPrivateKeys } from '../../../src/domain/redaction.js';

const s = suite('private key redaction');

const pem = (label: string, body = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7') => `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----`;
const CERT = pem('CERTIFICATE', 'MIIBszCCAVmgAwIBAgIU');

s('every PEM private key label is redacted; certificates stay', () => {
  for (const label of ['PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY', 'ENCRYPTED PRIVATE KEY']) {
    const text = `chain:\n${CERT}\nkey:\n${pem(label)}\ntail`;
    const redacted = redactPrivateKeys(text);
    assert.not.match(redacted, /PRIVATE KEY/, label);
    assert.not.match(redacted, /BKcwggSj/, label);
    assert.ok(redacted.includes(CERT), 'the certificate is shown');
    assert.ok(redacted.includes(REDACTED_PRIVATE_KEY) && redacted.endsWith('\ntail'));
  }
});

s('a key without its END line is redacted to the end of the text', () => {
  const redacted = redactPrivateKeys(`error near ${pem('PRIVATE KEY').slice(0, 60)}`);
  assert.is(redacted, `error near ${REDACTED_PRIVATE_KEY}`);
});

s('JSON-like values: nested strings redacted in a copy, the original untouched, values without keys returned as they are', () => {
  const value = { ssls: [{ cert: CERT, key: pem('EC PRIVATE KEY') }], note: 'none', n: 1 };
  const redacted = redactJsonStrings(value);
  assert.is(redacted.ssls[0]!.key, REDACTED_PRIVATE_KEY);
  assert.is(redacted.ssls[0]!.cert, CERT);
  assert.ok(value.ssls[0]!.key.includes('BEGIN EC PRIVATE KEY'), 'the original is not changed');
  const clean = { a: [1, 'x'], b: { c: null } };
  assert.is(redactJsonStrings(clean), clean);
  const cyclic: Record<string, unknown> = { key: pem('PRIVATE KEY') };
  cyclic.self = cyclic;
  assert.is((redactJsonStrings(cyclic) as { key: string }).key, REDACTED_PRIVATE_KEY);
});

s('log lines carry no key: in fields, nested objects, errors and the message', () => {
  const lines: string[] = [];
  const destination = new Writable({ write: (chunk: Buffer, _encoding, done) => void (lines.push(chunk.toString()), done()) });
  const logger = new PinoLogger({ level: 'debug', destination });
  logger.error(
    { error: `APISIX refused ssl: ${pem('PRIVATE KEY')}`, object: { value: { key: pem('RSA PRIVATE KEY') } }, err: new Error(`bad key ${pem('EC PRIVATE KEY')}`) },
    `apply failed ${pem('PRIVATE KEY')}`,
  );
  logger.info({ cert: CERT }, 'certificate');
  const text = lines.join('');
  assert.is(lines.length, 2);
  assert.not.match(text, /PRIVATE KEY/);
  assert.not.match(text, /BKcwggSj/);
  assert.ok(text.includes('BEGIN CERTIFICATE'), 'certificates are logged as they are');
  assert.is((JSON.parse(lines[0]!) as { err: { message: string } }).err.message, `bad key ${REDACTED_PRIVATE_KEY}`);
});

s.run();

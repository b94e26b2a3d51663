// PEM checks stand between pilot-agent's files and the gateway: complete blocks only, parseable,
// and a key that belongs to its certificate, for the key encodings pilot-agent writes.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { keyMatchesCertificate, parseCertificates, parsePrivateKey, pemBlocks } from '../../../src/adapters/istio/pem.js';
import { makeTestPki } from '../../support/test-pki.js';

const pki = makeTestPki();
const s = suite('PEM checks');

const errorOf = <T>(result: { ok: true; value: T } | { ok: false; error: string }): string => {
  if (result.ok) throw new Error('expected an error');
  return result.error;
};

s('a chain parses leaf first; each key encoding parses and matches only its own leaf', () => {
  const keys = pki.workloads.map((w) => parsePrivateKey(w.key));
  const leaves = pki.workloads.map((w) => parseCertificates(w.chain));
  for (const [i, leaf] of leaves.entries()) {
    assert.ok(leaf.ok && leaf.value.length === 2, `chain ${i} has leaf and CA`);
    for (const [j, key] of keys.entries()) {
      assert.ok(key.ok, `key ${j} parses`);
      if (leaf.ok && key.ok) assert.is(keyMatchesCertificate(leaf.value[0]!, key.value), i === j, `leaf ${i} / key ${j}`);
    }
  }
});

s('incomplete or wrong files are refused with a reason', () => {
  const chain = pki.workloads[0].chain;
  assert.match(errorOf(pemBlocks(chain.slice(0, chain.lastIndexOf('-----END')))), /has no END line/);
  assert.match(errorOf(pemBlocks('')), /no PEM block/);
  assert.match(errorOf(pemBlocks(`${chain}-----END CERTIFICATE-----\n`)), /END line without a BEGIN/);
  assert.match(errorOf(pemBlocks('-----BEGIN CERTIFICATE-----\nMIIB\n-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n')), /not closed before the next marker/);
  assert.match(errorOf(parseCertificates(pki.workloads[0].key)), /expected CERTIFICATE/);
  assert.match(errorOf(parseCertificates('-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n')), /certificate 1 does not parse/);
  assert.match(errorOf(parsePrivateKey(chain)), /expected one unencrypted private key/);
  assert.match(errorOf(parsePrivateKey(pki.workloads[0].key + pki.workloads[1].key)), /expected one unencrypted private key/);
});

s.run();

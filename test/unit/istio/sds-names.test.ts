// Istio's SDS names, parsed as istiod and pilot-agent parse them: who serves which one decides what
// the sidecar asks istiod for (credential names only) and what it never waits for.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isAgentSecret, parseIstioSecretName } from '../../../src/adapters/istio/sds-names.js';

const s = suite('Istio SDS resource names');

s("istiod's credential names (credentials.ParseResourceName's prefixes)", () => {
  for (const name of ['kubernetes://cred', 'kubernetes://ns/cred', 'kubernetes://cred-cacert', 'kubernetes-gateway://ns/cred', 'configmap://ns/ca', 'invalid://']) {
    assert.equal(parseIstioSecretName(name), { kind: 'credential' }, name);
    assert.not.ok(isAgentSecret(name), name);
  }
});

s("pilot-agent's names: the workload certificate and roots, files, the system store", () => {
  assert.equal(parseIstioSecretName('default'), { kind: 'workload', role: 'certificate' });
  assert.equal(parseIstioSecretName('ROOTCA'), { kind: 'workload', role: 'roots' });
  assert.equal(parseIstioSecretName('file-root:system'), { kind: 'system-roots' });
  assert.equal(parseIstioSecretName('file-cert:/etc/certs/client.pem~/etc/certs/key.pem'), {
    kind: 'file-certificate',
    certificatePath: '/etc/certs/client.pem',
    privateKeyPath: '/etc/certs/key.pem',
  });
  assert.equal(parseIstioSecretName('file-root:/etc/certs/ca.pem'), { kind: 'file-roots', path: '/etc/certs/ca.pem' });
  assert.equal(parseIstioSecretName('sds://vault-cert'), { kind: 'credential-socket' });
  for (const name of ['default', 'ROOTCA', 'file-root:system', 'file-cert:/a~/b', 'file-root:/a', 'sds://x']) assert.ok(isAgentSecret(name), name);
});

s("file names pilot-agent would not parse either are still not istiod's", () => {
  for (const name of ['file-cert:/only-one-path', 'file-cert:/a~/b~/c', 'file-cert:~/key', 'file-root:', 'file-root:/a~/b']) {
    assert.is(parseIstioSecretName(name).kind, 'malformed-file', name);
    assert.ok(isAgentSecret(name), name);
  }
});

s('names Istio does not write stay with the control plane that wrote them', () => {
  for (const name of ['my-cert', 'Default', 'rootca', 'spiffe://cluster.local/ns/a/sa/b']) {
    assert.equal(parseIstioSecretName(name), { kind: 'other' }, name);
    assert.not.ok(isAgentSecret(name), name);
  }
});

s.run();

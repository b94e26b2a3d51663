import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseControllerConfig } from '../../../src/app/controller/controller-config.js';
import { parseSidecarConfig } from '../../../src/app/sidecar/sidecar-config.js';

const s = suite('amesh controller / sidecar --plugins-from flags');

s('controller: defaults, TLS pairs, durations', () => {
  const d = parseControllerConfig({});
  assert.ok(d.ok);
  if (d.ok) assert.equal([d.value.listen, d.value.healthAddress, d.value.resyncMs, d.value.tls], ['0.0.0.0:15810', '0.0.0.0:18081', 60_000, undefined]);
  assert.equal(parseControllerConfig({ tlsCertFile: 'c' }), { ok: false, error: '--tls-cert-file and --tls-key-file go together' });
  assert.equal(parseControllerConfig({ clientCaFile: 'ca' }), { ok: false, error: '--client-ca-file needs --tls-cert-file and --tls-key-file' });
  assert.equal(parseControllerConfig({ resync: '10' }), { ok: false, error: '--resync: "10" is not a duration (e.g. 500ms, 30s, 5m)' });
  const five = parseControllerConfig({ resync: '5m' });
  assert.is(five.ok && five.value.resyncMs, 300_000);
  assert.equal(parseControllerConfig({ healthAddress: 'off' }).ok, true);
});

s('sidecar: --plugins-from needs the pod identity', () => {
  const base = { file: 'x.yaml', sink: ['memory'] };
  assert.equal(parseSidecarConfig({ ...base, pluginsFrom: 'ctl:15810' }), { ok: false, error: '--plugins-from needs the pod identity: POD_NAME and POD_NAMESPACE (downward API)' });
  assert.equal(parseSidecarConfig({ ...base, pluginsFrom: 'ctl' }), { ok: false, error: '--plugins-from: "ctl" is not host:port' });
  const ok = parseSidecarConfig({ ...base, pluginsFrom: 'ctl:15810', podName: 'p', podNamespace: 'ns' });
  assert.ok(ok.ok);
  if (ok.ok) assert.equal(ok.value.plugins, { target: 'ctl:15810', pod: { namespace: 'ns', name: 'p' }, caFile: undefined, certFile: undefined, keyFile: undefined });
  const id = { ...base, pluginsFrom: 'ctl:15810', podName: 'p', podNamespace: 'ns' };
  assert.equal(parseSidecarConfig({ ...id, pluginsCertFile: 'c' }), { ok: false, error: '--plugins-cert-file and --plugins-key-file go together' });
  assert.equal(parseSidecarConfig({ ...id, pluginsCertFile: 'c', pluginsKeyFile: 'k' }), { ok: false, error: '--plugins-cert-file needs --plugins-ca-file (client certificates only make sense over TLS)' });
});

s.run();

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

s('controller: leader election on by default (15s/10s/2s, Lease default/amesh-controller), off on request; metrics address', () => {
  const d = parseControllerConfig({ leaderElectIdentity: 'pod-a_1234' });
  assert.ok(d.ok);
  if (!d.ok) return;
  assert.equal(d.value.leaderElection, {
    namespace: 'default',
    name: 'amesh-controller',
    identity: 'pod-a_1234',
    timing: { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 },
  });
  assert.is(d.value.metricsAddress, '0.0.0.0:15014');
  const generated = parseControllerConfig({});
  assert.match(generated.ok ? generated.value.leaderElection!.identity : '', /^.+_[0-9a-f]{8}$/);
  for (const off of ['off', 'false', 'OFF']) {
    const c = parseControllerConfig({ leaderElect: off });
    assert.is(c.ok && c.value.leaderElection, undefined, off);
  }
  const custom = parseControllerConfig({
    leaderElectResourceNamespace: 'amesh-system',
    leaderElectResourceName: 'ctl',
    leaderElectLeaseDuration: '4s',
    leaderElectRenewDeadline: '3s',
    leaderElectRetryPeriod: '500ms',
    metricsAddress: 'off',
  });
  assert.ok(custom.ok);
  if (custom.ok) {
    assert.equal(
      [custom.value.leaderElection?.namespace, custom.value.leaderElection?.name, custom.value.leaderElection?.timing],
      ['amesh-system', 'ctl', { leaseDurationMs: 4_000, renewDeadlineMs: 3_000, retryPeriodMs: 500 }],
    );
    assert.is(custom.value.metricsAddress, undefined);
  }
});

s('controller: leader election and metrics flags are checked', () => {
  assert.equal(parseControllerConfig({ leaderElect: 'maybe' }), { ok: false, error: '--leader-elect: "maybe" is not on or off' });
  assert.equal(parseControllerConfig({ leaderElectRenewDeadline: '20s' }), {
    ok: false,
    error: '--leader-elect-lease-duration/--leader-elect-renew-deadline/--leader-elect-retry-period: the lease duration must be longer than the renew deadline',
  });
  assert.equal(parseControllerConfig({ leaderElectRetryPeriod: '50ms' }), { ok: false, error: '--leader-elect-retry-period: at least 100ms' });
  assert.equal(parseControllerConfig({ leaderElectResourceNamespace: 'Amesh_System' }), {
    ok: false,
    error: '--leader-elect-resource-namespace: "Amesh_System" is not a namespace name',
  });
  assert.equal(parseControllerConfig({ metricsAddress: '15014' }), { ok: false, error: '--metrics-address: "15014" is not host:port or off' });
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
  assert.equal(parseSidecarConfig({ ...id, pluginsCertFile: 'c', pluginsKeyFile: 'k' }), {
    ok: false,
    error: '--plugins-cert-file needs --plugins-ca-file (client certificates only make sense over TLS)',
  });
});

s.run();

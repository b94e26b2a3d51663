// Issue 12, item 1: private keys were served to the network. The readiness (15021) and metrics (15090)
// servers listen beyond loopback and must not serve the config dump; the dump is on the admin address
// (loopback by default), with every private key redacted, while the sinks still get the keys. Checked
// over HTTP from this machine's own non-loopback address, as a peer in the pod network would ask.
import { networkInterfaces } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MemoryConfigSink } from '../../src/adapters/memory/memory-config-sink.js';
import { MemorySecretSource } from '../../src/adapters/memory/memory-secret-source.js';
import { PinoLogger } from '../../src/adapters/logging/pino-logger.js';
import type { Node } from '../../src/adapters/envoy/ads-protocol.js';
import { DEFAULT_ADMIN_ADDRESS, parseSidecarConfig } from '../../src/app/sidecar/sidecar-config.js';
import { withEnvironment } from '../../src/app/sidecar/sidecar-command.js';
import { buildSidecarContainer, SidecarAppToken } from '../../src/app/sidecar/sidecar-container.js';
import type { SidecarApp } from '../../src/app/sidecar/sidecar-app.js';
import { OpsServer } from '../../src/app/sidecar/ops-server.js';
import { repoRoot } from '../support/shared-fixtures.js';
import { workloadSecrets } from '../support/mesh-sidecar.js';

const s = suite('sidecar admin address');
const capture = path.join(repoRoot, 'examples/bookinfo/istiod-capture.json');
const node: Node = { id: 'test', cluster: 'test', dynamicParameters: {}, userAgentName: 'amesh-ts', extensions: [], clientFeatures: [], listeningAddresses: [] };
const KEY_MATERIAL = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;

/** An IPv4 address of this machine that is not loopback: where a peer in the pod network connects. */
function externalAddress(): string | undefined {
  for (const addresses of Object.values(networkInterfaces())) {
    const found = addresses?.find((a) => a.family === 'IPv4' && !a.internal);
    if (found) return found.address;
  }
  return undefined;
}

s('the admin address is loopback 127.0.0.1:15000 by default, AMESH_ADMIN_ADDRESS or --admin-address moves it, off disables it', () => {
  const parse = (flags: Parameters<typeof parseSidecarConfig>[0]) => {
    const config = parseSidecarConfig(flags);
    if (!config.ok) throw new Error(config.error);
    return config.value.adminAddress;
  };
  assert.is(DEFAULT_ADMIN_ADDRESS, '127.0.0.1:15000');
  assert.is(parse({ file: 'x', sink: ['memory'] }), '127.0.0.1:15000');
  assert.is(parse({ file: 'x', sink: ['memory'], adminAddress: 'off' }), undefined);
  assert.is(parse(withEnvironment({ file: 'x', sink: ['memory'] }, { AMESH_ADMIN_ADDRESS: '[::1]:15000' })), '[::1]:15000');
  assert.is(parse(withEnvironment({ file: 'x', sink: ['memory'], adminAddress: '127.0.0.1:9901' }, { AMESH_ADMIN_ADDRESS: 'off' })), '127.0.0.1:9901');
  const bad = parseSidecarConfig({ file: 'x', sink: ['memory'], adminAddress: 'nope' });
  assert.ok(!bad.ok && bad.error.includes('--admin-address'));
});

s('readiness and metrics on a non-loopback address serve no config dump; the admin dump has every key redacted; the sink has the keys', async () => {
  const ip = externalAddress();
  if (!ip) {
    console.log('sidecar admin address: skipped the network check: this machine has no non-loopback IPv4 address');
    return;
  }
  const config = parseSidecarConfig({ file: capture, sink: ['memory'], readyAddress: `${ip}:0`, metricsAddress: `${ip}:0`, adminAddress: '127.0.0.1:0' });
  if (!config.ok) throw new Error(config.error);
  const sink = new MemoryConfigSink();
  const secrets = new MemorySecretSource();
  secrets.publish(workloadSecrets());
  const app = (await buildSidecarContainer(config.value, node, { sinks: [sink], secrets, logger: new PinoLogger({ level: 'silent' }) })).get<SidecarApp>(SidecarAppToken);
  await app.start();
  try {
    await app.sync.applied;
    const ssls = sink.applied.ofKind('ssls');
    assert.ok(ssls.length > 0, 'the workload certificate is rendered');
    assert.ok(
      ssls.every((ssl) => KEY_MATERIAL.test(String(ssl.value.key))),
      'the sink gets the private key as it is',
    );

    assert.is(app.ops.length, 1, 'readiness and metrics share the one address');
    const [served] = app.ops;
    assert.ok(served!.startsWith(`${ip}:`), served);
    assert.is((await fetch(`http://${served}/healthz/ready`)).status, 200);
    assert.is((await fetch(`http://${served}/stats/prometheus`)).status, 200);
    const remote = await fetch(`http://${served}/debug/config_dump`);
    const remoteBody = await remote.text();
    assert.is(remote.status, 404, 'no config dump beyond loopback');
    assert.not.match(remoteBody, KEY_MATERIAL);

    assert.ok(app.admin?.startsWith('127.0.0.1:'), app.admin);
    const local = await fetch(`http://${app.admin}/debug/config_dump`);
    const text = await local.text();
    assert.is(local.status, 200);
    assert.not.match(text, KEY_MATERIAL);
    assert.not.match(text, /PRIVATE KEY/);
    const dump = JSON.parse(text) as { config: { ssls: { key: string; cert: string }[] } };
    assert.is(dump.config.ssls.length, ssls.length);
    assert.ok(
      dump.config.ssls.every((ssl) => ssl.key === '[redacted private key]' && ssl.cert.includes('BEGIN CERTIFICATE')),
      'keys redacted, certificates shown',
    );
    assert.is((await fetch(`http://${app.admin}/healthz/ready`)).status, 200, 'the admin address answers probes too');
  } finally {
    await app.stop();
  }
});

s('a busy admin address does not stop the sidecar: it serves readiness and says why there is no dump', async () => {
  const first = parseSidecarConfig({ file: capture, sink: ['memory'], readyAddress: 'off', metricsAddress: 'off', adminAddress: '127.0.0.1:0' });
  if (!first.ok) throw new Error(first.error);
  const quiet = new PinoLogger({ level: 'silent' });
  const holder = (await buildSidecarContainer(first.value, node, { sinks: [new MemoryConfigSink()], logger: quiet })).get<SidecarApp>(SidecarAppToken);
  await holder.start();
  try {
    const warnings: string[] = [];
    const logger = { ...quiet, debug: () => undefined, info: () => undefined, error: () => undefined, warn: (_fields: object, message: string) => void warnings.push(message) };
    const second = parseSidecarConfig({ file: capture, sink: ['memory'], readyAddress: '127.0.0.1:0', metricsAddress: 'off', adminAddress: holder.admin! });
    if (!second.ok) throw new Error(second.error);
    const app = (await buildSidecarContainer(second.value, node, { sinks: [new MemoryConfigSink()], logger })).get<SidecarApp>(SidecarAppToken);
    await app.start();
    try {
      await app.sync.applied;
      assert.is(app.admin, undefined);
      assert.is((await fetch(`http://${app.ops[0]}/healthz/ready`)).status, 200);
      assert.ok(
        warnings.some((w) => w.includes('admin endpoints (config dump) not served')),
        warnings.join('; '),
      );
    } finally {
      await app.stop();
    }
  } finally {
    await holder.stop();
  }
});

s('why the sidecar is not ready is told on the admin address only, as one line', async () => {
  const ops = new OpsServer({
    status: () => ({
      ready: false,
      version: undefined,
      translation: undefined,
      lastError: 'admin:http://apisix:9180 refused routes/r1 (bad\r\nthing)',
      fromCache: false,
      unserved: [],
    }),
    registry: undefined,
    xdsConnected: () => undefined,
  });
  const bound = await ops.listen([
    { role: 'ready', address: '127.0.0.1:0' },
    { role: 'admin', address: '127.0.0.1:0' },
  ]);
  try {
    const [ready, admin] = bound.map((b) => b.bound);
    const probe = await fetch(`http://${ready}/healthz/ready`);
    assert.is(probe.status, 503);
    assert.is(await probe.text(), 'not ready\n');
    const told = await fetch(`http://${admin}/healthz/ready`);
    assert.is(told.status, 503);
    assert.is(await told.text(), 'not ready: admin:http://apisix:9180 refused routes/r1 (bad\\r\\nthing)\n');
  } finally {
    await ops.close();
  }
});

s.run();

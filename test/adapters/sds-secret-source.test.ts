// Workload certificates over SDS, as pilot-agent serves them on its unix socket: the initial set,
// a rotation without restart, a NACK for a secret that does not decode (the last good set stays),
// and a reconnect after the server goes away.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Secret as EnvoySecret } from '../../src/adapters/envoy/generated/envoy/extensions/transport_sockets/tls/v3/secret.js';
import { PinoLogger } from '../../src/adapters/logging/pino-logger.js';
import { SdsSecretSource } from '../../src/adapters/xds/sds-secret-source.js';
import { XdsServer } from '../../src/adapters/xds-server/xds-server.js';
import type { Secret } from '../../src/domain/mesh/secret.js';
import { makeTestPki, type TestPki } from '../support/test-pki.js';
import { SDS } from '../support/xds-fixtures.js';

const s = suite('SDS secret source');
const dir = mkdtempSync(path.join(tmpdir(), 'amesh-sds-'));
const socket = `unix:${path.join(dir, 'socket')}`;
let pki: TestPki;
let server: XdsServer;

const inline = (value: string) => ({ specifier: { $case: 'inlineString' as const, value } });
const certificate = (chain: string, key: string) => ({
  name: 'default',
  resource: EnvoySecret.encode(EnvoySecret.fromPartial({ name: 'default', type: { $case: 'tlsCertificate', value: { certificateChain: inline(chain), privateKey: inline(key) } } })).finish(),
});
const rootCa = (ca: string) => ({
  name: 'ROOTCA',
  resource: EnvoySecret.encode(EnvoySecret.fromPartial({ name: 'ROOTCA', type: { $case: 'validationContext', value: { trustedCa: inline(ca) } } })).finish(),
});

s.before(async () => {
  pki = makeTestPki();
  server = new XdsServer();
  await server.start(socket);
});

s.after(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

function collect(): { sets: Secret[][]; errors: string[]; dispose(): void } {
  const sets: Secret[][] = [];
  const errors: string[] = [];
  const source = new SdsSecretSource({ target: socket, node: { id: 'sidecar~10.0.0.1~p.default~default.svc.cluster.local', cluster: 'p', dynamicParameters: {}, userAgentName: 'amesh-ts', extensions: [], clientFeatures: [], listeningAddresses: [] }, logger: new PinoLogger({ level: 'silent' }) });
  const subscription = source.watch({ onSecrets: (secrets) => void sets.push([...secrets]), onError: (e) => void errors.push(e.message) });
  return { sets, errors, dispose: () => subscription.dispose() };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

s('asks for default and ROOTCA, ACKs, and delivers them; a rotation arrives without restart', async () => {
  const [first, second] = pki.workloads;
  server.setResources(SDS, [certificate(first.chain, first.key), rootCa(pki.root)]);
  const watcher = collect();
  try {
    await until(() => watcher.sets.length === 1, 'the first set');
    const request = server.requests.find((r) => r.typeUrl === SDS);
    assert.equal(request?.resourceNames?.slice().sort(), ['ROOTCA', 'default']);
    const byName = new Map(watcher.sets[0]!.map((secret) => [secret.name, secret]));
    assert.is(byName.get('default')?.kind, 'certificate');
    assert.is((byName.get('default') as { certificateChain: string }).certificateChain, first.chain);
    await server.waitFor((e) => e.typeUrl === SDS && e.ack, 2000, { since: 0 });
    server.setResources(SDS, [certificate(second.chain, second.key), rootCa(pki.root)]);
    await until(() => watcher.sets.length === 2, 'the rotated set');
    const rotated = watcher.sets[1]!.find((secret) => secret.name === 'default') as { certificateChain: string };
    assert.is(rotated.certificateChain, second.chain);
  } finally {
    watcher.dispose();
  }
});

s('a secret that does not decode is NACKed; the last good set stays', async () => {
  const [first] = pki.workloads;
  server.setResources(SDS, [certificate(first.chain, first.key), rootCa(pki.root)]);
  const watcher = collect();
  try {
    await until(() => watcher.sets.length === 1, 'the first set');
    const before = server.requests.length;
    server.setResources(SDS, [{ name: 'default', resource: { typeUrl: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret', value: Uint8Array.from([0xff, 0xff, 0xff]) } }]);
    const nack = await server.waitFor((e) => e.typeUrl === SDS && e.nack !== undefined, 2000, { since: before });
    assert.ok(nack.nack?.message);
    await until(() => watcher.errors.length === 1, 'the error');
    assert.is(watcher.sets.length, 1, 'no new set delivered');
  } finally {
    watcher.dispose();
  }
});

s.run();

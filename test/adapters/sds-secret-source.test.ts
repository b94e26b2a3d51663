// Workload certificates over SDS, as pilot-agent serves them on its unix socket: the initial set,
// a rotation without restart, a NACK for a secret that does not decode (the last good set stays),
// and a reconnect after the server goes away. Issue 12, item 2: a corrupt key, the key of another
// certificate, a value that is not PEM, a chain out of order are NACKed naming the secret and the
// field, and never published.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Secret as EnvoySecret } from '../../src/adapters/envoy/generated/envoy/extensions/transport_sockets/tls/v3/secret.js';
import { PinoLogger } from '../../src/adapters/logging/pino-logger.js';
import { checkSecret } from '../../src/adapters/istio/secret-check.js';
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
  resource: EnvoySecret.encode(
    EnvoySecret.fromPartial({ name: 'default', type: { $case: 'tlsCertificate', value: { certificateChain: inline(chain), privateKey: inline(key) } } }),
  ).finish(),
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
  const source = new SdsSecretSource({
    target: socket,
    node: {
      id: 'sidecar~10.0.0.1~p.default~default.svc.cluster.local',
      cluster: 'p',
      dynamicParameters: {},
      userAgentName: 'amesh-ts',
      extensions: [],
      clientFeatures: [],
      listeningAddresses: [],
    },
    logger: new PinoLogger({ level: 'silent' }),
    check: checkSecret,
  });
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
    server.setResources(SDS, [
      { name: 'default', resource: { typeUrl: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret', value: Uint8Array.from([0xff, 0xff, 0xff]) } },
    ]);
    const nack = await server.waitFor((e) => e.typeUrl === SDS && e.nack !== undefined, 2000, { since: before });
    assert.ok(nack.nack?.message);
    await until(() => watcher.errors.length === 1, 'the error');
    assert.is(watcher.sets.length, 1, 'no new set delivered');
  } finally {
    watcher.dispose();
  }
});

s('a corrupt key, the key of another certificate, a value that is not PEM, a chain out of order: NACKed naming secret and field; the last good pair stays', async () => {
  const [first, second] = pki.workloads;
  server.setResources(SDS, [certificate(first.chain, first.key), rootCa(pki.root)]);
  const watcher = collect();
  try {
    await until(() => watcher.sets.length === 1, 'the first set');
    await server.waitFor((e) => e.typeUrl === SDS && e.ack, 2000, { since: 0 });
    const corrupt = first.key.replace(/\n[A-Za-z0-9+/]{20}/, '\n!!!!corrupt!!!!!!!!!');
    const [leaf, root] = first.chain.split(/(?<=-----END CERTIFICATE-----\n)/);
    const cases: [string, ReturnType<typeof certificate>[], RegExp][] = [
      ['corrupt key', [certificate(first.chain, corrupt), rootCa(pki.root)], /Secret "default" field tls_certificate\.private_key: /],
      [
        "another certificate's key",
        [certificate(first.chain, second.key), rootCa(pki.root)],
        /Secret "default" field tls_certificate\.private_key: does not belong to the leaf certificate of tls_certificate\.certificate_chain/,
      ],
      ['a key that is not PEM', [certificate(first.chain, 'not a key'), rootCa(pki.root)], /Secret "default" field tls_certificate\.private_key: no PEM block/],
      [
        'a chain that is not PEM',
        [certificate('garbage', first.key), rootCa(pki.root)],
        /Secret "default" field tls_certificate\.certificate_chain: (no PEM block|not a PEM certificate)/,
      ],
      [
        'a chain out of order',
        [certificate(`${root}${leaf}`, first.key), rootCa(pki.root)],
        /Secret "default" field tls_certificate\.certificate_chain: certificate 1 is not issued by certificate 2/,
      ],
      ['roots that are not PEM', [certificate(first.chain, first.key), rootCa('-----BEGIN CERTIFICATE-----\nAAAA')], /Secret "ROOTCA" field validation_context\.trusted_ca: /],
    ];
    for (const [what, resources, expected] of cases) {
      const before = server.requests.length;
      server.setResources(SDS, resources);
      const nack = await server.waitFor((e) => e.typeUrl === SDS && e.nack !== undefined, 2000, { since: before });
      assert.match(nack.nack!.message, expected, what);
      assert.not.match(nack.nack!.message, /PRIVATE KEY|BEGIN CERTIFICATE/, `${what}: no PEM in the NACK`);
      await until(() => watcher.errors.length === cases.indexOf(cases.find(([w]) => w === what)!) + 1, `the error for ${what}`);
      assert.is(watcher.sets.length, 1, `${what}: nothing published`);
    }
    const before = server.requests.length;
    server.setResources(SDS, [certificate(second.chain, second.key), rootCa(pki.root)]);
    await server.waitFor((e) => e.typeUrl === SDS && e.ack, 2000, { since: before });
    await until(() => watcher.sets.length === 2, 'the next good set');
    const rotated = watcher.sets[1]!.find((secret) => secret.name === 'default') as { certificateChain: string };
    assert.is(rotated.certificateChain, second.chain);
  } finally {
    watcher.dispose();
  }
});

s.run();

// Issue 12, item 2, as wired by the sidecar's container: with `--sds`, workload certificates from
// pilot-agent's SDS socket pass the same check as OUTPUT_CERTS files. A key of another certificate
// is NACKed, and the sinks keep the last good pair (the ssl object neither changes nor disappears).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Node } from '../../src/adapters/envoy/ads-protocol.js';
import { Secret as EnvoySecret } from '../../src/adapters/envoy/generated/envoy/extensions/transport_sockets/tls/v3/secret.js';
import { PinoLogger } from '../../src/adapters/logging/pino-logger.js';
import { MemoryConfigSink } from '../../src/adapters/memory/memory-config-sink.js';
import { XdsServer } from '../../src/adapters/xds-server/xds-server.js';
import type { SidecarApp } from '../../src/app/sidecar/sidecar-app.js';
import { parseSidecarConfig } from '../../src/app/sidecar/sidecar-config.js';
import { buildSidecarContainer, SidecarAppToken } from '../../src/app/sidecar/sidecar-container.js';
import { until } from '../support/mesh-sidecar.js';
import { repoRoot } from '../support/shared-fixtures.js';
import { makeTestPki } from '../support/test-pki.js';
import { SDS } from '../support/xds-fixtures.js';

const s = suite('sidecar --sds');
const node: Node = { id: 'test', cluster: 'test', dynamicParameters: {}, userAgentName: 'amesh-ts', extensions: [], clientFeatures: [], listeningAddresses: [] };
const inline = (value: string) => ({ specifier: { $case: 'inlineString' as const, value } });
const pair = (chain: string, key: string) => ({
  name: 'default',
  resource: EnvoySecret.encode(
    EnvoySecret.fromPartial({ name: 'default', type: { $case: 'tlsCertificate', value: { certificateChain: inline(chain), privateKey: inline(key) } } }),
  ).finish(),
});
const rootCa = (ca: string) => ({
  name: 'ROOTCA',
  resource: EnvoySecret.encode(EnvoySecret.fromPartial({ name: 'ROOTCA', type: { $case: 'validationContext', value: { trustedCa: inline(ca) } } })).finish(),
});

s('a key of another certificate over SDS is NACKed; the sink keeps the last good pair', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'amesh-sidecar-sds-'));
  const socket = `unix:${path.join(dir, 'socket')}`;
  const pki = makeTestPki();
  const [first, second] = pki.workloads;
  const server = new XdsServer();
  await server.start(socket);
  const roots = rootCa(pki.root);
  server.setResources(SDS, [pair(first.chain, first.key), roots]);
  const config = parseSidecarConfig({
    file: path.join(repoRoot, 'examples/bookinfo/istiod-capture.json'),
    sink: ['memory'],
    sds: socket,
    readyAddress: 'off',
    metricsAddress: 'off',
    adminAddress: 'off',
  });
  if (!config.ok) throw new Error(config.error);
  const sink = new MemoryConfigSink();
  const app = (await buildSidecarContainer(config.value, node, { sinks: [sink], logger: new PinoLogger({ level: 'silent' }) })).get<SidecarApp>(SidecarAppToken);
  await app.start();
  try {
    await until(() => sink.applied.ofKind('ssls').length > 0, 'the workload certificate at the sink');
    const keysAtSink = (): string[] => sink.applied.ofKind('ssls').map((ssl) => String(ssl.value.key));
    assert.ok(keysAtSink().every((key) => key === first.key));
    const before = server.requests.length;
    server.setResources(SDS, [pair(first.chain, second.key), roots]);
    const nack = await server.waitFor((e) => e.typeUrl === SDS && e.nack !== undefined, 5000, { since: before });
    assert.match(nack.nack!.message, /Secret "default" field tls_certificate\.private_key: does not belong to the leaf certificate/);
    assert.ok(keysAtSink().length > 0 && keysAtSink().every((key) => key === first.key), 'the last good pair stays at the sink');
  } finally {
    await app.stop();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

s.run();

// The ADS client over TLS, mutual TLS and a bearer token, as it talks to istiod's 15012: the
// in-process server is given a CA-signed certificate for istiod's name, requires a client
// certificate from the same CA and a token; the client gets the configuration only when all fit.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PinoLogger } from '../../src/adapters/logging/pino-logger.js';
import { AdsClient, type AdsClientOptions } from '../../src/adapters/xds/ads-client.js';
import { XdsServer } from '../../src/adapters/xds-server/xds-server.js';
import type { SourceUpdate } from '../../src/ports/config-source.js';
import { bookinfoFixture, TYPE_URLS } from '../support/xds-fixtures.js';

const s = suite('ADS client over TLS');
const dir = mkdtempSync(path.join(tmpdir(), 'amesh-tls-'));
const file = (name: string): string => path.join(dir, name);
const openssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
const ISTIOD_NAME = 'istiod.istio-system.svc';
let server: XdsServer;
let address = '';

function issue(name: string, san: string): void {
  openssl(
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    `${name}-key.pem`,
    '-out',
    `${name}.csr`,
    '-subj',
    `/O=amesh-test/CN=${name}`,
  );
  writeFileSync(file(`${name}.ext`), `subjectAltName=${san}\n`);
  openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-days', '1', '-out', `${name}.pem`, '-extfile', `${name}.ext`);
}

s.before(async () => {
  openssl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'ca-key.pem',
    '-out',
    'ca.pem',
    '-days',
    '1',
    '-subj',
    '/O=amesh-test/CN=test-ca',
  );
  issue('istiod', `DNS:${ISTIOD_NAME}`);
  issue('workload', 'URI:spiffe://cluster.local/ns/default/sa/bookinfo-productpage');
  writeFileSync(file('token'), 'the-jwt\n');
  writeFileSync(file('wrong-token'), 'not-the-jwt\n');
  const read = (name: string): string => readFileSync(file(name), 'utf8');
  server = new XdsServer({ tls: { certChain: read('istiod.pem'), privateKey: read('istiod-key.pem'), clientCa: read('ca.pem') }, requiredToken: 'the-jwt' });
  address = await server.start('127.0.0.1:0');
  const fixture = bookinfoFixture();
  for (const typeUrl of TYPE_URLS) server.setResources(typeUrl, fixture[typeUrl]);
});

s.after(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The first update within `ms`, or undefined. */
async function firstUpdate(options: Partial<AdsClientOptions>, ms: number): Promise<SourceUpdate | undefined> {
  const client = new AdsClient({
    target: address,
    mode: 'delta',
    node: {
      id: 'sidecar~10.244.0.7~productpage-v1.default~default.svc.cluster.local',
      cluster: 'productpage.default',
      dynamicParameters: {},
      userAgentName: 'amesh-ts',
      extensions: [],
      clientFeatures: [],
      listeningAddresses: [],
    },
    logger: new PinoLogger({ level: 'silent' }),
    backoff: { initialMs: 50, maxMs: 200, multiplier: 2 },
    ...options,
  });
  let subscription: { dispose(): void } | undefined;
  try {
    return await new Promise<SourceUpdate | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), ms);
      subscription = client.watch({
        onUpdate: (update) => {
          clearTimeout(timer);
          resolve(update);
        },
        onError: () => undefined,
      });
    });
  } finally {
    subscription?.dispose();
  }
}

const mtls = { caFile: file('ca.pem'), certFile: file('workload.pem'), keyFile: file('workload-key.pem'), serverName: ISTIOD_NAME };

s('mTLS with the right token: the configuration arrives', async () => {
  const update = await firstUpdate({ tls: mtls, tokenFile: file('token') }, 5000);
  assert.ok(update, 'no configuration over mTLS');
  assert.is(update!.snapshot.listeners.size, 3);
  assert.ok(update!.snapshot.clusters.has('outbound|9080|v1|reviews.default.svc.cluster.local'));
});

s('a wrong token is refused: nothing arrives', async () => {
  assert.is(await firstUpdate({ tls: mtls, tokenFile: file('wrong-token') }, 800), undefined);
});

s('no client certificate: the handshake fails, nothing arrives', async () => {
  assert.is(await firstUpdate({ tls: { caFile: file('ca.pem'), serverName: ISTIOD_NAME }, tokenFile: file('token') }, 800), undefined);
});

s('a server certificate for another name is not trusted', async () => {
  assert.is(await firstUpdate({ tls: { ...mtls, serverName: 'evil.example.com' }, tokenFile: file('token') }, 800), undefined);
});

s.run();

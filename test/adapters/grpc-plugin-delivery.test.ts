// The gRPC delivery server and the sidecar's gRPC source, over loopback TCP, plaintext and mTLS.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GrpcPluginConfigSource } from '../../src/adapters/plugin-grpc/grpc-plugin-config-source.js';
import { GrpcPluginDelivery, type GrpcPluginDeliveryTls } from '../../src/adapters/plugin-grpc/grpc-plugin-delivery.js';
import { VersionClock } from '../../src/domain/plugins/version-clock.js';
import type { Logger } from '../../src/ports/logger.js';
import { pluginDeliveryContract } from '../contract/plugin-delivery.contract.js';

const quiet: Logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

pluginDeliveryContract('gRPC (plaintext)', async () => {
  const clock = new VersionClock(Date.now);
  const delivery = new GrpcPluginDelivery({ address: '127.0.0.1:0', nextVersion: () => clock.next(), logger: quiet });
  const address = await delivery.listen();
  return {
    delivery,
    source: (pod) => {
      const [namespace, name] = pod.split('/') as [string, string];
      return new GrpcPluginConfigSource({ target: address, pod: { namespace, name }, logger: quiet });
    },
    cleanup: () => delivery.close(),
  };
});

/** A CA, a server certificate for 127.0.0.1 and a client certificate (openssl CLI). */
function makeMtls(dir: string): { server: GrpcPluginDeliveryTls; ca: string; clientCert: string; clientKey: string } {
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=amesh-test-ca');
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:amesh-controller.istio-system.svc\n');
  writeFileSync(join(dir, 'client.ext'), 'subjectAltName=URI:spiffe://cluster.local/ns/ns1/sa/default\n');
  for (const leaf of ['server', 'client']) {
    openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${leaf}-key.pem`, '-out', `${leaf}.csr`, '-subj', `/CN=${leaf}`);
    openssl('x509', '-req', '-in', `${leaf}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-days', '1', '-out', `${leaf}.pem`, '-extfile', `${leaf}.ext`);
  }
  return {
    server: { certFile: join(dir, 'server.pem'), keyFile: join(dir, 'server-key.pem'), clientCaFile: join(dir, 'ca.pem') },
    ca: join(dir, 'ca.pem'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client-key.pem'),
  };
}

pluginDeliveryContract('gRPC (mTLS)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'amesh-plugin-tls-'));
  const pki = makeMtls(dir);
  const clock = new VersionClock(Date.now);
  const delivery = new GrpcPluginDelivery({ address: '127.0.0.1:0', tls: pki.server, nextVersion: () => clock.next(), logger: quiet });
  const address = await delivery.listen();
  return {
    delivery,
    source: (pod) => {
      const [namespace, name] = pod.split('/') as [string, string];
      return new GrpcPluginConfigSource({ target: address, pod: { namespace, name }, tls: { caFile: pki.ca, certFile: pki.clientCert, keyFile: pki.clientKey }, logger: quiet });
    },
    cleanup: async () => {
      await delivery.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

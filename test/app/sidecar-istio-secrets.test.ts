// Issue 11, defect 7: `amesh sidecar` (wired by its container) must not wait for secrets istiod never
// serves. Clusters reference what istiod writes for a sidecar: `default`/`ROOTCA` (ISTIO_MUTUAL),
// `file-root:system` (a DestinationRule SIMPLE without caCertificates), `file-cert:<chain>~<key>` and
// `file-root:<bundle>` (MUTUAL with files in the pod), all pointing at pilot-agent's `sds-grpc`, and
// `kubernetes://…` credential names (a DestinationRule credentialName with a workloadSelector) over
// ADS. The in-process xDS server plays istiod: it serves the credential secrets only, and never
// answers the others. The sidecar must ask it for the credential names only, and publish and apply
// its first configuration as soon as the server's responses are in, with no does-not-exist timer.
// No timing is asserted: the check is that the first configuration is there once every response has
// been answered, which the old client only reached after its 15 s timer. The `file-cert:`/`file-root:`
// names are read from their files, as pilot-agent would; a file that is not there is logged once and
// left out (the upstream goes without its client certificate, reported).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Node } from '../../src/adapters/envoy/ads-protocol.js';
import { XdsServer, type XdsServerLogEvent } from '../../src/adapters/xds-server/xds-server.js';
import type { JsonObject } from '../../src/domain/json.js';
import { plainNode, startMeshSidecar, until, upstreamNames, workloadSecrets, type MeshSidecar } from '../support/mesh-sidecar.js';
import { bookinfoFixture, CDS, EDS, LDS, loadAssignment, RDS, resourcesOf, SDS, serve, type XdsFixture } from '../support/xds-fixtures.js';

type ResponseEvent = Extract<XdsServerLogEvent, { kind: 'response' }>;

const NODE: Node = plainNode('sidecar~10.244.0.7~productpage-v1.default~default.svc.cluster.local');

const SYSTEM = 'outbound|443||api.example.com';
const MUTUAL = 'outbound|8443||mutual.example.com';
const MISSING = 'outbound|8444||missing.example.com';
const CREDENTIAL = 'outbound|9443||egress.example.com';
const CREDENTIAL_CERT = 'kubernetes://egress-credential';
const CREDENTIAL_CA = 'kubernetes://egress-credential-cacert';

/** The files a DestinationRule MUTUAL names (written per suite), and one that is not there. */
interface Files {
  readonly dir: string;
  readonly chain: string;
  readonly key: string;
  readonly cert: string;
  readonly root: string;
  readonly missing: string;
}

function writeFiles(): Files {
  const dir = mkdtempSync(join(tmpdir(), 'amesh-dr-files-'));
  const [workload, roots] = workloadSecrets();
  if (workload?.kind !== 'certificate' || roots?.kind !== 'validation') throw new Error('workloadSecrets: expected a certificate, then roots');
  const chain = join(dir, 'client.pem');
  const key = join(dir, 'client-key.pem');
  writeFileSync(chain, workload.certificateChain);
  writeFileSync(key, workload.privateKey ?? '');
  writeFileSync(join(dir, 'ca.pem'), roots.trustedCa);
  return { dir, chain, key, cert: `file-cert:${chain}~${key}`, root: `file-root:${join(dir, 'ca.pem')}`, missing: `file-cert:${join(dir, 'gone.pem')}~${key}` };
}

const agentSecrets = (files: Files): string[] => ['default', 'ROOTCA', 'file-root:system', files.cert, files.root, files.missing];

/** How istiod points a name at pilot-agent's SDS (pkg/model/authentication.go constructSdsSecretConfig). */
const agentSds = (name: string): JsonObject => ({
  name,
  sds_config: {
    api_config_source: { api_type: 'GRPC', set_node_on_first_message_only: true, transport_api_version: 'V3', grpc_services: [{ envoy_grpc: { cluster_name: 'sds-grpc' } }] },
    resource_api_version: 'V3',
  },
});
/** How istiod points a credentialName at itself (pilot/pkg/security/model SDSAdsConfig). */
const adsSds = (name: string): JsonObject => ({ name, sds_config: { ads: {}, resource_api_version: 'V3' } });

function tlsCluster(name: string, sni: string, common: JsonObject): Record<string, unknown> {
  return {
    name,
    type: 'EDS',
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' }, service_name: name },
    connect_timeout: '10s',
    transport_socket: {
      name: 'envoy.transport_sockets.tls',
      typed_config: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext', sni, common_tls_context: common },
    },
  };
}

/** Bookinfo (ISTIO_MUTUAL: `default`/`ROOTCA`) plus the three DestinationRule TLS shapes; istiod's secrets only. */
function fixture(files: Files): XdsFixture {
  const base = bookinfoFixture();
  const clusters = resourcesOf(
    CDS,
    // SIMPLE, no caCertificates: the system trust store.
    tlsCluster(SYSTEM, 'api.example.com', { combined_validation_context: { default_validation_context: {}, validation_context_sds_secret_config: agentSds('file-root:system') } }),
    // MUTUAL with clientCertificate/privateKey/caCertificates files.
    tlsCluster(MUTUAL, 'mutual.example.com', {
      tls_certificate_sds_secret_configs: [agentSds(files.cert)],
      combined_validation_context: { default_validation_context: {}, validation_context_sds_secret_config: agentSds(files.root) },
    }),
    // The same, with a certificate file that is not there.
    tlsCluster(MISSING, 'missing.example.com', { tls_certificate_sds_secret_configs: [agentSds(files.missing)] }),
    // MUTUAL with credentialName (and a workloadSelector): istiod's own.
    tlsCluster(CREDENTIAL, 'egress.example.com', {
      tls_certificate_sds_secret_configs: [adsSds(CREDENTIAL_CERT)],
      combined_validation_context: { default_validation_context: {}, validation_context_sds_secret_config: adsSds(CREDENTIAL_CA) },
    }),
  );
  const [workload, roots] = workloadSecrets();
  if (workload?.kind !== 'certificate' || roots?.kind !== 'validation') throw new Error('workloadSecrets: expected a certificate, then roots');
  return {
    ...base,
    [CDS]: [...base[CDS], ...clusters],
    [EDS]: [
      ...base[EDS],
      loadAssignment(SYSTEM, ['203.0.113.10'], 443),
      loadAssignment(MUTUAL, ['203.0.113.11'], 8443),
      loadAssignment(MISSING, ['203.0.113.13'], 8444),
      loadAssignment(CREDENTIAL, ['203.0.113.12'], 9443),
    ],
    [SDS]: resourcesOf(
      SDS,
      { name: CREDENTIAL_CERT, tls_certificate: { certificate_chain: { inline_string: workload.certificateChain }, private_key: { inline_string: workload.privateKey ?? '' } } },
      { name: CREDENTIAL_CA, validation_context: { trusted_ca: { inline_string: roots.trustedCa } } },
    ),
  };
}

interface Ctx {
  server: XdsServer;
  responses: ResponseEvent[];
  files: Files;
  sidecar?: MeshSidecar;
}

/** Every name the sidecar ever asked the server for, per type (SotW lists and delta subscribes alike). */
function requestedNames(server: XdsServer, typeUrl: string): string[] {
  const names = new Set<string>();
  for (const request of server.requests) {
    if (request.typeUrl !== typeUrl) continue;
    for (const name of [...(request.resourceNames ?? []), ...(request.subscribe ?? [])]) names.add(name);
  }
  return [...names].sort();
}

/** The server has sent every type, and the sidecar has answered every response it was sent. */
function allAnswered(ctx: Ctx): boolean {
  const open = new Set(ctx.server.connectedStreams().map((s) => s.stream));
  const sent = new Set(ctx.responses.map((r) => r.typeUrl));
  if (![CDS, EDS, LDS, RDS, SDS].every((t) => sent.has(t))) return false;
  return ctx.responses.every((r) => !open.has(r.stream) || ctx.server.requests.some((q) => q.stream === r.stream && q.typeUrl === r.typeUrl && q.nonce === r.nonce));
}

for (const mode of ['sotw', 'delta'] as const) {
  const s = suite<Ctx>(`amesh sidecar (${mode}): secrets istiod does not serve are not waited for`, {
    server: undefined as unknown as XdsServer,
    responses: [],
    files: undefined as unknown as Files,
  });

  s.before((ctx) => {
    ctx.files = writeFiles();
  });

  s.after((ctx) => {
    rmSync(ctx.files.dir, { recursive: true, force: true });
  });

  s.before.each(async (ctx) => {
    ctx.responses = [];
    ctx.server = new XdsServer({
      istiodStrict: true,
      stopGraceMs: 100,
      logger: (event) => {
        if (event.kind === 'response') ctx.responses.push(event);
      },
    });
    const address = await ctx.server.start('127.0.0.1:0');
    serve(ctx.server, fixture(ctx.files));
    // The container builds the ADS client (its default 15 s does-not-exist timer), as `amesh sidecar` does.
    ctx.sidecar = await startMeshSidecar({ target: address, mode, node: NODE });
  });

  s.after.each(async (ctx) => {
    await ctx.sidecar?.stop();
    await ctx.server.stop();
  });

  s('only credential names are asked of the control plane', async (ctx) => {
    await until(() => allAnswered(ctx), 'answers to every response');
    assert.equal(requestedNames(ctx.server, SDS), [CREDENTIAL_CERT, CREDENTIAL_CA]);
    for (const name of agentSecrets(ctx.files)) assert.not.ok(requestedNames(ctx.server, SDS).includes(name), `${name} asked of the control plane`);
  });

  s('the first configuration is published and applied once the responses are in, with no does-not-exist timeout', async (ctx) => {
    const sidecar = ctx.sidecar!;
    await until(() => allAnswered(ctx), 'answers to every response');
    // The ACK of the last response waited for the apply of what it completed: nothing else is pending.
    const snapshot = sidecar.source.current?.snapshot;
    assert.ok(snapshot, `nothing published once every response was answered: ${sidecar.logger.describe()}`);
    assert.ok(sidecar.sink.history.length > 0, 'nothing applied');
    assert.ok(sidecar.app.sync.state.ready, 'not ready');
    for (const name of [SYSTEM, MUTUAL, MISSING, CREDENTIAL]) assert.ok(snapshot.clusters.has(name), `cluster ${name}`);
    assert.equal([...snapshot.secrets.keys()].sort(), [CREDENTIAL_CERT, CREDENTIAL_CA], 'the ADS snapshot holds what the server sent, nothing else');
    const timedOut = sidecar.logger.entries.filter((e) => /did not arrive/.test(e.message));
    assert.equal(timedOut, [], 'a does-not-exist timer fired');
  });

  s("what the apply made of them: the credential's certificate over ADS, the DestinationRule's from its files", async (ctx) => {
    const sidecar = ctx.sidecar!;
    const { files } = ctx;
    await until(() => allAnswered(ctx), 'answers to every response');
    const applied = sidecar.sink.applied;
    const names = upstreamNames(applied);
    const clientCert = (cluster: string): string | undefined => {
      const upstream = applied.ofKind('upstreams').find((u) => names.get(u.id) === cluster);
      assert.ok(upstream, `an upstream for ${cluster}`);
      const id = (upstream.value['tls'] as JsonObject | undefined)?.['client_cert_id'];
      if (typeof id !== 'string') return undefined;
      const ssl = applied.objects.get(`ssls/${id}`);
      assert.ok(ssl, `ssl ${id}`);
      return String(ssl.value['cert']);
    };
    const [workload] = workloadSecrets();
    assert.ok(workload?.kind === 'certificate');
    assert.is(clientCert(CREDENTIAL), workload.certificateChain, 'the credential (over ADS)');
    assert.is(clientCert(MUTUAL), workload.certificateChain, 'the file-cert: files');
    assert.is(clientCert(MISSING), undefined, 'no certificate where its file is missing');
    const report = sidecar.app.sync.state.translation!.report.records;
    assert.ok(
      report.some((r) => r.resource.name === MISSING && r.reason.includes(files.missing)),
      `the missing certificate is reported: ${JSON.stringify(report.filter((r) => r.resource.name === MISSING))}`,
    );
    const unreadable = sidecar.logger.entries.filter((e) => e.fields['secret'] === files.missing);
    assert.is(unreadable.length, 1, `logged once: ${JSON.stringify(unreadable)}`);
    assert.match(String(unreadable[0]!.fields['error']), /no such file/);
    assert.equal(
      // (file-root:system is left out: whether this machine has an OS bundle is not the test's business.)
      sidecar.logger.entries
        .filter((e) => typeof e.fields['secret'] === 'string' && e.fields['secret'] !== files.missing && e.fields['secret'] !== 'file-root:system')
        .map((e) => e.fields['secret']),
      [],
      'the other file names were read',
    );
  });

  s.run();
}

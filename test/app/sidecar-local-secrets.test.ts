// The sidecar's SyncService adds to each snapshot the secrets the control plane does not send: the
// workload certificates of its secret source, then what SecretFiles reads for names still missing.
// The same inputs give the same secrets map, so an endpoints-only update is patched by the
// translation instead of translated again (it compares the maps by identity).
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { MemoryConfigSink } from '../../src/adapters/memory/memory-config-sink.js';
import { MemoryConfigSource } from '../../src/adapters/memory/memory-config-source.js';
import { MemoryMetrics } from '../../src/adapters/memory/memory-metrics.js';
import { MemorySecretSource } from '../../src/adapters/memory/memory-secret-source.js';
import { SyncService } from '../../src/app/sidecar/sync-service.js';
import type { Cluster } from '../../src/domain/mesh/cluster.js';
import type { Secret } from '../../src/domain/mesh/secret.js';
import { err, ok, type Result } from '../../src/domain/result.js';
import { snapshotOfMaps } from '../../src/domain/snapshot.js';
import type { SourceError, SourceUpdate } from '../../src/ports/config-source.js';
import type { SecretFiles } from '../../src/ports/secret-source.js';
import { RecordingLogger, until, workloadSecrets } from '../support/mesh-sidecar.js';
import { loadFile } from '../support/translate-file.js';

const bookinfo = fileURLToPath(new URL('../../examples/bookinfo/sidecar-resources.yaml', import.meta.url));
const DETAILS = 'outbound|9080||details.default.svc.cluster.local';
const FILE_CERT = 'file-cert:/pod/client.pem~/pod/client-key.pem';
const GONE = 'file-cert:/pod/gone.pem~/pod/client-key.pem';

/** SecretFiles over a fixed table, counting what it is asked. */
class TableFiles implements SecretFiles {
  readonly asked: string[] = [];
  constructor(private readonly table: ReadonlyMap<string, Result<Secret, SourceError>>) {}
  read(name: string): Result<Secret, SourceError> | undefined {
    this.asked.push(name);
    return this.table.get(name);
  }
}

/** `update` with details' cluster using `certificate` as its client certificate, and one more cluster naming a file that is gone. */
function withFileNames(update: SourceUpdate): SourceUpdate {
  const { snapshot } = update;
  const details = snapshot.clusters.get(DETAILS)!;
  const clusters = new Map(snapshot.clusters);
  clusters.set(DETAILS, { ...details, tls: { ...details.tls!, certificateSecret: FILE_CERT } } as Cluster);
  clusters.set('outbound|9080||gone.default.svc.cluster.local', {
    ...details,
    name: 'outbound|9080||gone.default.svc.cluster.local',
    tls: { ...details.tls!, certificateSecret: GONE },
  } as Cluster);
  return { snapshot: snapshotOfMaps('v1', { ...snapshot, clusters }), fidelity: update.fidelity };
}

/** The same update with a new endpoints map (equal content): what an EDS-only push looks like. */
function endpointsOnly(update: SourceUpdate, version: string): SourceUpdate {
  return { snapshot: snapshotOfMaps(version, { ...update.snapshot, endpoints: new Map(update.snapshot.endpoints) }), fidelity: update.fidelity };
}

const s = suite('SyncService: secrets from the secret source and from files');

s('file-named secrets fill what is missing; the merged map is reused while nothing it is made of changed', async () => {
  const [workload] = workloadSecrets();
  assert.ok(workload?.kind === 'certificate');
  const fromFile: Secret = { ...workload, name: FILE_CERT };
  const files = new TableFiles(
    new Map<string, Result<Secret, SourceError>>([
      [FILE_CERT, ok(fromFile)],
      [GONE, err({ location: '/pod/gone.pem', message: 'no such file' })],
    ]),
  );
  const source = new MemoryConfigSource();
  const secrets = new MemorySecretSource();
  secrets.publish(workloadSecrets());
  const sink = new MemoryConfigSink();
  const logger = new RecordingLogger();
  const sync = new SyncService({ source, sinks: [sink], logger, metrics: new MemoryMetrics(), secrets, secretFiles: files }, { partial: true });
  await sync.start();
  try {
    const first = withFileNames(await loadFile(bookinfo));
    source.publish(first);
    await until(() => sync.state.ready, 'the first apply');
    const firstTranslation = sync.state.translation;
    // Only names nobody else delivers are asked of the files: not `default`/`ROOTCA` (the secret source has them).
    assert.equal([...new Set(files.asked)].sort(), [FILE_CERT, GONE].sort());
    const applied = sink.applied;
    const upstream = applied.ofKind('upstreams').find((u) => u.value['name'] === DETAILS)!;
    const sslId = (upstream.value['tls'] as { client_cert_id?: string } | undefined)?.client_cert_id;
    assert.ok(sslId, 'details presents the file certificate');
    assert.is(applied.objects.get(`ssls/${sslId}`)?.value['cert'], workload.certificateChain);
    assert.equal(
      logger.entries.filter((e) => e.fields['secret'] === GONE).map((e) => e.fields['error']),
      ['no such file'],
      'the unreadable one is logged, once',
    );

    source.publish(endpointsOnly(first, 'v2'));
    await until(() => sync.state.translation !== firstTranslation, 'the second apply');
    assert.ok(sync.state.translation?.delta, 'an endpoints-only update is patched, not translated again (the secrets map is the same)');
    assert.is(logger.entries.filter((e) => e.fields['secret'] === GONE).length, 1, 'not logged again');
  } finally {
    await sync.stop();
  }
});

s.run();

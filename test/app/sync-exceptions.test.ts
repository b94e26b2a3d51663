// An exception while translating an update (a bug some input finds) is a rejection of that update, as a
// translation error is: the source NACKs it, the last good configuration stays, and the next update is
// applied. It used to escape the SyncService and end the sidecar.
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MemoryConfigSink } from '../../src/adapters/memory/memory-config-sink.js';
import { MemoryMetrics } from '../../src/adapters/memory/memory-metrics.js';
import { SyncService } from '../../src/app/sidecar/sync-service.js';
import type { ConfigSource, ConfigWatcher, Disposable, SourceUpdate, UpdateVerdict } from '../../src/ports/config-source.js';
import { RecordingLogger } from '../support/mesh-sidecar.js';
import { loadFile } from '../support/translate-file.js';

const bookinfo = fileURLToPath(new URL('../../examples/bookinfo/sidecar-resources.yaml', import.meta.url));

class OfferingSource implements ConfigSource {
  watcher: ConfigWatcher | undefined;
  watch(watcher: ConfigWatcher): Disposable {
    this.watcher = watcher;
    return { dispose: () => (this.watcher = undefined) };
  }
  offer(update: SourceUpdate): Promise<UpdateVerdict> {
    return Promise.resolve(this.watcher!.onUpdate(update) ?? { accepted: true });
  }
}

test('an exception in the translation rejects the update; the configuration in force stays, the next update applies', async () => {
  const source = new OfferingSource();
  const sink = new MemoryConfigSink();
  const sync = new SyncService({ source, sinks: [sink], logger: new RecordingLogger(), metrics: new MemoryMetrics() }, {});
  await sync.start();
  try {
    const good = await loadFile(bookinfo);
    assert.equal(await source.offer(good), { accepted: true });
    const routes = sink.applied.ofKind('routes').length;
    // A snapshot that throws when the translation reads it.
    const snapshot = Object.create(good.snapshot, {
      listeners: {
        get: () => {
          throw new TypeError('boom');
        },
      },
    }) as SourceUpdate['snapshot'];
    const verdict = await source.offer({ ...good, snapshot });
    assert.ok(!verdict.accepted && /could not be translated \(boom\)/.test(verdict.reason), JSON.stringify(verdict));
    assert.is(sink.applied.ofKind('routes').length, routes, 'the configuration in force stays');
    assert.equal(await source.offer(await loadFile(bookinfo)), { accepted: true }, 'the next update is judged as usual');
  } finally {
    await sync.stop();
  }
});

test.run();

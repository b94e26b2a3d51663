// In-memory ConfigSource: a production option for embedding (push snapshots from code) and the
// unit-test double. Late watchers get the current snapshot at once. Nobody upstream can be told of a
// rejected update: it is logged (the watcher keeps its last good configuration).
import { onRejection, type ConfigSource, type ConfigWatcher, type Disposable, type SourceError, type SourceUpdate } from '../../ports/config-source.js';
import type { Logger } from '../../ports/logger.js';

export class MemoryConfigSource implements ConfigSource {
  private readonly watchers = new Set<ConfigWatcher>();
  private current: SourceUpdate | undefined;

  constructor(private readonly options: { readonly logger?: Logger } = {}) {}

  watch(watcher: ConfigWatcher): Disposable {
    this.watchers.add(watcher);
    if (this.current) this.deliver(watcher, this.current);
    return { dispose: () => void this.watchers.delete(watcher) };
  }

  publish(update: SourceUpdate): void {
    this.current = update;
    for (const watcher of [...this.watchers]) this.deliver(watcher, update);
  }

  private deliver(watcher: ConfigWatcher, update: SourceUpdate): void {
    onRejection(watcher.onUpdate(update), (reason) =>
      this.options.logger?.warn({ source: 'memory', version: update.snapshot.version, error: reason }, 'update rejected; the last good configuration stays'),
    );
  }

  fail(error: SourceError): void {
    for (const watcher of [...this.watchers]) watcher.onError(error);
  }
}

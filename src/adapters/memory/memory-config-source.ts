// In-memory ConfigSource: a production option for embedding (push snapshots from code) and the
// unit-test double. Late watchers get the current snapshot at once.
import type { ConfigSource, ConfigWatcher, Disposable, SourceError, SourceUpdate } from '../../ports/config-source.js';

export class MemoryConfigSource implements ConfigSource {
  private readonly watchers = new Set<ConfigWatcher>();
  private current: SourceUpdate | undefined;

  watch(watcher: ConfigWatcher): Disposable {
    this.watchers.add(watcher);
    if (this.current) watcher.onUpdate(this.current);
    return { dispose: () => void this.watchers.delete(watcher) };
  }

  publish(update: SourceUpdate): void {
    this.current = update;
    for (const watcher of [...this.watchers]) watcher.onUpdate(update);
  }

  fail(error: SourceError): void {
    for (const watcher of [...this.watchers]) watcher.onError(error);
  }
}

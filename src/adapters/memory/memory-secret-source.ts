// In-memory SecretSource: a production option for embedding (push certificates from code) and the
// unit-test double. Late watchers get the current set at once.
import type { Secret } from '../../domain/mesh/secret.js';
import type { Disposable, SourceError } from '../../ports/config-source.js';
import type { SecretSource, SecretWatcher } from '../../ports/secret-source.js';

export class MemorySecretSource implements SecretSource {
  private readonly watchers = new Set<SecretWatcher>();
  private current: readonly Secret[] | undefined;

  watch(watcher: SecretWatcher): Disposable {
    this.watchers.add(watcher);
    if (this.current) watcher.onSecrets(this.current);
    return { dispose: () => void this.watchers.delete(watcher) };
  }

  publish(secrets: readonly Secret[]): void {
    this.current = [...secrets];
    for (const watcher of [...this.watchers]) watcher.onSecrets(this.current);
  }

  fail(error: SourceError): void {
    for (const watcher of [...this.watchers]) watcher.onError(error);
  }
}

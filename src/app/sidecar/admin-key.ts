// The Admin API key of admin:/standalone: sinks, read once at start from where the configuration
// says (a file, e.g. a mounted Kubernetes secret, or the environment). Errors name the file, never the key.
import { readFileSync } from 'node:fs';
import { err, ok, type Result } from '../../domain/result.js';
import { SecretText } from '../../domain/secret-text.js';
import type { AdminKeySource, SidecarConfig } from './sidecar-config.js';

export function readAdminKey(source: AdminKeySource): Result<SecretText | undefined, string> {
  if (source.from === 'none') return ok(undefined);
  if (source.from === 'env') return ok(source.value);
  try {
    const key = readFileSync(source.path, 'utf8').trim();
    if (!key) return err(`--admin-key-file ${source.path}: the file is empty`);
    return ok(new SecretText(key));
  } catch (error) {
    return err(`--admin-key-file ${source.path}: ${(error as NodeJS.ErrnoException).code ?? 'unreadable'}`);
  }
}

/** The first sink whose key cannot be read, as a usage error. */
export function adminKeyProblem(config: SidecarConfig): string | undefined {
  for (const sink of config.sinks) {
    if (sink.kind !== 'admin' && sink.kind !== 'standalone') continue;
    const key = readAdminKey(sink.apiKey);
    if (!key.ok) return key.error;
  }
  return undefined;
}

// ConfigCache in one JSON file: the last applied GatewayConfig, so that a restarted sidecar can serve
// traffic before istiod answers. Written atomically with mode 0600 (ssls carry private keys). On
// load the file is untrusted: a damaged one is an error value, one written by another format
// version is set aside (logged, treated as no cache), neither throws.
import { describeRefusal, readRegularFile } from '../fs/bounded-read.js';
import { gatewayConfigFromJson, gatewayConfigToJson } from '../../domain/gateway-config-json.js';
import type { GatewayConfig } from '../../domain/gateway-config.js';
import { err, ok, type Result } from '../../domain/result.js';
import type { ConfigCache } from '../../ports/config-cache.js';
import type { Logger } from '../../ports/logger.js';
import { writeAtomically } from '../fs/atomic-file.js';

/** The cache is our own file, as large as a configuration gets; the bound is for a FIFO or a device in its place. */
const CACHE_MAX_BYTES = 1024 * 1024 * 1024;

export interface FileConfigCacheOptions {
  readonly path: string;
}

export interface FileConfigCacheDeps {
  /** Told why a readable cache was ignored (another format version). */
  readonly logger?: Logger;
}

const OWNER_ONLY = 0o600;

export class FileConfigCache implements ConfigCache {
  /** Saves run one after another: racing renames could otherwise leave an older config last. */
  private saving: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly options: FileConfigCacheOptions,
    private readonly deps: FileConfigCacheDeps = {},
  ) {}

  async load(): Promise<Result<GatewayConfig | undefined, string>> {
    const { path } = this.options;
    // Read at start, before anything is served: a FIFO or a device in its place must not hold the sidecar.
    const read = await readRegularFile(path, CACHE_MAX_BYTES);
    if (!read.ok) {
      if (read.error.kind === 'refused' && read.error.code === 'ENOENT') return ok(undefined);
      return err(`reading ${path}: ${describeRefusal(read.error, CACHE_MAX_BYTES)}`);
    }
    const text = read.value.toString('utf8');
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch (error) {
      return err(`${path} is corrupt: invalid JSON: ${(error as Error).message}`);
    }
    const parsed = gatewayConfigFromJson(document);
    if (parsed.ok) return parsed;
    if (parsed.error.kind === 'unsupported-format') {
      this.deps.logger?.warn({ path, reason: parsed.error.message }, 'ignoring a configuration cache written by another format version');
      return ok(undefined);
    }
    return err(`${path} is corrupt: ${parsed.error.message}`);
  }

  save(config: GatewayConfig): Promise<Result<void, string>> {
    const run = this.saving.then(() => this.write(config));
    this.saving = run.catch(() => undefined); // one failed save must not block the next
    return run;
  }

  private async write(config: GatewayConfig): Promise<Result<void, string>> {
    const text = `${JSON.stringify(gatewayConfigToJson(config))}\n`;
    try {
      await writeAtomically(this.options.path, text, OWNER_ONLY);
      return ok(undefined);
    } catch (error) {
      return err(`writing ${this.options.path}: ${(error as Error).message}`);
    }
  }
}

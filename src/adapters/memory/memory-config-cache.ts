// In-memory ConfigCache: for embedding and tests. Holds the config object itself (GatewayConfig is
// immutable), so it survives nothing but is otherwise the same contract as the file cache.
import type { GatewayConfig } from '../../domain/gateway-config.js';
import { ok, type Result } from '../../domain/result.js';
import type { ConfigCache } from '../../ports/config-cache.js';

export class MemoryConfigCache implements ConfigCache {
  constructor(private saved: GatewayConfig | undefined = undefined) {}

  async load(): Promise<Result<GatewayConfig | undefined, string>> {
    return ok(this.saved);
  }

  async save(config: GatewayConfig): Promise<Result<void, string>> {
    this.saved = config;
    return ok(undefined);
  }
}

// In-memory ConfigSink: keeps what was applied, change by change, as an incremental sink would.
import { applyChangeSet } from '../../domain/diff.js';
import { GatewayConfig } from '../../domain/gateway-config.js';
import type { ApplyResult, ConfigSink, SinkUpdate } from '../../ports/config-sink.js';

export class MemoryConfigSink implements ConfigSink {
  readonly target = 'memory';
  private state = GatewayConfig.empty();
  private applies = 0;

  async apply(update: SinkUpdate): Promise<ApplyResult> {
    this.state = applyChangeSet(this.state, update.changes);
    this.applies += 1;
    return { applied: update.changes.changes.length, failed: [] };
  }

  get applied(): GatewayConfig {
    return this.state;
  }

  get applyCount(): number {
    return this.applies;
  }
}

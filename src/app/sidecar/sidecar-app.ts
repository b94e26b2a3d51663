// `amesh sidecar`: the configuration source (xDS or a file), the sync loop into the sinks, and the
// operations endpoints; started and stopped as one.
import type { Logger } from '../../ports/logger.js';
import type { OpsServer } from './ops-server.js';
import type { SyncService } from './sync-service.js';

export interface SidecarAppDeps {
  readonly sync: SyncService;
  readonly ops: OpsServer;
  readonly logger: Logger;
  readonly addresses: readonly string[];
  /** Stops the source's connections (the ADS channel). */
  readonly closeSource: () => void;
}

export class SidecarApp {
  private boundAddresses: string[] = [];

  constructor(private readonly deps: SidecarAppDeps) {}

  get ops(): readonly string[] {
    return this.boundAddresses;
  }

  get sync(): SyncService {
    return this.deps.sync;
  }

  async start(): Promise<void> {
    this.boundAddresses = await this.deps.ops.listen(this.deps.addresses);
    if (this.boundAddresses.length > 0) this.deps.logger.info({ addresses: this.boundAddresses }, 'operations endpoints listening');
    await this.deps.sync.start();
  }

  /** Graceful: no new applies, the one in progress completes, then the endpoints close. */
  async stop(): Promise<void> {
    await this.deps.sync.stop();
    this.deps.closeSource();
    await this.deps.ops.close();
    this.deps.logger.info({}, 'stopped');
  }
}

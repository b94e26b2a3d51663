// `amesh sidecar`: the configuration source (xDS or a file), the sync loop into the sinks, and the
// operations endpoints; started and stopped as one.
import type { Logger } from '../../ports/logger.js';
import { isLoopbackHost, type OpsAddress, type OpsServer } from './ops-server.js';
import type { SyncService } from './sync-service.js';

export interface SidecarAppDeps {
  readonly sync: SyncService;
  readonly ops: OpsServer;
  readonly logger: Logger;
  readonly addresses: readonly OpsAddress[];
  /** Stops the source's connections (the ADS channel). */
  readonly closeSource: () => void;
}

export class SidecarApp {
  private boundAddresses: string[] = [];
  private boundAdmin: string | undefined;

  constructor(private readonly deps: SidecarAppDeps) {}

  /** Where readiness and metrics are served (`host:port` as bound), in the order configured. */
  get ops(): readonly string[] {
    return this.boundAddresses;
  }

  /** Where the admin endpoints (the config dump) are served; undefined when off or not bound. */
  get admin(): string | undefined {
    return this.boundAdmin;
  }

  get sync(): SyncService {
    return this.deps.sync;
  }

  async start(): Promise<void> {
    const { logger } = this.deps;
    const served = this.deps.addresses.filter((a) => a.role !== 'admin');
    const admin = this.deps.addresses.find((a) => a.role === 'admin');
    // An admin address equal to a probe's is one server serving both (the operator asked for it);
    // port 0 asks for a port of its own.
    const shared = admin !== undefined && !admin.address.endsWith(':0') && served.some((a) => a.address === admin.address);
    const bound = await this.deps.ops.listen(shared ? [...served, admin] : served);
    this.boundAddresses = [...new Set(bound.filter((b) => b.role !== 'admin').map((b) => b.bound))];
    this.boundAdmin = bound.find((b) => b.role === 'admin')?.bound;
    if (admin && !shared) {
      // Only debugging depends on the admin address: a sidecar whose admin port is taken still serves traffic.
      try {
        this.boundAdmin = (await this.deps.ops.listen([admin]))[0]?.bound;
      } catch (error) {
        logger.warn({ address: admin.address, error: (error as Error).message }, 'admin endpoints (config dump) not served: cannot listen');
      }
    }
    if (this.boundAddresses.length > 0) logger.info({ addresses: this.boundAddresses }, 'operations endpoints listening');
    if (this.boundAdmin !== undefined) {
      const host = this.boundAdmin.slice(0, this.boundAdmin.lastIndexOf(':'));
      if (isLoopbackHost(host)) logger.info({ address: this.boundAdmin }, 'admin endpoints listening (loopback only)');
      else logger.warn({ address: this.boundAdmin }, 'admin endpoints listening beyond loopback: the config dump (keys redacted) is reachable from the network');
    }
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

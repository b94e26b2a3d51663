// Port: the last gateway configuration applied, kept across restarts so that the data plane can be
// served before the control plane answers. Loading never throws: a missing cache is `undefined`,
// an unusable one an error value, and either way the caller simply waits for the live source.
import type { GatewayConfig } from '../domain/gateway-config.js';
import type { Result } from '../domain/result.js';

export const ConfigCache = Symbol.for('amesh.ConfigCache');

export interface ConfigCache {
  /** The saved configuration, `undefined` when there is none (or none this version can use). */
  load(): Promise<Result<GatewayConfig | undefined, string>>;
  /** Replaces the saved configuration; a failure leaves the previous one intact. */
  save(config: GatewayConfig): Promise<Result<void, string>>;
}

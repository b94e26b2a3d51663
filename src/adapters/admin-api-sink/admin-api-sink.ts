// ConfigSink for APISIX's per-resource Admin API (APISIX with etcd: traditional or control_plane
// role): one PUT or DELETE per changed object, in dependency order, owned objects only.
import type { SecretText } from '../../domain/secret-text.js';
import type { ApplyResult, ConfigSink, SinkUpdate } from '../../ports/config-sink.js';
import type { Logger } from '../../ports/logger.js';
import { OwnedObjectSync, type ReconcileReport } from '../apisix/owned-object-sync.js';
import { DEFAULT_RETRY, type RetryPolicy } from '../apisix/retry.js';
import { AdminApiStore } from './admin-api-store.js';

export interface AdminApiSinkOptions {
  /** Origin of the Admin API, e.g. http://127.0.0.1:9180. */
  readonly url: string;
  readonly apiKey?: SecretText | undefined;
  /** Requests in flight at once (and pooled keep-alive connections); default 16. */
  readonly concurrency?: number;
  readonly timeoutMs?: number;
  readonly retry?: RetryPolicy;
  /** How often to list the target again and repair drift; default 60 s, 0 = never. */
  readonly resyncMs?: number;
  readonly logger?: Logger;
}

export class AdminApiSink implements ConfigSink {
  readonly target: string;
  private readonly sync: OwnedObjectSync;

  constructor(options: AdminApiSinkOptions) {
    const store = new AdminApiStore({
      baseUrl: options.url,
      apiKey: options.apiKey,
      concurrency: options.concurrency ?? 16,
      timeoutMs: options.timeoutMs ?? 10_000,
    });
    this.target = store.target;
    this.sync = new OwnedObjectSync(store, { retry: options.retry ?? DEFAULT_RETRY, resyncMs: options.resyncMs ?? 60_000, ...(options.logger ? { logger: options.logger } : {}) });
  }

  apply(update: SinkUpdate): Promise<ApplyResult> {
    return this.sync.apply(update);
  }

  reconcile(): Promise<ReconcileReport> {
    return this.sync.reconcile();
  }

  close(): void {
    this.sync.close();
  }
}

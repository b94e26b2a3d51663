// ConfigSink for APISIX's per-resource Admin API (APISIX with etcd: traditional or control_plane
// role): one PUT or DELETE per changed object, in dependency order, owned objects only.
import type { SecretText } from '../../domain/secret-text.js';
import type { Logger } from '../../ports/logger.js';
import { OwnedObjectSink } from '../apisix/owned-object-sync.js';
import type { RetryPolicy } from '../apisix/retry.js';
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

export class AdminApiSink extends OwnedObjectSink {
  constructor(options: AdminApiSinkOptions) {
    super(
      new AdminApiStore({
        baseUrl: options.url,
        apiKey: options.apiKey,
        concurrency: options.concurrency ?? 16,
        timeoutMs: options.timeoutMs ?? 10_000,
      }),
      { retry: options.retry, resyncMs: options.resyncMs, logger: options.logger },
    );
  }
}

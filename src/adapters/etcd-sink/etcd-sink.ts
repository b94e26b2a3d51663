// ConfigSink that writes APISIX's own etcd layout, as its Admin API would, so that a fleet of APISIX
// data planes (decoupled mode, config_provider: etcd) consumes one agent's output. No Admin API
// validates on this path: the objects are the translation's, which the schema tests hold to
// APISIX's schemas.
import type { Logger } from '../../ports/logger.js';
import { OwnedObjectSink } from '../apisix/owned-object-sync.js';
import type { RetryPolicy } from '../apisix/retry.js';
import { EtcdStore } from './etcd-store.js';

export const DEFAULT_ETCD_PREFIX = '/apisix';

export interface EtcdSinkOptions {
  /** Client URLs of the etcd members, e.g. http://127.0.0.1:2379. */
  readonly endpoints: readonly string[];
  /** APISIX's deployment.etcd.prefix; default /apisix. */
  readonly prefix?: string;
  /** Transactions in flight at once; default 4. */
  readonly concurrency?: number;
  readonly timeoutMs?: number;
  readonly retry?: RetryPolicy;
  /** How often to list the prefix again and repair drift; default 60 s, 0 = never. */
  readonly resyncMs?: number;
  readonly logger?: Logger;
  /** Seconds since the epoch for create_time/update_time (tests pin it). */
  readonly now?: () => number;
  /**
   * Whether the data planes run with APISIX's stream mode (`apisix.proxy_mode` `stream` or
   * `http&stream`); default on. etcd cannot tell: with `off` the stream routes are still written (served
   * as soon as stream mode is turned on) and reported as unserved.
   */
  readonly streamMode?: 'on' | 'off';
}

/** Why stream routes in etcd are not served when the operator says stream mode is off. */
export const STREAM_MODE_OFF_REASON =
  "written to etcd, but the data plane's stream mode is off (etcd:…?stream=off): APISIX serves stream routes only with apisix.proxy_mode stream or http&stream";

export class EtcdSink extends OwnedObjectSink {
  constructor(options: EtcdSinkOptions) {
    super(
      new EtcdStore({
        endpoints: options.endpoints,
        prefix: options.prefix ?? DEFAULT_ETCD_PREFIX,
        concurrency: options.concurrency ?? 4,
        timeoutMs: options.timeoutMs ?? 10_000,
        ...(options.now ? { now: options.now } : {}),
      }),
      {
        retry: options.retry,
        resyncMs: options.resyncMs,
        logger: options.logger,
        ...(options.streamMode === 'off' ? { unservedKinds: new Map([['stream_routes', STREAM_MODE_OFF_REASON] as const]) } : {}),
      },
    );
  }
}

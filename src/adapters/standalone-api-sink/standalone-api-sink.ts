// ConfigSink for API-driven standalone APISIX (≥ 3.13, `config_provider: yaml` with the Admin API on):
// the whole configuration in one PUT /apisix/admin/configs, with X-Digest, per-kind conf_version and
// per-item modifiedIndex so that APISIX rebuilds only what changed. Nothing is sent when the content
// digest is what APISIX already holds; a periodic HEAD notices a restarted or overwritten APISIX.
import type { SecretText } from '../../domain/secret-text.js';
import type { ApplyFailure, ApplyResult, ConfigSink, SinkUpdate } from '../../ports/config-sink.js';
import type { GatewayConfig } from '../../domain/gateway-config.js';
import type { Logger } from '../../ports/logger.js';
import { failureOf, messageOf } from '../apisix/admin-reply.js';
import { HttpJsonClient, type HttpOutcome, type HttpRequest } from '../apisix/http-json.js';
import { backoffDelay } from '../../domain/backoff.js';
import { DEFAULT_RETRY, sleep, type RetryPolicy } from '../apisix/retry.js';
import { StandaloneState } from './standalone-document-state.js';

export interface StandaloneApiSinkOptions {
  /** Origin of the Admin API, e.g. http://127.0.0.1:9180. */
  readonly url: string;
  readonly apiKey?: SecretText | undefined;
  readonly timeoutMs?: number;
  readonly retry?: RetryPolicy;
  /** How often to compare APISIX's X-Digest with the agent's; default 10 s, 0 = never. */
  readonly resyncMs?: number;
  readonly logger?: Logger;
}

const CONFIGS = '/apisix/admin/configs';
const VERSION_BEHIND = /_conf_version must be greater than or equal to/;

type Attempt = { readonly ok: true; readonly status: number } | { readonly ok: false; readonly failed: readonly ApplyFailure[]; readonly stale: boolean };

export interface StandaloneReconcileReport extends ApplyResult {
  /** 1 when APISIX held something else than the agent last put (restarted, or written by someone else). */
  readonly drift: number;
}

export class StandaloneApiSink implements ConfigSink {
  readonly target: string;
  private readonly http: HttpJsonClient;
  private readonly retry: RetryPolicy;
  private state: StandaloneState | undefined;
  private rejected: { digest: string; failed: readonly ApplyFailure[] } | undefined;
  private lastDesired: GatewayConfig | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Keys this agent has put (objects without the ownership label are still its own). */
  private readonly written = new Set<string>();

  constructor(private readonly options: StandaloneApiSinkOptions) {
    this.http = new HttpJsonClient({ baseUrl: options.url, timeoutMs: options.timeoutMs ?? 30_000, maxSockets: 2 });
    this.target = `standalone:${this.http.origin}`;
    this.retry = options.retry ?? DEFAULT_RETRY;
  }

  apply(update: SinkUpdate): Promise<ApplyResult> {
    return this.serialised(async () => {
      const failed = await this.sync(update.desired);
      const keys = new Set(failed.map((f) => f.key));
      const applied = keys.has('*') ? 0 : update.changes.changes.filter((c) => !keys.has(c.key)).length;
      return { applied, failed };
    });
  }

  /** Compares APISIX's digest with the agent's and puts the configuration again if they differ. */
  reconcile(): Promise<StandaloneReconcileReport> {
    return this.serialised(async () => {
      if (!this.lastDesired || !this.state) return { applied: 0, failed: [], drift: 0 };
      const head = await this.withRetry({ method: 'HEAD', path: CONFIGS });
      if (!head.ok) return { applied: 0, failed: [{ key: '*', reason: head.error }], drift: 0 };
      if (head.reply.status === 200 && head.reply.headers['x-digest'] === this.state.digest) return { applied: 0, failed: [], drift: 0 };
      this.state = undefined;
      const failed = await this.sync(this.lastDesired);
      return { applied: failed.length === 0 ? 1 : 0, failed, drift: 1 };
    });
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.http.close();
  }

  private serialised<T>(run: () => Promise<T>): Promise<T> {
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private send(request: HttpRequest): Promise<HttpOutcome> {
    const key = this.options.apiKey?.reveal();
    return this.http.send(key ? { ...request, headers: { ...request.headers, 'x-api-key': key } } : request);
  }

  /** Sends until an answer that is not a 5xx arrives or the retry budget is spent. */
  private async withRetry(request: HttpRequest): Promise<{ ok: true; reply: Extract<HttpOutcome, { ok: true }>['reply'] } | { ok: false; error: string }> {
    const deadline = Date.now() + this.retry.budgetMs;
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.send(request);
      const failure = outcome.ok && outcome.reply.status < 500 ? undefined : failureOf(outcome, `${request.method} ${request.path}`);
      if (!failure) return outcome as Extract<HttpOutcome, { ok: true }>;
      const delay = backoffDelay(this.retry, attempt);
      if (Date.now() + delay > deadline || this.closed) return { ok: false, error: `${failure.reason} (after ${attempt + 1} attempts; will retry)` };
      await sleep(delay);
    }
  }

  private scheduleResync(): void {
    const every = this.options.resyncMs ?? 10_000;
    if (every <= 0 || this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.reconcile().then(
        (report) => {
          if (report.drift > 0) this.options.logger?.warn({ sink: this.target, failed: report.failed.slice(0, 5) }, 'APISIX held another configuration; put it again');
          this.scheduleResync();
        },
        () => this.scheduleResync(),
      );
    }, every);
    this.timer.unref();
  }

  private async sync(desired: GatewayConfig): Promise<readonly ApplyFailure[]> {
    this.lastDesired = desired;
    // A version conflict means someone else wrote: read again and retry once.
    for (let round = 0; round < 2; round++) {
      if (!this.state) {
        const read = await this.readStored();
        if (!read.ok) return [{ key: '*', reason: read.error }];
        this.state = read.state;
      }
      const attempt = await this.put(desired, this.state);
      if (attempt.ok) {
        this.scheduleResync();
        return [];
      }
      if (!attempt.stale) return attempt.failed;
      this.state = undefined;
    }
    return [{ key: '*', reason: `${CONFIGS}: conf_version conflicts persist (another writer?)` }];
  }

  private async readStored(): Promise<{ ok: true; state: StandaloneState } | { ok: false; error: string }> {
    const got = await this.withRetry({ method: 'GET', path: CONFIGS, headers: { accept: 'application/json' } });
    if (!got.ok) return got;
    if (got.reply.status !== 200) return { ok: false, error: `GET ${CONFIGS}: ${got.reply.status} ${messageOf(got.reply.body)}` };
    try {
      return { ok: true, state: StandaloneState.fromStored(JSON.parse(got.reply.body), this.written) };
    } catch {
      return { ok: false, error: `GET ${CONFIGS}: the answer is not JSON` };
    }
  }

  private async put(desired: GatewayConfig, state: StandaloneState): Promise<Attempt> {
    const body = state.bodyFor(desired);
    const conflicts: ApplyFailure[] = body.conflicts.map((key) => ({
      key,
      reason: `APISIX already holds ${key} without the label managed-by=amesh-ts; it is not this agent's to replace`,
    }));
    if (body.digest === state.digest) return conflicts.length > 0 ? { ok: false, failed: conflicts, stale: false } : { ok: true, status: 0 };
    if (this.rejected?.digest === body.digest) return { ok: false, failed: this.rejected.failed, stale: false };
    const text = JSON.stringify(body.render());
    const put = await this.withRetry({ method: 'PUT', path: CONFIGS, body: text, headers: { 'x-digest': body.digest } });
    if (!put.ok) return { ok: false, failed: [{ key: '*', reason: put.error }], stale: false };
    const { status } = put.reply;
    if (status === 202) {
      this.state = body.next;
      for (const key of body.next.items.keys()) this.written.add(key);
      this.rejected = undefined;
      return conflicts.length > 0 ? { ok: false, failed: conflicts, stale: false } : { ok: true, status };
    }
    if (status === 204) {
      // APISIX already holds this content, but the agent's idea of its versions is old: read again next time.
      this.state = undefined;
      return { ok: true, status };
    }
    const message = messageOf(put.reply.body);
    if (status === 400 && VERSION_BEHIND.test(message)) return { ok: false, failed: [], stale: true };
    if (status !== 400) return { ok: false, failed: [{ key: '*', reason: `PUT ${CONFIGS}: ${status} ${message}` }], stale: false };
    const failed = [...conflicts, ...(await this.itemisedErrors(text, message))];
    this.rejected = { digest: body.digest, failed };
    return { ok: false, failed, stale: false };
  }

  /** Which objects APISIX refuses, from the validate endpoint (3.17+); the PUT's message alone otherwise. */
  private async itemisedErrors(text: string, message: string): Promise<ApplyFailure[]> {
    const whole: ApplyFailure[] = [{ key: '*', reason: `PUT ${CONFIGS} refused: 400 ${message}`, rejected: true }];
    const checked = await this.send({ method: 'POST', path: `${CONFIGS}/validate`, body: text });
    if (!checked.ok || checked.reply.status !== 400) return whole;
    try {
      const parsed = JSON.parse(checked.reply.body) as { errors?: { resource_type?: unknown; resource_id?: unknown; error?: unknown }[] };
      const items = (parsed.errors ?? []).filter((e) => typeof e.resource_type === 'string' && typeof e.error === 'string');
      if (items.length === 0) return whole;
      return items.map((e) => ({ key: `${e.resource_type as string}/${String(e.resource_id ?? '')}`, reason: `refused by APISIX: 400 ${e.error as string}`, rejected: true }));
    } catch {
      return whole;
    }
  }
}

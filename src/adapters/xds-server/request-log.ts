// What the server observed, for tests to assert on: every request (as an event), every protocol violation,
// listeners, and waitFor(). Waiters are timers, so rejectWaiters() settles them all: a test process whose
// server stopped must not be kept alive by a forgotten waitFor.
import type { ProtocolViolation, XdsRequestEvent } from './types.js';

export type RequestListener = (event: XdsRequestEvent) => void;

export interface WaitForOptions {
  /** Also match events already logged from this index of `requests` on (take `requests.length` before acting). */
  readonly since?: number;
}

interface Waiter {
  readonly predicate: (event: XdsRequestEvent) => boolean;
  readonly resolve: (event: XdsRequestEvent) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

export class RequestLog {
  readonly requests: XdsRequestEvent[] = [];
  readonly violations: ProtocolViolation[] = [];
  private readonly listeners = new Set<RequestListener>();
  private readonly waiters = new Set<Waiter>();

  /** `report` receives listener and predicate failures: they are the test's bugs, not the stream's. */
  constructor(private readonly report: (message: string) => void) {}

  record(event: XdsRequestEvent): void {
    this.requests.push(event);
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (e) {
        this.report(`request listener threw: ${messageOf(e)}`);
      }
    }
    for (const waiter of [...this.waiters]) this.offer(waiter, event);
  }

  onRequest(listener: RequestListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  waitFor(predicate: (event: XdsRequestEvent) => boolean, timeoutMs: number, options: WaitForOptions = {}): Promise<XdsRequestEvent> {
    if (options.since !== undefined) {
      const past = this.requests.slice(options.since).find((e) => safely(predicate, e, this.report));
      if (past) return Promise.resolve(past);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        const recent = this.requests.slice(-5).map(describe).join('\n  ');
        const detail = `last requests:\n  ${recent || '(none)'}`;
        reject(new Error(`xds-server: no matching request within ${timeoutMs} ms; ${detail}`));
      }, timeoutMs);
      const waiter: Waiter = { predicate, resolve, reject, timer };
      this.waiters.add(waiter);
    });
  }

  /** Reject every pending waitFor (their timers are open handles). Listeners and the log stay. */
  rejectWaiters(reason: string): void {
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error(`xds-server: ${reason} while waiting for a request`));
    }
    this.waiters.clear();
  }

  private offer(waiter: Waiter, event: XdsRequestEvent): void {
    if (!safely(waiter.predicate, event, this.report)) return;
    clearTimeout(waiter.timer);
    this.waiters.delete(waiter);
    waiter.resolve(event);
  }
}

function safely(predicate: (event: XdsRequestEvent) => boolean, event: XdsRequestEvent, report: (message: string) => void): boolean {
  try {
    return predicate(event);
  } catch (e) {
    report(`waitFor predicate threw: ${messageOf(e)}`);
    return false;
  }
}

function describe(e: XdsRequestEvent): string {
  const kind = e.nack ? `NACK(${e.nack.message})` : e.ack ? 'ACK' : e.stale ? 'stale' : 'request';
  const names = e.mode === 'sotw' ? `names=[${e.resourceNames?.join(',')}]` : `sub=[${e.subscribe?.join(',')}] unsub=[${e.unsubscribe?.join(',')}]`;
  return `#${e.stream} ${e.mode} ${e.typeUrl} nonce=${JSON.stringify(e.nonce)} ${kind} ${names}`;
}

export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

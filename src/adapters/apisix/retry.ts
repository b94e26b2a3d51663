// Retrying writes to a target that is down or overloaded: exponential backoff with jitter (so a
// fleet of agents does not retry in lockstep), bounded by a budget per apply. What is still failing
// when the budget is spent is reported; the caller's next apply picks it up again.
import type { BackoffOptions } from '../../domain/backoff.js';

export interface RetryPolicy extends BackoffOptions {
  /** Time an apply keeps retrying transient failures before reporting them. */
  readonly budgetMs: number;
}

/** A 5 s budget: the sidecar applies to its sinks one after another, so a target that is down must not hold the others for long. */
export const DEFAULT_RETRY: RetryPolicy = { initialMs: 100, maxMs: 2_000, budgetMs: 5_000 };

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Status codes that say "try again later" rather than "this body is wrong". */
export const isTransientStatus = (status: number): boolean => status >= 500 || status === 408 || status === 429;

/** Runs `tasks` with at most `limit` in flight; results in input order. */
export async function mapBounded<T, R>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

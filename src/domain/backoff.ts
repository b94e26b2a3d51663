// Exponential backoff with jitter, for everything that retries (the xDS stream, SDS, sink applies): the
// delay doubles (or grows by `multiplier`) up to a cap and is drawn uniformly from the upper half of the
// step, so a fleet of agents does not retry in lockstep and no retry comes sooner than half its step.
export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
  /** Growth per attempt; default 2. */
  readonly multiplier?: number;
  /** 0..1 random source, injectable for tests. */
  readonly random?: () => number;
}

/** The delay before retry number `attempt` (0-based): uniformly in [step/2, step], step = initial·multiplier^attempt capped. */
export function backoffDelay(options: BackoffOptions, attempt: number): number {
  const step = Math.min(options.maxMs, options.initialMs * (options.multiplier ?? 2) ** attempt);
  const random = options.random ?? Math.random;
  return Math.round(step / 2 + (step / 2) * random());
}

/** backoffDelay with the attempt counted: reset it when the other side has actually answered. */
export class Backoff {
  private attempt = 0;

  constructor(private readonly options: BackoffOptions) {}

  next(): number {
    return backoffDelay(this.options, this.attempt++);
  }

  reset(): void {
    this.attempt = 0;
  }
}

// Exponential backoff with full jitter. Reset only when the server actually sent data, so a server
// that accepts streams and kills them at once cannot cause a hot loop (grpc-node's rule).
export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly multiplier: number;
  /** 0..1 random source, injectable for tests. */
  readonly random?: () => number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000, multiplier: 2 };

export class Backoff {
  private attempt = 0;

  constructor(private readonly options: BackoffOptions = DEFAULT_BACKOFF) {}

  /** The delay before the next attempt; each call without a reset grows it. */
  next(): number {
    const ceiling = Math.min(this.options.maxMs, this.options.initialMs * this.options.multiplier ** this.attempt);
    this.attempt += 1;
    const random = this.options.random ?? Math.random;
    // Full jitter, but never less than half the initial delay.
    return Math.max(this.options.initialMs / 2, Math.round(ceiling * random()));
  }

  reset(): void {
    this.attempt = 0;
  }
}

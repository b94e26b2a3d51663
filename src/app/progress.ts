// What a long `amesh translate` is doing, on one line of the terminal: a 200 MB config dump takes tens of
// seconds, and silence looks like a hang. Runs under a second print nothing, and nothing is printed when
// stderr is not a terminal (a log or a pipe gets the result only). The work is synchronous in long
// stretches, so no timer could fire: the stages report (cheaply, often) and the line is redrawn at most
// every REDRAW_MS.

/** Silence for runs this short. */
export const PROGRESS_AFTER_MS = 1_000;
const REDRAW_MS = 100;
/** Carriage return and "erase to end of line": the line is rewritten in place. */
const REWRITE = '\r\u001b[K';

export class ProgressLine {
  private readonly started: number;
  private lastDrawn = -Infinity;
  private shown = false;

  constructor(
    private readonly write: (text: string) => void,
    private readonly now: () => number = () => performance.now(),
    private readonly afterMs = PROGRESS_AFTER_MS,
  ) {
    this.started = now();
  }

  /** `what` the run is doing now (a stage, a count). */
  readonly update = (what: string): void => {
    const at = this.now();
    if (at - this.started < this.afterMs || at - this.lastDrawn < REDRAW_MS) return;
    this.lastDrawn = at;
    this.shown = true;
    // Cut to a terminal's width: a wrapped line could not be rewritten in place.
    const line = `amesh: ${what} (${((at - this.started) / 1000).toFixed(0)} s)`;
    this.write(`${REWRITE}${line.length > 100 ? `${line.slice(0, 99)}…` : line}`);
  };

  /** Clears the line, if one was drawn, before the run's own output. */
  done(): void {
    if (this.shown) this.write(REWRITE);
    this.shown = false;
  }
}

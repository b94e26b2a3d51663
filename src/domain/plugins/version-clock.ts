// Versions of pod plugin sets: strictly increasing within a controller, and (being at least the
// wall clock in milliseconds) larger than any version an earlier controller process handed out, so
// a sidecar that outlives a controller restart never takes a new set for an old one.
export class VersionClock {
  private last = 0;

  /** `now`: wall-clock milliseconds (the app passes Date.now; tests a counter). */
  constructor(private readonly now: () => number) {}

  next(): number {
    this.last = Math.max(this.last + 1, this.now());
    return this.last;
  }

  /**
   * Versions from now on are above `floor`: a new leader's, above anything the previous leader (on
   * another machine, whose clock may run ahead of ours) can have handed out.
   */
  atLeast(floor: number): void {
    this.last = Math.max(this.last, floor);
  }
}

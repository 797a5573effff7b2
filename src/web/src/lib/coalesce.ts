/**
 * A refetch that never runs twice at once, the one coalescer of the UI (`Resource` and the log and
 * transcript feeds are built on it): a trigger while it runs asks for one more run after it,
 * however many triggers came, so a burst of live events costs at most two requests. With a
 * `delayMs`, a trigger while idle waits that long for the rest of its burst first. `run` handles
 * its own errors; a rejection is only swallowed here so the next trigger still works.
 */
export class Coalescer {
  private scheduled = false;
  private running = false;
  private again = false;
  private stopped = false;

  constructor(
    private readonly run: () => Promise<void>,
    private readonly delayMs = 0,
  ) {}

  /** Whether a run is under way (an answer it brings may predate a change made now). */
  get busy(): boolean {
    return this.running;
  }

  trigger(): void {
    if (this.stopped || this.scheduled) return;
    if (this.running) {
      this.again = true;
      return;
    }
    if (this.delayMs <= 0) return this.start();
    this.scheduled = true;
    setTimeout(() => {
      this.scheduled = false;
      this.start();
    }, this.delayMs);
  }

  /** Ignores every later trigger, and the run asked for after the current one. */
  stop(): void {
    this.stopped = true;
  }

  private start(): void {
    if (this.stopped) return;
    this.running = true;
    void this.run()
      .catch(() => undefined)
      .finally(() => {
        this.running = false;
        if (this.again) {
          this.again = false;
          // What was asked for meanwhile is the rest of the burst: no further wait.
          this.start();
        }
      });
  }
}

/** A `Coalescer` for each key on its own: a burst of updates to one job costs at most two requests for that job. */
export function coalescedByKey(run: (key: string) => Promise<void>): (key: string) => void {
  const coalescers = new Map<string, Coalescer>();
  return (key) => {
    let coalescer = coalescers.get(key);
    if (!coalescer) coalescers.set(key, (coalescer = new Coalescer(() => run(key))));
    coalescer.trigger();
  };
}

/**
 * A refetch that never runs twice at once: a trigger while it runs asks for one more run after it,
 * however many triggers came (a burst of live events costs at most two requests). `run` handles
 * its own errors; a rejection is only swallowed here so the next trigger still works.
 */
export function coalesced(run: () => Promise<void>): () => void {
  let running = false;
  let again = false;
  const trigger = (): void => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    void run()
      .catch(() => undefined)
      .finally(() => {
        running = false;
        if (again) {
          again = false;
          trigger();
        }
      });
  };
  return trigger;
}

/** `coalesced` for each key on its own: a burst of updates to one job costs at most two requests for that job. */
export function coalescedByKey(run: (key: string) => Promise<void>): (key: string) => void {
  const triggers = new Map<string, () => void>();
  return (key) => {
    let trigger = triggers.get(key);
    if (!trigger) triggers.set(key, (trigger = coalesced(() => run(key))));
    trigger();
  };
}

/**
 * Runs `task` one at a time, coalescing calls: a call while a run is under way is answered by
 * that run's promise and schedules exactly one more run after it, so whoever calls gets a result
 * no older than the call, and a burst of calls costs at most two runs. `stopped` ends the re-runs.
 */
export function coalesced(task: () => Promise<void>, stopped: () => boolean = () => false): () => Promise<void> {
  let running: Promise<void> | undefined;
  let again = false;
  return () => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await task();
        } while (again && !stopped());
      } finally {
        running = undefined;
      }
    })();
    return running;
  };
}

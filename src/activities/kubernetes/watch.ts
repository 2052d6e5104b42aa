/**
 * Waiting on the cluster by watching, not polling: several watches feed one state, and a judge
 * decides after every change whether the wait is over. A watch that the server closes resumes
 * from the last resourceVersion; one whose resourceVersion expired (410 Gone) re-lists first.
 */
import * as k8s from '@kubernetes/client-node';

/** One event of a watch stream. */
export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: k8s.KubernetesObject;
}

/** One watched collection. */
export interface WatchSpec {
  /** API path of the collection, e.g. `/api/v1/namespaces/ns/pods` */
  path: string;
  /** label or field selector */
  query: Record<string, string>;
  /** resourceVersion of the list the state was read from */
  resourceVersion?: string;
  /** reads the collection again into the state (after 410 Gone or a broken stream); returns its resourceVersion */
  relist: () => Promise<string | undefined>;
  /** folds one event into the state; may throw to end the wait with that error */
  onEvent: (event: WatchEvent) => void;
}

export interface WatchUntilOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** the judge also runs this often without events (so progress keeps being reported) */
  tickMs: number;
  /** the error to end with when `timeoutMs` passes */
  onTimeout: () => Error;
  /** consecutive failed (re)connections before giving up with the last error; default 5 */
  maxFailures?: number;
}

const WATCH_SECONDS = 290;

/** A watch that could not be (re)established: which collection, and the last error (its `statusCode` when the server refused). */
export class WatchError extends Error {
  readonly statusCode?: number;
  constructor(
    readonly path: string,
    readonly lastError: unknown,
  ) {
    super(`watch ${path}: ${(lastError as Error | undefined)?.message ?? String(lastError)}`);
    this.statusCode = (lastError as { statusCode?: number } | undefined)?.statusCode;
  }
}

/**
 * Runs the watches until `judge` returns a value (resolves with it) or throws (rejects with it),
 * the timeout passes (rejects with `onTimeout()`), or the signal aborts (rejects with its reason).
 * When the API server cannot be reached `maxFailures` times in a row it rejects with the last
 * error, which the caller maps (a plain, retryable error for network trouble; 403 has `statusCode`).
 */
export function watchUntil<T>(
  kubeConfig: k8s.KubeConfig,
  specs: WatchSpec[],
  judge: () => Promise<T | undefined>,
  options: WatchUntilOptions,
): Promise<T> {
  const maxFailures = options.maxFailures ?? 5;
  const watch = new k8s.Watch(kubeConfig);
  return new Promise<T>((resolve, reject) => {
    let finished = false;
    const controllers = new Set<AbortController>();
    let queue: Promise<void> = Promise.resolve();

    const finish = (error: unknown, value?: T): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timeout);
      clearInterval(tick);
      options.signal?.removeEventListener('abort', onAbort);
      for (const c of controllers) c.abort();
      if (error !== undefined) reject(error);
      else resolve(value as T);
    };
    const rejudge = (): void => {
      queue = queue.then(async () => {
        if (finished) return;
        try {
          const value = await judge();
          if (value !== undefined) finish(undefined, value);
        } catch (error) {
          finish(error);
        }
      });
    };
    const onAbort = (): void => finish(options.signal?.reason ?? new Error('aborted'));

    const run = (spec: WatchSpec, resourceVersion: string | undefined, failures: number): void => {
      if (finished) return;
      let rv = resourceVersion;
      let expired = false;
      let received = false;
      const restart = (error: unknown): void => {
        if (finished) return;
        const failed = error !== null && error !== undefined && !received;
        const count = failed ? failures + 1 : 0;
        const status = (error as { statusCode?: number } | null)?.statusCode;
        if (count >= maxFailures || status === 401 || status === 403) {
          finish(new WatchError(spec.path, error));
          return;
        }
        const delay = failed ? Math.min(200 * 2 ** count, 3000) : 0;
        setTimeout(() => {
          if (finished) return;
          if (!expired && !failed) {
            run(spec, rv, count);
            return;
          }
          spec
            .relist()
            .then((fresh) => {
              rejudge();
              run(spec, fresh, count);
            })
            .catch((relistError: unknown) => restart(relistError));
        }, delay);
      };
      const query = { ...spec.query, resourceVersion: rv, allowWatchBookmarks: true, timeoutSeconds: WATCH_SECONDS };
      watch
        .watch(
          spec.path,
          query,
          (type: string, object: k8s.KubernetesObject) => {
            if (finished) return;
            received = true;
            if (type === 'ERROR') {
              expired = true; // a Status, usually 410 Gone: the stream ends and we re-list
              return;
            }
            rv = object.metadata?.resourceVersion ?? rv;
            if (type === 'BOOKMARK') return;
            try {
              spec.onEvent({ type: type as WatchEvent['type'], object });
            } catch (error) {
              finish(error);
              return;
            }
            rejudge();
          },
          (error: unknown) => {
            if (finished) return;
            if ((error as { name?: string } | null)?.name === 'AbortError') return;
            restart(error);
          },
        )
        .then((controller) => {
          if (finished) controller.abort();
          else controllers.add(controller);
        })
        .catch((error: unknown) => restart(error));
    };

    const timeout = setTimeout(() => finish(options.onTimeout()), options.timeoutMs);
    const tick = setInterval(rejudge, options.tickMs);
    if (options.signal?.aborted) {
      onAbort();
      return;
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });
    for (const spec of specs) run(spec, spec.resourceVersion, 0);
  });
}

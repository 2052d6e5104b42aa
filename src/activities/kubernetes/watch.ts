/**
 * Waiting on the cluster by watching, not polling: one informer per collection (client-node's
 * ListWatch, what `makeInformer` builds: it lists, watches from the list's resourceVersion,
 * resumes when the server closes the stream and re-lists after 410 Gone) feeds one state, and a
 * judge decides after every change whether the wait is over. What the informer leaves to its user
 * is done here: restarting it after an error, with backoff, and giving up after a run of failures.
 */
import * as k8s from '@kubernetes/client-node';

/** One change the informer reports. */
export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: k8s.KubernetesObject;
}

/** One watched collection. */
export interface WatchSpec {
  /** API path of the collection, e.g. `/api/v1/namespaces/ns/pods` */
  path: string;
  /** label selector of the objects to watch */
  labelSelector?: string;
  /** field selector of the objects to watch, e.g. `metadata.name=x` */
  fieldSelector?: string;
  /** lists the collection with the same selector; the informer starts from it and re-lists with it */
  list: () => Promise<k8s.KubernetesListObject<k8s.KubernetesObject>>;
  /** folds one change into the state; may throw to end the wait with that error */
  onEvent: (event: WatchEvent) => void;
}

export interface WatchUntilOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** the judge also runs this often without events (so progress keeps being reported) */
  tickMs: number;
  /** the error to end with when `timeoutMs` passes */
  onTimeout: () => Error;
  /** failed lists or watches in a row, per collection, before giving up with the last error; default 5 */
  maxFailures?: number;
  /** first delay before restarting after a failure, doubled each time up to 3 s; default 200 ms */
  retryDelayMs?: number;
}

const MAX_RETRY_DELAY_MS = 3000;

/**
 * A Watch whose requests all end when the wait ends. ListWatch.stop() aborts only the request it
 * holds, and one it is still opening (after a list or a reconnect) would outlive the wait and keep
 * the process alive; `makeInformer` takes no Watch, hence ListWatch built directly.
 */
class EndingWatch extends k8s.Watch {
  private ended = false;
  private readonly requests = new Set<AbortController>();

  override async watch(...args: Parameters<k8s.Watch['watch']>): Promise<AbortController> {
    if (this.ended) {
      const idle = new AbortController();
      idle.abort();
      return idle;
    }
    const controller = await super.watch(...args);
    if (this.ended) controller.abort();
    else this.requests.add(controller);
    controller.signal.addEventListener('abort', () => this.requests.delete(controller), { once: true });
    return controller;
  }

  end(): void {
    this.ended = true;
    for (const controller of this.requests) controller.abort();
  }
}

/** HTTP status of a failed list (ApiException `code`) or watch (Watch's `statusCode`). */
function httpStatus(error: unknown): number | undefined {
  const { code, statusCode } = (error ?? {}) as { code?: unknown; statusCode?: unknown };
  if (typeof code === 'number') return code;
  return typeof statusCode === 'number' ? statusCode : undefined;
}

/** A watch that could not be (re)established: which collection, and the last error (its `statusCode` when the server refused). */
export class WatchError extends Error {
  readonly statusCode?: number;
  constructor(
    readonly path: string,
    readonly lastError: unknown,
  ) {
    super(`watch ${path}: ${(lastError as Error | undefined)?.message ?? String(lastError)}`);
    this.statusCode = httpStatus(lastError);
  }
}

/**
 * Runs the informers until `judge` returns a value (resolves with it) or throws (rejects with it),
 * the timeout passes (rejects with `onTimeout()`), or the signal aborts (rejects with its reason).
 * A failed list or watch is retried with backoff; `maxFailures` in a row for one collection (any
 * change received resets the count), or one 401/403, reject with a WatchError carrying the last
 * error, which the caller maps (a plain, retryable error for network trouble; 403 has `statusCode`).
 */
export function watchUntil<T>(
  kubeConfig: k8s.KubeConfig,
  specs: WatchSpec[],
  judge: () => Promise<T | undefined>,
  options: WatchUntilOptions,
): Promise<T> {
  const maxFailures = options.maxFailures ?? 5;
  const retryDelayMs = options.retryDelayMs ?? 200;
  return new Promise<T>((resolve, reject) => {
    let finished = false;
    const informers: Array<k8s.Informer<k8s.KubernetesObject>> = [];
    const watch = new EndingWatch(kubeConfig);
    const retries = new Set<NodeJS.Timeout>();
    let queue: Promise<void> = Promise.resolve();

    const finish = (error: unknown, value?: T): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timeout);
      clearInterval(tick);
      for (const retry of retries) clearTimeout(retry);
      options.signal?.removeEventListener('abort', onAbort);
      for (const informer of informers) void informer.stop();
      watch.end();
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

    const follow = (spec: WatchSpec): k8s.Informer<k8s.KubernetesObject> => {
      let failures = 0;
      const informer = new k8s.ListWatch(
        spec.path,
        watch,
        async () => {
          const list = await spec.list();
          failures = 0;
          return list;
        },
        false,
        spec.labelSelector,
        spec.fieldSelector,
      );
      const fold =
        (type: WatchEvent['type']) =>
        (object: k8s.KubernetesObject): void => {
          if (finished) return;
          failures = 0;
          try {
            spec.onEvent({ type, object });
          } catch (error) {
            finish(error);
            return;
          }
          rejudge();
        };
      informer.on('add', fold('ADDED'));
      informer.on('update', fold('MODIFIED'));
      informer.on('delete', fold('DELETED'));
      // The informer stops itself after a failed list or watch (stopping it makes the aborted
      // request report one too); every failure counts, whether the list or the watch failed.
      const onError = (error: unknown): void => {
        if (finished) return;
        failures += 1;
        const status = httpStatus(error);
        if (failures >= maxFailures || status === 401 || status === 403) {
          finish(new WatchError(spec.path, error));
          return;
        }
        const retry = setTimeout(
          () => {
            retries.delete(retry);
            if (!finished) informer.start().catch(onError);
          },
          Math.min(retryDelayMs * 2 ** failures, MAX_RETRY_DELAY_MS),
        );
        retries.add(retry);
      };
      informer.on('error', onError);
      informer.start().catch(onError);
      return informer;
    };

    const timeout = setTimeout(() => finish(options.onTimeout()), options.timeoutMs);
    const tick = setInterval(rejudge, options.tickMs);
    if (options.signal?.aborted) {
      onAbort();
      return;
    }
    options.signal?.addEventListener('abort', onAbort, { once: true });
    for (const spec of specs) informers.push(follow(spec));
  });
}

/**
 * fetch() with a deadline that keeps the process alive while it waits. AbortSignal.timeout()'s
 * timer is unref'd: a probe against a socket that accepted but never answers (a container whose
 * published port is up before its server) can then leave a process with nothing else to do
 * waiting forever without exiting or failing. The timer here is an ordinary one.
 */

/**
 * fetch(url, init) and the whole body as text, aborted after `timeoutMs` (a TimeoutError) or when
 * `signal` aborts. Throws what fetch throws.
 */
export async function fetchText(url: string, timeoutMs: number, init: RequestInit = {}, signal?: AbortSignal): Promise<{ response: Response; text: string }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException(`timed out after ${timeoutMs} ms`, 'TimeoutError')), timeoutMs);
  const onAbort = (): void => controller.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort();
  try {
    const response = await fetch(url, { ...init, signal: controller.signal });
    return { response, text: await response.text() };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

/** `connection refused`, `timed out after 5s`, …: a fetch failure as a person reads it. */
export function describeNetworkError(error: unknown, timeoutMs?: number): string {
  const err = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError' || err.name === 'AbortError') {
    return timeoutMs === undefined ? 'timed out' : `timed out after ${timeoutMs >= 1000 ? `${timeoutMs / 1000}s` : `${timeoutMs}ms`}`;
  }
  switch (err.cause?.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return 'connection reset';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'EHOSTUNREACH':
      return 'host unreachable';
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
      return 'timed out';
    default:
      return err.cause?.message ?? err.message ?? String(error);
  }
}

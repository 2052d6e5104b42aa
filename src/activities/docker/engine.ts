/**
 * Reading the Docker engine's answers: the HTTP status of a failed call, and its JSON-lines
 * progress streams (builds, pushes, pulls, events) through dockerode's own reader.
 */
import type Docker from 'dockerode';

/** The HTTP status of a failed engine call (dockerode puts it on the error), if any. */
export function statusOf(error: unknown): number | undefined {
  return (error as { statusCode?: number } | undefined)?.statusCode;
}

/** One message of an engine progress stream. */
export type EngineMessage = Record<string, unknown>;

/**
 * Every message of a JSON-lines engine stream, read with `modem.followProgress`, each also passed
 * to `onMessage` as it arrives. Rejects with the stream's transport error. When `signal` aborts,
 * the stream is destroyed and the promise rejects with the signal's reason.
 * followProgress JSON.parses each line itself: fine, because only a 2xx engine answer (always
 * JSON lines) is ever handed to it; error answers are rejected by the modem before.
 */
export function followStream(docker: Docker, stream: NodeJS.ReadableStream, onMessage?: (message: EngineMessage) => void, signal?: AbortSignal): Promise<EngineMessage[]> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      (stream as { destroy?: () => void }).destroy?.();
      reject(signal?.reason);
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    docker.modem.followProgress(
      stream,
      (error: Error | null, output: EngineMessage[]) => {
        signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve(output);
      },
      onMessage,
    );
  });
}

/**
 * Reads an upstream answer for comparison without taking it from anyone: listens to the chunks
 * as they pass (the proxy still pipes them to the caller at its own pace), keeps at most
 * `limit` bytes, and decodes a compressed body.
 */
import type http from 'node:http';
import zlib from 'node:zlib';
import type { ShadowAnswer } from './shadow-compare';

/** Bytes of an answer (and of a request body for samples) kept for comparison. */
export const SHADOW_BODY_LIMIT = 64 << 10;

/**
 * Calls `done` once with the answer of `res`: complete, over `limit`, or failed when the upstream
 * broke off before its end. Adds a 'data' listener; call when the response arrives.
 */
export function captureAnswer(res: http.IncomingMessage, done: (answer: ShadowAnswer) => void, limit = SHADOW_BODY_LIMIT): void {
  const status = res.statusCode ?? 0;
  const chunks: Buffer[] = [];
  let bytes = 0;
  let called = false;
  const once = (answer: ShadowAnswer): void => {
    if (called) return;
    called = true;
    done(answer);
  };
  res.on('data', (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes <= limit) chunks.push(chunk);
  });
  res.once('end', () => {
    if (bytes > limit) return once({ kind: 'too_large', status, bytes });
    const decoded = decodeBody(Buffer.concat(chunks), res.headers['content-encoding'], limit);
    once(decoded === 'too_large' ? { kind: 'too_large', status, bytes: limit + 1 } : { kind: 'answered', status, body: decoded });
  });
  res.once('close', () => once({ kind: 'failed', reason: 'error' }));
}

/** The body without its content encoding; undecodable bodies are kept as they are (and then are not JSON). */
function decodeBody(body: Buffer, encoding: string | undefined, limit: number): Buffer | 'too_large' {
  const options = { maxOutputLength: limit };
  try {
    switch (encoding?.trim().toLowerCase()) {
      case 'gzip':
      case 'x-gzip':
        return zlib.gunzipSync(body, options);
      case 'deflate':
        return zlib.inflateSync(body, options);
      case 'br':
        return zlib.brotliDecompressSync(body, options);
      default:
        return body;
    }
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' ? 'too_large' : body;
  }
}

/** Collects up to `limit` bytes of a request body as it streams; `body()` is what was kept, `bytes` all. */
export function bodyCollector(limit = SHADOW_BODY_LIMIT): { add(chunk: Buffer): void; body(): Buffer; bytes(): number } {
  const chunks: Buffer[] = [];
  let bytes = 0;
  return {
    add(chunk) {
      bytes += chunk.length;
      if (bytes <= limit) chunks.push(chunk);
    },
    body: () => Buffer.concat(chunks),
    bytes: () => bytes,
  };
}

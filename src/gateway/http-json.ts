/** The little HTTP both of the gateway's servers need: JSON answers, header values, bounded JSON bodies. */
import type http from 'node:http';

const MAX_BODY = 1 << 20;
/** Beyond this much of an oversized body the connection is dropped instead of drained. */
const MAX_DRAINED = 64 << 20;

/** Answers `body` as JSON with `status`. */
export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The first value of a header, trimmed; undefined when absent or empty. */
export function headerValue(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first === '' ? undefined : first.trim();
}

/** Reads a JSON body of at most 1 MiB; never throws, says what is wrong instead. */
export async function readJson(req: http.IncomingMessage): Promise<{ ok: true; value: unknown } | { ok: false; error: string }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    // Leaving the loop would destroy the socket under a client still sending, which then sees a
    // reset instead of the answer: read on (discarding) up to a bound, then answer.
    if (size > MAX_BODY && size <= MAX_DRAINED) continue;
    if (size > MAX_BODY) break;
    chunks.push(chunk);
  }
  if (size > MAX_BODY) return { ok: false, error: `body larger than ${MAX_BODY / (1 << 20)} MiB` };
  try {
    return { ok: true, value: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
  } catch (error) {
    return { ok: false, error: `not JSON: ${(error as Error).message}` };
  }
}

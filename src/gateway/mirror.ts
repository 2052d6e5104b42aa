/**
 * Request mirroring (Gateway API's RequestMirror): a copy of a request the proxy forwards is sent
 * to one more version, and its answer is read and discarded. The caller's path never waits for
 * the copy: its body is collected as the proxy streams it, and the copy is sent once the body
 * has ended. Copies are bounded: beyond `maxInFlight` copies in flight, or a body larger than
 * `maxBodyBytes`, the copy is dropped and counted, never queued. When the caller of copy() asks
 * for the outcome (to compare answers, shadow-agreement.ts), the copy's answer is read, up to
 * SHADOW_BODY_LIMIT, instead of discarded.
 */
import http from 'node:http';
import { MIRROR_OF_HEADER } from '../naming/headers';
import type { GatewayMetrics } from './metrics';
import { captureAnswer } from './shadow-capture';
import type { ShadowAnswer } from './shadow-compare';
import { upstreamAgent } from './upstream-agent';

export interface MirrorOptions {
  metrics: GatewayMetrics;
  /** how long a copy may wait for data from the mirror version */
  upstreamTimeoutMs: number;
  /** copies in flight at once, over every model; more are dropped */
  maxInFlight?: number;
  /** larger request bodies are not copied */
  maxBodyBytes?: number;
}

export interface MirrorTarget {
  model: string;
  /** the version that gets the copy */
  version: string;
  /** base URL of one of its replicas, or undefined when it has none */
  url: string | undefined;
  /** the version answering the caller, sent in X-Tandem-Mirror-Of */
  servedBy: string;
  /** the path forwarded, without the model prefix */
  path: string;
}

/** What became of a copy: not sent (dropped, or the caller went away), or sent with the request body and the answer. */
export type CopyOutcome = { sent: false } | { sent: true; body: Buffer; answer: ShadowAnswer };

export interface RequestMirror {
  /**
   * Copies `req` to the target once its body has ended; call after the proxy started reading it.
   * `onOutcome`, when given, is called once with what became of the copy, its answer read.
   */
  copy(req: http.IncomingMessage, target: MirrorTarget, onOutcome?: (outcome: CopyOutcome) => void): void;
  /** Copies in flight now. */
  inFlight(): number;
  close(): void;
}

/** Headers that belong to one connection, not to the request (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer']);

export function createRequestMirror(options: MirrorOptions): RequestMirror {
  const { metrics, upstreamTimeoutMs } = options;
  const maxInFlight = options.maxInFlight ?? 64;
  const maxBodyBytes = options.maxBodyBytes ?? 1 << 20;
  const agent = upstreamAgent(maxInFlight);
  let inFlight = 0;

  const copy = (req: http.IncomingMessage, target: MirrorTarget, onOutcome?: (outcome: CopyOutcome) => void): void => {
    const count = (result: string) => metrics.mirrored.inc({ model: target.model, version: target.version, result });
    if (!target.url || inFlight >= maxInFlight) {
      count('dropped');
      return onOutcome?.({ sent: false });
    }
    inFlight += 1;
    let done = false;
    const finish = (result: string | undefined, outcome: CopyOutcome = { sent: false }) => {
      if (done) return;
      done = true;
      inFlight -= 1;
      if (result) count(result);
      onOutcome?.(outcome);
    };
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBodyBytes) chunks.push(chunk);
    });
    // A caller that went away before its body ended sent no complete request to copy.
    req.once('close', () => {
      if (!req.complete) finish(undefined);
    });
    req.once('end', () => {
      if (done) return;
      if (size > maxBodyBytes) return finish('dropped');
      send(target, req, Buffer.concat(chunks), finish, !!onOutcome);
    });
  };

  const send = (
    target: MirrorTarget,
    req: http.IncomingMessage,
    body: Buffer,
    finish: (result: string, outcome?: CopyOutcome) => void,
    readAnswer: boolean,
  ): void => {
    const failed = (reason: 'error' | 'timeout'): CopyOutcome => ({ sent: true, body, answer: { kind: 'failed', reason } });
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(name) && value !== undefined) headers[name] = value;
    headers['content-length'] = String(body.length);
    headers[MIRROR_OF_HEADER.toLowerCase()] = target.servedBy;
    const request = http.request(new URL(target.path, target.url), { method: req.method, headers, agent }, (res) => {
      if (readAnswer) {
        captureAnswer(res, (answer) => finish(answer.kind === 'failed' ? 'error' : String(res.statusCode), { sent: true, body, answer }));
        return;
      }
      res.resume();
      res.once('end', () => finish(String(res.statusCode)));
      res.once('error', () => finish('error'));
    });
    request.setTimeout(upstreamTimeoutMs, () => {
      finish('timeout', failed('timeout'));
      request.destroy();
    });
    request.once('error', () => finish('error', failed('error')));
    request.end(body);
  };

  return {
    copy,
    inFlight: () => inFlight,
    close: () => agent.destroy(),
  };
}

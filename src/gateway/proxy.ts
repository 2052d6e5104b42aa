/**
 * The gateway's traffic port: one reverse proxy in front of every model.
 *
 * Routing is by path prefix: `/<model>/<rest>` goes to `/<rest>` of a replica of one of the
 * model's versions. Unpinned requests pick a version by weight (weighted random among versions
 * with weight > 0); a request with `X-Model-Version: <v>` goes to `<v>` when the model pins it,
 * else gets 404. Replicas of a version are used round-robin. Every answer carries
 * `X-Served-By-Version`. Proxy errors answer 502 JSON; an upstream that sends nothing for
 * `upstreamTimeoutMs` is cut off: 504 JSON (or a closed connection once its answer has begun),
 * counted as an error of kind "timeout". The admin API is not served here: /_tandem/... is 404.
 * When the model has a mirror version, a copy of `percent` of the unpinned requests goes to it
 * too (mirror.ts); its answers are counted apart, and discarded unless the mirror has `compare`:
 * then the caller's answer is read as it streams past (never delayed) and the copy's answer is
 * read too, and the pair is judged and recorded in the agreement book (shadow-agreement.ts).
 */
import http from 'node:http';
import httpProxy from 'http-proxy';
import { ADMIN_PREFIX } from '../naming/gateway';
import { SERVED_BY_HEADER, VERSION_HEADER } from '../naming/headers';
import { isModelName } from '../naming/model';
import { headerValue, sendJson } from './http-json';
import type { GatewayMetrics } from './metrics';
import { createRequestMirror } from './mirror';
import type { AgreementBook, ShadowPair } from './shadow-agreement';
import { captureAnswer } from './shadow-capture';
import { upstreamAgent } from './upstream-agent';
import { pickWeighted, splitModelPath } from './routes';
import type { RoutingTable } from './table';

export interface ModelProxyOptions {
  table: RoutingTable;
  metrics: GatewayMetrics;
  /** how long a proxied request may wait for data from its upstream */
  upstreamTimeoutMs: number;
  /** the weighted pick's random value in [0, 1); default Math.random */
  random?: () => number;
  /** copies of requests in flight to mirror versions at once; more are dropped (default 64) */
  maxMirrorsInFlight?: number;
  /** where mirrored pairs are judged and recorded when the mirror has `compare` */
  agreement: AgreementBook;
}

export interface ModelProxy {
  /** Serves one request of the traffic port. Rejects only on a bug; the server answers 500 then. */
  handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void>;
  /** Closes upstream connections; call after the server stopped listening. */
  close(): void;
}

/** The proxy over `table`, counting every answer of a routed model in `metrics`. */
export function createModelProxy(options: ModelProxyOptions): ModelProxy {
  const { table, metrics, upstreamTimeoutMs, agreement } = options;
  const random = options.random ?? Math.random;
  const agent = upstreamAgent(256);
  const proxy = httpProxy.createProxyServer({ xfwd: true, agent });
  const mirror = createRequestMirror({ metrics, upstreamTimeoutMs, maxInFlight: options.maxMirrorsInFlight });
  const roundRobin = new Map<string, number>();
  /** The next replica of a version, round-robin. */
  const nextReplica = (model: string, version: string): string | undefined => {
    const urls = table.endpointsOf(model, version);
    if (urls.length === 0) return undefined;
    const key = `${model}\u0000${version}`;
    const turn = roundRobin.get(key) ?? 0;
    roundRobin.set(key, turn + 1);
    return urls[turn % urls.length];
  };
  // Requests whose mirrored copy is compared: the caller's answer is read beside the pipe to the caller.
  const pairs = new WeakMap<http.IncomingMessage, ShadowPair>();
  proxy.on('proxyRes', (proxyRes, req) => {
    const pair = pairs.get(req);
    if (pair && !pair.abandoned()) captureAnswer(proxyRes, (answer) => pair.stable(answer));
  });
  // Answers whose upstream went silent for upstreamTimeoutMs: 504 (or cut off), kind "timeout".
  const timedOut = new WeakSet<http.ServerResponse>();
  proxy.on('proxyReq', (proxyReq, _req, res) => {
    proxyReq.setTimeout(upstreamTimeoutMs, () => {
      timedOut.add(res as http.ServerResponse);
      proxyReq.destroy(new UpstreamTimeoutError(upstreamTimeoutMs));
      if (res.headersSent) res.destroy();
    });
  });

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const started = process.hrtime.bigint();
    const split = splitModelPath(req.url ?? '/');
    const model = split && isModelName(split.model) ? split.model : undefined;
    const routes = model ? table.current().models[model] : undefined;
    let version = '';
    let proxyFailed = false;
    res.once('close', () => {
      if (!model || !routes) return;
      const timeout = timedOut.has(res);
      const code = timeout ? 504 : res.writableFinished ? res.statusCode : 499; // 499: the client went away first
      metrics.requests.inc({ model, version, code: String(code) });
      if (version) metrics.duration.observe({ model, version }, Number(process.hrtime.bigint() - started) / 1e9);
      if (code >= 500) metrics.errors.inc({ model, version, kind: timeout ? 'timeout' : proxyFailed ? 'proxy' : 'upstream_5xx' });
    });
    if (req.url?.startsWith(ADMIN_PREFIX)) {
      return sendJson(res, 404, { error: `the admin API (${ADMIN_PREFIX}...) is not served on the traffic port; use the gateway's admin port` });
    }
    if (!split || !model || !routes) {
      const what = split ? `model "${split.model}"` : 'this path';
      return sendJson(res, 404, { error: `the gateway has no routes for ${what}; requests go to /<model>/<path>` });
    }
    const pin = headerValue(req.headers[VERSION_HEADER.toLowerCase()]);
    if (pin !== undefined) {
      if (!routes.pinned.includes(pin)) {
        return sendJson(res, 404, {
          error: `${model} has no pinned version "${pin}" (X-Model-Version); pinned versions: ${routes.pinned.join(', ') || 'none'}`,
        });
      }
      version = pin;
    } else {
      version = pickWeighted(routes.weights, random()) ?? '';
      if (!version) return sendJson(res, 503, { error: `${model} has no version with traffic weight` });
    }
    // No engine listing here: events, the periodic refresh and every routing change keep the table current.
    const target = nextReplica(model, version);
    if (!target) return sendJson(res, 503, { error: `${model} ${version} has no running replica` });
    res.setHeader(SERVED_BY_HEADER, version);
    req.url = split.path;
    const copy = pin === undefined && routes.mirror?.version !== version ? routes.mirror : undefined;
    const mirrored = copy && random() * 100 < copy.percent ? copy.version : undefined;
    const compare = mirrored ? copy?.compare : undefined;
    const pair = compare ? agreement.pair(model, mirrored!, compare, { method: req.method ?? 'GET', path: split.path }) : undefined;
    if (pair) {
      pairs.set(req, pair);
      // No answer from upstream (proxy error, timeout, caller gone): the stable side failed; a no-op once it answered.
      res.once('close', () => pair.stable({ kind: 'failed', reason: timedOut.has(res) ? 'timeout' : 'error' }));
    }
    proxy.web(req, res, { target }, (error) => {
      proxyFailed = true;
      if (res.headersSent || res.destroyed) {
        res.destroy();
        return;
      }
      if (error instanceof UpstreamTimeoutError) return sendJson(res, 504, { error: `${model} ${version} at ${target} ${error.message}` });
      sendJson(res, 502, { error: `${model} ${version} at ${target} did not answer: ${(error as Error).message}` });
    });
    // After proxy.web: the proxy is reading the body by now, and the copy reads the same chunks.
    if (mirrored) {
      mirror.copy(req, { model, version: mirrored, url: nextReplica(model, mirrored), servedBy: version, path: split.path }, pair && ((outcome) => pair.candidate(outcome)));
    }
  };

  return {
    handle,
    close() {
      proxy.close();
      agent.destroy();
      mirror.close();
    },
  };
}

class UpstreamTimeoutError extends Error {
  constructor(ms: number) {
    super(`sent nothing for ${ms} ms (upstream timeout)`);
  }
}

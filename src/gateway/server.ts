/**
 * `tandem gateway`: one reverse proxy in front of every model on a single host.
 *
 * Routing is by path prefix: `/<model>/<rest>` goes to `/<rest>` of a replica of one of the
 * model's versions. Unpinned requests pick a version by weight (weighted random among versions
 * with weight > 0); a request with `X-Model-Version: <v>` goes to `<v>` when the model pins it,
 * else gets 404. Replicas of a version are used round-robin. Every answer carries
 * `X-Served-By-Version`. Proxy errors answer 502 JSON; an upstream that sends nothing for
 * `upstreamTimeoutMs` is cut off: 504 JSON (or a closed connection once its answer has begun),
 * counted as an error of kind "timeout".
 *
 * The routing table (weights, pins, stable) is persisted to `<stateDir>/gateway-state.json` and
 * swapped whole on every change, so in-flight requests finish on the replica they were sent to.
 * Replica endpoints come from the Docker engine's labels (discovery.ts), or from the admin API
 * for versions that do not run on the engine.
 *
 * Admin API, on its own port and address only (the proxy port answers 404 to /_tandem/...).
 * Every /_tandem/ route but healthz needs `Authorization: Bearer <adminToken>` (401 JSON without):
 *   GET|PUT|DELETE /_tandem/models/<model>/traffic        TrafficState {weights, pinned, stable}
 *   PUT|DELETE     /_tandem/models/<model>/versions/<version>/endpoints   {"urls": [...]}
 *   GET            /_tandem/models                         everything the gateway routes
 *   GET            /_tandem/healthz                        no token
 *   GET            /_tandem/metrics.json                   the metrics below as prom-client's JSON (for the gateway analyzer)
 *   GET            /metrics                                Prometheus text, no token (for scrapers;
 *                                                          keep the admin address private)
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type Docker from 'dockerode';
import httpProxy from 'http-proxy';
import type { TrafficState } from '../activities/types';
import { ADMIN_HEALTHZ, ADMIN_METRICS_JSON, ADMIN_PREFIX, GatewayDefaults } from '../naming/gateway';
import { durationMs } from '../shared/duration';
import { bearerChecker } from './admin-token';
import { DockerDiscovery } from './discovery';
import { createMetrics } from './metrics';
import { SERVED_BY_HEADER, VERSION_HEADER } from '../naming/headers';
import { isModelName } from '../naming/model';
import { parseTrafficState, pickWeighted, safeDecode, splitModelPath } from './routes';
import { type GatewayState, loadState, saveState } from './state-file';

export interface GatewayOptions {
  /** proxy port; 0 picks a free one */
  port: number;
  /** admin API and /metrics port; 0 picks a free one */
  adminPort: number;
  /** address the proxy listens on; default 127.0.0.1 */
  host?: string;
  /** address the admin API listens on; default 127.0.0.1 */
  adminHost?: string;
  /** bearer token every admin route but healthz requires (see admin-token.ts) */
  adminToken: string;
  /** how long a proxied request may wait for data from its upstream; default 60 s */
  upstreamTimeoutMs?: number;
  /** folder of gateway-state.json */
  stateDir: string;
  /** engine to discover replica endpoints from; without one only admin-given endpoints are used */
  docker?: Docker;
  /** periodic discovery refresh; default 5000 ms */
  refreshIntervalMs?: number;
  log?: (message: string) => void;
}

export interface Gateway {
  /** Stops listening and discovery; waits up to 2 s for in-flight requests. */
  close(): Promise<void>;
  /** `http://host:port` of the proxy */
  url: string;
  /** `http://host:port` of the admin API */
  adminUrl: string;
}

const MAX_BODY = 1 << 20;
/** Beyond this much of an oversized body the connection is dropped instead of drained. */
const MAX_DRAINED = 64 << 20;

/**
 * Starts the gateway in this process: reads the state file, reads endpoints from the engine,
 * then listens. Throws when the state file is unreadable or a port is taken.
 */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const log = options.log ?? ((message: string) => console.error(message));
  const host = options.host ?? GatewayDefaults.host;
  const adminHost = options.adminHost ?? GatewayDefaults.adminHost;
  if (!options.adminToken) throw new Error('the gateway needs an admin token');
  const checkBearer = bearerChecker(options.adminToken);
  const upstreamTimeoutMs = options.upstreamTimeoutMs ?? durationMs(GatewayDefaults.upstreamTimeout);
  let state: GatewayState = await loadState(options.stateDir);
  const discovery = options.docker ? new DockerDiscovery(options.docker, { refreshIntervalMs: options.refreshIntervalMs, log }) : undefined;
  if (discovery) await discovery.start();

  const metrics = createMetrics();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const proxy = httpProxy.createProxyServer({ xfwd: true, agent });
  const roundRobin = new Map<string, number>();
  // Answers whose upstream went silent for upstreamTimeoutMs: 504 (or cut off), kind "timeout".
  const timedOut = new WeakSet<http.ServerResponse>();
  proxy.on('proxyReq', (proxyReq, _req, res) => {
    proxyReq.setTimeout(upstreamTimeoutMs, () => {
      timedOut.add(res as http.ServerResponse);
      proxyReq.destroy(new UpstreamTimeoutError(upstreamTimeoutMs));
      if (res.headersSent) res.destroy();
    });
  });

  const endpointsOf = (model: string, version: string): string[] =>
    state.staticEndpoints[model]?.[version] ?? discovery?.endpoints(model, version) ?? [];

  const gaugedVersions = new Map<string, string[]>();
  const setWeightGauges = (model: string, traffic: TrafficState | undefined): void => {
    for (const version of gaugedVersions.get(model) ?? []) metrics.weight.remove({ model, version });
    for (const [version, weight] of Object.entries(traffic?.weights ?? {})) metrics.weight.set({ model, version }, weight);
    gaugedVersions.set(model, Object.keys(traffic?.weights ?? {}));
  };
  for (const [model, traffic] of Object.entries(state.models)) setWeightGauges(model, traffic);

  // Admin changes are applied one at a time: validate, persist, then swap the table.
  let queue: Promise<unknown> = Promise.resolve();
  const serialized = <T>(work: () => Promise<T>): Promise<T> => {
    const run = queue.then(work, work);
    queue = run.catch(() => undefined);
    return run;
  };
  const commit = async (next: GatewayState): Promise<void> => {
    await saveState(options.stateDir, next);
    state = next;
  };

  // ------------------------------------------------------------------ proxy
  const handleProxy = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const started = process.hrtime.bigint();
    const split = splitModelPath(req.url ?? '/');
    const model = split && isModelName(split.model) ? split.model : undefined;
    const routes = model ? state.models[model] : undefined;
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
      version = pickWeighted(routes.weights, Math.random()) ?? '';
      if (!version) return sendJson(res, 503, { error: `${model} has no version with traffic weight` });
    }
    // No engine listing here: events, the periodic refresh and every routing change keep the table current.
    const urls = endpointsOf(model, version);
    if (urls.length === 0) return sendJson(res, 503, { error: `${model} ${version} has no running replica` });
    const key = `${model}\u0000${version}`;
    const turn = roundRobin.get(key) ?? 0;
    roundRobin.set(key, turn + 1);
    const target = urls[turn % urls.length]!;
    res.setHeader(SERVED_BY_HEADER, version);
    req.url = split.path;
    proxy.web(req, res, { target }, (error) => {
      proxyFailed = true;
      if (res.headersSent || res.destroyed) {
        res.destroy();
        return;
      }
      if (error instanceof UpstreamTimeoutError) return sendJson(res, 504, { error: `${model} ${version} at ${target} ${error.message}` });
      sendJson(res, 502, { error: `${model} ${version} at ${target} did not answer: ${(error as Error).message}` });
    });
  };

  // ------------------------------------------------------------------ admin
  const handleAdmin = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const { pathname } = new URL(req.url ?? '/', 'http://gateway');
    const method = req.method ?? 'GET';
    const refreshEndpointGauges = (): void => {
      metrics.endpoints.reset();
      for (const [model, versions] of discovery?.snapshot() ?? new Map<string, Map<string, string[]>>()) {
        for (const [version, urls] of versions) metrics.endpoints.set({ model, version }, urls.length);
      }
      for (const [model, versions] of Object.entries(state.staticEndpoints)) {
        for (const [version, urls] of Object.entries(versions)) metrics.endpoints.set({ model, version }, urls.length);
      }
    };
    if (pathname === '/metrics' && method === 'GET') {
      refreshEndpointGauges();
      res.writeHead(200, { 'content-type': metrics.registry.contentType });
      res.end(await metrics.registry.metrics());
      return;
    }
    if (pathname === ADMIN_HEALTHZ) return sendJson(res, 200, { ok: true });
    const auth = checkBearer(headerValue(req.headers.authorization));
    if (!auth.ok) {
      res.setHeader('www-authenticate', 'Bearer realm="tandem gateway admin"');
      return sendJson(res, 401, { error: auth.error });
    }
    if (pathname === ADMIN_METRICS_JSON && method === 'GET') {
      refreshEndpointGauges();
      return sendJson(res, 200, await metrics.registry.getMetricsAsJSON());
    }
    if (pathname === '/_tandem/models' && method === 'GET') {
      const models: Record<string, unknown> = {};
      const names = new Set([...Object.keys(state.models), ...(discovery?.snapshot().keys() ?? []), ...Object.keys(state.staticEndpoints)]);
      for (const name of names) {
        const versions = new Set([...(discovery?.snapshot().get(name)?.keys() ?? []), ...Object.keys(state.staticEndpoints[name] ?? {})]);
        models[name] = {
          traffic: state.models[name] ?? { weights: {}, pinned: [] },
          endpoints: Object.fromEntries([...versions].map((v) => [v, endpointsOf(name, v)])),
        };
      }
      return sendJson(res, 200, { models });
    }

    const traffic = /^\/_tandem\/models\/([^/]+)\/traffic$/.exec(pathname);
    const endpoints = /^\/_tandem\/models\/([^/]+)\/versions\/([^/]+)\/endpoints$/.exec(pathname);
    const model = safeDecode((traffic ?? endpoints)?.[1] ?? '') ?? '';
    if ((traffic || endpoints) && !isModelName(model)) {
      return sendJson(res, 400, { error: `model: "${model}" is not a model name (lowercase letters, digits and "-")`, field: 'model' });
    }

    if (traffic && method === 'GET') return sendJson(res, 200, state.models[model] ?? { weights: {}, pinned: [] });
    if (traffic && method === 'DELETE') {
      await serialized(async () => {
        if (!state.models[model]) return;
        const models = { ...state.models };
        delete models[model];
        await commit({ ...state, models });
        setWeightGauges(model, undefined);
      });
      res.writeHead(204).end();
      return;
    }
    if (traffic && method === 'PUT') {
      const body = await readJson(req);
      if (!body.ok) return sendJson(res, 400, { error: `(body): ${body.error}`, issues: [{ field: '(body)', message: body.error }] });
      const result = await serialized(async () => {
        // A routing change is rare and follows a deploy: read the engine now, so the new table
        // starts with every replica instead of waiting for the next event or periodic refresh.
        if (discovery) await discovery.refresh();
        const parsed = parseTrafficState(model, body.value, (v) => endpointsOf(model, v).length > 0);
        if (!parsed.state) return parsed;
        await commit({ ...state, models: { ...state.models, [model]: parsed.state } });
        setWeightGauges(model, parsed.state);
        return parsed;
      });
      if (!result.state) {
        return sendJson(res, 400, { error: result.issues.map((i) => `${i.field}: ${i.message}`).join('; '), issues: result.issues });
      }
      log(`gateway: ${model} routes ${JSON.stringify(result.state)}`);
      return sendJson(res, 200, result.state);
    }

    if (endpoints && (method === 'PUT' || method === 'DELETE')) {
      const version = safeDecode(endpoints[2]!);
      if (version === undefined) return sendJson(res, 400, { error: 'version: the path segment is not valid percent-encoding', field: 'version' });
      let urls: string[] = [];
      if (method === 'PUT') {
        const body = await readJson(req);
        const value = body.ok ? (body.value as { urls?: unknown }) : undefined;
        const valid =
          Array.isArray(value?.urls) && value.urls.length > 0 && value.urls.every((u) => typeof u === 'string' && /^https?:\/\/[^/]+\/?$/.test(u));
        if (!valid) {
          return sendJson(res, 400, { error: 'urls: must be a non-empty list of base URLs like "http://127.0.0.1:8081"', field: 'urls' });
        }
        urls = (value!.urls as string[]).map((u) => u.replace(/\/$/, ''));
      }
      await serialized(async () => {
        const versions = { ...(state.staticEndpoints[model] ?? {}) };
        if (method === 'PUT') versions[version] = urls;
        else delete versions[version];
        const staticEndpoints = { ...state.staticEndpoints, [model]: versions };
        if (Object.keys(versions).length === 0) delete staticEndpoints[model];
        await commit({ ...state, staticEndpoints });
      });
      if (method === 'DELETE') {
        res.writeHead(204).end();
        return;
      }
      return sendJson(res, 200, { urls });
    }
    return sendJson(res, 404, { error: `no admin route ${method} ${pathname}` });
  };

  const isAdminPath = (url: string | undefined): boolean => !!url && (url.startsWith(ADMIN_PREFIX) || url === '/metrics' || url.startsWith('/metrics?'));
  const guard =
    (handler: (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>) =>
    (req: http.IncomingMessage, res: http.ServerResponse): void => {
      handler(req, res).catch((error: unknown) => {
        log(`gateway: ${req.method} ${req.url} failed: ${(error as Error).stack ?? String(error)}`);
        if (!res.headersSent) sendJson(res, 500, { error: (error as Error).message });
        else res.destroy();
      });
    };

  const proxyServer = http.createServer(guard(handleProxy));
  const adminServer = http.createServer(
    guard(async (req, res) => (isAdminPath(req.url) ? handleAdmin(req, res) : sendJson(res, 404, { error: `admin port: use ${ADMIN_PREFIX}... or /metrics` }))),
  );

  const listen = (server: http.Server, port: number, host: string): Promise<string> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        const address = server.address() as AddressInfo;
        resolve(`http://${host.includes(':') ? `[${host}]` : host}:${address.port}`);
      });
    });

  let url: string;
  let adminUrl: string;
  try {
    url = await listen(proxyServer, options.port, host);
    adminUrl = await listen(adminServer, options.adminPort, adminHost);
  } catch (error) {
    discovery?.stop();
    proxyServer.close();
    adminServer.close();
    agent.destroy();
    throw error;
  }

  return {
    url,
    adminUrl,
    async close() {
      discovery?.stop();
      const servers = [proxyServer, adminServer];
      const closed = Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      for (const s of servers) s.closeIdleConnections();
      const grace = setTimeout(() => servers.forEach((s) => s.closeAllConnections()), 2000);
      await closed;
      clearTimeout(grace);
      proxy.close();
      agent.destroy();
    },
  };
}

class UpstreamTimeoutError extends Error {
  constructor(ms: number) {
    super(`sent nothing for ${ms} ms (upstream timeout)`);
  }
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function headerValue(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first === '' ? undefined : first.trim();
}

async function readJson(req: http.IncomingMessage): Promise<{ ok: true; value: unknown } | { ok: false; error: string }> {
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

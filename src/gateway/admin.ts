/**
 * The gateway's admin API, on its own port and address only (the traffic port answers 404 to
 * /_tandem/...). Every /_tandem/ route but healthz needs `Authorization: Bearer <adminToken>`
 * (401 JSON without):
 *   GET|PUT|DELETE /_tandem/models/<model>/traffic        TrafficState {weights, pinned, stable, mirror}
 *   PUT|DELETE     /_tandem/models/<model>/versions/<version>/endpoints   {"urls": [...]}
 *   GET            /_tandem/models/<model>/versions/<version>/agreement   a mirror version's answers
 *                                                          compared with the callers' (mirror.compare):
 *                                                          {model, version, agree, disagree, notCompared,
 *                                                          samples: [...]}, counts since the gateway started
 *   GET            /_tandem/models                         everything the gateway routes
 *   GET            /_tandem/healthz                        no token
 *   GET            /_tandem/metrics.json                   the metrics below as prom-client's JSON (for the gateway analyzer)
 *   GET            /metrics                                Prometheus text, no token (for scrapers;
 *                                                          keep the admin address private)
 * Anything else on the admin port is 404.
 */
import type http from 'node:http';
import { ADMIN_HEALTHZ, ADMIN_METRICS_JSON, ADMIN_PREFIX } from '../naming/gateway';
import { isModelName } from '../naming/model';
import { formatTrafficIssues, type TrafficState } from '../shared/traffic-state';
import type { BearerCheck } from './admin-token';
import type { EndpointDiscovery } from './discovery';
import { headerValue, readJson, sendJson } from './http-json';
import type { GatewayMetrics } from './metrics';
import { parseTrafficState, safeDecode } from './routes';
import type { AgreementBook } from './shadow-agreement';
import type { RoutingTable } from './table';

export interface AdminApiOptions {
  table: RoutingTable;
  metrics: GatewayMetrics;
  /** checks the Authorization header (see admin-token.ts) */
  checkBearer: (authorization: string | undefined) => BearerCheck;
  discovery?: EndpointDiscovery;
  /**
   * Set when routes and endpoints come from elsewhere (Kubernetes: `HTTPRoutes of GatewayClass
   * "tandem"`): the routes and endpoints PUT/DELETE routes then answer 409 naming it.
   */
  routesFrom?: string;
  /** mirrored pairs compared by the proxy */
  agreement: AgreementBook;
  log: (message: string) => void;
}

/**
 * The admin port's request handler. Sets the weight gauges from the table at creation. Rejects
 * only on a bug or when the state file cannot be written; the server answers 500 then.
 */
export function createAdminApi(options: AdminApiOptions): (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void> {
  const { table, metrics, checkBearer, discovery, routesFrom, agreement, log } = options;

  // Gauges are set from the table at every scrape, so routes changed elsewhere (HTTPRoutes) show too.
  const refreshGauges = (): void => {
    metrics.weight.reset();
    for (const [model, traffic] of Object.entries(table.current().models)) setWeightGauges(model, traffic);
    metrics.endpoints.reset();
    for (const [model, versions] of discovery?.snapshot() ?? new Map<string, Map<string, string[]>>()) {
      for (const [version, urls] of versions) metrics.endpoints.set({ model, version }, urls.length);
    }
    for (const [model, versions] of Object.entries(table.current().staticEndpoints)) {
      for (const [version, urls] of Object.entries(versions)) metrics.endpoints.set({ model, version }, urls.length);
    }
  };
  /** Percent of unpinned traffic per version (HTTPRoute weights are relative; admin API weights already sum to 100). */
  const setWeightGauges = (model: string, traffic: TrafficState): void => {
    const total = Object.values(traffic.weights).reduce((sum, w) => sum + w, 0);
    for (const [version, weight] of Object.entries(traffic.weights)) metrics.weight.set({ model, version }, total > 0 ? (weight * 100) / total : 0);
  };

  const handleAdmin = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const { pathname } = new URL(req.url ?? '/', 'http://gateway');
    const method = req.method ?? 'GET';
    const state = table.current();
    if (pathname === '/metrics' && method === 'GET') {
      refreshGauges();
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
      refreshGauges();
      return sendJson(res, 200, await metrics.registry.getMetricsAsJSON());
    }
    if (pathname === '/_tandem/models' && method === 'GET') {
      const models: Record<string, unknown> = {};
      const names = new Set([...Object.keys(state.models), ...(discovery?.snapshot().keys() ?? []), ...Object.keys(state.staticEndpoints)]);
      for (const name of names) {
        const versions = new Set([...(discovery?.snapshot().get(name)?.keys() ?? []), ...Object.keys(state.staticEndpoints[name] ?? {})]);
        models[name] = {
          traffic: state.models[name] ?? { weights: {}, pinned: [] },
          endpoints: Object.fromEntries([...versions].map((v) => [v, table.endpointsOf(name, v)])),
        };
      }
      return sendJson(res, 200, { models });
    }

    const traffic = /^\/_tandem\/models\/([^/]+)\/traffic$/.exec(pathname);
    const endpoints = /^\/_tandem\/models\/([^/]+)\/versions\/([^/]+)\/endpoints$/.exec(pathname);
    const agreed = /^\/_tandem\/models\/([^/]+)\/versions\/([^/]+)\/agreement$/.exec(pathname);
    const model = safeDecode((traffic ?? endpoints ?? agreed)?.[1] ?? '') ?? '';
    if ((traffic || endpoints || agreed) && !isModelName(model)) {
      return sendJson(res, 400, { error: `model: "${model}" is not a model name (lowercase letters, digits and "-")`, field: 'model' });
    }
    if (agreed && method === 'GET') {
      const version = safeDecode(agreed[2]!);
      if (version === undefined) return sendJson(res, 400, { error: 'version: the path segment is not valid percent-encoding', field: 'version' });
      return sendJson(res, 200, agreement.reading(model, version));
    }

    if (traffic && method === 'GET') return sendJson(res, 200, state.models[model] ?? { weights: {}, pinned: [] });
    if (routesFrom && (traffic || endpoints) && (method === 'PUT' || method === 'DELETE')) {
      return sendJson(res, 409, { error: `this gateway routes ${routesFrom}: change the HTTPRoute (tandem's gateway-api router writes it), not the gateway` });
    }
    if (traffic && method === 'DELETE') {
      await table.serialized(async () => {
        const current = table.current();
        if (!current.models[model]) return;
        const models = { ...current.models };
        delete models[model];
        await table.commit({ ...current, models });
      });
      res.writeHead(204).end();
      return;
    }
    if (traffic && method === 'PUT') {
      const body = await readJson(req);
      if (!body.ok) return sendJson(res, 400, { error: `(body): ${body.error}`, issues: [{ field: '(body)', message: body.error }] });
      const result = await table.serialized(async () => {
        // A routing change is rare and follows a deploy: read the engine now, so the new table
        // starts with every replica instead of waiting for the next event or periodic refresh.
        if (discovery) await discovery.refresh();
        const parsed = parseTrafficState(model, body.value, (v) => table.endpointsOf(model, v).length > 0);
        if (!parsed.state) return parsed;
        const current = table.current();
        await table.commit({ ...current, models: { ...current.models, [model]: parsed.state } });
        return parsed;
      });
      if (!result.state) return sendJson(res, 400, { error: formatTrafficIssues(result.issues), issues: result.issues });
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
      await table.serialized(async () => {
        const current = table.current();
        const versions = { ...(current.staticEndpoints[model] ?? {}) };
        if (method === 'PUT') versions[version] = urls;
        else delete versions[version];
        const staticEndpoints = { ...current.staticEndpoints, [model]: versions };
        if (Object.keys(versions).length === 0) delete staticEndpoints[model];
        await table.commit({ ...current, staticEndpoints });
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
  return async (req, res) => (isAdminPath(req.url) ? handleAdmin(req, res) : sendJson(res, 404, { error: `admin port: use ${ADMIN_PREFIX}... or /metrics` }));
}

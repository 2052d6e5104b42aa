/**
 * The console: its pages (/console/, /console/releases/<model>/<env>: static HTML and plain ES
 * modules, uPlot served from node_modules; no build step, no CDN), and the fleet behind them
 * (GET /api/fleet, and GET /api/fleet/events: the same fleet pushed as server-sent events). The
 * pages carry no data, so they are public; every number they show comes from the API with the
 * caller's session or token, under serve.access.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import fastifyStatic from '@fastify/static';
import { z } from 'zod';
import type { ServeDeps, ZodApp } from '../app';
import { errorSchema } from '../errors';
import { FleetMonitor } from '../console/fleet-monitor';
import { fleetSchema, type Fleet } from '../console/fleet-schema';

/** The console's HTML, scripts and styles: beside this module's sources (also when serve runs from dist/). */
export function consoleAssetsDir(): string {
  const beside = join(__dirname, '..', 'console', 'assets');
  return existsSync(beside) ? beside : join(__dirname, '..', '..', '..', 'src', 'serve', 'console', 'assets');
}

/** No script, style or connection but serve's own: a token the page holds cannot be sent elsewhere. */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

export interface ConsoleOptions {
  /** how often the fleet is read and pushed (default 2000 ms) */
  intervalMs?: number;
}

export async function registerConsoleRoutes(app: ZodApp, deps: ServeDeps, options: ConsoleOptions = {}): Promise<void> {
  const assets = consoleAssetsDir();
  const uplot = dirname(require.resolve('uplot/dist/uPlot.esm.js'));
  const monitor = new FleetMonitor(deps.client, deps.config, {
    ...(options.intervalMs ? { intervalMs: options.intervalMs } : {}),
    temporalUi: { url: deps.config.links.webUi.replace(/\/+$/, ''), namespace: deps.namespace ?? 'default' },
    warn: (message) => app.log.warn(message),
  });
  // Open event streams never go idle: end them when serve closes, or closing would wait for the browsers.
  const streams = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of streams) end();
  });
  app.addHook('onClose', async () => monitor.close());

  await app.register(async (scope) => {
    // The static plugin's routes are registered here: all public (they hold no data).
    scope.addHook('onRoute', (route) => {
      route.config = { ...(route.config as object), permission: 'public' };
    });
    scope.addHook('onSend', async (_request, reply) => {
      void reply.header('content-security-policy', CSP).header('x-content-type-options', 'nosniff').header('referrer-policy', 'same-origin');
    });
    await scope.register(fastifyStatic, { root: assets, prefix: '/console/assets/', decorateReply: true, index: false });
    await scope.register(fastifyStatic, { root: uplot, prefix: '/console/vendor/uplot/', decorateReply: false, index: false, allowedPath: (path) => /^\/uPlot\.(esm\.js|min\.css)$/.test(path) });
    const page = (file: string) => async (_request: unknown, reply: { sendFile(file: string): unknown; header(k: string, v: string): unknown }) => {
      reply.header('cache-control', 'no-cache');
      return reply.sendFile(file);
    };
    scope.get('/console', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/console/', 302));
    scope.get('/console/', { schema: { hide: true } }, page('fleet.html'));
    scope.get('/console/releases/:model/:env', { schema: { hide: true } }, page('release.html'));
  });

  app.get(
    '/api/fleet',
    {
      config: { permission: 'read' },
      schema: {
        summary: 'every model × environment: running versions with role, traffic share, replicas, commit, digest and live series; the active release and what it waits for',
        tags: ['console'],
        response: { 200: fleetSchema, 401: errorSchema, 403: errorSchema },
      },
    },
    async () => monitor.current(),
  );

  app.get(
    '/api/fleet/events',
    {
      config: { permission: 'read' },
      schema: {
        summary: 'the fleet as server-sent events: a `fleet` event with the same JSON as GET /api/fleet now and every 2 s',
        tags: ['console'],
        produces: ['text/event-stream'],
        response: { 200: z.string().describe('text/event-stream'), 401: errorSchema, 403: errorSchema },
      },
    },
    async (request, reply) => {
      const first = await monitor.current();
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      const send = (fleet: Fleet) => raw.write(`event: fleet\ndata: ${JSON.stringify(fleet)}\n\n`);
      send(first);
      const unsubscribe = monitor.subscribe(send);
      const end = () => {
        streams.delete(end);
        unsubscribe();
        raw.end();
      };
      streams.add(end);
      request.raw.once('close', end);
    },
  );
}

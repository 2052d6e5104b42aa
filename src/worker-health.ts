/**
 * The worker's health and metrics endpoint, for Kubernetes probes and Prometheus:
 *   GET /healthz  200 while the process serves requests (liveness)
 *   GET /readyz   200 while the worker polls its task queue, 503 before and while it drains
 *   GET /metrics  the Temporal SDK's runtime metrics and tandem's own (tandem_releases_*, emitted
 *                 by workflows through the SDK's metric meter), in Prometheus text format
 * The SDK's Prometheus exporter listens on a loopback port of its own; /metrics relays it, so one
 * port serves probes and scrapes.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { DefaultLogger, Runtime, type LogEntry, type Worker } from '@temporalio/worker';
import { ConfigError } from './config/load';

export interface HealthServer {
  /** `http://host:port` */
  url: string;
  close(): Promise<void>;
}

export type LogFormat = 'text' | 'json';

/**
 * Installs the SDK runtime with its Prometheus exporter on `exporterAddress` and logs in the given
 * format (`json`: one object per line with time, level, message and the SDK's fields). Call once,
 * before any connection to Temporal is made.
 */
export function installRuntime(exporterAddress: string, format: LogFormat): void {
  const logger =
    format === 'json'
      ? new DefaultLogger('INFO', (entry: LogEntry) => {
          process.stdout.write(
            JSON.stringify({ time: new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString(), level: entry.level.toLowerCase(), message: entry.message, ...entry.meta }) + '\n',
          );
        })
      : new DefaultLogger('WARN');
  Runtime.install({
    logger,
    telemetryOptions: {
      metrics: { prometheus: { bindAddress: exporterAddress, countersTotalSuffix: true, useSecondsForDurations: true } },
      logging: { forward: {}, filter: 'WARN' },
    },
  });
}

/** Serves /healthz, /readyz (from the worker's state) and /metrics (relayed from `exporterUrl`). */
export async function startHealthServer(worker: () => Worker | undefined, exporterUrl: string, host: string, port: number): Promise<HealthServer> {
  const server = http.createServer((req, res) => {
    const send = (status: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') return send(405, 'GET only\n');
    if (path === '/healthz') return send(200, 'ok\n');
    if (path === '/readyz') {
      const state = worker()?.getState() ?? 'STARTING';
      return state === 'RUNNING' ? send(200, 'ready\n') : send(503, `not ready: worker ${state.toLowerCase()}\n`);
    }
    if (path === '/metrics') {
      fetch(`${exporterUrl}/metrics`, { signal: AbortSignal.timeout(5000) })
        .then(async (r) => send(r.status, await r.text(), r.headers.get('content-type') ?? 'text/plain; version=0.0.4'))
        .catch((err: Error) => send(503, `metrics exporter unavailable: ${err.message}\n`));
      return;
    }
    send(404, 'try /healthz, /readyz or /metrics\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new ConfigError(`--health-port: ${host}:${port} is already in use (another tandem worker on this host?); pass --health-port N, or 0 for any free port`)
          : err,
      ),
    );
    server.listen(port, host, resolve);
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A free loopback port for the SDK's exporter (the SDK binds it itself). */
export async function freeLoopbackPort(): Promise<number> {
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

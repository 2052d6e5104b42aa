/**
 * What the gateway benchmarks share: JSON model servers in a process of their own (as model
 * containers would be, so they do not share the gateway's event loop), a gateway in this process
 * in front of them, and a closed-loop load of POSTs on kept-alive connections.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startGateway } from '../src/gateway';

/** Each server answers a prediction derived from the JSON body, with its version. */
const SERVERS = `
const http = require('node:http');
const serve = (version) => new Promise((resolve) => {
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const amount = Number(JSON.parse(Buffer.concat(chunks).toString() || '{}').amount ?? 0);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ label: amount > 500 ? 'fraud' : 'ok', score: amount / 1000, version }));
    });
  });
  server.listen(0, '127.0.0.1', () => resolve('http://127.0.0.1:' + server.address().port));
});
Promise.all(process.argv.slice(1).map(serve)).then((urls) => console.log(JSON.stringify(urls)));
`;

/** One server per version name, in one child process; their base URLs in the same order. */
export async function modelServers(versions: string[]): Promise<{ urls: string[]; stop(): void }> {
  const child = spawn(process.execPath, ['-e', SERVERS, ...versions], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  return { urls: JSON.parse(line) as string[], stop: () => child.kill() };
}

/**
 * Sends `requests` POSTs (body `{amount}`), `concurrency` at a time, each to `urlOf(i)`; returns
 * the latencies in ms, sorted, and the seconds it took. Throws on an answer other than 200.
 */
export async function load(urlOf: (i: number) => string, requests: number, concurrency: number): Promise<{ latencies: number[]; seconds: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies: number[] = [];
  let next = 0;
  const one = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const body = JSON.stringify({ amount: i % 1000 });
      const t0 = performance.now();
      const req = http.request(urlOf(i), { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        res.resume();
        res.once('end', () => {
          if (res.statusCode !== 200) return reject(new Error(`answered ${res.statusCode}`));
          latencies.push(performance.now() - t0);
          resolve();
        });
      });
      req.once('error', reject);
      req.end(body);
    });
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests) await one(next++);
    }),
  );
  agent.destroy();
  return { latencies: latencies.sort((a, b) => a - b), seconds: (performance.now() - started) / 1000 };
}

export interface BenchGateway {
  /** where callers send predictions: `${url}/<model>/predict` */
  url: string;
  adminUrl: string;
  /** one server per version name, in the order given */
  servers: string[];
  /** an authenticated admin request; throws on an answer other than 2xx */
  admin(method: string, route: string, body?: unknown): Promise<Record<string, number>>;
  close(): Promise<void>;
}

/** A gateway (state in a temporary folder) in front of one model server per version name. */
export async function benchGateway(versions: string[]): Promise<BenchGateway> {
  const token = 'bench-gateway';
  const stateDir = mkdtempSync(join(tmpdir(), 'tandem-bench-gateway-'));
  const servers = await modelServers(versions);
  const gateway = await startGateway({ port: 0, adminPort: 0, adminToken: token, stateDir, log: () => undefined });
  return {
    url: gateway.url,
    adminUrl: gateway.adminUrl,
    servers: servers.urls,
    async admin(method, route, body) {
      const response = await fetch(`${gateway.adminUrl}${route}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      if (!response.ok) throw new Error(`${method} ${route} answered ${response.status}: ${await response.text()}`);
      return response.json() as Promise<Record<string, number>>;
    },
    async close() {
      await gateway.close();
      servers.stop();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

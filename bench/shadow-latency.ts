/**
 * What shadowing costs callers: caller p50/p99 latency through tandem's gateway to a local JSON
 * model server, without a mirror (shadow 0%) and with every request mirrored to a second server
 * and the answers compared (shadow 100%, mirror.compare on), under the same load; between them,
 * mirrored with the answers discarded. Also how many pairs were judged and how many copies were
 * dropped. The gateway and the load share this process; the model servers run in another. The
 * copies double the gateway's work, so on a busy machine its latency rises with the load it
 * carries, not with waiting: callers never wait for a copy. Prints JSON lines.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startGateway } from '../src/gateway';
import { adminAgreementPath } from '../src/naming/gateway';

const REQUESTS = Number(process.env.BENCH_SHADOW_REQUESTS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_SHADOW_CONCURRENCY ?? 8);
const TOKEN = 'bench-shadow';
const emit = (o: object) => console.log(JSON.stringify(o));
const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
const round = (ms: number) => Math.round(ms * 1000) / 1000;

/**
 * The stable and candidate model servers, in a process of their own as model containers would
 * be, so they do not share the gateway's event loop: each answers a prediction derived from the
 * JSON body.
 */
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
Promise.all([serve('v1'), serve('v2')]).then((urls) => console.log(JSON.stringify(urls)));
`;

async function modelServers(): Promise<{ stable: string; candidate: string; stop(): void }> {
  const child = spawn(process.execPath, ['-e', SERVERS], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  const [stable, candidate] = JSON.parse(line) as [string, string];
  return { stable, candidate, stop: () => child.kill() };
}

/** Sends REQUESTS POSTs, CONCURRENCY at a time, on kept-alive connections; returns each latency in ms, sorted. */
async function load(url: string): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const latencies: number[] = [];
  let next = 0;
  const one = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const body = JSON.stringify({ amount: i % 1000 });
      const t0 = performance.now();
      const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
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
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < REQUESTS) await one(next++);
    }),
  );
  agent.destroy();
  return latencies.sort((a, b) => a - b);
}

async function main() {
  const stateDir = mkdtempSync(join(tmpdir(), 'tandem-bench-shadow-'));
  const servers = await modelServers();
  const gateway = await startGateway({ port: 0, adminPort: 0, adminToken: TOKEN, stateDir, log: () => undefined });
  const admin = async (method: string, route: string, body?: unknown) => {
    const response = await fetch(`${gateway.adminUrl}${route}`, { method, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    if (!response.ok) throw new Error(`${method} ${route} answered ${response.status}: ${await response.text()}`);
    return response.json() as Promise<Record<string, number>>;
  };
  const model = 'bench-shadow';
  try {
    await admin('PUT', `/_tandem/models/${model}/versions/v1/endpoints`, { urls: [servers.stable] });
    await admin('PUT', `/_tandem/models/${model}/versions/v2/endpoints`, { urls: [servers.candidate] });
    const url = `${gateway.url}/${model}/predict`;

    await admin('PUT', `/_tandem/models/${model}/traffic`, { weights: { v1: 100 } });
    await load(url); // warm-up: connections, JIT
    const off = await load(url);

    await admin('PUT', `/_tandem/models/${model}/traffic`, { weights: { v1: 100 }, mirror: { version: 'v2', percent: 100 } });
    const mirrorOnly = await load(url);

    const compare = { fields: [{ path: '$.label' }, { path: '$.score', tolerance: 0.001 }], redact: ['$.card'] };
    await admin('PUT', `/_tandem/models/${model}/traffic`, { weights: { v1: 100 }, mirror: { version: 'v2', percent: 100, compare } });
    const on = await load(url);
    // Let the last copies finish before reading the counts.
    await new Promise((r) => setTimeout(r, 500));
    const reading = await admin('GET', adminAgreementPath(model, 'v2'));
    const metrics = await (await fetch(`${gateway.adminUrl}/metrics`)).text();
    const dropped = Number(/tandem_gateway_mirrored_requests_total\{model="bench-shadow",version="v2",result="dropped"\} (\d+)/.exec(metrics)?.[1] ?? 0);

    const load_ = { requests: REQUESTS, concurrency: CONCURRENCY };
    for (const [name, q] of [['p50', 0.5], ['p99', 0.99]] as const) {
      const baseline = quantile(off, q);
      const value = quantile(on, q);
      emit({
        name: `shadow_caller_latency_${name}`,
        value: round(value),
        unit: 'ms',
        baseline: round(baseline),
        ratio: Math.round((value / baseline) * 100) / 100,
        mirrorWithoutCompare: round(quantile(mirrorOnly, q)),
        note: 'value: shadow 100% with compare; baseline: shadow 0%; mirrorWithoutCompare: shadow 100%, answers discarded',
        ...load_,
      });
    }
    emit({ name: 'shadow_pairs_compared', value: reading.agree! + reading.disagree! + reading.notCompared!, unit: 'pairs', agree: reading.agree, disagree: reading.disagree, notCompared: reading.notCompared, sent: REQUESTS });
    emit({ name: 'shadow_copies_dropped', value: dropped, unit: 'copies', sent: REQUESTS, note: 'copies beyond 64 in flight are dropped, never queued' });
  } finally {
    await gateway.close();
    servers.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);

/**
 * `tandem serve`'s request latency under a small bounded load, on the real dev server: the server
 * runs as its own process (as the README starts it) with a bearer token; a worker (real workflows,
 * activity doubles) holds a canary release at its approval gate. Each route gets BENCH_API_REQUESTS
 * requests, BENCH_API_CONCURRENCY at a time: /healthz (the framework alone: the baseline), a
 * release's status (a workflow query through Temporal), its versions, and the list of releases
 * (Temporal visibility plus a query per running release). Prints JSON lines.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashToken } from '../src/serve/auth/token-hash';
import { createWorld, runningVersion, specs } from '../test/doubles/world';
import { daemon, freePort } from '../test/helpers/processes';
import { connectClient, ensureTemporal, NAMESPACE, startWorker, uniqueQueue } from '../test/helpers/temporal';

const REQUESTS = Number(process.env.BENCH_API_REQUESTS ?? 200);
const CONCURRENCY = Number(process.env.BENCH_API_CONCURRENCY ?? 4);

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
}
const emit = (o: object) => console.log(JSON.stringify(o));
const round = (ms: number) => Math.round(ms * 10) / 10;

/** Latencies in ms of REQUESTS GETs of `path`, CONCURRENCY at a time; throws on any non-200. */
async function load(url: string, path: string, token: string, requests = REQUESTS): Promise<{ latencies: number[]; seconds: number }> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < requests) {
        next += 1;
        const t = performance.now();
        const response = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
        const body = await response.text();
        if (response.status !== 200) throw new Error(`GET ${path} answered ${response.status}: ${body}`);
        latencies.push(performance.now() - t);
      }
    }),
  );
  return { latencies, seconds: (performance.now() - started) / 1000 };
}

async function main() {
  ensureTemporal();
  const dir = mkdtempSync(join(tmpdir(), 'tandem-bench-serve-'));
  const model = uniqueQueue('bench-serve');
  const env = 'staging';
  const world = createWorld({ specs: { 'v1.1.0': specs.canary }, running: [runningVersion('v1.0.0')], traffic: { weights: { 'v1.0.0': 100 }, pinned: ['v1.0.0'], stable: 'v1.0.0' } });
  const worker = await startWorker(model, world.activities);
  const token = `bench-${Date.now().toString(36)}-${'x'.repeat(32)}`;
  writeFileSync(
    join(dir, 'tandem.config.yaml'),
    [
      `taskQueue: ${model}`,
      'environments:',
      `  ${env}: { target: { kind: docker }, registry: { url: 127.0.0.1:5000, insecure: true } }`,
      'models:',
      `  ${model}: { repo: /srv/models/${model}, environment: ${env} }`,
      'serve:',
      `  tokens: [{ name: bench, sha256: ${hashToken(token)}, groups: [ops] }]`,
      '  access: { start: [ops], operate: [ops] }',
      '',
    ].join('\n'),
  );
  const port = await freePort();
  const server = await daemon(['serve', '--config', join(dir, 'tandem.config.yaml'), '--port', String(port)], /API at (http:\/\/\S+)\/api\//, { ...process.env, TEMPORAL_NAMESPACE: NAMESPACE });
  const url = `http://127.0.0.1:${port}`;
  const client = await connectClient(model);
  try {
    const handle = await client.start({ model, tag: 'v1.1.0', environment: env, repoUrl: `/srv/models/${model}`, requestedBy: 'bench' });
    // Wait until the release is at its approval gate: the status then stays the same for the whole run.
    for (let i = 0; i < 600; i++) {
      const status = await client.status(model, env).catch(() => undefined);
      if (status?.waitingFor === 'approval') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const base = `/api/models/${model}/environments/${env}`;
    const routes: Array<[string, string]> = [
      ['healthz', '/healthz'],
      ['release status', `${base}/release`],
      ['versions', `${base}/versions`],
      ['list releases', '/api/releases'],
    ];
    let baseline = 0;
    for (const [name, path] of routes) {
      await load(url, path, token, 20); // warm-up: connections, JIT, Temporal's caches
      const { latencies, seconds } = await load(url, path, token);
      const p50 = quantile(latencies, 0.5);
      if (name === 'healthz') baseline = p50;
      const extra = name === 'healthz' ? {} : { baseline: round(baseline), ratio: round(p50 / baseline) };
      emit({ name: `serve ${name} p50`, value: round(p50), unit: 'ms', requests: REQUESTS, concurrency: CONCURRENCY, ...extra });
      emit({ name: `serve ${name} p99`, value: round(quantile(latencies, 0.99)), unit: 'ms', requests: REQUESTS, concurrency: CONCURRENCY });
      emit({ name: `serve ${name} throughput`, value: Math.round(REQUESTS / seconds), unit: 'requests/s', concurrency: CONCURRENCY });
    }
    // Ends the release as an operator would, so no workflow of this run is left waiting.
    await client.act(model, env, 'abort', { who: 'bench', text: 'benchmark done' });
    await handle.result().catch(() => undefined);
  } catch (error) {
    console.error(error, `worker: ${worker.worker.getState()}`);
    console.error(server.output().split('\n').filter((l) => /"level":5\d/.test(l)).slice(-3).join('\n'));
    throw error;
  } finally {
    server.child.kill('SIGTERM');
    await client.close();
    await worker.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

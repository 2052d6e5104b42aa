/**
 * `tandem serve`'s request latency under a small bounded load, on the real dev server: the server
 * runs as its own process with a bearer token; a worker holds a canary release at its approval
 * gate (bench/serve-stack.ts). Each route gets BENCH_API_REQUESTS
 * requests, BENCH_API_CONCURRENCY at a time: /healthz (the framework alone: the baseline), a
 * release's status (a workflow query through Temporal), its versions, and the list of releases
 * (Temporal visibility plus a query per running release). Prints JSON lines.
 */
import { startServeStack } from './serve-stack';
import { emit, quantile, round } from './stats';

const REQUESTS = Number(process.env.BENCH_API_REQUESTS ?? 200);
const CONCURRENCY = Number(process.env.BENCH_API_CONCURRENCY ?? 4);

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
  const stack = await startServeStack('bench-serve');
  const { url, token, model, env } = stack;
  try {
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
  } catch (error) {
    console.error(error, stack.errors());
    throw error;
  } finally {
    await stack.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

/**
 * tandem's gateway against calling the model directly: requests per second and latency p50/p99
 * through the gateway to a model with 1, 4 and 16 versions sharing the unpinned traffic, and the
 * same load sent straight to the same servers (round-robin), in the same run. The gateway and the
 * load share this process; the model servers run in another. Prints JSON lines.
 */
import { benchGateway, load } from './http-load';
import { emit, quantile, round } from './stats';

const QUICK = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
const REQUESTS = Number(process.env.BENCH_GATEWAY_REQUESTS ?? (QUICK ? 1000 : 4000));
const CONCURRENCY = Number(process.env.BENCH_GATEWAY_CONCURRENCY ?? 16);
const VERSIONS = (process.env.BENCH_GATEWAY_VERSIONS ?? "1,4,16").split(",").map(Number);

/** Whole percents over `n` versions, summing to 100. */
function evenWeights(names: string[]): Record<string, number> {
  const base = Math.floor(100 / names.length);
  return Object.fromEntries(names.map((v, i) => [v, base + (i < 100 - base * names.length ? 1 : 0)]));
}

async function main() {
  const names = Array.from({ length: Math.max(...VERSIONS) }, (_, i) => `v${i + 1}`);
  const gateway = await benchGateway(names);
  const { admin, servers } = gateway;
  try {
    // Warm the gateway and the servers up once (connections, JIT): the first case measured is not penalised.
    await admin('PUT', `/_tandem/models/bench-gw-warm/versions/v1/endpoints`, { urls: [servers[0]] });
    await admin('PUT', `/_tandem/models/bench-gw-warm/traffic`, { weights: { v1: 100 }, pinned: [] });
    await load(() => `${gateway.url}/bench-gw-warm/predict`, 3000, CONCURRENCY);
    for (const count of VERSIONS) {
      const model = `bench-gw-${count}`;
      const versions = names.slice(0, count);
      for (const [i, v] of versions.entries()) await admin('PUT', `/_tandem/models/${model}/versions/${v}/endpoints`, { urls: [servers[i]] });
      await admin('PUT', `/_tandem/models/${model}/traffic`, { weights: evenWeights(versions), pinned: [] });
      const through = `${gateway.url}/${model}/predict`;
      const direct = (i: number) => `${servers[i % count]}/predict`;
      await load(() => through, 300, CONCURRENCY); // warm-up: connections, JIT
      await load(direct, 300, CONCURRENCY);
      const viaGateway = await load(() => through, REQUESTS, CONCURRENCY);
      const straight = await load(direct, REQUESTS, CONCURRENCY);
      const p = (run: { latencies: number[] }, q: number) => round(quantile(run.latencies, q), 2);
      emit({
        name: `gateway_rps_${count}_versions`,
        value: Math.round(REQUESTS / viaGateway.seconds),
        unit: 'requests/s',
        baseline: Math.round(REQUESTS / straight.seconds),
        ratio: round(straight.seconds / viaGateway.seconds, 2),
        note: 'baseline: the same load sent straight to the model servers',
        p50: p(viaGateway, 0.5),
        p99: p(viaGateway, 0.99),
        directP50: p(straight, 0.5),
        directP99: p(straight, 0.99),
        addedP50: round(p(viaGateway, 0.5) - p(straight, 0.5), 2),
        addedP99: round(p(viaGateway, 0.99) - p(straight, 0.99), 2),
        requests: REQUESTS,
        concurrency: CONCURRENCY,
      });
    }
  } finally {
    await gateway.close();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);

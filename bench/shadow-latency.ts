/**
 * What shadowing costs callers: caller p50/p99 latency through tandem's gateway to a local JSON
 * model server, without a mirror (shadow 0%) and with every request mirrored to a second server
 * and the answers compared (shadow 100%, mirror.compare on), under the same load; between them,
 * mirrored with the answers discarded. Also how many pairs were judged and how many copies were
 * dropped. The gateway and the load share this process; the model servers run in another. The
 * copies double the gateway's work, so on a busy machine its latency rises with the load it
 * carries, not with waiting: callers never wait for a copy. Prints JSON lines.
 */
import { adminAgreementPath } from '../src/naming/gateway';
import { benchGateway, load as loadWith } from './http-load';
import { emit, quantile, round } from './stats';

const REQUESTS = Number(process.env.BENCH_SHADOW_REQUESTS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_SHADOW_CONCURRENCY ?? 8);

async function main() {
  const gateway = await benchGateway(['v1', 'v2']);
  const { admin } = gateway;
  const [stable, candidate] = gateway.servers as [string, string];
  const model = 'bench-shadow';
  try {
    await admin('PUT', `/_tandem/models/${model}/versions/v1/endpoints`, { urls: [stable] });
    await admin('PUT', `/_tandem/models/${model}/versions/v2/endpoints`, { urls: [candidate] });
    const url = `${gateway.url}/${model}/predict`;
    const load = async (to: string) => (await loadWith(() => to, REQUESTS, CONCURRENCY)).latencies;

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
        value: round(value, 3),
        unit: 'ms',
        baseline: round(baseline, 3),
        ratio: Math.round((value / baseline) * 100) / 100,
        mirrorWithoutCompare: round(quantile(mirrorOnly, q), 3),
        note: 'value: shadow 100% with compare; baseline: shadow 0%; mirrorWithoutCompare: shadow 100%, answers discarded',
        ...load_,
      });
    }
    emit({ name: 'shadow_pairs_compared', value: reading.agree! + reading.disagree! + reading.notCompared!, unit: 'pairs', agree: reading.agree, disagree: reading.disagree, notCompared: reading.notCompared, sent: REQUESTS });
    emit({ name: 'shadow_copies_dropped', value: dropped, unit: 'copies', sent: REQUESTS, note: 'copies beyond 64 in flight are dropped, never queued' });
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

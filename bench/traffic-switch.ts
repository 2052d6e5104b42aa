/**
 * How fast tandem takes traffic back, on the embedded default (real Temporal, Docker engine,
 * registry, gateway, worker): the time from an abort request during a 50% canary until the
 * gateway routes 100% to stable, and from a `rollback --to` request until the switch — with the
 * number of client requests that failed meanwhile (steady live traffic, 200 requests/s; `--quick`:
 * 5 rounds at 50/s). p50 and p99 over the rounds. Prints JSON lines.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GatewayRouter } from '../src/activities/traffic/gateway-router';
import { ENV, removeModelContainers, sendTraffic, startStack, type Stack } from '../scripts/stack';
import { emit, quantile } from './stats';

const QUICK = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1';
const ROUNDS = Number(process.env.BENCH_SWITCH_ROUNDS ?? (QUICK ? 5 : 20));
const RATE = Number(process.env.BENCH_SWITCH_RATE ?? (QUICK ? 50 : 200));
const MODEL = `bench-switch-${Date.now().toString(36).slice(-4)}`;

async function routedTo(stack: Stack, version: string): Promise<boolean> {
  const state = await new GatewayRouter(stack.gateway.adminUrl, { token: stack.gatewayToken }).getState(MODEL);
  return state.weights[version] === 100;
}

async function timeUntilRouted(stack: Stack, version: string, request: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  const sent = request();
  while (!(await routedTo(stack, version))) await new Promise((r) => setTimeout(r, 2));
  const elapsed = performance.now() - t0;
  await sent.catch(() => undefined);
  return elapsed;
}

async function main() {
  const stack = await startStack({ model: MODEL, workDir: mkdtempSync(join(tmpdir(), 'tandem-bench-')), namespace: 'tandem-test' });
  const { client } = stack;
  const start = (tag: string) => client.start({ model: MODEL, tag, environment: ENV, repoUrl: stack.repo, requestedBy: 'bench' });
  const waitFor = async (pred: (s: { waitingFor?: string }) => boolean) => {
    for (;;) {
      // Until the worker picks the release up, status refuses (there is nothing to read yet).
      const s = await client.status(MODEL, ENV).catch((err: Error) => (err.name === 'RefusedError' ? undefined : Promise.reject(err)));
      if (s && pred(s)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  try {
    await client.wait(await start('v1.0.0'));
    const traffic = sendTraffic(stack.gateway.url, MODEL, RATE);
    const abortMs: number[] = [];
    let abortFailed = 0;
    for (let i = 0; i < ROUNDS; i++) {
      const handle = await start('v1.1.0');
      await waitFor((s) => s.waitingFor === 'approval');
      const failedBefore = traffic.tally.failed;
      abortMs.push(await timeUntilRouted(stack, 'v1.0.0', () => client.act(MODEL, ENV, 'abort', { who: 'bench', text: `round ${i}` })));
      await client.wait(handle).catch(() => undefined);
      abortFailed += traffic.tally.failed - failedBefore;
    }
    emit({ name: 'abort_to_stable_100_p50', value: Math.round(quantile(abortMs, 0.5)), unit: 'ms', p99: Math.round(quantile(abortMs, 0.99)), max: Math.round(Math.max(...abortMs)), rounds: ROUNDS, rate: `${RATE}/s` });
    emit({ name: 'abort_failed_client_requests', value: abortFailed, unit: 'requests', sent: traffic.tally.total, rate: `${RATE}/s` });

    // Promote v1.1.0 so v1.0.0 is warm, then switch between them with `rollback --to`.
    const handle = await start('v1.1.0');
    await waitFor((s) => s.waitingFor === 'approval');
    await client.act(MODEL, ENV, 'promote', { who: 'bench' });
    await client.wait(handle);
    const rollbackMs: number[] = [];
    const failedBefore = traffic.tally.failed;
    for (let i = 0; i < ROUNDS; i++) {
      const to = i % 2 === 0 ? 'v1.0.0' : 'v1.1.0';
      rollbackMs.push(await timeUntilRouted(stack, to, () => client.rollback({ model: MODEL, environment: ENV, to, requestedBy: 'bench' })));
    }
    const tally = await traffic.stop();
    emit({ name: 'rollback_to_warm_version_p50', value: Math.round(quantile(rollbackMs, 0.5)), unit: 'ms', p99: Math.round(quantile(rollbackMs, 0.99)), max: Math.round(Math.max(...rollbackMs)), rounds: ROUNDS, rate: `${RATE}/s` });
    emit({ name: 'rollback_failed_client_requests', value: tally.failed - failedBefore, unit: 'requests', sent: tally.total });
  } finally {
    await removeModelContainers(stack.docker, MODEL);
    await stack.stop();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);

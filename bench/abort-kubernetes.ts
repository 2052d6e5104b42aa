/**
 * How fast an abort takes traffic back on Kubernetes, through the data plane: the example model on
 * the real node (scripts/k8s-node-up.sh), `tandem gateway --kubernetes` and `tandem worker` as
 * processes (scripts/k8s-stack.ts). Each round releases v1.1.0 as a canary over stable v1.0.0,
 * waits at the 50% approval gate and aborts (the signal the CLI sends); measured is the time from
 * the abort until every client request through the gateway is answered by stable (4 request
 * loops; the HTTPRoute is rewritten by the worker and picked up by the gateway's watch), with
 * live traffic at 50 requests/s and the failed requests counted. Prints JSON lines; prints one
 * `skipped` line when this machine cannot run the node (k8s-node-up.sh exit 3).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { K8S_ENV as ENV, observeSwitch, startKubernetesStack, startNode, type KubernetesStack } from '../scripts/k8s-stack';
import { sendTraffic } from '../scripts/stack';
import { emit } from './stats';

const ROUNDS = Number(process.env.BENCH_K8S_ABORT_ROUNDS ?? 3);
const RUN = Date.now().toString(36);
const MODEL = `bench-k8s-${RUN.slice(-5)}`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

async function main() {
  const node = startNode();
  if ('skip' in node) {
    emit({ name: 'k8s_abort_to_stable_100_median', skipped: node.skip });
    return;
  }
  const workDir = mkdtempSync(join(tmpdir(), 'tandem-bench-k8s-'));
  let stack: KubernetesStack | undefined;
  try {
    stack = await startKubernetesStack({
      kubeconfig: node.kubeconfig,
      model: MODEL,
      workDir,
      namespace: `tandem-bench-${RUN}`,
      gatewayClass: `tandem-bench-${RUN}`,
      clusterSuffix: `-bench-${RUN}`,
      temporalNamespace: 'tandem-test',
      taskQueue: `tandem-${MODEL}`,
    });
    const { client } = stack;
    const s = stack;
    const start = (tag: string) => client.start({ model: MODEL, tag, environment: ENV, repoUrl: s.repo, requestedBy: 'bench' });
    // A release can fail its health check when kube-proxy has not yet programmed the new Service's
    // ClusterIP (seen under load here: the unprogrammed address answers 404); such a setup is retried.
    const setupFailures: string[] = [];
    for (let attempt = 0; ; attempt++) {
      const failed = await client.wait(await start('v1.0.0')).then(() => undefined, (e: Error) => e.message);
      if (!failed) break;
      setupFailures.push(`v1.0.0: ${failed}`);
      if (attempt === 2) throw new Error(`v1.0.0 did not release: ${setupFailures.join('; ')}`);
    }
    const traffic = sendTraffic(stack.gatewayUrl, MODEL, 50);
    const abortMs: number[] = [];
    let failed = 0;
    let observedRequests = 0;
    for (let i = 0, attempts = 0; i < ROUNDS && attempts < 2 * ROUNDS; attempts++) {
      const handle = await start('v1.1.0');
      // undefined until a worker picks the release up
      const statusNow = () => client.status(MODEL, ENV).catch(() => undefined);
      let status = await statusNow();
      while (status?.waitingFor !== 'approval' && !status?.outcome) {
        await new Promise((r) => setTimeout(r, 100));
        status = await statusNow();
      }
      if (status.outcome) {
        setupFailures.push(`v1.1.0 ended before its approval gate: ${status.reason}`);
        continue;
      }
      i++;
      const seen = await observeSwitch(stack.gatewayUrl, MODEL, 'v1.0.0', () => client.act(MODEL, ENV, 'abort', { who: 'bench', text: `round ${abortMs.length}` }));
      abortMs.push(seen.ms);
      failed += seen.failed;
      observedRequests += seen.requests;
      await client.wait(handle).catch(() => undefined);
    }
    const tally = await traffic.stop();
    emit({ name: 'k8s_abort_to_stable_100_median', value: Math.round(median(abortMs)), unit: 'ms', max: Math.round(Math.max(...abortMs)), runs: abortMs.map(Math.round), rounds: ROUNDS, path: 'abort → worker → HTTPRoute → tandem gateway --kubernetes → client' });
    emit({ name: 'k8s_abort_failed_client_requests', value: failed + tally.failed, unit: 'requests', sent: observedRequests + tally.total, rate: '50/s + 4 loops' });
    if (setupFailures.length) emit({ name: 'k8s_abort_setup_retries', value: setupFailures.length, unit: 'releases', reasons: setupFailures });
  } finally {
    await stack?.stop();
    await stack?.remove();
    rmSync(workDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);

/**
 * npm run demo -- --kubernetes: the demo on the Kubernetes cluster of scripts/k8s-node-up.sh (the
 * real node runs the versions' pods). `tandem gateway --kubernetes` (the Gateway API data plane)
 * and `tandem worker` run as processes as the README documents; live traffic goes through the
 * gateway while the example model's tags are released: v1.0.0 first release, v1.1.0 canary (the
 * split measured at 20% and 50%, pinned requests, approval), v1.2.0 stopped by its smoke tests,
 * an abort mid-canary (the time until every client request is answered by stable), v1.3.0
 * failing to build. Re-running starts from nothing (namespace tandem-demo is made afresh).
 *   --keep   leave the gateway and worker running at the end (Ctrl-C stops them)
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { ReleaseFailedError } from '../src/client';
import { newHistoryLines, versionsTable } from '../src/cli/format';
import type { ReleaseStatus } from '../src/workflows/messages';
import { K8S_ENV as ENV, observeSwitch, startKubernetesStack } from './k8s-stack';
import { sample, sendTraffic } from './stack';

const MODEL = 'fraud-detector';
const NAMESPACE = 'tandem-demo';
const home = join(process.env.TANDEM_HOME ?? join(homedir(), '.cache', 'tandem'), 'demo-kubernetes');
const say = (text = '') => console.log(text);
const split = (counts: Record<string, number>) => {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  return Object.entries(counts).map(([v, n]) => `${v} ${n} (${((100 * n) / total).toFixed(1)}%)`).join(', ');
};

async function main() {
  const started = Date.now();
  const keep = process.argv.includes('--keep');
  const kubeconfig = process.argv[process.argv.indexOf('--kubeconfig') + 1];
  if (!process.argv.includes('--kubeconfig') || !kubeconfig) throw new Error('usage: demo-kubernetes.ts --kubeconfig <admin kubeconfig> [--keep] (npm run demo -- --kubernetes)');
  say('tandem demo on Kubernetes: the example fraud-detector model on the real node, traffic through the Gateway API data plane\n');
  rmSync(home, { recursive: true, force: true });
  const stack = await startKubernetesStack({
    kubeconfig,
    model: MODEL,
    workDir: home,
    namespace: NAMESPACE,
    gatewayClass: 'tandem',
    clusterSuffix: '',
    temporalNamespace: 'default',
    taskQueue: 'tandem-k8s',
    actor: 'demo-operator',
    gatewayPort: Number(process.env.TANDEM_GATEWAY_PORT ?? 7080),
    gatewayAdminPort: Number(process.env.TANDEM_GATEWAY_ADMIN_PORT ?? 7081),
  });
  const tandem = `./bin/tandem.js --config ${stack.configPath}`;
  say(`  gateway   ${stack.gatewayUrl}/${MODEL}/predict   (tandem gateway --kubernetes … --gateway-class tandem, pid ${stack.gateway.child.pid})`);
  say(`  worker    tandem worker --config ${stack.configPath}   (pid ${stack.worker.child.pid})`);
  say(`  cluster   namespace ${NAMESPACE}, Gateway public, versions on node tandem-node-0; KUBECONFIG=${kubeconfig}\n`);

  const { client } = stack;
  const cli = async (...args: string[]) => {
    say(`   $ tandem ${args.join(' ')}`);
    const { code, out } = await stack.cli(...args);
    if (code !== 0) throw new Error(`tandem ${args.join(' ')} exited ${code}: ${out}`);
  };
  const release = async (tag: string, title: string, during?: (s: ReleaseStatus) => Promise<boolean>) => {
    say(`── ${tag}: ${title}`);
    const handle = await client.start({ model: MODEL, tag, environment: ENV, repoUrl: stack.repo, requestedBy: 'demo' });
    let printed = 0;
    let busy: Promise<void> | undefined;
    let finished = false;
    const onChange = (s: ReleaseStatus) => {
      for (const line of newHistoryLines(s, printed)) say(`   ${line}`);
      printed = s.history.length;
      if (during && !busy && !finished && !s.outcome) {
        busy = during(s).then((f) => {
          finished = f;
          busy = undefined;
        });
      }
    };
    let outcome: string;
    try {
      outcome = (await client.wait(handle, onChange, 250)).outcome ?? '';
    } catch (err) {
      if (!(err instanceof ReleaseFailedError)) throw err;
      outcome = `${(err.status as ReleaseStatus | undefined)?.outcome ?? 'failed'}: ${err.message.split('\n')[0]}`;
    }
    await busy;
    say(`   => ${outcome}\n`);
  };

  await release('v1.0.0', 'the first release goes straight to 100%');
  const traffic = sendTraffic(stack.gatewayUrl, MODEL, 30);
  say('   live traffic: 30 requests/s through the gateway from now on\n');

  let measured20 = false;
  await release('v1.1.0', 'new weights as a canary: the split measured at each weight, pins, approval', async (s) => {
    if (!measured20 && s.steps[0]?.status === 'done') {
      measured20 = true;
      await cli('release', 'pause', MODEL, '--env', ENV);
      say(`   measured at 20%, 400 requests: ${split(await sample(stack.gatewayUrl, MODEL, 400))}`);
      await cli('release', 'resume', MODEL, '--env', ENV);
      return false;
    }
    if (s.waitingFor !== 'approval') return false;
    say(`   measured at 50%, 400 requests: ${split(await sample(stack.gatewayUrl, MODEL, 400))}`);
    for (const v of ['v1.0.0', 'v1.1.0']) say(`   pinned X-Model-Version: ${v}, 20 requests: ${split(await sample(stack.gatewayUrl, MODEL, 20, { 'X-Model-Version': v }))}`);
    await cli('release', 'approve', MODEL, '--env', ENV, '--comment', 'canary looks healthy');
    return true;
  });

  await release('v1.2.0', 'predictions fail: its smoke tests stop it before it takes traffic');

  let abortMs = 0;
  await release('v1.0.0', 'released again as a canary, then aborted at the 50% step', async (s) => {
    if (s.waitingFor !== 'approval') return false;
    const seen = await observeSwitch(stack.gatewayUrl, MODEL, 'v1.1.0', () => cli('release', 'abort', MODEL, '--env', ENV, '--reason', 'changed my mind'));
    abortMs = seen.ms;
    say(`   every client request answered by stable v1.1.0 ${Math.round(seen.ms)} ms after the abort command started (the CLI took ${Math.round(seen.triggerMs)} ms); ${seen.failed} of ${seen.requests} requests failed meanwhile`);
    return true;
  });

  await release('v1.3.0', 'a Dockerfile step fails: nothing is deployed');

  const tally = await traffic.stop();
  say('── running versions');
  say(versionsTable(await client.versions(MODEL, ENV)).replace(/^/gm, '   '));
  say('');
  say(`client requests through the gateway: ${tally.total} sent, ${tally.failed} failed (${Object.entries(tally.byVersion).map(([v, n]) => `${v}: ${n}`).join(', ')})`);
  if (tally.failed) say(`   failures: ${tally.errors.join('; ')}`);
  say(`abort → 100% stable as the client saw it: ${Math.round(abortMs)} ms`);
  say(`demo took ${((Date.now() - started) / 1000).toFixed(0)} s`);

  if (keep) {
    say(`\nThe gateway and worker keep running (Ctrl-C stops them). Try:`);
    say(`   curl -s -XPOST ${stack.gatewayUrl}/${MODEL}/predict -H 'X-Model-Version: v1.0.0' -d '{"amount":900,"country_risk":0.7,"velocity":4,"new_device":1}'`);
    say(`   ${tandem} versions ${MODEL}`);
    say(`   KUBECONFIG=${kubeconfig} kubectl -n ${NAMESPACE} get httproute ${MODEL} -o yaml`);
    await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  }
  await stack.stop();
  // The versions' pods hold the real node's CPU (250m each): leaving them would starve whatever
  // runs on the node next (the tests, another demo).
  await stack.remove();
  say(`removed namespace ${NAMESPACE} (its versions' pods) from the node`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`demo failed: ${(err as Error).stack ?? err}`);
    process.exit(1);
  },
);

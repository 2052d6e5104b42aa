/**
 * Infrastructure restarted mid-release (issue #8, "The fault suite"): the Kubernetes API server,
 * the tandem gateway and the Temporal server, each while a release is under way. Every release
 * must resume and end as it would have (promoted), and what was serving must keep serving.
 * (The Docker engine and registry restarts are test/faults/docker-engine.test.ts.)
 *
 * 1. Kubernetes API server SIGKILLed while deployVersion waits for readiness on the real control
 *    plane (scripts/k8s-up.sh; KWOK nodes), then started again by the same script. Driven at the
 *    workflow level: the real release workflow on a worker whose activities are the real ones
 *    (Git, image build and push, KubernetesTarget, Gateway API router) except verifyVersion and
 *    analyzeVersion, which are doubles — on KWOK nothing serves HTTP, so a real health check
 *    could never pass. Expected: promoted, exactly one Deployment of the version. To be sure the
 *    kill lands while the deploy waits (KWOK makes pods Ready within a second), the test's own
 *    namespace holds a ResourceQuota that admits no more pods than stable's until the API server
 *    is back; the hold is then lifted.
 *    The control plane is the suite's own (started by its scripts): only the kube-apiserver whose
 *    pid k8s-up.sh recorded is killed, the test checks that the script restarted only it, and the
 *    plane is brought back in a finally block and checked with GET /readyz.
 * 2. The tandem gateway (scripts/stack.ts, in-process) restarted while a canary sits in a pause
 *    under live client traffic: the release's next traffic change reaches the new gateway with
 *    the new admin token, it is promoted, and every request not in flight during the restart
 *    succeeds (failures during and outside the restart window are counted and printed).
 * 3. The Temporal dev server (scripts/temporal-up.sh) SIGKILLed during a canary pause with the
 *    real Docker stack under live traffic, then started again from its SQLite file: the release
 *    resumes and is promoted; no request outside the restart fails.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Docker from 'dockerode';
import * as k8s from '@kubernetes/client-node';
import type { WorkflowHandle } from '@temporalio/client';
import { simpleGit } from 'simple-git';
import { parse as parseYaml, parseDocument } from 'yaml';
import { labelFilters } from '../../src/naming/docker';
import { createGitActivities } from '../../src/activities/git/resolve-tag';
import { createImageActivities } from '../../src/activities/image';
import { createPolicyActivities } from '../../src/activities/policy/resolve-policy';
import { createWorld } from '../doubles/world';
import { MERGE } from '../../src/activities/kubernetes/client';
import { KubernetesTarget } from '../../src/activities/kubernetes/target';
import { createEnvironmentActivities } from '../../src/activities/release';
import type { Environment } from '../../src/activities/target';
import { GatewayApiRouter } from '../../src/activities/traffic/gateway-api-router';
import type { AnalysisResult, VerifyResult } from '../../src/activities/types';
import type { TandemClient } from '../../src/client';
import { labelSelector, selectorLabels, workloadName } from '../../src/naming/kubernetes';
import { specSchema } from '../../src/model-spec/schema';
import { statusQuery, type ReleaseStatus } from '../../src/workflows/messages';
import { createExampleRepo } from '../../scripts/example-repo';
import { ENV as DOCKER_ENV, removeModelContainers, sample, startStack, type Stack } from '../../scripts/stack';
import { applyTestGatewayClass, createTestGateway, createTestNamespace, eventually, startControlPlane } from '../helpers/kubernetes';
import { connectClient, ensureTemporal, NAMESPACE, ROOT, startWorker, uniqueQueue, type RunningWorker } from '../helpers/temporal';
import { apiServerReady, controlPlanePids, controlPlaneUp, killApiServer, killTemporalServer, temporalServerPid, temporalUp } from './helpers/infra-processes';
import { describeSplit, splitByWindows, timedTraffic } from './helpers/timed-traffic';

const RUN = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 5)}`;
const REQUESTED_BY = 'fault-suite';

/**
 * Tags `tag` on a commit on top of `from` whose tandem.yaml is `from`'s with `changes` applied
 * (top-level keys replaced), on a branch of its own; the main branch is left as it was.
 */
async function addVersion(repo: string, tag: string, from: string, changes: Record<string, unknown>): Promise<void> {
  const git = simpleGit({ baseDir: repo });
  await git.checkout(['-b', `fault-${tag}`, from]);
  const file = join(repo, 'tandem.yaml');
  const doc = parseDocument(readFileSync(file, 'utf8'));
  for (const [key, value] of Object.entries(changes)) doc.set(key, doc.createNode(value));
  writeFileSync(file, doc.toString());
  await git.add('tandem.yaml');
  await git.commit(`${tag}: ${from} with ${Object.keys(changes).join(', ')} for the infrastructure restart faults`);
  await git.addAnnotatedTag(tag, tag);
  await git.checkout('main');
}

/**
 * The attempt of the (last) run of each activity of a workflow, from its history, and why the
 * attempt before it failed (the history records only the last attempt, with the previous failure).
 */
async function activityAttempts(handle: WorkflowHandle, lastFailures: Record<string, string> = {}): Promise<Record<string, number[]>> {
  const history = await handle.fetchHistory();
  const names = new Map<number, string>();
  const attempts: Record<string, number[]> = {};
  for (const event of history.events ?? []) {
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (scheduled) names.set(Number(event.eventId), scheduled.activityType?.name ?? '?');
    const started = event.activityTaskStartedEventAttributes;
    if (started) {
      const name = names.get(Number(started.scheduledEventId)) ?? '?';
      (attempts[name] ??= []).push(started.attempt ?? 1);
      if (started.lastFailure?.message) lastFailures[name] = started.lastFailure.message;
    }
  }
  return attempts;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)}s`;

/**
 * client.wait, bounded: when the release has not ended after `ms`, fails with what it is doing
 * (status, pending activities and workflow task, the last history events) and `phases`.
 */
async function waitWithin(client: TandemClient, handle: WorkflowHandle, ms: number, phases: string[]): Promise<ReleaseStatus> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  const waiting = client.wait(handle);
  try {
    const first = await Promise.race([waiting, timedOut]);
    if (first !== 'timeout') return first;
  } finally {
    clearTimeout(timer);
  }
  waiting.catch(() => undefined);
  const facts: string[] = [...phases];
  const description = await handle.describe().catch((e: unknown) => facts.push(`describe failed: ${String(e)}`));
  if (description && typeof description === 'object') {
    facts.push(`workflow ${description.status.name}; history length ${description.historyLength}`);
    for (const a of description.raw.pendingActivities ?? []) {
      facts.push(`pending activity ${a.activityType?.name} attempt ${a.attempt} state ${a.state} last failure ${a.lastFailure?.message ?? '-'}`);
    }
    const task = description.raw.pendingWorkflowTask;
    if (task) facts.push(`pending workflow task state ${task.state} attempt ${task.attempt}`);
  }
  const query = await handle.query(statusQuery).catch((e: unknown) => `query failed: ${String(e)}`);
  if (typeof query === 'string') facts.push(query);
  else facts.push(`stage ${query.stage}; steps ${query.steps.map((st) => `${st.description}=${st.status}`).join(', ')}; last: ${query.history.at(-1)?.message}`);
  const history = await handle.fetchHistory().catch(() => undefined);
  facts.push(`last events: ${(history?.events ?? []).slice(-8).map((e) => `${e.eventId} ${String(e.eventType)}`).join(', ')}`);
  assert.fail(`the release did not end within ${seconds(ms)}:\n  ${facts.join('\n  ')}`);
}

describe('Kubernetes API server restarted while a release waits for its Deployment to become ready', { timeout: 7 * 60_000 }, () => {
  const NS = `tandem-fault-${RUN}`;
  const MODEL = `fd-apiserver-${RUN.slice(-6)}`;
  const ENV = 'k8s';
  const GATEWAY = 'tandem-fault-gateway';
  const STABLE = 'v1.0.0';
  // a tag the example does not have (its own run v1.0.0 … v1.5.0): addVersion adds it
  const CANDIDATE = 'v9.0.0';
  const HOLD = 'fault-suite-hold-pods';
  let kc: k8s.KubeConfig;
  let core: k8s.CoreV1Api;
  let apps: k8s.AppsV1Api;
  let target: KubernetesTarget;
  let router: GatewayApiRouter;
  let worker: RunningWorker | undefined;
  let client: TandemClient | undefined;
  let repo: string;
  let workDir: string;
  const doubles = { verify: 0, analyze: 0 };

  before(async () => {
    ensureTemporal();
    execFileSync('bash', [join(ROOT, 'scripts', 'docker-up.sh')], { stdio: 'ignore' });
    ({ kc } = startControlPlane());
    core = kc.makeApiClient(k8s.CoreV1Api);
    apps = kc.makeApiClient(k8s.AppsV1Api);
    await createTestNamespace(kc, NS, RUN);
    await applyTestGatewayClass(kc);
    await createTestGateway(kc, NS, GATEWAY);
    target = new KubernetesTarget(kc, { namespace: NS, progressEveryMs: 1000 });
    router = new GatewayApiRouter(kc, { namespace: NS, gateway: GATEWAY });

    workDir = mkdtempSync(join(tmpdir(), 'tandem-fault-apiserver-'));
    repo = (await createExampleRepo(join(workDir, 'fraud-detector'))).path;
    // A readyTimeout (also the Deployment's progress deadline) long enough for the restart, and a
    // canary without approval, so the release ends by itself.
    await addVersion(repo, CANDIDATE, STABLE, { readyTimeout: '5m', rollout: { strategy: 'canary', steps: [{ setWeight: 50 }, { pause: { duration: '1s' } }] } });

    const environment: Environment = {
      target: new KubernetesTarget(kc, { namespace: NS, progressEveryMs: 1000 }),
      router: new GatewayApiRouter(kc, { namespace: NS, gateway: GATEWAY }),
      analyzer: { analyze: () => Promise.reject(new Error('not used: analyzeVersion is a double')) },
      builder: createImageActivities({ docker: new Docker(), registry: { url: '127.0.0.1:5000', insecure: true }, buildArgs: { BASE_IMAGE: 'tandem/node-base:20' }, workDir: join(workDir, 'git') }),
    };
    const { notificationSinks, sendNotification, nextInPath, stepIntoPath } = createWorld({ specs: {} }).activities;
    const configOnly = { notificationSinks, sendNotification, nextInPath, stepIntoPath };
    const activities = {
      ...createGitActivities({ cacheDir: join(workDir, 'git') }),
      ...createEnvironmentActivities({ [ENV]: environment }, () => Promise.reject(new Error('not used: verifyVersion is a double'))),
      // The default policy (anyone, one approval), read as tandem worker reads it from a configuration without one.
      ...createPolicyActivities({ sources: { environments: { [ENV]: {} }, models: {} } }),
      // No receivers of notifications and no path, as a configuration without them answers.
      ...configOnly,
      // Doubles: KWOK pods serve nothing, so the health check and the analysis cannot be real here.
      async verifyVersion(): Promise<VerifyResult> {
        doubles.verify++;
        return { checks: [{ check: 'double (KWOK pods serve no HTTP)', ok: true, observed: 'not measured' }] };
      },
      async analyzeVersion(): Promise<AnalysisResult> {
        doubles.analyze++;
        return { outcome: 'pass', requests: 0, errorRate: 0, detail: 'double (KWOK pods serve no HTTP)' };
      },
    };
    const queue = uniqueQueue('fault-apiserver');
    worker = await startWorker(queue, activities);
    client = await connectClient(queue);
  });

  after(async () => {
    // Whatever happened, leave the suite's control plane whole.
    if (!(await apiServerReady(kc))) await controlPlaneUp();
    await client?.close();
    await worker?.stop();
    await core?.deleteNamespace({ name: NS }).catch(() => undefined);
    rmSync(workDir, { recursive: true, force: true });
  });

  it('the deploy resumes after the restart and the release is promoted with one Deployment of the version', async () => {
    const started = Date.now();
    // Stable, put in place with the adapters (no release can pass a health check on KWOK).
    const spec = specSchema.parse(parseYaml(readFileSync(join(ROOT, 'examples/fraud-detector/tandem.yaml'), 'utf8')));
    const stableCommit = (await simpleGit(repo).revparse([`${STABLE}^{commit}`])).trim();
    await target.apply({ model: MODEL, version: STABLE, commit: stableCommit, image: `127.0.0.1:5000/${MODEL}:${STABLE}`, digest: `sha256:${'ab'.repeat(32)}`, releaseId: `fault/${MODEL}/${STABLE}`, spec });
    await target.waitReady(MODEL, STABLE, 60_000, () => undefined);
    await router.setState(MODEL, { weights: { [STABLE]: 100 }, pinned: [STABLE], stable: STABLE });

    // The hold: no pod beyond stable's two is admitted in this namespace.
    await core.createNamespacedResourceQuota({ namespace: NS, body: { metadata: { name: HOLD }, spec: { hard: { pods: '2' } } } });
    await eventually('the quota counts stable pods', async () => {
      const quota = await core.readNamespacedResourceQuota({ name: HOLD, namespace: NS });
      return quota.status?.used?.pods === '2' ? true : undefined;
    });

    const handle = await client!.start({ model: MODEL, tag: CANDIDATE, environment: ENV, repoUrl: repo, requestedBy: REQUESTED_BY });
    // deployVersion has applied the Deployment and its readiness wait has reported progress.
    const pending = await eventually(
      'deployVersion waiting for readiness',
      async () => {
        const description = await handle.describe().catch(() => undefined);
        const activity = description?.raw.pendingActivities?.find((a) => a.activityType?.name === 'deployVersion');
        return activity?.heartbeatDetails?.payloads?.length ? activity : undefined;
      },
      240_000,
    );
    assert.equal(pending.attempt, 1);
    const deployment = await apps.readNamespacedDeployment({ name: workloadName(MODEL, CANDIDATE), namespace: NS });
    assert.equal(deployment.status?.availableReplicas ?? 0, 0, 'the candidate is not ready yet (held by the quota)');
    await sleep(1500); // the watches are open
    const deployingSince = Date.now();

    // The fault: SIGKILL the API server, leave it down a moment, start it again with the script.
    const before = controlPlanePids();
    let killed: number | undefined;
    let downFor = 0;
    try {
      killed = await killApiServer();
      const downAt = Date.now();
      await sleep(1000);
      await controlPlaneUp();
      downFor = Date.now() - downAt;
    } finally {
      if (!(await apiServerReady(kc))) await controlPlaneUp();
    }
    assert.ok(await apiServerReady(kc), 'GET /readyz answers ok after the restart');
    const afterRestart = controlPlanePids();
    assert.ok(afterRestart['kube-apiserver'] !== undefined && afterRestart['kube-apiserver'] !== killed, `a new kube-apiserver runs: ${JSON.stringify(afterRestart)}`);
    for (const name of ['etcd', 'kube-controller-manager', 'kube-scheduler', 'kwok'] as const) {
      assert.equal(afterRestart[name], before[name], `k8s-up.sh restarted only the API server; ${name} kept its process`);
    }

    // Lift the hold. The ReplicaSet controller backs off after refused creates (up to tens of
    // seconds by now), so touch the ReplicaSet for it to try again at once.
    await core.deleteNamespacedResourceQuota({ name: HOLD, namespace: NS });
    const replicaSets = await apps.listNamespacedReplicaSet({ namespace: NS, labelSelector: labelSelector(selectorLabels(MODEL, CANDIDATE)) });
    for (const rs of replicaSets.items) {
      await apps.patchNamespacedReplicaSet({ name: rs.metadata!.name!, namespace: NS, body: { metadata: { annotations: { 'tandem.dev/fault-suite-nudge': new Date().toISOString() } } } }, MERGE);
    }

    const status = await waitWithin(client!, handle, 300_000, [`API server back after ${seconds(downFor)}`]);
    const lastFailures: Record<string, string> = {};
    const attempts = await activityAttempts(handle, lastFailures);
    const story = `${status.history.map((h) => `  ${h.message}`).join('\n')}\nattempts ${JSON.stringify(attempts)}`;
    assert.equal(status.outcome, 'promoted', story);
    assert.equal(status.previousStable, STABLE);
    assert.deepEqual(attempts.deployVersion?.length, 1, 'one deployVersion activity');
    assert.deepEqual(attempts.buildImage?.length, 1, 'one build');

    // Exactly one Deployment of the version, all its replicas available; stable kept warm.
    const candidates = await apps.listNamespacedDeployment({ namespace: NS, labelSelector: labelSelector(selectorLabels(MODEL, CANDIDATE)) });
    assert.equal(candidates.items.length, 1, `one Deployment of ${CANDIDATE}: ${candidates.items.map((d) => d.metadata?.name).join(', ')}`);
    assert.equal(candidates.items[0]!.status?.availableReplicas, 2);
    const all = await apps.listNamespacedDeployment({ namespace: NS, labelSelector: labelSelector(selectorLabels(MODEL)) });
    assert.deepEqual(all.items.map((d) => d.metadata?.name).sort(), [workloadName(MODEL, CANDIDATE), workloadName(MODEL, STABLE)].sort());
    const stable = await apps.readNamespacedDeployment({ name: workloadName(MODEL, STABLE), namespace: NS });
    assert.equal(stable.status?.availableReplicas, 2, 'the previous stable kept its replicas');
    const route = await router.getState(MODEL);
    assert.deepEqual(route.weights, { [CANDIDATE]: 100 });
    assert.equal(route.stable, CANDIDATE);
    assert.equal(doubles.verify, 1);

    const deployAttempt = attempts.deployVersion![0]!;
    const killedAt = deployingSince;
    // When the cluster had the pods Ready and the rollout complete (second precision), and when
    // the release saw it: after an API server restart the controllers, scheduler and KWOK resume
    // their watches with client-go's backoff (up to tens of seconds), so the cluster itself lags.
    const pods = await core.listNamespacedPod({ namespace: NS, labelSelector: labelSelector(selectorLabels(MODEL, CANDIDATE)) });
    const podsReadyAt = Math.max(...pods.items.map((p) => new Date(p.status?.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime ?? 0).getTime()));
    const progressing = candidates.items[0]!.status?.conditions?.find((c) => c.type === 'Progressing' && c.reason === 'NewReplicaSetAvailable');
    const completeAt = new Date(progressing?.lastUpdateTime ?? 0).getTime();
    const sawReadyAt = Date.parse(status.history.find((h) => h.message.includes(`replicas of ${CANDIDATE} ready`))?.at ?? '');
    const timeline = status.history.map((h) => `#   ${seconds(Date.parse(h.at) - killedAt)} ${h.message}`).join('\n');
    if (sawReadyAt - completeAt > 10_000) console.log(`# slow to finish after the restart; timeline from the kill:\n${timeline}`);
    console.log(
      `# apiserver: pid ${killed} SIGKILLed, back (k8s-up.sh restarted only it) after ${seconds(downFor)}; deployVersion ended on attempt ${deployAttempt} ` +
        `(${deployAttempt === 1 ? 'its watch reconnected' : `the activity was retried; the attempt before failed with: ${lastFailures.deployVersion ?? '?'}`}), ${seconds(Date.now() - deployingSince)} from the kill to promoted; ` +
        `after the kill: pods Ready at ${seconds(podsReadyAt - killedAt)}, Deployment complete at ${seconds(completeAt - killedAt)}, seen by the release at ${seconds(sawReadyAt - killedAt)}; 1 Deployment of ${CANDIDATE}; whole test ${seconds(Date.now() - started)}`,
    );
  });
});

describe('the Docker stack under live traffic: gateway and Temporal server restarted mid-release', { timeout: 6 * 60_000 }, () => {
  const MODEL = `fd-restart-${RUN.slice(-6)}`;
  const STABLE = 'v1.0.0';
  let stack: Stack;
  let workDir: string;

  /** The canary's rollout: `pause` is where the fault happens. */
  const rollout = (pause: string) => ({
    strategy: 'canary',
    steps: [{ setWeight: 20 }, { pause: { duration: pause } }, { analysis: { interval: '2s', count: 2, maxErrorRate: 0.05, minRequests: 3 } }, { setWeight: 50 }, { pause: { duration: '2s' } }],
  });

  const release = async (tag: string) => stack.client.start({ model: MODEL, tag, environment: DOCKER_ENV, repoUrl: stack.repo, requestedBy: REQUESTED_BY });
  const until = async (pred: (s: ReleaseStatus) => boolean, what: string, timeoutMs = 240_000): Promise<ReleaseStatus> => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const s = await stack.client.status(MODEL, DOCKER_ENV).catch(() => undefined);
      if (s && pred(s)) return s;
      if (s?.outcome) assert.fail(`release ${s.version} ended (${s.outcome}: ${s.reason}) before ${what}`);
      await sleep(100);
    }
    assert.fail(`timed out waiting for ${what}`);
  };
  const inPause = (version: string) => (s: ReleaseStatus) => s.version === version && s.steps.some((step) => step.description.startsWith('pause') && step.status === 'running') && s.steps[0]?.status === 'done';
  const containersOf = async (version: string) => stack.docker.listContainers({ filters: { label: labelFilters(MODEL, version) } });

  before(async () => {
    workDir = mkdtempSync(join(tmpdir(), 'tandem-fault-restart-'));
    stack = await startStack({ model: MODEL, workDir, namespace: NAMESPACE });
    // v2.0.0 is v1.1.0 (other weights, its own smoke answers), v2.1.0 is v1.0.0 again; both with a
    // canary that pauses long enough for a restart, and no approval.
    await addVersion(stack.repo, 'v2.0.0', 'v1.1.0', { rollout: rollout('10s') });
    await addVersion(stack.repo, 'v2.1.0', 'v1.0.0', { rollout: rollout('15s') });
    const first = await stack.client.wait(await release(STABLE));
    assert.equal(first.outcome, 'promoted');
  });

  after(async () => {
    if (temporalServerPid() === undefined) await temporalUp();
    if (stack) {
      await removeModelContainers(stack.docker, MODEL);
      await stack.stop();
    }
    rmSync(workDir, { recursive: true, force: true });
  });

  it('the gateway restarted during a canary pause: the next traffic change reaches the new gateway, promoted, stable kept serving', async () => {
    const started = Date.now();
    const candidate = 'v2.0.0';
    const traffic = timedTraffic(stack.gateway.url, MODEL, 20);
    try {
      const handle = await release(candidate);
      const paused = await until(inPause(candidate), `${candidate} in its pause`);
      assert.deepEqual(paused.weights, { [candidate]: 20, [STABLE]: 80 });
      await sleep(1000);
      const oldToken = stack.gatewayToken;
      const from = Date.now();
      await stack.restartGateway();
      const to = Date.now();
      assert.notEqual(stack.gatewayToken, oldToken, 'the restarted gateway has a new admin token');

      const status = await waitWithin(stack.client, handle, 120_000, [`gateway restarted at ${seconds(from - started)}`]);
      const records = await traffic.stop();
      const split = splitByWindows(records, [{ from, to }]);
      const story = status.history.map((h) => `  ${h.message}`).join('\n');
      assert.equal(status.outcome, 'promoted', story);
      const at50 = status.steps.find((s) => s.description === `send 50% of traffic to ${candidate}`);
      assert.ok(at50?.status === 'done' && Date.parse(at50.finishedAt!) > to, `the 50% step ran after the restart, on the new gateway: ${JSON.stringify(at50)}`);
      const state = await stack.client.versions(MODEL, DOCKER_ENV);
      assert.deepEqual(state.traffic.weights, { [candidate]: 100 });
      assert.equal(state.traffic.stable, candidate);
      assert.deepEqual(await sample(stack.gateway.url, MODEL, 20), { [candidate]: 20 });
      assert.equal((await containersOf(candidate)).length, 2, `${candidate} runs its 2 replicas, no more`);
      assert.ok(split.outside.total > 100, describeSplit(split));
      assert.equal(split.outside.failed, 0, `no request outside the restart window fails: ${describeSplit(split)}`);
      console.log(`# gateway restart took ${seconds(to - from)}: ${describeSplit(split)}; test ${seconds(Date.now() - started)}`);
    } finally {
      await traffic.stop();
    }
  });

  it('the Temporal server SIGKILLed during a canary pause and started again: the release resumes, promoted, stable kept serving', async () => {
    const started = Date.now();
    const candidate = 'v2.1.0';
    // v2.0.0 when the gateway fault ran before, else v1.0.0
    const previous = (await stack.client.versions(MODEL, DOCKER_ENV)).traffic.stable!;
    const traffic = timedTraffic(stack.gateway.url, MODEL, 20);
    try {
      const phases: string[] = [];
      const phase = (what: string) => phases.push(`${seconds(Date.now() - started)} ${what}`);
      const handle = await release(candidate);
      phase(`started ${handle.workflowId}`);
      const paused = await until(inPause(candidate), `${candidate} in its pause`);
      phase('in the pause');
      assert.deepEqual(paused.weights, { [candidate]: 20, [previous]: 80 });
      await sleep(1000);
      const from = Date.now();
      let killed: number | undefined;
      try {
        killed = await killTemporalServer();
        phase(`server pid ${killed} killed`);
        await sleep(1000);
      } finally {
        await temporalUp();
      }
      const to = Date.now();
      phase(`server pid ${temporalServerPid()} up`);
      assert.notEqual(temporalServerPid(), killed, 'a new dev server runs');

      const status = await waitWithin(stack.client, handle, 120_000, phases);
      const records = await traffic.stop();
      const split = splitByWindows(records, [{ from, to }]);
      const story = status.history.map((h) => `  ${h.message}`).join('\n');
      assert.equal(status.outcome, 'promoted', story);
      const pause = status.steps.find((s) => s.description.startsWith('pause 15'));
      assert.ok(pause && Date.parse(pause.startedAt!) < from && Date.parse(pause.finishedAt!) > from, `the pause spanned the restart: ${JSON.stringify(pause)}`);
      const state = await stack.client.versions(MODEL, DOCKER_ENV);
      assert.deepEqual(state.traffic.weights, { [candidate]: 100 });
      assert.deepEqual(await sample(stack.gateway.url, MODEL, 20), { [candidate]: 20 });
      assert.equal((await containersOf(candidate)).length, 2, `${candidate} runs its 2 replicas, no more`);
      const attempts = await activityAttempts(handle);
      for (const name of ['resolveTag', 'buildImage', 'deployVersion', 'verifyVersion']) assert.equal(attempts[name]?.length, 1, `${name} ran once: ${JSON.stringify(attempts)}`);
      assert.ok(split.outside.total > 100, describeSplit(split));
      assert.equal(split.outside.failed, 0, `no request outside the restart window fails: ${describeSplit(split)}`);
      console.log(`# Temporal server pid ${killed} SIGKILLed, back after ${seconds(to - from)}: ${describeSplit(split)}; test ${seconds(Date.now() - started)}`);
    } finally {
      await traffic.stop();
    }
  });
});

/**
 * A small in-memory world for workflow tests: a Target, TrafficRouter, Analyzer and ImageBuilder
 * that keep their state in memory, with failures that tests switch on. The activities the workflow
 * calls are the real ones (createEnvironmentActivities), so a double cannot skip a check the real
 * activity makes (weights summing to 100, no weight for a version without ready replicas, pins
 * only to running versions). Only resolveTag is a double: it reads tandem.yaml from `specs`
 * instead of a Git repository, through the real parser. Every completed call is recorded so
 * tests can check what ran and how often.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { createEnvironmentActivities, type HealthChecks } from '../../src/activities/release';
import type { AgreementAnalyzer, Analyzer, Environment, ImageBuilder, Target, TrafficRouter, VersionWorkload } from '../../src/activities/target';
import type { DisagreementSample, ReleaseActivities, ReleaseNotice, RunningVersion, TrafficState } from '../../src/activities/types';
import { NOTIFICATION_EVENTS, type NotificationEvent } from '../../src/naming/notifications';
import { FailureType } from '../../src/errors';
import { judgeAgreement } from '../../src/activities/analysis/agreement';
import { parseSpec } from '../../src/model-spec/parse';
import { createPolicyActivities } from '../../src/activities/policy/resolve-policy';
import type { PolicyInput } from '../../src/policy/resolve';
import type { DeployWindow } from '../../src/policy/deploy-windows';
import { createPathActivities } from '../../src/activities/path/next-in-path';
import type { PathInput } from '../../src/config/path-schema';

export interface WorldOptions {
  /** tandem.yaml per tag; a missing tag gives TagNotFound */
  specs: Record<string, string>;
  running?: RunningVersion[];
  traffic?: TrafficState;
  buildFailure?: 'non-retryable' | { transientFailures: number };
  deployDelayMs?: number;
  failingChecks?: string[];
  /** outcome of every analysis window, or of each in turn (the last repeats) */
  analysis?: Outcome | Outcome[];
  /** what the gateway compared in each shadow window, in turn (the last repeats), judged by the real agreement verdict; default all agree */
  shadow?: Array<{ agree: number; disagree: number; notCompared?: number; samples?: DisagreementSample[] }>;
  /** the environment's approval policy (through the real resolvePolicy) and serve's verify key (hex) */
  policy?: { production?: boolean; policy?: PolicyInput; verifyKey?: string; deployWindows?: DeployWindow[] };
  /** notification receivers (default: none); `refuses` ones reject every notification (non-retryable) */
  notifications?: { kind: 'webhook' | 'slack'; events?: NotificationEvent[]; refuses?: boolean }[];
  /** the model's path (models.<name>.path), answered by the real nextInPath */
  path?: PathInput;
  /** digests the registry holds; worlds given the same set share one registry (default: a registry of their own) */
  registry?: Set<string>;
}

type Outcome = 'pass' | 'fail' | 'inconclusive';

export interface Call {
  name: string;
  input: unknown;
  attempt: number;
}

/** The environment name every double world answers to (the activities refuse any other). */
export const WORLD_ENVIRONMENT = 'staging';

export function createWorld(options: WorldOptions) {
  const versions = new Map((options.running ?? []).map((v) => [v.version, { ...v }]));
  let traffic: TrafficState = options.traffic ?? { weights: {}, pinned: [] };
  let transientBuildsLeft = typeof options.buildFailure === 'object' ? options.buildFailure.transientFailures : 0;
  let trafficFailuresLeft = 0;
  const restoreBlocked = new Set<string>();
  const calls: Call[] = [];
  /** notifications the receivers accepted (kept apart from `calls`: tests count release activities there) */
  const notified: { sink: string; notice: ReleaseNotice }[] = [];
  const registry = options.registry ?? new Set<string>();
  const sinks = (options.notifications ?? []).map((sink, i) => ({ id: `notifications[${i}]`, ...sink }));

  const target: Target = {
    async apply(w: VersionWorkload) {
      const existing = versions.get(w.version);
      if (existing?.commit === w.commit && existing.replicas === w.spec.replicas) return;
      versions.set(w.version, { version: w.version, commit: w.commit, image: w.image, digest: w.digest, replicas: w.spec.replicas, readyReplicas: 0, releaseId: w.releaseId, deployedAt: new Date().toISOString() });
    },
    async waitReady(_model, version, _timeoutMs, onProgress) {
      const v = versions.get(version);
      if (!v) throw new Error(`${version} is not defined`);
      if (v.readyReplicas < v.replicas && options.deployDelayMs) {
        // Context.sleep throws when the activity is cancelled, as a real wait does.
        const ctx = Context.current();
        const until = Date.now() + options.deployDelayMs;
        while (Date.now() < until) {
          onProgress(0, v.replicas);
          await ctx.sleep(Math.min(200, until - Date.now()));
        }
      }
      v.readyReplicas = v.replicas;
      return { version, replicas: v.replicas, readyReplicas: v.readyReplicas };
    },
    async list() {
      return [...versions.values()].map((v) => ({ ...v }));
    },
    async scale(_model, version, replicas) {
      const v = versions.get(version);
      if (!v || (replicas > 0 && restoreBlocked.has(version))) throw new Error(`cannot scale ${version} (engine not back yet)`);
      v.replicas = v.readyReplicas = replicas;
    },
    async remove(_model, version) {
      versions.delete(version);
    },
    async endpoint(_model, version) {
      return `http://double.test/${version}`;
    },
  };

  const router: TrafficRouter = {
    async setState(_model, state) {
      if (trafficFailuresLeft > 0) {
        trafficFailuresLeft--;
        throw new Error('router unreachable (transient)');
      }
      traffic = structuredClone(state);
    },
    async getState() {
      return structuredClone(traffic);
    },
    async remove() {
      traffic = { weights: {}, pinned: [] };
    },
  };

  const outcomes = ([] as Outcome[]).concat(options.analysis ?? 'pass');
  let windows = 0;
  const analyzer: Analyzer = {
    async analyze() {
      const outcome = outcomes[Math.min(windows++, outcomes.length - 1)]!;
      return { outcome, requests: outcome === 'inconclusive' ? 0 : 100, errorRate: outcome === 'fail' ? 0.5 : 0, detail: `error rate ${outcome === 'fail' ? '50' : '0'}%` };
    },
  };
  const shadowWindows = options.shadow ?? [{ agree: 50, disagree: 0 }];
  let shadowRound = 0;
  const agreement: AgreementAnalyzer = {
    async analyze(input) {
      const w = shadowWindows[Math.min(shadowRound++, shadowWindows.length - 1)]!;
      return judgeAgreement({ agree: w.agree, disagree: w.disagree, notCompared: w.notCompared ?? 0, samples: w.samples ?? [] }, input.rule, input.stable);
    },
  };

  const builder: ImageBuilder = {
    async buildImage(input) {
      if (options.buildFailure === 'non-retryable') {
        throw ApplicationFailure.nonRetryable('step 3/5 "RUN make" failed: exit code 2', FailureType.BuildFailed);
      }
      if (transientBuildsLeft > 0) {
        transientBuildsLeft--;
        throw new Error('registry unreachable (transient)');
      }
      registry.add(`sha256:${input.commit}`);
      return { image: `registry.test/${input.model}:${input.version}`, digest: `sha256:${input.commit}`, built: true };
    },
    async hasImage(_model, digest) {
      return registry.has(digest);
    },
  };

  const checks: HealthChecks = async (_endpoint, spec) => ({
    checks: [
      { check: 'health', ok: true, observed: 'status 200' },
      ...spec.smoke.map((smoke) => {
        const failing = options.failingChecks?.includes(smoke.name) ?? false;
        return { check: smoke.name, ok: !failing, observed: failing ? 'status 500' : 'as expected' };
      }),
    ],
  });

  const environment: Environment = { target, router, analyzer, agreement, builder };
  const real = createEnvironmentActivities({ [WORLD_ENVIRONMENT]: environment }, checks);
  /** Activities answer for whatever environment a test names: the world is one environment. */
  const inWorld = <I extends { environment: string }>(input: I): I => ({ ...input, environment: WORLD_ENVIRONMENT });

  /** What each completed call records: the parts of its input the tests look at. */
  const recorded = <I, R>(name: string, fn: (input: I) => Promise<R>, shown: (input: I) => unknown) => async (input: I): Promise<R> => {
    const result = await fn(input);
    calls.push({ name, input: shown(input), attempt: Context.current().info.attempt });
    return result;
  };

  const policies = createPolicyActivities({
    sources: { environments: { [WORLD_ENVIRONMENT]: { production: options.policy?.production, policy: options.policy?.policy, deployWindows: options.policy?.deployWindows } }, models: {} },
    verifyKey: options.policy?.verifyKey,
  });
  const activities: ReleaseActivities = {
    resolveTag: recorded(
      'resolveTag',
      async ({ tag }) => {
        const text = options.specs[tag];
        if (text === undefined) throw ApplicationFailure.nonRetryable(`tag "${tag}" not found`, FailureType.TagNotFound);
        return { tag, commit: `c0ffee${tag.replace(/\W/g, '')}`.padEnd(40, '0'), spec: parseSpec(text) };
      },
      ({ tag, model }) => ({ tag, model }),
    ),
    buildImage: recorded('buildImage', (i) => real.buildImage(inWorld(i)), (i) => i),
    checkImage: recorded('checkImage', (i) => real.checkImage(inWorld(i)), (i) => ({ image: i.image, digest: i.digest })),
    deployVersion: recorded('deployVersion', (i) => real.deployVersion(inWorld(i)), (i) => ({ version: i.version })),
    verifyVersion: recorded('verifyVersion', (i) => real.verifyVersion(inWorld(i)), (i) => ({ version: i.version })),
    describeModel: recorded('describeModel', (i) => real.describeModel(inWorld(i)), () => ({})),
    setTraffic: recorded('setTraffic', (i) => real.setTraffic(inWorld(i)), (i) => ({ weights: i.weights, pinned: i.pinned, stable: i.stable, ...(i.mirror ? { mirror: i.mirror } : {}) })),
    analyzeVersion: recorded('analyzeVersion', (i) => real.analyzeVersion(inWorld(i)), (i) => ({ version: i.version })),
    analyzeShadow: recorded('analyzeShadow', (i) => real.analyzeShadow(inWorld(i)), (i) => ({ version: i.version, stable: i.stable, windowMs: i.windowMs })),
    scaleDownVersion: recorded('scaleDownVersion', (i) => real.scaleDownVersion(inWorld(i)), (i) => ({ version: i.version })),
    restoreVersion: recorded('restoreVersion', (i) => real.restoreVersion(inWorld(i)), (i) => ({ version: i.version, replicas: i.replicas })),
    retireVersions: recorded('retireVersions', (i) => real.retireVersions(inWorld(i)), (i) => ({ versions: i.versions })),
    // Not in `calls`: tests count the release's work there, and the policy read is not part of it.
    resolvePolicy: (i) => policies.resolvePolicy(inWorld(i)),
    nextInPath: (i) => createPathActivities({ [i.model]: { path: options.path } }).nextInPath(i),
    stepIntoPath: (i) => createPathActivities({ [i.model]: { path: options.path } }).stepIntoPath(i),
    async notificationSinks({ event }) {
      return sinks.filter((s) => (s.events ?? NOTIFICATION_EVENTS).includes(event)).map(({ id, kind }) => ({ id, kind }));
    },
    async sendNotification({ sink, notice }) {
      if (sinks.find((s) => s.id === sink)?.refuses) throw ApplicationFailure.nonRetryable('receiver answered 404 (no such hook)', FailureType.NotificationRejected);
      notified.push({ sink, notice });
      return { status: 200, attempt: Context.current().info.attempt };
    },
  };

  return {
    activities,
    calls,
    notified,
    traffic: () => traffic,
    running: () => [...versions.values()].filter((v) => v.replicas > 0).map((v) => v.version),
    count: (name: string) => calls.filter((c) => c.name === name).length,
    /** the engine lost the version's replicas: it stays defined but nothing is ready */
    lose: (version: string) => {
      const v = versions.get(version);
      if (v) v.readyReplicas = 0;
    },
    /** restoring `version` fails until unblocked */
    blockRestore: (version: string, blocked = true) => (blocked ? restoreBlocked.add(version) : restoreBlocked.delete(version)),
    /** the next n router calls fail with a retryable error */
    failTraffic: (n: number) => {
      trafficFailuresLeft = n;
    },
    /** state to hand to a world in another process (see test/helpers/double-worker.ts) */
    snapshot: () => ({ running: [...versions.values()], traffic }),
  };
}

export function runningVersion(version: string, deployedAt = '2026-01-01T00:00:00.000Z'): RunningVersion {
  return { version, commit: 'a'.repeat(40), image: `registry.test/m:${version}`, digest: 'sha256:' + 'a'.repeat(64), replicas: 1, readyReplicas: 1, releaseId: 'earlier', deployedAt };
}

export const specs = {
  direct: 'port: 8080\nsmoke:\n  - name: predicts\n    request: { path: /predict, body: {} }\n    expect: { status: 200 }\n',
  canary: [
    'port: 8080',
    'smoke:',
    '  - name: predicts',
    '    request: { path: /predict, body: {} }',
    '    expect: { status: 200 }',
    'rollout:',
    '  strategy: canary',
    '  steps:',
    '    - setWeight: 20',
    '    - pause: { duration: 200ms }',
    '    - analysis: { interval: 100ms, count: 2 }',
    '    - setWeight: 50',
    '    - approval: { timeout: 1h }',
    '',
  ].join('\n'),
  approvalTimeout: 'port: 8080\nrollout:\n  strategy: canary\n  steps:\n    - setWeight: 10\n    - approval: { timeout: 1s }\n',
  pauseForever: 'port: 8080\nrollout:\n  strategy: canary\n  steps:\n    - setWeight: 10\n    - pause: {}\n',
  blueGreen: 'port: 8080\nrollout:\n  strategy: blue-green\n  previewDuration: 100ms\n',
};

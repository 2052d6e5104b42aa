/**
 * In-memory activity doubles for workflow tests: a small world of running versions and traffic
 * that behaves like a target and router would, with failures that tests switch on. Every
 * completed call is recorded so tests can check what ran and how often.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ReleaseActivities, RunningVersion, TrafficState } from '../../src/activities/types';
import { FailureType } from '../../src/errors';
import { parseSpec } from '../../src/model-spec/parse';

export interface WorldOptions {
  /** tandem.yaml per tag; a missing tag gives TagNotFound */
  specs: Record<string, string>;
  running?: RunningVersion[];
  traffic?: TrafficState;
  buildFailure?: 'non-retryable' | { transientFailures: number };
  deployDelayMs?: number;
  failingChecks?: string[];
  analysis?: 'pass' | 'fail' | 'inconclusive';
}

export interface Call {
  name: string;
  input: unknown;
  attempt: number;
}

export function createWorld(options: WorldOptions) {
  const running = new Map((options.running ?? []).map((v) => [v.version, { ...v }]));
  let traffic: TrafficState = options.traffic ?? { weights: {}, pinned: [] };
  let transientLeft = typeof options.buildFailure === 'object' ? options.buildFailure.transientFailures : 0;
  const calls: Call[] = [];
  let trafficFailuresLeft = 0;
  const restoreBlocked = new Set<string>();
  const record = (name: string, input: unknown) => calls.push({ name, input, attempt: Context.current().info.attempt });

  const activities: ReleaseActivities = {
    async resolveTag({ tag, model }) {
      const text = options.specs[tag];
      if (text === undefined) throw ApplicationFailure.nonRetryable(`tag "${tag}" not found`, FailureType.TagNotFound);
      const spec = parseSpec(text);
      record('resolveTag', { tag, model });
      return { tag, commit: `c0ffee${tag.replace(/\W/g, '')}`.padEnd(40, '0'), spec };
    },
    async buildImage(input) {
      if (options.buildFailure === 'non-retryable') {
        throw ApplicationFailure.nonRetryable('step 3/5 "RUN make" failed: exit code 2', FailureType.BuildFailed);
      }
      if (transientLeft > 0) {
        transientLeft--;
        throw new Error('registry unreachable (transient)');
      }
      record('buildImage', input);
      return { image: `registry.test/${input.model}:${input.version}`, digest: `sha256:${input.commit}`, built: true };
    },
    async deployVersion(input) {
      const ctx = Context.current();
      if (options.deployDelayMs) {
        const until = Date.now() + options.deployDelayMs;
        while (Date.now() < until) {
          ctx.heartbeat();
          await ctx.sleep(Math.min(200, until - Date.now()));
        }
      }
      running.set(input.version, {
        version: input.version,
        commit: input.commit,
        image: input.image,
        digest: input.digest,
        replicas: input.spec.replicas,
        readyReplicas: input.spec.replicas,
        releaseId: input.releaseId,
        deployedAt: new Date().toISOString(),
      });
      record('deployVersion', { version: input.version });
      return { version: input.version, replicas: input.spec.replicas, readyReplicas: input.spec.replicas };
    },
    async verifyVersion(input) {
      record('verifyVersion', { version: input.version });
      const checks = [{ check: 'health', ok: true, observed: 'status 200' }];
      for (const smoke of input.spec.smoke) {
        const failing = options.failingChecks?.includes(smoke.name);
        checks.push({ check: smoke.name, ok: !failing, observed: failing ? 'status 500' : 'as expected' });
      }
      return { checks };
    },
    async describeModel() {
      record('describeModel', {});
      const all = [...running.values()];
      return { running: all.filter((v) => v.replicas > 0), scaledDown: all.filter((v) => v.replicas === 0).map((v) => v.version), traffic: structuredClone(traffic) };
    },
    async setTraffic(input) {
      if (trafficFailuresLeft > 0) {
        trafficFailuresLeft--;
        throw new Error('router unreachable (transient)');
      }
      // As the real activity: no weight for a version that has no ready replica.
      const missing = Object.entries(input.weights).filter(([v, w]) => w > 0 && !(running.get(v)?.readyReplicas ?? 0));
      if (missing.length) {
        throw ApplicationFailure.nonRetryable(`cannot route traffic to ${missing.map(([v]) => v).join(', ')}: not running`, FailureType.VersionNotRunning);
      }
      record('setTraffic', { weights: input.weights, pinned: input.pinned, stable: input.stable });
      traffic = { weights: { ...input.weights }, pinned: [...input.pinned], stable: input.stable };
      return structuredClone(traffic);
    },
    async analyzeVersion(input) {
      record('analyzeVersion', { version: input.version });
      const outcome = options.analysis ?? 'pass';
      return { outcome, requests: outcome === 'inconclusive' ? 0 : 100, errorRate: outcome === 'fail' ? 0.5 : 0, detail: `error rate ${outcome === 'fail' ? '50' : '0'}%` };
    },
    async scaleDownVersion(input) {
      record('scaleDownVersion', { version: input.version });
      const v = running.get(input.version);
      if (v) v.replicas = v.readyReplicas = 0;
    },
    async restoreVersion(input) {
      const v = running.get(input.version);
      if (!v || restoreBlocked.has(input.version)) throw new Error(`cannot restore ${input.version} (engine not back yet)`);
      record('restoreVersion', { version: input.version, replicas: input.replicas });
      v.replicas = v.readyReplicas = input.replicas;
      return { version: input.version, replicas: input.replicas, readyReplicas: input.replicas };
    },
    async retireVersions(input) {
      record('retireVersions', { versions: input.versions });
      for (const v of input.versions) running.delete(v);
    },
  };

  return {
    activities,
    calls,
    traffic: () => traffic,
    running: () => [...running.values()].filter((v) => v.replicas > 0).map((v) => v.version),
    count: (name: string) => calls.filter((c) => c.name === name).length,
    /** the engine lost the version's replicas: it stays defined but nothing is ready */
    lose: (version: string) => {
      const v = running.get(version);
      if (v) v.readyReplicas = 0;
    },
    /** restoreVersion of `version` fails until unblocked */
    blockRestore: (version: string, blocked = true) => (blocked ? restoreBlocked.add(version) : restoreBlocked.delete(version)),
    /** the next n setTraffic calls fail with a retryable error */
    failTraffic: (n: number) => {
      trafficFailuresLeft = n;
    },
    /** state to hand to a world in another process (see test/helpers/double-worker.ts) */
    snapshot: () => ({ running: [...running.values()], traffic }),
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

/**
 * The rollout plan: the list of steps a release walks through after the new version is verified,
 * derived from the spec's strategy. Pure and deterministic: the workflow runs it, tests check it.
 */
import type { Spec, WebMetricRule } from '../model-spec/schema';
import type { AnalysisInput } from '../activities/types';
import { durationMs } from '../shared/duration';

export type PlanStep =
  | { kind: 'setWeight'; weight: number }
  | { kind: 'pause'; durationMs?: number }
  | { kind: 'approval'; timeoutMs?: number }
  | {
      kind: 'analysis';
      intervalMs: number;
      count: number;
      rule: AnalysisInput['rule'];
    }
  | { kind: 'promote' };

/** Steps for the spec's strategy. Every plan ends with exactly one `promote`. */
export function rolloutPlan(rollout: Spec['rollout']): PlanStep[] {
  switch (rollout.strategy) {
    case 'direct':
      return [{ kind: 'promote' }];
    case 'blue-green': {
      // The new version runs beside stable, reachable only when pinned, until the switch.
      const steps: PlanStep[] = [];
      if (rollout.previewDuration) steps.push({ kind: 'pause', durationMs: durationMs(rollout.previewDuration) });
      if (rollout.approval) steps.push({ kind: 'approval', timeoutMs: optionalMs(rollout.approval.timeout) });
      steps.push({ kind: 'promote' });
      return steps;
    }
    case 'canary': {
      const steps: PlanStep[] = rollout.steps.map((step): PlanStep => {
        if ('setWeight' in step) return { kind: 'setWeight', weight: step.setWeight };
        if ('pause' in step) return { kind: 'pause', durationMs: optionalMs(step.pause.duration) };
        if ('approval' in step) return { kind: 'approval', timeoutMs: optionalMs(step.approval.timeout) };
        const a = step.analysis;
        return {
          kind: 'analysis',
          intervalMs: durationMs(a.interval),
          count: a.count,
          rule: { maxErrorRate: a.maxErrorRate, maxP95LatencyMs: a.maxP95LatencyMs, minRequests: a.minRequests, ...(a.compare ? { compare: a.compare } : {}), ...webRule(a.web) },
        };
      });
      steps.push({ kind: 'promote' });
      return steps;
    }
  }
}

/** The step's web metrics as the activity takes them; nothing when there are none, so such a rule stays as it was (replay). */
function webRule(web: Array<Omit<WebMetricRule, 'timeoutMs'> & { timeout: string }> | undefined): { web?: WebMetricRule[] } {
  return web ? { web: web.map(({ timeout, ...metric }) => ({ ...metric, timeoutMs: durationMs(timeout) })) } : {};
}

/** A web metric's bound as people write it: `>= 0.9`, `<= 0.2`, or `0.1..0.3` for both. */
export function webCondition(metric: { min?: number | undefined; max?: number | undefined }): string {
  if (metric.min !== undefined && metric.max !== undefined) return `${metric.min}..${metric.max}`;
  return metric.min !== undefined ? `>= ${metric.min}` : `<= ${metric.max}`;
}

function optionalMs(text: string | undefined): number | undefined {
  return text === undefined ? undefined : durationMs(text);
}

/** One line that says what a step does, for status, history and the Web UI. */
export function describeStep(step: PlanStep, version: string): string {
  switch (step.kind) {
    case 'setWeight':
      return `send ${step.weight}% of traffic to ${version}`;
    case 'pause':
      return step.durationMs === undefined ? 'pause until resumed' : `pause ${formatMs(step.durationMs)}`;
    case 'approval':
      return step.timeoutMs === undefined ? 'wait for approval' : `wait for approval (timeout ${formatMs(step.timeoutMs)})`;
    case 'analysis':
      return `analyse ${version}: ${step.count} × ${formatMs(step.intervalMs)}, error rate ≤ ${step.rule.maxErrorRate * 100}%${step.rule.compare ? ', compared with stable' : ''}${(step.rule.web ?? []).map((m) => `, ${m.name} ${webCondition(m)}`).join('')}`;
    case 'promote':
      return `promote ${version} to 100%`;
  }
}

export function formatMs(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

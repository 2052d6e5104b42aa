/**
 * The rollout plan: the list of steps a release walks through after the new version is verified,
 * derived from the spec's strategy. Pure and deterministic: the workflow runs it, tests check it.
 */
import type { Spec, WebMetricRule } from '../model-spec/schema';
import type { AgreementRule, AnalysisInput } from '../activities/types';
import type { MirrorCompare } from '../shared/traffic-state';
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
  | {
      kind: 'shadow';
      percent: number;
      durationMs: number;
      /** one agreement verdict per window */
      intervalMs: number;
      count: number;
      agreement?: { rule: AgreementRule; compare: MirrorCompare };
    }
  | { kind: 'promote' };

/** Analysis through the canary steps (the spec's backgroundAnalysis), one window after another. */
export interface BackgroundPlan {
  intervalMs: number;
  rule: AnalysisInput['rule'];
}

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
        if ('shadow' in step) return shadowStep(step.shadow);
        const a = step.analysis;
        return { kind: 'analysis', intervalMs: durationMs(a.interval), count: a.count, rule: analysisRule(a) };
      });
      steps.push({ kind: 'promote' });
      return steps;
    }
  }
}

/** The spec's background analysis, when it has one. */
export function backgroundPlan(rollout: Spec['rollout']): BackgroundPlan | undefined {
  if (rollout.strategy !== 'canary' || !rollout.backgroundAnalysis) return undefined;
  return { intervalMs: durationMs(rollout.backgroundAnalysis.interval), rule: analysisRule(rollout.backgroundAnalysis) };
}

type AnalysisConditions = Pick<Extract<Spec['rollout'], { strategy: 'canary' }>, 'backgroundAnalysis'>['backgroundAnalysis'] & {};

/** What an analysis window is judged by, as the activity takes it; fields a rule does not use are left out, so old histories replay. */
function analysisRule(a: AnalysisConditions): AnalysisInput['rule'] {
  return { maxErrorRate: a.maxErrorRate, maxP95LatencyMs: a.maxP95LatencyMs, minRequests: a.minRequests, ...(a.compare ? { compare: a.compare } : {}), ...webRule(a.web) };
}

type ShadowSpec = Extract<Extract<Spec['rollout'], { strategy: 'canary' }>['steps'][number], { shadow: unknown }>['shadow'];

/** A shadow step: copy for `duration`, judged once per `interval` (default: once at the end). */
function shadowStep(shadow: ShadowSpec): PlanStep {
  const durationTotal = durationMs(shadow.duration);
  const intervalMs = Math.min(shadow.interval ? durationMs(shadow.interval) : durationTotal, durationTotal);
  const a = shadow.agreement;
  return {
    kind: 'shadow',
    percent: shadow.percent,
    durationMs: durationTotal,
    intervalMs,
    count: Math.max(1, Math.ceil(durationTotal / intervalMs)),
    ...(a ? { agreement: { rule: { min: a.min, minSamples: a.minSamples }, compare: { fields: a.fields, redact: a.redact, samples: a.samples } } } : {}),
  };
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
    case 'shadow':
      return `copy ${step.percent}% of requests to ${version} for ${formatMs(step.durationMs)}${step.agreement ? `, predictions agree ≥ ${step.agreement.rule.min * 100}% with stable (${step.agreement.compare.fields.map((f) => f.path).join(', ')})` : ', answers discarded'}`;
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

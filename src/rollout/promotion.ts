/**
 * Promotion along a model's path (staging -> prod): what a release promoted in one environment
 * hands to the next (the artifact and its verification), and whether its analysis passed. Pure:
 * the release and promotion workflows and the client use it.
 */
import type { CheckResult } from '../activities/types';
import type { Spec } from '../model-spec/schema';
import type { RecordedMeasurement } from './measurements';

/** The verification a release recorded: its checks and a summary of every analysis measurement. */
export interface VerificationSummary {
  checks: CheckResult[];
  analysis: {
    /** measurements by verdict */
    pass: number;
    fail: number;
    inconclusive: number;
    /** per metric: the latest value and its verdict */
    metrics: { metric: string; value?: number; condition: string; verdict: RecordedMeasurement['verdict'] }[];
  };
  /** whether it counts as "analysis passed" for requireAnalysis, and why not */
  analysisPassed: boolean;
  analysisWhy?: string;
}

/** Where a promoted release's artifact came from: recorded in its status as `promotedFrom`. */
export interface PromotedFrom {
  environment: string;
  releaseId: string;
  version: string;
  image: string;
  digest: string;
  commit: string;
  verification: VerificationSummary;
  /** set when an operator started it before the conditions held */
  override?: { by: string; reason: string; unmet: string };
}

/** What a promotion carries to the next environment besides the record: the spec read at the recorded commit. */
export interface PromotionArtifact extends Omit<PromotedFrom, 'override'> {
  spec: Spec;
  repoUrl: string;
  promotedAt: string;
}

interface ReleaseRecord {
  checks: CheckResult[];
  measurements?: RecordedMeasurement[];
  steps: { status: string; detail?: string }[];
}

/** The checks and analysis of a promoted release, and whether its analysis passed (requireAnalysis). */
export function summarizeVerification(release: ReleaseRecord): VerificationSummary {
  const measurements = release.measurements ?? [];
  const count = (verdict: RecordedMeasurement['verdict']) => measurements.filter((m) => m.verdict === verdict).length;
  const latest = new Map<string, RecordedMeasurement>();
  for (const m of measurements) latest.set(m.metric, m);
  const analysis = {
    pass: count('pass'),
    fail: count('fail'),
    inconclusive: count('inconclusive'),
    metrics: [...latest.values()].map((m) => ({ metric: m.metric, ...(m.value === undefined ? {} : { value: m.value }), condition: m.condition, verdict: m.verdict })),
  };
  const skipped = release.steps.filter((s) => s.status === 'skipped').length;
  const firstBad = measurements.find((m) => m.verdict !== 'pass');
  const why = !measurements.length
    ? 'no analysis ran (a first release, or a spec without analysis steps)'
    : firstBad
      ? `analysis did not pass: ${firstBad.metric} ${firstBad.value ?? 'unmeasured'} (${firstBad.condition}) was ${firstBad.verdict}`
      : skipped
        ? `${skipped} rollout step${skipped === 1 ? ' was' : 's were'} skipped by promote`
        : undefined;
  return { checks: release.checks, analysis, analysisPassed: why === undefined, ...(why ? { analysisWhy: why } : {}) };
}

/** One line for the record and the CLI: `checks 3/3 ok; analysis 6 pass, 0 fail, 0 inconclusive`. */
export function describeVerification(v: VerificationSummary): string {
  const ok = v.checks.filter((c) => c.ok).length;
  return `checks ${ok}/${v.checks.length} ok; analysis ${v.analysis.pass} pass, ${v.analysis.fail} fail, ${v.analysis.inconclusive} inconclusive`;
}

/** `promotion/<model>/<from>/<version>`: one promotion per version leaving an environment, so it starts once. */
export function promotionWorkflowId(model: string, from: string, version: string): string {
  return `promotion/${model}/${from}/${version}`;
}

/** The trigger of the release a promotion starts by itself (naming/ids.ts triggeredReleaseWorkflowId). */
export function promotionTrigger(from: string): string {
  return `promoted-from-${from}`;
}

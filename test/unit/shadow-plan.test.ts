/**
 * The shadow step, background analysis and the agreement verdict as a spec writes them and the
 * workflow runs them: parsing, refusals naming the field, the plan, and the verdict's wording.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseSpec, SpecError } from '../../src/model-spec/parse';
import { backgroundPlan, describeStep, rolloutPlan } from '../../src/rollout/plan';
import { agreementWindow, judgeAgreement } from '../../src/activities/analysis/agreement';
import { analysisMeasurements, shadowMeasurements } from '../../src/rollout/measurements';
import { readmeSection } from '../helpers/readme';
import { statusText } from '../../src/cli/format';

const canary = (steps: string, extra = '') => `port: 8080\nrollout:\n  strategy: canary\n  steps:\n${steps}${extra}`;
const SHADOW = [
  '    - shadow:',
  '        percent: 50',
  '        duration: 1m',
  '        interval: 20s',
  '        agreement:',
  '          min: 0.98',
  '          fields:',
  '            - path: $.label',
  '            - { path: $.score, tolerance: 0.05 }',
  '          redact: [$.customer_id]',
  '',
].join('\n');

function refusal(text: string): string {
  try {
    parseSpec(text);
  } catch (err) {
    assert.ok(err instanceof SpecError, String(err));
    return err.message;
  }
  assert.fail('the spec was accepted');
}

describe('shadow step', () => {
  it('plans the copies, the windows and the comparison', () => {
    const plan = rolloutPlan(parseSpec(canary(`${SHADOW}    - setWeight: 50\n`)).rollout);
    assert.deepEqual(plan[0], {
      kind: 'shadow',
      percent: 50,
      durationMs: 60_000,
      intervalMs: 20_000,
      count: 3,
      agreement: {
        rule: { min: 0.98, minSamples: 20 },
        compare: { fields: [{ path: '$.label' }, { path: '$.score', tolerance: 0.05 }], redact: ['$.customer_id'], samples: 5 },
      },
    });
    assert.equal(describeStep(plan[0]!, 'v2'), 'copy 50% of requests to v2 for 1m, predictions agree ≥ 98% with stable ($.label, $.score)');
  });

  it('defaults: all requests, one window for the whole duration; without agreement the copies are only load', () => {
    const [step] = rolloutPlan(parseSpec(canary('    - shadow: { duration: 90s }\n')).rollout);
    assert.deepEqual(step, { kind: 'shadow', percent: 100, durationMs: 90_000, intervalMs: 90_000, count: 1 });
    assert.equal(describeStep(step!, 'v2'), 'copy 100% of requests to v2 for 90s, answers discarded');
  });

  it('a last window shorter than the interval is counted', () => {
    const [step] = rolloutPlan(parseSpec(canary('    - shadow: { duration: 50s, interval: 20s, agreement: { min: 0.9, fields: [{ path: $.label }] } }\n')).rollout);
    assert.equal(step?.kind === 'shadow' && step.count, 3);
  });

  it('refuses what cannot run, naming the field', () => {
    assert.match(refusal(canary('    - setWeight: 10\n    - shadow: { duration: 1m }\n')), /rollout\.steps\[1\]\.shadow: comes after step 0 \(setWeight 10\): shadow steps must come before the first setWeight above 0/);
    assert.match(refusal(canary('    - shadow: { percent: 100 }\n')), /rollout\.steps\[0\]\.shadow\.duration/);
    assert.match(refusal(canary('    - shadow: { duration: 1m, percent: 0 }\n')), /shadow\.percent/);
    assert.match(refusal(canary('    - shadow: { duration: 1m, agreement: { min: 0.9, fields: [] } }\n')), /agreement\.fields: names no field/);
    assert.match(refusal(canary('    - shadow: { duration: 1m, agreement: { min: 1.5, fields: [{ path: $.label }] } }\n')), /agreement\.min/);
    assert.match(refusal(canary('    - shadow: { duration: 1m, agreement: { min: 0.9, fields: [{ path: label }] } }\n')), /fields\[0\]\.path: must be a JSONPath/);
    assert.match(refusal(canary('    - shadow: { duration: 1m, agreement: { min: 0.9, fields: [{ path: $.label }], samples: 50 } }\n')), /agreement\.samples/);
    assert.match(refusal(canary('    - shadow: { duration: 2h, interval: 1s }\n')), /shadow\.interval: gives more than 100 windows/);
    // a setWeight of 0 serves nobody: a shadow step may follow it
    assert.doesNotThrow(() => parseSpec(canary('    - setWeight: 0\n    - shadow: { duration: 1m }\n')));
  });
});

describe('background analysis', () => {
  it('is planned apart from the steps, with the conditions of an analysis step', () => {
    const spec = parseSpec(canary('    - setWeight: 20\n    - pause: {}\n', '  backgroundAnalysis: { interval: 30s, maxErrorRate: 0.01, compare: { p95: { maxRatio: 1.2 } } }\n'));
    assert.deepEqual(backgroundPlan(spec.rollout), { intervalMs: 30_000, rule: { maxErrorRate: 0.01, maxP95LatencyMs: undefined, minRequests: 10, compare: { p95: { maxRatio: 1.2 } } } });
    assert.equal(backgroundPlan(parseSpec(canary('    - setWeight: 20\n')).rollout), undefined);
    assert.match(refusal(canary('    - setWeight: 20\n', '  backgroundAnalysis: { count: 3 }\n')), /backgroundAnalysis/);
  });
});

describe('prediction agreement verdict', () => {
  const sample = { at: '2026-11-29T10:00:01.000Z', request: { method: 'POST', path: '/predict', body: { amount: '[redacted]', velocity: 6 } }, stable: { status: 200, body: { label: 'ok' } }, candidate: { status: 200, body: { label: 'fraud' } }, differences: ['$.label: stable "ok", candidate "fraud"'] };
  const rule = { min: 0.98, minSamples: 20 };

  it('passes at the bound, fails below it with the numbers and an example', () => {
    assert.equal(judgeAgreement({ agree: 49, disagree: 1, notCompared: 0, samples: [] }, rule, 'v1').outcome, 'pass');
    const failed = judgeAgreement({ agree: 30, disagree: 20, notCompared: 2, samples: [sample] }, rule, 'v1');
    assert.equal(failed.outcome, 'fail');
    assert.equal(failed.agreement, 0.6);
    assert.equal(failed.detail, 'prediction agreement 60.0% below 98.0% (50 requests compared with v1, 20 disagree, 2 not comparable); e.g. POST /predict {"amount":"[redacted]","velocity":6}: $.label: stable "ok", candidate "fraud"');
    assert.deepEqual(failed.samples, [sample]);
  });

  it('too few compared requests are inconclusive; pairs that could not be compared count in neither', () => {
    const few = judgeAgreement({ agree: 5, disagree: 0, notCompared: 40, samples: [] }, rule, 'v1');
    assert.equal(few.outcome, 'inconclusive');
    assert.match(few.detail, /5 requests compared with v1, 40 not comparable: fewer than the 20 needed/);
    assert.equal(judgeAgreement({ agree: 0, disagree: 0, notCompared: 0, samples: [] }, { min: 0.9, minSamples: 1 }, 'v1').outcome, 'inconclusive');
  });

  it('a window is the difference of two readings; a gateway restart in between counts from zero', () => {
    const start = { agree: 100, disagree: 3, notCompared: 1, samples: [{ ...sample, at: '2026-11-29T09:59:00.000Z' }] };
    const end = { agree: 150, disagree: 5, notCompared: 1, samples: [...start.samples, sample] };
    assert.deepEqual(agreementWindow(start, end, '2026-11-29T10:00:00.000Z'), { agree: 50, disagree: 2, notCompared: 0, samples: [sample] });
    assert.deepEqual(agreementWindow(start, { agree: 7, disagree: 1, notCompared: 0, samples: [] }, '2026-11-29T10:00:00.000Z'), { agree: 7, disagree: 1, notCompared: 0, samples: [] });
  });
});

describe('recorded measurements', () => {
  const where = { step: 2, round: 1, window: { from: 'a', to: 'b' } } as const;
  it('one record per judged number, with its condition and verdict', () => {
    const records = analysisMeasurements(
      where,
      {
        outcome: 'fail',
        requests: 40,
        errorRate: 0.1,
        p95LatencyMs: 80,
        detail: '',
        comparisons: [{ metric: 'p95LatencyMs', candidate: 80, stable: 50, condition: '≤ 1.2 × stable', limit: 1.2, verdict: 'fail' }],
        measurements: [{ metric: 'precision', value: 0.93, condition: '>= 0.9', verdict: 'pass' }],
      },
      { maxErrorRate: 0.05, maxP95LatencyMs: 100, minRequests: 10 },
    );
    assert.deepEqual(
      records.map((r) => [r.metric, r.value, r.condition, r.verdict]),
      [
        ['errorRate', 0.1, '≤ 0.05 (40 requests, min 10)', 'fail'],
        ['p95LatencyMs', 80, '≤ 100', 'pass'],
        ['p95LatencyMs vs stable', 80, '≤ 1.2 × stable', 'fail'],
        ['precision', 0.93, '>= 0.9', 'pass'],
      ],
    );
    assert.equal(records[2]!.stable, 50);
    assert.equal(analysisMeasurements(where, { outcome: 'inconclusive', requests: 3, errorRate: 1, detail: '' }, { maxErrorRate: 0.05, minRequests: 10 })[0]!.verdict, 'inconclusive');
    assert.deepEqual(shadowMeasurements(where, { outcome: 'pass', pairs: { agree: 49, disagree: 1, notCompared: 0 }, agreement: 0.98, detail: '', samples: [] }, 0.95), [
      { ...where, metric: 'agreement', value: 0.98, condition: '≥ 0.95 (50 compared)', verdict: 'pass' },
    ]);
  });
});

describe("the README's shadow and background analysis examples", () => {
  it('parse, and plan as they say', () => {
    const shadow = parseSpec(`port: 8080\n${readmeSection('### Shadow traffic and prediction agreement', '### Background analysis').yaml(/shadow:/)}`);
    const [step] = rolloutPlan(shadow.rollout);
    assert.equal(step?.kind === 'shadow' && step.count, 5);
    assert.deepEqual(step?.kind === 'shadow' && step.agreement?.compare.redact, ['$.customer_id', '$.card']);
    const background = parseSpec(`port: 8080\n${readmeSection('### Background analysis', '### Every measurement recorded').yaml(/backgroundAnalysis:/)}`);
    assert.equal(backgroundPlan(background.rollout)?.intervalMs, 60_000);
  });
});

describe('tandem release status (text)', () => {
  it('shows the shadow agreement with the kept disagreements, and the background analysis', () => {
    const sample = { at: '2026-11-29T10:00:01.000Z', request: { method: 'POST', path: '/predict', body: { amount: '[redacted]' } }, stable: { status: 200, body: { label: 'ok' } }, candidate: { status: 200, body: { label: 'fraud' } }, differences: ['$.label: stable "ok", candidate "fraud"'] };
    const text = statusText({
      releaseId: 'r/1', model: 'fd', environment: 'prod', version: 'v2', stage: 'rolled-back', outcome: 'rolled-back', weights: { v1: 100 }, paused: false, steps: [], checks: [], actions: [], history: [], startedAt: '',
      shadow: { version: 'v2', stable: 'v1', agreement: 0.7, pairs: { agree: 35, disagree: 15, notCompared: 1 }, samples: [sample] },
      background: { state: 'stopped', rounds: 4, last: 'pass: 120 requests, error rate 0.0%' },
    });
    assert.match(text, /background analysis: stopped, 4 windows — last pass: 120 requests/);
    assert.match(text, /shadow: v2 agreed with v1 on 70\.0% of 50 compared requests \(15 disagree, 1 not comparable\)/);
    assert.match(text, /POST \/predict \{"amount":"\[redacted\]"\}\n\s+stable 200 \{"label":"ok"\}  candidate 200 \{"label":"fraud"\}\n\s+\$\.label: stable "ok", candidate "fraud"/);
  });
});

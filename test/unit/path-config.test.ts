/** models.<name>.path in tandem.config.yaml: the shape, defaults, and errors that name the field. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load';
import { nextStep, pathSteps, stepInto } from '../../src/config/path-schema';
import { summarizeVerification } from '../../src/rollout/promotion';

const config = (path: string) =>
  [
    'environments:',
    '  staging:',
    '    target: { kind: docker }',
    '    registry: { url: 127.0.0.1:5000 }',
    '  prod:',
    '    target: { kind: docker }',
    '    registry: { url: 127.0.0.1:5000 }',
    'models:',
    '  fraud-detector:',
    '    repo: /srv/fraud',
    '    environment: staging',
    `    path: ${path}`,
    '',
  ].join('\n');

describe('path configuration', () => {
  it('names only, or entries with conditions; defaults: no soak, no analysis required, manual', () => {
    const plain = parseConfig(config('[staging, prod]')).models['fraud-detector']!.path;
    assert.deepEqual(nextStep(plain, 'staging'), { from: 'staging', environment: 'prod', soakMs: 0, requireAnalysis: false, auto: false });
    const full = parseConfig(config('[staging, { environment: prod, soak: 2h, requireAnalysis: true, auto: true }]')).models['fraud-detector']!.path;
    assert.deepEqual(stepInto(full, 'prod'), { from: 'staging', environment: 'prod', soakMs: 7_200_000, requireAnalysis: true, auto: true });
    assert.equal(nextStep(full, 'prod'), undefined, 'prod ends the path');
    assert.equal(stepInto(full, 'staging'), undefined, 'staging starts it');
    assert.equal(nextStep(undefined, 'staging'), undefined);
    assert.deepEqual(pathSteps(full!).map((s) => s.environment), ['staging', 'prod']);
  });

  const refused: [string, RegExp][] = [
    ['[staging, canary]', /models\.fraud-detector\.path\[1\]: names environment "canary", which is not under "environments" \(known: staging, prod\)/],
    ['[staging, prod, staging]', /models\.fraud-detector\.path\[2\]: lists "staging" twice/],
    ['[staging, { environment: prod, soak: 31d }]', /models\.fraud-detector\.path\[1\]\.soak: soak is at most 30d/],
    ['[staging, { environment: prod, soak: soon }]', /models\.fraud-detector\.path\[1\]\.soak: soak is a duration such as 30m/],
    ['[staging, { environment: prod, auto: yes }]', /models\.fraud-detector\.path\[1\]\.auto/],
    ['[staging, { environment: prod, wait: 1h }]', /models\.fraud-detector\.path\[1\].*wait/],
    ['[{ environment: staging, soak: 1h }, prod]', /models\.fraud-detector\.path\[0\]: the first environment is where versions start/],
    ['[staging]', /models\.fraud-detector\.path: path lists at least two environments/],
  ];
  for (const [path, message] of refused) {
    it(`refuses ${path}, naming the field`, () => {
      assert.throws(() => parseConfig(config(path)), message);
    });
  }
});

describe('analysis passed, for requireAnalysis', () => {
  const window = { from: 'a', to: 'b' };
  const checks = [{ check: 'health', ok: true, observed: 'status 200' }];
  it('passes when every measurement passed and no step was skipped', () => {
    const v = summarizeVerification({ checks, steps: [{ status: 'done' }], measurements: [{ step: 1, round: 1, window, metric: 'errorRate', value: 0, condition: '≤ 0.05', verdict: 'pass' }] });
    assert.equal(v.analysisPassed, true);
    assert.deepEqual(v.analysis, { pass: 1, fail: 0, inconclusive: 0, metrics: [{ metric: 'errorRate', value: 0, condition: '≤ 0.05', verdict: 'pass' }] });
  });
  it('does not pass without measurements, with an inconclusive one, or with steps skipped by promote', () => {
    assert.match(summarizeVerification({ checks, steps: [] }).analysisWhy!, /no analysis ran/);
    const inconclusive = summarizeVerification({ checks, steps: [], measurements: [{ step: 1, round: 1, window, metric: 'errorRate', condition: '≤ 0.05 (3 requests, min 50)', verdict: 'inconclusive' }] });
    assert.equal(inconclusive.analysisWhy, 'analysis did not pass: errorRate unmeasured (≤ 0.05 (3 requests, min 50)) was inconclusive');
    const skipped = summarizeVerification({ checks, steps: [{ status: 'skipped' }], measurements: [{ step: 1, round: 1, window, metric: 'errorRate', value: 0, condition: '≤ 0.05', verdict: 'pass' }] });
    assert.equal(skipped.analysisWhy, '1 rollout step was skipped by promote');
  });
});

/**
 * Web metrics, the pure parts and the configuration: URL templates, the number at a JSONPath,
 * verdicts, the spec's `web` list and the worker's `analysis.web.headers` (errors naming the key).
 * The requests themselves are tested against a real HTTP server in test/integration/analysis-web.test.ts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readWebHeaders, redact, WebHeaderError } from '../../src/activities/analysis/web/headers';
import { InvalidJsonPathError, numberAt } from '../../src/activities/analysis/web/json-value';
import { renderWebUrl } from '../../src/activities/analysis/web/url';
import { judgeWebMetric, withWebResults } from '../../src/activities/analysis/web/verdict';
import type { AnalysisResult } from '../../src/activities/types';
import { ConfigError, parseConfig } from '../../src/config/load';
import { parseSpec, SpecError } from '../../src/model-spec/parse';
import { describeStep, rolloutPlan } from '../../src/rollout/plan';
import { parse as parseYaml } from 'yaml';
import { readmeSection } from '../helpers/readme';

const canary = (web: string): string => `port: 8080\nrollout: { strategy: canary, steps: [{ setWeight: 20 }, { analysis: { interval: 1m, count: 3, web: ${web} } }] }\n`;
const refusedSpec = (web: string, message: RegExp): void =>
  assert.throws(() => parseSpec(canary(web)), (error: Error) => error instanceof SpecError && message.test(error.message), `${web} is refused with ${message}`);
const config = (analysis: string): ReturnType<typeof parseConfig> =>
  parseConfig(`
environments:
  prod:
    target: { kind: kubernetes, namespace: ml }
    registry: { url: 127.0.0.1:5000, insecure: true }
    traffic: { router: replica-ratio }
    analysis: ${analysis}
`);
const refusedConfig = (analysis: string, message: RegExp): void =>
  assert.throws(() => config(analysis), (error: Error) => error instanceof ConfigError && message.test(error.message), `${analysis} is refused with ${message}`);

describe('web metric URL templates', () => {
  it('fills {model}, {version} and {environment}, URL-encoded, and leaves the rest', () => {
    assert.equal(
      renderWebUrl('https://q.internal/models/{model}/versions/{version}/precision?env={environment}&w={version}', { model: 'fraud', version: 'v1.2.0+rc/1', environment: 'prod eu' }),
      'https://q.internal/models/fraud/versions/v1.2.0%2Brc%2F1/precision?env=prod%20eu&w=v1.2.0%2Brc%2F1',
    );
  });
});

describe('the number at a JSONPath', () => {
  const answer = { value: 0.93, metrics: [{ precision: 0.91, label: 'ok' }, { precision: 0.8 }], nothing: null, text: '0.9' };

  it('reads $.a, $.a.b[0].c and bracket notation', () => {
    assert.deepEqual(numberAt(answer, '$.value'), { value: 0.93 });
    assert.deepEqual(numberAt(answer, '$.metrics[0].precision'), { value: 0.91 });
    assert.deepEqual(numberAt(answer, "$['metrics'][1]['precision']"), { value: 0.8 });
    assert.deepEqual(numberAt(0.5, '$'), { value: 0.5 });
  });

  it('says why there is no number: nothing, several values, a string, null, an object', () => {
    assert.deepEqual(numberAt(answer, '$.missing'), { problem: '$.missing matches nothing in the answer' });
    assert.deepEqual(numberAt(answer, '$.metrics[*].precision'), { problem: '$.metrics[*].precision matches 2 values, not one' });
    assert.deepEqual(numberAt(answer, '$.text'), { problem: '$.text is the string "0.9", not a number' });
    assert.deepEqual(numberAt(answer, '$.nothing'), { problem: '$.nothing is null, not a number' });
    assert.deepEqual(numberAt(answer, '$.metrics[0]'), { problem: '$.metrics[0] is an object, not a number' });
  });

  it('refuses script and filter expressions (the path comes from a spec, the answer from another service)', () => {
    assert.throws(() => numberAt(answer, '$.metrics[?(@.precision > 0.85)].precision'), InvalidJsonPathError);
  });
});

describe('web metric verdicts', () => {
  it('passes inside the bound and fails outside it, with the numbers', () => {
    assert.deepEqual(judgeWebMetric({ name: 'precision', min: 0.9 }, { value: 0.93 }), {
      measurement: { metric: 'precision', value: 0.93, condition: '>= 0.9', verdict: 'pass' },
      line: 'precision 0.93 (>= 0.9)',
    });
    assert.deepEqual(judgeWebMetric({ name: 'precision', min: 0.9 }, { value: 0.85 }), {
      measurement: { metric: 'precision', value: 0.85, condition: '>= 0.9', verdict: 'fail' },
      line: 'precision 0.85 below min 0.9',
    });
    assert.equal(judgeWebMetric({ name: 'drift', max: 0.2 }, { value: 0.2 }).measurement.verdict, 'pass');
    assert.equal(judgeWebMetric({ name: 'drift', max: 0.2 }, { value: 0.21 }).line, 'drift 0.21 above max 0.2');
    assert.equal(judgeWebMetric({ name: 'calibration', min: 0.1, max: 0.3 }, { value: 0.05 }).measurement.condition, '0.1..0.3');
  });

  it('is inconclusive without a number, saying why', () => {
    assert.deepEqual(judgeWebMetric({ name: 'precision', min: 0.9 }, { problem: '$.value matches nothing in the answer from http://q/p' }), {
      measurement: { metric: 'precision', condition: '>= 0.9', verdict: 'inconclusive' },
      line: 'precision not measured: $.value matches nothing in the answer from http://q/p',
    });
  });

  const traffic = (outcome: AnalysisResult['outcome']): AnalysisResult => ({ outcome, requests: 120, errorRate: 0, detail: `traffic ${outcome}` });
  const pass = judgeWebMetric({ name: 'precision', min: 0.9 }, { value: 0.95 });
  const fail = judgeWebMetric({ name: 'drift', max: 0.2 }, { value: 0.4 });
  const unknown = judgeWebMetric({ name: 'auc', min: 0.8 }, { problem: 'no number' });

  it('fails the window when a metric fails, naming it first; otherwise keeps the traffic verdict first', () => {
    const failed = withWebResults(traffic('pass'), [pass, fail]);
    assert.equal(failed.outcome, 'fail');
    assert.equal(failed.detail, 'drift 0.4 above max 0.2; precision 0.95 (>= 0.9); traffic: traffic pass');
    assert.deepEqual(failed.measurements?.map((m) => m.verdict), ['pass', 'fail']);
    assert.equal(failed.requests, 120);
    assert.equal(withWebResults(traffic('pass'), [pass]).detail, 'traffic pass; precision 0.95 (>= 0.9)');
    assert.equal(withWebResults(traffic('fail'), [pass]).outcome, 'fail');
    assert.equal(withWebResults(traffic('fail'), [pass]).detail, 'traffic fail; precision 0.95 (>= 0.9)');
  });

  it('is inconclusive when a metric or the traffic is, unless something failed', () => {
    assert.equal(withWebResults(traffic('pass'), [pass, unknown]).outcome, 'inconclusive');
    assert.equal(withWebResults(traffic('inconclusive'), [pass]).outcome, 'inconclusive');
    assert.equal(withWebResults(traffic('inconclusive'), [unknown, fail]).outcome, 'fail');
  });
});

describe('web metrics in tandem.yaml', () => {
  it('accepts the documented form, defaults the timeout, and carries it to the plan in ms', () => {
    const spec = parseSpec(canary('[{ name: precision, url: "https://quality.internal/models/{model}/versions/{version}/precision", jsonPath: "$.value", min: 0.9 }, { name: drift, url: "http://q:8080/{environment}/drift", jsonPath: "$.d", max: 0.2, timeout: 2s }]'));
    const step = rolloutPlan(spec.rollout)[1]!;
    assert.equal(step.kind, 'analysis');
    assert.deepEqual(step.kind === 'analysis' && step.rule.web, [
      { name: 'precision', url: 'https://quality.internal/models/{model}/versions/{version}/precision', jsonPath: '$.value', min: 0.9, timeoutMs: 5000 },
      { name: 'drift', url: 'http://q:8080/{environment}/drift', jsonPath: '$.d', max: 0.2, timeoutMs: 2000 },
    ]);
    assert.equal(describeStep(step, 'v2'), 'analyse v2: 3 × 1m, error rate ≤ 5%, precision >= 0.9, drift <= 0.2');
  });

  it('leaves the rule of a step without web metrics as it was', () => {
    const step = rolloutPlan(parseSpec('port: 8080\nrollout: { strategy: canary, steps: [{ analysis: {} }] }\n').rollout)[0]!;
    assert.ok(step.kind === 'analysis' && !('web' in step.rule));
  });

  it('names the field and the fix for each mistake', () => {
    refusedSpec('[{ name: p, url: "https://q/{model}/{tag}", jsonPath: "$.v", min: 1 }]', /web\[0\]\.url: may hold only the placeholders \{model\}, \{version\}, \{environment\}/);
    refusedSpec('[{ name: p, url: "q.internal/p", jsonPath: "$.v", min: 1 }]', /web\[0\]\.url: must be an http\(s\) URL/);
    refusedSpec('[{ name: p, url: "https://user:secret@q/p", jsonPath: "$.v", min: 1 }]', /web\[0\]\.url: must be an http\(s\) URL without credentials.*analysis\.web\.headers/);
    refusedSpec('[{ name: p, url: "https://q/p", jsonPath: "value", min: 1 }]', /web\[0\]\.jsonPath: must be a JSONPath starting with "\$"/);
    refusedSpec('[{ name: p, url: "https://q/p", jsonPath: "$.v" }]', /web\[0\]\.min: needs min or max/);
    refusedSpec('[{ name: p, url: "https://q/p", jsonPath: "$.v", min: 2, max: 1 }]', /web\[0\]\.min: is above max/);
    refusedSpec('[{ name: p, url: "https://q/p", jsonPath: "$.v", min: 1, timeout: 2m }]', /web\[0\]\.timeout: must be at most 1m/);
    refusedSpec('[{ name: p, url: "https://q/p", jsonPath: "$.v", min: 1, headers: { Authorization: x } }]', /web\[0\].*headers/);
    refusedSpec('[{ name: p, url: "https://q/p", jsonPath: "$.v", min: 1 }, { name: p, url: "https://q/r", jsonPath: "$.v", min: 1 }]', /web: names a metric twice/);
    refusedSpec('[]', /web: lists no metric/);
  });
});

describe('analysis.web in tandem.config.yaml', () => {
  it('takes headers from an environment variable or a file; alone it is a valid analysis section', () => {
    const env = config('{ web: { headers: { Authorization: { env: QUALITY_TOKEN }, X-Team: { file: /run/secrets/team } } } }').environments.prod!;
    assert.deepEqual(env.analysis?.web, { headers: { Authorization: { env: 'QUALITY_TOKEN' }, 'X-Team': { file: '/run/secrets/team' } } });
    assert.deepEqual(config('{ prometheus: { url: "http://p:9090" }, web: {} }').environments.prod!.analysis?.web, { headers: {} });
  });

  it('names the key and the fix for each mistake', () => {
    refusedConfig('{ web: { headers: { Authorization: { env: A, file: /b } } } }', /environments\.prod\.analysis\.web\.headers\.Authorization\.env: give env or file, not both/);
    refusedConfig('{ web: { headers: { Authorization: {} } } }', /environments\.prod\.analysis\.web\.headers\.Authorization\.env: is required/);
    refusedConfig('{ web: { headers: { Authorization: { env: "quality-token" } } } }', /analysis\.web\.headers\.Authorization\.env: .*environment variable name/);
    refusedConfig('{ web: { headers: { Authorization: "Bearer abc" } } }', /analysis\.web\.headers\.Authorization/);
    refusedConfig('{ web: { headers: { "Bad Header": { env: A } } } }', /analysis\.web\.headers.*must be an HTTP header name/);
    refusedConfig('{}', /environments\.prod\.analysis: needs prometheus or gateway \(where the metrics are read\), or web/);
  });

  it('reads header values at each request, and names the key (never a value) when one is missing', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tandem-web-headers-'));
    writeFileSync(path.join(dir, 'team'), 'ml-platform\n');
    const headers = { Authorization: { env: 'QUALITY_TOKEN' }, 'X-Team': { file: path.join(dir, 'team') } };
    const key = 'environments.prod.analysis.web.headers';
    assert.deepEqual(readWebHeaders(headers, key, { QUALITY_TOKEN: 'Bearer s3cret' }), { Authorization: 'Bearer s3cret', 'X-Team': 'ml-platform' });
    assert.throws(() => readWebHeaders(headers, key, {}), (e: Error) => e instanceof WebHeaderError && /^environments\.prod\.analysis\.web\.headers\.Authorization\.env: \$QUALITY_TOKEN is not set in the worker's environment/.test(e.message));
    assert.throws(() => readWebHeaders({ 'X-Team': { file: path.join(dir, 'absent') } }, key, {}), /headers\.X-Team\.file: cannot read .*absent \(ENOENT\)/);
    writeFileSync(path.join(dir, 'empty'), '\n');
    assert.throws(() => readWebHeaders({ 'X-Team': { file: path.join(dir, 'empty') } }, key, {}), /headers\.X-Team\.file: .*empty is empty/);
    assert.equal(redact('echo: Bearer s3cret, again Bearer s3cret', { Authorization: 'Bearer s3cret' }), 'echo: ***, again ***');
  });
});

describe('the README on web metrics', () => {
  it('documents a spec that validates, with the metrics it says', () => {
    const spec = parseSpec(`port: 8080\n${readmeSection('### Web metrics', 'Limits, so that').yaml(/web:/)}`);
    const step = rolloutPlan(spec.rollout)[1]!;
    assert.deepEqual(step.kind === 'analysis' && step.rule.web?.map((m) => [m.name, m.timeoutMs]), [['precision', 5000], ['drift', 2000]]);
  });

  it('documents an analysis.web section that the configuration accepts', () => {
    const documented = parseYaml(readmeSection('## Configuration: `tandem.config.yaml`', '### Notifications').yaml(/headers:/)) as { environments: { prod: { analysis: unknown } } };
    const env = config(JSON.stringify(documented.environments.prod.analysis)).environments.prod!;
    assert.deepEqual(env.analysis?.web?.headers, { Authorization: { env: 'QUALITY_TOKEN' }, 'X-Team': { file: '/run/secrets/quality-team' } });
  });
});

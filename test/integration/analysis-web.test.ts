/**
 * The web metric provider against a real HTTP server (node:http, in this process), through the
 * analyzer the worker builds from tandem.config.yaml (createAnalyzer): a Kubernetes environment
 * that measures no traffic, so the web metrics decide alone, and the Authorization header comes
 * from the worker's environment variable named in analysis.web.headers. Windows are 50 ms.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { createAnalyzer } from '../../src/activities/analysis';
import type { AnalysisInput, AnalysisResult } from '../../src/activities/types';
import { parseConfig } from '../../src/config/load';
import { FailureType } from '../../src/errors';
import type { WebMetricRule } from '../../src/model-spec/schema';

const TOKEN = `Bearer web-metric-token-${process.pid}`;
const TOKEN_ENV = `TANDEM_TEST_QUALITY_TOKEN_${process.pid}`;

/** What the quality service answers, by path; every request is recorded with its headers. */
const ROUTES: Record<string, (res: http.ServerResponse) => void> = {
  '/models/fraud-detector/versions/v2.0.0/precision': (res) => json(res, 200, { value: 0.93, window: '1h' }),
  '/models/fraud-detector/versions/v2.1.0/precision': (res) => json(res, 200, { value: 0.71, window: '1h' }),
  '/models/fraud-detector/versions/v2.0.0/drift': (res) => json(res, 200, { metrics: [{ psi: 0.05 }] }),
  '/models/fraud-detector/versions/v2.0.0/broken': (res) => json(res, 500, { error: `database down; your header was ${TOKEN}` }),
  '/models/fraud-detector/versions/v2.0.0/slow': () => undefined, // never answers
  '/models/fraud-detector/versions/v2.0.0/text': (res) => json(res, 200, { value: 'high' }),
};
const requests: Array<{ url: string; authorization?: string | undefined }> = [];
function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** Everything this process writes to stdout and stderr while the tests run: the token must never be in it. */
const written: string[] = [];
const originalWrite = { out: process.stdout.write.bind(process.stdout), err: process.stderr.write.bind(process.stderr) };

let server: http.Server;
let base: string;
let closedPort: number;

before(async () => {
  server = http.createServer((req, res) => {
    requests.push({ url: req.url!, authorization: req.headers.authorization });
    const route = ROUTES[new URL(req.url!, 'http://x').pathname];
    if (route) route(res);
    else json(res, 404, { error: 'no such metric' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const closed = http.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  closedPort = (closed.address() as AddressInfo).port;
  await new Promise<void>((resolve) => closed.close(() => resolve()));
  process.env[TOKEN_ENV] = TOKEN;
  process.stdout.write = ((chunk: unknown, ...rest: never[]) => (written.push(String(chunk)), originalWrite.out(chunk as string, ...rest))) as typeof process.stdout.write;
  process.stderr.write = ((chunk: unknown, ...rest: never[]) => (written.push(String(chunk)), originalWrite.err(chunk as string, ...rest))) as typeof process.stderr.write;
});

after(async () => {
  process.stdout.write = originalWrite.out;
  process.stderr.write = originalWrite.err;
  assert.ok(!written.join('').includes(TOKEN), 'the token was written to stdout or stderr');
  delete process.env[TOKEN_ENV];
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const analyzer = () =>
  createAnalyzer(
    'prod',
    parseConfig(`
environments:
  prod:
    target: { kind: kubernetes, namespace: ml }
    registry: { url: 127.0.0.1:5000, insecure: true }
    traffic: { router: replica-ratio }
    analysis: { web: { headers: { Authorization: { env: ${TOKEN_ENV} } } } }
`).environments.prod!,
  );
const metric = (name: string, path: string, bound: Partial<WebMetricRule> = { min: 0.9 }): WebMetricRule => ({
  name,
  url: `${base}/models/{model}/versions/{version}/${path}?environment={environment}`,
  jsonPath: '$.value',
  timeoutMs: 5000,
  ...bound,
});
const input = (version: string, web: WebMetricRule[]): AnalysisInput => ({
  model: 'fraud-detector',
  environment: 'prod',
  version,
  rule: { maxErrorRate: 0.05, minRequests: 10, web },
  windowMs: 50,
});
const analyze = (version: string, web: WebMetricRule[]): Promise<AnalysisResult> => analyzer().analyze(input(version, web), () => undefined, new AbortController().signal);
/** The error an analysis throws; fails the test when it does not throw. */
async function failure(run: Promise<unknown>): Promise<Error> {
  try {
    await run;
  } catch (error) {
    return error as Error;
  }
  return assert.fail('expected the analysis to throw');
}

describe('web metrics against a real HTTP server', () => {
  it('passes with the values in bound, recording each measurement, with the token from the worker environment', async () => {
    requests.length = 0;
    const result = await analyze('v2.0.0', [metric('precision', 'precision'), { ...metric('drift', 'drift', { max: 0.2 }), jsonPath: '$.metrics[0].psi' }]);
    assert.equal(result.outcome, 'pass', result.detail);
    assert.deepEqual(result.measurements, [
      { metric: 'precision', value: 0.93, condition: '>= 0.9', verdict: 'pass' },
      { metric: 'drift', value: 0.05, condition: '<= 0.2', verdict: 'pass' },
    ]);
    assert.match(result.detail, /traffic not measured \(environment prod has no metrics source\); precision 0\.93 \(>= 0\.9\); drift 0\.05 \(<= 0\.2\)/);
    // Read once before the window (to fail early) and once at its end; placeholders filled.
    assert.equal(requests.length, 4);
    assert.ok(requests.every((r) => r.authorization === TOKEN), 'every request carries the header from the environment variable');
    assert.ok(requests.some((r) => r.url === '/models/fraud-detector/versions/v2.0.0/precision?environment=prod'));
    assert.ok(!JSON.stringify(result).includes(TOKEN));
  });

  it('fails with the numbers when a value is outside its bound', async () => {
    const result = await analyze('v2.1.0', [metric('precision', 'precision')]);
    assert.equal(result.outcome, 'fail');
    assert.match(result.detail, /^precision 0\.71 below min 0\.9; traffic: /);
    assert.deepEqual(result.measurements, [{ metric: 'precision', value: 0.71, condition: '>= 0.9', verdict: 'fail' }]);
  });

  it('is inconclusive when the path matches nothing or no number, naming the URL and the reason', async () => {
    const missing = await analyze('v2.0.0', [{ ...metric('precision', 'precision'), jsonPath: '$.data.precision' }]);
    assert.equal(missing.outcome, 'inconclusive');
    assert.match(missing.detail, new RegExp(`precision not measured: \\$\\.data\\.precision matches nothing in the answer from ${base}/models/fraud-detector/versions/v2\\.0\\.0/precision\\?environment=prod`));
    assert.deepEqual(missing.measurements, [{ metric: 'precision', condition: '>= 0.9', verdict: 'inconclusive' }]);
    const text = await analyze('v2.0.0', [metric('quality', 'text')]);
    assert.equal(text.outcome, 'inconclusive');
    assert.match(text.detail, /quality not measured: \$\.value is the string "high", not a number/);
  });

  it('throws a retryable error naming the URL when the service answers 500, without the token it echoed', async () => {
    const error = await failure(analyze('v2.0.0', [metric('precision', 'broken')]));
    assert.ok(!(error instanceof ApplicationFailure), 'retryable, like an unreachable Prometheus');
    assert.match(error.message, new RegExp(`^cannot read web metric precision at ${base}/models/fraud-detector/versions/v2\\.0\\.0/broken\\?environment=prod: answered 500: .*database down`));
    assert.ok(!error.message.includes(TOKEN), error.message);
    assert.match(error.message, /your header was \*\*\*/);
  });

  it('throws a retryable error naming the URL when the service is unreachable or answers 404', async () => {
    const refused = await failure(analyze('v2.0.0', [{ ...metric('precision', 'precision'), url: `http://127.0.0.1:${closedPort}/precision/{version}` }]));
    assert.equal(refused.message, `cannot read web metric precision at http://127.0.0.1:${closedPort}/precision/v2.0.0: connection refused`);
    const absent = await failure(analyze('v9.9.9', [metric('precision', 'precision')]));
    assert.match(absent.message, /versions\/v9\.9\.9\/precision\?environment=prod: answered 404: .*no such metric/);
  });

  it('gives up after the metric timeout', async () => {
    const error = await failure(analyze('v2.0.0', [{ ...metric('precision', 'slow'), timeoutMs: 300 }]));
    assert.match(error.message, /^cannot read web metric precision at .*\/slow\?environment=prod: timed out after 300ms$/);
  });

  it('refuses a JSONPath it cannot evaluate without retrying', async () => {
    const error = await failure(analyze('v2.0.0', [{ ...metric('precision', 'precision'), jsonPath: '$[?(@.value > 0)]' }]));
    assert.ok(error instanceof ApplicationFailure && error.nonRetryable && error.type === FailureType.InvalidAnalysisQuery, String(error));
    assert.match(error.message, /^web metric precision: jsonPath \$\[\?\(@\.value > 0\)\] is not a JSONPath tandem can evaluate/);
  });

  it('names the configuration key, never a value, when the token variable is not set', async () => {
    delete process.env[TOKEN_ENV];
    try {
      const error = await failure(analyze('v2.0.0', [metric('precision', 'precision')]));
      assert.match(error.message, new RegExp(`^environments\\.prod\\.analysis\\.web\\.headers\\.Authorization\\.env: \\$${TOKEN_ENV} is not set in the worker's environment`));
    } finally {
      process.env[TOKEN_ENV] = TOKEN;
    }
  });

  it('without web metrics in the step, answers as before: inconclusive where no traffic is measured', async () => {
    requests.length = 0;
    const result = await analyzer().analyze({ ...input('v2.0.0', []), rule: { maxErrorRate: 0.05, minRequests: 10 } }, () => undefined, new AbortController().signal);
    assert.equal(result.outcome, 'inconclusive');
    assert.match(result.detail, /environment prod has no metrics source/);
    assert.equal(requests.length, 0);
  });
});

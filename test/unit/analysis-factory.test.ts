import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createAnalyzer } from '../../src/activities/analysis';
import { GatewayAnalyzer } from '../../src/activities/analysis/gateway/analyzer';
import { PrometheusAnalyzer } from '../../src/activities/analysis/prometheus/analyzer';
import { promDuration, renderQuery, sampleValue } from '../../src/activities/analysis/prometheus/query';
import { parseConfig } from '../../src/config/load';

const config = (target: string, traffic: string, analysis = ''): ReturnType<typeof parseConfig> =>
  parseConfig(`
environments:
  local:
    target: ${target}
    registry: { url: 127.0.0.1:5000, insecure: true }
    traffic: ${traffic}
${analysis}
models:
  fraud-detector: { repo: /tmp/x, environment: local }
`);
const docker = (analysis = ''): ReturnType<typeof parseConfig> => config('{ kind: docker }', '{ router: gateway }', analysis);
const kubernetes = (analysis = ''): ReturnType<typeof parseConfig> =>
  config('{ kind: kubernetes, namespace: ml }', '{ router: replica-ratio }', analysis);
const PROMETHEUS = '    analysis: { prometheus: { url: "http://127.0.0.1:9090" } }';
const input = { model: 'fraud-detector', environment: 'local', version: 'v2', rule: { maxErrorRate: 0.05, minRequests: 1 }, windowMs: 1000 };

describe('createAnalyzer', () => {
  it('chooses Prometheus when the environment names one, Docker or Kubernetes', () => {
    assert.ok(createAnalyzer('local', docker(PROMETHEUS).environments.local!, { gatewayToken: { token: 't' } }).traffic instanceof PrometheusAnalyzer);
    assert.ok(createAnalyzer('local', kubernetes(PROMETHEUS).environments.local!).traffic instanceof PrometheusAnalyzer);
  });

  it("chooses the gateway's metrics for a Docker environment without Prometheus, and needs its token", () => {
    assert.ok(createAnalyzer('local', docker().environments.local!, { gatewayToken: { token: 't' } }).traffic instanceof GatewayAnalyzer);
    assert.throws(() => createAnalyzer('local', docker().environments.local!), /environments\.local: .*admin token/);
  });

  it('answers inconclusive at once for Kubernetes without Prometheus, saying why', async () => {
    const analyzer = createAnalyzer('local', kubernetes().environments.local!);
    const result = await analyzer.analyze(input, () => assert.fail('no window to heartbeat'), new AbortController().signal);
    assert.equal(result.outcome, 'inconclusive');
    assert.match(result.detail, /environment local has no metrics source/);
  });
});

describe('Prometheus query text', () => {
  it('writes windows as Prometheus durations', () => {
    assert.equal(promDuration(30_000), '30s');
    assert.equal(promDuration(2500), '2500ms');
    assert.equal(promDuration(0), '1ms');
  });

  it('fills placeholders, escaping for a PromQL string, and leaves unknown ones', () => {
    assert.equal(renderQuery('x{v="{{version}}",n="{{ namespace }}"}[{{window}}] {{tag}}', { version: 'a"b\\c', namespace: 'ml', window: '30s' }), 'x{v="a\\"b\\\\c",n="ml"}[30s] {{tag}}');
  });

  it('reads sample values, NaN as nothing', () => {
    assert.equal(sampleValue('0.25'), 0.25);
    assert.equal(sampleValue('+Inf'), Infinity);
    assert.equal(sampleValue('NaN'), undefined);
  });
});

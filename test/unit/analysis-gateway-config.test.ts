/**
 * `analysis.gateway` in tandem.config.yaml: a Kubernetes environment whose Gateway is served by
 * `tandem gateway --kubernetes` judges analysis steps with that gateway's per-version counters.
 * Validated at load, errors naming the field; the token is resolved like the gateway router's.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createAnalyzer } from '../../src/activities/analysis';
import { GatewayAnalyzer } from '../../src/activities/analysis/gateway/analyzer';
import { PrometheusAnalyzer } from '../../src/activities/analysis/prometheus/analyzer';
import { ConfigError, parseConfig } from '../../src/config/load';
import { buildEnvironments } from '../../src/environments';
import type { WebMetricsAnalyzer } from '../../src/activities/analysis/web/analyzer';

const config = (target: string, traffic: string, analysis: string): ReturnType<typeof parseConfig> =>
  parseConfig(`
environments:
  local:
    target: ${target}
    registry: { url: 127.0.0.1:5000, insecure: true }
    traffic: ${traffic}
    analysis: ${analysis}
`);
const kubernetes = (analysis: string) => config('{ kind: kubernetes, namespace: ml }', '{ router: gateway-api, gateway: public }', analysis);
const refused = (analysis: string, field: RegExp) =>
  assert.throws(() => kubernetes(analysis), (error: Error) => error instanceof ConfigError && field.test(error.message), `${analysis} is refused naming ${field}`);

describe('analysis.gateway', () => {
  it('gives a Kubernetes environment the gateway analyzer, with the token it is given', () => {
    const env = kubernetes('{ gateway: { url: "http://127.0.0.1:7071", tokenFile: /tmp/admin-token } }').environments.local!;
    assert.deepEqual(env.analysis, { gateway: { url: 'http://127.0.0.1:7071', tokenEnv: 'TANDEM_GATEWAY_TOKEN', tokenFile: '/tmp/admin-token' } });
    assert.ok(createAnalyzer('local', env, { gatewayToken: { token: 't' } }).traffic instanceof GatewayAnalyzer);
    assert.throws(() => createAnalyzer('local', env), /environments\.local\.analysis\.gateway: .*admin token/);
    assert.ok(createAnalyzer('local', kubernetes('{ prometheus: { url: "http://127.0.0.1:9090" } }').environments.local!).traffic instanceof PrometheusAnalyzer);
  });

  it('is validated at load, the message naming the field', () => {
    refused('{ gateway: { url: "not a url" } }', /environments\.local\.analysis\.gateway\.url: /);
    refused('{ gateway: { url: "http://127.0.0.1:7071", tokenEnv: "1-bad" } }', /environments\.local\.analysis\.gateway\.tokenEnv: an environment variable name/);
    refused('{ gateway: { url: "http://127.0.0.1:7071", extra: 1 } }', /environments\.local\.analysis\.gateway: .*extra/);
    refused('{ gateway: { url: "http://g:7071" }, prometheus: { url: "http://p:9090" } }', /environments\.local\.analysis: give one of prometheus or gateway, not both/);
    refused('{}', /environments\.local\.analysis: needs prometheus or gateway/);
  });

  it('refuses to start without a token, naming analysis.gateway.tokenFile', () => {
    const cfg = config(
      '{ kind: docker }',
      '{ router: gateway, url: "http://127.0.0.1:7071", tokenEnv: TANDEM_TEST_TRAFFIC_TOKEN }',
      '{ gateway: { url: "http://127.0.0.1:7171", tokenEnv: TANDEM_TEST_UNSET_TOKEN, tokenFile: /nonexistent/admin-token } }',
    );
    process.env.TANDEM_TEST_TRAFFIC_TOKEN = 'traffic-token';
    try {
      assert.throws(() => buildEnvironments(cfg, '/tmp/tandem-unit-cache'), (error: Error) => error instanceof ConfigError && /environments\.local\.analysis\.gateway\.tokenFile: no admin token for the gateway at http:\/\/127\.0\.0\.1:7171/.test(error.message));
      process.env.TANDEM_TEST_UNSET_TOKEN = 'analysis-token';
      assert.ok((buildEnvironments(cfg, '/tmp/tandem-unit-cache').local!.analyzer as WebMetricsAnalyzer).traffic instanceof GatewayAnalyzer);
    } finally {
      delete process.env.TANDEM_TEST_TRAFFIC_TOKEN;
      delete process.env.TANDEM_TEST_UNSET_TOKEN;
    }
  });
});

/**
 * The console's live series from a real Prometheus (scripts/prometheus-up.sh, 127.0.0.1:9090):
 * serve's fleet monitor, for a Kubernetes environment with analysis.prometheus, asks it the
 * environment's query templates for each running version and puts the answers on the fleet. The
 * templates here are constant vectors, so the numbers are known; a query Prometheus refuses is
 * reported (once) and leaves the series empty. The running versions come from a client double.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { configSchema } from '../../src/config/schema';
import { FleetMonitor } from '../../src/serve/console/fleet-monitor';
import type { ServeClient } from '../../src/serve/client';

const PROMETHEUS = `http://127.0.0.1:${process.env.PROMETHEUS_PORT ?? 9090}`;

function monitorWith(queries: Record<string, string>, warnings: string[]): FleetMonitor {
  const config = configSchema.parse({
    environments: {
      prod: {
        target: { kind: 'kubernetes', namespace: 'ml' },
        registry: { url: '127.0.0.1:5000', insecure: true },
        traffic: { router: 'replica-ratio' },
        analysis: { prometheus: { url: PROMETHEUS, ...queries } },
      },
    },
    models: { 'fraud-detector': { repo: '/srv/fd', environment: 'prod' } },
  });
  const running = { version: 'v1.0.0', commit: 'c'.repeat(40), image: 'r/fd:v1.0.0', digest: `sha256:${'d'.repeat(64)}`, replicas: 2, readyReplicas: 2, releaseId: 'r', deployedAt: new Date().toISOString() };
  const client = {
    releases: async () => [],
    versions: async () => ({ running: [running], scaledDown: [], traffic: { weights: { 'v1.0.0': 100 }, pinned: [], stable: 'v1.0.0' } }),
    taskQueue: 'q',
  } as unknown as ServeClient;
  return new FleetMonitor(client, config, { intervalMs: 200, temporalUi: { url: 'http://ui', namespace: 'default' }, warn: (m) => warnings.push(m) });
}

describe('the fleet monitor reads live series from a real Prometheus', () => {
  it('each running version gets request rate, error rate and p95 from the environment\'s templates', async () => {
    const warnings: string[] = [];
    const monitor = monitorWith({ requestsQuery: 'vector(60)', errorRateQuery: 'vector(0.25)', latencyP95Query: 'vector(12.5)' }, warnings);
    try {
      let fleet = await monitor.current();
      for (let i = 0; i < 50 && !fleet.entries[0]?.versions[0]?.metrics; i++) {
        await sleep(100);
        fleet = await monitor.current();
      }
      const [entry] = fleet.entries;
      assert.equal(entry?.metrics.source, 'prometheus');
      const series = entry!.versions[0]!.metrics!;
      assert.ok(series.t.length >= 1, JSON.stringify(fleet));
      assert.equal(series.rps[0], 2, '60 requests in the 30 s window');
      assert.equal(series.errorRate[0], 0.25);
      assert.equal(series.p95Ms[0], 12.5);
      assert.deepEqual(warnings, []);
    } finally {
      monitor.close();
    }
  });

  it('a query Prometheus refuses is reported once, naming it, and draws nothing', async () => {
    const warnings: string[] = [];
    const monitor = monitorWith({ requestsQuery: 'sum(rate(requests_total[{{window}}])', errorRateQuery: 'vector(0)', latencyP95Query: 'vector(1)' }, warnings);
    try {
      await monitor.current();
      for (let i = 0; i < 30 && warnings.length === 0; i++) await sleep(100);
      await sleep(600);
      const fleet = await monitor.current();
      assert.equal(fleet.entries[0]?.versions[0]?.metrics, undefined);
      assert.equal(warnings.length, 1, warnings.join('\n'));
      assert.match(warnings[0]!, /Prometheus at http:\/\/127\.0\.0\.1:\d+ refused sum\(rate\(requests_total\[30s\]\)/);
    } finally {
      monitor.close();
    }
  });
});

/**
 * The analyzer of a Kubernetes environment that has no metrics source. With the Gateway API or
 * replica-ratio routers, requests do not pass through tandem, so tandem cannot count them; the
 * Gateway implementation's metrics (usually in Prometheus) can: an environment that sets
 * `analysis.prometheus` in tandem.config.yaml gets the PrometheusAnalyzer instead (index.ts).
 * Without it every analysis step is `inconclusive`, which the release treats like a gate a person
 * must resume.
 */
import type { Analyzer } from '../target';
import type { AnalysisInput, AnalysisResult } from '../types';

/**
 * An Analyzer that measures nothing and answers `inconclusive` at once, with a detail that says
 * why and what to do. Never throws; read-only, so repeating it is harmless.
 */
export function createUnmeasuredAnalyzer(environment: string): Analyzer {
  return {
    analyze(input: AnalysisInput): Promise<AnalysisResult> {
      return Promise.resolve({
        outcome: 'inconclusive',
        requests: 0,
        errorRate: 0,
        detail:
          `environment ${environment} has no metrics source, so the traffic of ${input.model} ${input.version} was not measured; ` +
          'check the Gateway\'s own metrics, then resume to continue or abort to roll back',
      });
    },
  };
}

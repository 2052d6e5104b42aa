/**
 * The release activities that act on an environment: build, deploy, verify, describe, route,
 * analyse, scale down, retire. Written once against the Target / TrafficRouter / Analyzer interfaces, so
 * the Docker and Kubernetes backends share them. Each is idempotent because the interfaces are.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { FailureType } from '../errors';
import { durationMs } from '../shared/duration';
import type { Spec } from '../model-spec/schema';
import type { Environment } from './target';
import type {
  ShadowAnalysisInput,
  ShadowResult,
  AnalysisInput,
  BuildImageInput,
  CheckImageInput,
  BuiltImage,
  AnalysisResult,
  DeployedVersion,
  DeployVersionInput,
  ModelRef,
  ModelState,
  RetireInput,
  SetTrafficInput,
  TrafficState,
  VerifyInput,
  VerifyResult,
  VersionRef,
} from './types';

/** How long a restored version may take to be ready again within one attempt (the workflow retries). */
const RESTORE_TIMEOUT_MS = 90_000;

export type HealthChecks = (endpoint: string, spec: Spec) => Promise<VerifyResult>;

export function createEnvironmentActivities(environments: Record<string, Environment>, checks: HealthChecks) {
  const env = (name: string): Environment => {
    const found = environments[name];
    if (!found) {
      throw ApplicationFailure.nonRetryable(
        `environment "${name}" is not served by this worker (served: ${Object.keys(environments).join(', ') || 'none'}); add it to tandem.config.yaml and restart the worker`,
        FailureType.UnknownEnvironment,
      );
    }
    return found;
  };

  return {
    /** Builds and pushes the version's image with the environment's builder and registry. */
    async buildImage(input: BuildImageInput): Promise<BuiltImage> {
      return env(input.environment).builder.buildImage(input);
    },

    /**
     * Checks that the environment's registry serves the image a promoted version carries, by
     * digest; nothing is built. Throws non-retryable ImageNotFound naming image and registry.
     */
    async checkImage(input: CheckImageInput): Promise<void> {
      const { builder } = env(input.environment);
      if (!builder.hasImage) throw ApplicationFailure.nonRetryable(`environment "${input.environment}" cannot look images up by digest`, FailureType.ImageNotFound);
      if (!(await builder.hasImage(input.model, input.digest))) {
        throw ApplicationFailure.nonRetryable(
          `${input.image}@${input.digest} is not in the registry of ${input.environment}: the environments of a path share one registry (the image is never rebuilt); point environments.${input.environment}.registry at the registry of the environment it comes from`,
          FailureType.ImageNotFound,
        );
      }
    },

    /** Applies the version's workload and waits, heartbeating, until every replica is ready. */
    async deployVersion(input: DeployVersionInput): Promise<DeployedVersion> {
      const { target } = env(input.environment);
      const ctx = Context.current();
      await target.apply({
        model: input.model,
        version: input.version,
        commit: input.commit,
        image: input.image,
        digest: input.digest,
        releaseId: input.releaseId,
        spec: input.spec,
      });
      return target.waitReady(
        input.model,
        input.version,
        durationMs(input.spec.readyTimeout),
        (ready, desired, detail) => ctx.heartbeat({ ready, desired, detail }),
        ctx.cancellationSignal,
      );
    },

    /** Health endpoint and smoke tests against the version directly, before it takes traffic. Read-only. */
    async verifyVersion(input: VerifyInput): Promise<VerifyResult> {
      const endpoint = await env(input.environment).target.endpoint(input.model, input.version);
      return checks(endpoint, input.spec);
    },

    /** Running versions (from the target) and the traffic in force (from the router). Read-only. */
    async describeModel(input: ModelRef): Promise<ModelState> {
      const { target, router } = env(input.environment);
      const [versions, traffic] = await Promise.all([target.list(input.model), router.getState(input.model)]);
      return {
        running: versions.filter((v) => v.replicas > 0),
        scaledDown: versions.filter((v) => v.replicas === 0).map((v) => v.version),
        traffic,
      };
    },

    /**
     * Sets weights and pins; refuses a weight for a version that is not running. With a router
     * that splits by replica counts, has the target set the counts first.
     */
    async setTraffic(input: SetTrafficInput & { stable?: string }): Promise<TrafficState> {
      const { target, router } = env(input.environment);
      const total = Object.values(input.weights).reduce((a, b) => a + b, 0);
      if (Object.keys(input.weights).length && total !== 100) {
        throw ApplicationFailure.nonRetryable(`weights must add up to 100, got ${total}`, FailureType.InvalidTraffic);
      }
      const running = new Set((await target.list(input.model)).filter((v) => v.readyReplicas > 0).map((v) => v.version));
      const missing = [...Object.entries(input.weights).filter(([v, w]) => w > 0 && !running.has(v)), ...(input.mirror && !running.has(input.mirror.version) ? [[input.mirror.version, 0] as const] : [])];
      if (missing.length) {
        throw ApplicationFailure.nonRetryable(
          `cannot route traffic to ${missing.map(([v]) => v).join(', ')}: not running in ${input.environment}`,
          FailureType.VersionNotRunning,
        );
      }
      const state: TrafficState = { weights: input.weights, pinned: input.pinned.filter((v) => running.has(v)), stable: input.stable, ...(input.mirror ? { mirror: input.mirror } : {}) };
      // Routing sets weights, the target scales: a router that splits by pod counts needs the
      // counts in place before its Service selects the versions.
      if (router.splitsByReplicas) {
        if (!target.scaleForTraffic) {
          throw ApplicationFailure.nonRetryable(`environment "${input.environment}": its router splits traffic by replica counts, which its target cannot set`, FailureType.InvalidTraffic);
        }
        await target.scaleForTraffic(input.model, state.weights);
      }
      await router.setState(input.model, state);
      return router.getState(input.model);
    },

    /** One measurement window of the version's live traffic. */
    async analyzeVersion(input: AnalysisInput): Promise<AnalysisResult> {
      const ctx = Context.current();
      return env(input.environment).analyzer.analyze(input, (d) => ctx.heartbeat(d), ctx.cancellationSignal);
    },

    /** One window of a shadow step: how the version's answers to copied requests agreed with stable's. */
    async analyzeShadow(input: ShadowAnalysisInput): Promise<ShadowResult> {
      const ctx = Context.current();
      const { agreement } = env(input.environment);
      if (!agreement) {
        throw ApplicationFailure.nonRetryable(
          `environment "${input.environment}": prediction agreement is measured by tandem's gateway, and this environment's traffic does not go through it; ` +
            'route it with the tandem gateway (Docker: traffic.router gateway; Kubernetes: tandem gateway --kubernetes and analysis.gateway.url), or leave agreement out of the shadow step',
          FailureType.InvalidAnalysisQuery,
        );
      }
      return agreement.analyze(input, (d) => ctx.heartbeat(d), ctx.cancellationSignal);
    },

    /** Scales the version to zero; it stops serving. */
    async scaleDownVersion(input: VersionRef): Promise<void> {
      await env(input.environment).target.scale(input.model, input.version, 0);
    },

    /**
     * Scales a version back to `replicas` and waits until they are ready: for a rollback whose
     * stable version lost its replicas. Idempotent (scaling to the current count changes nothing).
     */
    async restoreVersion(input: VersionRef & { replicas: number }): Promise<DeployedVersion> {
      const { target } = env(input.environment);
      const ctx = Context.current();
      await target.scale(input.model, input.version, input.replicas);
      return target.waitReady(input.model, input.version, RESTORE_TIMEOUT_MS, (ready, desired, detail) => ctx.heartbeat({ ready, desired, detail }), ctx.cancellationSignal);
    },

    /** Removes old versions that retention does not keep; a version already gone is fine. */
    async retireVersions(input: RetireInput): Promise<void> {
      const { target } = env(input.environment);
      for (const version of input.versions) await target.remove(input.model, version);
    },
  };
}

/**
 * The two interfaces every environment is built from: a Target that runs versions (one folder per
 * backend: docker/, kubernetes/) and a TrafficRouter that splits a model's traffic between them
 * (traffic/: the tandem gateway, Gateway API, replica ratio). The generic activities in
 * activities/release.ts are written once against these.
 */
import type { Spec } from '../model-spec/schema';
import type { DeployedVersion, RunningVersion, TrafficState } from './types';

/** Everything a target needs to run one version of a model. */
export interface VersionWorkload {
  model: string;
  version: string;
  commit: string;
  image: string;
  digest: string;
  releaseId: string;
  spec: Pick<Spec, 'port' | 'replicas' | 'resources' | 'health'>;
}

export type ProgressFn = (ready: number, desired: number, detail?: string) => void;

export interface Target {
  /** Creates the version's workload, or brings it to the desired state; running it twice changes nothing. */
  apply(workload: VersionWorkload): Promise<void>;
  /**
   * Resolves when every replica is ready. Throws a non-retryable DeployFailed ApplicationFailure,
   * naming the cause, when the version cannot become ready (crash loop, timeout, image not found).
   */
  waitReady(model: string, version: string, timeoutMs: number, onProgress: ProgressFn, signal?: AbortSignal): Promise<DeployedVersion>;
  /** Versions of the model that currently exist on the target; the target is the source of truth. */
  list(model: string): Promise<RunningVersion[]>;
  /** Sets the replica count; 0 keeps the definition but stops serving. Idempotent. */
  scale(model: string, version: string, replicas: number): Promise<void>;
  /** Deletes everything the version owns; a missing version is not an error. */
  remove(model: string, version: string): Promise<void>;
  /** Base URL that reaches the version directly, bypassing traffic routing (health and smoke checks). */
  endpoint(model: string, version: string): Promise<string>;
  /** Sets replica counts that make a router with `splitsByReplicas` carry `weights`; targets that cannot are not used with such a router. */
  scaleForTraffic?(model: string, weights: Record<string, number>): Promise<void>;
}

export interface TrafficRouter {
  /** True when the split is the versions' pod counts (one shared Service): the activity has the target scale before routing. */
  readonly splitsByReplicas?: boolean;
  /** Applies weights (percent, summing to 100) and header pins; idempotent; in-flight requests are not dropped. */
  setState(model: string, state: TrafficState): Promise<void>;
  /** The routing currently in force for the model; empty weights when the model has no routes. */
  getState(model: string): Promise<TrafficState>;
  /** Removes every route tandem manages for the model. */
  remove(model: string): Promise<void>;
}

/** Measures a version's live traffic over a window (the tandem gateway's metrics, or Prometheus). */
export interface Analyzer {
  /** Waits `input.windowMs`, calling heartbeat meanwhile, and judges the window; stops early when signal aborts. */
  analyze(input: import('./types').AnalysisInput, heartbeat: (details?: unknown) => void, signal: AbortSignal): Promise<import('./types').AnalysisResult>;
}

/** Judges a shadowed version by how its answers to mirrored requests agreed with stable's (tandem's gateway compares them). */
export interface AgreementAnalyzer {
  /** Waits `input.windowMs`, calling heartbeat meanwhile, and judges the pairs compared in the window; stops early when signal aborts. */
  analyze(input: import('./types').ShadowAnalysisInput, heartbeat: (details?: unknown) => void, signal: AbortSignal): Promise<import('./types').ShadowResult>;
}

/** Builds a version's image and pushes it to the environment's registry (activities/image/). */
export interface ImageBuilder {
  buildImage(input: import('./types').BuildImageInput): Promise<import('./types').BuiltImage>;
  /** Whether the registry serves this manifest digest of the model's image (a promoted version is deployed by digest). */
  hasImage?(model: string, digest: string): Promise<boolean>;
}

/** One configured environment, as the activities see it. */
export interface Environment {
  target: Target;
  router: TrafficRouter;
  analyzer: Analyzer;
  /** where tandem's gateway routes the traffic: the agreement of mirrored answers; undefined elsewhere */
  agreement?: AgreementAnalyzer | undefined;
  builder: ImageBuilder;
}

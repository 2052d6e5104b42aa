/**
 * The contract between the release workflow and the world: every activity's input and output.
 * Workflows import this file for types only; implementations live in one folder per system
 * (git/, image/, docker/, kubernetes/, health/, traffic/) and are wired by createActivities().
 */
import type { Spec, WebMetricRule } from '../model-spec/schema';
import type { TrafficState } from '../shared/traffic-state';
import type { ResolvedPolicy } from '../policy/resolve';
import type { NotificationEvent } from '../naming/notifications';

/** Where a model is released: the environment's name from tandem.config.yaml. */
export interface ModelRef {
  model: string;
  environment: string;
}

export interface ResolveTagInput {
  repoUrl: string;
  tag: string;
  model: string;
}
export interface ResolvedVersion {
  tag: string;
  commit: string;
  spec: Spec;
}

export interface BuildImageInput extends ModelRef {
  repoUrl: string;
  version: string;
  commit: string;
  releaseId: string;
}
export interface BuiltImage {
  /** `<registry>/<model>:<version>` */
  image: string;
  /** `sha256:...` as the registry serves it */
  digest: string;
  /** false when an image for this commit was already in the registry */
  built: boolean;
}

/** A promoted version's image, checked in the registry by digest instead of built. */
export interface CheckImageInput extends ModelRef {
  image: string;
  digest: string;
}

export interface DeployVersionInput extends ModelRef {
  version: string;
  commit: string;
  image: string;
  digest: string;
  spec: Spec;
  releaseId: string;
}
export interface DeployedVersion {
  version: string;
  replicas: number;
  readyReplicas: number;
}

/** A version that currently has replicas, as the target (the source of truth) reports it. */
export interface RunningVersion {
  version: string;
  commit: string;
  image: string;
  digest: string;
  replicas: number;
  readyReplicas: number;
  releaseId: string;
  deployedAt: string;
}

export interface VersionRef extends ModelRef {
  version: string;
}

export interface VerifyInput extends VersionRef {
  spec: Spec;
}
export interface CheckResult {
  check: string;
  ok: boolean;
  /** What was observed, e.g. `status 500` or `score=0.91 (expected 0.12 ± 0.01)` */
  observed: string;
}
export interface VerifyResult {
  checks: CheckResult[];
}

/** Percent of unpinned traffic per version; sums to 100. */
export type Weights = Record<string, number>;

export interface SetTrafficInput extends ModelRef {
  weights: Weights;
  /** versions reachable with `X-Model-Version` */
  pinned: string[];
  /** a version (with no weight) that gets a copy of `percent` of the unpinned requests; its answers compared with stable's when `compare` is set */
  mirror?: MirrorRequest;
}
/** A shadow step's mirror, as the workflow asks for it (the traffic state's `mirror`). */
export type MirrorRequest = NonNullable<TrafficState['mirror']>;
/** Defined once, with its schema, in src/shared/traffic-state.ts. */
export type { TrafficState };

/** Conditions on the candidate relative to the stable version measured in the same window. */
export interface StableComparison {
  /** candidate error rate ≤ stable error rate + maxIncrease (0..1: 0.01 is one point) */
  errorRate?: { maxIncrease: number };
  /** candidate p95 ≤ maxRatio × stable p95 */
  p95?: { maxRatio: number };
}
export interface AnalysisInput extends VersionRef {
  rule: { maxErrorRate: number; maxP95LatencyMs?: number; minRequests: number; compare?: StableComparison; web?: WebMetricRule[] };
  windowMs: number;
  /** the version serving the rest of the traffic, measured beside the candidate when rule.compare is set */
  stable?: string;
}
/** One condition of rule.compare, as judged. */
export interface ComparisonResult {
  metric: 'errorRate' | 'p95LatencyMs';
  candidate?: number;
  stable?: number;
  /** e.g. `≤ stable + 1 point`, `≤ 1.2 × stable` */
  condition: string;
  /** the condition's number: maxIncrease for errorRate, maxRatio for p95LatencyMs */
  limit: number;
  verdict: 'pass' | 'fail' | 'inconclusive';
}
/** One web metric a round read, with the condition it was held to and what that gave. */
export interface Measurement {
  metric: string;
  /** undefined when it could not be read (the result's detail says why) */
  value?: number;
  /** e.g. `>= 0.9`, `<= 0.2`, `0.1..0.3` */
  condition: string;
  verdict: 'pass' | 'fail' | 'inconclusive';
}
export interface AnalysisResult {
  outcome: 'pass' | 'fail' | 'inconclusive';
  requests: number;
  errorRate: number;
  p95LatencyMs?: number;
  detail: string;
  /** the stable version's side of the window, when rule.compare is set and there is one */
  stable?: { version: string; requests: number; errorRate: number; p95LatencyMs?: number };
  comparisons?: ComparisonResult[];
  /** the web metrics read at the end of the window, when the step names any */
  measurements?: Measurement[];
}

/** Agreement of a shadowed version's predictions with stable's, judged per window. */
export interface AgreementRule {
  /** lowest accepted agree / (agree + disagree), 0..1 */
  min: number;
  /** fewer compared requests make the window inconclusive */
  minSamples: number;
}
export interface ShadowAnalysisInput extends VersionRef {
  rule: AgreementRule;
  windowMs: number;
  /** the version that answers callers, whose answers the copies are compared with */
  stable: string;
}
/** One mirrored request whose answers disagreed, as kept for the operator (redacted by the gateway). */
export interface DisagreementSample {
  at: string;
  request: { method: string; path: string; body?: unknown };
  stable: { status: number; body?: unknown };
  candidate: { status: number; body?: unknown };
  /** e.g. `$.label: stable "ok", candidate "fraud"` */
  differences: string[];
}
export interface ShadowResult {
  outcome: 'pass' | 'fail' | 'inconclusive';
  /** compared requests of the window by result */
  pairs: { agree: number; disagree: number; notCompared: number };
  /** agree / (agree + disagree); undefined when nothing was compared */
  agreement?: number;
  detail: string;
  /** the latest disagreements of the window, at most the step's `samples` */
  samples: DisagreementSample[];
}

export interface RetireInput extends ModelRef {
  /** versions to scale down and remove */
  versions: string[];
}

export interface ModelState {
  /** versions with at least one replica */
  running: RunningVersion[];
  /** versions still defined on the target but scaled to zero (e.g. a rolled-back candidate) */
  scaledDown: string[];
  traffic: TrafficState;
}

/**
 * What the release workflow tells a notification: facts of the release only. Receivers' addresses
 * and tokens stay with the worker (its configuration names where they are).
 */
export interface ReleaseNotice {
  event: NotificationEvent;
  model: string;
  environment: string;
  version: string;
  stage: string;
  outcome?: 'promoted' | 'rolled-back' | 'failed';
  /** why it was rolled back or failed (first line) */
  reason?: string;
  /** who acted: who approved or promoted, who aborted; absent when tandem decided */
  actor?: string;
  requestedBy?: string;
  /** the stable version when the release started */
  previousStable?: string;
  weights: Weights;
}
/** A notification receiver as the workflow knows it: where it is in the configuration, never its address. */
export interface NotificationSinkRef {
  /** its key in tandem.config.yaml, e.g. `environments.prod.notifications[0]` */
  id: string;
  kind: 'webhook' | 'slack';
}
export interface NotificationDelivery {
  /** the receiver's HTTP status */
  status: number;
  /** the attempt that was accepted (1: at once) */
  attempt: number;
}

/** Every activity the workflows call. */
export interface ReleaseActivities {
  resolveTag(input: ResolveTagInput): Promise<ResolvedVersion>;
  buildImage(input: BuildImageInput): Promise<BuiltImage>;
  checkImage(input: CheckImageInput): Promise<void>;
  deployVersion(input: DeployVersionInput): Promise<DeployedVersion>;
  verifyVersion(input: VerifyInput): Promise<VerifyResult>;
  describeModel(input: ModelRef): Promise<ModelState>;
  setTraffic(input: SetTrafficInput & { stable?: string }): Promise<TrafficState>;
  analyzeVersion(input: AnalysisInput): Promise<AnalysisResult>;
  /** One window of a shadow step: how the version's answers to mirrored requests agreed with stable's (the tandem gateway compares them). */
  analyzeShadow(input: ShadowAnalysisInput): Promise<ShadowResult>;
  scaleDownVersion(input: VersionRef): Promise<void>;
  /** Brings a version back to `replicas` ready replicas (after an engine or node lost them). */
  restoreVersion(input: VersionRef & { replicas: number }): Promise<DeployedVersion>;
  retireVersions(input: RetireInput): Promise<void>;
  /** The approval policy of the model in the environment and the key that verifies serve's signatures (worker configuration). */
  resolvePolicy(input: ModelRef): Promise<ResolvedPolicy>;
  /** The receivers of the environment's notifications that want this event (from the worker's configuration). */
  notificationSinks(input: { environment: string; event: NotificationEvent }): Promise<NotificationSinkRef[]>;
  /** Sends one notification to one receiver; throws (retryable) when it is not accepted. */
  sendNotification(input: { sink: string; notice: ReleaseNotice }): Promise<NotificationDelivery>;
  /** The next step of the model's path after `environment` (worker configuration); undefined at the end of its path or without one. */
  nextInPath(input: ModelRef): Promise<NextPathStep | undefined>;
  /** The step of the model's path that enters `environment` (it names the environment before); undefined for the first or one off the path. */
  stepIntoPath(input: ModelRef): Promise<NextPathStep | undefined>;
}

/** Where a version promoted in an environment may go next, and on what conditions (models.<name>.path). */
export interface NextPathStep {
  from: string;
  environment: string;
  soakMs: number;
  requireAnalysis: boolean;
  auto: boolean;
}

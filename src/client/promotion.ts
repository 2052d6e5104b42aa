/**
 * Promotion along a model's path, from the client's side: whether a version may enter an
 * environment (and, if not, the condition that is not met), starting its release with the artifact
 * the previous environment promoted, and each version's progress along the path. Reads Temporal
 * only (the promotion workflows and the releases' visibility rows).
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import { pathSteps, stepInto, type PathInput, type PathStep } from '../config/path-schema';
import { promotionWorkflowId } from '../rollout/promotion';
import { promotionStatusQuery, promotionTakenSignal, type PromotionStatus } from '../workflows/promotion-messages';
import type { ReleaseInput } from '../workflows/messages';
import type { RequestSigner } from '../policy/identity';
import { BadInputError, RefusedError } from './errors';
import type { HistoryEntry, TandemClient } from './index';

/** The promotion of `version` out of `from`, or undefined when there is none. */

/** What promotion along a path needs of the client (the CLI's and serve's TandemClient). */
export type PathClient = Pick<TandemClient, 'temporal' | 'history' | 'start'>;

export async function readPromotion(client: PathClient, model: string, from: string, version: string): Promise<PromotionStatus | undefined> {
  const handle = client.temporal.workflow.getHandle(promotionWorkflowId(model, from, version));
  try {
    const description = await handle.describe();
    if (description.status.name === 'RUNNING') return await handle.query(promotionStatusQuery);
    return (await handle.result()) as PromotionStatus;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

export type Eligibility =
  | { onPath: false }
  | {
      onPath: true;
      from: string;
      step: PathStep;
      /** the condition that is not met; undefined when the version may enter */
      unmet?: string;
      /** an operator may override the unmet condition (there is a promoted artifact to release) */
      overridable: boolean;
      promotion?: PromotionStatus;
    };

/** The condition that keeps `version` out of `to`, from its promotion or, without one, its release in `from`. */
export function unmetCondition(version: string, from: string, to: string, promotion: PromotionStatus | undefined, release: HistoryEntry | undefined): string | undefined {
  if (promotion) {
    switch (promotion.state) {
      case 'eligible':
        return undefined;
      case 'soaking':
        return `soaking in ${from} until ${promotion.soakUntil}`;
      case 'blocked':
        return promotion.reason ?? `blocked in ${from}`;
      case 'cancelled':
        return promotion.reason ?? `rolled back in ${from}`;
      case 'released':
        return `already released to ${to} (${promotion.release?.workflowId ?? 'unknown release'}, by ${promotion.release?.by ?? 'unknown'})`;
    }
  }
  if (!release) return `not promoted in ${from}: ${version} was never released there`;
  if (release.status === 'RUNNING') return `not promoted in ${from} yet: its release there is ${release.stage} (${release.workflowId})`;
  if (release.stage === 'rolled-back') return `rolled back in ${from} (${release.workflowId})`;
  if (release.status !== 'COMPLETED') return `not promoted in ${from}: its release there ${release.stage || release.status.toLowerCase()} (${release.workflowId})`;
  return `not promoted in ${from} along the path: its release there (${release.workflowId}) left no promotion record`;
}

/** Whether `version` may enter `environment` on the model's path; onPath false when the path does not lead there. */
export async function eligibility(client: PathClient, model: string, version: string, environment: string, path: PathInput | undefined): Promise<Eligibility> {
  const step = stepInto(path, environment);
  if (!step) return { onPath: false };
  const promotion = await readPromotion(client, model, step.from, version);
  const release = promotion ? undefined : await latestRelease(client, model, step.from, version);
  const unmet = unmetCondition(version, step.from, environment, promotion, release);
  return { onPath: true, from: step.from, step, ...(unmet ? { unmet } : {}), overridable: !!promotion && promotion.state !== 'released', ...(promotion ? { promotion } : {}) };
}

/**
 * Starts the release of `version` in an environment of the model's path with the artifact its
 * promotion carries (never rebuilt, never re-resolved). Refused (RefusedError) naming the unmet
 * condition, unless `override` gives a reason and there is an artifact to release; the release
 * then records who overrode what and why, and the target's policy decides whether they may.
 */
export async function startPromoted(
  client: PathClient,
  input: ReleaseInput,
  checked: Extract<Eligibility, { onPath: true }>,
  override?: { reason: string },
  signer?: RequestSigner,
) {
  const { unmet, promotion } = checked;
  const command = `tandem release start ${input.model} ${input.tag} --env ${input.environment}`;
  if (unmet && (!override || !checked.overridable || !promotion)) {
    const hint = checked.overridable ? `; an operator the ${input.environment} policy lets promote may override: ${command} --override-reason TEXT` : '';
    throw new RefusedError(`${input.model} ${input.tag} is not eligible for ${input.environment}: ${unmet}${hint}`);
  }
  if (!promotion) throw new RefusedError(`${input.model} ${input.tag}: no promotion record in ${checked.from}`);
  const promotedFrom = { ...promotion.artifact, ...(unmet && override ? { override: { by: input.requestedBy ?? '(unknown)', reason: override.reason, unmet } } : {}) };
  const handle = await client.start({ ...input, repoUrl: promotion.artifact.repoUrl, promotedFrom }, signer);
  // The promotion then ends as released (its automatic start, if any, does not start a second one).
  await client.temporal.workflow
    .getHandle(promotionWorkflowId(input.model, checked.from, input.tag))
    .signal(promotionTakenSignal, { workflowId: handle.workflowId, by: input.requestedBy ?? '(unknown)' })
    .catch(() => undefined);
  return handle;
}

/** One environment of the path as a version stands there. */
export interface EnvironmentProgress {
  environment: string;
  /** promoted, releasing, rolled-back, failed (a release here); soaking, eligible, blocked, cancelled (its promotion from the previous one); waiting; not released */
  state: string;
  detail?: string;
  releaseId?: string;
}
export interface VersionProgress {
  version: string;
  environments: EnvironmentProgress[];
  /** the first environment it has not entered and the condition that keeps it out */
  blockedBy?: { environment: string; condition: string };
}
export interface PathProgress {
  model: string;
  path: string[];
  versions: VersionProgress[];
}

/** Each version's progress along the model's path, newest first, and what blocks it. */
export async function pathProgress(client: PathClient, model: string, path: PathInput, limit = 20): Promise<PathProgress> {
  const names = pathSteps(path).map((s) => s.environment);
  const histories = await Promise.all(names.map((env) => client.history(model, env, 200)));
  const releases = histories.map((h) => h.filter((e) => e.kind === 'release'));
  const order: string[] = [];
  for (const e of releases.flat().sort((a, b) => (a.startTime < b.startTime ? 1 : -1))) if (!order.includes(e.version)) order.push(e.version);
  const versions = await Promise.all(
    order.slice(0, limit).map(async (version): Promise<VersionProgress> => {
      const environments: EnvironmentProgress[] = [];
      let blockedBy: VersionProgress['blockedBy'];
      for (const [i, env] of names.entries()) {
        const release = releases[i]!.find((e) => e.version === version);
        const from = names[i - 1];
        const promotion = from ? await readPromotion(client, model, from, version) : undefined;
        if (promotion?.state === 'cancelled') Object.assign(environments[i - 1]!, { state: 'rolled-back', detail: promotion.reason });
        if (release) {
          environments.push({ environment: env, state: releaseState(release), detail: release.stage, releaseId: release.workflowId });
          continue;
        }
        if (!from) {
          environments.push({ environment: env, state: 'not released' });
          continue;
        }
        const condition = unmetCondition(version, from, env, promotion, releases[i - 1]!.find((e) => e.version === version));
        environments.push({ environment: env, state: promotion?.state ?? 'waiting', ...(condition ? { detail: condition } : promotion ? { detail: promotion.conditions.auto ? 'release starting' : `start it: tandem release start ${model} ${version} --env ${env}` } : {}) });
        if (condition && !blockedBy) blockedBy = { environment: env, condition };
      }
      return { version, environments, ...(blockedBy ? { blockedBy } : {}) };
    }),
  );
  return { model, path: names, versions };
}

function releaseState(e: HistoryEntry): string {
  if (e.status === 'RUNNING') return 'releasing';
  if (e.status === 'COMPLETED') return 'promoted';
  return e.stage === 'rolled-back' ? 'rolled-back' : 'failed';
}

async function latestRelease(client: PathClient, model: string, environment: string, version: string): Promise<HistoryEntry | undefined> {
  return (await client.history(model, environment, 200)).find((e) => e.kind === 'release' && e.version === version);
}

/**
 * Starts a release as the CLI and the API do: into an environment the model's path leads to only
 * as startPromoted allows (eligible, or overridden with a reason), elsewhere as client.start.
 * `overrideReason` off the path is bad input (there is no condition to override).
 */
export async function startRelease(client: PathClient, input: ReleaseInput, path: PathInput | undefined, overrideReason?: string, signer?: RequestSigner) {
  const checked = await eligibility(client, input.model, input.tag, input.environment, path);
  if (!checked.onPath) {
    if (overrideReason !== undefined) throw new BadInputError(`overrideReason: it overrides the conditions of a model's path, and models.${input.model}.path does not lead to ${input.environment}`);
    return client.start(input, signer);
  }
  return startPromoted(client, input, checked, overrideReason ? { reason: overrideReason } : undefined, signer);
}

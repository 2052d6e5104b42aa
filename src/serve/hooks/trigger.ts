/**
 * What a tag push starts: the release of each model whose configured repository it came from, in
 * the model's default environment, when the tag matches the model's `tags` filter — at most once
 * per delivery (TandemClient.startOnce), so a redelivery answers the release already started.
 */
import type { Config } from '../../config/schema';
import { matchingPattern } from '../../config/tag-patterns';
import { MAX_WHO_LENGTH } from '../../workflows/messages';
import type { ServeDeps } from '../app';
import type { ServeClient } from '../client';
import { HttpError } from '../errors';
import { signerOf } from '../routes/context';
import { modelsOfRepository } from './repository-url';
import type { TagPush } from './tag-push';

export interface TriggeredRelease {
  model: string;
  environment: string;
  tag: string;
  workflowId: string;
  requestedBy: string;
  /** false: this delivery had already started it */
  started: boolean;
}

/** The answer to a delivery: started (202), duplicate (200: nothing new started), or ignored (202). */
export interface HookAnswer {
  status: 'started' | 'duplicate' | 'ignored';
  message: string;
  releases: TriggeredRelease[];
}

export interface TriggerDeps extends Pick<ServeDeps, 'signingKey'> {
  client: ServeClient;
  config: Config & { path?: string };
  /** a push older than this is refused as stale */
  maxAgeMs: number;
  now?: () => Date;
}

export function ignored(reason: string): { code: 202; answer: HookAnswer } {
  return { code: 202, answer: { status: 'ignored', message: `ignored: ${reason}`, releases: [] } };
}

/**
 * Starts what the push asks for. Throws HttpError 404 for a repository no model is released from,
 * 400 for a stale push; the client's BadInputError (a tag Git refuses) and RefusedError (another
 * release of the model is active) pass through (400, 409).
 */
export async function triggerReleases(push: TagPush, deps: TriggerDeps): Promise<{ code: 200 | 202; answer: HookAnswer }> {
  const { config } = deps;
  if (push.deleted) return ignored(`tag ${push.tag} was deleted in ${push.repository}; nothing to release`);
  const models = modelsOfRepository(config.models, push.repositoryUrls);
  if (models.length === 0) {
    throw new HttpError(
      404,
      `repository ${push.repository} (${push.repositoryUrls[0] ?? 'no URL'}) is not the repo of any model in ${config.path ?? 'tandem.config.yaml'}; set models.<name>.repo to its clone URL`,
    );
  }
  const now = (deps.now ?? (() => new Date()))();
  if (push.pushedAt && now.getTime() - push.pushedAt.getTime() > deps.maxAgeMs) {
    throw new HttpError(
      400,
      `stale delivery: ${push.repository} was pushed at ${push.pushedAt.toISOString()}, longer ago than serve.webhooks.maxAge allows; nothing started. Start the release with \`tandem release start <model> ${push.tag}\` instead`,
      'body.repository.pushed_at',
    );
  }
  const releases: TriggeredRelease[] = [];
  const skipped: string[] = [];
  const requestedBy = push.requestedBy.slice(0, MAX_WHO_LENGTH);
  for (const model of models) {
    const { environment, repo, tags } = config.models[model]!;
    if (!matchingPattern(tags, push.tag)) {
      skipped.push(`tag ${push.tag} does not match ${[tags].flat().join(', ')} (models.${model}.tags)`);
      continue;
    }
    // With serve's signing key the start is signed as the pusher, in the group named after the host
    // (the approval policy's start rule can allow `github` or `gitlab`); otherwise it is self-declared.
    const signer = signerOf(deps, { subject: requestedBy, groups: [push.provider], via: push.provider });
    const { workflowId, started } = await deps.client.startOnce({ model, tag: push.tag, environment, repoUrl: repo, requestedBy }, push.delivery, signer);
    releases.push({ model, environment, tag: push.tag, workflowId, requestedBy, started });
  }
  if (releases.length === 0) return ignored(skipped.join('; '));
  const names = releases.map((r) => `${r.model} ${r.tag} → ${r.environment}`).join(', ');
  if (releases.some((r) => r.started)) return { code: 202, answer: { status: 'started', message: `started: ${names}`, releases } };
  return { code: 200, answer: { status: 'duplicate', message: `delivery ${push.delivery} was received before: it started ${names}; nothing new started`, releases } };
}

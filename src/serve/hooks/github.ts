/**
 * GitHub's webhook deliveries: `push` events of tags (`ref: refs/tags/<tag>`) start releases;
 * `ping` (sent when the webhook is created) and every other event, branch pushes included, are
 * answered and ignored. Subscribe the webhook to "Just the push event": a tag push also sends a
 * `create` event, and acting on both would start the release twice.
 */
import { z } from 'zod';
import { TAG_REF, ZERO_SHA, deliveryId, readPayload, type Delivery } from './tag-push';

const pushSchema = z.looseObject({
  ref: z.string({ error: 'ref is required (e.g. refs/tags/v1.2.0)' }),
  after: z.string().optional(),
  deleted: z.boolean().optional(),
  repository: z.looseObject({
    full_name: z.string({ error: 'repository.full_name is required' }),
    clone_url: z.string().optional(),
    html_url: z.string().optional(),
    ssh_url: z.string().optional(),
    git_url: z.string().optional(),
    url: z.string().optional(),
    // Unix seconds in push events, an ISO time in others.
    pushed_at: z.union([z.number(), z.string()]).nullish(),
  }),
  pusher: z.looseObject({ name: z.string().optional() }).optional(),
  sender: z.looseObject({ login: z.string().optional() }).optional(),
});

/** What a GitHub delivery asks for; throws HttpError 400 for a push payload that lacks a field. */
export function readGithubDelivery(event: string | undefined, payload: unknown, rawBody: Buffer, deliveryHeader: string | string[] | undefined): Delivery {
  if (event === 'ping') return { kind: 'ignored', reason: 'ping received: the webhook reaches tandem; tag pushes will start releases' };
  if (event !== 'push') {
    return { kind: 'ignored', reason: `event "${event ?? '(no X-GitHub-Event)'}" is not acted on: tandem starts releases from push events of tags; subscribe the webhook to "Just the push event"` };
  }
  const push = readPayload(pushSchema, payload, 'GitHub push');
  const tag = TAG_REF.exec(push.ref)?.[1];
  if (!tag) return { kind: 'ignored', reason: `ref ${push.ref} is not a tag: only pushed tags (refs/tags/...) start releases` };
  const repo = push.repository;
  const host = repo.html_url ? safeHost(repo.html_url) : undefined;
  const login = push.sender?.login ?? push.pusher?.name;
  return {
    kind: 'tag-push',
    push: {
      provider: 'github',
      delivery: deliveryId('github', deliveryHeader, rawBody),
      repository: repo.full_name,
      repositoryUrls: [repo.clone_url, repo.html_url, repo.ssh_url, repo.git_url, host && `https://${host}/${repo.full_name}`].filter((u): u is string => !!u),
      tag,
      deleted: push.deleted === true || (push.after !== undefined && ZERO_SHA.test(push.after)),
      requestedBy: login ? `github:${login}` : 'github',
      pushedAt: pushedAt(repo.pushed_at),
    },
  };
}

function pushedAt(value: number | string | null | undefined): Date | undefined {
  if (value === undefined || value === null) return undefined;
  const date = typeof value === 'number' ? new Date(value * 1000) : new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function safeHost(url: string): string | undefined {
  try {
    return new URL(url).host;
  } catch {
    return undefined;
  }
}

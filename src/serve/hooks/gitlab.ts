/**
 * GitLab's webhook deliveries: `Tag Push Hook` events (`object_kind: tag_push`) start releases;
 * every other event is answered and ignored. GitLab does not sign its payloads: the secret token
 * it sends in `X-Gitlab-Token` is the only proof, so keep it as secret as GitHub's key.
 */
import { z } from 'zod';
import { TAG_REF, ZERO_SHA, deliveryId, readPayload, type Delivery } from './tag-push';

const tagPushSchema = z.looseObject({
  object_kind: z.literal('tag_push', { error: 'object_kind must be "tag_push"' }),
  ref: z.string({ error: 'ref is required (e.g. refs/tags/v1.2.0)' }),
  after: z.string().optional(),
  user_username: z.string().optional(),
  user_name: z.string().optional(),
  project: z.looseObject({
    path_with_namespace: z.string({ error: 'project.path_with_namespace is required' }),
    git_http_url: z.string().optional(),
    git_ssh_url: z.string().optional(),
    web_url: z.string().optional(),
    http_url: z.string().optional(),
    ssh_url: z.string().optional(),
  }),
});

/** What a GitLab delivery asks for; throws HttpError 400 for a tag-push payload that lacks a field. */
export function readGitlabDelivery(event: string | undefined, payload: unknown, rawBody: Buffer, deliveryHeader: string | string[] | undefined): Delivery {
  if (event !== 'Tag Push Hook') {
    return { kind: 'ignored', reason: `event "${event ?? '(no X-Gitlab-Event)'}" is not acted on: tandem starts releases from Tag Push Hook events; enable "Tag push events" only` };
  }
  const push = readPayload(tagPushSchema, payload, 'GitLab Tag Push Hook');
  const tag = TAG_REF.exec(push.ref)?.[1];
  if (!tag) return { kind: 'ignored', reason: `ref ${push.ref} is not a tag: only pushed tags (refs/tags/...) start releases` };
  const project = push.project;
  const login = push.user_username ?? push.user_name;
  return {
    kind: 'tag-push',
    push: {
      provider: 'gitlab',
      delivery: deliveryId('gitlab', deliveryHeader, rawBody),
      repository: project.path_with_namespace,
      repositoryUrls: [project.git_http_url, project.git_ssh_url, project.web_url, project.http_url, project.ssh_url].filter((u): u is string => !!u),
      tag,
      deleted: push.after !== undefined && ZERO_SHA.test(push.after),
      requestedBy: login ? `gitlab:${login}` : 'gitlab',
    },
  };
}

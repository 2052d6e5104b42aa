/**
 * `POST /hooks/github` and `POST /hooks/gitlab`: Git-tag webhooks. Public routes (the Git host has
 * no token of serve.tokens), so each delivery proves itself: GitHub's HMAC-SHA256 signature over
 * the raw body, GitLab's secret token. In their own plugin scope the body is kept as raw bytes
 * (the signature covers exactly those), limited to HOOK_BODY_LIMIT, and each address may send
 * serve.webhooks.rateLimit deliveries per window. Anything refused starts nothing.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { webhooksSchema, type WebhooksConfig } from '../../config/webhook-schema';
import { durationMs } from '../../shared/duration';
import type { ServeDeps, ZodApp } from '../app';
import { HttpError, errorSchema } from '../errors';
import { readGithubDelivery } from './github';
import { readGitlabDelivery } from './gitlab';
import { resolveWebhookSecret } from './secrets';
import { gitlabTokenMatches, verifyGithubSignature } from './signature';
import { header, parseJson, type Delivery } from './tag-push';
import { ignored, triggerReleases, type TriggerDeps } from './trigger';

/** Larger deliveries are refused with 413 before they are read (a tag push is a few KiB). */
export const HOOK_BODY_LIMIT = 1024 * 1024;

const hookAnswerSchema = z
  .object({
    status: z.enum(['started', 'duplicate', 'ignored']).describe('started (202), duplicate: this delivery was received before (200), ignored (202)'),
    message: z.string(),
    releases: z.array(
      z.object({
        model: z.string(),
        environment: z.string(),
        tag: z.string(),
        workflowId: z.string(),
        requestedBy: z.string().describe('<provider>:<login of whoever pushed>'),
        started: z.boolean().describe('false when an earlier delivery of the same id started it'),
      }),
    ),
  })
  .describe('HookAnswer');

const responses = { 200: hookAnswerSchema, 202: hookAnswerSchema, 400: errorSchema, 401: errorSchema, 404: errorSchema, 409: errorSchema, 413: errorSchema, 415: errorSchema, 429: errorSchema };

interface Provider {
  name: 'github' | 'gitlab';
  title: string;
  description: string;
  /** throws HttpError 401 unless the request proves it comes from the host */
  authenticate(request: FastifyRequest, rawBody: Buffer, secret: string): void;
  read(request: FastifyRequest, payload: unknown, rawBody: Buffer): Delivery;
}

const providers: Provider[] = [
  {
    name: 'github',
    title: 'GitHub',
    description:
      'A GitHub webhook delivery (content type application/json, event "push"), signed with X-Hub-Signature-256 under serve.webhooks.github\'s secret. A pushed tag starts the release of the model whose repo is the repository, if the tag matches its `tags`; X-GitHub-Delivery makes a redelivery start nothing new.',
    authenticate(request, rawBody, secret) {
      const signature = header(request.headers['x-hub-signature-256']);
      if (!signature) throw new HttpError(401, 'unsigned delivery: no X-Hub-Signature-256 header; set the webhook\'s secret in GitHub to serve.webhooks.github\'s');
      if (!verifyGithubSignature(secret, rawBody, signature)) {
        throw new HttpError(401, 'X-Hub-Signature-256 does not match the body: the webhook\'s secret in GitHub differs from serve.webhooks.github\'s, or the body was changed on the way');
      }
    },
    read: (request, payload, rawBody) => readGithubDelivery(header(request.headers['x-github-event']), payload, rawBody, request.headers['x-github-delivery']),
  },
  {
    name: 'gitlab',
    title: 'GitLab',
    description:
      'A GitLab webhook delivery (event "Tag Push Hook") with X-Gitlab-Token = serve.webhooks.gitlab\'s secret. A pushed tag starts the release of the model whose repo is the project, if the tag matches its `tags`; X-Gitlab-Event-UUID (or, without it, the body) makes a redelivery start nothing new.',
    authenticate(request, _rawBody, secret) {
      const token = header(request.headers['x-gitlab-token']);
      if (!token) throw new HttpError(401, 'no X-Gitlab-Token header; set the webhook\'s secret token in GitLab to serve.webhooks.gitlab\'s');
      if (!gitlabTokenMatches(secret, token)) throw new HttpError(401, 'X-Gitlab-Token is not serve.webhooks.gitlab\'s secret');
    },
    read: (request, payload, rawBody) => readGitlabDelivery(header(request.headers['x-gitlab-event']), payload, rawBody, request.headers['x-gitlab-event-uuid']),
  },
];

/**
 * Registers the webhook routes (always, so the OpenAPI document does not depend on the
 * configuration; an unconfigured host answers 404 naming the key). Resolves the configured
 * secrets now: throws WebhookSecretError naming the key when one cannot be read.
 */
export async function registerHookRoutes(app: ZodApp, deps: ServeDeps): Promise<void> {
  const webhooks: WebhooksConfig = deps.config.serve?.webhooks ?? webhooksSchema.parse({});
  const secrets = new Map<string, string>();
  for (const provider of providers) {
    const host = webhooks[provider.name];
    if (host) secrets.set(provider.name, resolveWebhookSecret(host, `serve.webhooks.${provider.name}`));
  }
  const trigger: TriggerDeps = { client: deps.client, config: deps.config, maxAgeMs: durationMs(webhooks.maxAge), signingKey: deps.signingKey };
  const configFile = deps.config.path ?? 'tandem.config.yaml';

  await app.register(async (scope) => {
    // The signature covers the bytes as sent: keep them, whatever the content type says.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    await scope.register(rateLimit, { global: false });
    const typed = scope.withTypeProvider<ZodTypeProvider>();

    for (const provider of providers) {
      typed.post(
        `/hooks/${provider.name}`,
        {
          bodyLimit: HOOK_BODY_LIMIT,
          config: { permission: 'public', rateLimit: { max: webhooks.rateLimit.max, timeWindow: durationMs(webhooks.rateLimit.window) } },
          schema: { summary: `${provider.title} tag pushes start releases`, description: provider.description, tags: ['webhooks'], security: [], response: responses },
        },
        async (request: FastifyRequest, reply: FastifyReply) => {
          const secret = secrets.get(provider.name);
          if (!secret) throw new HttpError(404, `${provider.title} webhooks are not configured: set serve.webhooks.${provider.name}.secretEnv or secretFile in ${configFile}`);
          const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
          provider.authenticate(request, rawBody, secret);
          const type = header(request.headers['content-type']) ?? '';
          if (!/^application\/json\b/i.test(type)) {
            throw new HttpError(415, `content type "${type || 'none'}" is not accepted: set the webhook's content type to application/json`);
          }
          const delivery = provider.read(request, parseJson(rawBody), rawBody);
          const { code, answer } = delivery.kind === 'ignored' ? ignored(delivery.reason) : await triggerReleases(delivery.push, trigger);
          request.log.info({ hook: provider.name, status: answer.status, releases: answer.releases.map((r) => r.workflowId) }, answer.message);
          return reply.code(code).send(answer);
        },
      );
    }
  });
}

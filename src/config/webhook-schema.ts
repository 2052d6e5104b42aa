/**
 * `serve.webhooks` of tandem.config.yaml: the Git hosts whose tag pushes start releases
 * (`POST /hooks/github`, `POST /hooks/gitlab`), where serve finds each one's shared secret, how
 * old a push may be, and how many deliveries a minute it takes. Secrets are named here (an
 * environment variable or a file), never written. Pure.
 */
import { z } from 'zod';
import { DURATION_PATTERN } from '../shared/duration';

const envVarName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name, e.g. TANDEM_GITHUB_WEBHOOK_SECRET');
const duration = z.string().regex(DURATION_PATTERN, 'a duration such as 30s, 10m, 24h or 2d');

/** One Git host: its secret (GitHub: the HMAC key of X-Hub-Signature-256; GitLab: the X-Gitlab-Token). */
const hostSchema = (host: string, example: string) =>
  z
    .object({
      secretEnv: envVarName.optional().describe(`Environment variable of serve that holds the ${host} webhook's secret, e.g. ${example}.`),
      secretFile: z.string().min(1).optional().describe(`File that holds the ${host} webhook's secret (e.g. a mounted secret), read when serve starts.`),
    })
    .strict()
    .superRefine((h, ctx) => {
      if (!h.secretEnv === !h.secretFile) {
        ctx.addIssue({
          code: 'custom',
          path: ['secretEnv'],
          message: h.secretEnv ? 'give secretEnv or secretFile, not both' : `is required: name the environment variable (secretEnv) or file (secretFile) that holds the ${host} webhook's secret`,
        });
      }
    });

export const webhooksSchema = z
  .object({
    github: hostSchema('GitHub', 'TANDEM_GITHUB_WEBHOOK_SECRET').optional().describe('Accept GitHub push events of tags at POST /hooks/github.'),
    gitlab: hostSchema('GitLab', 'TANDEM_GITLAB_WEBHOOK_TOKEN').optional().describe('Accept GitLab Tag Push Hook events at POST /hooks/gitlab.'),
    maxAge: duration
      .default('24h')
      .describe('A GitHub push older than this (repository.pushed_at of the signed payload) is refused as stale: a replayed or late delivery starts nothing.'),
    rateLimit: z
      .object({
        max: z.number().int().min(1).default(60).describe('Deliveries one address may send per window; more are refused with 429.'),
        window: duration.default('1m').describe('The window of max.'),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type WebhooksConfig = z.output<typeof webhooksSchema>;
export type WebhookHostConfig = NonNullable<WebhooksConfig['github']>;

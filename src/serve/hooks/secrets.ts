/**
 * The webhook secrets, resolved by serve when it starts from where serve.webhooks names them (an
 * environment variable or a file): a missing secret stops serve with the key to fix, rather than
 * refusing every delivery later. The values are kept in memory only, never logged.
 */
import { readFileSync } from 'node:fs';
import type { WebhookHostConfig } from '../../config/webhook-schema';

export class WebhookSecretError extends Error {
  override name = 'WebhookSecretError';
}

/** The secret of one Git host; throws WebhookSecretError naming the key (e.g. serve.webhooks.github.secretEnv). */
export function resolveWebhookSecret(host: WebhookHostConfig, key: string, env: NodeJS.ProcessEnv = process.env): string {
  let secret: string;
  if (host.secretEnv) {
    secret = env[host.secretEnv] ?? '';
    if (!secret) throw new WebhookSecretError(`${key}.secretEnv names ${host.secretEnv}, which is not set (or empty) in serve's environment; set it to the webhook's secret, or use ${key}.secretFile`);
  } else {
    try {
      secret = readFileSync(host.secretFile!, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new WebhookSecretError(`${key}.secretFile: cannot read ${host.secretFile} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    if (!secret) throw new WebhookSecretError(`${key}.secretFile: ${host.secretFile} is empty; write the webhook's secret in it`);
  }
  if (secret.length < 16) throw new WebhookSecretError(`${key}: the secret is ${secret.length} characters; use at least 16 random ones, e.g. \`openssl rand -hex 32\``);
  return secret;
}

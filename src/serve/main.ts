/**
 * `tandem serve` as a long-running process (src/cli/program.ts parses the options): connects to
 * Temporal, serves the API until SIGINT or SIGTERM, then stops taking requests, lets the ones in
 * flight finish, and resolves.
 */
import type { KeyObject } from 'node:crypto';
import type { Config } from '../config/schema';
import type { TandemClient } from '../client';
import { buildServeApp, loggerOptions } from './app';
import { bearerTokenProvider } from './auth/bearer';
import { sessionProvider } from './auth/session';
import { createSignIn } from './auth/sign-in';
import { BadInputError } from '../client/errors';
import { loadSigningKey, SigningKeyError } from '../policy/sign';
import { untilSignal } from '../shared/signals';

export interface RunServeOptions {
  host: string;
  port: number;
}

/**
 * Serves the API with `client` until a signal; logs (JSON lines on stdout) one line with its URL
 * once it listens. Throws when the port is taken.
 */
export async function runServe(config: Config & { path: string }, client: TandemClient, options: RunServeOptions): Promise<void> {
  const tokens = config.serve?.tokens ?? [];
  // Secrets of sign-in are read now: a missing one stops serve before it listens, naming the key.
  const signIn = config.serve?.oidc && createSignIn(config.serve.oidc);
  const providers = [bearerTokenProvider(tokens), ...(signIn ? [sessionProvider(signIn.sessions)] : [])];
  const signingKey = readSigningKey(config);
  const { app } = await buildServeApp({ client, config, providers, ...(signIn ? { signIn } : {}), ...(signingKey ? { signingKey } : {}), namespace: client.temporal.options.namespace, logger: loggerOptions() });
  if (!signingKey) app.log.warn(`no serve.signingKeyFile in ${config.path}: actions are not signed, and workflows record them as self-declared (via temporal)`);
  if (signIn) app.log.info(`sign-in with OpenID Connect: ${signIn.config.issuer}, callback ${signIn.config.publicUrl.replace(/\/$/, '')}/auth/callback`);
  if (tokens.length === 0 && !signIn) app.log.warn(`no serve.tokens in ${config.path}: every /api request is refused (401) until one is configured`);
  await app.listen({
    host: options.host,
    port: options.port,
    listenTextResolver: (address) =>
      `tandem serve: API at ${address}/api/, console at ${address}/console/ (OpenAPI document ${address}/openapi.json, health ${address}/healthz); ${tokens.length} token(s) from ${config.path}, task queue "${client.taskQueue}"`,
  });
  const signal = await untilSignal('SIGINT', 'SIGTERM');
  app.log.info(`tandem serve: ${signal}, closing`);
  await app.close();
}

/** serve.signingKeyFile's key; a missing or wrong file stops serve before it listens (exit 2), naming the key. */
function readSigningKey(config: Config): KeyObject | undefined {
  const file = config.serve?.signingKeyFile;
  if (!file) return undefined;
  try {
    return loadSigningKey(file);
  } catch (err) {
    if (err instanceof SigningKeyError) throw new BadInputError(err.message);
    throw err;
  }
}

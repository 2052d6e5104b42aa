/**
 * Bearer tokens for CI jobs and scripts: `Authorization: Bearer <token>`, matched by its SHA-256
 * against `serve.tokens` of tandem.config.yaml. Every configured hash is compared, in constant
 * time, so neither the match nor its position shows in the time an answer takes.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { ServeConfig } from '../../config/serve-schema';
import type { AuthProvider, Identity } from './identity';
import { hashToken } from './token-hash';

const BEARER = /^Bearer[ ]+(\S+)[ ]*$/i;

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | string[] | undefined): string | undefined {
  if (typeof header !== 'string') return undefined;
  return BEARER.exec(header)?.[1];
}

/** The holder of the configured token whose hash equals the token's, or undefined. */
export function matchToken(tokens: ServeConfig['tokens'], token: string): Identity | undefined {
  const presented = Buffer.from(hashToken(token), 'hex');
  let found: ServeConfig['tokens'][number] | undefined;
  for (const candidate of tokens) {
    // No early exit: every hash is compared whatever the outcome.
    if (timingSafeEqual(presented, Buffer.from(candidate.sha256, 'hex')) && !found) found = candidate;
  }
  return found && { subject: found.name, groups: [...found.groups], via: 'token' };
}

export function bearerTokenProvider(tokens: ServeConfig['tokens']): AuthProvider {
  return {
    name: 'token',
    async authenticate(request: FastifyRequest) {
      const token = bearerToken(request.headers.authorization);
      return token === undefined ? undefined : matchToken(tokens, token);
    },
  };
}

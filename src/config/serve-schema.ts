/**
 * The `serve:` section of tandem.config.yaml: who may call `tandem serve` (bearer tokens for CI,
 * stored as SHA-256 hashes, each with a name and groups) and which groups may read, start and
 * operate releases. Pure.
 */
import { z } from 'zod';
import { MAX_WHO_LENGTH } from '../workflows/messages';
import { webhooksSchema } from './webhook-schema';
import { oidcSchema } from './serve-oidc-schema';

/** In `serve.access`, a group entry that lets every authenticated caller in. */
export const ANY_AUTHENTICATED = '*';

/** What a caller may be allowed to do through the API. */
export const permissions = ['read', 'start', 'operate'] as const;
export type Permission = (typeof permissions)[number];

export const TOKEN_HASH = /^[0-9a-f]{64}$/;

const groupSchema = z.string().trim().min(1, 'a group name cannot be empty').max(200, 'a group name is at most 200 characters');

const tokenSchema = z
  .object({
    name: z
      .string()
      .trim()
      .min(1, 'name the token\'s holder (recorded as who acted)')
      .max(MAX_WHO_LENGTH, `name is longer than ${MAX_WHO_LENGTH} characters`)
      .describe('Who acts with this token, e.g. ci-github: recorded as `who` on every action it takes.'),
    sha256: z
      .string()
      .regex(
        TOKEN_HASH,
        'the SHA-256 of the token as 64 lowercase hex digits, never the token itself: `printf %s "$TOKEN" | tandem serve hash-token`',
      )
      .describe('SHA-256 of the token, hex. The token itself is never written in the file.'),
    groups: z.array(groupSchema).default([]).describe('Groups the holder belongs to, matched against serve.access.'),
  })
  .strict();

const accessListSchema = (what: string, fallback: string[]) =>
  z
    .array(groupSchema)
    .default(fallback)
    .describe(`Groups that may ${what}; "${ANY_AUTHENTICATED}" for every authenticated caller. Default: ${fallback.length ? fallback.join(', ') : 'nobody'}.`);

export const serveSchema = z
  .object({
    signingKeyFile: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Ed25519 private key (PEM) with which serve signs who acts, so workflows can verify it (README, "Approval policy"). Workers derive the public key from it unless verifyKeyFile is given.',
      ),
    verifyKeyFile: z
      .string()
      .min(1)
      .optional()
      .describe('Ed25519 public key (PEM) of signingKeyFile, for workers that should not read the private key.'),
    tokens: z.array(tokenSchema).default([]).describe('Bearer tokens for CI jobs and scripts.'),
    oidc: oidcSchema.optional().describe('Sign-in with OpenID Connect for people (README, "Sign-in (OpenID Connect)").'),
    access: z
      .object({
        read: accessListSchema('list releases and read status, versions and history', [ANY_AUTHENTICATED]),
        start: accessListSchema('start releases', []),
        operate: accessListSchema('approve, abort, pause, resume, promote and roll back', []),
      })
      .strict()
      .prefault({}),
    webhooks: webhooksSchema.optional().describe('Git-tag webhooks: tag pushes that start releases (README, "Git-tag webhooks").'),
  })
  .strict()
  .superRefine((serve, ctx) => {
    const names = new Map<string, number>();
    const hashes = new Map<string, number>();
    serve.tokens.forEach((token, i) => {
      const sameName = names.get(token.name);
      if (sameName !== undefined) ctx.addIssue({ code: 'custom', path: ['tokens', i, 'name'], message: `"${token.name}" is also the name of tokens[${sameName}]: each token names one holder` });
      const sameHash = hashes.get(token.sha256);
      if (sameHash !== undefined) ctx.addIssue({ code: 'custom', path: ['tokens', i, 'sha256'], message: `is the same as tokens[${sameHash}].sha256: give each holder a token of its own` });
      names.set(token.name, i);
      hashes.set(token.sha256, i);
    });
  });

export type ServeConfig = z.output<typeof serveSchema>;
export type AccessConfig = ServeConfig['access'];

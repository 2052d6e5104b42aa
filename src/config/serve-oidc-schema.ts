/**
 * `serve.oidc` of tandem.config.yaml: sign-in with OpenID Connect for people (authorization code +
 * PKCE). The client secret and the key that signs session cookies are secrets: the file names
 * where serve finds them (an environment variable or a file), never the values. Pure.
 */
import { z } from 'zod';
import { DURATION_PATTERN, durationMs } from '../shared/duration';

/** Hosts where plain http is acceptable: the machine itself (development, tests). */
const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/;

/** True when the URL is https, or http to this machine only. */
export function secureOrLoopback(url: URL): boolean {
  return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.test(url.hostname));
}

const envVarName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name, e.g. TANDEM_OIDC_CLIENT_SECRET');

const httpsUrl = (what: string) =>
  z
    .string()
    .url(`${what} must be an absolute URL, e.g. https://tandem.example.com`)
    .refine((text) => !URL.canParse(text) || secureOrLoopback(new URL(text)), `${what} must use https (plain http is allowed only for localhost or 127.0.0.1)`);

/** Shortest and longest session a sign-in gives (a typo such as 8d for 8h is caught). */
const SESSION_MIN_MS = 60_000;
const SESSION_MAX_MS = 7 * 86_400_000;

export const oidcSchema = z
  .object({
    issuer: httpsUrl('issuer').describe('Issuer URL of the OpenID provider; its /.well-known/openid-configuration is read at the first sign-in.'),
    clientId: z.string().trim().min(1, 'the client id registered for tandem at the provider').describe('Client id registered for tandem at the provider.'),
    clientSecretEnv: envVarName.optional().describe('Environment variable of serve that holds the client secret.'),
    clientSecretFile: z.string().min(1).optional().describe('File that holds the client secret (e.g. a mounted secret).'),
    publicUrl: httpsUrl('publicUrl')
      .refine((text) => !URL.canParse(text) || ['', '/'].includes(new URL(text).pathname), 'publicUrl is the origin where people reach serve, without a path, e.g. https://tandem.example.com')
      .describe('Where people reach serve, e.g. https://tandem.example.com; register <publicUrl>/auth/callback as the redirect URI at the provider.'),
    scopes: z
      .array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'a scope is one word without spaces or quotes'))
      .default(['openid', 'profile', 'email', 'groups'])
      .refine((scopes) => scopes.includes('openid'), 'must include "openid"')
      .describe('Scopes asked for at sign-in (default openid, profile, email, groups).'),
    usernameClaim: z.string().min(1).default('preferred_username').describe('Claim recorded as who acts (default preferred_username; e.g. email, or sub).'),
    groupsClaim: z.string().min(1).default('groups').describe('Claim that lists the person\'s groups, matched against serve.access and the approval policy (default groups).'),
    sessionLifetime: z
      .string()
      .regex(DURATION_PATTERN, 'must be a duration such as 30m, 8h or 1d')
      .refine((text) => !DURATION_PATTERN.test(text) || (durationMs(text) >= SESSION_MIN_MS && durationMs(text) <= SESSION_MAX_MS), 'must be between 1m and 7d')
      .default('8h')
      .describe('How long a sign-in lasts (default 8h); the person signs in again afterwards.'),
    sessionSecretEnv: envVarName.optional().describe('Environment variable of serve holding the key (at least 32 characters) that signs session cookies.'),
    sessionSecretFile: z.string().min(1).optional().describe('File holding that key.'),
  })
  .strict()
  .superRefine((oidc, ctx) => {
    for (const [secret, what] of [
      ['clientSecret', 'the client secret'],
      ['sessionSecret', 'the key that signs session cookies (e.g. `openssl rand -hex 32`)'],
    ] as const) {
      const env = oidc[`${secret}Env`];
      const file = oidc[`${secret}File`];
      if (env && file) ctx.addIssue({ code: 'custom', path: [`${secret}Env`], message: `give ${secret}Env or ${secret}File, not both` });
      if (!env && !file) ctx.addIssue({ code: 'custom', path: [`${secret}Env`], message: `is required: name the environment variable (${secret}Env) or file (${secret}File) that holds ${what}` });
    }
  });

export type OidcConfig = z.output<typeof oidcSchema>;

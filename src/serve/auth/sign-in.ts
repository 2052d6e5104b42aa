/**
 * Sign-in with OpenID Connect as `tandem serve` runs it, built from serve.oidc: the relying party
 * (./oidc-client.ts), session cookies (./session.ts), and the sign-in in progress, kept in a signed
 * cookie of its own between the redirect to the provider and the callback.
 */
import type { OidcConfig } from '../../config/serve-oidc-schema';
import { durationMs } from '../../shared/duration';
import { RelyingParty, type SignInTransaction } from './oidc-client';
import { readSecret } from './secret';
import { SessionCookies } from './session';

/** The callback path registered at the provider: <publicUrl>/auth/callback. */
export const CALLBACK_PATH = '/auth/callback';

/** How long a sign-in may take at the provider (login, consent) before it must start again. */
export const SIGN_IN_SECONDS = 600;

export interface SignIn {
  config: OidcConfig;
  sessions: SessionCookies;
  relyingParty: RelyingParty;
  /** the cookie that holds the sign-in in progress */
  transactionCookie: string;
}

/** Sign-in for serve.oidc, its secrets read now; throws ConfigError naming the key when one is missing. */
export function createSignIn(config: OidcConfig): SignIn {
  const clientSecret = readSecret({ key: 'serve.oidc.clientSecret', env: config.clientSecretEnv, file: config.clientSecretFile });
  const sessionSecret = readSecret({
    key: 'serve.oidc.sessionSecret',
    env: config.sessionSecretEnv,
    file: config.sessionSecretFile,
    minLength: { chars: 32, fix: 'use at least 32 random characters, e.g. `openssl rand -hex 32`' },
  });
  const publicUrl = new URL(config.publicUrl);
  const secure = publicUrl.protocol === 'https:';
  return {
    config,
    sessions: new SessionCookies({ secret: sessionSecret, lifetimeMs: durationMs(config.sessionLifetime), secure }),
    relyingParty: new RelyingParty({
      issuer: config.issuer,
      clientId: config.clientId,
      clientSecret,
      redirectUri: new URL(CALLBACK_PATH, publicUrl).href,
      scopes: config.scopes,
    }),
    transactionCookie: secure ? '__Host-tandem-signin' : 'tandem-signin',
  };
}

/** The (signed) cookie value that keeps a sign-in in progress: the browser cannot alter it. */
export function transactionValue(signIn: SignIn, transaction: SignInTransaction): string {
  return signIn.sessions.sign(Buffer.from(JSON.stringify(transaction)).toString('base64url'));
}

/** The sign-in in progress of a cookie value, or undefined when there is none or it was altered. */
export function readTransaction(signIn: SignIn, raw: string | undefined): SignInTransaction | undefined {
  const value = raw === undefined ? undefined : signIn.sessions.unsign(raw);
  if (value === undefined) return undefined;
  try {
    const transaction = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as SignInTransaction;
    return typeof transaction.state === 'string' && typeof transaction.verifier === 'string' && typeof transaction.returnTo === 'string' ? transaction : undefined;
  } catch {
    return undefined;
  }
}

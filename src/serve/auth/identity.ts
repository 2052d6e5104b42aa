/**
 * Who is calling `tandem serve`, as established by an authentication provider, never as the
 * caller declares it. Providers are tried in order; the first that recognises the request's
 * credentials wins. Bearer tokens (./bearer.ts) are one provider; sign-in with OpenID Connect
 * is meant to be another (e.g. ./oidc.ts reading a session cookie), added to the same chain.
 */
import type { FastifyRequest } from 'fastify';

export interface Identity {
  /** recorded as `who` on every action: a token's name, or a signed-in user's subject */
  subject: string;
  groups: string[];
  /** which provider established it, e.g. "token" or "oidc" */
  via: string;
}

export interface AuthProvider {
  /** e.g. "token" */
  readonly name: string;
  /**
   * The caller's identity when this provider recognises the request's credentials; undefined when
   * the request carries none it knows (the next provider is asked). Never throws for bad input.
   */
  authenticate(request: FastifyRequest): Promise<Identity | undefined>;
}

/** The first identity any provider establishes, or undefined (the API answers 401). */
export async function authenticate(providers: readonly AuthProvider[], request: FastifyRequest): Promise<Identity | undefined> {
  for (const provider of providers) {
    const identity = await provider.authenticate(request);
    if (identity) return identity;
  }
  return undefined;
}

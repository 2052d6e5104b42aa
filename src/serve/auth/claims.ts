/**
 * From an OpenID provider's claims to the person tandem records: the name in serve.oidc.usernameClaim
 * (who acts) and the groups in serve.oidc.groupsClaim (matched against serve.access and the approval
 * policy). And where a person may be sent back after signing in: a path of serve itself. Pure.
 */
import { MAX_WHO_LENGTH } from '../../workflows/messages';

export interface Person {
  subject: string;
  name?: string | undefined;
  groups: string[];
}

/** Why the claims do not name a person tandem can record; the message names the key to change. */
export class ClaimsError extends Error {}

const MAX_GROUP_LENGTH = 200;

/** The person the claims describe; throws ClaimsError when the username claim is missing or unusable. */
export function personFromClaims(claims: Record<string, unknown>, options: { usernameClaim: string; groupsClaim: string }): Person {
  const username = claims[options.usernameClaim];
  if (typeof username !== 'string' || !username.trim()) {
    const has = Object.keys(claims).sort().join(', ');
    throw new ClaimsError(`the provider sent no "${options.usernameClaim}" claim for ${String(claims.sub)} (serve.oidc.usernameClaim); it sent: ${has}. Ask for the scope that carries it (serve.oidc.scopes) or name another claim`);
  }
  if (username.length > MAX_WHO_LENGTH) throw new ClaimsError(`the "${options.usernameClaim}" claim is longer than ${MAX_WHO_LENGTH} characters (serve.oidc.usernameClaim): name a shorter claim`);
  const raw = claims[options.groupsClaim];
  const list = Array.isArray(raw) ? raw : typeof raw === 'string' ? [raw] : [];
  const groups = [...new Set(list.filter((g): g is string => typeof g === 'string' && g.trim() !== '' && g.length <= MAX_GROUP_LENGTH))];
  const name = typeof claims.name === 'string' && claims.name.trim() ? claims.name : undefined;
  return { subject: username.trim(), ...(name ? { name } : {}), groups };
}

/** Where to send a person after sign-in when no (acceptable) `return` was given. */
export const DEFAULT_RETURN = '/auth/me';

/**
 * The path and query of `requested` when it is a path of serve itself (same origin as `publicUrl`),
 * otherwise undefined: a sign-in link cannot be made to send someone to another site.
 */
export function sameOriginPath(requested: string, publicUrl: string): string | undefined {
  // "//host" and "/\host" are other origins to a browser; control characters hide them.
  if (!requested.startsWith('/') || requested.startsWith('//') || requested.startsWith('/\\') || /[\x00-\x1f\x7f\\]/.test(requested) || requested.length > 2000) return undefined;
  const base = new URL(publicUrl);
  const url = new URL(requested, base);
  return url.origin === base.origin ? `${url.pathname}${url.search}` : undefined;
}

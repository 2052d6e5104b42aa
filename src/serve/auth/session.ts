/**
 * Sessions of people signed in with OpenID Connect: a signed cookie (HMAC-SHA256, @fastify/cookie's
 * Signer) that holds who the person is, their groups and when the session ends, so serve keeps no
 * session store: a session survives a restart of serve and is accepted by every replica that has
 * the same key. The cookie is HttpOnly (scripts cannot read it), SameSite=Lax, and Secure when
 * serve is reached over https. Because a browser sends it on its own, state-changing requests must
 * also carry the session's CSRF token (csrfToken, from GET /auth/me) in X-Tandem-CSRF.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { Signer, type SerializeOptions } from '@fastify/cookie';
import type { FastifyRequest } from 'fastify';
import type { AuthProvider, Identity } from './identity';

/** How an identity established by a session cookie is recorded (`via`). */
export const SESSION_VIA = 'oidc';

/** The request header that carries a session's CSRF token on state-changing requests. */
export const CSRF_HEADER = 'x-tandem-csrf';

/** Browsers keep cookies up to 4096 bytes (name, value and attributes, which take < 100). */
const MAX_COOKIE_VALUE_BYTES = 3900;

export interface Session {
  /** random id: binds the CSRF token, and names the session when it is ended */
  sid: string;
  subject: string;
  name?: string | undefined;
  groups: string[];
  /** epoch milliseconds */
  expiresAt: number;
}

export interface SessionOptions {
  /** the key that signs cookies (from serve.oidc.sessionSecretEnv/File) */
  secret: string;
  lifetimeMs: number;
  /** Secure cookies with the __Host- prefix: serve is reached over https */
  secure: boolean;
  now?: () => number;
}

/** Why a session cannot be made; the message names the fix. */
export class SessionTooLargeError extends Error {}

/** Signs, reads and ends session cookies. */
export class SessionCookies {
  readonly name: string;
  private readonly signer: Signer;
  private readonly now: () => number;
  /** sessions ended by logout in this process, until they would have expired */
  private readonly ended = new Map<string, number>();

  constructor(private readonly options: SessionOptions) {
    this.name = options.secure ? '__Host-tandem-session' : 'tandem-session';
    this.signer = new Signer(options.secret, 'sha256');
    this.now = options.now ?? Date.now;
  }

  /** A new session for the person, and the (signed) value of the cookie that carries it. */
  issue(person: { subject: string; name?: string | undefined; groups: string[] }): { session: Session; value: string } {
    const session: Session = { sid: randomBytes(18).toString('base64url'), ...person, expiresAt: this.now() + this.options.lifetimeMs };
    const value = this.signer.sign(Buffer.from(JSON.stringify(session)).toString('base64url'));
    if (Buffer.byteLength(value) + this.name.length > MAX_COOKIE_VALUE_BYTES) {
      throw new SessionTooLargeError(
        `the session of ${person.subject} would not fit in a cookie (${person.groups.length} groups): have the provider send fewer groups in serve.oidc.groupsClaim (e.g. only tandem's), or shorter names`,
      );
    }
    return { session, value };
  }

  /** The valid, unexpired, not ended session of a cookie value, or undefined. */
  read(raw: string | undefined): Session | undefined {
    if (!raw) return undefined;
    const unsigned = this.signer.unsign(raw);
    if (!unsigned.valid || unsigned.value === null) return undefined;
    let session: Session;
    try {
      session = JSON.parse(Buffer.from(unsigned.value, 'base64url').toString('utf8')) as Session;
    } catch {
      return undefined;
    }
    if (typeof session.expiresAt !== 'number' || session.expiresAt <= this.now() || this.ended.has(session.sid)) return undefined;
    return session;
  }

  /** The CSRF token of a session: derived from its id with the key, so it needs no storage. */
  csrfToken(session: Session): string {
    return createHmac('sha256', this.options.secret).update(`csrf\0${session.sid}`).digest('base64url');
  }

  /** True when `presented` is the session's CSRF token (compared in constant time). */
  csrfMatches(session: Session, presented: string | string[] | undefined): boolean {
    if (typeof presented !== 'string') return false;
    const expected = Buffer.from(this.csrfToken(session));
    const given = Buffer.from(presented);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  /**
   * Ends the session: this process refuses its cookie from now on (a copy kept elsewhere is
   * refused too, by this process; another replica or a restarted serve accepts it until it
   * expires).
   */
  end(session: Session): void {
    const now = this.now();
    for (const [sid, expiresAt] of this.ended) if (expiresAt <= now) this.ended.delete(sid);
    this.ended.set(session.sid, session.expiresAt);
  }

  /** Signs a short-lived value (the sign-in in progress) with the same key. */
  sign(value: string): string {
    return this.signer.sign(value);
  }

  /** The value `sign` signed, or undefined when the signature does not verify. */
  unsign(signed: string): string | undefined {
    const unsigned = this.signer.unsign(signed);
    return unsigned.valid && unsigned.value !== null ? unsigned.value : undefined;
  }

  /** How long the session cookie is kept by the browser: the session's lifetime. */
  get lifetimeSeconds(): number {
    return this.options.lifetimeMs / 1000;
  }

  /** Cookie attributes for serve's cookies: HttpOnly, SameSite=Lax, Path=/, Secure over https. */
  attributes(maxAgeSeconds: number): SerializeOptions {
    return { httpOnly: true, sameSite: 'lax', path: '/', secure: this.options.secure, maxAge: Math.floor(maxAgeSeconds) };
  }
}

/**
 * The value of the request's cookie `name`. Parsed here, with @fastify/cookie's parser (the plugin
 * is registered with the sign-in routes), because authentication runs before its parsing hook would.
 */
export function requestCookie(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  return header ? request.server.parseCookie(header)[name] : undefined;
}

/** The session of the request's session cookie, or undefined. */
export function requestSession(sessions: SessionCookies, request: FastifyRequest): Session | undefined {
  return sessions.read(requestCookie(request, sessions.name));
}

/** The auth-chain provider that recognises a session cookie (./identity.ts). */
export function sessionProvider(sessions: SessionCookies): AuthProvider {
  return {
    name: SESSION_VIA,
    async authenticate(request: FastifyRequest): Promise<Identity | undefined> {
      const session = requestSession(sessions, request);
      return session && { subject: session.subject, groups: [...session.groups], via: SESSION_VIA };
    },
  };
}

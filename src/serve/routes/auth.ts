/**
 * Sign-in with OpenID Connect for people: `GET /auth/login` sends the browser to the provider,
 * `GET /auth/callback` checks its answer and starts a session (a signed cookie), `GET /auth/me`
 * says who the caller is (and gives a session its CSRF token), `POST /auth/logout` ends the session.
 * Also the CSRF check: a request authenticated by the session cookie that changes something must
 * carry the session's token in X-Tandem-CSRF (a bearer token is no ambient credential: exempt).
 */
import fastifyCookie from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { ZodApp } from '../app';
import { ClaimsError, DEFAULT_RETURN, personFromClaims, sameOriginPath } from '../auth/claims';
import { ProviderUnavailableError, SignInError } from '../auth/oidc-client';
import { CSRF_HEADER, SESSION_VIA, SessionTooLargeError, requestCookie, requestSession } from '../auth/session';
import { CALLBACK_PATH, SIGN_IN_SECONDS, readTransaction, transactionValue, type SignIn } from '../auth/sign-in';
import { HttpError, errorSchema } from '../errors';
import { caller } from './context';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

const whoAmISchema = z
  .object({
    subject: z.string().describe('recorded as who acts: the token\'s name, or the claim serve.oidc.usernameClaim'),
    name: z.string().optional().describe('the person\'s display name, from the provider'),
    groups: z.array(z.string()),
    via: z.string().describe('"token" or "oidc"'),
    expiresAt: z.string().optional().describe('when the session ends (sessions only)'),
    csrfToken: z.string().optional().describe(`sessions only: send it as ${CSRF_HEADER} on every POST`),
  })
  .describe('WhoAmI');

/** The CSRF refusal, or undefined when the request needs no token or carries the right one. */
function csrfRefusal(signIn: SignIn, request: FastifyRequest): string | undefined {
  if (SAFE_METHODS.has(request.method) || request.identity?.via !== SESSION_VIA) return undefined;
  const session = requestSession(signIn.sessions, request);
  if (session && signIn.sessions.csrfMatches(session, request.headers[CSRF_HEADER])) return undefined;
  const problem = request.headers[CSRF_HEADER] === undefined ? 'carries no' : 'carries a wrong';
  return `CSRF: this request is signed in with a session cookie and ${problem} ${CSRF_HEADER} header; send the csrfToken of GET /auth/me in it (requests with a bearer token need none)`;
}

/** Registers the sign-in routes, the cookie plugin, and the CSRF check for session cookies. */
export async function registerSignInRoutes(app: ZodApp, signIn: SignIn): Promise<void> {
  const { sessions, relyingParty, config } = signIn;
  // Cookies are read by the session provider itself (it runs in the authentication hook, before any
  // parsing hook would) and written with reply.setCookie.
  await app.register(fastifyCookie, { hook: false });

  // Runs after the authentication hook of app.ts (registered before it), so request.identity is set.
  app.addHook('onRequest', async (request) => {
    const why = csrfRefusal(signIn, request);
    if (why) throw new HttpError(403, why);
  });

  app.get(
    '/auth/login',
    {
      config: { permission: 'public' },
      schema: {
        summary: 'sign in with the OpenID provider: redirects (302) to it, with state, nonce and PKCE',
        tags: ['sign-in'],
        security: [],
        querystring: z.object({ return: z.string().optional().describe(`a path of this server to come back to (default ${DEFAULT_RETURN})`) }).strict(),
        response: { 400: errorSchema, 502: errorSchema },
      },
    },
    async (request, reply) => {
      const requested = request.query.return;
      const returnTo = requested === undefined ? DEFAULT_RETURN : sameOriginPath(requested, config.publicUrl);
      if (!returnTo) throw new HttpError(400, `return: "${requested}" is not a path of this server; give a path such as /auth/me`, 'querystring.return');
      const { url, transaction } = await providerCall(() => relyingParty.begin(returnTo));
      return reply
        .setCookie(signIn.transactionCookie, transactionValue(signIn, transaction), sessions.attributes(SIGN_IN_SECONDS))
        .header('cache-control', 'no-store')
        .redirect(url.href, 302);
    },
  );

  app.get(
    CALLBACK_PATH,
    {
      config: { permission: 'public' },
      schema: {
        summary: 'where the provider sends the browser back: checks state, issuer, code (PKCE) and ID token, starts a session, redirects (303) to the return path',
        tags: ['sign-in'],
        security: [],
        querystring: z.record(z.string(), z.unknown()),
        response: { 400: errorSchema, 502: errorSchema },
      },
    },
    async (request, reply) => {
      const transaction = readTransaction(signIn, requestCookie(request, signIn.transactionCookie));
      // The sign-in in progress is used once, whatever the outcome.
      void reply.setCookie(signIn.transactionCookie, '', sessions.attributes(0)).header('cache-control', 'no-store');
      if (!transaction) throw new HttpError(400, 'sign-in refused: no sign-in in progress in this browser (its cookie is missing, altered or older than 10 minutes); start again at /auth/login');
      let value: string;
      try {
        const claims = await providerCall(() => relyingParty.finish(new URL(request.url, config.publicUrl), transaction));
        const person = personFromClaims(claims, config);
        ({ value } = sessions.issue(person));
        request.log.info({ signedIn: person.subject, groups: person.groups }, 'signed in');
      } catch (err) {
        if (err instanceof SignInError || err instanceof ClaimsError || err instanceof SessionTooLargeError) {
          request.log.warn({ reason: err.message }, 'sign-in refused');
          throw new HttpError(400, `sign-in refused: ${err.message}; start again at /auth/login`);
        }
        throw err;
      }
      return reply.setCookie(sessions.name, value, sessions.attributes(sessions.lifetimeSeconds)).redirect(transaction.returnTo, 303);
    },
  );

  app.get(
    '/auth/me',
    {
      schema: {
        summary: 'who the caller is (a token or a signed-in person), with the CSRF token a session sends on POSTs',
        tags: ['sign-in'],
        response: { 200: whoAmISchema, 401: errorSchema },
      },
    },
    async (request, reply) => {
      const identity = caller(request);
      void reply.header('cache-control', 'no-store');
      const session = identity.via === SESSION_VIA ? requestSession(sessions, request) : undefined;
      return {
        subject: identity.subject,
        groups: identity.groups,
        via: identity.via,
        ...(session ? { ...(session.name ? { name: session.name } : {}), expiresAt: new Date(session.expiresAt).toISOString(), csrfToken: sessions.csrfToken(session) } : {}),
      };
    },
  );

  app.post(
    '/auth/logout',
    {
      config: { permission: 'public' },
      schema: {
        summary: `end the session (with its ${CSRF_HEADER} token) and remove its cookie`,
        tags: ['sign-in'],
        security: [],
        response: { 200: z.object({ signedOut: z.boolean().describe('false when there was no session') }), 403: errorSchema },
      },
    },
    async (request, reply) => endSession(signIn, request, reply),
  );
}

/** Ends the request's session, if any; a valid session must show its CSRF token (no forced logout). */
function endSession(signIn: SignIn, request: FastifyRequest, reply: FastifyReply): { signedOut: boolean } {
  const session = requestSession(signIn.sessions, request);
  if (session && !signIn.sessions.csrfMatches(session, request.headers[CSRF_HEADER])) {
    throw new HttpError(403, `CSRF: logging out a session needs its csrfToken (GET /auth/me) in the ${CSRF_HEADER} header`);
  }
  void reply.setCookie(signIn.sessions.name, '', signIn.sessions.attributes(0));
  if (session) signIn.sessions.end(session);
  if (session) request.log.info({ signedOut: session.subject }, 'signed out');
  return { signedOut: session !== undefined };
}

/** Runs a call to the provider; an unreachable provider is a 502 naming it. */
async function providerCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof ProviderUnavailableError) throw new HttpError(502, `${err.message}; try again, or use a bearer token`);
    throw err;
  }
}

/**
 * The `tandem serve` HTTP application: Fastify with zod schemas for every request and answer,
 * the OpenAPI document generated from them, authentication of every route but the public ones,
 * access by group, and one error shape. Routes come in modules, one per area
 * (`registerXRoutes(app, deps)`), so webhooks (./hooks/) or sign-in (./auth/) add their own.
 */
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyServerOptions,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
} from 'fastify';
import swagger from '@fastify/swagger';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Config } from '../config/schema';
import { permissions, serveSchema, type Permission } from '../config/serve-schema';
import { refusal } from './access';
import { authenticate, type AuthProvider, type Identity } from './auth/identity';
import { HttpError, errorBody, handleError } from './errors';
import type { ServeClient } from './client';
import { registerHealthRoutes } from './routes/health';
import { registerOpenApiRoute } from './routes/openapi';
import { registerReleaseRoutes } from './routes/releases';
import { registerSignInRoutes } from './routes/auth';
import type { SignIn } from './auth/sign-in';
import { registerVersionRoutes } from './routes/versions';
import { registerConsoleRoutes, type ConsoleOptions } from './routes/console';
import { registerHookRoutes } from './hooks/routes';
import { ServeDefaults } from './defaults';
import type { KeyObject } from 'node:crypto';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** what the caller must be allowed to do; "public" routes need no credentials */
    permission?: Permission | 'public';
  }
  interface FastifyRequest {
    /** the authenticated caller (set before the handler of every non-public route runs) */
    identity?: Identity;
  }
}

export interface ServeDeps {
  client: ServeClient;
  config: Config & { path?: string };
  /** tried in order (auth/identity.ts) */
  providers: AuthProvider[];
  /** sign-in with OpenID Connect (serve.oidc): its routes and the CSRF check of session cookies */
  signIn?: SignIn;
  /**
   * serve.signingKeyFile's Ed25519 key: every start and operator action is signed with the
   * caller's identity, so the workflow records it as verified (via api) and applies the policy to it
   */
  signingKey?: KeyObject;
  /** Fastify's logger option, or a logger instance */
  logger?: FastifyServerOptions['logger'];
  loggerInstance?: FastifyBaseLogger;
  bodyLimit?: number;
  /** the Temporal namespace, for links to the Web UI (console) */
  namespace?: string;
  /** the console's fleet monitor settings */
  console?: ConsoleOptions;
}

/** The app as route modules see it: request and answer types come from the zod schemas. */
export type ZodApp = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, ZodTypeProvider>;

const DEFAULT_ACCESS = serveSchema.parse({}).access;

/** Request headers worth a log line, with credentials replaced by pino's redaction. */
export const REDACTED_HEADERS = ['authorization', 'cookie', 'x-hub-signature-256', 'x-gitlab-token'];

/** Fastify's logger settings: JSON lines with the request's headers, credentials redacted. */
export function loggerOptions(level = 'info'): FastifyServerOptions['logger'] {
  return {
    level,
    redact: { paths: REDACTED_HEADERS.map((h) => `req.headers["${h}"]`), censor: '[redacted]' },
    serializers: {
      req: (req: { method: string; url: string; ip?: string; headers: Record<string, unknown> }) => ({
        method: req.method,
        // The authorization code in a sign-in callback's query is a credential.
        url: req.url.startsWith('/auth/callback?') ? '/auth/callback?[redacted]' : req.url,
        remoteAddress: req.ip,
        headers: req.headers,
      }),
    },
  };
}

/** The application, routes registered and ready to listen (or to `inject` in tests). */
export async function buildServeApp(deps: ServeDeps): Promise<{ app: FastifyInstance; routes: { method: string; url: string }[] }> {
  const app = Fastify({
    ...(deps.loggerInstance ? { loggerInstance: deps.loggerInstance } : { logger: deps.logger ?? false }),
    bodyLimit: deps.bodyLimit ?? ServeDefaults.bodyLimit,
    exposeHeadRoutes: false,
    // Reject JSON bodies that try to set __proto__ or constructor.prototype.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send(errorBody(404, `no route ${request.method} ${request.url.split('?')[0]}; /openapi.json lists the routes`));
  });

  const routes: { method: string; url: string }[] = [];
  app.addHook('onRoute', (route) => {
    // Hidden routes (the console's pages and assets) are not part of the API.
    if ((route.schema as { hide?: boolean } | undefined)?.hide) return;
    for (const method of [route.method].flat()) routes.push({ method, url: route.url });
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'tandem', description: 'Release machine-learning model versions side by side: the API of `tandem serve`.', version: '1' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'a token of serve.tokens in tandem.config.yaml' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });

  app.decorateRequest('identity', undefined);
  // Runs before the body is read: an unauthenticated request is refused without parsing it.
  app.addHook('onRequest', async (request, reply) => {
    const permission = request.routeOptions.config.permission;
    if (permission === 'public') return;
    const identity = await authenticate(deps.providers, request);
    if (!identity) {
      const signIn = deps.signIn ? ', or sign in at /auth/login (a session cookie that is missing, altered or expired is not accepted)' : '';
      throw new HttpError(401, `not authenticated: send \`Authorization: Bearer <token>\` with a token from serve.tokens (see README, "tandem serve")${signIn}`);
    }
    request.identity = identity;
    // The access log ("request completed", written through reply.log) names who made the request.
    request.log = reply.log = request.log.child({ subject: identity.subject, via: identity.via });
    if (permission && (permissions as readonly string[]).includes(permission)) {
      const why = refusal(deps.config.serve?.access ?? DEFAULT_ACCESS, identity, permission);
      if (why) throw new HttpError(403, why);
    }
  });

  const typed = app.withTypeProvider<ZodTypeProvider>();
  if (deps.signIn) await registerSignInRoutes(typed, deps.signIn);
  registerHealthRoutes(typed);
  registerOpenApiRoute(typed);
  registerReleaseRoutes(typed, deps);
  registerVersionRoutes(typed, deps);
  await registerHookRoutes(typed, deps);
  await registerConsoleRoutes(typed, deps, deps.console);
  await app.ready();
  return { app, routes };
}

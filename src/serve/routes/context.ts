/** What every model route needs: the caller, and an environment that the configuration names. */
import type { FastifyRequest } from 'fastify';
import type { Config } from '../../config/schema';
import type { OperatorRequest } from '../../workflows/messages';
import type { RequestSigner } from '../../policy/identity';
import { signerFor } from '../../policy/sign';
import type { ServeDeps } from '../app';
import type { Identity } from '../auth/identity';
import { HttpError } from '../errors';

/** The authenticated caller; the onRequest hook has set it on every non-public route. */
export function caller(request: FastifyRequest): Identity {
  if (!request.identity) throw new HttpError(401, 'not authenticated');
  return request.identity;
}

/** The environment, or 404 naming the ones the configuration has. */
export function knownEnvironment(config: Config & { path?: string }, env: string): string {
  if (!(env in config.environments)) {
    throw new HttpError(404, `environment "${env}" is not in ${config.path ?? 'tandem.config.yaml'} (known: ${Object.keys(config.environments).join(', ') || 'none'})`);
  }
  return env;
}

/** An operator message on behalf of the caller: `who` is always the authenticated subject. */
export function operatorRequest(identity: Identity, text: string | undefined): OperatorRequest {
  return { who: identity.subject, ...(text ? { text } : {}) };
}

/** Signs what the caller sends with serve's key, when it has one; unsigned, the workflow records it as self-declared. */
export function signerOf(deps: Pick<ServeDeps, 'signingKey'>, identity: Identity): RequestSigner | undefined {
  return deps.signingKey ? signerFor(deps.signingKey, { who: identity.subject, groups: identity.groups }) : undefined;
}

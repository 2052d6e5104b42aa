/** Running versions of a model and the instant rollback to one of them. */
import type { ServeDeps, ZodApp } from '../app';
import { errorSchema } from '../errors';
import { modelParams, modelStateSchema, rollbackBody, rollbackResultSchema } from '../schemas';
import { caller, knownEnvironment, signerOf } from './context';
import { MODEL_PATH } from './releases';

const errors = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema, 409: errorSchema };

export function registerVersionRoutes(app: ZodApp, deps: ServeDeps): void {
  const { client, config } = deps;

  app.get(
    `${MODEL_PATH}/versions`,
    {
      config: { permission: 'read' },
      schema: {
        summary: 'running versions with traffic share, role, commit and image (read from the environment by a worker)',
        tags: ['versions'],
        params: modelParams,
        response: { 200: modelStateSchema, ...errors },
      },
    },
    async (request) => client.versions(request.params.model, knownEnvironment(config, request.params.env)),
  );

  app.post(
    `${MODEL_PATH}/rollback`,
    {
      config: { permission: 'operate' },
      schema: {
        summary: 'switch all traffic to a version that is still running (instant: no redeploy); refused while a release is active',
        tags: ['versions'],
        params: modelParams,
        body: rollbackBody,
        response: { 200: rollbackResultSchema, ...errors, 413: errorSchema },
      },
    },
    async (request) => {
      const environment = knownEnvironment(config, request.params.env);
      const { to, reason } = request.body;
      return client.rollback({ model: request.params.model, environment, to, reason, requestedBy: caller(request).subject }, signerOf(deps, caller(request)));
    },
  );
}

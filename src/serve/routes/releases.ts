/**
 * Releases: list them all, read one's status and history, start one, and the operator actions
 * (approve, abort, pause, resume, promote). The same client calls as the CLI's verbs; `who` and
 * `requestedBy` are always the authenticated caller.
 */
import { startRelease } from '../../client/promotion';
import { z } from 'zod';
import { WorkflowNotFoundError } from '@temporalio/client';
import { releaseWorkflowId } from '../../naming/ids';
import type { OperatorActionName } from '../../workflows/messages';
import type { ServeDeps, ZodApp } from '../app';
import { HttpError, errorSchema } from '../errors';
import {
  commentBody,
  historyEntrySchema,
  historyQuery,
  modelParams,
  operatorActionSchema,
  reasonBody,
  releaseStatusSchema,
  releaseSummarySchema,
  releaseQuery,
  releasesQuery,
  startBody,
  startedSchema,
} from '../schemas';
import { caller, knownEnvironment, operatorRequest, signerOf } from './context';

export const MODEL_PATH = '/api/models/:model/environments/:env';

const errors = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema, 409: errorSchema };

const actions: { name: OperatorActionName; text: 'comment' | 'reason'; summary: string }[] = [
  { name: 'approve', text: 'comment', summary: 'pass the approval gate the release is waiting at' },
  { name: 'abort', text: 'reason', summary: 'stop the release and roll back to the previous stable version' },
  { name: 'pause', text: 'reason', summary: 'hold the rollout before its next step' },
  { name: 'resume', text: 'comment', summary: 'continue a paused release, or end a pause step' },
  { name: 'promote', text: 'comment', summary: 'skip the remaining rollout steps and promote now' },
  { name: 'override-window', text: 'reason', summary: 'let a release waiting for a deploy window move traffic now (reason required)' },
];

export function registerReleaseRoutes(app: ZodApp, deps: ServeDeps): void {
  const { client, config } = deps;

  app.get(
    '/api/releases',
    {
      config: { permission: 'read' },
      schema: {
        summary: 'releases of every model and environment, newest first, with their stage and what each waits for',
        tags: ['releases'],
        querystring: releasesQuery,
        response: { 200: z.array(releaseSummarySchema), ...errors },
      },
    },
    async (request) => {
      const { model, env, state, limit } = request.query;
      return client.releases({ model, environment: env, running: state === 'running' }, limit);
    },
  );

  app.get(
    `${MODEL_PATH}/release`,
    {
      config: { permission: 'read' },
      schema: {
        summary: 'stage, traffic, steps, checks and operator actions of the latest release, or of the past release ?id=<workflowId> (from history)',
        tags: ['releases'],
        params: modelParams,
        querystring: releaseQuery,
        response: { 200: releaseStatusSchema, ...errors },
      },
    },
    async (request) => {
      const { model } = request.params;
      const environment = knownEnvironment(config, request.params.env);
      const { id } = request.query;
      if (id === undefined) return client.status(model, environment);
      // Only this model's releases here: the id is read from Temporal, so it must name them.
      const prefix = releaseWorkflowId(model, environment, '', new Date(0)).replace(/\/[^/]*$/, '');
      if (!id.startsWith(prefix)) throw new HttpError(400, `id: "${id}" is not a release of ${model} in ${environment}; take a workflowId of kind "release" from GET .../history`, 'querystring.id');
      try {
        return await client.statusOf(id);
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) throw new HttpError(404, `no release ${id}; GET .../history lists the releases of ${model} in ${environment}`);
        throw err;
      }
    },
  );

  app.post(
    `${MODEL_PATH}/releases`,
    {
      config: { permission: 'start' },
      schema: {
        summary: 'start a release of a Git tag; answers once it is started (follow it with GET .../release)',
        tags: ['releases'],
        params: modelParams,
        body: startBody,
        response: { 202: startedSchema, ...errors, 413: errorSchema },
      },
    },
    async (request, reply) => {
      const { model } = request.params;
      const environment = knownEnvironment(config, request.params.env);
      const configured = config.models[model]?.repo;
      // A configured model is released only from its configured repository: a start permission
      // does not let a caller ship other code under the model's name.
      if (configured && request.body.repo !== undefined && request.body.repo !== configured) {
        throw new HttpError(400, `repo: ${model} is released from models.${model}.repo in the configuration (${configured}); omit repo`, 'body.repo');
      }
      const repoUrl = configured ?? request.body.repo;
      if (!repoUrl) throw new HttpError(400, `repo: ${model} is not in the configuration; give its repository as repo, or add models.${model}.repo`, 'body.repo');
      const requestedBy = caller(request).subject;
      // An environment the model's path leads to takes only versions eligible there, as with the CLI.
      const input = { model, tag: request.body.tag, environment, repoUrl, requestedBy };
      const signer = signerOf(deps, caller(request));
      const handle = await startRelease(client, input, config.models[model]?.path, request.body.overrideReason, signer);
      return reply.code(202).send({ workflowId: handle.workflowId, model, environment, tag: request.body.tag, requestedBy });
    },
  );

  for (const action of actions) {
    app.post(
      `${MODEL_PATH}/release/${action.name}`,
      {
        config: { permission: 'operate' },
        schema: {
          summary: action.summary,
          tags: ['releases'],
          params: modelParams,
          body: action.text === 'comment' ? commentBody : reasonBody,
          response: { 200: operatorActionSchema, ...errors, 413: errorSchema },
        },
      },
      async (request) => {
        const body = request.body as { comment?: string; reason?: string };
        const environment = knownEnvironment(config, request.params.env);
        return client.act(request.params.model, environment, action.name, operatorRequest(caller(request), body[action.text]), signerOf(deps, caller(request)));
      },
    );
  }

  app.get(
    `${MODEL_PATH}/history`,
    {
      config: { permission: 'read' },
      schema: {
        summary: 'past releases and rollbacks of the model here, newest first',
        tags: ['releases'],
        params: modelParams,
        querystring: historyQuery,
        response: { 200: z.array(historyEntrySchema), ...errors },
      },
    },
    async (request) => client.history(request.params.model, knownEnvironment(config, request.params.env), request.query.limit),
  );
}

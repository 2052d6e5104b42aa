/**
 * The one place where errors become HTTP answers: bad input 400 naming the field, unauthenticated
 * 401, wrong group 403, unknown 404, refused 409, oversized 413. Every error answer has the same
 * shape (errorSchema), so a CI script reads `message` whatever went wrong.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { BadInputError, NotFoundError, PolicyRefusedError, RefusedError } from '../client/errors';

export const errorSchema = z
  .object({
    statusCode: z.number().int(),
    error: z.string().describe('the status in words, e.g. Conflict'),
    message: z.string().describe('what went wrong and what to do about it'),
    field: z.string().optional().describe('for 400: the field at fault, e.g. body.comment'),
  })
  .describe('Error');
export type ErrorBody = z.output<typeof errorSchema>;

/** An answer other than 2xx that a route or hook decides on. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
};

export function errorBody(statusCode: number, message: string, field?: string): ErrorBody {
  return { statusCode, error: STATUS_TEXT[statusCode] ?? 'Error', message, ...(field ? { field } : {}) };
}

/** The answer for an error thrown while serving a request. */
export function toErrorBody(err: unknown): ErrorBody {
  if (err instanceof HttpError) return errorBody(err.statusCode, err.message, err.field);
  if (hasZodFastifySchemaValidationErrors(err)) {
    const where = (err as FastifyError).validationContext ?? 'request';
    const issue = err.validation[0]!;
    const path = issue.instancePath.replace(/^\//, '').replace(/\//g, '.');
    const unknownKeys = issue.keyword === 'unrecognized_keys' ? ((issue.params as { keys?: string[] }).keys ?? []) : [];
    const field = [where, path || unknownKeys[0]].filter(Boolean).join('.');
    return errorBody(400, `${field}: ${unknownKeyMessage(unknownKeys) ?? issue.message}`, field);
  }
  if (err instanceof NotFoundError) return errorBody(404, err.message);
  if (err instanceof BadInputError) return errorBody(400, err.message);
  // Refused by the approval policy: the caller is known but may not do this (the message names the rule).
  if (err instanceof PolicyRefusedError) return errorBody(403, err.message);
  if (err instanceof RefusedError) return errorBody(409, err.message);
  const status = (err as FastifyError).statusCode;
  // Fastify's own refusals (malformed JSON, body too large, unsupported content type) say why.
  if (typeof status === 'number' && status >= 400 && status < 500) return errorBody(status, (err as Error).message);
  return errorBody(500, 'internal error; the server log has the details');
}

/** Fields a caller may not set: who acts comes from the credentials, never from the body. */
const IDENTITY_FIELDS = ['who', 'by', 'requestedBy', 'user'];

function unknownKeyMessage(keys: string[]): string | undefined {
  const identity = keys.find((key) => IDENTITY_FIELDS.includes(key));
  if (identity) return `"${identity}" is not accepted: who acts is taken from your credentials (token or sign-in), never from the request; remove it`;
  return keys.length ? `unknown field${keys.length > 1 ? 's' : ''} ${keys.map((k) => `"${k}"`).join(', ')}; see /openapi.json for the fields this route takes` : undefined;
}

/** Fastify error handler: logs server faults (not the request's secrets), answers with errorSchema. */
export function handleError(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const body = toErrorBody(err);
  if (body.statusCode >= 500) request.log.error({ err }, 'request failed');
  if (body.statusCode === 401) void reply.header('www-authenticate', 'Bearer');
  void reply.code(body.statusCode).send(body);
}

/**
 * What every Git host's delivery comes down to: a tag pushed (or deleted) in a repository, by
 * someone, delivered under an id. The providers (./github.ts, ./gitlab.ts) read it from their
 * payloads; ./trigger.ts acts on it. No I/O.
 */
import { createHash } from 'node:crypto';
import type { z } from 'zod';
import { TRIGGER_ID } from '../../naming/ids';
import { HttpError } from '../errors';

export interface TagPush {
  /** e.g. "github": the first part of the release's requester and trigger id */
  provider: 'github' | 'gitlab';
  /** the Git host's id of this delivery (a redelivery carries the same one) */
  delivery: string;
  /** how the payload names the repository, for messages (e.g. acme/fraud-detector) */
  repository: string;
  /** every URL the payload gives for the repository (clone, web, SSH) */
  repositoryUrls: string[];
  tag: string;
  /** the push deleted the tag */
  deleted: boolean;
  /** `<provider>:<login>` of whoever pushed, as the payload says */
  requestedBy: string;
  /** when the push happened, when the payload says (GitHub's repository.pushed_at) */
  pushedAt?: Date;
}

/** What a provider makes of a delivery: a tag push to act on, or a reason to do nothing. */
export type Delivery = { kind: 'tag-push'; push: TagPush } | { kind: 'ignored'; reason: string };

export const TAG_REF = /^refs\/tags\/(.+)$/;
export const ZERO_SHA = /^0{40}$/;

/** The payload as JSON; 400 when it is not. */
export function parseJson(rawBody: Buffer): unknown {
  try {
    return JSON.parse(rawBody.toString('utf8'));
  } catch (err) {
    throw new HttpError(400, `body: not valid JSON (${(err as Error).message}); send the webhook with content type application/json`, 'body');
  }
}

/** The payload's fields this provider reads, checked with `schema`; 400 naming the first bad field. */
export function readPayload<T extends z.ZodType>(schema: T, payload: unknown, what: string): z.output<T> {
  const result = schema.safeParse(payload);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = ['body', ...issue.path.map(String)].join('.');
  throw new HttpError(400, `${field}: ${issue.message} — not a ${what} payload`, field);
}

/**
 * The id a delivery is known by: the host's delivery header when it is a plain id, else the
 * SHA-256 of the body (the same bytes redelivered give the same id).
 */
export function deliveryId(provider: TagPush['provider'], header: string | string[] | undefined, rawBody: Buffer): string {
  const given = typeof header === 'string' ? header.trim() : '';
  const id = `${provider}-${given && TRIGGER_ID.test(`${provider}-${given}`) ? given : `sha256-${createHash('sha256').update(rawBody).digest('hex')}`}`;
  return id;
}

/** A single header's value (Node joins or lists repeated ones). */
export function header(value: string | string[] | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

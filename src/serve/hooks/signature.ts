/**
 * Proof that a delivery comes from the Git host: GitHub signs the raw body with HMAC-SHA256 under
 * the webhook's secret (`X-Hub-Signature-256: sha256=<hex>`); GitLab sends the secret itself
 * (`X-Gitlab-Token`). Both are compared in constant time, so the answer's timing tells nothing
 * about how much of a guess was right.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

const GITHUB_SIGNATURE = /^sha256=([0-9a-f]{64})$/i;

/** `sha256=<hex>` of the raw body under `secret`, as GitHub computes it. */
export function githubSignature(secret: string, rawBody: Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
}

/** True when `header` is GitHub's signature of exactly these bytes under `secret`. */
export function verifyGithubSignature(secret: string, rawBody: Buffer, header: string): boolean {
  const presented = GITHUB_SIGNATURE.exec(header.trim())?.[1];
  if (!presented) return false;
  const expected = createHmac('sha256', secret).update(rawBody).digest();
  return timingSafeEqual(Buffer.from(presented, 'hex'), expected);
}

/** True when the presented GitLab token is the configured one (hashed first: equal lengths, nothing learnt from length). */
export function gitlabTokenMatches(expected: string, presented: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

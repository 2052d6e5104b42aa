/**
 * Bearer tokens are kept in tandem.config.yaml only as their SHA-256 (hex): a leaked configuration
 * file does not leak a token. Tokens are random and long, so a plain hash is enough (no salt or
 * slow hash is needed against guessing, unlike passwords).
 */
import { createHash } from 'node:crypto';

/** Shortest token `tandem serve hash-token` accepts: 32 characters, e.g. `openssl rand -hex 32` makes 64. */
export const MIN_TOKEN_LENGTH = 32;

/** SHA-256 of the token as 64 lowercase hex digits, as `serve.tokens[].sha256` holds it. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/**
 * The token read from a file or stdin, without its trailing newline; throws naming the fix when it
 * is too short or holds whitespace (a pasted token split over lines).
 */
export function tokenFromInput(text: string): string {
  const token = text.replace(/\r?\n$/, '');
  if (/\s/.test(token)) throw new Error('the token holds whitespace or several lines: give exactly one token on stdin');
  if (token.length < MIN_TOKEN_LENGTH) {
    throw new Error(`the token is ${token.length} characters; use at least ${MIN_TOKEN_LENGTH} random ones, e.g. \`openssl rand -hex 32\``);
  }
  return token;
}

/**
 * The admin API's bearer token: where `tandem gateway` takes it from, where it writes one it
 * generated, and the constant-time check of a request's `Authorization` header. The token itself
 * is never printed or logged; messages say where it is.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ADMIN_TOKEN_FILE, GatewayDefaults } from '../naming/gateway';

/** `$TANDEM_HOME/gateway` (TANDEM_HOME defaults to ~/.cache/tandem): the gateway's default state directory. */
export function defaultStateDir(): string {
  return path.join(process.env.TANDEM_HOME ?? path.join(os.homedir(), '.cache', 'tandem'), 'gateway');
}

/** The file a gateway with this state directory writes its generated token to. */
export function adminTokenPath(stateDir: string): string {
  return path.join(stateDir, ADMIN_TOKEN_FILE);
}

export interface AdminToken {
  token: string;
  /** where the token is, for messages (never the token): `$NAME` or the file's path */
  source: string;
}

/**
 * The token in the environment variable `tokenEnv` when it is set (a token file left from an
 * earlier run is then removed, so nobody reads a stale one); else a new random token, written
 * atomically to `<stateDir>/admin-token` with mode 0600 — a new one at every start.
 */
export async function resolveAdminToken(stateDir: string, tokenEnv: string = GatewayDefaults.tokenEnv): Promise<AdminToken> {
  const file = adminTokenPath(stateDir);
  const fromEnv = process.env[tokenEnv];
  if (fromEnv) {
    await rm(file, { force: true });
    return { token: fromEnv, source: `$${tokenEnv}` };
  }
  const token = randomBytes(32).toString('base64url');
  await mkdir(stateDir, { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  await rm(temporary, { force: true });
  await writeFile(temporary, `${token}\n`, { mode: 0o600 });
  await rename(temporary, file);
  return { token, source: file };
}

export type BearerCheck = { ok: true } | { ok: false; error: string };

/**
 * A checker of `Authorization: Bearer <token>` headers against `expected`. Both sides are hashed
 * before timingSafeEqual, so neither the token nor its length leaks through timing.
 */
export function bearerChecker(expected: string): (authorization: string | undefined) => BearerCheck {
  const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
  const want = digest(expected);
  return (authorization) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!match) {
      const what = authorization ? 'the Authorization header is not "Bearer <token>"' : 'missing the Authorization header';
      return { ok: false, error: `admin API: ${what}; send "Authorization: Bearer <admin token>"` };
    }
    if (!timingSafeEqual(digest(match[1]!), want)) return { ok: false, error: 'admin API: the bearer token is not this gateway\'s admin token' };
    return { ok: true };
  };
}

/**
 * The gateway admin API's bearer token as its clients hold it (the gateway router and the gateway
 * analyzer): given, or read from a file at every call, because `tandem gateway` writes a new one
 * to its state directory at each start and a restarted gateway is then followed without a
 * restart of the worker. The token itself is never put in a message; `describeGatewayToken` says
 * where it came from.
 */
import { readFile } from 'node:fs/promises';

export type GatewayToken = { token: string } | { tokenFile: string };

/** The token now. Throws a plain Error naming the file when it cannot be read. */
export async function readGatewayToken(credentials: GatewayToken): Promise<string> {
  if ('token' in credentials) return credentials.token;
  try {
    return (await readFile(credentials.tokenFile, 'utf8')).trim();
  } catch (error) {
    throw new Error(`cannot read the gateway's admin token from ${credentials.tokenFile}: ${(error as Error).message}`);
  }
}

/** Where the token came from, for a message about a refused token. */
export function describeGatewayToken(credentials: GatewayToken): string {
  return 'token' in credentials ? 'the configured token' : `the token in ${credentials.tokenFile}`;
}

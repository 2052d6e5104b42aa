/**
 * A real OpenID provider for development and tests: `oidc-provider` (the certified Node
 * implementation) on 127.0.0.1, with test people and their groups, one confidential client for
 * `tandem serve` (authorization code + PKCE), and the provider's own development login and consent
 * pages at /interaction/<uid> (any password; the login must be one of the people below).
 *
 *   tsx scripts/oidc-provider.ts --port 0 --client-id tandem --redirect-uri http://127.0.0.1:7080/auth/callback
 *
 * The client secret comes from $OIDC_CLIENT_SECRET. Prints `oidc-provider: issuer <url>` once it
 * listens; runs until SIGINT or SIGTERM. (oidc-provider warns that it wants Node 22: it runs on 20.)
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

/** The test people: login name -> claims. */
const PEOPLE: Record<string, { name: string; email: string; groups: string[] }> = {
  alice: { name: 'Alice Example', email: 'alice@example.com', groups: ['ml-leads'] },
  bob: { name: 'Bob Example', email: 'bob@example.com', groups: ['ml-engineers'] },
};

/** The part of oidc-provider's API this script uses (the package ships no type declarations). */
interface ProviderModule {
  default: new (issuer: string, configuration: Record<string, unknown>) => { callback(): (req: IncomingMessage, res: ServerResponse) => void };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { port: { type: 'string', default: '0' }, 'client-id': { type: 'string', default: 'tandem' }, 'redirect-uri': { type: 'string', multiple: true, default: [] } },
  });
  const secret = process.env.OIDC_CLIENT_SECRET;
  if (!secret) throw new Error('set OIDC_CLIENT_SECRET to the client secret tandem serve will use');
  if (values['redirect-uri'].length === 0) throw new Error('give --redirect-uri <publicUrl>/auth/callback of tandem serve');

  let handle: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.writeHead(503).end();
  const server = createServer((req, res) => handle(req, res));
  await new Promise<void>((resolve) => server.listen(Number(values.port), '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  // ESM-only: loaded with import(); the name is not a literal so TypeScript does not look for types.
  const moduleName: string = 'oidc-provider';
  const { default: Provider } = (await import(moduleName)) as ProviderModule;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: values['client-id'],
        client_secret: secret,
        redirect_uris: values['redirect-uri'],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    pkce: { required: () => true },
    scopes: ['openid', 'profile', 'email', 'groups'],
    claims: { openid: ['sub'], profile: ['name', 'preferred_username'], email: ['email', 'email_verified'], groups: ['groups'] },
    findAccount: async (_ctx: unknown, id: string) => {
      const person = PEOPLE[id];
      if (!person) return undefined;
      return {
        accountId: id,
        claims: async () => ({ sub: id, preferred_username: id, name: person.name, email: person.email, email_verified: true, groups: person.groups }),
      };
    },
    features: { devInteractions: { enabled: true } },
    cookies: { keys: [randomBytes(32).toString('hex')] },
  });
  handle = provider.callback();
  process.stdout.write(`oidc-provider: issuer ${issuer} (people: ${Object.keys(PEOPLE).join(', ')})\n`);

  await new Promise<void>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolve());
  });
  server.close();
  server.closeAllConnections();
}

main().catch((error: unknown) => {
  process.stderr.write(`oidc-provider: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});

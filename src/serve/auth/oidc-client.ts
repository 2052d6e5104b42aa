/**
 * The OpenID Connect relying party of `tandem serve`, with openid-client: the authorization code
 * flow with PKCE (S256), state and nonce. The provider's metadata is discovered at the first
 * sign-in (and again after a failure), so serve starts, and its tokens work, while the provider is
 * down. openid-client is ESM-only; Node >= 20.19 loads it with `require`, as the compiled CommonJS does.
 */
import * as oidc from 'openid-client';

export interface RelyingPartyOptions {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** <publicUrl>/auth/callback, registered at the provider */
  redirectUri: string;
  scopes: string[];
}

/** What the browser keeps (in a signed cookie) between leaving for the provider and coming back. */
export interface SignInTransaction {
  state: string;
  nonce: string;
  verifier: string;
  /** a path of serve to return to */
  returnTo: string;
}

/** The provider refused, or its answer did not check out; the message says why. */
export class SignInError extends Error {}

/** The provider could not be reached or did not answer as an OpenID provider. */
export class ProviderUnavailableError extends Error {}

export class RelyingParty {
  private configuration: Promise<oidc.Configuration> | undefined;

  constructor(private readonly options: RelyingPartyOptions) {}

  /** The provider's authorization URL for a new sign-in, and what must be kept until the callback. */
  async begin(returnTo: string): Promise<{ url: URL; transaction: SignInTransaction }> {
    const config = await this.config();
    const transaction = { state: oidc.randomState(), nonce: oidc.randomNonce(), verifier: oidc.randomPKCECodeVerifier(), returnTo };
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.options.redirectUri,
      scope: this.options.scopes.join(' '),
      state: transaction.state,
      nonce: transaction.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(transaction.verifier),
      code_challenge_method: 'S256',
    });
    return { url, transaction };
  }

  /**
   * Checks the provider's answer (state, issuer, code exchanged with the PKCE verifier, ID token
   * signature, audience, nonce) and returns the person's claims: the ID token's, completed by the
   * UserInfo endpoint's when there is one (many providers put groups only there).
   */
  async finish(callbackUrl: URL, transaction: SignInTransaction): Promise<Record<string, unknown>> {
    const config = await this.config();
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
        pkceCodeVerifier: transaction.verifier,
        expectedState: transaction.state,
        expectedNonce: transaction.nonce,
        idTokenExpected: true,
      });
    } catch (err) {
      throw refusal(err);
    }
    const idClaims = tokens.claims();
    if (!idClaims) throw new SignInError('the provider answered without an ID token');
    if (!config.serverMetadata().userinfo_endpoint) return { ...idClaims };
    try {
      const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, idClaims.sub);
      return { ...idClaims, ...userinfo };
    } catch (err) {
      throw refusal(err);
    }
  }

  private config(): Promise<oidc.Configuration> {
    this.configuration ??= oidc
      .discovery(new URL(this.options.issuer), this.options.clientId, { redirect_uris: [this.options.redirectUri] }, oidc.ClientSecretBasic(this.options.clientSecret), {
        // Plain http only for a provider on this machine (serve.oidc.issuer is checked for that).
        ...(new URL(this.options.issuer).protocol === 'http:' ? { execute: [oidc.allowInsecureRequests] } : {}),
        timeout: 10,
      })
      .catch((err: unknown) => {
        this.configuration = undefined;
        throw new ProviderUnavailableError(`the OpenID provider ${this.options.issuer} (serve.oidc.issuer) did not answer its discovery document: ${(err as Error).message}`);
      });
    return this.configuration;
  }
}

/** The error a person is shown for an answer that did not check out. */
function refusal(err: unknown): Error {
  if (err instanceof oidc.AuthorizationResponseError || err instanceof oidc.ResponseBodyError) {
    return new SignInError(`the provider refused: ${err.error}${err.error_description ? ` (${err.error_description})` : ''}`);
  }
  if (err instanceof oidc.ClientError) {
    // openid-client's message is general ("invalid response encountered"); the cause names the check.
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return new SignInError(`${err.message}${cause}`);
  }
  return new ProviderUnavailableError(`the OpenID provider did not answer: ${(err as Error).message}`);
}

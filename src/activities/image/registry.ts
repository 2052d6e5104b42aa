/**
 * A small client of the registry HTTP API (Docker Registry v2 / OCI distribution): reads the
 * digest a tag serves, copies a manifest to another tag, lists and deletes. Speaks plain HTTP to
 * insecure (local) registries and HTTPS otherwise, and answers Basic and Bearer-token challenges
 * with the configured credentials. The password is read from the environment variable the config
 * names and is never put in a message.
 */
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../errors';

export interface RegistrySettings {
  /** host[:port][/namespace], e.g. `127.0.0.1:5000` or `ghcr.io/acme` */
  url: string;
  username?: string;
  /** name of the environment variable holding the password */
  passwordEnv?: string;
  insecure: boolean;
}

/** Type of the retryable failure thrown when the registry cannot be reached or answers 5xx. */
export const RegistryUnavailable = 'RegistryUnavailable';

/** Every manifest kind a tag may hold; HEAD and GET must accept them all to see the true digest. */
const MANIFEST_ACCEPT = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
].join(', ');

const TIMEOUT_MS = 30_000;

export interface Credentials {
  username: string;
  password: string;
}

/**
 * The credentials the settings name, or undefined for an anonymous registry. Throws a
 * non-retryable PermissionDenied failure when `passwordEnv` names a variable that is not set.
 */
export function registryCredentials(settings: RegistrySettings): Credentials | undefined {
  if (!settings.username) return undefined;
  let password = '';
  if (settings.passwordEnv) {
    const value = process.env[settings.passwordEnv];
    if (value === undefined) {
      throw ApplicationFailure.nonRetryable(
        `registry ${settings.url}: the password variable ${settings.passwordEnv} (registry.passwordEnv) is not set in the worker's environment`,
        FailureType.PermissionDenied,
      );
    }
    password = value;
  }
  return { username: settings.username, password };
}

/** Parses `Bearer realm="...",service="...",scope="..."` into its scheme and parameters. */
function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const space = header.indexOf(' ');
  const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
  const params: Record<string, string> = {};
  for (const m of header.slice(space + 1).matchAll(/(\w+)="([^"]*)"/g)) params[m[1]!.toLowerCase()] = m[2]!;
  return { scheme, params };
}

export class RegistryClient {
  /** host[:port] */
  readonly host: string;
  /** path prefix inside the registry, '' or `acme/` */
  private readonly prefix: string;
  private readonly base: string;
  private authorization?: string;

  constructor(
    private readonly settings: RegistrySettings,
    private readonly credentials: Credentials | undefined,
  ) {
    const url = settings.url.replace(/^https?:\/\//, '').replace(/\/+$/, '');
    const slash = url.indexOf('/');
    this.host = slash < 0 ? url : url.slice(0, slash);
    this.prefix = slash < 0 ? '' : url.slice(slash + 1) + '/';
    this.base = `${settings.insecure ? 'http' : 'https'}://${this.host}`;
  }

  /** Repository name inside the registry for a model: `<namespace>/<model>` or `<model>`. */
  repository(model: string): string {
    return this.prefix + model;
  }

  /** Full image reference `<registry url>/<model>:<tag>`. */
  reference(model: string, tag: string): string {
    return `${this.settings.url.replace(/^https?:\/\//, '').replace(/\/+$/, '')}/${model}:${tag}`;
  }

  /**
   * Sends a request, answering one auth challenge with the configured credentials. Throws a
   * retryable RegistryUnavailable failure when the registry cannot be reached or answers 5xx, and
   * a non-retryable PermissionDenied failure on 401/403 after authenticating.
   */
  private async request(method: string, path: string, init: { headers?: Record<string, string>; body?: Buffer; signal?: AbortSignal } = {}): Promise<Response> {
    const send = async (): Promise<Response> => {
      const headers: Record<string, string> = { ...init.headers };
      if (this.authorization) headers.authorization = this.authorization;
      const signal = init.signal ? AbortSignal.any([init.signal, AbortSignal.timeout(TIMEOUT_MS)]) : AbortSignal.timeout(TIMEOUT_MS);
      try {
        return await fetch(this.base + path, { method, headers, body: init.body, signal });
      } catch (err) {
        if (init.signal?.aborted) throw init.signal.reason;
        const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
        throw ApplicationFailure.retryable(`registry ${this.host} unreachable (${method} ${path}): ${cause}`, RegistryUnavailable);
      }
    };
    let res = await send();
    if (res.status === 401 && (await this.authenticate(res.headers.get('www-authenticate') ?? '', init.signal))) {
      res = await send();
    }
    if (res.status === 401 || res.status === 403) {
      throw ApplicationFailure.nonRetryable(
        `registry ${this.host} refused ${method} ${path} (${res.status})${this.credentials ? ' with the configured credentials' : '; set registry.username and registry.passwordEnv'}`,
        FailureType.PermissionDenied,
      );
    }
    if (res.status >= 500) {
      throw ApplicationFailure.retryable(`registry ${this.host} answered ${res.status} to ${method} ${path}`, RegistryUnavailable);
    }
    return res;
  }

  /** Sets `this.authorization` from a challenge; false when there is nothing to answer with. */
  private async authenticate(challenge: string, signal?: AbortSignal): Promise<boolean> {
    const { scheme, params } = parseChallenge(challenge);
    const basic = this.credentials ? 'Basic ' + Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString('base64') : undefined;
    if (scheme === 'basic') {
      if (!basic || this.authorization === basic) return false;
      this.authorization = basic;
      return true;
    }
    if (scheme !== 'bearer' || !params.realm) return false;
    const url = new URL(params.realm);
    if (params.service) url.searchParams.set('service', params.service);
    if (params.scope) url.searchParams.set('scope', params.scope);
    let res: Response;
    try {
      res = await fetch(url, { headers: basic ? { authorization: basic } : {}, signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(TIMEOUT_MS)]) : AbortSignal.timeout(TIMEOUT_MS) });
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      throw ApplicationFailure.retryable(`registry token service ${url.host} unreachable: ${(err as Error).message}`, RegistryUnavailable);
    }
    if (!res.ok) return false;
    const body = (await res.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) return false;
    this.authorization = `Bearer ${token}`;
    return true;
  }

  /** Digest the registry serves for `<model>:<tag>` (Docker-Content-Digest), or undefined when there is no such tag. */
  async manifestDigest(model: string, tag: string, signal?: AbortSignal): Promise<string | undefined> {
    const res = await this.request('HEAD', `/v2/${this.repository(model)}/manifests/${encodeURIComponent(tag)}`, { headers: { accept: MANIFEST_ACCEPT }, signal });
    if (res.status === 404) return undefined;
    if (!res.ok) throw ApplicationFailure.retryable(`registry ${this.host}: HEAD manifest ${model}:${tag} answered ${res.status}`, RegistryUnavailable);
    const digest = res.headers.get('docker-content-digest');
    if (!digest) throw ApplicationFailure.retryable(`registry ${this.host} gave no Docker-Content-Digest for ${model}:${tag}`, RegistryUnavailable);
    return digest;
  }

  /**
   * Points `<model>:<to>` at the manifest `<model>:<from>` holds (same bytes, so the same digest).
   * Returns the digest the registry reports for the new tag.
   */
  async copyTag(model: string, from: string, to: string, signal?: AbortSignal): Promise<string> {
    const repo = this.repository(model);
    const got = await this.request('GET', `/v2/${repo}/manifests/${encodeURIComponent(from)}`, { headers: { accept: MANIFEST_ACCEPT }, signal });
    if (!got.ok) throw ApplicationFailure.retryable(`registry ${this.host}: GET manifest ${model}:${from} answered ${got.status}`, RegistryUnavailable);
    const type = got.headers.get('content-type') ?? 'application/vnd.docker.distribution.manifest.v2+json';
    const body = Buffer.from(await got.arrayBuffer());
    const put = await this.request('PUT', `/v2/${repo}/manifests/${encodeURIComponent(to)}`, { headers: { 'content-type': type }, body, signal });
    if (!put.ok) throw ApplicationFailure.retryable(`registry ${this.host}: PUT manifest ${model}:${to} answered ${put.status}: ${(await put.text()).slice(0, 200)}`, RegistryUnavailable);
    const digest = put.headers.get('docker-content-digest') ?? (await this.manifestDigest(model, to, signal));
    if (!digest) throw ApplicationFailure.retryable(`registry ${this.host}: ${model}:${to} missing right after it was written`, RegistryUnavailable);
    return digest;
  }

  /** Tags of a model's repository; empty when the repository does not exist. */
  async tags(model: string): Promise<string[]> {
    const res = await this.request('GET', `/v2/${this.repository(model)}/tags/list`);
    if (res.status === 404) return [];
    if (!res.ok) throw ApplicationFailure.retryable(`registry ${this.host}: tags of ${model} answered ${res.status}`, RegistryUnavailable);
    return ((await res.json()) as { tags?: string[] | null }).tags ?? [];
  }

  /** Deletes the manifest a tag points to (and with it every tag on that manifest); a missing tag is not an error. */
  async deleteTag(model: string, tag: string): Promise<void> {
    const digest = await this.manifestDigest(model, tag);
    if (!digest) return;
    const res = await this.request('DELETE', `/v2/${this.repository(model)}/manifests/${digest}`);
    if (!res.ok && res.status !== 404) throw ApplicationFailure.retryable(`registry ${this.host}: DELETE ${model}@${digest} answered ${res.status}`, RegistryUnavailable);
  }
}

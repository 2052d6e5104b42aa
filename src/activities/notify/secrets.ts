/**
 * A receiver's URL and token, read from where the configuration says (an environment variable
 * or a file of the worker), at every send: a rotated secret is used at once, and neither value
 * is ever passed to the workflow. Errors name the configuration key, never the value.
 */
import { readFileSync } from 'node:fs';
import type { NotificationSinkConfig } from '../../config/schema';

export interface SinkSecrets {
  url: string;
  token?: string;
}

export class SinkSecretError extends Error {
  override name = 'SinkSecretError';
}

/** Reads the sink's URL (and token); throws SinkSecretError, naming `<key>.urlEnv` etc., when one is missing or the URL is not http(s). */
export function readSinkSecrets(sink: NotificationSinkConfig, key: string, env: NodeJS.ProcessEnv = process.env): SinkSecrets {
  const url = read(sink.urlEnv, sink.urlFile, `${key}.${sink.urlEnv ? 'urlEnv' : 'urlFile'}`, "the receiver's URL", env)!;
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw new SinkSecretError(`${key}.${sink.urlEnv ? `urlEnv: $${sink.urlEnv}` : `urlFile: ${sink.urlFile}`} does not hold an http(s) URL; put the receiver's full URL there, e.g. https://hooks.example.com/tandem`);
  }
  const token = read(sink.tokenEnv, sink.tokenFile, `${key}.${sink.tokenEnv ? 'tokenEnv' : 'tokenFile'}`, 'the token', env);
  return token === undefined ? { url } : { url, token };
}

function read(name: string | undefined, file: string | undefined, field: string, what: string, env: NodeJS.ProcessEnv): string | undefined {
  if (name !== undefined) {
    const value = env[name]?.trim();
    if (!value) throw new SinkSecretError(`${field}: $${name} is not set in the worker's environment; set it to ${what} (the value never goes in tandem.config.yaml), or name a file with ${field.replace(/Env$/, 'File')}`);
    return value;
  }
  if (file !== undefined) {
    let value: string;
    try {
      value = readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw new SinkSecretError(`${field}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'}); the worker must be able to read ${what} there`);
    }
    if (!value) throw new SinkSecretError(`${field}: ${file} is empty; put ${what} in it`);
    return value;
  }
  return undefined;
}

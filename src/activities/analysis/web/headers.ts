/**
 * The headers of web metric requests, read from where the worker's configuration says
 * (`environments.<name>.analysis.web.headers`: an environment variable or a file) at every
 * request, so a rotated token is used at once. The values never enter the spec, workflow history,
 * results or logs; errors name the configuration key, never the value.
 */
import { readFileSync } from 'node:fs';
import type { EnvironmentConfig } from '../../../config/schema';

export type WebHeadersConfig = NonNullable<NonNullable<EnvironmentConfig['analysis']>['web']>['headers'];

export class WebHeaderError extends Error {
  override name = 'WebHeaderError';
}

/**
 * Each configured header with its value. Throws WebHeaderError naming `<key>.<header>.env` (or
 * `.file`) when the variable is unset or empty, or the file unreadable or empty.
 */
export function readWebHeaders(headers: WebHeadersConfig, key: string, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, source]) => [name, readOne(source, `${key}.${name}`, env)]));
}

function readOne(source: WebHeadersConfig[string], field: string, env: NodeJS.ProcessEnv): string {
  if (source.env !== undefined) {
    const value = env[source.env]?.trim();
    if (!value) throw new WebHeaderError(`${field}.env: $${source.env} is not set in the worker's environment; set it to the header's value (it never goes in tandem.config.yaml or tandem.yaml)`);
    return value;
  }
  let value: string;
  try {
    value = readFileSync(source.file!, 'utf8').trim();
  } catch (error) {
    throw new WebHeaderError(`${field}.file: cannot read ${source.file} (${(error as NodeJS.ErrnoException).code ?? 'unreadable'}); the worker must be able to read the header's value there`);
  }
  if (!value) throw new WebHeaderError(`${field}.file: ${source.file} is empty; put the header's value in it`);
  return value;
}

/** `text` with every header value replaced by `***`: an answer that echoes a token does not carry it into a result. */
export function redact(text: string, headers: Record<string, string>): string {
  return Object.values(headers).reduce((out, secret) => (secret ? out.split(secret).join('***') : out), text);
}

/**
 * Secrets of `tandem serve` (the OpenID client secret, the key that signs session cookies) are
 * named in tandem.config.yaml by an environment variable or a file and read here, by the process
 * that uses them, at start-up: a missing one stops serve before it listens, naming the key.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../config/load';

export interface NamedSecret {
  /** the configuration key without its Env/File suffix, e.g. serve.oidc.clientSecret */
  key: string;
  env?: string | undefined;
  file?: string | undefined;
  /** shortest value accepted, with what to do when it is shorter */
  minLength?: { chars: number; fix: string };
}

/** The secret's value (a file's trailing newline dropped); throws ConfigError naming the key and the fix. */
export function readSecret(secret: NamedSecret): string {
  let value: string;
  let where: string;
  if (secret.env) {
    where = `$${secret.env} (${secret.key}Env)`;
    value = process.env[secret.env] ?? '';
    if (!value) throw new ConfigError(`${secret.key}Env: the environment variable ${secret.env} is not set or empty; set it to the secret, or name a file with ${secret.key}File`);
  } else if (secret.file) {
    where = `${secret.file} (${secret.key}File)`;
    try {
      value = readFileSync(secret.file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new ConfigError(`${secret.key}File: cannot read ${secret.file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); point it at the file that holds the secret`);
    }
  } else {
    throw new ConfigError(`${secret.key}Env: name the environment variable (${secret.key}Env) or file (${secret.key}File) that holds it`);
  }
  if (secret.minLength && value.length < secret.minLength.chars) {
    throw new ConfigError(`${secret.key}: the secret in ${where} is ${value.length} characters; ${secret.minLength.fix}`);
  }
  return value;
}

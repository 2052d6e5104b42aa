/** Finds, reads and validates tandem.config.yaml (--config, then TANDEM_CONFIG, then ./tandem.config.yaml). */
import { readFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import YAML from 'yaml';
import { configSchema, type Config } from './schema';
import { describeIssues } from '../model-spec/issues';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Path of the configuration file in use; throws ConfigError when none is found. */
export function findConfigPath(explicit?: string): string {
  const candidate = explicit ?? process.env.TANDEM_CONFIG ?? 'tandem.config.yaml';
  const path = resolve(candidate);
  if (!existsSync(path)) {
    throw new ConfigError(
      `configuration file not found: ${path} — pass --config FILE or set TANDEM_CONFIG (see README, "Configuration")`,
    );
  }
  return path;
}

/** Parses and validates a configuration text; throws ConfigError naming each bad key. */
export function parseConfig(text: string, source = 'tandem.config.yaml'): Config {
  let raw: unknown;
  try {
    raw = YAML.parse(text);
  } catch (err) {
    throw new ConfigError(`${source} is not valid YAML: ${(err as Error).message}`);
  }
  const result = configSchema.safeParse(raw ?? {});
  if (!result.success) throw new ConfigError(`${source} is invalid: ${describeIssues(result.error.issues)}`);
  return result.data;
}

/** Loads the configuration found by findConfigPath. */
export function loadConfig(explicit?: string): Config & { path: string } {
  const path = findConfigPath(explicit);
  return { ...parseConfig(readFileSync(path, 'utf8'), path), path };
}

/**
 * What the worker's resolvePolicy activity needs from tandem.config.yaml: every environment's
 * and model's policy, and the public key that verifies serve's signatures (read once at start, so
 * a missing or wrong key file stops the worker with the key named instead of failing releases).
 */
import { ConfigError } from '../config/load';
import type { Config } from '../config/schema';
import type { PolicyDeps } from '../activities/policy/resolve-policy';
import { loadVerifyKeyHex, SigningKeyError } from './sign';

/** Throws ConfigError naming serve.verifyKeyFile / serve.signingKeyFile when the key cannot be read. */
export function policyDeps(config: Config): PolicyDeps {
  const sources = { environments: config.environments, models: config.models };
  const file = config.serve?.verifyKeyFile ?? config.serve?.signingKeyFile;
  if (!file) return { sources };
  try {
    return { sources, verifyKey: loadVerifyKeyHex(file, config.serve?.verifyKeyFile ? 'serve.verifyKeyFile' : 'serve.signingKeyFile') };
  } catch (err) {
    if (err instanceof SigningKeyError) throw new ConfigError(err.message);
    throw err;
  }
}

/** What every CLI command needs: the configuration (when there is one) and a connected client. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { userInfo } from 'node:os';
import { TandemClient, BadInputError } from '../client';
import { loadConfig } from '../config/load';
import { temporalTarget } from '../temporal-connection';
import type { Config } from '../config/schema';

export interface GlobalOptions {
  config?: string;
  env?: string;
  json?: boolean;
}

/** The configuration, or undefined when no file is named and none is at the default place. */
export function optionalConfig(explicit?: string): (Config & { path: string }) | undefined {
  if (!explicit && !process.env.TANDEM_CONFIG && !existsSync(resolve('tandem.config.yaml'))) return undefined;
  return loadConfig(explicit);
}

/** The environment for a model: --env, else the model's default in the configuration. */
export function environmentFor(model: string, options: GlobalOptions, config?: Config & { path?: string }): string {
  const env = options.env ?? config?.models[model]?.environment;
  if (!env && !config) {
    throw new BadInputError(
      `no environment for ${model}: no configuration file was found (looked for ./tandem.config.yaml; none named by --config or TANDEM_CONFIG). Pass --env NAME, or --config FILE`,
    );
  }
  if (!env) {
    throw new BadInputError(`no environment for ${model}: pass --env NAME or set models.${model}.environment in ${config?.path ?? 'tandem.config.yaml'}`);
  }
  if (config && !(env in config.environments)) {
    throw new BadInputError(`environment "${env}" is not in ${config.path} (known: ${Object.keys(config.environments).join(', ')}); fix --env or add it under environments`);
  }
  return env;
}

export async function connect(config?: Config): Promise<TandemClient> {
  try {
    return await TandemClient.connect({ taskQueue: config?.taskQueue });
  } catch (err) {
    const address = (() => {
      try {
        return temporalTarget().connection.address;
      } catch {
        return 'the configured address';
      }
    })();
    throw new Error(
      `cannot reach Temporal at ${address} (${(err as Error).message}); start it with scripts/temporal-up.sh, or set TEMPORAL_ADDRESS (or a profile in the Temporal configuration file, TEMPORAL_PROFILE)`,
    );
  }
}

/** Who is acting: --by, else the CI's actor, else the local user. */
export function actor(by?: string): string {
  return by ?? process.env.TANDEM_ACTOR ?? process.env.GITHUB_ACTOR ?? process.env.GITLAB_USER_LOGIN ?? process.env.USER ?? userInfo().username;
}

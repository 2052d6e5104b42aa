/**
 * Builds the real clients of each configured environment: its target, traffic router, analyzer
 * and image builder, chosen by configuration. Refuses (ConfigError) an environment whose backend
 * this build of tandem does not implement, rather than serving it with anything fake.
 * Kubernetes environments: KubernetesTarget in the configured namespace, the Gateway API or
 * replica-ratio router. Analysis: activities/analysis/ chooses (Prometheus, the tandem gateway's
 * metrics, or none). Images are built and pushed as for Docker environments.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { createAgreementAnalyzer, createAnalyzer } from './activities/analysis';
import { DockerTarget } from './activities/docker/target';
import { createImageActivities, registryCredentials } from './activities/image';
import type { Environment, ImageBuilder } from './activities/target';
import { GatewayRouter } from './activities/traffic/gateway-router';
import { ConfigError } from './config/load';
import { adminTokenPath, defaultStateDir } from './gateway/admin-token';
import type { GatewayToken } from './shared/gateway-token';
import type { Config, EnvironmentConfig } from './config/schema';

export function buildEnvironments(config: Config, cacheDir: string): Record<string, Environment> {
  const result: Record<string, Environment> = {};
  for (const [name, env] of Object.entries(config.environments)) result[name] = buildEnvironment(name, env, cacheDir);
  return result;
}

function buildEnvironment(name: string, env: EnvironmentConfig, cacheDir: string): Environment {
  if (env.target.kind === 'kubernetes') return buildKubernetesEnvironment(name, env, env.target, cacheDir);
  if (env.traffic.router !== 'gateway') {
    throw new ConfigError(`environments.${name}.traffic.router: "${env.traffic.router}" needs the kubernetes target; Docker environments use router: gateway`);
  }
  const docker = dockerClient(env.target.host);
  const registryAuth = pullCredentials(name, env.registry);
  const builder = imageBuilder(env, docker, cacheDir);
  const gatewayToken = gatewayCredentials(name, env.traffic, 'traffic');
  return {
    target: new DockerTarget(docker, { network: env.target.network, registryAuth }),
    router: new GatewayRouter(env.traffic.url, gatewayToken),
    ...analyzers(name, env, { gatewayToken: env.analysis?.gateway ? gatewayCredentials(name, env.analysis.gateway, 'analysis.gateway') : gatewayToken }),
    builder,
  };
}

function buildKubernetesEnvironment(
  name: string,
  env: EnvironmentConfig,
  target: Extract<EnvironmentConfig['target'], { kind: 'kubernetes' }>,
  cacheDir: string,
): Environment {
  if (env.traffic.router === 'gateway') {
    throw new ConfigError(`environments.${name}.traffic.router: "gateway" (the tandem gateway) serves Docker environments; Kubernetes environments use router: gateway-api or replica-ratio`);
  }
  // Loaded only when an environment is on Kubernetes: the client library alone takes about half
  // a second to load, which a Docker-only worker would otherwise pay at every start.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { kubernetesTargetAndRouter } = require('./kubernetes-environment') as typeof import('./kubernetes-environment');
  return {
    ...kubernetesTargetAndRouter(name, target, env.traffic),
    ...analyzers(name, env, env.analysis?.gateway ? { gatewayToken: gatewayCredentials(name, env.analysis.gateway, 'analysis.gateway') } : {}),
    builder: imageBuilder(env, dockerClient(undefined), cacheDir),
  };
}

/** What judges the environment's versions: its live traffic (and web metrics), and the agreement of mirrored answers. */
function analyzers(name: string, env: EnvironmentConfig, clients: { gatewayToken?: GatewayToken }): Pick<Environment, 'analyzer' | 'agreement'> {
  return { analyzer: createAnalyzer(name, env, clients), agreement: createAgreementAnalyzer(env, clients) };
}

/**
 * The gateway's admin token a Docker environment's router and analyzer, or the gateway analyzer of
 * `analysis.gateway`, use: from `<key>.tokenEnv`, else `<key>.tokenFile` (default: where a gateway
 * with the default state directory writes it). Throws ConfigError (the worker refuses to start),
 * naming the field, when neither holds a token.
 */
function gatewayCredentials(name: string, traffic: { url: string; tokenEnv: string; tokenFile?: string | undefined }, field: 'traffic' | 'analysis.gateway'): GatewayToken {
  const token = process.env[traffic.tokenEnv];
  if (token) return { token };
  const tokenFile = traffic.tokenFile ?? adminTokenPath(defaultStateDir());
  if (existsSync(tokenFile)) return { tokenFile };
  const key = traffic.tokenFile ? 'tokenFile' : 'tokenEnv';
  throw new ConfigError(
    `environments.${name}.${field}.${key}: no admin token for the gateway at ${traffic.url}: $${traffic.tokenEnv} is not set and ${tokenFile} ` +
      `does not exist${traffic.tokenFile ? '' : ' (the default traffic.tokenFile)'}; set ${traffic.tokenEnv} to the gateway's token, ` +
      'start `tandem gateway` on this host first (it writes that file), or set traffic.tokenFile',
  );
}

/** Builds on the given engine and pushes to the environment's registry; Git mirrors are shared with resolveTag. */
function imageBuilder(env: EnvironmentConfig, docker: Docker, cacheDir: string): ImageBuilder {
  return createImageActivities({ docker, registry: env.registry, buildArgs: env.build.buildArgs, workDir: join(cacheDir, 'git') });
}

function dockerClient(host: string | undefined): Docker {
  if (!host) return new Docker();
  if (host.startsWith('unix://')) return new Docker({ socketPath: host.slice('unix://'.length) });
  const url = new URL(host.replace(/^tcp:/, 'http:'));
  return new Docker({ host: url.hostname, port: Number(url.port || 2375), protocol: url.protocol === 'https:' ? 'https' : 'http' });
}

/**
 * Credentials the target pulls with, or undefined for an anonymous registry. Throws ConfigError
 * (the worker refuses to start) when `registry.passwordEnv` names a variable that is not set.
 */
function pullCredentials(name: string, registry: EnvironmentConfig['registry']) {
  let credentials;
  try {
    credentials = registryCredentials(registry);
  } catch (error) {
    throw new ConfigError(`environments.${name}: ${(error as Error).message}`);
  }
  return credentials && { ...credentials, serveraddress: registry.url };
}

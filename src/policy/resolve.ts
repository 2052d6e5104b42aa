/**
 * The policy a release runs under: the defaults, then the environment's `policy`, then the
 * model's override for that environment, key by key. Pure; the worker's resolvePolicy activity
 * calls it with the loaded configuration.
 */
import { DEFAULT_POLICY, type Allowlist, type Policy } from './evaluate';
import type { DeployWindow } from './deploy-windows';

/** A policy as written in the configuration: every key optional. */
export type PolicyInput = Partial<Policy>;

export interface PolicySources {
  environments: Record<string, { production?: boolean; policy?: PolicyInput; deployWindows?: DeployWindow[] }>;
  models: Record<string, { policy?: Record<string, PolicyInput> }>;
}

export interface ResolvedPolicy {
  policy: Policy;
  /** where it came from, for the record: `environments.prod.policy + models.fraud-detector.policy.prod` */
  source: string;
  /** raw Ed25519 key (64 hex digits) that verifies serve's signatures; absent: every request is self-declared */
  verifyKey?: string;
  /** the environment's deploy windows (src/policy/deploy-windows.ts); absent: traffic may move at any time */
  deployWindows?: DeployWindow[];
}

/** Merges defaults, environment and model policy; undefined when the environment is not configured. */
export function policyFor(sources: PolicySources, model: string, environment: string): Omit<ResolvedPolicy, 'verifyKey'> | undefined {
  const env = sources.environments[environment];
  if (!env) return undefined;
  const override = sources.models[model]?.policy?.[environment];
  const merged: Policy = { ...DEFAULT_POLICY, fourEyes: env.production === true, ...defined(env.policy), ...defined(override) };
  const source = ['defaults', env.production ? `environments.${environment}.production` : '', env.policy ? `environments.${environment}.policy` : '', override ? `models.${model}.policy.${environment}` : '']
    .filter(Boolean)
    .join(' + ');
  return { policy: merged, source, ...(env.deployWindows?.length ? { deployWindows: env.deployWindows } : {}) };
}

/** Keys given as undefined must not erase a default. */
function defined(input: PolicyInput | undefined): PolicyInput {
  return Object.fromEntries(Object.entries(input ?? {}).filter(([, v]) => v !== undefined)) as Record<string, number | boolean | Allowlist>;
}

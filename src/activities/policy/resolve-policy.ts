/**
 * resolvePolicy: the approval policy of a model in an environment, from the worker's
 * configuration, with the public key that verifies serve's signatures. Read-only and
 * idempotent; its result goes into workflow history, so it holds nothing secret.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { FailureType } from '../../errors';
import { policyFor, type PolicySources, type ResolvedPolicy } from '../../policy/resolve';
import type { ModelRef } from '../types';

export interface PolicyDeps {
  sources: PolicySources;
  /** raw Ed25519 public key, 64 hex digits (src/policy/sign.ts loadVerifyKeyHex) */
  verifyKey?: string;
}

export function createPolicyActivities(deps: PolicyDeps) {
  return {
    /** Throws non-retryable UnknownEnvironment when the environment is not configured here. */
    async resolvePolicy(input: ModelRef): Promise<ResolvedPolicy> {
      const found = policyFor(deps.sources, input.model, input.environment);
      if (!found) {
        throw ApplicationFailure.nonRetryable(
          `environment "${input.environment}" is not in this worker's configuration (known: ${Object.keys(deps.sources.environments).join(', ') || 'none'}); add it to tandem.config.yaml and restart the worker`,
          FailureType.UnknownEnvironment,
        );
      }
      return deps.verifyKey ? { ...found, verifyKey: deps.verifyKey } : found;
    },
  };
}

/**
 * Access by group at the API's door: which groups may read, start and operate (serve.access).
 * The approval policy proper (who may approve which release) is decided inside the workflow;
 * this only keeps callers away from what their groups may not do at all. Pure.
 */
import { ANY_AUTHENTICATED, type AccessConfig, type Permission } from '../config/serve-schema';
import type { Identity } from './auth/identity';

/** Why the identity may not do it, naming the key that would allow it; undefined when it may. */
export function refusal(access: AccessConfig, identity: Identity, permission: Permission): string | undefined {
  const allowed = access[permission];
  if (allowed.includes(ANY_AUTHENTICATED) || identity.groups.some((group) => allowed.includes(group))) return undefined;
  const who = `${identity.subject} (groups: ${identity.groups.join(', ') || 'none'})`;
  const needs = allowed.length ? `one of the groups ${allowed.join(', ')}` : 'a group listed there (it lists none)';
  return `${who} may not ${permission}: serve.access.${permission} in tandem.config.yaml requires ${needs}`;
}

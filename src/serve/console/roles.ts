/**
 * The role of each running version of a model, as an operator names it. Pure.
 *
 * - stable: the version the traffic state calls stable
 * - canary: the active release's version, or any other version that takes unpinned traffic
 * - warm: takes no unpinned traffic and was deployed before the stable one (kept for an instant rollback)
 * - pinned-only: takes no unpinned traffic and was deployed after the stable one (reached only with X-Model-Version)
 */
export type VersionRole = 'stable' | 'canary' | 'warm' | 'pinned-only';

export interface RoleInput {
  version: string;
  deployedAt: string;
}

/** The role of `version` among `running`, given the weights, the stable version and the active release's version. */
export function roleOf(
  version: RoleInput,
  running: readonly RoleInput[],
  weights: Readonly<Record<string, number>>,
  stable: string | undefined,
  releasing: string | undefined,
): VersionRole {
  if (version.version === stable) return 'stable';
  if (version.version === releasing || (weights[version.version] ?? 0) > 0) return 'canary';
  const stableDeployedAt = running.find((v) => v.version === stable)?.deployedAt;
  if (stableDeployedAt === undefined || version.deployedAt <= stableDeployedAt) return 'warm';
  return 'pinned-only';
}

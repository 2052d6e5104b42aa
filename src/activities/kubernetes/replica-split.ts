/**
 * Replica arithmetic for clusters without a Gateway, where a model's traffic is split by how many
 * pods each version runs behind one shared Service (traffic/replica-ratio-router.ts routes, the
 * Kubernetes target scales with these numbers). Kept apart from both, as Flagger keeps
 * `pkg/canary` (scaling) apart from `pkg/router` (routing). Pure.
 */

/**
 * The only version that takes traffic when the weights give it all (every other weight 0), else
 * undefined. The shared Service then selects that version alone, so the other versions may keep
 * their pods (warm) without receiving requests; while traffic is split it must select the whole
 * model, because a Service selector matches labels by equality and cannot name a set of versions.
 */
export function soleVersion(weights: Record<string, number>): string | undefined {
  const positive = Object.entries(weights).filter(([, w]) => w > 0);
  return positive.length === 1 ? positive[0]![0] : undefined;
}

/**
 * Replica counts that approximate `weights` (percent) with `total` replicas: largest remainder,
 * at least one replica for every weight above 0, zero for weight 0. The counts add up to `total`,
 * or to the number of positive weights when that is larger. Ties in remainder go to the version
 * that sorts first, so the result does not depend on key order.
 */
export function replicaSplit(weights: Record<string, number>, total: number): Record<string, number> {
  const entries = Object.entries(weights);
  const positive = entries.filter(([, w]) => w > 0);
  const n = Math.max(total, positive.length);
  const exact = new Map(positive.map(([version, weight]) => [version, (weight * n) / 100]));
  const counts: Record<string, number> = {};
  let assigned = 0;
  for (const [version, weight] of entries) {
    counts[version] = weight > 0 ? Math.max(1, Math.floor(exact.get(version)!)) : 0;
    assigned += counts[version]!;
  }
  // The minimum of one can overshoot ({1, 1, 98} over 3 floors to 1 + 1 + 2): take the excess
  // from the versions served most above their exact share.
  const byName = (a: string, b: string): number => a.localeCompare(b);
  while (assigned > n) {
    const [version] = positive
      .map(([v]) => [v, counts[v]! - exact.get(v)!] as const)
      .filter(([v]) => counts[v]! > 1)
      .sort((a, b) => b[1] - a[1] || byName(a[0], b[0]))[0]!;
    counts[version]! -= 1;
    assigned -= 1;
  }
  const remainders = positive.map(([v]) => [v, exact.get(v)! - counts[v]!] as const).sort((a, b) => b[1] - a[1] || byName(a[0], b[0]));
  for (let i = 0; assigned < n && remainders.length; i = (i + 1) % remainders.length) {
    counts[remainders[i]![0]]! += 1;
    assigned += 1;
  }
  return counts;
}

/** One version's Deployment as the replica plan reads it. */
export interface VersionReplicas {
  version: string;
  /** the Deployment's spec.replicas now */
  replicas: number;
  /** the replica count of the spec it was deployed with */
  specReplicas: number;
}

/** One replica count to set. */
export interface ReplicaChange {
  version: string;
  from: number;
  to: number;
}

/**
 * The replica counts that make the shared Service carry `weights`. The total is the largest spec
 * replica count among the weighted versions; the weighted versions get its split. Versions outside
 * the weights keep their pods when one version takes all traffic (the Service selects that one
 * alone: they stay warm) and go to 0 while traffic is split (the Service selects every pod of the
 * model). No weights at all changes nothing. Only real changes are returned, increases first, so
 * capacity never dips while the counts move.
 */
export function replicaPlan(weights: Record<string, number>, versions: VersionReplicas[]): ReplicaChange[] {
  if (Object.keys(weights).length === 0) return [];
  const weighted = versions.filter((v) => (weights[v.version] ?? 0) > 0);
  const total = Math.max(1, ...weighted.map((v) => Math.max(1, v.specReplicas)));
  const split = replicaSplit(weights, total);
  const alone = soleVersion(weights) !== undefined;
  const changes = versions
    .map((v) => {
      const weight = weights[v.version] ?? 0;
      const to = weight > 0 ? split[v.version]! : alone ? v.replicas : 0;
      return { version: v.version, from: v.replicas, to };
    })
    .filter((c) => c.to !== c.from);
  return [...changes.filter((c) => c.to > c.from), ...changes.filter((c) => c.to < c.from)];
}

/**
 * Quantiles from a cumulative latency histogram, computed as Prometheus' histogram_quantile()
 * does, for the gateway's counters, which no Prometheus reads on tandem's behalf. Pure.
 */

/** One cumulative bucket: observations at or below `le` seconds (`Infinity` for +Inf). */
export interface Bucket {
  le: number;
  count: number;
}

/**
 * The q-quantile (0..1) in milliseconds from cumulative buckets sorted by `le`, interpolating
 * linearly inside the bucket it falls in (the first bucket starts at 0); the highest finite bound
 * when it falls in +Inf; undefined without observations. Pure.
 */
export function quantileMs(buckets: readonly Bucket[], q: number): number | undefined {
  const total = buckets.find((b) => b.le === Infinity)?.count ?? buckets[buckets.length - 1]?.count ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let previousLe = 0;
  let previousCount = 0;
  for (const bucket of buckets) {
    if (bucket.count >= rank) {
      if (bucket.le === Infinity) return previousLe * 1000;
      const inBucket = bucket.count - previousCount;
      const fraction = inBucket > 0 ? (rank - previousCount) / inBucket : 1;
      return (previousLe + (bucket.le - previousLe) * fraction) * 1000;
    }
    previousLe = bucket.le;
    previousCount = bucket.count;
  }
  return previousLe * 1000;
}

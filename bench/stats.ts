/** What every benchmark prints and how it summarises samples. */

/** One measurement, one JSON line on stdout (the contract of `npm run bench`). */
export const emit = (o: object): void => console.log(JSON.stringify(o));

export const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** The q-quantile of the samples (nearest rank). */
export function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

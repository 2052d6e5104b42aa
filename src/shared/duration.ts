/**
 * Durations in tandem.yaml and tandem.config.yaml are strings like `500ms`, `30s`, `5m`, `2h`.
 * Pure: imported by workflows.
 */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export const DURATION_PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/** Milliseconds in a duration string; throws on a string that does not match DURATION_PATTERN. */
export function durationMs(text: string): number {
  const match = DURATION_PATTERN.exec(text.trim());
  if (!match) throw new Error(`not a duration: "${text}" (use e.g. 500ms, 30s, 5m, 2h)`);
  return Math.round(Number(match[1]) * UNIT_MS[match[2]!]!);
}

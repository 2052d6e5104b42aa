/**
 * The gateway's routing rules, free of I/O: how a TrafficState body is validated, how a request
 * picks a version (pinned by header, else weighted random), and how the model is read from the
 * request path. The server (server.ts) holds the table and swaps it whole on every change.
 */
import type { TrafficState } from '../activities/types';


/** A problem with a TrafficState body; `field` is the dotted path a person fixes. */
export interface RouteIssue {
  field: string;
  message: string;
}

/**
 * Parses and checks a TrafficState body: `weights` maps versions to integer percents that sum to
 * 100, `pinned` lists versions, `stable` names one. `reachable(version)` says whether the gateway
 * can reach the version; every version with weight > 0 and every pinned version must be reachable.
 * Returns the normalized state or the issues; never throws.
 */
export function parseTrafficState(
  model: string,
  body: unknown,
  reachable: (version: string) => boolean,
): { state: TrafficState; issues: [] } | { state?: undefined; issues: RouteIssue[] } {
  const issues: RouteIssue[] = [];
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { issues: [{ field: '(body)', message: 'must be a JSON object {"weights": {...}, "pinned": [...], "stable": "..."}' }] };
  }
  const raw = body as Record<string, unknown>;
  for (const key of Object.keys(raw)) {
    if (!['weights', 'pinned', 'stable'].includes(key)) issues.push({ field: key, message: 'is not a known field (weights, pinned, stable)' });
  }
  const weights: Record<string, number> = {};
  if (typeof raw.weights !== 'object' || raw.weights === null || Array.isArray(raw.weights)) {
    issues.push({ field: 'weights', message: 'must be an object mapping versions to percents, e.g. {"v1.0.0": 90, "v1.1.0": 10}' });
  } else {
    for (const [version, weight] of Object.entries(raw.weights as Record<string, unknown>)) {
      if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 0 || weight > 100) {
        issues.push({ field: `weights.${version}`, message: `must be an integer percent from 0 to 100 (got ${JSON.stringify(weight)})` });
      } else {
        weights[version] = weight;
      }
    }
    const sum = Object.values(weights).reduce((a, b) => a + b, 0);
    // No weights at all is allowed: the model then serves only pinned requests (a first version under test).
    if (issues.length === 0 && Object.keys(weights).length > 0 && sum !== 100) {
      issues.push({ field: 'weights', message: `must sum to 100 (got ${sum}), or be {} to serve pinned requests only` });
    }
  }
  let pinned: string[] = [];
  if (raw.pinned !== undefined) {
    if (!Array.isArray(raw.pinned) || raw.pinned.some((v) => typeof v !== 'string' || v === '')) {
      issues.push({ field: 'pinned', message: 'must be a list of version names' });
    } else {
      pinned = [...new Set(raw.pinned as string[])];
    }
  }
  let stable: string | undefined;
  if (raw.stable !== undefined && raw.stable !== null) {
    if (typeof raw.stable !== 'string' || raw.stable === '') issues.push({ field: 'stable', message: 'must be a version name' });
    else stable = raw.stable;
  }
  if (issues.length > 0) return { issues };

  for (const [version, weight] of Object.entries(weights)) {
    if (weight > 0 && !reachable(version)) {
      issues.push({ field: `weights.${version}`, message: `${model} ${version} has no running replica the gateway can reach` });
    }
  }
  pinned.forEach((version, i) => {
    if (!reachable(version)) issues.push({ field: `pinned.${i}`, message: `${model} ${version} has no running replica the gateway can reach` });
  });
  if (issues.length > 0) return { issues };
  return { state: stable === undefined ? { weights, pinned } : { weights, pinned, stable }, issues: [] };
}

/**
 * Picks the version for an unpinned request: weighted random among versions with weight > 0.
 * `random` is in [0, 1). Undefined when no version has weight.
 */
export function pickWeighted(weights: Record<string, number>, random: number): string | undefined {
  const entries = Object.entries(weights).filter(([, w]) => w > 0);
  const total = entries.reduce((sum, [, w]) => sum + w, 0);
  if (total <= 0) return undefined;
  let point = random * total;
  for (const [version, weight] of entries) {
    if (point < weight) return version;
    point -= weight;
  }
  return entries[entries.length - 1]![0];
}

/**
 * `/<model>/rest?query` → `{ model, path: '/rest?query' }`. Routing is by path prefix: the first
 * segment names the model and is stripped before forwarding. Undefined when the path has no
 * model segment.
 */
export function splitModelPath(url: string): { model: string; path: string } | undefined {
  const match = /^\/([^/?#]+)(.*)$/.exec(url);
  if (!match) return undefined;
  let rest = match[2]!;
  if (rest === '' || rest.startsWith('?')) rest = `/${rest}`;
  const model = safeDecode(match[1]!);
  return model === undefined ? undefined : { model, path: rest };
}

/** decodeURIComponent that answers undefined for a malformed escape (e.g. `%E0`) instead of throwing. */
export function safeDecode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

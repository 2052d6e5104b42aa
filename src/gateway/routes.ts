/**
 * The gateway's routing rules, free of I/O: how a TrafficState body is validated, how a request
 * picks a version (pinned by header, else weighted random), and how the model is read from the
 * request path. table.ts holds the table and swaps it whole on every change.
 */
import { jsonPathProblem } from '../shared/json-path';
import { type TrafficIssue, type TrafficState, parseTrafficState as parseTrafficBody } from '../shared/traffic-state';

/** A problem with a TrafficState body; `field` is the dotted path a person fixes. */
export type RouteIssue = TrafficIssue;

/**
 * Parses and checks a TrafficState body with the shared schema (src/shared/traffic-state.ts),
 * then checks what only the gateway knows: `reachable(version)` says whether it can reach the
 * version; every version with weight > 0, every pinned version and the mirror must be reachable,
 * and every JSONPath of the mirror's `compare` must be one jsonpath-plus evaluates (no filters).
 * Returns the normalized state or the issues; never throws.
 */
export function parseTrafficState(
  model: string,
  body: unknown,
  reachable: (version: string) => boolean,
): { state: TrafficState; issues: [] } | { state?: undefined; issues: RouteIssue[] } {
  const parsed = parseTrafficBody(body);
  if (!parsed.state) return parsed;
  const { weights, pinned } = parsed.state;
  const issues: RouteIssue[] = [];
  for (const [version, weight] of Object.entries(weights)) {
    if (weight > 0 && !reachable(version)) {
      issues.push({ field: `weights.${version}`, message: `${model} ${version} has no running replica the gateway can reach` });
    }
  }
  pinned.forEach((version, i) => {
    if (!reachable(version)) issues.push({ field: `pinned.${i}`, message: `${model} ${version} has no running replica the gateway can reach` });
  });
  const mirror = parsed.state.mirror;
  if (mirror && !reachable(mirror.version)) issues.push({ field: 'mirror.version', message: `${model} ${mirror.version} has no running replica the gateway can reach` });
  const paths = [
    ...(mirror?.compare?.fields ?? []).map((f, i) => [`mirror.compare.fields.${i}.path`, f.path] as const),
    ...(mirror?.compare?.redact ?? []).map((path, i) => [`mirror.compare.redact.${i}`, path] as const),
  ];
  for (const [field, path] of paths) {
    const problem = jsonPathProblem(path);
    if (problem) issues.push({ field, message: problem });
  }
  if (issues.length > 0) return { issues };
  return parsed;
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

/**
 * JSONPath over JSON answers with jsonpath-plus, script and filter expressions disabled: the
 * paths come from a spec, the answers from model servers, and neither may run code here.
 */
import { JSONPath } from 'jsonpath-plus';

/** One value a path selects, with its concrete location (`$['scores'][1]`). */
export interface PathMatch {
  at: string;
  value: unknown;
}

/** Thrown when jsonpath-plus cannot evaluate a path (a syntax it refuses, a filter expression). */
export class InvalidJsonPathError extends Error {
  override name = 'InvalidJsonPathError';
}

interface FullMatch {
  path: string;
  value: unknown;
  parent: unknown;
  parentProperty: string | number | null;
}

function evaluate(json: unknown, path: string): FullMatch[] {
  try {
    return JSONPath({ path, json: json as object, wrap: true, eval: false, resultType: 'all' }) as FullMatch[];
  } catch (error) {
    throw new InvalidJsonPathError(`${path} is not a JSONPath tandem can evaluate (${(error as Error).message}); use a plain path such as $.label or $.scores[0]`);
  }
}

/** Every value `path` selects in `json`, in document order; [] when none. Throws InvalidJsonPathError. */
export function matchesAt(json: unknown, path: string): PathMatch[] {
  return evaluate(json, path).map((m) => ({ at: m.path, value: m.value }));
}

/**
 * Why `path` cannot be evaluated, or undefined when it can: filter and script segments are
 * refused (they would fail only on answers that reach them), then the path is tried on an empty
 * object and list.
 */
export function jsonPathProblem(path: string): string | undefined {
  try {
    const script = JSONPath.toPathArray(path).find((segment) => segment.startsWith('?(') || segment.startsWith('('));
    if (script !== undefined) return `${path} is not a JSONPath tandem can evaluate (filter and script expressions such as [${script}] are disabled); use a plain path such as $.label or $.scores[0]`;
    evaluate({}, path);
    evaluate([], path);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/**
 * A copy of `json` with every value each of `paths` selects replaced by `replacement`, and the
 * concrete locations replaced. A path selecting the root replaces the whole value. Throws
 * InvalidJsonPathError.
 */
export function replaceAt(json: unknown, paths: readonly string[], replacement: unknown): { json: unknown; replaced: string[] } {
  let copy: unknown = structuredClone(json);
  const replaced: string[] = [];
  for (const path of paths) {
    for (const match of evaluate(copy, path)) {
      if (match.parent === null || match.parentProperty === null) copy = replacement;
      else (match.parent as Record<string | number, unknown>)[match.parentProperty] = replacement;
      replaced.push(match.path);
    }
  }
  return { json: copy, replaced };
}

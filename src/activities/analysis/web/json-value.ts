/**
 * The number at a JSONPath in a JSON answer, with jsonpath-plus (script and filter expressions
 * disabled: the path comes from a spec, the answer from another team's service).
 */
import { JSONPath } from 'jsonpath-plus';

export type PathReading = { value: number } | { problem: string };

/**
 * The single number `path` selects in `json`, or why there is none: the path matches nothing,
 * matches several values, or matches something that is not a number. Throws InvalidJsonPathError
 * when the path cannot be evaluated (a syntax jsonpath-plus refuses, a filter expression).
 */
export function numberAt(json: unknown, path: string): PathReading {
  let matches: unknown[];
  try {
    matches = JSONPath({ path, json: json as object, wrap: true, eval: false }) as unknown[];
  } catch (error) {
    throw new InvalidJsonPathError(`${path} is not a JSONPath tandem can evaluate (${(error as Error).message}); use a plain path such as $.value or $.metrics[0].precision`);
  }
  if (matches.length === 0) return { problem: `${path} matches nothing in the answer` };
  if (matches.length > 1) return { problem: `${path} matches ${matches.length} values, not one` };
  const value = matches[0];
  if (typeof value !== 'number' || !Number.isFinite(value)) return { problem: `${path} is ${describe(value)}, not a number` };
  return { value };
}

export class InvalidJsonPathError extends Error {
  override name = 'InvalidJsonPathError';
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return typeof value === 'object' ? 'an object' : String(value);
}

/** Turns schema issues into one line per problem that names the field. Pure. */
import type { z } from 'zod';

export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map(closestUnionOption)
    .flat()
    .map((issue) => {
      const field = issue.path.length ? issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '') : '(top level)';
      // A record key that fails its own rule (an environment or model name): say why, not just "Invalid key in record".
      const inner = issue.code === 'invalid_key' ? issue.issues.map((i) => i.message).join('; ') : '';
      return `${field}: ${inner ? `invalid name: ${inner}` : issue.message}`;
    })
    .join('; ');
}

/**
 * A value that fits none of a union's options (a rollout step) is reported by the option it came
 * closest to: the one whose problems are deepest (`shadow.duration` missing, rather than "not a
 * setWeight step"), with the union's path in front. Other issues are returned as they are.
 */
function closestUnionOption(issue: z.core.$ZodIssue): z.core.$ZodIssue[] {
  if (issue.code !== 'invalid_union' || !issue.errors?.length) return [issue];
  const depth = (option: readonly z.core.$ZodIssue[]) => Math.min(...option.map((i) => i.path.length));
  const closest = [...issue.errors].sort((a, b) => depth(b) - depth(a))[0]!;
  if (closest.length === 0 || depth(closest) === 0) return [issue];
  return closest.map((inner) => ({ ...inner, path: [...issue.path, ...inner.path] }) as z.core.$ZodIssue).flatMap(closestUnionOption);
}

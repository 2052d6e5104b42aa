/** Turns schema issues into one line per problem that names the field. Pure. */
import type { z } from 'zod';

export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((issue) => {
      const field = issue.path.length ? issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '') : '(top level)';
      return `${field}: ${issue.message}`;
    })
    .join('; ');
}

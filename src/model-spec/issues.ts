/** Turns schema issues into one line per problem that names the field. Pure. */
import type { z } from 'zod';

export function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((issue) => {
      const field = issue.path.length ? issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '') : '(top level)';
      // A record key that fails its own rule (an environment or model name): say why, not just "Invalid key in record".
      const inner = issue.code === 'invalid_key' ? issue.issues.map((i) => i.message).join('; ') : '';
      return `${field}: ${inner ? `invalid name: ${inner}` : issue.message}`;
    })
    .join('; ');
}

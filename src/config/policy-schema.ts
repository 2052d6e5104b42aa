/**
 * The `policy:` of an environment (and its per-model overrides) in tandem.config.yaml: how many
 * distinct people approve, who may approve, four-eyes, and who may start, abort, pause, resume,
 * promote and roll back. Evaluated by src/policy/evaluate.ts inside the release workflow.
 */
import { z } from 'zod';
import { MAX_WHO_LENGTH } from '../workflows/messages';

const nameSchema = z.string().trim().min(1, 'a user or group name cannot be empty').max(MAX_WHO_LENGTH, `a name is at most ${MAX_WHO_LENGTH} characters`);

export const allowlistSchema = z
  .object({
    users: z.array(nameSchema).optional().describe('User names as serve authenticates them (a token\'s name, a signed-in subject).'),
    groups: z.array(nameSchema).optional().describe('Groups from the token or the OpenID provider\'s groups claim.'),
  })
  .strict()
  .refine((list) => list.users !== undefined || list.groups !== undefined, {
    message: 'give users and/or groups; leave the key out to let anyone ([] under users or groups lets nobody)',
  });

const allowlist = (what: string) => allowlistSchema.optional().describe(`Who may ${what}; default: anyone.`);

export const policySchema = z
  .object({
    approvals: z
      .number()
      .int('approvals is a whole number')
      .min(1, 'approvals is at least 1')
      .max(20, 'approvals is at most 20')
      .optional()
      .describe('Distinct approvers an approval step needs before it passes. Default 1.'),
    approvers: allowlist('approve releases (and promote past an approval step)'),
    fourEyes: z
      .boolean()
      .optional()
      .describe('Whoever started a release may not approve it. Default: on in environments with production: true, off elsewhere.'),
    start: allowlist('start releases'),
    abort: allowlist('abort releases'),
    pause: allowlist('pause releases'),
    resume: allowlist('resume releases'),
    promote: allowlist('promote releases (skip the remaining steps)'),
    rollback: allowlist('roll a model back to a running version'),
    overrideWindow: allowlistSchema
      .optional()
      .describe('Who may let a release move traffic outside the deploy windows (`tandem release override-window`); default: the approvers.'),
  })
  .strict()
  .superRefine((policy, ctx) => {
    const users = policy.approvers?.users;
    if (policy.approvals && users && !policy.approvers?.groups?.length && users.length < policy.approvals) {
      ctx.addIssue({
        code: 'custom',
        path: ['approvals'],
        message: `needs ${policy.approvals} distinct approvers but approvers lists ${users.length} user${users.length === 1 ? '' : 's'} and no group: no release could pass; list more approvers or lower approvals`,
      });
    }
  });

export type PolicyConfig = z.output<typeof policySchema>;

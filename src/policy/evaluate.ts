/**
 * The approval policy: who may start, approve, abort, pause, resume, promote and roll back a
 * release, and how many distinct people must approve. Pure and deterministic: the release
 * workflow imports it and decides inside its handlers, so no client can bypass it. Each verdict
 * names the rule that decided and who the rule allows, so a refusal explains itself.
 */

export const policyActions = ['start', 'approve', 'abort', 'pause', 'resume', 'promote', 'rollback', 'override-window'] as const;
export type PolicyAction = (typeof policyActions)[number];

/** Users and groups a rule lets act; a rule that is absent lets anyone act. Names match case-insensitively. */
export interface Allowlist {
  users?: string[];
  groups?: string[];
}

export interface Policy {
  /** distinct approvers an approval gate needs before it passes */
  approvals: number;
  /** whoever started the release may neither approve it nor promote it past an approval gate */
  fourEyes: boolean;
  approvers?: Allowlist;
  start?: Allowlist;
  abort?: Allowlist;
  pause?: Allowlist;
  resume?: Allowlist;
  promote?: Allowlist;
  rollback?: Allowlist;
  /** who may let a release move traffic outside the deploy windows; absent: the approvers */
  overrideWindow?: Allowlist;
}

/** What a release runs under when the configuration says nothing: one approval by anyone. */
export const DEFAULT_POLICY: Policy = { approvals: 1, fourEyes: false };

/** Who acts: a name and the groups it belongs to (groups only count when the identity was verified). */
export interface Actor {
  who: string;
  groups: readonly string[];
}

export interface ReleaseContext {
  /** who started the release (four-eyes) */
  startedBy?: string;
  /** distinct approvers of the approval gate now waiting, in order */
  approvedBy?: readonly string[];
  /** an approval gate lies ahead (a promote would skip it) */
  approvalAhead?: boolean;
}

export type Verdict =
  | { allowed: true; rule: string }
  | {
      allowed: false;
      /** the rule that refused: `approvers`, `four-eyes`, `distinct approvers`, `approvals`, or the action's own list */
      rule: string;
      /** one line for the requester: `approve refused: four-eyes — alice started this release; approvers: group ml-leads` */
      message: string;
    };

/** Decides whether `actor` may take `action`; never throws. */
export function evaluate(policy: Policy, action: PolicyAction, actor: Actor, context: ReleaseContext = {}): Verdict {
  const refuse = (rule: string, why: string, listName: string, list: string): Verdict => ({
    allowed: false,
    rule,
    message: `${action} refused: ${rule} — ${why}; ${listName}: ${list}`,
  });
  const gated = action === 'approve' || (action === 'promote' && context.approvalAhead === true);
  const [own, ownName] = ownRule(policy, action);
  if (own && !allows(own, actor)) return refuse(ownName, `${describeActor(actor)} is not listed`, ownName, describeAllowlist(own));
  if (gated) {
    // Promote skips the approval gates ahead: whoever promotes past one must be able to approve it.
    if (action === 'promote' && policy.approvers && !allows(policy.approvers, actor)) {
      return refuse('approvers', `promote skips an approval gate and ${describeActor(actor)} is not an approver`, 'approvers', describeAllowlist(policy.approvers));
    }
    if (policy.fourEyes && context.startedBy && sameName(context.startedBy, actor.who)) {
      return refuse('four-eyes', `${actor.who} started this release`, 'approvers', approversBut(policy, context.startedBy));
    }
    const before = context.approvedBy ?? [];
    if (action === 'approve' && before.some((name) => sameName(name, actor.who))) {
      return refuse('distinct approvers', `${actor.who} already approved (${before.length} of ${policy.approvals})`, 'approvers', approversBut(policy, ...before, ...(policy.fourEyes && context.startedBy ? [context.startedBy] : [])));
    }
    if (action === 'promote' && policy.approvals > 1) {
      const counted = before.filter((name) => !sameName(name, actor.who)).length + 1;
      if (counted < policy.approvals) {
        return refuse(
          'approvals',
          `promote skips an approval gate that needs ${policy.approvals} distinct approvers (${counted - 1} so far); approve instead`,
          'approvers',
          describeAllowlist(policy.approvers),
        );
      }
    }
  }
  return { allowed: true, rule: allowedRule(policy, action, gated) };
}

/** One line that says what the policy asks, for a release's status. */
export function describePolicy(policy: Policy): string {
  const parts = [`${policy.approvals} distinct approver${policy.approvals === 1 ? '' : 's'} (${describeAllowlist(policy.approvers)})`];
  if (policy.fourEyes) parts.push('four-eyes');
  for (const action of ['start', 'abort', 'pause', 'resume', 'promote', 'rollback'] as const) {
    const list = policy[action];
    if (list) parts.push(`${action}: ${describeAllowlist(list)}`);
  }
  if (policy.overrideWindow) parts.push(`override-window: ${describeAllowlist(policy.overrideWindow)}`);
  return parts.join('; ');
}

/** `users alice, bob, group ml-leads`; `anyone` for an absent rule; `nobody` for an empty one. */
export function describeAllowlist(list: Allowlist | undefined): string {
  if (!list) return 'anyone';
  const parts: string[] = [];
  const users = list.users ?? [];
  const groups = list.groups ?? [];
  if (users.length) parts.push(`${users.length === 1 ? 'user' : 'users'} ${users.join(', ')}`);
  if (groups.length) parts.push(`${groups.length === 1 ? 'group' : 'groups'} ${groups.join(', ')}`);
  return parts.length ? parts.join(', ') : 'nobody';
}

/** Names compare case-insensitively, so `Alice` cannot approve what `alice` started. */
export function sameName(a: string, b: string): boolean {
  return a.trim().toLowerCase() === b.trim().toLowerCase();
}

function allows(list: Allowlist, actor: Actor): boolean {
  if (list.users?.some((user) => sameName(user, actor.who))) return true;
  return list.groups?.some((group) => actor.groups.some((g) => sameName(g, group))) ?? false;
}

function describeActor(actor: Actor): string {
  return `${actor.who} (groups: ${actor.groups.length ? actor.groups.join(', ') : 'none'})`;
}

function approversBut(policy: Policy, ...excluded: string[]): string {
  const names = [...new Set(excluded.map((n) => n.trim()))];
  return `${describeAllowlist(policy.approvers)}${names.length ? `, except ${names.join(', ')}` : ''}`;
}

/** The list an action is checked against and the rule's name: overriding a deploy window falls back to the approvers. */
function ownRule(policy: Policy, action: PolicyAction): [Allowlist | undefined, string] {
  if (action === 'approve') return [policy.approvers, 'approvers'];
  if (action === 'override-window') return policy.overrideWindow ? [policy.overrideWindow, 'overrideWindow'] : [policy.approvers, 'approvers'];
  return [policy[action], `may ${action}`];
}

function allowedRule(policy: Policy, action: PolicyAction, gated: boolean): string {
  const [list, name] = ownRule(policy, action);
  const base = `${name}: ${describeAllowlist(list)}`;
  return gated && policy.fourEyes ? `${base}; four-eyes` : base;
}

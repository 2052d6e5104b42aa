/** How the CLI prints releases, versions and history for people; --json prints the objects instead. */
import type { ModelState } from '../activities/types';
import type { HistoryEntry as ReleaseHistoryEntry } from '../client';
import type { ReleaseStatus } from '../workflows/messages';
import { describeChannel } from '../policy/identity';
import { describeVerification, type PromotedFrom } from '../rollout/promotion';

export function weights(w: Record<string, number>): string {
  const parts = Object.entries(w).map(([v, p]) => `${v} ${p}%`);
  return parts.length ? parts.join(', ') : 'no routes';
}

export function statusText(s: ReleaseStatus): string {
  const lines = [
    `${s.model} ${s.version} → ${s.environment}: ${s.outcome ?? s.stage}${s.waitingFor ? ` (waiting for ${s.waitingFor})` : ''}${s.paused ? ' (paused)' : ''}`,
    // A release that failed before reading the model's traffic never knew it, and changed nothing.
    `  traffic: ${s.outcome === 'failed' && !Object.keys(s.weights).length ? 'unchanged by this release' : weights(s.weights)}${s.previousStable ? `   previous stable: ${s.previousStable}` : ''}`,
  ];
  if (s.blocked) lines.push(`  ${s.blocked}`);
  // What an auditor reads: who started it and how that is known, the policy, who approved under which rule.
  if (s.requestedVia) lines.push(`  started by ${s.requestedBy} ${describeChannel(s.requestedVia)}`);
  if (s.policy) lines.push(`  policy: ${s.policy.summary} (from ${s.policy.source})`);
  if (s.approvals) lines.push(`  approvals: ${s.approvals.by.length} of ${s.approvals.required}${s.approvals.by.length ? ` (${s.approvals.by.join(', ')})` : ''}`);
  if (s.deployWindow) lines.push(`  deploy window: closed, opens ${s.deployWindow.opensAt} (${s.deployWindow.windows})`);
  if (s.commit) lines.push(`  commit: ${s.commit.slice(0, 12)}${s.image ? `   image: ${s.image}@${s.digest?.slice(0, 19)}…` : ''}`);
  if (s.promotedFrom) lines.push(...promotedFromLines(s.promotedFrom));
  if (s.promotion) lines.push(`  next on the path: ${s.promotion.to} (${s.promotion.workflowId})`);
  if (s.reason) lines.push(`  reason: ${s.reason}`);
  for (const c of s.checks) lines.push(`  check ${c.ok ? 'ok  ' : 'FAIL'} ${c.check}: ${c.observed}`);
  for (const step of s.steps) lines.push(`  step ${step.index + 1}. [${step.status}] ${step.description}${step.detail ? ` — ${step.detail}` : ''}`);
  if (s.background) lines.push(`  background analysis: ${s.background.state}, ${s.background.rounds} window${s.background.rounds === 1 ? '' : 's'}${s.background.last ? ` — last ${s.background.last}` : ''}`);
  lines.push(...shadowLines(s));
  for (const a of s.actions) {
    const how = `${a.via ? ` ${describeChannel(a.via)}` : ''}${a.groups?.length ? ` groups ${a.groups.join(', ')}` : ''}${a.accepted && a.rule ? ` [${a.rule}]` : ''}`;
    lines.push(`  ${a.at} ${a.action} by ${a.who}${how}${a.text ? `: ${a.text}` : ''}${a.accepted ? '' : ` (ignored: ${a.note})`}`);
  }
  for (const f of s.rollbackFailures?.slice(-5) ?? []) lines.push(`  ${f.at} rollback attempt failed (${f.part}): ${f.error}`);
  return lines.join('\n');
}

/** The latest shadow window: agreement, counts, and the disagreements kept (input and both answers). */
function shadowLines(s: ReleaseStatus): string[] {
  const shadow = s.shadow;
  if (!shadow) return [];
  const { agree, disagree, notCompared } = shadow.pairs;
  const rate = shadow.agreement === undefined ? 'n/a' : `${(shadow.agreement * 100).toFixed(1)}%`;
  const lines = [`  shadow: ${shadow.version} agreed with ${shadow.stable} on ${rate} of ${agree + disagree} compared requests (${disagree} disagree, ${notCompared} not comparable)`];
  const json = (value: unknown) => (value === undefined ? '-' : JSON.stringify(value));
  for (const sample of shadow.samples) {
    lines.push(`    ${sample.at} ${sample.request.method} ${sample.request.path} ${json(sample.request.body)}`);
    lines.push(`      stable ${sample.stable.status} ${json(sample.stable.body)}  candidate ${sample.candidate.status} ${json(sample.candidate.body)}`);
    lines.push(`      ${sample.differences.join('; ')}`);
  }
  return lines;
}

/** The history lines not printed yet, for --wait and watch. */
export function newHistoryLines(s: ReleaseStatus, printed: number): string[] {
  return s.history.slice(printed).map((e) => `${e.at.slice(11, 19)}  ${e.message}`);
}

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

export function versionsTable(state: ModelState): string {
  if (!state.running.length) return 'no running versions';
  const rows = [['VERSION', 'TRAFFIC', 'ROLE', 'READY', 'COMMIT', 'IMAGE DIGEST', 'DEPLOYED', 'BY RELEASE']];
  const candidates = Object.keys(state.traffic.weights).filter((v) => v !== state.traffic.stable);
  for (const v of state.running) {
    const role = v.version === state.traffic.stable ? 'stable' : candidates.includes(v.version) ? 'canary' : state.traffic.pinned.includes(v.version) ? 'warm (pinned)' : 'warm';
    rows.push([
      v.version,
      `${state.traffic.weights[v.version] ?? 0}%`,
      role,
      `${v.readyReplicas}/${v.replicas}`,
      v.commit.slice(0, 12),
      v.digest.slice(0, 19),
      v.deployedAt.replace('T', ' ').slice(0, 19),
      shortRelease(v.releaseId),
    ]);
  }
  return table(rows);
}

export function historyTable(entries: ReleaseHistoryEntry[]): string {
  if (!entries.length) return 'no releases';
  return table([
    ['STARTED', 'KIND', 'VERSION', 'STAGE', 'WORKFLOW', 'WORKFLOW ID'],
    ...entries.map((e) => [e.startTime.replace('T', ' ').slice(0, 19), e.kind, e.version, e.stage, e.status, e.workflowId]),
  ]);
}

/**
 * The release that deployed a version, as `<version>@<start time>` from its workflow id
 * (`release/<env>/<model>/<version>/<start time>/<run id>`): distinct for every release.
 */
function shortRelease(releaseId: string): string {
  const match = /^release\/[^/]+\/[^/]+\/(.+)\/(\d{4}-\d\d-\d\dT[\d:.]+Z)\/[^/]+$/.exec(releaseId);
  return match ? `${match[1]}@${match[2]!.replace('T', ' ').slice(0, 19)}` : releaseId;
}

/** Where a promoted version's image came from and what it passed there: the auditor's trail back to the commit. */
function promotedFromLines(p: PromotedFrom): string[] {
  const lines = [`  promoted from ${p.environment}: release ${p.releaseId}, commit ${p.commit.slice(0, 12)}, ${p.image}@${p.digest}`, `  verified in ${p.environment}: ${describeVerification(p.verification)}`];
  if (p.override) lines.push(`  path condition overridden by ${p.override.by}: ${p.override.unmet}; reason: ${p.override.reason}`);
  return lines;
}

/** How the CLI prints each version's progress along a model's path (`tandem versions --all-envs`). */
import type { PathProgress } from '../client/promotion';

export function progressTable(p: PathProgress): string {
  if (!p.versions.length) return `${p.model}: no releases along ${p.path.join(' → ')}`;
  const rows = p.versions.map((v) => [v.version, ...v.environments.map((e) => (e.detail && e.state !== 'promoted' ? `${e.state}: ${e.detail}` : e.state)), v.blockedBy ? `${v.blockedBy.environment}: ${v.blockedBy.condition}` : '-']);
  const header = ['VERSION', ...p.path.map((e) => e.toUpperCase()), 'BLOCKED BY'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [`${p.model}: ${p.path.join(' → ')}`, line(header), ...rows.map(line)].join('\n');
}

/** Links from a notification to its release: the Temporal Web UI, and tandem's console when configured. */
import type { ReleaseLinks } from './message';

export interface LinkBases {
  /** the Temporal Web UI, e.g. http://127.0.0.1:8233 */
  webUi: string;
  /** tandem's console, when it has a public address */
  console?: string | undefined;
}

/**
 * The release's workflow in the Web UI (`<ui>/namespaces/<ns>/workflows/<id>/<run>/history`, ids
 * escaped: release ids hold `/`), and in the console (`<console>/releases/<model>/<environment>`).
 */
export function releaseLinks(bases: LinkBases, release: { namespace: string; workflowId: string; runId: string; model: string; environment: string }): ReleaseLinks {
  const ui = bases.webUi.replace(/\/+$/, '');
  const webUi = `${ui}/namespaces/${encodeURIComponent(release.namespace)}/workflows/${encodeURIComponent(release.workflowId)}/${encodeURIComponent(release.runId)}/history`;
  if (!bases.console) return { webUi };
  const consoleBase = bases.console.replace(/\/+$/, '');
  return { webUi, console: `${consoleBase}/releases/${encodeURIComponent(release.model)}/${encodeURIComponent(release.environment)}` };
}

/**
 * `.dockerignore` rules as the Docker CLI applies them when it sends a build context, matched by
 * `@balena/dockerignore` (a port of Docker's own matcher). Pure.
 */
import ignore from '@balena/dockerignore';

/** Files the build always needs, whatever `.dockerignore` says: the Docker CLI sends them too. */
const ALWAYS_SENT = new Set(['Dockerfile', '.dockerignore']);

/**
 * A predicate that says whether a context path (relative, `/`-separated, no leading `./`) is
 * excluded by the given `.dockerignore` text. A pattern that matches a folder excludes everything
 * in it; `!` re-includes; the last matching pattern decides.
 */
export function dockerignoreFilter(text: string): (path: string) => boolean {
  const rules = ignore().add(text.split(/\r?\n/));
  return (path: string) => !ALWAYS_SENT.has(path.replace(/^(\.\/)+/, '')) && rules.ignores(path);
}

/**
 * Which configured model a delivery is about: its repository's URLs (clone, web, SSH) are matched
 * against each model's `repo` after both are reduced to `host/path` — scheme, user, `.git`, a
 * trailing `/` and the host's case do not matter, so `git@github.com:acme/fd.git`,
 * `https://GitHub.com/acme/fd` and `ssh://git@github.com/acme/fd.git` are one repository. The
 * path keeps its case (local paths and some hosts are case-sensitive). Pure.
 */

const SCP_LIKE = /^(?:[^@/]+@)?([^:/]+):(?!\/)(.+)$/;

/** `host[:port]/path` of a Git URL, or the path of a local repository (`file://` or plain). */
export function repositoryKey(url: string): string {
  const text = url.trim();
  let key: string;
  if (/^file:\/\//i.test(text)) key = decodeURIComponent(text.replace(/^file:\/\//i, ''));
  else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    try {
      const parsed = new URL(text);
      key = `${parsed.host.toLowerCase()}${decodeURIComponent(parsed.pathname)}`;
    } catch {
      key = text;
    }
  } else {
    const scp = SCP_LIKE.exec(text);
    key = scp ? `${scp[1]!.toLowerCase()}/${scp[2]!}` : text;
  }
  return key.replace(/\/+$/, '').replace(/\.git$/i, '').replace(/\/+$/, '');
}

/** Names of the models whose `repo` is one of `urls`. */
export function modelsOfRepository(models: Record<string, { repo: string }>, urls: readonly string[]): string[] {
  const keys = new Set(urls.filter(Boolean).map(repositoryKey));
  return Object.entries(models)
    .filter(([, model]) => keys.has(repositoryKey(model.repo)))
    .map(([name]) => name);
}

/** Checks a release request before anything starts, so bad input changes nothing. */
import type { ReleaseInput } from '../workflows/messages';
import { BadInputError } from './errors';
import { MODEL_NAME_RULE, isModelName } from '../naming/model';

// Git's own rules for a ref name component, enough to catch typos before a fetch.
const TAG = /^(?!.*\.\.)(?!.*@\{)(?!\.)(?!.*\/\.)(?!.*\.lock$)[^\s~^:?*[\\\x00-\x1f\x7f]+(?<![./])$/;

/** Throws BadInputError naming the field and the fix. */
export function validateReleaseInput(input: ReleaseInput): void {
  if (!isModelName(input.model)) {
    throw new BadInputError(`model "${input.model}" is not a valid name: use ${MODEL_NAME_RULE}`);
  }
  if (!TAG.test(input.tag)) {
    throw new BadInputError(
      `tag "${input.tag}" is not a valid Git tag name (Git refuses spaces, control characters, "..", "@{", any of ~ ^ : ? * [ \\, ` +
        'a leading "." and a trailing ".", "/" or ".lock"); pass the tag exactly as `git tag --list` shows it',
    );
  }
  if (!input.environment) throw new BadInputError('environment is required: pass --env or set a default for the model in tandem.config.yaml');
  if (!input.repoUrl) throw new BadInputError(`no repository for ${input.model}: pass --repo URL or add models.${input.model}.repo to tandem.config.yaml`);
  validateRepoUrl(input.repoUrl);
}

/**
 * Refuses repository URLs that would run commands (`ext::`) or carry credentials: a release's
 * input is kept in workflow history and shown in the Web UI, so a token in the URL would be too.
 */
export function validateRepoUrl(url: string): void {
  if (/^[a-z][a-z0-9+.-]*::/i.test(url)) {
    throw new BadInputError(`repository "${url.split('::')[0]}::…": Git remote helpers such as ext:: are not accepted; use an https://, ssh:// or file URL, or a local path`);
  }
  if (url.length > 2000) throw new BadInputError('repository URL is longer than 2000 characters');
  let parsed: URL | undefined;
  try {
    parsed = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? new URL(url) : undefined;
  } catch {
    throw new BadInputError(`repository "${url}" is not a valid URL`);
  }
  if (!parsed) return; // a path, or scp-like user@host:repo (no password possible there)
  const secret = parsed.password || (/^https?:$/.test(parsed.protocol) && parsed.username);
  if (secret) {
    throw new BadInputError(
      `repository URL carries credentials (${parsed.protocol}//***@${parsed.host}…): they would be kept in workflow history and shown in the Web UI. ` +
        'Pass the URL without them and give the worker Git credentials instead (a credential helper, ~/.git-credentials or GIT_ASKPASS on the worker)',
    );
  }
}

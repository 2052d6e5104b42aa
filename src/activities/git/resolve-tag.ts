/** The resolveTag activity: tag -> commit -> validated tandem.yaml. */
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../errors';
import { MAX_SPEC_BYTES } from '../../model-spec/limits';
import { parseSpec, SpecError } from '../../model-spec/parse';
import type { ResolvedVersion, ResolveTagInput } from '../types';
import { fetchMirror, listTags, readFileAt, tagCommit } from './repository';

/**
 * Resolves `tag` in the model repository to its commit and reads and validates `tandem.yaml` there.
 * Read-only, so running it twice is harmless. Throws non-retryable failures for an unreadable
 * repository, a missing tag (naming the tags that exist), and a missing or invalid spec (naming
 * the field); network errors are retried.
 */
export function createGitActivities(deps: { cacheDir: string }) {
  return {
    async resolveTag({ repoUrl, tag, model }: ResolveTagInput): Promise<ResolvedVersion> {
      const { git } = await fetchMirror(repoUrl, deps.cacheDir);
      const commit = await tagCommit(git, tag);
      if (!commit) {
        const tags = await listTags(git);
        const known = tags.length ? `tags there, newest first: ${tags.slice(0, 8).join(', ')}${tags.length > 8 ? ', …' : ''}` : 'the repository has no tags';
        throw ApplicationFailure.nonRetryable(`tag "${tag}" not found in ${repoUrl} (${known}); push the tag or fix the name`, FailureType.TagNotFound);
      }
      const text = await readFileAt(git, commit, 'tandem.yaml');
      if (text === undefined) {
        throw ApplicationFailure.nonRetryable(
          `tandem.yaml not found at ${tag} (${commit.slice(0, 12)}): every released commit needs a spec at the repository root`,
          FailureType.InvalidSpec,
        );
      }
      const bytes = new TextEncoder().encode(text).length;
      if (bytes > MAX_SPEC_BYTES) {
        // Checked before parsing: the spec travels in workflow history, where large payloads stall a release.
        throw ApplicationFailure.nonRetryable(
          `tandem.yaml at ${tag} is ${Math.ceil(bytes / 1024)} KiB, more than the ${MAX_SPEC_BYTES / 1024} KiB a spec may have; keep large smoke inputs out of the spec`,
          FailureType.InvalidSpec,
        );
      }
      let spec;
      try {
        spec = parseSpec(text, `tandem.yaml at ${tag}`);
      } catch (err) {
        if (err instanceof SpecError) throw ApplicationFailure.nonRetryable(err.message, FailureType.InvalidSpec);
        throw err;
      }
      if (spec.model && spec.model !== model) {
        throw ApplicationFailure.nonRetryable(
          `tandem.yaml at ${tag}: model: is "${spec.model}" but the release is for "${model}"; fix the spec or release the right model`,
          FailureType.InvalidSpec,
        );
      }
      return { tag, commit, spec };
    },
  };
}

/** Checks a release request before anything starts, so bad input changes nothing. */
import type { ReleaseInput } from '../workflows/messages';
import { BadInputError } from './errors';

const MODEL = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;
// Git's own rules for a ref name component, enough to catch typos before a fetch.
const TAG = /^(?!.*\.\.)(?!.*@\{)(?!\.)(?!.*\/\.)(?!.*\.lock$)[^\s~^:?*[\\\x00-\x1f\x7f]+(?<![./])$/;

/** Throws BadInputError naming the field and the fix. */
export function validateReleaseInput(input: ReleaseInput): void {
  if (!MODEL.test(input.model)) {
    throw new BadInputError(`model "${input.model}" is not a valid name: use lowercase letters, digits and "-", at most 40 characters`);
  }
  if (!TAG.test(input.tag)) throw new BadInputError(`tag "${input.tag}" is not a valid Git tag name`);
  if (!input.environment) throw new BadInputError('environment is required: pass --env or set a default for the model in tandem.config.yaml');
  if (!input.repoUrl) throw new BadInputError(`no repository for ${input.model}: pass --repo URL or add models.${input.model}.repo to tandem.config.yaml`);
}

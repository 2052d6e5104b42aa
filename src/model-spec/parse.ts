/** Parses and validates tandem.yaml text. */
import YAML from 'yaml';
import { specSchema, type Spec } from './schema';
import { describeIssues } from './issues';

export class SpecError extends Error {
  override name = 'SpecError';
}

/**
 * Parses tandem.yaml and validates it against the spec schema.
 * Throws SpecError whose message names each bad field and what is wrong with it.
 */
export function parseSpec(text: string, source = 'tandem.yaml'): Spec {
  const doc = YAML.parseDocument(text, { prettyErrors: true });
  if (doc.errors.length) {
    throw new SpecError(`${source} is not valid YAML: ${doc.errors.map((e) => e.message.split('\n')[0]).join('; ')}`);
  }
  let value: unknown;
  try {
    value = doc.toJS();
  } catch (err) {
    // toJS() throws on alias expansion bombs ("Excessive alias count ..."): bad input, not a reason to retry.
    throw new SpecError(`${source} is not valid YAML: ${(err as Error).message}`);
  }
  const result = specSchema.safeParse(value ?? {});
  if (!result.success) throw new SpecError(`${source} is invalid: ${describeIssues(result.error.issues)}`);
  return result.data;
}

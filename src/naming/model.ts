/**
 * What a model name may be, defined once for tandem.yaml, tandem.config.yaml, the CLI and the
 * gateway's paths: lowercase letters, digits and `-`, at most 40 characters, so it fits in a
 * Kubernetes object name with a version suffix, a Docker name and a URL path unescaped. Pure.
 */
export const MODEL_NAME = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;

/** MODEL_NAME in words, for the error that refuses a name. */
export const MODEL_NAME_RULE = 'lowercase letters, digits and "-", at most 40 characters';

export function isModelName(name: string): boolean {
  return MODEL_NAME.test(name);
}

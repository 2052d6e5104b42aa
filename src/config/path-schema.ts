/**
 * `models.<name>.path` in tandem.config.yaml: the environments a model's versions move through, in
 * order, and the conditions for entering each one after the first (README, "Environments in
 * sequence"). The same image digest moves along the path; it is never rebuilt.
 */
import { z } from 'zod';
import { DURATION_PATTERN, durationMs } from '../shared/duration';

/** Longest soak a step may ask for: a promotion waits on a durable timer, but weeks mean a forgotten setting. */
export const MAX_SOAK = '30d';
const ENV_NAME = /^[a-z0-9-]+$/;

const soakSchema = z
  .string({ error: 'soak is a duration such as 30m, 2h or 1d' })
  .regex(DURATION_PATTERN, 'soak is a duration such as 30m, 2h or 1d (units ms, s, m, h, d)')
  .refine((text) => !DURATION_PATTERN.test(text) || durationMs(text) <= durationMs(MAX_SOAK), `soak is at most ${MAX_SOAK}`);

export const pathStepSchema = z
  .object({
    environment: z.string().regex(ENV_NAME, 'environment names are lowercase letters, digits and "-"').describe('The environment this step enters.'),
    soak: soakSchema
      .default('0s')
      .describe('How long the version must have been stable in the previous environment, with no rollback there, before it may enter this one (default 0s).'),
    requireAnalysis: z
      .boolean()
      .default(false)
      .describe('Enter only versions whose release in the previous environment ran analysis and passed every measurement (not skipped by promote).'),
    auto: z
      .boolean()
      .default(false)
      .describe('Start the release here as soon as the conditions hold (it still waits for this environment\'s approval policy); false: mark the version eligible and let an operator start it.'),
  })
  .strict();

/** The first entry is where versions start (a name, no conditions); later entries may carry conditions. */
export const pathSchema = z
  .array(z.union([z.string().regex(ENV_NAME, 'environment names are lowercase letters, digits and "-"'), pathStepSchema]), {
    error: 'path is a list of environments such as [staging, prod], or entries { environment, soak, requireAnalysis, auto }',
  })
  .min(2, 'path lists at least two environments (where versions start, then where they are promoted to)')
  .superRefine((entries, ctx) => {
    const seen = new Set<string>();
    entries.forEach((entry, i) => {
      const name = typeof entry === 'string' ? entry : entry.environment;
      if (seen.has(name)) ctx.addIssue({ code: 'custom', path: [i], message: `lists "${name}" twice; a version enters each environment once` });
      seen.add(name);
      if (i === 0 && typeof entry !== 'string' && (entry.soak !== '0s' || entry.requireAnalysis || entry.auto)) {
        ctx.addIssue({ code: 'custom', path: [0], message: 'the first environment is where versions start: it takes no soak, requireAnalysis or auto (put them on the environment they lead to)' });
      }
    });
  });

export type PathInput = z.output<typeof pathSchema>;

/** One step of a path as the workflows use it: where it leads and what must hold first. */
export interface PathStep {
  environment: string;
  soakMs: number;
  requireAnalysis: boolean;
  auto: boolean;
}

/** The path with every entry as a step (the first has no conditions). */
export function pathSteps(path: PathInput): PathStep[] {
  return path.map((entry) =>
    typeof entry === 'string'
      ? { environment: entry, soakMs: 0, requireAnalysis: false, auto: false }
      : { environment: entry.environment, soakMs: durationMs(entry.soak), requireAnalysis: entry.requireAnalysis, auto: entry.auto },
  );
}

/** The step after `environment` on the path, its predecessor's name, or undefined at the end / off the path. */
export function nextStep(path: PathInput | undefined, environment: string): (PathStep & { from: string }) | undefined {
  if (!path) return undefined;
  const steps = pathSteps(path);
  const at = steps.findIndex((s) => s.environment === environment);
  if (at < 0 || at === steps.length - 1) return undefined;
  return { ...steps[at + 1]!, from: environment };
}

/** The step that enters `environment` (with the environment before it), or undefined for the first or one off the path. */
export function stepInto(path: PathInput | undefined, environment: string): (PathStep & { from: string }) | undefined {
  if (!path) return undefined;
  const steps = pathSteps(path);
  const at = steps.findIndex((s) => s.environment === environment);
  return at > 0 ? { ...steps[at]!, from: steps[at - 1]!.environment } : undefined;
}

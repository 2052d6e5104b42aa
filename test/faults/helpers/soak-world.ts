/**
 * The soak's world, shared by its worker processes: one JSON file per model (running versions,
 * traffic, and what the doubles saw), read and written under a file lock on every activity call,
 * so a release that moves from one worker to the other sees the same running versions and
 * traffic. What a release is meant to do is written in its tag (`v7.0.0-smoke`), so every
 * process knows the plan without asking.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningVersion, TrafficState, Weights } from '../../../src/activities/types';

/**
 * What a release is planned to be:
 * - direct / canary / blue-green: good, promoted without help;
 * - approve: a canary with an approval gate that the soak approves → promoted;
 * - abort: a canary that pauses until resumed; the soak aborts it during the pause → rolled back;
 * - smoke: its smoke check fails → rolled back;
 * - build: its build fails with a non-retryable error → failed.
 */
export const kinds = ['direct', 'canary', 'blue-green', 'approve', 'abort', 'smoke', 'build'] as const;
export type Kind = (typeof kinds)[number];

export const expected: Record<Kind, { outcome: 'promoted' | 'rolled-back' | 'failed'; failureType?: string }> = {
  direct: { outcome: 'promoted' },
  canary: { outcome: 'promoted' },
  'blue-green': { outcome: 'promoted' },
  approve: { outcome: 'promoted' },
  abort: { outcome: 'rolled-back', failureType: 'Aborted' },
  smoke: { outcome: 'rolled-back', failureType: 'VerificationFailed' },
  build: { outcome: 'failed', failureType: 'BuildFailed' },
};

export function tagOf(n: number, kind: Kind): string {
  return `v${n}.0.0-${kind}`;
}

export function kindOf(tag: string): Kind {
  const kind = tag.slice(tag.indexOf('-') + 1) as Kind;
  if (!kinds.includes(kind)) throw new Error(`soak: no plan in tag ${tag}`);
  return kind;
}

const smoke = ['smoke:', '  - name: predicts', '    request: { path: /predict, body: {} }', '    expect: { status: 200 }'];
const canary = (steps: string[]) => ['port: 8080', ...smoke, 'rollout:', '  strategy: canary', '  steps:', ...steps.map((s) => `    - ${s}`), ''].join('\n');

/** tandem.yaml of a planned release. */
export function specOf(kind: Kind): string {
  switch (kind) {
    case 'direct':
    case 'build':
      return ['port: 8080', ...smoke, ''].join('\n');
    case 'canary':
    case 'smoke':
      return canary(['setWeight: 20', 'pause: { duration: 300ms }', 'analysis: { interval: 100ms, count: 2 }', 'setWeight: 50']);
    case 'blue-green':
      return ['port: 8080', ...smoke, 'rollout:', '  strategy: blue-green', '  previewDuration: 200ms', ''].join('\n');
    case 'approve':
      return canary(['setWeight: 30', 'approval: { timeout: 30m }']);
    case 'abort':
      return canary(['setWeight: 25', 'pause: {}']);
  }
}

/** One model's world and the doubles' record of it. */
export interface ModelWorld {
  running: RunningVersion[];
  traffic: TrafficState;
  /** every setTraffic that was applied, in order */
  trafficLog: { at: string; pid: number; weights: Weights; stable?: string }[];
  /** completed deployVersion / buildImage calls per release id */
  deploys: Record<string, number>;
  builds: Record<string, number>;
  /** completions per activity execution (`<workflow id> <activity id>`); more than 1 = a completed activity ran again */
  completions: Record<string, number>;
  /** completed calls on a retry (attempt > 1): an earlier attempt was lost, e.g. with a killed worker */
  retried: { activity: string; workflowId: string; attempt: number; pid: number }[];
  calls: number;
}

export function emptyWorld(): ModelWorld {
  return { running: [], traffic: { weights: {}, pinned: [] }, trafficLog: [], deploys: {}, builds: {}, completions: {}, retried: [], calls: 0 };
}

export const worldFile = (dir: string, model: string) => join(dir, `${model}.json`);
export const lockFile = (dir: string, model: string) => join(dir, `${model}.lock`);

export function readWorld(dir: string, model: string): ModelWorld {
  const file = worldFile(dir, model);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as ModelWorld) : emptyWorld();
}

/** Written whole and renamed into place: a reader never sees half a file, even after a SIGKILL. */
export function writeWorld(dir: string, model: string, world: ModelWorld): void {
  const file = worldFile(dir, model);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(world));
  renameSync(tmp, file);
}

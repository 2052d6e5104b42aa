/**
 * Image build on the real Docker engine and registry: a cold build of the example's v1.0.0 (every
 * step run again, without the engine's layer cache; the base image is local), a build for a model
 * the registry has never seen with the layer cache warm (push included), and a second release of
 * the same commit, which finds the image in the registry and skips the build. Prints JSON lines.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { createImageActivities } from '../src/activities/image';
import type { BuiltImage } from '../src/activities/types';
import { createExampleRepo } from '../scripts/example-repo';
import { simpleGit } from 'simple-git';
import { emit } from './stats';

const ROUNDS = Number(process.env.BENCH_BUILD_ROUNDS ?? 3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'tandem-bench-build-'));
  const { path: repo } = await createExampleRepo(join(dir, 'repo'));
  const commit = (await simpleGit(repo).revparse(['v1.0.0^{commit}'])).trim();
  const docker = new Docker();
  const { buildImage } = createImageActivities({
    docker,
    registry: { url: '127.0.0.1:5000', insecure: true },
    buildArgs: { BASE_IMAGE: 'tandem/node-base:20' },
    workDir: join(dir, 'git'),
  });
  const cold = createImageActivities({
    docker,
    registry: { url: '127.0.0.1:5000', insecure: true },
    buildArgs: { BASE_IMAGE: 'tandem/node-base:20' },
    workDir: join(dir, 'git'),
    noCache: true,
  }).buildImage;
  const run = async (model: string, activity = buildImage) => {
    const t0 = performance.now();
    const built = (await new MockActivityEnvironment(undefined, { logger: new DefaultLogger('WARN') }).run(activity, { model, environment: 'bench', repoUrl: repo, version: 'v1.0.0', commit, releaseId: 'bench' })) as BuiltImage;
    return { ms: performance.now() - t0, built };
  };
  const coldMs: number[] = [];
  const fresh: number[] = [];
  const skipped: number[] = [];
  const images: string[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const coldModel = `bench-cold-${Date.now().toString(36)}-${i}`;
    const first = await run(coldModel, cold);
    if (!first.built.built) throw new Error('expected a cold build');
    coldMs.push(first.ms);
    images.push(first.built.image);
  }
  for (let i = 0; i < ROUNDS; i++) {
    const model = `bench-build-${Date.now().toString(36)}-${i}`;
    const first = await run(model);
    if (!first.built.built) throw new Error('expected a fresh build');
    fresh.push(first.ms);
    const second = await run(model);
    if (second.built.built) throw new Error('expected the build to be skipped');
    skipped.push(second.ms);
    images.push(first.built.image);
  }
  const f = median(fresh);
  const s = median(skipped);
  emit({ name: 'build_cold_example_median', value: Math.round(median(coldMs)), unit: 'ms', rounds: ROUNDS, note: 'no layer cache (every Dockerfile step run), base image local, push included' });
  emit({ name: 'build_and_push_example_median', value: Math.round(f), unit: 'ms', rounds: ROUNDS, note: 'layer cache warm, new registry repository' });
  emit({ name: 'build_skipped_same_commit_median', value: Math.round(s), unit: 'ms', baseline: Math.round(f), ratio: Math.round((s / f) * 1000) / 1000, rounds: ROUNDS });
  const base = await docker.getImage('tandem/node-base:20').inspect();
  emit({ name: 'base_image_size', value: Math.round(base.Size / 1e6), unit: 'MB' });
  for (const image of images) await docker.getImage(image).remove({ force: true }).catch(() => undefined);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);

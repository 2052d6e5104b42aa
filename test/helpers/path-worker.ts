/**
 * A worker process for a model's path (staging and prod doubles, one registry) whose worlds
 * survive the process: their state is written to a file after every completed activity. Used to
 * kill a worker for real (SIGKILL) while a promotion soaks.
 *   tsx test/helpers/path-worker.ts <taskQueue> <stateDir> <config.json: { specs, path }>
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { persistingActivities } from './persisting-activities';
import { startWorker } from './temporal';
import { twoEnvironments } from './two-environments';

async function main() {
  const [taskQueue, stateDir, configFile] = process.argv.slice(2) as [string, string, string];
  const stateFile = join(stateDir, 'worlds.json');
  const { specs, path } = JSON.parse(readFileSync(configFile, 'utf8'));
  const saved = existsSync(stateFile) ? JSON.parse(readFileSync(stateFile, 'utf8')) : undefined;
  const envs = twoEnvironments({ specs, path, ...(saved ? { staging: saved.staging, prod: saved.prod } : {}) });
  for (const digest of saved?.registry ?? []) envs.registry.add(digest);
  const save = () => writeFileSync(stateFile, JSON.stringify({ staging: envs.worlds.staging.snapshot(), prod: envs.worlds.prod.snapshot(), registry: [...envs.registry] }));
  const activities = persistingActivities(envs.activities, save);
  await startWorker(taskQueue, activities);
  process.stdout.write('ready\n');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

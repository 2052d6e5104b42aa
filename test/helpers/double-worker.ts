/**
 * A worker process with activity doubles whose world survives the process: its state is written
 * to a file after every completed activity, and each completion is appended to a log. Used to
 * kill a worker for real (SIGKILL) in the middle of a release.
 *   tsx test/helpers/double-worker.ts <taskQueue> <stateDir> <specFile>
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createWorld } from '../doubles/world';
import { persistingActivities } from './persisting-activities';
import { startWorker } from './temporal';

async function main() {
  const [taskQueue, stateDir, specFile] = process.argv.slice(2) as [string, string, string];
  const stateFile = join(stateDir, 'world.json');
  const logFile = join(stateDir, 'completed.log');
  const saved = existsSync(stateFile) ? JSON.parse(readFileSync(stateFile, 'utf8')) : {};
  const world = createWorld({ specs: { 'v2.0.0': readFileSync(specFile, 'utf8') }, running: saved.running, traffic: saved.traffic });
  const activities = persistingActivities(world.activities, (name, input) => {
    writeFileSync(stateFile, JSON.stringify(world.snapshot()));
    appendFileSync(logFile, `${process.pid} ${name} ${JSON.stringify(input)}\n`);
  });
  await startWorker(taskQueue, activities);
  process.stdout.write('ready\n');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

/**
 * Part of `npm run build`: bundles the compiled workflows (dist/workflows) once, with the same
 * bundler the worker would run at every start, into dist/workflow-bundle.js. The compiled worker
 * loads that file (`workflowBundle`) when it is there, so it starts without bundling.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

const DIST = join(__dirname, '..', 'dist');

async function main(): Promise<void> {
  const started = Date.now();
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve(join(DIST, 'workflows')) });
  const out = join(DIST, 'workflow-bundle.js');
  await writeFile(out, code);
  process.stdout.write(`build-workflow-bundle: ${out} (${Math.round(code.length / 1024)} KiB) in ${Date.now() - started} ms\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`build-workflow-bundle: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});

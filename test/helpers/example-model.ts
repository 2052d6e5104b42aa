/**
 * The example model's files as each tag has them, and its own scoring function, without building
 * the Git repository or starting a server: what a test needs to know what a version answers.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { EXAMPLE_VERSIONS } from '../../scripts/example-repo';
import type { Transaction } from './transactions';

const EXAMPLES = join(__dirname, '..', '..', 'examples');

/**
 * The text of `file` (relative to the model's folder) at `tag`: from the newest overlay up to that
 * tag that has it, else from the base folder, as scripts/example-repo.ts builds the commits.
 * Throws for a tag the example does not have.
 */
export function exampleFile(tag: string, file: string): string {
  const upTo = EXAMPLE_VERSIONS.findIndex((v) => v.tag === tag);
  if (upTo < 0) throw new Error(`the example has no tag ${tag} (tags: ${EXAMPLE_VERSIONS.map((v) => v.tag).join(', ')})`);
  for (const version of EXAMPLE_VERSIONS.slice(1, upTo + 1).reverse()) {
    try {
      return readFileSync(join(EXAMPLES, 'fraud-detector-versions', version.tag, file), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return readFileSync(join(EXAMPLES, 'fraud-detector', file), 'utf8');
}

export interface Prediction {
  score: number;
  label: string;
}

/**
 * The `predict` function of `tag`'s server.js, over `tag`'s model/weights.json. server.js listens
 * as soon as it is loaded, so it runs in a sandbox whose `node:http` server never listens and whose
 * `node:fs` reads the tag's weights: the formula is the model's own, not a copy of it.
 */
export function examplePredict(tag: string): (features: Transaction) => Prediction {
  const weights = exampleFile(tag, join('model', 'weights.json'));
  const idleServer = { listen: () => idleServer, close: () => idleServer };
  const modules: Record<string, unknown> = {
    'node:http': { createServer: () => idleServer },
    'node:fs': { readFileSync: () => weights },
    'node:path': { join },
  };
  const sandbox: Record<string, unknown> = {
    require: (name: string) => {
      if (!(name in modules)) throw new Error(`server.js requires ${name}, which the sandbox does not provide`);
      return modules[name];
    },
    __dirname: '/app',
    process: { env: { VERSION: tag }, on: () => undefined },
    console,
  };
  runInNewContext(exampleFile(tag, 'server.js'), sandbox, { filename: `${tag}/server.js` });
  const predict = sandbox.predict as ((features: Transaction) => Prediction) | undefined;
  if (typeof predict !== 'function') throw new Error(`${tag}'s server.js declares no top-level function predict`);
  return predict;
}

#!/usr/bin/env node
// Runs the compiled dist/ when `npm run build` made it after the last change under src/ (the image,
// a built checkout); otherwise, or with TANDEM_DEV=1, the TypeScript sources through tsx (development).
const { readdirSync, statSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const compiled = join(root, 'dist', 'cli', 'main.js');

/** Latest modification time of src/ and everything under it (an added, edited or removed file); 0 without src/. */
function newestSource(dir) {
  let newest;
  try {
    newest = statSync(dir).mtimeMs;
  } catch {
    return 0;
  }
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function builtTime() {
  try {
    return statSync(compiled).mtimeMs;
  } catch {
    return undefined;
  }
}

function hasTsx() {
  try {
    require.resolve('tsx/cjs');
    return true;
  } catch {
    return false;
  }
}

const built = builtTime();
const fromSources =
  built === undefined || ((process.env.TANDEM_DEV === '1' || newestSource(join(root, 'src')) > built) && hasTsx());
if (fromSources) require('tsx/cjs');
require(fromSources ? '../src/cli/main.ts' : compiled)
  .main(process.argv.slice(2))
  .then((code) => process.exit(code));

#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx, so `npm link` and `npx tandem` need no build step.
require('tsx/cjs');
require('../src/cli/main.ts')
  .main(process.argv.slice(2))
  .then((code) => process.exit(code));

/**
 * Stored histories of full releases replay against today's workflow code, so a change that would
 * break releases already running is caught before it lands (record new ones with
 * test/helpers/record-history.ts).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { workflowBundle } from '../helpers/temporal';

const dir = join(__dirname, '..', 'histories');
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

describe('replay of stored release histories', () => {
  it('has stored histories', () => assert.ok(files.length >= 2));
  for (const file of files) {
    it(`${file} replays without non-determinism`, async () => {
      const history = temporal.api.history.v1.History.fromObject(JSON.parse(readFileSync(join(dir, file), 'utf8')));
      await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, file);
    });
  }
});

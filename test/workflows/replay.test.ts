/**
 * Stored histories of every shipped version of the workflows (test/histories/<version>/) replay
 * against today's code, so a change that would break releases already running is caught before
 * it lands; record the histories of a new version with test/helpers/record-history.ts. A negative
 * control replays one against a deliberately incompatible release workflow: the check can fail.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker, bundleWorkflowCode } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { temporal } from '@temporalio/proto';
import { workflowBundle } from '../helpers/temporal';

const dir = join(__dirname, '..', 'histories');
const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.json')).sort();
const load = (file: string) => temporal.api.history.v1.History.fromObject(JSON.parse(readFileSync(join(dir, file), 'utf8')));

describe('replay of stored release histories', () => {
  it('has stored histories of more than one shipped version', () => {
    assert.ok(files.length >= 4);
    assert.ok(new Set(files.map((f) => f.split('/')[0])).size >= 2);
  });
  for (const file of files) {
    it(`${file} replays without non-determinism`, async () => {
      await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, load(file), file);
    });
  }
  it('negative control: a release workflow that changed its commands fails the replay', async () => {
    const incompatible = await bundleWorkflowCode({ workflowsPath: require.resolve('./incompatible-release'), logger: silent });
    await assert.rejects(Worker.runReplayHistory({ workflowBundle: incompatible }, load('0.1.0/canary-approved.json'), 'negative-control'), DeterminismViolationError);
  });
});

const noop = () => undefined;
const silent = { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: noop };

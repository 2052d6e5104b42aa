/**
 * Every tandem process finds Temporal the Temporal way (@temporalio/envconfig): a profile in a
 * TOML file (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE), overridden by TEMPORAL_ADDRESS and friends.
 * The CLI runs as its own process, with no TEMPORAL_* variable but the file.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ADDRESS, NAMESPACE, ROOT, ensureTemporal } from '../helpers/temporal';

const dir = mkdtempSync(join(tmpdir(), 'tandem-profile-'));
const profiles = join(dir, 'temporal.toml');

function tandem(env: Record<string, string>, ...args: string[]): Promise<{ code: number; out: string }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TEMPORAL_')));
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, 'bin/tandem.js'), ...args], { encoding: 'utf8', env: { ...clean, ...env }, timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, out: stdout + stderr }),
    );
  });
}

describe('Temporal connection settings from a profile', () => {
  before(() => {
    ensureTemporal();
    writeFileSync(
      profiles,
      [`[profile.default]`, `address = "${ADDRESS}"`, `namespace = "${NAMESPACE}"`, '', '[profile.broken]', 'address = "127.0.0.1:1"', `namespace = "${NAMESPACE}"`, ''].join('\n'),
    );
  });

  it('the default profile of TEMPORAL_CONFIG_FILE is used', async () => {
    const r = await tandem({ TEMPORAL_CONFIG_FILE: profiles }, 'history', 'no-such-model', '--env', 'nowhere', '--json');
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(JSON.parse(r.out), []);
  });

  it('TEMPORAL_PROFILE picks another profile, and the error names its address', async () => {
    const r = await tandem({ TEMPORAL_CONFIG_FILE: profiles, TEMPORAL_PROFILE: 'broken' }, 'history', 'no-such-model', '--env', 'nowhere');
    assert.equal(r.code, 1);
    assert.match(r.out, /cannot reach Temporal at 127\.0\.0\.1:1/);
  });

  it('TEMPORAL_ADDRESS overrides the profile', async () => {
    const r = await tandem({ TEMPORAL_CONFIG_FILE: profiles, TEMPORAL_PROFILE: 'broken', TEMPORAL_ADDRESS: ADDRESS }, 'history', 'no-such-model', '--env', 'nowhere', '--json');
    assert.equal(r.code, 0, r.out);
  });
});

/**
 * Deploy windows: inside or outside, when the next one opens (day boundaries in the window's time
 * zone, DST days), their configuration (errors name the key and the fix), and who may override one.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load';
import { describeWindows, insideWindow, nextOpening, type DeployWindow } from '../../src/policy/deploy-windows';
import { describePolicy, evaluate } from '../../src/policy/evaluate';
import { policyFor } from '../../src/policy/resolve';

const berlin: DeployWindow = { days: ['mon', 'tue', 'wed', 'thu'], from: '09:00', to: '16:00', timezone: 'Europe/Berlin' };
const at = (iso: string) => Date.parse(iso);
const next = (windows: DeployWindow[], iso: string) => {
  const opens = nextOpening(windows, at(iso));
  return opens === undefined ? undefined : new Date(opens).toISOString();
};

describe('deploy window computation', () => {
  it('inside: from is inclusive, to exclusive, in the window\'s time zone (Berlin is UTC+1 in winter)', () => {
    assert.equal(insideWindow(berlin, at('2026-11-30T08:00:00Z')), true, 'Monday 09:00 Berlin');
    assert.equal(insideWindow(berlin, at('2026-11-30T14:59:59Z')), true, 'Monday 15:59 Berlin');
    assert.equal(insideWindow(berlin, at('2026-11-30T07:59:59Z')), false, 'Monday 08:59 Berlin');
    assert.equal(insideWindow(berlin, at('2026-11-30T15:00:00Z')), false, 'Monday 16:00 Berlin');
    assert.equal(insideWindow(berlin, at('2026-12-04T10:00:00Z')), false, 'Friday');
    assert.equal(next([berlin], '2026-11-30T10:00:00Z'), '2026-11-30T10:00:00.000Z', 'inside: now');
  });

  it('next opening: later today, tomorrow, after the weekend', () => {
    assert.equal(next([berlin], '2026-11-30T06:00:00Z'), '2026-11-30T08:00:00.000Z');
    assert.equal(next([berlin], '2026-11-30T15:00:00Z'), '2026-12-01T08:00:00.000Z');
    assert.equal(next([berlin], '2026-12-03T15:30:00Z'), '2026-12-07T08:00:00.000Z', 'Thursday after closing: Monday');
    assert.equal(next([berlin], '2026-12-31T20:00:00Z'), '2027-01-04T08:00:00.000Z', 'across the year');
  });

  it('day boundaries are local: Sunday 23:30 UTC is Monday 00:30 in Berlin', () => {
    assert.equal(insideWindow({ ...berlin, from: '00:00', to: '01:00' }, at('2026-11-29T23:30:00Z')), true);
    assert.equal(insideWindow({ ...berlin, days: ['sun'], from: '00:00', to: '24:00' }, at('2026-11-29T23:30:00Z')), false);
    assert.equal(next([berlin], '2026-11-29T23:30:00Z'), '2026-11-30T08:00:00.000Z');
  });

  it('DST days: the opening follows the wall clock (Berlin 09:00 is 07:00 UTC after spring forward, 08:00 UTC after fall back)', () => {
    const weekend: DeployWindow = { ...berlin, days: ['sat', 'sun'] };
    assert.equal(next([weekend], '2026-03-28T15:00:00Z'), '2026-03-29T07:00:00.000Z', 'spring forward, Sunday 29 March 2026');
    assert.equal(next([weekend], '2026-10-24T15:00:00Z'), '2026-10-25T08:00:00.000Z', 'fall back, Sunday 25 October 2026');
    assert.equal(insideWindow(weekend, at('2026-03-29T07:00:00Z')), true);
    assert.equal(insideWindow(weekend, at('2026-03-29T06:59:00Z')), false);
  });

  it('several windows in several zones: the earliest opening; none: undefined', () => {
    const newYork: DeployWindow = { days: ['fri'], from: '18:00', to: '24:00', timezone: 'America/New_York' };
    assert.equal(next([berlin, newYork], '2026-12-03T15:30:00Z'), '2026-12-04T23:00:00.000Z', 'Friday 18:00 New York before Monday Berlin');
    assert.equal(insideWindow(newYork, at('2026-12-05T04:59:00Z')), true, 'Friday 23:59 New York');
    assert.equal(nextOpening([], at('2026-12-03T15:30:00Z')), undefined);
    assert.equal(describeWindows([berlin, newYork]), 'mon,tue,wed,thu 09:00-16:00 Europe/Berlin; fri 18:00-24:00 America/New_York');
  });
});

const config = (windows: string, policy = '') =>
  ['environments:', '  prod:', '    target: { kind: docker }', '    registry: { url: 127.0.0.1:5000 }', windows, policy, 'models:', '  m: { repo: /srv/m, environment: prod }', ''].join('\n');

describe('deploy windows configuration', () => {
  it('the environment\'s windows reach the release with its policy; none configured: no key', () => {
    const c = parseConfig(config('    deployWindows: [{ days: [mon, tue, wed, thu], from: "09:00", to: "16:00", timezone: Europe/Berlin }]'));
    assert.deepEqual(policyFor(c, 'm', 'prod')?.deployWindows, [berlin]);
    assert.equal('deployWindows' in policyFor(parseConfig(config('')), 'm', 'prod')!, false);
  });

  it('bad windows are refused naming the key and the fix', () => {
    const w = (fields: string) => `    deployWindows: [{ ${fields} }]`;
    const ok = 'days: [mon], from: "09:00", to: "16:00", timezone: UTC';
    const cases: [string, RegExp][] = [
      [w(ok.replace('UTC', 'Mars/Olympus')), /environments\.prod\.deployWindows\[0\]\.timezone.*"Mars\/Olympus" is not a known IANA time zone; use a name such as Europe\/Berlin/],
      [w(ok.replace('"09:00"', '"9:00"')), /deployWindows\[0\]\.from.*"HH:MM"/],
      [w(ok.replace('"16:00"', '"08:00"')), /deployWindows\[0\]\.to.*later than from.*two windows/],
      [w(ok.replace('"16:00"', '"24:30"')), /deployWindows\[0\]\.to.*at most 24:00/],
      [w(ok.replace('[mon]', '[]')), /deployWindows\[0\]\.days.*at least one day/],
      [w(ok.replace('[mon]', '[monday]')), /deployWindows\[0\]\.days\[0\].*mon, tue/],
      [w(`${ok}, form: "10:00"`), /deployWindows\[0\].*form/],
      ['    deployWindows: []', /environments\.prod\.deployWindows.*leave the key out/],
    ];
    for (const [windows, why] of cases) assert.throws(() => parseConfig(config(windows)), why, windows);
  });
});

describe('who may override a deploy window', () => {
  const actor = (who: string, ...groups: string[]) => ({ who, groups });

  it('default: the approvers (anyone when they are not listed)', () => {
    assert.deepEqual(evaluate({ approvals: 1, fourEyes: false }, 'override-window', actor('anyone')), { allowed: true, rule: 'approvers: anyone' });
    const policy = { approvals: 1, fourEyes: true, approvers: { groups: ['ml-leads'] } };
    assert.deepEqual(evaluate(policy, 'override-window', actor('carol', 'ml-leads')), { allowed: true, rule: 'approvers: group ml-leads' });
    const refused = evaluate(policy, 'override-window', actor('bob'));
    assert.equal(refused.allowed, false);
    assert.equal(!refused.allowed && refused.message, 'override-window refused: approvers — bob (groups: none) is not listed; approvers: group ml-leads');
  });

  it('overrideWindow, when given, decides instead of the approvers', () => {
    const policy = { approvals: 1, fourEyes: false, approvers: { groups: ['ml-leads'] }, overrideWindow: { groups: ['sre'] } };
    assert.deepEqual(evaluate(policy, 'override-window', actor('dan', 'sre')), { allowed: true, rule: 'overrideWindow: group sre' });
    const refused = evaluate(policy, 'override-window', actor('carol', 'ml-leads'));
    assert.equal(!refused.allowed && refused.message, 'override-window refused: overrideWindow — carol (groups: ml-leads) is not listed; overrideWindow: group sre');
    assert.match(describePolicy(policy), /override-window: group sre$/);
    assert.throws(() => parseConfig(config('', '    policy: { overrideWindow: {} }')), /environments\.prod\.policy\.overrideWindow.*give users and\/or groups/);
  });
});

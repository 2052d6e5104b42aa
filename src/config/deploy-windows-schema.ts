/**
 * `deployWindows:` of an environment in tandem.config.yaml: when releases may move traffic
 * (README, "Deploy windows"). Evaluated by src/policy/deploy-windows.ts inside the release workflow.
 */
import { z } from 'zod';
import { minutesOf, weekdays } from '../policy/deploy-windows';

const clock = (field: string, max: string) =>
  z
    .string({ error: `${field} is a local time "HH:MM", e.g. "09:00"` })
    .regex(/^([01]\d|2[0-4]):[0-5]\d$/, `${field} is a local time "HH:MM" (24-hour, two digits each), e.g. "09:00"`)
    .refine((t) => minutesOf(t) <= minutesOf(max), `${field} is at most ${max}`);

export const deployWindowSchema = z
  .object({
    days: z
      .array(z.enum(weekdays, { error: `days are ${weekdays.join(', ')}` }), { error: `days is a list such as [mon, tue, wed, thu]` })
      .min(1, 'days lists at least one day (mon, tue, wed, thu, fri, sat, sun)')
      .describe('Days of the week the window is open, in its time zone.'),
    from: clock('from', '23:59').describe('Local time the window opens, "HH:MM".'),
    to: clock('to', '24:00').describe('Local time the window closes, "HH:MM" ("24:00": end of the day).'),
    timezone: z
      .string({ error: 'timezone is an IANA time zone such as Europe/Berlin or UTC' })
      .refine((zone) => validTimeZone(zone), { error: (issue) => `timezone "${String(issue.input)}" is not a known IANA time zone; use a name such as Europe/Berlin, America/New_York or UTC` })
      .describe('IANA time zone of from and to, e.g. Europe/Berlin.'),
  })
  .strict()
  .refine((w) => minutesOf(w.from) < minutesOf(w.to), {
    path: ['to'],
    message: 'to must be later than from on the same day; for a window across midnight give two windows (e.g. 22:00-24:00 and 00:00-06:00 on the next day)',
  });

export const deployWindowsSchema = z
  .array(deployWindowSchema)
  .min(1, 'deployWindows lists at least one window; leave the key out to allow traffic changes at any time')
  .describe('When releases here may move traffic (README, "Deploy windows"); outside every window a release waits before its first traffic change. Default: any time.');

function validTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

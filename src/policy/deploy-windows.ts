/**
 * Deploy windows: the times of the week when a release may move traffic, each in its own time
 * zone. Pure and deterministic for a given Node (its ICU time-zone data): the release workflow
 * decides with workflow time whether it is inside a window and when the next one opens.
 */

export const weekdays = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof weekdays)[number];

export interface DeployWindow {
  days: Weekday[];
  /** local wall time `HH:MM` the window opens (inclusive) */
  from: string;
  /** local wall time `HH:MM` it closes (exclusive); `24:00` is the end of the day */
  to: string;
  /** IANA time zone, e.g. Europe/Berlin */
  timezone: string;
}

interface LocalTime {
  year: number;
  /** 1-12 */
  month: number;
  day: number;
  weekday: Weekday;
  /** minutes since local midnight */
  minutes: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The wall-clock date and time at `ms` in `timezone`. */
export function localTime(ms: number, timezone: string): LocalTime {
  let format = formatters.get(timezone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { timeZone: timezone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', weekday: 'short' });
    formatters.set(timezone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(new Date(ms)).map((p) => [p.type, p.value]));
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    weekday: parts.weekday!.toLowerCase().slice(0, 3) as Weekday,
    minutes: Number(parts.hour) * 60 + Number(parts.minute),
  };
}

/** Minutes since midnight of `HH:MM`. */
export function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return h! * 60 + m!;
}

/** Whether `ms` falls inside `window`. */
export function insideWindow(window: DeployWindow, ms: number): boolean {
  const local = localTime(ms, window.timezone);
  return window.days.includes(local.weekday) && local.minutes >= minutesOf(window.from) && local.minutes < minutesOf(window.to);
}

/**
 * When a release may next move traffic: `ms` itself when it is inside a window, else the earliest
 * opening after it (within a week and a day, so a DST shift cannot hide one); undefined with no windows.
 */
export function nextOpening(windows: readonly DeployWindow[], ms: number): number | undefined {
  let best: number | undefined;
  for (const window of windows) {
    if (insideWindow(window, ms)) return ms;
    const today = localTime(ms, window.timezone);
    for (let offset = 0; offset <= 8; offset++) {
      // Calendar arithmetic on the local date; Date.UTC normalises day overflow into the next month.
      const date = new Date(Date.UTC(today.year, today.month - 1, today.day + offset));
      if (!window.days.includes(weekdays[date.getUTCDay()]!)) continue;
      const opens = instantOf(date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate(), minutesOf(window.from), window.timezone);
      if (opens > ms) {
        if (best === undefined || opens < best) best = opens;
        break;
      }
    }
  }
  return best;
}

/** `mon-thu 09:00-16:00 Europe/Berlin`, for status and history. */
export function describeWindows(windows: readonly DeployWindow[]): string {
  return windows.map((w) => `${w.days.join(',')} ${w.from}-${w.to} ${w.timezone}`).join('; ');
}

/** The instant whose wall time in `timezone` is the given date and minutes (in a DST gap: shifted by the gap). */
function instantOf(year: number, month: number, day: number, minutes: number, timezone: string): number {
  const wall = Date.UTC(year, month - 1, day, 0, minutes);
  // Two passes: the zone's offset at the first guess, then at the corrected instant (DST changes).
  let guess = wall - offsetAt(wall, timezone);
  guess = wall - offsetAt(guess, timezone);
  return guess;
}

/** The zone's offset from UTC at `ms`, in milliseconds (local wall time minus UTC). */
function offsetAt(ms: number, timezone: string): number {
  const local = localTime(ms, timezone);
  const asUtc = Date.UTC(local.year, local.month - 1, local.day, 0, local.minutes);
  return asUtc - Math.floor(ms / 60_000) * 60_000;
}

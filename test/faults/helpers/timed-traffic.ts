/**
 * Client traffic through the tandem gateway that remembers when each request started and ended,
 * so failures can be counted separately for requests in flight during a fault window and for all
 * the others (scripts/stack.ts's sendTraffic counts only totals).
 */
import { paced, predict } from '../../../scripts/stack';

export interface RequestRecord {
  start: number;
  end: number;
  ok: boolean;
  /** x-served-by-version of the answer */
  version?: string;
  /** `HTTP 503 from v1.0.0` or the network error */
  error?: string;
}

export interface WindowTally {
  total: number;
  failed: number;
  /** up to 10 distinct failure descriptions */
  errors: string[];
}

export interface TrafficSplit {
  total: number;
  /** requests whose [start, end] overlaps a fault window */
  during: WindowTally;
  /** every other request */
  outside: WindowTally;
  byVersion: Record<string, number>;
}

export type Window = { from: number; to: number };

/** Sends prediction requests at `ratePerSecond` until stopped; each request times out after 10 s. */
export function timedTraffic(gatewayUrl: string, model: string, ratePerSecond = 20) {
  const records: RequestRecord[] = [];
  const one = async (): Promise<void> => {
    const start = Date.now();
    try {
      const res = await predict(gatewayUrl, model, {}, 10_000);
      const version = res.headers.get('x-served-by-version') ?? undefined;
      records.push({ start, end: Date.now(), ok: res.ok, version, error: res.ok ? undefined : `HTTP ${res.status} from ${version ?? 'no version'}` });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      records.push({ start, end: Date.now(), ok: false, error: cause ?? (err as Error).message });
    }
  };
  const pacer = paced(ratePerSecond, one);
  return {
    records,
    async stop(): Promise<RequestRecord[]> {
      await pacer.stop();
      return records;
    },
  };
}

/** Splits requests into those in flight during any of `windows` and the others. */
export function splitByWindows(records: RequestRecord[], windows: Window[]): TrafficSplit {
  const empty = (): WindowTally => ({ total: 0, failed: 0, errors: [] });
  const split: TrafficSplit = { total: records.length, during: empty(), outside: empty(), byVersion: {} };
  for (const r of records) {
    const during = windows.some((w) => r.start <= w.to && r.end >= w.from);
    const tally = during ? split.during : split.outside;
    tally.total++;
    if (r.version) split.byVersion[r.version] = (split.byVersion[r.version] ?? 0) + 1;
    if (!r.ok) {
      tally.failed++;
      if (r.error && tally.errors.length < 10 && !tally.errors.includes(r.error)) tally.errors.push(r.error);
    }
  }
  return split;
}

/** One line for the test log. */
export function describeSplit(split: TrafficSplit): string {
  const part = (t: WindowTally) => `${t.failed}/${t.total} failed${t.errors.length ? ` (${t.errors.join('; ')})` : ''}`;
  return `${split.total} requests; in flight during the fault window: ${part(split.during)}; outside it: ${part(split.outside)}; served by ${JSON.stringify(split.byVersion)}`;
}

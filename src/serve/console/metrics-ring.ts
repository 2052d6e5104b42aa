/**
 * Live per-version series for the console's charts: request rate, error rate and p95 latency,
 * each point the difference between two readings of the gateway's cumulative counters, kept in a
 * bounded ring per version so serve's memory does not grow with time. Pure.
 */
import { difference, measuresOf, type TrafficSnapshot } from '../../activities/analysis/gateway/snapshot';

/** One version's series, oldest first: epoch seconds, requests per second, 5xx share (0..1), p95 in ms. */
export interface VersionSeries {
  t: number[];
  rps: number[];
  errorRate: (number | null)[];
  p95Ms: (number | null)[];
}

/** One point: requests per second, 5xx share (null without requests), p95 in ms (null without requests). */
export interface Point {
  rps: number;
  errorRate: number | null;
  p95Ms: number | null;
}

/** A bounded series per key (model/environment/version), fed one cumulative reading at a time. */
export class MetricsRing {
  private readonly series = new Map<string, VersionSeries>();
  private readonly last = new Map<string, { at: number; snapshot: TrafficSnapshot }>();

  /** Keeps at most `capacity` points per key (e.g. 150 points of 2 s: five minutes). */
  constructor(private readonly capacity: number) {}

  /** Adds the point between the previous reading of `key` and this one (`at` in epoch ms); the first reading only sets the start. */
  add(key: string, at: number, snapshot: TrafficSnapshot): void {
    const previous = this.last.get(key);
    this.last.set(key, { at, snapshot });
    if (!previous || at <= previous.at) return;
    const measures = measuresOf(difference(previous.snapshot, snapshot));
    const seconds = (at - previous.at) / 1000;
    this.push(key, at, {
      rps: measures.requests / seconds,
      errorRate: measures.requests > 0 ? measures.errorRate : null,
      p95Ms: measures.p95LatencyMs === undefined ? null : measures.p95LatencyMs,
    });
  }

  /** Adds a point measured elsewhere (Prometheus) at `at` (epoch ms). */
  push(key: string, at: number, point: Point): void {
    let series = this.series.get(key);
    if (!series) this.series.set(key, (series = { t: [], rps: [], errorRate: [], p95Ms: [] }));
    series.t.push(Math.round(at / 1000));
    series.rps.push(round(point.rps));
    series.errorRate.push(point.errorRate === null ? null : round(point.errorRate));
    series.p95Ms.push(point.p95Ms === null ? null : round(point.p95Ms));
    if (series.t.length > this.capacity) for (const values of Object.values(series) as unknown[][]) values.shift();
  }

  /** The series of `key`, or undefined before two readings. */
  get(key: string): VersionSeries | undefined {
    return this.series.get(key);
  }

  /** Forgets keys that `keep` rejects (versions no longer running). */
  prune(keep: (key: string) => boolean): void {
    for (const key of new Set([...this.last.keys(), ...this.series.keys()])) {
      if (!keep(key)) {
        this.last.delete(key);
        this.series.delete(key);
      }
    }
  }
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

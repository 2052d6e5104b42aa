/**
 * Traffic arithmetic of a release: the weights for a canary step, the state to restore on
 * rollback, and which old versions retention retires. Pure.
 */
import type { RunningVersion, TrafficState, Weights } from '../activities/types';

/** Weights that give `weight`% to the candidate and the rest to stable (all to the candidate when there is no stable). */
export function canaryWeights(candidate: string, stable: string | undefined, weight: number): Weights {
  if (!stable || stable === candidate) return { [candidate]: 100 };
  if (weight >= 100) return { [candidate]: 100 };
  if (weight <= 0) return { [stable]: 100 };
  return { [candidate]: weight, [stable]: 100 - weight };
}

/** The version that holds the stable role: the recorded one, else the only one with all the traffic. */
export function stableOf(state: TrafficState): string | undefined {
  if (state.stable) return state.stable;
  const full = Object.entries(state.weights).find(([, w]) => w === 100);
  return full?.[0];
}

/** Pinned list with `version` added once, order kept. */
export function withPin(pinned: string[], version: string): string[] {
  return pinned.includes(version) ? pinned : [...pinned, version];
}

/**
 * Versions to retire after `promoted` becomes stable: every running version except the new stable
 * and the `keepPrevious` most recently deployed others (kept warm for instant rollback).
 */
export function versionsToRetire(running: RunningVersion[], promoted: string, keepPrevious: number): string[] {
  const others = running
    .filter((v) => v.version !== promoted)
    .sort((a, b) => (a.deployedAt < b.deployedAt ? 1 : a.deployedAt > b.deployedAt ? -1 : 0));
  return others.slice(keepPrevious).map((v) => v.version);
}

/** Traffic after promotion: all unpinned traffic to the new stable; it and the warm versions stay pinnable. */
export function promotedState(promoted: string, warm: string[]): TrafficState {
  return { weights: { [promoted]: 100 }, pinned: [promoted, ...warm.filter((v) => v !== promoted)], stable: promoted };
}

/**
 * Weights without the given versions, the rest scaled back up to 100 (largest remainder, so the
 * result is whole percents); empty when nothing is left. For when versions cannot serve.
 */
export function withoutVersions(weights: Weights, gone: string[]): Weights {
  const kept = Object.entries(weights).filter(([v, w]) => w > 0 && !gone.includes(v));
  const total = kept.reduce((sum, [, w]) => sum + w, 0);
  if (!total) return {};
  const exact = kept.map(([v, w]) => [v, (w * 100) / total] as const);
  const result: Weights = Object.fromEntries(exact.map(([v, x]) => [v, Math.floor(x)]));
  let left = 100 - Object.values(result).reduce((a, b) => a + b, 0);
  for (const [v] of [...exact].sort((a, b) => (b[1] % 1) - (a[1] % 1))) {
    if (left-- <= 0) break;
    result[v]! += 1;
  }
  return result;
}

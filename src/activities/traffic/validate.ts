/**
 * The check every router makes before it changes anything, shared so routers do not import each
 * other. The rules themselves are the shared schema's (src/shared/traffic-state.ts).
 */
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../errors';
import { formatTrafficIssues, parseTrafficState } from '../../shared/traffic-state';
import type { TrafficState } from '../types';

/** What a router can carry; Gateway API limits the rules and backends of one HTTPRoute. */
export interface TrafficLimits {
  maxPinned?: number;
  maxWeighted?: number;
  /** false: the router cannot copy requests to a mirror version (default true) */
  mirrors?: boolean;
}

/**
 * Checks a traffic state before anything is applied and returns it normalised (pinned
 * deduplicated). Throws a non-retryable InvalidTraffic ApplicationFailure naming each field
 * that is wrong and each limit exceeded.
 */
export function validateTrafficState(model: string, state: TrafficState, limits: TrafficLimits = {}): TrafficState {
  const parsed = parseTrafficState(state);
  const issues = [...parsed.issues];
  const weighted = parsed.state ? Object.keys(parsed.state.weights).length : 0;
  const pinned = parsed.state ? parsed.state.pinned.length : 0;
  if (limits.maxWeighted !== undefined && weighted > limits.maxWeighted) {
    issues.push({ field: 'weights', message: `at most ${limits.maxWeighted} weighted versions, got ${weighted}` });
  }
  if (limits.maxPinned !== undefined && pinned > limits.maxPinned) {
    issues.push({ field: 'pinned', message: `at most ${limits.maxPinned} pinned versions, got ${pinned}` });
  }
  if (limits.mirrors === false && parsed.state?.mirror) {
    issues.push({ field: 'mirror', message: 'this router cannot copy requests to a mirror version; use the gateway or gateway-api router' });
  }
  if (!parsed.state || issues.length) {
    throw ApplicationFailure.nonRetryable(`invalid traffic for ${model}: ${formatTrafficIssues(issues)}`, FailureType.InvalidTraffic);
  }
  return parsed.state;
}

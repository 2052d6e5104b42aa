/**
 * Health verification of one version, reached directly (not through the gateway): the spec's
 * health path, then each smoke test with its expected status and JSON values. Read-only, so
 * running it twice is harmless.
 */
import { durationMs } from '../../shared/duration';
import { SMOKE_REQUEST_TIMEOUT_MS as SMOKE_TIMEOUT_MS } from '../../model-spec/limits';
import { describeNetworkError, fetchText } from '../../shared/http';
import type { SmokeTest, Spec } from '../../model-spec/schema';
import type { CheckResult, VerifyResult } from '../types';

/** How much of an unexpected answer is quoted in `observed`. */
const BODY_QUOTE = 200;

/**
 * Runs the checks against `endpoint` (a base URL such as `http://127.0.0.1:49153`), in order:
 * `health` (GET spec.health.path answers 2xx within spec.health.timeout, tried again every
 * 250 ms until then), then `smoke: <name>`
 * for each smoke test (status equals expect.status; each dotted path of expect.json equals its
 * value, numbers within expect.tolerance). Returns every result; never throws for a failed
 * check: network errors become a failed check observing e.g. `connection refused`. When health
 * fails, the smoke tests are reported as failed without being sent.
 */
export async function verifyVersion(endpoint: string, spec: Spec): Promise<VerifyResult> {
  const base = endpoint.replace(/\/+$/, '');
  const checks: CheckResult[] = [];
  const health = await checkHealth(base, spec.health.path, durationMs(spec.health.timeout));
  checks.push(health);
  for (const smoke of spec.smoke) {
    if (!health.ok) {
      checks.push({ check: `smoke: ${smoke.name}`, ok: false, observed: 'not sent: the health check failed' });
    } else {
      checks.push(await checkSmoke(base, smoke));
    }
  }
  return { checks };
}

/** Pause between health attempts. */
const HEALTH_RETRY_MS = 250;

/**
 * GET the health path until it answers 2xx or `timeoutMs` has passed; the last answer is the
 * result. A Kubernetes Service address is answered by kube-proxy a moment after the version's pods
 * became ready (its rules follow the EndpointSlice), so a first try right after a deploy may be
 * refused, or leave the node for an address nothing inside answers.
 */
async function checkHealth(base: string, path: string, timeoutMs: number): Promise<CheckResult> {
  const check = 'health';
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let result: CheckResult;
    try {
      const { response, text: body } = await fetchText(base + path, Math.max(1, deadline - Date.now()));
      if (response.ok) return { check, ok: true, observed: `status ${response.status}` };
      result = { check, ok: false, observed: `status ${response.status}${quote(body)}` };
    } catch (error) {
      result = { check, ok: false, observed: describeNetworkError(error, timeoutMs) };
    }
    if (Date.now() + HEALTH_RETRY_MS >= deadline) return result;
    await new Promise((resolve) => setTimeout(resolve, HEALTH_RETRY_MS));
  }
}

async function checkSmoke(base: string, smoke: SmokeTest): Promise<CheckResult> {
  const check = `smoke: ${smoke.name}`;
  const { request, expect } = smoke;
  let response: Response;
  let text: string;
  try {
    ({ response, text } = await fetchText(base + request.path, SMOKE_TIMEOUT_MS, {
      method: request.method,
      headers: request.body === undefined ? undefined : { 'content-type': 'application/json' },
      body: request.body === undefined || request.method === 'GET' ? undefined : JSON.stringify(request.body),
    }));
  } catch (error) {
    return { check, ok: false, observed: describeNetworkError(error, SMOKE_TIMEOUT_MS) };
  }
  if (response.status !== expect.status) {
    return { check, ok: false, observed: `status ${response.status} (expected ${expect.status})${quote(text)}` };
  }
  const expected = Object.entries(expect.json ?? {});
  if (expected.length === 0) return { check, ok: true, observed: `status ${response.status}` };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { check, ok: false, observed: `status ${response.status}, answer is not JSON${quote(text)}` };
  }
  const parts: string[] = [];
  let ok = true;
  for (const [field, want] of expected) {
    const comparison = compareValue(field, valueAt(json, field), want, expect.tolerance);
    ok &&= comparison.ok;
    parts.push(comparison.text);
  }
  return { check, ok, observed: parts.join(', ') };
}

/**
 * Compares one JSON value: numbers within `tolerance`, everything else exactly. The text reads
 * `score=0.912 (expected 0.120 ± 0.001)` on a mismatch and `score=0.121` on a match.
 */
export function compareValue(field: string, actual: unknown, expected: unknown, tolerance: number): { ok: boolean; text: string } {
  if (actual === undefined) return { ok: false, text: `${field} missing (expected ${JSON.stringify(expected)})` };
  if (typeof expected === 'number') {
    const decimals = decimalsFor(expected, tolerance);
    const shown = typeof actual === 'number' ? actual.toFixed(decimals) : JSON.stringify(actual);
    const ok = typeof actual === 'number' && Math.abs(actual - expected) <= tolerance + Number.EPSILON * Math.max(1, Math.abs(expected));
    if (ok) return { ok, text: `${field}=${shown}` };
    const bound = tolerance > 0 ? ` ± ${tolerance.toFixed(decimals)}` : '';
    return { ok, text: `${field}=${shown} (expected ${expected.toFixed(decimals)}${bound})` };
  }
  const ok = actual === expected;
  const shown = typeof actual === 'string' ? actual : JSON.stringify(actual);
  const wanted = typeof expected === 'string' ? expected : JSON.stringify(expected);
  return ok ? { ok, text: `${field}=${shown}` } : { ok, text: `${field}=${shown} (expected ${wanted})` };
}

/** The value at a dotted path (`a.b.0.c`; digits index arrays), or undefined. */
export function valueAt(json: unknown, dotted: string): unknown {
  let current: unknown = json;
  for (const key of dotted.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = Array.isArray(current) && /^\d+$/.test(key) ? current[Number(key)] : (current as Record<string, unknown>)[key];
  }
  return current;
}

function decimalsFor(expected: number, tolerance: number): number {
  const digits = (n: number): number => {
    const text = String(n);
    if (text.includes('e-')) return Number(text.split('e-')[1]);
    return text.includes('.') ? text.split('.')[1]!.length : 0;
  };
  return Math.min(10, Math.max(3, digits(tolerance), Math.min(digits(expected), 6)));
}

function quote(body: string): string {
  const text = body.trim().replace(/\s+/g, ' ');
  if (!text) return '';
  return `: ${text.length > BODY_QUOTE ? `${text.slice(0, BODY_QUOTE)}…` : text}`;
}


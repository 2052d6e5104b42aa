/** The text of Prometheus queries and answers: templates filled in, durations and sample values written as Prometheus does. Pure. */
import { PROMETHEUS_PLACEHOLDER_PATTERN } from '../../../config/schema';

/**
 * A window in milliseconds as a Prometheus duration: whole seconds as `30s`, else `2500ms`; at
 * least 1 ms. Pure.
 */
export function promDuration(ms: number): string {
  const whole = Math.max(1, Math.round(ms));
  return whole % 1000 === 0 ? `${whole / 1000}s` : `${whole}ms`;
}

/**
 * Replaces `{{name}}` placeholders with values; values are escaped for a double-quoted PromQL
 * string (backslash and quote). An unknown placeholder is left as is (Prometheus then refuses the
 * query, naming it). Pure.
 */
export function renderQuery(template: string, vars: Record<string, string>): string {
  return template.replace(PROMETHEUS_PLACEHOLDER_PATTERN, (whole, name: string) => {
    const value = vars[name];
    return value === undefined ? whole : value.replace(/[\\"]/g, (c) => `\\${c}`);
  });
}

/** A sample value as Prometheus writes it ("0.25", "+Inf", "NaN"); NaN (e.g. 0/0) reads as nothing. Pure. */
export function sampleValue(text: string): number | undefined {
  const value = text === '+Inf' ? Infinity : text === '-Inf' ? -Infinity : Number(text);
  return Number.isNaN(value) ? undefined : value;
}

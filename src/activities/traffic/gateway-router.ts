/**
 * TrafficRouter for the tandem gateway (src/gateway): every call is one request to the gateway's
 * admin API. The gateway persists and swaps the table itself, so each call is idempotent and
 * in-flight requests are never dropped.
 */
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../errors';
import { fetchText } from '../health/http';
import type { TrafficRouter } from '../target';
import type { TrafficState } from '../types';

/** Failure type of a traffic state a router refuses (bad weights, unreachable version). */
export const INVALID_TRAFFIC = FailureType.InvalidTraffic;

/**
 * Talks to `tandem gateway` at `adminUrl` (e.g. http://127.0.0.1:7070). Throws a plain Error
 * (retryable) when the gateway cannot be reached or answers 5xx, and a non-retryable
 * `InvalidTraffic` ApplicationFailure carrying the gateway's message when it refuses a state (400).
 */
export class GatewayRouter implements TrafficRouter {
  private readonly base: string;

  constructor(
    adminUrl: string,
    private readonly timeoutMs = 10_000,
  ) {
    this.base = adminUrl.replace(/\/+$/, '');
  }

  /** PUT /_tandem/models/<model>/traffic. Idempotent: the same state twice is one routing. */
  async setState(model: string, state: TrafficState): Promise<void> {
    const body: TrafficState = { weights: state.weights, pinned: state.pinned };
    if (state.stable !== undefined) body.stable = state.stable;
    await this.call('PUT', model, body);
  }

  /** GET /_tandem/models/<model>/traffic; empty weights when the model has no routes. */
  async getState(model: string): Promise<TrafficState> {
    return (await this.call('GET', model)) as TrafficState;
  }

  /** DELETE /_tandem/models/<model>/traffic; a model without routes is not an error. */
  async remove(model: string): Promise<void> {
    await this.call('DELETE', model);
  }

  private async call(method: 'GET' | 'PUT' | 'DELETE', model: string, body?: unknown): Promise<unknown> {
    const url = `${this.base}/_tandem/models/${encodeURIComponent(model)}/traffic`;
    let response: Response;
    let text: string;
    try {
      ({ response, text } = await fetchText(url, this.timeoutMs, {
        method,
        headers: body === undefined ? undefined : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      }));
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      throw new Error(`tandem gateway at ${this.base} is unreachable (${cause}); is \`tandem gateway\` running?`);
    }
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    const message = (json as { error?: string } | undefined)?.error ?? text.slice(0, 300);
    if (response.status === 400) {
      throw ApplicationFailure.nonRetryable(`the gateway refused the traffic for ${model}: ${message}`, INVALID_TRAFFIC);
    }
    if (!response.ok) throw new Error(`tandem gateway ${method} ${url} answered ${response.status}: ${message}`);
    return json;
  }
}

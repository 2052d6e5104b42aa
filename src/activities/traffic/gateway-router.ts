/**
 * TrafficRouter for the tandem gateway (src/gateway): every call is one request to the gateway's
 * admin API, with its bearer token. The gateway persists and swaps the table itself, so each call
 * is idempotent and in-flight requests are never dropped.
 */
import { ApplicationFailure } from '@temporalio/common';
import { FailureType } from '../../errors';
import { fetchText } from '../../shared/http';
import { describeGatewayToken, type GatewayToken, readGatewayToken } from '../../shared/gateway-token';
import type { TrafficRouter } from '../target';
import { formatTrafficIssues, parseTrafficState } from '../../shared/traffic-state';
import type { TrafficState } from '../types';
import { ADMIN_PREFIX } from '../../naming/gateway';

/**
 * Talks to `tandem gateway`'s admin API at `adminUrl` (e.g. http://127.0.0.1:7071). Throws a plain
 * Error (retryable) when the gateway cannot be reached, refuses the token (401) or answers 5xx, and
 * a non-retryable `InvalidTraffic` ApplicationFailure carrying the gateway's message when it
 * refuses a state (400).
 */
export class GatewayRouter implements TrafficRouter {
  private readonly base: string;

  constructor(
    adminUrl: string,
    private readonly credentials: GatewayToken,
    private readonly timeoutMs = 10_000,
  ) {
    this.base = adminUrl.replace(/\/+$/, '');
  }

  /** PUT /_tandem/models/<model>/traffic. Idempotent: the same state twice is one routing. */
  async setState(model: string, state: TrafficState): Promise<void> {
    const body: TrafficState = { weights: state.weights, pinned: state.pinned };
    if (state.stable !== undefined) body.stable = state.stable;
    if (state.mirror !== undefined) body.mirror = state.mirror;
    await this.call('PUT', model, body);
  }

  /**
   * GET /_tandem/models/<model>/traffic; empty weights when the model has no routes. Throws a plain
   * Error when the answer is not a traffic state (a gateway of another tandem version, a proxy in between).
   */
  async getState(model: string): Promise<TrafficState> {
    const parsed = parseTrafficState(await this.call('GET', model));
    if (!parsed.state) throw new Error(`tandem gateway at ${this.base} answered a traffic state for ${model} that is not one: ${formatTrafficIssues(parsed.issues)}`);
    return parsed.state;
  }

  /** DELETE /_tandem/models/<model>/traffic; a model without routes is not an error. */
  async remove(model: string): Promise<void> {
    await this.call('DELETE', model);
  }

  private async call(method: 'GET' | 'PUT' | 'DELETE', model: string, body?: unknown): Promise<unknown> {
    const url = `${this.base}${ADMIN_PREFIX}models/${encodeURIComponent(model)}/traffic`;
    const headers: Record<string, string> = { authorization: `Bearer ${await readGatewayToken(this.credentials)}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    let text: string;
    try {
      ({ response, text } = await fetchText(url, this.timeoutMs, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }));
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
      throw ApplicationFailure.nonRetryable(`the gateway refused the traffic for ${model}: ${message}`, FailureType.InvalidTraffic);
    }
    if (response.status === 401) {
      throw new Error(`tandem gateway at ${this.base} refused ${describeGatewayToken(this.credentials)}: ${message}; give the worker the token the gateway uses (traffic.tokenEnv or traffic.tokenFile)`);
    }
    if (!response.ok) throw new Error(`tandem gateway ${method} ${url} answered ${response.status}: ${message}`);
    return json;
  }
}

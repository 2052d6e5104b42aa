/**
 * One authenticated read of tandem's gateway admin API, with the errors analysis reports: the
 * gateway unreachable, the token refused, a non-200 or non-JSON answer. Read-only.
 */
import { fetchText } from '../../../shared/http';
import { describeGatewayToken, type GatewayToken, readGatewayToken } from '../../../shared/gateway-token';

/**
 * GETs `url` with the admin token and returns the parsed JSON. Throws a plain (retryable) Error
 * starting with `cannot read <what> at <url>` (or naming the refused token), and the signal's
 * reason when aborted.
 */
export async function readGatewayJson(url: string, credentials: GatewayToken, what: string, timeoutMs: number, signal?: AbortSignal): Promise<unknown> {
  const headers = { authorization: `Bearer ${await readGatewayToken(credentials)}` };
  let status: number;
  let text: string;
  try {
    const read = await fetchText(url, timeoutMs, { headers }, signal);
    status = read.response.status;
    text = read.text;
  } catch (error) {
    signal?.throwIfAborted();
    throw new Error(`cannot read ${what} at ${url}: ${(error as Error).message}`);
  }
  if (status === 401) {
    throw new Error(`tandem gateway at ${url} refused ${describeGatewayToken(credentials)}; give the worker the token the gateway uses (traffic.tokenEnv or traffic.tokenFile)`);
  }
  if (status !== 200) throw new Error(`cannot read ${what} at ${url}: answered ${status}: ${text.slice(0, 200)}`);
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`cannot read ${what} at ${url}: not JSON: ${text.slice(0, 200)}`);
  }
}

/**
 * The connection pool to model servers. Idle connections are closed by the gateway after 4 s:
 * Node's HTTP servers (the example model's, and most model servers behind it) close a kept-alive
 * connection after 5 s idle, and a request written to a connection at the moment the server closes
 * it fails (ECONNRESET, answered 502). Closing first, from this side, leaves no such moment.
 */
import http from 'node:http';

/** Below the 5 s keep-alive timeout of Node's HTTP server, the shortest common one. */
export const IDLE_UPSTREAM_SOCKET_MS = 4_000;

export function upstreamAgent(maxSockets: number): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets, timeout: IDLE_UPSTREAM_SOCKET_MS });
}

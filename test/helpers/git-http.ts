/**
 * A model repository served over Git's smart HTTP protocol (the real `git http-backend`, run as a
 * CGI program per request), as a Git host would serve it, with an adjustable delay before each
 * fetch is answered: a slow Git server, so a test can catch a release while it resolves its tag.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, dirname } from 'node:path';

export interface GitServer {
  /** the clone URL of the repository */
  url: string;
  /** milliseconds each fetch (`POST .../git-upload-pack`) waits before Git answers it; 0 by default */
  delayMs: number;
  /** how many fetches reached the server (the ref advertisement of a clone or fetch counts once) */
  fetches: number;
  /** fetch requests held by the delay right now */
  held: number;
  close(): Promise<void>;
}

/** Serves the repository at `repoPath` (a non-bare working repository) at `<url>`. */
export async function serveRepository(repoPath: string): Promise<GitServer> {
  const root = dirname(repoPath);
  const name = basename(repoPath);
  const state = { delayMs: 0, fetches: 0, held: 0 };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://git.local');
    const fetching = req.method === 'POST' && url.pathname.endsWith('/git-upload-pack');
    if (url.pathname.endsWith('/info/refs')) state.fetches++;
    // Hold the request body until the delay ends, as a slow server would.
    req.pause();
    const delay = fetching ? state.delayMs : 0;
    if (delay > 0) state.held++;
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (delay > 0) state.held--;
      // The client may have gone while the request was held (a killed worker): nothing to answer.
      if (res.destroyed || req.destroyed) return;
      const backend = runBackend(root, url.pathname, url.search.slice(1), req, res);
      backends.add(backend);
      backend.on('close', () => backends.delete(backend));
    }, delay);
    timers.add(timer);
  });
  const timers = new Set<NodeJS.Timeout>();
  const backends = new Set<ReturnType<typeof spawn>>();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/${name}`,
    get delayMs() {
      return state.delayMs;
    },
    set delayMs(ms: number) {
      state.delayMs = ms;
    },
    get fetches() {
      return state.fetches;
    },
    get held() {
      return state.held;
    },
    async close() {
      for (const timer of timers) clearTimeout(timer);
      for (const backend of backends) backend.kill('SIGKILL');
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Runs `git http-backend` for one request and relays its CGI answer. */
function runBackend(root: string, pathInfo: string, query: string, req: http.IncomingMessage, res: http.ServerResponse): ReturnType<typeof spawn> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    GIT_PROJECT_ROOT: root,
    GIT_HTTP_EXPORT_ALL: '1',
    PATH_INFO: pathInfo,
    QUERY_STRING: query,
    REQUEST_METHOD: req.method ?? 'GET',
    CONTENT_TYPE: req.headers['content-type'] ?? '',
    REMOTE_ADDR: '127.0.0.1',
  };
  if (req.headers['content-encoding']) env.HTTP_CONTENT_ENCODING = String(req.headers['content-encoding']);
  if (req.headers['git-protocol']) env.GIT_PROTOCOL = String(req.headers['git-protocol']);
  if (req.headers['content-length']) env.CONTENT_LENGTH = String(req.headers['content-length']);
  const backend = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'ignore'] });
  req.pipe(backend.stdin);
  req.resume();
  backend.stdin.on('error', () => undefined);
  let head = Buffer.alloc(0);
  let headersSent = false;
  backend.stdout.on('data', (chunk: Buffer) => {
    if (headersSent) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return;
    let status = 200;
    for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
      const colon = line.indexOf(':');
      const key = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (key.toLowerCase() === 'status') status = Number(value.split(' ')[0]);
      else if (key) res.setHeader(key, value);
    }
    res.writeHead(status);
    headersSent = true;
    res.write(head.subarray(end + 4));
  });
  backend.on('close', () => {
    if (!headersSent) res.writeHead(500).end('git http-backend gave no answer');
    else res.end();
  });
  res.on('close', () => backend.kill());
  return backend;
}

/**
 * A real HTTP receiver for notification tests (node:http on a free loopback port): records every
 * request it gets, and answers each with the status `answer` gives for it (by arrival, from 1).
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
  /** the status the receiver answered */
  status: number;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** the requests it answered 2xx */
  accepted(): Received[];
  /** resolves once `count` requests arrived */
  waitFor(count: number, what?: string): Promise<Received[]>;
  close(): Promise<void>;
}

/** Starts a receiver; `answer(n, body)` decides the status of the n-th request (default 200), and may wait first. */
export async function startReceiver(answer: (n: number, body: unknown) => number | Promise<number> = () => 200, answerBody = ''): Promise<Receiver> {
  const received: Received[] = [];
  const waiters: (() => void)[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // kept as text
      }
      void Promise.resolve(answer(received.length + 1, body)).then((status) => {
        received.push({ path: req.url ?? '', headers: req.headers, body, status });
        res.writeHead(status, { 'content-type': 'text/plain' }).end(answerBody || (status < 300 ? 'ok' : 'try later'));
        for (const w of waiters.splice(0)) w();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    accepted: () => received.filter((r) => r.status < 300),
    async waitFor(count, what = `${count} requests`) {
      const deadline = Date.now() + 60_000;
      while (received.length < count) {
        if (Date.now() > deadline) throw new Error(`receiver: ${what} did not arrive in 60 s (got ${received.length})`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 500);
        });
      }
      return received;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

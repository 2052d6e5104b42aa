/**
 * watchUntil against a scripted API server on a local port: events reach the judge, 410 Gone
 * re-lists, and failures are counted whether the list or the watch failed, so a wait gives up.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as k8s from '@kubernetes/client-node';
import { WatchError, type WatchEvent, watchUntil } from '../../src/activities/kubernetes/watch';

const PATH = '/api/v1/namespaces/ns/configmaps';

/** What the server answers to the next watch requests; each test sets its own. */
let answerWatch: (res: http.ServerResponse) => void;
let watchRequests = 0;
let server: http.Server;
let kubeConfig: k8s.KubeConfig;

const line = (type: string, object: object): string => `${JSON.stringify({ type, object })}\n`;
const configMap = (name: string, resourceVersion: string, data: Record<string, string> = {}) => ({ metadata: { name, namespace: 'ns', resourceVersion }, data });
const list = (resourceVersion: string, items: object[] = []) => ({ metadata: { resourceVersion }, items }) as k8s.KubernetesListObject<k8s.KubernetesObject>;

const options = { timeoutMs: 10_000, tickMs: 60_000, retryDelayMs: 1, onTimeout: () => new Error('timed out') };

before(async () => {
  server = http.createServer((req, res) => {
    assert.match(req.url!, /watch=true/);
    watchRequests += 1;
    answerWatch(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
});

after(() => {
  server.closeAllConnections();
  server.close();
});

describe('watchUntil', () => {
  it('folds listed and watched objects into the state and resolves when the judge says so', async () => {
    watchRequests = 0;
    answerWatch = (res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(line('MODIFIED', configMap('a', '2', { ready: 'no' })));
      res.write(line('MODIFIED', configMap('a', '3', { ready: 'yes' })));
    };
    const seen: string[] = [];
    const state = new Map<string, k8s.V1ConfigMap>();
    const value = await watchUntil(
      kubeConfig,
      [
        {
          path: PATH,
          labelSelector: 'app=x',
          list: async () => list('1', [configMap('a', '1')]),
          onEvent: (event: WatchEvent) => {
            seen.push(`${event.type} ${event.object.metadata?.resourceVersion}`);
            state.set(event.object.metadata!.name!, event.object as k8s.V1ConfigMap);
          },
        },
      ],
      async () => (state.get('a')?.data?.ready === 'yes' ? 'ready' : undefined),
      options,
    );
    assert.equal(value, 'ready');
    assert.deepEqual(seen, ['ADDED 1', 'MODIFIED 2', 'MODIFIED 3']);
  });

  it('re-lists after 410 Gone and gives up after maxFailures failed re-lists in a row', async () => {
    watchRequests = 0;
    answerWatch = (res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(line('ERROR', { kind: 'Status', code: 410, reason: 'Expired' }));
    };
    let lists = 0;
    const error = await watchUntil(
      kubeConfig,
      [
        {
          path: PATH,
          labelSelector: 'app=x',
          list: async () => {
            lists += 1;
            if (lists === 1) return list('1');
            throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
          },
          onEvent: () => undefined,
        },
      ],
      async () => undefined,
      { ...options, maxFailures: 4 },
    ).then(
      () => assert.fail('resolved'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof WatchError, String(error));
    assert.equal(error.path, PATH);
    assert.match(error.message, /ECONNREFUSED/);
    assert.equal(lists, 1 + 4);
    assert.equal(watchRequests, 1);
  });

  it('gives up after maxFailures refused watches in a row, with the status', async () => {
    watchRequests = 0;
    answerWatch = (res) => {
      res.writeHead(500);
      res.end();
    };
    const error = await watchUntil(
      kubeConfig,
      [{ path: PATH, labelSelector: 'app=x', list: async () => list('1'), onEvent: () => undefined }],
      async () => undefined,
      { ...options, maxFailures: 3 },
    ).then(
      () => assert.fail('resolved'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof WatchError);
    assert.equal(error.statusCode, 500);
    assert.equal(watchRequests, 3);
  });

  it('gives up at once when the watch is forbidden', async () => {
    watchRequests = 0;
    answerWatch = (res) => {
      res.writeHead(403);
      res.end();
    };
    const error = await watchUntil(
      kubeConfig,
      [{ path: PATH, labelSelector: 'app=x', list: async () => list('1'), onEvent: () => undefined }],
      async () => undefined,
      options,
    ).then(
      () => assert.fail('resolved'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof WatchError);
    assert.equal(error.statusCode, 403);
    assert.equal(watchRequests, 1);
  });

  it('ends with the error an event handler throws, and with onTimeout when nothing decides', async () => {
    answerWatch = (res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(line('DELETED', configMap('a', '2')));
    };
    const deleted = new Error('deleted while waiting');
    const spec = {
      path: PATH,
      labelSelector: 'app=x',
      list: async () => list('1', [configMap('a', '1')]),
      onEvent: (event: WatchEvent) => {
        if (event.type === 'DELETED') throw deleted;
      },
    };
    await assert.rejects(watchUntil(kubeConfig, [spec], async () => undefined, options), (e) => e === deleted);

    answerWatch = (res) => res.writeHead(200, { 'content-type': 'application/json' }).flushHeaders();
    const quiet = { ...spec, onEvent: () => undefined };
    await assert.rejects(watchUntil(kubeConfig, [quiet], async () => undefined, { ...options, timeoutMs: 200 }), /timed out/);
  });
});

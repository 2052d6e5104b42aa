/**
 * Shadow comparison through a real gateway: two local HTTP servers stand for the stable and the
 * candidate version, both answering JSON derived from the request body; live requests go through
 * the gateway's traffic port and the verdicts are read from its admin API.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Gateway, startGateway } from '../../src/gateway';
import { adminAgreementPath } from '../../src/naming/gateway';

const RUN = Date.now().toString(36);
const TOKEN = `test-token-${RUN}`;
const MAX_IN_FLIGHT = 4;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON answers are checked field by field
type Json = any;

/** What both versions predict for an input: fraud above 100. */
const predict = (input: Json, version: string) => ({
  label: Number(input.amount) > 100 ? 'fraud' : 'ok',
  score: Number(input.amount) / 1000,
  ...(input.card === undefined ? {} : { card: input.card }),
  version,
});

interface ModelServer {
  url: string;
  close(): Promise<void>;
}

/** Stable: answers the prediction, 500 on /fail. */
async function stableServer(): Promise<ModelServer> {
  return listen(async (req, res, input) => {
    if (req.url === '/fail') return json(res, 500, { error: 'stable broke' });
    json(res, 200, predict(input, 'v1'));
  });
}

type CandidateMode = 'agree' | 'flip' | 'fail' | 'silent' | 'hold';

interface CandidateServer extends ModelServer {
  mode: CandidateMode;
  /** copies received so far */
  received: number;
  /** copies held unanswered (mode "hold") */
  held: Array<() => void>;
  release(): void;
}

/**
 * Candidate: "agree" predicts like stable with a score 0.01 higher; "flip" flips the label of
 * every amount divisible by 4; "fail" answers 500; "silent" never answers; "hold" answers
 * (agreeing) only when released.
 */
async function candidateServer(): Promise<CandidateServer> {
  const state = { mode: 'agree' as CandidateMode, received: 0, held: [] as Array<() => void> };
  const server = await listen(async (_req, res, input) => {
    state.received += 1;
    const agreeing = { ...predict(input, 'v2'), score: (Number(input.amount) + 10) / 1000 };
    switch (state.mode) {
      case 'agree':
        return json(res, 200, agreeing);
      case 'flip':
        return json(res, 200, Number(input.amount) % 4 === 0 ? { ...agreeing, label: agreeing.label === 'ok' ? 'fraud' : 'ok' } : agreeing);
      case 'fail':
        return json(res, 500, { error: 'candidate broke' });
      case 'silent':
        return;
      case 'hold':
        state.held.push(() => json(res, 200, agreeing));
    }
  });
  return Object.assign(state, {
    url: server.url,
    close: server.close,
    release() {
      for (const answer of state.held.splice(0)) answer();
    },
  });
}

async function listen(handle: (req: http.IncomingMessage, res: http.ServerResponse, input: Json) => Promise<void>): Promise<ModelServer> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let input: Json = {};
      try {
        input = JSON.parse(Buffer.concat(chunks).toString() || '{}');
      } catch {
        input = {};
      }
      void handle(req, res, input);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve()).closeAllConnections()),
  };
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

describe('tandem gateway shadow comparison', () => {
  let stateDir: string;
  let gateway: Gateway;
  let stable: ModelServer;
  let candidate: CandidateServer;

  const admin = async (method: string, route: string, body?: unknown, token: string | null = TOKEN): Promise<{ status: number; json: Json }> => {
    const headers: Record<string, string> = {};
    if (token !== null) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${gateway.adminUrl}${route}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : undefined };
  };
  /** A fresh model routed 100% to stable, mirrored to the candidate with `compare`: its counts start at 0. */
  let models = 0;
  const shadowModel = async (compare: unknown): Promise<string> => {
    const model = `gws-${RUN}-${models++}`;
    assert.equal((await admin('PUT', `/_tandem/models/${model}/versions/v1/endpoints`, { urls: [stable.url] })).status, 200);
    assert.equal((await admin('PUT', `/_tandem/models/${model}/versions/v2/endpoints`, { urls: [candidate.url] })).status, 200);
    const put = await admin('PUT', `/_tandem/models/${model}/traffic`, { weights: { v1: 100 }, mirror: { version: 'v2', compare } });
    assert.equal(put.status, 200, JSON.stringify(put.json));
    return model;
  };
  const agreement = async (model: string): Promise<Json> => {
    const reading = await admin('GET', adminAgreementPath(model, 'v2'));
    assert.equal(reading.status, 200);
    return reading.json;
  };
  /** Waits (bounded) until `count` pairs of the model were judged. */
  const judged = async (model: string, count: number): Promise<Json> => {
    let reading = await agreement(model);
    for (let i = 0; i < 300 && reading.agree + reading.disagree + reading.notCompared < count; i++) {
      await sleep(20);
      reading = await agreement(model);
    }
    return reading;
  };
  const call = async (model: string, input: unknown, route = '/predict'): Promise<{ servedBy: string | null; body: Json; status: number }> => {
    const response = await fetch(`${gateway.url}/${model}${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(input) });
    return { servedBy: response.headers.get('x-served-by-version'), body: await response.json(), status: response.status };
  };
  const counter = async (model: string, name: string, result: string): Promise<number> => {
    const text = await (await fetch(`${gateway.adminUrl}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name}{model="${model}",version="v2",result="${result}"} `));
    return line ? Number(line.split(' ')[1]) : 0;
  };

  before(async () => {
    stateDir = await mkdtemp(path.join(os.tmpdir(), 'tandem-gateway-shadow-'));
    gateway = await startGateway({ port: 0, adminPort: 0, adminToken: TOKEN, stateDir, upstreamTimeoutMs: 1000, maxMirrorsInFlight: MAX_IN_FLIGHT, log: () => undefined });
    stable = await stableServer();
    candidate = await candidateServer();
  });

  after(async () => {
    candidate?.release();
    await gateway?.close();
    await stable?.close();
    await candidate?.close();
    await rm(stateDir, { recursive: true, force: true });
  });

  it('counts every pair of an agreeing candidate as agree, while every caller gets the stable answer', async () => {
    candidate.mode = 'agree';
    const model = await shadowModel({ fields: [{ path: '$.label' }, { path: '$.score', tolerance: 0.02 }] });
    assert.deepEqual(await agreement(model), { model, version: 'v2', agree: 0, disagree: 0, notCompared: 0, samples: [] });
    for (let amount = 90; amount < 110; amount++) {
      const answer = await call(model, { amount });
      assert.equal(answer.servedBy, 'v1');
      assert.deepEqual(answer.body, predict({ amount }, 'v1'));
    }
    assert.deepEqual(await judged(model, 20), { model, version: 'v2', agree: 20, disagree: 0, notCompared: 0, samples: [] });
    assert.equal(await counter(model, 'tandem_gateway_shadow_comparisons_total', 'agree'), 20);
    assert.equal(await counter(model, 'tandem_gateway_shadow_comparisons_total', 'disagree'), 0);
  });

  it('counts a candidate whose labels flip as disagreeing, keeping only `samples` of them, redacted', async () => {
    candidate.mode = 'flip';
    const model = await shadowModel({ fields: [{ path: '$.label' }, { path: '$.score', tolerance: 0.02 }], redact: ['$.card'], samples: 3 });
    const card = `4111-${RUN}`;
    for (let amount = 0; amount < 20; amount++) {
      const answer = await call(model, { amount, card });
      assert.equal(answer.servedBy, 'v1');
      assert.deepEqual(answer.body, predict({ amount, card }, 'v1'));
    }
    const reading = await judged(model, 20);
    assert.deepEqual([reading.agree, reading.disagree, reading.notCompared], [15, 5, 0]); // amounts 0, 4, 8, 12, 16 flip
    assert.deepEqual(
      reading.samples.map((s: Json) => s.request.body.amount),
      [8, 12, 16],
      'the latest 3, oldest first',
    );
    const [sample] = reading.samples;
    assert.deepEqual(sample.request, { method: 'POST', path: '/predict', body: { amount: 8, card: '[redacted]' } });
    assert.deepEqual(sample.stable, { status: 200, body: { label: 'ok', score: 0.008, card: '[redacted]', version: 'v1' } });
    assert.deepEqual(sample.candidate, { status: 200, body: { label: 'fraud', score: 0.018, card: '[redacted]', version: 'v2' } });
    assert.deepEqual(sample.differences, ['$.label: stable "ok", candidate "fraud"']);
    assert.ok(!Number.isNaN(Date.parse(sample.at)));
    assert.ok(!JSON.stringify(reading).includes(card), 'the redacted card number is kept nowhere');
  });

  it('shows a difference in score beyond its tolerance with both values', async () => {
    candidate.mode = 'agree'; // scores 0.01 apart
    const model = await shadowModel({ fields: [{ path: '$.score', tolerance: 0.005 }] });
    await call(model, { amount: 50 });
    const reading = await judged(model, 1);
    assert.equal(reading.disagree, 1);
    assert.deepEqual(reading.samples[0].differences, ['$.score: stable 0.05, candidate 0.06 (tolerance 0.005)']);
  });

  it('counts a candidate answering 500, or not at all, as disagreeing; a stable 500 as not compared', async () => {
    const model = await shadowModel({ fields: [{ path: '$.label' }] });
    candidate.mode = 'fail';
    assert.equal((await call(model, { amount: 1 })).servedBy, 'v1');
    let reading = await judged(model, 1);
    assert.equal(reading.disagree, 1);
    assert.deepEqual(reading.samples[0].differences, ['candidate answered 500']);
    assert.deepEqual(reading.samples[0].candidate, { status: 500, body: { error: 'candidate broke' } });

    candidate.mode = 'silent';
    const answer = await call(model, { amount: 2 });
    assert.deepEqual([answer.status, answer.servedBy], [200, 'v1']);
    reading = await judged(model, 2); // the copy times out after the gateway's upstream timeout
    assert.equal(reading.disagree, 2);
    assert.deepEqual(reading.samples[1].differences, ['candidate did not answer (timeout)']);
    assert.deepEqual(reading.samples[1].candidate, { status: 0, body: '(no answer: timeout)' });

    candidate.mode = 'agree';
    const failed = await call(model, { amount: 3 }, '/fail');
    assert.deepEqual([failed.status, failed.servedBy], [500, 'v1']);
    reading = await judged(model, 3);
    assert.deepEqual([reading.agree, reading.disagree, reading.notCompared, reading.samples.length], [0, 2, 1, 2]);
    assert.equal(await counter(model, 'tandem_gateway_shadow_comparisons_total', 'not_compared'), 1);
  });

  it('answers the caller before the candidate has answered the copy', async () => {
    candidate.mode = 'hold';
    const model = await shadowModel({ fields: [{ path: '$.label' }] });
    const receivedBefore = candidate.received;
    const answer = await call(model, { amount: 5 });
    assert.deepEqual([answer.servedBy, answer.body.version], ['v1', 'v1']);
    // The caller has its answer; the copy is still held by the candidate, so nothing is judged yet.
    for (let i = 0; i < 100 && candidate.held.length === 0; i++) await sleep(20);
    assert.equal(candidate.received - receivedBefore, 1);
    assert.equal(candidate.held.length, 1);
    const pending = await agreement(model);
    assert.equal(pending.agree + pending.disagree + pending.notCompared, 0);
    candidate.release();
    assert.equal((await judged(model, 1)).agree, 1);
  });

  it('makes no pair of a copy dropped because too many were in flight: it is counted as mirrored, dropped', async () => {
    candidate.mode = 'hold';
    const model = await shadowModel({ fields: [{ path: '$.label' }] });
    const answers = await Promise.all(Array.from({ length: MAX_IN_FLIGHT + 3 }, (_, i) => call(model, { amount: i })));
    assert.deepEqual(
      answers.map((a) => a.servedBy),
      Array(MAX_IN_FLIGHT + 3).fill('v1'),
    );
    for (let i = 0; i < 100 && candidate.held.length < MAX_IN_FLIGHT; i++) await sleep(20);
    candidate.release();
    const reading = await judged(model, MAX_IN_FLIGHT);
    await sleep(100); // a pair made of a dropped copy would be judged by now
    assert.equal((await agreement(model)).agree, MAX_IN_FLIGHT);
    assert.equal(reading.disagree + reading.notCompared, 0);
    assert.equal(await counter(model, 'tandem_gateway_mirrored_requests_total', 'dropped'), 3);
    assert.equal(await counter(model, 'tandem_gateway_mirrored_requests_total', '200'), MAX_IN_FLIGHT);
  });

  it('refuses a bad compare in the traffic PUT naming the field; traffic unchanged', async () => {
    candidate.mode = 'agree';
    const model = await shadowModel({ fields: [{ path: '$.label' }] });
    const was = (await admin('GET', `/_tandem/models/${model}/traffic`)).json;
    assert.deepEqual(was.mirror, { version: 'v2', percent: 100, compare: { fields: [{ path: '$.label' }] } });
    const put = (compare: unknown) => admin('PUT', `/_tandem/models/${model}/traffic`, { weights: { v1: 100 }, mirror: { version: 'v2', compare } });

    const noDollar = await put({ fields: [{ path: 'label' }] });
    assert.equal(noDollar.status, 400);
    assert.match(noDollar.json.error, /^mirror\.compare\.fields\.0\.path: must be a JSONPath starting with "\$", such as "\$\.label"/);
    const filter = await put({ fields: [{ path: '$.label' }], redact: ['$.items[?(@.secret)]'] });
    assert.equal(filter.status, 400);
    assert.match(filter.json.error, /^mirror\.compare\.redact\.0: .*filter and script expressions .* are disabled/);
    const samples = await put({ fields: [{ path: '$.label', tolerance: -1 }], samples: 50 });
    assert.equal(samples.status, 400);
    assert.deepEqual(
      samples.json.issues.map((i: Json) => i.field),
      ['mirror.compare.fields.0.tolerance', 'mirror.compare.samples'],
    );
    assert.deepEqual((await admin('GET', `/_tandem/models/${model}/traffic`)).json, was);
  });

  it('serves the agreement only with the admin token, and only on the admin port', async () => {
    const route = adminAgreementPath('gws-none', 'v9');
    assert.equal((await admin('GET', route, undefined, null)).status, 401);
    assert.equal((await admin('GET', route, undefined, 'wrong')).status, 401);
    assert.deepEqual((await admin('GET', route)).json, { model: 'gws-none', version: 'v9', agree: 0, disagree: 0, notCompared: 0, samples: [] });
    assert.equal((await fetch(`${gateway.url}${route}`)).status, 404);
    assert.equal((await admin('GET', '/_tandem/models/Not_A_Model/versions/v1/agreement')).status, 400);
  });
});

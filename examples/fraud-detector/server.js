// fraud-detector: a small inference service. Scores a card transaction with a logistic
// regression whose weights live in model/weights.json. Plain Node, no dependencies.
//   POST /predict  {"amount": 950, "country_risk": 0.8, "velocity": 6, "new_device": 1}
//                  -> {"score": 0.87, "label": "fraud", "version": "v1.0.0"}
//   GET  /healthz  -> {"status": "ok", "version": ...}
//   GET  /metrics  -> Prometheus text: requests_total, errors_total, request_duration_seconds
'use strict';
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');

const PORT = Number(process.env.PORT || 8080);
const VERSION = process.env.VERSION || 'dev';
const model = JSON.parse(fs.readFileSync(path.join(__dirname, 'model', 'weights.json'), 'utf8'));

/** Fraud probability of one transaction: sigmoid(bias + sum of weight * feature). */
function predict(features) {
  let z = model.bias;
  for (const [name, weight] of Object.entries(model.weights)) {
    const value = features[name];
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      const err = new Error(`feature "${name}" must be a number`);
      err.status = 400;
      throw err;
    }
    z += weight * value;
  }
  const score = 1 / (1 + Math.exp(-z));
  return { score: Math.round(score * 1e6) / 1e6, label: score >= model.threshold ? 'fraud' : 'ok', version: VERSION };
}

// --- metrics, Prometheus text format ---
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
const metrics = { requests: 0, errors: 0, buckets: BUCKETS.map(() => 0), sum: 0 };
function observe(seconds, failed) {
  metrics.requests += 1;
  if (failed) metrics.errors += 1;
  metrics.sum += seconds;
  BUCKETS.forEach((le, i) => { if (seconds <= le) metrics.buckets[i] += 1; });
}
function renderMetrics() {
  const v = `version="${VERSION}"`;
  const lines = [
    '# HELP requests_total Prediction requests answered.',
    '# TYPE requests_total counter',
    `requests_total{${v}} ${metrics.requests}`,
    '# HELP errors_total Prediction requests answered with a 5xx status.',
    '# TYPE errors_total counter',
    `errors_total{${v}} ${metrics.errors}`,
    '# HELP request_duration_seconds Time to answer a prediction request.',
    '# TYPE request_duration_seconds histogram',
    ...BUCKETS.map((le, i) => `request_duration_seconds_bucket{${v},le="${le}"} ${metrics.buckets[i]}`),
    `request_duration_seconds_bucket{${v},le="+Inf"} ${metrics.requests}`,
    `request_duration_seconds_sum{${v}} ${metrics.sum}`,
    `request_duration_seconds_count{${v}} ${metrics.requests}`,
  ];
  return lines.join('\n') + '\n';
}

function send(res, status, body, type = 'application/json') {
  const text = type === 'application/json' ? JSON.stringify(body) : body;
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  if (req.method === 'GET' && url.pathname === '/healthz') return send(res, 200, { status: 'ok', version: VERSION });
  if (req.method === 'GET' && url.pathname === '/metrics') return send(res, 200, renderMetrics(), 'text/plain; version=0.0.4');
  if (url.pathname !== '/predict') return send(res, 404, { error: 'not found' });
  if (req.method !== 'POST') return send(res, 405, { error: 'use POST' });

  const started = process.hrtime.bigint();
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    let status = 200;
    let body;
    try {
      let features;
      try {
        features = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        throw Object.assign(new Error('body must be JSON'), { status: 400 });
      }
      body = predict(features || {});
    } catch (err) {
      status = err.status || 500;
      body = { error: err.message, version: VERSION };
      if (status >= 500) console.error(`predict failed: ${err.stack}`);
    }
    observe(Number(process.hrtime.bigint() - started) / 1e9, status >= 500);
    send(res, status, body);
  });
});

server.listen(PORT, () => console.log(`fraud-detector ${VERSION} listening on :${PORT}`));
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => server.close(() => process.exit(0)).closeIdleConnections());
}

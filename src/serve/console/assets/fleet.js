// The fleet page: every model × environment with its running versions, traffic share and live
// charts, redrawn from GET /api/fleet/events (server-sent events) without reloading.
import { age, api, el, releasePath, renderAccount, short, stream, time, whoAmI } from './common.js';
import { METRICS, chart, colourOf } from './charts.js';

const root = document.getElementById('fleet');
const live = document.getElementById('live');
/** model/env -> { section, charts } */
const sections = new Map();

function waitingText(release) {
  if (!release) return 'no active release';
  const waits = [release.waitingFor && `waiting for ${release.waitingFor}`, release.paused && 'paused'].filter(Boolean);
  return `${release.version}: ${[release.stage, ...waits].join(', ')}`;
}

function versionRow(entry, v) {
  const share = el('span', { class: 'share', 'data-testid': 'share' }, `${v.weight}%`);
  const bar = el('span', { class: 'bar', 'aria-hidden': 'true' }, el('span', { style: `width:${v.weight}%` }));
  const ready = `${v.readyReplicas}/${v.replicas}`;
  return el(
    'tr',
    { 'data-version': v.version, 'data-role': v.role },
    el('th', { scope: 'row' }, el('span', { class: 'swatch', style: `background:${colourOf(entry.versions.indexOf(v))}`, 'aria-hidden': 'true' }), v.version),
    el('td', {}, el('span', { class: `role role-${v.role}`, 'data-testid': 'role' }, v.role)),
    el('td', { class: 'num' }, share, bar),
    el('td', { class: 'num', ...(v.readyReplicas < v.replicas ? { class: 'num warn' } : {}) }, ready),
    el('td', {}, el('code', { title: v.commit }, short(v.commit, 8))),
    el('td', {}, el('code', { title: v.digest }, short(v.digest, 12))),
    el('td', { title: v.deployedAt }, age(v.deployedAt)),
  );
}

function render(fleet) {
  root.removeAttribute('aria-busy');
  if (fleet.entries.length === 0) {
    root.replaceChildren(el('p', {}, 'No models yet: add one under models: in tandem.config.yaml, or start a release.'));
    return;
  }
  const seen = new Set();
  for (const entry of fleet.entries) {
    const key = `${entry.model}/${entry.environment}`;
    seen.add(key);
    let view = sections.get(key);
    if (!view) {
      const section = el('section', { class: 'entry', 'data-model': entry.model, 'data-env': entry.environment, 'aria-labelledby': `h-${key}` });
      root.append(section);
      view = { section, charts: undefined, chartBox: undefined };
      sections.set(key, view);
    }
    const release = entry.release;
    const heading = el('h2', { id: `h-${key}` }, el('a', { href: releasePath(entry.model, entry.environment) }, entry.model), el('span', { class: 'env' }, ` in ${entry.environment}`), el('span', { class: 'target' }, entry.target));
    const status = el('p', { class: `release ${release?.waitingFor ? 'waiting' : ''}`, 'data-testid': 'release' }, waitingText(release));
    if (release?.weights) status.append(' · weights ', Object.entries(release.weights).map(([v, w]) => `${v} ${w}%`).join(', '));
    if (release) status.append(' · ', el('a', { href: releasePath(entry.model, entry.environment) }, 'open release'), ' · started ', time(release.startTime));
    const table = el(
      'table',
      { class: 'versions' },
      el('caption', { class: 'visually-hidden' }, `Running versions of ${entry.model} in ${entry.environment}`),
      el('thead', {}, el('tr', {}, ...['version', 'role', 'share', 'ready', 'commit', 'digest', 'age'].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, entry.versions.length ? entry.versions.map((v) => versionRow(entry, v)) : el('tr', {}, el('td', { colspan: 7 }, entry.error ? '' : entry.readAt ? 'no running versions' : 'reading…'))),
    );
    const parts = [heading, status];
    if (entry.error) parts.push(el('p', { class: 'error', role: 'alert' }, entry.error));
    parts.push(el('div', { class: 'table-wrap' }, table));
    if (!view.chartBox) view.chartBox = el('div', { class: 'charts', role: 'group', 'aria-label': `Live metrics of ${entry.model} in ${entry.environment}` });
    parts.push(view.chartBox);
    view.section.replaceChildren(...parts);
    updateCharts(view, entry);
  }
  for (const [key, view] of sections) {
    if (!seen.has(key)) {
      view.section.remove();
      sections.delete(key);
    }
  }
}

function updateCharts(view, entry) {
  if (entry.metrics.source === 'none') {
    view.chartBox.replaceChildren(el('p', { class: 'note' }, entry.metrics.note ?? 'no live metrics'));
    view.charts = undefined;
    return;
  }
  const series = entry.versions.map((v, i) => ({ label: v.version, colour: colourOf(i), points: v.metrics }));
  if (!view.charts) {
    view.chartBox.replaceChildren();
    const width = Math.max(240, Math.min(360, Math.floor((view.section.clientWidth || 960) / 3) - 24));
    view.charts = METRICS.map((metric) => {
      const box = el('figure', { class: 'chart', 'data-metric': metric.key });
      view.chartBox.append(box);
      return chart(box, metric, series, width);
    });
  } else {
    view.charts.forEach((c) => c.update(series));
  }
}

async function main() {
  const me = await whoAmI();
  renderAccount(document.getElementById('account'), me);
  const first = await api('/api/fleet');
  if (first.status !== 200) {
    root.removeAttribute('aria-busy');
    live.textContent = '';
    root.replaceChildren(el('p', { class: 'error', role: 'alert' }, first.status === 401 ? 'Sign in to see the fleet.' : first.body?.message ?? `The fleet could not be read (${first.status}).`));
    return;
  }
  render(first.body);
  live.textContent = `updated ${time(first.body.generatedAt)}`;
  stream('/api/fleet/events', (name, fleet) => {
    if (name !== 'fleet') return;
    render(fleet);
    live.textContent = `live · updated ${time(fleet.generatedAt)}`;
    document.body.dataset.updated = fleet.generatedAt;
  }, (state) => {
    if (state !== 'live') live.textContent = state;
  });
}

void main();

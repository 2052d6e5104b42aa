// The release page: the latest release of a model in an environment as a timeline (steps, checks,
// measurements, traffic changes, operator actions), its run in the Temporal Web UI, past releases,
// and the operator actions for a signed-in user (through the same API routes as the CLI).
import { api, apiPath, duration, el, releasePath, renderAccount, time, whoAmI } from './common.js';
import { METRICS, chart, colourOf } from './charts.js';

const [, , , model, env] = location.pathname.split('/').map(decodeURIComponent);
const root = document.getElementById('release');
const base = apiPath(model, env);
/** a past release (?id=<workflowId>, linked from the past releases), else the latest */
const releaseId = new URLSearchParams(location.search).get('id');
/** the compare section's charts: made once, fed on every redraw */
const compareBox = el('div', { class: 'charts', role: 'group', 'aria-label': 'Live metrics of both versions' });
let compareCharts;
/** checks of finished releases by workflowId (they no longer change) */
const finishedChecks = new Map();
let me;
let refreshTimer;
/** what the person typed as comment or reason, kept across redraws */
let typedText = '';
/** the answer to the last action, shown again after the redraw it causes */
let lastOutcome = '';

/** Actions on an active release; `moves` ones ask for confirmation first. */
const ACTIONS = [
  { name: 'approve', text: 'comment', label: 'Approve', moves: true, when: (s) => s.waitingFor === 'approval' },
  { name: 'promote', text: 'comment', label: 'Promote now', moves: true, when: () => true },
  { name: 'pause', text: 'reason', label: 'Pause', moves: false, when: (s) => !s.paused },
  { name: 'resume', text: 'comment', label: 'Resume', moves: true, when: (s) => s.paused || s.waitingFor === 'resume' },
  { name: 'abort', text: 'reason', label: 'Abort and roll back', moves: true, when: () => true, danger: true },
];

function confirmAction(title, text) {
  const dialog = document.getElementById('confirm');
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.showModal();
    document.getElementById('confirm-ok').focus();
  });
}

function table(caption, headers, rows, attributes = {}) {
  return el(
    'table',
    attributes,
    el('caption', {}, caption),
    el('thead', {}, el('tr', {}, headers.map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, rows.length ? rows : el('tr', {}, el('td', { colspan: headers.length }, 'none'))),
  );
}

function actionsPanel(status, warm) {
  const outcome = el('p', { id: 'action-outcome', role: 'status', 'aria-live': 'polite' }, lastOutcome);
  const panel = el('section', { class: 'actions', 'aria-labelledby': 'h-actions' }, el('h2', { id: 'h-actions' }, 'Actions'));
  if (!me) {
    panel.append(el('p', {}, 'Sign in to approve, abort, pause, resume, promote or roll back.'));
    return panel;
  }
  const active = !status.outcome;
  const textInput = el('input', { id: 'action-text', name: 'text', type: 'text', maxlength: 2000, placeholder: 'why (recorded with the action)' });
  panel.append(el('p', {}, el('label', { for: 'action-text' }, 'Comment or reason '), textInput));
  const buttons = el('div', { class: 'buttons' });
  const run = async (label, moves, path, body, describe) => {
    if (moves && !(await confirmAction(`${label}?`, describe))) return;
    outcome.className = '';
    outcome.textContent = `${label}…`;
    const answer = await api(path, { method: 'POST', body });
    if (answer.status === 200) {
      outcome.textContent = `${label}: done${answer.body.who ? ` by ${answer.body.who}` : answer.body.by ? ` by ${answer.body.by}` : ''}.`;
      outcome.className = 'ok';
      typedText = '';
      lastOutcome = outcome.textContent;
      await load();
    } else {
      outcome.className = 'error';
      outcome.setAttribute('role', 'alert');
      outcome.textContent = `${label} refused (${answer.status}): ${answer.body?.message ?? answer.body}`;
    }
  };
  if (active) {
    for (const action of ACTIONS.filter((a) => a.when(status))) {
      const button = el('button', { type: 'button', id: `action-${action.name}`, 'data-action': action.name, class: action.danger ? 'danger' : action.name === 'approve' ? 'primary' : '' }, action.label);
      button.addEventListener('click', () =>
        run(action.label, action.moves, `${base}/release/${action.name}`, textInput.value ? { [action.text]: textInput.value } : {}, `${action.label} the release of ${status.version} (${model} in ${env}). This may move traffic.`),
      );
      buttons.append(button);
    }
  }
  if (!active && warm.length) {
    const select = el('select', { id: 'rollback-to' }, warm.map((v) => el('option', { value: v }, v)));
    const button = el('button', { type: 'button', id: 'action-rollback', 'data-action': 'rollback', class: 'danger' }, 'Roll back');
    button.addEventListener('click', () => run('Roll back', true, `${base}/rollback`, { to: select.value, ...(textInput.value ? { reason: textInput.value } : {}) }, `Send all traffic of ${model} in ${env} to ${select.value}.`));
    buttons.append(el('label', { for: 'rollback-to' }, 'Roll back to '), select, ' ', button);
  }
  if (!buttons.childElementCount) buttons.append(el('p', {}, 'Nothing to do: the release has ended and no warm version is running.'));
  panel.append(buttons, outcome);
  return panel;
}

function timeline(status) {
  const steps = table(
    'Rollout steps',
    ['#', 'step', 'status', 'started', 'ended', 'took', 'detail'],
    status.steps.map((s) => el('tr', { 'data-status': s.status }, el('td', {}, s.index + 1), el('td', {}, s.description), el('td', {}, el('span', { class: `state state-${s.status}` }, s.status)), el('td', {}, time(s.startedAt)), el('td', {}, time(s.finishedAt)), el('td', {}, duration(s.startedAt, s.finishedAt) ?? ''), el('td', {}, s.detail ?? ''))),
  );
  const checks = table(
    'Checks',
    ['check', 'result', 'observed'],
    status.checks.map((c) => el('tr', { 'data-check': c.check, 'data-ok': String(c.ok) }, el('td', {}, c.check), el('td', {}, el('span', { class: c.ok ? 'state state-done' : 'state state-failed' }, c.ok ? 'passed' : 'failed')), el('td', { class: 'observed' }, c.observed))),
    { 'data-testid': 'checks' },
  );
  const measurements = table(
    'Analysis measurements',
    ['step', 'window', 'metric', 'value', 'stable', 'condition', 'verdict'],
    (status.measurements ?? []).map((m) => el('tr', {}, el('td', {}, m.step === 'background' ? 'background' : m.step + 1), el('td', {}, `${m.round}: ${time(m.window.from)}–${time(m.window.to)}`), el('td', {}, m.metric), el('td', { class: 'num' }, m.value ?? '–'), el('td', { class: 'num' }, m.stable ?? ''), el('td', {}, m.condition), el('td', {}, el('span', { class: `state state-${m.verdict === 'pass' ? 'done' : m.verdict === 'fail' ? 'failed' : 'pending'}` }, m.verdict)))),
  );
  const traffic = table(
    'Traffic changes',
    ['at', 'change'],
    status.history.filter((h) => /^traffic |send \d+% of traffic|promote .* to 100%|rolled back|roll back/i.test(h.message)).map((h) => el('tr', {}, el('td', {}, time(h.at)), el('td', {}, h.message))),
  );
  const actions = table(
    'Operator actions',
    ['at', 'action', 'who', 'via', 'rule', 'text', 'accepted'],
    status.actions.map((a) => el('tr', { 'data-action': a.action }, el('td', {}, time(a.at)), el('td', {}, a.action), el('td', { class: 'who' }, a.who), el('td', {}, a.via ?? ''), el('td', {}, a.rule ?? ''), el('td', {}, a.text ?? ''), el('td', {}, a.accepted ? 'yes' : `no${a.note ? `: ${a.note}` : ''}`))),
    { 'data-testid': 'actions' },
  );
  const story = el('details', {}, el('summary', {}, `Full story (${status.history.length} entries)`), el('ol', { class: 'story' }, status.history.map((h) => el('li', {}, el('time', { datetime: h.at }, time(h.at)), ' ', h.message))));
  return el('section', { class: 'timeline', 'aria-labelledby': 'h-timeline' }, el('h2', { id: 'h-timeline' }, 'Timeline'), steps, checks, measurements, traffic, actions, story);
}

function pastReleases(history) {
  return el(
    'section',
    { 'aria-labelledby': 'h-past' },
    el('h2', { id: 'h-past' }, 'Past releases'),
    table(
      `Releases and rollbacks of ${model} in ${env}, newest first`,
      ['version', 'kind', 'outcome', 'stage', 'started', 'took'],
      history.map((h) => el('tr', {}, el('td', {}, h.kind === 'release' ? el('a', { href: `${releasePath(model, env)}?id=${encodeURIComponent(h.workflowId)}` }, h.version) : h.version), el('td', {}, h.kind), el('td', {}, h.status === 'COMPLETED' ? 'promoted' : h.status === 'RUNNING' ? 'running' : h.status.toLowerCase()), el('td', {}, h.stage), el('td', { title: h.startTime }, new Date(h.startTime).toLocaleString()), el('td', {}, duration(h.startTime, h.closeTime) ?? ''))),
    ),
  );
}

/**
 * The release's version beside the stable one it started from: the live charts of both overlaid
 * (while both run), and the answers each gave to the smoke tests side by side (stable's from the
 * release that promoted it).
 */
async function compare(status, entry, history) {
  const other = status.previousStable;
  if (!other || other === status.version) return '';
  const section = el('section', { class: 'compare', 'aria-labelledby': 'h-compare' }, el('h2', { id: 'h-compare' }, `Compare ${status.version} with ${other}`));
  const running = (entry?.versions ?? []).filter((v) => v.version === status.version || v.version === other);
  if (entry?.metrics.source === 'gateway' && running.length) {
    const series = running.map((v) => ({ label: v.version, colour: colourOf(entry.versions.indexOf(v)), points: v.metrics }));
    if (!compareCharts) compareCharts = METRICS.map((metric) => chart(compareBox.appendChild(el('figure', { class: 'chart' })), metric, series, 320));
    else compareCharts.forEach((c) => c.update(series));
    section.append(compareBox);
  } else {
    section.append(el('p', { class: 'note' }, entry?.metrics.note ?? 'Live charts appear while the versions run.'));
  }
  const promoted = history.find((h) => h.kind === 'release' && h.version === other && h.status === 'COMPLETED');
  if (promoted && !finishedChecks.has(promoted.workflowId)) {
    const answer = await api(`${base}/release?id=${encodeURIComponent(promoted.workflowId)}`);
    if (answer.status === 200) finishedChecks.set(promoted.workflowId, answer.body.checks);
  }
  const theirs = new Map((finishedChecks.get(promoted?.workflowId) ?? []).map((c) => [c.check, c]));
  const rows = status.checks
    .filter((c) => c.check.startsWith('smoke'))
    .map((c) => el('tr', { 'data-check': c.check }, el('td', {}, c.check.replace(/^smoke: /, '')), el('td', { class: 'observed' }, c.observed), el('td', { class: 'observed' }, theirs.get(c.check)?.observed ?? '–')));
  section.append(table('Smoke-test answers side by side', ['smoke test', status.version, `${other}${promoted ? '' : ' (no promoted release found)'}`], rows, { 'data-testid': 'smoke-compare' }));
  return section;
}

async function load() {
  clearTimeout(refreshTimer);
  const [release, history, fleet] = await Promise.all([api(`${base}/release${releaseId ? `?id=${encodeURIComponent(releaseId)}` : ''}`), api(`${base}/history?limit=20`), api('/api/fleet')]);
  root.removeAttribute('aria-busy');
  if (release.status !== 200) {
    root.replaceChildren(el('h2', {}, `${model} in ${env}`), el('p', { class: 'error', role: 'alert' }, release.status === 401 ? 'Sign in to see this release.' : release.body?.message ?? `could not be read (${release.status})`));
    return;
  }
  const s = release.body;
  const ui = fleet.status === 200 ? `${fleet.body.temporalUi.url}/namespaces/${encodeURIComponent(fleet.body.temporalUi.namespace)}/workflows/${encodeURIComponent(s.releaseId)}` : undefined;
  const summary = el(
    'dl',
    { class: 'summary' },
    ...[
      ['version', s.version],
      ['stage', s.stage],
      ['outcome', s.outcome ?? (s.waitingFor ? `waiting for ${s.waitingFor}` : s.paused ? 'paused' : 'running')],
      ['reason', s.reason],
      ['weights', Object.entries(s.weights).map(([v, w]) => `${v} ${w}%`).join(', ')],
      ['requested by', s.requestedBy],
      ['policy', s.policy?.summary],
      ['approvals', s.approvals ? `${s.approvals.by.length} of ${s.approvals.required}${s.approvals.by.length ? ` (${s.approvals.by.join(', ')})` : ''}` : undefined],
      ['commit', s.commit],
      ['digest', s.digest],
      ['started', new Date(s.startedAt).toLocaleString()],
      ['took', duration(s.startedAt, s.finishedAt)],
    ]
      .filter(([, v]) => v)
      .flatMap(([k, v]) => [el('dt', {}, k), el('dd', { 'data-field': k }, v)]),
  );
  const entry = fleet.status === 200 ? fleet.body.entries.find((e) => e.model === model && e.environment === env) : undefined;
  const warm = (entry?.versions ?? []).filter((v) => v.role !== 'stable' && v.role !== 'canary').map((v) => v.version);
  const focused = document.activeElement?.id;
  root.replaceChildren(
    el('h2', {}, `${model} in ${env}: ${s.version}`),
    summary,
    ui ? el('p', {}, el('a', { href: ui, rel: 'noopener', target: '_blank' }, 'Open this run in the Temporal Web UI')) : '',
    releaseId ? el('p', {}, 'A past release. ', el('a', { href: releasePath(model, env) }, 'The latest release')) : actionsPanel(s, warm),
    await compare(s, entry, history.status === 200 ? history.body : []),
    timeline(s),
    pastReleases(history.status === 200 ? history.body : []),
  );
  const input = document.getElementById('action-text');
  if (input) {
    input.value = typedText;
    input.addEventListener('input', () => (typedText = input.value));
  }
  if (focused) document.getElementById(focused)?.focus();
  // While the release runs, read it again every 2 s (not while a confirmation is open).
  if (!s.outcome) refreshTimer = setTimeout(function again() {
    if (document.getElementById('confirm').open) refreshTimer = setTimeout(again, 2000);
    else void load();
  }, 2000);
}

async function main() {
  me = await whoAmI();
  renderAccount(document.getElementById('account'), me);
  await load();
}

void main();

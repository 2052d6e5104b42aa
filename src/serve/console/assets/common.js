// Shared by the console's pages: calls to serve's API with the session cookie (and its CSRF token)
// or a bearer token kept in this tab, the server-sent event stream read with fetch (so a token can
// be sent, which EventSource cannot), and DOM helpers that only ever set text (no HTML from data).

const TOKEN_KEY = 'tandem-token';
let csrfToken;

/** Calls the API; resolves with { status, body } (body parsed when JSON). */
export async function api(path, { method = 'GET', body } = {}) {
  const headers = { accept: 'application/json' };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-tandem-csrf'] = csrfToken;
  const response = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  let parsed = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  return { status: response.status, body: parsed };
}

/** Who is signed in (GET /auth/me), or undefined; remembers a session's CSRF token for POSTs. */
export async function whoAmI() {
  const { status, body } = await api('/auth/me');
  if (status !== 200) return undefined;
  csrfToken = body.csrfToken;
  return body;
}

/** Fills the header's account area: who is signed in, or how to sign in (provider or token). */
export function renderAccount(container, me) {
  container.replaceChildren();
  if (me) {
    container.append(el('span', { 'data-testid': 'who' }, `Signed in as ${me.subject}`, me.groups.length ? ` (${me.groups.join(', ')})` : ''));
    const out = el('button', { type: 'button' }, 'Sign out');
    out.addEventListener('click', async () => {
      sessionStorage.removeItem(TOKEN_KEY);
      if (me.via === 'oidc') await api('/auth/logout', { method: 'POST' });
      location.reload();
    });
    container.append(' ', out);
    return;
  }
  const back = encodeURIComponent(location.pathname);
  container.append(el('a', { href: `/auth/login?return=${back}`, class: 'button' }, 'Sign in'));
  const form = el('form', { class: 'token-form' });
  const input = el('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'off', required: '' });
  form.append(el('label', { for: 'token' }, 'or a token'), input, el('button', { type: 'submit' }, 'Use token'));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    location.reload();
  });
  container.append(form);
}

/**
 * Reads a server-sent event stream at `path`, calling onEvent(name, data) for each event, and
 * reconnects 2 s after it ends; returns a function that stops it.
 */
export function stream(path, onEvent, onState = () => {}) {
  let stopped = false;
  let controller;
  const run = async () => {
    while (!stopped) {
      controller = new AbortController();
      try {
        const headers = { accept: 'text/event-stream' };
        const token = sessionStorage.getItem(TOKEN_KEY);
        if (token) headers.authorization = `Bearer ${token}`;
        const response = await fetch(path, { headers, credentials: 'same-origin', signal: controller.signal });
        if (!response.ok) throw new Error(`${response.status}`);
        onState('live');
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let name = 'message';
            const data = [];
            for (const line of block.split('\n')) {
              if (line.startsWith('event:')) name = line.slice(6).trim();
              else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
            }
            if (data.length) onEvent(name, JSON.parse(data.join('\n')));
          }
        }
      } catch (error) {
        if (stopped) return;
        onState(`reconnecting (${error.message})`);
      }
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  };
  void run();
  return () => {
    stopped = true;
    controller?.abort();
  };
}

/** An element with attributes and children (strings become text nodes). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) if (value !== undefined && value !== false) node.setAttribute(name, value === true ? '' : String(value));
  for (const child of children.flat()) if (child !== undefined && child !== null) node.append(child instanceof Node ? child : String(child));
  return node;
}

/** "3 min", "2 h", "4 d" since an ISO time. */
export function age(iso, now = Date.now()) {
  const seconds = Math.max(0, (now - Date.parse(iso)) / 1000);
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 129600) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} d`;
}

/** A duration between two ISO times, or undefined. */
export function duration(from, to) {
  if (!from || !to) return undefined;
  const ms = Date.parse(to) - Date.parse(from);
  return ms < 1000 ? `${ms} ms` : ms < 120000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 60000)} min`;
}

export function time(iso) {
  return iso ? new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' }) : '';
}

export function short(text, n = 12) {
  if (!text) return '';
  const bare = text.startsWith('sha256:') ? text.slice(7) : text;
  return bare.length > n ? bare.slice(0, n) : bare;
}

export const releasePath = (model, env) => `/console/releases/${encodeURIComponent(model)}/${encodeURIComponent(env)}`;
export const apiPath = (model, env) => `/api/models/${encodeURIComponent(model)}/environments/${encodeURIComponent(env)}`;

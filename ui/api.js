// The REST API (docs/api.md). Every call returns parsed JSON or throws an
// Error whose message is the server's {"error": "..."} text.

// A server started with --auth-token-file answers 401 without a bearer
// token: ask for it once, keep it for this tab only, and retry.
const TOKEN_KEY = 'mlambda.token';
export function authToken() { return sessionStorage.getItem(TOKEN_KEY); }

// Calls that fail together share one prompt; a token another call already
// replaced is simply retried.
let asking = null;
function askToken(rejected) {
  if (authToken() && authToken() !== rejected) return Promise.resolve(true);
  if (!asking) {
    asking = Promise.resolve().then(() => {
      const given = window.prompt('This mlambda server needs an access token (serve --auth-token-file):');
      if (given && given.trim()) sessionStorage.setItem(TOKEN_KEY, given.trim());
      return Boolean(given && given.trim());
    }).finally(() => { asking = null; });
  }
  return asking;
}

async function call(method, path, opts = {}, retried = false) {
  const { body, headers = {}, raw = false } = opts;
  const init = { method, headers: { ...headers } };
  const token = authToken();
  if (token) init.headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) {
    if (body instanceof Blob || body instanceof ArrayBuffer || typeof body === 'string') init.body = body;
    else { init.body = JSON.stringify(body); init.headers['Content-Type'] = 'application/json'; }
  }
  const started = performance.now();
  const res = await fetch(path, init);
  const elapsedMs = performance.now() - started;
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = raw ? text : null; }
  if (res.status === 401 && !retried) {
    if (await askToken(token)) return call(method, path, opts, true);
  }
  if (!res.ok) {
    const msg = (data && data.error) || text || res.statusText;
    const err = new Error(`${res.status}: ${msg}`);
    err.status = res.status;
    throw err;
  }
  return raw ? { data, text, elapsedMs, status: res.status } : data;
}

export const api = {
  health: () => call('GET', '/v2/health/ready', { raw: true }),
  models: () => call('GET', '/api/v2/models'),
  model: (name) => call('GET', `/api/v2/models/${encodeURIComponent(name)}`),
  deleteVersion: (name, v) => call('DELETE', `/api/v2/models/${encodeURIComponent(name)}/versions/${v}`),
  deleteModel: (name) => call('DELETE', `/api/v2/models/${encodeURIComponent(name)}`),
  upload: (file, { name, description } = {}) => {
    const q = new URLSearchParams();
    if (name) q.set('name', name);
    if (description) q.set('description', description);
    return call('POST', `/api/v2/models/upload?${q}`, { body: file, headers: { 'Content-Type': 'application/gzip' } });
  },
  apps: () => call('GET', '/api/v2/applications'),
  app: (name) => call('GET', `/api/v2/applications/${encodeURIComponent(name)}`),
  putApp: (spec) => call('PUT', `/api/v2/applications/${encodeURIComponent(spec.name)}`, { body: spec }),
  createApp: (spec) => call('POST', '/api/v2/applications', { body: spec }),
  deleteApp: (name) => call('DELETE', `/api/v2/applications/${encodeURIComponent(name)}`),
  stats: () => call('GET', '/api/v2/stats'),
  gateway: (app, payload) => call('POST', `/gateway/application/${encodeURIComponent(app)}`, { body: payload, raw: true }),
  infer: (model, version, payload) =>
    call('POST', `/v2/models/${encodeURIComponent(model)}/versions/${version}/infer`, { body: payload, raw: true }),
};

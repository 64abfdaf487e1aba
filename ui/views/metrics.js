// Metrics: request rate, error rate and latency percentiles per model version
// and application, polled from /api/v2/stats and drawn as small charts.
import { api } from '../api.js';
import { h, mount } from '../dom.js';

const HISTORY = 60; // samples kept per series
const history = new Map(); // key -> [{t, requests, errors, p50, p95, p99}]

function spark(values, label) {
  const w = 300, hgt = 60;
  const max = Math.max(1e-9, ...values);
  const pts = values.map((v, i) => `${(i / Math.max(1, HISTORY - 1)) * w},${hgt - 4 - (v / max) * (hgt - 8)}`).join(' ');
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} ${hgt}`);
  svg.setAttribute('class', 'chart');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', label);
  const axis = document.createElementNS('http://www.w3.org/2000/svg', 'line');
  axis.setAttribute('x1', '0'); axis.setAttribute('x2', String(w));
  axis.setAttribute('y1', String(hgt - 4)); axis.setAttribute('y2', String(hgt - 4));
  axis.setAttribute('stroke', '#dde1e8');
  svg.append(axis);
  const line = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
  line.setAttribute('points', pts);
  svg.append(line);
  return svg;
}

function rates(samples) {
  const out = [];
  for (let i = 1; i < samples.length; i++) {
    const dt = (samples[i].t - samples[i - 1].t) / 1000 || 1;
    out.push({ rps: Math.max(0, samples[i].requests - samples[i - 1].requests) / dt,
      eps: Math.max(0, samples[i].errors - samples[i - 1].errors) / dt });
  }
  return out;
}

const values = (r) => r.map((x) => x.rps);

function card(key, samples) {
  const last = samples[samples.length - 1];
  const r = rates(samples);
  const lastRate = r.length ? r[r.length - 1] : { rps: 0, eps: 0 };
  const fmt = (x) => (x == null ? '—' : `${Number(x).toFixed(2)} ms`);
  return h('section', { class: 'card', 'aria-label': key },
    h('h2', { style: 'margin-top:0' }, key),
    h('div', { class: 'kv small' },
      h('span', { class: 'muted' }, 'requests'), h('span', {}, `${last.requests} total · ${lastRate.rps.toFixed(1)}/s`),
      h('span', { class: 'muted' }, 'errors'), h('span', {}, `${last.errors} total · ${lastRate.eps.toFixed(1)}/s`),
      h('span', { class: 'muted' }, 'latency'), h('span', {}, `p50 ${fmt(last.p50_ms)} · p95 ${fmt(last.p95_ms)} · p99 ${fmt(last.p99_ms)}`)),
    values(r).length < 2 ? h('p', { class: 'small muted' }, 'Charts fill in as samples arrive every 2 s.') : null,
    h('div', { class: 'small muted' }, 'requests/s'), spark(r.map((x) => x.rps), `${key} request rate`),
    h('div', { class: 'small muted' }, 'p95 latency (ms)'), spark(samples.map((s) => s.p95_ms || 0), `${key} p95 latency`));
}

export function metricsView(root, isActive) {
  const grid = h('div', { class: 'grid' });
  const status = h('p', { class: 'muted small', role: 'status' }, 'Loading…');
  mount(root, h('h1', {}, 'Metrics'), status, grid,
    h('p', { class: 'muted small' }, 'Prometheus format: ', h('a', { href: '/metrics' }, '/metrics')));
  const tick = async () => {
    if (!isActive()) return;
    try {
      const stats = await api.stats();
      const now = Date.now();
      const rows = [...(stats.applications || []).map((a) => [`app ${a.name}`, a]),
        ...(stats.models || []).map((m) => [`model ${m.name}:${m.version}`, m])];
      for (const [key, s] of rows) {
        const arr = history.get(key) || [];
        arr.push({ t: now, ...s });
        while (arr.length > HISTORY) arr.shift();
        history.set(key, arr);
      }
      status.textContent = `Updated ${new Date(now).toLocaleTimeString()} · refreshes every 2 s`;
      if (!rows.length) mount(grid, h('div', { class: 'empty card' }, 'No requests served yet. Send one from a Test console.'));
      else mount(grid, rows.map(([key]) => card(key, history.get(key))));
    } catch (ex) { status.textContent = ex.message; }
    setTimeout(tick, 2000);
  };
  tick();
}

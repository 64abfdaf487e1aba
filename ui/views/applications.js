// Applications: the list and the create/edit form (single model or a pipeline
// of stages, each stage a set of weighted model variants).
import { api } from '../api.js';
import { h, mount, toast, fmtTime } from '../dom.js';
import { contractTable } from './models.js';

function stagesText(app) {
  return (app.stages || []).map((s) => s.variants.map((v) => `${v.model}${s.variants.length > 1 ? ` (${v.weight}%)` : ''}`).join(' | ')).join(' → ');
}

export async function applicationsView(root) {
  const list = h('div', { class: 'card' }, h('p', { class: 'muted' }, 'Loading…'));
  mount(root, h('div', { class: 'row' }, h('h1', {}, 'Applications'), h('span', { class: 'spacer' }),
    h('a', { class: 'button primary', href: '#/applications/new' }, 'Add New')), list);
  try {
    const { applications } = await api.apps();
    if (!applications.length) {
      mount(list, h('div', { class: 'empty' }, 'No applications yet. ',
        h('a', { href: '#/applications/new' }, 'Add one'), ' or run ', h('code', {}, 'mlambda apply -f app.yaml'), '.'));
      return;
    }
    mount(list, h('table', { 'aria-label': 'Applications' },
      h('thead', {}, h('tr', {}, ['Application', 'Stages', 'Updated', ''].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, applications.map((a) => h('tr', {},
        h('td', {}, h('a', { href: `#/applications/${encodeURIComponent(a.name)}` }, a.name)),
        h('td', {}, stagesText(a)),
        h('td', {}, fmtTime(a.updated_at || a.created_at)),
        h('td', {}, h('a', { class: 'button', href: `#/test/app/${encodeURIComponent(a.name)}` }, 'Test')))))));
  } catch (ex) { mount(list, h('div', { class: 'error' }, ex.message)); }
}

async function allVersions() {
  const { models } = await api.models();
  const details = await Promise.all(models.map((m) => api.model(m.name)));
  return details.flatMap((m) => (m.versions || []).map((v) => `${v.name}:${v.version}`)).sort();
}

export async function applicationView(root, name) {
  mount(root, h('p', { class: 'muted' }, 'Loading…'));
  let app;
  try { app = await api.app(name); } catch (ex) {
    mount(root, h('a', { href: '#/applications' }, '← Applications'), h('div', { class: 'error' }, ex.message));
    return;
  }
  mount(root,
    h('a', { href: '#/applications' }, '← Applications'),
    h('div', { class: 'row' }, h('h1', {}, app.name), h('span', { class: 'spacer' }),
      h('a', { class: 'button primary', href: `#/test/app/${encodeURIComponent(app.name)}` }, 'Test'),
      h('a', { class: 'button', href: `#/applications/${encodeURIComponent(app.name)}/edit` }, 'Edit'),
      h('button', {
        class: 'danger', onclick: async () => {
          if (!confirm(`Delete application ${app.name}?`)) return;
          try { await api.deleteApp(app.name); toast(`Deleted ${app.name}`, true); location.hash = '#/applications'; }
          catch (ex) { toast(ex.message); }
        },
      }, 'Delete')),
    h('section', { class: 'card' }, h('h2', {}, 'Stages'),
      (app.stages || []).map((s, i) => h('div', { class: 'stage' }, h('strong', {}, `Stage ${i + 1}`),
        h('ul', {}, s.variants.map((v) => h('li', {}, `${v.model} — weight ${v.weight}`)))))),
    h('section', { class: 'card' }, h('h2', {}, 'Contract'), contractTable(app.contract)),
    h('p', { class: 'muted small' }, `Created ${fmtTime(app.created_at)} · updated ${fmtTime(app.updated_at)}`));
}

// The form edits a list of stages; each stage a list of {model, weight}.
export async function applicationForm(root, existingName) {
  mount(root, h('p', { class: 'muted' }, 'Loading…'));
  let versions = [];
  let existing = null;
  try {
    versions = await allVersions();
    if (existingName) existing = await api.app(existingName);
  } catch (ex) { mount(root, h('div', { class: 'error' }, ex.message)); return; }
  if (!versions.length) {
    mount(root, h('h1', {}, 'New application'), h('div', { class: 'empty card' },
      'Upload a model first: an application serves model versions. ', h('a', { href: '#/models' }, 'Go to Models')));
    return;
  }
  let stages = existing ? existing.stages.map((s) => s.variants.map((v) => ({ ...v })))
    : [[{ model: versions[versions.length - 1], weight: 100 }]];

  const nameInput = h('input', { type: 'text', id: 'app-name', required: true, value: existing ? existing.name : '',
    readonly: existing ? true : null, pattern: '[A-Za-z0-9][A-Za-z0-9._-]*', autocomplete: 'off' });
  const stagesBox = h('div', {});
  const err = h('div', { class: 'error', role: 'alert', id: 'app-error' });

  const renderStages = () => {
    mount(stagesBox, stages.map((variants, si) => {
      const sum = variants.reduce((a, v) => a + Number(v.weight || 0), 0);
      return h('fieldset', { class: 'stage' },
        h('legend', {}, `Stage ${si + 1}`),
        variants.map((v, vi) => h('div', { class: 'variant' },
          h('div', {}, h('label', { for: `model-${si}-${vi}` }, 'Model version'),
            h('select', { id: `model-${si}-${vi}`, onchange: (e) => { v.model = e.target.value; } },
              versions.map((mv) => h('option', { value: mv, selected: mv === v.model }, mv)))),
          h('div', {}, h('label', { for: `weight-${si}-${vi}` }, 'Weight'),
            h('input', { type: 'number', id: `weight-${si}-${vi}`, min: 0, max: 100, value: v.weight, style: 'min-width:80px;width:90px',
              oninput: (e) => { v.weight = Number(e.target.value); renderSum(si); } })),
          variants.length > 1 ? h('button', { type: 'button', 'aria-label': `Remove variant ${vi + 1} of stage ${si + 1}`,
            onclick: () => { variants.splice(vi, 1); renderStages(); } }, 'Remove') : null)),
        h('div', { class: 'row' },
          h('button', { type: 'button', onclick: () => { variants.push({ model: versions[0], weight: 0 }); renderStages(); } }, 'Add variant'),
          stages.length > 1 ? h('button', { type: 'button', class: 'danger', onclick: () => { stages.splice(si, 1); renderStages(); } }, 'Remove stage') : null,
          h('span', { class: sum === 100 ? 'muted small' : 'error small', id: `sum-${si}` }, `weights sum to ${sum}`)));
    }));
  };
  const renderSum = (si) => {
    const sum = stages[si].reduce((a, v) => a + Number(v.weight || 0), 0);
    const el = document.getElementById(`sum-${si}`);
    el.textContent = `weights sum to ${sum}`;
    el.className = sum === 100 ? 'muted small' : 'error small';
  };
  renderStages();

  const submit = async (e) => {
    e.preventDefault();
    err.textContent = '';
    const name = nameInput.value.trim();
    if (!name) { err.textContent = 'Give the application a name.'; nameInput.focus(); return; }
    for (const [i, s] of stages.entries()) {
      const sum = s.reduce((a, v) => a + Number(v.weight || 0), 0);
      if (sum !== 100) { err.textContent = `Stage ${i + 1}: weights must sum to 100 (now ${sum}).`; return; }
    }
    const spec = stages.length === 1 && stages[0].length === 1
      ? { kind: 'Application', name, singular: { model: stages[0][0].model } }
      : { kind: 'Application', name, pipeline: stages.map((s) => s.map((v) => ({ model: v.model, weight: Number(v.weight) }))) };
    try {
      if (existing) await api.putApp(spec); else await api.createApp(spec);
      toast(`${existing ? 'Updated' : 'Created'} application ${name}`, true);
      location.hash = `#/applications/${encodeURIComponent(name)}`;
    } catch (ex) { err.textContent = ex.message; }
  };

  mount(root,
    h('a', { href: '#/applications' }, '← Applications'),
    h('h1', {}, existing ? `Edit ${existing.name}` : 'New application'),
    h('form', { class: 'card', onsubmit: submit, 'aria-label': 'Application' },
      h('label', { for: 'app-name' }, 'Name'), nameInput,
      h('h2', {}, 'Stages'),
      h('p', { class: 'muted small' }, 'One stage with one variant serves a single model. More stages make a pipeline: each stage feeds the next; a stage with several variants splits traffic by weight.'),
      stagesBox,
      h('div', { class: 'row' },
        h('button', { type: 'button', onclick: () => { stages.push([{ model: versions[0], weight: 100 }]); renderStages(); } }, 'Add stage'),
        h('span', { class: 'spacer' }),
        h('button', { type: 'submit', class: 'primary', id: 'app-submit' }, existing ? 'Save' : 'Create application')),
      err));
  if (!existing) nameInput.focus();
}

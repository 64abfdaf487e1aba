// Models: the list (with upload) and one model's versions and contracts.
import { api } from '../api.js';
import { h, mount, toast, fmtTime, shapeText } from '../dom.js';

export function contractTable(contract) {
  if (!contract) return h('p', { class: 'muted' }, 'No contract.');
  const rows = (dir, fields) => (fields || []).map((f) =>
    h('tr', {}, h('td', {}, dir), h('td', {}, h('code', {}, f.name)), h('td', {}, f.dtype),
      h('td', {}, h('code', {}, shapeText(f.shape))), h('td', {}, f.profile || '')));
  return h('table', { class: 'contract' },
    h('thead', {}, h('tr', {}, ['', 'name', 'dtype', 'shape', 'profile'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, rows('input', contract.inputs), rows('output', contract.outputs)));
}

function labelTags(labels) {
  return Object.entries(labels || {}).map(([k, v]) => h('span', { class: 'tag' }, `${k}=${v}`));
}

function uploadCard(onDone) {
  const file = h('input', { type: 'file', id: 'upload-file', accept: '.tar.gz,.tgz,application/gzip', required: true });
  const name = h('input', { type: 'text', id: 'upload-name', placeholder: 'from serving.yaml' });
  const desc = h('input', { type: 'text', id: 'upload-description' });
  const err = h('div', { class: 'error', role: 'alert' });
  const btn = h('button', { class: 'primary', type: 'submit' }, 'Upload');
  const form = h('form', {
    class: 'card', 'aria-label': 'Upload a model',
    onsubmit: async (e) => {
      e.preventDefault();
      err.textContent = '';
      if (!file.files[0]) { err.textContent = 'Choose a .tar.gz of the model folder first.'; return; }
      btn.disabled = true;
      btn.textContent = 'Uploading…';
      try {
        const res = await api.upload(file.files[0], { name: name.value.trim(), description: desc.value.trim() });
        toast(`Uploaded ${res.version.name}:${res.version.version}`, true);
        onDone();
      } catch (ex) { err.textContent = ex.message; }
      finally { btn.disabled = false; btn.textContent = 'Upload'; }
    },
  },
  h('h2', {}, 'Upload a model'),
  h('p', { class: 'muted small' }, 'A tar.gz of the model folder (ONNX file, optional serving.yaml). ',
    'From a shell: ', h('code', {}, 'mlambda upload --name NAME')),
  h('div', { class: 'row' },
    h('div', {}, h('label', { for: 'upload-file' }, 'Archive'), file),
    h('div', {}, h('label', { for: 'upload-name' }, 'Name (optional)'), name),
    h('div', {}, h('label', { for: 'upload-description' }, 'Description'), desc),
    h('div', { style: 'align-self:end' }, btn)),
  err);
  return form;
}

export async function modelsView(root) {
  const list = h('div', { class: 'card' }, h('p', { class: 'muted' }, 'Loading…'));
  const refresh = async () => {
    try {
      const { models } = await api.models();
      if (!models.length) {
        mount(list, h('div', { class: 'empty' }, 'No models yet. Upload one below or run ',
          h('code', {}, 'mlambda upload'), ' in a model folder.'));
        return;
      }
      mount(list, h('table', { 'aria-label': 'Models' },
        h('thead', {}, h('tr', {}, ['Model', 'Latest version', 'Labels', 'Updated'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, models.map((m) => h('tr', {},
          h('td', {}, h('a', { href: `#/models/${encodeURIComponent(m.name)}` }, m.name),
            m.description ? h('div', { class: 'muted small' }, m.description) : null),
          h('td', {}, m.latest_version ? `v${m.latest_version}` : '—'),
          h('td', {}, labelTags(m.labels)),
          h('td', {}, fmtTime(m.updated_at || m.created_at)))))));
    } catch (ex) { mount(list, h('div', { class: 'error' }, ex.message)); }
  };
  mount(root, h('h1', {}, 'Models'), list, uploadCard(refresh));
  await refresh();
}

export async function modelView(root, name) {
  mount(root, h('p', { class: 'muted' }, 'Loading…'));
  let model;
  try { model = await api.model(name); } catch (ex) {
    mount(root, h('h1', {}, name), h('div', { class: 'error' }, ex.message), h('a', { href: '#/models' }, '← Models'));
    return;
  }
  const versions = [...(model.versions || [])].sort((a, b) => b.version - a.version);
  const versionCard = (v) => h('section', { class: 'card', 'aria-label': `Version ${v.version}` },
    h('div', { class: 'row' },
      h('h2', { style: 'margin:0' }, `${v.name}:${v.version}`),
      h('span', { class: 'tag' }, v.status || 'ready'),
      h('span', { class: 'muted small' }, fmtTime(v.created_at)),
      h('span', { class: 'spacer' }),
      h('a', { class: 'button', href: `#/test/model/${encodeURIComponent(v.name)}/${v.version}` }, 'Test'),
      h('button', {
        class: 'danger', onclick: async () => {
          if (!confirm(`Delete ${v.name}:${v.version}? This cannot be undone.`)) return;
          try { await api.deleteVersion(v.name, v.version); toast(`Deleted ${v.name}:${v.version}`, true); modelView(root, name); }
          catch (ex) { toast(ex.message); }
        },
      }, 'Delete')),
    h('div', { class: 'kv small' },
      h('span', { class: 'muted' }, 'runtime'), h('span', {}, v.runtime || ''),
      h('span', { class: 'muted' }, 'digest'), h('code', {}, v.digest || ''),
      h('span', { class: 'muted' }, 'size'), h('span', {}, v.size_bytes != null ? `${v.size_bytes} bytes` : '')),
    h('h2', {}, 'Contract'), contractTable(v.contract),
    v.metadata && Object.keys(v.metadata).length ? [h('h2', {}, 'Metadata'), h('pre', {}, JSON.stringify(v.metadata, null, 2))] : null);
  mount(root,
    h('a', { href: '#/models' }, '← Models'),
    h('h1', {}, model.name),
    model.description ? h('p', {}, model.description) : null,
    h('p', {}, labelTags(model.labels)),
    versions.length ? versions.map(versionCard) : h('div', { class: 'empty card' }, 'This model has no versions.'));
}

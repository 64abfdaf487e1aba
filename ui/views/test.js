// Test console: a form generated from a contract, the call, the rendered answer
// and copyable curl / gRPC snippets for the same request.
import { api, authToken } from '../api.js';
import { h, mount, shapeText } from '../dom.js';

const KSERVE_TYPES = { float: 'FP32', double: 'FP64', float16: 'FP16', bfloat16: 'BF16', int8: 'INT8', int16: 'INT16',
  int32: 'INT32', int64: 'INT64', uint8: 'UINT8', uint16: 'UINT16', uint32: 'UINT32', uint64: 'UINT64', bool: 'BOOL', string: 'BYTES' };
const TF_TYPES = { float: 'DT_FLOAT', double: 'DT_DOUBLE', int32: 'DT_INT32', int64: 'DT_INT64', bool: 'DT_BOOL', string: 'DT_STRING',
  int8: 'DT_INT8', uint8: 'DT_UINT8', int16: 'DT_INT16', uint16: 'DT_UINT16', float16: 'DT_HALF' };
const TF_VAL = { float: 'float_val', double: 'double_val', int32: 'int_val', int64: 'int64_val', bool: 'bool_val', string: 'string_val',
  int8: 'int_val', uint8: 'int_val', int16: 'int_val', uint16: 'int_val', float16: 'half_val' };

// A zero-filled example of a shape (-1 dims become 1).
function example(shape, dtype) {
  const zero = dtype === 'string' ? 'hello' : dtype === 'bool' ? false : 0;
  const dims = (shape || [1]).map((d) => (d < 0 ? 1 : d));
  const build = (i) => (i === dims.length ? zero : Array.from({ length: Math.min(dims[i], 64) }, () => build(i + 1)));
  return build(0);
}

// Fits words into a string field's shape: [-1] gets one word per element,
// [-1,1] one word per row, scalars the whole text.
function stringValue(text, shape, split) {
  const words = split ? text.trim().split(/\s+/).filter(Boolean) : [text];
  if (!shape || shape.length === 0) return text;
  if (shape.length === 1) return shape[0] === 1 ? [text] : words;
  if (shape.length === 2 && shape[1] === 1) return words.map((w) => [w]);
  if (shape.length === 2 && shape[0] === 1) return [words];
  return words;
}

function flatten(v) { return Array.isArray(v) ? v.flatMap(flatten) : [v]; }
function shapeOf(v) { const s = []; while (Array.isArray(v)) { s.push(v.length); v = v[0]; } return s; }

function renderValue(v) {
  const flat = flatten(v);
  if (flat.length && flat.every((x) => typeof x === 'string')) return flat.join(' ');
  return JSON.stringify(v);
}

export async function testView(root, kind, name, version) {
  mount(root, h('p', { class: 'muted' }, 'Loading…'));
  let contract;
  let title;
  try {
    if (kind === 'app') {
      contract = (await api.app(name)).contract;
      title = `Test application ${name}`;
    } else {
      const model = await api.model(name);
      const v = (model.versions || []).find((x) => String(x.version) === String(version));
      if (!v) throw new Error(`404: version ${version} of ${name} not found`);
      contract = v.contract;
      title = `Test model ${name}:${version}`;
    }
  } catch (ex) { mount(root, h('h1', {}, name), h('div', { class: 'error' }, ex.message)); return; }

  const fields = (contract && contract.inputs) || [];
  const editors = fields.map((f, i) => {
    const id = `input-${i}`;
    if (f.dtype === 'string') {
      const text = h('input', { type: 'text', id, value: 'hello', 'aria-describedby': `${id}-help`, style: 'width:100%' });
      const split = h('input', { type: 'checkbox', id: `${id}-split`, checked: !(f.shape || []).every((d) => d === 1) });
      return { f, get: () => stringValue(text.value, f.shape, split.checked),
        el: h('div', {}, h('label', { for: id }, `${f.name} (string ${shapeText(f.shape)})`), text,
          h('div', { class: 'row small muted', id: `${id}-help` }, split, h('label', { for: `${id}-split`, style: 'margin:0' }, 'split into words'))) };
    }
    const area = h('textarea', { id, spellcheck: 'false' }, JSON.stringify(example(f.shape, f.dtype)));
    return { f, get: () => JSON.parse(area.value),
      el: h('div', {}, h('label', { for: id }, `${f.name} (${f.dtype} ${shapeText(f.shape)}, JSON)`), area) };
  });

  const result = h('div', { id: 'test-result', 'aria-live': 'polite' });
  const snippets = h('div', {});
  const host = location.host;
  const grpcHost = `${location.hostname}:9091`;

  const buildPayload = () => {
    const values = Object.fromEntries(editors.map((e) => [e.f.name, e.get()]));
    if (kind === 'app') return { values, body: values };
    return { values, body: { inputs: editors.map((e) => ({ name: e.f.name, datatype: KSERVE_TYPES[e.f.dtype] || 'FP32',
      shape: shapeOf(values[e.f.name]), data: flatten(values[e.f.name]) })) } };
  };

  const showSnippets = (values, body) => {
    const path = kind === 'app' ? `/gateway/application/${name}` : `/v2/models/${name}/versions/${version}/infer`;
    // with authentication on, the snippets name the token without showing it
    const auth = authToken() ? ` \\\n  -H "Authorization: Bearer $MLAMBDA_TOKEN"` : '';
    const curl = `curl -s -X POST http://${host}${path}${auth} \\\n  -H 'Content-Type: application/json' \\\n  -d '${JSON.stringify(body)}'`;
    const tfInputs = Object.fromEntries(fields.map((f) => {
      const v = values[f.name];
      return [f.name, { dtype: TF_TYPES[f.dtype] || 'DT_FLOAT', tensor_shape: { dim: shapeOf(v).map((size) => ({ size })) },
        [TF_VAL[f.dtype] || 'float_val']: f.dtype === 'string' ? flatten(v).map((s) => btoa(unescape(encodeURIComponent(s)))) : flatten(v) }];
    }));
    const spec = kind === 'app' ? { name } : { name, version };
    const grpcAuth = authToken() ? ` \\\n  -H "authorization: Bearer $MLAMBDA_TOKEN"` : '';
    const grpc = `grpcurl -plaintext${grpcAuth} -d '${JSON.stringify({ model_spec: spec, inputs: tfInputs })}' \\\n  ${grpcHost} tensorflow.serving.PredictionService/Predict`;
    const cli = `mlambda predict ${kind === 'app' ? name : `${name}:${version}`} --data '${JSON.stringify(values)}'`;
    const block = (label, text) => h('div', {}, h('div', { class: 'row' }, h('strong', {}, label), h('span', { class: 'spacer' }),
      h('button', { type: 'button', onclick: () => navigator.clipboard && navigator.clipboard.writeText(text) }, 'Copy')), h('pre', {}, text));
    mount(snippets, block('curl (REST)', curl), block('gRPC (grpcurl, TF-Serving API)', grpc), block('mlambda CLI', cli));
  };

  const send = async (e) => {
    e.preventDefault();
    let payload;
    try { payload = buildPayload(); } catch (ex) { mount(result, h('div', { class: 'error' }, `Input is not valid JSON: ${ex.message}`)); return; }
    showSnippets(payload.values, payload.body);
    mount(result, h('p', { class: 'muted' }, 'Sending…'));
    try {
      const res = kind === 'app' ? await api.gateway(name, payload.body) : await api.infer(name, version, payload.body);
      const outputs = kind === 'app' ? Object.entries(res.data || {})
        : (res.data.outputs || []).map((o) => [o.name, o.data]);
      mount(result,
        h('p', { class: 'ok' }, `200 OK in ${res.elapsedMs.toFixed(1)} ms`),
        outputs.map(([k, v]) => h('div', {}, h('label', {}, k), h('div', { class: 'answer', 'data-output': k }, renderValue(v)))),
        h('details', {}, h('summary', {}, 'Raw response'), h('pre', {}, JSON.stringify(res.data, null, 2))));
    } catch (ex) { mount(result, h('div', { class: 'error' }, ex.message)); }
  };

  mount(root,
    h('a', { href: kind === 'app' ? `#/applications/${encodeURIComponent(name)}` : `#/models/${encodeURIComponent(name)}` }, '← Back'),
    h('h1', {}, title),
    h('form', { class: 'card', onsubmit: send, 'aria-label': 'Request' },
      fields.length ? editors.map((e) => e.el) : h('p', { class: 'muted' }, 'The contract has no inputs.'),
      h('div', { class: 'row', style: 'margin-top:12px' }, h('button', { class: 'primary', type: 'submit', id: 'test-send' }, 'Send'))),
    h('section', { class: 'card', 'aria-label': 'Response' }, h('h2', {}, 'Response'), result),
    h('section', { class: 'card', 'aria-label': 'Snippets' }, h('h2', {}, 'Same request from code'), snippets));
  const payload = (() => { try { return buildPayload(); } catch { return null; } })();
  if (payload) showSnippets(payload.values, payload.body);
}

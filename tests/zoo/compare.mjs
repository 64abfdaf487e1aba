// Zoo correctness check: every model of tests/zoo/models/manifest.json (built
// by make_zoo.py) runs in onnxruntime-node (bench/node_modules) and in mlambda
// (zoo_run, one process per case) on the same LCG inputs, at each batch size;
// every output must agree in dtype, shape and values (atol/rtol per model,
// default 1e-4 / 1e-3; integer and bool outputs exactly).
//   node tests/zoo/compare.mjs --bin build/tests/zoo/zoo_run [--only NAME] [--verbose] [--negative-control]
// --batch N runs every case at batch N (e.g. 0 or 17); --threads N and --opt L
// set the thread count and optimisation level of the two extra runs (exploration).
// --negative-control feeds mlambda other inputs (another LCG seed): every model
// with float inputs must then FAIL, which shows the comparison has teeth.
// Cases listed in known_failures.txt (open findings, see FINDINGS.md) are
// reported but do not fail the run; one that starts passing is reported so
// the list can be trimmed.
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import { readFileSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
// onnxruntime-node is installed once, for the benchmark, under bench/.
const ort = createRequire(join(here, '..', '..', 'bench', 'package.json'))('onnxruntime-node');

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1] && !all[i + 1].startsWith('--') ? all[i + 1] : true]);
  return acc;
}, []));
const bin = args.bin || join(here, '..', '..', 'build', 'tests', 'zoo', 'zoo_run');
const modelsDir = join(here, 'models');
const manifest = JSON.parse(readFileSync(join(modelsDir, 'manifest.json'), 'utf8'));
// "model" (the whole model) or "model/output" (one output) per line
const known = new Set(readFileSync(join(here, 'known_failures.txt'), 'utf8').split('\n')
  .map((l) => l.replace(/#.*/, '').trim()).filter(Boolean).map((l) => l.split(/\s+/)[0]));
const work = mkdtempSync(join(tmpdir(), 'mlambda-zoo-'));

// float32 -> float16 bits, round to nearest even (inputs are exact in fp16 anyway).
const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);
function toHalf(v) {
  f32[0] = v;
  const x = u32[0], sign = (x >>> 16) & 0x8000, exp = (x >>> 23) & 0xff, man = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (man ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = man | 0x800000, shift = 14 - e;
    let h = m >>> shift;
    const rem = m & ((1 << shift) - 1), half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (man >>> 13);
  const rem = man & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  return sign | h;
}
function fromHalf(h) {
  const s = h & 0x8000 ? -1 : 1, e = (h >>> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

// Must match make_input() in zoo_run.c element for element.
function lcgInput(spec, idx, dims) {
  const shape = spec.shape.map((d) => (typeof d === 'string' ? dims[d] : d));
  const n = shape.reduce((a, b) => a * b, 1);
  let state = (12345 + idx) >>> 0;
  const next = () => { state = (Math.imul(state, 1664525) + 1013904223) >>> 0; return state / 4294967296; };
  const max = spec.max ?? 10, frac = spec.frac ?? 0.5, scale = spec.scale ?? 1;
  const gen = (f) => Array.from({ length: n }, () => f(next()));
  switch (spec.dtype) {
    case 'float32': return new ort.Tensor('float32', Float32Array.from(gen((u) => (u * 2 - 1) * scale)), shape);
    case 'float64': return new ort.Tensor('float64', Float64Array.from(gen((u) => (u * 2 - 1) * scale)), shape);
    case 'float16': return new ort.Tensor('float16', Uint16Array.from(gen((u) => toHalf(Math.floor(u * 2048) / 1024 - 1))), shape);
    case 'int64': return new ort.Tensor('int64', BigInt64Array.from(gen((u) => BigInt(Math.floor(u * max)))), shape);
    case 'int32': return new ort.Tensor('int32', Int32Array.from(gen((u) => Math.floor(u * max))), shape);
    case 'bool': return new ort.Tensor('bool', Uint8Array.from(gen((u) => (u < frac ? 1 : 0))), shape);
    default: throw new Error(`input dtype ${spec.dtype} not supported by the zoo`);
  }
}

// ort type -> [mlambda dtype name, typed-array reader of raw bytes, exact?]
const TYPES = {
  float32: ['float', (b) => new Float32Array(b), false],
  float64: ['double', (b) => new Float64Array(b), false],
  float16: ['float16', (b) => Float64Array.from(new Uint16Array(b), fromHalf), false],
  int64: ['int64', (b) => new BigInt64Array(b), true],
  int32: ['int32', (b) => new Int32Array(b), true],
  int8: ['int8', (b) => new Int8Array(b), true],
  uint8: ['uint8', (b) => new Uint8Array(b), true],
  bool: ['bool', (b) => new Uint8Array(b), true],
};

function compareOne(ortT, meta, file, atol, rtol) {
  const t = TYPES[ortT.type];
  if (!t) return `ort output type ${ortT.type} not handled by compare.mjs`;
  if (meta.dtype !== t[0]) return `dtype ${meta.dtype}, onnxruntime ${t[0]}`;
  if (JSON.stringify(meta.shape) !== JSON.stringify(ortT.dims)) return `shape [${meta.shape}], onnxruntime [${ortT.dims}]`;
  const raw = existsSync(file) ? readFileSync(file) : Buffer.alloc(0);
  const ours = t[1](raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
  const theirs = ortT.type === 'float16' ? Float64Array.from(ortT.data, fromHalf) : ortT.data;
  if (ours.length !== theirs.length) return `${ours.length} elements, onnxruntime ${theirs.length}`;
  let worst = 0, at = -1, bad = 0;
  for (let i = 0; i < ours.length; i++) {
    const a = Number(ours[i]), b = Number(theirs[i]);
    let err;
    if (t[2]) err = a === b ? 0 : Infinity;
    else if (Number.isNaN(a) || Number.isNaN(b)) err = Number.isNaN(a) && Number.isNaN(b) ? 0 : Infinity;
    else if (!Number.isFinite(a) || !Number.isFinite(b)) err = a === b ? 0 : Infinity;
    else err = Math.abs(a - b) / (atol + rtol * Math.abs(b));
    if (err > 1) bad++;
    if (err > worst) { worst = err; at = i; }
  }
  if (worst <= 1) return null;
  return `${bad}/${ours.length} elements off; worst at [${at}]: mlambda ${ours[at]} vs onnxruntime ${theirs[at]} ` +
    `(${worst === Infinity ? 'exact mismatch' : `${worst.toFixed(1)}x tolerance`})`;
}

// The useful line of a failed run: a sanitizer's verdict when zoo_run was built with one.
const errLine = (text) => {
  const lines = (text || '').trim().split('\n');
  return lines.find((l) => /runtime error|SUMMARY: \w+Sanitizer/.test(l)) || lines.pop();
};

let passed = 0, failed = 0, knownFail = 0, knownPartial = 0, fixedKnown = 0;
for (const m of manifest) {
  if (args.only && m.name !== args.only) continue;
  const file = join(modelsDir, m.file);
  let session;
  try {
    session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1, interOpNumThreads: 1,
      executionMode: 'sequential', graphOptimizationLevel: m.ort_opt || 'all', logSeverityLevel: 3 });
  } catch (e) {
    console.log(`${m.name.padEnd(22)} onnxruntime cannot load it (zoo bug): ${e.message.split('\n')[0]}`);
    failed++;
    continue;
  }
  const problems = [], knownProblems = [], weak = new Set(), knownOutputs = new Set();
  let compared = 0;
  // each model's cases (batch 1, batch 3, ...) run with 1 thread at full
  // optimisation; the last case runs again with 2 threads and again with graph
  // optimisation off, so thread partitioning and fusions are checked too.
  // --batch N (exploration): every case at batch N instead
  if (args.batch !== undefined) m.cases = m.cases.map((c) => ('batch' in c ? { ...c, batch: Number(args.batch) } : c));
  const last = m.cases[m.cases.length - 1];
  // --threads N / --opt L (exploration) change the extra runs
  const runs = [...m.cases.map((d) => [d, 1, 2]), [last, Number(args.threads || 2), 2], [last, 1, Number(args.opt ?? 0)]];
  for (const [dims, nThreads, opt] of runs) {
    const batch = Object.entries(dims).map(([k, v]) => `${k}=${v}`).join(',') +
      (nThreads !== 1 ? ` threads=${nThreads}` : '') + (opt !== 2 ? ` opt=${opt}` : '');
    const feeds = Object.fromEntries(m.inputs.map((s, i) => [s.name, lcgInput(s, i, dims)]));
    let res;
    try {
      res = await session.run(feeds);
    } catch (e) {
      // onnxruntime rejects the case (e.g. batch 0 through a Reshape): nothing to compare against
      console.log(`${m.name.padEnd(22)} ${batch}: onnxruntime cannot run it (${e.message.split('\n')[0].slice(0, 120)}); skipped`);
      continue;
    }
    const outDir = mkdtempSync(join(work, `${m.name}-`));
    const p = spawnSync(bin, ['--model', file, '--spec', JSON.stringify(m.inputs), '--dims', JSON.stringify(dims),
      '--threads', String(nThreads), '--opt', String(opt), '--out', outDir, ...(args['negative-control'] ? ['--seed', '999'] : [])], { encoding: 'utf8' });
    if (p.status !== 0) {
      problems.push(`${batch}: mlambda ${p.signal ? `crashed (${p.signal})` : 'failed'}: ` +
        `${errLine(p.stderr) || `exit status ${p.status}`}`);
      continue;
    }
    const metas = JSON.parse(p.stdout.trim().split('\n').pop());
    compared++;
    session.outputNames.forEach((name, i) => {
      // a constant or non-finite float output compares equal too easily: flag it
      const d = res[name].data;
      if (res[name].type.startsWith('float') && res[name].type !== 'float16' && d.length > 1 &&
          (d.every((v) => v === d[0]) || d.some((v) => !Number.isFinite(v)))) weak.add(name);
      const meta = metas.find((x) => x.name === name);
      const err = meta ? compareOne(res[name], meta, join(outDir, `out${metas.indexOf(meta)}.bin`), m.atol, m.rtol)
        : 'mlambda did not return it';
      if (err && known.has(`${m.name}/${name}`)) {
        knownProblems.push(`${batch} output ${i} '${name}': ${err}`);
        knownOutputs.add(name);
      } else if (err) problems.push(`${batch} output ${i} '${name}': ${err}`);
    });
  }
  if (!compared && !problems.length) problems.push('no case could be compared (onnxruntime ran none)');
  const isKnown = known.has(m.name);
  const staleOutputs = [...known].filter((k) => k.startsWith(`${m.name}/`) && !knownOutputs.has(k.slice(m.name.length + 1)));
  if (!problems.length && knownProblems.length) {
    knownPartial++;
    console.log(`${m.name.padEnd(22)} ok except known-failing outputs ${[...knownOutputs].join(',')} (see FINDINGS.md)`);
    if (args.verbose) for (const pr of knownProblems) console.log(`    ${pr}`);
  } else if (!problems.length) {
    passed++;
    if (isKnown) { fixedKnown++; console.log(`${m.name.padEnd(22)} ok (listed in known_failures.txt: now passes, remove it)`); }
    else console.log(`${m.name.padEnd(22)} ok (opset ${m.opset}, dims ${m.cases.map((c) => Object.values(c).join('x')).join(' ')}, ` +
      `${session.outputNames.length} outputs${weak.size ? `; constant/non-finite in onnxruntime too: ${[...weak].join(',')}` : ''})`);
  } else if (isKnown) {
    knownFail++;
    console.log(`${m.name.padEnd(22)} KNOWN FAILURE (see FINDINGS.md): ${problems[0]}${problems.length > 1 ? ` (+${problems.length - 1} more)` : ''}`);
    if (args.verbose) for (const pr of problems) console.log(`    ${pr}`);
  } else {
    failed++;
    console.log(`${m.name.padEnd(22)} FAIL`);
    for (const pr of problems.slice(0, args.verbose ? 100 : 4)) console.log(`    ${pr}`);
    if (problems.length > 4 && !args.verbose) console.log(`    ... ${problems.length - 4} more (--verbose)`);
  }
  if (staleOutputs.length) console.log(`    listed as known-failing but pass now (trim known_failures.txt): ${staleOutputs.join(',')}`);
}
rmSync(work, { recursive: true, force: true });
console.log('');
if (knownPartial) console.log(`${knownPartial} models pass except outputs listed in known_failures.txt (open findings, FINDINGS.md)`);
if (knownFail) console.log(`${knownFail} models fail as listed in known_failures.txt (open findings, not counted below)`);
if (fixedKnown) console.log(`${fixedKnown} models listed in known_failures.txt now pass: trim the list`);
console.log(`zoo: ${passed + knownPartial} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;

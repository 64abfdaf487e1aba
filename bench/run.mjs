// Engine benchmark: mlambda (bench_engine, a separate process per repetition)
// against onnxruntime-node in this process, same models, same inputs, same
// thread count, alternating so both see the same machine. Outputs are checked
// equal within tolerance before timing counts.
//   node bench/run.mjs --bin build/bench/bench_engine [--threads 2] [--reps 5] [--iters 50] [--smoke] [--only NAME]
import ort from 'onnxruntime-node';
import { spawnSync } from 'node:child_process';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1] && !all[i + 1].startsWith('--') ? all[i + 1] : true]);
  return acc;
}, []));
const smoke = !!args.smoke;
const threads = Number(args.threads || 2);
const reps = Number(args.reps || (smoke ? 1 : 5));
const iters = Number(args.iters || (smoke ? 3 : 50));
const bin = args.bin || join(here, '..', 'build', 'bench', 'bench_engine');
const manifest = JSON.parse(readFileSync(join(here, 'models', 'manifest.json'), 'utf8'));
const work = mkdtempSync(join(tmpdir(), 'mlambda-bench-'));

function lcgInput(spec, idx, batch) {
  const shape = spec.shape.map((d) => (typeof d === 'string' ? batch : d));
  const n = shape.reduce((a, b) => a * b, 1);
  let state = (12345 + idx) >>> 0;
  const next = () => { state = (Math.imul(state, 1664525) + 1013904223) >>> 0; return state / 4294967296; };
  if (spec.dtype === 'string') return new ort.Tensor('string', Array.from({ length: n }, (_, i) => spec.values[i % spec.values.length]), shape);
  if (spec.dtype === 'int64') return new ort.Tensor('int64', BigInt64Array.from({ length: n }, () => BigInt(Math.floor(next() * spec.max))), shape);
  // same float rounding as the C side: double -> float32
  return new ort.Tensor('float32', Float32Array.from({ length: n }, () => next() * 2 - 1), shape);
}

function compare(ortOut, file) {
  const raw = readFileSync(file);
  if (ortOut.type === 'string') {
    const ours = JSON.parse(raw.toString('utf8'));
    return JSON.stringify(ours) === JSON.stringify(ortOut.data) ? { ok: true, diff: 0 } : { ok: false, diff: 'strings differ' };
  }
  const ours = ortOut.type === 'int64' ? new BigInt64Array(raw.buffer, raw.byteOffset, raw.length / 8)
    : new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
  if (ours.length !== ortOut.data.length) return { ok: false, diff: `length ${ours.length} vs ${ortOut.data.length}` };
  let worst = 0;
  for (let i = 0; i < ours.length; i++) {
    const a = Number(ours[i]), b = Number(ortOut.data[i]);
    const err = Math.abs(a - b) / (1e-4 + 1e-3 * Math.abs(b)); // atol 1e-4, rtol 1e-3
    if (!(err <= worst)) worst = err; // NaN-safe
  }
  return { ok: worst <= 1, diff: worst };
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const fmt = (us) => (us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(0)} µs`);

const rows = [];
let failures = 0;
for (const m of manifest) {
  if (args.only && m.name !== args.only) continue;
  const file = isAbsolute(m.file) ? m.file : join(here, 'models', m.file);
  const session = await ort.InferenceSession.create(file, { intraOpNumThreads: threads, interOpNumThreads: 1,
    executionMode: 'sequential', graphOptimizationLevel: 'all' });
  for (const batch of m.batches || [1, 32]) {
    const feeds = Object.fromEntries(m.inputs.map((s, i) => [s.name, lcgInput(s, i, batch)]));
    const outFile = join(work, `${m.name}-${batch}.out`);
    const ml = [], ort_ = [];
    let check = null;
    for (let r = 0; r < reps; r++) {
      // onnxruntime's intra-op workers spin for a while after a run; give them
      // time to park so they do not share the cores with the mlambda process
      await new Promise((res) => setTimeout(res, 250));
      const p = spawnSync(bin, ['--model', file, '--spec', JSON.stringify(m.inputs), '--batch', String(batch),
        '--iters', String(iters), '--threads', String(threads), '--out', outFile], { encoding: 'utf8' });
      if (p.status !== 0) { check = { ok: false, diff: `mlambda failed: ${(p.stderr || '').trim().split('\n').pop()}` }; break; }
      ml.push(JSON.parse(p.stdout.trim().split('\n').pop()).median_us);
      const times = [];
      let out;
      for (let it = -Math.floor(iters / 5) - 2; it < iters; it++) {
        const t0 = process.hrtime.bigint();
        const res = await session.run(feeds);
        const t1 = process.hrtime.bigint();
        if (it >= 0) times.push(Number(t1 - t0) / 1000);
        out = res[session.outputNames[0]];
      }
      ort_.push(median(times));
      if (!check) check = compare(out, outFile);
    }
    const ok = check && check.ok;
    if (!ok) failures++;
    const ratio = ok && ml.length ? median(ml) / median(ort_) : NaN;
    rows.push({ model: m.name, batch, ml, ort: ort_, ratio, ok, diff: check ? check.diff : '?' });
    const r = rows[rows.length - 1];
    console.log(`${r.model.padEnd(14)} b=${String(batch).padEnd(3)} ` +
      (ok ? `mlambda ${fmt(median(ml))} [${fmt(Math.min(...ml))}–${fmt(Math.max(...ml))}]  ` +
        `onnxruntime ${fmt(median(ort_))} [${fmt(Math.min(...ort_))}–${fmt(Math.max(...ort_))}]  ratio ${ratio.toFixed(2)}x`
        : `OUTPUT MISMATCH: ${r.diff}`));
  }
}
rmSync(work, { recursive: true, force: true });

console.log(`\n| model | batch | mlambda median (min–max) | onnxruntime median (min–max) | mlambda / ort |`);
console.log(`|---|---|---|---|---|`);
for (const r of rows) {
  console.log(r.ok ? `| ${r.model} | ${r.batch} | ${fmt(median(r.ml))} (${fmt(Math.min(...r.ml))}–${fmt(Math.max(...r.ml))}) | ` +
    `${fmt(median(r.ort))} (${fmt(Math.min(...r.ort))}–${fmt(Math.max(...r.ort))}) | **${r.ratio.toFixed(2)}×** |`
    : `| ${r.model} | ${r.batch} | output mismatch (${r.diff}) | | |`);
}
console.log(`\n${threads} threads each, ${reps} repetitions of ${iters} timed runs; onnxruntime-node ${ort.env.versions?.common || ''}`);
console.log(`bench: ${rows.length - failures} passed, ${failures} failed`);
process.exitCode = failures ? 1 : 0;

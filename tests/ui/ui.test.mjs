// Browser test of the web UI against a live `mlambda serve` on 127.0.0.1:
// upload a model, create an application, run the Test console and check the
// answer on the page. Screenshots go to tests/ui/artifacts/.
//   MLAMBDA_BIN=build/src/cli/mlambda node tests/ui/ui.test.mjs
import { chromium } from 'playwright-core';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';

const here = dirname(fileURLToPath(import.meta.url));
const bin = resolve(process.env.MLAMBDA_BIN || join(here, '../../build/src/cli/mlambda'));
const artifacts = join(here, 'artifacts');
mkdirSync(artifacts, { recursive: true });

let passed = 0, failed = 0;
async function step(name, fn) {
  try { await fn(); passed++; console.log(`PASS ${name}`); }
  catch (e) { failed++; console.log(`FAIL ${name}: ${e.message.split('\n')[0]}`); throw e; }
}
function expect(cond, msg) { if (!cond) throw new Error(msg); }

function freePort() {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
    s.on('error', rej);
  });
}

async function waitReady(url, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try { if ((await fetch(url)).ok) return; } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server did not become ready at ${url}`);
}

const work = mkdtempSync(join(tmpdir(), 'mlambda-ui-'));
const port = await freePort();
const grpcPort = await freePort();
const base = `http://127.0.0.1:${port}`;
let server, browser;
try {
  execFileSync('/usr/bin/python3', [join(here, 'make_model.py'), join(work, 'echo')]);
  execFileSync('tar', ['-czf', join(work, 'echo.tar.gz'), '-C', join(work, 'echo'), '.']);
  server = spawn(bin, ['serve', '--host', '127.0.0.1', '--port', String(port), '--grpc-port', String(grpcPort),
    '--data-dir', join(work, 'data')], { stdio: ['ignore', 'inherit', 'inherit'] });
  await waitReady(`${base}/v2/health/live`, 15000);

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  const page = await browser.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('dialog', (d) => d.accept());

  await step('home shows the Models section with an empty state', async () => {
    const res = await page.goto(`${base}/`);
    expect(res.ok(), `GET / -> ${res.status()}`);
    expect((res.headers()['content-type'] || '').startsWith('text/html'), 'index.html content type');
    await page.getByRole('heading', { name: 'Models' }).waitFor();
    await page.getByText('No models yet').waitFor();
  });

  await step('keyboard navigation reaches the Applications link', async () => {
    await page.keyboard.press('Tab'); // skip link
    await page.keyboard.press('Tab'); // brand
    await page.keyboard.press('Tab'); // Models
    await page.keyboard.press('Tab'); // Applications
    const focused = await page.evaluate(() => document.activeElement && document.activeElement.textContent);
    expect(focused === 'Applications', `focus is on "${focused}"`);
  });

  await step('upload a model archive from the browser', async () => {
    await page.setInputFiles('#upload-file', join(work, 'echo.tar.gz'));
    await page.click('form[aria-label="Upload a model"] button[type=submit]');
    await page.getByRole('link', { name: 'echo' }).waitFor();
    await page.getByRole('link', { name: 'echo' }).click();
    await page.getByRole('heading', { name: 'echo:1' }).waitFor();
    const contract = await page.locator('table.contract').first().innerText();
    expect(contract.includes('input') && contract.includes('string') && contract.includes('[-1]'), `contract: ${contract}`);
    await page.screenshot({ path: join(artifacts, 'model.png'), fullPage: true });
  });

  await step('create an application with Add New', async () => {
    await page.goto(`${base}/#/applications`);
    await page.getByRole('link', { name: 'Add New' }).click();
    await page.fill('#app-name', 'chat');
    await page.fill('#weight-0-0', '50');
    await page.click('#app-submit');
    const err = await page.locator('#app-error').innerText();
    expect(err.includes('sum to 100'), `weights error shown inline: "${err}"`);
    await page.fill('#weight-0-0', '100');
    await page.click('#app-submit');
    await page.getByRole('heading', { name: 'chat' }).waitFor();
  });

  await step('Test console sends a sentence and shows the answer', async () => {
    await page.getByRole('link', { name: 'Test' }).click();
    await page.fill('#input-0', 'hello there');
    await page.click('#test-send');
    const answer = page.locator('[data-output="output"]');
    await answer.waitFor();
    const text = await answer.innerText();
    expect(text === 'hello there', `answer was "${text}"`);
    const snippet = await page.locator('section[aria-label="Snippets"] pre').first().innerText();
    expect(snippet.includes(`/gateway/application/chat`), 'curl snippet names the gateway');
    await page.screenshot({ path: join(artifacts, 'test-console.png'), fullPage: true });
  });

  await step('metrics page shows the application', async () => {
    await page.goto(`${base}/#/metrics`);
    await page.getByRole('heading', { name: 'app chat' }).waitFor({ timeout: 10000 });
    await page.screenshot({ path: join(artifacts, 'metrics.png'), fullPage: true });
  });

  await step('deleting the model version in use is refused with the server message', async () => {
    await page.goto(`${base}/#/models/echo`);
    await page.getByRole('button', { name: 'Delete' }).click();
    // An earlier step's toast ("Created application chat") may still be on
    // screen for a few seconds, so wait for the refusal itself, not any toast.
    const refusal = page.locator('#toast', { hasText: /^409/ });
    try {
      await refusal.waitFor({ state: 'visible', timeout: 10000 });
    } catch {
      const t = await page.locator('#toast').innerText().catch(() => '(no toast)');
      expect(false, `toast: ${t}`);
    }
  });

  await step('static assets have content types and caching headers', async () => {
    const r = await fetch(`${base}/ui/app.js`);
    expect(r.ok, `app.js ${r.status}`);
    expect((r.headers.get('content-type') || '').includes('javascript'), 'js content type');
    expect(r.headers.get('etag'), 'etag present');
    const again = await fetch(`${base}/ui/app.js`, { headers: { 'If-None-Match': r.headers.get('etag') } });
    expect(again.status === 304, `conditional GET -> ${again.status}`);
  });

  await step('a server with --auth-token-file: the page asks for the token once and works', async () => {
    const tokens = join(work, 'tokens');
    writeFileSync(tokens, 'ui-secret\n', { mode: 0o600 });
    const aport = await freePort();
    const abase = `http://127.0.0.1:${aport}`;
    const authed = spawn(bin, ['serve', '--host', '127.0.0.1', '--port', String(aport), '--no-grpc',
      '--data-dir', join(work, 'data-auth'), '--auth-token-file', tokens], { stdio: ['ignore', 'inherit', 'inherit'] });
    try {
      await waitReady(`${abase}/v2/health/live`, 15000);
      expect((await fetch(`${abase}/api/v2/models`)).status === 401, 'API without a token is 401');
      const ctx = await browser.newContext();
      const p2 = await ctx.newPage();
      let asked = 0;
      p2.on('dialog', (d) => { asked++; d.accept('ui-secret'); });
      await p2.goto(`${abase}/`);
      await p2.getByText('No models yet').waitFor({ timeout: 10000 });
      await p2.goto(`${abase}/#/applications`);
      await p2.getByRole('heading', { name: 'Applications' }).waitFor();
      expect(asked === 1, `asked for the token ${asked} times`);
      await ctx.close();
    } finally {
      authed.kill('SIGTERM');
    }
  });

  await step('no JavaScript errors on any page', async () => {
    expect(pageErrors.length === 0, pageErrors.join('; '));
  });
} catch (e) {
  if (!failed) { failed++; console.log(`FAIL setup: ${e.message}`); }
} finally {
  if (browser) await browser.close();
  if (server) server.kill('SIGTERM');
  if (existsSync(work)) rmSync(work, { recursive: true, force: true });
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed ? 1 : 0;
}

// The dashboard seen by a real browser (Debian's chromium, headless), served
// by the real netrv-collector fed by the real netrv-loadgen over TLS
// (live_collector.py): nodes appear, the lock table lists a resource named
// like an XSS payload as text, the injected violation (two nodes holding it
// in EX) shows up in the feed without a reload, its timeline opens.  Saves
// screenshots as artifacts.
//   node browser.mjs ARTIFACT_DIR COMMAND ARGS...
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

const [artifacts, ...command] = process.argv.slice(2);
if (!artifacts || !command.length) {
  console.error('usage: node browser.mjs ARTIFACT_DIR COMMAND ARGS...');
  process.exit(2);
}
mkdirSync(artifacts, { recursive: true });
const HOSTILE = '<img src=x onerror=window.__pwned=1>';

let failed = 0;
function check(cond, what) {
  console.log((cond ? 'ok - ' : 'FAILED - ') + what);
  if (!cond) failed++;
}

const server = spawn(command[0], command.slice(1), { stdio: ['pipe', 'pipe', 'inherit'] });
const exited = new Promise((ok) => server.on('exit', ok));
const port = await new Promise((ok, fail) => {
  const t = setTimeout(() => fail(new Error('the collector printed no port')), 20000);
  readline.createInterface({ input: server.stdout }).on('line', (l) => {
    const m = /^listening (\d+)$/.exec(l);
    if (m) { clearTimeout(t); ok(Number(m[1])); }
  });
  server.on('exit', (c) => fail(new Error('the collector exited with ' + c)));
});
const profile = mkdtempSync(path.join(tmpdir(), 'netrv-chromium-'));
let ctx;
try {
  ctx = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1400, height: 1100 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const offsite = [];
  page.on('request', (r) => { if (!r.url().startsWith(`http://127.0.0.1:${port}/`)) offsite.push(r.url()); });

  await page.goto(`http://127.0.0.1:${port}/`);
  await page.evaluate(() => { window.__marker = 42; });

  // The load generator starts after the page: everything arrives live.
  server.stdin.write('start\n');

  // Cluster at a glance.
  await page.waitForSelector('#nodes tbody tr[data-node="node2"]', { timeout: 20000 });
  const names = await page.$$eval('#nodes tbody tr td:first-child', (tds) => tds.map((t) => t.textContent));
  check(JSON.stringify(names) === '["node0","node1","node2"]', 'nodes appear: ' + names.join(','));
  const eps = await page.textContent('#nodes tbody tr[data-node="node0"] td:nth-child(5)');
  check(/±\s*1(\.0+)?\s*µs/.test(eps), 'node0 shows its epsilon: ' + eps);
  await page.waitForFunction(() => /SAFE|VIOLATION/.test(document.getElementById('badge-title').textContent), null, { timeout: 20000 });
  check(/verified up to/.test(await page.textContent('#badge-detail')), 'badge says verified up to T');

  // The lock table, hostile name as text (held from 7.5 s to 22.5 s).
  const hostileRow = page.locator('#resources tbody td.name', { hasText: HOSTILE });
  await hostileRow.first().waitFor({ timeout: 30000 });
  check(await hostileRow.count() === 1, 'hostile resource listed as text in the lock table');
  await page.fill('#filter', 'img src');
  await page.waitForFunction(() => document.querySelectorAll('#resources tbody tr').length === 1, null, { timeout: 5000 });
  check((await page.textContent('#resources tbody tr td')) === HOSTILE, 'filter keeps only the matching resource');
  check(/^dlm [0-9a-f]+$/.test(await page.textContent('#resources tbody tr td:nth-child(2)')),
    'the row names its domain and DLM lockspace (one name can live in several)');
  await page.fill('#filter', '');

  // The injected violation reaches the feed without reload.
  await page.waitForFunction(() => document.querySelectorAll('#verdicts li .cls.definite').length > 0, null, { timeout: 20000 });
  check(await page.evaluate(() => window.__marker) === 42, 'no reload happened');
  const item = page.locator('#verdicts li:has(.cls.definite)').first();
  check(/definite/i.test(await item.textContent()), 'feed shows a definite verdict');
  check((await item.locator('.name').textContent()) === HOSTILE, 'verdict resource shown as text');
  await page.waitForFunction(() => /VIOLATIONS: 1 definite/.test(document.getElementById('badge-title').textContent), null, { timeout: 5000 });
  check(true, 'badge counts the violation');

  // Its timeline.
  await page.locator('#verdicts li:has(.cls.definite)').first().click();
  await page.waitForSelector('#detail:not([hidden]) #timeline svg', { timeout: 5000 });
  const lanes = await page.$$eval('#timeline svg g.lane', (g) => g.map((x) => x.getAttribute('data-node')));
  check(lanes.length >= 2, 'timeline has a lane per node: ' + lanes.join(','));
  check(await page.locator('#timeline rect.hold.conflict').count() >= 2, 'conflicting holds highlighted');
  check(await page.locator('#timeline rect.overlap').count() === 1, 'overlap marked');
  check(await page.locator('#timeline g.whisker-g').count() >= 2, 'epsilon whiskers drawn');
  // (no causal arrows: the injected holds have no happens-before facts)
  check(await page.locator('#detail-events tbody tr').count() >= 2, 'events before it listed');
  await page.click('#zoom');
  const whiskerPx = await page.$$eval('#timeline g.whisker-g', (gs) => Math.max(...gs.map((g) => g.getBoundingClientRect().width)));
  check(whiskerPx > 20, 'zoomed to the verdict, epsilon whiskers are visible: ' + whiskerPx.toFixed(0) + ' px');
  check((await page.textContent('#detail-summary')).includes(HOSTILE), 'summary names the resource as text');

  // Nothing hostile became markup or ran; nothing was fetched from elsewhere.
  check(await page.evaluate(() => document.querySelectorAll('img').length) === 0, 'no <img> element created');
  check(await page.evaluate(() => window.__pwned) === undefined, 'hostile onerror never ran');
  check(offsite.length === 0, 'no request left the server: ' + offsite.join(' '));
  check(errors.length === 0, 'no script errors: ' + errors.join('; '));

  await page.screenshot({ path: path.join(artifacts, 'dashboard.png'), fullPage: true });
  await page.locator('#detail').screenshot({ path: path.join(artifacts, 'timeline-zoomed.png') });
  await page.click('#zoom');
  await page.locator('#detail').screenshot({ path: path.join(artifacts, 'timeline.png') });
  console.log('screenshots in ' + artifacts);
} catch (e) {
  console.log('FAILED - ' + (e && e.stack || e));
  failed++;
} finally {
  if (ctx) await ctx.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
  server.stdin.write('quit\n');
  // the driver stops the load generator and the collector (SIGTERM, archive closed)
  const t = setTimeout(() => server.kill('SIGKILL'), 25000);
  await exited;
  clearTimeout(t);
}
console.log(failed ? `${failed} failed` : 'all passed');
process.exit(failed ? 1 : 0);

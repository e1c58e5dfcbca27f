#!/usr/bin/env node
// preflightd e2e: drive a real headless Chromium through a CORS preflight.
//
//   node test.js --page URL --expect ok|cors [--page URL --expect ok|cors]...
//                [--chromium PATH] [--timeout-ms MS]
//
// For each page: fresh browser (fresh profile, so no cached preflight),
// open URL (tests/e2e/chromium/page/index.html served by the appserver),
// wait for the page's fetch() to finish and read its report from #result.
//   ok   -> the cross-origin PUT succeeded and the app echoed len == bytes sent
//   cors -> the fetch failed with a TypeError (blocked by CORS)
// Prints one line per page: "chromium: PASS|FAIL <url> <report-json>" and
// exits 0 iff every page met its expectation (1 otherwise, 2 on usage).
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

function usage(msg) {
  if (msg) console.error(`test.js: ${msg}`);
  console.error('usage: node test.js --page URL --expect ok|cors [...] [--chromium PATH] [--timeout-ms MS]');
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { cases: [], chromium: '/usr/bin/chromium', timeoutMs: 20000 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (v === undefined) usage(`${a} needs a value`);
    i++;
    if (a === '--page') opts.cases.push({ url: v, expect: null });
    else if (a === '--expect') {
      const c = opts.cases[opts.cases.length - 1];
      if (!c || c.expect) usage('--expect must follow --page');
      if (v !== 'ok' && v !== 'cors') usage(`bad --expect ${v}`);
      c.expect = v;
    } else if (a === '--chromium') opts.chromium = v;
    else if (a === '--timeout-ms') opts.timeoutMs = Number(v);
    else usage(`unknown option ${a}`);
  }
  if (!opts.cases.length) usage('no --page');
  for (const c of opts.cases) if (!c.expect) usage(`--page ${c.url} has no --expect`);
  return opts;
}

const LAUNCH_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
  '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-proxy-server',
];

// Run one page in its own browser; returns the page's report object.
async function runPage(opts, url) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'pf-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: opts.chromium,
      headless: true,
      args: LAUNCH_ARGS,
      timeout: opts.timeoutMs,
      // Die of the signal like any other client, so the calling shell sees
      // an interrupted child (Chromium is in our process group and gets it
      // too); Playwright's own handlers would exit(130) instead.
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
    });
    const page = context.pages()[0] || await context.newPage();
    const console_ = [];
    page.on('console', (m) => console_.push(`${m.type()}: ${m.text()}`));
    await page.goto(url, { timeout: opts.timeoutMs });
    await page.waitForSelector('#result[data-done="1"]', { state: 'attached', timeout: opts.timeoutMs });
    const report = JSON.parse(await page.textContent('#result'));
    report.console = console_;
    return report;
  } finally {
    if (context) await context.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

function judge(expect, r) {
  if (expect === 'ok')
    return r.ok === true && r.status === 200 && r.json && r.json.len === r.sent;
  return r.ok === false && r.error === 'TypeError';
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  // Hard bound on the whole run, whatever Chromium does.
  const budget = (opts.timeoutMs * 2 + 5000) * opts.cases.length;
  setTimeout(() => { console.error('test.js: overall timeout'); process.exit(3); }, budget).unref();

  let failed = 0;
  for (const c of opts.cases) {
    let r;
    try {
      r = await runPage(opts, c.url);
    } catch (e) {
      r = { harnessError: String(e && e.message || e) };
    }
    const ok = !r.harnessError && judge(c.expect, r);
    if (!ok) failed++;
    console.log(`chromium: ${ok ? 'PASS' : 'FAIL'} expect=${c.expect} ${c.url} ${JSON.stringify(r)}`);
  }
  process.exit(failed ? 1 : 0);
}

main().catch((e) => { console.error(`test.js: ${e && e.stack || e}`); process.exit(1); });

#!/usr/bin/env node
// A person signing in to an app through Cirrus with a SAML 2.0 identity
// provider, for tests/compat/test_federation_saml.py: headless Chromium
// (playwright-core, /usr/bin/chromium) opens Cirrus's authorization URL
// (built by the test: identity_provider=..., PKCE S256, state), is sent with
// an HTTP-Redirect AuthnRequest to the IdP (tests/compat/saml_idp.py,
// pysaml2), fills the IdP's login form, and the IdP's auto-submitting page
// POSTs the SAMLResponse to Cirrus's saml2/idpresponse, which must send the
// browser on to the app's callback with a code. The test redeems the code.
//
//   node saml_browser.mjs '<config JSON>'
//
// Config (JSON object):
//   authorize_url    Cirrus {issuer}/oauth2/authorize?... (the test builds it)
//   redirect_uri     http://127.0.0.1:PORT/callback: this script listens there
//   issuer           Cirrus pool issuer (to recognise Cirrus pages)
//   idp_base         the IdP's base URL (to recognise its pages)
//   username, password   typed into the IdP's form (#saml-login)
//   screenshot_dir   optional: idp_login.png is saved there
//   error_screenshot optional file: the page the script gave up on
//   timeout_ms       per browser step (default 20000)
//
// Output: one JSON line {ok, pages, callback, trace, final_page, screenshots, error};
// pages lists what the browser met: "idp_login", "callback", "cirrus_error"
// (a Cirrus page with role="alert"), "idp_error", "unknown". Exit 0 when ok.

import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

import { chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

class StepError extends Error {
  constructor(message, details) {
    super(message);
    this.name = 'StepError';
    this.details = details;
  }
}

function maskForm(body) {
  if (!body) return body;
  const out = {};
  for (const [k, v] of new URLSearchParams(body)) {
    out[k] = k === 'password' ? `<${v.length} chars>` : (k === 'SAMLResponse' ? `<${v.length} chars>` : v);
  }
  return out;
}

function startCallbackListener(redirectUri) {
  const target = new URL(redirectUri);
  const hits = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, `http://${target.host}`);
    if (url.pathname === target.pathname) {
      hits.push(url.href);
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end('<!doctype html><title>Relying party</title><h1 id="rp-callback">Signed in: back at the app</h1>');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(target.port), '127.0.0.1', () => resolve({
      hits, close: () => new Promise((r) => server.close(() => r())),
    }));
  });
}

async function pageState(page) {
  const alerts = await page.locator('[role="alert"]').allInnerTexts().catch(() => []);
  let text = '';
  try { text = (await page.locator('body').innerText({ timeout: 2000 })).slice(0, 1500); } catch { /* ignore */ }
  return { url: page.url(), title: await page.title().catch(() => ''), alerts: alerts.filter((a) => a.trim()), text };
}

async function classify(page, cfg) {
  const url = page.url();
  if (url.startsWith(cfg.redirect_uri)) return 'callback';
  const has = async (sel) => (await page.locator(sel).count()) > 0;
  if (url.startsWith(cfg.idp_base)) return (await has('#saml-login')) ? 'idp_login' : 'idp_error';
  if (url.startsWith(cfg.issuer) && (await has('[role="alert"]'))) return 'cirrus_error';
  return 'unknown';
}

async function run(cfg, report) {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install Debian's chromium`);
  const callback = await startCallbackListener(cfg.redirect_uri);
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cirrus-chromium-saml-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1000, height: 760 }, locale: 'en-US',
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('response', async (resp) => {
    const req = resp.request();
    if (!req.isNavigationRequest()) return;
    const entry = { method: req.method(), url: req.url().slice(0, 300), status: resp.status() };
    const location = resp.headers().location;
    if (location) entry.location = location.slice(0, 300);
    if (req.method() === 'POST') {
      entry.form = maskForm(req.postData());
      entry.cookies_sent = ((await req.headerValue('cookie').catch(() => null)) || '')
        .split(';').map((c) => c.trim().split('=')[0]).filter(Boolean);
    }
    const setCookie = await resp.headerValue('set-cookie').catch(() => null);
    if (setCookie) entry.set_cookie = setCookie.split('\n').map((c) => c.replace(/=([^;]*)/, (m, v) => `=<${v.length} chars>`));
    report.trace.push(entry);
  });
  page.on('requestfailed', (req) => {
    if (req.isNavigationRequest()) report.trace.push({ method: req.method(), url: req.url(), failed: req.failure()?.errorText });
  });
  try {
    await page.goto(cfg.authorize_url, { timeout: cfg.timeout_ms, waitUntil: 'load' });
    let kind = await classify(page, cfg);
    report.pages.push(kind);
    if (kind !== 'idp_login') throw new StepError(`expected the IdP's login form, got '${kind}'`, await pageState(page));
    if (cfg.screenshot_dir) {
      fs.mkdirSync(cfg.screenshot_dir, { recursive: true });
      const file = path.join(cfg.screenshot_dir, 'idp_login.png');
      await page.screenshot({ path: file, fullPage: true });
      report.screenshots.push(file);
    }
    const form = page.locator('#saml-login');
    await form.locator('[name="username"]').fill(String(cfg.username));
    await form.locator('[name="password"]').fill(String(cfg.password));
    // The IdP answers with pysaml2's auto-submitting form; it POSTs to Cirrus,
    // which redirects to the app (or shows an error page).
    await Promise.all([
      page.waitForURL((u) => u.href.startsWith(cfg.redirect_uri) || u.href.startsWith(cfg.issuer),
        { timeout: cfg.timeout_ms, waitUntil: 'load' }),
      form.locator('button[type="submit"]').click(),
    ]);
    kind = await classify(page, cfg);
    report.pages.push(kind);
    if (kind !== 'callback') {
      report.final_page = await pageState(page);
      throw new StepError(`the browser did not come back to the app (ended on '${kind}')`, report.final_page);
    }
    const u = new URL(page.url());
    report.callback = { url: u.href, params: Object.fromEntries(u.searchParams), listener_hits: callback.hits.length };
    report.cookies = (await context.cookies()).map((c) => ({ name: c.name, domain: c.domain, path: c.path,
      sameSite: c.sameSite, secure: c.secure, httpOnly: c.httpOnly }));
    report.ok = true;
  } catch (err) {
    if (cfg.error_screenshot) {
      await page.screenshot({ path: cfg.error_screenshot, fullPage: true })
        .then(() => report.screenshots.push(cfg.error_screenshot), () => {});
    }
    report.final_page ??= await pageState(page).catch(() => null);
    throw err;
  } finally {
    await context.close().catch(() => {});
    fs.rmSync(userDataDir, { recursive: true, force: true });
    await callback.close();
  }
}

async function main() {
  const report = { ok: false, pages: [], screenshots: [], trace: [] };
  try {
    const cfg = JSON.parse(process.argv[2]);
    cfg.timeout_ms ??= 20000;
    await run(cfg, report);
  } catch (err) {
    report.ok = false;
    report.error = { name: err.name, message: err.message, details: err.details };
  }
  process.stdout.write(`${JSON.stringify(report)}\n`);
  process.exitCode = report.ok ? 0 : 1;
}

await main();

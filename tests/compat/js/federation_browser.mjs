#!/usr/bin/env node
// A person signing in to an app through Cirrus with an upstream OpenID
// provider (federation), for tests/compat/test_federation_oidc.py:
// openid-client (panva's certified RP) builds the authorization request to
// Cirrus (PKCE S256, state, nonce, plus identity_provider / idp_identifier)
// and redeems the Cirrus code; headless Chromium (playwright-core,
// /usr/bin/chromium) goes to Cirrus, on to the upstream OP's login page
// (upstream_oidc.mjs: oidc-provider), fills it in, and comes back through
// Cirrus's idpresponse to the app's callback.
//
//   node federation_browser.mjs '<config JSON>'   or   first stdin line: the config
//
// Config (JSON object):
//   issuer           Cirrus pool issuer http://127.0.0.1:PORT/<pool id>
//   client_id, client_secret (optional; client_secret_basic when given)
//   redirect_uri     http://127.0.0.1:PORT/callback: this script listens there
//   scope            default "openid email profile"
//   authorize_extra  extra authorization parameters, e.g. {"identity_provider": "Upstream"}
//                    or {"idp_identifier": "example.org"}; {} = Cirrus's hosted login page
//   provider_button  with no provider parameter: the name of the provider whose
//                    `a.idp` link on the hosted login page is clicked
//   upstream_login, upstream_password   what is typed into the upstream's form
//   expect           "callback" (default) or "error": where the browser should end
//   screenshot_dir, screenshots  optional: hosted_idp.png (hosted page with the
//                    provider links), upstream_login.png, federation_error.png
//   error_screenshot optional file: the page the script gave up on
//   timeout_ms       per browser step (default 20000)
//
// Output: the last stdout line is one JSON report:
//   {ok, authorization_url, pages, idp_links, upstream_authorize, callback, token,
//    id_claims, access_claims, userinfo, final_page, screenshots, trace, http, error}
// pages lists what the browser met: "hosted_login", "upstream_login", "callback",
// "cirrus_error" (a Cirrus page with role="alert"), "unknown".

import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

import * as oidc from 'openid-client';
import { chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const SECRET_FIELDS = new Set(['password', 'new_password', '_csrf', 'client_secret']);

async function readConfig() {
  let raw = process.argv[2];
  if (raw === undefined) {
    const rl = readline.createInterface({ input: process.stdin });
    for await (const line of rl) {
      if (line.trim()) { raw = line; break; }
    }
    rl.close();
  }
  const cfg = JSON.parse(raw);
  cfg.scope ??= 'openid email profile';
  cfg.timeout_ms ??= 20000;
  cfg.authorize_extra ??= {};
  cfg.expect ??= 'callback';
  return cfg;
}

function emit(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

function decodeJwt(token) {
  const payload = typeof token === 'string' ? token.split('.')[1] : undefined;
  if (!payload) return null;
  try {
    return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
}

function errorInfo(err) {
  if (!err) return null;
  const info = { name: err.name, message: err.message };
  for (const key of ['code', 'error', 'error_description', 'status']) {
    if (err[key] !== undefined) info[key] = err[key];
  }
  if (err.cause !== undefined) {
    try { info.cause = JSON.parse(JSON.stringify(err.cause)); } catch { info.cause = String(err.cause); }
  }
  if (err.details) info.details = err.details;
  return info;
}

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
  for (const [k, v] of new URLSearchParams(body)) out[k] = SECRET_FIELDS.has(k) ? `<${v.length} chars>` : v;
  return out;
}

function startCallbackListener(redirectUri) {
  const target = new URL(redirectUri);
  if (target.protocol !== 'http:' || target.hostname !== '127.0.0.1' || !target.port) {
    throw new Error(`redirect_uri must be http://127.0.0.1:PORT/...: ${redirectUri}`);
  }
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

async function launch(report) {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install Debian's chromium`);
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cirrus-chromium-fed-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1000, height: 760 }, locale: 'en-US',
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('response', async (resp) => {
    const req = resp.request();
    if (!req.isNavigationRequest()) return;
    const entry = { method: req.method(), url: req.url(), status: resp.status() };
    const location = resp.headers().location;
    if (location) entry.location = location;
    if (req.method() === 'POST') entry.form = maskForm(req.postData());
    const setCookie = await resp.headerValue('set-cookie').catch(() => null);
    if (setCookie) entry.set_cookie = setCookie.split('\n').map((c) => c.replace(/=([^;]*)/, (m, v) => `=<${v.length} chars>`));
    report.trace.push(entry);
  });
  page.on('requestfailed', (req) => {
    if (req.isNavigationRequest()) report.trace.push({ method: req.method(), url: req.url(), failed: req.failure()?.errorText });
  });
  return {
    page,
    async close() {
      await context.close().catch(() => {});
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

async function pageState(page) {
  const alerts = await page.locator('[role="alert"]').allInnerTexts().catch(() => []);
  let text = '';
  try { text = (await page.locator('body').innerText({ timeout: 2000 })).slice(0, 1500); } catch { /* ignore */ }
  return { url: page.url(), title: await page.title().catch(() => ''), alerts: alerts.filter((a) => a.trim()), text };
}

async function classify(page, cfg) {
  if (page.url().startsWith(cfg.redirect_uri)) return 'callback';
  const has = async (sel) => (await page.locator(sel).count()) > 0;
  if (await has('input[name="login"]')) return 'upstream_login';
  if (page.url().startsWith(cfg.issuer)) {
    if (await has('input[name="password"]')) return 'hosted_login';
    if (await has('[role="alert"]')) return 'cirrus_error';
  }
  return 'unknown';
}

async function expectPage(page, cfg, report, wanted) {
  const kind = await classify(page, cfg);
  report.pages.push(kind);
  const list = Array.isArray(wanted) ? wanted : [wanted];
  if (!list.includes(kind)) throw new StepError(`expected the ${list.join(' or ')} page, got '${kind}'`, await pageState(page));
  return kind;
}

async function shot(page, cfg, report, name) {
  if (!cfg.screenshot_dir) return;
  if (Array.isArray(cfg.screenshots) && !cfg.screenshots.includes(name)) return;
  fs.mkdirSync(cfg.screenshot_dir, { recursive: true });
  const file = path.join(cfg.screenshot_dir, name);
  await page.screenshot({ path: file, fullPage: true });
  report.screenshots.push(file);
}

async function run(cfg, report) {
  const logFetch = async (url, options) => {
    const resp = await fetch(url, options);
    let body = '';
    try { body = (await resp.clone().text()).slice(0, 800); } catch { /* ignore */ }
    const entry = { method: options?.method || 'GET', url: String(url), status: resp.status, body };
    if (options?.body instanceof URLSearchParams) entry.form = maskForm(options.body.toString());
    report.http.push(entry);
    return resp;
  };
  const clientAuth = cfg.client_secret ? oidc.ClientSecretBasic(cfg.client_secret) : oidc.None();
  const config = await oidc.discovery(new URL(cfg.issuer), cfg.client_id, undefined, clientAuth, {
    execute: [oidc.allowInsecureRequests], [oidc.customFetch]: logFetch,
  });
  config[oidc.customFetch] = logFetch;

  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const authUrl = oidc.buildAuthorizationUrl(config, {
    redirect_uri: cfg.redirect_uri,
    scope: cfg.scope,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...cfg.authorize_extra,
  });
  report.authorization_url = authUrl.href;

  const callback = await startCallbackListener(cfg.redirect_uri);
  const browser = await launch(report);
  const { page } = browser;
  try {
    await page.goto(authUrl.href, { timeout: cfg.timeout_ms, waitUntil: 'load' });
    let kind = await expectPage(page, cfg, report, ['hosted_login', 'upstream_login', 'callback', 'cirrus_error']);
    if (kind === 'hosted_login') {
      report.idp_links = await page.locator('a.idp').evaluateAll((links) => links.map((a) => ({ text: a.textContent.trim(), href: a.href })));
      await shot(page, cfg, report, 'hosted_idp.png');
      if (!cfg.provider_button) throw new StepError('on the hosted login page and no provider_button given', await pageState(page));
      const link = page.locator('a.idp', { hasText: cfg.provider_button }).first();
      if ((await link.count()) === 0) throw new StepError(`no a.idp link for ${cfg.provider_button}`, await pageState(page));
      await Promise.all([page.waitForNavigation({ timeout: cfg.timeout_ms, waitUntil: 'load' }), link.click()]);
      kind = await expectPage(page, cfg, report, ['upstream_login', 'callback', 'cirrus_error']);
    }
    if (kind === 'upstream_login') {
      const upstream = report.trace.find((t) => t.url.includes('/auth?'));
      if (upstream) report.upstream_authorize = upstream.url;
      await shot(page, cfg, report, 'upstream_login.png');
      const form = page.locator('form').filter({ has: page.locator('[name="login"]') }).first();
      await form.locator('[name="login"]').fill(String(cfg.upstream_login));
      await form.locator('[name="password"]').fill(String(cfg.upstream_password ?? 'upstream-pass'));
      await Promise.all([
        page.waitForURL((u) => u.href.startsWith(cfg.redirect_uri) || u.href.startsWith(cfg.issuer)
          || u.pathname.startsWith('/interaction/'), { timeout: cfg.timeout_ms, waitUntil: 'load' }),
        form.locator('button[type="submit"]').first().click(),
      ]);
      kind = await expectPage(page, cfg, report, ['callback', 'cirrus_error', 'upstream_login', 'unknown']);
    }
    if (kind !== 'callback') {
      report.final_page = await pageState(page);
      if (kind === 'cirrus_error') await shot(page, cfg, report, 'federation_error.png');
      if (cfg.expect === 'error' && kind === 'cirrus_error') {
        report.ok = true;
        return;
      }
      throw new StepError(`the browser did not come back to the app (ended on '${kind}')`, report.final_page);
    }
    if (cfg.expect === 'error') throw new StepError('expected an error page, came back to the app', { url: page.url() });

    const currentUrl = new URL(page.url());
    report.callback = { url: currentUrl.href, params: Object.fromEntries(currentUrl.searchParams), listener_hits: callback.hits.length };
    if (currentUrl.searchParams.has('error')) throw new StepError('the authorization response is an error', report.callback);

    const tokens = await oidc.authorizationCodeGrant(config, currentUrl, {
      pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
    });
    report.token = {
      token_type: tokens.token_type, scope: tokens.scope, expires_in: tokens.expires_in,
      access_token: tokens.access_token, id_token: tokens.id_token, refresh_token: tokens.refresh_token,
    };
    report.id_claims = tokens.claims() ?? null;
    report.access_claims = decodeJwt(tokens.access_token);
    try {
      report.userinfo = await oidc.fetchUserInfo(config, tokens.access_token, report.id_claims?.sub);
    } catch (err) {
      report.userinfo = null;
      report.userinfo_error = errorInfo(err);
    }
    report.ok = true;
  } catch (err) {
    if (cfg.error_screenshot) {
      await page.screenshot({ path: cfg.error_screenshot, fullPage: true }).then(() => report.screenshots.push(cfg.error_screenshot), () => {});
    }
    report.final_page ??= await pageState(page).catch(() => null);
    throw err;
  } finally {
    await browser.close();
    await callback.close();
  }
}

async function main() {
  const report = { ok: false, pages: [], screenshots: [], trace: [], http: [] };
  try {
    await run(await readConfig(), report);
  } catch (err) {
    report.ok = false;
    report.error = errorInfo(err);
  }
  emit(report);
  process.exitCode = report.ok ? 0 : 1;
}

await main();

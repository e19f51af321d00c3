#!/usr/bin/env node
// A relying party signing a person in through Cirrus's hosted UI, for
// tests/compat/test_hosted_ui_browser.py: openid-client (panva's certified
// OpenID Connect RP) does discovery, builds the authorization request (PKCE
// S256, state, nonce) and redeems the code; headless Chromium, driven by
// playwright-core, fills the hosted UI's forms as a person would.
//
//   node oidc_browser.mjs '<config JSON>'        or
//   node oidc_browser.mjs < config-and-answers   (first stdin line: the config)
//
// Config (JSON object):
//   issuer           http://127.0.0.1:PORT/<pool id> (discovery: {issuer}/.well-known/openid-configuration)
//   client_id        app client id
//   client_secret    optional; with it the token endpoint is called with
//   token_auth       "client_secret_basic" (default) or "client_secret_post"; without: "none"
//   redirect_uri     http://127.0.0.1:PORT/callback: this script listens there itself, the
//                    browser must really arrive there (Playwright cannot route redirects)
//   scope            default "openid email profile"
//   username, password
//   scenario         "signin" (default) | "signup" | "totp" (prints a TOTP code, no browser)
//   mfa              optional: "totp" (answer a SOFTWARE_TOKEN_MFA code page from
//                    totp_secret) | "setup" (MFA_SETUP: read the secret off the page)
//   totp_secret      base32 secret for mfa "totp"
//   totp_min_step    do not use a TOTP time step below this (the server refuses replays)
//   signup_attributes {name: value} for the sign-up form (e.g. {"email": "..."})
//   extra_checks     optional list: "sso" (a second authorization with prompt=none reuses
//                    the hosted-UI session), "replay" (a redeemed code redeemed again is
//                    refused and revokes the refresh token issued from it)
//   screenshot_dir   optional: the pages met are saved there as signin.png, signup.png,
//                    confirm.png, mfa.png, mfa_setup.png
//   screenshots      optional list of those file names: save only these
//   error_screenshot optional file: the page the script gave up on
//   timeout_ms       per browser step (default 15000)
//
// Sign-up needs a code that only the test can read (mail): the script prints
// {"event":"need_code","username":...} on a line of its own and reads the code
// from the next stdin line.
//
// Output: the last stdout line is one JSON report:
//   {ok, scenario, discovery, authorization_url, pages, callback, token, id_claims,
//    access_claims, refresh, userinfo, sso, replay, signup_fields, mfa_setup, totp_step,
//    screenshots, trace (the browser's navigations), http (openid-client's requests), error}
// Exit status 0 when ok, 1 otherwise (the report says why).

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

import * as oidc from 'openid-client';
import { chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
// Closed network: without these Chromium hangs on Google look-ups.
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

// ---- stdin: the config (when not in argv), then answers -----------------

const stdinLines = (() => {
  let rl = null;
  const queue = [];
  const waiters = [];
  let closed = false;
  function start() {
    if (rl) return;
    rl = readline.createInterface({ input: process.stdin });
    rl.on('line', (line) => (waiters.length ? waiters.shift().resolve(line) : queue.push(line)));
    rl.on('close', () => {
      closed = true;
      while (waiters.length) waiters.shift().reject(new Error('stdin closed before an answer arrived'));
    });
  }
  return {
    next() {
      start();
      if (queue.length) return Promise.resolve(queue.shift());
      if (closed) return Promise.reject(new Error('stdin closed before an answer arrived'));
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
    },
    close() { if (rl) rl.close(); process.stdin.destroy(); },
  };
})();

async function readConfig() {
  const raw = process.argv[2] !== undefined ? process.argv[2] : await stdinLines.next();
  const cfg = JSON.parse(raw);
  cfg.scenario ??= 'signin';
  cfg.scope ??= 'openid email profile';
  cfg.timeout_ms ??= 15000;
  cfg.extra_checks ??= [];
  return cfg;
}

function emit(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

// ---- RFC 4648 base32 and RFC 6238 TOTP (HMAC-SHA1, 6 digits, 30 s) --------

const TOTP_STEP = 30;

function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of text.toUpperCase().replace(/[\s=]/g, '')) {
    const idx = alphabet.indexOf(ch);
    if (idx < 0) throw new Error(`invalid base32 character ${JSON.stringify(ch)}`);
    value = (value << 5) | idx;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

function totpAt(secret, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = crypto.createHmac('sha1', base32Decode(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const bin = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(bin % 1_000_000).padStart(6, '0');
}

// Wait for a step >= minStep with at least `margin` seconds of it left.
async function totpFresh(secret, minStep = 0, margin = 5) {
  for (;;) {
    const now = Date.now() / 1000;
    const step = Math.floor(now / TOTP_STEP);
    const left = (step + 1) * TOTP_STEP - now;
    if (step >= minStep && left >= margin) return { step, code: totpAt(secret, step) };
    await new Promise((r) => setTimeout(r, (left + 0.05) * 1000));
  }
}

// ---- helpers ---------------------------------------------------------------

function decodeJwt(token) {
  if (typeof token !== 'string') return null;
  const [, payload] = token.split('.');
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
}

function errorInfo(err) {
  if (!err) return null;
  const info = { name: err.name, message: err.message };
  for (const key of ['code', 'error', 'error_description', 'status']) {
    if (err[key] !== undefined) info[key] = err[key];
  }
  if (err.cause !== undefined) {
    try {
      info.cause = JSON.parse(JSON.stringify(err.cause));
    } catch {
      info.cause = String(err.cause);
    }
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

const SECRET_FIELDS = new Set(['password', 'new_password', '_csrf', 'client_secret']);

function maskForm(body) {
  if (!body) return body;
  try {
    const params = new URLSearchParams(body);
    const out = {};
    for (const [k, v] of params) out[k] = SECRET_FIELDS.has(k) ? `<${v.length} chars>` : v;
    return out;
  } catch {
    return body.slice(0, 300);
  }
}

// ---- the callback: a tiny listener on redirect_uri ------------------------
// Playwright does not route redirect hops (by design), so the browser is let
// through to a real listener; it answers a small page and hands over the URL.

function startCallbackListener(redirectUri) {
  const target = new URL(redirectUri);
  if (target.protocol !== 'http:' || !['127.0.0.1', 'localhost'].includes(target.hostname) || !target.port) {
    throw new Error(`redirect_uri must be http://127.0.0.1:PORT/...: ${redirectUri}`);
  }
  const hits = [];
  const waiters = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, `${target.protocol}//${target.host}`);
    if (url.pathname === target.pathname) {
      hits.push(url.href);
      while (waiters.length) waiters.shift()(url.href);
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end('<!doctype html><title>Relying party</title><h1 id="rp-callback">Signed in: back at the app</h1>');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(target.port), target.hostname === 'localhost' ? '127.0.0.1' : target.hostname, () => {
      resolve({
        hits,
        close: () => new Promise((r) => server.close(() => r())),
      });
    });
  });
}

// ---- the browser -------------------------------------------------------------

async function launch(report) {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: install Debian's chromium (tests/compat/run.sh does)`);
  }
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cirrus-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1000, height: 760 },
    locale: 'en-US',
  });
  const page = context.pages()[0] ?? (await context.newPage());
  // Every document the browser loads or is redirected through, with form bodies.
  page.on('response', async (resp) => {
    const req = resp.request();
    if (!req.isNavigationRequest()) return;
    const entry = { method: req.method(), url: req.url(), status: resp.status() };
    const location = resp.headers()['location'];
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
    context,
    page,
    async close() {
      await context.close().catch(() => {});
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

// What the current page is: 'callback', 'login', 'signup', 'confirm', 'mfa_setup',
// 'mfa', 'select_mfa', 'new_password' or 'unknown'.
async function classify(page, cfg) {
  const url = new URL(page.url());
  if (page.url().startsWith(cfg.redirect_uri)) return 'callback';
  const has = async (sel) => (await page.locator(sel).count()) > 0;
  const last = url.pathname.split('/').pop();
  if (await has('input[name="new_password"]')) return 'new_password';
  if (await has('#totp-secret')) return 'mfa_setup';
  if (await has('input[name="answer"][type="radio"]')) return 'select_mfa';
  if (last === 'signup' && (await has('input[name="password"]'))) return 'signup';
  if (await has('input[name="code"]')) return last === 'confirm' ? 'confirm' : 'mfa';
  if (await has('input[name="password"]')) return 'login';
  return 'unknown';
}

async function pageState(page) {
  const alerts = await page.locator('[role="alert"]').allInnerTexts().catch(() => []);
  let text = '';
  try {
    text = (await page.locator('body').innerText({ timeout: 2000 })).slice(0, 1500);
  } catch {
    text = (await page.content().catch(() => '')).slice(0, 1500);
  }
  return { url: page.url(), title: await page.title().catch(() => ''), alerts: alerts.filter((a) => a.trim()), text };
}

async function expectPage(page, cfg, report, wanted) {
  const kind = await classify(page, cfg);
  report.pages.push(kind);
  const list = Array.isArray(wanted) ? wanted : [wanted];
  if (!list.includes(kind)) {
    throw new StepError(`expected the ${list.join(' or ')} page, got '${kind}'`, await pageState(page));
  }
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

// The form that holds `field`; fill it, press its submit button, wait for the next page.
async function submit(page, cfg, field, values) {
  const form = page.locator('form').filter({ has: page.locator(`[name="${field}"]`) }).first();
  for (const [name, value] of Object.entries(values)) {
    const input = form.locator(`[name="${name}"]`).first();
    if ((await input.count()) === 0) continue;
    const type = (await input.getAttribute('type')) || 'text';
    if (type === 'hidden') continue;
    if (type === 'radio') {
      await form.locator(`input[name="${name}"][value="${value}"]`).check();
    } else {
      await input.fill(String(value));
    }
  }
  await Promise.all([
    page.waitForNavigation({ timeout: cfg.timeout_ms, waitUntil: 'load' }),
    form.locator('button[type="submit"], input[type="submit"]').first().click(),
  ]);
}

async function openAuthorization(page, cfg, url) {
  await page.goto(url.href, { timeout: cfg.timeout_ms, waitUntil: 'load' });
}

async function signIn(page, cfg, report, { screenshot = true } = {}) {
  await expectPage(page, cfg, report, 'login');
  if (screenshot) await shot(page, cfg, report, 'signin.png');
  await submit(page, cfg, 'password', { username: cfg.username, password: cfg.password });
  await answerChallenges(page, cfg, report);
}

async function answerChallenges(page, cfg, report) {
  for (let i = 0; i < 4; i++) {
    const kind = await expectPage(page, cfg, report, ['callback', 'mfa', 'mfa_setup', 'login']);
    if (kind === 'callback') return;
    if (kind === 'login') {
      throw new StepError('sign-in stayed on the login page', await pageState(page));
    }
    if (kind === 'mfa') {
      if (cfg.mfa !== 'totp' || !cfg.totp_secret) {
        throw new StepError('unexpected MFA code page (no mfa: "totp" / totp_secret given)', await pageState(page));
      }
      await shot(page, cfg, report, 'mfa.png');
      const { step, code } = await totpFresh(cfg.totp_secret, cfg.totp_min_step ?? 0);
      report.totp_step = step;
      await submit(page, cfg, 'code', { code });
    } else if (kind === 'mfa_setup') {
      if (cfg.mfa !== 'setup') throw new StepError('unexpected MFA_SETUP page', await pageState(page));
      const secret = (await page.locator('#totp-secret').innerText()).replace(/\s+/g, '');
      report.mfa_setup = {
        secret,
        qr_svg: (await page.locator('svg[role="img"][aria-label="QR code"]').count()) > 0,
      };
      await shot(page, cfg, report, 'mfa_setup.png');
      const { step, code } = await totpFresh(secret, cfg.totp_min_step ?? 0);
      report.totp_step = step;
      await submit(page, cfg, 'code', { code });
    }
  }
  throw new StepError('too many challenge pages', await pageState(page));
}

async function signUp(page, cfg, report) {
  await expectPage(page, cfg, report, 'login');
  await shot(page, cfg, report, 'signin.png');
  const link = page.locator('a[href*="signup"]').first();
  if ((await link.count()) === 0) throw new StepError('no sign-up link on the login page', await pageState(page));
  await Promise.all([page.waitForNavigation({ timeout: cfg.timeout_ms, waitUntil: 'load' }), link.click()]);
  await expectPage(page, cfg, report, 'signup');
  await shot(page, cfg, report, 'signup.png');
  // The fields a person is asked to fill in (not the hidden ones).
  report.signup_fields = await page.locator('form:has([name="password"]) input:not([type="hidden"])')
    .evaluateAll((inputs) => inputs.map((i) => ({ name: i.name, required: i.required })));
  await submit(page, cfg, 'password', {
    username: cfg.username,
    password: cfg.password,
    ...(cfg.signup_attributes || {}),
  });
  await expectPage(page, cfg, report, 'confirm');
  await shot(page, cfg, report, 'confirm.png');
  emit({ event: 'need_code', username: cfg.username, url: page.url() });
  const code = (await stdinLines.next()).trim();
  await submit(page, cfg, 'code', { code });
  // The hosted UI asks for the password once more after confirming.
  await signIn(page, cfg, report, { screenshot: false });
}

// ---- the relying party -------------------------------------------------------

async function run(cfg, report) {
  const logFetch = async (url, options) => {
    const resp = await fetch(url, options);
    let body = '';
    try {
      body = (await resp.clone().text()).slice(0, 800);
    } catch { /* ignore */ }
    const entry = { method: options?.method || 'GET', url: String(url), status: resp.status, body };
    if (options?.body instanceof URLSearchParams) entry.form = maskForm(options.body.toString());
    const wwwAuth = resp.headers.get('www-authenticate');
    if (wwwAuth) entry.www_authenticate = wwwAuth;
    report.http.push(entry);
    return resp;
  };

  let clientAuth;
  if (cfg.client_secret) {
    clientAuth = cfg.token_auth === 'client_secret_post'
      ? oidc.ClientSecretPost(cfg.client_secret)
      : oidc.ClientSecretBasic(cfg.client_secret);
  } else {
    clientAuth = oidc.None();
  }
  const config = await oidc.discovery(new URL(cfg.issuer), cfg.client_id, undefined, clientAuth, {
    execute: [oidc.allowInsecureRequests],
    [oidc.customFetch]: logFetch,
  });
  config[oidc.customFetch] = logFetch;
  const meta = config.serverMetadata();
  report.discovery = meta;

  const verifier = oidc.randomPKCECodeVerifier();
  const challenge = await oidc.calculatePKCECodeChallenge(verifier);
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const authUrl = oidc.buildAuthorizationUrl(config, {
    redirect_uri: cfg.redirect_uri,
    scope: cfg.scope,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  report.authorization_url = authUrl.href;

  const callback = await startCallbackListener(cfg.redirect_uri);
  const browser = await launch(report);
  try {
    const { page } = browser;
    await openAuthorization(page, cfg, authUrl);
    if (cfg.scenario === 'signup') await signUp(page, cfg, report);
    else await signIn(page, cfg, report);

    const currentUrl = new URL(page.url());
    report.callback = { url: currentUrl.href, params: Object.fromEntries(currentUrl.searchParams), listener_hits: callback.hits.length };
    if (currentUrl.searchParams.has('error')) {
      throw new StepError('the authorization response is an error', report.callback);
    }

    // Redeem the code: openid-client checks state, PKCE, the ID token (signature
    // via the JWKS, iss, aud, exp, iat, nonce).
    const tokens = await oidc.authorizationCodeGrant(config, currentUrl, {
      pkceCodeVerifier: verifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: cfg.scope.split(' ').includes('openid'),
    });
    report.token = {
      token_type: tokens.token_type,
      scope: tokens.scope,
      expires_in: tokens.expires_in,
      access_token: tokens.access_token,
      id_token: tokens.id_token,
      refresh_token: tokens.refresh_token,
    };
    report.id_claims = tokens.claims() ?? null;
    report.access_claims = decodeJwt(tokens.access_token);

    // Refresh.
    report.refresh = { ok: false };
    if (tokens.refresh_token) {
      try {
        const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token);
        report.refresh = {
          ok: true,
          token_type: refreshed.token_type,
          access_token: refreshed.access_token,
          id_token: refreshed.id_token,
          refresh_token: refreshed.refresh_token,
          new_access_token: refreshed.access_token !== tokens.access_token,
          access_claims: decodeJwt(refreshed.access_token),
          id_claims: refreshed.id_token ? decodeJwt(refreshed.id_token) : null,
        };
      } catch (err) {
        report.refresh = { ok: false, error: errorInfo(err) };
      }
    }

    // UserInfo, for the subject of the ID token.
    try {
      const sub = report.id_claims?.sub ?? report.access_claims?.sub;
      report.userinfo = await oidc.fetchUserInfo(config, tokens.access_token, sub);
    } catch (err) {
      report.userinfo = null;
      report.userinfo_error = errorInfo(err);
    }

    if (cfg.extra_checks.includes('sso')) {
      // A second authorization in the same browser: the hosted-UI session
      // cookie answers it without a form, also with prompt=none.
      const state2 = oidc.randomState();
      const nonce2 = oidc.randomNonce();
      const verifier2 = oidc.randomPKCECodeVerifier();
      const url2 = oidc.buildAuthorizationUrl(config, {
        redirect_uri: cfg.redirect_uri, scope: cfg.scope, state: state2, nonce: nonce2, prompt: 'none',
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier2), code_challenge_method: 'S256',
      });
      await openAuthorization(page, cfg, url2);
      const kind = await classify(page, cfg);
      report.sso = { page: kind, url: page.url() };
      if (kind === 'callback') {
        try {
          const t2 = await oidc.authorizationCodeGrant(config, new URL(page.url()), {
            pkceCodeVerifier: verifier2, expectedState: state2, expectedNonce: nonce2, idTokenExpected: true,
          });
          report.sso.ok = true;
          report.sso.sub = t2.claims()?.sub;
        } catch (err) {
          report.sso.ok = false;
          report.sso.error = errorInfo(err);
        }
      } else {
        report.sso.ok = false;
        report.sso.state = await pageState(page);
      }
    }

    if (cfg.extra_checks.includes('replay')) {
      // Redeeming the same code again must fail, and revoke what it gave.
      report.replay = {};
      try {
        await oidc.authorizationCodeGrant(config, currentUrl, {
          pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
        });
        report.replay.second_redeem = { ok: true };
      } catch (err) {
        report.replay.second_redeem = { ok: false, error: errorInfo(err) };
      }
      try {
        await oidc.refreshTokenGrant(config, tokens.refresh_token);
        report.replay.refresh_after = { ok: true };
      } catch (err) {
        report.replay.refresh_after = { ok: false, error: errorInfo(err) };
      }
    }
    report.ok = true;
  } catch (err) {
    if (browser?.page) {
      if (cfg.error_screenshot) {
        await browser.page.screenshot({ path: cfg.error_screenshot, fullPage: true })
          .then(() => report.screenshots.push(cfg.error_screenshot), () => {});
      }
      report.final_page = await pageState(browser.page).catch(() => null);
    }
    throw err;
  } finally {
    await browser.close();
    await callback.close();
  }
}

async function main() {
  const report = { ok: false, pages: [], screenshots: [], trace: [], http: [] };
  let cfg;
  try {
    cfg = await readConfig();
    report.scenario = cfg.scenario;
    if (cfg.scenario === 'totp') {
      // Self-check of the TOTP code generator against the test's pyotp.
      report.code = totpAt(cfg.totp_secret, cfg.step);
      report.ok = true;
    } else {
      await run(cfg, report);
    }
  } catch (err) {
    report.ok = false;
    report.error = errorInfo(err);
  }
  emit(report);
  stdinLines.close();
  process.exitCode = report.ok ? 0 : 1;
}

await main();

#!/usr/bin/env node
// A real upstream OpenID provider for tests/compat/test_federation_oidc.py:
// panva's certified oidc-provider (pinned in package.json) on plain http on
// loopback, with one confidential client (Cirrus's idpresponse URL as its
// redirect URI), a few static accounts and a minimal login page that a person
// (headless Chromium) fills in. Consent is given automatically.
//
//   node upstream_oidc.mjs '<config JSON>'     or     first stdin line: the config
//
// Config (JSON object):
//   port             TCP port on 127.0.0.1 (0 or absent: any free port); the
//                    issuer is http://127.0.0.1:<port>
//   client_id, client_secret
//   redirect_uris    e.g. ["http://127.0.0.1:9229/us-east-1_x/oauth2/idpresponse"]
//   token_endpoint_auth_method  default "client_secret_basic"
//   pkce_required    default true (the contract says Cirrus always sends S256)
//   id_token_claims  default true: the scope's claims (email, name, ...) are also
//                    put in the ID token (oidc-provider's conformIdTokenClaims
//                    off); false: they come from UserInfo only
//   accounts         [{sub, password?, email, email_verified, name, ...claims}]
//                    (password defaults to "upstream-pass")
//   id_token_alg     default "RS256"
//
// On stdout: one line {"event":"ready","issuer":...,"port":...} when listening.
// Test-only control endpoints (not part of the OP, under /__control/):
//   POST /__control/accounts   JSON {sub, ...claims}: add or update an account
//   GET  /__control/log        JSON list of what Cirrus sent: authorization
//                              requests (their query), token requests (auth
//                              scheme, form keys), userinfo requests, and the
//                              provider's error events
// Logs go to stderr. SIGTERM / SIGINT / stdin EOF end it.

import crypto from 'node:crypto';
import http from 'node:http';
import readline from 'node:readline';

import Provider from 'oidc-provider';

const DEFAULT_PASSWORD = 'upstream-pass';

async function readConfig() {
  if (process.argv[2] !== undefined) return JSON.parse(process.argv[2]);
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    if (line.trim()) {
      rl.close();
      return JSON.parse(line);
    }
  }
  throw new Error('no config on argv or stdin');
}

function esc(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  }[c]));
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function send(res, status, type, body) {
  res.statusCode = status;
  res.setHeader('Content-Type', type);
  res.setHeader('Cache-Control', 'no-store');
  res.end(body);
}

function loginPage({ uid, clientId, error, login }) {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Upstream sign-in</title></head>
<body>
  <h1>Upstream OP: sign in</h1>
  <p>Client <code>${esc(clientId)}</code> asks you to sign in.</p>
  ${error ? `<p role="alert">${esc(error)}</p>` : ''}
  <form method="post" action="/interaction/${esc(uid)}/login" autocomplete="off">
    <label>Login <input name="login" value="${esc(login)}" autofocus required></label>
    <label>Password <input name="password" type="password"></label>
    <button type="submit" id="upstream-submit">Sign in</button>
  </form>
  <p><a id="upstream-abort" href="/interaction/${esc(uid)}/abort">Cancel</a></p>
</body></html>`;
}

async function main() {
  const cfg = await readConfig();
  const accounts = new Map();
  for (const acct of cfg.accounts || []) accounts.set(String(acct.sub), { ...acct });
  const log = [];

  // Bind first so that port 0 works: the issuer needs the real port.
  let provider;
  let handler = (req, res) => send(res, 503, 'text/plain', 'starting');
  const server = http.createServer((req, res) => handler(req, res));
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.port || 0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;

  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const alg = cfg.id_token_alg || 'RS256';
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: crypto.randomBytes(8).toString('hex'), use: 'sig', alg };

  const claimsOf = (sub) => {
    const acct = accounts.get(sub);
    if (!acct) return undefined;
    const { password, ...claims } = acct; // eslint-disable-line no-unused-vars
    return { ...claims, sub };
  };

  provider = new Provider(issuer, {
    clients: [{
      client_id: cfg.client_id,
      client_secret: cfg.client_secret,
      redirect_uris: cfg.redirect_uris,
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: cfg.token_endpoint_auth_method || 'client_secret_basic',
      id_token_signed_response_alg: alg,
    }],
    jwks: { keys: [jwk] },
    cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name', 'nickname', 'picture', 'locale', 'updated_at'],
      phone: ['phone_number', 'phone_number_verified'],
    },
    conformIdTokenClaims: cfg.id_token_claims === false,
    features: {
      devInteractions: { enabled: false },
      userinfo: { enabled: true },
      revocation: { enabled: true },
    },
    pkce: { required: () => cfg.pkce_required !== false },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(ctx, sub) {
      if (!accounts.has(sub)) return undefined;
      return { accountId: sub, async claims() { return claimsOf(sub); } };
    },
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = `<!DOCTYPE html><html><head><title>Upstream error</title></head><body>
<h1>Upstream OP error</h1><div role="alert">${Object.entries(out).map(([k, v]) => `<p>${esc(k)}: ${esc(v)}</p>`).join('')}</div>
</body></html>`;
    },
    ttl: {
      AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600,
    },
  });
  provider.proxy = false;
  for (const ev of ['server_error', 'authorization.error', 'grant.error', 'userinfo.error', 'discovery.error',
    'jwks.error', 'introspection.error', 'revocation.error']) {
    provider.on(ev, (...args) => {
      const err = args.find((a) => a instanceof Error);
      const entry = { kind: 'error', event: ev, error: err?.error || err?.name, description: err?.error_description || err?.message };
      log.push(entry);
      process.stderr.write(`upstream_oidc: ${JSON.stringify(entry)}\n`);
    });
  }
  provider.on('grant.success', (ctx) => {
    log.push({ kind: 'grant.success', grant_type: ctx.oidc.params?.grant_type, client_auth: ctx.oidc.client?.clientAuthMethod });
  });
  const callback = provider.callback();

  async function interaction(req, res, url) {
    const parts = url.pathname.split('/').filter(Boolean); // ['interaction', uid, action?]
    const action = parts[2];
    const details = await provider.interactionDetails(req, res);
    const { uid, prompt, params } = details;
    if (req.method === 'GET' && !action) {
      if (prompt.name === 'login') {
        return send(res, 200, 'text/html; charset=utf-8', loginPage({ uid, clientId: params.client_id }));
      }
      if (prompt.name === 'consent') {
        // Automatic consent: grant what the client asked for.
        const grant = details.grantId
          ? await provider.Grant.find(details.grantId)
          : new provider.Grant({ accountId: details.session.accountId, clientId: params.client_id });
        const d = prompt.details || {};
        if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
        if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
        if (d.missingResourceScopes) {
          for (const [indicator, scopes] of Object.entries(d.missingResourceScopes)) {
            grant.addResourceScope(indicator, scopes.join(' '));
          }
        }
        const grantId = await grant.save();
        const consent = details.grantId ? {} : { grantId };
        return provider.interactionFinished(req, res, { consent }, { mergeWithLastSubmission: true });
      }
      return send(res, 400, 'text/plain', `unsupported prompt ${prompt.name}`);
    }
    if (req.method === 'POST' && action === 'login') {
      const form = new URLSearchParams(await readBody(req));
      const login = form.get('login') || '';
      const password = form.get('password') || '';
      const acct = accounts.get(login) || [...accounts.values()].find((a) => a.email === login);
      if (!acct || (password !== (acct.password ?? DEFAULT_PASSWORD))) {
        return send(res, 200, 'text/html; charset=utf-8',
          loginPage({ uid, clientId: params.client_id, error: 'Unknown login or wrong password', login }));
      }
      log.push({ kind: 'login', sub: String(acct.sub) });
      return provider.interactionFinished(req, res, { login: { accountId: String(acct.sub) } },
        { mergeWithLastSubmission: false });
    }
    if (req.method === 'GET' && action === 'abort') {
      return provider.interactionFinished(req, res, {
        error: 'access_denied', error_description: 'End-User aborted interaction',
      }, { mergeWithLastSubmission: false });
    }
    return send(res, 404, 'text/plain', 'not found');
  }

  async function control(req, res, url) {
    if (req.method === 'GET' && url.pathname === '/__control/log') {
      return send(res, 200, 'application/json', JSON.stringify(log));
    }
    if (req.method === 'POST' && url.pathname === '/__control/accounts') {
      const body = JSON.parse(await readBody(req));
      const sub = String(body.sub);
      accounts.set(sub, { ...(accounts.get(sub) || {}), ...body, sub });
      return send(res, 200, 'application/json', JSON.stringify(claimsOf(sub)));
    }
    return send(res, 404, 'text/plain', 'not found');
  }

  handler = async (req, res) => {
    const url = new URL(req.url, issuer);
    try {
      if (url.pathname.startsWith('/__control/')) return await control(req, res, url);
      if (url.pathname.startsWith('/interaction/')) return await interaction(req, res, url);
      if (url.pathname === '/auth' && req.method === 'GET') {
        log.push({ kind: 'authorization', query: Object.fromEntries(url.searchParams) });
      } else if (url.pathname === '/token') {
        const auth = req.headers.authorization || '';
        log.push({ kind: 'token', method: req.method, auth_scheme: auth.split(' ')[0] || null,
          content_type: req.headers['content-type'] || null });
      } else if (url.pathname === '/me') {
        const auth = req.headers.authorization || '';
        log.push({ kind: 'userinfo', method: req.method, auth_scheme: auth.split(' ')[0] || null });
      }
      return callback(req, res);
    } catch (err) {
      process.stderr.write(`upstream_oidc: ${err?.stack || err}\n`);
      log.push({ kind: 'error', event: 'handler', error: err?.name, description: err?.message });
      if (!res.headersSent) send(res, 400, 'text/html; charset=utf-8', `<p role="alert">${esc(err?.message)}</p>`);
      else res.end();
      return undefined;
    }
  };

  process.stdout.write(`${JSON.stringify({ event: 'ready', issuer, port, client_id: cfg.client_id })}\n`);

  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  if (process.argv[2] === undefined) process.stdin.on('end', stop).resume();
}

main().catch((err) => {
  process.stderr.write(`upstream_oidc: ${err?.stack || err}\n`);
  process.exit(1);
});

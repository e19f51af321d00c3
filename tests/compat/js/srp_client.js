#!/usr/bin/env node
// Sign in to a Cirrus user pool with amazon-cognito-identity-js (SRP), for
// tests/compat/test_srp.py. Prints one JSON object on stdout and exits 0 once
// the library reported an outcome (success, failure or an unhandled challenge).
//
//   node srp_client.js --endpoint URL --pool-id ID --client-id ID --username NAME
//                      [--password PW] [--totp-secret BASE32] [--wrong-totp-first]
//
// The password may also come from CIRRUS_JS_PASSWORD (kept out of argv).
// With --totp-secret, a SOFTWARE_TOKEN_MFA challenge is answered through
// sendMFACode(code, callbacks, 'SOFTWARE_TOKEN_MFA') with an RFC 6238 code
// computed here; --wrong-totp-first first sends a wrong code on the same
// session and records the error before sending the right one.
//
// Output: {"result": "success"|"failure"|"challenge"|"timeout",
//          "challenges": [...names seen...], "idToken", "accessToken",
//          "refreshToken", "error": {"code","name","message"},
//          "mfaErrors": [...], "totpStep": N, "challenge", "challengeParameters"}

'use strict';

const crypto = require('crypto');
const { AuthenticationDetails, CognitoUser, CognitoUserPool } = require('amazon-cognito-identity-js');

function parseArgs(argv) {
  const opts = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${arg}`);
    const key = arg.slice(2);
    if (key === 'wrong-totp-first') {
      opts[key] = true;
    } else {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      opts[key] = argv[++i];
    }
  }
  for (const need of ['endpoint', 'pool-id', 'client-id', 'username']) {
    if (!opts[need]) throw new Error(`--${need} is required`);
  }
  if (opts.password === undefined) opts.password = process.env.CIRRUS_JS_PASSWORD;
  if (!opts.password) throw new Error('a password is required (--password or CIRRUS_JS_PASSWORD)');
  return opts;
}

// ---- RFC 4648 base32 and RFC 6238 TOTP (HMAC-SHA1, 6 digits, 30 s) ------

function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const clean = text.toUpperCase().replace(/[\s=]/g, '');
  let bits = 0;
  let value = 0;
  const out = [];
  for (const ch of clean) {
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
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 1000000).padStart(6, '0');
}

// ---- output ---------------------------------------------------------------

let finished = false;
const report = { result: null, challenges: [] };

function finish(fields) {
  if (finished) return;
  finished = true;
  clearTimeout(watchdog);
  Object.assign(report, fields);
  process.stdout.write(JSON.stringify(report) + '\n', () => process.exit(0));
}

function errorFields(err) {
  return { code: err && err.code, name: err && err.name, message: err && err.message };
}

const watchdog = setTimeout(() => finish({ result: 'timeout' }), 25000);

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const pool = new CognitoUserPool({
    UserPoolId: opts['pool-id'],
    ClientId: opts['client-id'],
    endpoint: opts.endpoint,
  });
  const user = new CognitoUser({ Username: opts.username, Pool: pool });
  const details = new AuthenticationDetails({ Username: opts.username, Password: opts.password });
  const mfaErrors = [];
  let wrongSent = false;

  const unhandled = (name) => (challengeName, params) => {
    report.challenges.push(challengeName || name);
    finish({ result: 'challenge', challenge: challengeName || name, challengeParameters: params || null });
  };

  const callbacks = {
    onSuccess(session) {
      finish({
        result: 'success',
        idToken: session.getIdToken().getJwtToken(),
        accessToken: session.getAccessToken().getJwtToken(),
        refreshToken: session.getRefreshToken().getToken(),
        mfaErrors,
      });
    },
    onFailure(err) {
      if (wrongSent && mfaErrors.length === 0) {
        // the deliberately wrong TOTP code was refused: now the right one
        mfaErrors.push(errorFields(err));
        sendTotp();
        return;
      }
      finish({ result: 'failure', error: errorFields(err), mfaErrors });
    },
    totpRequired(challengeName, params) {
      report.challenges.push(challengeName);
      if (!opts['totp-secret']) {
        finish({ result: 'challenge', challenge: challengeName, challengeParameters: params || null });
        return;
      }
      if (opts['wrong-totp-first']) {
        wrongSent = true;
        const step = Math.floor(Date.now() / 30000);
        const right = totpAt(opts['totp-secret'], step);
        const wrong = String((Number(right) + 1) % 1000000).padStart(6, '0');
        user.sendMFACode(wrong, callbacks, 'SOFTWARE_TOKEN_MFA');
        return;
      }
      sendTotp();
    },
    mfaRequired: unhandled('SMS_MFA'),
    selectMFAType: unhandled('SELECT_MFA_TYPE'),
    mfaSetup: unhandled('MFA_SETUP'),
    customChallenge: (params) => unhandled('CUSTOM_CHALLENGE')('CUSTOM_CHALLENGE', params),
    newPasswordRequired: (attrs, required) =>
      unhandled('NEW_PASSWORD_REQUIRED')('NEW_PASSWORD_REQUIRED', { userAttributes: attrs, requiredAttributes: required }),
  };

  function sendTotp() {
    const step = Math.floor(Date.now() / 30000);
    report.totpStep = step;
    user.sendMFACode(totpAt(opts['totp-secret'], step), callbacks, 'SOFTWARE_TOKEN_MFA');
  }

  user.authenticateUser(details, callbacks);
}

try {
  main();
} catch (err) {
  finish({ result: 'failure', error: { code: 'ScriptError', name: err.name, message: err.message, stack: err.stack } });
}

#!/usr/bin/env bash
# Run the Cirrus compatibility suite (boto3 against a real `cirrus serve`).
#
#   tests/compat/run.sh [extra pytest args]
#
# Creates tests/compat/.venv on first use and re-installs requirements only
# when requirements.txt changes (its hash is kept in a stamp file); likewise
# runs `npm ci` in tests/compat/js (needs node and npm) when its lockfile changes,
# and installs Debian's chromium and xmlsec1 (scripts/apt-ensure.sh) when they are missing.
# Environment: CIRRUS_BIN (default target/debug/cirrus, relative to the repo
# root), PYTHON (interpreter used to create the venv, default python3).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

VENV=tests/compat/.venv
REQ=tests/compat/requirements.txt
STAMP="$VENV/.requirements.sha256"
PY="${PYTHON:-python3}"
LOG="$(mktemp "${TMPDIR:-/tmp}/cirrus-compat-setup.XXXXXX")"
trap 'rm -f "$LOG"' EXIT

fail_setup() {
    echo "compat: $1 (log follows)" >&2
    cat "$LOG" >&2
    exit 2
}

# A venv whose interpreter no longer runs (moved repo, removed python) is rebuilt.
if ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    rm -rf "$VENV"
    "$PY" -m venv "$VENV" >"$LOG" 2>&1 || fail_setup "could not create $VENV"
fi

want="$(sha256sum "$REQ" | cut -d' ' -f1)"
have="$(cat "$STAMP" 2>/dev/null || true)"
if [ "$want" != "$have" ]; then
    rm -f "$STAMP"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ" >"$LOG" 2>&1 \
        || fail_setup "pip install -r $REQ failed"
    echo "$want" >"$STAMP"
fi

# Node clients (amazon-cognito-identity-js) for the SRP tests: `npm ci` from the
# committed lockfile, again only when package.json / package-lock.json change.
JS=tests/compat/js
JS_STAMP="$JS/node_modules/.cirrus-lock.sha256"
if [ -f "$JS/package-lock.json" ]; then
    js_want="$(cat "$JS/package.json" "$JS/package-lock.json" | sha256sum | cut -d' ' -f1)"
    js_have="$(cat "$JS_STAMP" 2>/dev/null || true)"
    if [ "$js_want" != "$js_have" ]; then
        command -v npm >/dev/null 2>&1 || { echo "npm not found on PATH" >"$LOG"; fail_setup "cannot install $JS"; }
        (cd "$JS" && npm ci --no-audit --no-fund --loglevel=error) >"$LOG" 2>&1 \
            || fail_setup "npm ci in $JS failed"
        echo "$js_want" >"$JS_STAMP"
    fi
fi

# Headless Chromium for the hosted-UI browser tests (test_hosted_ui_browser.py,
# driven by playwright-core, which downloads no browser of its own): Debian's
# package, installed only when missing.
scripts/apt-ensure.sh chromium >"$LOG" 2>&1 || fail_setup "could not install Debian's chromium"
# xmlsec1: pysaml2, the SAML identity provider of test_federation_saml.py, signs with it.
scripts/apt-ensure.sh xmlsec1 >"$LOG" 2>&1 || fail_setup "could not install Debian's xmlsec1"

set +e
"$VENV/bin/python" -m pytest -q tests/compat "$@"
rc=$?
exit "$rc"

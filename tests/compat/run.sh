#!/usr/bin/env bash
# Run the Cirrus compatibility suite (boto3 against a real `cirrus serve`).
#
#   tests/compat/run.sh [extra pytest args]
#
# Creates tests/compat/.venv on first use and re-installs requirements only
# when requirements.txt changes (its hash is kept in a stamp file).
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

set +e
"$VENV/bin/python" -m pytest -q tests/compat "$@"
rc=$?
exit "$rc"

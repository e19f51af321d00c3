#!/usr/bin/env bash
# Full test run (what `make test` and CI run):
#   1. scripts/bootstrap.sh             -- machine prerequisites
#   2. resolve PostgreSQL               -- scripts/pg-test-url.sh (never skipped)
#   3. cargo build --workspace --all-targets
#   4. cargo test --workspace           -- with CIRRUS_TEST_POSTGRES_URL exported
#   5. tests/compat/run.sh              -- Python compat suite, if present
# Stops at the first failure with a nonzero exit.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

step() { printf '\n==> %s\n' "$*" >&2; }

step "bootstrap"
scripts/bootstrap.sh

step "PostgreSQL"
# shellcheck source=scripts/pg-test-url.sh
source scripts/pg-test-url.sh
trap cirrus_pg_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
cirrus_pg_resolve
export CIRRUS_TEST_POSTGRES_URL

step "cargo build --workspace --all-targets"
cargo build --workspace --all-targets --quiet

step "cargo test --workspace (CIRRUS_TEST_POSTGRES_URL=$CIRRUS_TEST_POSTGRES_URL)"
cargo test --workspace

if [[ -f tests/compat/run.sh ]]; then
    step "tests/compat/run.sh"
    # run.sh builds its venv with python3; Debian's python3 needs python3-venv for that.
    if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
        scripts/apt-ensure.sh python3 python3-venv
    fi
    bash tests/compat/run.sh
else
    step "tests/compat/run.sh not present; compat suite not run"
fi

step "all tests passed"

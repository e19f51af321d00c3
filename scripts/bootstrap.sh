#!/usr/bin/env bash
# Prepare this machine to build and test Cirrus. Idempotent, quiet, and fast
# (well under 2 s) when everything is already in place.
#
# - Debian packages the build needs (installed only when missing):
#     pkg-config libxmlsec1-dev libclang-dev  -- native deps of the SAML crate
#     curl ca-certificates
# - the Rust toolchain (cargo) must already be installed (rustup); we don't
#   fetch toolchains.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

"$here/apt-ensure.sh" pkg-config libxmlsec1-dev libclang-dev curl ca-certificates

# rustup installs into ~/.cargo/bin, which a non-login shell may not have on PATH.
if ! command -v cargo >/dev/null 2>&1 && [[ -x ${CARGO_HOME:-$HOME/.cargo}/bin/cargo ]]; then
    echo "bootstrap: cargo is installed at ${CARGO_HOME:-$HOME/.cargo}/bin but not on PATH;" \
         "add it (e.g. 'source ~/.cargo/env') and re-run" >&2
    exit 1
fi
if ! command -v cargo >/dev/null 2>&1; then
    echo "bootstrap: 'cargo' not found. Cirrus needs the Rust toolchain installed via rustup" \
         "(see rust-version in Cargo.toml); it is not installed by this script." >&2
    exit 1
fi

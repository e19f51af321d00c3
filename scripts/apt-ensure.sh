#!/usr/bin/env bash
# Install the named Debian packages, but only those not already installed.
#
#   scripts/apt-ensure.sh PKG...
#
# Silent and fast (one dpkg-query per package, no network) when everything is
# present; runs `apt-get update` + `apt-get install` only for what is missing.
# Uses sudo when not root (and sudo exists); fails clearly otherwise.
set -euo pipefail

missing=()
for pkg in "$@"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$pkg")
done
((${#missing[@]} == 0)) && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "apt-ensure: missing Debian packages (${missing[*]}) and no apt-get on this machine" >&2
    exit 1
fi

as_root=()
if ((EUID != 0)); then
    if command -v sudo >/dev/null 2>&1; then
        as_root=(sudo)
    else
        echo "apt-ensure: need root (or sudo) to install: ${missing[*]}" >&2
        exit 1
    fi
fi

apt_env=(env DEBIAN_FRONTEND=noninteractive)
apt_opts=(-q -o DPkg::Lock::Timeout=300)
echo "apt-ensure: installing ${missing[*]}" >&2
log=$(mktemp -t cirrus-apt.XXXXXX)
trap 'rm -f "$log"' EXIT
if ! "${as_root[@]}" "${apt_env[@]}" apt-get "${apt_opts[@]}" update >"$log" 2>&1 ||
   ! "${as_root[@]}" "${apt_env[@]}" apt-get "${apt_opts[@]}" install -y --no-install-recommends "${missing[@]}" >>"$log" 2>&1; then
    cat "$log" >&2
    echo "apt-ensure: failed to install: ${missing[*]}" >&2
    exit 1
fi

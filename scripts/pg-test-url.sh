#!/usr/bin/env bash
# Resolve a PostgreSQL server for the Rust tests and export its URL as
# CIRRUS_TEST_POSTGRES_URL.
#
# Two ways to use it:
#
#   source scripts/pg-test-url.sh      # defines the functions below
#   cirrus_pg_resolve                  # sets + exports CIRRUS_TEST_POSTGRES_URL
#   trap cirrus_pg_cleanup EXIT        # stops a throwaway cluster, if one was made
#
#   scripts/pg-test-url.sh CMD [ARGS...]   # run CMD with the URL exported,
#                                          # then clean up
#
# Resolution order (the choice is always printed; PostgreSQL is never skipped):
#   1. $CIRRUS_TEST_POSTGRES_URL, if set;
#   2. a server at 127.0.0.1:5432 that accepts `select 1` as user postgres,
#      database test -> postgres://postgres@127.0.0.1:5432/test;
#   3. a throwaway cluster: Debian's `postgresql` is installed if missing, a
#      cluster is initdb'd (trust auth) in a temp dir as the `postgres` OS user,
#      started with pg_ctl on a free loopback port (unix socket in the temp dir),
#      database `test` is created, and cirrus_pg_cleanup stops and deletes it.
#
# CIRRUS_TEST_PG_FORCE_THROWAWAY=1 skips 1 and 2 (used to test branch 3).

_cirrus_pg_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
_cirrus_pg_tmp=""
_cirrus_pg_bindir=""
_cirrus_pg_runas=()

_cirrus_pg_log() { echo "pg-test-url: $*" >&2; }

# psql against a URL; quiet, short connect timeout. Succeeds iff `select 1` works.
_cirrus_pg_select1() {
    local out
    out=$(PGCONNECT_TIMEOUT=3 psql "$1" -X -A -t -q -c 'select 1' 2>/dev/null) || return 1
    [[ $out == 1 ]]
}

_cirrus_pg_port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Run a command as the cluster owner: `postgres` when we are root (initdb
# refuses to run as root), ourselves otherwise. cwd is the temp dir so the
# postgres user never needs access to the caller's cwd.
_cirrus_pg_as_owner() {
    (cd "$_cirrus_pg_tmp" && "${_cirrus_pg_runas[@]}" "$@")
}

_cirrus_pg_find_bindir() {
    local d
    # Debian keeps server binaries out of PATH, one dir per major version.
    d=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n1)
    if [[ -n $d && -x $d/initdb && -x $d/pg_ctl ]]; then
        echo "$d"
        return 0
    fi
    if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(readlink -f "$(command -v initdb)")"
        return 0
    fi
    return 1
}

_cirrus_pg_start_throwaway() {
    "$_cirrus_pg_here/apt-ensure.sh" postgresql
    _cirrus_pg_bindir=$(_cirrus_pg_find_bindir) || {
        _cirrus_pg_log "postgresql is installed but initdb/pg_ctl were not found"
        return 1
    }

    _cirrus_pg_tmp=$(mktemp -d -t cirrus-pg.XXXXXX)
    if ((EUID == 0)); then
        if ! id postgres >/dev/null 2>&1; then
            _cirrus_pg_log "running as root but there is no 'postgres' OS user to own the cluster"
            return 1
        fi
        chown postgres: "$_cirrus_pg_tmp"
        if command -v runuser >/dev/null 2>&1; then
            _cirrus_pg_runas=(runuser -u postgres --)
        else
            _cirrus_pg_runas=(sudo -u postgres --)
        fi
    else
        _cirrus_pg_runas=()
    fi

    if ! _cirrus_pg_as_owner "$_cirrus_pg_bindir/initdb" -D "$_cirrus_pg_tmp/data" -U postgres \
            -A trust -E UTF8 --locale=C --no-sync >"$_cirrus_pg_tmp/initdb.log" 2>&1; then
        cat "$_cirrus_pg_tmp/initdb.log" >&2
        _cirrus_pg_log "initdb failed"
        return 1
    fi

    # Pick a free port; retry a few times in case another process grabs it first.
    local port="" started=""
    for _ in 1 2 3 4 5; do
        port=$((20000 + RANDOM % 40000))
        _cirrus_pg_port_in_use "$port" && continue
        if _cirrus_pg_as_owner "$_cirrus_pg_bindir/pg_ctl" -D "$_cirrus_pg_tmp/data" \
                -l "$_cirrus_pg_tmp/server.log" -w -t 60 -s \
                -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$_cirrus_pg_tmp -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
                start >/dev/null 2>&1; then
            started=1
            break
        fi
    done
    if [[ -z $started ]]; then
        [[ -f $_cirrus_pg_tmp/server.log ]] && tail -n 20 "$_cirrus_pg_tmp/server.log" >&2
        _cirrus_pg_log "could not start a throwaway PostgreSQL cluster"
        return 1
    fi

    if ! _cirrus_pg_as_owner "$_cirrus_pg_bindir/createdb" -h "$_cirrus_pg_tmp" -p "$port" \
            -U postgres test; then
        _cirrus_pg_log "createdb test failed"
        return 1
    fi

    CIRRUS_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/test"
    export CIRRUS_TEST_POSTGRES_URL
    _cirrus_pg_log "using throwaway PostgreSQL $("$_cirrus_pg_bindir/postgres" -V | awk '{print $3}')" \
                   "cluster in $_cirrus_pg_tmp: $CIRRUS_TEST_POSTGRES_URL"
}

# Stop and delete the throwaway cluster, if any. Safe to call more than once.
cirrus_pg_cleanup() {
    [[ -n $_cirrus_pg_tmp ]] || return 0
    if [[ -f $_cirrus_pg_tmp/data/postmaster.pid ]]; then
        _cirrus_pg_as_owner "$_cirrus_pg_bindir/pg_ctl" -D "$_cirrus_pg_tmp/data" -m immediate \
            -w -s stop >/dev/null 2>&1 || true
    fi
    rm -rf -- "$_cirrus_pg_tmp"
    _cirrus_pg_log "stopped and removed throwaway cluster $_cirrus_pg_tmp"
    _cirrus_pg_tmp=""
}

cirrus_pg_resolve() {
    if [[ ${CIRRUS_TEST_PG_FORCE_THROWAWAY:-} != 1 ]]; then
        if [[ -n ${CIRRUS_TEST_POSTGRES_URL:-} ]]; then
            export CIRRUS_TEST_POSTGRES_URL
            _cirrus_pg_log "using PostgreSQL from \$CIRRUS_TEST_POSTGRES_URL: $CIRRUS_TEST_POSTGRES_URL"
            return 0
        fi
        local local_url="postgres://postgres@127.0.0.1:5432/test"
        command -v psql >/dev/null 2>&1 || "$_cirrus_pg_here/apt-ensure.sh" postgresql-client
        if _cirrus_pg_select1 "$local_url"; then
            CIRRUS_TEST_POSTGRES_URL=$local_url
            export CIRRUS_TEST_POSTGRES_URL
            local ver
            ver=$(PGCONNECT_TIMEOUT=3 psql "$local_url" -X -A -t -q -c 'show server_version' 2>/dev/null || echo '?')
            _cirrus_pg_log "using local PostgreSQL $ver server: $CIRRUS_TEST_POSTGRES_URL"
            return 0
        fi
        if command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432; then
            _cirrus_pg_log "a server answers on 127.0.0.1:5432 but 'select 1' as postgres on db test" \
                           "failed; starting a throwaway cluster instead"
        fi
    else
        _cirrus_pg_log "CIRRUS_TEST_PG_FORCE_THROWAWAY=1: ignoring \$CIRRUS_TEST_POSTGRES_URL and 127.0.0.1:5432"
    fi
    _cirrus_pg_start_throwaway
}

# Executed (not sourced): run the given command against the resolved server.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -euo pipefail
    if (($# == 0)); then
        echo "usage: $0 CMD [ARGS...]   (or: source $0; cirrus_pg_resolve)" >&2
        exit 2
    fi
    trap cirrus_pg_cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    cirrus_pg_resolve
    "$@"
fi

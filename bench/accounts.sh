#!/usr/bin/env bash
# Cirrus bench, accounts: bulk-import throughput and ListUsers latency on
# pools of 10,000 and 1,000,000 users, on SQLite and on PostgreSQL. Each
# backend gets its own server (fresh temp data dir, fixed admin creds,
# default settings otherwise; PostgreSQL in a fresh schema that is dropped
# at the end). For each pool size: bench/accounts.py creates a pool and
# fills it through the server's import job (CSV PUT to the PreSignedUrl),
# then wrk replays three SigV4-signed ListUsers (exact email, given_name
# prefix with Limit 60, no filter with Limit 60) at each concurrency, 10 s
# each, re-signed before every run. Writes a Markdown section to
# $BENCH_OUT/accounts.md and, unless BENCH_NO_RESULTS=1, appends it to
# bench/RESULTS.md. Not part of `make test`; run after `cargo build --release`.
#
# Knobs (environment):
#   BENCH_ACCOUNTS_BACKENDS   "sqlite postgres"
#   BENCH_ACCOUNTS_SIZES_SQLITE    "10000 1000000"
#   BENCH_ACCOUNTS_SIZES_POSTGRES  "10000 100000 1000000" (each size is a new
#                             pool; a size is skipped when the previous
#                             one's rate projects it past the limit below)
#   BENCH_ACCOUNTS_CONNS      "1 8"
#   BENCH_DURATION            10s per wrk run
#   BENCH_ACCOUNTS_MAX_IMPORT seconds an import may be projected to take (900);
#                             a larger pool projected (from the previous
#                             size's rate) to take longer is skipped and said so
#   BENCH_PG_URL              postgres://postgres@127.0.0.1:5432/test
#   BENCH_ACCOUNTS_PG_ANALYZE 1: ANALYZE users and user_search after each
#                             PostgreSQL import, as autovacuum would (this
#                             machine's PostgreSQL runs with autovacuum = off;
#                             without statistics the cached plan of the
#                             foreign-key check scans the whole pool per
#                             insert: see the accounts section of
#                             bench/RESULTS.md); 0: never
#   BENCH_BINARY              target/release/cirrus
#   BENCH_OUT                 bench/out/accounts
#   BENCH_PY                  python with boto3 + requests (tests/compat/.venv)
#   BENCH_NO_RESULTS=1        leave bench/RESULTS.md alone
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

backends=${BENCH_ACCOUNTS_BACKENDS:-sqlite postgres}
declare -A sizes=(
    [sqlite]=${BENCH_ACCOUNTS_SIZES_SQLITE:-10000 1000000}
    [postgres]=${BENCH_ACCOUNTS_SIZES_POSTGRES:-10000 100000 1000000}
)
conns=${BENCH_ACCOUNTS_CONNS:-1 8}
duration=${BENCH_DURATION:-10s}
max_import=${BENCH_ACCOUNTS_MAX_IMPORT:-900}
pg_analyze=${BENCH_ACCOUNTS_PG_ANALYZE:-1}
pg_url=${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/test}
bin=${BENCH_BINARY:-target/release/cirrus}
out=${BENCH_OUT:-bench/out/accounts}
py=${BENCH_PY:-tests/compat/.venv/bin/python}
results=bench/RESULTS.md
# The commit the binary is assumed to be built from: HEAD when the run starts.
start_commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo none)
start_dirty=""
[[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]] && start_dirty=" + uncommitted changes"

export CIRRUS_ADMIN_ACCESS_KEY_ID=AKIACIRRUSBENCH00001
export CIRRUS_ADMIN_SECRET_ACCESS_KEY=cirrusBenchSecretKey0000000000000000000
unset CIRRUS_DATABASE_URL CIRRUS_DATABASE_SCHEMA

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'accounts bench: FAILED: %s\n' "$*" >&2; exit 1; }

[[ -x $bin ]] || die "$bin not found (cargo build --release)"
command -v wrk >/dev/null || die "wrk not installed (scripts/apt-ensure.sh wrk)"
$py -c 'import boto3, requests' || die "$py lacks boto3/requests"
rm -rf "$out"
mkdir -p "$out"

clk=$(getconf CLK_TCK)
machine_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
pid_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# "pid ticks" (utime + stime) of every process of user postgres (the
# database server's backends), one per line.
pg_snap() {
    local p
    for p in $(pgrep -u postgres 2>/dev/null); do echo "$p $(pid_ticks "$p")"; done
}
# CPU ticks PostgreSQL used between two pg_snap outputs: per-process deltas,
# full ticks for processes started in between (one that exited in between
# is lost, which shows up under "other").
pg_delta() {
    awk 'NR == FNR { before[$1] = $2; next } { total += $2 - (($1 in before) ? before[$1] : 0) } END { print total + 0 }' \
        <(echo "$1") <(echo "$2")
}
now_ns() { date +%s%N; }
cores() { awk -v t="$1" -v ns="$2" -v hz="$clk" 'BEGIN { printf "%.2f", t / hz / (ns / 1e9) }'; }

# Waits (up to 10 min) until no cargo/rustc runs and the machine is below
# 0.10 cores busy over 5 s, so that another bench does not share the cores.
wait_quiet() {
    local i a b
    for i in $(seq 1 120); do
        if ! pgrep -x cargo >/dev/null && ! pgrep -x rustc >/dev/null; then
            a=$(machine_ticks); sleep 5; b=$(machine_ticks)
            if (((b - a) * 100 < 10 * clk * 5)); then return 0; fi
            say "machine busy ($(cores $((b - a)) 5000000000) cores over 5 s), waiting"
        else
            sleep 5
        fi
    done
    say "machine never quiet; going on (figures will show other load)"
}

server_pid=""
schema=""
data_dir=""
cleanup() {
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
    [[ -n $data_dir ]] && rm -rf -- "$data_dir"
    if [[ -n $schema ]]; then
        psql -q "$pg_url" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }
jget() { $py -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }

# run_wrk NAME CONNS DURATION REQUEST.lua -> BENCH line + cpu fields; fails on any error
run_wrk() {
    local name=$1 c=$2 d=$3 req=$4 log=$out/wrk-$1-c$2.txt threads rc ticks s0 s1 p0 p1 m0 m1 t0 t1 line f
    threads=2
    ((c < 2)) && threads=1
    s0=$(pid_ticks "$server_pid"); p0=$(pg_snap); m0=$(machine_ticks); t0=$(now_ns)
    read -r rc ticks < <(
        rc=0
        CIRRUS_BENCH_REQUEST=$req wrk -t"$threads" -c"$c" -d"$d" --latency -s bench/wrk.lua "$base/" \
            >"$log" 2>&1 || rc=$?
        read -r -a st <"/proc/$BASHPID/stat"
        echo "$rc $((st[15] + st[16]))"
    )
    s1=$(pid_ticks "$server_pid"); p1=$(pg_snap); m1=$(machine_ticks); t1=$(now_ns)
    ((rc == 0)) || { cat "$log" >&2; die "wrk exited $rc ($name c=$c)"; }
    line=$(grep '^BENCH ' "$log") || { cat "$log" >&2; die "no BENCH line ($name c=$c)"; }
    grep -q 'Non-2xx or 3xx responses' "$log" && { cat "$log" >&2; die "$name c=$c: non-2xx responses"; }
    grep -q 'Socket errors' "$log" && { cat "$log" >&2; die "$name c=$c: socket errors"; }
    for f in status_errors connect_errors read_errors write_errors timeouts; do
        [[ $line == *" $f=0"* ]] || { cat "$log" >&2; die "$name c=$c: $f nonzero: $line"; }
    done
    [[ $line == *" requests=0 "* ]] && die "$name c=$c: no requests completed"
    local ns=$((t1 - t0)) sv=$((s1 - s0)) pg
    pg=$(pg_delta "$p0" "$p1")
    echo "$line server_cores=$(cores $sv $ns) pg_cores=$(cores $pg $ns) wrk_cores=$(cores "$ticks" $ns) other_cores=$(cores $((m1 - m0 - sv - pg - ticks)) $ns)"
}

# The three ListUsers bodies for a pool of N users (the exact match is the
# middle user: user0500000 in the 1M pool, user0005000 in the 10k pool).
query_body() {
    local kind=$1 pool=$2 n=$3
    case $kind in
        exact) printf '{"UserPoolId":"%s","Filter":"email = \\"user%07d@example.com\\""}' "$pool" $((n / 2)) ;;
        prefix) printf '{"UserPoolId":"%s","Filter":"given_name ^= \\"Al\\"","Limit":60}' "$pool" ;;
        all) printf '{"UserPoolId":"%s","Limit":60}' "$pool" ;;
    esac
}
query_label() {
    case $1 in
        exact) printf 'email = "user%07d@example.com"' $(($2 / 2)) ;;
        prefix) echo 'given_name ^= "Al", Limit 60' ;;
        all) echo 'no filter, Limit 60' ;;
    esac
}
query_expect() { case $1 in exact) echo 1 ;; *) echo 60 ;; esac; }

# EXPLAIN ANALYZE of the three list_users statements for every pool in SCHEMA.
pg_explain() {
    local sc=$1 pool n email sel
    sel="SELECT u.*, s.value AS sort_value FROM $sc.user_search s JOIN $sc.users u ON u.pool_id = s.pool_id AND u.username_key = s.username_key WHERE s.pool_id = \$1 AND s.attribute = \$2"
    psql -X -At "$pg_url" -c "SELECT pool_id, count(*) FROM $sc.users GROUP BY pool_id ORDER BY 2" |
    while IFS='|' read -r pool n; do
        email=$(printf 'user%07d@example.com' $((n / 2)))
        echo "==== pool $pool ($n users)"
        psql -X "$pg_url" <<SQL
SET search_path = $sc;
PREPARE q_exact(text, text, text, text, text, text, bigint) AS $sel AND s.value = \$3 AND \$4 = \$4 AND (s.value, s.username_key) > (\$5, \$6) ORDER BY s.value, s.username_key LIMIT \$7;
PREPARE q_prefix(text, text, text, text, text, text, bigint) AS $sel AND s.value >= \$3 AND s.value < \$4 AND (s.value, s.username_key) > (\$5, \$6) ORDER BY s.value, s.username_key LIMIT \$7;
PREPARE q_all(text, text, bigint) AS SELECT u.*, u.username_key AS sort_value FROM $sc.users u WHERE u.pool_id = \$1 AND u.username_key > \$2 ORDER BY u.username_key LIMIT \$3;
\\echo '---- exact, custom plan'
EXPLAIN (ANALYZE, BUFFERS) EXECUTE q_exact('$pool', 'email', '$email', '$email' || chr(1114111), '', '', 61);
\\echo '---- prefix, custom plan'
EXPLAIN (ANALYZE, BUFFERS) EXECUTE q_prefix('$pool', 'given_name', 'Al', 'Al' || chr(1114111), '', '', 61);
\\echo '---- no filter, custom plan'
EXPLAIN (ANALYZE, BUFFERS) EXECUTE q_all('$pool', '', 61);
SET plan_cache_mode = force_generic_plan;
\\echo '---- exact, generic plan'
EXPLAIN (ANALYZE, BUFFERS) EXECUTE q_exact('$pool', 'email', '$email', '$email' || chr(1114111), '', '', 61);
\\echo '---- prefix, generic plan'
EXPLAIN (ANALYZE, BUFFERS) EXECUTE q_prefix('$pool', 'given_name', 'Al', 'Al' || chr(1114111), '', '', 61);
\\echo '---- no filter, generic plan'
EXPLAIN (ANALYZE, BUFFERS) EXECUTE q_all('$pool', '', 61);
SQL
    done
    echo "==== settings"
    psql -X -At "$pg_url" -c "SELECT name, setting, source FROM pg_settings WHERE name IN ('autovacuum', 'shared_buffers', 'work_mem', 'random_page_cost', 'effective_cache_size', 'plan_cache_mode')"
    echo "==== statistics state of the tables (reltuples -1 = never ANALYZEd)"
    psql -X "$pg_url" -c "SELECT c.relname, c.relpages, c.reltuples, pg_size_pretty(pg_relation_size(c.oid)) AS size, s.last_analyze, s.last_autoanalyze FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE c.relnamespace = '$sc'::regnamespace AND c.relname IN ('users', 'user_search')"
    echo "==== index use over the whole run (pg_stat_user_indexes)"
    psql -X "$pg_url" -c "SELECT relname, indexrelname, idx_scan, idx_tup_read, idx_tup_fetch FROM pg_stat_user_indexes WHERE schemaname = '$sc' AND idx_scan > 0 ORDER BY idx_tup_read DESC"
    echo "==== the foreign-key check user_search -> users as PostgreSQL's RI trigger runs it (a generic plan, cached per connection), planned now"
    psql -X "$pg_url" <<SQL
SET search_path = $sc;
SET plan_cache_mode = force_generic_plan;
PREPARE ri(text, text) AS SELECT 1 FROM ONLY users x WHERE pool_id OPERATOR(pg_catalog.=) \$1 AND username_key OPERATOR(pg_catalog.=) \$2 FOR KEY SHARE OF x;
EXPLAIN EXECUTE ri('x', 'y');
SQL
}

rows=$out/rows.tsv   # backend size kind conns rps p50 p99 requests server pg wrk other
imports=$out/imports.tsv  # backend size imported seconds rate csv_mb upload_s
skipped=$out/skipped.txt
: >"$rows"; : >"$imports"; : >"$skipped"
declare -A stop_rc

for backend in $backends; do
    wait_quiet
    port=$(free_port)
    base=http://127.0.0.1:$port
    data_dir=$(mktemp -d -t cirrus-accounts-data.XXXXXX)
    env_db=()
    if [[ $backend == postgres ]]; then
        schema=bench_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
        env_db=(CIRRUS_DATABASE_URL="$pg_url" CIRRUS_DATABASE_SCHEMA="$schema")
        say "postgres schema $schema"
    fi
    env "${env_db[@]}" CIRRUS_LISTEN=127.0.0.1:$port CIRRUS_DATA_DIR="$data_dir" "$bin" serve \
        </dev/null >"$out/server-$backend.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 600); do
        curl -fsS -o /dev/null "$base/readyz" 2>/dev/null && break
        kill -0 "$server_pid" 2>/dev/null || { tail -n 30 "$out/server-$backend.log" >&2; die "server exited during startup"; }
        sleep 0.05
    done
    curl -fsS -o /dev/null "$base/readyz" || die "server not ready after 30 s"
    say "$backend: server pid $server_pid on $base"
    if [[ $backend == postgres ]]; then
        # The FK-check plan as it is made on the fresh, empty, never-ANALYZEd
        # tables (what the server's pooled connections cache at their first
        # insert into user_search).
        psql -X "$pg_url" >"$out/pg-ri-plan-empty.txt" 2>&1 <<SQL || true
SET search_path = $schema;
SELECT relpages, reltuples FROM pg_class WHERE oid = 'users'::regclass;
SET plan_cache_mode = force_generic_plan;
PREPARE ri(text, text) AS SELECT 1 FROM ONLY users x WHERE pool_id OPERATOR(pg_catalog.=) \$1 AND username_key OPERATOR(pg_catalog.=) \$2 FOR KEY SHARE OF x;
EXPLAIN EXECUTE ri('x', 'y');
SQL
    fi

    prev_rate=""
    for n in ${sizes[$backend]}; do
        if [[ -n $prev_rate ]] && awk -v n="$n" -v r="$prev_rate" -v m="$max_import" 'BEGIN { exit !(n / r > m) }'; then
            msg="$backend: $n users skipped: projected import $(awk -v n="$n" -v r="$prev_rate" 'BEGIN { printf "%.0f", n / r }') s at the $(printf '%.0f' "$prev_rate") users/s measured on the previous size exceeds $max_import s"
            say "$msg"; echo "$msg" >>"$skipped"
            continue
        fi
        say "$backend: importing $n users"
        $py bench/accounts.py --endpoint "$base" import --users "$n" --pool-name "accounts-$n" \
            >"$out/import-$backend-$n.json" || die "import of $n users on $backend failed"
        cat "$out/import-$backend-$n.json" >&2
        imp=$out/import-$backend-$n.json
        pool=$(jget "$imp" pool_id)
        prev_rate=$(jget "$imp" users_per_s)
        if [[ $backend == postgres && $pg_analyze == 1 ]]; then
            psql -q -X "$pg_url" -c "ANALYZE $schema.users; ANALYZE $schema.user_search" || die "ANALYZE failed"
            say "postgres: ANALYZEd users and user_search"
        fi
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$backend" "$n" "$(jget "$imp" imported)" "$(jget "$imp" import_s)" \
            "$prev_rate" "$(awk -v b="$(jget "$imp" csv_bytes)" 'BEGIN { printf "%.1f", b / 1048576 }')" \
            "$(jget "$imp" upload_s)" >>"$imports"

        for kind in exact prefix all; do
            body=$(query_body $kind "$pool" "$n")
            # Answer check (the expected count) before any timing.
            filter=$($py -c 'import json,sys; print(json.loads(sys.argv[1]).get("Filter",""))' "$body")
            limit=$($py -c 'import json,sys; print(json.loads(sys.argv[1]).get("Limit",0))' "$body")
            $py bench/accounts.py --endpoint "$base" check --pool-id "$pool" --filter "$filter" --limit "$limit" \
                --expect "$(query_expect $kind)" >&2 || die "$backend $n $kind: wrong answer"
            $py bench/sigv4.py --endpoint "$base" emit ListUsers "$body" "$out/list-$backend-$n-$kind-warmup.lua"
            run_wrk "warmup-$backend-$n-$kind" 8 2s "$out/list-$backend-$n-$kind-warmup.lua" >/dev/null
        done
        for c in $conns; do
            for kind in exact prefix all; do
                req=$out/list-$backend-$n-$kind-c$c.lua
                $py bench/sigv4.py --endpoint "$base" emit ListUsers "$(query_body $kind "$pool" "$n")" "$req"
                line=$(run_wrk "$backend-$n-$kind" "$c" "$duration" "$req")
                say "$backend n=$n $kind c=$c: $line"
                printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$backend" "$n" "$kind" "$c" \
                    "$(field "$line" rps)" "$(field "$line" p50_us)" "$(field "$line" p99_us)" \
                    "$(field "$line" requests)" "$(field "$line" server_cores)" "$(field "$line" pg_cores)" \
                    "$(field "$line" wrk_cores)" "$(field "$line" other_cores)" >>"$rows"
            done
        done
    done

    if [[ $backend == postgres ]]; then
        # The plans PostgreSQL picks for the server's list_users queries
        # (idp/src/store/sql_users.rs), with the values of the measured runs
        # (custom plan) and as a generic plan of the prepared statement.
        pg_explain "$schema" >"$out/pg-explain.txt" 2>&1 || say "EXPLAIN failed (see $out/pg-explain.txt)"
    fi

    t0=$(now_ns)
    kill -TERM "$server_pid"
    set +e; wait "$server_pid"; rc=$?; set -e
    stop_rc[$backend]="$rc after $(( ($(now_ns) - t0) / 1000000 )) ms"
    server_pid=""
    say "$backend: SIGTERM -> exit ${stop_rc[$backend]}"
    rm -rf -- "$data_dir"; data_dir=""
    if [[ -n $schema ]]; then
        psql -q -X "$pg_url" -c "DROP SCHEMA $schema CASCADE" >/dev/null || die "could not drop schema $schema"
        say "dropped schema $schema"
        schema=""
    fi
    [[ $rc == 0 ]] || die "$backend server exited $rc on SIGTERM"
done

# --- report ------------------------------------------------------------------
commit=$start_commit
dirty=$start_dirty
end_commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo none)
[[ $end_commit != "$commit" ]] && dirty="$dirty (HEAD moved to \`$end_commit\` during the run)"
ms() { awk -v u="$1" 'BEGIN { printf "%.2f ms", u / 1000 }'; }
section=$out/accounts.md
{
    echo
    echo "## $(date -u '+%Y-%m-%d %H:%M UTC') — accounts: bulk import and ListUsers (bench/accounts.sh)"
    echo
    echo "- machine: \`nproc\` = $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r)"
    echo "- commit: \`$commit\`$dirty; binary \`$bin\` (\`cargo build --release\`, $(rustc --version 2>/dev/null))"
    echo "- server: one per backend, fresh temp data dir, fixed admin creds, default settings; SQLite = default data dir database; PostgreSQL $(psql -X -At "$pg_url" -c 'SHOW server_version' 2>/dev/null) on the same machine (\`CIRRUS_DATABASE_URL=$pg_url\`, a fresh \`CIRRUS_DATABASE_SCHEMA=bench_…\`, dropped afterwards)"
    echo "- pools filled by the server's bulk import (boto3 \`CreateUserImportJob\`, CSV PUT to the \`PreSignedUrl\`, \`StartUserImportJob\`, polled \`DescribeUserImportJob\`); rows \`user0000001\`…, \`email\` userNNNNNNN@example.com (verified), \`given_name\` cycled over 10 names of which 3 start with \"Al\", no password hashes. Both pools of a backend live in the same server and database, the 10k pool imported and measured first"
    echo "- load: wrk $(wrk -v 2>&1 | head -n1 | awk '{print $2}') on the same $(nproc)-core machine, one SigV4-signed \`ListUsers\` replayed verbatim (re-signed before every run; its answer checked first: 1 user for the exact match, 60 for the others), $duration per run after a 2 s warm-up per query at 8 connections; 1 wrk thread at 1 connection, 2 otherwise. Every run: 0 non-2xx, 0 socket errors, 0 timeouts"
    echo "- the exact-match user is the middle one of the pool: \`user0500000\` in a 1M pool, \`user0050000\` in a 100k pool, \`user0005000\` in a 10k pool"
    if [[ " $backends " == *" postgres "* ]]; then
        echo "- PostgreSQL settings that matter here: $(psql -X -At "$pg_url" -c "SELECT string_agg(name || ' = ' || setting || coalesce(' ' || unit, ''), ', ' ORDER BY name) FROM pg_settings WHERE name IN ('autovacuum', 'shared_buffers', 'synchronous_commit', 'fsync')" 2>/dev/null) (autovacuum is off in this machine's postgresql.conf, so nothing ANALYZEs a table on its own)"
        if [[ $pg_analyze == 1 ]]; then
            echo "- PostgreSQL: the bench runs \`ANALYZE users; ANALYZE user_search\` right after each import, before the ListUsers runs and before the next import, as autovacuum would have: the first (10k) import runs on the fresh, never-analyzed schema, later imports on analyzed tables"
        else
            echo "- PostgreSQL: never ANALYZEd during the run (BENCH_ACCOUNTS_PG_ANALYZE=0)"
        fi
    fi
    echo "- CPU columns: cores busy during the run, from \`/proc\`: the Cirrus server, all PostgreSQL processes, wrk, and everything else"
    echo "- SIGTERM: $(for b in $backends; do printf '%s exit %s; ' "$b" "${stop_rc[$b]:-?}"; done | sed 's/; $//')"
    echo
    echo "Import:"
    echo
    echo "| backend | users | import time (CompletionDate − StartDate) | users/s | CSV | upload PUT |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: |"
    while IFS=$'\t' read -r b n imported secs rate mb up; do
        printf '| %s | %s | %.1f s | **%.0f** | %s MiB | %.2f s |\n' "$b" "$imported" "$secs" "$rate" "$mb" "$up"
    done <"$imports"
    if [[ -s $skipped ]]; then
        echo
        sed 's/^/- not measured: /' "$skipped"
    fi
    echo
    echo "ListUsers:"
    echo
    echo "| backend | users | query | conns | req/s | p50 | p99 | requests | server cores | pg cores | wrk cores | other |"
    echo "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    while IFS=$'\t' read -r b n kind c rps p50 p99 reqs sv pg wk ot; do
        pgc=$pg; [[ $b == sqlite ]] && pgc="–"
        printf '| %s | %s | `%s` | %s | %.0f | %s | %s | %s | %s | %s | %s | %s |\n' "$b" "$n" "$(query_label "$kind" "$n")" \
            "$c" "$rps" "$(ms "$p50")" "$(ms "$p99")" "$reqs" "$sv" "$pgc" "$wk" "$ot"
    done <"$rows"
} >"$section"

cat "$section"
if [[ ${BENCH_NO_RESULTS:-} == 1 ]]; then
    say "BENCH_NO_RESULTS=1: $results not updated (section in $section)"
else
    cat "$section" >>"$results"
    say "appended to $results"
fi

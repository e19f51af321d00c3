#!/usr/bin/env bash
# Cirrus bench: startup time, RSS, and DescribeUserPool throughput relative
# to GET /healthz; then (bench/auth.sh) password sign-in and token refresh
# throughput relative to the raw argon2id and RS256 rates (bench/micro), on
# this machine. Appends one dated section to bench/RESULTS.md. See
# bench/README.md. Not part of `make test`.
#
# Knobs (environment):
#   BENCH_DURATION   wrk duration per measured run        (default 10s)
#   BENCH_CONNS      wrk concurrencies                     (default "16 64")
#   BENCH_THREADS    wrk threads                           (default 2)
#   BENCH_STARTS     fresh starts for the startup figure   (default 5)
#   BENCH_SKIP_BUILD=1  use the existing target/release/cirrus
#   BENCH_BINARY     server binary to bench (default target/release/cirrus)
#   BENCH_NO_RESULTS=1  don't touch bench/RESULTS.md (dry runs)
#   BENCH_AUTH=0     skip the sign-in / refresh part (bench/auth.sh)
#   BENCH_AUTH_CONNS, BENCH_AUTH_OVERLOAD_CONNS, BENCH_MICRO_SECONDS: see bench/auth.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

duration=${BENCH_DURATION:-10s}
conns=${BENCH_CONNS:-16 64}
threads=${BENCH_THREADS:-2}
starts=${BENCH_STARTS:-5}
auth=${BENCH_AUTH:-1}
out=bench/out
bin=${BENCH_BINARY:-target/release/cirrus}
results=bench/RESULTS.md

export CIRRUS_ADMIN_ACCESS_KEY_ID=AKIACIRRUSBENCH00001
export CIRRUS_ADMIN_SECRET_ACCESS_KEY=cirrusBenchSecretKey0000000000000000000
unset CIRRUS_DATABASE_URL

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench: FAILED: %s\n' "$*" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out"

# --- prerequisites ----------------------------------------------------------
scripts/bootstrap.sh
scripts/apt-ensure.sh wrk

# Python with botocore: the compat suite's venv if it has one, else our own.
py=""
if [[ -x tests/compat/.venv/bin/python ]] && tests/compat/.venv/bin/python -c 'import botocore' 2>/dev/null; then
    py=tests/compat/.venv/bin/python
else
    py=bench/.venv/bin/python
    if ! { [[ -x $py ]] && $py -c 'import botocore' 2>/dev/null; }; then
        say "creating bench/.venv (botocore)"
        if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
            scripts/apt-ensure.sh python3 python3-venv
        fi
        rm -rf bench/.venv
        python3 -m venv bench/.venv
        bench/.venv/bin/pip install -q --disable-pip-version-check -r bench/requirements.txt
    fi
fi
say "python: $py (botocore $($py -c 'import botocore; print(botocore.__version__)'))"

if [[ ${BENCH_SKIP_BUILD:-} != 1 ]]; then
    say "cargo build --release"
    cargo build --release --quiet
    if [[ $auth == 1 ]]; then
        # A workspace member, not a dependency of the root package.
        say "cargo build --release -p cirrus-bench-micro"
        cargo build --release --quiet -p cirrus-bench-micro
    fi
fi
[[ -x $bin ]] || die "$bin not found"

# --- startup: spawn -> first 200 from /readyz, best of N fresh starts ---------
say "startup: $starts fresh starts, polling /readyz every 5 ms"
$py bench/startup.py --binary "$bin" --runs "$starts" --interval-ms 5 \
    --log "$out/startup-server.log" >"$out/startup.json"
cat "$out/startup.json" >&2

# --- the long-lived server under test ----------------------------------------
port=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
data_dir=$(mktemp -d -t cirrus-bench-data.XXXXXX)
server_pid=""
sampler_pid=""
cleanup() {
    [[ -n $sampler_pid ]] && kill "$sampler_pid" 2>/dev/null
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
    rm -rf -- "$data_dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

CIRRUS_LISTEN=127.0.0.1:$port CIRRUS_DATA_DIR=$data_dir "$bin" serve \
    </dev/null >"$out/server.log" 2>&1 &
server_pid=$!
base=http://127.0.0.1:$port
for _ in $(seq 1 600); do
    curl -fsS -o /dev/null "$base/readyz" 2>/dev/null && break
    kill -0 "$server_pid" 2>/dev/null || { tail -n 30 "$out/server.log" >&2; die "server exited during startup"; }
    sleep 0.05
done
curl -fsS -o /dev/null "$base/readyz" || die "server not ready after 30 s"

rss_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

sleep 2
idle_rss=$(rss_kib "$server_pid" VmRSS)
say "server pid $server_pid on $base; idle VmRSS ${idle_rss} KiB"

# Samples VmRSS of the server every 50 ms; keeps the peak in $1.
sample_rss() {
    local peak=0 key val rest
    while kill -0 "$server_pid" 2>/dev/null; do
        while read -r key val rest; do
            if [[ $key == VmRSS: ]]; then
                if ((val > peak)); then
                    peak=$val
                    echo "$peak" >"$1"
                fi
                break
            fi
        done <"/proc/$server_pid/status"
        sleep 0.05
    done
}

# --- a user pool to describe -------------------------------------------------
pool_json=$($py bench/sigv4.py --endpoint "$base" call CreateUserPool '{"PoolName":"cirrus-bench"}')
pool_id=$($py -c 'import json,sys; print(json.load(sys.stdin)["UserPool"]["Id"])' <<<"$pool_json") ||
    die "CreateUserPool response has no UserPool.Id: $pool_json"
say "created user pool $pool_id"

# run_wrk NAME CONNS DURATION [REQUEST.lua] -> prints the BENCH line; fails on any error
run_wrk() {
    local name=$1 c=$2 d=$3 req=${4:-} url log line
    url=$base/
    [[ -z $req ]] && url=$base/healthz
    log=$out/wrk-$name-c$c.txt
    echo 0 >"$out/peak-rss-$name-c$c"
    sample_rss "$out/peak-rss-$name-c$c" >/dev/null 2>&1 &
    sampler_pid=$!
    local wrk_rc=0
    CIRRUS_BENCH_REQUEST=$req wrk -t"$threads" -c"$c" -d"$d" --latency -s bench/wrk.lua "$url" \
        >"$log" 2>&1 || wrk_rc=$?
    kill "$sampler_pid" 2>/dev/null || true
    wait "$sampler_pid" 2>/dev/null || true
    sampler_pid=""
    ((wrk_rc == 0)) || { cat "$log" >&2; die "wrk failed (exit $wrk_rc) for $name c=$c"; }
    line=$(grep '^BENCH ' "$log") || { cat "$log" >&2; die "no BENCH line from wrk ($name c=$c)"; }
    if grep -q 'Non-2xx or 3xx responses' "$log"; then
        cat "$log" >&2
        die "$name c=$c: wrk saw non-2xx responses: $(grep 'Non-2xx' "$log")"
    fi
    if grep -q 'Socket errors' "$log"; then
        cat "$log" >&2
        die "$name c=$c: wrk saw socket errors: $(grep 'Socket errors' "$log")"
    fi
    local f
    for f in status_errors connect_errors read_errors write_errors timeouts; do
        [[ $line == *" $f=0"* ]] || { cat "$log" >&2; die "$name c=$c: $f nonzero: $line"; }
    done
    [[ $line == *" requests=0 "* ]] && die "$name c=$c: no requests completed"
    echo "$line"
}

field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }

# A fresh signature per measured run keeps every replay well inside the
# 15-minute SigV4 window.
sign_describe() {
    $py bench/sigv4.py --endpoint "$base" emit DescribeUserPool \
        "{\"UserPoolId\":\"$pool_id\"}" "$out/describe-$1.lua"
}

say "warm-up (2 s each, not reported)"
sign_describe warmup
run_wrk warmup-healthz 16 2s >/dev/null
run_wrk warmup-describe 16 2s "$out/describe-warmup.lua" >/dev/null

declare -A rps p50 p99 peak
for c in $conns; do
    say "c=$c: GET /healthz, $duration"
    line=$(run_wrk healthz "$c" "$duration")
    echo "   $line" >&2
    rps[healthz-$c]=$(field "$line" rps); p50[healthz-$c]=$(field "$line" p50_us); p99[healthz-$c]=$(field "$line" p99_us)
    peak[healthz-$c]=$(cat "$out/peak-rss-healthz-c$c")

    say "c=$c: DescribeUserPool (SigV4), $duration"
    sign_describe "c$c"
    line=$(run_wrk describe "$c" "$duration" "$out/describe-c$c.lua")
    echo "   $line" >&2
    rps[describe-$c]=$(field "$line" rps); p50[describe-$c]=$(field "$line" p50_us); p99[describe-$c]=$(field "$line" p99_us)
    peak[describe-$c]=$(cat "$out/peak-rss-describe-c$c")
done

hwm=$(rss_kib "$server_pid" VmHWM)
loaded_peak=0
for k in "${!peak[@]}"; do
    if ((peak[$k] > loaded_peak)); then loaded_peak=${peak[$k]}; fi
done

# --- graceful stop -----------------------------------------------------------
t0=$(date +%s%N)
kill -TERM "$server_pid"
set +e
wait "$server_pid"
server_rc=$?
set -e
stop_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
server_pid=""
say "SIGTERM: exit code $server_rc after ${stop_ms} ms"

# --- sign-in and refresh (own server, after this one has stopped) ------------
if [[ $auth == 1 ]]; then
    BENCH_PY=$py BENCH_OUT=$out BENCH_BINARY=$bin BENCH_DURATION=$duration BENCH_THREADS=$threads \
        bench/auth.sh >/dev/null || die "bench/auth.sh failed"
fi

# --- report ------------------------------------------------------------------
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
ms() { awk -v u="$1" 'BEGIN { printf "%.2f ms", u / 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
rnd() { awk -v x="$1" 'BEGIN { printf "%.0f", x }'; }

commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo "none (no commits yet)")
dirty=""
[[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]] && dirty=" + uncommitted changes"
[[ $commit == none* ]] && dirty=""
startup_best=$($py -c 'import json,sys; print(json.load(sys.stdin)["best_ms"])' <"$out/startup.json")
startup_all=$($py -c 'import json,sys; print(", ".join(map(str, json.load(sys.stdin)["startup_ms"])))' <"$out/startup.json")
startup_codes=$($py -c 'import json,sys; print(", ".join(map(str, json.load(sys.stdin)["exit_codes"])))' <"$out/startup.json")
startup_stop=$($py -c 'import json,sys; print(max(json.load(sys.stdin)["sigterm_exit_ms"]))' <"$out/startup.json")

section=$out/section.md
{
    echo
    echo "## $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- machine: \`nproc\` = $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r)"
    echo "- commit: \`$commit\`$dirty"
    if [[ ${BENCH_SKIP_BUILD:-} == 1 ]]; then
        echo "- build: prebuilt \`$bin\` (BENCH_SKIP_BUILD=1), $(rustc --version)"
    else
        echo "- build: \`cargo build --release\`, $(rustc --version)"
    fi
    echo "- server: \`$bin serve\`, fresh temp data dir (SQLite; no \`CIRRUS_DATABASE_URL\`), fixed admin creds"
    echo "- load: $(wrk -v 2>&1 | head -n1 | awk '{print $1, $2}') on the same machine (shares the $(nproc) cores with the server), $threads threads, $duration per run, after a 2 s warm-up per endpoint; DescribeUserPool is one SigV4-signed request replayed verbatim"
    echo
    echo "| metric | value |"
    echo "| --- | --- |"
    echo "| startup, spawn → first 200 from \`/readyz\`, best of $starts fresh data dirs | **$startup_best ms** (all: $startup_all) |"
    echo "| idle RSS (ready + 2 s, no requests yet) | $(mib "$idle_rss") |"
    echo "| peak RSS while wrk runs (sampled every 50 ms) | $(mib "$loaded_peak") (VmHWM $(mib "$hwm")) |"
    echo "| SIGTERM → exit | code $server_rc after $stop_ms ms under no load; startup runs: codes $startup_codes, ≤ $startup_stop ms |"
    echo
    echo "| request | conns | req/s | p50 | p99 | non-2xx | req/s vs healthz |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
    for c in $conns; do
        echo "| \`GET /healthz\` | $c | $(rnd "${rps[healthz-$c]}") | $(ms "${p50[healthz-$c]}") | $(ms "${p99[healthz-$c]}") | 0 | 1.00 |"
        echo "| \`DescribeUserPool\` | $c | $(rnd "${rps[describe-$c]}") | $(ms "${p50[describe-$c]}") | $(ms "${p99[describe-$c]}") | 0 | **$(ratio "${rps[describe-$c]}" "${rps[healthz-$c]}")** |"
    done
    if [[ $auth == 1 ]]; then
        cat "$out/auth.md"
    fi
} >"$section"

cat "$section"
if [[ ${BENCH_NO_RESULTS:-} == 1 ]]; then
    say "BENCH_NO_RESULTS=1: $results not updated (section in $section)"
else
    if [[ ! -f $results ]]; then
        {
            echo "# Cirrus bench results"
            echo
            echo "Written by \`make bench\` (bench/run.sh); newest section last. Quote"
            echo "throughput as the ratio to \`GET /healthz\` measured in the same run: the"
            echo "absolute numbers depend on the machine and on wrk sharing its cores."
        } >"$results"
    fi
    cat "$section" >>"$results"
    say "appended to $results"
fi
[[ $server_rc == 0 ]] || die "server exited $server_rc on SIGTERM (expected 0)"
if [[ $auth == 1 ]]; then
    auth_rc=$(cat "$out/auth-server-rc")
    [[ $auth_rc == 0 ]] || die "auth server exited $auth_rc on SIGTERM (expected 0)"
fi

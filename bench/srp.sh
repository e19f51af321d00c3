#!/usr/bin/env bash
# Cirrus bench, SRP: USER_SRP_AUTH sign-in throughput beside USER_PASSWORD_AUTH
# on the same server in the same run. Not part of `make test`; run after
# `cargo build --release`.
#
#  1. The client alone: bench/srp_client.py math (no server) measures how
#     many sign-ins' worth of the client's SRP math (three 3072-bit modpows
#     in CPython, HKDF, HMAC) one process and $(nproc) processes do per
#     second, i.e. how much of the machine the SRP client itself takes.
#  2. One server (fresh temp data dir, fixed admin creds, default settings);
#     bench/srp_client.py setup makes a pool, a client allowing
#     ALLOW_USER_SRP_AUTH and ALLOW_USER_PASSWORD_AUTH, one confirmed user
#     (AdminCreateUser + AdminSetUserPassword Permanent), and the unsigned
#     USER_PASSWORD_AUTH InitiateAuth for wrk.
#  3. wrk replays that InitiateAuth at each of $BENCH_SRP_WRK_CONNS (every
#     response must be a 200 with an AccessToken).
#  4. bench/srp_client.py load, the same Python harness for both flows:
#     N worker processes signing in back to back (password: one request;
#     SRP: InitiateAuth USER_SRP_AUTH -> RespondToAuthChallenge
#     PASSWORD_VERIFIER), at each N of $BENCH_SRP_WORKERS.
# Writes $BENCH_OUT/srp.md and, unless BENCH_NO_RESULTS=1, appends it to
# bench/RESULTS.md.
#
# Knobs: BENCH_SRP_WRK_CONNS ("4 16"), BENCH_SRP_WORKERS ("4 16"),
# BENCH_SRP_SECONDS (15), BENCH_DURATION (wrk, 10s), BENCH_BINARY
# (target/release/cirrus), BENCH_OUT (bench/out/srp), BENCH_PY
# (tests/compat/.venv/bin/python), BENCH_NO_RESULTS=1.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

wrk_conns=${BENCH_SRP_WRK_CONNS:-4 16}
workers=${BENCH_SRP_WORKERS:-4 16}
seconds=${BENCH_SRP_SECONDS:-15}
duration=${BENCH_DURATION:-10s}
bin=${BENCH_BINARY:-target/release/cirrus}
out=${BENCH_OUT:-bench/out/srp}
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
die() { printf 'srp bench: FAILED: %s\n' "$*" >&2; exit 1; }

[[ -x $bin ]] || die "$bin not found (cargo build --release)"
command -v wrk >/dev/null || die "wrk not installed (scripts/apt-ensure.sh wrk)"
$py -c 'import boto3, requests' || die "$py lacks boto3/requests"
rm -rf "$out"
mkdir -p "$out"
cores_n=$(nproc)
clk=$(getconf CLK_TCK)
machine_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
pid_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
now_ns() { date +%s%N; }
cores() { awk -v t="$1" -v ns="$2" -v hz="$clk" 'BEGIN { printf "%.2f", t / hz / (ns / 1e9) }'; }
jf() { $py -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d[sys.argv[2]])' "$1" "$2"; }
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
    say "machine never quiet; going on (the other-CPU column shows it)"
}
wait_quiet

# --- 1. the client's SRP math alone ------------------------------------------
say "client SRP math alone: 1 and $cores_n processes, 5 s each"
$py bench/srp_client.py math --workers 1 --seconds 5 >"$out/math-1.json"
$py bench/srp_client.py math --workers "$cores_n" --seconds 5 >"$out/math-$cores_n.json"
cat "$out/math-1.json" "$out/math-$cores_n.json" >&2

# --- 2. server and setup -------------------------------------------------------
port=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
data_dir=$(mktemp -d -t cirrus-srp-data.XXXXXX)
server_pid=""
cleanup() {
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
    rm -rf -- "$data_dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

CIRRUS_LISTEN=127.0.0.1:$port CIRRUS_DATA_DIR=$data_dir "$bin" serve </dev/null >"$out/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 600); do
    curl -fsS -o /dev/null "$base/readyz" 2>/dev/null && break
    kill -0 "$server_pid" 2>/dev/null || { tail -n 30 "$out/server.log" >&2; die "server exited during startup"; }
    sleep 0.05
done
curl -fsS -o /dev/null "$base/readyz" || die "server not ready after 30 s"
say "server pid $server_pid on $base"

$py bench/srp_client.py setup --endpoint "$base" --lua "$out/login.lua" >"$out/setup.json"
pool_id=$(jf "$out/setup.json" pool_id)
client_id=$(jf "$out/setup.json" client_id)
username=$(jf "$out/setup.json" username)
password=$(jf "$out/setup.json" password)
say "pool $pool_id, client $client_id, user $username (one SRP and one password sign-in checked)"

# run_timed OUT ERR CMD...: runs CMD with stdout to OUT and stderr to ERR,
# then prints "<exit code> <CPU ticks of CMD and its children>".
run_timed() {
    local rc=0 o=$1 e=$2
    shift 2
    "$@" >"$o" 2>"$e" || rc=$?
    read -r -a st <"/proc/$BASHPID/stat"
    echo "$rc $((st[15] + st[16]))"
}

# --- 3. wrk: password sign-in --------------------------------------------------
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }
run_wrk() {
    local c=$1 d=$2 log=$out/wrk-login-c$1-$2.txt s0 s1 m0 m1 t0 t1 rc ticks line
    s0=$(pid_ticks "$server_pid"); m0=$(machine_ticks); t0=$(now_ns)
    read -r rc ticks < <(run_timed "$log" "$log.err" env CIRRUS_BENCH_REQUEST="$out/login.lua" CIRRUS_BENCH_COUNT=1 \
        CIRRUS_BENCH_OK_MARK='"AccessToken"' wrk -t2 -c"$c" -d"$d" --latency -s bench/wrk.lua "$base/")
    s1=$(pid_ticks "$server_pid"); m1=$(machine_ticks); t1=$(now_ns)
    ((rc == 0)) || { cat "$log" >&2; die "wrk exited $rc (c=$c)"; }
    line=$(grep '^BENCH ' "$log") || { cat "$log" >&2; die "no BENCH line (c=$c)"; }
    [[ $line == *" tmr=0 other=0 "* ]] || { cat "$log" >&2; die "wrk c=$c: responses other than 200 + AccessToken: $line"; }
    grep -q 'Socket errors' "$log" && { cat "$log" >&2; die "wrk c=$c: socket errors"; }
    for f in status_errors connect_errors read_errors write_errors timeouts; do
        [[ $line == *" $f=0"* ]] || { cat "$log" >&2; die "wrk c=$c: $f nonzero: $line"; }
    done
    local ns=$((t1 - t0)) sv=$((s1 - s0))
    echo "$line server_cores=$(cores $sv $ns) load_cores=$(cores "$ticks" $ns) other_cores=$(cores $((m1 - m0 - sv - ticks)) $ns) server_ms_per_ok=$(awk -v t="$sv" -v n="$(field "$line" ok)" -v hz="$clk" 'BEGIN { printf "%.2f", n ? t / hz * 1000 / n : 0 }')"
}
say "wrk warm-up (2 s, c=4)"
run_wrk 4 2s >/dev/null
declare -A wrk_line
for c in $wrk_conns; do
    wrk_line[$c]=$(run_wrk "$c" "$duration")
    say "wrk password c=$c: ${wrk_line[$c]}"
done

# --- 4. the Python harness: password and SRP ----------------------------------
run_load() {
    local flow=$1 n=$2 json=$out/load-$flow-$n.json s0 s1 m0 m1 t0 t1 rc ticks sv ns
    s0=$(pid_ticks "$server_pid"); m0=$(machine_ticks); t0=$(now_ns)
    read -r rc ticks < <(run_timed "$json" "$out/load-$flow-$n.err" "$py" bench/srp_client.py load --endpoint "$base" \
        --flow "$flow" --workers "$n" --seconds "$seconds" --warmup 2 --pool-id "$pool_id" --client-id "$client_id" \
        --username "$username" --password "$password")
    s1=$(pid_ticks "$server_pid"); m1=$(machine_ticks); t1=$(now_ns)
    ((rc == 0)) || { cat "$json" "$out/load-$flow-$n.err" >&2; die "load $flow n=$n failed"; }
    sv=$((s1 - s0)); ns=$((t1 - t0))
    $py - "$json" "$sv" "$ticks" "$((m1 - m0 - sv - ticks))" "$ns" "$clk" <<'PY'
import json, sys
path, sv, cl, other, ns, hz = sys.argv[1], *map(int, sys.argv[2:])
d = json.load(open(path))
secs = ns / 1e9
d["server_cores"] = round(sv / hz / secs, 2)
d["client_cores_proc"] = round(cl / hz / secs, 2)
d["other_cores"] = round(other / hz / secs, 2)
d["server_ms_per_signin"] = round(sv / hz * 1000 / d["signins_total"], 2) if d["signins_total"] else None
json.dump(d, open(path, "w"))
print(json.dumps(d))
PY
}
for flow in password srp; do
    for n in $workers; do
        line=$(run_load "$flow" "$n")
        say "python $flow n=$n: $line"
    done
done

# --- stop ----------------------------------------------------------------------
t0=$(now_ns)
kill -TERM "$server_pid"
set +e; wait "$server_pid"; server_rc=$?; set -e
stop_ms=$(( ($(now_ns) - t0) / 1000000 ))
server_pid=""
say "SIGTERM: exit $server_rc after $stop_ms ms"

# --- report --------------------------------------------------------------------
commit=$start_commit
dirty=$start_dirty
end_commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo none)
[[ $end_commit != "$commit" ]] && dirty="$dirty (HEAD moved to \`$end_commit\` during the run)"
ms() { awk -v u="$1" 'BEGIN { printf "%.2f ms", u / 1000 }'; }
section=$out/srp.md
{
    echo
    echo "## $(date -u '+%Y-%m-%d %H:%M UTC') — SRP sign-in beside password sign-in (bench/srp.sh)"
    echo
    echo "- machine: \`nproc\` = $cores_n, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r)"
    echo "- commit: \`$commit\`$dirty; binary \`$bin\` (\`cargo build --release\`, $(rustc --version 2>/dev/null))"
    echo "- server: one \`cirrus serve\`, fresh temp data dir (SQLite), fixed admin creds, default settings (argon2id and hash concurrency defaults); one pool, one public client (ALLOW_USER_SRP_AUTH, ALLOW_USER_PASSWORD_AUTH, ALLOW_REFRESH_TOKEN_AUTH), one user (AdminCreateUser + AdminSetUserPassword Permanent); every figure below is from this one server"
    echo "- counted: a sign-in = a 200 carrying an \`AccessToken\` (password: 1 request; SRP: InitiateAuth USER_SRP_AUTH + RespondToAuthChallenge PASSWORD_VERIFIER, latency over both); any other answer fails the run. SIGTERM: exit $server_rc after $stop_ms ms"
    echo "- **the load generators share the $cores_n cores with the server.** wrk is light; the Python SRP client is not: it does the client's half of SRP in CPython (\`pow()\` on 3072-bit numbers: A = g^a with a 1024-bit a, g^x, and (B − k·g^x)^(a+u·x)), which costs about $(jf "$out/math-1.json" cpu_ms_per_signin) ms of CPU per sign-in. Alone, without a server, the client does **$(printf '%.1f' "$(jf "$out/math-1.json" signins_math_per_s)")** sign-ins' worth of SRP math per second in 1 process and **$(printf '%.1f' "$(jf "$out/math-$cores_n.json" signins_math_per_s)")** in $cores_n processes (all $cores_n cores: $(jf "$out/math-$cores_n.json" client_cores) cores busy). That is the ceiling for SRP sign-ins/s measured here, whatever the server does; the server's own CPU per sign-in (last column) is the figure to compare the flows by"
    echo "- CPU columns: cores busy during the run, from \`/proc\`: the server, the load generator (wrk, or the Python processes), everything else; server CPU per sign-in = server CPU time over the run ÷ sign-ins completed in it (warm-up included)"
    echo
    echo "| flow | load generator | conns / workers | sign-ins/s | p50 | p99 | max | sign-ins counted | server cores | load-gen cores | other | server CPU per sign-in |"
    echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    for c in $wrk_conns; do
        l=${wrk_line[$c]}
        printf '| USER_PASSWORD_AUTH | wrk (replay, 2 threads, %s) | %s | %.1f | %s | %s | %s | %s | %s | %s | %s | %s ms |\n' "$duration" "$c" \
            "$(field "$l" ok_rps)" "$(ms "$(field "$l" p50_us)")" "$(ms "$(field "$l" p99_us)")" "$(ms "$(field "$l" max_us)")" \
            "$(field "$l" ok)" "$(field "$l" server_cores)" "$(field "$l" load_cores)" "$(field "$l" other_cores)" "$(field "$l" server_ms_per_ok)"
    done
    for flow in password srp; do
        for n in $workers; do
            $py - "$out/load-$flow-$n.json" "$flow" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
name = "USER_PASSWORD_AUTH" if sys.argv[2] == "password" else "USER_SRP_AUTH → PASSWORD_VERIFIER"
print(f"| {name} | Python harness (processes, {d['seconds']:.0f} s after 2 s warm-up) | {d['workers']} | {d['signins_per_s']:.1f} | "
      f"{d['p50_ms']:.2f} ms | {d['p99_ms']:.2f} ms | {d['max_ms']:.2f} ms | {d['signins']} | {d['server_cores']:.2f} | "
      f"{d['client_cores_proc']:.2f} | {d['other_cores']:.2f} | {d['server_ms_per_signin']:.2f} ms |")
PY
        done
    done
    echo
    echo "Client alone (\`srp_client.py math\`, no server, 5 s): 1 process $(printf '%.1f' "$(jf "$out/math-1.json" signins_math_per_s)")/s ($(jf "$out/math-1.json" cpu_ms_per_signin) ms CPU each), $cores_n processes $(printf '%.1f' "$(jf "$out/math-$cores_n.json" signins_math_per_s)")/s ($(jf "$out/math-$cores_n.json" client_cores) cores busy)."
} >"$section"

cat "$section"
if [[ ${BENCH_NO_RESULTS:-} == 1 ]]; then
    say "BENCH_NO_RESULTS=1: $results not updated (section in $section)"
else
    cat "$section" >>"$results"
    say "appended to $results"
fi
[[ $server_rc == 0 ]] || die "server exited $server_rc on SIGTERM (expected 0)"

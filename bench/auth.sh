#!/usr/bin/env bash
# Cirrus bench, part 2: password sign-in and token refresh throughput, each
# quoted as a ratio to the raw rate of its expensive step measured in the
# same run (argon2id hashes/s, RS256 signatures/s). See bench/README.md.
#
# Run by bench/run.sh (which builds, finds Python and puts the section
# together); it can also be run alone after a run.sh has built everything.
# Writes the markdown for RESULTS.md to $BENCH_OUT/auth.md and raw output
# (micro.json, wrk logs, the server log) to $BENCH_OUT.
#
# Knobs (environment), besides those run.sh passes on:
#   BENCH_AUTH_CONNS            wrk concurrencies           (default "4 16 64")
#   BENCH_AUTH_OVERLOAD_CONNS   concurrencies at which sign-ins may be
#                               refused with TooManyRequestsException
#                               (default "64"; see hash_limit below)
#   BENCH_MICRO_SECONDS         seconds per raw-rate figure (default 5)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

duration=${BENCH_DURATION:-10s}
threads=${BENCH_THREADS:-2}
conns=${BENCH_AUTH_CONNS:-4 16 64}
overload_conns=${BENCH_AUTH_OVERLOAD_CONNS:-64}
micro_seconds=${BENCH_MICRO_SECONDS:-5}
out=${BENCH_OUT:-bench/out}
bin=${BENCH_BINARY:-target/release/cirrus}
micro=${BENCH_MICRO_BINARY:-target/release/cirrus-bench-micro}
py=${BENCH_PY:-}

# The server's defaults this scenario measures (src/config.rs, src/server.rs):
# argon2id m=19456 KiB t=2 p=1, hash_concurrency = cores, hash_queue = 32.
# At most hash_limit sign-ins hash or wait for a hash; the next one is
# answered TooManyRequestsException at once.
cores=$(nproc)
hash_queue=32
hash_limit=$((cores + hash_queue))

export CIRRUS_ADMIN_ACCESS_KEY_ID=${CIRRUS_ADMIN_ACCESS_KEY_ID:-AKIACIRRUSBENCH00001}
export CIRRUS_ADMIN_SECRET_ACCESS_KEY=${CIRRUS_ADMIN_SECRET_ACCESS_KEY:-cirrusBenchSecretKey0000000000000000000}

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench/auth: FAILED: %s\n' "$*" >&2; exit 1; }

mkdir -p "$out"
rm -f "$out/auth.md" "$out/auth-server-rc"

if [[ -z $py ]]; then
    for cand in tests/compat/.venv/bin/python bench/.venv/bin/python; do
        if [[ -x $cand ]] && $cand -c 'import botocore' 2>/dev/null; then py=$cand; break; fi
    done
    [[ -n $py ]] || die "no Python with botocore; run bench/run.sh once (it creates bench/.venv)"
fi
command -v wrk >/dev/null || die "wrk not installed; run bench/run.sh once (it installs it)"
[[ -x $bin ]] || die "$bin not found (cargo build --release)"
[[ -x $micro ]] || die "$micro not found (cargo build --release -p cirrus-bench-micro)"

clk_tck=$(getconf CLK_TCK)
now_ns() { date +%s%N; }
# "USER_TICKS SYSTEM_TICKS MINOR_FAULTS" of a live process (all threads).
proc_stat() { awk '{ print $14, $15, $10 }' "/proc/$1/stat"; }
# CPU ticks all processes spent, machine-wide (user nice system irq softirq steal).
machine_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
# cores busy = ticks / CLK_TCK / seconds; a difference of tick counters read
# at slightly different moments can come out a tick below zero: shown as 0.
cores_used() { awk -v t="$1" -v hz="$clk_tck" -v ns="$2" 'BEGIN { c = t / hz / (ns / 1e9); printf "%.2f", c < 0 ? 0 : c }'; }
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }
jq_py() { $py -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

# Runs "$@" in a subshell and prints "EXIT_CODE CHILD_CPU_TICKS" (the CPU the
# command and its children used, from the subshell's cutime + cstime).
run_timed() {
    (
        rc=0
        "$@" || rc=$?
        read -r -a st <"/proc/$BASHPID/stat"
        echo "$rc $((st[15] + st[16]))"
    )
}

# --- 1. raw rates, with nothing else running ----------------------------------
say "raw rates: $micro --seconds $micro_seconds ($cores threads)"
m0=$(machine_ticks); t0=$(now_ns)
read -r micro_rc micro_ticks < <(run_timed sh -c '"$1" --seconds "$2" >"$3/micro.json" 2>"$3/micro.log"' \
    _ "$micro" "$micro_seconds" "$out")
m1=$(machine_ticks); t1=$(now_ns)
((micro_rc == 0)) || { cat "$out/micro.log" >&2; die "cirrus-bench-micro exited $micro_rc"; }
cat "$out/micro.json" >&2
micro_cores=$(cores_used "$micro_ticks" $((t1 - t0)))
micro_other=$(cores_used $((m1 - m0 - micro_ticks)) $((t1 - t0)))
hash_rate=$(jq_py "$out/micro.json" 'd["argon2id"]["hash"]["per_sec"]')
verify_rate=$(jq_py "$out/micro.json" 'd["argon2id"]["verify"]["per_sec"]')
sign_rate=$(jq_py "$out/micro.json" 'd["rs256"]["sign"]["per_sec"]')
micro_threads=$(jq_py "$out/micro.json" 'd["threads"]')
micro_warmup=$(jq_py "$out/micro.json" 'd["warmup_seconds"]')
claims=$(jq_py "$out/micro.json" 'd["rs256"]["claims"]')
token_bytes=$(jq_py "$out/micro.json" 'd["rs256"]["token_bytes"]')
say "argon2id $hash_rate hashes/s (verify $verify_rate/s), RS256 $sign_rate signatures/s; micro used $micro_cores cores, everything else $micro_other"

# --- 2. a server with the default hashing settings ----------------------------
port=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
data_dir=$(mktemp -d -t cirrus-bench-auth.XXXXXX)
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

(
    # No CIRRUS_* setting but the admin creds: argon2, hash concurrency and
    # queue are the server's defaults.
    for v in $(compgen -e); do
        case $v in
            CIRRUS_ADMIN_ACCESS_KEY_ID | CIRRUS_ADMIN_SECRET_ACCESS_KEY) ;;
            CIRRUS_*) unset "$v" ;;
        esac
    done
    export CIRRUS_LISTEN=127.0.0.1:$port CIRRUS_DATA_DIR=$data_dir
    exec "$bin" serve
) </dev/null >"$out/auth-server.log" 2>&1 &
server_pid=$!
base=http://127.0.0.1:$port
for _ in $(seq 1 600); do
    curl -fsS -o /dev/null "$base/readyz" 2>/dev/null && break
    kill -0 "$server_pid" 2>/dev/null || { tail -n 30 "$out/auth-server.log" >&2; die "server exited during startup"; }
    sleep 0.05
done
curl -fsS -o /dev/null "$base/readyz" || die "server not ready after 30 s"
say "auth server pid $server_pid on $base"

# --- 3. pool, client, confirmed user, refresh token; the two requests ---------
$py bench/auth_setup.py --endpoint "$base" --out-dir "$out" >"$out/auth-setup.json" ||
    die "auth_setup.py failed"
cat "$out/auth-setup.json" >&2
id_claims=$(jq_py "$out/auth-setup.json" 'd["id_token_claims"]')
access_claims=$(jq_py "$out/auth-setup.json" 'd["access_token_claims"]')

# --- 4. load -------------------------------------------------------------------
# run_load NAME REQUEST.lua CONNS ALLOW_TMR [DURATION] -> "BENCH ... server_cores=.. other_cores=.."
# Fails on socket errors, timeouts, any response that is neither a 200 with
# tokens nor (where ALLOW_TMR=1) a 400 TooManyRequestsException.
run_load() {
    local name=$1 req=$2 c=$3 allow_tmr=$4 d=${5:-$duration}
    local log=$out/wrk-$name-c$c.txt line m0 m1 t0 t1 rc ticks f u0 k0 f0 u1 k1 f1
    read -r u0 k0 f0 < <(proc_stat "$server_pid"); m0=$(machine_ticks); t0=$(now_ns)
    read -r rc ticks < <(CIRRUS_BENCH_REQUEST=$req CIRRUS_BENCH_COUNT=1 CIRRUS_BENCH_OK_MARK='"AccessToken"' \
        run_timed sh -c 'exec wrk -t"$1" -c"$2" -d"$3" --latency -s bench/wrk.lua "$4" >"$5" 2>&1' \
        _ "$threads" "$c" "$d" "$base/" "$log")
    read -r u1 k1 f1 < <(proc_stat "$server_pid"); m1=$(machine_ticks); t1=$(now_ns)
    local s=$((u1 - u0 + k1 - k0))
    ((rc == 0)) || { cat "$log" >&2; die "wrk failed (exit $rc) for $name c=$c"; }
    line=$(grep '^BENCH ' "$log") || { cat "$log" >&2; die "no BENCH line from wrk ($name c=$c)"; }
    grep -q 'Socket errors' "$log" && { cat "$log" >&2; die "$name c=$c: wrk saw socket errors: $(grep 'Socket errors' "$log")"; }
    for f in connect_errors read_errors write_errors timeouts other; do
        [[ $line == *" $f=0"* ]] || { cat "$log" >&2; die "$name c=$c: $f nonzero: $line"; }
    done
    local requests ok tmr status_errors
    requests=$(field "$line" requests); ok=$(field "$line" ok); tmr=$(field "$line" tmr)
    status_errors=$(field "$line" status_errors)
    ((ok > 0)) || { cat "$log" >&2; die "$name c=$c: no successful response"; }
    ((ok + tmr == requests)) || { cat "$log" >&2; die "$name c=$c: ok + tmr != requests: $line"; }
    if ((allow_tmr)); then
        ((status_errors == tmr)) || { cat "$log" >&2; die "$name c=$c: non-2xx other than TooManyRequests: $line"; }
    else
        ((tmr == 0 && status_errors == 0)) || { cat "$log" >&2; die "$name c=$c: non-2xx responses (TooManyRequests $tmr) where none are expected: $line"; }
    fi
    local threads_now rss_now
    threads_now=$(awk '$1 == "Threads:" { print $2 }' "/proc/$server_pid/status")
    rss_now=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$server_pid/status")
    echo "$line server_cores=$(cores_used $s $((t1 - t0))) wrk_cores=$(cores_used "$ticks" $((t1 - t0))) other_cores=$(cores_used $((m1 - m0 - s - ticks)) $((t1 - t0))) server_user_ticks=$((u1 - u0)) server_sys_ticks=$((k1 - k0)) server_minflt=$((f1 - f0)) server_threads=$threads_now server_rss_kib=$rss_now"
}

allowed() { [[ " $overload_conns " == *" $1 "* ]] && echo 1 || echo 0; }

say "warm-up (2 s each, not reported)"
run_load warmup-login "$out/login.lua" 4 0 2s >/dev/null
sleep 1
run_load warmup-refresh "$out/refresh.lua" 16 0 2s >/dev/null
sleep 1

declare -A res
for c in $conns; do
    say "c=$c: InitiateAuth USER_PASSWORD_AUTH, $duration"
    res[login-$c]=$(run_load login "$out/login.lua" "$c" "$(allowed "$c")")
    echo "   ${res[login-$c]}" >&2
    # Let sign-ins still queued in the server finish before the next run.
    sleep 1
done
for c in $conns; do
    say "c=$c: InitiateAuth REFRESH_TOKEN_AUTH, $duration"
    res[refresh-$c]=$(run_load refresh "$out/refresh.lua" "$c" 0)
    echo "   ${res[refresh-$c]}" >&2
    sleep 1
done

hwm=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$server_pid/status")
t0=$(now_ns)
kill -TERM "$server_pid"
set +e
wait "$server_pid"
server_rc=$?
set -e
stop_ms=$((($(now_ns) - t0) / 1000000))
server_pid=""
echo "$server_rc" >"$out/auth-server-rc"
say "auth server SIGTERM: exit code $server_rc after ${stop_ms} ms"

# --- 5. the markdown -------------------------------------------------------------
calc() { awk "BEGIN { $1 }"; }
ms() { calc "printf \"%.1f ms\", $1 / 1000"; }
pct() { calc "printf \"%.1f %%\", 100 * $1 / $2"; }
half_sign=$(calc "printf \"%.1f\", $sign_rate / 2")
login_target=0.90
refresh_target=0.70
verdict() { calc "if ($1 >= $2) print \"met\"; else printf \"**missed** by %.0f %%\", 100 * ($2 - $1) / $2"; }

# Sign-ins admitted at $c wait behind at most hash_limit - 1 others: with the
# login rate R measured there, a bounded queue means latency <= hash_limit / R.
# Work by other processes during a figure (the machine is shared) makes it
# unreliable: flag it in the results.
disturb_limit=0.25
disturbed=()
calc "exit !($micro_other > $disturb_limit)" && disturbed+=("raw rates ($micro_other cores)")
for k in "${!res[@]}"; do
    o=$(field "${res[$k]}" other_cores)
    calc "exit !($o > $disturb_limit)" && disturbed+=("${k%-*} c=${k##*-} ($o cores)")
done

summary=()
{
    echo
    echo "### Password sign-in and token refresh"
    echo
    echo "- raw rates: \`cirrus-bench-micro\` (bench/micro, same build and crates as the server) on $micro_threads threads (= the server's default hash concurrency), ${micro_seconds} s per figure after a ${micro_warmup} s untimed warm-up, before the auth server started (the rest of the machine used $micro_other cores meanwhile)"
    echo "  - argon2id m=19456 KiB, t=2, p=1 (argon2 0.6): **$hash_rate hashes/s** (\`hash_password\`); \`verify_password\` $verify_rate/s"
    echo "  - RS256, RSA-2048 key from \`aws_lc_rs::rsa::KeyPair::generate\` loaded as a PKCS#8 PEM, $claims claims ($token_bytes-byte token), jsonwebtoken 11 + \`aws_lc_rs\`: **$sign_rate signatures/s**, so at most $half_sign refreshes/s (two signatures each)"
    echo "- server: a second \`$bin serve\`, fresh temp data dir (SQLite), no \`CIRRUS_*\` setting but the admin creds: argon2 defaults, hash concurrency = $cores cores, queue $hash_queue, so at most $hash_limit sign-ins hash or wait and further ones get \`TooManyRequestsException\` at once"
    echo "- setup (botocore): CreateUserPool, CreateUserPoolClient (no secret; USER_PASSWORD, REFRESH_TOKEN, ADMIN_USER_PASSWORD flows), SignUp, AdminConfirmSignUp, one InitiateAuth for a refresh token. ID token $id_claims claims, access token $access_claims"
    echo "- load: one unsigned \`InitiateAuth\` (public operation) replayed by wrk, $threads threads, $duration per run after a 2 s warm-up per flow, 1 s pause between runs; one user, one refresh token; every sign-in also stores a new refresh token. A response counts as 2xx only if it is a 200 with an \`AccessToken\`; any other response, socket error or timeout fails the bench, except TooManyRequestsException at c = $overload_conns"
    echo "- CPU columns: cores busy during the run, from \`/proc\`: the server, wrk, and everything else on the machine (a disturbed run shows there)"
    echo
    echo "| flow | conns | 2xx/s | all responses/s | p50 | p99 | max | TooManyRequests | server / wrk / other CPU | 2xx/s vs raw | target |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
    for c in $conns; do
        l=${res[login-$c]}
        okr=$(field "$l" ok_rps)
        r=$(calc "printf \"%.2f\", $okr / $hash_rate")
        v=$(verdict "$r" "$login_target")
        summary+=("login c=$c: $r of the hash rate ($v)")
        echo "| \`USER_PASSWORD_AUTH\` | $c | $(calc "printf \"%.1f\", $okr") | $(calc "printf \"%.0f\", $(field "$l" rps)") | $(ms "$(field "$l" p50_us)") | $(ms "$(field "$l" p99_us)") | $(ms "$(field "$l" max_us)") | $(pct "$(field "$l" tmr)" "$(field "$l" requests)") ($(field "$l" tmr)) | $(field "$l" server_cores) / $(field "$l" wrk_cores) / $(field "$l" other_cores) | **$r** × argon2id hashes/s | ≥ $login_target: $v |"
    done
    for c in $conns; do
        l=${res[refresh-$c]}
        okr=$(field "$l" ok_rps)
        r=$(calc "printf \"%.2f\", $okr / $half_sign")
        v=$(verdict "$r" "$refresh_target")
        summary+=("refresh c=$c: $r of half the signing rate ($v)")
        echo "| \`REFRESH_TOKEN_AUTH\` | $c | $(calc "printf \"%.1f\", $okr") | $(calc "printf \"%.0f\", $(field "$l" rps)") | $(ms "$(field "$l" p50_us)") | $(ms "$(field "$l" p99_us)") | $(ms "$(field "$l" max_us)") | $(pct "$(field "$l" tmr)" "$(field "$l" requests)") | $(field "$l" server_cores) / $(field "$l" wrk_cores) / $(field "$l" other_cores) | **$r** × (RS256 signatures/s ÷ 2) | ≥ $refresh_target: $v |"
    done
    echo
    echo "Where the CPU goes: CPU time (user + system, all threads, from \`/proc\`) and minor page faults per operation of the raw figures, and of the server per 2xx response (at c = $overload_conns that includes answering the refused ones)."
    echo
    echo "| what | CPU per op | of which system | minor faults per op |"
    echo "| --- | ---: | ---: | ---: |"
    for k in hash verify; do
        read -r ops ut st mf < <(jq_py "$out/micro.json" "' '.join(str(d['argon2id']['$k'][x]) for x in ('ops', 'user_ticks', 'sys_ticks', 'minflt'))")
        echo "| raw argon2id \`${k}_password\` | $(calc "printf \"%.2f ms\", ($ut + $st) / $clk_tck * 1000 / $ops") | $(calc "printf \"%.0f %%\", 100 * $st / ($ut + $st + 1e-9)") | $(calc "printf \"%.0f\", $mf / $ops") |"
    done
    read -r ops ut st mf < <(jq_py "$out/micro.json" "' '.join(str(d['rs256']['sign'][x]) for x in ('ops', 'user_ticks', 'sys_ticks', 'minflt'))")
    echo "| raw RS256, two signatures | $(calc "printf \"%.2f ms\", 2 * ($ut + $st) / $clk_tck * 1000 / $ops") | $(calc "printf \"%.0f %%\", 100 * $st / ($ut + $st + 1e-9)") | $(calc "printf \"%.0f\", 2 * $mf / $ops") |"
    for f in login refresh; do
        for c in $conns; do
            l=${res[$f-$c]}
            ok=$(field "$l" ok); ut=$(field "$l" server_user_ticks); st=$(field "$l" server_sys_ticks); mf=$(field "$l" server_minflt)
            name=USER_PASSWORD_AUTH; [[ $f == refresh ]] && name=REFRESH_TOKEN_AUTH
            echo "| server, \`$name\` c=$c, per 2xx | $(calc "printf \"%.2f ms\", ($ut + $st) / $clk_tck * 1000 / $ok") | $(calc "printf \"%.0f %%\", 100 * $st / ($ut + $st + 1e-9)") | $(calc "printf \"%.0f\", $mf / $ok") |"
        done
    done
    echo
    for c in $overload_conns; do
        l=${res[login-$c]:-}
        [[ -n $l ]] || continue
        okr=$(field "$l" ok_rps)
        bound_us=$(calc "printf \"%.0f\", $hash_limit / $okr * 1e6")
        p99=$(field "$l" p99_us); max=$(field "$l" max_us)
        b=$(calc "if ($max <= 1.5 * $bound_us) print \"bounded\"; else print \"not bounded\"")
        summary+=("login c=$c overload: $b")
        echo "- overload, sign-in at c = $c: $(field "$l" tmr) of $(field "$l" requests) responses ($(pct "$(field "$l" tmr)" "$(field "$l" requests)")) were TooManyRequestsException, 0 timeouts, 0 socket errors. An admitted sign-in waits behind at most $((hash_limit - 1)) others, ≈ $hash_limit ÷ $(calc "printf \"%.1f\", $okr") sign-ins/s = $(ms "$bound_us"); measured p99 $(ms "$p99"), max $(ms "$max") → **$b** (criterion: max ≤ 1.5 × that wait)."
    done
    if ((${#disturbed[@]})); then
        echo "- **disturbed**: other processes used more than $disturb_limit cores during: $(IFS=';'; echo "${disturbed[*]}" | sed 's/;/; /g'). Those figures understate Cirrus."
    else
        echo "- other processes used at most $disturb_limit cores during every figure (undisturbed run)"
    fi
    thr_rss=""
    for c in $conns; do
        for f in login refresh; do
            thr_rss+="${thr_rss:+, }$f c=$c: $(field "${res[$f-$c]}" server_threads) threads, $(calc "printf \"%.1f MiB\", $(field "${res[$f-$c]}" server_rss_kib) / 1024")"
        done
    done
    echo "- auth server: peak RSS (VmHWM) $(calc "printf \"%.1f MiB\", $hwm / 1024"); threads and RSS right after each run: $thr_rss; SIGTERM → exit code $server_rc after $stop_ms ms"
    echo "- targets: $(IFS=';'; echo "${summary[*]}" | sed 's/;/; /g')"
} >"$out/auth.md"

cat "$out/auth.md"

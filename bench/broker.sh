#!/usr/bin/env bash
# Cirrus bench, identity-pool broker: GetCredentialsForIdentity throughput and
# request verifications per second, in process and over HTTP, each quoted as a
# ratio to its cryptographic floor measured in the same run. See
# bench/README.md. Not part of `make test`; run after
#     cargo build --release -p cirrus -p cirrus-bench-micro
#
#  1. cirrus-bench-broker (bench/micro), alone on the machine: the floors
#     (a) one RS256 verification of a user-pool ID token + one
#         XChaCha20-Poly1305 seal of a session-claims plaintext,
#     (b) one SigV4 HMAC-SHA256 chain (5 HMACs),
#     Verifier::authorize in process, and the parts of both operations.
#  2. One `cirrus serve` (fresh temp data dir, only the admin creds set);
#     bench/broker_setup.py makes a user pool, client and confirmed user, an
#     IAM role (Cognito trust policy, one inline policy), an identity pool
#     with the user pool as provider and the role, GetId; and writes the
#     unsigned GetCredentialsForIdentity request.
#  3. wrk replays GetCredentialsForIdentity (each answer must be a 200 with an
#     AccessKeyId), then POST /broker/authorize carrying a GET signed with the
#     temporary credentials (each answer must be a 200 with "Allowed":true;
#     re-signed before every run), at each of $BENCH_BROKER_CONNS.
# Writes $BENCH_OUT/broker.md and, unless BENCH_NO_RESULTS=1, appends it to
# bench/RESULTS.md.
#
# Knobs: BENCH_BROKER_CONNS ("4 16"), BENCH_DURATION (wrk, 10s),
# BENCH_THREADS (wrk threads, 2), BENCH_MICRO_SECONDS (floors and in-process
# verify, 5), BENCH_PART_SECONDS (parts, 2), BENCH_QUIET_WAIT (seconds to wait
# for a quiet machine first, 300; 0 = don't), BENCH_BINARY
# (target/release/cirrus), BENCH_BROKER_BINARY
# (target/release/cirrus-bench-broker), BENCH_OUT (bench/out/broker),
# BENCH_PY (a Python with botocore), BENCH_NO_RESULTS=1.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

conns=${BENCH_BROKER_CONNS:-4 16}
duration=${BENCH_DURATION:-10s}
threads=${BENCH_THREADS:-2}
micro_seconds=${BENCH_MICRO_SECONDS:-5}
part_seconds=${BENCH_PART_SECONDS:-2}
quiet_wait=${BENCH_QUIET_WAIT:-300}
bin=${BENCH_BINARY:-target/release/cirrus}
micro=${BENCH_BROKER_BINARY:-target/release/cirrus-bench-broker}
out=${BENCH_OUT:-bench/out/broker}
py=${BENCH_PY:-}
results=bench/RESULTS.md
# The commit the binaries are assumed to be built from: HEAD when the run starts.
start_commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo none)
start_dirty=""
[[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]] && start_dirty=" + uncommitted changes"

export CIRRUS_ADMIN_ACCESS_KEY_ID=${CIRRUS_ADMIN_ACCESS_KEY_ID:-AKIACIRRUSBENCH00001}
export CIRRUS_ADMIN_SECRET_ACCESS_KEY=${CIRRUS_ADMIN_SECRET_ACCESS_KEY:-cirrusBenchSecretKey0000000000000000000}

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench/broker: FAILED: %s\n' "$*" >&2; exit 1; }

if [[ -z $py ]]; then
    for cand in tests/compat/.venv/bin/python bench/.venv/bin/python; do
        if [[ -x $cand ]] && $cand -c 'import botocore' 2>/dev/null; then py=$cand; break; fi
    done
    [[ -n $py ]] || die "no Python with botocore (tests/compat/run.sh or bench/run.sh creates one)"
fi
command -v wrk >/dev/null || die "wrk not installed (scripts/apt-ensure.sh wrk, or run bench/run.sh once)"
[[ -x $bin ]] || die "$bin not found (cargo build --release -p cirrus -p cirrus-bench-micro)"
[[ -x $micro ]] || die "$micro not found (cargo build --release -p cirrus -p cirrus-bench-micro)"
rm -rf "$out"
mkdir -p "$out"

cores_n=$(nproc)
clk_tck=$(getconf CLK_TCK)
now_ns() { date +%s%N; }
# "USER_TICKS SYSTEM_TICKS MINOR_FAULTS" of a live process (all threads).
proc_stat() { awk '{ print $14, $15, $10 }' "/proc/$1/stat"; }
# "TID CONTEXT_SWITCHES" (voluntary + involuntary) of each current thread of a live process.
ctx_switches() {
    local t
    for t in /proc/"$1"/task/*; do
        awk -v tid="${t##*/}" '/ctxt_switches/ { s += $2 } END { print tid, s + 0 }' "$t/status" 2>/dev/null || true
    done
}
# Context switches between two ctx_switches snapshot files: threads alive at
# both count their difference, new threads all of theirs.
ctx_delta() { awk 'NR == FNR { a[$1] = $2; next } { s += $2 - ($1 in a ? a[$1] : 0) } END { print s + 0 }' "$1" "$2"; }
# Snapshots the server's threads 1 s into a run and 1 s before its end
# (never at the edges: when wrk stops, the requests it leaves in flight are
# dropped, and so are the database connections they held, threads and
# counters with them), with the time between, into $1.{0,1,ns}.
ctx_window() {
    local base=$1 seconds=$2 a b
    sleep 1
    ctx_switches "$server_pid" >"$base.0"; a=$(now_ns)
    sleep $((seconds - 2))
    ctx_switches "$server_pid" >"$base.1"; b=$(now_ns)
    echo $((b - a)) >"$base.ns"
}
# CPU ticks all processes spent, machine-wide (user nice system irq softirq steal).
machine_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
# cores busy = ticks / CLK_TCK / seconds (a tick below zero is shown as 0).
cores_used() { awk -v t="$1" -v hz="$clk_tck" -v ns="$2" 'BEGIN { c = t / hz / (ns / 1e9); printf "%.2f", c < 0 ? 0 : c }'; }
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"; }
jq_py() { $py -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }
calc() { awk "BEGIN { $1 }"; }

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

# Waits (up to $quiet_wait s) until no cargo/rustc runs and the machine is
# below 0.10 cores busy over 5 s; goes on anyway after that (the "other" CPU
# column then shows the disturbance).
wait_quiet() {
    local deadline=$((SECONDS + quiet_wait)) a b
    while ((SECONDS < deadline)); do
        if ! pgrep -x cargo >/dev/null && ! pgrep -x rustc >/dev/null; then
            a=$(machine_ticks); sleep 5; b=$(machine_ticks)
            (((b - a) * 100 < 10 * clk_tck * 5)) && return 0
            say "machine busy ($(cores_used $((b - a)) 5000000000) cores over 5 s), waiting"
        else
            say "cargo/rustc running, waiting"
            sleep 5
        fi
    done
    say "machine not quiet after ${quiet_wait} s; going on (see the other-CPU column)"
}
((quiet_wait > 0)) && wait_quiet

# --- 1. floors and the in-process figures ---------------------------------------
say "in process: $micro --seconds $micro_seconds --part-seconds $part_seconds ($cores_n threads)"
m0=$(machine_ticks); t0=$(now_ns)
read -r micro_rc micro_ticks < <(run_timed sh -c '"$1" --seconds "$2" --part-seconds "$3" >"$4/broker-micro.json" 2>"$4/broker-micro.log"' \
    _ "$micro" "$micro_seconds" "$part_seconds" "$out")
m1=$(machine_ticks); t1=$(now_ns)
((micro_rc == 0)) || { cat "$out/broker-micro.log" >&2; die "cirrus-bench-broker exited $micro_rc"; }
micro_cores=$(cores_used "$micro_ticks" $((t1 - t0)))
micro_other=$(cores_used $((m1 - m0 - micro_ticks)) $((t1 - t0)))
mj() { jq_py "$out/broker-micro.json" "$1"; }
floor_a=$(mj 'd["floor_credentials"]["rate"]["per_sec"]')
floor_b=$(mj 'd["floor_sigv4"]["rate"]["per_sec"]')
inproc=$(mj 'd["verify"]["rate"]["per_sec"]')
say "floor (a) $floor_a/s, floor (b) $floor_b/s, Verifier::authorize $inproc/s; micro used $micro_cores cores, everything else $micro_other"

# --- 2. the server ---------------------------------------------------------------
port=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
data_dir=$(mktemp -d -t cirrus-bench-broker.XXXXXX)
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
    # No CIRRUS_* setting but the admin creds: the server's defaults.
    for v in $(compgen -e); do
        case $v in
            CIRRUS_ADMIN_ACCESS_KEY_ID | CIRRUS_ADMIN_SECRET_ACCESS_KEY) ;;
            CIRRUS_*) unset "$v" ;;
        esac
    done
    export CIRRUS_LISTEN=127.0.0.1:$port CIRRUS_DATA_DIR=$data_dir
    exec "$bin" serve
) </dev/null >"$out/server.log" 2>&1 &
server_pid=$!
base=http://127.0.0.1:$port
for _ in $(seq 1 600); do
    curl -fsS -o /dev/null "$base/readyz" 2>/dev/null && break
    kill -0 "$server_pid" 2>/dev/null || { tail -n 30 "$out/server.log" >&2; die "server exited during startup"; }
    sleep 0.05
done
curl -fsS -o /dev/null "$base/readyz" || die "server not ready after 30 s"
say "server pid $server_pid on $base"

# --- 3. user pool, role, identity pool, identity; the requests ---------------------
$py bench/broker_setup.py setup --endpoint "$base" --out-dir "$out" >"$out/setup.json" ||
    die "broker_setup.py setup failed"
cat "$out/setup.json" >&2
sj() { jq_py "$out/setup.json" "$1"; }
sign_authorize() { $py bench/broker_setup.py sign --endpoint "$base" --out-dir "$out" --name "$1" || die "broker_setup.py sign failed"; }

# --- 4. load ---------------------------------------------------------------------
# run_load NAME REQUEST.lua OK_MARK CONNS [DURATION] -> "BENCH ... server_cores=.. wrk_cores=.. other_cores=.."
# Fails on socket errors, timeouts and any response that is not a 200 with OK_MARK.
run_load() {
    local name=$1 req=$2 mark=$3 c=$4 d=${5:-$duration}
    local log=$out/wrk-$name-c$c.txt line m0 m1 t0 t1 rc ticks f u0 k0 f0 u1 k1 f1
    local secs=${d%s} ctx=$out/ctx-$name-c$c sampler="" ctxsw_per_op=none
    if [[ $secs =~ ^[0-9]+$ ]] && ((secs >= 4)); then
        ctx_window "$ctx" "$secs" &
        sampler=$!
    fi
    read -r u0 k0 f0 < <(proc_stat "$server_pid"); m0=$(machine_ticks); t0=$(now_ns)
    read -r rc ticks < <(CIRRUS_BENCH_REQUEST=$req CIRRUS_BENCH_COUNT=1 CIRRUS_BENCH_OK_MARK=$mark \
        run_timed sh -c 'exec wrk -t"$1" -c"$2" -d"$3" --latency -s bench/wrk.lua "$4" >"$5" 2>&1' \
        _ "$threads" "$c" "$d" "$base/" "$log")
    read -r u1 k1 f1 < <(proc_stat "$server_pid"); m1=$(machine_ticks); t1=$(now_ns)
    [[ -n $sampler ]] && wait "$sampler"
    local s=$((u1 - u0 + k1 - k0))
    ((rc == 0)) || { cat "$log" >&2; die "wrk failed (exit $rc) for $name c=$c"; }
    line=$(grep '^BENCH ' "$log") || { cat "$log" >&2; die "no BENCH line from wrk ($name c=$c)"; }
    grep -q 'Socket errors' "$log" && { cat "$log" >&2; die "$name c=$c: wrk saw socket errors: $(grep 'Socket errors' "$log")"; }
    for f in connect_errors read_errors write_errors timeouts other status_errors tmr; do
        [[ $line == *" $f=0"* ]] || { cat "$log" >&2; die "$name c=$c: $f nonzero: $line"; }
    done
    local requests ok
    requests=$(field "$line" requests); ok=$(field "$line" ok)
    ((ok > 0 && ok == requests)) || { cat "$log" >&2; die "$name c=$c: ok != requests: $line"; }
    # Switches per second over the window ÷ counted answers per second.
    [[ -n $sampler ]] && ctxsw_per_op=$(calc "printf \"%.1f\", $(ctx_delta "$ctx.0" "$ctx.1") / ($(cat "$ctx.ns") / 1e9) / $(field "$line" ok_rps)")
    echo "$line server_cores=$(cores_used $s $((t1 - t0))) wrk_cores=$(cores_used "$ticks" $((t1 - t0))) other_cores=$(cores_used $((m1 - m0 - s - ticks)) $((t1 - t0))) server_user_ticks=$((u1 - u0)) server_sys_ticks=$((k1 - k0)) server_minflt=$((f1 - f0)) server_ctxsw_per_op=$ctxsw_per_op server_threads=$(awk '$1 == "Threads:" { print $2 }' "/proc/$server_pid/status") server_rss_kib=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$server_pid/status")"
}

creds_mark='"AccessKeyId"'
allow_mark='"Allowed":true'
say "warm-up (2 s each, not reported)"
run_load warmup-credentials "$out/credentials.lua" "$creds_mark" 4 2s >/dev/null
sign_authorize authorize-warmup
run_load warmup-authorize "$out/authorize-warmup.lua" "$allow_mark" 16 2s >/dev/null
sleep 1

declare -A res
for c in $conns; do
    say "c=$c: GetCredentialsForIdentity, $duration"
    res[credentials-$c]=$(run_load credentials "$out/credentials.lua" "$creds_mark" "$c")
    echo "   ${res[credentials-$c]}" >&2
    sleep 1
done
for c in $conns; do
    sign_authorize "authorize-c$c"
    say "c=$c: POST /broker/authorize, $duration"
    res[authorize-$c]=$(run_load authorize "$out/authorize-c$c.lua" "$allow_mark" "$c")
    echo "   ${res[authorize-$c]}" >&2
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
say "server SIGTERM: exit code $server_rc after ${stop_ms} ms"

# --- 5. the markdown -------------------------------------------------------------
ms() { calc "printf \"%.2f ms\", $1 / 1000"; }
# CPU per op in µs from ticks and ops.
us_per() { calc "printf \"%.1f\", $1 / $clk_tck * 1e6 / $2"; }
# The server's CPU per counted answer of a run, in µs.
server_us() { us_per $(($(field "$1" server_user_ticks) + $(field "$1" server_sys_ticks))) "$(field "$1" ok)"; }
# The system (kernel) share of the server's CPU in a run.
sys_pct() { calc "printf \"%.0f %%\", 100 * $(field "$1" server_sys_ticks) / ($(field "$1" server_user_ticks) + $(field "$1" server_sys_ticks) + 1e-9)"; }
disturb_limit=0.30
disturbed=()
calc "exit !($micro_other > $disturb_limit)" && disturbed+=("in-process figures ($micro_other cores)")
for k in "${!res[@]}"; do
    o=$(field "${res[$k]}" other_cores)
    calc "exit !($o > $disturb_limit)" && disturbed+=("${k%-*} c=${k##*-} ($o cores)")
done
part() { mj "d['parts']['$1']['per_sec']"; }
# CPU time (user + system, all threads) per operation, in µs, from the
# micro's own /proc/self/stat around the figure: unlike ops/s, it does not
# depend on how much of the cores the figure got.
part_us() { mj "'%.1f' % ((d['parts']['$1']['user_ticks'] + d['parts']['$1']['sys_ticks']) / $clk_tck * 1e6 / d['parts']['$1']['ops'])"; }
cpu_us() { mj "'%.1f' % ((d['$1']['rate']['user_ticks'] + d['$1']['rate']['sys_ticks']) / $clk_tck * 1e6 / d['$1']['rate']['ops'])"; }
section=$out/broker.md
{
    echo
    echo "## $(date -u '+%Y-%m-%d %H:%M UTC') — identity-pool broker: GetCredentialsForIdentity and request verification (bench/broker.sh)"
    echo
    echo "- machine: \`nproc\` = $cores_n, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r)"
    echo "- commit: \`$start_commit\`$start_dirty; binaries \`$bin\` and \`$micro\` (\`cargo build --release -p cirrus -p cirrus-bench-micro\`, $(rustc --version 2>/dev/null))"
    echo "- floors and in-process figures: \`cirrus-bench-broker\` (bench/micro, the server's crates), $(mj 'd["threads"]') threads (= cores), $micro_seconds s per figure ($part_seconds s per part) after a $(mj 'd["warmup_seconds"]') s untimed warm-up, before the server started (it used $micro_cores cores, everything else $micro_other)"
    echo "  - floor (a), the least a GetCredentialsForIdentity does: one RS256 verification (jsonwebtoken 11 + \`aws_lc_rs\`, RSA-2048 key generated and loaded from PKCS#8 PEM like a pool key, \`DecodingKey\` built once) of a $(mj 'd["floor_credentials"]["id_token_claims"]')-claim, $(mj 'd["floor_credentials"]["id_token_bytes"]')-byte user-pool ID token, plus one \`secrets::MasterKey::seal\` (XChaCha20-Poly1305, fresh 24-byte nonce) of a $(mj 'd["floor_credentials"]["plaintext_bytes"]')-byte session-claims plaintext shaped like the server's (the server's own was $(sj 'd["session_plaintext_bytes"]') bytes in this run)"
    echo "  - floor (b), the least a SigV4 verification does: the HMAC-SHA256 chain, kDate, kRegion, kService, kSigning and the signature of a $(mj 'd["floor_sigv4"]["string_to_sign_bytes"]')-byte string to sign (5 HMACs; \`hmac\` 0.13 + \`sha2\` 0.11, the crates aws-sigv4 uses)"
    echo "  - in process: \`sts_broker::verify::Verifier::authorize\` (SessionKeys derived from a MasterKey, credentials from \`SessionKeys::issue\` with the role policy below and the context keys \`mint\` sets, a GET signed by aws-sigv4 in the header form as botocore signs: host, x-amz-date, x-amz-security-token; $(mj 'd["verify"]["session_token_bytes"]')-byte session token), driven without a runtime (a no-op waker: the verifier never waits)"
    echo "- server: one \`$bin serve\`, fresh temp data dir (SQLite), no \`CIRRUS_*\` setting but the admin creds"
    echo "- setup (botocore, \`bench/broker_setup.py\`): user pool, client, SignUp + AdminConfirmSignUp, InitiateAuth → ID token ($(sj 'd["id_token_claims"]') claims); IAM role \`cirrus-bench-photos\` with Cognito's trust policy (StringEquals aud, ForAnyValue:StringLike amr = authenticated) and one inline policy, one statement: \`photos:GetPhoto\`, \`photos:PutPhoto\` on \`arn:aws:photos:::photo/\${cognito-identity.amazonaws.com:sub}/*\` ($(sj 'd["role_policy_bytes"]') bytes); identity pool with the user pool as provider, SetIdentityPoolRoles, GetId"
    echo "- load: wrk, $threads threads, $duration per run after a 2 s warm-up per request, 1 s pause between runs. GetCredentialsForIdentity: one unsigned request (\`X-Amz-Target: AWSCognitoIdentityService.GetCredentialsForIdentity\`, $(sj 'd["credentials_body_bytes"]')-byte body \`{IdentityId, Logins}\`) replayed; counted only if 200 with an \`AccessKeyId\` (every answer is a new set of credentials). \`POST /broker/authorize\`: a body carrying \`GET /photos/<identity id>/a.jpg\` signed with the temporary credentials (botocore \`SigV4Auth\`, service photos, us-east-1; re-signed before each run), action \`photos:GetPhoto\` on the caller's own folder; counted only if 200 with \`\"Allowed\":true\`. Any other answer, socket error or timeout fails the run"
    echo "- CPU columns: cores busy during the run, from \`/proc\`: the server, wrk, and everything else on the machine (a disturbed run shows there); \"server CPU per op\" = the server's CPU time over the run ÷ counted answers; \"context switches per op\" = voluntary + involuntary switches of all server threads (\`/proc/PID/task/*/status\`) per second over the middle of the run (1 s in to 1 s before the end) ÷ counted answers per second"
    echo
    echo "| figure | conns | ops/s | p50 | p99 | server / wrk / other CPU | (server) CPU per op | server context switches per op | ops/s vs floor | floor's CPU per op ÷ this CPU per op |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    echo "| floor (a): RS256 verify + AEAD seal | – | $(calc "printf \"%.0f\", $floor_a") | – | – | $micro_cores (all figures) / – / $micro_other | $(cpu_us floor_credentials) µs | – | 1.00 | 1.00 |"
    echo "| floor (b): SigV4 HMAC chain (5 HMACs) | – | $(calc "printf \"%.0f\", $floor_b") | – | – | ″ | $(cpu_us floor_sigv4) µs | – | 1.00 | 1.00 |"
    echo "| \`Verifier::authorize\`, in process | – | $(calc "printf \"%.0f\", $inproc") | – | – | ″ | $(cpu_us verify) µs | – | **$(calc "printf \"%.3f\", $inproc / $floor_b")** × (b) | $(calc "printf \"%.3f\", $(cpu_us floor_sigv4) / $(cpu_us verify)") |"
    for c in $conns; do
        l=${res[credentials-$c]}
        okr=$(field "$l" ok_rps)
        echo "| GetCredentialsForIdentity over HTTP | $c | $(calc "printf \"%.0f\", $okr") | $(ms "$(field "$l" p50_us)") | $(ms "$(field "$l" p99_us)") | $(field "$l" server_cores) / $(field "$l" wrk_cores) / $(field "$l" other_cores) | $(server_us "$l") µs ($(sys_pct "$l") system) | $(field "$l" server_ctxsw_per_op) | **$(calc "printf \"%.3f\", $okr / $floor_a")** × (a) | $(calc "printf \"%.3f\", $(cpu_us floor_credentials) / $(server_us "$l")") |"
    done
    for c in $conns; do
        l=${res[authorize-$c]}
        okr=$(field "$l" ok_rps)
        echo "| \`POST /broker/authorize\` over HTTP | $c | $(calc "printf \"%.0f\", $okr") | $(ms "$(field "$l" p50_us)") | $(ms "$(field "$l" p99_us)") | $(field "$l" server_cores) / $(field "$l" wrk_cores) / $(field "$l" other_cores) | $(server_us "$l") µs ($(sys_pct "$l") system) | $(field "$l" server_ctxsw_per_op) | **$(calc "printf \"%.3f\", $okr / $floor_b")** × (b) | $(calc "printf \"%.3f\", $(cpu_us floor_sigv4) / $(server_us "$l")") |"
    done
    echo
    echo "Parts, each measured alone in process on $(mj 'd["threads"]') threads for $part_seconds s; CPU per op is the process's CPU time (user + system, \`/proc/self/stat\`, $clk_tck Hz ticks) over the figure ÷ operations:"
    echo
    echo "| part | ops/s | CPU per op | in |"
    echo "| --- | ---: | ---: | --- |"
    echo "| floor (a) | $(calc "printf \"%.0f\", $floor_a") | $(cpu_us floor_credentials) µs | |"
    echo "| – RS256 verify alone (\`jsonwebtoken::decode\`, prebuilt key) | $(calc "printf \"%.0f\", $(part rs256_verify)") | $(part_us rs256_verify) µs | GetCredentialsForIdentity |"
    echo "| – seal alone (\`MasterKey::seal\`) | $(calc "printf \"%.0f\", $(part seal)") | $(part_us seal) µs | GetCredentialsForIdentity |"
    echo "| \`providers::verify_jwt\` as \`verify_user_pool\` calls it: JWKS \`Value\` → \`JwkSet\`, \`DecodingKey::from_jwk\`, decode, audience | $(calc "printf \"%.0f\", $(part verify_jwt_from_jwks)") | $(part_us verify_jwt_from_jwks) µs | GetCredentialsForIdentity |"
    echo "| trust policy: \`Policy::parse\` (Trust) + \`decide\` | $(calc "printf \"%.0f\", $(part trust_policy)") | $(part_us trust_policy) µs | GetCredentialsForIdentity (\`mint\`) |"
    echo "| \`SessionKeys::issue\`: claims JSON, seal, secret HMAC, base64 | $(calc "printf \"%.0f\", $(part issue)") | $(part_us issue) µs | GetCredentialsForIdentity (\`mint\`) |"
    echo "| floor (b) | $(calc "printf \"%.0f\", $floor_b") | $(cpu_us floor_sigv4) µs | |"
    echo "| aws-sigv4 \`sign\` of the request, as \`awsapi::sigv4::verify\` recomputes it (canonical request, SHA-256, 5 HMACs, hex) | $(calc "printf \"%.0f\", $(part sigv4_recompute)") | $(part_us sigv4_recompute) µs | verification |"
    echo "| \`SessionKeys::open\`: base64, AEAD open, claims JSON parse, secret HMAC | $(calc "printf \"%.0f\", $(part open)") | $(part_us open) µs | verification |"
    echo "| policy step ≈ \`Verifier\`'s: cache lookup under a mutex, clone of the parsed policy, context, \`decide\` | $(calc "printf \"%.0f\", $(part policy_step)") | $(part_us policy_step) µs | verification |"
    echo "| \`Verifier::authorize\` | $(calc "printf \"%.0f\", $inproc") | $(cpu_us verify) µs | verification |"
    echo
    if ((${#disturbed[@]})); then
        echo "- **disturbed**: other processes used more than $disturb_limit cores during: $(IFS=';'; echo "${disturbed[*]}" | sed 's/;/; /g'). Those figures understate Cirrus."
    else
        echo "- other processes used at most $disturb_limit cores during every figure (undisturbed run)"
    fi
    thr_rss=""
    for k in credentials authorize; do
        for c in $conns; do
            thr_rss+="${thr_rss:+, }$k c=$c: $(field "${res[$k-$c]}" server_threads) threads, $(calc "printf \"%.1f MiB\", $(field "${res[$k-$c]}" server_rss_kib) / 1024")"
        done
    done
    echo "- server: peak RSS (VmHWM) $(calc "printf \"%.1f MiB\", $hwm / 1024"); right after each run: $thr_rss; SIGTERM → exit code $server_rc after $stop_ms ms"
} >"$section"

cat "$section"
if [[ ${BENCH_NO_RESULTS:-} == 1 ]]; then
    say "BENCH_NO_RESULTS=1: $results not updated (section in $section)"
else
    cat "$section" >>"$results"
    say "appended to $results"
fi
[[ $server_rc == 0 ]] || die "server exited $server_rc on SIGTERM (expected 0)"

#!/usr/bin/env bash
# Cirrus bench: client_credentials tokens per second at `{issuer}/oauth2/token`,
# quoted beside the raw RS256 signing rate measured in the same run (one
# token = one RS256 signature). Not part of `make test`; run after
# `cargo build --release -p cirrus -p cirrus-bench-micro`. Prints a Markdown
# section; with BENCH_APPEND=1 appends it to bench/RESULTS.md.
#
# Knobs: BENCH_OAUTH_CONNS ("4 16"), BENCH_DURATION (10s), BENCH_PY
# (tests/compat/.venv/bin/python, needs boto3).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

conns=${BENCH_OAUTH_CONNS:-4 16}
duration=${BENCH_DURATION:-10s}
py=${BENCH_PY:-tests/compat/.venv/bin/python}
bin=target/release/cirrus
micro=target/release/cirrus-bench-micro
out=$(mktemp -d "${TMPDIR:-/tmp}/cirrus-oauth-bench.XXXXXX")

die() { printf 'bench/oauth: FAILED: %s\n' "$*" >&2; exit 1; }
[[ -x $bin && -x $micro ]] || die "build first: cargo build --release -p cirrus -p cirrus-bench-micro"
command -v wrk >/dev/null || die "wrk not installed (scripts/apt-ensure.sh wrk)"
$py -c 'import boto3' 2>/dev/null || die "$py lacks boto3 (tests/compat/run.sh creates that venv)"

export CIRRUS_ADMIN_ACCESS_KEY_ID=AKIACIRRUSBENCH00001
export CIRRUS_ADMIN_SECRET_ACCESS_KEY=cirrusBenchSecretKey0000000000000000000
unset CIRRUS_DATABASE_URL CIRRUS_DATABASE_SCHEMA
export AWS_ACCESS_KEY_ID=$CIRRUS_ADMIN_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$CIRRUS_ADMIN_SECRET_ACCESS_KEY

# 1. The floor: RS256 signatures per second on all cores, before the server starts.
$micro --seconds 5 > "$out/micro.json"
floor=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["rs256"]["sign"]["per_sec"])' "$out/micro.json")

# 2. A server, a resource server and a machine-to-machine client.
port=$($py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
CIRRUS_DATA_DIR="$out/data" CIRRUS_LISTEN="127.0.0.1:$port" CIRRUS_LOG=warn "$bin" serve > "$out/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done
$py - "$port" > "$out/setup.json" <<'EOF'
import json, sys, uuid
import boto3
endpoint = f"http://127.0.0.1:{sys.argv[1]}"
idp = boto3.client("cognito-idp", endpoint_url=endpoint, region_name="us-east-1")
pid = idp.create_user_pool(PoolName=f"bench-{uuid.uuid4().hex[:8]}")["UserPool"]["Id"]
idp.create_resource_server(UserPoolId=pid, Identifier="orders", Name="orders",
                           Scopes=[{"ScopeName": "read", "ScopeDescription": "read"}])
c = idp.create_user_pool_client(UserPoolId=pid, ClientName="m2m", GenerateSecret=True,
                                AllowedOAuthFlows=["client_credentials"], AllowedOAuthFlowsUserPoolClient=True,
                                AllowedOAuthScopes=["orders/read"])["UserPoolClient"]
print(json.dumps({"url": f"{endpoint}/{pid}/oauth2/token", "id": c["ClientId"], "secret": c["ClientSecret"]}))
EOF
url=$($py -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$out/setup.json")
basic=$($py -c 'import json,sys,base64; d=json.load(open(sys.argv[1])); print(base64.b64encode((d["id"] + ":" + d["secret"]).encode()).decode())' "$out/setup.json")
# One answer checked before timing: a token with the custom scope.
curl -sf -X POST "$url" -H "Authorization: Basic $basic" -d grant_type=client_credentials | grep -q '"access_token"' \
    || die "the token endpoint did not answer with a token"
cat > "$out/token.lua" <<EOF
wrk.method = "POST"
wrk.body = "grant_type=client_credentials&scope=orders%2Fread"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic $basic"
EOF

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
machine() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
clk=$(getconf CLK_TCK)
rows=""
for c in $conns; do
    wrk -t2 -c"$c" -d2s -s "$out/token.lua" "$url" > /dev/null
    s0=$(ticks $server); m0=$(machine); t0=$(date +%s%N)
    wrk -t2 -c"$c" -d"$duration" --latency -s "$out/token.lua" "$url" > "$out/wrk-$c.txt"
    s1=$(ticks $server); m1=$(machine); t1=$(date +%s%N)
    rate=$(awk '/Requests\/sec/ { print $2 }' "$out/wrk-$c.txt")
    non2xx=$(awk '/Non-2xx/ { print $5 }' "$out/wrk-$c.txt"); non2xx=${non2xx:-0}
    p50=$(awk '$1 == "50%" { print $2 }' "$out/wrk-$c.txt")
    p99=$(awk '$1 == "99%" { print $2 }' "$out/wrk-$c.txt")
    read -r server_cores other_cores < <(awk -v s=$((s1 - s0)) -v m=$((m1 - m0)) -v dt=$((t1 - t0)) -v clk="$clk" \
        'BEGIN { sec = dt / 1e9; printf "%.2f %.2f\n", s / clk / sec, (m - s) / clk / sec }')
    ratio=$(awk -v r="$rate" -v f="$floor" 'BEGIN { printf "%.2f", r / f }')
    [[ $non2xx == 0 ]] || die "$non2xx non-2xx answers at c=$c"
    rows+="| client_credentials token | $c | $rate | $p50 | $p99 | $server_cores / $other_cores | **$ratio** × RS256 signatures/s |"$'\n'
done
kill $server; wait $server 2>/dev/null || true
trap - EXIT

section=$(cat <<EOF

## $(date -u '+%Y-%m-%d %H:%M') UTC — OAuth client_credentials tokens (bench/oauth.sh)

- machine: \`nproc\` = $(nproc); commit \`$(git rev-parse --short=12 HEAD)\`$([[ -n $(git status --porcelain --untracked-files=no) ]] && echo " + uncommitted changes"); release build
- floor: RS256 signatures/s of \`cirrus-bench-micro\` (jsonwebtoken 11 + aws_lc_rs, RSA-2048, 2 threads, 5 s after warm-up, before the server started): **$floor/s**. One client_credentials token is one RS256 signature plus client authentication (an unsealed client secret compared in constant time) and two database reads (client, pool).
- load: wrk, 2 threads, $duration per run after 2 s of warm-up, one \`POST {issuer}/oauth2/token\` with \`grant_type=client_credentials&scope=orders/read\` and HTTP Basic client credentials, replayed; every answer a 200 (checked: 0 non-2xx); a default-settings server on SQLite, wrk on the same 2 cores
- CPU: cores busy during the run, the server / everything else (wrk included)

| request | conns | tokens/s | p50 | p99 | server / other cores | vs floor |
| --- | ---: | ---: | ---: | ---: | ---: | --- |
$rows
Raw output: \`$out\` (not kept).
EOF
)
printf '%s\n' "$section"
if [[ ${BENCH_APPEND:-0} == 1 ]]; then printf '%s\n' "$section" >> bench/RESULTS.md; fi

#!/usr/bin/env bash
# Cirrus bench: client_credentials tokens per second and authorization-code
# exchanges per second at `{issuer}/oauth2/token`, quoted beside the raw RS256
# signing rate measured in the same run (a client_credentials token is one RS256
# signature; a code exchange two: the ID and the access token). Not part of `make test`; run after
# `cargo build --release -p cirrus -p cirrus-bench-micro`. Prints a Markdown
# section; with BENCH_APPEND=1 appends it to bench/RESULTS.md.
#
# Knobs: BENCH_OAUTH_CONNS ("4 16"), BENCH_DURATION (10s), BENCH_CODES (codes
# made before each exchange run, default 12000), BENCH_PY
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
# A web client and a user for the authorization-code runs.
web = idp.create_user_pool_client(UserPoolId=pid, ClientName="web", GenerateSecret=True,
                                  CallbackURLs=["http://localhost:9/cb"], AllowedOAuthFlows=["code"],
                                  AllowedOAuthFlowsUserPoolClient=True,
                                  AllowedOAuthScopes=["openid", "email"])["UserPoolClient"]
idp.admin_create_user(UserPoolId=pid, Username="bench", MessageAction="SUPPRESS",
                      UserAttributes=[{"Name": "email", "Value": "bench@example.com"}])
idp.admin_set_user_password(UserPoolId=pid, Username="bench", Password="Bench-pass-1!", Permanent=True)
print(json.dumps({"url": f"{endpoint}/{pid}/oauth2/token", "id": c["ClientId"], "secret": c["ClientSecret"],
                  "base": f"{endpoint}/{pid}", "web_id": web["ClientId"], "web_secret": web["ClientSecret"]}))
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
# Authorization codes: sign in once through the hosted UI, then ask
# `oauth2/authorize` with the session cookie for as many codes as a run can
# spend (each is single-use), and exchange them with wrk, one per request.
web_basic=$($py -c 'import json,sys,base64; d=json.load(open(sys.argv[1])); print(base64.b64encode((d["web_id"] + ":" + d["web_secret"]).encode()).decode())' "$out/setup.json")
codes=${BENCH_CODES:-12000}
make_codes() {
    $py - "$out/setup.json" "$codes" "$1" <<'EOF'
import html, json, re, sys, urllib.parse
from concurrent.futures import ThreadPoolExecutor
import requests
setup, count, path = json.load(open(sys.argv[1])), int(sys.argv[2]), sys.argv[3]
base = setup["base"]
params = {"response_type": "code", "client_id": setup["web_id"], "redirect_uri": "http://localhost:9/cb",
          "scope": "openid email", "state": "s"}
s = requests.Session()
page = s.get(f"{base}/login", params=params)
form = {k: html.unescape(v) for k, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text)}
form.update(username="bench", password="Bench-pass-1!")
first = s.post(f"{base}/login", data=form, allow_redirects=False)
assert first.status_code == 302 and "code=" in first.headers["location"], first.text[:500]
cookie = s.cookies.get("cirrus_session")
def one(_):
    r = requests.get(f"{base}/oauth2/authorize", params=params, cookies={"cirrus_session": cookie},
                     allow_redirects=False)
    return urllib.parse.parse_qs(urllib.parse.urlparse(r.headers["location"]).query)["code"][0]
with ThreadPoolExecutor(8) as pool:
    made = list(pool.map(one, range(count)))
open(path, "w").write("\n".join(made) + "\n")
EOF
}
cat > "$out/exchange.lua" <<EOF
local codes = {}
for line in io.lines("$out/codes.txt") do codes[#codes + 1] = line end
local counter = 0
local threads = {}
function setup(thread)
    thread:set("id", #threads)
    table.insert(threads, thread)
end
function init(args)
    -- Thread k of 2 takes codes k+1, k+3, ...: no code is sent twice.
    counter = id
end
function request()
    counter = counter + 2
    local code = codes[counter - 1]
    if code == nil then code = "exhausted" end
    return wrk.format("POST", nil, {
        ["Content-Type"] = "application/x-www-form-urlencoded",
        ["Authorization"] = "Basic $web_basic",
    }, "grant_type=authorization_code&redirect_uri=http%3A%2F%2Flocalhost%3A9%2Fcb&code=" .. code)
end
EOF
for c in $conns; do
    make_codes "$out/codes.txt"
    s0=$(ticks $server); m0=$(machine); t0=$(date +%s%N)
    wrk -t2 -c"$c" -d"$duration" --latency -s "$out/exchange.lua" "$url" > "$out/wrk-code-$c.txt"
    s1=$(ticks $server); m1=$(machine); t1=$(date +%s%N)
    rate=$(awk '/Requests\/sec/ { print $2 }' "$out/wrk-code-$c.txt")
    total=$(awk '/requests in/ { print $1 }' "$out/wrk-code-$c.txt")
    non2xx=$(awk '/Non-2xx/ { print $5 }' "$out/wrk-code-$c.txt"); non2xx=${non2xx:-0}
    p50=$(awk '$1 == "50%" { print $2 }' "$out/wrk-code-$c.txt")
    p99=$(awk '$1 == "99%" { print $2 }' "$out/wrk-code-$c.txt")
    read -r server_cores other_cores < <(awk -v s=$((s1 - s0)) -v m=$((m1 - m0)) -v dt=$((t1 - t0)) -v clk="$clk" \
        'BEGIN { sec = dt / 1e9; printf "%.2f %.2f\n", s / clk / sec, (m - s) / clk / sec }')
    ratio=$(awk -v r="$rate" -v f="$floor" 'BEGIN { printf "%.2f", r / f }')
    (( total < codes )) || die "the exchange run at c=$c spent all $codes codes; raise BENCH_CODES"
    [[ $non2xx == 0 ]] || die "$non2xx non-2xx answers in the exchange run at c=$c"
    rows+="| authorization_code exchange (ID + access + refresh token) | $c | $rate | $p50 | $p99 | $server_cores / $other_cores | **$ratio** × RS256 signatures/s (2 signatures each) |"$'\n'
done
kill $server; wait $server 2>/dev/null || true
trap - EXIT

section=$(cat <<EOF

## $(date -u '+%Y-%m-%d %H:%M') UTC — OAuth token endpoint: client_credentials and authorization-code exchange (bench/oauth.sh)

- machine: \`nproc\` = $(nproc); commit \`$(git rev-parse --short=12 HEAD)\`$([[ -n $(git status --porcelain --untracked-files=no) ]] && echo " + uncommitted changes"); release build
- floor: RS256 signatures/s of \`cirrus-bench-micro\` (jsonwebtoken 11 + aws_lc_rs, RSA-2048, 2 threads, 5 s after warm-up, before the server started): **$floor/s**. One client_credentials token is one RS256 signature plus client authentication (an unsealed client secret compared in constant time) and two database reads (client, pool).
- load: wrk, 2 threads, $duration per run, a default-settings server on SQLite, wrk on the same 2 cores; every answer a 200 (checked: 0 non-2xx). client_credentials: after 2 s of warm-up, one \`POST {issuer}/oauth2/token\` with \`grant_type=client_credentials&scope=orders/read\` and HTTP Basic client credentials, replayed. Code exchange: $codes codes made first (one hosted-UI sign-in, then \`oauth2/authorize\` with its session cookie), each exchanged once by a confidential client (HTTP Basic) for an ID, an access and a refresh token (scope \`openid email\`): one atomic code spend, one user read, two RS256 signatures, a refresh-token insert
- CPU: cores busy during the run, the server / everything else (wrk included)

| request | conns | tokens/s | p50 | p99 | server / other cores | vs floor |
| --- | ---: | ---: | ---: | ---: | ---: | --- |
$rows
Raw output: \`$out\` (not kept).
EOF
)
printf '%s\n' "$section"
if [[ ${BENCH_APPEND:-0} == 1 ]]; then printf '%s\n' "$section" >> bench/RESULTS.md; fi

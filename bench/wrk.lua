-- wrk script for bench/run.sh and bench/auth.sh.
--
-- If $CIRRUS_BENCH_REQUEST names a Lua file (written by bench/sigv4.py or
-- bench/auth_setup.py), the request in it -- method, path, headers, body,
-- exactly as written there -- is sent on every request. Otherwise wrk's
-- default (GET of the URL's path) is used.
--
-- With $CIRRUS_BENCH_COUNT=1 a response() hook sorts every response:
--   ok     200 whose body contains $CIRRUS_BENCH_OK_MARK (default: any 200)
--   tmr    400 whose body contains TooManyRequestsException
--   other  anything else (the first one is printed on a BENCH_OTHER line)
-- Without it no hook is installed, so wrk does not parse response bodies
-- (the GET /healthz and DescribeUserPool figures are measured that way).
--
-- done() prints one machine-readable line starting with "BENCH " that the
-- scripts parse; latencies are in microseconds.

local request_file = os.getenv("CIRRUS_BENCH_REQUEST")
if request_file and request_file ~= "" then
  local r = dofile(request_file)
  wrk.method = r.method
  wrk.path = r.path
  wrk.body = r.body
  wrk.headers = {}
  for name, value in pairs(r.headers) do
    wrk.headers[name] = value
  end
end

local counting = os.getenv("CIRRUS_BENCH_COUNT") == "1"
local threads = {}

if counting then
  local ok_mark = os.getenv("CIRRUS_BENCH_OK_MARK") or ""

  function setup(thread)
    table.insert(threads, thread)
  end

  -- Per-thread counters (globals of each thread's Lua state).
  n_ok, n_tmr, n_other, other_sample = 0, 0, 0, ""

  function response(status, headers, body)
    body = body or ""
    if status == 200 and (ok_mark == "" or string.find(body, ok_mark, 1, true)) then
      n_ok = n_ok + 1
    elseif status == 400 and string.find(body, "TooManyRequestsException", 1, true) then
      n_tmr = n_tmr + 1
    else
      n_other = n_other + 1
      if other_sample == "" then
        other_sample = string.format("HTTP %d: %s", status, string.sub(body, 1, 300))
      end
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  local seconds = summary.duration / 1e6
  local counts = ""
  local sample = ""
  if counting then
    local ok, tmr, other = 0, 0, 0
    for _, t in ipairs(threads) do
      ok = ok + t:get("n_ok")
      tmr = tmr + t:get("n_tmr")
      other = other + t:get("n_other")
      if sample == "" then sample = t:get("other_sample") or "" end
    end
    counts = string.format(" ok=%d tmr=%d other=%d ok_rps=%.1f", ok, tmr, other, ok / seconds)
  end
  io.write(string.format(
    "BENCH requests=%d seconds=%.3f rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
    "status_errors=%d connect_errors=%d read_errors=%d write_errors=%d timeouts=%d%s\n",
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.status, e.connect, e.read, e.write, e.timeout, counts))
  if sample ~= "" then
    io.write("BENCH_OTHER " .. string.gsub(sample, "[\r\n]", " ") .. "\n")
  end
end

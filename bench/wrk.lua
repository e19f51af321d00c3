-- wrk script for bench/run.sh.
--
-- If $CIRRUS_BENCH_REQUEST names a Lua file (written by bench/sigv4.py), the
-- request in it -- method, path, headers, body, exactly as signed -- is sent
-- on every request. Otherwise wrk's default (GET of the URL's path) is used.
--
-- done() prints one machine-readable line starting with "BENCH " that
-- bench/run.sh parses; latencies are in microseconds.

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

function done(summary, latency, requests)
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    "BENCH requests=%d seconds=%.3f rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
    "status_errors=%d connect_errors=%d read_errors=%d write_errors=%d timeouts=%d\n",
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.status, e.connect, e.read, e.write, e.timeout))
end

-- wrk script: POST the body in $BENCH_BODY_FILE; print one JSON line with the latency summary.
wrk.method = "POST"
local f = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
wrk.body = f:read("*a")
f:close()

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"errors":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"mean_us":%.1f}\n',
    summary.requests, e.connect + e.read + e.write + e.status + e.timeout, summary.duration,
    latency:percentile(50), latency:percentile(99), latency.mean))
end

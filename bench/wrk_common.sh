# Shared by the HTTP benchmarks (sourced): wrk's POST script and JSON field reading.

# write_wrk_post FILE BODY: a wrk script that POSTs BODY as JSON and prints one
# JSON line {"rps", "p50_us", "p99_us", "errors"} when done.
write_wrk_post() {
  cat >"$1" <<LUA
wrk.method = "POST"
wrk.body = '$2'
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"rps": %.0f, "p50_us": %d, "p99_us": %d, "errors": %d}\n',
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
LUA
}

# json TEXT FIELD: one field of a JSON object.
json() { /usr/bin/python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

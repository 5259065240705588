-- wrk script of the load harness (bench.py): prints one JSON line with the counts and the
-- p50/p99/p99.9 latencies, which wrk's own report does not give (it stops at p99).
done = function(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  io.write(string.format(
    'JSON {"requests":%d,"secs":%.4f,"rps":%.2f,"bytes_in":%d,"bytes_out":0,"mib_s":%.2f,' ..
    '"errors":%d,"latency_ms":{"p50":%.3f,"p99":%.3f,"p999":%.3f,"max":%.3f}}\n',
    summary.requests, secs, summary.requests / secs, summary.bytes, summary.bytes / secs / 1048576,
    e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency:percentile(99.9) / 1000,
    latency.max / 1000))
end

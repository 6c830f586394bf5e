-- wrk script for bench/run.sh: POSTs a small chat-completion body with the ingate key header and prints one
-- parseable result line at the end. The same request goes to every target (the mock, nginx and ingate);
-- nginx is configured to drop X-Ingate-Key and set Authorization, which is what ingate does.
wrk.method = "POST"
wrk.body = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello in one short sentence."}]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Ingate-Key"] = os.getenv("INGATE_KEY") or "none"

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "RESULT requests=%d duration_us=%d non2xx=%d err_connect=%d err_read=%d err_write=%d err_timeout=%d " ..
        "p50_us=%d p90_us=%d p99_us=%d mean_us=%.1f\n",
        summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
        latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean))
end

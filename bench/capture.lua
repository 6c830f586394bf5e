-- wrk script for bench/capture.sh: POSTs a chat-completion body of ~1.3 KiB that carries PII (an email
-- address, a Luhn-valid card number, a phone number) in ~1 KiB of prompt text, with the ingate key and an
-- X-Ingate-User-Id attribution header, and prints one parseable RESULT line at the end (the same format
-- as bench/post.lua). The same request goes to both orgs; only INGATE_KEY differs.
local filler = "We ordered the standing desk on the fourteenth and it arrived with a cracked leg, so the " ..
    "replacement has to ship before the end of the month. Please summarise the thread below, list the " ..
    "open questions, and draft a short, polite answer that confirms the refund policy without promising " ..
    "anything the warehouse cannot deliver. Keep it under one hundred and twenty words. "
local prompt = "Customer ticket 20481, priority 2, opened 2026-11-28 09:14 UTC. " ..
    "Contact: jane.doe@example.com, phone (415) 555-0132. " ..
    "The customer paid with card 4111 1111 1111 1111 (exp 09/29) and asks for a partial refund of 129.90. " ..
    filler .. filler .. filler ..
    "Order id 7734-2291-0045, 3 items, weight 41.5 kg, shipped in 2 boxes."

wrk.method = "POST"
wrk.body = '{"model":"gpt-4o-mini","temperature":0.2,"max_tokens":256,"messages":[' ..
    '{"role":"system","content":"You are a support assistant for an online furniture shop."},' ..
    '{"role":"user","content":"' .. prompt .. '"}]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Ingate-Key"] = os.getenv("INGATE_KEY") or "none"
wrk.headers["X-Ingate-User-Id"] = os.getenv("BENCH_USER_ID") or "user-4821"

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "RESULT requests=%d duration_us=%d non2xx=%d err_connect=%d err_read=%d err_write=%d err_timeout=%d " ..
        "p50_us=%d p90_us=%d p99_us=%d mean_us=%.1f body_bytes=%d\n",
        summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
        latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, #wrk.body))
end

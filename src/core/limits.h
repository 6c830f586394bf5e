/*
 * limits.h — every hard limit of the gateway, each with the reason for its number.
 *
 * Limits marked "default" are defaults of options in config/options.c (the options table), which
 * validates them against the bounds given here. Limits are tighter before a request is authenticated:
 * an anonymous peer gets small header and body allowances and short timeouts.
 */
#ifndef IG_CORE_LIMITS_H
#define IG_CORE_LIMITS_H

/* Request line + headers of one request. 16 KiB fits every SDK (OpenAI/Anthropic send < 2 KiB) and
 * large cookies; nginx's large_client_header_buffers default is 4 x 8 KiB. More is a probe or an attack. */
#define IG_MAX_HEADER_BYTES (16 * 1024)

/* Header lines per request. SDKs send ~15; 100 matches common server defaults (Apache LimitRequestFields). */
#define IG_MAX_HEADER_COUNT 100

/* One header value must fit the whole header block anyway; URLs longer than 8 KiB are refused (414-ish as
 * 431) because no provider API uses them and they are a classic log-flooding vector. */
#define IG_MAX_URL_BYTES (8 * 1024)

/* Default request-body ceiling for authenticated proxy requests: 32 MiB carries a long multimodal prompt
 * (base64 images) while bounding memory per connection. Option: max_body_bytes. */
#define IG_DEFAULT_MAX_BODY_BYTES (32u * 1024 * 1024)
#define IG_MIN_MAX_BODY_BYTES     (1024u)
#define IG_MAX_MAX_BODY_BYTES     (1024u * 1024 * 1024)

/* Body ceiling before authentication (signup/login JSON, unknown routes). 64 KiB is 100x a signup body. */
#define IG_PREAUTH_MAX_BODY_BYTES (64u * 1024)

/* Body ceiling of an authenticated management API call: its JSON documents are a few hundred bytes. */
#define IG_API_MAX_BODY_BYTES (64u * 1024)

/* Header-read timeout (slowloris): the whole header block must arrive within this many ms. Option. */
#define IG_DEFAULT_HEADER_TIMEOUT_MS 10000

/* Idle keep-alive timeout between requests. Option. 75 s is longer than SDK pool idle times (60 s). */
#define IG_DEFAULT_IDLE_TIMEOUT_MS 75000

/* Body-read timeout: gap allowed between two reads of a request body. */
#define IG_DEFAULT_BODY_TIMEOUT_MS 30000

/* Connections per process. Each idle TLS connection costs ~20 KiB; 10k stays under 256 MiB. Option. */
#define IG_DEFAULT_MAX_CONNECTIONS 10000

/* Bytes of response we queue toward one slow client before pausing the upstream transfer. 256 KiB keeps a
 * few hundred SSE events in flight, and bounds memory per stream regardless of the upstream's size. */
#define IG_CLIENT_OUTBUF_HIGH (256u * 1024)
/* Upstream reading resumes when the client's queue drains below this. */
#define IG_CLIENT_OUTBUF_LOW (64u * 1024)

/* Captured copy of each request and response body (option capture_max_bytes): 10 MiB each. */
#define IG_DEFAULT_CAPTURE_MAX_BYTES (10u * 1024 * 1024)

/* Pending capture records per process. At ~2 KiB metadata each, 65536 is ~128 MiB worst case with
 * bodies trimmed; a full queue is counted, never waited on. */
#define IG_CAPTURE_QUEUE_LEN 65536

/* The log writer commits queued call records at least this often (ms). A completed call reaches the store
 * within about this interval; batching turns one transaction per call into one per interval. */
#define IG_CAPTURE_FLUSH_MS 20

/* Upstream error bodies are buffered (to mask a reflected provider key) up to this size. */
#define IG_UPSTREAM_ERRBODY_MAX (1024u * 1024)

/* Upstream response header block we accept from a provider. */
#define IG_MAX_UPSTREAM_HEADER_BYTES (64u * 1024)

/* Default upstream timeouts (per provider options). Connect 10 s; first byte 300 s (reasoning models can
 * think for minutes); between chunks 120 s. */
#define IG_DEFAULT_CONNECT_TIMEOUT_MS    10000
#define IG_DEFAULT_FIRST_BYTE_TIMEOUT_MS 300000
#define IG_DEFAULT_CHUNK_TIMEOUT_MS      120000

/* Drain timeout on SIGTERM: in-flight requests and streams get this long to finish. Option. */
#define IG_DEFAULT_DRAIN_TIMEOUT_MS 30000

/* Custom providers an operator may define. */
#define IG_MAX_CUSTOM_PROVIDERS 32

/* Names (org slugs, provider names): short, printable. */
#define IG_MAX_NAME_LEN 64

/* X-Ingate-User-Id / X-Ingate-Session-Id attribution values. */
#define IG_MAX_ATTRIBUTION_LEN 256

/* Tokens charged up front to a key's tokens-per-minute limit for a request that names no max_tokens (the
 * answer's usage then replaces the estimate): about one long chat answer. */
#define IG_TPM_DEFAULT_ESTIMATE 1024

/* Spend budgets (proxy/budgetgate.h, docs/budgets.md): the worst-case cost reserved before a call goes
 * upstream. Output tokens assumed for a request without max_tokens: the default output cap of most chat
 * models (a longer answer costs more than was reserved). */
#define IG_BUDGET_DEFAULT_MAX_TOKENS 4096
/* Request bytes per input token of the estimate: ~4 for English text; JSON syntax, roles and base64 images
 * make a body larger than its prompt, so it errs high for most requests (not for CJK-heavy prompts). */
#define IG_BUDGET_BYTES_PER_TOKEN 4
/* Reserved for a call whose model has no price, and charged when its answer gets none either: 1 USD. An
 * unpriced model is never free under a budget, and shows in the spend. */
#define IG_BUDGET_UNPRICED_MICROS 1000000

/* Loop threads: 1..64 (0 = one per core). */
#define IG_MAX_THREADS 64

/* Client addresses (IPv4, or IPv6 /64) the auth limiter (signup, login, invitation accept and
 * password change share it, each under its own key prefix) tracks at once: ~180 bytes each
 * with the default 10 attempts (~12 MiB when full, allocated lazily). A flood from more addresses than this
 * within one window evicts the entry that expires soonest (see auth/ratelimit.c); an attacker who owns that
 * many addresses gets that many times 10 attempts anyway. */
#define IG_AUTH_LIMITER_KEYS (1u << 16)
/* ... and at most this many bytes of timestamps: a large auth_rate_limit means fewer tracked addresses. */
#define IG_AUTH_LIMITER_BYTES (16u * 1024 * 1024)

#endif

/*
 * metrics.h — process counters for GET /metrics (Prometheus text exposition format 0.0.4).
 *
 * Counters are relaxed atomics updated on the hot path (a few nanoseconds each); the exposition is built on a
 * worker when scraped. Labels have bounded cardinality: provider (the configured providers, index-based) and
 * status class (2xx, 3xx, 4xx, 5xx, and 499 for a client that went away).
 *
 * Access: operators only. With `metrics_token` set, a request must carry `Authorization: Bearer <token>`
 * (compared in constant time); without it only loopback clients are answered (the client address after
 * trusted proxies, so a loopback reverse proxy that forwards X-Forwarded-For does not open it to the world).
 */
#ifndef IG_APP_METRICS_H
#define IG_APP_METRICS_H

#include "core/buf.h"
#include "proxy/provider.h"

#include <stdatomic.h>

#define IG_METRICS_PROVIDERS (3 + IG_MAX_CUSTOM_PROVIDERS)
#define IG_METRICS_CLASSES   5 /* 2xx 3xx 4xx 5xx 499 */
#define IG_METRICS_BUCKETS   14

/* Called at the end of every proxied request. provider_idx indexes the providers table. */
void ig_metrics_request(size_t provider_idx, int status, double latency_ms, bool upstream_error);
void ig_metrics_key_limited(bool tokens); /* a proxied call refused by its key's requests / tokens limit */
void ig_metrics_auth_limited(void);       /* signup/login/accept/password-change attempt refused */
void ig_metrics_budget_refused(void);     /* a proxied call refused with 429 budget_exceeded */

/* The request guardrails (guard/guard.h): which guard acted on a call, and how. */
typedef enum { IG_METRICS_GUARD_PII = 0, IG_METRICS_GUARD_INJECTION, IG_METRICS_GUARDS } ig_metrics_guard_t;
typedef enum {
    IG_METRICS_GUARD_LOG_ONLY = 0, /* found, recorded, forwarded unchanged */
    IG_METRICS_GUARD_REDACT,       /* found, forwarded with typed tokens */
    IG_METRICS_GUARD_BLOCK,        /* found, the call refused */
    IG_METRICS_GUARD_ACTIONS
} ig_metrics_guard_action_t;
void ig_metrics_guardrail(ig_metrics_guard_t guard, ig_metrics_guard_action_t action);
void ig_metrics_unauthenticated(void); /* a request refused with 401 */

/* Appends the exposition. spool_bytes/files: measured by the caller (a directory scan). */
int ig_metrics_render(ig_buf_t *out, const ig_providers_t *ps, uint64_t spool_bytes, uint64_t spool_files);

#endif

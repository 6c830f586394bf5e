/*
 * metrics.c — counters and their Prometheus exposition (see metrics.h).
 */
#include "app/metrics.h"
#include "capture/capture.h"
#include "core/err.h"

#include <stdio.h>

/* latency histogram upper bounds, seconds */
static const double BOUNDS[IG_METRICS_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                  0.25,  0.5,    1,     2.5,  5,     10,   60};
static const char *const CLASS[IG_METRICS_CLASSES] = {"2xx", "3xx", "4xx", "5xx", "499"};

static struct {
    atomic_ullong requests[IG_METRICS_PROVIDERS][IG_METRICS_CLASSES];
    atomic_ullong upstream_errors[IG_METRICS_PROVIDERS];
    atomic_ullong hist[IG_METRICS_PROVIDERS][IG_METRICS_BUCKETS + 1]; /* last = +Inf */
    atomic_ullong latency_us_sum[IG_METRICS_PROVIDERS];
    atomic_ullong auth_limited, unauthenticated, key_rpm_limited, key_tpm_limited, budget_refused;
    atomic_ullong guard[IG_METRICS_GUARDS][IG_METRICS_GUARD_ACTIONS];
} M;

static const char *const GUARD[IG_METRICS_GUARDS] = {"pii", "injection"};
static const char *const GUARD_ACTION[IG_METRICS_GUARD_ACTIONS] = {"log_only", "redact", "block"};

static int class_of(int status)
{
    if (status == 499) return 4;
    if (status >= 200 && status < 300) return 0;
    if (status >= 300 && status < 400) return 1;
    if (status >= 400 && status < 500) return 2;
    return 3;
}

void ig_metrics_request(size_t p, int status, double latency_ms, bool upstream_error)
{
    if (p >= IG_METRICS_PROVIDERS) return;
    atomic_fetch_add_explicit(&M.requests[p][class_of(status)], 1, memory_order_relaxed);
    if (upstream_error) atomic_fetch_add_explicit(&M.upstream_errors[p], 1, memory_order_relaxed);
    double s = latency_ms / 1000.0;
    size_t b = 0;
    while (b < IG_METRICS_BUCKETS && s > BOUNDS[b])
        b++;
    atomic_fetch_add_explicit(&M.hist[p][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&M.latency_us_sum[p], (unsigned long long)(latency_ms * 1000.0),
                              memory_order_relaxed);
}

void ig_metrics_key_limited(bool tokens)
{
    atomic_fetch_add_explicit(tokens ? &M.key_tpm_limited : &M.key_rpm_limited, 1, memory_order_relaxed);
}

void ig_metrics_budget_refused(void)
{
    atomic_fetch_add_explicit(&M.budget_refused, 1, memory_order_relaxed);
}

void ig_metrics_guardrail(ig_metrics_guard_t guard, ig_metrics_guard_action_t action)
{
    if ((unsigned)guard >= IG_METRICS_GUARDS || (unsigned)action >= IG_METRICS_GUARD_ACTIONS) return;
    atomic_fetch_add_explicit(&M.guard[guard][action], 1, memory_order_relaxed);
}

void ig_metrics_auth_limited(void)
{
    atomic_fetch_add_explicit(&M.auth_limited, 1, memory_order_relaxed);
}

void ig_metrics_unauthenticated(void)
{
    atomic_fetch_add_explicit(&M.unauthenticated, 1, memory_order_relaxed);
}

static unsigned long long ld(atomic_ullong *a)
{
    return atomic_load_explicit(a, memory_order_relaxed);
}

int ig_metrics_render(ig_buf_t *b, const ig_providers_t *ps, uint64_t spool_bytes, uint64_t spool_files)
{
    int rc = IG_OK;
#define P(...)                                                                                               \
    do {                                                                                                     \
        if (rc == IG_OK) rc = ig_buf_appendf(b, __VA_ARGS__);                                                \
    } while (0)
    P("# HELP ingate_requests_total Proxied requests by provider and status class.\n"
      "# TYPE ingate_requests_total counter\n");
    for (size_t p = 0; p < ps->n && p < IG_METRICS_PROVIDERS; p++)
        for (int c = 0; c < IG_METRICS_CLASSES; c++)
            P("ingate_requests_total{provider=\"%s\",status=\"%s\"} %llu\n", ps->list[p].name, CLASS[c],
              ld(&M.requests[p][c]));
    P("# HELP ingate_upstream_errors_total Upstream connection failures and timeouts by provider.\n"
      "# TYPE ingate_upstream_errors_total counter\n");
    for (size_t p = 0; p < ps->n && p < IG_METRICS_PROVIDERS; p++)
        P("ingate_upstream_errors_total{provider=\"%s\"} %llu\n", ps->list[p].name,
          ld(&M.upstream_errors[p]));
    P("# HELP ingate_request_duration_seconds Time from the request's first byte to its last response byte.\n"
      "# TYPE ingate_request_duration_seconds histogram\n");
    for (size_t p = 0; p < ps->n && p < IG_METRICS_PROVIDERS; p++) {
        unsigned long long cum = 0;
        for (int k = 0; k <= IG_METRICS_BUCKETS; k++) {
            cum += ld(&M.hist[p][k]);
            if (k < IG_METRICS_BUCKETS)
                P("ingate_request_duration_seconds_bucket{provider=\"%s\",le=\"%g\"} %llu\n",
                  ps->list[p].name, BOUNDS[k], cum);
            else
                P("ingate_request_duration_seconds_bucket{provider=\"%s\",le=\"+Inf\"} %llu\n",
                  ps->list[p].name, cum);
        }
        P("ingate_request_duration_seconds_sum{provider=\"%s\"} %.6f\n", ps->list[p].name,
          (double)ld(&M.latency_us_sum[p]) / 1e6);
        P("ingate_request_duration_seconds_count{provider=\"%s\"} %llu\n", ps->list[p].name, cum);
    }
    P("# HELP ingate_capture_queue_depth Call records waiting for the log writer.\n"
      "# TYPE ingate_capture_queue_depth gauge\n"
      "ingate_capture_queue_depth %llu\n",
      ld(&ig_capture_stats.queue_depth));
    P("# HELP ingate_capture_records_total Call records by outcome.\n"
      "# TYPE ingate_capture_records_total counter\n"
      "ingate_capture_records_total{outcome=\"submitted\"} %llu\n"
      "ingate_capture_records_total{outcome=\"written\"} %llu\n"
      "ingate_capture_records_total{outcome=\"spooled\"} %llu\n"
      "ingate_capture_records_total{outcome=\"replayed\"} %llu\n"
      "ingate_capture_records_total{outcome=\"orphaned\"} %llu\n"
      "ingate_capture_records_total{outcome=\"dropped\"} %llu\n",
      ld(&ig_capture_stats.submitted), ld(&ig_capture_stats.written), ld(&ig_capture_stats.spooled),
      ld(&ig_capture_stats.replayed), ld(&ig_capture_stats.orphaned), ld(&ig_capture_stats.dropped));
    P("# HELP ingate_spool_bytes Bytes of call records waiting in the spool for the store.\n"
      "# TYPE ingate_spool_bytes gauge\n"
      "ingate_spool_bytes %llu\n"
      "# HELP ingate_spool_files Spool files waiting for replay.\n"
      "# TYPE ingate_spool_files gauge\n"
      "ingate_spool_files %llu\n",
      (unsigned long long)spool_bytes, (unsigned long long)spool_files);
    P("# HELP ingate_redaction_seconds_total Time the log writer spent redacting PII.\n"
      "# TYPE ingate_redaction_seconds_total counter\n"
      "ingate_redaction_seconds_total %.6f\n"
      "# HELP ingate_redaction_bytes_total Bytes scanned for PII.\n"
      "# TYPE ingate_redaction_bytes_total counter\n"
      "ingate_redaction_bytes_total %llu\n",
      (double)ld(&ig_capture_stats.redact_ns) / 1e9, ld(&ig_capture_stats.redact_bytes));
    P("# HELP ingate_rate_limited_total Requests refused by a rate limit.\n"
      "# TYPE ingate_rate_limited_total counter\n"
      "ingate_rate_limited_total{limit=\"auth\"} %llu\n"
      "ingate_rate_limited_total{limit=\"key_requests\"} %llu\n"
      "ingate_rate_limited_total{limit=\"key_tokens\"} %llu\n"
      "# HELP ingate_unauthenticated_total Requests refused for a missing or invalid credential.\n"
      "# TYPE ingate_unauthenticated_total counter\n"
      "ingate_unauthenticated_total %llu\n",
      ld(&M.auth_limited), ld(&M.key_rpm_limited), ld(&M.key_tpm_limited), ld(&M.unauthenticated));
    P("# HELP ingate_budget_refused_total Proxied calls refused because a spend budget had no room left.\n"
      "# TYPE ingate_budget_refused_total counter\n"
      "ingate_budget_refused_total %llu\n",
      ld(&M.budget_refused));
    P("# HELP ingate_guardrail_actions_total Proxied calls a request guardrail acted on, by guard and "
      "action.\n"
      "# TYPE ingate_guardrail_actions_total counter\n");
    for (int g = 0; g < IG_METRICS_GUARDS; g++)
        for (int a = 0; a < IG_METRICS_GUARD_ACTIONS; a++)
            if (g != IG_METRICS_GUARD_INJECTION || a != IG_METRICS_GUARD_REDACT) /* injection never redacts */
                P("ingate_guardrail_actions_total{guard=\"%s\",action=\"%s\"} %llu\n", GUARD[g],
                  GUARD_ACTION[a], ld(&M.guard[g][a]));
#undef P
    return rc;
}

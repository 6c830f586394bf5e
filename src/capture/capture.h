/*
 * capture.h — the capture queue: loop threads hand over one record per proxied call without waiting; a writer
 * thread persists them in batched transactions through its own store handle.
 *
 * ig_capture_submit() never blocks on the store: the queue is bounded, and a record that does not fit is
 * counted as dropped. Behind the queue, a record the store cannot take goes to the on-disk spool
 * (capture/spool.h). Records own their strings and body copies; the writer frees them.
 */
#ifndef IG_CAPTURE_CAPTURE_H
#define IG_CAPTURE_CAPTURE_H

#include "core/buf.h"
#include "limit/budget.h"
#include "guard/guard.h"
#include "store/store.h"

#include <stdatomic.h>

/* What a call reserved on its budgets at admission (limit/budget.h, docs/budgets.md): the writer settles the
 * hold with the call's cost, persists the spend and emits the alerts the settlement reports. An event-only
 * record (no call: a refusal on the proxy path) carries the first refusal of a period, which the loop thread
 * cannot report itself (budget.exceeded for budget 0, with the spend seen then). */
typedef struct ig_capture_budget {
    struct ig_budget_ledger *ledger; /* NULL: no budget applied */
    ig_budget_hold_t hold;           /* zeroed once settled */
    int n;                           /* the budgets below (those of the hold, or the refusing one) */
    ig_budget_rule_t rules[IG_BUDGET_MAX_PER_CALL];
    int scope[IG_BUDGET_MAX_PER_CALL]; /* IG_STORE_BUDGET_* */
    char scope_id[IG_BUDGET_MAX_PER_CALL][33];
    bool event_only;
    int64_t period_start, spent_micros; /* event_only: the refusing budget's period and spend */
} ig_capture_budget_t;

typedef struct ig_capture_rec {
    struct ig_capture_rec *next;
    ig_callrec_t meta; /* the call's metadata; the strings are below */
    char *path;
    char *error;
    char *model;       /* filled by the writer from the request body */
    ig_buf_t req_body; /* the request body; the writer trims it to req_capture_max after reading the model */
    size_t req_capture_max;
    ig_buf_t resp_body;         /* bounded copy */
    char *user_id, *session_id; /* X-Ingate-User-Id / X-Ingate-Session-Id (≤ 256 bytes), NULL when absent */
    char client_ip[46];         /* the client's address (trusted proxies resolved) */
    char *req_ctype,
        *resp_ctype;      /* Content-Type of the request and the response (redaction picks JSON/SSE/text) */
    int64_t tpm_limit;    /* the key's tokens-per-minute limit at admission, 0 = none */
    int64_t tpm_estimate; /* tokens charged at admission; the writer settles them with the reported usage */
    char lineage_id[33];  /* the key's lineage: its limiter counters are named after it */
    ig_capture_budget_t budget;
    ig_guard_result_t guard; /* what the request guardrails found and did (action NONE: they did not run) */
} ig_capture_rec_t;

typedef struct ig_capture_stats {
    atomic_ullong submitted, written, dropped, failed_batches;
    atomic_ullong spooled;   /* records appended to the spool (store down or slow) */
    atomic_ullong replayed;  /* spooled records later written to the store */
    atomic_ullong orphaned;  /* records of an org deleted meanwhile (not an error) */
    atomic_ullong redact_ns; /* time spent redacting (writer threads) */
    atomic_ullong redact_bytes;
    atomic_ullong queue_depth; /* records waiting right now */
} ig_capture_stats_t;

/* Where and how the writer persists records. Strings and the KEK are copied. */
typedef struct ig_capture_conf {
    const char *store_url; /* control database (org settings, data keys, key last-use) */
    const char *logs_dir;  /* <data_dir>/orgs: one log database per org */
    const char *spool_dir; /* <data_dir>/spool */
    const uint8_t *kek;    /* 32 bytes: wraps the orgs' data keys */
    uint32_t kek_id;
    bool redact_all_orgs;
    const struct ig_pricing *pricing; /* NULL = no cost */
    struct ig_limiter *limiter;       /* per-key limits: tokens-per-minute estimates are settled here */
    struct ig_budget_ledger *budgets; /* spend budgets: holds are settled here (records carry their ledger) */
    size_t queue_len;
} ig_capture_conf_t;

extern ig_capture_stats_t ig_capture_stats;

/* Starts the writer thread with its own handles. */
int ig_capture_start(const ig_capture_conf_t *conf);
/* Hands a record over (ownership moves, even on failure). false when the queue is full (counted). A record
 * freed without having been written charges its budget hold in full (its cost is unknown). */
bool ig_capture_submit(ig_capture_rec_t *rec);
/* Writes everything queued, then stops the writer. */
void ig_capture_stop(void);
void ig_capture_rec_free(ig_capture_rec_t *rec);
/* Extracts the top-level "model" string of a JSON body (NULL if none); malloc'd. Exposed for tests. */
char *ig_capture_model_of(ig_iov_t body);

#endif

/*
 * logstore.h — one organisation's request log and usage aggregates, in a database of its own (an SQLite file
 * per org: <dir>/<org_id>.db), apart from the control store (store.h). The same file holds the org's audit
 * chain (store/orgaudit.h), which goes with it when the org is deleted.
 *
 * The log store never sees customer content in clear: request and response bodies, end-user and session
 * ids and client IPs arrive as ciphertext blobs (AES-256-GCM envelopes under the org's data key, made by the
 * caller) and are stored and returned byte for byte. Lookups by end user or session use blind-index tags
 * (16-byte HMACs computed by the caller). Only the metadata needed to filter and aggregate is clear: ids,
 * key id and prefix, provider, model, method, path, status, error text, timings, token counts and cost.
 *
 * Every insert also updates hourly usage aggregates (one row per hour, model, provider and key id) in the
 * same transaction, so dashboards read small aggregate rows instead of scanning logs, and a replayed record
 * is neither stored nor counted twice. Latencies are aggregated into a fixed log-scale histogram (see
 * IG_LOGSTORE_HIST_*) so percentiles can be computed over any range of hours by adding histograms.
 *
 * Threads: a handle is used by ONE thread at a time. Several handles (threads or processes) may share one
 * org's file: it runs in WAL mode, so readers never block the writer nor each other, and writers wait up to
 * a busy timeout for each other. Calls block (disk, locks): never call them from an event-loop thread.
 *
 * Errors (all functions return IG_OK or one of these):
 *   IG_EINVAL     an argument breaks the contract stated on the function (NULL, too long, bad cursor)
 *   IG_ENOTFOUND  no such record (ig_logstore_get)
 *   IG_ETOOBIG    more results than the caller's array holds (ig_logstore_usage_timeseries)
 *   IG_ESTORE     the database is busy past the timeout, locked, full, unreadable, newer than this binary or
 *                 cannot be opened; the directory cannot be created
 *   IG_ENOMEM     allocation failure
 *   IG_EINTERNAL  a bug or a database that breaks our invariants (SQL error, oversized stored value)
 * Output arguments are written only on success unless stated otherwise. Log lines never carry bound values
 * (no ids, tags or blobs), only SQLite's messages and the database path.
 */
#ifndef IG_STORE_LOGSTORE_H
#define IG_STORE_LOGSTORE_H

#include "core/common.h"

#include <stdint.h>

/* Schema version this binary creates (the log store's own migration list, independent of the control
 * store's IG_STORE_SCHEMA_VERSION). */
#define IG_LOGSTORE_SCHEMA_VERSION 3

/* Longest stored text fields (bytes, without the NUL); longer input is IG_EINVAL. They match the read
 * buffers of ig_logrow_t. */
#define IG_LOGSTORE_MAX_PATH  2048
#define IG_LOGSTORE_MAX_MODEL 128
#define IG_LOGSTORE_MAX_ERROR 512
/* Guardrail findings: the action name, and the PII counts / rule names texts (guard/guard.h writes at most
 * IG_GUARD_TEXT_MAX - 1 bytes). */
#define IG_LOGSTORE_MAX_GUARD_ACTION 16
#define IG_LOGSTORE_MAX_GUARD_TEXT   511
/* Largest blob accepted: captured bodies are capped at 10 MB, plus envelope overhead. */
#define IG_LOGSTORE_MAX_BLOB (16u * 1024 * 1024)
/* Most rows per ig_logstore_query page and per ig_logstore_purge batch (a purge batch of 1000 records
 * holds the write lock for ~20-50 ms; 10000 is the most that is still "short"). */
#define IG_LOGSTORE_MAX_PAGE  1000
#define IG_LOGSTORE_MAX_PURGE 10000
/* Size of a query cursor buffer (an opaque NUL-terminated string, "" = from the newest / no more pages). */
#define IG_LOGSTORE_CURSOR_MAX 64

/* Latency histogram: IG_LOGSTORE_HIST_BUCKETS buckets, 4 per octave (each bound is 2^(1/4) ≈ 1.189 times
 * the previous), starting at 0.1 ms:
 *   bucket 0            [0, 0.1 ms)
 *   bucket i (1..94)    [0.1 * 2^((i-1)/4), 0.1 * 2^(i/4)) ms
 *   bucket 95           [0.1 * 2^23.5 ms ≈ 1186 s ≈ 19.8 min, ∞)
 * A percentile is reported as the geometric middle of the bucket holding the rank-th smallest sample
 * (nearest-rank method), so for any value from 0.1 ms to 19.8 min the reported value is within a factor
 * 2^(1/8) of the true sample: at most +9.051% / -8.300% off (the rank itself is exact). Bucket 0 reports
 * 0.05 ms and bucket 95 its lower bound. */
#define IG_LOGSTORE_HIST_BUCKETS 96
#define IG_LOGSTORE_HIST_PER_OCT 4
#define IG_LOGSTORE_HIST_MIN_MS  0.1
#define IG_LOGSTORE_HIST_REL_ERR 0.09051 /* 2^(1/8) - 1 = 0.0905077, rounded up */
/* The histogram bucket of a latency (negative and NaN count as 0). */
int ig_logstore_hist_bucket(double ms);
/* The value a percentile falling into bucket b is reported as (see above); 0 for b out of range. */
double ig_logstore_hist_value(int b);

typedef struct ig_logstore ig_logstore_t;

/* Opens (creating if needed) the log database of org_id (32 lowercase hex chars, else IG_EINVAL) in dir:
 * the directory is created with mode 0700 when missing (one level only; an existing one we own that others
 * can access is tightened to 0700, with a warning), the file <dir>/<org_id>.db with mode 0600 (its -wal and
 * -shm files inherit it). Sets WAL mode and the busy timeout, and brings the schema to
 * IG_LOGSTORE_SCHEMA_VERSION (safe when several handles open the same new file at once). On failure
 * returns NULL and sets *err (err may be NULL): IG_EINVAL, IG_ESTORE (including a database newer than this
 * binary), IG_ENOMEM. */
ig_logstore_t *ig_logstore_open(const char *dir, const char *org_id, int *err);
/* Closes the handle and frees everything it holds. NULL is a no-op. */
void ig_logstore_close(ig_logstore_t *ls);
/* The handle's connection, for the modules that own other tables of the org's database (store/orgaudit.c:
 * the audit chain, schema v2). Same rules as the handle: one thread at a time, no transaction left open. */
struct sqlite3 *ig_logstore_sqlite(ig_logstore_t *ls);
/* Deletes the org's database files (<org_id>.db, -wal, -shm). IG_OK when they did not exist; IG_EINVAL for
 * a malformed org_id; IG_ESTORE when a file exists but cannot be removed. No handle on the org's file may be
 * open in any thread or process (an open connection would keep writing to the unlinked file). */
int ig_logstore_destroy(const char *dir, const char *org_id);

/* One log record. Char arrays are NUL-terminated; "" means absent (stored as NULL, read back as ""). */
typedef struct {
    char id[37]; /* request id (UUID text), 1..36 bytes: the primary key */
    char key_id[33], key_prefix[13], provider[33], method[16];
    const char *path;                            /* required, ≤ IG_LOGSTORE_MAX_PATH bytes */
    const char *model /*NULL*/, *error /*NULL*/; /* ≤ IG_LOGSTORE_MAX_MODEL / _ERROR bytes */
    int status;                                  /* HTTP status 0..999 (0 = no response) */
    bool stream;
    double latency_ms, ttfb_ms;                         /* finite, ≥ 0 */
    int64_t input_tokens, output_tokens, cached_tokens; /* ≥ 0, or -1 = unknown (NULL) */
    int64_t cost_micros;                                /* micro-USD ≥ 0, or -1 = unknown (NULL) */
    int64_t req_bytes, resp_bytes;                      /* ≥ 0 */
    bool req_truncated, resp_truncated;
    bool cache_hit;
    /* Ciphertext blobs, each ≤ IG_LOGSTORE_MAX_BLOB; a NULL pointer or a length of 0 means absent (read back
     * as NULL, 0). */
    const uint8_t *req_body;
    size_t req_body_len;
    const uint8_t *resp_body;
    size_t resp_body_len;
    const uint8_t *user_id;
    size_t user_id_len;
    const uint8_t *session_id;
    size_t session_id_len;
    const uint8_t *client_ip;
    size_t client_ip_len;
    uint8_t user_tag[16]; /* blind-index tags, meaningful when has_*_tag */
    bool has_user_tag;
    uint8_t session_tag[16];
    bool has_session_tag;
    int64_t created_at; /* unix ms, > 0 */
    /* Request guardrail findings (guard/guard.h, docs/guardrails.md), in a table of their own (schema v3):
     * guard_action NULL = the guardrails did not run, and the other guard_* fields are ignored (read back as
     * NULL, -1, NULL). Counts, a score and rule names only: no content, so they are stored in clear. */
    const char *guard_action;  /* "allowed" | "logged" | "redacted" | "blocked" (≤ MAX_GUARD_ACTION) */
    const char *guard_pii;     /* NULL = PII not screened; else JSON counts, e.g. {"email":2} */
    int guard_injection_score; /* -1 = injection not screened, else 0..100 */
    const char *guard_injection_rules; /* NULL = none matched; else rule names joined with "," */
} ig_logrec_t;

/* Inserts n records in ONE transaction and, in the same transaction, adds every newly stored record to the
 * usage aggregates of its hour (see ig_usage_summary_t for what is counted). All-or-nothing: on error
 * nothing is stored nor counted. Every record is validated first (IG_EINVAL: recs NULL with n > 0, id empty,
 * a char array not terminated, path NULL, a text or blob too long, a blob pointer NULL with a length, a
 * value out of the ranges stated on ig_logrec_t). A record whose id is already stored — by an earlier call
 * or earlier in the same batch — is skipped and not counted, so replaying a spool file is harmless. n may
 * be 0. */
int ig_logstore_insert(ig_logstore_t *ls, const ig_logrec_t *recs, size_t n);

/* Which records a query, scan or export selects; a zeroed filter selects all. Conditions combine with AND. */
typedef struct {
    int64_t start, end;                    /* unix ms: start inclusive, end exclusive; 0 = open */
    const char *model, *provider, *key_id; /* exact match; NULL = any */
    int status;                            /* exact HTTP status; 0 = any */
    const uint8_t *user_tag, *session_tag; /* 16 bytes; NULL = any */
} ig_logfilter_t;

/* A record as read back. r.path, r.model, r.error and the r.guard_* texts point into the row's own buffers
 * (NULL when stored as NULL), and r's blob pointers at blobs[] = {req_body, resp_body, user_id,
 * session_id, client_ip}, malloc'd copies owned by the row: release them with ig_logrow_free. Because of
 * these inner pointers a row must not be copied by value. seq is the store's insertion sequence number. */
typedef struct {
    ig_logrec_t r;
    char path_buf[IG_LOGSTORE_MAX_PATH + 1];
    char model_buf[IG_LOGSTORE_MAX_MODEL + 1];
    char error_buf[IG_LOGSTORE_MAX_ERROR + 1];
    char guard_action_buf[IG_LOGSTORE_MAX_GUARD_ACTION + 1];
    char guard_pii_buf[IG_LOGSTORE_MAX_GUARD_TEXT + 1];
    char guard_rules_buf[IG_LOGSTORE_MAX_GUARD_TEXT + 1];
    uint8_t *blobs[5];
    int64_t seq;
} ig_logrow_t;

/* One page of matching records, newest first: ordered by (created_at, seq) descending, where seq is the
 * insertion order, so records with equal timestamps are paged without duplicates or gaps. cursor: "" (or
 * NULL) for the first page, else a next_cursor from a previous call with the same filter (IG_EINVAL when
 * malformed). Up to cap (1..IG_LOGSTORE_MAX_PAGE) rows go to out[0..*n); next_cursor (IG_LOGSTORE_CURSOR_MAX
 * bytes) gets the cursor of the next page, or "" when there are no more matching records. with_bodies =
 * false leaves req_body and resp_body NULL (listings; the other blobs are always read). The caller owns the
 * rows and must ig_logrow_free out[0..*n) on success; on error *n = 0 and nothing is left allocated. Each
 * page is one consistent read; rows inserted between pages with a created_at older than the cursor do
 * appear on later pages. */
int ig_logstore_query(ig_logstore_t *ls, const ig_logfilter_t *f, const char *cursor, bool with_bodies,
                      ig_logrow_t *out, size_t cap, size_t *n, char next_cursor[IG_LOGSTORE_CURSOR_MAX]);
/* The record with this id, bodies included. IG_ENOTFOUND when none. The caller must ig_logrow_free(out). */
int ig_logstore_get(ig_logstore_t *ls, const char *id, ig_logrow_t *out);
/* Frees a row's blobs and clears its blob pointers (idempotent). NULL is a no-op. */
void ig_logrow_free(ig_logrow_t *row);

/* Streaming export in constant memory: calls fn(ctx, row) for every record matching f (NULL = all) in
 * ascending (created_at, seq) order, bodies included. The row and its blobs point into the store's memory
 * and are valid only during the call (do not ig_logrow_free it, copy what you keep); fn must not use ls.
 * When fn returns non-zero the scan stops and returns that value. Records are read in pages of a few hundred,
 * each in its own short read transaction, so a long export never holds a lock nor pins the WAL (which would
 * stop checkpoints while the writer keeps inserting); records inserted during the scan after its position
 * are included, records purged before it reaches them are not. */
int ig_logstore_scan(ig_logstore_t *ls, const ig_logfilter_t *f, int (*fn)(void *ctx, const ig_logrow_t *row),
                     void *ctx);

/* Retention: deletes up to limit (1..IG_LOGSTORE_MAX_PURGE) records with created_at < before, oldest first,
 * in one short write transaction, and hands a bounded number of freed pages back to the file system;
 * *deleted = how many records were deleted. Callers loop until *deleted is 0, so the write lock is never
 * held long. The usage aggregates are NOT reduced: usage history outlives the records (bodies) it counts.
 */
int ig_logstore_purge(ig_logstore_t *ls, int64_t before, size_t limit, size_t *deleted);
/* *n = the number of stored records (counts an index: O(records)). */
int ig_logstore_count(ig_logstore_t *ls, int64_t *n);
/* *created_at = the oldest record's created_at, 0 when there are none (for the retention job and the
 * logs.expiring webhook). */
int ig_logstore_oldest(ig_logstore_t *ls, int64_t *created_at);

/* logs.expiring (capture/expiring.h) hands records to webhooks in batches before purging them. A record's
 * position is (created_at, seq): records are ordered by created_at, then by seq. */
typedef struct {
    int64_t records;             /* records in the span, 0 = none */
    int64_t bytes;               /* their approximate size: stored bodies and path + 512 bytes each */
    int64_t first_at, first_seq; /* position of the first record */
    int64_t last_at, last_seq;   /* and of the last */
} ig_logspan_t;
/* The next batch of records to hand over: those with created_at < before positioned after (after_at,
 * after_seq) — (0, 0) starts at the oldest — oldest first, as many as fit in max_records
 * (1..IG_LOGSTORE_MAX_PAGE) and max_bytes (> 0) of approximate size, but always at least one whatever its
 * size. out->records = 0 when there is none. Reads positions and lengths only (no body is loaded), in one
 * short read. IG_EINVAL for a negative bound or a limit out of range. */
int ig_logstore_span(ig_logstore_t *ls, int64_t before, int64_t after_at, int64_t after_seq,
                     size_t max_records, int64_t max_bytes, ig_logspan_t *out);
/* As ig_logstore_purge, but only records positioned at or before (through_at, through_seq): records past
 * that point wait for a delivery. (0, 0) deletes nothing. */
int ig_logstore_purge_through(ig_logstore_t *ls, int64_t before, int64_t through_at, int64_t through_seq,
                              size_t limit, size_t *deleted);

/* Usage over a range, from the hourly aggregates (never from the records, and unaffected by purging).
 * Hour-granular: since is rounded down and until up to a whole hour (UTC), and since/until in the result are
 * the range actually covered, [since, until); 0 = open on that side (and stays 0). Counted per newly stored
 * record: requests; errors = status >= 400 or an error text set; input/output/cached tokens and cost_micros
 * (unknown values, -1, add 0); cache_hits = records with cache_hit. avg_latency_ms = latency sum /
 * requests; p50_latency_ms and p99_latency_ms from the summed histograms (nearest rank, accuracy as stated at
 * IG_LOGSTORE_HIST_BUCKETS); error_rate = errors / requests, cache_hit_rate = cache_hits / requests; all 0
 * when there are no requests. IG_EINVAL for a negative bound or NULL argument. */
typedef struct {
    int64_t since, until;
    int64_t requests, errors, input_tokens, output_tokens, cached_tokens, cost_micros, cache_hits;
    double avg_latency_ms, p50_latency_ms, p99_latency_ms, error_rate, cache_hit_rate;
} ig_usage_summary_t;
int ig_logstore_usage_summary(ig_logstore_t *ls, int64_t since, int64_t until, ig_usage_summary_t *out);

typedef enum { IG_USAGE_HOUR, IG_USAGE_DAY } ig_usage_gran_t;
typedef enum { IG_USAGE_BY_NONE, IG_USAGE_BY_MODEL, IG_USAGE_BY_PROVIDER, IG_USAGE_BY_KEY } ig_usage_group_t;
/* One point of a time series: bucket = the start of its hour or UTC day (unix ms); group = the model,
 * provider or key id (as stored; "" for records without one, and "" for IG_USAGE_BY_NONE). */
typedef struct {
    int64_t bucket;
    char group[129];
    int64_t requests, errors, input_tokens, output_tokens, cost_micros;
    double avg_latency_ms, p50_latency_ms, p99_latency_ms; /* percentiles as for the summary */
} ig_usage_point_t;
/* Usage per hour or UTC day, optionally split by model, provider or key, over [since, until) rounded to
 * hours as for ig_logstore_usage_summary, from the aggregates. Points are ordered by (bucket, group); only
 * buckets with records appear (no zero-filled gaps). Up to cap points go to out; *n = how many. IG_ETOOBIG
 * when there are more than cap (out then holds the first cap, *n = cap). IG_EINVAL for a bad enum, a
 * negative bound or NULL argument. */
int ig_logstore_usage_timeseries(ig_logstore_t *ls, int64_t since, int64_t until, ig_usage_gran_t g,
                                 ig_usage_group_t by, ig_usage_point_t *out, size_t cap, size_t *n);

#endif

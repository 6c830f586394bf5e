/*
 * expiring.h — the logs.expiring webhook: before an Enterprise org's expired log records are purged, they are
 * delivered as JSONL batches to each of its enabled webhooks subscribed to logs.expiring ("gating" webhooks),
 * and purging waits for them.
 *
 * The retention pass (capture/retention.h) calls ig_expiring_prepare for an org before purging it. For each
 * gating webhook it
 *   1. closes the webhook's batches that no longer hold records back and reads where it stands
 *      (ig_store_logbatch_state): the position (created_at, seq) of the last record queued to it, and of the
 *      first record of its oldest open batch;
 *   2. queues the expired records that follow the last one queued, in batches of at most
 *      IG_EXPIRING_BATCH_RECORDS records and about IG_EXPIRING_BATCH_BYTES of stored data (but at least one
 *      record), each one logs.expiring delivery (ig_webhook_emit_batch), while the webhook has fewer than
 *      IG_EXPIRING_MAX_OPEN open batches (a later pass queues the rest);
 *   3. lets purging go up to just before its oldest open batch, and never past the last record queued to it.
 * The org's purge then stops at the lowest of these positions (ig_logstore_purge_through). An org without a
 * gating webhook, not on the Enterprise plan, or keeping its records forever, purges as before.
 *
 * A batch is open while its delivery is pending (it has attempts left) or failed less than grace_ms ago
 * (option logs_expiring_grace_ms): a delivery that failed for good holds its records back for the grace
 * period, then they are purged anyway. A webhook that is disabled, unsubscribed or deleted, or whose org
 * leaves the Enterprise plan, no longer holds anything back (a deleted one takes its batches along). All
 * state is in the control store (log_batches, webhook_deliveries) and the org's log database, so a restart,
 * or `ingate admin purge-logs` running next to a server, carry on where the other stopped; passes that race
 * queue each record once per webhook (the store refuses an overlapping batch).
 *
 * Delivery: the webhook thread builds the body when it attempts the delivery (ig_expiring_body, the webhook
 * module's logs_body hook): the envelope line, then the batch's records read from the org's log database in
 * position order, one line each exactly as the API's JSONL export writes it (capture/logjson.h). No record is
 * copied to the control store, and none can vanish meanwhile: purging waits for the batch.
 *
 * Known limit: a record stored more than the retention period late (a spool replayed a month later) at a
 * position already handed over is purged without being delivered.
 *
 * Threads: ig_expiring_prepare blocks (both stores) and runs on the retention thread or the CLI; a body
 * context is used by one thread at a time (the delivery thread).
 */
#ifndef IG_CAPTURE_EXPIRING_H
#define IG_CAPTURE_EXPIRING_H

#include "capture/orgctx.h"
#include "store/store.h"

/* A batch: at most this many records (a receiver gets bounded requests; one request per 500 records keeps a
 * backlog of a million records to 2000 deliveries) ... */
#define IG_EXPIRING_BATCH_RECORDS 500
/* ... and about this much stored data (bodies included), unless its first record alone is larger: the body
 * sent is about as large again as JSON, well inside IG_WEBHOOK_LOGS_BODY_MAX and sent within seconds. */
#define IG_EXPIRING_BATCH_BYTES (4 * 1024 * 1024)
/* Open batches per webhook: a receiver that is down does not make one pass queue the whole backlog. */
#define IG_EXPIRING_MAX_OPEN 64

/* How far an org's purge may go. */
typedef struct {
    bool gated;                      /* the org has a gating webhook: purge only up to through */
    int64_t through_at, through_seq; /* when gated: the last position that may go ((0, 0): none) */
    uint64_t queued;                 /* batches queued by this call */
} ig_expiring_gate_t;

/* Queues the org's expired records (created_at < cutoff) to its gating webhooks and works out how far its
 * purge may go (see above). now_ms is the pass's clock (the CLI's --now), grace_ms the grace period after a
 * failed delivery; stop (may be NULL) is polled between batches. o's plan and retention decide whether the
 * org is gated at all. Errors of the stores (and IG_EUNAVAILABLE when the webhook module is not initialised):
 * the caller must then not purge the org. */
int ig_expiring_prepare(ig_store_t *st, const ig_orgctx_t *o, ig_logstore_t *ls, int64_t cutoff,
                        int64_t now_ms, int64_t grace_ms, const volatile int *stop, ig_expiring_gate_t *out);

/* The delivery side: a context with its own org cache (conf is copied), for the thread that attempts
 * deliveries. NULL when out of memory. */
typedef struct ig_expiring_body ig_expiring_body_t;
ig_expiring_body_t *ig_expiring_body_new(const ig_orgctx_conf_t *conf);
void ig_expiring_body_free(ig_expiring_body_t *b);
/* ig_webhook_body_fn (ctx: an ig_expiring_body_t): appends "\n" and the delivery's batch as JSON lines to
 * body. IG_ENOTFOUND when the delivery has no batch or its org is gone; IG_ESTORE, IG_ENOMEM (a line that
 * does not fit in body, not even as record_too_large) otherwise. */
int ig_expiring_body(void *ctx, ig_store_t *st, const ig_webhook_delivery_t *d, ig_buf_t *body);

#endif

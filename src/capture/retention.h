/*
 * retention.h — deleting log records older than each org's retention (free: 7 days; Enterprise: 30, 60, 90
 * days or unlimited; see capture/orgset.h).
 *
 * One pass visits every org (ids paged from the control store), computes its cut-off from `now_ms` and
 * deletes what is older in batches of IG_RETENTION_BATCH records, each its own short transaction, pausing
 * between batches so writers and readers of the same database never wait long. Usage aggregates are not
 * reduced (usage history outlives the records).
 *
 * Enterprise orgs with a logs.expiring webhook first hand their expired records over (capture/expiring.h):
 * their purge then deletes only what the deliveries released, and the rest waits for a later pass.
 *
 * The gateway runs a pass at start-up and then every `retention_interval_ms` on a thread of its own;
 * `ingate admin purge-logs [--now UNIX_MS]` runs the same pass from the shell, where --now lets tests and
 * operators move the clock (e.g. to see what a pass a month from now would delete). Both may run at once:
 * they share their state through the stores.
 */
#ifndef IG_CAPTURE_RETENTION_H
#define IG_CAPTURE_RETENTION_H

#include "capture/orgctx.h"

#define IG_RETENTION_BATCH    1000
#define IG_RETENTION_PAUSE_MS 10

typedef struct {
    uint64_t orgs, purged, failed_orgs;
    uint64_t queued;     /* logs.expiring batches queued */
    uint64_t gated_orgs; /* orgs whose purge waited on logs.expiring deliveries */
} ig_retention_stats_t;

/* One pass at time now_ms (blocking: a background thread or the CLI). grace_ms: how long a failed
 * logs.expiring delivery still holds its records back (option logs_expiring_grace_ms). stop (may be NULL) is
 * polled between batches: a non-zero value ends the pass early. Queueing logs.expiring batches needs the
 * webhook module (ig_webhook_init): without it a gated org is not purged (counted in failed_orgs). */
int ig_retention_run(ig_store_t *st, ig_orgcache_t *oc, int64_t now_ms, int64_t grace_ms,
                     const volatile int *stop, ig_retention_stats_t *out);

#endif

/*
 * retention.h — deleting log records older than each org's retention (free: 7 days; Enterprise: 30, 60, 90
 * days or unlimited; see capture/orgset.h).
 *
 * One pass visits every org (ids paged from the control store), computes its cut-off from `now_ms` and
 * deletes what is older in batches of IG_RETENTION_BATCH records, each its own short transaction, pausing
 * between batches so writers and readers of the same database never wait long. Usage aggregates are not
 * reduced (usage history outlives the records).
 *
 * The gateway runs a pass at start-up and then every `retention_interval_ms` on a thread of its own;
 * `ingate admin purge-logs [--now UNIX_MS]` runs the same pass from the shell, where --now lets tests and
 * operators move the clock (e.g. to see what a pass a month from now would delete).
 */
#ifndef IG_CAPTURE_RETENTION_H
#define IG_CAPTURE_RETENTION_H

#include "capture/orgctx.h"

#define IG_RETENTION_BATCH    1000
#define IG_RETENTION_PAUSE_MS 10

typedef struct {
    uint64_t orgs, purged, failed_orgs;
} ig_retention_stats_t;

/* One pass at time now_ms (blocking: a background thread or the CLI). stop (may be NULL) is polled between
 * batches: a non-zero value ends the pass early. */
int ig_retention_run(ig_store_t *st, ig_orgcache_t *oc, int64_t now_ms, const volatile int *stop,
                     ig_retention_stats_t *out);

#endif

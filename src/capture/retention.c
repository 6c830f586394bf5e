/*
 * retention.c — the retention pass (see retention.h).
 */
#include "capture/retention.h"
#include "capture/expiring.h"
#include "core/err.h"
#include "core/log.h"

#include <stdlib.h>
#include <time.h>

#define DAY_MS   86400000LL
#define ORG_PAGE 256

static void pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* One purge batch: everything expired, or for a gated org only what its deliveries have released. */
static int purge_batch(ig_logstore_t *ls, int64_t cutoff, const ig_expiring_gate_t *g, size_t *deleted)
{
    if (!g->gated) return ig_logstore_purge(ls, cutoff, IG_RETENTION_BATCH, deleted);
    *deleted = 0;
    if (g->through_at == 0) return IG_OK; /* nothing released */
    return ig_logstore_purge_through(ls, cutoff, g->through_at, g->through_seq, IG_RETENTION_BATCH, deleted);
}

int ig_retention_run(ig_store_t *st, ig_orgcache_t *oc, int64_t now_ms, int64_t grace_ms,
                     const volatile int *stop, ig_retention_stats_t *out)
{
    char(*ids)[33] = calloc(ORG_PAGE, sizeof *ids);
    char after[33] = "";
    size_t n = 0;
    int rc = ids ? IG_OK : IG_ENOMEM;
    ig_retention_stats_t s;
    memset(&s, 0, sizeof s);
    while (rc == IG_OK && !(stop && *stop)) {
        rc = ig_store_org_ids(st, after, ids, ORG_PAGE, &n);
        for (size_t i = 0; rc == IG_OK && i < n && !(stop && *stop); i++) {
            ig_orgctx_t *o = NULL;
            ig_logstore_t *ls = NULL;
            ig_expiring_gate_t gate = {false, 0, 0, 0};
            s.orgs++;
            int orc = ig_orgcache_get(oc, st, ids[i], &o);
            if (orc == IG_ENOTFOUND) continue;                    /* deleted meanwhile */
            if (orc == IG_OK && o->retention_days == 0) continue; /* unlimited */
            if (orc == IG_OK) orc = ig_orgcache_logstore(oc, o, &ls);
            int64_t cutoff = orc == IG_OK ? now_ms - (int64_t)o->retention_days * DAY_MS : 0;
            /* Enterprise orgs with a logs.expiring webhook: hand the expired records over first */
            if (orc == IG_OK) orc = ig_expiring_prepare(st, o, ls, cutoff, now_ms, grace_ms, stop, &gate);
            if (orc == IG_OK) {
                s.queued += gate.queued;
                s.gated_orgs += gate.gated;
            }
            size_t deleted = 0;
            do {
                if (orc == IG_OK) orc = purge_batch(ls, cutoff, &gate, &deleted);
                if (orc == IG_OK) s.purged += deleted;
                if (orc == IG_OK && deleted == IG_RETENTION_BATCH) pause_ms(IG_RETENTION_PAUSE_MS);
            } while (orc == IG_OK && deleted == IG_RETENTION_BATCH && !(stop && *stop));
            if (orc) {
                s.failed_orgs++;
                IG_WARN("retention", "org %s: purge failed (%s)", ids[i], ig_err_name(orc));
            }
        }
        if (rc || n < ORG_PAGE) break;
        memcpy(after, ids[n - 1], sizeof after);
    }
    free(ids);
    if (out) *out = s;
    return rc;
}

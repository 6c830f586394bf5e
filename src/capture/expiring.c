/*
 * expiring.c — the logs.expiring webhook: queueing batches before a purge, and building their bodies at
 * delivery time (contract in expiring.h).
 *
 * Positions are compared as (created_at, seq) pairs. A batch names its first and last position; the records
 * between them are read again when it is delivered, so the control store only ever holds positions, and a
 * body is built one record at a time (a scan in pages of a few hundred rows, each its own short read).
 */
#include "capture/expiring.h"
#include "capture/logjson.h"
#include "core/err.h"
#include "core/log.h"
#include "webhook/webhook.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

/* Whether position (a1, s1) comes before (a2, s2). */
static bool pos_before(int64_t a1, int64_t s1, int64_t a2, int64_t s2)
{
    return a1 < a2 || (a1 == a2 && s1 < s2);
}

/* Queues webhook_id's batches and sets *at, *seq to the last position its records allow to purge. */
static int gate_one(ig_store_t *st, const ig_orgctx_t *o, ig_logstore_t *ls, const char *webhook_id,
                    int64_t cutoff, int64_t failed_before, const volatile int *stop, int64_t *at,
                    int64_t *seq, uint64_t *queued)
{
    ig_logbatch_state_t s;
    int rc = ig_store_logbatch_state(st, o->org_id, webhook_id, failed_before, &s);
    while (rc == IG_OK && s.open < IG_EXPIRING_MAX_OPEN && !(stop && *stop)) {
        ig_logspan_t sp;
        rc = ig_logstore_span(ls, cutoff, s.queued ? s.last_at : 0, s.queued ? s.last_seq : 0,
                              IG_EXPIRING_BATCH_RECORDS, IG_EXPIRING_BATCH_BYTES, &sp);
        if (rc || sp.records == 0) break;
        ig_logbatch_t b;
        memset(&b, 0, sizeof b);
        b.first_at = sp.first_at;
        b.first_seq = sp.first_seq;
        b.last_at = sp.last_at;
        b.last_seq = sp.last_seq;
        b.records = sp.records;
        b.cutoff = cutoff;
        char data[256];
        snprintf(data, sizeof data,
                 "{\"records\":%" PRId64 ",\"from\":%" PRId64 ",\"until\":%" PRId64 ",\"cutoff\":%" PRId64
                 ",\"retention_days\":%d}",
                 sp.records, sp.first_at, sp.last_at, cutoff, o->retention_days);
        rc = ig_webhook_emit_batch(st, o->org_id, webhook_id, data, &b, NULL);
        if (rc == IG_ECONFLICT) { /* another pass queued these records meanwhile: take its word for it */
            rc = ig_store_logbatch_state(st, o->org_id, webhook_id, failed_before, &s);
            break;
        }
        if (rc) break;
        (*queued)++;
        if (s.open++ == 0) {
            s.open_at = b.first_at;
            s.open_seq = b.first_seq;
        }
        s.queued = true;
        s.last_at = b.last_at;
        s.last_seq = b.last_seq;
    }
    if (rc) return rc;
    if (s.open) { /* up to the record before the oldest open batch */
        *at = s.open_seq > 0 ? s.open_at : s.open_at - 1;
        *seq = s.open_seq > 0 ? s.open_seq - 1 : INT64_MAX;
    } else if (s.queued) { /* everything handed over is settled */
        *at = s.last_at;
        *seq = s.last_seq;
    } else { /* nothing was ever handed over: nothing expired yet */
        *at = 0;
        *seq = 0;
    }
    if (*at < 0) *at = *seq = 0;
    return IG_OK;
}

int ig_expiring_prepare(ig_store_t *st, const ig_orgctx_t *o, ig_logstore_t *ls, int64_t cutoff,
                        int64_t now_ms, int64_t grace_ms, const volatile int *stop, ig_expiring_gate_t *out)
{
    ig_webhook_t *hooks = NULL;
    ig_expiring_gate_t g = {false, INT64_MAX, INT64_MAX, 0};
    size_t n = 0;
    int rc = IG_EINVAL;

    if (!st || !o || !ls || !out || grace_ms < 0) goto out;
    rc = IG_OK;
    if (o->plan != IG_STORE_PLAN_ENTERPRISE || o->retention_days == 0) goto out;
    /* the cheap probe first: with cap 0 the list answers IG_OK (no webhook) or IG_ETOOBIG after one row */
    rc = ig_store_webhook_list(st, o->org_id, NULL, 0, &n);
    if (rc != IG_ETOOBIG) goto out;
    rc = IG_ENOMEM;
    if (!(hooks = malloc(IG_STORE_WEBHOOKS_PER_ORG * sizeof *hooks))) goto out;
    rc = ig_store_webhook_list(st, o->org_id, hooks, IG_STORE_WEBHOOKS_PER_ORG, &n);
    if (rc && rc != IG_ETOOBIG) goto out;
    rc = IG_OK;
    for (size_t i = 0; rc == IG_OK && i < n; i++) {
        uint32_t mask = 0;
        if (!hooks[i].enabled || ig_webhook_events_mask(hooks[i].events, &mask) != IG_OK ||
            !(mask & (1u << IG_WEBHOOK_EV_LOGS_EXPIRING)))
            continue;
        int64_t at = 0, seq = 0;
        g.gated = true;
        rc = gate_one(st, o, ls, hooks[i].id, cutoff, now_ms - grace_ms, stop, &at, &seq, &g.queued);
        if (rc == IG_OK && pos_before(at, seq, g.through_at, g.through_seq)) {
            g.through_at = at;
            g.through_seq = seq;
        }
    }
out:
    free(hooks);
    if (rc == IG_OK) {
        if (!g.gated) g.through_at = g.through_seq = 0;
        *out = g;
    } else if (rc != IG_EINVAL) {
        IG_WARN("retention", "org %s: logs.expiring batches not queued (%s)", o->org_id, ig_err_name(rc));
    }
    return rc;
}

/* ---------------------------------------------------------------------------------------------------- */
/* delivery */

struct ig_expiring_body {
    ig_orgcache_t *oc; /* the delivery thread's: data keys and log database handles */
};

ig_expiring_body_t *ig_expiring_body_new(const ig_orgctx_conf_t *conf)
{
    ig_expiring_body_t *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    /* a few orgs: deliveries of one org tend to follow each other */
    if (!(b->oc = ig_orgcache_new(conf, 4))) {
        free(b);
        return NULL;
    }
    return b;
}

void ig_expiring_body_free(ig_expiring_body_t *b)
{
    if (!b) return;
    ig_orgcache_free(b->oc);
    free(b);
}

typedef struct {
    const ig_logbatch_t *b;
    const ig_orgctx_t *o;
    ig_buf_t *body;
} body_scan_t;

static int on_row(void *ctx, const ig_logrow_t *row)
{
    body_scan_t *bs = ctx;
    const ig_logbatch_t *b = bs->b;
    /* the scan covers whole milliseconds: leave out the records of the same ms outside the batch */
    if (pos_before(row->r.created_at, row->seq, b->first_at, b->first_seq) ||
        pos_before(b->last_at, b->last_seq, row->r.created_at, row->seq))
        return IG_OK;
    return ig_logjson_line(bs->body, bs->o, &row->r);
}

int ig_expiring_body(void *ctx, ig_store_t *st, const ig_webhook_delivery_t *d, ig_buf_t *body)
{
    ig_expiring_body_t *eb = ctx;
    ig_logbatch_t b;
    ig_orgctx_t *o = NULL;
    ig_logstore_t *ls = NULL;
    int rc = IG_EINVAL;

    if (!eb || !st || !d || !body) goto out;
    if ((rc = ig_store_logbatch_get(st, d->org_id, d->id, &b))) goto out;
    if ((rc = ig_orgcache_get(eb->oc, st, d->org_id, &o)) || (rc = ig_orgcache_logstore(eb->oc, o, &ls)))
        goto out;
    if ((rc = ig_buf_lit(body, "\n"))) goto out;
    ig_logfilter_t f;
    memset(&f, 0, sizeof f);
    f.start = b.first_at;
    f.end = b.last_at + 1;
    body_scan_t bs = {&b, o, body};
    rc = ig_logstore_scan(ls, &f, on_row, &bs);
out:
    if (rc && rc != IG_ENOTFOUND && rc != IG_EINVAL && d)
        IG_WARN("webhook", "logs.expiring delivery %s: records not read (%s)", d->id, ig_err_name(rc));
    return rc;
}

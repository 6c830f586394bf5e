/* Unit tests of the logs.expiring webhook (capture/expiring.h) and what it stands on: the log store's spans
 * and bounded purge, the control store's log batches (ranges, an overlapping batch refused, open and closed
 * with the grace period, removal with their delivery, webhook and org), the retention pass holding back
 * exactly what is due to a gating webhook (nothing for other orgs, plans or webhooks; disabled and deleted
 * webhooks release; several webhooks; batch bounds), and deliveries to a receiver thread on 127.0.0.1: a
 * signed JSONL body built from the org's database at delivery time, whose record lines are the export's,
 * retried after a failure, and purged once delivered. */
#include "unit.h"
#include "capture/expiring.h"
#include "capture/logjson.h"
#include "capture/retention.h"
#include "core/err.h"
#include "crypto/crypto.h"
#include "store/logstore.h"
#include "store/store.h"
#include "webhook/webhook.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <dirent.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HOUR_MS (3600 * 1000LL)
#define DAY_MS  (24 * HOUR_MS)
#define T0      1700000000000LL
#define ORG_X   "0123456789abcdef0123456789abcdef"

static const uint8_t KEK[32] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 9, 8, 7, 6, 5, 4,
                                3, 2, 1, 0, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 9, 8};
static const uint8_t WH_KEY[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                   17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static char g_dir[64];

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *sub(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", g_dir, name);
    return out;
}

static ig_store_t *open_store(const char *name)
{
    char path[128];
    int err = -1;
    ig_store_t *st = ig_store_open(name ? sub(path, sizeof path, name) : ":memory:", &err);
    CHECK(st != NULL);
    if (st) CHECK_EQ_INT(ig_store_migrate(st), IG_OK);
    return st;
}

/* A SELECT on a control database file through a separate raw connection: one integer, or -1. */
static int64_t raw_int(const char *name, const char *sql)
{
    char path[128];
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    int64_t v = -1;
    if (sqlite3_open(sub(path, sizeof path, name), &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return v;
}

static void attempt_of(ig_webhook_attempt_t *a, int status)
{
    memset(a, 0, sizeof *a);
    a->started_at = now_ms();
    a->status_code = status;
    a->duration_ms = 3;
}

/* Finishes a pending delivery as succeeded (ok) or failed for good. */
static void finish(ig_store_t *st, const char *org_id, const char *delivery_id, bool ok)
{
    ig_webhook_attempt_t a;
    attempt_of(&a, ok ? 200 : 503);
    CHECK_EQ_INT(ig_store_webhook_record(st, org_id, delivery_id, &a,
                                         ok ? IG_STORE_DELIVERY_SUCCEEDED : IG_STORE_DELIVERY_FAILED, 0,
                                         NULL),
                 IG_OK);
}

static int seal_plain(void *ctx, const char *org_id, const char *id, ig_buf_t *out)
{
    IG_UNUSED(ctx);
    IG_UNUSED(org_id);
    IG_UNUSED(id);
    return ig_buf_lit(out, "sealed");
}

/* ---- the log store: spans and a purge that stops at a position ---- */

static void base_rec(ig_logrec_t *r, int i, int64_t at)
{
    memset(r, 0, sizeof *r);
    snprintf(r->id, sizeof r->id, "req-%05d", i);
    snprintf(r->method, sizeof r->method, "POST");
    r->path = "/v1/models"; /* 10 bytes */
    r->status = 200;
    r->latency_ms = 10;
    r->ttfb_ms = 5;
    r->input_tokens = r->output_tokens = r->cached_tokens = r->cost_micros = -1;
    r->created_at = at;
}

TEST(span_and_purge_through)
{
    char dir[128];
    int err = 0;
    ig_logstore_t *ls = ig_logstore_open(sub(dir, sizeof dir, "span"), ORG_X, &err);
    CHECK(ls != NULL);
    if (!ls) return;
    /* ten records, two per millisecond (seq 1..10), record i with a body of (i + 1) KB */
    static uint8_t body[10000];
    ig_logrec_t recs[10];
    for (int i = 0; i < 10; i++) {
        base_rec(&recs[i], i, T0 + (i / 2) * 1000);
        recs[i].req_body = body;
        recs[i].req_body_len = (size_t)(i + 1) * 1000;
    }
    CHECK_EQ_INT(ig_logstore_insert(ls, recs, 10), IG_OK);

    ig_logspan_t s;
    CHECK_EQ_INT(ig_logstore_span(ls, T0 + 5000, 0, 0, 4, INT64_MAX, &s), IG_OK);
    CHECK_EQ_INT(s.records, 4);
    CHECK_EQ_INT(s.first_at, T0);
    CHECK_EQ_INT(s.first_seq, 1);
    CHECK_EQ_INT(s.last_at, T0 + 1000);
    CHECK_EQ_INT(s.last_seq, 4);
    CHECK_EQ_INT(s.bytes, (1000 + 2000 + 3000 + 4000) + 4 * (10 + 512));
    /* after a position: the next one, also within the same millisecond */
    CHECK_EQ_INT(ig_logstore_span(ls, T0 + 5000, T0 + 1000, 4, 4, INT64_MAX, &s), IG_OK);
    CHECK_EQ_INT(s.records, 4);
    CHECK_EQ_INT(s.first_at, T0 + 2000);
    CHECK_EQ_INT(s.first_seq, 5);
    CHECK_EQ_INT(s.last_seq, 8);
    CHECK_EQ_INT(ig_logstore_span(ls, T0 + 5000, T0, 1, 1, INT64_MAX, &s), IG_OK);
    CHECK_EQ_INT(s.first_at, T0);
    CHECK_EQ_INT(s.first_seq, 2);
    /* the byte bound: records while they fit, but always the first one */
    CHECK_EQ_INT(ig_logstore_span(ls, T0 + 5000, 0, 0, 10, 1000 + 2000 + 2 * 522, &s), IG_OK);
    CHECK_EQ_INT(s.records, 2);
    CHECK_EQ_INT(ig_logstore_span(ls, T0 + 5000, 0, 0, 10, 1000 + 2000 + 2 * 522 - 1, &s), IG_OK);
    CHECK_EQ_INT(s.records, 1);
    CHECK_EQ_INT(ig_logstore_span(ls, T0 + 5000, T0 + 4000, 9, 10, 1, &s), IG_OK);
    CHECK_EQ_INT(s.records, 1);
    CHECK_EQ_INT(s.first_seq, 10);
    CHECK_EQ_INT(s.bytes, 10000 + 522);
    /* only records before the cut-off; nothing after the last one */
    CHECK_EQ_INT(ig_logstore_span(ls, T0 + 1000, 0, 0, 10, INT64_MAX, &s), IG_OK);
    CHECK_EQ_INT(s.records, 2);
    CHECK_EQ_INT(s.last_seq, 2);
    CHECK_EQ_INT(ig_logstore_span(ls, T0 + 5000, T0 + 4000, 10, 10, INT64_MAX, &s), IG_OK);
    CHECK_EQ_INT(s.records, 0);
    CHECK_EQ_INT(ig_logstore_span(ls, T0 + 5000, 0, 0, 0, 1, &s), IG_EINVAL);
    CHECK_EQ_INT(ig_logstore_span(ls, T0 + 5000, 0, 0, IG_LOGSTORE_MAX_PAGE + 1, 1, &s), IG_EINVAL);
    CHECK_EQ_INT(ig_logstore_span(ls, T0 + 5000, 0, 0, 10, 0, &s), IG_EINVAL);
    CHECK_EQ_INT(ig_logstore_span(ls, -1, 0, 0, 10, 1, &s), IG_EINVAL);
    CHECK_EQ_INT(ig_logstore_span(ls, T0, -1, 0, 10, 1, &s), IG_EINVAL);

    /* purge up to a position: not one record past it, nor at or after the cut-off */
    size_t deleted = 99;
    int64_t n = 0;
    CHECK_EQ_INT(ig_logstore_purge_through(ls, T0 + 5000, 0, 0, 100, &deleted), IG_OK);
    CHECK_EQ_INT(deleted, 0);
    CHECK_EQ_INT(ig_logstore_purge_through(ls, T0 + 5000, T0 + 1000, 3, 100, &deleted), IG_OK);
    CHECK_EQ_INT(deleted, 3);
    CHECK_EQ_INT(ig_logstore_purge_through(ls, T0 + 2000, T0 + 4000, 10, 100, &deleted), IG_OK);
    CHECK_EQ_INT(deleted, 1); /* seq 4: the rest is not expired */
    CHECK_EQ_INT(ig_logstore_purge_through(ls, T0 + 5000, T0 + 4000, 10, 2, &deleted), IG_OK);
    CHECK_EQ_INT(deleted, 2); /* the limit, oldest first */
    CHECK_EQ_INT(ig_logstore_span(ls, T0 + 5000, 0, 0, 10, INT64_MAX, &s), IG_OK);
    CHECK_EQ_INT(s.first_seq, 7);
    CHECK_EQ_INT(ig_logstore_count(ls, &n), IG_OK);
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(ig_logstore_purge_through(ls, T0, 0, 0, 0, &deleted), IG_EINVAL);
    CHECK_EQ_INT(ig_logstore_purge_through(ls, T0, 0, -1, 10, &deleted), IG_EINVAL);
    CHECK_EQ_INT(ig_logstore_purge_through(ls, T0, 0, 0, IG_LOGSTORE_MAX_PURGE + 1, &deleted), IG_EINVAL);
    ig_logstore_close(ls);
}

/* ---- the control store's log batches ---- */

static ig_logbatch_t batch(int64_t fa, int64_t fs, int64_t la, int64_t lsq, int64_t records)
{
    ig_logbatch_t b;
    memset(&b, 0, sizeof b);
    b.first_at = fa;
    b.first_seq = fs;
    b.last_at = la;
    b.last_seq = lsq;
    b.records = records;
    b.cutoff = T0;
    return b;
}

TEST(store_log_batches)
{
    ig_store_t *st = open_store("batches.db");
    ig_org_t a, b;
    ig_webhook_t w, w2, wb;
    ig_webhook_delivery_t d1, d2, d3, list[8];
    ig_logbatch_t got, bt;
    ig_logbatch_state_t s;
    size_t n = 0;
    if (!st) return;
    CHECK_EQ_INT(ig_store_org_create(st, "org-a", "A", &a), IG_OK);
    CHECK_EQ_INT(ig_store_org_create(st, "org-b", "B", &b), IG_OK);
    CHECK_EQ_INT(
        ig_store_webhook_create(st, a.id, "https://h.example/1", "logs.expiring", NULL, seal_plain, NULL, &w),
        IG_OK);
    CHECK_EQ_INT(ig_store_webhook_create(st, a.id, "https://h.example/2", "logs.expiring", NULL, seal_plain,
                                         NULL, &w2),
                 IG_OK);
    CHECK_EQ_INT(ig_store_webhook_create(st, b.id, "https://h.example/b", "logs.expiring", NULL, seal_plain,
                                         NULL, &wb),
                 IG_OK);

    /* a delivery with its batch */
    bt = batch(100, 1, 200, 7, 7);
    CHECK_EQ_INT(ig_store_logbatch_add(st, a.id, w.id, "evt1", "logs.expiring", &bt, seal_plain, NULL, &d1),
                 IG_OK);
    CHECK_EQ_STR(d1.event_type, "logs.expiring");
    CHECK_EQ_INT(d1.status, IG_STORE_DELIVERY_PENDING);
    CHECK(d1.next_attempt_at > 0 && d1.next_attempt_at <= now_ms());
    CHECK_EQ_INT(ig_store_logbatch_get(st, a.id, d1.id, &got), IG_OK);
    CHECK_EQ_STR(got.delivery_id, d1.id);
    CHECK_EQ_STR(got.webhook_id, w.id);
    CHECK_EQ_INT(got.first_at, 100);
    CHECK_EQ_INT(got.first_seq, 1);
    CHECK_EQ_INT(got.last_at, 200);
    CHECK_EQ_INT(got.last_seq, 7);
    CHECK_EQ_INT(got.records, 7);
    CHECK_EQ_INT(got.cutoff, T0);
    CHECK(!got.done);
    CHECK_EQ_INT(ig_store_logbatch_get(st, b.id, d1.id, &got), IG_ENOTFOUND); /* another org's */
    CHECK_EQ_INT(ig_store_logbatch_get(st, a.id, w.id, &got), IG_ENOTFOUND);

    /* a batch that does not start after the webhook's last one is refused (a racing pass), nothing stored */
    bt = batch(200, 7, 300, 9, 3);
    CHECK_EQ_INT(ig_store_logbatch_add(st, a.id, w.id, "evt2", "logs.expiring", &bt, seal_plain, NULL, NULL),
                 IG_ECONFLICT);
    bt = batch(150, 9, 300, 9, 3);
    CHECK_EQ_INT(ig_store_logbatch_add(st, a.id, w.id, "evt2", "logs.expiring", &bt, seal_plain, NULL, NULL),
                 IG_ECONFLICT);
    CHECK_EQ_INT(ig_store_webhook_deliveries(st, a.id, w.id, list, 8, &n), IG_OK);
    CHECK_EQ_INT(n, 1);
    bt = batch(200, 8, 300, 9, 2);
    CHECK_EQ_INT(ig_store_logbatch_add(st, a.id, w.id, "evt2", "logs.expiring", &bt, seal_plain, NULL, &d2),
                 IG_OK);
    /* webhooks are independent: the same records go to another one */
    bt = batch(100, 1, 200, 7, 7);
    CHECK_EQ_INT(ig_store_logbatch_add(st, a.id, w2.id, "evt1", "logs.expiring", &bt, seal_plain, NULL, &d3),
                 IG_OK);
    /* bad input; another org's webhook */
    bt = batch(100, 1, 200, 7, 0);
    CHECK_EQ_INT(ig_store_logbatch_add(st, a.id, w2.id, "e", "logs.expiring", &bt, seal_plain, NULL, NULL),
                 IG_EINVAL);
    bt = batch(300, 1, 200, 7, 1);
    CHECK_EQ_INT(ig_store_logbatch_add(st, a.id, w2.id, "e", "logs.expiring", &bt, seal_plain, NULL, NULL),
                 IG_EINVAL);
    bt = batch(500, 1, 500, 1, 1);
    CHECK_EQ_INT(ig_store_logbatch_add(st, a.id, wb.id, "e", "logs.expiring", &bt, seal_plain, NULL, NULL),
                 IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_logbatch_add(st, a.id, wb.id, "e", "logs.expiring", NULL, seal_plain, NULL, NULL),
                 IG_EINVAL);

    /* state: the last position queued, and the oldest open batch */
    int64_t now = now_ms();
    CHECK_EQ_INT(ig_store_logbatch_state(st, a.id, w.id, now - 60000, &s), IG_OK);
    CHECK(s.queued);
    CHECK_EQ_INT(s.last_at, 300);
    CHECK_EQ_INT(s.last_seq, 9);
    CHECK_EQ_INT(s.open, 2);
    CHECK_EQ_INT(s.open_at, 100);
    CHECK_EQ_INT(s.open_seq, 1);
    /* delivered: closed */
    finish(st, a.id, d1.id, true);
    CHECK_EQ_INT(ig_store_logbatch_state(st, a.id, w.id, now - 60000, &s), IG_OK);
    CHECK_EQ_INT(s.open, 1);
    CHECK_EQ_INT(s.open_at, 200);
    CHECK_EQ_INT(s.open_seq, 8);
    CHECK_EQ_INT(ig_store_logbatch_get(st, a.id, d1.id, &got), IG_OK);
    CHECK(got.done);
    /* failed for good: open during the grace period, closed after it */
    finish(st, a.id, d2.id, false);
    CHECK_EQ_INT(ig_store_logbatch_state(st, a.id, w.id, now - 60000, &s), IG_OK);
    CHECK_EQ_INT(s.open, 1);
    CHECK_EQ_INT(ig_store_logbatch_state(st, a.id, w.id, now_ms() + 1, &s), IG_OK);
    CHECK_EQ_INT(s.open, 0);
    CHECK(s.queued);
    CHECK_EQ_INT(s.last_seq, 9);
    /* other webhooks are untouched; an unknown one has nothing */
    CHECK_EQ_INT(ig_store_logbatch_state(st, a.id, w2.id, now_ms() + 1, &s), IG_OK);
    CHECK_EQ_INT(s.open, 1);
    CHECK_EQ_INT(ig_store_logbatch_state(st, b.id, w.id, now_ms() + 1, &s), IG_OK);
    CHECK(!s.queued && s.open == 0);
    CHECK_EQ_INT(ig_store_logbatch_state(st, a.id, "nope", now, &s), IG_OK);
    CHECK(!s.queued && s.open == 0);
    /* they show among the webhook's deliveries like any other */
    CHECK_EQ_INT(ig_store_webhook_deliveries(st, a.id, w.id, list, 8, &n), IG_OK);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(list[0].event_type, "logs.expiring");
    CHECK_EQ_INT(raw_int("batches.db", "SELECT COUNT(*) FROM log_batches"), 3);

    /* finished deliveries purged: their batches go with them */
    size_t purged = 0;
    CHECK_EQ_INT(ig_store_webhook_purge(st, now_ms() + 1000, 100, &purged), IG_OK);
    CHECK_EQ_INT(purged, 2);
    CHECK_EQ_INT(ig_store_logbatch_get(st, a.id, d1.id, &got), IG_ENOTFOUND);
    CHECK_EQ_INT(raw_int("batches.db", "SELECT COUNT(*) FROM log_batches"), 1);
    CHECK_EQ_INT(ig_store_logbatch_state(st, a.id, w.id, now, &s), IG_OK);
    CHECK(!s.queued);
    /* a deleted webhook takes its batches along; a deleted org everything */
    bt = batch(400, 1, 400, 1, 1);
    CHECK_EQ_INT(ig_store_logbatch_add(st, a.id, w.id, "evt3", "logs.expiring", &bt, seal_plain, NULL, NULL),
                 IG_OK);
    CHECK_EQ_INT(ig_store_webhook_delete(st, a.id, w2.id), IG_OK);
    CHECK_EQ_INT(ig_store_logbatch_get(st, a.id, d3.id, &got), IG_ENOTFOUND);
    CHECK_EQ_INT(raw_int("batches.db", "SELECT COUNT(*) FROM log_batches"), 1);
    CHECK_EQ_INT(ig_store_logbatch_add(st, b.id, wb.id, "evt4", "logs.expiring", &bt, seal_plain, NULL, NULL),
                 IG_OK);
    CHECK_EQ_INT(ig_store_org_delete(st, a.id), IG_OK);
    CHECK_EQ_INT(raw_int("batches.db", "SELECT COUNT(*) FROM log_batches"), 1);
    CHECK_EQ_INT(
        raw_int("batches.db", "SELECT COUNT(*) FROM log_batches WHERE org_id = (SELECT id FROM orgs)"), 1);
    ig_store_close(st);
}

/* ---- the retention pass ---- */

typedef struct {
    ig_store_t *st;
    ig_orgcache_t *oc; /* the test's own: seals records like the log writer */
    char logs_dir[128];
} env_t;

static bool env_open(env_t *e, const char *store, const char *logs)
{
    memset(e, 0, sizeof *e);
    e->st = open_store(store);
    sub(e->logs_dir, sizeof e->logs_dir, logs);
    ig_orgctx_conf_t conf = {e->logs_dir, KEK, 1, false};
    e->oc = ig_orgcache_new(&conf, 16);
    CHECK(e->oc != NULL);
    return e->st && e->oc;
}

static void env_close(env_t *e)
{
    ig_orgcache_free(e->oc);
    ig_store_close(e->st);
}

static ig_orgcache_t *pass_cache(env_t *e)
{
    ig_orgctx_conf_t conf = {e->logs_dir, KEK, 1, false};
    return ig_orgcache_new(&conf, 16);
}

/* One retention pass at `now` with its own org cache (as the retention thread or the CLI). */
static ig_retention_stats_t pass(env_t *e, int64_t now, int64_t grace)
{
    ig_retention_stats_t rs;
    memset(&rs, 0, sizeof rs);
    ig_orgcache_t *oc = pass_cache(e);
    CHECK_EQ_INT(ig_retention_run(e->st, oc, now, grace, NULL, &rs), IG_OK);
    ig_orgcache_free(oc);
    return rs;
}

/* Stores n records of org created at `at` (+1 ms each), with sealed bodies and end-user ids. */
static void add_records(env_t *e, const char *org_id, int n, int64_t at)
{
    static int next_id;
    ig_orgctx_t *o = NULL;
    ig_logstore_t *ls = NULL;
    CHECK_EQ_INT(ig_orgcache_get(e->oc, e->st, org_id, &o), IG_OK);
    if (!o) return;
    CHECK_EQ_INT(ig_orgcache_logstore(e->oc, o, &ls), IG_OK);
    ig_logrec_t *recs = calloc((size_t)n, sizeof *recs);
    ig_buf_t *bufs = calloc((size_t)n * 2, sizeof *bufs);
    if (!recs || !bufs || !ls) goto out;
    for (int i = 0; i < n; i++) {
        ig_logrec_t *r = &recs[i];
        char text[96];
        memset(r, 0, sizeof *r);
        snprintf(r->id, sizeof r->id, "rec-%06d", next_id++);
        snprintf(r->method, sizeof r->method, "POST");
        snprintf(r->provider, sizeof r->provider, "openai");
        r->path = "/v1/chat/completions";
        r->model = "gpt-4o-mini";
        r->status = 200;
        r->latency_ms = 12.5;
        r->ttfb_ms = 3;
        r->input_tokens = 12;
        r->output_tokens = 34;
        r->cached_tokens = -1;
        r->cost_micros = 27;
        r->created_at = at + i;
        ig_buf_init(&bufs[2 * i], 4096);
        ig_buf_init(&bufs[2 * i + 1], 4096);
        snprintf(text, sizeof text, "{\"prompt\":\"hello %s \\\"quoted\\\"\"}", r->id);
        CHECK_EQ_INT(ig_field_seal(o->dk, org_id, r->id, "req_body", ig_iov_str(text), &bufs[2 * i]), IG_OK);
        CHECK_EQ_INT(ig_field_seal(o->dk, org_id, r->id, "user_id", ig_iov_str("user-1"), &bufs[2 * i + 1]),
                     IG_OK);
        r->req_body = (const uint8_t *)bufs[2 * i].data;
        r->req_body_len = bufs[2 * i].len;
        r->user_id = (const uint8_t *)bufs[2 * i + 1].data;
        r->user_id_len = bufs[2 * i + 1].len;
        r->req_bytes = (int64_t)strlen(text);
    }
    CHECK_EQ_INT(ig_logstore_insert(ls, recs, (size_t)n), IG_OK);
out:
    for (int i = 0; bufs && i < 2 * n; i++)
        ig_buf_free(&bufs[i], false);
    free(bufs);
    free(recs);
}

static int64_t count_of(env_t *e, const char *org_id)
{
    ig_orgctx_t *o = NULL;
    ig_logstore_t *ls = NULL;
    int64_t n = -1;
    if (ig_orgcache_get(e->oc, e->st, org_id, &o) == IG_OK && ig_orgcache_logstore(e->oc, o, &ls) == IG_OK)
        CHECK_EQ_INT(ig_logstore_count(ls, &n), IG_OK);
    return n;
}

/* The webhook's deliveries, newest first. */
static size_t deliveries(env_t *e, const char *org_id, const char *webhook_id, ig_webhook_delivery_t *out,
                         size_t cap)
{
    size_t n = 0;
    CHECK_EQ_INT(ig_store_webhook_deliveries(e->st, org_id, webhook_id, out, cap, &n), IG_OK);
    return n;
}

/* The webhook's pending deliveries into out, oldest batch first; *n = how many. */
static int batch_cmp(const void *x, const void *y)
{
    const ig_logbatch_t *a = x, *b = y;
    if (a->first_at != b->first_at) return a->first_at < b->first_at ? -1 : 1;
    return a->first_seq < b->first_seq ? -1 : a->first_seq > b->first_seq;
}

static size_t pending(env_t *e, const char *org_id, const char *webhook_id, ig_logbatch_t *out, size_t cap)
{
    ig_webhook_delivery_t ds[64];
    size_t n = deliveries(e, org_id, webhook_id, ds, 64), k = 0;
    for (size_t i = 0; i < n && k < cap; i++)
        if (ds[i].status == IG_STORE_DELIVERY_PENDING)
            CHECK_EQ_INT(ig_store_logbatch_get(e->st, org_id, ds[i].id, &out[k++]), IG_OK);
    qsort(out, k, sizeof *out, batch_cmp);
    return k;
}

static bool init_module(const char *allow, ig_webhook_body_fn fn, void *ctx)
{
    ig_webhook_conf_t c = {.store_url = ":memory:",
                           .key = WH_KEY,
                           .outbound_allowlist = allow,
                           .retry_base_ms = 200, /* retries after 160..240 ms */
                           .logs_body = fn,
                           .logs_body_ctx = ctx};
    const char *why = NULL;
    int rc = ig_webhook_init(&c, &why);
    CHECK_EQ_INT(rc, IG_OK);
    return rc == IG_OK;
}

static void new_hook(env_t *e, const char *org_id, const char *url, uint32_t mask, ig_webhook_t *w)
{
    char secret[IG_WEBHOOK_SECRET_TEXT_MAX];
    CHECK_EQ_INT(ig_webhook_create(e->st, org_id, url, mask, NULL, secret, w), IG_OK);
}

#define LOGS_EXPIRING (1u << IG_WEBHOOK_EV_LOGS_EXPIRING)
#define KEY_CREATE    (1u << IG_WEBHOOK_EV_KEY_CREATE)

TEST(retention_holds_back_what_is_due)
{
    env_t e;
    ig_org_t E, F, G, H;
    ig_webhook_t W, W2, W3, W4, WG, WH;
    ig_webhook_delivery_t ds[16];
    ig_logbatch_t b, bs[8];
    ig_retention_stats_t rs;
    if (!env_open(&e, "retention.db", "retention-orgs") || !init_module(NULL, NULL, NULL)) goto out;
    CHECK_EQ_INT(ig_store_org_create(e.st, "ent-e", "E", &E), IG_OK);
    CHECK_EQ_INT(ig_store_org_create(e.st, "ent-f", "F", &F), IG_OK);
    CHECK_EQ_INT(ig_store_org_create(e.st, "free-g", "G", &G), IG_OK);
    CHECK_EQ_INT(ig_store_org_create(e.st, "ent-h", "H", &H), IG_OK);
    for (const ig_org_t *o = &E; o; o = o == &E ? &F : o == &F ? &G : o == &G ? &H : NULL)
        CHECK_EQ_INT(ig_store_org_set_plan(e.st, o->id, IG_STORE_PLAN_ENTERPRISE), IG_OK);
    /* E: a logs.expiring webhook, one for another event, a disabled logs.expiring one */
    new_hook(&e, E.id, "https://hooks.example/w", LOGS_EXPIRING | KEY_CREATE, &W);
    new_hook(&e, E.id, "https://hooks.example/w2", KEY_CREATE, &W2);
    new_hook(&e, E.id, "https://hooks.example/w3", LOGS_EXPIRING, &W3);
    CHECK_EQ_INT(ig_store_webhook_update(e.st, E.id, W3.id, NULL, NULL, NULL, 0, NULL), IG_OK);
    /* G: a logs.expiring webhook, then downgraded to free (7 days, nothing held back) */
    new_hook(&e, G.id, "https://hooks.example/g", LOGS_EXPIRING, &WG);
    CHECK_EQ_INT(ig_store_org_set_plan(e.st, G.id, IG_STORE_PLAN_FREE), IG_OK);

    int64_t now = now_ms();
    const char *orgs[] = {E.id, F.id, G.id};
    for (int i = 0; i < 3; i++) {
        add_records(&e, orgs[i], 3, now - 40 * DAY_MS);
        add_records(&e, orgs[i], 2, now - DAY_MS);
    }

    /* E's expired records are queued to W only, and kept; F and G purge as before */
    rs = pass(&e, now, HOUR_MS);
    CHECK_EQ_INT(rs.failed_orgs, 0);
    CHECK_EQ_INT(rs.purged, 6);
    CHECK_EQ_INT(rs.queued, 1);
    CHECK_EQ_INT(rs.gated_orgs, 1);
    CHECK_EQ_INT(count_of(&e, E.id), 5);
    CHECK_EQ_INT(count_of(&e, F.id), 2);
    CHECK_EQ_INT(count_of(&e, G.id), 2);
    CHECK_EQ_INT(deliveries(&e, E.id, W.id, ds, 16), 1);
    CHECK_EQ_INT(deliveries(&e, E.id, W2.id, ds + 1, 15), 0);
    CHECK_EQ_INT(deliveries(&e, E.id, W3.id, ds + 1, 15), 0);
    CHECK_EQ_INT(deliveries(&e, G.id, WG.id, ds + 1, 15), 0);
    CHECK_EQ_STR(ds[0].event_type, "logs.expiring");
    CHECK_EQ_INT(ig_store_logbatch_get(e.st, E.id, ds[0].id, &b), IG_OK);
    CHECK_EQ_INT(b.records, 3);
    CHECK_EQ_INT(b.cutoff, now - 30 * DAY_MS);
    CHECK_EQ_INT(b.first_at, now - 40 * DAY_MS);
    CHECK_EQ_INT(b.last_at, now - 40 * DAY_MS + 2);
    /* the sealed payload is the envelope, with the batch described in data */
    uint8_t *blob = NULL;
    size_t blen = 0;
    ig_buf_t pt;
    ig_buf_init(&pt, 1 << 16);
    CHECK_EQ_INT(ig_store_webhook_payload(e.st, E.id, ds[0].id, &blob, &blen), IG_OK);
    CHECK_EQ_INT(ig_webhook_open_payload(E.id, ds[0].id, ig_iov((const char *)blob, blen), &pt), IG_OK);
    char want[256];
    snprintf(want, sizeof want,
             "\"data\":{\"records\":3,\"from\":%lld,\"until\":%lld,\"cutoff\":%lld,\"retention_days\":30}}",
             (long long)b.first_at, (long long)b.last_at, (long long)b.cutoff);
    CHECK(ig_buf_cstr(&pt) && strstr(pt.data, want) != NULL);
    CHECK(pt.data && strstr(pt.data, "\"type\":\"logs.expiring\"") != NULL);
    ig_buf_free(&pt, false);
    free(blob);

    /* another pass: nothing new, nothing purged while the delivery is pending */
    rs = pass(&e, now, HOUR_MS);
    CHECK_EQ_INT(rs.queued, 0);
    CHECK_EQ_INT(rs.purged, 0);
    CHECK_EQ_INT(count_of(&e, E.id), 5);
    /* delivered: the batch's records go, the others stay */
    finish(e.st, E.id, ds[0].id, true);
    rs = pass(&e, now, HOUR_MS);
    CHECK_EQ_INT(rs.purged, 3);
    CHECK_EQ_INT(count_of(&e, E.id), 2);

    /* failed for good: kept for the grace period, then purged anyway */
    add_records(&e, E.id, 2, now - 35 * DAY_MS);
    rs = pass(&e, now, HOUR_MS);
    CHECK_EQ_INT(rs.queued, 1);
    CHECK_EQ_INT(deliveries(&e, E.id, W.id, ds, 16), 2);
    CHECK_EQ_INT(pending(&e, E.id, W.id, bs, 8), 1);
    finish(e.st, E.id, bs[0].delivery_id, false);
    rs = pass(&e, now, HOUR_MS);
    CHECK_EQ_INT(rs.purged, 0);
    CHECK_EQ_INT(count_of(&e, E.id), 4);
    rs = pass(&e, now_ms() + 2 * HOUR_MS, HOUR_MS);
    CHECK_EQ_INT(rs.purged, 2);
    CHECK_EQ_INT(rs.queued, 0);
    CHECK_EQ_INT(count_of(&e, E.id), 2);

    /* a webhook disabled while its batch is pending no longer holds anything back */
    add_records(&e, E.id, 2, now - 33 * DAY_MS);
    rs = pass(&e, now, HOUR_MS);
    CHECK_EQ_INT(rs.queued, 1);
    CHECK_EQ_INT(count_of(&e, E.id), 4);
    CHECK_EQ_INT(ig_store_webhook_update(e.st, E.id, W.id, NULL, NULL, NULL, 0, NULL), IG_OK);
    rs = pass(&e, now, HOUR_MS);
    CHECK_EQ_INT(rs.gated_orgs, 0);
    CHECK_EQ_INT(rs.purged, 2);
    CHECK_EQ_INT(ig_store_webhook_update(e.st, E.id, W.id, NULL, NULL, NULL, 1, NULL), IG_OK);
    /* W's pending batch (its records already gone) fails at delivery time ("disabled" then) */
    CHECK_EQ_INT(pending(&e, E.id, W.id, bs, 8), 1);
    finish(e.st, E.id, bs[0].delivery_id, false);

    /* two gating webhooks: records wait for both */
    new_hook(&e, E.id, "https://hooks.example/w4", LOGS_EXPIRING, &W4);
    add_records(&e, E.id, 2, now - 32 * DAY_MS);
    rs = pass(&e, now + 2 * HOUR_MS, HOUR_MS);
    CHECK_EQ_INT(rs.queued, 2);
    CHECK_EQ_INT(rs.purged, 0);
    CHECK_EQ_INT(deliveries(&e, E.id, W.id, ds, 16), 4);
    CHECK_EQ_INT(pending(&e, E.id, W.id, bs, 8), 1);
    finish(e.st, E.id, bs[0].delivery_id, true);
    rs = pass(&e, now + 2 * HOUR_MS, HOUR_MS);
    CHECK_EQ_INT(rs.purged, 0);
    /* W4 got the same records, and none of the earlier ones (they were gone before it existed) */
    CHECK_EQ_INT(deliveries(&e, E.id, W4.id, ds, 16), 1);
    CHECK_EQ_INT(pending(&e, E.id, W4.id, bs, 8), 1);
    CHECK_EQ_INT(bs[0].records, 2);
    finish(e.st, E.id, bs[0].delivery_id, true);
    rs = pass(&e, now + 2 * HOUR_MS, HOUR_MS);
    CHECK_EQ_INT(rs.purged, 2);
    CHECK_EQ_INT(count_of(&e, E.id), 2);

    /* deleting the webhooks releases what they held */
    add_records(&e, E.id, 1, now - 31 * DAY_MS);
    rs = pass(&e, now + 2 * HOUR_MS, HOUR_MS);
    CHECK_EQ_INT(rs.queued, 2);
    CHECK_EQ_INT(rs.purged, 0);
    CHECK_EQ_INT(ig_store_webhook_delete(e.st, E.id, W.id), IG_OK);
    rs = pass(&e, now + 2 * HOUR_MS, HOUR_MS);
    CHECK_EQ_INT(rs.purged, 0); /* W4 still waits */
    CHECK_EQ_INT(ig_store_webhook_delete(e.st, E.id, W4.id), IG_OK);
    rs = pass(&e, now + 2 * HOUR_MS, HOUR_MS);
    CHECK_EQ_INT(rs.purged, 1);
    CHECK_EQ_INT(rs.gated_orgs, 0);

    /* batches are bounded in records; the open ones in number (the next pass queues the rest) */
    new_hook(&e, H.id, "https://hooks.example/h", LOGS_EXPIRING, &WH);
    add_records(&e, H.id, 1203, now - 50 * DAY_MS);
    rs = pass(&e, now, HOUR_MS);
    CHECK_EQ_INT(rs.queued, 3);
    CHECK_EQ_INT(pending(&e, H.id, WH.id, bs, 8), 3);
    int64_t total = 0;
    for (int i = 0; i < 3; i++) {
        CHECK(bs[i].records <= IG_EXPIRING_BATCH_RECORDS);
        if (i)
            CHECK(batch_cmp(&(ig_logbatch_t){.first_at = bs[i - 1].last_at, .first_seq = bs[i - 1].last_seq},
                            &bs[i]) < 0); /* no overlap */
        total += bs[i].records;
    }
    CHECK_EQ_INT(total, 1203);
    /* the oldest delivered: its records go, the others wait */
    finish(e.st, H.id, bs[0].delivery_id, true);
    rs = pass(&e, now, HOUR_MS);
    CHECK_EQ_INT(rs.purged, bs[0].records);
    finish(e.st, H.id, bs[2].delivery_id, true); /* the newest: still held back by the one in between */
    rs = pass(&e, now, HOUR_MS);
    CHECK_EQ_INT(rs.purged, 0);
    finish(e.st, H.id, bs[1].delivery_id, true);
    rs = pass(&e, now, HOUR_MS);
    CHECK_EQ_INT(rs.purged, 1203 - bs[0].records);
    CHECK_EQ_INT(count_of(&e, H.id), 0);

    /* without the webhook module, a gated org is not purged (its batches cannot be sealed) */
    new_hook(&e, H.id, "https://hooks.example/h2", LOGS_EXPIRING, &WH);
    add_records(&e, H.id, 1, now - 40 * DAY_MS);
    ig_webhook_shutdown();
    ig_orgcache_t *oc = pass_cache(&e);
    memset(&rs, 0, sizeof rs);
    CHECK_EQ_INT(ig_retention_run(e.st, oc, now, HOUR_MS, NULL, &rs), IG_OK);
    ig_orgcache_free(oc);
    CHECK_EQ_INT(rs.failed_orgs, 1);
    CHECK_EQ_INT(count_of(&e, H.id), 1);
out:
    ig_webhook_shutdown();
    env_close(&e);
}

/* ---- delivery ---- */

/* A one-connection-at-a-time HTTP receiver: answers each request with the next status of its script and
 * keeps the last request's head and body. */
typedef struct {
    int fd, port;
    int statuses[8], nstatus;
    atomic_int served;
    char head[4096];
    char *body; /* 1 MiB */
    size_t body_len;
    pthread_t thread;
} receiver_t;

#define RX_MAX (1 << 20)

static void *receiver_main(void *arg)
{
    receiver_t *r = arg;
    char *buf = malloc(RX_MAX + 8192);
    while (buf && atomic_load(&r->served) < r->nstatus) {
        int c = accept(r->fd, NULL, NULL);
        if (c < 0) break;
        size_t len = 0, want = 0;
        ssize_t k;
        char *end = NULL;
        while (len < RX_MAX + 8191 && (k = read(c, buf + len, RX_MAX + 8191 - len)) > 0) {
            len += (size_t)k;
            buf[len] = '\0';
            if (!end && (end = strstr(buf, "\r\n\r\n"))) {
                const char *cl = strcasestr(buf, "\r\nContent-Length:");
                want = (size_t)(end + 4 - buf) + (cl ? strtoul(cl + 17, NULL, 10) : 0);
            }
            if (end && len >= want) break;
        }
        if (end) {
            size_t hl = (size_t)(end - buf);
            snprintf(r->head, sizeof r->head, "%.*s", (int)hl, buf);
            r->body_len = IG_MIN(len - hl - 4, (size_t)RX_MAX);
            memcpy(r->body, end + 4, r->body_len);
            r->body[r->body_len] = '\0';
        }
        int status = r->statuses[atomic_load(&r->served)];
        atomic_fetch_add(&r->served, 1);
        char resp[128];
        int n = snprintf(resp, sizeof resp, "HTTP/1.1 %d X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                         status);
        if (write(c, resp, (size_t)n) < 0) { /* the test sees the missing attempt */
        }
        close(c);
    }
    free(buf);
    return NULL;
}

static bool receiver_start(receiver_t *r)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    if (!(r->body = malloc(RX_MAX + 1))) return false;
    r->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (r->fd < 0 || bind(r->fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(r->fd, 8) != 0 ||
        getsockname(r->fd, (struct sockaddr *)&sa, &sl) != 0)
        return false;
    r->port = ntohs(sa.sin_port);
    return pthread_create(&r->thread, NULL, receiver_main, r) == 0;
}

static void receiver_stop(receiver_t *r)
{
    shutdown(r->fd, SHUT_RDWR);
    close(r->fd);
    pthread_join(r->thread, NULL);
    free(r->body);
}

static const char *head_value(const char *head, const char *name, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\r\n%s: ", name);
    const char *p = strcasestr(head, pat);
    out[0] = '\0';
    if (!p) return out;
    p += strlen(pat);
    size_t n = strcspn(p, "\r\n");
    snprintf(out, cap, "%.*s", (int)IG_MIN(n, cap - 1), p);
    return out;
}

typedef struct {
    const ig_orgctx_t *o;
    int64_t before;
    ig_buf_t *out;
} lines_ctx_t;

static int expect_line(void *ctx, const ig_logrow_t *row)
{
    lines_ctx_t *lc = ctx;
    if (row->r.created_at >= lc->before) return IG_OK;
    return ig_logjson_line(lc->out, lc->o, &row->r);
}

TEST(delivery_sends_signed_jsonl)
{
    receiver_t rx = {.statuses = {500, 200}, .nstatus = 2};
    env_t e;
    ig_org_t E;
    ig_webhook_t W;
    ig_webhook_delivery_t ds[4];
    ig_retention_stats_t rs;
    ig_expiring_body_t *eb = NULL;
    ig_buf_t want;
    char allow[64], url[96], norm[IG_OUTBOUND_URL_MAX], secret[IG_WEBHOOK_SECRET_TEXT_MAX];
    const char *why = NULL;
    size_t n = 0;
    bool more = false;
    ig_buf_init(&want, 1 << 20);
    if (!env_open(&e, NULL, "delivery-orgs") || !receiver_start(&rx)) goto out;
    ig_orgctx_conf_t conf = {e.logs_dir, KEK, 1, false};
    CHECK((eb = ig_expiring_body_new(&conf)) != NULL);
    snprintf(allow, sizeof allow, "127.0.0.1:%d", rx.port);
    if (!init_module(allow, ig_expiring_body, eb)) goto out;
    CHECK_EQ_INT(ig_store_org_create(e.st, "ent-d", "D", &E), IG_OK);
    CHECK_EQ_INT(ig_store_org_set_plan(e.st, E.id, IG_STORE_PLAN_ENTERPRISE), IG_OK);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/expiring", rx.port);
    CHECK_EQ_INT(ig_webhook_check_url(url, NULL, norm, &why), IG_OK);
    CHECK_EQ_INT(ig_webhook_create(e.st, E.id, norm, LOGS_EXPIRING, NULL, secret, &W), IG_OK);
    int64_t now = now_ms();
    add_records(&e, E.id, 3, now - 45 * DAY_MS);
    add_records(&e, E.id, 1, now - DAY_MS);
    /* what the export would write for the expiring records, line for line */
    ig_orgctx_t *o = NULL;
    ig_logstore_t *ls = NULL;
    CHECK_EQ_INT(ig_orgcache_get(e.oc, e.st, E.id, &o), IG_OK);
    CHECK_EQ_INT(ig_orgcache_logstore(e.oc, o, &ls), IG_OK);
    lines_ctx_t lc = {o, now - 30 * DAY_MS, &want};
    CHECK_EQ_INT(ig_logstore_scan(ls, NULL, expect_line, &lc), IG_OK);
    CHECK(ig_buf_cstr(&want) && strstr(want.data, "hello rec-") != NULL); /* bodies opened */

    rs = pass(&e, now, 0);
    CHECK_EQ_INT(rs.queued, 1);
    CHECK_EQ_INT(deliveries(&e, E.id, W.id, ds, 4), 1);

    /* attempt 1: the receiver fails, the records stay */
    CHECK_EQ_INT(ig_webhook_run_due(e.st, &n, &more), IG_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(atomic_load(&rx.served), 1);
    rs = pass(&e, now, 0);
    CHECK_EQ_INT(rs.purged, 0);
    CHECK_EQ_INT(count_of(&e, E.id), 4);

    /* attempt 2 after the backoff: delivered */
    usleep(300 * 1000);
    CHECK_EQ_INT(ig_webhook_run_due(e.st, &n, &more), IG_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(deliveries(&e, E.id, W.id, ds, 4), 1);
    CHECK_EQ_INT(ds[0].status, IG_STORE_DELIVERY_SUCCEEDED);
    CHECK_EQ_INT(ds[0].attempts, 2);
    char v[160], ts[32], sig[IG_WEBHOOK_SIG_MAX], ref[IG_WEBHOOK_SIG_MAX];
    CHECK(strncmp(rx.head, "POST /expiring HTTP/1.1", 23) == 0);
    CHECK_EQ_STR(head_value(rx.head, "Content-Type", v, sizeof v), "application/x-ndjson");
    CHECK_EQ_STR(head_value(rx.head, "X-Ingate-Event", v, sizeof v), "logs.expiring");
    CHECK_EQ_STR(head_value(rx.head, "X-Ingate-Delivery", v, sizeof v), ds[0].id);
    /* signed like every delivery: HMAC-SHA256(secret, "<ts>.<body>") */
    head_value(rx.head, "X-Ingate-Timestamp", ts, sizeof ts);
    head_value(rx.head, "X-Ingate-Signature", sig, sizeof sig);
    size_t ml = strlen(ts) + 1 + rx.body_len;
    char *msg = malloc(ml + 1);
    if (msg) {
        snprintf(msg, ml + 1, "%s.%s", ts, rx.body);
        uint8_t mac[32];
        unsigned int mlen = 0;
        HMAC(EVP_sha256(), secret, (int)strlen(secret), (const uint8_t *)msg, ml, mac, &mlen);
        memcpy(ref, "v1=", 3);
        ig_hex_encode(mac, mlen, ref + 3);
        CHECK_EQ_STR(sig, ref);
        free(msg);
    }
    /* the body: the envelope line, then the expiring records exactly as the export writes them */
    const char *nl = memchr(rx.body, '\n', rx.body_len);
    CHECK(nl != NULL);
    if (nl) {
        char env[1024];
        snprintf(env, sizeof env, "%.*s", (int)(nl - rx.body), rx.body);
        snprintf(v, sizeof v,
                 "{\"id\":\"%s\",\"type\":\"logs.expiring\",\"org_id\":\"%s\",\"timestamp\":", ds[0].event_id,
                 E.id);
        CHECK(strncmp(env, v, strlen(v)) == 0);
        CHECK(strstr(env, "\"data\":{\"records\":3,") != NULL);
        CHECK_EQ_INT(rx.body_len - (size_t)(nl + 1 - rx.body), want.len);
        CHECK(want.data && strcmp(nl + 1, want.data) == 0);
    }
    /* delivered: purged */
    rs = pass(&e, now, 0);
    CHECK_EQ_INT(rs.purged, 3);
    CHECK_EQ_INT(count_of(&e, E.id), 1);

    /* a delivery without a batch has no records to send */
    ig_webhook_delivery_t t;
    ig_buf_t body;
    ig_buf_init(&body, 1024);
    CHECK_EQ_INT(ig_webhook_emit_to(e.st, E.id, W.id, "webhook.test", NULL, &t), IG_OK);
    CHECK_EQ_INT(ig_expiring_body(eb, e.st, &t, &body), IG_ENOTFOUND);
    ig_buf_free(&body, false);
out:
    ig_webhook_shutdown();
    ig_expiring_body_free(eb);
    if (rx.fd > 0) receiver_stop(&rx);
    ig_buf_free(&want, false);
    env_close(&e);
}

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        unlink(path);
        return;
    }
    struct dirent *e;
    char child[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(child, sizeof child, "%s/%s", path, e->d_name);
        remove_tree(child);
    }
    closedir(d);
    rmdir(path);
}

int main(void)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/ingate-expiring-XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    RUN(span_and_purge_through);
    RUN(store_log_batches);
    RUN(retention_holds_back_what_is_due);
    RUN(delivery_sends_signed_jsonl);
    curl_global_cleanup();
    remove_tree(g_dir);
    UNIT_DONE();
}

/*
 * api_logs.c — the org's call log and usage: GET /api/v1/logs (filters, cursor paging, newest first),
 * GET /api/v1/logs/:id (bodies as stored), GET /api/v1/logs?format=jsonl (export, streamed in constant
 * memory), GET /api/v1/usage/summary and /usage/timeseries (from the hourly aggregates, never by scanning
 * logs).
 *
 * Records live in the org's own database, their content sealed under the org's data key: a worker (or, for an
 * export, a thread of its own) opens them with its org cache (capture/orgctx.h). Attribution filters
 * (user_id, session_id) match by blind-index tag. Times: `start`/`end` (and `since`/`until`) are unix
 * milliseconds or UTC dates YYYY-MM-DD; a date as `end`/`until` includes that whole day.
 */
#include "api/api_int.h"
#include "capture/logjson.h"
#include "capture/orgctx.h"
#include "core/err.h"
#include "core/limits.h"
#include "core/log.h"
#include "crypto/crypto.h"
#include "net/loop.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_EXPORTS  4            /* concurrent exports per process (each has a thread) */
#define EXPORT_CHUNK (64u * 1024) /* bytes handed to the loop at a time */
#define DAY_MS       86400000LL

typedef struct {
    ig_logfilter_t f;
    char model[129], provider[33], key_id[33];
    char user_id[IG_MAX_ATTRIBUTION_LEN + 1], session_id[IG_MAX_ATTRIBUTION_LEN + 1];
    uint8_t user_tag[16], session_tag[16];
    char cursor[IG_LOGSTORE_CURSOR_MAX];
    int limit;
} logq_t;

/* ---------------------------------------------------------------------------------------------------- */
/* query parsing */

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* unix ms, or YYYY-MM-DD (midnight UTC; the next midnight when end_of_day). IG_ENOTFOUND when absent. */
static int query_time(ig_iov_t q, const char *name, bool end_of_day, int64_t *out)
{
    ig_iov_t v;
    if (ig_api_query_str(q, name, &v) != IG_OK) return IG_ENOTFOUND;
    if (v.len == 10 && v.base[4] == '-' && v.base[7] == '-') {
        int64_t y = 0, m = 0, d = 0;
        for (int i = 0; i < 10; i++) {
            if (i == 4 || i == 7) continue;
            if (v.base[i] < '0' || v.base[i] > '9') return IG_EINVAL;
            int64_t dig = v.base[i] - '0';
            if (i < 4)
                y = y * 10 + dig;
            else if (i < 7)
                m = m * 10 + dig;
            else
                d = d * 10 + dig;
        }
        static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        if (y < 1970 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1]) return IG_EINVAL;
        if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return IG_EINVAL;
        *out = (days_from_civil(y, m, d) + (end_of_day ? 1 : 0)) * DAY_MS;
        return IG_OK;
    }
    return ig_api_query_int(q, name, out);
}

/* A text filter into dst: 1..cap-1 printable ASCII bytes without '%' (ids, model and provider names). */
static int query_text(ig_req_t *req, const char *name, char *dst, size_t cap, bool *have)
{
    ig_iov_t v;
    *have = false;
    if (ig_api_query_str(req->query, name, &v) != IG_OK) return IG_OK;
    bool ok = v.len > 0 && v.len < cap;
    for (size_t i = 0; ok && i < v.len; i++)
        if (v.base[i] <= 0x20 || v.base[i] >= 0x7f || v.base[i] == '%') ok = false;
    if (!ok) {
        char msg[128];
        snprintf(msg, sizeof msg, "%s must be 1 to %zu printable characters (no %%-encoding)", name, cap - 1);
        ig_api_bad_field(req, name, msg);
        return IG_EINVAL;
    }
    memcpy(dst, v.base, v.len);
    dst[v.len] = '\0';
    *have = true;
    return IG_OK;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* An attribution filter: any value the header could carry, percent-decoded (a client sends ids with spaces,
 * '&' or non-ASCII as %XX). 1..cap-1 bytes after decoding, no control characters. */
static int query_attr(ig_req_t *req, const char *name, char *dst, size_t cap)
{
    ig_iov_t v;
    if (ig_api_query_str(req->query, name, &v) != IG_OK) return IG_OK;
    size_t n = 0;
    bool ok = v.len > 0;
    for (size_t i = 0; ok && i < v.len; i++) {
        unsigned char c = (unsigned char)v.base[i];
        if (c == '%') {
            int hi = i + 2 < v.len ? hexval(v.base[i + 1]) : -1,
                lo = i + 2 < v.len ? hexval(v.base[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                ok = false;
                break;
            }
            c = (unsigned char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (c < 0x20 || c == 0x7f || n + 1 >= cap) ok = false;
        if (ok) dst[n++] = (char)c;
    }
    if (!ok || n == 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "%s must be 1 to %zu bytes (percent-encoded), without control characters",
                 name, cap - 1);
        ig_api_bad_field(req, name, msg);
        return IG_EINVAL;
    }
    dst[n] = '\0';
    return IG_OK;
}

/* Parses the filters shared by listing and export. On failure the 400 is sent and false returned. */
static bool parse_filters(ig_req_t *req, logq_t *q)
{
    bool have = false;
    int64_t v = 0;
    memset(q, 0, sizeof *q);
    int rc = query_time(req->query, "start", false, &q->f.start);
    if (rc == IG_EINVAL || q->f.start < 0) {
        ig_api_bad_field(req, "start", "start must be a Unix time in milliseconds or a date YYYY-MM-DD");
        return false;
    }
    rc = query_time(req->query, "end", true, &q->f.end);
    if (rc == IG_EINVAL || q->f.end < 0 || (q->f.end && q->f.end <= q->f.start)) {
        ig_api_bad_field(req, "end",
                         "end must be a Unix time in milliseconds or a date YYYY-MM-DD, after start");
        return false;
    }
    rc = ig_api_query_int(req->query, "status", &v);
    if (rc == IG_EINVAL || (rc == IG_OK && (v < 100 || v > 999))) {
        ig_api_bad_field(req, "status", "status must be an HTTP status code");
        return false;
    }
    q->f.status = rc == IG_OK ? (int)v : 0;
    if (query_text(req, "model", q->model, sizeof q->model, &have)) return false;
    if (have) q->f.model = q->model;
    if (query_text(req, "provider", q->provider, sizeof q->provider, &have)) return false;
    if (have) q->f.provider = q->provider;
    if (query_text(req, "key_id", q->key_id, sizeof q->key_id, &have)) return false;
    if (have) q->f.key_id = q->key_id;
    if (query_attr(req, "user_id", q->user_id, sizeof q->user_id)) return false;
    if (query_attr(req, "session_id", q->session_id, sizeof q->session_id)) return false;
    return true;
}

/* Tags of the attribution filters under the org's key (worker side). */
static void tag_filters(logq_t *q, const ig_orgctx_t *o)
{
    if (q->user_id[0] && ig_field_tag(o->tk, "user_id", ig_iov_str(q->user_id), q->user_tag) == IG_OK)
        q->f.user_tag = q->user_tag;
    if (q->session_id[0] &&
        ig_field_tag(o->tk, "session_id", ig_iov_str(q->session_id), q->session_tag) == IG_OK)
        q->f.session_tag = q->session_tag;
}

/* ---------------------------------------------------------------------------------------------------- */
/* records as JSON: capture/logjson.h */

/* The caller's org context and log database (worker side). */
static int org_logs(api_job_t *j, ig_store_t *st, ig_orgctx_t **o, ig_logstore_t **ls)
{
    if (!j->worker || !j->worker->orgs) return IG_EUNAVAILABLE;
    int rc = ig_orgcache_get(j->worker->orgs, st, j->org_id, o);
    if (rc == IG_OK) rc = ig_orgcache_logstore(j->worker->orgs, *o, ls);
    return rc;
}

/* ---------------------------------------------------------------------------------------------------- */
/* listing and one record */

static void work_logs_list(api_job_t *j, ig_store_t *st)
{
    logq_t *q = (logq_t *)j->text;
    ig_orgctx_t *o = NULL;
    ig_logstore_t *ls = NULL;
    int rc = org_logs(j, st, &o, &ls);
    if (rc) {
        j->err = rc;
        return;
    }
    tag_filters(q, o);
    ig_logrow_t *rows = calloc((size_t)q->limit, sizeof *rows);
    size_t n = 0;
    char next[IG_LOGSTORE_CURSOR_MAX] = "";
    rc = rows ? ig_logstore_query(ls, &q->f, q->cursor, false, rows, (size_t)q->limit, &n, next) : IG_ENOMEM;
    if (rc) {
        j->err = rc;
        if (rc == IG_EINVAL) {
            j->field = "cursor";
            j->msg = "cursor must be the next_cursor of a previous page";
        }
        free(rows);
        return;
    }
    ig_buf_lit(&j->out, "{\"logs\":[");
    for (size_t i = 0; i < n; i++) {
        if (i) ig_buf_lit(&j->out, ",");
        ig_logjson_record(&j->out, o, &rows[i].r, false);
        ig_logrow_free(&rows[i]);
    }
    ig_buf_lit(&j->out, "],\"next_cursor\":");
    if (next[0])
        ig_json_append_str(&j->out, ig_iov_str(next));
    else
        ig_buf_lit(&j->out, "null");
    ig_buf_lit(&j->out, "}");
    free(rows);
}

static void work_logs_get(api_job_t *j, ig_store_t *st)
{
    ig_orgctx_t *o = NULL;
    ig_logstore_t *ls = NULL;
    int rc = org_logs(j, st, &o, &ls);
    ig_logrow_t *row = rc ? NULL : calloc(1, sizeof *row);
    if (!rc && !row) rc = IG_ENOMEM;
    if (!rc) rc = ig_logstore_get(ls, j->param, row);
    if (rc) {
        j->err = rc; /* another org's id: its database is not even opened, so it answers 404 like any other */
        free(row);
        return;
    }
    /* bodies up to the capture limit each, JSON-escaped: more room than a listing needs */
    ig_buf_free(&j->out, true);
    ig_buf_init(&j->out, 12u * IG_LOGSTORE_MAX_BLOB);
    ig_buf_lit(&j->out, "{\"log\":");
    if (!ig_logjson_record(&j->out, o, &row->r, true)) j->err = IG_ENOMEM;
    ig_buf_lit(&j->out, "}");
    ig_logrow_free(row);
    free(row);
}

void ig_api_logs_get(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    if (param.len == 0 || param.len > 36) {
        ig_api_error(req, 404, "not_found", "not found", NULL);
        return;
    }
    api_job_t *j = ig_api_job_new(req, rs, work_logs_get);
    if (!j) {
        ig_resp_error(req, IG_ENOMEM, NULL);
        return;
    }
    memcpy(j->param, param.base, param.len);
    ig_api_job_submit(req, rs, j);
}

/* ---------------------------------------------------------------------------------------------------- */
/* export: a thread scans the org's database and hands JSONL chunks to the loop, one at a time, waiting while
 * the client is slow, so memory stays at two chunks whatever the range */

static atomic_int g_exports;

int ig_api_exports_running(void)
{
    return atomic_load(&g_exports);
}

typedef struct exporter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;      /* the loop side and the thread */
    bool req_gone; /* the client went away (loop side sets it) */
    bool may_send; /* the loop has taken the previous chunk and the client is keeping up */
    bool started;  /* the response head was sent (loop side) */
    ig_req_t *req; /* loop side only, valid while !req_gone */
    ig_loop_t *loop;
    ig_buf_t chunk;   /* filled by the thread */
    ig_buf_t sending; /* owned by the loop between a hand-over and may_send */
    bool last;        /* the chunk in `sending` ends the export */
    int err;          /* the export failed before sending anything */
    /* inputs */
    logq_t q;
    char org_id[33];
    char store_url[4200];
    ig_orgctx_conf_t oc;
    char logs_dir[4200];
    uint8_t kek[32];
} exporter_t;

static void ex_unref(exporter_t *ex)
{
    pthread_mutex_lock(&ex->mu);
    bool last = --ex->refs == 0;
    pthread_mutex_unlock(&ex->mu);
    if (!last) return;
    ig_buf_free(&ex->chunk, true);
    ig_buf_free(&ex->sending, true);
    ig_wipe(ex->kek, sizeof ex->kek);
    pthread_mutex_destroy(&ex->mu);
    pthread_cond_destroy(&ex->cv);
    free(ex);
    atomic_fetch_sub(&g_exports, 1);
}

static void ex_allow(exporter_t *ex)
{
    pthread_mutex_lock(&ex->mu);
    ex->may_send = true;
    pthread_cond_signal(&ex->cv);
    pthread_mutex_unlock(&ex->mu);
}

static void ex_writable(ig_req_t *req)
{
    exporter_t *ex = req->ctx;
    req->on_writable = NULL;
    ex_allow(ex);
}

static void ex_abort(ig_req_t *req)
{
    exporter_t *ex = req->ctx;
    pthread_mutex_lock(&ex->mu);
    ex->req_gone = true;
    ex->req = NULL;
    ex->may_send = true; /* wake the thread: it stops at its next row */
    pthread_cond_signal(&ex->cv);
    pthread_mutex_unlock(&ex->mu);
    ex_unref(ex); /* the loop side */
}

/* Loop thread: the chunk in ex->sending is ours. */
static void ex_deliver(void *arg)
{
    exporter_t *ex = arg;
    pthread_mutex_lock(&ex->mu);
    bool gone = ex->req_gone, last = ex->last;
    int err = ex->err;
    pthread_mutex_unlock(&ex->mu);
    if (gone) {
        ex_unref(ex); /* the thread's hand-over reference */
        return;
    }
    ig_req_t *req = ex->req;
    if (!ex->started) {
        if (err) {
            req->on_abort = NULL;
            req->ctx = NULL;
            if (err == IG_ENOTFOUND)
                ig_api_error(req, 404, "not_found", "not found", NULL);
            else
                ig_resp_error(req, err == IG_ENOMEM ? IG_ENOMEM : IG_EUNAVAILABLE, NULL);
            pthread_mutex_lock(&ex->mu);
            ex->req_gone = true;
            pthread_mutex_unlock(&ex->mu);
            ex_unref(ex); /* loop side */
            ex_unref(ex); /* hand-over */
            return;
        }
        static const ig_header_t h[] = {
            {IG_IOV_LIT("Content-Type"), IG_IOV_LIT("application/x-ndjson")},
            {IG_IOV_LIT("Content-Disposition"), IG_IOV_LIT("attachment; filename=\"ingate-logs.jsonl\"")},
        };
        ex->started = true;
        if (ig_resp_start(req, 200, h, IG_ARRAY_LEN(h), -1) != IG_OK) goto broken;
    }
    if (ex->sending.len && ig_resp_write(req, ex->sending.data, ex->sending.len) != IG_OK) goto broken;
    ex->sending.len = 0;
    if (last) {
        req->on_abort = NULL;
        req->on_writable = NULL;
        req->ctx = NULL;
        if (err)
            ig_resp_abort(
                req); /* a failure mid-export: the client must see a truncated body, not a clean end */
        else
            ig_resp_finish(req);
        pthread_mutex_lock(&ex->mu);
        ex->req_gone = true;
        pthread_mutex_unlock(&ex->mu);
        ex_unref(ex); /* loop side */
        ex_unref(ex); /* hand-over */
        return;
    }
    if (ig_resp_queued(req) < IG_CLIENT_OUTBUF_HIGH)
        ex_allow(ex);
    else
        req->on_writable = ex_writable; /* wait for the client */
    ex_unref(ex);                       /* hand-over */
    return;
broken:
    req->on_abort = NULL;
    req->on_writable = NULL;
    req->ctx = NULL;
    ig_resp_abort(req);
    pthread_mutex_lock(&ex->mu);
    ex->req_gone = true;
    ex->may_send = true;
    pthread_cond_signal(&ex->cv);
    pthread_mutex_unlock(&ex->mu);
    ex_unref(ex); /* loop side */
    ex_unref(ex); /* hand-over */
}

/* Thread: hands ex->chunk to the loop once the previous one is gone. false when the client went away. */
static bool ex_handover(exporter_t *ex, bool last)
{
    pthread_mutex_lock(&ex->mu);
    while (!ex->may_send)
        pthread_cond_wait(&ex->cv, &ex->mu);
    if (ex->req_gone) {
        pthread_mutex_unlock(&ex->mu);
        return false;
    }
    ex->may_send = false;
    ig_buf_t t = ex->sending;
    ex->sending = ex->chunk;
    ex->chunk = t;
    ex->chunk.len = 0;
    ex->last = last;
    ex->refs++;
    pthread_mutex_unlock(&ex->mu);
    if (ig_loop_call(ex->loop, ex_deliver, ex) != IG_OK) {
        ex_unref(ex);
        return false;
    }
    return true;
}

typedef struct {
    exporter_t *ex;
    ig_orgctx_t *o;
} scan_ctx_t;

static int ex_row(void *ctx, const ig_logrow_t *row)
{
    scan_ctx_t *sc = ctx;
    exporter_t *ex = sc->ex;
    /* one line per record, whole or not at all: a line that cannot be built says so instead */
    if (ig_logjson_line(&ex->chunk, sc->o, &row->r) != IG_OK) return IG_ENOMEM;
    if (ex->chunk.len >= EXPORT_CHUNK && !ex_handover(ex, false)) return IG_EIO;
    return IG_OK;
}

static void *ex_main(void *arg)
{
    exporter_t *ex = arg;
    int err = 0;
    ig_store_t *st = ig_store_open(ex->store_url, &err);
    ig_orgcache_t *oc = ig_orgcache_new(&ex->oc, 1);
    ig_orgctx_t *o = NULL;
    ig_logstore_t *ls = NULL;
    int rc = st && oc ? ig_orgcache_get(oc, st, ex->org_id, &o) : IG_ESTORE;
    if (rc == IG_OK) rc = ig_orgcache_logstore(oc, o, &ls);
    if (rc == IG_OK) {
        tag_filters(&ex->q, o);
        scan_ctx_t sc = {ex, o};
        rc = ig_logstore_scan(ls, &ex->q.f, ex_row, &sc);
    }
    if (rc != IG_EIO) { /* IG_EIO: the client went away, nothing more to say */
        if (rc) IG_WARN("api", "log export of org %s failed (%s)", ex->org_id, ig_err_name(rc));
        pthread_mutex_lock(&ex->mu);
        ex->err = rc;
        pthread_mutex_unlock(&ex->mu);
        ex_handover(ex, true);
    }
    ig_orgcache_free(oc);
    ig_store_close(st);
    ex_unref(ex); /* the thread */
    return NULL;
}

static void start_export(ig_req_t *req, ig_reqstate_t *rs, const logq_t *q)
{
    const ig_gateway_t *gw = rs->lc->gw;
    if (atomic_fetch_add(&g_exports, 1) >= MAX_EXPORTS) {
        atomic_fetch_sub(&g_exports, 1);
        ig_api_error(req, 503, "too_many_exports", "too many exports are running: try again shortly", NULL);
        return;
    }
    exporter_t *ex = calloc(1, sizeof *ex);
    if (!ex) {
        atomic_fetch_sub(&g_exports, 1);
        ig_resp_error(req, IG_ENOMEM, NULL);
        return;
    }
    pthread_mutex_init(&ex->mu, NULL);
    pthread_cond_init(&ex->cv, NULL);
    ex->refs = 2;
    ex->may_send = true;
    ex->req = req;
    ex->loop = &rs->lc->loop;
    ig_buf_init(&ex->chunk, EXPORT_CHUNK + IG_LOGSTORE_MAX_BLOB * 4);
    ig_buf_init(&ex->sending, EXPORT_CHUNK + IG_LOGSTORE_MAX_BLOB * 4);
    ex->q = *q;
    /* the filter's text pointers must point into the copy */
    ex->q.f.model = q->f.model ? ex->q.model : NULL;
    ex->q.f.provider = q->f.provider ? ex->q.provider : NULL;
    ex->q.f.key_id = q->f.key_id ? ex->q.key_id : NULL;
    memcpy(ex->org_id, rs->who.org_id, sizeof ex->org_id);
    snprintf(ex->store_url, sizeof ex->store_url, "%s", gw->store_url);
    snprintf(ex->logs_dir, sizeof ex->logs_dir, "%s", gw->logs_dir);
    memcpy(ex->kek, gw->org_kek, sizeof ex->kek);
    ex->oc = (ig_orgctx_conf_t){ex->logs_dir, ex->kek, 0, gw->cfg->redact_all_orgs};
    req->ctx = ex;
    req->on_abort = ex_abort;
    pthread_t t;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &at, ex_main, ex) != 0) {
        pthread_attr_destroy(&at);
        req->on_abort = NULL;
        req->ctx = NULL;
        ex->refs = 1;
        ex_unref(ex);
        ig_resp_error(req, IG_EUNAVAILABLE, NULL);
        return;
    }
    pthread_attr_destroy(&at);
}

void ig_api_logs_list(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    IG_UNUSED(param);
    logq_t q;
    if (!parse_filters(req, &q)) return;
    ig_iov_t fmt;
    if (ig_api_query_str(req->query, "format", &fmt) == IG_OK) {
        if (!ig_iov_eq(fmt, IG_IOV_LIT("jsonl"))) {
            ig_api_bad_field(req, "format", "format must be jsonl (or absent for a JSON page)");
            return;
        }
        start_export(req, rs, &q);
        return;
    }
    int64_t limit = 50;
    int rc = ig_api_query_int(req->query, "limit", &limit);
    if (rc == IG_EINVAL || limit < 1 || limit > 200) {
        ig_api_bad_field(req, "limit", "limit must be an integer from 1 to 200");
        return;
    }
    q.limit = (int)limit;
    ig_iov_t cur;
    if (ig_api_query_str(req->query, "cursor", &cur) == IG_OK) {
        if (cur.len == 0 || cur.len >= sizeof q.cursor) {
            ig_api_bad_field(req, "cursor", "cursor must be the next_cursor of a previous page");
            return;
        }
        memcpy(q.cursor, cur.base, cur.len);
    }
    api_job_t *j = ig_api_job_new(req, rs, work_logs_list);
    logq_t *copy = j ? malloc(sizeof *copy) : NULL;
    if (!copy) {
        if (j) ig_api_job_free(j);
        ig_resp_error(req, IG_ENOMEM, NULL);
        return;
    }
    *copy = q;
    copy->f.model = q.f.model ? copy->model : NULL;
    copy->f.provider = q.f.provider ? copy->provider : NULL;
    copy->f.key_id = q.f.key_id ? copy->key_id : NULL;
    j->text = (char *)copy; /* freed with the job */
    ig_api_job_submit(req, rs, j);
}

/* ---------------------------------------------------------------------------------------------------- */
/* usage */

static void usd(ig_buf_t *b, const char *name, int64_t micros)
{
    ig_buf_appendf(b, ",\"%s\":%lld.%06lld", name, (long long)(micros / 1000000),
                   (long long)(micros % 1000000));
}

static void work_usage_summary(api_job_t *j, ig_store_t *st)
{
    ig_orgctx_t *o = NULL;
    ig_logstore_t *ls = NULL;
    ig_usage_summary_t u;
    int rc = org_logs(j, st, &o, &ls);
    if (rc == IG_OK) rc = ig_logstore_usage_summary(ls, j->cursor, j->num, &u);
    if (rc) {
        j->err = rc;
        return;
    }
    ig_buf_appendf(&j->out,
                   "{\"total_requests\":%lld,\"total_input_tokens\":%lld,\"total_output_tokens\":%lld,"
                   "\"total_cached_tokens\":%lld",
                   (long long)u.requests, (long long)u.input_tokens, (long long)u.output_tokens,
                   (long long)u.cached_tokens);
    usd(&j->out, "total_cost_usd", u.cost_micros);
    ig_buf_appendf(
        &j->out,
        ",\"avg_latency_ms\":%.3f,\"p50_latency_ms\":%.3f,\"p99_latency_ms\":%.3f,\"error_rate\":%.6f,"
        "\"cache_hit_rate\":%.6f,\"since\":%lld,\"until\":%lld}",
        u.avg_latency_ms, u.p50_latency_ms, u.p99_latency_ms, u.error_rate, u.cache_hit_rate,
        (long long)u.since, (long long)u.until);
}

static void work_usage_timeseries(api_job_t *j, ig_store_t *st)
{
    ig_orgctx_t *o = NULL;
    ig_logstore_t *ls = NULL;
    size_t cap = 10000, n = 0;
    ig_usage_point_t *pts = calloc(cap, sizeof *pts);
    int rc = pts ? org_logs(j, st, &o, &ls) : IG_ENOMEM;
    if (rc == IG_OK)
        rc = ig_logstore_usage_timeseries(ls, j->cursor, j->num, (ig_usage_gran_t)j->plan,
                                          (ig_usage_group_t)j->limit, pts, cap, &n);
    if (rc) {
        j->err = rc;
        if (rc == IG_ETOOBIG) {
            j->err = IG_EINVAL;
            j->field = "since";
            j->msg = "too many points: narrow the range or use granularity=day";
        }
        free(pts);
        return;
    }
    static const char *const gran[] = {"hour", "day"};
    static const char *const by[] = {"none", "model", "provider", "key"};
    ig_buf_appendf(&j->out, "{\"granularity\":\"%s\",\"group_by\":\"%s\",\"points\":[", gran[j->plan & 1],
                   by[j->limit & 3]);
    for (size_t i = 0; i < n; i++) {
        ig_usage_point_t *p = &pts[i];
        ig_buf_appendf(&j->out, "%s{\"bucket\":%lld", i ? "," : "", (long long)p->bucket);
        if (j->limit) {
            ig_buf_lit(&j->out, ",\"group\":");
            ig_json_append_str(&j->out, ig_iov_str(p->group));
        }
        ig_buf_appendf(&j->out,
                       ",\"requests\":%lld,\"errors\":%lld,\"input_tokens\":%lld,\"output_tokens\":%lld",
                       (long long)p->requests, (long long)p->errors, (long long)p->input_tokens,
                       (long long)p->output_tokens);
        usd(&j->out, "cost_usd", p->cost_micros);
        ig_buf_appendf(&j->out, ",\"avg_latency_ms\":%.3f,\"p50_latency_ms\":%.3f,\"p99_latency_ms\":%.3f}",
                       p->avg_latency_ms, p->p50_latency_ms, p->p99_latency_ms);
    }
    ig_buf_lit(&j->out, "]}");
    free(pts);
}

/* since/until (default: the last 24 hours up to now). On failure the 400 is sent. */
static bool usage_range(ig_req_t *req, int64_t *since, int64_t *until)
{
    int64_t now = ig_wall_ms();
    *until = now;
    *since = now - DAY_MS;
    int rc = query_time(req->query, "since", false, since);
    if (rc == IG_EINVAL || *since < 0) {
        ig_api_bad_field(req, "since", "since must be a Unix time in milliseconds or a date YYYY-MM-DD");
        return false;
    }
    rc = query_time(req->query, "until", true, until);
    if (rc == IG_EINVAL || *until <= *since) {
        ig_api_bad_field(req, "until",
                         "until must be a Unix time in milliseconds or a date YYYY-MM-DD, after since");
        return false;
    }
    return true;
}

void ig_api_usage_summary(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    IG_UNUSED(param);
    int64_t since, until;
    if (!usage_range(req, &since, &until)) return;
    api_job_t *j = ig_api_job_new(req, rs, work_usage_summary);
    if (!j) {
        ig_resp_error(req, IG_ENOMEM, NULL);
        return;
    }
    j->cursor = since;
    j->num = until;
    ig_api_job_submit(req, rs, j);
}

void ig_api_usage_timeseries(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    IG_UNUSED(param);
    int64_t since, until;
    if (!usage_range(req, &since, &until)) return;
    int gran = IG_USAGE_HOUR, by = IG_USAGE_BY_NONE;
    ig_iov_t v;
    if (ig_api_query_str(req->query, "granularity", &v) == IG_OK) {
        if (ig_iov_eq(v, IG_IOV_LIT("hour")))
            gran = IG_USAGE_HOUR;
        else if (ig_iov_eq(v, IG_IOV_LIT("day")))
            gran = IG_USAGE_DAY;
        else {
            ig_api_bad_field(req, "granularity", "granularity must be hour or day");
            return;
        }
    }
    if (ig_api_query_str(req->query, "group_by", &v) == IG_OK) {
        if (ig_iov_eq(v, IG_IOV_LIT("model")))
            by = IG_USAGE_BY_MODEL;
        else if (ig_iov_eq(v, IG_IOV_LIT("provider")))
            by = IG_USAGE_BY_PROVIDER;
        else if (ig_iov_eq(v, IG_IOV_LIT("key")))
            by = IG_USAGE_BY_KEY;
        else {
            ig_api_bad_field(req, "group_by", "group_by must be model, provider or key");
            return;
        }
    }
    api_job_t *j = ig_api_job_new(req, rs, work_usage_timeseries);
    if (!j) {
        ig_resp_error(req, IG_ENOMEM, NULL);
        return;
    }
    j->cursor = since;
    j->num = until;
    j->plan = gran;
    j->limit = by;
    ig_api_job_submit(req, rs, j);
}

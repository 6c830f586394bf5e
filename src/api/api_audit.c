/*
 * api_audit.c — the org's audit log: GET /api/v1/audit (filters, cursor paging, newest first) and
 * GET /api/v1/audit/:id, and GET /api/v1/audit/verify (the org's chain checked). Entries hold ids, action
 * names and addresses, never a secret. They are read from the org's own chain in its database
 * (capture/auditlog.h), addresses opened with the org's data key; an entry of another org is not in that
 * file, so its id answers 404 like a missing one.
 */
#include "api/api_int.h"
#include "capture/auditlog.h"
#include "core/err.h"
#include "crypto/crypto.h"

#include <stdio.h>
#include <stdlib.h>

static void entry_json(ig_buf_t *b, const ig_audit_t *e)
{
    char hex[65], prev[65];
    ig_hex_encode(e->hash, 32, hex);
    ig_hex_encode(e->prev_hash, 32, prev);
    ig_buf_appendf(b, "{\"id\":\"%s\",\"seq\":%lld,\"actor\":", e->id, (long long)e->seq);
    ig_json_append_str(b, ig_iov_str(e->actor));
    ig_buf_lit(b, ",\"action\":");
    ig_json_append_str(b, ig_iov_str(e->action));
    ig_buf_lit(b, ",\"target\":");
    ig_json_append_str(b, ig_iov_str(e->target));
    ig_buf_lit(b, ",\"source_ip\":");
    ig_json_append_str(b, ig_iov_str(e->source_ip));
    ig_buf_appendf(b, ",\"request_id\":\"%s\",\"created_at\":%lld,\"prev_hash\":\"%s\",\"hash\":\"%s\"}",
                   e->request_id, (long long)e->created_at, prev, hex);
}

static void work_audit_list(api_job_t *j, ig_store_t *st)
{
    ig_audit_t *es = calloc((size_t)j->limit, sizeof *es);
    size_t n = 0;
    if (!es) {
        j->err = IG_ENOMEM;
        return;
    }
    int rc = ig_auditlog_query(st, j->worker ? j->worker->orgs : NULL, j->org_id, &j->filter, j->cursor, es,
                               (size_t)j->limit, &n);
    if (rc) {
        j->err = rc;
        free(es);
        return;
    }
    ig_buf_lit(&j->out, "{\"entries\":[");
    for (size_t i = 0; i < n; i++) {
        if (i) ig_buf_lit(&j->out, ",");
        entry_json(&j->out, &es[i]);
    }
    if (n == (size_t)j->limit)
        ig_buf_appendf(&j->out, "],\"next_cursor\":%lld}", (long long)es[n - 1].seq);
    else
        ig_buf_lit(&j->out, "],\"next_cursor\":null}");
    free(es);
}

static void work_audit_get(api_job_t *j, ig_store_t *st)
{
    ig_audit_t e;
    int rc = ig_auditlog_get(st, j->worker ? j->worker->orgs : NULL, j->org_id, j->param, &e);
    if (rc) {
        j->err = rc;
        return;
    }
    ig_buf_lit(&j->out, "{\"entry\":");
    entry_json(&j->out, &e);
    ig_buf_lit(&j->out, "}");
}

/* A text filter: printable ASCII without '%' or spaces (ids and action names need nothing else; '&' ends the
 * parameter). */
static int take_filter(ig_req_t *req, const char *name, char *dst, size_t cap, const char **out)
{
    ig_iov_t v;
    if (ig_api_query_str(req->query, name, &v) != IG_OK) return IG_OK;
    bool ok = v.len > 0 && v.len < cap;
    for (size_t i = 0; ok && i < v.len; i++)
        if (v.base[i] <= 0x20 || v.base[i] >= 0x7f || v.base[i] == '%') ok = false;
    if (!ok) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s must be a non-empty id or name of at most %zu characters", name,
                 cap - 1);
        ig_api_bad_field(req, name, msg);
        return IG_EINVAL;
    }
    memcpy(dst, v.base, v.len);
    dst[v.len] = '\0';
    *out = dst;
    return IG_OK;
}

void ig_api_audit_list(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    IG_UNUSED(param);
    int64_t limit = 50, cursor = INT64_MAX, since = 0, until = 0;
    int rc = ig_api_query_int(req->query, "limit", &limit);
    if (rc == IG_EINVAL || limit < 1 || limit > 200) {
        ig_api_bad_field(req, "limit", "limit must be an integer from 1 to 200");
        return;
    }
    rc = ig_api_query_int(req->query, "cursor", &cursor);
    if (rc == IG_EINVAL || cursor < 1) {
        ig_api_bad_field(req, "cursor", "cursor must be the next_cursor of a previous page");
        return;
    }
    if (ig_api_query_int(req->query, "since", &since) == IG_EINVAL) {
        ig_api_bad_field(req, "since", "since must be a Unix time in milliseconds");
        return;
    }
    if (ig_api_query_int(req->query, "until", &until) == IG_EINVAL) {
        ig_api_bad_field(req, "until", "until must be a Unix time in milliseconds");
        return;
    }
    api_job_t *j = ig_api_job_new(req, rs, work_audit_list);
    if (!j) {
        ig_resp_error(req, IG_ENOMEM, NULL);
        return;
    }
    if (take_filter(req, "action", j->f_action, sizeof j->f_action, &j->filter.action) ||
        take_filter(req, "actor", j->f_actor, sizeof j->f_actor, &j->filter.actor) ||
        take_filter(req, "target", j->f_target, sizeof j->f_target, &j->filter.target)) {
        ig_api_job_free(j);
        return;
    }
    j->filter.since = since;
    j->filter.until = until;
    j->limit = (int)limit;
    j->cursor = cursor;
    ig_api_job_submit(req, rs, j);
}

/* The org's own chain, checked link by link (the dashboard shows the result next to the log). */
static void work_audit_verify(api_job_t *j, ig_store_t *st)
{
    int64_t n = 0, bad = 0;
    int rc = ig_auditlog_verify_org(st, j->worker ? j->worker->orgs : NULL, j->org_id, &n, &bad);
    if (rc == IG_OK)
        ig_buf_appendf(&j->out, "{\"ok\":true,\"entries\":%lld,\"broken\":null}", (long long)n);
    else if (rc == IG_ECONFLICT)
        ig_buf_appendf(&j->out, "{\"ok\":false,\"entries\":%lld,\"broken\":{\"chain\":\"org\",\"seq\":%lld}}",
                       (long long)n, (long long)bad);
    else
        j->err = rc;
}

void ig_api_audit_verify(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    IG_UNUSED(param);
    ig_api_run_simple(req, rs, work_audit_verify);
}

void ig_api_audit_get(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    ig_api_run_param(req, rs, param, work_audit_get);
}

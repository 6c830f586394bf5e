/*
 * api_webhooks.c — outbound webhooks: create (the signing secret is shown once), list, get, update, delete,
 * the deliveries of a webhook with every attempt, and a test event.
 *
 * Webhooks are an Enterprise feature: creating one or sending a test event on a free org answers 403
 * plan_required. Listing, changing and deleting stay open, so an org that went back to free can clean up
 * (its deliveries are failed with the error "plan" anyway). Every URL goes through the outbound validator on
 * a worker (it resolves the host) and is stored normalised; a refused one answers 400 invalid_url with the
 * validator's reason, which never echoes the URL. The secret is sealed for its row by webhook/webhook.c;
 * responses show a fingerprint of the sealed envelope (as for provider keys), never the secret.
 *
 * All routes are admin: a URL may carry a token of the receiver, so even reading webhooks is not for
 * viewers. Ids of another org answer exactly like missing ones (every store call is scoped by j->org_id).
 *
 * Job fields: text = the URL (NULL: not given); num = the event mask (0: not given); name2 with have_name =
 * the description; limit = enabled (-1: not given), or the page size of a deliveries listing.
 */
#include "api/api_int.h"
#include "capture/orgset.h"
#include "core/err.h"
#include "crypto/crypto.h"
#include "webhook/webhook.h"

#include <stdio.h>
#include <stdlib.h>

#define API_DELIVERIES_DEFAULT 20
#define API_DELIVERIES_MAX     100 /* a page: each delivery carries up to IG_WEBHOOK_MAX_ATTEMPTS attempts */

static const char *const delivery_status_names[3] = {"pending", "succeeded", "failed"};

/* ---------------------------------------------------------------------------------------------------- */
/* responses */

static void webhook_json(ig_buf_t *b, const ig_webhook_t *w)
{
    uint8_t h[32];
    char fp[17];
    ig_buf_appendf(b, "{\"id\":\"%s\",\"url\":", w->id);
    ig_json_append_str(b, ig_iov_str(w->url));
    ig_buf_lit(b, ",\"events\":[");
    for (const char *p = w->events; *p;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        if (p != w->events) ig_buf_lit(b, ",");
        ig_json_append_str(b, ig_iov(p, n));
        p = c ? c + 1 : p + n;
    }
    ig_buf_lit(b, "],\"description\":");
    ig_json_append_str(b, ig_iov_str(w->description));
    /* a fingerprint of the sealed envelope: tells secrets apart, reveals nothing of the secret */
    ig_sha256(w->secret, w->secret_len, h);
    ig_hex_encode(h, 8, fp);
    ig_buf_appendf(b,
                   ",\"enabled\":%s,\"secret_fingerprint\":\"%s\",\"created_at\":%lld,\"updated_at\":%lld}",
                   w->enabled ? "true" : "false", fp, (long long)w->created_at, (long long)w->updated_at);
}

static void opt_int(ig_buf_t *b, const char *name, long long v)
{
    if (v)
        ig_buf_appendf(b, ",\"%s\":%lld", name, v);
    else
        ig_buf_appendf(b, ",\"%s\":null", name);
}

static void opt_str(ig_buf_t *b, const char *name, const char *v)
{
    ig_buf_appendf(b, ",\"%s\":", name);
    if (v[0])
        ig_json_append_str(b, ig_iov_str(v));
    else
        ig_buf_lit(b, "null");
}

/* A delivery and (when at is not NULL) its attempts. */
static void delivery_json(ig_buf_t *b, const ig_webhook_delivery_t *d, const ig_webhook_attempt_t *at,
                          size_t n)
{
    ig_buf_appendf(b, "{\"id\":\"%s\",\"webhook_id\":\"%s\",\"event_id\":\"%s\",\"type\":", d->id,
                   d->webhook_id, d->event_id);
    ig_json_append_str(b, ig_iov_str(d->event_type));
    ig_buf_appendf(b, ",\"status\":\"%s\",\"attempts\":%d", delivery_status_names[d->status % 3],
                   d->attempts);
    opt_int(b, "next_attempt_at", d->next_attempt_at);
    opt_int(b, "last_status", d->last_status);
    opt_str(b, "last_error", d->last_error);
    ig_buf_appendf(b, ",\"created_at\":%lld,\"updated_at\":%lld", (long long)d->created_at,
                   (long long)d->updated_at);
    if (at) {
        ig_buf_lit(b, ",\"attempt_log\":[");
        for (size_t i = 0; i < n; i++) {
            ig_buf_appendf(b, "%s{\"attempt\":%d,\"started_at\":%lld", i ? "," : "", at[i].attempt,
                           (long long)at[i].started_at);
            opt_int(b, "status_code", at[i].status_code);
            opt_str(b, "error", at[i].error);
            ig_buf_appendf(b, ",\"duration_ms\":%lld}", (long long)at[i].duration_ms);
        }
        ig_buf_lit(b, "]");
    }
    ig_buf_lit(b, "}");
}

/* ---------------------------------------------------------------------------------------------------- */
/* work on the workers */

/* false (with j->err set) unless the caller's org is on the Enterprise plan. */
static bool plan_ok(api_job_t *j, ig_store_t *st)
{
    ig_org_t *o = malloc(sizeof *o);
    int rc = o ? ig_store_org_get(st, j->org_id, o) : IG_ENOMEM;
    bool ok = rc == IG_OK && o->plan == IG_STORE_PLAN_ENTERPRISE;
    free(o);
    if (rc) {
        j->err = rc;
    } else if (!ok) {
        j->err = IG_EFORBIDDEN;
        j->code = "plan_required";
        j->msg = "webhooks are an Enterprise feature";
    }
    return ok;
}

/* Checks j->text with the outbound validator into norm; false with a 400 invalid_url (or j->err) otherwise.
 */
static bool url_ok(api_job_t *j, ig_store_t *st, char norm[IG_OUTBOUND_URL_MAX])
{
    const char *why = NULL;
    ig_org_t *o = malloc(sizeof *o);
    int rc = o ? ig_store_org_get(st, j->org_id, o) : IG_ENOMEM;
    if (rc) {
        free(o);
        j->err = rc;
        return false;
    }
    ig_orgset_t set; /* the org's own outbound_allowlist (ports it opens for its https webhooks) */
    ig_orgset_parse_text(o->settings, &set);
    free(o);
    rc = ig_webhook_check_url(j->text, set.allowlist, norm, &why);
    ig_orgset_clear(&set);
    if (rc == IG_OK) return true;
    j->err = rc == IG_ENOMEM ? rc : IG_EINVAL;
    j->code = "invalid_url";
    j->field = "url";
    j->msg = why ? why : "the URL is not allowed";
    return false;
}

static void work_create(api_job_t *j, ig_store_t *st)
{
    ig_webhook_t *w = malloc(sizeof *w);
    char *norm = malloc(IG_OUTBOUND_URL_MAX);
    char secret[IG_WEBHOOK_SECRET_TEXT_MAX] = "";
    if (!w || !norm) {
        j->err = IG_ENOMEM;
        goto out;
    }
    if (!plan_ok(j, st) || !url_ok(j, st, norm)) goto out;
    int rc = ig_webhook_create(st, j->org_id, norm, (uint32_t)j->num, j->name2, secret, w);
    if (rc) {
        j->err = rc;
        if (rc == IG_ETOOBIG) {
            j->err = IG_ECONFLICT;
            j->code = "too_many_webhooks";
            j->msg = "the org has the maximum number of webhooks (25): delete one first";
        }
        goto out;
    }
    ig_api_audit(j, st, "webhook.create", w->id);
    j->status = 201;
    ig_buf_lit(&j->out, "{\"webhook\":");
    webhook_json(&j->out, w);
    /* the signing secret, shown once; the response buffer is wiped when freed */
    ig_buf_appendf(&j->out, ",\"secret\":\"%s\"}", secret);
out:
    ig_wipe(secret, sizeof secret);
    free(norm);
    free(w);
}

static void work_list(api_job_t *j, ig_store_t *st)
{
    size_t n = 0;
    ig_webhook_t *ws = calloc(IG_STORE_WEBHOOKS_PER_ORG, sizeof *ws);
    int rc = ws ? ig_store_webhook_list(st, j->org_id, ws, IG_STORE_WEBHOOKS_PER_ORG, &n) : IG_ENOMEM;
    if (rc && rc != IG_ETOOBIG) {
        j->err = rc;
        free(ws);
        return;
    }
    ig_buf_lit(&j->out, "{\"webhooks\":[");
    for (size_t i = 0; i < n; i++) {
        if (i) ig_buf_lit(&j->out, ",");
        webhook_json(&j->out, &ws[i]);
    }
    ig_buf_lit(&j->out, "]}");
    free(ws);
}

static void work_get(api_job_t *j, ig_store_t *st)
{
    ig_webhook_t *w = malloc(sizeof *w);
    int rc = w ? ig_store_webhook_get(st, j->org_id, j->param, w) : IG_ENOMEM;
    if (rc == IG_OK) {
        ig_buf_lit(&j->out, "{\"webhook\":");
        webhook_json(&j->out, w);
        ig_buf_lit(&j->out, "}");
    }
    j->err = rc;
    free(w);
}

static void work_put(api_job_t *j, ig_store_t *st)
{
    ig_webhook_t *w = malloc(sizeof *w);
    char *norm = malloc(IG_OUTBOUND_URL_MAX);
    char events[IG_STORE_WEBHOOK_EVENTS_MAX + 1];
    int rc = IG_ENOMEM;
    if (!w || !norm) goto out;
    /* an unknown id answers 404 before the URL is even resolved */
    if ((rc = ig_store_webhook_get(st, j->org_id, j->param, w))) goto out;
    if (j->text && !url_ok(j, st, norm)) {
        rc = j->err;
        goto out;
    }
    if (j->num && (rc = ig_webhook_events_text((uint32_t)j->num, events, sizeof events))) goto out;
    rc = ig_store_webhook_update(st, j->org_id, j->param, j->text ? norm : NULL, j->num ? events : NULL,
                                 j->have_name ? j->name2 : NULL, j->limit, w);
    if (rc) goto out;
    ig_api_audit(j, st, "webhook.update", w->id);
    ig_buf_lit(&j->out, "{\"webhook\":");
    webhook_json(&j->out, w);
    ig_buf_lit(&j->out, "}");
out:
    j->err = rc;
    free(norm);
    free(w);
}

static void work_delete(api_job_t *j, ig_store_t *st)
{
    int rc = ig_store_webhook_delete(st, j->org_id, j->param);
    if (rc) {
        j->err = rc;
        return;
    }
    ig_api_audit(j, st, "webhook.delete", j->param);
    ig_buf_appendf(&j->out, "{\"deleted\":\"%s\"}", j->param);
}

static void work_deliveries(api_job_t *j, ig_store_t *st)
{
    ig_webhook_t *w = malloc(sizeof *w);
    ig_webhook_delivery_t *ds = calloc((size_t)j->limit, sizeof *ds);
    ig_webhook_attempt_t at[IG_WEBHOOK_MAX_ATTEMPTS];
    size_t n = 0;
    int rc = w && ds ? IG_OK : IG_ENOMEM;
    /* a webhook of another org, or none: 404 (not an empty list) */
    if (rc || (rc = ig_store_webhook_get(st, j->org_id, j->param, w)) ||
        (rc = ig_store_webhook_deliveries(st, j->org_id, j->param, ds, (size_t)j->limit, &n)))
        goto out;
    ig_buf_lit(&j->out, "{\"deliveries\":[");
    for (size_t i = 0; i < n; i++) {
        size_t na = 0;
        rc = ig_store_webhook_attempts(st, j->org_id, ds[i].id, at, IG_ARRAY_LEN(at), &na);
        if (rc && rc != IG_ETOOBIG) goto out;
        rc = IG_OK;
        if (i) ig_buf_lit(&j->out, ",");
        delivery_json(&j->out, &ds[i], at, na);
    }
    ig_buf_lit(&j->out, "]}");
out:
    j->err = rc;
    free(ds);
    free(w);
}

static void work_test(api_job_t *j, ig_store_t *st)
{
    ig_webhook_delivery_t d;
    ig_webhook_t *w = malloc(sizeof *w);
    char data[96];
    /* an unknown id answers 404 whatever the plan */
    int rc = w ? ig_store_webhook_get(st, j->org_id, j->param, w) : IG_ENOMEM;
    free(w);
    if (rc) {
        j->err = rc;
        return;
    }
    if (!plan_ok(j, st)) return;
    snprintf(data, sizeof data, "{\"webhook_id\":\"%s\"}", j->param);
    rc = ig_webhook_emit_to(st, j->org_id, j->param, "webhook.test", data, &d);
    if (rc) {
        j->err = rc;
        return;
    }
    ig_api_audit(j, st, "webhook.test", j->param);
    j->status = 202;
    ig_buf_lit(&j->out, "{\"delivery\":");
    delivery_json(&j->out, &d, NULL, 0);
    ig_buf_lit(&j->out, "}");
}

/* ---------------------------------------------------------------------------------------------------- */
/* request parsing on the loop */

/* The "events" member: a non-empty array of event names, into *mask. IG_OK, IG_ENOTFOUND (absent), or
 * IG_EINVAL after answering 400. */
static int take_events(ig_req_t *req, cJSON *doc, uint32_t *mask)
{
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(doc, "events");
    uint32_t m = 0;
    if (!ev) return IG_ENOTFOUND;
    for (const cJSON *it = cJSON_IsArray(ev) ? ev->child : NULL; it; it = it->next) {
        int i = cJSON_IsString(it) ? ig_webhook_event_index(ig_iov_str(it->valuestring)) : -1;
        if (i < 0) {
            m = 0;
            break;
        }
        m |= 1u << i;
    }
    if (m) {
        *mask = m;
        return IG_OK;
    }
    char all[IG_STORE_WEBHOOK_EVENTS_MAX + 1], msg[IG_STORE_WEBHOOK_EVENTS_MAX + 96];
    ig_webhook_events_text((1u << IG_WEBHOOK_EV__COUNT) - 1, all, sizeof all);
    snprintf(msg, sizeof msg, "events must be a non-empty array of event names among: %s", all);
    ig_api_bad_field(req, "events", msg);
    return IG_EINVAL;
}

/* The "url" member: a string (the validator on the worker judges it) copied to j->text. IG_OK, IG_ENOTFOUND,
 * or IG_EINVAL after answering (400, or 503 when out of memory). */
static int take_url(ig_req_t *req, cJSON *doc, api_job_t *j)
{
    const char *s = NULL;
    size_t len = 0;
    int rc = ig_json_get_str(doc, "url", &s, &len);
    if (rc == IG_ENOTFOUND) return rc;
    if (rc != IG_OK || len == 0 || len > IG_STORE_WEBHOOK_URL_MAX) {
        ig_api_error(req, 400, "invalid_url", "url must be an https URL of at most 2047 bytes", "url");
        return IG_EINVAL;
    }
    if (!(j->text = malloc(len + 1))) {
        ig_resp_error(req, IG_ENOMEM, NULL);
        return IG_EINVAL;
    }
    memcpy(j->text, s, len + 1);
    return IG_OK;
}

/* The optional "description" into j->name2 (have_name when given). IG_EINVAL after answering 400. */
static int take_description(ig_req_t *req, cJSON *doc, api_job_t *j)
{
    int rc = ig_api_take_str(req, doc, "description", 0, sizeof j->name2 - 1, j->name2, sizeof j->name2);
    if (rc == IG_OK) j->have_name = true;
    return rc == IG_EINVAL ? rc : IG_OK;
}

void ig_api_webhooks_list(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    IG_UNUSED(param);
    ig_api_run_simple(req, rs, work_list);
}

void ig_api_webhooks_create(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    IG_UNUSED(param);
    cJSON *doc = ig_api_body_object(req);
    if (!doc) return;
    static const char *const allowed[] = {"url", "events", "description", NULL};
    uint32_t mask = 0;
    api_job_t *j = ig_api_job_new(req, rs, work_create);
    if (!j) {
        ig_resp_error(req, IG_ENOMEM, NULL);
        goto out;
    }
    if (!ig_api_only_keys(req, doc, allowed)) goto out;
    int rc = take_url(req, doc, j);
    if (rc == IG_EINVAL) goto out;
    if (rc == IG_ENOTFOUND) {
        ig_api_bad_field(req, "url", "url is required");
        goto out;
    }
    rc = take_events(req, doc, &mask);
    if (rc == IG_EINVAL) goto out;
    if (rc == IG_ENOTFOUND) {
        ig_api_bad_field(req, "events", "events is required");
        goto out;
    }
    if (take_description(req, doc, j)) goto out;
    j->num = mask;
    ig_api_job_submit(req, rs, j);
    j = NULL;
out:
    if (j) ig_api_job_free(j);
    cJSON_Delete(doc);
}

void ig_api_webhooks_get(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    ig_api_run_param(req, rs, param, work_get);
}

void ig_api_webhooks_put(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    api_job_t *j = ig_api_param_job(req, rs, param, work_put);
    if (!j) return;
    cJSON *doc = ig_api_body_object(req);
    if (!doc) {
        ig_api_job_free(j);
        return;
    }
    static const char *const allowed[] = {"url", "events", "description", "enabled", NULL};
    uint32_t mask = 0;
    bool enabled = true;
    if (!ig_api_only_keys(req, doc, allowed)) goto out;
    if (take_url(req, doc, j) == IG_EINVAL || take_events(req, doc, &mask) == IG_EINVAL ||
        take_description(req, doc, j))
        goto out;
    int rc = ig_json_get_bool(doc, "enabled", &enabled);
    if (rc == IG_EINVAL) {
        ig_api_bad_field(req, "enabled", "enabled must be true or false");
        goto out;
    }
    j->limit = rc == IG_OK ? enabled : -1;
    j->num = mask;
    if (!j->text && !mask && !j->have_name && j->limit < 0) {
        ig_api_bad_field(req, "url", "nothing to change: send url, events, description or enabled");
        goto out;
    }
    ig_api_job_submit(req, rs, j);
    j = NULL;
out:
    if (j) ig_api_job_free(j);
    cJSON_Delete(doc);
}

void ig_api_webhooks_delete(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    ig_api_run_param(req, rs, param, work_delete);
}

void ig_api_webhooks_deliveries(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    int64_t limit = API_DELIVERIES_DEFAULT;
    int rc = ig_api_query_int(req->query, "limit", &limit);
    if (rc == IG_EINVAL || limit < 1 || limit > API_DELIVERIES_MAX) {
        ig_api_bad_field(req, "limit", "limit must be an integer from 1 to 100");
        return;
    }
    api_job_t *j = ig_api_param_job(req, rs, param, work_deliveries);
    if (!j) return;
    j->limit = (int)limit;
    ig_api_job_submit(req, rs, j);
}

void ig_api_webhooks_test(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    ig_api_run_param(req, rs, param, work_test);
}

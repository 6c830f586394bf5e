/*
 * api.c — the management API's route table and dispatcher, and the helpers its resource files share
 * (api_int.h): jobs that carry validated inputs to a worker, flat JSON errors, strict body parsing.
 *
 * Resource files: api_keys.c (keys, providers), api_account.c (signup, login, sessions, invitations
 * accept), api_org.c (org, billing, members, invitations, teams, apps), api_audit.c (audit log),
 * api_webhooks.c (webhooks and their deliveries), api_budgets.c (spend budgets and their status).
 */
#include "api/api_int.h"
#include "auth/token.h"
#include "capture/auditlog.h"
#include "core/err.h"
#include "core/limits.h"
#include "core/log.h"
#include "crypto/crypto.h"

#include <stdio.h>
#include <stdlib.h>

const char *const ig_api_role_names[4] = {"viewer", "member", "admin", "owner"};

int ig_api_parse_role(const char *s, size_t len)
{
    for (int i = 0; i < 4; i++)
        if (strlen(ig_api_role_names[i]) == len && memcmp(ig_api_role_names[i], s, len) == 0) return i;
    return -1;
}

/* ---------------------------------------------------------------------------------------------------- */
/* responses */

void ig_api_error(ig_req_t *req, int status, const char *code, const char *msg, const char *field)
{
    ig_buf_t b;
    ig_buf_init(&b, 4096);
    int rc = ig_buf_appendf(&b, "{\"error\":\"%s\",\"error_code\":\"%s\"", msg, code);
    if (rc == IG_OK && field) { /* may be a member name the client sent: escaped */
        rc = ig_buf_lit(&b, ",\"field\":");
        if (rc == IG_OK) rc = ig_json_append_str(&b, ig_iov_str(field));
    }
    if (rc == IG_OK) rc = ig_buf_appendf(&b, ",\"request_id\":\"%s\"}", req->id);
    if (rc == IG_OK)
        ig_resp_json(req, status, b.data, b.len);
    else
        ig_resp_error(req, IG_ENOMEM, NULL);
    ig_buf_free(&b, false);
}

void ig_api_bad_field(ig_req_t *req, const char *field, const char *msg)
{
    ig_api_error(req, 400, "invalid_request", msg, field);
}

void ig_api_rate_limited(ig_req_t *req, int64_t retry_after)
{
    ig_resp_rate_limited(req, retry_after, NULL, 0);
}

/* ---------------------------------------------------------------------------------------------------- */
/* jobs */

void ig_api_job_free(api_job_t *j)
{
    if (j->secret) {
        ig_wipe(j->secret, j->secret_len);
        free(j->secret);
    }
    if (j->secret2) {
        ig_wipe(j->secret2, j->secret2_len);
        free(j->secret2);
    }
    if (j->set_cookie) {
        ig_wipe(j->set_cookie, strlen(j->set_cookie));
        free(j->set_cookie);
    }
    free(j->text);
    ig_buf_free(&j->out, true);
    ig_wipe(j, sizeof *j); /* inputs may include an invitation token */
    free(j);
}

static void job_abort(ig_req_t *req)
{
    api_job_t *j = req->ctx;
    j->cancelled = true;
}

static void job_work(void *wctx, void *arg)
{
    ig_worker_t *w = wctx;
    api_job_t *j = arg;
    if (j->cancelled) return;
    if (!w || !w->st) {
        j->err = IG_ESTORE;
        return;
    }
    j->worker = w;
    j->work(j, w->st);
    j->worker = NULL;
}

/* Set-Cookie for a dashboard session: HttpOnly (no script reads it), Secure, SameSite=Strict (no other site's
 * page makes the browser send it), __Host- (see api.h); it lives as long as the token it carries. */
static void set_session_cookie(ig_req_t *req, const char *token, int64_t max_age)
{
    char v[IG_TOKEN_MAX_LEN + 160];
    int n = snprintf(v, sizeof v, "%s=%s; Path=/; Max-Age=%lld; Secure; HttpOnly; SameSite=Strict",
                     IG_SESSION_COOKIE, token, (long long)max_age);
    if (n > 0 && (size_t)n < sizeof v)
        ig_req_add_resp_header(req, IG_IOV_LIT("Set-Cookie"), ig_iov(v, (size_t)n));
    ig_wipe(v, sizeof v);
}

void ig_api_clear_session_cookie(ig_req_t *req)
{
    static const char v[] = IG_SESSION_COOKIE "=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict";
    ig_req_add_resp_header(req, IG_IOV_LIT("Set-Cookie"), ig_iov(v, sizeof v - 1));
}

static void job_done(void *arg)
{
    api_job_t *j = arg;
    if (!j->cancelled) {
        ig_req_t *req = j->req;
        req->on_abort = NULL;
        req->ctx = NULL;
        int e = j->err;
        if (e == IG_EINVAL && j->field)
            ig_api_error(req, 400, j->code ? j->code : "invalid_request", j->msg ? j->msg : "invalid value",
                         j->field);
        else if (e == IG_ENOTFOUND)
            ig_api_error(req, 404, j->code ? j->code : "not_found", j->msg ? j->msg : "not found", j->field);
        else if (e == IG_EFORBIDDEN)
            ig_api_error(req, 403, j->code ? j->code : "forbidden",
                         j->msg ? j->msg : "your role does not allow this", j->field);
        else if (e == IG_ECONFLICT)
            ig_api_error(req, 409, j->code ? j->code : "conflict", j->msg ? j->msg : "conflict", j->field);
        else if (e == IG_EBADLOGIN || e == IG_EBADSESSION || e == IG_EINVAL)
            ig_api_error(req, ig_err_status(e), ig_err_code(e), j->msg ? j->msg : ig_err_message(e),
                         j->field);
        else if (e)
            ig_api_error(req, ig_err_status(e) >= 500 ? ig_err_status(e) : 500, ig_err_code(e),
                         ig_err_message(e), NULL);
        else {
            if (j->set_cookie) set_session_cookie(req, j->set_cookie, j->gw->cfg->session_ttl_ms / 1000);
            ig_resp_json(req, j->status ? j->status : 200, j->out.data ? j->out.data : "{}",
                         j->out.data ? j->out.len : 2);
        }
    }
    ig_api_job_free(j);
}

api_job_t *ig_api_job_new(ig_req_t *req, ig_reqstate_t *rs, api_work_fn work)
{
    api_job_t *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->req = req;
    j->work = work;
    j->gw = rs->lc->gw;
    if (!rs->public_route) {
        const ig_caller_t *w = &rs->who;
        memcpy(j->org_id, w->org_id, sizeof j->org_id);
        j->role = w->role;
        j->session = w->session;
        memcpy(j->user_id, w->user_id, sizeof j->user_id);
        memcpy(j->key_id, w->key_id, sizeof j->key_id);
        memcpy(j->jti, w->jti, sizeof j->jti);
        if (w->session)
            snprintf(j->actor, sizeof j->actor, "user:%s", w->user_id);
        else
            snprintf(j->actor, sizeof j->actor, "key:%s", w->key_id);
    }
    /* the dashboard: a cookie session, or a sign-in that asks for one */
    ig_iov_t want = ig_req_header(req, IG_IOV_LIT("x-ingate-session"));
    j->cookie = rs->cookie_session ||
                (rs->public_route && want.base && ig_iov_ieq(ig_iov_trim(want), IG_IOV_LIT("cookie")));
    memcpy(j->request_id, req->id, sizeof j->request_id);
    memcpy(j->source_ip, rs->client_ip, sizeof j->source_ip);
    ig_buf_init(&j->out, 4u * 1024 * 1024);
    return j;
}

void ig_api_job_submit(ig_req_t *req, ig_reqstate_t *rs, api_job_t *j)
{
    req->ctx = j;
    req->on_abort = job_abort;
    if (ig_work_submit(rs->lc->gw->pool, &rs->lc->loop, job_work, job_done, j) != IG_OK) {
        req->on_abort = NULL;
        req->ctx = NULL;
        ig_api_job_free(j);
        ig_resp_error(req, IG_EUNAVAILABLE, NULL);
    }
}

void ig_api_run_simple(ig_req_t *req, ig_reqstate_t *rs, api_work_fn work)
{
    api_job_t *j = ig_api_job_new(req, rs, work);
    if (!j) {
        ig_resp_error(req, IG_ENOMEM, NULL);
        return;
    }
    ig_api_job_submit(req, rs, j);
}

bool ig_api_param_ok(ig_req_t *req, ig_iov_t param)
{
    if (param.len > 0 && param.len <= 32) return true;
    ig_api_error(req, 404, "not_found", "not found", NULL); /* cannot be an id: like a missing one */
    return false;
}

api_job_t *ig_api_param_job(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param, api_work_fn work)
{
    if (!ig_api_param_ok(req, param)) return NULL;
    api_job_t *j = ig_api_job_new(req, rs, work);
    if (!j) {
        ig_resp_error(req, IG_ENOMEM, NULL);
        return NULL;
    }
    memcpy(j->param, param.base, param.len);
    return j;
}

void ig_api_run_param(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param, api_work_fn work)
{
    api_job_t *j = ig_api_param_job(req, rs, param, work);
    if (j) ig_api_job_submit(req, rs, j);
}

/* ---------------------------------------------------------------------------------------------------- */
/* request bodies and queries */

cJSON *ig_api_body_object(ig_req_t *req)
{
    cJSON *doc = NULL;
    const char *why = NULL;
    ig_json_limits_t lim = {IG_API_MAX_BODY_BYTES, 16};
    int rc = ig_json_parse(ig_buf_iov(&req->body), &lim, &doc, &why);
    if (rc == IG_ETOOBIG) {
        ig_api_error(req, 413, "payload_too_large", "the request body is too large", NULL);
        return NULL;
    }
    if (rc != IG_OK || !cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        ig_api_error(req, 400, "invalid_json", why ? why : "the request body must be a JSON object", NULL);
        return NULL;
    }
    return doc;
}

void ig_api_body_wipe_free(cJSON *doc)
{
    for (cJSON *it = doc ? doc->child : NULL; it; it = it->next)
        if (cJSON_IsString(it) && it->valuestring) ig_wipe(it->valuestring, strlen(it->valuestring));
    cJSON_Delete(doc);
}

bool ig_api_only_keys(ig_req_t *req, cJSON *doc, const char *const *allowed)
{
    const char *bad = NULL;
    if (ig_json_only_keys(doc, allowed, &bad) == IG_OK) return true;
    ig_api_bad_field(req, bad, "unknown field");
    return false;
}

int ig_api_take_str(ig_req_t *req, cJSON *doc, const char *field, size_t minlen, size_t maxlen, char *dst,
                    size_t cap)
{
    const char *s = NULL;
    size_t len = 0;
    char msg[128];
    int rc = ig_json_get_str(doc, field, &s, &len);
    if (rc == IG_ENOTFOUND) return rc;
    if (rc == IG_OK && len >= minlen && len <= maxlen && len < cap) {
        bool ok = true;
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ok = false;
        if (ok) {
            memcpy(dst, s, len);
            dst[len] = '\0';
            return IG_OK;
        }
    }
    if (minlen > 0)
        snprintf(msg, sizeof msg, "%s must be a string of %zu to %zu bytes without control characters", field,
                 minlen, maxlen);
    else
        snprintf(msg, sizeof msg, "%s must be a string of at most %zu bytes without control characters",
                 field, maxlen);
    ig_api_bad_field(req, field, msg);
    return IG_EINVAL;
}

int ig_api_need_str(ig_req_t *req, cJSON *doc, const char *field, size_t minlen, size_t maxlen, char *dst,
                    size_t cap)
{
    int rc = ig_api_take_str(req, doc, field, minlen, maxlen, dst, cap);
    if (rc == IG_ENOTFOUND) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s is required", field);
        ig_api_bad_field(req, field, msg);
        return IG_EINVAL;
    }
    return rc;
}

void ig_api_lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z') *s = (char)(*s - 'A' + 'a');
}

int ig_api_take_role(ig_req_t *req, cJSON *doc, const char *field, int *role)
{
    const char *s = NULL;
    size_t len = 0;
    int rc = ig_json_get_str(doc, field, &s, &len);
    if (rc == IG_ENOTFOUND) return rc;
    int r = rc == IG_OK ? ig_api_parse_role(s, len) : -1;
    if (r < 0) {
        ig_api_bad_field(req, field, "role must be viewer, member, admin or owner");
        return IG_EINVAL;
    }
    *role = r;
    return IG_OK;
}

int ig_api_query_str(ig_iov_t q, const char *name, ig_iov_t *val)
{
    size_t nl = strlen(name);
    const char *p = q.base, *end = q.base + q.len;
    while (p && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        if ((size_t)(e - p) > nl && memcmp(p, name, nl) == 0 && p[nl] == '=') {
            *val = ig_iov(p + nl + 1, (size_t)(e - p - (ptrdiff_t)nl - 1));
            return IG_OK;
        }
        p = amp ? amp + 1 : end;
    }
    return IG_ENOTFOUND;
}

int ig_api_query_int(ig_iov_t q, const char *name, int64_t *val)
{
    ig_iov_t v;
    int rc = ig_api_query_str(q, name, &v);
    if (rc) return rc;
    if (v.len == 0 || v.len > 18) return IG_EINVAL;
    int64_t x = 0;
    for (size_t i = 0; i < v.len; i++) {
        if (v.base[i] < '0' || v.base[i] > '9') return IG_EINVAL;
        x = x * 10 + (v.base[i] - '0');
    }
    *val = x;
    return IG_OK;
}

/* ---------------------------------------------------------------------------------------------------- */
/* shared pieces of responses and audit */

void ig_api_audit_org(api_job_t *j, ig_store_t *st, const char *org_id, const char *action,
                      const char *target)
{
    /* the org's own chain (its database, address sealed under its data key), or the control chain for
     * entries without an org and for org.delete (capture/auditlog.h) */
    int rc = ig_auditlog_append(st, j->worker ? j->worker->orgs : NULL, org_id,
                                j->actor[0] ? j->actor : "anonymous", action, target, j->source_ip,
                                j->request_id, NULL);
    if (rc) IG_ERROR("api", "audit entry %s not written (%s)", action, ig_err_name(rc));
}

void ig_api_audit(api_job_t *j, ig_store_t *st, const char *action, const char *target)
{
    ig_api_audit_org(j, st, j->org_id, action, target);
}

void ig_api_user_json(ig_buf_t *b, const ig_user_t *u)
{
    ig_buf_appendf(b, "{\"id\":\"%s\",\"email\":", u->id);
    ig_json_append_str(b, ig_iov_str(u->email));
    ig_buf_lit(b, ",\"display_name\":");
    ig_json_append_str(b, ig_iov_str(u->display_name));
    ig_buf_lit(b, "}");
}

/* ---------------------------------------------------------------------------------------------------- */
/* the route table */

enum {
    R_PUBLIC = -1, /* min_role: no credential (signup, login, invitation accept); rate-limited per address */
};

#define F_SESSION 0x1u /* only with a session token (acts on the signed-in user) */

typedef struct api_route {
    const char *method;
    const char *pattern; /* ":" segments capture one path segment; at most one per pattern */
    int min_role;
    unsigned flags;
    api_handler_fn handler;
} api_route_t;

/* Minimum roles: viewer reads; member + creates keys; admin + members, invitations, teams, apps, provider
 * keys, org settings, keys' rate limits, budgets (viewers read them and their status), webhooks (their URLs
 * may carry tokens: even reading them is admin);
 * owner + billing, ownership transfer, deleting the org. docs/openapi.yaml mirrors this table (x-min-role)
 * and scripts/check-openapi.sh compares them both ways. */
static const api_route_t ROUTES[] = {
    {"POST", "/api/v1/signup", R_PUBLIC, 0, ig_api_signup},
    {"POST", "/api/v1/login", R_PUBLIC, 0, ig_api_login},
    {"POST", "/api/v1/invitations/accept", R_PUBLIC, 0, ig_api_invite_accept},
    {"POST", "/api/v1/token/refresh", IG_STORE_ROLE_VIEWER, F_SESSION, ig_api_token_refresh},
    {"POST", "/api/v1/logout", IG_STORE_ROLE_VIEWER, F_SESSION, ig_api_logout},
    {"GET", "/api/v1/me", IG_STORE_ROLE_VIEWER, F_SESSION, ig_api_me},
    {"PUT", "/api/v1/me/password", IG_STORE_ROLE_VIEWER, F_SESSION, ig_api_me_password},
    {"GET", "/api/v1/org", IG_STORE_ROLE_VIEWER, 0, ig_api_org_get},
    {"PUT", "/api/v1/org", IG_STORE_ROLE_ADMIN, 0, ig_api_org_put},
    {"DELETE", "/api/v1/org", IG_STORE_ROLE_OWNER, 0, ig_api_org_delete},
    {"POST", "/api/v1/org/transfer", IG_STORE_ROLE_OWNER, F_SESSION, ig_api_org_transfer},
    {"GET", "/api/v1/org/billing", IG_STORE_ROLE_OWNER, 0, ig_api_billing_get},
    {"PUT", "/api/v1/org/billing", IG_STORE_ROLE_OWNER, 0, ig_api_billing_put},
    {"GET", "/api/v1/members", IG_STORE_ROLE_ADMIN, 0, ig_api_members_list},
    {"POST", "/api/v1/members", IG_STORE_ROLE_ADMIN, 0, ig_api_members_add},
    {"PATCH", "/api/v1/members/:", IG_STORE_ROLE_ADMIN, 0, ig_api_members_patch},
    {"DELETE", "/api/v1/members/:", IG_STORE_ROLE_ADMIN, 0, ig_api_members_delete},
    {"GET", "/api/v1/invitations", IG_STORE_ROLE_ADMIN, 0, ig_api_invites_list},
    {"DELETE", "/api/v1/invitations/:", IG_STORE_ROLE_ADMIN, 0, ig_api_invites_revoke},
    {"GET", "/api/v1/teams", IG_STORE_ROLE_VIEWER, 0, ig_api_teams_list},
    {"POST", "/api/v1/teams", IG_STORE_ROLE_ADMIN, 0, ig_api_teams_create},
    {"DELETE", "/api/v1/teams/:", IG_STORE_ROLE_ADMIN, 0, ig_api_teams_delete},
    {"GET", "/api/v1/apps", IG_STORE_ROLE_VIEWER, 0, ig_api_apps_list},
    {"POST", "/api/v1/apps", IG_STORE_ROLE_ADMIN, 0, ig_api_apps_create},
    {"DELETE", "/api/v1/apps/:", IG_STORE_ROLE_ADMIN, 0, ig_api_apps_delete},
    {"GET", "/api/v1/keys", IG_STORE_ROLE_MEMBER, 0, ig_api_keys_list},
    {"POST", "/api/v1/keys", IG_STORE_ROLE_MEMBER, 0, ig_api_keys_create},
    {"PUT", "/api/v1/keys/:", IG_STORE_ROLE_ADMIN, 0, ig_api_keys_put},
    {"DELETE", "/api/v1/keys/:", IG_STORE_ROLE_MEMBER, 0, ig_api_keys_revoke},
    {"POST", "/api/v1/keys/:/rotate", IG_STORE_ROLE_MEMBER, 0, ig_api_keys_rotate},
    {"GET", "/api/v1/providers", IG_STORE_ROLE_VIEWER, 0, ig_api_providers_list},
    {"PUT", "/api/v1/providers/:", IG_STORE_ROLE_ADMIN, 0, ig_api_providers_put},
    {"DELETE", "/api/v1/providers/:", IG_STORE_ROLE_ADMIN, 0, ig_api_providers_delete},
    {"GET", "/api/v1/logs", IG_STORE_ROLE_VIEWER, 0, ig_api_logs_list},
    {"GET", "/api/v1/logs/:", IG_STORE_ROLE_VIEWER, 0, ig_api_logs_get},
    {"GET", "/api/v1/usage/summary", IG_STORE_ROLE_VIEWER, 0, ig_api_usage_summary},
    {"GET", "/api/v1/usage/timeseries", IG_STORE_ROLE_VIEWER, 0, ig_api_usage_timeseries},
    {"GET", "/api/v1/audit", IG_STORE_ROLE_VIEWER, 0, ig_api_audit_list},
    {"GET", "/api/v1/audit/verify", IG_STORE_ROLE_VIEWER, 0, ig_api_audit_verify}, /* before /audit/:id */
    {"GET", "/api/v1/audit/:", IG_STORE_ROLE_VIEWER, 0, ig_api_audit_get},
    {"GET", "/api/v1/webhooks", IG_STORE_ROLE_ADMIN, 0, ig_api_webhooks_list},
    {"POST", "/api/v1/webhooks", IG_STORE_ROLE_ADMIN, 0, ig_api_webhooks_create},
    {"GET", "/api/v1/webhooks/:", IG_STORE_ROLE_ADMIN, 0, ig_api_webhooks_get},
    {"PUT", "/api/v1/webhooks/:", IG_STORE_ROLE_ADMIN, 0, ig_api_webhooks_put},
    {"DELETE", "/api/v1/webhooks/:", IG_STORE_ROLE_ADMIN, 0, ig_api_webhooks_delete},
    {"GET", "/api/v1/webhooks/:/deliveries", IG_STORE_ROLE_ADMIN, 0, ig_api_webhooks_deliveries},
    {"POST", "/api/v1/webhooks/:/test", IG_STORE_ROLE_ADMIN, 0, ig_api_webhooks_test},
    {"GET", "/api/v1/budgets", IG_STORE_ROLE_VIEWER, 0, ig_api_budgets_list},
    {"POST", "/api/v1/budgets", IG_STORE_ROLE_ADMIN, 0, ig_api_budgets_create},
    {"GET", "/api/v1/budgets/:", IG_STORE_ROLE_VIEWER, 0, ig_api_budgets_get},
    {"PUT", "/api/v1/budgets/:", IG_STORE_ROLE_ADMIN, 0, ig_api_budgets_put},
    {"DELETE", "/api/v1/budgets/:", IG_STORE_ROLE_ADMIN, 0, ig_api_budgets_delete},
    {"GET", "/api/v1/budgets/:/status", IG_STORE_ROLE_VIEWER, 0, ig_api_budgets_status},
};

/* Matches path against pattern; *param receives the segment captured by ':' (IG_IOV_NULL when none). */
static bool match(const char *pattern, ig_iov_t path, ig_iov_t *param)
{
    const char *p = pattern, *s = path.base, *end = path.base + path.len;
    *param = IG_IOV_NULL;
    while (*p) {
        if (*p == ':') {
            const char *e = s;
            while (e < end && *e != '/')
                e++;
            if (e == s) return false;
            *param = ig_iov(s, (size_t)(e - s));
            s = e;
            p++;
            continue;
        }
        if (s >= end || *s != *p) return false;
        s++;
        p++;
    }
    return s == end;
}

void ig_api_handle(ig_req_t *req, ig_reqstate_t *rs)
{
    bool path_known = false;
    char allow[64] = "";
    size_t alen = 0;
    for (size_t i = 0; i < IG_ARRAY_LEN(ROUTES); i++) {
        const api_route_t *r = &ROUTES[i];
        ig_iov_t param;
        if (!match(r->pattern, req->path, &param)) continue;
        /* the router decided at headers time whether this path needs a credential */
        if ((r->min_role == R_PUBLIC) != rs->public_route) continue;
        path_known = true;
        if (strcmp(r->method, req->method_name) != 0) {
            int n = snprintf(allow + alen, sizeof allow - alen, "%s%s", alen ? ", " : "", r->method);
            if (n > 0 && (size_t)n < sizeof allow - alen) alen += (size_t)n;
            continue;
        }
        if (r->min_role == R_PUBLIC) {
            if (rs->retry_after > 0) {
                ig_api_rate_limited(req, rs->retry_after);
                return;
            }
        } else {
            if (rs->who.role < r->min_role) {
                ig_api_error(req, 403, "forbidden", "your role does not allow this", NULL);
                return;
            }
            if ((r->flags & F_SESSION) && !rs->who.session) {
                ig_api_error(req, 403, "session_required", "this call needs a session token, not an API key",
                             NULL);
                return;
            }
        }
        r->handler(req, rs, param);
        return;
    }
    if (path_known) {
        ig_resp_method_not_allowed(req, ig_iov(allow, alen));
        return;
    }
    ig_api_error(req, 404, "not_found", "not found", NULL);
}

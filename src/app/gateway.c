/*
 * gateway.c — the router and the authentication phase.
 *
 * Routes: /healthz and /readyz (no auth, no data), /api/v1/... (management API: deny by default), /ui/...
 * (dashboard), and everything else is a proxy request — including ollama's own /api/chat, /api/generate.
 * Authentication runs when the headers are complete and before any body byte is read: an unauthenticated peer
 * can only ever send IG_PREAUTH_MAX_BODY_BYTES. The key comes from X-Ingate-Key, or for SDK drop-in from
 * "Authorization: Bearer sk-ingate-..." or "x-api-key: sk-ingate-..."; a key in the query string is refused
 * without being echoed.
 */
#include "app/gateway.h"
#include "app/metrics.h"
#include "app/ui.h"
#include "capture/spool.h"
#include "api/api.h"
#include "auth/apikey.h"
#include "auth/clientip.h"
#include "auth/ratelimit.h"
#include "auth/token.h"
#include "core/err.h"
#include "core/limits.h"
#include "core/log.h"
#include "crypto/crypto.h"

#include <stdio.h>
#include <stdlib.h>

enum route { ROUTE_PROXY = 0, ROUTE_HEALTHZ, ROUTE_READYZ, ROUTE_API, ROUTE_UI, ROUTE_ROOT, ROUTE_METRICS };

static ig_loopctx_t *lc_of(ig_req_t *req)
{
    return req->srv->loop->user;
}

/* Refusals for a missing or bad credential are counted for /metrics. */
static int counted(int rc)
{
    if (rc == IG_ENOAUTH || rc == IG_EBADKEY || rc == IG_EBADSESSION || rc == IG_EKEYINQUERY)
        ig_metrics_unauthenticated();
    return rc;
}

static bool path_is(ig_iov_t path, const char *p)
{
    return ig_iov_eq(path, ig_iov_str(p));
}

static bool path_under(ig_iov_t path, const char *prefix)
{
    ig_iov_t p = ig_iov_str(prefix); /* "/api" matches "/api" and "/api/..." */
    return ig_iov_has_prefix(path, p) && (path.len == p.len || path.base[p.len] == '/');
}

/* A query string that carries a key: any parameter value with our prefix, or a parameter named like a key. */
static bool query_has_key(ig_iov_t q)
{
    if (q.len == 0) return false;
    if (memmem(q.base, q.len, IG_APIKEY_PREFIX, IG_APIKEY_PREFIX_LEN)) return true;
    /* URL-encoded prefix ("sk%2Dingate-") */
    static const char *names[] = {"x-ingate-key=", "x_ingate_key=", "ingate_key=", "api_key=",
                                  "api-key=",      "apikey=",       "key=",        "sk-ingate"};
    const char *p = q.base, *end = q.base + q.len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        ig_iov_t param = ig_iov(p, (size_t)(e - p));
        for (size_t i = 0; i < IG_ARRAY_LEN(names); i++)
            if (ig_iov_has_iprefix(param, ig_iov_str(names[i]))) return true;
        if (memmem(param.base, param.len, "%2Dingate", 9) || memmem(param.base, param.len, "%2dingate", 9))
            return true;
        p = amp ? amp + 1 : end;
    }
    return false;
}

/* Finds the caller's ingate credential. IG_OK with *key set, IG_ENOAUTH when there is none. */
static int find_credential(ig_req_t *req, ig_iov_t *key)
{
    ig_iov_t v = ig_req_header(req, IG_IOV_LIT("x-ingate-key"));
    if (v.base) {
        *key = ig_iov_trim(v);
        return IG_OK;
    }
    v = ig_req_header(req, IG_IOV_LIT("authorization"));
    if (v.base && ig_iov_has_iprefix(v, IG_IOV_LIT("bearer "))) {
        ig_iov_t t = ig_iov_trim(ig_iov(v.base + 7, v.len - 7));
        if (ig_iov_has_prefix(t, IG_IOV_LIT(IG_APIKEY_PREFIX))) {
            *key = t;
            return IG_OK;
        }
    }
    v = ig_req_header(req, IG_IOV_LIT("x-api-key"));
    if (v.base && ig_iov_has_prefix(ig_iov_trim(v), IG_IOV_LIT(IG_APIKEY_PREFIX))) {
        *key = ig_iov_trim(v);
        return IG_OK;
    }
    return IG_ENOAUTH;
}

static void rs_cleanup(void *arg)
{
    ig_reqstate_t *rs = arg;
    if (rs->have_auth) ig_auth_release(&rs->auth);
    rs->have_auth = false;
}

/* After authentication: role check and body allowance. */
static int authorized(ig_req_t *req, ig_reqstate_t *rs)
{
    req->authenticated = true;
    if (!rs->who.session) {
        rs->who.role = rs->auth.role;
        memcpy(rs->who.org_id, rs->auth.org->id, sizeof rs->who.org_id);
        memcpy(rs->who.user_id, rs->auth.created_by, sizeof rs->who.user_id);
        memcpy(rs->who.key_id, rs->auth.key_id, sizeof rs->who.key_id);
    }
    if (rs->route == ROUTE_PROXY && rs->auth.role < IG_STORE_ROLE_MEMBER) return IG_EFORBIDDEN;
    /* management calls carry small JSON documents; model requests may carry images */
    req->body_max = rs->route == ROUTE_API ? IG_API_MAX_BODY_BYTES : rs->lc->gw->cfg->max_body_bytes;
    return IG_OK;
}

typedef struct load_job {
    ig_req_t *req;
    ig_reqstate_t *rs;
    uint8_t key_hash[32]; /* a copy: the worker must not read request memory, which an abort frees */
    int rc;
    bool cancelled;
} load_job_t;

static void load_work(void *wctx, void *arg)
{
    ig_worker_t *w = wctx;
    load_job_t *j = arg;
    if (j->cancelled) return;
    j->rc = w->st ? ig_authcache_load(w->st, j->key_hash) : IG_ESTORE;
}

static void load_abort(ig_req_t *req)
{
    load_job_t *j = req->ctx;
    j->cancelled = true; /* the completion will find the request gone */
}

static void load_done(void *arg)
{
    load_job_t *j = arg;
    if (j->cancelled) {
        free(j);
        return;
    }
    ig_req_t *req = j->req;
    ig_reqstate_t *rs = j->rs;
    int rc = j->rc;
    req->on_abort = NULL;
    req->ctx = NULL;
    free(j);
    if (rc == IG_OK) {
        rc = counted(ig_authcache_get(rs->key_hash, ig_wall_ms(), &rs->auth));
        if (rc == IG_EAGAIN) rc = IG_ESTORE; /* invalidated meanwhile: let the client retry */
        if (rc == IG_OK) {
            rs->have_auth = true;
            rc = authorized(req, rs);
        }
    } else {
        rc = IG_ESTORE;
    }
    if (rc == IG_ESTORE) rc = IG_EUNAVAILABLE;
    ig_req_resume(req, rc);
}

/* ---- session tokens (management API only) ---- */

typedef struct sess_job {
    ig_req_t *req;
    ig_reqstate_t *rs;
    ig_token_claims_t claims; /* copied: the worker never reads request memory */
    int role;
    int rc;
    bool cancelled;
} sess_job_t;

static void sess_work(void *wctx, void *arg)
{
    ig_worker_t *w = wctx;
    sess_job_t *j = arg;
    if (j->cancelled) return;
    j->rc = w->st ? ig_store_session_check(w->st, j->claims.jti, j->claims.sub, j->claims.org, ig_wall_ms(),
                                           &j->role)
                  : IG_ESTORE;
}

static void sess_abort(ig_req_t *req)
{
    sess_job_t *j = req->ctx;
    j->cancelled = true;
}

static void sess_done(void *arg)
{
    sess_job_t *j = arg;
    if (j->cancelled) {
        free(j);
        return;
    }
    ig_req_t *req = j->req;
    ig_reqstate_t *rs = j->rs;
    int rc = j->rc;
    req->on_abort = NULL;
    req->ctx = NULL;
    if (rc == IG_OK) {
        ig_caller_t *w = &rs->who;
        w->session = true;
        w->role = j->role; /* the membership's role now: a demotion counts on the next request */
        memcpy(w->org_id, j->claims.org, sizeof w->org_id);
        memcpy(w->user_id, j->claims.sub, sizeof w->user_id);
        memcpy(w->jti, j->claims.jti, sizeof w->jti);
        w->token_exp = j->claims.exp;
        rc = authorized(req, rs);
    } else if (rc == IG_ENOTFOUND) {
        rc = counted(IG_EBADSESSION); /* revoked, expired, user gone or no longer a member */
        if (rs->cookie_session) ig_api_clear_session_cookie(req);
    } else {
        rc = IG_EUNAVAILABLE;
    }
    free(j);
    ig_req_resume(req, rc);
}

static bool method_get_or_head_only(const ig_req_t *req)
{
    return strcmp(req->method_name, "GET") == 0 || strcmp(req->method_name, "HEAD") == 0;
}

static bool method_is_safe(const ig_req_t *req)
{
    return method_get_or_head_only(req) || strcmp(req->method_name, "OPTIONS") == 0;
}

/* A browser sends the session cookie with every request to this origin, whoever's page asked for it, so a
 * cookie session must prove the request came from the dashboard itself: nothing a browser marks cross-site,
 * and for every state-changing method an Origin (when the browser sends one) that is this gateway and the
 * session's CSRF token in X-CSRF-Token, which only a page of this origin can have read. */
static int csrf_check(ig_req_t *req, const uint8_t *key, const char *jti)
{
    ig_iov_t site = ig_req_header(req, IG_IOV_LIT("sec-fetch-site"));
    if (site.base && ig_iov_ieq(ig_iov_trim(site), IG_IOV_LIT("cross-site"))) return IG_ECSRF;
    if (method_is_safe(req)) return IG_OK;
    ig_iov_t origin = ig_req_header(req, IG_IOV_LIT("origin"));
    if (origin.base) {
        ig_iov_t host = ig_req_header(req, IG_IOV_LIT("host"));
        origin = ig_iov_trim(origin);
        if (!host.base || !ig_iov_has_iprefix(origin, IG_IOV_LIT("https://")) ||
            !ig_iov_ieq(ig_iov(origin.base + 8, origin.len - 8), ig_iov_trim(host)))
            return IG_ECSRF;
    }
    char want[IG_TOKEN_CSRF_LEN + 1];
    if (ig_token_csrf(key, jti, want) != IG_OK) return IG_EUNAVAILABLE;
    ig_iov_t got = ig_iov_trim(ig_req_header(req, IG_IOV_LIT("x-csrf-token")));
    bool ok = got.base && got.len == IG_TOKEN_CSRF_LEN && ig_ct_equal(got.base, want, IG_TOKEN_CSRF_LEN);
    ig_wipe(want, sizeof want);
    return ok ? IG_OK : IG_ECSRF;
}

/* A Bearer token that is not an API key: a session token. The signature and expiry are checked here (one
 * HMAC); revocation and the live role need the store, on a worker. */
static int authenticate_session(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t token)
{
    ig_token_claims_t c;
    if (ig_token_verify(rs->lc->gw->session_key, token, ig_wall_ms() / 1000, &c) != IG_OK) {
        if (rs->cookie_session) ig_api_clear_session_cookie(req); /* expired: the browser may forget it */
        return IG_EBADSESSION;
    }
    if (rs->cookie_session) {
        int rc = csrf_check(req, rs->lc->gw->session_key, c.jti);
        if (rc) return rc;
    }
    sess_job_t *j = calloc(1, sizeof *j);
    if (!j) return IG_ENOMEM;
    j->req = req;
    j->rs = rs;
    j->claims = c;
    req->ctx = j;
    req->on_abort = sess_abort;
    if (ig_work_submit(rs->lc->gw->pool, &rs->lc->loop, sess_work, sess_done, j) != IG_OK) {
        req->on_abort = NULL;
        req->ctx = NULL;
        free(j);
        return IG_EUNAVAILABLE;
    }
    return IG_EAGAIN;
}

static int authenticate(ig_req_t *req, ig_reqstate_t *rs)
{
    if (query_has_key(req->query)) return IG_EKEYINQUERY;
    ig_iov_t key;
    int rc = find_credential(req, &key);
    if (rc == IG_ENOAUTH && rs->route == ROUTE_API) {
        ig_iov_t v = ig_req_header(req, IG_IOV_LIT("authorization"));
        if (v.base && ig_iov_has_iprefix(v, IG_IOV_LIT("bearer ")))
            return authenticate_session(req, rs, ig_iov_trim(ig_iov(v.base + 7, v.len - 7)));
        /* no credential of a script: the dashboard's cookie, if the browser sent one */
        ig_iov_t ck = ig_req_cookie(req, IG_IOV_LIT(IG_SESSION_COOKIE));
        if (ck.base && !v.base) {
            rs->cookie_session = true;
            return authenticate_session(req, rs, ck);
        }
    }
    if (rc) return rc;
    if (key.len != IG_APIKEY_LEN || !ig_iov_has_prefix(key, IG_IOV_LIT(IG_APIKEY_PREFIX))) return IG_EBADKEY;
    ig_apikey_hash(key, rs->key_hash);
    rc = ig_authcache_get(rs->key_hash, ig_wall_ms(), &rs->auth);
    if (rc == IG_OK) {
        /* a cached hash came from a stored key, which passed the full format check when it was created */
        rs->have_auth = true;
        return authorized(req, rs);
    }
    if (rc != IG_EAGAIN) return rc;
    /* before any store lookup: the checksum refuses typos and junk without a query */
    if (ig_apikey_check(key) != IG_OK) return IG_EBADKEY;
    load_job_t *j = calloc(1, sizeof *j);
    if (!j) return IG_ENOMEM;
    j->req = req;
    j->rs = rs;
    memcpy(j->key_hash, rs->key_hash, sizeof j->key_hash);
    req->ctx = j;
    req->on_abort = load_abort;
    if (ig_work_submit(rs->lc->gw->pool, &rs->lc->loop, load_work, load_done, j) != IG_OK) {
        req->on_abort = NULL;
        req->ctx = NULL;
        free(j);
        return IG_EUNAVAILABLE;
    }
    return IG_EAGAIN;
}

/* The API routes reachable without a credential, and the limiter bucket of each. */
static const char *public_route(ig_iov_t path)
{
    if (path_is(path, "/api/v1/signup")) return "signup";
    if (path_is(path, "/api/v1/login")) return "login";
    if (path_is(path, "/api/v1/invitations/accept")) return "accept";
    return NULL;
}

static void count_attempt(const ig_gateway_t *gw, ig_reqstate_t *rs, const char *bucket)
{
    char key[96], lk[64];
    ig_client_ip_limit_key(rs->client_ip, lk);
    int n = snprintf(key, sizeof key, "%s|%s", bucket, lk);
    int64_t retry = 0;
    if (n > 0 &&
        ig_ratelimit_hit(gw->auth_limiter, ig_iov(key, (size_t)n), ig_wall_ms(), &retry) == IG_ETOOMANY) {
        rs->retry_after = retry > 0 ? retry : 1;
        ig_metrics_auth_limited();
    }
}

/* /metrics is for operators: a bearer token when one is configured, else loopback clients only (the client
 * address after trusted proxies). */
static int metrics_access(ig_req_t *req, ig_reqstate_t *rs)
{
    const char *tok = rs->lc->gw->cfg->metrics_token;
    if (tok && tok[0]) {
        ig_iov_t v = ig_req_header(req, IG_IOV_LIT("authorization"));
        size_t tl = strlen(tok);
        if (!v.base || !ig_iov_has_iprefix(v, IG_IOV_LIT("bearer "))) return IG_ENOAUTH;
        ig_iov_t t = ig_iov_trim(ig_iov(v.base + 7, v.len - 7));
        return t.len == tl && ig_ct_equal(t.base, tok, tl) ? IG_OK : IG_EBADKEY;
    }
    if (strcmp(rs->client_ip, "127.0.0.1") == 0 || strcmp(rs->client_ip, "::1") == 0) return IG_OK;
    return IG_EFORBIDDEN;
}

static int on_headers(ig_req_t *req)
{
    ig_loopctx_t *lc = lc_of(req);
    ig_reqstate_t *rs = ig_pool_calloc(req->pool, sizeof *rs);
    if (!rs || ig_pool_cleanup_add(req->pool, rs_cleanup, rs) != IG_OK) return IG_ENOMEM;
    rs->lc = lc;
    req->app = rs;
    if (path_is(req->path, "/healthz"))
        rs->route = ROUTE_HEALTHZ;
    else if (path_is(req->path, "/readyz"))
        rs->route = ROUTE_READYZ;
    else if (path_is(req->path, "/metrics"))
        rs->route = ROUTE_METRICS;
    else if (path_under(req->path, "/api/v1") || path_is(req->path, "/api") || path_is(req->path, "/api/"))
        rs->route = ROUTE_API; /* other /api/... paths are ollama's (/api/chat, /api/generate): proxied */
    else if (path_under(req->path, "/ui"))
        rs->route = ROUTE_UI;
    else if (path_is(req->path, "/") && method_get_or_head_only(req))
        rs->route = ROUTE_ROOT; /* a browser at the bare address: the dashboard (no model API lives at /) */
    else
        rs->route = ROUTE_PROXY;
    req->errshape = rs->route == ROUTE_PROXY ? IG_ERRSHAPE_OPENAI : IG_ERRSHAPE_FLAT;
    if (rs->route == ROUTE_HEALTHZ || rs->route == ROUTE_READYZ || rs->route == ROUTE_UI ||
        rs->route == ROUTE_ROOT)
        return IG_OK;
    /* who is calling: for the limiters, the audit log and the call log */
    ig_client_ip(lc->gw->trusted, req->peer_ip ? req->peer_ip : "",
                 ig_req_header(req, IG_IOV_LIT("x-forwarded-for")), rs->client_ip);
    if (rs->route == ROUTE_METRICS) return metrics_access(req, rs);
    if (rs->route == ROUTE_API) {
        /* management answers carry keys shown once, sessions, settings: no cache (browser, proxy) keeps them
         */
        ig_req_add_resp_header(req, IG_IOV_LIT("Cache-Control"), IG_IOV_LIT("no-store"));
        const char *bucket = public_route(req->path);
        if (bucket) {
            /* no credential: these routes create one. Every POST counts against the client's address. */
            rs->public_route = true;
            if (strcmp(req->method_name, "POST") == 0) count_attempt(lc->gw, rs, bucket);
            return IG_OK;
        }
    }
    return counted(authenticate(req, rs));
}

/* ----------------------------------------------------------------------------------------------------------
 */

static bool method_get_or_head(ig_req_t *req)
{
    if (method_get_or_head_only(req)) return true;
    ig_resp_method_not_allowed(req, IG_IOV_LIT("GET, HEAD"));
    return false;
}

typedef struct ready_job {
    ig_req_t *req;
    int rc;
    bool cancelled;
} ready_job_t;

static void ready_work(void *wctx, void *arg)
{
    ig_worker_t *w = wctx;
    ready_job_t *j = arg;
    if (j->cancelled) return;
    j->rc = w->st ? ig_store_ping(w->st) : IG_ESTORE;
}

static void ready_abort(ig_req_t *req)
{
    ready_job_t *j = req->ctx;
    j->cancelled = true;
}

static void ready_done(void *arg)
{
    ready_job_t *j = arg;
    if (!j->cancelled) {
        ig_req_t *req = j->req;
        req->on_abort = NULL;
        if (j->rc == IG_OK) {
            static const char ok[] = "{\"status\":\"ready\"}";
            ig_resp_json(req, 200, ok, sizeof ok - 1);
        } else {
            static const char no[] = "{\"status\":\"unavailable\",\"error_code\":\"store_unavailable\"}";
            ig_resp_json(req, 503, no, sizeof no - 1);
        }
    }
    free(j);
}

static void handle_readyz(ig_req_t *req, ig_reqstate_t *rs)
{
    ready_job_t *j = calloc(1, sizeof *j);
    if (!j) {
        ig_resp_error(req, IG_ENOMEM, NULL);
        return;
    }
    j->req = req;
    req->ctx = j;
    req->on_abort = ready_abort;
    if (ig_work_submit(rs->lc->gw->pool, &rs->lc->loop, ready_work, ready_done, j) != IG_OK) {
        req->on_abort = NULL;
        free(j);
        ig_resp_error(req, IG_EUNAVAILABLE, NULL);
    }
}

typedef struct metrics_job {
    ig_req_t *req;
    const ig_gateway_t *gw;
    ig_buf_t out;
    int rc;
    bool cancelled;
} metrics_job_t;

static void metrics_work(void *wctx, void *arg)
{
    IG_UNUSED(wctx);
    metrics_job_t *j = arg;
    if (j->cancelled) return;
    uint64_t bytes = 0, files = 0;
    ig_spool_usage(j->gw->spool_dir, &bytes, &files);
    j->rc = ig_metrics_render(&j->out, &j->gw->providers, bytes, files);
}

static void metrics_abort(ig_req_t *req)
{
    metrics_job_t *j = req->ctx;
    j->cancelled = true;
}

static void metrics_done(void *arg)
{
    metrics_job_t *j = arg;
    if (!j->cancelled) {
        ig_req_t *req = j->req;
        req->on_abort = NULL;
        req->ctx = NULL;
        static const ig_header_t ct = {IG_IOV_LIT("Content-Type"), IG_IOV_LIT("text/plain; version=0.0.4")};
        if (j->rc)
            ig_resp_error(req, j->rc, NULL);
        else if (ig_resp_start_with_body(req, 200, &ct, 1, j->out.data, j->out.len) != IG_OK)
            ig_resp_abort(req);
        else
            ig_resp_finish(req);
    }
    ig_buf_free(&j->out, false);
    free(j);
}

static void handle_metrics(ig_req_t *req, ig_reqstate_t *rs)
{
    metrics_job_t *j = calloc(1, sizeof *j);
    if (!j) {
        ig_resp_error(req, IG_ENOMEM, NULL);
        return;
    }
    j->req = req;
    j->gw = rs->lc->gw;
    ig_buf_init(&j->out, 1u << 20);
    req->ctx = j;
    req->on_abort = metrics_abort;
    if (ig_work_submit(rs->lc->gw->pool, &rs->lc->loop, metrics_work, metrics_done, j) != IG_OK) {
        req->on_abort = NULL;
        req->ctx = NULL;
        free(j);
        ig_resp_error(req, IG_EUNAVAILABLE, NULL);
    }
}

static void on_request(ig_req_t *req)
{
    ig_reqstate_t *rs = req->app;
    switch (rs->route) {
    case ROUTE_HEALTHZ:
        if (method_get_or_head(req)) {
            static const char ok[] = "{\"status\":\"ok\"}";
            ig_resp_json(req, 200, ok, sizeof ok - 1);
        }
        return;
    case ROUTE_READYZ:
        if (method_get_or_head(req)) handle_readyz(req, rs);
        return;
    case ROUTE_METRICS:
        if (method_get_or_head(req)) handle_metrics(req, rs);
        return;
    case ROUTE_API:
        ig_api_handle(req, rs);
        return;
    case ROUTE_UI:
        ig_ui_handle(req);
        return;
    case ROUTE_ROOT:
        ig_ui_handle_root(req);
        return;
    case ROUTE_PROXY:
    default:
        ig_proxy_handle(req, rs);
        return;
    }
}

const ig_http_handlers_t ig_gateway_handlers = {on_headers, on_request, NULL};

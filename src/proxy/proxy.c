/*
 * proxy.c — the proxy path after authentication: resolve the provider, build the upstream request (strip
 * X-Ingate-* and hop-by-hop headers and the caller's ingate credential, inject the org's provider key), relay
 * the response chunk by chunk with backpressure, mask any echo of the injected key, and hand a capture record
 * to the log writer.
 *
 * Secrets: the decrypted provider key exists only in this request's memory (the masker's copy and curl's
 * header list) for the duration of the upstream transfer; both are wiped by the pool cleanup hook.
 */
#include "app/gateway.h"
#include "app/metrics.h"
#include "auth/apikey.h"
#include "capture/capture.h"
#include "capture/usage.h"
#include "core/err.h"
#include "core/limits.h"
#include "core/log.h"
#include "crypto/crypto.h"
#include "guard/guard.h"
#include "limit/limiter.h"
#include "proxy/mask.h"
#include "proxy/budgetgate.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct proxy_req {
    ig_req_t *req;
    ig_reqstate_t *rs;
    const ig_provider_t *prov;
    struct curl_slist *hdrs;
    char *url;
    ig_buf_t pkey; /* decrypted provider key (stored mode), for masking */
    ig_xfer_t *x;
    ig_masker_t mask; /* masks echoes of the injected key in the response */
    ig_buf_t resp_copy;
    uint64_t t_headers_ns;
    int upstream_status;
    bool stream;
    bool finished;
    bool client_gone;
    bool secret_hdrs; /* the last header line holds the injected provider key */
    char *resp_ctype; /* the upstream's Content-Type (pool), for the log writer's redaction */
    /* the key's rate limits (0 = none) and what the limiter answered at admission */
    ig_limit_rule_t rpm, tpm;
    ig_limit_result_t r_rpm, r_tpm;
    int64_t tpm_estimate;
    ig_capture_budget_t budget; /* the call's reservation on its budgets (proxy/budgetgate.h) */
    ig_header_t lim_hdrs[5];    /* X-RateLimit-*, RateLimit-Policy, RateLimit (in lim_buf) */
    char lim_buf[384];          /* their values: 3 × 20 digits + 2 × 2 × ~70 bytes */
    size_t nlim_hdrs;
    ig_guard_result_t guard; /* what the request guardrails found and did (guard/guard.h) */
    /* the request's model and output-token cap (-1 = none), read once for the limits and the budgets */
    char model[IG_USAGE_MODEL_MAX + 1];
    int64_t max_tokens;
    int64_t choices;  /* answers the request asks for (n, best_of): the estimates count each */
    bool handed_over; /* the capture record (and with it the tokens to settle) went to the log writer */
} proxy_req_t;

static const ig_iov_t HOP_BY_HOP[] = {
    IG_IOV_LIT("connection"),
    IG_IOV_LIT("keep-alive"),
    IG_IOV_LIT("proxy-connection"),
    IG_IOV_LIT("proxy-authorization"),
    IG_IOV_LIT("proxy-authenticate"),
    IG_IOV_LIT("te"),
    IG_IOV_LIT("trailer"),
    IG_IOV_LIT("transfer-encoding"),
    IG_IOV_LIT("upgrade"),
    IG_IOV_LIT("host"),
    IG_IOV_LIT("content-length"),
    IG_IOV_LIT("expect"),
};

/* Response headers we set ourselves: an upstream copy is dropped. */
static const ig_iov_t OURS[] = {
    IG_IOV_LIT("date"),
    IG_IOV_LIT("x-content-type-options"),
    IG_IOV_LIT("x-frame-options"),
    IG_IOV_LIT("x-xss-protection"),
    IG_IOV_LIT("referrer-policy"),
    IG_IOV_LIT("permissions-policy"),
    IG_IOV_LIT("strict-transport-security"),
    IG_IOV_LIT("content-security-policy"),
    IG_IOV_LIT("x-ingate-request-id"),
    IG_IOV_LIT("alt-svc"),
    IG_IOV_LIT("set-cookie"),
};

static bool in_list(ig_iov_t name, const ig_iov_t *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ig_iov_ieq(name, list[i])) return true;
    return false;
}

/* true when `connection` lists `name` as hop-by-hop */
static bool nominated(ig_iov_t connection, ig_iov_t name)
{
    const char *p = connection.base, *end = p ? p + connection.len : NULL;
    while (p && p < end) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        const char *e = c ? c : end;
        if (ig_iov_ieq(ig_iov_trim(ig_iov(p, (size_t)(e - p))), name)) return true;
        p = c ? c + 1 : end;
    }
    return false;
}

static bool carries_ingate_key(ig_iov_t v)
{
    ig_iov_t t = ig_iov_trim(v);
    if (ig_iov_has_iprefix(t, IG_IOV_LIT("bearer "))) t = ig_iov_trim(ig_iov(t.base + 7, t.len - 7));
    return ig_iov_has_prefix(t, IG_IOV_LIT(IG_APIKEY_PREFIX));
}

static ig_iov_t limit_key(const ig_reqstate_t *rs, char kind, char buf[IG_LIMITER_KEY_MAX]);

static void pr_cleanup(void *arg)
{
    proxy_req_t *pr = arg;
    if (!pr->handed_over && pr->tpm_estimate > 0 && pr->rs->lc->gw->key_limiter) {
        /* refused after admission without going upstream (no provider, guardrail failure, ...): the tokens
         * charged up front come back; nothing else would settle them */
        char kb[IG_LIMITER_KEY_MAX];
        (void)ig_limiter_settle(pr->rs->lc->gw->key_limiter, limit_key(pr->rs, 't', kb), &pr->tpm,
                                -pr->tpm_estimate, (int64_t)ig_now_ns());
        pr->tpm_estimate = 0;
    }
    if (pr->x) {
        ig_xfer_cancel(pr->x);
        pr->x = NULL;
    }
    for (struct curl_slist *s = pr->hdrs; s && pr->secret_hdrs; s = s->next) /* the injected key's line */
        if (!s->next) ig_wipe(s->data, strlen(s->data));
    curl_slist_free_all(pr->hdrs);
    pr->hdrs = NULL;
    ig_buf_free(&pr->pkey, true);
    ig_buf_free(&pr->resp_copy, false);
    free(pr->url);
    pr->url = NULL;
    ig_mask_clear(&pr->mask);
}

static void capture_copy(proxy_req_t *pr, const char *p, size_t len)
{
    if (pr->resp_copy.max) ig_buf_append_trunc(&pr->resp_copy, p, len);
}

static int emit(void *ud, const char *p, size_t len)
{
    proxy_req_t *pr = ud;
    capture_copy(pr, p, len);
    return ig_resp_write(pr->req, p, len);
}

static int relay(proxy_req_t *pr, const char *p, size_t len)
{
    return ig_mask_feed(&pr->mask, p, len, emit, pr);
}

/* ----------------------------------------------------------------------------------------------------------
 */
/* upstream callbacks */

static int up_on_headers(void *ud, int status, const ig_header_t *hdrs, size_t n)
{
    proxy_req_t *pr = ud;
    ig_req_t *req = pr->req;
    pr->t_headers_ns = ig_now_ns();
    pr->upstream_status = status;
    ig_header_t *out = ig_pool_alloc(req->pool, (n + 1) * sizeof *out);
    if (!out) return IG_ENOMEM;
    size_t m = 0;
    int64_t clen = -1;
    ig_iov_t conn = IG_IOV_NULL;
    for (size_t i = 0; i < n; i++)
        if (ig_iov_ieq(hdrs[i].name, IG_IOV_LIT("connection"))) conn = hdrs[i].value;
    ig_iov_t key = pr->mask.secret;
    for (size_t i = 0; i < n; i++) {
        ig_iov_t name = hdrs[i].name;
        if (ig_iov_ieq(name, IG_IOV_LIT("content-length"))) {
            char tmp[32];
            size_t l = IG_MIN(hdrs[i].value.len, sizeof tmp - 1);
            memcpy(tmp, hdrs[i].value.base, l);
            tmp[l] = '\0';
            char *end = NULL;
            long long v = strtoll(tmp, &end, 10);
            if (end && *end == '\0' && l > 0 && v >= 0) clen = v;
            continue;
        }
        if (in_list(name, HOP_BY_HOP, IG_ARRAY_LEN(HOP_BY_HOP)) || in_list(name, OURS, IG_ARRAY_LEN(OURS)) ||
            nominated(conn, name))
            continue;
        /* the key's limit headers (req->resp_hdrs, added to every answer) replace an upstream's copy */
        bool dup = false;
        for (size_t k = 0; k < pr->nlim_hdrs && !dup; k++)
            dup = ig_iov_ieq(name, pr->lim_hdrs[k].name);
        if (dup) continue;
        /* header values are copied into the pool: they are only valid during this call */
        char *nm = ig_pool_iovdup(req->pool, name);
        char *val = ig_pool_iovdup(req->pool, hdrs[i].value);
        if (!nm || !val) return IG_ENOMEM;
        ig_mask_inplace(val, hdrs[i].value.len, key);
        ig_mask_inplace(nm, name.len, key);
        out[m].name = ig_iov(nm, name.len);
        out[m].value = ig_iov(val, hdrs[i].value.len);
        if (ig_iov_ieq(name, IG_IOV_LIT("content-type"))) {
            if (ig_iov_has_iprefix(hdrs[i].value, IG_IOV_LIT("text/event-stream"))) pr->stream = true;
            pr->resp_ctype = val;
        }
        m++;
    }
    if (ig_resp_start(req, status, out, m, clen) != IG_OK) return IG_EIO;
    return IG_OK;
}

static int up_on_data(void *ud, const char *p, size_t len)
{
    proxy_req_t *pr = ud;
    if (ig_resp_queued(pr->req) >= IG_CLIENT_OUTBUF_HIGH) return IG_EAGAIN; /* the client is slow: pause */
    return relay(pr, p, len) == IG_OK ? IG_OK : IG_EIO;
}

static void submit_capture(proxy_req_t *pr, int err)
{
    ig_req_t *req = pr->req;
    ig_reqstate_t *rs = pr->rs;
    ig_capture_rec_t *rec = calloc(1, sizeof *rec);
    if (!rec) return;
    uint64_t now = ig_now_ns();
    ig_callrec_t *m = &rec->meta;
    memcpy(m->id, req->id, sizeof m->id);
    snprintf(m->org_id, sizeof m->org_id, "%s", rs->auth.org->id);
    snprintf(m->key_prefix, sizeof m->key_prefix, "%s", rs->auth.hash_prefix);
    memcpy(m->key_id, rs->auth.key_id, sizeof m->key_id); /* the writer raises the key's last_used_at */
    snprintf(m->provider, sizeof m->provider, "%s", pr->prov->name);
    snprintf(m->method, sizeof m->method, "%s", req->method_name);
    rec->path = strndup(req->path.base, IG_MIN(req->path.len, (size_t)2048)); /* never the query */
    /* 499: the client closed the connection first (nginx's convention) */
    m->status = err == IG_EIO && pr->client_gone ? 499 : req->status ? req->status : ig_err_status(err);
    m->stream = pr->stream;
    m->latency_ms = (double)(now - req->t_start_ns) / 1e6;
    m->ttfb_ms = pr->t_headers_ns ? (double)(pr->t_headers_ns - req->t_start_ns) / 1e6 : 0;
    m->req_bytes = (int64_t)req->body.len;
    m->resp_bytes = (int64_t)req->resp_body_bytes;
    m->created_at = ig_wall_ms();
    if (err) rec->error = strdup(ig_err_code(err));
    /* the request body moves to the record (no copy), trimmed to the capture limit */
    size_t cap = rs->lc->gw->cfg->capture_max_bytes;
    rec->req_body = req->body;
    rec->req_capture_max = cap; /* the writer reads the model from the whole body, then trims it */
    m->req_truncated = rec->req_body.len > cap;
    ig_buf_init(&req->body, 0);
    rec->resp_body = pr->resp_copy;
    m->resp_truncated = (uint64_t)pr->resp_copy.len < req->resp_body_bytes;
    ig_buf_init(&pr->resp_copy, 0);
    /* attribution (validated at the start of the request), addresses and content types for the writer */
    ig_iov_t v = ig_req_header(req, IG_IOV_LIT("x-ingate-user-id"));
    if (v.base && v.len) rec->user_id = strndup(v.base, v.len);
    v = ig_req_header(req, IG_IOV_LIT("x-ingate-session-id"));
    if (v.base && v.len) rec->session_id = strndup(v.base, v.len);
    memcpy(rec->client_ip, rs->client_ip, sizeof rec->client_ip);
    if (pr->model[0]) rec->model = strdup(pr->model); /* read once already: the writer need not again */
    pr->handed_over = true;
    rec->tpm_limit = pr->tpm.limit; /* the writer replaces the estimate by the tokens the answer reports */
    memcpy(rec->lineage_id, rs->auth.lineage_id, sizeof rec->lineage_id);
    rec->tpm_estimate = pr->tpm_estimate;
    ig_budget_gate_hand_over(&pr->budget, rec); /* the writer settles it with the call's cost */
    v = ig_req_header(req, IG_IOV_LIT("content-type"));
    if (v.base && v.len) rec->req_ctype = strndup(v.base, IG_MIN(v.len, (size_t)128));
    if (pr->resp_ctype) rec->resp_ctype = strndup(pr->resp_ctype, 128);
    rec->guard = pr->guard;
    ig_metrics_request((size_t)(pr->prov - rs->lc->gw->providers.list), m->status, m->latency_ms,
                       err == IG_EUPSTREAM || err == IG_ETIMEOUT);
    ig_capture_submit(rec);
}

static void up_on_done(void *ud, int err, bool got_headers)
{
    proxy_req_t *pr = ud;
    ig_req_t *req = pr->req;
    pr->x = NULL;
    pr->finished = true;
    req->on_abort = NULL;
    req->on_writable = NULL;
    if (err == IG_OK && ig_mask_flush(&pr->mask, emit, pr) != IG_OK) err = IG_EIO;
    submit_capture(pr, err);
    if (err == IG_OK) {
        ig_resp_finish(req);
    } else if (!req->resp_started) {
        if (err != IG_ETIMEOUT) err = IG_EUPSTREAM;
        ig_resp_error(req, err, NULL);
    } else {
        ig_resp_abort(req); /* mid-stream failure: the client must not see a clean end */
    }
}

static void on_client_abort(ig_req_t *req)
{
    proxy_req_t *pr = req->ctx;
    if (pr->x) {
        ig_xfer_cancel(pr->x);
        pr->x = NULL;
    }
    if (!pr->finished) {
        pr->finished = true;
        pr->client_gone = true;
        submit_capture(pr, IG_EIO);
    }
}

static void on_client_writable(ig_req_t *req)
{
    proxy_req_t *pr = req->ctx;
    if (pr->x) ig_xfer_resume(pr->x);
}

/* ----------------------------------------------------------------------------------------------------------
 */

/* Appends "Name: value" (or "Name;" for an empty value, curl's syntax). A secret line is wiped from our
 * stack copy at once; curl's copy is wiped by the cleanup hook. */
static int add_header(struct curl_slist **list, ig_iov_t name, ig_iov_t value, bool secret)
{
    char line[IG_MAX_HEADER_BYTES + 8];
    size_t n = name.len + (value.len ? 2 + value.len : 1);
    if (n >= sizeof line) return IG_ETOOBIG;
    memcpy(line, name.base, name.len);
    if (value.len) {
        line[name.len] = ':';
        line[name.len + 1] = ' ';
        memcpy(line + name.len + 2, value.base, value.len);
    } else {
        line[name.len] = ';';
    }
    line[n] = '\0';
    struct curl_slist *l = curl_slist_append(*list, line);
    if (secret) ig_wipe(line, n);
    if (!l) return IG_ENOMEM;
    *list = l;
    return IG_OK;
}

static int suppress_header(struct curl_slist **list, const char *line)
{
    struct curl_slist *l = curl_slist_append(*list, line);
    if (!l) return IG_ENOMEM;
    *list = l;
    return IG_OK;
}

int ig_provider_key_aad(const char *org_id, const char *provider, char *out, size_t cap)
{
    int n = snprintf(out, cap, "ingate/provider-key/v1:%s:%s", org_id, provider);
    return n < 0 || (size_t)n >= cap ? IG_ETOOBIG : n;
}

static int build_headers(proxy_req_t *pr, const ig_provcred_t *cred)
{
    ig_req_t *req = pr->req;
    bool stored = cred && cred->auth_mode == IG_STORE_AUTH_STORED;
    ig_iov_t conn = ig_req_header(req, IG_IOV_LIT("connection"));
    ig_iov_t auth_hdr = ig_iov_str(pr->prov->auth_header);
    bool have_ctype = false;
    int rc = IG_OK;
    for (size_t i = 0; i < req->nhdrs && rc == IG_OK; i++) {
        ig_iov_t name = req->hdrs[i].name, value = req->hdrs[i].value;
        if (ig_iov_has_iprefix(name, IG_IOV_LIT("x-ingate-"))) continue;
        if (in_list(name, HOP_BY_HOP, IG_ARRAY_LEN(HOP_BY_HOP)) || nominated(conn, name)) continue;
        bool is_cred = ig_iov_ieq(name, IG_IOV_LIT("authorization")) ||
                       ig_iov_ieq(name, IG_IOV_LIT("x-api-key")) || ig_iov_ieq(name, IG_IOV_LIT("api-key")) ||
                       (auth_hdr.len && ig_iov_ieq(name, auth_hdr));
        if (is_cred && (stored || carries_ingate_key(value))) continue; /* never forward our credential */
        if (ig_iov_ieq(name, IG_IOV_LIT("content-type"))) have_ctype = true;
        rc = add_header(&pr->hdrs, name, value, false);
    }
    /* "Name:" tells curl not to send a header of its own */
    if (rc == IG_OK && !have_ctype) rc = suppress_header(&pr->hdrs, "Content-Type:");
    if (rc == IG_OK) rc = suppress_header(&pr->hdrs, "Expect:");
    if (rc == IG_OK && !ig_req_header(req, IG_IOV_LIT("accept")).base)
        rc = suppress_header(&pr->hdrs, "Accept:");
    if (rc != IG_OK || !stored || !auth_hdr.len) return rc;

    /* stored key: decrypt only now, inject, and keep it only for masking until the transfer ends */
    char aad[160];
    int alen = ig_provider_key_aad(pr->rs->auth.org->id, cred->provider, aad, sizeof aad);
    if (alen < 0) return IG_EINTERNAL;
    ig_buf_init_secret(&pr->pkey, 4096);
    rc = ig_open(pr->rs->lc->gw->provider_dek, ig_iov(aad, (size_t)alen),
                 ig_iov((const char *)cred->secret, cred->secret_len), &pr->pkey);
    if (rc != IG_OK) {
        IG_ERROR("proxy", "provider key of org %s for %s does not decrypt (wrong master key?)",
                 pr->rs->auth.org->id, cred->provider);
        return IG_EINTERNAL;
    }
    char val[4400];
    size_t vlen = 0;
    pr->mask.secret = ig_buf_iov(&pr->pkey);
    rc = ig_provider_auth_value(pr->prov, ig_buf_iov(&pr->pkey), val, sizeof val, &vlen);
    if (rc == IG_OK) rc = add_header(&pr->hdrs, auth_hdr, ig_iov(val, vlen), true);
    if (rc == IG_OK) pr->secret_hdrs = true;
    ig_wipe(val, sizeof val);
    return rc;
}

/* true when a path segment is "." or ".." (also percent-encoded): such a path could climb out of a provider's
 * configured base path (e.g. from one Azure deployment into another) */
static bool has_dot_segment(ig_iov_t path)
{
    const char *p = path.base, *end = path.base + path.len;
    while (p < end) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        const char *e = slash ? slash : end;
        size_t dots = 0;
        bool only_dots = e > p;
        for (const char *q = p; q < e;) {
            if (*q == '.') {
                dots++;
                q++;
            } else if (e - q >= 3 && q[0] == '%' && q[1] == '2' && (q[2] == 'e' || q[2] == 'E')) {
                dots++;
                q += 3;
            } else {
                only_dots = false;
                break;
            }
        }
        if (only_dots && dots >= 1 && dots <= 2) return true;
        p = slash ? slash + 1 : end;
    }
    return false;
}

/* ----------------------------------------------------------------------------------------------------------
 */
/* per-key rate limits (limit/limiter.h, docs/limits.md) */

/* The limiter's key of a rule of an ingate key: "<key id>:r" (requests) or "<key id>:t" (tokens). */
static ig_iov_t limit_key(const ig_reqstate_t *rs, char kind, char buf[IG_LIMITER_KEY_MAX])
{
    return ig_limiter_key(buf, rs->auth.lineage_id, kind); /* a rotated key counts on */
}

static int64_t secs_up(int64_t ms)
{
    return ms <= 0 ? 0 : (ms + 999) / 1000;
}

/* Appends the decimal v (≥ 0) at *p, two digits per division. */
static void put_i64(char **p, int64_t v)
{
    static const char d2[] =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
        "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
        "8081828384858687888990919293949596979899";
    char t[24], *e = t + sizeof t, *w = e;
    uint64_t u = (uint64_t)v;
    while (u >= 100) {
        unsigned r = (unsigned)(u % 100);
        u /= 100;
        *--w = d2[2 * r + 1];
        *--w = d2[2 * r];
    }
    if (u >= 10) {
        *--w = d2[2 * u + 1];
        *--w = d2[2 * u];
    } else {
        *--w = (char)('0' + u);
    }
    memcpy(*p, w, (size_t)(e - w));
    *p += e - w;
}

static void put_str(char **p, const char *s)
{
    size_t n = strlen(s);
    memcpy(*p, s, n);
    *p += n;
}

/* The limit headers into pr->lim_hdrs (one pool block; no snprintf on this per-call path). X-RateLimit-*
 * describe the requests limit when there is one (else the tokens limit), or the limit that refused;
 * RateLimit-Policy / RateLimit (IETF httpapi draft, structured fields) list every limit of the key.
 * refused: NULL, or the rule and result that refused (remaining 0). */
static int limit_headers(proxy_req_t *pr, const ig_limit_rule_t *refused_rule, const ig_limit_result_t *r_ref)
{
    const ig_limit_result_t *x = r_ref ? r_ref : pr->rpm.limit ? &pr->r_rpm : &pr->r_tpm;
    char *p = pr->lim_buf;
    char *v[5];
    v[0] = p;
    put_i64(&p, x->limit);
    v[1] = p;
    put_i64(&p, r_ref ? 0 : IG_MAX(x->remaining, 0));
    v[2] = p;
    put_i64(&p, secs_up(x->reset_ms));
    const ig_limit_rule_t *rules[2] = {&pr->rpm, &pr->tpm};
    const ig_limit_result_t *res[2] = {&pr->r_rpm, &pr->r_tpm};
    static const char *const names[2] = {"\"requests\"", "\"tokens\""};
    v[3] = p; /* RateLimit-Policy */
    for (int i = 0; i < 2; i++) {
        if (!rules[i]->limit) continue;
        if (p != v[3]) put_str(&p, ", ");
        put_str(&p, names[i]);
        put_str(&p, ";q=");
        put_i64(&p, rules[i]->limit);
        put_str(&p, ";w=");
        put_i64(&p, rules[i]->period_ms / 1000);
    }
    v[4] = p; /* RateLimit */
    for (int i = 0; i < 2; i++) {
        if (!rules[i]->limit) continue;
        bool refused = refused_rule == rules[i];
        if (p != v[4]) put_str(&p, ", ");
        put_str(&p, names[i]);
        put_str(&p, ";r=");
        put_i64(&p, refused ? 0 : IG_MAX(res[i]->remaining, 0));
        put_str(&p, ";t=");
        put_i64(&p, secs_up(refused ? res[i]->retry_after_ms : res[i]->reset_ms));
    }
    char *end = p;
    static const ig_iov_t hn[5] = {IG_IOV_LIT("X-RateLimit-Limit"), IG_IOV_LIT("X-RateLimit-Remaining"),
                                   IG_IOV_LIT("X-RateLimit-Reset"), IG_IOV_LIT("RateLimit-Policy"),
                                   IG_IOV_LIT("RateLimit")};
    for (int i = 0; i < 5; i++)
        pr->lim_hdrs[i] = (ig_header_t){hn[i], ig_iov(v[i], (size_t)((i < 4 ? v[i + 1] : end) - v[i]))};
    pr->nlim_hdrs = 5;
    return IG_OK;
}

/* 429 for a call its key's limit refused: nothing goes upstream. */
static void refuse(proxy_req_t *pr, const ig_limit_rule_t *rule, const ig_limit_result_t *r)
{
    ig_metrics_key_limited(rule == &pr->tpm);
    pr->finished = true;
    size_t nh = limit_headers(pr, rule, r) == IG_OK ? pr->nlim_hdrs : 0;
    ig_resp_rate_limited(pr->req, secs_up(r->retry_after_ms), pr->lim_hdrs, nh);
}

/* Whether a call can generate billable tokens: a POST, except the endpoints providers do not bill (token
 * counting, moderation). Other calls (GET /v1/models, GET /v1/responses/{id}, DELETE ...) are neither charged
 * tokens nor reserved on budgets: reading a stored answer must not charge it again. */
static bool billable(const ig_req_t *req)
{
    static const ig_iov_t FREE[] = {IG_IOV_LIT("/v1/messages/count_tokens"), IG_IOV_LIT("/v1/moderations"),
                                    IG_IOV_LIT("/v1/responses/input_tokens")};
    if (strcmp(req->method_name, "POST") != 0) return false;
    for (size_t i = 0; i < IG_ARRAY_LEN(FREE); i++)
        if (ig_iov_eq(req->path, FREE[i])) return false;
    return true;
}

/* Applies the key's limits (its own, else its org's defaults). true: admitted (pr->lim_hdrs ready, or no
 * limit); false: the answer (429, or 503 when the limiter cannot be reached: never fail open) was sent. */
static bool admit(proxy_req_t *pr)
{
    ig_reqstate_t *rs = pr->rs;
    ig_limiter_t *l = rs->lc->gw->key_limiter;
    int64_t rpm = rs->auth.rpm_limit ? rs->auth.rpm_limit : rs->auth.org->rpm_limit;
    int64_t tpm = rs->auth.tpm_limit ? rs->auth.tpm_limit : rs->auth.org->tpm_limit;
    if ((!rpm && !tpm) || !l) return true;
    char kb[IG_LIMITER_KEY_MAX];
    int64_t now = (int64_t)ig_now_ns();
    int rc = IG_OK;
    if (rpm) {
        pr->rpm = (ig_limit_rule_t){rpm, 60000};
        rc = ig_limiter_take(l, limit_key(rs, 'r', kb), &pr->rpm, 1, now, &pr->r_rpm);
        if (rc == IG_OK && !pr->r_rpm.allowed) {
            refuse(pr, &pr->rpm, &pr->r_rpm);
            return false;
        }
    }
    if (rc == IG_OK && tpm) {
        pr->tpm = (ig_limit_rule_t){tpm, 60000};
        /* max_tokens estimates the call until the answer reports its usage; a request asking for more than
         * the whole minute is charged the whole minute (it could never be admitted otherwise) */
        pr->tpm_estimate =
            billable(pr->req)
                ? IG_MIN((pr->max_tokens > 0 ? pr->max_tokens : IG_TPM_DEFAULT_ESTIMATE) * pr->choices, tpm)
                : 0;
        rc = ig_limiter_take(l, limit_key(rs, 't', kb), &pr->tpm, pr->tpm_estimate, now, &pr->r_tpm);
        if (rc == IG_OK && !pr->r_tpm.allowed) {
            if (rpm) (void)ig_limiter_settle(l, limit_key(rs, 'r', kb), &pr->rpm, -1, now); /* not sent */
            refuse(pr, &pr->tpm, &pr->r_tpm);
            pr->tpm_estimate = 0;
            return false;
        }
    }
    if (rc != IG_OK) {
        IG_ERROR("proxy", "rate limiter unavailable (%s): call refused", ig_err_name(rc));
        pr->finished = true;
        ig_resp_error(pr->req, IG_EUNAVAILABLE, "rate limiter unavailable");
        return false;
    }
    if (limit_headers(pr, NULL, NULL) != IG_OK) {
        pr->finished = true;
        ig_resp_error(pr->req, IG_ENOMEM, NULL);
        return false;
    }
    /* admitted: every answer from here on — relayed, or the gateway's own (upstream failure, guardrail,
     * budget, provider errors) — describes the key's limits */
    pr->req->resp_hdrs = pr->lim_hdrs;
    pr->req->nresp_hdrs = pr->nlim_hdrs;
    return true;
}

/* A take's result once `units` were given back (the limiter moves TAT back by units × the emission interval,
 * never below now), so the headers of a call refused later describe the key as it is left. */
static void give_back(ig_limit_result_t *r, const ig_limit_rule_t *rule, int64_t units)
{
    r->remaining = IG_MIN(r->remaining + units, rule->limit);
    r->reset_ms = IG_MAX(r->reset_ms - units * rule->period_ms / rule->limit, 0);
}

/* Gives back what admit() took, for a call refused afterwards without going upstream (its budget), and
 * updates the limit headers its answer carries. */
static void unadmit(void *arg)
{
    proxy_req_t *pr = arg;
    ig_limiter_t *l = pr->rs->lc->gw->key_limiter;
    char kb[IG_LIMITER_KEY_MAX];
    int64_t now = (int64_t)ig_now_ns();
    pr->finished = true;
    if (!l) return;
    if (pr->rpm.limit) {
        (void)ig_limiter_settle(l, limit_key(pr->rs, 'r', kb), &pr->rpm, -1, now);
        give_back(&pr->r_rpm, &pr->rpm, 1);
    }
    if (pr->tpm.limit && pr->tpm_estimate) {
        (void)ig_limiter_settle(l, limit_key(pr->rs, 't', kb), &pr->tpm, -pr->tpm_estimate, now);
        give_back(&pr->r_tpm, &pr->tpm, pr->tpm_estimate);
    }
    pr->tpm_estimate = 0;
    if (pr->nlim_hdrs) (void)limit_headers(pr, NULL, NULL); /* in place; on failure the admission's stay */
}

/* ----------------------------------------------------------------------------------------------------------
 */
/* request guardrails (guard/guard.h, docs/guardrails.md) */

/* Whether a body means to be JSON: its first byte after an optional UTF-8 BOM and whitespace is { or [. */
static bool looks_like_json(ig_iov_t b)
{
    size_t i = b.len >= 3 && memcmp(b.base, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    while (i < b.len && (b.base[i] == ' ' || b.base[i] == '\t' || b.base[i] == '\r' || b.base[i] == '\n'))
        i++;
    return i < b.len && (b.base[i] == '{' || b.base[i] == '[');
}

/* Counts what each guard did with the call (ingate_guardrail_actions_total): PII found → block (the call was
 * refused for it), redact (forwarded with typed tokens) or log_only; an injection score at or above the
 * threshold → block (refused as injection) or log_only (forwarded). A call refused for PII is not counted
 * for injection: that guard did not decide its fate. */
static void count_guard(const proxy_req_t *pr, const ig_guardset_t *set)
{
    const ig_guard_result_t *g = &pr->guard;
    bool pii = false;
    for (int i = 0; i < IG_PII_NTYPES; i++)
        pii = pii || g->pii.n[i] > 0;
    if (pii)
        ig_metrics_guardrail(IG_METRICS_GUARD_PII, g->blocked_by == IG_EPII      ? IG_METRICS_GUARD_BLOCK
                                                   : set->pii == IG_GUARD_REDACT ? IG_METRICS_GUARD_REDACT
                                                                                 : IG_METRICS_GUARD_LOG_ONLY);
    if (g->injection_ran && g->injection.score >= g->threshold && g->blocked_by != IG_EPII)
        ig_metrics_guardrail(IG_METRICS_GUARD_INJECTION, g->blocked_by == IG_EINJECTION
                                                             ? IG_METRICS_GUARD_BLOCK
                                                             : IG_METRICS_GUARD_LOG_ONLY);
}

/* Runs the org's guardrails over the buffered request body. true: go on upstream (req->body is now the
 * redacted copy when PII was redacted: curl sends its length as Content-Length); false: the answer was sent
 * (400 pii_detected / injection_detected, logged with the findings; 413 when the redacted body outgrows its
 * ceiling; 503 when the org's patterns are unusable). Runs on the loop thread: docs/guardrails.md gives its
 * cost per MB. */
static bool guard(proxy_req_t *pr)
{
    ig_req_t *req = pr->req;
    const ig_orgsnap_t *org = pr->rs->auth.org;
    if (org->guard.pii == IG_GUARD_OFF && org->guard.injection == IG_GUARD_OFF) return true;
    /* a compressed body cannot be screened: it would pass as text that matches nothing (fail closed) */
    ig_iov_t enc = ig_iov_trim(ig_req_header(req, IG_IOV_LIT("content-encoding")));
    if (enc.len && !ig_iov_ieq(enc, IG_IOV_LIT("identity"))) {
        pr->finished = true;
        ig_resp_error(req, IG_EENCODING, NULL);
        return false;
    }
    if (org->guard.pii != IG_GUARD_OFF && !org->guard_redactor) {
        pr->finished = true;
        ig_resp_error(req, IG_EUNAVAILABLE, "the org's guardrails are unavailable");
        return false;
    }
    /* typed tokens are longer than most matches: room for the body to grow, under a ceiling */
    ig_buf_t red;
    ig_buf_init_secret(&red, IG_MAX(req->body.len * 4, (size_t)64 * 1024));
    int rc = ig_guard_run(&org->guard, org->guard_redactor, ig_buf_iov(&req->body), &red, &pr->guard);
    if (rc) {
        ig_buf_free(&red, true);
        IG_WARN("proxy", "guardrails failed (%s): call refused", ig_err_name(rc));
        pr->finished = true;
        ig_resp_error(req, rc == IG_ETOOBIG ? IG_ETOOBIG : IG_EINTERNAL, NULL);
        return false;
    }
    if (pr->guard.action != IG_GUARD_ACT_BLOCKED && !pr->guard.json &&
        looks_like_json(ig_buf_iov(&req->body)) &&
        (org->guard.pii == IG_GUARD_REDACT || org->guard.pii == IG_GUARD_BLOCK ||
         org->guard.injection == IG_GUARD_BLOCK)) {
        /* JSON our walker refuses (a BOM, NaN, a syntax error) that a lenient upstream parser might still
         * read: its escaped values (\u0040 ...) were scanned as raw text only. A guardrail that must block or
         * redact refuses it rather than forward what it could not screen (fail closed). */
        ig_buf_free(&red, true);
        memset(&pr->guard, 0, sizeof pr->guard);
        pr->finished = true;
        ig_resp_error(req, IG_EBADJSON,
                      "the request body is not valid JSON, so the org's guardrails cannot screen it");
        return false;
    }
    count_guard(pr, &org->guard);
    if (pr->guard.rewritten) { /* forwarded (redact) or logged (block): the body with typed tokens */
        ig_buf_t orig = req->body;
        req->body = red;
        ig_buf_init(&red, 0);
        ig_buf_free(&orig, true);
    }
    ig_buf_free(&red, true);
    if (pr->guard.action != IG_GUARD_ACT_BLOCKED) return true;
    ig_buf_t b;
    ig_buf_init(&b, 1024);
    pr->finished = true;
    submit_capture(pr, pr->guard.blocked_by);
    if (ig_guard_error_json(&pr->guard, req->id, &b) == IG_OK)
        ig_resp_json(req, ig_err_status(pr->guard.blocked_by), b.data, b.len);
    else
        ig_resp_error(req, pr->guard.blocked_by, NULL);
    ig_buf_free(&b, false);
    return false;
}

void ig_proxy_handle(ig_req_t *req, ig_reqstate_t *rs)
{
    ig_gateway_t *gw = rs->lc->gw;
    int err = IG_OK;
    proxy_req_t *pr = ig_pool_calloc(req->pool, sizeof *pr);
    if (!pr || ig_pool_cleanup_add(req->pool, pr_cleanup, pr) != IG_OK) {
        ig_resp_error(req, IG_ENOMEM, NULL);
        return;
    }
    pr->req = req;
    pr->rs = rs;
    req->ctx = pr;
    ig_buf_init(&pr->resp_copy, gw->cfg->capture_max_bytes);

    if (has_dot_segment(req->path) || req->path.len == 0 || req->path.base[0] != '/') {
        ig_resp_error(req, IG_EBADPATH, NULL);
        return;
    }
    /* end-user and session attribution: logged (redacted, encrypted), never forwarded */
    if (ig_req_header(req, IG_IOV_LIT("x-ingate-user-id")).len > IG_MAX_ATTRIBUTION_LEN) {
        ig_resp_error(req, IG_EINVAL, "X-Ingate-User-Id is longer than 256 bytes");
        return;
    }
    if (ig_req_header(req, IG_IOV_LIT("x-ingate-session-id")).len > IG_MAX_ATTRIBUTION_LEN) {
        ig_resp_error(req, IG_EINVAL, "X-Ingate-Session-Id is longer than 256 bytes");
        return;
    }
    /* the body's model and max_tokens, in one pass: the limits and the budgets need them */
    pr->max_tokens = ig_usage_request_fields(ig_buf_iov(&req->body), pr->model, &pr->choices);
    /* rate limits before anything else is looked at: a refused call costs nothing and reaches nobody */
    if (!admit(pr)) return;
    /* budgets next: the call's worst-case cost is reserved, or it is refused (429) without going upstream */
    /* n answers cost n times the output: the worst case counts every one of them */
    int64_t out_tokens = (pr->max_tokens > 0 ? pr->max_tokens : IG_BUDGET_DEFAULT_MAX_TOKENS) * pr->choices;
    if (billable(req) && !ig_budget_gate_admit(req, rs, pr->model, out_tokens, &pr->budget, unadmit, pr))
        return; /* refused: unadmit() gave back what the rate limits took before the answer went out */
    /* provider: header, else path, else the org's default */
    ig_iov_t name = ig_req_header(req, IG_IOV_LIT("x-ingate-provider"));
    if (!name.base || name.len == 0) {
        const char *p = ig_provider_for_path(req->path);
        if (p)
            name = ig_iov_str(p);
        else if (rs->auth.org->default_provider[0])
            name = ig_iov_str(rs->auth.org->default_provider);
    }
    if (!name.base || name.len == 0) {
        ig_resp_error(req, IG_ENOPROVIDER, NULL);
        return;
    }
    pr->prov = ig_providers_find(&gw->providers, name);
    if (!pr->prov) {
        ig_resp_error(req, IG_EBADPROVIDER, NULL);
        return;
    }
    const ig_provcred_t *cred = ig_orgsnap_cred(rs->auth.org, ig_iov_str(pr->prov->name));
    if (pr->prov->auth_header[0] && (!cred || (cred->auth_mode == IG_STORE_AUTH_STORED && !cred->secret))) {
        ig_resp_error(req, IG_ENOPROVIDERKEY, NULL);
        return;
    }
    if (!guard(pr)) return;
    err = build_headers(pr, cred);
    if (err) goto fail;
    size_t blen = strlen(pr->prov->base_url);
    pr->url = malloc(blen + req->url.len + 1);
    if (!pr->url) {
        err = IG_ENOMEM;
        goto fail;
    }
    memcpy(pr->url, pr->prov->base_url, blen);
    memcpy(pr->url + blen, req->url.base, req->url.len);
    pr->url[blen + req->url.len] = '\0';

    ig_xfer_req_t xr = {
        .method = req->method_name,
        .url = pr->url,
        .headers = pr->hdrs,
        .body = req->body.data,
        .body_len = req->body.len,
        .connect_timeout_ms = pr->prov->connect_ms,
        .first_byte_timeout_ms = pr->prov->first_byte_ms,
        .chunk_timeout_ms = pr->prov->chunk_ms,
    };
    static const ig_xfer_cbs_t cbs = {up_on_headers, up_on_data, up_on_done};
    req->on_abort = on_client_abort;
    req->on_writable = on_client_writable;
    pr->x = ig_xfer_start(rs->lc->up, &xr, &cbs, pr);
    if (!pr->x) {
        req->on_abort = NULL;
        req->on_writable = NULL;
        err = IG_EUPSTREAM;
        goto fail;
    }
    return;
fail:
    pr->finished = true;
    submit_capture(pr, err);
    ig_resp_error(req, err, NULL);
}

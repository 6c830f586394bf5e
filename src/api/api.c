/*
 * api.c — management API routes: the route table, its dispatcher, and the keys and providers resources.
 *
 * A handler parses and validates on the loop thread (small, bounded JSON), copies what the store work needs
 * into a job, and the job runs on a worker with that worker's store handle. The job never touches request
 * memory: if the client goes away meanwhile, the job completes and its result is dropped.
 */
#include "api/api.h"
#include "auth/apikey.h"
#include "core/err.h"
#include "core/json.h"
#include "core/limits.h"
#include "core/log.h"
#include "crypto/crypto.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define API_MAX_KEYS 10000

typedef struct api_job api_job_t;
typedef void (*api_work_fn)(api_job_t *j, ig_store_t *st);

struct api_job {
    ig_req_t *req;
    bool cancelled;
    api_work_fn work;
    const ig_gateway_t *gw;
    /* inputs (copied) */
    char org_id[33];
    int role;
    char param[65];
    char name[129];
    int want_role;
    int64_t expires_at;
    int auth_mode;
    int64_t cursor; /* audit paging */
    int limit;
    char *secret; /* provider key (wiped and freed) */
    size_t secret_len;
    char actor[65]; /* "key:<id>" of the caller */
    char request_id[37];
    char source_ip[46];
    /* outputs */
    int status;
    int err;
    const char *msg;
    ig_buf_t out;
};

static const char *const ROLE_NAMES[] = {"viewer", "member", "admin", "owner"};

static int parse_role(const char *s, size_t len)
{
    for (int i = 0; i < 4; i++)
        if (strlen(ROLE_NAMES[i]) == len && memcmp(ROLE_NAMES[i], s, len) == 0) return i;
    return -1;
}

/* ----------------------------------------------------------------------------------------------------------
 */
/* responses */

static void send_error(ig_req_t *req, int status, const char *code, const char *msg, const char *field)
{
    ig_buf_t b;
    ig_buf_init(&b, 4096);
    int rc = ig_buf_appendf(&b, "{\"error\":\"%s\",\"error_code\":\"%s\"", msg, code);
    if (rc == IG_OK && field) rc = ig_buf_appendf(&b, ",\"field\":\"%s\"", field);
    if (rc == IG_OK) rc = ig_buf_appendf(&b, ",\"request_id\":\"%s\"}", req->id);
    if (rc == IG_OK)
        ig_resp_json(req, status, b.data, b.len);
    else
        ig_resp_error(req, IG_ENOMEM, NULL);
    ig_buf_free(&b, false);
}

static void bad_field(ig_req_t *req, const char *field, const char *msg)
{
    send_error(req, 400, "invalid_request", msg, field);
}

static void job_free(api_job_t *j)
{
    if (j->secret) {
        ig_wipe(j->secret, j->secret_len);
        free(j->secret);
    }
    ig_buf_free(&j->out, true);
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
    j->work(j, w->st);
}

static void job_done(void *arg)
{
    api_job_t *j = arg;
    if (!j->cancelled) {
        ig_req_t *req = j->req;
        req->on_abort = NULL;
        req->ctx = NULL;
        if (j->err == IG_ENOTFOUND)
            send_error(req, 404, "not_found", j->msg ? j->msg : "not found", NULL);
        else if (j->err == IG_EFORBIDDEN)
            send_error(req, 403, "forbidden", j->msg ? j->msg : "your role does not allow this", NULL);
        else if (j->err == IG_ECONFLICT)
            send_error(req, 409, "conflict", j->msg ? j->msg : "conflict", NULL);
        else if (j->err)
            send_error(req, ig_err_status(j->err) >= 500 ? ig_err_status(j->err) : 500, ig_err_code(j->err),
                       ig_err_message(j->err), NULL);
        else
            ig_resp_json(req, j->status ? j->status : 200, j->out.data ? j->out.data : "{}",
                         j->out.data ? j->out.len : 2);
    }
    job_free(j);
}

static api_job_t *job_new(ig_req_t *req, ig_reqstate_t *rs, api_work_fn work)
{
    api_job_t *j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->req = req;
    j->work = work;
    j->gw = rs->lc->gw;
    memcpy(j->org_id, rs->auth.org->id, sizeof j->org_id);
    j->role = rs->auth.role;
    snprintf(j->actor, sizeof j->actor, "key:%s", rs->auth.key_id);
    memcpy(j->request_id, req->id, sizeof j->request_id);
    snprintf(j->source_ip, sizeof j->source_ip, "%s", req->peer_ip ? req->peer_ip : "");
    ig_buf_init(&j->out, 4u * 1024 * 1024);
    return j;
}

static void job_submit(ig_req_t *req, ig_reqstate_t *rs, api_job_t *j)
{
    req->ctx = j;
    req->on_abort = job_abort;
    if (ig_work_submit(rs->lc->gw->pool, &rs->lc->loop, job_work, job_done, j) != IG_OK) {
        req->on_abort = NULL;
        req->ctx = NULL;
        job_free(j);
        ig_resp_error(req, IG_EUNAVAILABLE, NULL);
    }
}

/* A job without inputs beyond the caller's org and role (listings). */
static void run_simple(ig_req_t *req, ig_reqstate_t *rs, api_work_fn work)
{
    api_job_t *j = job_new(req, rs, work);
    if (!j) {
        ig_resp_error(req, IG_ENOMEM, NULL);
        return;
    }
    job_submit(req, rs, j);
}

/* Parses the request body strictly as a JSON object. On failure the response is sent and NULL returned. */
static cJSON *body_object(ig_req_t *req)
{
    cJSON *doc = NULL;
    const char *why = NULL;
    ig_json_limits_t lim = {IG_API_MAX_BODY_BYTES, 16};
    int rc = ig_json_parse(ig_buf_iov(&req->body), &lim, &doc, &why);
    if (rc == IG_ETOOBIG) {
        send_error(req, 413, "payload_too_large", "the request body is too large", NULL);
        return NULL;
    }
    if (rc != IG_OK || !cJSON_IsObject(doc)) {
        cJSON_Delete(doc);
        send_error(req, 400, "invalid_json", why ? why : "the request body must be a JSON object", NULL);
        return NULL;
    }
    return doc;
}

/* ----------------------------------------------------------------------------------------------------------
 */
/* keys */

static void key_json(ig_buf_t *b, const ig_keyrec_t *k)
{
    ig_buf_appendf(b, "{\"id\":\"%s\",\"name\":", k->id);
    ig_json_append_str(b, ig_iov_str(k->name));
    ig_buf_appendf(b,
                   ",\"hash_prefix\":\"%s\",\"role\":\"%s\",\"created_at\":%lld,\"expires_at\":%lld,"
                   "\"revoked\":%s}",
                   k->hash_prefix, ROLE_NAMES[k->role & 3], (long long)k->created_at,
                   (long long)k->expires_at, k->revoked_at ? "true" : "false");
}

/* Records a state change in the org's audit log (ids and action names only, never a secret). A failed append
 * is logged but does not undo the change already made. */
static void audit(api_job_t *j, ig_store_t *st, const char *action, const char *target)
{
    int rc =
        ig_store_audit_append(st, j->org_id, j->actor, action, target, j->source_ip, j->request_id, NULL);
    if (rc) IG_ERROR("api", "audit entry %s for org %s not written (%s)", action, j->org_id, ig_err_name(rc));
}

/* The org's keys (up to API_MAX_KEYS, oldest first) in a malloc'd array; NULL with j->err set on failure. */
static ig_keyrec_t *org_keys(api_job_t *j, ig_store_t *st, size_t *n)
{
    ig_keyrec_t *ks = calloc(API_MAX_KEYS, sizeof *ks);
    if (!ks) {
        j->err = IG_ENOMEM;
        return NULL;
    }
    int rc = ig_store_key_list(st, j->org_id, ks, API_MAX_KEYS, n);
    if (rc && rc != IG_ETOOBIG) {
        j->err = rc;
        free(ks);
        return NULL;
    }
    return ks;
}

static void work_keys_list(api_job_t *j, ig_store_t *st)
{
    size_t n = 0;
    ig_keyrec_t *ks = org_keys(j, st, &n);
    if (!ks) return;
    ig_buf_append(&j->out, "{\"keys\":[", 9);
    for (size_t i = 0; i < n; i++) {
        if (i) ig_buf_append(&j->out, ",", 1);
        key_json(&j->out, &ks[i]);
    }
    ig_buf_append(&j->out, "]}", 2);
    free(ks);
}

static void work_keys_create(api_job_t *j, ig_store_t *st)
{
    char key[IG_APIKEY_LEN + 1];
    uint8_t hash[32];
    char prefix[13];
    ig_keyrec_t kr;
    if (ig_apikey_generate(key) != IG_OK) {
        j->err = IG_ECRYPTO;
        return;
    }
    ig_apikey_hash(ig_iov(key, IG_APIKEY_LEN), hash);
    ig_apikey_hash_prefix(hash, prefix);
    int rc = ig_store_key_create(st, j->org_id, hash, prefix, j->name[0] ? j->name : NULL, j->want_role,
                                 j->expires_at, &kr);
    if (rc) {
        ig_wipe(key, sizeof key);
        j->err = rc;
        return;
    }
    ig_authcache_invalidate_key(hash); /* drops a remembered "unknown" answer for this hash */
    audit(j, st, "key.create", kr.id);
    j->status = 201;
    ig_buf_append(&j->out, "{\"key\":", 7);
    key_json(&j->out, &kr);
    /* the raw key, shown once; the response buffer is wiped when freed */
    ig_buf_appendf(&j->out, ",\"api_key\":\"%s\"}", key);
    ig_wipe(key, sizeof key);
}

static void work_keys_revoke(api_job_t *j, ig_store_t *st)
{
    size_t n = 0;
    ig_keyrec_t *ks = org_keys(j, st, &n);
    const ig_keyrec_t *k = NULL;
    int rc;
    if (!ks) return;
    for (size_t i = 0; i < n && !k; i++)
        if (strcmp(ks[i].id, j->param) == 0) k = &ks[i];
    if (!k) {
        j->err = IG_ENOTFOUND; /* also for another org's key: same answer as a missing one */
        free(ks);
        return;
    }
    if (k->role > j->role) {
        j->err = IG_EFORBIDDEN;
        j->msg = "you cannot revoke a key with a role above your own";
        free(ks);
        return;
    }
    ig_keyrec_t out;
    rc = ig_store_key_revoke(st, j->org_id, k->id, &out);
    free(ks);
    if (rc) {
        j->err = rc;
        return;
    }
    ig_authcache_invalidate_key(out.key_hash); /* refused on the very next request, on every thread */
    audit(j, st, "key.revoke", out.id);
    ig_buf_append(&j->out, "{\"key\":", 7);
    key_json(&j->out, &out);
    ig_buf_append(&j->out, "}", 1);
}

static void h_keys_list(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    run_simple(req, rs, work_keys_list);
}

static void h_keys_create(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    cJSON *doc = body_object(req);
    if (!doc) return;
    static const char *const allowed[] = {"name", "role", "expires_at", NULL};
    const char *bad = NULL, *s = NULL;
    size_t len = 0;
    int64_t exp = 0;
    int want = rs->auth.role < IG_STORE_ROLE_MEMBER ? rs->auth.role : IG_STORE_ROLE_MEMBER;
    api_job_t *j = NULL;
    if (ig_json_only_keys(doc, allowed, &bad) != IG_OK) {
        bad_field(req, bad, "unknown field");
        goto out;
    }
    int rc = ig_json_get_str(doc, "name", &s, &len);
    if (rc == IG_EINVAL || (rc == IG_OK && (len > 128))) {
        bad_field(req, "name", "name must be a string of at most 128 bytes");
        goto out;
    }
    j = job_new(req, rs, work_keys_create);
    if (!j) {
        ig_resp_error(req, IG_ENOMEM, NULL);
        goto out;
    }
    if (rc == IG_OK) {
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)s[i] < 0x20) {
                bad_field(req, "name", "name may not contain control characters");
                goto out;
            }
        memcpy(j->name, s, len);
        j->name[len] = '\0';
    }
    rc = ig_json_get_str(doc, "role", &s, &len);
    if (rc == IG_OK) {
        want = parse_role(s, len);
        if (want < 0) {
            bad_field(req, "role", "role must be viewer, member, admin or owner");
            goto out;
        }
    } else if (rc != IG_ENOTFOUND) {
        bad_field(req, "role", "role must be a string");
        goto out;
    }
    if (want > rs->auth.role) {
        send_error(req, 403, "forbidden", "a key cannot have a role above your own", "role");
        goto out;
    }
    rc = ig_json_get_int(doc, "expires_at", &exp);
    if (rc == IG_EINVAL || (rc == IG_OK && exp * 1000 <= ig_wall_ms())) {
        bad_field(req, "expires_at", "expires_at must be a future Unix time in seconds");
        goto out;
    }
    j->want_role = want;
    j->expires_at = rc == IG_OK ? exp * 1000 : 0;
    job_submit(req, rs, j);
    j = NULL;
out:
    if (j) job_free(j);
    cJSON_Delete(doc);
}

static void h_keys_revoke(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    if (param.len == 0 || param.len >= 33) {
        send_error(req, 404, "not_found", "not found", NULL);
        return;
    }
    api_job_t *j = job_new(req, rs, work_keys_revoke);
    if (!j) {
        ig_resp_error(req, IG_ENOMEM, NULL);
        return;
    }
    memcpy(j->param, param.base, param.len);
    job_submit(req, rs, j);
}

/* ----------------------------------------------------------------------------------------------------------
 */
/* providers */

static void work_providers_list(api_job_t *j, ig_store_t *st)
{
    const ig_providers_t *ps = &j->gw->providers;
    ig_buf_append(&j->out, "{\"providers\":[", 14);
    for (size_t i = 0; i < ps->n; i++) {
        int mode = 0;
        uint8_t *secret = NULL;
        size_t slen = 0;
        int rc = ig_store_provider_get(st, j->org_id, ps->list[i].name, &mode, &secret, &slen);
        if (rc && rc != IG_ENOTFOUND) {
            j->err = rc;
            return;
        }
        ig_buf_appendf(
            &j->out, "%s{\"name\":\"%s\",\"builtin\":%s,\"configured\":%s,\"auth_mode\":", i ? "," : "",
            ps->list[i].name, ps->list[i].builtin ? "true" : "false", rc == IG_OK ? "true" : "false");
        if (rc == IG_OK)
            ig_buf_appendf(&j->out, "\"%s\"", mode == IG_STORE_AUTH_PASSTHROUGH ? "passthrough" : "stored");
        else
            ig_buf_append(&j->out, "null", 4);
        if (secret) {
            /* a fingerprint of the sealed envelope: tells rotations apart, reveals nothing of the key */
            uint8_t h[32];
            char hex[17];
            ig_sha256(secret, slen, h);
            ig_hex_encode(h, 8, hex);
            ig_buf_appendf(&j->out, ",\"fingerprint\":\"%s\"}", hex);
            free(secret);
        } else {
            ig_buf_append(&j->out, ",\"fingerprint\":null}", 20);
        }
    }
    ig_buf_append(&j->out, "]}", 2);
}

static void work_providers_put(api_job_t *j, ig_store_t *st)
{
    char aad[160];
    ig_buf_t blob;
    ig_buf_init(&blob, IG_STORE_MAX_SECRET);
    int rc;
    if (j->auth_mode == IG_STORE_AUTH_PASSTHROUGH && !j->secret) {
        rc = ig_store_provider_set(st, j->org_id, j->param, j->auth_mode, NULL, 0);
    } else {
        int alen = ig_provider_key_aad(j->org_id, j->param, aad, sizeof aad);
        rc = alen < 0 ? IG_EINTERNAL
                      : ig_seal(j->gw->provider_dek, 0, ig_iov(aad, (size_t)alen),
                                ig_iov(j->secret, j->secret_len), &blob);
        if (rc == IG_OK)
            rc = ig_store_provider_set(st, j->org_id, j->param, j->auth_mode, (const uint8_t *)blob.data,
                                       blob.len);
    }
    ig_buf_free(&blob, false);
    if (rc) {
        j->err = rc;
        return;
    }
    /* requests already holding the old org snapshot finish with the old key; the next one reloads */
    ig_authcache_invalidate_org(j->org_id);
    char target[80];
    snprintf(target, sizeof target, "provider:%s", j->param);
    audit(j, st, "provider.update", target);
    ig_buf_appendf(&j->out, "{\"provider\":{\"name\":\"%s\",\"configured\":true,\"auth_mode\":\"%s\"}}",
                   j->param, j->auth_mode == IG_STORE_AUTH_PASSTHROUGH ? "passthrough" : "stored");
}

static void h_providers_list(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    run_simple(req, rs, work_providers_list);
}

static void h_providers_put(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    const ig_provider_t *p = ig_providers_find(&rs->lc->gw->providers, param);
    if (!p) {
        send_error(req, 404, "unknown_provider", "unknown provider", NULL);
        return;
    }
    cJSON *doc = body_object(req);
    if (!doc) return;
    static const char *const allowed[] = {"api_key", "auth_mode", NULL};
    const char *bad = NULL, *s = NULL;
    size_t len = 0;
    int mode = IG_STORE_AUTH_STORED;
    api_job_t *j = NULL;
    if (ig_json_only_keys(doc, allowed, &bad) != IG_OK) {
        bad_field(req, bad, "unknown field");
        goto out;
    }
    int rc = ig_json_get_str(doc, "auth_mode", &s, &len);
    if (rc == IG_OK) {
        if (len == 6 && memcmp(s, "stored", 6) == 0)
            mode = IG_STORE_AUTH_STORED;
        else if (len == 11 && memcmp(s, "passthrough", 11) == 0)
            mode = IG_STORE_AUTH_PASSTHROUGH;
        else {
            bad_field(req, "auth_mode", "auth_mode must be stored or passthrough");
            goto out;
        }
    } else if (rc != IG_ENOTFOUND) {
        bad_field(req, "auth_mode", "auth_mode must be a string");
        goto out;
    }
    rc = ig_json_get_str(doc, "api_key", &s, &len);
    if (rc == IG_EINVAL || (rc == IG_ENOTFOUND && mode == IG_STORE_AUTH_STORED) ||
        (rc == IG_OK && len == 0) || (rc == IG_OK && len > 4096)) {
        bad_field(req, "api_key", "api_key must be a non-empty string of at most 4096 bytes");
        goto out;
    }
    for (size_t i = 0; rc == IG_OK && i < len; i++)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f) {
            bad_field(req, "api_key", "api_key may not contain spaces or control characters");
            goto out;
        }
    j = job_new(req, rs, work_providers_put);
    if (!j) {
        ig_resp_error(req, IG_ENOMEM, NULL);
        goto out;
    }
    memcpy(j->param, p->name, strlen(p->name) + 1);
    j->auth_mode = mode;
    if (rc == IG_OK) {
        j->secret = malloc(len);
        if (!j->secret) {
            ig_resp_error(req, IG_ENOMEM, NULL);
            goto out;
        }
        memcpy(j->secret, s, len);
        j->secret_len = len;
    }
    job_submit(req, rs, j);
    j = NULL;
out:
    if (j) job_free(j);
    /* the parsed body held the provider key: wipe its strings before freeing */
    for (cJSON *it = doc ? doc->child : NULL; it; it = it->next)
        if (cJSON_IsString(it) && it->valuestring) ig_wipe(it->valuestring, strlen(it->valuestring));
    cJSON_Delete(doc);
    ig_wipe(req->body.data, req->body.len);
}

/* ----------------------------------------------------------------------------------------------------------
 */
/* audit log */

static void work_audit_list(api_job_t *j, ig_store_t *st)
{
    ig_audit_t *es = calloc((size_t)j->limit, sizeof *es);
    size_t n = 0;
    if (!es) {
        j->err = IG_ENOMEM;
        return;
    }
    int rc = ig_store_audit_list(st, j->org_id, j->cursor, es, (size_t)j->limit, &n);
    if (rc) {
        j->err = rc;
        free(es);
        return;
    }
    ig_buf_append(&j->out, "{\"entries\":[", 12);
    for (size_t i = 0; i < n; i++) {
        char hex[65];
        ig_hex_encode(es[i].hash, 32, hex);
        ig_buf_appendf(&j->out, "%s{\"id\":\"%s\",\"seq\":%lld,\"actor\":", i ? "," : "", es[i].id,
                       (long long)es[i].seq);
        ig_json_append_str(&j->out, ig_iov_str(es[i].actor));
        ig_buf_append(&j->out, ",\"action\":", 10);
        ig_json_append_str(&j->out, ig_iov_str(es[i].action));
        ig_buf_append(&j->out, ",\"target\":", 10);
        ig_json_append_str(&j->out, ig_iov_str(es[i].target));
        ig_buf_append(&j->out, ",\"source_ip\":", 13);
        ig_json_append_str(&j->out, ig_iov_str(es[i].source_ip));
        ig_buf_appendf(&j->out, ",\"request_id\":\"%s\",\"created_at\":%lld,\"hash\":\"%s\"}",
                       es[i].request_id, (long long)es[i].created_at, hex);
    }
    if (n == (size_t)j->limit)
        ig_buf_appendf(&j->out, "],\"next_cursor\":%lld}", (long long)es[n - 1].seq);
    else
        ig_buf_append(&j->out, "],\"next_cursor\":null}", 21);
    free(es);
}

/* Reads an integer query parameter; IG_ENOTFOUND when absent, IG_EINVAL when not a plain decimal. */
static int query_int(ig_iov_t q, const char *name, int64_t *val)
{
    size_t nl = strlen(name);
    const char *p = q.base, *end = q.base + q.len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        if ((size_t)(e - p) > nl && memcmp(p, name, nl) == 0 && p[nl] == '=') {
            const char *v = p + nl + 1;
            if (v == e || e - v > 18) return IG_EINVAL;
            int64_t x = 0;
            for (; v < e; v++) {
                if (*v < '0' || *v > '9') return IG_EINVAL;
                x = x * 10 + (*v - '0');
            }
            *val = x;
            return IG_OK;
        }
        p = amp ? amp + 1 : end;
    }
    return IG_ENOTFOUND;
}

static void h_audit_list(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    int64_t limit = 50, cursor = INT64_MAX;
    int rc = query_int(req->query, "limit", &limit);
    if (rc == IG_EINVAL || limit < 1 || limit > 200) {
        bad_field(req, "limit", "limit must be an integer from 1 to 200");
        return;
    }
    rc = query_int(req->query, "cursor", &cursor);
    if (rc == IG_EINVAL || cursor < 1) {
        bad_field(req, "cursor", "cursor must be the next_cursor of a previous page");
        return;
    }
    api_job_t *j = job_new(req, rs, work_audit_list);
    if (!j) {
        ig_resp_error(req, IG_ENOMEM, NULL);
        return;
    }
    j->limit = (int)limit;
    j->cursor = cursor;
    job_submit(req, rs, j);
}

/* ----------------------------------------------------------------------------------------------------------
 */
/* the route table */

typedef void (*api_handler_fn)(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param);

typedef struct api_route {
    const char *method;
    const char *pattern; /* a trailing "/:" segment captures one path segment */
    int min_role;
    api_handler_fn handler;
} api_route_t;

static const api_route_t ROUTES[] = {
    {"GET", "/api/v1/keys", IG_STORE_ROLE_MEMBER, h_keys_list},
    {"POST", "/api/v1/keys", IG_STORE_ROLE_MEMBER, h_keys_create},
    {"DELETE", "/api/v1/keys/:", IG_STORE_ROLE_MEMBER, h_keys_revoke},
    {"GET", "/api/v1/providers", IG_STORE_ROLE_VIEWER, h_providers_list},
    {"PUT", "/api/v1/providers/:", IG_STORE_ROLE_ADMIN, h_providers_put},
    {"GET", "/api/v1/audit", IG_STORE_ROLE_VIEWER, h_audit_list},
};

/* Matches path against pattern; *param receives the captured segment. */
static bool match(const char *pattern, ig_iov_t path, ig_iov_t *param)
{
    size_t pl = strlen(pattern);
    *param = IG_IOV_NULL;
    if (pl >= 2 && pattern[pl - 1] == ':' && pattern[pl - 2] == '/') {
        size_t pre = pl - 1; /* includes the '/' */
        if (path.len <= pre || memcmp(path.base, pattern, pre) != 0) return false;
        ig_iov_t seg = ig_iov(path.base + pre, path.len - pre);
        if (memchr(seg.base, '/', seg.len)) return false;
        *param = seg;
        return true;
    }
    return ig_iov_eq(path, ig_iov(pattern, pl));
}

void ig_api_handle(ig_req_t *req, ig_reqstate_t *rs)
{
    bool path_known = false;
    char allow[64] = "";
    size_t alen = 0;
    for (size_t i = 0; i < IG_ARRAY_LEN(ROUTES); i++) {
        ig_iov_t param;
        if (!match(ROUTES[i].pattern, req->path, &param)) continue;
        path_known = true;
        if (strcmp(ROUTES[i].method, req->method_name) != 0) {
            int n = snprintf(allow + alen, sizeof allow - alen, "%s%s", alen ? ", " : "", ROUTES[i].method);
            if (n > 0 && (size_t)n < sizeof allow - alen) alen += (size_t)n;
            continue;
        }
        if (rs->auth.role < ROUTES[i].min_role) {
            send_error(req, 403, "forbidden", "your role does not allow this", NULL);
            return;
        }
        ROUTES[i].handler(req, rs, param);
        return;
    }
    if (path_known) {
        ig_resp_method_not_allowed(req, ig_iov(allow, alen));
        return;
    }
    send_error(req, 404, "not_found", "not found", NULL);
}

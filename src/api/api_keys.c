/*
 * api_keys.c — API keys (create, list, change, revoke, rotate) and provider credentials (list, set, delete).
 *
 * Keys: the raw key is returned once, at creation or rotation; the store keeps its SHA-256. A key carries a
 * role no higher than its creator's, and nobody changes, revokes or rotates a key whose role is above their
 * own. A key may have rate limits of its own (requests and tokens per minute) overriding its org's defaults;
 * only an admin sets them, at creation or with PUT, and a rotation carries them over. Changes, revocation and
 * rotation drop the key from the in-memory cache, so the next request on any thread sees them.
 * Provider keys are sealed (AES-256-GCM, AAD = org + provider) before they reach the store; the listing shows
 * a fingerprint of the envelope, never the key or any part of it.
 */
#include "api/api_int.h"
#include "capture/orgset.h"
#include "auth/apikey.h"
#include "core/err.h"
#include "crypto/crypto.h"
#include "limit/limiter.h"
#include "webhook/webhook.h"

#include <stdio.h>
#include <stdlib.h>

#define API_MAX_KEYS 10000

/* One limit of a key: a number, or null for the org's default (0). */
static void limit_json(ig_buf_t *b, int64_t v)
{
    if (v)
        ig_buf_appendf(b, "%lld", (long long)v);
    else
        ig_buf_lit(b, "null");
}

static void key_json(ig_buf_t *b, const ig_keyrec_t *k)
{
    ig_buf_appendf(b, "{\"id\":\"%s\",\"name\":", k->id);
    ig_json_append_str(b, ig_iov_str(k->name));
    ig_buf_appendf(b, ",\"hash_prefix\":\"%s\",\"role\":\"%s\",\"app_id\":", k->hash_prefix,
                   ig_api_role_names[k->role & 3]);
    if (k->app_id[0])
        ig_buf_appendf(b, "\"%s\"", k->app_id);
    else
        ig_buf_lit(b, "null");
    ig_buf_lit(b, ",\"created_by\":");
    if (k->created_by[0])
        ig_buf_appendf(b, "\"%s\"", k->created_by);
    else
        ig_buf_lit(b, "null");
    ig_buf_appendf(b, ",\"created_at\":%lld,\"last_used_at\":", (long long)k->created_at);
    if (k->last_used_at)
        ig_buf_appendf(b, "%lld", (long long)k->last_used_at);
    else
        ig_buf_lit(b, "null");
    ig_buf_lit(b, ",\"expires_at\":");
    if (k->expires_at)
        ig_buf_appendf(b, "%lld", (long long)k->expires_at);
    else
        ig_buf_lit(b, "null");
    ig_buf_appendf(
        b, ",\"revoked\":%s,\"rate_limits\":{\"requests_per_minute\":", k->revoked_at ? "true" : "false");
    limit_json(b, k->rpm_limit);
    ig_buf_lit(b, ",\"tokens_per_minute\":");
    limit_json(b, k->tpm_limit);
    ig_buf_lit(b, "}}");
}

/* The optional member "rate_limits" of a key request: null or {"requests_per_minute": N | null,
 * "tokens_per_minute": N | null}, each N 1..IG_LIMITER_MAX_PER_MINUTE; null or absent = the org's default
 * (0). IG_OK with *rpm and *tpm, IG_ENOTFOUND when the member is absent, or IG_EINVAL after answering 400
 * naming the field rate_limits; *rpm and *tpm are written only on IG_OK. */
static int take_rate_limits(ig_req_t *req, const cJSON *doc, int64_t *rpm, int64_t *tpm)
{
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(doc, "rate_limits");
    const char *why = NULL;
    int64_t v[2] = {0, 0};
    if (!r) return IG_ENOTFOUND;
    if (!cJSON_IsNull(r) &&
        ig_orgset_rate_limits(r, &v[0], &v[1], &why) != IG_OK) { /* the org setting's rules */
        ig_api_bad_field(req, "rate_limits", why);
        return IG_EINVAL;
    }
    *rpm = v[0];
    *tpm = v[1];
    return IG_OK;
}

/* The webhook event of a key change: {"key_id","name","role"}, plus "new_key_id" for a rotation. Ids and
 * names only: never the key or its hash. A failure is logged by ig_webhook_emit and changes nothing here. */
static void emit_key_event(api_job_t *j, ig_store_t *st, const char *type, const ig_keyrec_t *k,
                           const char *new_id)
{
    ig_buf_t d;
    ig_buf_init(&d, IG_WEBHOOK_DATA_MAX);
    int rc = ig_buf_appendf(&d, "{\"key_id\":\"%s\",\"name\":", k->id);
    if (rc == IG_OK) rc = ig_json_append_str(&d, ig_iov_str(k->name));
    if (rc == IG_OK) rc = ig_buf_appendf(&d, ",\"role\":\"%s\"", ig_api_role_names[k->role & 3]);
    if (rc == IG_OK && new_id) rc = ig_buf_appendf(&d, ",\"new_key_id\":\"%s\"", new_id);
    if (rc == IG_OK) rc = ig_buf_lit(&d, "}");
    if (rc == IG_OK && ig_buf_cstr(&d)) ig_webhook_emit(st, j->org_id, type, d.data);
    ig_buf_free(&d, false);
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
    ig_buf_lit(&j->out, "{\"keys\":[");
    for (size_t i = 0; i < n; i++) {
        if (i) ig_buf_lit(&j->out, ",");
        key_json(&j->out, &ks[i]);
    }
    ig_buf_lit(&j->out, "]}");
    free(ks);
}

/* A fresh raw key and its hash and display prefix. */
static int new_key(char key[IG_APIKEY_LEN + 1], uint8_t hash[32], char prefix[13])
{
    if (ig_apikey_generate(key) != IG_OK) return IG_ECRYPTO;
    ig_apikey_hash(ig_iov(key, IG_APIKEY_LEN), hash);
    ig_apikey_hash_prefix(hash, prefix);
    return IG_OK;
}

static void work_keys_create(api_job_t *j, ig_store_t *st)
{
    char key[IG_APIKEY_LEN + 1];
    uint8_t hash[32];
    char prefix[13];
    ig_keyrec_t kr;
    if (new_key(key, hash, prefix) != IG_OK) {
        j->err = IG_ECRYPTO;
        return;
    }
    int rc = ig_store_key_create_limited(st, j->org_id, hash, prefix, j->name[0] ? j->name : NULL,
                                         j->want_role, j->expires_at, j->ref[0] ? j->ref : NULL,
                                         j->user_id[0] ? j->user_id : NULL, j->rpm_limit, j->tpm_limit, &kr);
    if (rc) {
        ig_wipe(key, sizeof key);
        j->err = rc;
        if (rc == IG_ENOTFOUND) { /* the org exists (it authenticated us): the app does not */
            j->err = IG_EINVAL;
            j->code = "unknown_app";
            j->msg = "no app with this id in your org";
            j->field = "app_id";
        }
        return;
    }
    ig_authcache_invalidate_key(hash); /* drops a remembered "unknown" answer for this hash */
    ig_api_audit(j, st, "key.create", kr.id);
    emit_key_event(j, st, "key.create", &kr, NULL);
    j->status = 201;
    ig_buf_lit(&j->out, "{\"key\":");
    key_json(&j->out, &kr);
    /* the raw key, shown once; the response buffer is wiped when freed */
    ig_buf_appendf(&j->out, ",\"api_key\":\"%s\"}", key);
    ig_wipe(key, sizeof key);
}

/* The org's key j->param, refused when its role is above the caller's. NULL with j->err set otherwise. */
static bool key_for_change(api_job_t *j, ig_store_t *st, ig_keyrec_t *k, const char *verb)
{
    int rc = ig_store_key_get(st, j->org_id, j->param, k);
    if (rc) {
        j->err = rc; /* another org's key: the same 404 as a missing one */
        return false;
    }
    if (k->role > j->role) {
        j->err = IG_EFORBIDDEN;
        j->msg = verb;
        return false;
    }
    return true;
}

static void work_keys_revoke(api_job_t *j, ig_store_t *st)
{
    ig_keyrec_t k, out;
    if (!key_for_change(j, st, &k, "you cannot revoke a key with a role above your own")) return;
    int rc = ig_store_key_revoke(st, j->org_id, k.id, &out);
    if (rc) {
        j->err = rc;
        return;
    }
    ig_authcache_invalidate_key(out.key_hash); /* refused on the very next request, on every thread */
    ig_api_audit(j, st, "key.revoke", out.id);
    emit_key_event(j, st, "key.revoke", &out, NULL);
    ig_buf_lit(&j->out, "{\"key\":");
    key_json(&j->out, &out);
    ig_buf_lit(&j->out, "}");
}

static void work_keys_put(api_job_t *j, ig_store_t *st)
{
    ig_keyrec_t k, out;
    if (!key_for_change(j, st, &k, "you cannot change a key with a role above your own")) return;
    int rc = ig_store_key_set_limits(st, j->org_id, k.id, j->rpm_limit, j->tpm_limit, &out);
    if (rc) {
        j->err = rc;
        if (rc == IG_ENOTFOUND) j->msg = "no active key with this id";
        return;
    }
    ig_authcache_invalidate_key(out.key_hash); /* the new limits apply from the next request */
    ig_api_audit(j, st, "key.update", out.id);
    ig_buf_lit(&j->out, "{\"key\":");
    key_json(&j->out, &out);
    ig_buf_lit(&j->out, "}");
}

static void work_keys_rotate(api_job_t *j, ig_store_t *st)
{
    ig_keyrec_t k, old, nk;
    char key[IG_APIKEY_LEN + 1];
    uint8_t hash[32];
    char prefix[13];
    if (!key_for_change(j, st, &k, "you cannot rotate a key with a role above your own")) return;
    if (new_key(key, hash, prefix) != IG_OK) {
        j->err = IG_ECRYPTO;
        return;
    }
    int64_t until = ig_wall_ms() + j->num;
    int rc = ig_store_key_rotate(st, j->org_id, k.id, hash, prefix, j->user_id[0] ? j->user_id : NULL, until,
                                 &old, &nk);
    if (rc) {
        ig_wipe(key, sizeof key);
        j->err = rc;
        if (rc == IG_ENOTFOUND) j->msg = "no active key with this id";
        if (rc == IG_ECONFLICT) {
            j->code = "already_rotated";
            j->msg = "this key was already rotated: rotate its replacement";
        }
        return;
    }
    ig_authcache_invalidate_key(old.key_hash); /* its new expiry applies on the next request */
    ig_authcache_invalidate_key(hash);
    ig_api_audit(j, st, "key.rotate", old.id);
    emit_key_event(j, st, "key.rotate", &old, nk.id);
    j->status = 201;
    ig_buf_lit(&j->out, "{\"key\":");
    key_json(&j->out, &nk);
    ig_buf_appendf(&j->out, ",\"api_key\":\"%s\",\"previous\":", key);
    key_json(&j->out, &old);
    ig_buf_lit(&j->out, "}");
    ig_wipe(key, sizeof key);
}

void ig_api_keys_list(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    IG_UNUSED(param);
    ig_api_run_simple(req, rs, work_keys_list);
}

void ig_api_keys_create(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    IG_UNUSED(param);
    cJSON *doc = ig_api_body_object(req);
    if (!doc) return;
    static const char *const allowed[] = {"name", "role", "expires_at", "app_id", "rate_limits", NULL};
    int64_t exp = 0;
    int want = rs->who.role < IG_STORE_ROLE_MEMBER ? rs->who.role : IG_STORE_ROLE_MEMBER;
    api_job_t *j = ig_api_job_new(req, rs, work_keys_create);
    if (!j) {
        ig_resp_error(req, IG_ENOMEM, NULL);
        goto out;
    }
    if (!ig_api_only_keys(req, doc, allowed)) goto out;
    if (ig_api_take_str(req, doc, "name", 0, 128, j->name, sizeof j->name) == IG_EINVAL) goto out;
    if (ig_api_take_str(req, doc, "app_id", 1, 32, j->ref, sizeof j->ref) == IG_EINVAL) goto out;
    if (ig_api_take_role(req, doc, "role", &want) == IG_EINVAL) goto out;
    if (want > rs->who.role) {
        ig_api_error(req, 403, "forbidden", "a key cannot have a role above your own", "role");
        goto out;
    }
    int rc = ig_json_get_int(doc, "expires_at", &exp);
    if (rc == IG_EINVAL || (rc == IG_OK && (exp > INT64_MAX / 1000 || exp * 1000 <= ig_wall_ms()))) {
        ig_api_bad_field(req, "expires_at", "expires_at must be a future Unix time in seconds");
        goto out;
    }
    j->want_role = want;
    j->expires_at = rc == IG_OK ? exp * 1000 : 0;
    if (take_rate_limits(req, doc, &j->rpm_limit, &j->tpm_limit) == IG_EINVAL) goto out;
    if ((j->rpm_limit || j->tpm_limit) && rs->who.role < IG_STORE_ROLE_ADMIN) {
        ig_api_error(req, 403, "forbidden", "only an admin can set a key's rate_limits: leave them out",
                     "rate_limits");
        goto out;
    }
    ig_api_job_submit(req, rs, j);
    j = NULL;
out:
    if (j) ig_api_job_free(j);
    cJSON_Delete(doc);
}

void ig_api_keys_revoke(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    ig_api_run_param(req, rs, param, work_keys_revoke);
}

void ig_api_keys_put(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    if (!ig_api_param_ok(req, param)) return;
    cJSON *doc = ig_api_body_object(req);
    if (!doc) return;
    static const char *const allowed[] = {"rate_limits", NULL};
    int64_t rpm = 0, tpm = 0;
    api_job_t *j = NULL;
    if (!ig_api_only_keys(req, doc, allowed)) goto out;
    int rc = take_rate_limits(req, doc, &rpm, &tpm);
    if (rc == IG_EINVAL) goto out;
    if (rc == IG_ENOTFOUND) {
        ig_api_bad_field(req, "rate_limits", "rate_limits is required");
        goto out;
    }
    j = ig_api_param_job(req, rs, param, work_keys_put);
    if (!j) goto out;
    j->rpm_limit = rpm;
    j->tpm_limit = tpm;
    ig_api_job_submit(req, rs, j);
    j = NULL;
out:
    if (j) ig_api_job_free(j);
    cJSON_Delete(doc);
}

void ig_api_keys_rotate(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    if (!ig_api_param_ok(req, param)) return;
    int64_t overlap = rs->lc->gw->cfg->key_rotation_overlap_ms;
    if (req->body.len) { /* optional {"overlap_seconds": N} */
        cJSON *doc = ig_api_body_object(req);
        if (!doc) return;
        static const char *const allowed[] = {"overlap_seconds", NULL};
        int64_t secs = 0;
        bool ok = ig_api_only_keys(req, doc, allowed);
        int rc = ok ? ig_json_get_int(doc, "overlap_seconds", &secs) : IG_OK;
        cJSON_Delete(doc);
        if (!ok) return;
        if (rc == IG_EINVAL || (rc == IG_OK && (secs < 0 || secs > 7 * 86400))) {
            ig_api_bad_field(req, "overlap_seconds", "overlap_seconds must be an integer from 0 to 604800");
            return;
        }
        if (rc == IG_OK) overlap = secs * 1000;
    }
    api_job_t *j = ig_api_param_job(req, rs, param, work_keys_rotate);
    if (!j) return;
    j->num = overlap;
    ig_api_job_submit(req, rs, j);
}

/* ---------------------------------------------------------------------------------------------------- */
/* providers */

static void work_providers_list(api_job_t *j, ig_store_t *st)
{
    const ig_providers_t *ps = &j->gw->providers;
    ig_buf_lit(&j->out, "{\"providers\":[");
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
            ig_buf_lit(&j->out, "null");
        if (secret) {
            /* a fingerprint of the sealed envelope: tells rotations apart, reveals nothing of the key */
            uint8_t h[32];
            char hex[17];
            ig_sha256(secret, slen, h);
            ig_hex_encode(h, 8, hex);
            ig_buf_appendf(&j->out, ",\"fingerprint\":\"%s\"}", hex);
            free(secret);
        } else {
            ig_buf_lit(&j->out, ",\"fingerprint\":null}");
        }
    }
    ig_buf_lit(&j->out, "]}");
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
    ig_api_audit(j, st, "provider.update", target);
    ig_buf_appendf(&j->out, "{\"provider\":{\"name\":\"%s\",\"configured\":true,\"auth_mode\":\"%s\"}}",
                   j->param, j->auth_mode == IG_STORE_AUTH_PASSTHROUGH ? "passthrough" : "stored");
}

static void work_providers_delete(api_job_t *j, ig_store_t *st)
{
    int rc = ig_store_provider_delete(st, j->org_id, j->param);
    if (rc) {
        j->err = rc;
        if (rc == IG_ENOTFOUND) j->msg = "no key is configured for this provider";
        return;
    }
    ig_authcache_invalidate_org(j->org_id);
    char target[80];
    snprintf(target, sizeof target, "provider:%s", j->param);
    ig_api_audit(j, st, "provider.delete", target);
    ig_buf_appendf(&j->out, "{\"provider\":{\"name\":\"%s\",\"configured\":false}}", j->param);
}

void ig_api_providers_list(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    IG_UNUSED(param);
    ig_api_run_simple(req, rs, work_providers_list);
}

void ig_api_providers_delete(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    const ig_provider_t *p = ig_providers_find(&rs->lc->gw->providers, param);
    if (!p) {
        ig_api_error(req, 404, "unknown_provider", "unknown provider", NULL);
        return;
    }
    ig_api_run_param(req, rs, ig_iov_str(p->name), work_providers_delete);
}

void ig_api_providers_put(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    const ig_provider_t *p = ig_providers_find(&rs->lc->gw->providers, param);
    if (!p) {
        ig_api_error(req, 404, "unknown_provider", "unknown provider", NULL);
        return;
    }
    cJSON *doc = ig_api_body_object(req);
    if (!doc) return;
    static const char *const allowed[] = {"api_key", "auth_mode", NULL};
    const char *s = NULL;
    size_t len = 0;
    int mode = IG_STORE_AUTH_STORED;
    api_job_t *j = NULL;
    if (!ig_api_only_keys(req, doc, allowed)) goto out;
    int rc = ig_json_get_str(doc, "auth_mode", &s, &len);
    if (rc == IG_OK) {
        if (len == 6 && memcmp(s, "stored", 6) == 0)
            mode = IG_STORE_AUTH_STORED;
        else if (len == 11 && memcmp(s, "passthrough", 11) == 0)
            mode = IG_STORE_AUTH_PASSTHROUGH;
        else {
            ig_api_bad_field(req, "auth_mode", "auth_mode must be stored or passthrough");
            goto out;
        }
    } else if (rc != IG_ENOTFOUND) {
        ig_api_bad_field(req, "auth_mode", "auth_mode must be a string");
        goto out;
    }
    rc = ig_json_get_str(doc, "api_key", &s, &len);
    if (rc == IG_EINVAL || (rc == IG_ENOTFOUND && mode == IG_STORE_AUTH_STORED) ||
        (rc == IG_OK && len == 0) || (rc == IG_OK && len > 4096)) {
        ig_api_bad_field(req, "api_key", "api_key must be a non-empty string of at most 4096 bytes");
        goto out;
    }
    for (size_t i = 0; rc == IG_OK && i < len; i++)
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f) {
            ig_api_bad_field(req, "api_key", "api_key may not contain spaces or control characters");
            goto out;
        }
    j = ig_api_job_new(req, rs, work_providers_put);
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
    ig_api_job_submit(req, rs, j);
    j = NULL;
out:
    if (j) ig_api_job_free(j);
    /* the parsed body held the provider key: wipe its strings before freeing */
    ig_api_body_wipe_free(doc);
    ig_wipe(req->body.data, req->body.len);
}

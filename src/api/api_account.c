/*
 * api_account.c — people: signup, login, session tokens (refresh, logout), the signed-in user (GET /me,
 * password change) and accepting an invitation.
 *
 * Passwords are hashed and verified with bcrypt on worker threads only (auth/password.h). An unknown email
 * costs the same as a wrong password (the dummy hash) and answers the same 401. Session tokens are JWT HS256
 * (auth/token.h) under a key derived from the master key; each one is also a row in the store, so logout,
 * a password change or a removal from the org refuses it on the next request. A token names one org; a user
 * who belongs to several picks it with "org" at login or refresh.
 *
 * Signup, login and invitation accept are reachable without a credential and are rate-limited per client
 * address by the router (429 before any work). Audit entries: org.create, login.success, login.failure,
 * session.refresh, logout, user.password_change, user.join.
 */
#include "api/api_int.h"
#include "auth/apikey.h"
#include "auth/password.h"
#include "auth/ratelimit.h"
#include "auth/token.h"
#include "core/err.h"
#include "core/log.h"
#include "crypto/crypto.h"

#include <stdio.h>
#include <stdlib.h>

#define MAX_ORGS_LISTED 100

/* ---------------------------------------------------------------------------------------------------- */
/* helpers */

bool ig_api_valid_email(const char *s, size_t len)
{
    if (len < 3 || len > 254) return false;
    const char *at = memchr(s, '@', len);
    if (!at || at == s || at == s + len - 1 || memchr(at + 1, '@', len - (size_t)(at + 1 - s))) return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == ',') return false;
    }
    const char *dot = memchr(at + 1, '.', len - (size_t)(at + 1 - s));
    return dot && dot != at + 1 && dot != s + len - 1;
}

int ig_api_need_email(ig_req_t *req, cJSON *doc, char *dst, size_t cap)
{
    if (ig_api_need_str(req, doc, "email", 3, 254, dst, cap)) return IG_EINVAL;
    if (!ig_api_valid_email(dst, strlen(dst))) {
        ig_api_bad_field(req, "email", "email must be a valid email address");
        return IG_EINVAL;
    }
    ig_api_lower(dst);
    return IG_OK;
}

int ig_api_invite_token(char out[IG_API_INVITE_TOKEN_MAX], uint8_t hash[32])
{
    uint8_t raw[32];
    if (ig_random(raw, sizeof raw) != IG_OK) return IG_ECRYPTO;
    memcpy(out, IG_API_INVITE_PREFIX, sizeof IG_API_INVITE_PREFIX - 1);
    size_t n = ig_b64url_encode(raw, sizeof raw, out + sizeof IG_API_INVITE_PREFIX - 1);
    out[sizeof IG_API_INVITE_PREFIX - 1 + n] = '\0';
    ig_wipe(raw, sizeof raw);
    ig_sha256(out, strlen(out), hash);
    return IG_OK;
}

/* Takes a required password member into j->secret (or j->secret2). Passwords are not trimmed or checked
 * here beyond type and size; the policy applies where one is SET. */
static int take_password(ig_req_t *req, cJSON *doc, const char *field, char **dst, size_t *dlen)
{
    const char *s = NULL;
    size_t len = 0;
    if (ig_json_get_str(doc, field, &s, &len) != IG_OK || len == 0 || len > 1024) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s must be a non-empty string", field);
        ig_api_bad_field(req, field, msg);
        return IG_EINVAL;
    }
    *dst = malloc(len + 1);
    if (!*dst) {
        ig_resp_error(req, IG_ENOMEM, NULL);
        return IG_ENOMEM;
    }
    memcpy(*dst, s, len);
    (*dst)[len] = '\0';
    *dlen = len;
    return IG_OK;
}

/* Issues a session for user_id in org_id: a store row and a signed token appended to j->out as
 * "token":"...","expires_at":N (no braces). */
static int issue_session(api_job_t *j, ig_store_t *st, const char *user_id, const char *org_id)
{
    ig_token_claims_t c;
    memset(&c, 0, sizeof c);
    char tok[1024];
    size_t tlen = 0;
    int rc = ig_token_new_jti(c.jti);
    if (rc) return rc;
    snprintf(c.sub, sizeof c.sub, "%s", user_id);
    snprintf(c.org, sizeof c.org, "%s", org_id);
    c.iat = ig_wall_ms() / 1000;
    c.exp = c.iat + j->gw->cfg->session_ttl_ms / 1000;
    rc = ig_store_session_create(st, c.jti, user_id, org_id, c.exp * 1000);
    if (rc) return rc;
    rc = ig_token_issue(j->gw->session_key, &c, tok, sizeof tok, &tlen);
    if (rc) return rc;
    if (j->cookie) {
        /* the dashboard: the token goes into the HttpOnly cookie only; the page gets the CSRF token */
        char csrf[IG_TOKEN_CSRF_LEN + 1];
        rc = ig_token_csrf(j->gw->session_key, c.jti, csrf);
        if (rc == IG_OK && !(j->set_cookie = strdup(tok))) rc = IG_ENOMEM;
        ig_wipe(tok, sizeof tok);
        if (rc) return rc;
        ig_buf_appendf(&j->out, "\"csrf_token\":\"%s\",\"expires_at\":%lld}", csrf, (long long)c.exp);
        return IG_OK;
    }
    ig_buf_appendf(&j->out, "\"token\":\"%s\",\"expires_at\":%lld}", tok, (long long)c.exp);
    ig_wipe(tok, sizeof tok);
    return IG_OK;
}

/* Ends j's answer with a new session for the user in the org (`"token":…,"expires_at":…}`); on failure sets
 * j->err and returns false. */
static bool end_with_session(api_job_t *j, ig_store_t *st, const char *user_id, const char *org_id)
{
    int rc = issue_session(j, st, user_id, org_id);
    if (rc) j->err = rc;
    return rc == IG_OK;
}

/* `,"org":{"id","slug","role"},` of an answer that ends with a session */
static void org_role_json(api_job_t *j, const ig_org_t *org, int role)
{
    ig_buf_appendf(&j->out, ",\"org\":{\"id\":\"%s\",\"slug\":\"%s\",\"role\":\"%s\"},", org->id, org->slug,
                   ig_api_role_names[role & 3]);
}

/* "orgs":[{id,slug,name,role,plan}...] of the user; *chosen = the org matching `want` (id or slug; "" = the
 * oldest membership), "" when none matches. */
static int orgs_json(api_job_t *j, ig_store_t *st, const char *user_id, const char *want, ig_org_t *chosen,
                     int *chosen_role)
{
    ig_membership_t *ms = calloc(MAX_ORGS_LISTED, sizeof *ms);
    ig_org_t *org = malloc(sizeof *org);
    size_t n = 0;
    int rc = ms && org ? ig_store_memberships_of_user(st, user_id, ms, MAX_ORGS_LISTED, &n) : IG_ENOMEM;
    if (rc == IG_ETOOBIG) rc = IG_OK;
    chosen->id[0] = '\0';
    if (rc == IG_OK) ig_buf_lit(&j->out, "\"orgs\":[");
    bool first = true;
    for (size_t i = 0; rc == IG_OK && i < n; i++) {
        if (ig_store_org_get(st, ms[i].org_id, org) != IG_OK) continue;
        ig_buf_appendf(&j->out, "%s{\"id\":\"%s\",\"slug\":\"%s\",\"name\":", first ? "" : ",", org->id,
                       org->slug);
        ig_json_append_str(&j->out, ig_iov_str(org->name));
        ig_buf_appendf(&j->out, ",\"role\":\"%s\",\"plan\":\"%s\"}", ig_api_role_names[ms[i].role & 3],
                       org->plan == IG_STORE_PLAN_ENTERPRISE ? "enterprise" : "free");
        first = false;
        bool match = want[0] ? strcmp(want, org->id) == 0 || strcmp(want, org->slug) == 0 : !chosen->id[0];
        if (match && !chosen->id[0]) {
            *chosen = *org;
            *chosen_role = ms[i].role;
        }
    }
    if (rc == IG_OK) ig_buf_lit(&j->out, "]");
    free(ms);
    free(org);
    return rc;
}

/* ---------------------------------------------------------------------------------------------------- */
/* signup */

static void work_signup(api_job_t *j, ig_store_t *st)
{
    char hash[IG_PASSWORD_HASH_MAX];
    char key[IG_APIKEY_LEN + 1];
    uint8_t khash[32];
    char prefix[13];
    ig_org_t org;
    ig_user_t user;
    ig_keyrec_t kr;
    const char *which = NULL;
    int rc = ig_password_hash(ig_iov(j->secret, j->secret_len), j->gw->cfg->bcrypt_cost, hash);
    if (rc) {
        j->err = rc;
        return;
    }
    if (ig_apikey_generate(key) != IG_OK) {
        j->err = IG_ECRYPTO;
        return;
    }
    ig_apikey_hash(ig_iov(key, IG_APIKEY_LEN), khash);
    ig_apikey_hash_prefix(khash, prefix);
    rc = ig_store_signup(st, j->param, j->name, j->email, hash, j->name2[0] ? j->name2 : NULL, khash, prefix,
                         IG_STORE_ROLE_MEMBER, &org, &user, &kr, &which);
    if (rc) {
        ig_wipe(key, sizeof key);
        j->err = rc;
        if (rc == IG_ECONFLICT) {
            bool email = which && strcmp(which, "email") == 0;
            j->code = email ? "email_taken" : "org_slug_taken";
            j->field = email ? "email" : "org_slug";
            j->msg = email ? "this email is already registered" : "this org_slug is already taken";
        }
        return;
    }
    ig_authcache_invalidate_key(khash);
    snprintf(j->actor, sizeof j->actor, "user:%s", user.id);
    ig_api_audit_org(j, st, org.id, "org.create", org.id);
    ig_api_audit_org(j, st, org.id, "key.create", kr.id);
    j->status = 201;
    ig_buf_appendf(&j->out, "{\"org\":{\"id\":\"%s\",\"slug\":\"%s\",\"name\":", org.id, org.slug);
    ig_json_append_str(&j->out, ig_iov_str(org.name));
    ig_buf_lit(&j->out, ",\"plan\":\"free\"},\"user\":");
    ig_api_user_json(&j->out, &user);
    ig_buf_appendf(&j->out, ",\"api_key\":\"%s\",\"key\":{\"id\":\"%s\",\"role\":\"member\"},", key, kr.id);
    ig_wipe(key, sizeof key);
    end_with_session(j, st, user.id, org.id);
}

void ig_api_signup(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    IG_UNUSED(param);
    cJSON *doc = ig_api_body_object(req);
    if (!doc) goto wipe;
    static const char *const allowed[] = {"email", "password", "org_slug", "org_name", "display_name", NULL};
    const char *why = NULL;
    api_job_t *j = ig_api_job_new(req, rs, work_signup);
    if (!j) {
        ig_resp_error(req, IG_ENOMEM, NULL);
        goto out;
    }
    if (!ig_api_only_keys(req, doc, allowed)) goto out;
    if (ig_api_need_email(req, doc, j->email, sizeof j->email)) goto out;
    if (take_password(req, doc, "password", &j->secret, &j->secret_len)) goto out;
    if (ig_password_policy(ig_iov(j->secret, j->secret_len), &why) != IG_OK) {
        ig_api_error(req, 400, "invalid_password", why, "password");
        goto out;
    }
    if (ig_api_need_str(req, doc, "org_slug", 2, 64, j->param, sizeof j->param)) goto out;
    for (const char *p = j->param; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) {
            ig_api_bad_field(req, "org_slug",
                             "org_slug may contain only a-z, 0-9 and '-' (2 to 64 characters)");
            goto out;
        }
    if (ig_api_need_str(req, doc, "org_name", 1, 128, j->name, sizeof j->name)) goto out;
    if (ig_api_take_str(req, doc, "display_name", 0, 128, j->name2, sizeof j->name2) == IG_EINVAL) goto out;
    ig_api_job_submit(req, rs, j);
    j = NULL;
out:
    if (j) ig_api_job_free(j);
    ig_api_body_wipe_free(doc);
wipe:
    ig_wipe(req->body.data, req->body.len);
}

/* ---------------------------------------------------------------------------------------------------- */
/* login */

/* login.failure entries go to every org of the user (their admins see the attempts, each in its org's own
 * chain); for an unknown email to no org (the control database's chain, for operators). The email is never
 * written. */
static void audit_login_failure(api_job_t *j, ig_store_t *st, const ig_user_t *u)
{
    ig_membership_t ms[16];
    size_t n = 0;
    snprintf(j->actor, sizeof j->actor, "%s%s", u ? "user:" : "anonymous", u ? u->id : "");
    if (u && ig_store_memberships_of_user(st, u->id, ms, IG_ARRAY_LEN(ms), &n) != IG_ETOOBIG && n > 0) {
        for (size_t i = 0; i < n; i++)
            ig_api_audit_org(j, st, ms[i].org_id, "login.failure", u->id);
    } else {
        ig_api_audit_org(j, st, NULL, "login.failure", u ? u->id : NULL);
    }
}

static void work_login(api_job_t *j, ig_store_t *st)
{
    ig_user_t u;
    ig_org_t chosen;
    int role = 0;
    int rc = ig_store_user_get_by_email(st, j->email, &u);
    if (rc && rc != IG_ENOTFOUND) {
        j->err = rc;
        return;
    }
    bool known = rc == IG_OK;
    /* the same bcrypt work whether or not the account exists */
    int vr = ig_password_verify(ig_iov(j->secret, j->secret_len),
                                known ? u.password_hash : ig_password_dummy_hash());
    if (!known || vr != IG_OK) {
        if (vr != IG_OK && vr != IG_EBADKEY) IG_WARN("api", "password check failed (%s)", ig_err_name(vr));
        audit_login_failure(j, st, known ? &u : NULL);
        j->err = IG_EBADLOGIN;
        return;
    }
    snprintf(j->actor, sizeof j->actor, "user:%s", u.id);
    ig_buf_lit(&j->out, "{\"user\":");
    ig_api_user_json(&j->out, &u);
    ig_buf_lit(&j->out, ",");
    rc = orgs_json(j, st, u.id, j->ref, &chosen, &role);
    if (rc) {
        j->err = rc;
        return;
    }
    if (!chosen.id[0]) {
        audit_login_failure(j, st, &u);
        j->err = IG_EFORBIDDEN;
        j->code = j->ref[0] ? "not_a_member" : "no_org";
        j->msg = j->ref[0] ? "you are not a member of this org" : "your account does not belong to any org";
        j->field = j->ref[0] ? "org" : NULL;
        return;
    }
    org_role_json(j, &chosen, role);
    if (!end_with_session(j, st, u.id, chosen.id)) return;
    ig_api_audit_org(j, st, chosen.id, "login.success", u.id);
}

/* Copies the optional "org" choice (an org id or slug). */
static int take_org_choice(ig_req_t *req, cJSON *doc, char *dst, size_t cap)
{
    int rc = ig_api_take_str(req, doc, "org", 1, 64, dst, cap);
    return rc == IG_EINVAL ? rc : IG_OK;
}

void ig_api_login(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    IG_UNUSED(param);
    cJSON *doc = ig_api_body_object(req);
    if (!doc) goto wipe;
    static const char *const allowed[] = {"email", "password", "org", NULL};
    api_job_t *j = ig_api_job_new(req, rs, work_login);
    if (!j) {
        ig_resp_error(req, IG_ENOMEM, NULL);
        goto out;
    }
    if (!ig_api_only_keys(req, doc, allowed)) goto out;
    if (ig_api_need_str(req, doc, "email", 1, 254, j->email, sizeof j->email)) goto out;
    ig_api_lower(j->email);
    if (take_password(req, doc, "password", &j->secret, &j->secret_len)) goto out;
    if (take_org_choice(req, doc, j->ref, sizeof j->ref)) goto out;
    ig_api_job_submit(req, rs, j);
    j = NULL;
out:
    if (j) ig_api_job_free(j);
    ig_api_body_wipe_free(doc);
wipe:
    ig_wipe(req->body.data, req->body.len);
}

/* ---------------------------------------------------------------------------------------------------- */
/* sessions */

static void work_refresh(api_job_t *j, ig_store_t *st)
{
    ig_org_t chosen;
    int role = 0;
    ig_buf_lit(&j->out, "{");
    int rc = orgs_json(j, st, j->user_id, j->ref[0] ? j->ref : j->org_id, &chosen, &role);
    if (rc) {
        j->err = rc;
        return;
    }
    if (!chosen.id[0]) {
        j->err = IG_EFORBIDDEN;
        j->code = "not_a_member";
        j->msg = "you are not a member of this org";
        j->field = "org";
        return;
    }
    org_role_json(j, &chosen, role);
    if (!end_with_session(j, st, j->user_id, chosen.id)) return;
    /* the presented token is replaced: it stops working now */
    rc = ig_store_session_revoke(st, j->jti);
    if (rc) IG_WARN("api", "refreshed session not revoked (%s)", ig_err_name(rc));
    ig_api_audit_org(j, st, chosen.id, "session.refresh", j->user_id);
}

void ig_api_token_refresh(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    IG_UNUSED(param);
    cJSON *doc = NULL;
    if (req->body.len) {
        doc = ig_api_body_object(req);
        if (!doc) return;
    }
    static const char *const allowed[] = {"org", NULL};
    api_job_t *j = ig_api_job_new(req, rs, work_refresh);
    if (!j) {
        ig_resp_error(req, IG_ENOMEM, NULL);
        goto out;
    }
    if (doc && (!ig_api_only_keys(req, doc, allowed) || take_org_choice(req, doc, j->ref, sizeof j->ref)))
        goto out;
    ig_api_job_submit(req, rs, j);
    j = NULL;
out:
    if (j) ig_api_job_free(j);
    cJSON_Delete(doc);
}

static void work_logout(api_job_t *j, ig_store_t *st)
{
    int rc = ig_store_session_revoke(st, j->jti);
    if (rc) {
        j->err = rc == IG_ENOTFOUND ? IG_EBADSESSION : rc;
        return;
    }
    ig_api_audit(j, st, "logout", j->user_id);
    ig_buf_lit(&j->out, "{\"logged_out\":true}");
}

void ig_api_logout(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    IG_UNUSED(param);
    if (rs->cookie_session) ig_api_clear_session_cookie(req); /* whatever the store says */
    ig_api_run_simple(req, rs, work_logout);
}

static void work_me(api_job_t *j, ig_store_t *st)
{
    ig_user_t u;
    ig_org_t chosen;
    int role = 0;
    int rc = ig_store_user_get(st, j->user_id, &u);
    if (rc) {
        j->err = rc == IG_ENOTFOUND ? IG_EBADSESSION : rc;
        return;
    }
    ig_buf_lit(&j->out, "{\"user\":");
    ig_api_user_json(&j->out, &u);
    ig_buf_lit(&j->out, ",");
    rc = orgs_json(j, st, u.id, j->org_id, &chosen, &role);
    if (rc) {
        j->err = rc;
        return;
    }
    ig_buf_appendf(&j->out, ",\"org\":{\"id\":\"%s\",\"slug\":\"%s\",\"role\":\"%s\"}", j->org_id,
                   chosen.slug, ig_api_role_names[j->role & 3]);
    if (j->cookie) { /* a reloaded dashboard page recovers its CSRF token here */
        char csrf[IG_TOKEN_CSRF_LEN + 1];
        if (ig_token_csrf(j->gw->session_key, j->jti, csrf) != IG_OK) {
            j->err = IG_ECRYPTO;
            return;
        }
        ig_buf_appendf(&j->out, ",\"csrf_token\":\"%s\"", csrf);
    }
    ig_buf_lit(&j->out, "}");
}

void ig_api_me(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    IG_UNUSED(param);
    ig_api_run_simple(req, rs, work_me);
}

static void work_password(api_job_t *j, ig_store_t *st)
{
    ig_user_t u;
    char hash[IG_PASSWORD_HASH_MAX];
    int rc = ig_store_user_get(st, j->user_id, &u);
    if (rc) {
        j->err = rc == IG_ENOTFOUND ? IG_EBADSESSION : rc;
        return;
    }
    rc = ig_password_verify(ig_iov(j->secret, j->secret_len), u.password_hash);
    if (rc != IG_OK) {
        j->err = IG_EFORBIDDEN;
        j->code = "invalid_credentials";
        j->msg = "current_password is wrong";
        j->field = "current_password";
        ig_api_audit(j, st, "user.password_change_failure", u.id);
        return;
    }
    rc = ig_password_hash(ig_iov(j->secret2, j->secret2_len), j->gw->cfg->bcrypt_cost, hash);
    if (rc == IG_OK) rc = ig_store_user_set_password(st, u.id, hash); /* revokes every session of the user */
    if (rc) {
        j->err = rc;
        return;
    }
    ig_api_audit(j, st, "user.password_change", u.id);
    ig_buf_lit(&j->out, "{");
    end_with_session(j, st, u.id, j->org_id); /* a fresh session for this client */
}

void ig_api_me_password(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    IG_UNUSED(param);
    cJSON *doc = ig_api_body_object(req);
    if (!doc) goto wipe;
    static const char *const allowed[] = {"current_password", "new_password", NULL};
    const char *why = NULL;
    api_job_t *j = ig_api_job_new(req, rs, work_password);
    if (!j) {
        ig_resp_error(req, IG_ENOMEM, NULL);
        goto out;
    }
    if (!ig_api_only_keys(req, doc, allowed)) goto out;
    if (take_password(req, doc, "current_password", &j->secret, &j->secret_len)) goto out;
    if (take_password(req, doc, "new_password", &j->secret2, &j->secret2_len)) goto out;
    if (ig_password_policy(ig_iov(j->secret2, j->secret2_len), &why) != IG_OK) {
        ig_api_error(req, 400, "invalid_password", why, "new_password");
        goto out;
    }
    /* a stolen session must not become an unlimited password oracle */
    char key[64];
    int64_t retry = 0;
    int n = snprintf(key, sizeof key, "password|%s", rs->who.user_id);
    if (ig_ratelimit_hit(rs->lc->gw->auth_limiter, ig_iov(key, (size_t)n), ig_wall_ms(), &retry) ==
        IG_ETOOMANY) {
        ig_api_rate_limited(req, retry > 0 ? retry : 1);
        goto out;
    }
    ig_api_job_submit(req, rs, j);
    j = NULL;
out:
    if (j) ig_api_job_free(j);
    ig_api_body_wipe_free(doc);
wipe:
    ig_wipe(req->body.data, req->body.len);
}

/* ---------------------------------------------------------------------------------------------------- */
/* invitation accept */

static void work_invite_accept(api_job_t *j, ig_store_t *st)
{
    uint8_t th[32];
    ig_invite_t inv;
    ig_user_t u, joined;
    ig_membership_t mem;
    ig_org_t org;
    char hash[IG_PASSWORD_HASH_MAX] = "";
    const char *why = NULL;
    ig_sha256(j->param, strlen(j->param), th);
    int rc = ig_store_invite_get_by_token(st, th, &inv);
    if (rc) {
        j->err = rc;
        if (rc == IG_ENOTFOUND) {
            j->code = "invalid_invitation";
            j->msg = "this invitation is invalid, used or expired";
        }
        return;
    }
    rc = ig_store_user_get_by_email(st, inv.email, &u);
    if (rc == IG_OK) {
        /* an existing account joins: it proves who it is with its own password */
        if (ig_password_verify(ig_iov(j->secret, j->secret_len), u.password_hash) != IG_OK) {
            j->err = IG_EBADLOGIN;
            return;
        }
    } else if (rc == IG_ENOTFOUND) {
        if (ig_password_policy(ig_iov(j->secret, j->secret_len), &why) != IG_OK) {
            j->err = IG_EINVAL;
            j->code = "invalid_password";
            j->msg = why;
            j->field = "password";
            return;
        }
        rc = ig_password_hash(ig_iov(j->secret, j->secret_len), j->gw->cfg->bcrypt_cost, hash);
        if (rc) {
            j->err = rc;
            return;
        }
    } else {
        j->err = rc;
        return;
    }
    rc = ig_store_invite_accept(st, th, hash[0] ? hash : NULL, j->name2[0] ? j->name2 : NULL, &joined, &mem);
    if (rc == IG_OK) rc = ig_store_org_get(st, mem.org_id, &org);
    if (rc) {
        j->err = rc;
        if (rc == IG_ECONFLICT) j->msg = "you are already a member of this org";
        if (rc == IG_ENOTFOUND) j->msg = "this invitation is invalid, used or expired";
        return;
    }
    snprintf(j->actor, sizeof j->actor, "user:%s", joined.id);
    ig_api_audit_org(j, st, org.id, "user.join", inv.id);
    j->status = 201;
    ig_buf_lit(&j->out, "{\"user\":");
    ig_api_user_json(&j->out, &joined);
    org_role_json(j, &org, mem.role);
    end_with_session(j, st, joined.id, org.id);
}

void ig_api_invite_accept(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    IG_UNUSED(param);
    cJSON *doc = ig_api_body_object(req);
    if (!doc) goto wipe;
    static const char *const allowed[] = {"token", "password", "display_name", NULL};
    api_job_t *j = ig_api_job_new(req, rs, work_invite_accept);
    if (!j) {
        ig_resp_error(req, IG_ENOMEM, NULL);
        goto out;
    }
    if (!ig_api_only_keys(req, doc, allowed)) goto out;
    if (ig_api_need_str(req, doc, "token", 1, 64, j->param, sizeof j->param)) goto out;
    if (take_password(req, doc, "password", &j->secret, &j->secret_len)) goto out;
    if (ig_api_take_str(req, doc, "display_name", 0, 128, j->name2, sizeof j->name2) == IG_EINVAL) goto out;
    ig_api_job_submit(req, rs, j);
    j = NULL;
out:
    if (j) ig_api_job_free(j);
    ig_api_body_wipe_free(doc);
wipe:
    ig_wipe(req->body.data, req->body.len);
}

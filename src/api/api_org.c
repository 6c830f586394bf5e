/*
 * api_org.c — the caller's organisation: settings, billing plan, ownership transfer and deletion; its members
 * and invitations; its teams and apps.
 *
 * Role rules are enforced where the rows change (ig_store_membership_change, one transaction): nobody grants
 * a role above their own, only an owner grants or removes the owner role, the last owner stays. A demoted or
 * removed member's keys are lowered or revoked with it, and the org's cached keys are dropped so the next
 * request sees the change.
 */
#include "api/api_int.h"
#include "capture/orgctx.h"
#include "capture/orgset.h"
#include "core/log.h"
#include "store/logstore.h"
#include "core/err.h"
#include "crypto/crypto.h"
#include "webhook/webhook.h"

#include <stdio.h>
#include <stdlib.h>

#define API_MAX_ROWS 10000

static const char *plan_name(int plan)
{
    return plan == IG_STORE_PLAN_ENTERPRISE ? "enterprise" : "free";
}

static void org_json(ig_buf_t *b, const ig_org_t *o)
{
    ig_buf_appendf(b, "{\"id\":\"%s\",\"slug\":\"%s\",\"name\":", o->id, o->slug);
    ig_json_append_str(b, ig_iov_str(o->name));
    ig_buf_appendf(b, ",\"plan\":\"%s\",\"default_provider\":", plan_name(o->plan));
    if (o->default_provider[0])
        ig_buf_appendf(b, "\"%s\"", o->default_provider);
    else
        ig_buf_lit(b, "null");
    /* settings were validated as a JSON object when stored */
    ig_buf_appendf(b, ",\"settings\":%s,\"created_at\":%lld}", o->settings[0] ? o->settings : "{}",
                   (long long)o->created_at);
}

/* ---------------------------------------------------------------------------------------------------- */
/* org */

static void work_org_get(api_job_t *j, ig_store_t *st)
{
    ig_org_t *o = malloc(sizeof *o);
    int rc = o ? ig_store_org_get(st, j->org_id, o) : IG_ENOMEM;
    if (rc == IG_OK) {
        ig_buf_lit(&j->out, "{\"org\":");
        org_json(&j->out, o);
        ig_buf_lit(&j->out, "}");
    }
    j->err = rc;
    free(o);
}

/* Settings the plan does not include are refused rather than stored and ignored. */
static bool plan_allows(api_job_t *j, int plan)
{
    if (!j->have_settings) return true;
    bool ent = plan == IG_STORE_PLAN_ENTERPRISE;
    if (j->redaction_on && !ent) {
        j->msg = "PII redaction is an Enterprise feature";
    } else if (j->guardrails_on && !ent) {
        j->msg = "request guardrails are an Enterprise feature";
    } else if (j->retention_days >= 0 && !ent && j->retention_days != IG_RETENTION_FREE_DAYS) {
        j->msg = "the free plan keeps logs for 7 days: retention_days must be 7";
    } else if (j->retention_days == IG_RETENTION_FREE_DAYS && ent) {
        j->msg = "Enterprise retention is 30, 60, 90 or 0 (unlimited) days";
        j->err = IG_EINVAL;
        j->field = "settings";
        return false;
    } else {
        return true;
    }
    j->err = IG_EFORBIDDEN;
    j->code = "plan_required";
    j->field = "settings";
    return false;
}

static void work_org_put(api_job_t *j, ig_store_t *st)
{
    ig_org_t *o = malloc(sizeof *o);
    int rc = o ? ig_store_org_get(st, j->org_id, o) : IG_ENOMEM;
    if (rc == IG_OK && !plan_allows(j, o->plan)) {
        free(o);
        return;
    }
    if (rc == IG_OK)
        rc = ig_store_org_update(st, j->org_id, j->have_name ? j->name : NULL,
                                 j->have_provider ? j->provider : NULL, j->have_settings ? j->text : NULL, o);
    if (rc == IG_OK) {
        ig_authcache_invalidate_org(j->org_id); /* the default provider is read by the proxy */
        ig_api_audit(j, st, "org.settings_update", j->org_id);
        ig_buf_lit(&j->out, "{\"org\":");
        org_json(&j->out, o);
        ig_buf_lit(&j->out, "}");
    }
    j->err = rc;
    free(o);
}

void ig_api_org_get(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    IG_UNUSED(param);
    ig_api_run_simple(req, rs, work_org_get);
}

void ig_api_org_put(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    IG_UNUSED(param);
    cJSON *doc = ig_api_body_object(req);
    if (!doc) return;
    static const char *const allowed[] = {"name", "default_provider", "settings", NULL};
    api_job_t *j = ig_api_job_new(req, rs, work_org_put);
    if (!j) {
        ig_resp_error(req, IG_ENOMEM, NULL);
        goto out;
    }
    j->retention_days = -1;
    if (!ig_api_only_keys(req, doc, allowed)) goto out;
    int rc = ig_api_take_str(req, doc, "name", 1, 128, j->name, sizeof j->name);
    if (rc == IG_EINVAL) goto out;
    j->have_name = rc == IG_OK;
    const cJSON *dp = cJSON_GetObjectItemCaseSensitive(doc, "default_provider");
    if (dp) {
        j->have_provider = true;
        if (!cJSON_IsNull(dp)) {
            if (!cJSON_IsString(dp) ||
                !ig_providers_find(&rs->lc->gw->providers, ig_iov_str(dp->valuestring))) {
                ig_api_error(req, 400, "unknown_provider",
                             "default_provider must be a configured provider or null", "default_provider");
                goto out;
            }
            snprintf(j->provider, sizeof j->provider, "%s", dp->valuestring);
        }
    }
    const cJSON *set = cJSON_GetObjectItemCaseSensitive(doc, "settings");
    if (set) {
        ig_orgset_t os;
        const char *why = NULL;
        char err[256];
        int prc = ig_orgset_parse(set, &os, &why, err, sizeof err);
        if (prc) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s%s%s", why ? why : "invalid settings", err[0] ? ": " : "", err);
            if (prc == IG_ENOMEM)
                ig_resp_error(req, IG_ENOMEM, NULL);
            else
                ig_api_error(req, 400, "invalid_request", msg, "settings");
            goto out;
        }
        j->retention_days = os.retention_days;
        j->redaction_on = os.redact;
        j->guardrails_on = os.guard_on;
        ig_orgset_clear(&os);
        j->text = cJSON_PrintUnformatted(set);
        if (!j->text || strlen(j->text) > IG_STORE_MAX_SETTINGS) {
            ig_api_bad_field(req, "settings", "settings are too large");
            goto out;
        }
        j->have_settings = true;
    }
    if (!j->have_name && !j->have_provider && !j->have_settings) {
        ig_api_bad_field(req, "name", "nothing to change: send name, default_provider or settings");
        goto out;
    }
    ig_api_job_submit(req, rs, j);
    j = NULL;
out:
    if (j) ig_api_job_free(j);
    cJSON_Delete(doc);
}

static void work_org_delete(api_job_t *j, ig_store_t *st)
{
    ig_org_t *o = malloc(sizeof *o);
    int rc = o ? ig_store_org_get(st, j->org_id, o) : IG_ENOMEM;
    if (rc == IG_OK && strcmp(o->slug, j->param) != 0) {
        j->err = IG_EINVAL;
        j->field = "confirm";
        j->msg = "confirm must be the org's slug";
        free(o);
        return;
    }
    if (rc == IG_OK) rc = ig_store_org_delete(st, j->org_id);
    free(o);
    if (rc) {
        j->err = rc;
        return;
    }
    ig_authcache_invalidate_org(j->org_id); /* its keys stop working on the next request */
    /* its data key went with the org row (crypto-shredding); now its log database, with its audit chain
     * (this thread's handle on it first; the other threads' caches drop theirs on the bump above) */
    if (j->worker && j->worker->orgs) ig_orgcache_forget(j->worker->orgs, j->org_id);
    rc = ig_logstore_destroy(j->gw->logs_dir, j->org_id);
    if (rc)
        IG_ERROR("api", "the log database of deleted org %s was not removed (%s)", j->org_id,
                 ig_err_name(rc));
    ig_api_audit(j, st, "org.delete", j->org_id); /* to the control chain: it outlives the org */
    ig_buf_lit(&j->out, "{\"deleted\":true}");
}

void ig_api_org_delete(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    IG_UNUSED(param);
    cJSON *doc = ig_api_body_object(req);
    if (!doc) return;
    static const char *const allowed[] = {"confirm", NULL};
    api_job_t *j = ig_api_job_new(req, rs, work_org_delete);
    if (!j) {
        ig_resp_error(req, IG_ENOMEM, NULL);
        goto out;
    }
    if (!ig_api_only_keys(req, doc, allowed)) goto out;
    if (ig_api_need_str(req, doc, "confirm", 1, 64, j->param, sizeof j->param)) goto out;
    ig_api_job_submit(req, rs, j);
    j = NULL;
out:
    if (j) ig_api_job_free(j);
    cJSON_Delete(doc);
}

static void work_org_transfer(api_job_t *j, ig_store_t *st)
{
    int rc = ig_store_org_transfer(st, j->org_id, j->user_id, j->ref);
    if (rc) {
        j->err = rc;
        if (rc == IG_ENOTFOUND) j->msg = "no member with this user_id";
        if (rc == IG_EINVAL) {
            j->field = "user_id";
            j->msg = "you already own this org";
        }
        return;
    }
    ig_authcache_invalidate_org(j->org_id);
    ig_api_audit(j, st, "org.transfer", j->ref);
    ig_buf_appendf(&j->out, "{\"owner\":\"%s\",\"previous_owner_role\":\"admin\"}", j->ref);
}

void ig_api_org_transfer(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    IG_UNUSED(param);
    cJSON *doc = ig_api_body_object(req);
    if (!doc) return;
    static const char *const allowed[] = {"user_id", NULL};
    api_job_t *j = ig_api_job_new(req, rs, work_org_transfer);
    if (!j) {
        ig_resp_error(req, IG_ENOMEM, NULL);
        goto out;
    }
    if (!ig_api_only_keys(req, doc, allowed)) goto out;
    if (ig_api_need_str(req, doc, "user_id", 1, 32, j->ref, sizeof j->ref)) goto out;
    ig_api_job_submit(req, rs, j);
    j = NULL;
out:
    if (j) ig_api_job_free(j);
    cJSON_Delete(doc);
}

static void work_billing_get(api_job_t *j, ig_store_t *st)
{
    ig_org_t *o = malloc(sizeof *o);
    int rc = o ? ig_store_org_get(st, j->org_id, o) : IG_ENOMEM;
    if (rc == IG_OK) ig_buf_appendf(&j->out, "{\"plan\":\"%s\"}", plan_name(o->plan));
    j->err = rc;
    free(o);
}

static void work_billing_put(api_job_t *j, ig_store_t *st)
{
    int rc = ig_store_org_set_plan(st, j->org_id, j->plan);
    if (rc) {
        j->err = rc;
        return;
    }
    ig_authcache_invalidate_org(j->org_id);
    ig_api_audit(j, st, "org.billing_update", plan_name(j->plan));
    ig_buf_appendf(&j->out, "{\"plan\":\"%s\"}", plan_name(j->plan));
}

void ig_api_billing_get(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    IG_UNUSED(param);
    ig_api_run_simple(req, rs, work_billing_get);
}

void ig_api_billing_put(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    IG_UNUSED(param);
    cJSON *doc = ig_api_body_object(req);
    if (!doc) return;
    static const char *const allowed[] = {"plan", NULL};
    char plan[16];
    api_job_t *j = ig_api_job_new(req, rs, work_billing_put);
    if (!j) {
        ig_resp_error(req, IG_ENOMEM, NULL);
        goto out;
    }
    if (!ig_api_only_keys(req, doc, allowed)) goto out;
    if (ig_api_need_str(req, doc, "plan", 1, 15, plan, sizeof plan)) goto out;
    if (strcmp(plan, "free") == 0)
        j->plan = IG_STORE_PLAN_FREE;
    else if (strcmp(plan, "enterprise") == 0)
        j->plan = IG_STORE_PLAN_ENTERPRISE;
    else {
        ig_api_bad_field(req, "plan", "plan must be free or enterprise");
        goto out;
    }
    ig_api_job_submit(req, rs, j);
    j = NULL;
out:
    if (j) ig_api_job_free(j);
    cJSON_Delete(doc);
}

/* ---------------------------------------------------------------------------------------------------- */
/* members and invitations */

/* A webhook event about a member or an invitation. data holds ids and role names only (never an email):
 * a failure is logged by ig_webhook_emit and changes nothing here. */
static void emit_member_event(api_job_t *j, ig_store_t *st, const char *type, const char *id_name,
                              const char *id, int role, int previous_role)
{
    char data[192];
    int n = snprintf(data, sizeof data, "{\"%s\":\"%s\"", id_name, id);
    if (role >= 0)
        n += snprintf(data + n, sizeof data - (size_t)n, ",\"role\":\"%s\"", ig_api_role_names[role & 3]);
    if (previous_role >= 0)
        n += snprintf(data + n, sizeof data - (size_t)n, ",\"previous_role\":\"%s\"",
                      ig_api_role_names[previous_role & 3]);
    snprintf(data + n, sizeof data - (size_t)n, "}");
    ig_webhook_emit(st, j->org_id, type, data);
}

/* A listing's answer {"<name>":[...]} from rows[0..n) of `size` bytes each (rc: the store call's result;
 * IG_ETOOBIG only means the first API_MAX_ROWS). Frees rows. */
static void list_json(api_job_t *j, int rc, const char *name, void *rows, size_t n, size_t size,
                      void (*json)(ig_buf_t *, const void *))
{
    if (rc && rc != IG_ETOOBIG) {
        j->err = rc;
        free(rows);
        return;
    }
    ig_buf_appendf(&j->out, "{\"%s\":[", name);
    for (size_t i = 0; i < n; i++) {
        if (i) ig_buf_lit(&j->out, ",");
        json(&j->out, (const char *)rows + i * size);
    }
    ig_buf_lit(&j->out, "]}");
    free(rows);
}

static void member_json(ig_buf_t *b, const void *row)
{
    const ig_member_t *m = row;
    ig_buf_appendf(b, "{\"user_id\":\"%s\",\"email\":", m->m.user_id);
    ig_json_append_str(b, ig_iov_str(m->email));
    ig_buf_lit(b, ",\"display_name\":");
    ig_json_append_str(b, ig_iov_str(m->display_name));
    ig_buf_appendf(b, ",\"role\":\"%s\",\"joined_at\":%lld}", ig_api_role_names[m->m.role & 3],
                   (long long)m->m.created_at);
}

static void invite_json(ig_buf_t *b, const void *row)
{
    const ig_invite_t *v = row;
    ig_buf_appendf(b, "{\"id\":\"%s\",\"email\":", v->id);
    ig_json_append_str(b, ig_iov_str(v->email));
    ig_buf_appendf(b, ",\"role\":\"%s\",\"invited_by\":", ig_api_role_names[v->role & 3]);
    if (v->invited_by[0])
        ig_buf_appendf(b, "\"%s\"", v->invited_by);
    else
        ig_buf_lit(b, "null");
    ig_buf_appendf(b, ",\"created_at\":%lld,\"expires_at\":%lld}", (long long)v->created_at,
                   (long long)v->expires_at);
}

static void work_members_list(api_job_t *j, ig_store_t *st)
{
    size_t n = 0;
    ig_member_t *ms = calloc(API_MAX_ROWS, sizeof *ms);
    int rc = ms ? ig_store_member_list(st, j->org_id, ms, API_MAX_ROWS, &n) : IG_ENOMEM;
    list_json(j, rc, "members", ms, n, sizeof *ms, member_json);
}

void ig_api_members_list(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    IG_UNUSED(param);
    ig_api_run_simple(req, rs, work_members_list);
}

static void work_members_add(api_job_t *j, ig_store_t *st)
{
    ig_user_t u;
    int rc = ig_store_user_get_by_email(st, j->email, &u);
    if (rc == IG_OK) {
        ig_membership_t m;
        rc = ig_store_membership_add(st, u.id, j->org_id, j->want_role, &m);
        if (rc) {
            j->err = rc;
            if (rc == IG_ECONFLICT) {
                j->code = "already_member";
                j->msg = "this user is already a member";
            }
            return;
        }
        ig_authcache_invalidate_org(j->org_id);
        ig_api_audit(j, st, "user.add", u.id);
        ig_member_t mm = {.m = m};
        memcpy(mm.email, u.email, sizeof mm.email);
        memcpy(mm.display_name, u.display_name, sizeof mm.display_name);
        j->status = 201;
        ig_buf_lit(&j->out, "{\"member\":");
        member_json(&j->out, &mm);
        ig_buf_lit(&j->out, "}");
        return;
    }
    if (rc != IG_ENOTFOUND) {
        j->err = rc;
        return;
    }
    char token[IG_API_INVITE_TOKEN_MAX];
    uint8_t th[32];
    ig_invite_t inv;
    if (ig_api_invite_token(token, th) != IG_OK) {
        j->err = IG_ECRYPTO;
        return;
    }
    rc = ig_store_invite_create(st, j->org_id, j->email, j->want_role, th, j->user_id[0] ? j->user_id : NULL,
                                ig_wall_ms() + j->gw->cfg->invite_ttl_ms, &inv);
    if (rc) {
        ig_wipe(token, sizeof token);
        j->err = rc;
        if (rc == IG_ECONFLICT) {
            j->code = "already_invited";
            j->msg = "this email already has a pending invitation";
        }
        return;
    }
    ig_api_audit(j, st, "user.invite", inv.id);
    emit_member_event(j, st, "user.invite", "invitation_id", inv.id, inv.role, -1);
    j->status = 201;
    ig_buf_lit(&j->out, "{\"invitation\":");
    invite_json(&j->out, &inv);
    /* the one-time token, shown once: the admin hands it to the invitee, who posts it to
     * /api/v1/invitations/accept */
    ig_buf_appendf(&j->out, ",\"invite_token\":\"%s\"}", token);
    ig_wipe(token, sizeof token);
}

void ig_api_members_add(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    IG_UNUSED(param);
    cJSON *doc = ig_api_body_object(req);
    if (!doc) return;
    static const char *const allowed[] = {"email", "role", NULL};
    int role = IG_STORE_ROLE_MEMBER;
    api_job_t *j = ig_api_job_new(req, rs, work_members_add);
    if (!j) {
        ig_resp_error(req, IG_ENOMEM, NULL);
        goto out;
    }
    if (!ig_api_only_keys(req, doc, allowed)) goto out;
    if (ig_api_need_email(req, doc, j->email, sizeof j->email)) goto out;
    if (ig_api_take_role(req, doc, "role", &role) == IG_EINVAL) goto out;
    if (role > rs->who.role || (role == IG_STORE_ROLE_OWNER && rs->who.role < IG_STORE_ROLE_OWNER)) {
        ig_api_error(req, 403, "forbidden", "you cannot grant a role above your own", "role");
        goto out;
    }
    j->want_role = role;
    ig_api_job_submit(req, rs, j);
    j = NULL;
out:
    if (j) ig_api_job_free(j);
    cJSON_Delete(doc);
}

static void membership_change(api_job_t *j, ig_store_t *st, int new_role)
{
    const char *why = NULL;
    int old = 0;
    int rc = ig_store_membership_change(st, j->org_id, j->param, new_role, j->role, &old, &why);
    if (rc) {
        j->err = rc;
        if (rc == IG_EFORBIDDEN && why && strcmp(why, "owner_only") == 0)
            j->msg = "only an owner can grant, change or remove the owner role";
        else if (rc == IG_EFORBIDDEN)
            j->msg = "you cannot change a member whose role, or grant a role, above your own";
        else if (rc == IG_ECONFLICT) {
            j->code = "last_owner";
            j->msg = "the org must keep at least one owner";
        }
        return;
    }
    ig_authcache_invalidate_org(j->org_id); /* their keys were lowered or revoked with them */
    if (new_role < 0) {
        ig_api_audit(j, st, "user.remove", j->param);
        emit_member_event(j, st, "user.remove", "user_id", j->param, -1, old);
        ig_buf_appendf(&j->out, "{\"removed\":\"%s\"}", j->param);
    } else {
        ig_api_audit(j, st, "user.role_change", j->param);
        emit_member_event(j, st, "user.role_change", "user_id", j->param, new_role, old);
        ig_buf_appendf(&j->out, "{\"member\":{\"user_id\":\"%s\",\"role\":\"%s\",\"previous_role\":\"%s\"}}",
                       j->param, ig_api_role_names[new_role & 3], ig_api_role_names[old & 3]);
    }
}

static void work_members_patch(api_job_t *j, ig_store_t *st)
{
    membership_change(j, st, j->want_role);
}

static void work_members_delete(api_job_t *j, ig_store_t *st)
{
    membership_change(j, st, -1);
}

void ig_api_members_patch(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    api_job_t *j = ig_api_param_job(req, rs, param, work_members_patch);
    if (!j) return;
    cJSON *doc = ig_api_body_object(req);
    if (!doc) {
        ig_api_job_free(j);
        return;
    }
    static const char *const allowed[] = {"role", NULL};
    int role = -1;
    if (!ig_api_only_keys(req, doc, allowed)) goto out;
    int rc = ig_api_take_role(req, doc, "role", &role);
    if (rc == IG_EINVAL) goto out;
    if (rc == IG_ENOTFOUND) {
        ig_api_bad_field(req, "role", "role is required");
        goto out;
    }
    j->want_role = role;
    ig_api_job_submit(req, rs, j);
    j = NULL;
out:
    if (j) ig_api_job_free(j);
    cJSON_Delete(doc);
}

void ig_api_members_delete(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    ig_api_run_param(req, rs, param, work_members_delete);
}

static void work_invites_list(api_job_t *j, ig_store_t *st)
{
    size_t n = 0;
    ig_invite_t *vs = calloc(API_MAX_ROWS, sizeof *vs);
    int rc = vs ? ig_store_invite_list(st, j->org_id, vs, API_MAX_ROWS, &n) : IG_ENOMEM;
    list_json(j, rc, "invitations", vs, n, sizeof *vs, invite_json);
}

static void work_invites_revoke(api_job_t *j, ig_store_t *st)
{
    ig_invite_t v;
    int rc = ig_store_invite_revoke(st, j->org_id, j->param, &v);
    if (rc) {
        j->err = rc;
        return;
    }
    ig_api_audit(j, st, "user.invite_revoke", v.id);
    ig_buf_appendf(&j->out, "{\"revoked\":\"%s\"}", v.id);
}

void ig_api_invites_list(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    IG_UNUSED(param);
    ig_api_run_simple(req, rs, work_invites_list);
}

void ig_api_invites_revoke(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    ig_api_run_param(req, rs, param, work_invites_revoke);
}

/* ---------------------------------------------------------------------------------------------------- */
/* teams and apps */

static void team_json(ig_buf_t *b, const void *row)
{
    const ig_team_t *t = row;
    ig_buf_appendf(b, "{\"id\":\"%s\",\"name\":", t->id);
    ig_json_append_str(b, ig_iov_str(t->name));
    ig_buf_appendf(b, ",\"created_at\":%lld}", (long long)t->created_at);
}

static void app_json(ig_buf_t *b, const void *row)
{
    const ig_app_t *a = row;
    ig_buf_appendf(b, "{\"id\":\"%s\",\"name\":", a->id);
    ig_json_append_str(b, ig_iov_str(a->name));
    ig_buf_lit(b, ",\"team_id\":");
    if (a->team_id[0])
        ig_buf_appendf(b, "\"%s\"", a->team_id);
    else
        ig_buf_lit(b, "null");
    ig_buf_appendf(b, ",\"created_at\":%lld}", (long long)a->created_at);
}

static void work_teams_list(api_job_t *j, ig_store_t *st)
{
    size_t n = 0;
    ig_team_t *ts = calloc(API_MAX_ROWS, sizeof *ts);
    int rc = ts ? ig_store_team_list(st, j->org_id, ts, API_MAX_ROWS, &n) : IG_ENOMEM;
    list_json(j, rc, "teams", ts, n, sizeof *ts, team_json);
}

static void work_apps_list(api_job_t *j, ig_store_t *st)
{
    size_t n = 0;
    ig_app_t *as = calloc(API_MAX_ROWS, sizeof *as);
    int rc = as ? ig_store_app_list(st, j->org_id, as, API_MAX_ROWS, &n) : IG_ENOMEM;
    list_json(j, rc, "apps", as, n, sizeof *as, app_json);
}

static void work_teams_create(api_job_t *j, ig_store_t *st)
{
    ig_team_t t;
    int rc = ig_store_team_create(st, j->org_id, j->name, &t);
    if (rc) {
        j->err = rc;
        if (rc == IG_ECONFLICT) {
            j->code = "name_taken";
            j->field = "name";
            j->msg = "a team with this name exists";
        }
        return;
    }
    ig_api_audit(j, st, "team.create", t.id);
    j->status = 201;
    ig_buf_lit(&j->out, "{\"team\":");
    team_json(&j->out, &t);
    ig_buf_lit(&j->out, "}");
}

static void work_apps_create(api_job_t *j, ig_store_t *st)
{
    ig_app_t a;
    int rc = ig_store_app_create(st, j->org_id, j->name, j->ref[0] ? j->ref : NULL, &a);
    if (rc) {
        j->err = rc;
        if (rc == IG_ECONFLICT) {
            j->code = "name_taken";
            j->field = "name";
            j->msg = "an app with this name exists";
        } else if (rc == IG_ENOTFOUND) {
            j->err = IG_EINVAL;
            j->code = "unknown_team";
            j->field = "team_id";
            j->msg = "no team with this id in your org";
        }
        return;
    }
    ig_api_audit(j, st, "app.create", a.id);
    j->status = 201;
    ig_buf_lit(&j->out, "{\"app\":");
    app_json(&j->out, &a);
    ig_buf_lit(&j->out, "}");
}

static void work_teams_delete(api_job_t *j, ig_store_t *st)
{
    int rc = ig_store_team_delete(st, j->org_id, j->param);
    if (rc) {
        j->err = rc;
        return;
    }
    ig_api_audit(j, st, "team.delete", j->param);
    ig_buf_appendf(&j->out, "{\"deleted\":\"%s\"}", j->param);
}

static void work_apps_delete(api_job_t *j, ig_store_t *st)
{
    int rc = ig_store_app_delete(st, j->org_id, j->param);
    if (rc) {
        j->err = rc;
        return;
    }
    ig_api_audit(j, st, "app.delete", j->param);
    ig_buf_appendf(&j->out, "{\"deleted\":\"%s\"}", j->param);
}

static void group_create(ig_req_t *req, ig_reqstate_t *rs, api_work_fn work, bool app)
{
    cJSON *doc = ig_api_body_object(req);
    if (!doc) return;
    static const char *const team_keys[] = {"name", NULL};
    static const char *const app_keys[] = {"name", "team_id", NULL};
    api_job_t *j = ig_api_job_new(req, rs, work);
    if (!j) {
        ig_resp_error(req, IG_ENOMEM, NULL);
        goto out;
    }
    if (!ig_api_only_keys(req, doc, app ? app_keys : team_keys)) goto out;
    if (ig_api_need_str(req, doc, "name", 1, 128, j->name, sizeof j->name)) goto out;
    if (app && ig_api_take_str(req, doc, "team_id", 1, 32, j->ref, sizeof j->ref) == IG_EINVAL) goto out;
    ig_api_job_submit(req, rs, j);
    j = NULL;
out:
    if (j) ig_api_job_free(j);
    cJSON_Delete(doc);
}

void ig_api_teams_list(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    IG_UNUSED(param);
    ig_api_run_simple(req, rs, work_teams_list);
}

void ig_api_teams_create(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    IG_UNUSED(param);
    group_create(req, rs, work_teams_create, false);
}

void ig_api_teams_delete(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    ig_api_run_param(req, rs, param, work_teams_delete);
}

void ig_api_apps_list(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    IG_UNUSED(param);
    ig_api_run_simple(req, rs, work_apps_list);
}

void ig_api_apps_create(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    IG_UNUSED(param);
    group_create(req, rs, work_apps_create, true);
}

void ig_api_apps_delete(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    ig_api_run_param(req, rs, param, work_apps_delete);
}

/*
 * api_budgets.c — spend budgets (docs/budgets.md): create, list, get, change, delete, and the status of the
 * current period (spend, what remains, utilization).
 *
 * Budgets are an Enterprise feature: creating or changing one on a free org answers 403 plan_required;
 * reading and deleting stay open, so an org that went back to free can see and clean up (its budgets no
 * longer apply on the proxy path). Admins write, viewers read. A budget's scope is its org, one of its apps
 * or one of its keys (scope_id, checked to be the org's under the store's write lock: 400 unknown_scope_id
 * otherwise); one budget per scope target (409 budget_exists). Every change drops the org's snapshot from
 * the auth cache, so the next request on any thread applies it. Ids of another org answer exactly like
 * missing ones (every store call is scoped by j->org_id).
 *
 * Amounts are USD in JSON (numbers with at most 6 decimals, held as integer micro-USD).
 *
 * Job fields: want_role = scope; ref = scope_id; name with have_name = the name ("" clears); num = the hard
 * limit (0: not given); cursor = the soft limit (-1: not given, 0: none); limit = the period (-1: not given).
 */
#include "api/api_int.h"
#include "core/err.h"
#include "limit/budget.h"
#include "net/loop.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const scope_names[3] = {"org", "app", "key"};
static const char *const period_names[3] = {"daily", "weekly", "monthly"};

/* ---------------------------------------------------------------------------------------------------- */
/* responses */

/* micro-USD as a JSON number of USD: 12.5, 0.000001 */
static void usd(ig_buf_t *b, int64_t micros)
{
    char s[32];
    int n =
        snprintf(s, sizeof s, "%lld.%06lld", (long long)(micros / 1000000), (long long)(micros % 1000000));
    while (n > 0 && s[n - 1] == '0')
        s[--n] = '\0';
    if (n > 0 && s[n - 1] == '.') s[--n] = '\0';
    ig_buf_append(b, s, (size_t)n);
}

static void budget_json(ig_buf_t *b, const ig_budget_t *x)
{
    ig_buf_appendf(b, "{\"id\":\"%s\",\"name\":", x->id);
    if (x->name[0])
        ig_json_append_str(b, ig_iov_str(x->name));
    else
        ig_buf_lit(b, "null");
    ig_buf_appendf(b, ",\"scope\":\"%s\",\"scope_id\":", scope_names[(unsigned)x->scope % 3]);
    if (x->scope_id[0])
        ig_buf_appendf(b, "\"%s\"", x->scope_id);
    else
        ig_buf_lit(b, "null");
    ig_buf_appendf(b, ",\"period_type\":\"%s\",\"soft_limit_usd\":", period_names[(unsigned)x->period % 3]);
    if (x->soft_micros)
        usd(b, x->soft_micros);
    else
        ig_buf_lit(b, "null");
    ig_buf_lit(b, ",\"hard_limit_usd\":");
    usd(b, x->hard_micros);
    ig_buf_appendf(b, ",\"created_at\":%lld,\"updated_at\":%lld}", (long long)x->created_at,
                   (long long)x->updated_at);
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
        j->msg = "budgets are an Enterprise feature";
    }
    return ok;
}

static void work_create(api_job_t *j, ig_store_t *st)
{
    ig_budget_t b;
    if (!plan_ok(j, st)) return;
    int rc = ig_store_budget_create(st, j->org_id, j->want_role, j->ref[0] ? j->ref : NULL,
                                    j->name[0] ? j->name : NULL, j->limit, j->num,
                                    j->cursor > 0 ? j->cursor : 0, &b);
    j->err = rc;
    if (rc == IG_ENOTFOUND) { /* the org exists (it authenticated us): the app or key does not */
        j->err = IG_EINVAL;
        j->code = "unknown_scope_id";
        j->msg = j->want_role == IG_STORE_BUDGET_APP ? "no app with this id in your org"
                                                     : "no key with this id in your org";
        j->field = "scope_id";
    } else if (rc == IG_ECONFLICT) {
        j->code = "budget_exists";
        j->msg = "this scope already has a budget: change that one";
    } else if (rc == IG_ETOOBIG) {
        j->err = IG_ECONFLICT;
        j->code = "too_many_budgets";
        j->msg = "the org has the maximum number of budgets (100): delete one first";
    }
    if (rc) return;
    ig_authcache_invalidate_org(j->org_id);
    ig_api_audit(j, st, "budget.create", b.id);
    j->status = 201;
    ig_buf_lit(&j->out, "{\"budget\":");
    budget_json(&j->out, &b);
    ig_buf_lit(&j->out, "}");
}

static void work_list(api_job_t *j, ig_store_t *st)
{
    size_t n = 0;
    ig_budget_t *bs = calloc(IG_STORE_BUDGETS_PER_ORG, sizeof *bs);
    int rc = bs ? ig_store_budget_list(st, j->org_id, bs, IG_STORE_BUDGETS_PER_ORG, &n) : IG_ENOMEM;
    if (rc && rc != IG_ETOOBIG) {
        j->err = rc;
        free(bs);
        return;
    }
    ig_buf_lit(&j->out, "{\"budgets\":[");
    for (size_t i = 0; i < n; i++) {
        if (i) ig_buf_lit(&j->out, ",");
        budget_json(&j->out, &bs[i]);
    }
    ig_buf_lit(&j->out, "]}");
    free(bs);
}

static void work_get(api_job_t *j, ig_store_t *st)
{
    ig_budget_t b;
    int rc = ig_store_budget_get(st, j->org_id, j->param, &b);
    if (rc == IG_OK) {
        ig_buf_lit(&j->out, "{\"budget\":");
        budget_json(&j->out, &b);
        ig_buf_lit(&j->out, "}");
    }
    j->err = rc;
}

static void work_put(api_job_t *j, ig_store_t *st)
{
    ig_budget_t b;
    /* an unknown id answers 404 whatever the plan */
    int rc = ig_store_budget_get(st, j->org_id, j->param, &b);
    if (rc) {
        j->err = rc;
        return;
    }
    if (!plan_ok(j, st)) return;
    int64_t hard = j->num ? j->num : b.hard_micros;
    int64_t soft = j->cursor >= 0 ? j->cursor : b.soft_micros;
    if (soft > hard) {
        j->err = IG_EINVAL;
        j->field = j->cursor >= 0 ? "soft_limit_usd" : "hard_limit_usd";
        j->msg = "soft_limit_usd must not exceed hard_limit_usd";
        return;
    }
    rc = ig_store_budget_update(st, j->org_id, j->param, j->have_name ? j->name : b.name,
                                j->limit >= 0 ? j->limit : b.period, hard, soft, &b);
    if (rc) {
        j->err = rc;
        return;
    }
    ig_authcache_invalidate_org(j->org_id); /* new limits apply from the next request on */
    ig_api_audit(j, st, "budget.update", b.id);
    ig_buf_lit(&j->out, "{\"budget\":");
    budget_json(&j->out, &b);
    ig_buf_lit(&j->out, "}");
}

static void work_delete(api_job_t *j, ig_store_t *st)
{
    int rc = ig_store_budget_delete(st, j->org_id, j->param);
    if (rc) {
        j->err = rc;
        return;
    }
    ig_authcache_invalidate_org(j->org_id);
    if (j->gw->budgets) ig_budget_forget(j->gw->budgets, j->param);
    ig_api_audit(j, st, "budget.delete", j->param);
    ig_buf_appendf(&j->out, "{\"deleted\":\"%s\"}", j->param);
}

static void work_status(api_job_t *j, ig_store_t *st)
{
    ig_budget_t b;
    int rc = ig_store_budget_get(st, j->org_id, j->param, &b);
    if (rc) {
        j->err = rc;
        return;
    }
    int64_t now = ig_wall_ms();
    ig_budget_period_t p = (ig_budget_period_t)b.period;
    ig_budget_state_t s = {ig_budget_period_start(p, now), 0, 0, 0};
    /* this node's ledger once it has seen the budget in this period (its settlements are the latest), else
     * the spend the store recorded */
    if (!j->gw->budgets || ig_budget_state(j->gw->budgets, b.id, now, p, &s) != IG_OK) {
        rc = ig_store_budget_spend_get(st, b.id, s.period_start, &s.spent_micros, &s.alerted);
        if (rc) {
            j->err = rc;
            return;
        }
    }
    int64_t remaining = b.hard_micros > s.spent_micros ? b.hard_micros - s.spent_micros : 0;
    /* spent / hard, as a number with 6 decimals (1 = the hard limit reached) */
    __extension__ unsigned __int128 u =
        (unsigned __int128)s.spent_micros * 1000000u / (uint64_t)b.hard_micros;
    ig_buf_lit(&j->out, "{\"budget\":");
    budget_json(&j->out, &b);
    ig_buf_lit(&j->out, ",\"current_spend\":");
    usd(&j->out, s.spent_micros);
    ig_buf_lit(&j->out, ",\"remaining\":");
    usd(&j->out, remaining);
    ig_buf_lit(&j->out, ",\"utilization\":");
    usd(&j->out, u > (unsigned __int128)INT64_MAX ? INT64_MAX : (int64_t)u);
    ig_buf_lit(&j->out, ",\"reserved\":");
    usd(&j->out, s.reserved_micros);
    ig_buf_appendf(&j->out,
                   ",\"period_start\":%lld,\"period_end\":%lld,\"warning_sent\":%s,\"exceeded_sent\":%s}",
                   (long long)s.period_start, (long long)ig_budget_period_next(p, now),
                   s.alerted & IG_BUDGET_CROSSED_SOFT ? "true" : "false",
                   s.alerted & IG_BUDGET_CROSSED_HARD ? "true" : "false");
}

/* ---------------------------------------------------------------------------------------------------- */
/* request parsing on the loop */

/* A USD amount member into *micros: a number > 0 and <= 1e9 with at most 6 decimals; null gives 0 when
 * nullable. IG_OK, IG_ENOTFOUND (absent), or IG_EINVAL after answering 400. */
static int take_usd(ig_req_t *req, cJSON *doc, const char *field, bool nullable, int64_t *micros)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, field);
    char msg[160];
    if (!v) return IG_ENOTFOUND;
    if (nullable && cJSON_IsNull(v)) {
        *micros = 0;
        return IG_OK;
    }
    if (cJSON_IsNumber(v) && v->valuedouble > 0 && v->valuedouble <= 1e9) {
        double x = v->valuedouble * 1e6, r = nearbyint(x);
        if (fabs(x - r) <= 1e-3 && r >= 1) {
            *micros = (int64_t)r;
            return IG_OK;
        }
    }
    snprintf(msg, sizeof msg,
             "%s must be a number of USD above 0 and at most 1000000000, with at most 6 decimals%s", field,
             nullable ? ", or null" : "");
    ig_api_bad_field(req, field, msg);
    return IG_EINVAL;
}

/* The "period_type" member into j->limit. IG_OK, IG_ENOTFOUND, or IG_EINVAL after answering 400. */
static int take_period(ig_req_t *req, cJSON *doc, api_job_t *j)
{
    const char *s = NULL;
    size_t len = 0;
    int rc = ig_json_get_str(doc, "period_type", &s, &len);
    if (rc == IG_ENOTFOUND) return rc;
    for (int i = 0; rc == IG_OK && i < 3; i++)
        if (len == strlen(period_names[i]) && memcmp(s, period_names[i], len) == 0) {
            j->limit = i;
            return IG_OK;
        }
    ig_api_bad_field(req, "period_type", "period_type must be monthly, weekly or daily");
    return IG_EINVAL;
}

/* The optional "name" (a string of at most 128 bytes, or null) into j->name / have_name. */
static int take_name(ig_req_t *req, cJSON *doc, api_job_t *j)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "name");
    if (!v) return IG_ENOTFOUND;
    j->have_name = true;
    if (cJSON_IsNull(v)) return IG_OK;
    return ig_api_take_str(req, doc, "name", 0, 128, j->name, sizeof j->name);
}

/* The limits and name of a create or change, into j (IG_EINVAL after answering 400). */
static int take_limits(ig_req_t *req, cJSON *doc, api_job_t *j)
{
    int64_t hard = 0, soft = 0;
    int rc = take_usd(req, doc, "hard_limit_usd", false, &hard);
    if (rc == IG_EINVAL) return rc;
    j->num = rc == IG_OK ? hard : 0;
    rc = take_usd(req, doc, "soft_limit_usd", true, &soft);
    if (rc == IG_EINVAL) return rc;
    j->cursor = rc == IG_OK ? soft : -1;
    if (j->num && j->cursor > j->num) {
        ig_api_bad_field(req, "soft_limit_usd", "soft_limit_usd must not exceed hard_limit_usd");
        return IG_EINVAL;
    }
    j->limit = -1;
    if (take_period(req, doc, j) == IG_EINVAL || take_name(req, doc, j) == IG_EINVAL) return IG_EINVAL;
    return IG_OK;
}

void ig_api_budgets_list(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    IG_UNUSED(param);
    ig_api_run_simple(req, rs, work_list);
}

void ig_api_budgets_create(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    IG_UNUSED(param);
    cJSON *doc = ig_api_body_object(req);
    if (!doc) return;
    static const char *const allowed[] = {"name",           "scope",          "scope_id", "period_type",
                                          "soft_limit_usd", "hard_limit_usd", NULL};
    char scope[8];
    api_job_t *j = ig_api_job_new(req, rs, work_create);
    if (!j) {
        ig_resp_error(req, IG_ENOMEM, NULL);
        goto out;
    }
    if (!ig_api_only_keys(req, doc, allowed)) goto out;
    if (ig_api_need_str(req, doc, "scope", 1, 7, scope, sizeof scope)) goto out;
    j->want_role = -1;
    for (int i = 0; i < 3; i++)
        if (strcmp(scope, scope_names[i]) == 0) j->want_role = i;
    if (j->want_role < 0) {
        ig_api_bad_field(req, "scope", "scope must be org, app or key");
        goto out;
    }
    const cJSON *sid = cJSON_GetObjectItemCaseSensitive(doc, "scope_id");
    if (j->want_role == IG_STORE_BUDGET_ORG) {
        if (sid && !cJSON_IsNull(sid)) {
            ig_api_bad_field(req, "scope_id", "an org budget has no scope_id (it is the caller's org)");
            goto out;
        }
    } else if (ig_api_need_str(req, doc, "scope_id", 1, 32, j->ref, sizeof j->ref)) {
        goto out;
    }
    if (take_limits(req, doc, j)) goto out;
    if (!j->num) {
        ig_api_bad_field(req, "hard_limit_usd", "hard_limit_usd is required");
        goto out;
    }
    if (j->limit < 0) j->limit = IG_STORE_PERIOD_MONTHLY;
    ig_api_job_submit(req, rs, j);
    j = NULL;
out:
    if (j) ig_api_job_free(j);
    cJSON_Delete(doc);
}

void ig_api_budgets_get(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    ig_api_run_param(req, rs, param, work_get);
}

void ig_api_budgets_put(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    api_job_t *j = ig_api_param_job(req, rs, param, work_put);
    if (!j) return;
    cJSON *doc = ig_api_body_object(req);
    if (!doc) {
        ig_api_job_free(j);
        return;
    }
    static const char *const allowed[] = {"name", "period_type", "soft_limit_usd", "hard_limit_usd", NULL};
    if (cJSON_GetObjectItemCaseSensitive(doc, "scope") || cJSON_GetObjectItemCaseSensitive(doc, "scope_id")) {
        ig_api_bad_field(req, cJSON_GetObjectItemCaseSensitive(doc, "scope") ? "scope" : "scope_id",
                         "a budget's scope cannot change: create another budget");
        goto out;
    }
    if (!ig_api_only_keys(req, doc, allowed) || take_limits(req, doc, j)) goto out;
    if (!j->num && j->cursor < 0 && j->limit < 0 && !j->have_name) {
        ig_api_bad_field(req, "hard_limit_usd",
                         "nothing to change: send name, period_type, soft_limit_usd or hard_limit_usd");
        goto out;
    }
    ig_api_job_submit(req, rs, j);
    j = NULL;
out:
    if (j) ig_api_job_free(j);
    cJSON_Delete(doc);
}

void ig_api_budgets_delete(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    ig_api_run_param(req, rs, param, work_delete);
}

void ig_api_budgets_status(ig_req_t *req, ig_reqstate_t *rs, ig_iov_t param)
{
    ig_api_run_param(req, rs, param, work_status);
}

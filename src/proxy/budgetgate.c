/*
 * budgetgate.c — spend budgets on the proxy path (see budgetgate.h).
 *
 * Which budgets: those of the caller's org snapshot (loaded on a worker with the org, Enterprise orgs only)
 * whose scope is the org, the key's app or the key: at most one of each (the store keeps one budget per
 * scope target), so at most IG_BUDGET_MAX_PER_CALL. The ledger is this node's: the first time it sees a
 * budget in a period it starts from the spend the snapshot brought (the store's, as of the snapshot's load;
 * zero when the period turned since), and from then on its own settlements are the truth — a load merges
 * (limit/budget.h), so a stale snapshot never rolls the ledger back.
 */
#include "proxy/budgetgate.h"
#include "app/metrics.h"
#include "core/err.h"
#include "core/log.h"
#include "net/loop.h"

#include <stdio.h>
#include <stdlib.h>

_Static_assert(IG_STORE_PERIOD_DAILY == (int)IG_BUDGET_DAILY &&
                   IG_STORE_PERIOD_WEEKLY == (int)IG_BUDGET_WEEKLY &&
                   IG_STORE_PERIOD_MONTHLY == (int)IG_BUDGET_MONTHLY,
               "store.h periods must be limit/budget.h periods");

__extension__ typedef unsigned __int128 u128;

/* ceil(tokens * price / 1e6): price in micro-USD per million tokens, the result in micro-USD */
static u128 cost_up(u128 tokens, int64_t price)
{
    return (tokens * (u128)(price > 0 ? price : 0) + 999999) / 1000000;
}

int64_t ig_budget_estimate_micros(const ig_price_t *p, int64_t body_bytes, int64_t max_tokens)
{
    if (!p) return IG_BUDGET_UNPRICED_MICROS;
    u128 in = (u128)(body_bytes > 0 ? body_bytes : 0);
    in = (in + IG_BUDGET_BYTES_PER_TOKEN - 1) / IG_BUDGET_BYTES_PER_TOKEN;
    u128 out = (u128)(max_tokens > 0 ? max_tokens : IG_BUDGET_DEFAULT_MAX_TOKENS);
    /* a prompt token may be written to the provider's cache, dearer than a plain input token (Anthropic) */
    int64_t in_price = p->cache_write > p->input ? p->cache_write : p->input;
    u128 micros = cost_up(in, in_price) + cost_up(out, p->output);
    return micros > (u128)INT64_MAX ? INT64_MAX : (int64_t)micros;
}

/* The provider the proxy will use (header, else path, else the org's default), as ig_proxy_handle picks it;
 * NULL when there is none (the proxy then refuses the call before anything goes upstream). */
static const ig_provider_t *provider_of(ig_req_t *req, ig_reqstate_t *rs)
{
    ig_iov_t name = ig_req_header(req, IG_IOV_LIT("x-ingate-provider"));
    if (!name.base || name.len == 0) {
        const char *p = ig_provider_for_path(req->path);
        if (p)
            name = ig_iov_str(p);
        else if (rs->auth.org->default_provider[0])
            name = ig_iov_str(rs->auth.org->default_provider);
    }
    return name.base && name.len ? ig_providers_find(&rs->lc->gw->providers, name) : NULL;
}

static void usd(char *out, size_t cap, int64_t micros)
{
    int n = snprintf(out, cap, "%lld.%06lld", (long long)(micros / 1000000), (long long)(micros % 1000000));
    while (n > 0 && out[n - 1] == '0')
        out[--n] = '\0';
    if (n > 0 && out[n - 1] == '.') out[--n] = '\0';
}

static void on_pool_free(void *arg)
{
    ig_capture_budget_t *b = arg;
    if (b->ledger && b->hold.n) ig_budget_release(b->ledger, &b->hold); /* never went upstream */
}

/* The first refusal of a period: the writer claims budget.exceeded in the store and emits it. When it cannot
 * be queued to the writer, the ledger forgets the refusal was reported, so the next refusal tries again. */
static void queue_refusal(ig_reqstate_t *rs, const ig_capture_budget_t *b, const ig_budget_state_t *state)
{
    ig_capture_rec_t *rec = calloc(1, sizeof *rec);
    bool queued = false;
    if (rec) {
        snprintf(rec->meta.org_id, sizeof rec->meta.org_id, "%s", rs->auth.org->id);
        rec->budget = *b;
        rec->budget.event_only = true;
        rec->budget.period_start = state->period_start;
        rec->budget.spent_micros = state->spent_micros;
        queued = ig_capture_submit(rec); /* frees rec when the queue is full */
    }
    if (!queued) {
        IG_WARN("proxy", "budget.exceeded of budget %s not queued yet (%s): the next refusal retries",
                b->rules[0].id, rec ? "capture queue full" : "out of memory");
        ig_budget_unmark(b->ledger, b->rules[0].id, state->period_start, IG_BUDGET_CROSSED_HARD);
    }
}

/* Loads a budget into the ledger from the snapshot: the spend and alerts it brought when they are of the
 * current period (merged: limit/budget.h), else a fresh period. */
static void load_one(ig_budget_ledger_t *l, const ig_orgbudget_t *ob, int64_t now)
{
    bool same = ob->period_start == ig_budget_period_start(ob->rule.period, now);
    (void)ig_budget_load(l, &ob->rule, now, same ? ob->spent_micros : 0, same ? ob->alerted : 0);
}

static void refuse(ig_req_t *req, const ig_budget_rule_t *rule, const ig_budget_state_t *state)
{
    char body[320], spent[32], hard[32];
    usd(spent, sizeof spent, state->spent_micros);
    usd(hard, sizeof hard, rule->hard_micros);
    int n = snprintf(
        body, sizeof body,
        "{\"error\": \"budget exceeded\", \"error_code\": \"budget_exceeded\", \"budget_id\": \"%s\", "
        "\"current_spend\": %s, \"hard_limit_usd\": %s}",
        rule->id, spent, hard);
    ig_resp_json(req, 429, body, (size_t)n);
}

bool ig_budget_gate_admit(ig_req_t *req, ig_reqstate_t *rs, const char *model, int64_t max_tokens,
                          ig_capture_budget_t *b, void (*on_refused)(void *ctx), void *ctx)
{
    const ig_orgsnap_t *org = rs->auth.org;
    ig_budget_ledger_t *l = rs->lc->gw->budgets;
    memset(b, 0, sizeof *b);
    if (!l || !org->nbudgets) return true;
    /* the org's, the app's, the key's: in that order (a refusal names the widest budget that refused) */
    const ig_orgbudget_t *use[IG_BUDGET_MAX_PER_CALL] = {NULL, NULL, NULL};
    for (size_t i = 0; i < org->nbudgets; i++) {
        const ig_orgbudget_t *ob = &org->budgets[i];
        if (ob->scope == IG_STORE_BUDGET_ORG ||
            (ob->scope == IG_STORE_BUDGET_APP && rs->auth.app_id[0] &&
             strcmp(ob->scope_id, rs->auth.app_id) == 0) ||
            (ob->scope == IG_STORE_BUDGET_KEY &&
             (strcmp(ob->scope_id, rs->auth.key_id) == 0 || strcmp(ob->scope_id, rs->auth.lineage_id) == 0)))
            if (ob->scope >= 0 && ob->scope < IG_BUDGET_MAX_PER_CALL && !use[ob->scope]) use[ob->scope] = ob;
    }
    int64_t now = ig_wall_ms();
    for (int s = 0; s < IG_BUDGET_MAX_PER_CALL; s++) {
        const ig_orgbudget_t *ob = use[s];
        if (!ob) continue;
        int k = b->n++;
        b->rules[k] = ob->rule;
        b->scope[k] = ob->scope;
        memcpy(b->scope_id[k], ob->scope_id, sizeof b->scope_id[k]);
        /* first sight in this period: start from what the snapshot brought */
        if (!ig_budget_known(l, ob->rule.id, now)) load_one(l, ob, now);
    }
    if (!b->n) return true;

    const ig_provider_t *prov = provider_of(req, rs);
    if (!prov) { /* refused further on, before anything goes upstream */
        memset(b, 0, sizeof *b);
        return true;
    }
    ig_price_t price;
    bool priced = model[0] && ig_pricing_lookup(rs->lc->gw->pricing, prov->name, model, &price) == IG_OK;
    int64_t est = ig_budget_estimate_micros(priced ? &price : NULL, (int64_t)req->body.len, max_tokens);
    int refused_by = 0;
    ig_budget_state_t state;
    unsigned crossed = 0;
    int rc = ig_budget_reserve(l, b->rules, b->n, est, now, &b->hold, &refused_by, &state, &crossed);
    if (rc == IG_ENOTFOUND) { /* the period turned, or a newer rule changed the period type: load, once */
        for (int s = 0; s < IG_BUDGET_MAX_PER_CALL; s++)
            if (use[s] && !ig_budget_known(l, use[s]->rule.id, now)) load_one(l, use[s], now);
        rc = ig_budget_reserve(l, b->rules, b->n, est, now, &b->hold, &refused_by, &state, &crossed);
    }
    if (rc == IG_OK) {
        b->ledger = l;
        if (ig_pool_cleanup_add(req->pool, on_pool_free, b) == IG_OK) return true;
        ig_budget_release(l, &b->hold);
        memset(b, 0, sizeof *b);
        if (on_refused) on_refused(ctx);
        ig_resp_error(req, IG_ENOMEM, NULL);
        return false;
    }
    if (on_refused) on_refused(ctx);
    if (rc == IG_ETOOMANY) {
        const ig_budget_rule_t *rule = &b->rules[refused_by];
        if (crossed & IG_BUDGET_CROSSED_HARD) {
            ig_capture_budget_t one = {.ledger = l, .n = 1};
            one.rules[0] = *rule;
            one.scope[0] = b->scope[refused_by];
            memcpy(one.scope_id[0], b->scope_id[refused_by], sizeof one.scope_id[0]);
            queue_refusal(rs, &one, &state);
        }
        ig_metrics_budget_refused();
        refuse(req, rule, &state);
    } else {
        IG_ERROR("proxy", "budget check failed (%s): call refused", ig_err_name(rc));
        ig_resp_error(req, IG_EUNAVAILABLE, "budget check unavailable");
    }
    memset(b, 0, sizeof *b);
    return false;
}

void ig_budget_gate_hand_over(ig_capture_budget_t *b, ig_capture_rec_t *rec)
{
    if (!b->ledger) return;
    rec->budget = *b;
    memset(b, 0, sizeof *b);
}

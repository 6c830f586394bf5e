/*
 * logwriter.c — from a captured call to a stored, redacted, encrypted log record (see logwriter.h).
 */
#include "capture/logwriter.h"
#include "capture/orgctx.h"
#include "capture/pricing.h"
#include "capture/spool.h"
#include "capture/usage.h"
#include "core/err.h"
#include "core/limits.h"
#include "core/log.h"
#include "limit/limiter.h"
#include "net/loop.h"
#include "webhook/webhook.h"

#include <stdio.h>
#include <stdlib.h>

#define ORG_CACHE      256
#define REPLAY_MS      1000 /* how often a non-empty spool is retried */
#define STORE_REST_MS  2000 /* after a failed batch, an org's records go straight to the spool this long */
#define MAX_SEALED     5    /* req body, resp body, user id, session id, client ip */
#define ALERT_RETRY_MS 1000 /* how often budget alerts still pending in the store are queued again */
#define ALERT_BATCH    16   /* pending alerts read per retry */

struct ig_logwriter {
    char *store_url, *spool_dir;
    ig_store_t *st;
    ig_orgcache_t *orgs;
    ig_spool_t *spool;
    const ig_pricing_t *pricing;
    struct ig_limiter *limiter;
    bool spool_pending; /* something was spooled since the last successful replay */
    int64_t next_replay_ms;
    bool alerts_pending; /* budget alerts may be pending in the store (a failed queue, an earlier process) */
    int64_t next_alert_retry_ms;
};

ig_logwriter_t *ig_logwriter_new(const ig_capture_conf_t *conf)
{
    ig_logwriter_t *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    ig_orgctx_conf_t oc = {conf->logs_dir, conf->kek, conf->kek_id, conf->redact_all_orgs};
    int err = 0;
    if (!conf->store_url || !conf->spool_dir || !conf->logs_dir || !conf->kek) {
        free(w);
        return NULL;
    }
    w->store_url = strdup(conf->store_url);
    w->spool_dir = strdup(conf->spool_dir);
    w->orgs = ig_orgcache_new(&oc, ORG_CACHE);
    w->spool = w->spool_dir ? ig_spool_open(w->spool_dir, &err) : NULL;
    w->pricing = conf->pricing;
    w->limiter = conf->limiter;
    if (!w->store_url || !w->spool_dir || !w->orgs || !w->spool) {
        ig_logwriter_free(w);
        return NULL;
    }
    w->spool_pending = true;  /* a previous process may have left files */
    w->alerts_pending = true; /* ... or alerts it claimed and did not queue */
    return w;
}

void ig_logwriter_free(ig_logwriter_t *w)
{
    if (!w) return;
    ig_orgcache_free(w->orgs);
    ig_spool_close(w->spool);
    ig_store_close(w->st);
    free(w->store_url);
    free(w->spool_dir);
    free(w);
}

void ig_logwriter_flush(ig_logwriter_t *w)
{
    ig_spool_seal(w->spool);
}

static ig_store_t *control(ig_logwriter_t *w)
{
    if (!w->st) {
        int err = 0;
        w->st = ig_store_open(w->store_url, &err);
        if (!w->st) IG_WARN("capture", "control store unavailable (%s)", ig_err_name(err));
    }
    return w->st;
}

/* A record being built: the log row and the buffers its sealed fields live in. */
typedef struct {
    ig_capture_rec_t *src;
    ig_orgctx_t *org;
    ig_logrec_t rec;
    ig_buf_t sealed[MAX_SEALED];
    char model[IG_USAGE_MODEL_MAX + 1];
    ig_guard_text_t guard; /* the guardrail findings as stored */
    bool ok;
    bool priced;      /* build() reached the cost: rec.cost_micros is the call's cost (-1 = unknown) */
    int64_t est_cost; /* a stream without usage: its cost estimated from its bytes (-1 = none) */
} item_t;

static void item_clear(item_t *it)
{
    for (size_t i = 0; i < MAX_SEALED; i++)
        ig_buf_free(&it->sealed[i], false);
}

/* Seals plaintext into it->sealed[slot] and points *p and *n at it. */
static int seal(item_t *it, int slot, const char *field, ig_iov_t pt, const uint8_t **p, size_t *n)
{
    ig_buf_t *b = &it->sealed[slot];
    ig_buf_init(b, pt.len + 256);
    int rc = ig_field_seal(it->org->dk, it->org->org_id, it->rec.id, field, pt, b);
    if (rc == IG_OK) {
        *p = (const uint8_t *)b->data;
        *n = b->len;
    }
    return rc;
}

static void add_redact_time(uint64_t t0, size_t bytes)
{
    atomic_fetch_add(&ig_capture_stats.redact_ns, ig_now_ns() - t0);
    atomic_fetch_add(&ig_capture_stats.redact_bytes, bytes);
}

/* A body: redacted (when the org redacts) into scratch, then sealed. */
static int seal_body(item_t *it, int slot, const char *field, ig_iov_t body, const char *ctype,
                     const uint8_t **p, size_t *n)
{
    if (body.len == 0) return IG_OK;
    ig_orgctx_t *o = it->org;
    if (!o->redact) return seal(it, slot, field, body, p, n);
    ig_buf_t red;
    ig_buf_init(&red, body.len * 2 + 4096);
    size_t matches = 0;
    uint64_t t0 = ig_now_ns();
    int rc = ig_redact_body(o->redactor, o->set.redact_mode,
                            ig_redact_kind_of(ig_iov_str(ctype ? ctype : "")), body, &red, &matches);
    add_redact_time(t0, body.len);
    if (rc == IG_OK) rc = seal(it, slot, field, ig_buf_iov(&red), p, n);
    ig_buf_free(&red, true);
    return rc; /* a redaction failure fails the record: never store what could not be redacted */
}

/* An attribution id: redacted (may be dropped), tagged for lookups, sealed. */
static int seal_attr(item_t *it, int slot, const char *field, const char *value, const uint8_t **p, size_t *n,
                     uint8_t tag[16], bool *has_tag)
{
    if (!value || !value[0]) return IG_OK;
    ig_orgctx_t *o = it->org;
    ig_buf_t red;
    ig_buf_init(&red, 4096);
    ig_iov_t v = ig_iov_str(value);
    int rc = IG_OK;
    if (o->redact) {
        bool dropped = false;
        size_t matches = 0;
        uint64_t t0 = ig_now_ns();
        rc = ig_redact_field(o->redactor, o->set.redact_mode, v, &red, &dropped, &matches);
        add_redact_time(t0, v.len);
        if (rc == IG_OK && dropped) {
            ig_buf_free(&red, true);
            return IG_OK;
        }
        v = ig_buf_iov(&red);
    }
    if (rc == IG_OK) rc = ig_field_tag(o->tk, field, v, tag);
    if (rc == IG_OK) {
        *has_tag = true;
        rc = seal(it, slot, field, v, p, n);
    }
    ig_buf_free(&red, true);
    return rc;
}

/* Copies s into dst (cap bytes with the NUL), cut at a UTF-8 character boundary. */
static void clip(char *dst, size_t cap, const char *s)
{
    size_t n = strnlen(s, cap - 1);
    if (s[n] != '\0')
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) /* do not split a character */
            n--;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static int64_t ceil_div(int64_t a, int64_t b)
{
    return a <= 0 ? 0 : a / b + (a % b != 0);
}

/* A complete streamed answer that reports no usage (an OpenAI stream without stream_options.include_usage):
 * *est gets its usage estimated from what was relayed, like the admission estimate of budgets: input
 * ceil(request bytes / 4) and output ceil(response bytes / 4) where the answer does not say. The response
 * bytes include the SSE framing around every delta, so the output estimate errs high. Callers never charge
 * more than the call's admission estimate. false when the call is not such a stream. */
static bool stream_estimate(const ig_capture_rec_t *r, const ig_usage_t *u, ig_usage_t *est)
{
    const ig_callrec_t *m = &r->meta;
    if (!m->stream || m->status < 200 || m->status > 299 || (u->input >= 0 && u->output >= 0)) return false;
    *est = *u;
    if (est->input < 0) est->input = ceil_div(m->req_bytes, IG_BUDGET_BYTES_PER_TOKEN);
    if (est->output < 0) est->output = ceil_div(m->resp_bytes, IG_BUDGET_BYTES_PER_TOKEN);
    if (est->cached < 0) est->cached = 0;
    if (est->cache_write < 0) est->cache_write = 0;
    return true;
}

/* Replaces the tokens charged to the key's tokens-per-minute limit at admission by what the call used:
 * input + output as the answer reports them; nothing for an error answer without usage (providers do not
 * bill those); a stream without usage its estimate (est, NULL = none), at most what was charged; the
 * estimate stays when another successful answer reports no usage. */
static void settle_tokens(ig_logwriter_t *w, const ig_capture_rec_t *r, const ig_usage_t *u,
                          const ig_usage_t *est)
{
    if (!w->limiter || r->tpm_limit <= 0 || r->tpm_estimate <= 0)
        return; /* nothing charged: nothing to settle */
    int64_t used = r->tpm_estimate;
    if (u->input >= 0 && u->output >= 0)
        used = u->input + u->output;
    else if (est)
        used = IG_MIN(est->input + est->output, r->tpm_estimate);
    else if (r->meta.status < 200 || r->meta.status > 299)
        used = 0;
    char k[IG_LIMITER_KEY_MAX];
    ig_limit_rule_t rule = {r->tpm_limit, 60000};
    (void)ig_limiter_settle(w->limiter,
                            ig_limiter_key(k, r->lineage_id[0] ? r->lineage_id : r->meta.key_id, 't'), &rule,
                            used - r->tpm_estimate, (int64_t)ig_now_ns());
}

/* The cost of usage u in micro-USD: priced as the answer's model when the table knows it, else as the
 * requested one (model, NULL = none); -1 when neither has a price. */
static int64_t cost_of(const ig_logwriter_t *w, const char *provider, const char *model, const ig_usage_t *u)
{
    int64_t c = -1;
    if (!w->pricing) return -1;
    if (u->model[0]) c = ig_pricing_cost_micros(w->pricing, provider, u->model, u);
    if (c < 0 && model) c = ig_pricing_cost_micros(w->pricing, provider, model, u);
    return c;
}

/* The request guardrails' findings (counts, score, rule names: no content), kept whatever the capture mode.
 */
static void guard_fields(item_t *it)
{
    ig_logrec_t *x = &it->rec;
    ig_guard_text(&it->src->guard, &it->guard);
    x->guard_action = it->guard.action;
    x->guard_pii = it->guard.pii[0] ? it->guard.pii : NULL;
    x->guard_injection_score = it->guard.injection_score;
    x->guard_injection_rules = it->guard.rules[0] ? it->guard.rules : NULL;
}

static int build(ig_logwriter_t *w, item_t *it)
{
    ig_capture_rec_t *r = it->src;
    ig_orgctx_t *o = it->org;
    ig_logrec_t *x = &it->rec;
    const ig_callrec_t *m = &r->meta;
    memset(x, 0, sizeof *x);
    memcpy(x->id, m->id, sizeof x->id);
    memcpy(x->key_id, m->key_id, sizeof x->key_id);
    memcpy(x->key_prefix, m->key_prefix, sizeof x->key_prefix);
    memcpy(x->provider, m->provider, sizeof x->provider);
    memcpy(x->method, m->method, sizeof x->method);
    x->status = m->status;
    x->stream = m->stream;
    x->latency_ms = m->latency_ms;
    x->ttfb_ms = m->ttfb_ms;
    x->req_bytes = m->req_bytes;
    x->resp_bytes = m->resp_bytes;
    x->req_truncated = m->req_truncated;
    x->resp_truncated = m->resp_truncated;
    x->created_at = m->created_at;
    guard_fields(it);

    ig_usage_t u, est;
    ig_usage_init(&u);
    ig_usage_parse(m->provider, ig_buf_iov(&r->req_body), ig_buf_iov(&r->resp_body), m->stream, &u);
    bool estimated = stream_estimate(r, &u, &est);
    settle_tokens(w, r, &u, estimated ? &est : NULL);
    x->input_tokens = u.input;
    x->output_tokens = u.output;
    x->cached_tokens = u.cached;
    x->cache_hit = u.cache_hit;
    /* the model the client asked for (the request body), as the issue defines it; the response's exact
     * version (u.model) is only used to price the call when it is more specific */
    const char *model = r->model && r->model[0] ? r->model : NULL;
    /* the log store keeps at most IG_LOGSTORE_MAX_MODEL bytes: cut (at a UTF-8 boundary), never refuse */
    if (model) clip(it->model, IG_LOGSTORE_MAX_MODEL + 1, model);
    x->model = model ? it->model : NULL;
    /* a call is priced even when the request named no model but the answer did */
    x->cost_micros = cost_of(w, m->provider, model, &u);
    /* the log keeps the tokens and the cost unknown; budgets settle the estimate */
    if (estimated) it->est_cost = cost_of(w, m->provider, model, &est);
    it->priced = true;

    if (o->set.capture == IG_CAPTURE_OFF) {
        x->path = ""; /* only what usage and budgets need */
        return IG_OK;
    }
    if (r->path && strlen(r->path) > IG_LOGSTORE_MAX_PATH) r->path[IG_LOGSTORE_MAX_PATH] = '\0';
    if (r->error && strlen(r->error) > IG_LOGSTORE_MAX_ERROR) r->error[IG_LOGSTORE_MAX_ERROR] = '\0';
    x->path = r->path ? r->path : "";
    x->error = r->error;
    int rc = IG_OK;
    if (r->client_ip[0])
        rc = seal(it, 4, "client_ip", ig_iov_str(r->client_ip), &x->client_ip, &x->client_ip_len);
    if (rc == IG_OK)
        rc = seal_attr(it, 2, "user_id", r->user_id, &x->user_id, &x->user_id_len, x->user_tag,
                       &x->has_user_tag);
    if (rc == IG_OK)
        rc = seal_attr(it, 3, "session_id", r->session_id, &x->session_id, &x->session_id_len, x->session_tag,
                       &x->has_session_tag);
    if (rc || o->set.capture == IG_CAPTURE_METADATA) return rc;
    rc = seal_body(it, 0, "req_body", ig_buf_iov(&r->req_body), r->req_ctype, &x->req_body, &x->req_body_len);
    if (rc == IG_OK)
        rc = seal_body(it, 1, "resp_body", ig_buf_iov(&r->resp_body), r->resp_ctype, &x->resp_body,
                       &x->resp_body_len);
    return rc;
}

/* Stores the records of one org; on failure they go to the spool. */
static void store_group(ig_logwriter_t *w, item_t **g, size_t n)
{
    const char *org_id = g[0]->src->meta.org_id;
    ig_orgctx_t *o = NULL;
    ig_logstore_t *ls = NULL;
    ig_logrec_t *recs = malloc(n * sizeof *recs);
    /* looked up again: an entry an earlier item pointed at may have been reloaded since (its TTL) */
    int rc = recs && w->st ? ig_orgcache_get(w->orgs, w->st, org_id, &o) : IG_ESTORE;
    /* after a failure the store gets a rest: batches go straight to the spool (no second busy-timeout wait
     * per batch), and the idle replay finds out when it is back */
    if (rc == IG_OK && ig_wall_ms() < o->down_until)
        rc = IG_ESTORE;
    else if (rc == IG_OK)
        rc = ig_orgcache_logstore(w->orgs, o, &ls);
    if (rc == IG_OK) {
        for (size_t i = 0; i < n; i++)
            recs[i] = g[i]->rec;
        rc = ig_logstore_insert(ls, recs, n);
        if (rc == IG_EINVAL) {
            /* a record the store refuses must not sink its batch (nor, spooled, every later replay): one by
             * one, and the bad ones are dropped and counted */
            size_t ok = 0, bad = 0;
            for (size_t i = 0; i < n; i++) {
                int r1 = ig_logstore_insert(ls, &recs[i], 1);
                if (r1 == IG_OK)
                    ok++;
                else if (r1 == IG_EINVAL)
                    bad++;
                else
                    break;
            }
            if (ok + bad == n) {
                atomic_fetch_add(&ig_capture_stats.written, ok);
                atomic_fetch_add(&ig_capture_stats.dropped, bad);
                IG_ERROR("capture", "org %s: %zu invalid log records dropped", org_id, bad);
                free(recs);
                return;
            }
        }
    }
    free(recs);
    if (rc == IG_OK) {
        atomic_fetch_add(&ig_capture_stats.written, n);
        return;
    }
    atomic_fetch_add(&ig_capture_stats.failed_batches, 1);
    if (o && rc != IG_ENOTFOUND) o->down_until = ig_wall_ms() + STORE_REST_MS;
    if (rc == IG_ENOTFOUND) { /* deleted since the batch began */
        atomic_fetch_add(&ig_capture_stats.orphaned, n);
        return;
    }
    IG_WARN("capture", "org %s: %zu log records not stored (%s): spooled", org_id, n, ig_err_name(rc));
    for (size_t i = 0; i < n; i++) {
        if (ig_spool_append(w->spool, org_id, &g[i]->rec) == IG_OK) {
            atomic_fetch_add(&ig_capture_stats.spooled, 1);
            w->spool_pending = true;
        } else {
            atomic_fetch_add(&ig_capture_stats.dropped, 1);
        }
    }
}

static int org_cmp(const void *a, const void *b)
{
    const item_t *x = *(item_t *const *)a, *y = *(item_t *const *)b;
    return strcmp(x->src->meta.org_id, y->src->meta.org_id);
}

/* ---- budgets (limit/budget.h, docs/budgets.md) ---- */

/* An alert a settlement (or a refusal) reported: emitted once the batch's spend is stored, if the store says
 * this batch claimed it first. */
typedef struct {
    const ig_capture_rec_t *r;
    int k;          /* which budget of r->budget */
    unsigned which; /* IG_BUDGET_CROSSED_SOFT or _HARD */
    int64_t period_start, spent;
    size_t item; /* its spend item in the batch (whose `claimed` bits decide) */
} budget_alert_t;

/* What a batch settles: spend per (budget, period), alerts. Each record adds at most IG_BUDGET_MAX_PER_CALL
 * spend items and twice as many alerts. */
typedef struct {
    ig_budget_spend_t *spend;
    size_t nspend;
    budget_alert_t *alerts;
    size_t nalerts;
} budget_batch_t;

/* Adds to the batch's spend item of (budget, period), made on first use; its index. */
static size_t batch_spend(budget_batch_t *bb, const char *org_id, const char *id, int64_t period_start,
                          int64_t add, unsigned alerted)
{
    for (size_t i = 0; i < bb->nspend; i++) { /* one row per (budget, period) and batch */
        ig_budget_spend_t *x = &bb->spend[i];
        if (x->period_start == period_start && strcmp(x->budget_id, id) == 0) {
            x->add_micros = add > INT64_MAX - x->add_micros ? INT64_MAX : x->add_micros + add;
            x->alerted |= alerted;
            return i;
        }
    }
    ig_budget_spend_t *x = &bb->spend[bb->nspend];
    memset(x, 0, sizeof *x);
    snprintf(x->budget_id, sizeof x->budget_id, "%s", id);
    snprintf(x->org_id, sizeof x->org_id, "%s", org_id);
    x->period_start = period_start;
    x->add_micros = add;
    x->alerted = alerted;
    return bb->nspend++;
}

static void batch_alert(budget_batch_t *bb, const ig_capture_rec_t *r, int k, unsigned which,
                        int64_t period_start, int64_t spent, size_t item)
{
    bb->alerts[bb->nalerts++] = (budget_alert_t){r, k, which, period_start, spent, item};
}

/* Settles the record's hold with the call's cost (cost < 0: unknown; est >= 0: an estimate of it, charged
 * up to the reservation). An unknown cost without an estimate is charged as reserved when the provider may
 * have billed the call (a success without usage, a stream the client aborted), and is zero for an error
 * answer (providers do not bill those). */
static void settle_budget(budget_batch_t *bb, ig_capture_rec_t *r, int64_t cost, int64_t est)
{
    ig_capture_budget_t *b = &r->budget;
    if (!b->ledger) return;
    if (b->event_only) { /* the first refusal of the period: budget.exceeded */
        size_t item =
            batch_spend(bb, r->meta.org_id, b->rules[0].id, b->period_start, 0, IG_BUDGET_CROSSED_HARD);
        batch_alert(bb, r, 0, IG_BUDGET_CROSSED_HARD, b->period_start, b->spent_micros, item);
        return;
    }
    if (!b->hold.n) return;
    int status = r->meta.status;
    bool billable = (status >= 200 && status <= 299) || status == 499;
    ig_budget_hold_t h = b->hold;
    int64_t actual = cost >= 0 ? cost : est >= 0 ? IG_MIN(est, h.amount) : billable ? -1 : 0;
    int64_t charged = actual < 0 ? h.amount : actual;
    unsigned crossed[IG_BUDGET_MAX_PER_CALL];
    int64_t spent[IG_BUDGET_MAX_PER_CALL];
    ig_budget_settle(b->ledger, &b->hold, actual, crossed, spent);
    for (int i = 0; i < h.n; i++) {
        size_t item = batch_spend(bb, r->meta.org_id, h.id[i], h.period_start[i], charged, crossed[i]);
        int k = 0; /* the hold's budgets are r->budget.rules in the same order */
        while (k < b->n - 1 && strcmp(b->rules[k].id, h.id[i]) != 0)
            k++;
        if (crossed[i] & IG_BUDGET_CROSSED_SOFT)
            batch_alert(bb, r, k, IG_BUDGET_CROSSED_SOFT, h.period_start[i], spent[i], item);
        if (crossed[i] & IG_BUDGET_CROSSED_HARD)
            batch_alert(bb, r, k, IG_BUDGET_CROSSED_HARD, h.period_start[i], spent[i], item);
    }
}

/* micro-USD as a JSON number of USD ("12.5", "0.000001") */
static void usd(char *out, size_t cap, int64_t micros)
{
    int n = snprintf(out, cap, "%lld.%06lld", (long long)(micros / 1000000), (long long)(micros % 1000000));
    while (n > 0 && out[n - 1] == '0')
        out[--n] = '\0';
    if (n > 0 && out[n - 1] == '.') out[--n] = '\0';
}

static const char *const period_names[3] = {"daily", "weekly", "monthly"};
static const char *const scope_names[3] = {"org", "app", "key"};

/* Queues budget.warning (which = IG_BUDGET_CROSSED_SOFT) or budget.exceeded of a budget's period (ids and
 * amounts only; spent < 0: unknown) under its stable event id, then marks it queued in the store. IG_OK, or
 * the error that leaves it pending (to be queued again). */
static int emit_alert(ig_store_t *st, const char *org_id, const ig_budget_rule_t *rule, int scope,
                      const char *scope_id, int64_t period_start, int64_t spent, unsigned which)
{
    char data[512], spent_s[32], soft[32], hard[32], sid[40] = "null", idtext[96], event_id[33];
    usd(spent_s, sizeof spent_s, spent);
    usd(soft, sizeof soft, rule->soft_micros);
    usd(hard, sizeof hard, rule->hard_micros);
    int sc = scope >= 0 && scope <= 2 ? scope : 0;
    if (scope_id && scope_id[0]) snprintf(sid, sizeof sid, "\"%s\"", scope_id);
    snprintf(data, sizeof data,
             "{\"budget_id\":\"%s\",\"scope\":\"%s\",\"scope_id\":%s,\"period_type\":\"%s\","
             "\"period_start\":%lld,\"current_spend\":%s,\"soft_limit_usd\":%s,\"hard_limit_usd\":%s}",
             rule->id, scope_names[sc], sid, period_names[(unsigned)rule->period % 3],
             (long long)period_start, spent >= 0 ? spent_s : "null", rule->soft_micros ? soft : "null", hard);
    const char *type = which == IG_BUDGET_CROSSED_SOFT ? "budget.warning" : "budget.exceeded";
    /* one id per (budget, period, alert): queuing it again delivers nothing twice */
    snprintf(idtext, sizeof idtext, "%s:%lld:%s", rule->id, (long long)period_start, type);
    ig_webhook_event_id(idtext, event_id);
    int rc = ig_webhook_emit_id(st, org_id, type, data, event_id);
    if (rc == IG_OK) rc = ig_store_budget_alert_done(st, rule->id, period_start, which);
    if (rc)
        IG_WARN("capture", "%s of budget %s not queued yet (%s): retried", type, rule->id, ig_err_name(rc));
    return rc;
}

/* Stores the batch's spend in one transaction, then emits the alerts the batch claimed first. When the spend
 * cannot be stored, nothing is claimed: the ledger forgets the crossings, so the next one reports them. */
static void budget_flush(ig_logwriter_t *w, ig_store_t *st, budget_batch_t *bb)
{
    if (!bb->nspend) return;
    int rc = st ? ig_store_budget_spend_add(st, bb->spend, bb->nspend) : IG_ESTORE;
    if (rc) IG_WARN("capture", "spend of %zu budgets not stored (%s)", bb->nspend, ig_err_name(rc));
    for (size_t i = 0; i < bb->nalerts; i++) {
        const budget_alert_t *a = &bb->alerts[i];
        const ig_capture_budget_t *b = &a->r->budget;
        const ig_budget_rule_t *rule = &b->rules[a->k];
        if (rc) {
            ig_budget_unmark(b->ledger, rule->id, a->period_start, a->which);
            continue;
        }
        if (!(bb->spend[a->item].claimed & a->which)) continue; /* claimed already (another node) */
        if (emit_alert(st, a->r->meta.org_id, rule, b->scope[a->k], b->scope_id[a->k], a->period_start,
                       a->spent, a->which))
            w->alerts_pending = true;
    }
}

/* Queues again the budget alerts claimed but still pending in the store (after a failure, or left by a
 * process that stopped in between), at most every ALERT_RETRY_MS while some may be pending. */
static void retry_alerts(ig_logwriter_t *w)
{
    int64_t now = ig_wall_ms();
    if (!w->alerts_pending || now < w->next_alert_retry_ms) return;
    w->next_alert_retry_ms = now + ALERT_RETRY_MS;
    ig_store_t *st = control(w);
    ig_budget_alert_t as[ALERT_BATCH];
    size_t n = 0;
    if (!st || ig_store_budget_alerts_pending(st, as, ALERT_BATCH, &n) != IG_OK) return;
    bool all = true;
    for (size_t i = 0; i < n; i++) {
        const ig_budget_t *b = &as[i].budget;
        ig_budget_rule_t rule = {.period = (ig_budget_period_t)b->period,
                                 .hard_micros = b->hard_micros,
                                 .soft_micros = b->soft_micros};
        memcpy(rule.id, b->id, sizeof rule.id);
        for (unsigned which = IG_BUDGET_CROSSED_SOFT; which <= IG_BUDGET_CROSSED_HARD; which <<= 1)
            if ((as[i].pending & which) && emit_alert(st, b->org_id, &rule, b->scope, b->scope_id,
                                                      as[i].period_start, as[i].spent_micros, which))
                all = false;
    }
    if (all && n < ALERT_BATCH) w->alerts_pending = false;
}

void ig_logwriter_write(ig_logwriter_t *w, ig_capture_rec_t **recs, size_t n)
{
    item_t *items = calloc(n, sizeof *items);
    item_t **ok = calloc(n, sizeof *ok);
    ig_callrec_t *touch = calloc(n, sizeof *touch);
    budget_batch_t bb = {calloc(n * IG_BUDGET_MAX_PER_CALL, sizeof *bb.spend), 0,
                         calloc(n * IG_BUDGET_MAX_PER_CALL * 2, sizeof *bb.alerts), 0};
    size_t nok = 0, ntouch = 0;
    if (!items || !ok || !touch || !bb.spend || !bb.alerts) {
        atomic_fetch_add(&ig_capture_stats.dropped, n);
        IG_ERROR("capture", "out of memory: %zu log records dropped", n);
        goto out;
    }
    ig_store_t *st = control(w);
    for (size_t i = 0; i < n; i++) {
        item_t *it = &items[i];
        it->src = recs[i];
        it->est_cost = -1;
        if (recs[i]->budget.event_only) continue; /* not a call: only settled below */
        int rc = st ? ig_orgcache_get(w->orgs, st, recs[i]->meta.org_id, &it->org) : IG_ESTORE;
        if (rc == IG_ENOTFOUND) {
            atomic_fetch_add(&ig_capture_stats.orphaned, 1); /* the org was deleted meanwhile */
            continue;
        }
        if (rc == IG_OK) rc = build(w, it);
        if (rc) {
            /* without the org's key or a working redactor nothing may be written, not even to the spool */
            atomic_fetch_add(&ig_capture_stats.dropped, 1);
            IG_ERROR("capture", "log record of org %s dropped (%s)", recs[i]->meta.org_id, ig_err_name(rc));
            if (rc == IG_ESTORE) {
                ig_store_close(w->st);
                w->st = st = NULL;
            }
            continue;
        }
        ok[nok++] = it;
        if (recs[i]->meta.key_id[0]) touch[ntouch++] = recs[i]->meta;
    }
    qsort(ok, nok, sizeof *ok, org_cmp);
    for (size_t i = 0, j; i < nok; i = j) {
        for (j = i + 1; j < nok && org_cmp(&ok[j], &ok[i]) == 0; j++)
            ;
        store_group(w, ok + i, j - i);
    }
    if (ntouch && st && ig_store_keys_touch(st, touch, ntouch) != IG_OK)
        IG_WARN("capture", "last use of %zu keys not recorded", ntouch);
    /* budgets: every record's hold is settled, stored or not (a call that was made was made) */
    for (size_t i = 0; i < n; i++)
        settle_budget(&bb, recs[i], items[i].priced ? items[i].rec.cost_micros : -1, items[i].est_cost);
    budget_flush(w, st, &bb);
    retry_alerts(w);
    if (w->spool_pending) ig_spool_seal(w->spool); /* spooled records become replayable */
out:
    for (size_t i = 0; items && i < n; i++)
        item_clear(&items[i]);
    free(items);
    free(ok);
    free(touch);
    free(bb.spend);
    free(bb.alerts);
}

static int replay_sink(void *ctx, const char *org_id, const ig_logrec_t *recs, size_t n)
{
    ig_logwriter_t *w = ctx;
    ig_store_t *st = control(w);
    ig_orgctx_t *o = NULL;
    ig_logstore_t *ls = NULL;
    int rc = st ? ig_orgcache_get(w->orgs, st, org_id, &o) : IG_ESTORE;
    if (rc == IG_ENOTFOUND) { /* the org is gone: nothing to restore */
        atomic_fetch_add(&ig_capture_stats.orphaned, n);
        return IG_OK;
    }
    if (rc == IG_OK) rc = ig_orgcache_logstore(w->orgs, o, &ls);
    if (rc == IG_OK) rc = ig_logstore_insert(ls, recs, n);
    if (rc == IG_OK) o->down_until = 0; /* back: new records go to the store again */
    if (rc == IG_EINVAL) {              /* a frame the store refuses must not block the spool forever */
        size_t ok = 0;
        for (size_t i = 0; i < n; i++) {
            int r1 = ig_logstore_insert(ls, &recs[i], 1);
            if (r1 == IG_OK) ok++;
            if (r1 != IG_OK && r1 != IG_EINVAL) return r1;
        }
        atomic_fetch_add(&ig_capture_stats.replayed, ok);
        atomic_fetch_add(&ig_capture_stats.dropped, n - ok);
        return IG_OK;
    }
    if (rc == IG_OK) atomic_fetch_add(&ig_capture_stats.replayed, n);
    return rc;
}

void ig_logwriter_replay(ig_logwriter_t *w)
{
    retry_alerts(w);
    int64_t now = ig_wall_ms();
    if (!w->spool_pending || now < w->next_replay_ms) return;
    w->next_replay_ms = now + REPLAY_MS;
    uint64_t n = 0;
    ig_spool_seal(w->spool);
    int rc = ig_spool_replay(w->spool, replay_sink, w, &n);
    if (n) IG_INFO("capture", "%llu spooled log records written to the store", (unsigned long long)n);
    if (rc == IG_OK) w->spool_pending = false;
}

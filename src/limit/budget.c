/*
 * budget.c — budget periods and the reserve-then-settle ledger (see budget.h).
 */
#include "limit/budget.h"
#include "core/err.h"

#include <pthread.h>
#include <stdlib.h>

#define DAY_MS  86400000LL
#define BUCKETS 1024

/* ---- calendar (proleptic Gregorian, UTC), after H. Hinnant's days_from_civil / civil_from_days ---- */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

int64_t ig_budget_period_start(ig_budget_period_t p, int64_t now_ms)
{
    int64_t day = floor_div(now_ms, DAY_MS);
    if (p == IG_BUDGET_DAILY) return day * DAY_MS;
    if (p == IG_BUDGET_WEEKLY) {
        int64_t wd = ((day % 7) + 7 + 3) % 7; /* 1970-01-01 was a Thursday: Monday = 0 */
        return (day - wd) * DAY_MS;
    }
    int64_t y;
    unsigned m;
    civil_from_days(day, &y, &m);
    return days_from_civil(y, m, 1) * DAY_MS;
}

int64_t ig_budget_period_next(ig_budget_period_t p, int64_t now_ms)
{
    int64_t start = ig_budget_period_start(p, now_ms);
    if (p == IG_BUDGET_DAILY) return start + DAY_MS;
    if (p == IG_BUDGET_WEEKLY) return start + 7 * DAY_MS;
    int64_t y;
    unsigned m;
    civil_from_days(floor_div(start, DAY_MS), &y, &m);
    return days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) * DAY_MS;
}

/* ---- the ledger ---- */

typedef struct entry {
    struct entry *next;
    ig_budget_rule_t rule;
    int64_t period_start, spent, reserved;
    unsigned alerted;
} entry_t;

struct ig_budget_ledger {
    pthread_mutex_t mu;
    entry_t *b[BUCKETS];
};

static unsigned bucket_of(const char *id)
{
    unsigned h = 2166136261u;
    for (; *id; id++)
        h = (h ^ (unsigned char)*id) * 16777619u;
    return h % BUCKETS;
}

static entry_t *find(ig_budget_ledger_t *l, const char *id)
{
    for (entry_t *e = l->b[bucket_of(id)]; e; e = e->next)
        if (strcmp(e->rule.id, id) == 0) return e;
    return NULL;
}

static bool rule_ok(const ig_budget_rule_t *b)
{
    return b && b->id[0] && memchr(b->id, '\0', sizeof b->id) && b->hard_micros > 0 && b->soft_micros >= 0 &&
           b->soft_micros <= b->hard_micros && (unsigned)b->period <= IG_BUDGET_MONTHLY;
}

ig_budget_ledger_t *ig_budget_ledger_new(void)
{
    ig_budget_ledger_t *l = calloc(1, sizeof *l);
    if (l) pthread_mutex_init(&l->mu, NULL);
    return l;
}

void ig_budget_ledger_free(ig_budget_ledger_t *l)
{
    if (!l) return;
    for (size_t i = 0; i < BUCKETS; i++)
        for (entry_t *e = l->b[i], *n; e; e = n) {
            n = e->next;
            free(e);
        }
    pthread_mutex_destroy(&l->mu);
    free(l);
}

bool ig_budget_known(ig_budget_ledger_t *l, const char *id, int64_t now_ms)
{
    pthread_mutex_lock(&l->mu);
    entry_t *e = find(l, id);
    bool known = e && e->period_start == ig_budget_period_start(e->rule.period, now_ms);
    pthread_mutex_unlock(&l->mu);
    return known;
}

/* The rule to apply of the ledger's and a caller's: the newer one, the caller's on a tie (so a rule given
 * without a version, or changed within one millisecond, applies at once). */
static const ig_budget_rule_t *newest(const entry_t *e, const ig_budget_rule_t *b)
{
    return e->rule.version > b->version ? &e->rule : b;
}

int ig_budget_load(ig_budget_ledger_t *l, const ig_budget_rule_t *b, int64_t now_ms, int64_t spent_micros,
                   unsigned alerted)
{
    if (!l || !rule_ok(b) || spent_micros < 0) return IG_EINVAL;
    int rc = IG_OK;
    pthread_mutex_lock(&l->mu);
    entry_t *e = find(l, b->id);
    bool fresh = !e;
    if (fresh && (e = calloc(1, sizeof *e))) {
        unsigned k = bucket_of(b->id);
        e->next = l->b[k];
        l->b[k] = e;
    }
    if (e) {
        ig_budget_rule_t r = fresh ? *b : *newest(e, b);
        int64_t start = ig_budget_period_start(r.period, now_ms);
        /* the persisted state given is that of b's period: it only tells something about the same period */
        bool applies = start == ig_budget_period_start(b->period, now_ms);
        alerted &= IG_BUDGET_CROSSED_SOFT | IG_BUDGET_CROSSED_HARD;
        if (fresh || e->period_start != start) {
            e->reserved = 0; /* holds of another period settle there */
            e->spent = applies ? spent_micros : 0;
            e->alerted = applies ? alerted : 0;
        } else if (applies) { /* merge: a snapshot older than our own settlements cannot roll them back */
            if (spent_micros > e->spent) e->spent = spent_micros;
            e->alerted |= alerted;
        }
        e->rule = r;
        e->period_start = start;
    } else {
        rc = IG_ENOMEM;
    }
    pthread_mutex_unlock(&l->mu);
    return rc;
}

static void state_of(const entry_t *e, ig_budget_state_t *out)
{
    out->period_start = e->period_start;
    out->spent_micros = e->spent;
    out->reserved_micros = e->reserved;
    out->alerted = e->alerted;
}

int ig_budget_reserve(ig_budget_ledger_t *l, const ig_budget_rule_t *bs, int n, int64_t estimate_micros,
                      int64_t now_ms, ig_budget_hold_t *hold, int *refused_by, ig_budget_state_t *state,
                      unsigned *crossed)
{
    if (!l || n < 0 || n > IG_BUDGET_MAX_PER_CALL || (n && !bs) || estimate_micros < 0 || !hold)
        return IG_EINVAL;
    for (int i = 0; i < n; i++)
        if (!rule_ok(&bs[i])) return IG_EINVAL;
    entry_t *es[IG_BUDGET_MAX_PER_CALL];
    int rc = IG_OK;
    memset(hold, 0, sizeof *hold);
    if (crossed) *crossed = 0;
    pthread_mutex_lock(&l->mu);
    for (int i = 0; i < n && rc == IG_OK; i++) {
        es[i] = find(l, bs[i].id);
        if (!es[i]) {
            rc = IG_ENOTFOUND;
            break;
        }
        /* limits changed since the load apply now; a caller holding an older snapshot uses the newer rule */
        es[i]->rule = *newest(es[i], &bs[i]);
        if (es[i]->period_start != ig_budget_period_start(es[i]->rule.period, now_ms)) {
            rc = IG_ENOTFOUND;
            break;
        }
        /* spent + reserved + estimate ≤ hard, written so it cannot overflow */
        int64_t room = es[i]->rule.hard_micros - es[i]->spent - es[i]->reserved;
        if (estimate_micros > room) {
            rc = IG_ETOOMANY;
            if (refused_by) *refused_by = i;
            if (state) state_of(es[i], state);
            /* the first refusal of the period is when the budget ran out for its users */
            if (!(es[i]->alerted & IG_BUDGET_CROSSED_HARD)) {
                es[i]->alerted |= IG_BUDGET_CROSSED_HARD;
                if (crossed) *crossed = IG_BUDGET_CROSSED_HARD;
            }
        }
    }
    if (rc == IG_OK) {
        hold->n = n;
        hold->amount = estimate_micros;
        for (int i = 0; i < n; i++) {
            es[i]->reserved += estimate_micros;
            memcpy(hold->id[i], bs[i].id, IG_BUDGET_ID_MAX);
            hold->period_start[i] = es[i]->period_start;
        }
    }
    pthread_mutex_unlock(&l->mu);
    return rc;
}

void ig_budget_settle(ig_budget_ledger_t *l, ig_budget_hold_t *hold, int64_t actual_micros,
                      unsigned crossed[IG_BUDGET_MAX_PER_CALL], int64_t spent[IG_BUDGET_MAX_PER_CALL])
{
    int64_t cost = actual_micros < 0 ? hold->amount : actual_micros;
    pthread_mutex_lock(&l->mu);
    for (int i = 0; i < hold->n; i++) {
        crossed[i] = 0;
        spent[i] = -1;
        entry_t *e = find(l, hold->id[i]);
        if (!e || e->period_start != hold->period_start[i]) continue; /* forgotten, or the period turned */
        e->reserved = e->reserved >= hold->amount ? e->reserved - hold->amount : 0;
        e->spent = cost > INT64_MAX - e->spent ? INT64_MAX : e->spent + cost;
        spent[i] = e->spent;
        if (e->rule.soft_micros && e->spent >= e->rule.soft_micros &&
            !(e->alerted & IG_BUDGET_CROSSED_SOFT)) {
            e->alerted |= IG_BUDGET_CROSSED_SOFT;
            crossed[i] |= IG_BUDGET_CROSSED_SOFT;
        }
        if (e->spent >= e->rule.hard_micros && !(e->alerted & IG_BUDGET_CROSSED_HARD)) {
            e->alerted |= IG_BUDGET_CROSSED_HARD;
            crossed[i] |= IG_BUDGET_CROSSED_HARD;
        }
    }
    pthread_mutex_unlock(&l->mu);
    memset(hold, 0, sizeof *hold);
}

void ig_budget_unmark(ig_budget_ledger_t *l, const char *id, int64_t period_start, unsigned bits)
{
    pthread_mutex_lock(&l->mu);
    entry_t *e = find(l, id);
    if (e && e->period_start == period_start) e->alerted &= ~bits;
    pthread_mutex_unlock(&l->mu);
}

void ig_budget_release(ig_budget_ledger_t *l, ig_budget_hold_t *hold)
{
    pthread_mutex_lock(&l->mu);
    for (int i = 0; i < hold->n; i++) {
        entry_t *e = find(l, hold->id[i]);
        if (e && e->period_start == hold->period_start[i])
            e->reserved = e->reserved >= hold->amount ? e->reserved - hold->amount : 0;
    }
    pthread_mutex_unlock(&l->mu);
    memset(hold, 0, sizeof *hold);
}

int ig_budget_state(ig_budget_ledger_t *l, const char *id, int64_t now_ms, ig_budget_period_t p,
                    ig_budget_state_t *out)
{
    pthread_mutex_lock(&l->mu);
    entry_t *e = find(l, id);
    int rc = e && e->rule.period == p && e->period_start == ig_budget_period_start(p, now_ms) ? IG_OK
                                                                                              : IG_ENOTFOUND;
    if (rc == IG_OK) state_of(e, out);
    pthread_mutex_unlock(&l->mu);
    return rc;
}

void ig_budget_forget(ig_budget_ledger_t *l, const char *id)
{
    pthread_mutex_lock(&l->mu);
    for (entry_t **pp = &l->b[bucket_of(id)]; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->rule.id, id) == 0) {
            entry_t *e = *pp;
            *pp = e->next;
            free(e);
            break;
        }
    pthread_mutex_unlock(&l->mu);
}

/*
 * test_budget.c — calendar periods in UTC and the reserve-then-settle ledger (limit/budget): admission at the
 * exact limit, settlement replacing reservations, alerts once per period (and again after an unmark),
 * period roll-over, reloads that merge instead of rolling back (spend, reservations, alert bits, newer
 * rules), and concurrent reservations that never overshoot.
 */
#include "core/err.h"
#include "limit/budget.h"
#include "unit.h"

#include <pthread.h>

#define DAY 86400000LL

/* unix ms of a UTC date and time */
static int64_t utc(int y, int mo, int d, int h, int mi)
{
    /* days from civil, the same algorithm as the code under test would hide a shared bug: count instead */
    int64_t days = 0;
    for (int yy = 1970; yy < y; yy++)
        days += (yy % 4 == 0 && (yy % 100 != 0 || yy % 400 == 0)) ? 366 : 365;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    for (int m = 1; m < mo; m++)
        days += mdays[m - 1] + (m == 2 && (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)));
    days += d - 1;
    return days * DAY + (int64_t)h * 3600000 + (int64_t)mi * 60000;
}

TEST(calendar_periods_in_utc)
{
    int64_t t = utc(2026, 11, 29, 17, 45); /* a Sunday */
    CHECK_EQ_INT(ig_budget_period_start(IG_BUDGET_DAILY, t), utc(2026, 11, 29, 0, 0));
    CHECK_EQ_INT(ig_budget_period_next(IG_BUDGET_DAILY, t), utc(2026, 11, 30, 0, 0));
    CHECK_EQ_INT(ig_budget_period_start(IG_BUDGET_WEEKLY, t), utc(2026, 11, 23, 0, 0)); /* Monday */
    CHECK_EQ_INT(ig_budget_period_next(IG_BUDGET_WEEKLY, t), utc(2026, 11, 30, 0, 0));
    CHECK_EQ_INT(ig_budget_period_start(IG_BUDGET_WEEKLY, utc(2026, 11, 30, 0, 0)), utc(2026, 11, 30, 0, 0));
    CHECK_EQ_INT(ig_budget_period_start(IG_BUDGET_MONTHLY, t), utc(2026, 11, 1, 0, 0));
    CHECK_EQ_INT(ig_budget_period_next(IG_BUDGET_MONTHLY, t), utc(2026, 12, 1, 0, 0));
    CHECK_EQ_INT(ig_budget_period_next(IG_BUDGET_MONTHLY, utc(2026, 12, 31, 23, 59)), utc(2027, 1, 1, 0, 0));
    CHECK_EQ_INT(ig_budget_period_start(IG_BUDGET_MONTHLY, utc(2028, 2, 29, 12, 0)), utc(2028, 2, 1, 0, 0));
    CHECK_EQ_INT(ig_budget_period_next(IG_BUDGET_MONTHLY, utc(2028, 2, 29, 12, 0)), utc(2028, 3, 1, 0, 0));
    CHECK_EQ_INT(ig_budget_period_next(IG_BUDGET_MONTHLY, utc(2100, 2, 28, 12, 0)), utc(2100, 3, 1, 0, 0));
    /* the last millisecond of a month belongs to it, the next one to the next */
    CHECK_EQ_INT(ig_budget_period_start(IG_BUDGET_MONTHLY, utc(2026, 12, 1, 0, 0) - 1),
                 utc(2026, 11, 1, 0, 0));
    CHECK_EQ_INT(ig_budget_period_start(IG_BUDGET_WEEKLY, utc(1970, 1, 1, 0, 0)),
                 utc(1970, 1, 1, 0, 0) - 3 * DAY);
}

static ig_budget_rule_t rule(const char *id, int64_t hard, int64_t soft)
{
    ig_budget_rule_t r;
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "%s", id);
    r.period = IG_BUDGET_MONTHLY;
    r.hard_micros = hard;
    r.soft_micros = soft;
    return r;
}

TEST(reserve_exactly_to_the_limit_then_settle)
{
    ig_budget_ledger_t *l = ig_budget_ledger_new();
    int64_t now = utc(2026, 11, 29, 12, 0);
    ig_budget_rule_t b = rule("org-budget", 1000, 800);
    ig_budget_hold_t h1, h2, h3;
    ig_budget_state_t st;
    int who = -1;
    unsigned crossed = 0, cr[IG_BUDGET_MAX_PER_CALL];
    int64_t spent[IG_BUDGET_MAX_PER_CALL];
    CHECK_EQ_INT(ig_budget_reserve(l, &b, 1, 100, now, &h1, &who, &st, &crossed),
                 IG_ENOTFOUND); /* not loaded */
    CHECK(!ig_budget_known(l, b.id, now));
    CHECK_EQ_INT(ig_budget_load(l, &b, now, 300, 0), IG_OK);
    CHECK(ig_budget_known(l, b.id, now));
    CHECK_EQ_INT(ig_budget_reserve(l, &b, 1, 400, now, &h1, &who, &st, &crossed), IG_OK);
    CHECK_EQ_INT(ig_budget_reserve(l, &b, 1, 300, now, &h2, &who, &st, &crossed),
                 IG_OK); /* 300+400+300 = 1000 */
    CHECK_EQ_INT(ig_budget_reserve(l, &b, 1, 1, now, &h3, &who, &st, &crossed), IG_ETOOMANY);
    CHECK_EQ_INT(who, 0);
    CHECK_EQ_INT(st.spent_micros, 300);
    CHECK_EQ_INT(st.reserved_micros, 700);
    CHECK_EQ_INT(crossed, IG_BUDGET_CROSSED_HARD); /* first refusal of the period */
    CHECK_EQ_INT(ig_budget_reserve(l, &b, 1, 1, now, &h3, &who, &st, &crossed), IG_ETOOMANY);
    CHECK_EQ_INT(crossed, 0); /* once per period */
    /* the first call cost 50, not 400: the difference comes back */
    ig_budget_settle(l, &h1, 50, cr, spent);
    CHECK_EQ_INT(spent[0], 350);
    CHECK_EQ_INT(cr[0], 0);
    CHECK_EQ_INT(h1.n, 0); /* a settled hold is spent */
    CHECK_EQ_INT(ig_budget_reserve(l, &b, 1, 350, now, &h3, &who, &st, &crossed), IG_OK);
    /* unknown cost (-1) charges the reservation; crossing the soft limit reports once */
    ig_budget_settle(l, &h2, -1, cr, spent);
    CHECK_EQ_INT(spent[0], 650);
    CHECK_EQ_INT(cr[0], 0);
    ig_budget_settle(l, &h3, 350, cr, spent);
    CHECK_EQ_INT(spent[0], 1000);
    CHECK_EQ_INT(cr[0], IG_BUDGET_CROSSED_SOFT); /* hard was already reported at the refusal */
    CHECK_EQ_INT(ig_budget_state(l, b.id, now, IG_BUDGET_MONTHLY, &st), IG_OK);
    CHECK_EQ_INT(st.spent_micros, 1000);
    CHECK_EQ_INT(st.reserved_micros, 0);
    CHECK_EQ_INT(ig_budget_reserve(l, &b, 1, 0, now, &h3, &who, &st, &crossed), IG_OK); /* 0 still fits */
    ig_budget_settle(l, &h3, 0, cr, spent);
    ig_budget_ledger_free(l);
}

TEST(all_or_nothing_across_scopes)
{
    ig_budget_ledger_t *l = ig_budget_ledger_new();
    int64_t now = utc(2026, 11, 29, 12, 0);
    ig_budget_rule_t bs[3] = {rule("org", 10000, 0), rule("app", 10000, 0), rule("key", 500, 0)};
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(ig_budget_load(l, &bs[i], now, 0, 0), IG_OK);
    ig_budget_hold_t h;
    ig_budget_state_t st;
    int who = -1;
    unsigned crossed = 0;
    CHECK_EQ_INT(ig_budget_reserve(l, bs, 3, 600, now, &h, &who, &st, &crossed), IG_ETOOMANY);
    CHECK_EQ_INT(who, 2);
    CHECK_EQ_INT(crossed, IG_BUDGET_CROSSED_HARD);
    CHECK_EQ_INT(ig_budget_state(l, "org", now, IG_BUDGET_MONTHLY, &st), IG_OK);
    CHECK_EQ_INT(st.reserved_micros, 0); /* nothing held on the budgets that would have admitted it */
    CHECK_EQ_INT(ig_budget_reserve(l, bs, 3, 500, now, &h, &who, &st, &crossed), IG_OK);
    CHECK_EQ_INT(h.n, 3);
    CHECK_EQ_INT(ig_budget_state(l, "app", now, IG_BUDGET_MONTHLY, &st), IG_OK);
    CHECK_EQ_INT(st.reserved_micros, 500);
    unsigned cr[3];
    int64_t spent[3];
    ig_budget_settle(l, &h, 700, cr, spent); /* outspent its reservation: charged in full */
    CHECK_EQ_INT(spent[0], 700);
    CHECK_EQ_INT(spent[2], 700);
    CHECK_EQ_INT(cr[2], 0); /* reported at the refusal already: once per period */
    CHECK_EQ_INT(cr[0], 0);
    /* a lower limit given at the next reservation applies at once */
    bs[0].hard_micros = 800;
    bs[2].hard_micros = 100000;
    CHECK_EQ_INT(ig_budget_reserve(l, bs, 3, 200, now, &h, &who, &st, &crossed), IG_ETOOMANY);
    CHECK_EQ_INT(who, 0);
    ig_budget_ledger_free(l);
}

TEST(a_new_period_starts_empty_old_holds_settle_elsewhere)
{
    ig_budget_ledger_t *l = ig_budget_ledger_new();
    ig_budget_rule_t b = rule("daily", 100, 50);
    b.period = IG_BUDGET_DAILY;
    int64_t d1 = utc(2026, 11, 29, 23, 59), d2 = utc(2026, 11, 30, 0, 1);
    ig_budget_hold_t h;
    ig_budget_state_t st;
    unsigned crossed = 0, cr[3];
    int64_t spent[3];
    int who;
    CHECK_EQ_INT(ig_budget_load(l, &b, d1, 90, IG_BUDGET_CROSSED_SOFT), IG_OK);
    CHECK_EQ_INT(ig_budget_reserve(l, &b, 1, 10, d1, &h, &who, &st, &crossed), IG_OK);
    CHECK(!ig_budget_known(l, b.id, d2));
    ig_budget_hold_t none;
    CHECK_EQ_INT(ig_budget_reserve(l, &b, 1, 10, d2, &none, &who, &st, &crossed), IG_ENOTFOUND);
    CHECK_EQ_INT(none.n, 0);
    CHECK_EQ_INT(ig_budget_load(l, &b, d2, 0, 0), IG_OK);
    ig_budget_hold_t h2;
    CHECK_EQ_INT(ig_budget_reserve(l, &b, 1, 100, d2, &h2, &who, &st, &crossed), IG_OK); /* full day again */
    ig_budget_settle(l, &h, 10, cr, spent); /* yesterday's call */
    CHECK_EQ_INT(spent[0], -1);             /* the caller charges it to the stored old period */
    CHECK_EQ_INT(ig_budget_state(l, b.id, d2, IG_BUDGET_DAILY, &st), IG_OK);
    CHECK_EQ_INT(st.spent_micros, 0);
    CHECK_EQ_INT(st.reserved_micros, 100);
    ig_budget_settle(l, &h2, 60, cr, spent);
    CHECK_EQ_INT(cr[0], IG_BUDGET_CROSSED_SOFT); /* the new period alerts again */
    ig_budget_ledger_free(l);
}

/* A reload from a snapshot older than the ledger's own settlements merges: it never lowers the spend, never
 * drops reservations in flight or alert bits, and a newer snapshot's (or another node's) higher spend wins.
 */
TEST(a_reload_merges_never_rolls_back)
{
    ig_budget_ledger_t *l = ig_budget_ledger_new();
    int64_t now = utc(2026, 11, 29, 12, 0);
    ig_budget_rule_t b = rule("merge", 1000, 350);
    ig_budget_hold_t h1, h2;
    ig_budget_state_t st;
    unsigned crossed = 0, cr[3];
    int64_t spent[3];
    int who;
    CHECK_EQ_INT(ig_budget_load(l, &b, now, 300, 0), IG_OK);
    CHECK_EQ_INT(ig_budget_reserve(l, &b, 1, 100, now, &h1, &who, &st, &crossed), IG_OK);
    CHECK_EQ_INT(ig_budget_reserve(l, &b, 1, 200, now, &h2, &who, &st, &crossed), IG_OK);
    ig_budget_settle(l, &h1, 100, cr, spent); /* 400: crosses the soft limit */
    CHECK_EQ_INT(cr[0], IG_BUDGET_CROSSED_SOFT);
    /* the snapshot still says 300 and no alert: loading it changes nothing */
    CHECK_EQ_INT(ig_budget_load(l, &b, now, 300, 0), IG_OK);
    CHECK_EQ_INT(ig_budget_state(l, b.id, now, IG_BUDGET_MONTHLY, &st), IG_OK);
    CHECK_EQ_INT(st.spent_micros, 400);
    CHECK_EQ_INT(st.reserved_micros, 200); /* h2 is still in flight */
    CHECK_EQ_INT(st.alerted, IG_BUDGET_CROSSED_SOFT);
    /* another node spent more meanwhile (the store has it): the higher spend and its alert bits win */
    CHECK_EQ_INT(ig_budget_load(l, &b, now, 700, IG_BUDGET_CROSSED_HARD), IG_OK);
    CHECK_EQ_INT(ig_budget_state(l, b.id, now, IG_BUDGET_MONTHLY, &st), IG_OK);
    CHECK_EQ_INT(st.spent_micros, 700);
    CHECK_EQ_INT(st.reserved_micros, 200);
    CHECK_EQ_INT(st.alerted, IG_BUDGET_CROSSED_SOFT | IG_BUDGET_CROSSED_HARD);
    ig_budget_settle(l, &h2, 50, cr, spent);
    CHECK_EQ_INT(spent[0], 750);
    CHECK_EQ_INT(cr[0], 0); /* both alerts were claimed already */
    ig_budget_ledger_free(l);
}

/* Rules carry a version: a request holding an older org snapshot never rolls the limits (or the period type)
 * back; a newer rule with another period type starts that period. */
TEST(an_older_rule_never_replaces_a_newer_one)
{
    ig_budget_ledger_t *l = ig_budget_ledger_new();
    int64_t now = utc(2026, 11, 29, 12, 0);
    ig_budget_rule_t v1 = rule("ver", 5000, 0), v2 = rule("ver", 1000, 0), v3 = rule("ver", 1000, 0);
    v1.version = 10;
    v2.version = 20;
    v3.version = 30;
    v1.period = IG_BUDGET_DAILY; /* the old rule was daily; v2 made it monthly */
    ig_budget_hold_t h, h2;
    ig_budget_state_t st;
    unsigned crossed = 0, cr[3];
    int64_t spent[3];
    int who;
    CHECK_EQ_INT(ig_budget_load(l, &v2, now, 600, 0), IG_OK);
    /* a thread with the old snapshot loads and reserves with v1: the monthly limit of 1000 still applies */
    CHECK_EQ_INT(ig_budget_load(l, &v1, now, 0, 0), IG_OK);
    CHECK(ig_budget_known(l, v1.id, now));
    CHECK_EQ_INT(ig_budget_state(l, v1.id, now, IG_BUDGET_MONTHLY, &st), IG_OK);
    CHECK_EQ_INT(st.spent_micros, 600);
    CHECK_EQ_INT(ig_budget_reserve(l, &v1, 1, 500, now, &h, &who, &st, &crossed), IG_ETOOMANY);
    CHECK_EQ_INT(ig_budget_reserve(l, &v1, 1, 400, now, &h, &who, &st, &crossed), IG_OK);
    /* v3 turns it daily again: the ledger needs that period loaded (the monthly holds settle there) */
    v3.period = IG_BUDGET_DAILY;
    CHECK_EQ_INT(ig_budget_reserve(l, &v3, 1, 1, now, &h2, &who, &st, &crossed), IG_ENOTFOUND);
    CHECK(!ig_budget_known(l, v3.id, now));
    CHECK_EQ_INT(ig_budget_load(l, &v3, now, 20, 0), IG_OK);
    CHECK_EQ_INT(ig_budget_state(l, v3.id, now, IG_BUDGET_DAILY, &st), IG_OK);
    CHECK_EQ_INT(st.spent_micros, 20);
    CHECK_EQ_INT(st.reserved_micros, 0);
    CHECK_EQ_INT(ig_budget_reserve(l, &v2, 1, 980, now, &h2, &who, &st, &crossed), IG_OK); /* daily, 1000 */
    ig_budget_settle(l, &h, 400, cr, spent);
    CHECK_EQ_INT(spent[0], -1); /* charged to the monthly period it was reserved in */
    ig_budget_settle(l, &h2, 980, cr, spent);
    CHECK_EQ_INT(spent[0], 1000);
    CHECK_EQ_INT(cr[0], IG_BUDGET_CROSSED_HARD);
    ig_budget_ledger_free(l);
}

/* An alert that could not be recorded or queued is given back: the next crossing reports it again. */
TEST(unmark_reports_again)
{
    ig_budget_ledger_t *l = ig_budget_ledger_new();
    int64_t now = utc(2026, 11, 29, 12, 0);
    ig_budget_rule_t b = rule("unmark", 100, 50);
    ig_budget_hold_t h;
    ig_budget_state_t st;
    unsigned crossed = 0, cr[3];
    int64_t spent[3];
    int who;
    CHECK_EQ_INT(ig_budget_load(l, &b, now, 0, 0), IG_OK);
    CHECK_EQ_INT(ig_budget_reserve(l, &b, 1, 60, now, &h, &who, &st, &crossed), IG_OK);
    ig_budget_settle(l, &h, 60, cr, spent);
    CHECK_EQ_INT(cr[0], IG_BUDGET_CROSSED_SOFT);
    CHECK_EQ_INT(ig_budget_reserve(l, &b, 1, 50, now, &h, &who, &st, &crossed), IG_ETOOMANY);
    CHECK_EQ_INT(crossed, IG_BUDGET_CROSSED_HARD);
    ig_budget_unmark(l, b.id, st.period_start + 1, IG_BUDGET_CROSSED_HARD); /* another period: no-op */
    CHECK_EQ_INT(ig_budget_reserve(l, &b, 1, 50, now, &h, &who, &st, &crossed), IG_ETOOMANY);
    CHECK_EQ_INT(crossed, 0);
    ig_budget_unmark(l, b.id, st.period_start, IG_BUDGET_CROSSED_HARD | IG_BUDGET_CROSSED_SOFT);
    CHECK_EQ_INT(ig_budget_reserve(l, &b, 1, 50, now, &h, &who, &st, &crossed), IG_ETOOMANY);
    CHECK_EQ_INT(crossed, IG_BUDGET_CROSSED_HARD);
    CHECK_EQ_INT(ig_budget_reserve(l, &b, 1, 10, now, &h, &who, &st, &crossed), IG_OK);
    ig_budget_settle(l, &h, 0, cr, spent);
    CHECK_EQ_INT(cr[0], IG_BUDGET_CROSSED_SOFT);
    ig_budget_unmark(l, "nosuch", st.period_start, IG_BUDGET_CROSSED_SOFT);
    ig_budget_ledger_free(l);
}

TEST(bad_arguments)
{
    ig_budget_ledger_t *l = ig_budget_ledger_new();
    ig_budget_rule_t bad[] = {rule("", 100, 0), rule("x", 0, 0), rule("x", 100, 200), rule("x", 100, -1)};
    for (size_t i = 0; i < IG_ARRAY_LEN(bad); i++)
        CHECK_EQ_INT(ig_budget_load(l, &bad[i], 1, 0, 0), IG_EINVAL);
    ig_budget_rule_t ok = rule("x", 100, 0);
    CHECK_EQ_INT(ig_budget_load(l, &ok, 1, -5, 0), IG_EINVAL);
    ig_budget_hold_t h;
    CHECK_EQ_INT(ig_budget_reserve(l, &ok, 1, -1, 1, &h, NULL, NULL, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_budget_reserve(l, &ok, 4, 1, 1, &h, NULL, NULL, NULL), IG_EINVAL);
    ig_budget_ledger_free(l);
}

/* ---- concurrency: 8 threads reserve 7 each against 1000: at most 142 holds, spend never above 1000 ---- */

typedef struct {
    ig_budget_ledger_t *l;
    ig_budget_rule_t b;
    int64_t now;
    int admitted;
} racer_t;

static void *racer(void *arg)
{
    racer_t *r = arg;
    for (int i = 0; i < 2000; i++) {
        ig_budget_hold_t h;
        if (ig_budget_reserve(r->l, &r->b, 1, 7, r->now, &h, NULL, NULL, NULL) != IG_OK) continue;
        r->admitted++;
        unsigned cr[3];
        int64_t spent[3];
        ig_budget_settle(r->l, &h, 7, cr, spent); /* actual = estimate */
    }
    return NULL;
}

TEST(concurrent_reservations_never_overshoot)
{
    ig_budget_ledger_t *l = ig_budget_ledger_new();
    int64_t now = utc(2026, 11, 29, 12, 0);
    ig_budget_rule_t b = rule("shared", 1000, 0);
    CHECK_EQ_INT(ig_budget_load(l, &b, now, 0, 0), IG_OK);
    pthread_t th[8];
    racer_t rs[8];
    for (int i = 0; i < 8; i++) {
        rs[i] = (racer_t){l, b, now, 0};
        pthread_create(&th[i], NULL, racer, &rs[i]);
    }
    int total = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        total += rs[i].admitted;
    }
    ig_budget_state_t st;
    CHECK_EQ_INT(ig_budget_state(l, "shared", now, IG_BUDGET_MONTHLY, &st), IG_OK);
    CHECK_EQ_INT(total, 1000 / 7);
    CHECK_EQ_INT(st.spent_micros, 7 * (1000 / 7));
    CHECK_EQ_INT(st.reserved_micros, 0);
    ig_budget_ledger_free(l);
}

int main(void)
{
    RUN(calendar_periods_in_utc);
    RUN(reserve_exactly_to_the_limit_then_settle);
    RUN(all_or_nothing_across_scopes);
    RUN(a_new_period_starts_empty_old_holds_settle_elsewhere);
    RUN(a_reload_merges_never_rolls_back);
    RUN(an_older_rule_never_replaces_a_newer_one);
    RUN(unmark_reports_again);
    RUN(bad_arguments);
    RUN(concurrent_reservations_never_overshoot);
    UNIT_DONE();
}

/*
 * test_budgetgate.c — the admission math of spend budgets on the proxy path (proxy/budgetgate.h): the
 * worst-case estimate (input from body bytes, output from max_tokens or the default, rounded up, the dearer
 * of input and cache-write prices, unpriced models, saturation), and with the ledger: how many calls a hard
 * limit admits, that an actual cost within the estimate never takes spend past it, and that a released hold
 * gives its room back without charging.
 */
#include "capture/pricing.h"
#include "core/err.h"
#include "limit/budget.h"
#include "proxy/budgetgate.h"
#include "unit.h"

static ig_price_t price(int64_t in, int64_t out, int64_t write)
{
    ig_price_t p = {in, out, -1, write, "openai", "m"};
    return p;
}

TEST(estimate_formula)
{
    ig_price_t p = price(2500000, 10000000, -1); /* gpt-4o: 2.5 / 10 USD per 1M tokens */
    /* 100 bytes -> 25 input tokens: 62.5 -> 63 micro-USD; 100 output tokens: 1000 */
    CHECK_EQ_INT(ig_budget_estimate_micros(&p, 100, 100), 63 + 1000);
    /* 101 bytes -> 26 tokens (rounded up): 65 */
    CHECK_EQ_INT(ig_budget_estimate_micros(&p, 101, 100), 65 + 1000);
    /* no max_tokens: the default output cap */
    CHECK_EQ_INT(ig_budget_estimate_micros(&p, 0, -1), IG_BUDGET_DEFAULT_MAX_TOKENS * 10);
    CHECK_EQ_INT(ig_budget_estimate_micros(&p, 0, 0), IG_BUDGET_DEFAULT_MAX_TOKENS * 10);
    /* each part rounds up on its own: 1 token at 0.15 USD/M is 0.15 micro-USD -> 1 */
    ig_price_t mini = price(150000, 600000, -1);
    CHECK_EQ_INT(ig_budget_estimate_micros(&mini, 4, 1), 2);
    /* a dearer cache-write price prices the input (Anthropic: 3.75 vs 3) */
    ig_price_t claude = price(3000000, 15000000, 3750000);
    CHECK_EQ_INT(ig_budget_estimate_micros(&claude, 400, 10), 375 + 150);
    /* free models cost nothing; unpriced ones the documented default */
    ig_price_t free_ = price(0, 0, -1);
    CHECK_EQ_INT(ig_budget_estimate_micros(&free_, 1000, 1000), 0);
    CHECK_EQ_INT(ig_budget_estimate_micros(NULL, 1000, 1000), IG_BUDGET_UNPRICED_MICROS);
    /* saturates instead of overflowing */
    ig_price_t dear = price(1000000000000LL, 1000000000000LL, -1);
    CHECK_EQ_INT(ig_budget_estimate_micros(&dear, INT64_MAX, INT64_MAX), INT64_MAX);
    /* the estimate is never below the cost the writer computes for tokens within it */
    ig_pricing_t *tab = NULL;
    char err[256];
    CHECK_EQ_INT(ig_pricing_load(NULL, &tab, err, sizeof err), IG_OK);
    ig_price_t g;
    CHECK_EQ_INT(ig_pricing_lookup(tab, "openai", "gpt-4o-mini", &g), IG_OK);
    for (int64_t bytes = 0; bytes < 200; bytes += 7)
        for (int64_t out = 1; out < 300; out += 13) {
            ig_usage_t u;
            ig_usage_init(&u);
            u.input = (bytes + 3) / 4;
            u.output = out;
            u.cached = 0;
            u.cache_write = 0;
            int64_t cost = ig_pricing_cost_micros(tab, "openai", "gpt-4o-mini", &u);
            CHECK(cost >= 0 && cost <= ig_budget_estimate_micros(&g, bytes, out));
        }
    ig_pricing_free(tab);
}

TEST(admission_with_the_ledger)
{
    ig_budget_ledger_t *l = ig_budget_ledger_new();
    ig_budget_rule_t r = {"b1", IG_BUDGET_MONTHLY, 10000, 5000, 0};
    int64_t now = 1780000000000LL;
    ig_price_t p = price(2500000, 10000000, -1);
    int64_t est = ig_budget_estimate_micros(&p, 100, 100); /* 1063 */
    CHECK_EQ_INT(ig_budget_load(l, &r, now, 0, 0), IG_OK);
    ig_budget_hold_t h[16];
    int admitted = 0, refused_by = -1;
    ig_budget_state_t st;
    unsigned crossed = 0;
    int alerts = 0;
    for (int i = 0; i < 16; i++) {
        if (ig_budget_reserve(l, &r, 1, est, now, &h[admitted], &refused_by, &st, &crossed) == IG_OK)
            admitted++;
        alerts += crossed == IG_BUDGET_CROSSED_HARD;
    }
    CHECK_EQ_INT(admitted, 10000 / est); /* 9: a 10th would pass the hard limit */
    CHECK_EQ_INT(alerts, 1);             /* the first refusal only */
    CHECK_EQ_INT(st.reserved_micros, 9 * est);
    /* a released hold (never went upstream) gives its room back and charges nothing */
    ig_budget_release(l, &h[--admitted]);
    CHECK_EQ_INT(h[admitted].n, 0);
    ig_budget_release(l, &h[admitted]); /* a no-op now */
    CHECK_EQ_INT(ig_budget_state(l, "b1", now, IG_BUDGET_MONTHLY, &st), IG_OK);
    CHECK_EQ_INT(st.spent_micros, 0);
    CHECK_EQ_INT(st.reserved_micros, 8 * est);
    /* settling at most the estimate never takes spend past the hard limit */
    unsigned cr[IG_BUDGET_MAX_PER_CALL];
    int64_t sp[IG_BUDGET_MAX_PER_CALL];
    int64_t total = 0;
    for (int round = 0; round < 50; round++) {
        while (admitted > 0) {
            int64_t actual = est - (admitted * 37) % est; /* <= est */
            ig_budget_settle(l, &h[--admitted], actual, cr, sp);
            total += actual;
            CHECK(sp[0] <= r.hard_micros);
        }
        while (ig_budget_reserve(l, &r, 1, est, now, &h[admitted], &refused_by, &st, &crossed) == IG_OK)
            admitted++;
        CHECK_EQ_INT(ig_budget_state(l, "b1", now, IG_BUDGET_MONTHLY, &st), IG_OK);
        CHECK(st.spent_micros + st.reserved_micros <= r.hard_micros);
    }
    CHECK_EQ_INT(ig_budget_state(l, "b1", now, IG_BUDGET_MONTHLY, &st), IG_OK);
    CHECK_EQ_INT(st.spent_micros, total);
    CHECK(st.spent_micros <= r.hard_micros);
    CHECK(st.spent_micros + est > r.hard_micros); /* it was spent down to the last call that fits */
    while (admitted > 0)
        ig_budget_release(l, &h[--admitted]);
    ig_budget_ledger_free(l);
}

int main(void)
{
    RUN(estimate_formula);
    RUN(admission_with_the_ledger);
    UNIT_DONE();
}

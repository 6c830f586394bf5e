/*
 * test_limiter.c — GCRA rate limits (limit/limiter): exact boundaries, refill, reset after the period, costs
 * and settlements, key isolation, reclaiming rested keys, and exactness under threads.
 */
#include "core/err.h"
#include "limit/limiter.h"
#include "unit.h"

#include <pthread.h>

#define MS 1000000LL
#define S  (1000 * MS)

static ig_iov_t K(const char *s)
{
    return ig_iov_str(s);
}

TEST(burst_of_exactly_the_limit_then_refused)
{
    ig_limiter_t *l = ig_limiter_local_new();
    ig_limit_rule_t r = {5, 60000};
    ig_limit_result_t out;
    int64_t t0 = 1000 * S;
    for (int i = 1; i <= 5; i++) {
        CHECK_EQ_INT(ig_limiter_take(l, K("key-a:rpm"), &r, 1, t0, &out), IG_OK);
        CHECK(out.allowed);
        CHECK_EQ_INT(out.limit, 5);
        CHECK_EQ_INT(out.remaining, 5 - i);
        CHECK_EQ_INT(out.reset_ms, 12000 * i); /* one unit comes back every 12 s */
        CHECK_EQ_INT(out.retry_after_ms, 0);
    }
    CHECK_EQ_INT(ig_limiter_take(l, K("key-a:rpm"), &r, 1, t0, &out), IG_OK);
    CHECK(!out.allowed);
    CHECK_EQ_INT(out.remaining, 0);
    CHECK_EQ_INT(out.retry_after_ms, 12000);
    CHECK_EQ_INT(out.reset_ms, 60000);
    /* refused requests are not counted: one unit back after exactly 12 s, not later */
    CHECK_EQ_INT(ig_limiter_take(l, K("key-a:rpm"), &r, 1, t0 + 12 * S - 1, &out), IG_OK);
    CHECK(!out.allowed);
    CHECK_EQ_INT(out.retry_after_ms, 1);
    CHECK_EQ_INT(ig_limiter_take(l, K("key-a:rpm"), &r, 1, t0 + 12 * S, &out), IG_OK);
    CHECK(out.allowed);
    CHECK_EQ_INT(out.remaining, 0);
    /* the whole limit is back one period after the last admission */
    int64_t t1 = t0 + 12 * S + 60 * S;
    for (int i = 1; i <= 5; i++) {
        CHECK_EQ_INT(ig_limiter_take(l, K("key-a:rpm"), &r, 1, t1, &out), IG_OK);
        CHECK(out.allowed);
    }
    CHECK_EQ_INT(ig_limiter_take(l, K("key-a:rpm"), &r, 1, t1, &out), IG_OK);
    CHECK(!out.allowed);
    ig_limiter_free(l);
}

TEST(keys_are_independent)
{
    ig_limiter_t *l = ig_limiter_local_new();
    ig_limit_rule_t r = {1, 1000};
    ig_limit_result_t out;
    CHECK_EQ_INT(ig_limiter_take(l, K("a"), &r, 1, S, &out), IG_OK);
    CHECK(out.allowed);
    CHECK_EQ_INT(ig_limiter_take(l, K("a"), &r, 1, S, &out), IG_OK);
    CHECK(!out.allowed);
    CHECK_EQ_INT(ig_limiter_take(l, K("b"), &r, 1, S, &out), IG_OK);
    CHECK(out.allowed);
    CHECK_EQ_INT(ig_limiter_take(l, K("ab"), &r, 1, S, &out), IG_OK);
    CHECK(out.allowed);
    ig_limiter_free(l);
}

TEST(costs_and_settlement)
{
    ig_limiter_t *l = ig_limiter_local_new();
    ig_limit_rule_t r = {1000, 60000}; /* tokens per minute */
    ig_limit_result_t out;
    int64_t t = 50 * S;
    CHECK_EQ_INT(ig_limiter_take(l, K("k:tpm"), &r, 800, t, &out), IG_OK); /* estimate: max_tokens */
    CHECK(out.allowed);
    CHECK_EQ_INT(out.remaining, 200);
    CHECK_EQ_INT(ig_limiter_take(l, K("k:tpm"), &r, 300, t, &out), IG_OK);
    CHECK(!out.allowed);
    CHECK_EQ_INT(out.remaining, 200);
    /* the response used 150: 650 come back */
    CHECK_EQ_INT(ig_limiter_settle(l, K("k:tpm"), &r, 150 - 800, t), IG_OK);
    CHECK_EQ_INT(ig_limiter_take(l, K("k:tpm"), &r, 300, t, &out), IG_OK);
    CHECK(out.allowed);
    CHECK_EQ_INT(out.remaining, 550);
    /* a response larger than estimated charges the difference, even past the limit: the key then waits */
    CHECK_EQ_INT(ig_limiter_settle(l, K("k:tpm"), &r, 1200, t), IG_OK);
    CHECK_EQ_INT(ig_limiter_take(l, K("k:tpm"), &r, 0, t, &out), IG_OK);
    CHECK(!out.allowed);
    CHECK_EQ_INT(out.remaining, 0);
    /* a refund never creates credit beyond a full bucket */
    CHECK_EQ_INT(ig_limiter_settle(l, K("k:tpm"), &r, -1000000, t), IG_OK);
    CHECK_EQ_INT(ig_limiter_take(l, K("k:tpm"), &r, 1000, t, &out), IG_OK);
    CHECK(out.allowed);
    CHECK_EQ_INT(ig_limiter_take(l, K("k:tpm"), &r, 1, t, &out), IG_OK);
    CHECK(!out.allowed);
    /* a cost above the limit can never fit */
    CHECK_EQ_INT(ig_limiter_take(l, K("other"), &r, 1001, t, &out), IG_OK);
    CHECK(!out.allowed);
    CHECK_EQ_INT(out.retry_after_ms, 60000);
    CHECK_EQ_INT(out.remaining, 1000);
    ig_limiter_free(l);
}

TEST(a_changed_rule_carries_the_units_in_use)
{
    ig_limiter_t *l = ig_limiter_local_new();
    ig_limit_rule_t one = {1, 60000}, many = {600, 60000}, three = {3, 60000};
    ig_limit_result_t out;
    int64_t t = 9 * S;
    CHECK_EQ_INT(ig_limiter_take(l, K("k"), &one, 1, t, &out), IG_OK);
    CHECK(out.allowed);
    CHECK_EQ_INT(ig_limiter_take(l, K("k"), &one, 1, t, &out), IG_OK);
    CHECK(!out.allowed);
    /* raised: the one unit in use counts as one of 600, the next request is admitted at once */
    CHECK_EQ_INT(ig_limiter_take(l, K("k"), &many, 1, t, &out), IG_OK);
    CHECK(out.allowed);
    CHECK_EQ_INT(out.remaining, 598);
    /* lowered to 3: the 2 units in use still count */
    CHECK_EQ_INT(ig_limiter_take(l, K("k"), &three, 1, t, &out), IG_OK);
    CHECK(out.allowed);
    CHECK_EQ_INT(out.remaining, 0);
    CHECK_EQ_INT(ig_limiter_take(l, K("k"), &three, 1, t, &out), IG_OK);
    CHECK(!out.allowed);
    CHECK_EQ_INT(ig_gcra_rescale(5, &one, &many, 10), 5); /* rested: nothing to carry */
    ig_limiter_free(l);
}

TEST(bad_arguments_refused)
{
    ig_limiter_t *l = ig_limiter_local_new();
    ig_limit_result_t out;
    ig_limit_rule_t ok = {10, 1000};
    ig_limit_rule_t bad[] = {{0, 1000},
                             {10, 0},
                             {-1, 1000},
                             {10, IG_LIMITER_MAX_PERIOD_MS + 1},
                             {IG_LIMITER_MAX_LIMIT + 1, 1000},
                             {2000000, 1} /* more units than ns */};
    for (size_t i = 0; i < IG_ARRAY_LEN(bad); i++) {
        CHECK(!ig_limit_rule_valid(&bad[i]));
        CHECK_EQ_INT(ig_limiter_take(l, K("k"), &bad[i], 1, S, &out), IG_EINVAL);
    }
    char longkey[IG_LIMITER_KEY_MAX + 2];
    memset(longkey, 'x', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    CHECK_EQ_INT(ig_limiter_take(l, K(longkey), &ok, 1, S, &out), IG_EINVAL);
    CHECK_EQ_INT(ig_limiter_take(l, K(""), &ok, 1, S, &out), IG_EINVAL);
    CHECK_EQ_INT(ig_limiter_take(l, K("k"), &ok, -1, S, &out), IG_EINVAL);
    longkey[IG_LIMITER_KEY_MAX] = '\0'; /* exactly the maximum is fine */
    CHECK_EQ_INT(ig_limiter_take(l, K(longkey), &ok, 1, S, &out), IG_OK);
    ig_limiter_free(l);
}

TEST(rested_keys_are_reclaimed_live_ones_kept)
{
    ig_limiter_t *l = ig_limiter_local_new();
    ig_limit_rule_t r = {2, 1000};
    ig_limit_result_t out;
    char k[32];
    /* 20,000 keys used once at t = 1 s; one key exhausted at t = 5 s */
    for (int i = 0; i < 20000; i++) {
        snprintf(k, sizeof k, "key-%d", i);
        CHECK_EQ_INT(ig_limiter_take(l, K(k), &r, 1, S, &out), IG_OK);
    }
    CHECK_EQ_INT(ig_limiter_take(l, K("live"), &r, 2, 5 * S, &out), IG_OK);
    CHECK(out.allowed);
    /* many operations later (sweeps run), the rested keys behave as fresh, the live one still waits */
    for (int i = 0; i < 20000; i++) {
        snprintf(k, sizeof k, "key-%d", i);
        CHECK_EQ_INT(ig_limiter_take(l, K(k), &r, 2, 5 * S, &out), IG_OK);
        if (!out.allowed) break;
    }
    CHECK(out.allowed);
    CHECK_EQ_INT(ig_limiter_take(l, K("live"), &r, 1, 5 * S, &out), IG_OK);
    CHECK(!out.allowed);
    ig_limiter_free(l);
}

/* ---- threads: N threads race for one key; exactly the limit is admitted ---- */

#define THREADS 8
#define TRIES   5000

typedef struct {
    ig_limiter_t *l;
    int64_t now;
    int admitted;
} race_t;

static void *racer(void *arg)
{
    race_t *r = arg;
    ig_limit_rule_t rule = {12345, 60000};
    ig_limit_result_t out;
    for (int i = 0; i < TRIES; i++) {
        char k[16];
        snprintf(k, sizeof k, "shared");
        if (ig_limiter_take(r->l, K(k), &rule, 1, r->now, &out) == IG_OK && out.allowed) r->admitted++;
    }
    return NULL;
}

TEST(threads_never_admit_more_than_the_limit)
{
    ig_limiter_t *l = ig_limiter_local_new();
    pthread_t th[THREADS];
    race_t rs[THREADS];
    for (int i = 0; i < THREADS; i++) {
        rs[i] = (race_t){l, 7 * S, 0};
        pthread_create(&th[i], NULL, racer, &rs[i]);
    }
    int total = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        total += rs[i].admitted;
    }
    CHECK_EQ_INT(total, 12345); /* 40,000 tries at one instant: exactly the limit gets in */
    ig_limiter_free(l);
}

TEST(key_names)
{
    char b[IG_LIMITER_KEY_MAX];
    ig_iov_t k = ig_limiter_key(b, "0123456789abcdef0123456789abcdef", 'r');
    CHECK_EQ_INT(k.len, 34);
    CHECK(memcmp(k.base, "0123456789abcdef0123456789abcdef:r", 34) == 0);
    k = ig_limiter_key(b, "", 't');
    CHECK(k.len == 2 && memcmp(k.base, ":t", 2) == 0);
    /* an id too long for the key is cut, never written past the buffer */
    char big[200];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    k = ig_limiter_key(b, big, 't');
    CHECK_EQ_INT(k.len, IG_LIMITER_KEY_MAX);
    CHECK(k.base[IG_LIMITER_KEY_MAX - 2] == ':' && k.base[IG_LIMITER_KEY_MAX - 1] == 't');
}

int main(void)
{
    RUN(key_names);
    RUN(burst_of_exactly_the_limit_then_refused);
    RUN(keys_are_independent);
    RUN(costs_and_settlement);
    RUN(a_changed_rule_carries_the_units_in_use);
    RUN(bad_arguments_refused);
    RUN(rested_keys_are_reclaimed_live_ones_kept);
    RUN(threads_never_admit_more_than_the_limit);
    UNIT_DONE();
}

/*
 * Unit tests of src/auth/ratelimit: the exact sliding-log boundary (limit allowed, the next refused with
 * the exact Retry-After, one more allowed once the oldest attempt leaves the window), refused attempts not
 * counted, independent keys, reuse and eviction when the table is full (bounded, still correct), several
 * threads on shared keys (totals exact), and argument checks. Keys are passed from exactly-sized heap
 * copies where it matters, so ASan catches a read past key.len.
 */
#include "unit.h"
#include "auth/ratelimit.h"
#include "core/err.h"

#include <pthread.h>
#include <stdatomic.h>

#define MIN_MS    (60 * 1000LL)
#define WINDOW_MS (15 * MIN_MS)
#define T0        1700000000000LL /* an arbitrary monotonic origin */

static int hit(ig_ratelimit_t *rl, const char *key, int64_t now, int64_t *retry)
{
    size_t n = strlen(key);
    char *copy = malloc(n ? n : 1);
    int rc;
    if (!copy) return IG_ENOMEM;
    memcpy(copy, key, n);
    rc = ig_ratelimit_hit(rl, ig_iov(copy, n), now, retry);
    free(copy);
    return rc;
}

TEST(boundary)
{
    /* The integration-test policy: 10 per 15 min, attempts one second apart. */
    ig_ratelimit_t *rl = ig_ratelimit_new(10, WINDOW_MS, 1000);
    int64_t retry = -1;
    CHECK(rl != NULL);
    if (!rl) return;
    for (int i = 0; i < 10; i++)
        CHECK_EQ_INT(hit(rl, "203.0.113.7", T0 + i * 1000, &retry), IG_OK);
    CHECK_EQ_INT(retry, -1); /* untouched when allowed */

    /* 11th at T0 + 10 s: oldest is T0, free at T0 + 900 s, so 890 s. */
    CHECK_EQ_INT(hit(rl, "203.0.113.7", T0 + 10000, &retry), IG_ETOOMANY);
    CHECK_EQ_INT(retry, 890);
    /* Rounded up: 1 ms later 889.999 s are left, still 890. */
    CHECK_EQ_INT(hit(rl, "203.0.113.7", T0 + 10001, &retry), IG_ETOOMANY);
    CHECK_EQ_INT(retry, 890);
    /* 1 ms before the oldest leaves: still refused, and never 0. */
    CHECK_EQ_INT(hit(rl, "203.0.113.7", T0 + WINDOW_MS - 1, &retry), IG_ETOOMANY);
    CHECK_EQ_INT(retry, 1);
    CHECK_EQ_INT(hit(rl, "203.0.113.7", T0 + WINDOW_MS - 1000, &retry), IG_ETOOMANY);
    CHECK_EQ_INT(retry, 1);
    CHECK_EQ_INT(hit(rl, "203.0.113.7", T0 + WINDOW_MS - 1001, &retry), IG_ETOOMANY);
    CHECK_EQ_INT(retry, 2);
    /* NULL retry pointer is fine. */
    CHECK_EQ_INT(hit(rl, "203.0.113.7", T0 + 20000, NULL), IG_ETOOMANY);

    /* Exactly window_ms after the oldest: it has left the window, one more is allowed... */
    CHECK_EQ_INT(hit(rl, "203.0.113.7", T0 + WINDOW_MS, &retry), IG_OK);
    /* ...and only one: the next oldest is T0 + 1 s. */
    CHECK_EQ_INT(hit(rl, "203.0.113.7", T0 + WINDOW_MS, &retry), IG_ETOOMANY);
    CHECK_EQ_INT(retry, 1);
    CHECK_EQ_INT(hit(rl, "203.0.113.7", T0 + WINDOW_MS + 1000, &retry), IG_OK);
    ig_ratelimit_free(rl);
}

TEST(retry_after_is_ceil)
{
    ig_ratelimit_t *rl = ig_ratelimit_new(1, 10000, 16);
    int64_t retry = 0;
    CHECK(rl != NULL);
    if (!rl) return;
    CHECK_EQ_INT(hit(rl, "k", 5000, &retry), IG_OK);
    int64_t cases[][2] = {{5000, 10}, {5001, 10}, {5999, 10}, {6000, 9}, {6001, 9}, {14000, 1}, {14999, 1}};
    for (size_t i = 0; i < IG_ARRAY_LEN(cases); i++) {
        retry = 0;
        CHECK_EQ_INT(hit(rl, "k", cases[i][0], &retry), IG_ETOOMANY);
        CHECK_EQ_INT(retry, cases[i][1]);
    }
    /* A caller whose clock is a little behind the recorded attempt: still refused, rounded up. */
    CHECK_EQ_INT(hit(rl, "k", 4500, &retry), IG_ETOOMANY);
    CHECK_EQ_INT(retry, 11);
    CHECK_EQ_INT(hit(rl, "k", 15000, &retry), IG_OK);
    ig_ratelimit_free(rl);
}

TEST(sliding)
{
    /* 3 per 10 s, attempts at 0, 4, 8 s: at 10 s the one at 0 leaves, at 14 s the one at 4 s, and so on. */
    ig_ratelimit_t *rl = ig_ratelimit_new(3, 10000, 16);
    int64_t retry = 0;
    CHECK(rl != NULL);
    if (!rl) return;
    CHECK_EQ_INT(hit(rl, "a", 0, &retry), IG_OK);
    CHECK_EQ_INT(hit(rl, "a", 4000, &retry), IG_OK);
    CHECK_EQ_INT(hit(rl, "a", 8000, &retry), IG_OK);
    CHECK_EQ_INT(hit(rl, "a", 9999, &retry), IG_ETOOMANY);
    CHECK_EQ_INT(retry, 1);
    CHECK_EQ_INT(hit(rl, "a", 10000, &retry), IG_OK); /* log now 4, 8, 10 */
    CHECK_EQ_INT(hit(rl, "a", 10000, &retry), IG_ETOOMANY);
    CHECK_EQ_INT(retry, 4);
    CHECK_EQ_INT(hit(rl, "a", 13999, &retry), IG_ETOOMANY);
    CHECK_EQ_INT(hit(rl, "a", 14000, &retry), IG_OK); /* log 8, 10, 14 */
    CHECK_EQ_INT(hit(rl, "a", 17999, &retry), IG_ETOOMANY);
    CHECK_EQ_INT(retry, 1);
    /* After a long pause everything has left: limit more in a row. */
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(hit(rl, "a", 100000, &retry), IG_OK);
    CHECK_EQ_INT(hit(rl, "a", 100000, &retry), IG_ETOOMANY);
    CHECK_EQ_INT(retry, 10);

    /* Steady rate: one attempt every window/limit ms is always allowed, a faster one is refused. */
    ig_ratelimit_t *r2 = ig_ratelimit_new(5, 1000, 4);
    CHECK(r2 != NULL);
    if (r2) {
        int refused = 0;
        for (int64_t t = 0; t < 100000; t += 200)
            refused += hit(r2, "steady", t, NULL) != IG_OK;
        CHECK_EQ_INT(refused, 0);
        int allowed = 0;
        for (int64_t t = 200000; t < 210000; t += 100) /* twice the rate over 10 s: half allowed */
            allowed += hit(r2, "fast", t, NULL) == IG_OK;
        CHECK_EQ_INT(allowed, 50);
        ig_ratelimit_free(r2);
    }
    ig_ratelimit_free(rl);
}

TEST(refused_not_counted)
{
    /* Hammering while locked out does not extend the lockout. */
    ig_ratelimit_t *rl = ig_ratelimit_new(2, 10000, 16);
    int64_t retry = 0;
    CHECK(rl != NULL);
    if (!rl) return;
    CHECK_EQ_INT(hit(rl, "x", 0, &retry), IG_OK);
    CHECK_EQ_INT(hit(rl, "x", 1, &retry), IG_OK);
    for (int64_t t = 2; t < 10000; t += 7)
        CHECK_EQ_INT(hit(rl, "x", t, &retry), IG_ETOOMANY);
    CHECK_EQ_INT(hit(rl, "x", 10000, &retry), IG_OK);
    CHECK_EQ_INT(hit(rl, "x", 10001, &retry), IG_OK);
    CHECK_EQ_INT(hit(rl, "x", 10002, &retry), IG_ETOOMANY);
    CHECK_EQ_INT(retry, 10);
    ig_ratelimit_free(rl);
}

TEST(independent_keys)
{
    ig_ratelimit_t *rl = ig_ratelimit_new(2, 10000, 64);
    int64_t retry = 0;
    CHECK(rl != NULL);
    if (!rl) return;
    CHECK_EQ_INT(hit(rl, "10.0.0.1", 0, &retry), IG_OK);
    CHECK_EQ_INT(hit(rl, "10.0.0.1", 0, &retry), IG_OK);
    CHECK_EQ_INT(hit(rl, "10.0.0.1", 0, &retry), IG_ETOOMANY);
    /* Other keys, including prefixes and extensions of it, and the empty key, are unaffected. */
    const char *others[] = {"10.0.0.2", "10.0.0.1 ", "10.0.0.", "10.0.0.10", "", "2001:db8::/64"};
    for (size_t i = 0; i < IG_ARRAY_LEN(others); i++) {
        CHECK_EQ_INT(hit(rl, others[i], 0, &retry), IG_OK);
        CHECK_EQ_INT(hit(rl, others[i], 0, &retry), IG_OK);
        CHECK_EQ_INT(hit(rl, others[i], 0, &retry), IG_ETOOMANY);
    }
    CHECK_EQ_INT(ig_ratelimit_hit(rl, IG_IOV_NULL, 0, &retry), IG_ETOOMANY); /* same as "" */
    /* Bytes are compared, not strings: an embedded NUL makes a different key. */
    CHECK_EQ_INT(ig_ratelimit_hit(rl, ig_iov("10.0.0.1\0x", 10), 0, &retry), IG_OK);
    /* Keys longer than IG_RATELIMIT_KEY_MAX share a log when their first IG_RATELIMIT_KEY_MAX bytes agree. */
    char a[IG_RATELIMIT_KEY_MAX + 8], b[IG_RATELIMIT_KEY_MAX + 8];
    memset(a, 'k', sizeof a);
    memset(b, 'k', sizeof b);
    b[sizeof b - 1] = 'z';
    CHECK_EQ_INT(ig_ratelimit_hit(rl, ig_iov(a, sizeof a), 0, &retry), IG_OK);
    CHECK_EQ_INT(ig_ratelimit_hit(rl, ig_iov(b, sizeof b), 0, &retry), IG_OK);
    CHECK_EQ_INT(ig_ratelimit_hit(rl, ig_iov(a, sizeof a), 0, &retry), IG_ETOOMANY);
    ig_ratelimit_free(rl);
}

TEST(full_table_reuses_expired_entries)
{
    /* 4 keys, 1 per 1000 ms. After the window passes, new keys take over old entries without evicting. */
    ig_ratelimit_t *rl = ig_ratelimit_new(1, 1000, 4);
    char key[32];
    size_t nkeys = 0;
    uint64_t ev = 99;
    CHECK(rl != NULL);
    if (!rl) return;
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "198.51.100.%d", i);
        CHECK_EQ_INT(hit(rl, key, (int64_t)i * 300, NULL), IG_OK); /* at most 4 keys live per window */
    }
    ig_ratelimit_stats(rl, &nkeys, &ev);
    CHECK_EQ_INT(nkeys, 4);
    CHECK_EQ_INT(ev, 0);
    /* The latest keys are still remembered. */
    CHECK_EQ_INT(hit(rl, "198.51.100.999", 999 * 300, NULL), IG_ETOOMANY);
    CHECK_EQ_INT(hit(rl, "198.51.100.998", 999 * 300, NULL), IG_ETOOMANY);
    ig_ratelimit_free(rl);
}

TEST(eviction_when_full)
{
    ig_ratelimit_t *rl = ig_ratelimit_new(2, 10000, 3);
    size_t nkeys = 0;
    uint64_t ev = 0;
    int64_t retry = 0;
    CHECK(rl != NULL);
    if (!rl) return;
    /* a, b, c fill the table; a is touched again (counted), so b's newest attempt is the oldest. */
    CHECK_EQ_INT(hit(rl, "a", 0, NULL), IG_OK);
    CHECK_EQ_INT(hit(rl, "b", 1, NULL), IG_OK);
    CHECK_EQ_INT(hit(rl, "b", 2, NULL), IG_OK);
    CHECK_EQ_INT(hit(rl, "c", 3, NULL), IG_OK);
    CHECK_EQ_INT(hit(rl, "a", 4, NULL), IG_OK);
    /* Refused attempts do not move b forward. */
    CHECK_EQ_INT(hit(rl, "b", 5, &retry), IG_ETOOMANY);
    CHECK_EQ_INT(retry, 10);
    /* d needs an entry: b is evicted (live, so counted as an eviction). */
    CHECK_EQ_INT(hit(rl, "d", 6, NULL), IG_OK);
    ig_ratelimit_stats(rl, &nkeys, &ev);
    CHECK_EQ_INT(nkeys, 3);
    CHECK_EQ_INT(ev, 1);
    /* a, c and d kept their logs. */
    CHECK_EQ_INT(hit(rl, "a", 7, &retry), IG_ETOOMANY);
    CHECK_EQ_INT(hit(rl, "c", 7, NULL), IG_OK);
    CHECK_EQ_INT(hit(rl, "c", 7, &retry), IG_ETOOMANY);
    CHECK_EQ_INT(retry, 10);
    /* b starts over; it takes a's entry (a's newest counted attempt, at 4, is now the oldest). */
    CHECK_EQ_INT(hit(rl, "b", 8, NULL), IG_OK);
    ig_ratelimit_stats(rl, &nkeys, &ev);
    CHECK_EQ_INT(ev, 2);

    /* Many distinct live keys: stays bounded, every new key is served, the most recent are remembered. */
    char key[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof key, "2001:db8:%x::/64", i);
        CHECK_EQ_INT(hit(rl, key, 100, NULL), IG_OK);
    }
    ig_ratelimit_stats(rl, &nkeys, &ev);
    CHECK_EQ_INT(nkeys, 3);
    CHECK_EQ_INT(ev, 2 + 10000);
    CHECK_EQ_INT(hit(rl, "2001:db8:270f::/64", 100, NULL), IG_OK);
    CHECK_EQ_INT(hit(rl, "2001:db8:270f::/64", 100, NULL), IG_ETOOMANY);
    ig_ratelimit_free(rl);
}

/* Many threads on a few shared keys at one instant: exactly limit per key get through, whatever the
 * interleaving. Then threads on keys of their own with time moving and a small table (constant eviction):
 * no crash, no race (run under TSan/ASan), every key within its budget. */
#define THREADS 8
#define KEYS    37
#define LIMIT   25

typedef struct {
    ig_ratelimit_t *rl;
    int id;
    atomic_int *allowed; /* per key */
    int over;            /* own-key phase: windows where more than LIMIT were allowed */
} worker_t;

static void *hammer_shared(void *arg)
{
    worker_t *w = arg;
    char key[16];
    for (int i = 0; i < 20000; i++) {
        int k = (i * 7 + w->id) % KEYS;
        snprintf(key, sizeof key, "key-%d", k);
        if (ig_ratelimit_hit(w->rl, ig_iov_str(key), 5000, NULL) == IG_OK)
            atomic_fetch_add(&w->allowed[k], 1);
    }
    return NULL;
}

static void *hammer_own(void *arg)
{
    worker_t *w = arg;
    char key[16];
    snprintf(key, sizeof key, "own-%d", w->id);
    /* 1 ms steps, 1000 ms window: at most LIMIT allowed in any 1000 consecutive steps. */
    int ring[LIMIT] = {0}, n = 0;
    for (int t = 0; t < 20000; t++) {
        if (ig_ratelimit_hit(w->rl, ig_iov_str(key), t, NULL) != IG_OK) continue;
        if (n >= LIMIT && t - ring[n % LIMIT] < 1000) w->over++;
        ring[n % LIMIT] = t;
        n++;
    }
    return NULL;
}

TEST(concurrency)
{
    ig_ratelimit_t *rl = ig_ratelimit_new(LIMIT, 60000, 1024);
    atomic_int allowed[KEYS];
    worker_t w[THREADS];
    pthread_t th[THREADS];
    CHECK(rl != NULL);
    if (!rl) return;
    for (int k = 0; k < KEYS; k++)
        atomic_init(&allowed[k], 0);
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker_t){rl, i, allowed, 0};
        CHECK_EQ_INT(pthread_create(&th[i], NULL, hammer_shared, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    for (int k = 0; k < KEYS; k++)
        CHECK_EQ_INT(atomic_load(&allowed[k]), LIMIT);
    ig_ratelimit_free(rl);

    /* Own keys in a table smaller than the thread count would thrash; one slot each keeps every log. */
    rl = ig_ratelimit_new(LIMIT, 1000, THREADS);
    CHECK(rl != NULL);
    if (!rl) return;
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker_t){rl, i, allowed, 0};
        CHECK_EQ_INT(pthread_create(&th[i], NULL, hammer_own, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ_INT(w[i].over, 0);
    }
    uint64_t ev = 1;
    ig_ratelimit_stats(rl, NULL, &ev);
    CHECK_EQ_INT(ev, 0);
    ig_ratelimit_free(rl);
}

TEST(bad_args)
{
    CHECK(ig_ratelimit_new(0, 1000, 10) == NULL);
    CHECK(ig_ratelimit_new(10, 0, 10) == NULL);
    CHECK(ig_ratelimit_new(10, -1, 10) == NULL);
    CHECK(ig_ratelimit_new(10, 1000, 0) == NULL);
    CHECK(ig_ratelimit_new(IG_RATELIMIT_MAX_LIMIT + 1, 1000, 10) == NULL);
    CHECK(ig_ratelimit_new(10, IG_RATELIMIT_MAX_WINDOW_MS + 1, 10) == NULL);
    CHECK(ig_ratelimit_new(10, INT64_MAX, 10) == NULL);
    CHECK(ig_ratelimit_new(10, 1000, (size_t)IG_RATELIMIT_MAX_KEYS + 1) == NULL);
    CHECK(ig_ratelimit_new(10, 1000, SIZE_MAX) == NULL);
    ig_ratelimit_free(NULL);

    /* The bounds themselves are accepted (small table so the test stays cheap). */
    ig_ratelimit_t *rl = ig_ratelimit_new(1, IG_RATELIMIT_MAX_WINDOW_MS, 1);
    CHECK(rl != NULL);
    if (rl) {
        int64_t retry = 0;
        /* Extreme times do not overflow. */
        CHECK_EQ_INT(ig_ratelimit_hit(rl, IG_IOV_LIT("k"), INT64_MAX, &retry), IG_OK);
        CHECK_EQ_INT(ig_ratelimit_hit(rl, IG_IOV_LIT("k"), INT64_MIN, &retry), IG_ETOOMANY);
        CHECK(retry >= 1);
        CHECK_EQ_INT(ig_ratelimit_hit(rl, IG_IOV_LIT("j"), INT64_MIN, &retry), IG_OK);
        CHECK_EQ_INT(ig_ratelimit_hit(rl, IG_IOV_LIT("j"), INT64_MAX, &retry), IG_OK);
        ig_ratelimit_free(rl);
    }
    rl = ig_ratelimit_new(IG_RATELIMIT_MAX_LIMIT, 1000, 1);
    CHECK(rl != NULL);
    ig_ratelimit_free(rl);
}

int main(void)
{
    RUN(boundary);
    RUN(retry_after_is_ceil);
    RUN(sliding);
    RUN(refused_not_counted);
    RUN(independent_keys);
    RUN(full_table_reuses_expired_entries);
    RUN(eviction_when_full);
    RUN(concurrency);
    RUN(bad_args);
    UNIT_DONE();
}

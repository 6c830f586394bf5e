/*
 * limiter.h — per-key rate limits for the proxy path (requests per minute, tokens per minute): the Generic
 * Cell Rate Algorithm (GCRA, ITU-T I.371; the "virtual scheduling" form), behind an interface that a
 * Redis-backed implementation can fill so that several nodes share one budget.
 *
 * Semantics of a rule {limit L, period P}: at most L units in any window of P, and a client that has used
 * nothing for P has all L available at once (a full burst). GCRA keeps ONE number per key, the theoretical
 * arrival time TAT: the time at which the key's bucket would be empty again. With I = P / L (the emission
 * interval, in ns, rounded down so L·I ≤ P) and T = L·I, a request of cost c at time now computes
 *     tat' = max(TAT, now) + c·I
 * and is admitted iff tat' − now ≤ T; then TAT = tat'. A refused request changes nothing. So:
 *   - from a fresh (or fully rested) key, exactly L unit requests are admitted at once and the next refused;
 *   - afterwards one unit comes back every I; everything is back after at most P (reset);
 *   - remaining = ⌊(T − (tat' − now)) / I⌋ units, reset = tat' − now, and a refused request may retry after
 *     tat' − now − T.
 * A key's rule may change between calls (the org or key settings): the units in use are then carried over
 * to the new rule (ig_gcra_rescale), so a raised limit counts on the very next request.
 * Costs may be corrected afterwards (ig_limiter_settle): tokens are estimated from the request's max_tokens
 * when it is admitted and replaced by the tokens the response reports; the difference moves TAT (a refund
 * moves it back, never below "now").
 *
 * Exactness across threads: one node's counters are shared by all its threads (a mutex per shard; a take
 * is a hash lookup and a few integer operations), so N parallel requests never admit more than L.
 *
 * Memory: one entry (~100 bytes) per key seen within its period; entries whose TAT has passed hold no
 * state (a fresh key behaves the same) and are reclaimed by later calls on the same shard, so memory
 * follows the keys active in the last period. Keys are authenticated API key ids, not client input.
 */
#ifndef IG_LIMIT_LIMITER_H
#define IG_LIMIT_LIMITER_H

#include "core/common.h"

#include <stdint.h>

/* Longest key compared (an API key id is 32 chars; callers add a short suffix such as ":rpm"). */
#define IG_LIMITER_KEY_MAX 64

/* The limiter's key of an ingate key's rule: "<id>:<kind>" ('r' requests, 't' tokens) in buf, id cut to fit.
 * No formatting library on this per-call path. */
ig_iov_t ig_limiter_key(char buf[IG_LIMITER_KEY_MAX], const char *id, char kind);
/* Bounds of a rule: a limit of at most 2^40 units (tokens per period) and a period of 1 ms .. 1 day keep
 * every product of nanoseconds far from overflowing int64. */
#define IG_LIMITER_MAX_LIMIT     (1LL << 40)
#define IG_LIMITER_MAX_PERIOD_MS (24LL * 3600 * 1000)

/* The largest per-minute limit (requests or tokens per minute, the org and key settings): a limit the limiter
 * can hold over one minute, i.e. at most one unit per nanosecond of it. */
#define IG_LIMITER_MAX_PER_MINUTE 60000000000LL
_Static_assert(IG_LIMITER_MAX_PER_MINUTE <= IG_LIMITER_MAX_LIMIT, "a per-minute limit is a valid rule");

typedef struct {
    int64_t limit;     /* units per period, 1 .. IG_LIMITER_MAX_LIMIT */
    int64_t period_ms; /* 1 .. IG_LIMITER_MAX_PERIOD_MS */
} ig_limit_rule_t;

/* The outcome of a take, enough for the X-RateLimit-* and RateLimit headers. */
typedef struct {
    bool allowed;
    int64_t limit;          /* the rule's limit */
    int64_t remaining;      /* units still available right now (0 when refused) */
    int64_t reset_ms;       /* until the key's bucket is full again (≥ 0) */
    int64_t retry_after_ms; /* refused: until this request would be admitted; allowed: 0 */
} ig_limit_result_t;

typedef struct ig_limiter ig_limiter_t;

/* The interface: the local implementation below, and later one backed by Redis. now_ns is a clock all
 * callers share (CLOCK_REALTIME in ns for a shared backend; the local one accepts any monotonic clock). */
typedef struct {
    /* Admits or refuses cost units (0 ≤ cost ≤ rule->limit; a larger cost can never be admitted and is
     * refused with retry_after_ms = the period) for key. IG_OK with *out filled either way; IG_EINVAL for a
     * bad argument; IG_ENOMEM / IG_EUNAVAILABLE when the state cannot be reached — callers refuse the request
     * then (a limiter never fails open). */
    int (*take)(ig_limiter_t *l, ig_iov_t key, const ig_limit_rule_t *rule, int64_t cost, int64_t now_ns,
                ig_limit_result_t *out);
    /* Corrects an admitted cost by delta units (actual − estimated; negative gives units back). */
    int (*settle)(ig_limiter_t *l, ig_iov_t key, const ig_limit_rule_t *rule, int64_t delta, int64_t now_ns);
    void (*free)(ig_limiter_t *l);
} ig_limiter_ops_t;

struct ig_limiter {
    const ig_limiter_ops_t *ops;
};

/* The in-process limiter: state shared by every thread of this process. NULL when out of memory. */
ig_limiter_t *ig_limiter_local_new(void);

static inline int ig_limiter_take(ig_limiter_t *l, ig_iov_t key, const ig_limit_rule_t *rule, int64_t cost,
                                  int64_t now_ns, ig_limit_result_t *out)
{
    return l->ops->take(l, key, rule, cost, now_ns, out);
}
static inline int ig_limiter_settle(ig_limiter_t *l, ig_iov_t key, const ig_limit_rule_t *rule, int64_t delta,
                                    int64_t now_ns)
{
    return l->ops->settle(l, key, rule, delta, now_ns);
}
static inline void ig_limiter_free(ig_limiter_t *l)
{
    if (l) l->ops->free(l);
}

/* The GCRA step on one TAT, shared by every implementation (a Redis script computes the same): the new TAT
 * in *tat when admitted (unchanged when refused) and the result. The rule must be valid. */
void ig_gcra_take(int64_t *tat, const ig_limit_rule_t *rule, int64_t cost, int64_t now_ns,
                  ig_limit_result_t *out);
/* The TAT of a key whose rule changed (from → to): the units in use are carried over, so a raised limit
 * admits at once and a lowered one counts what was already used (at most MAX_SETTLE_PERIODS of the new
 * rule are carried). */
int64_t ig_gcra_rescale(int64_t tat, const ig_limit_rule_t *from, const ig_limit_rule_t *to, int64_t now_ns);
/* The TAT after a settlement of delta units. */
int64_t ig_gcra_settle(int64_t tat, const ig_limit_rule_t *rule, int64_t delta, int64_t now_ns);
/* Whether a rule is within the bounds above. */
bool ig_limit_rule_valid(const ig_limit_rule_t *rule);

#endif

/*
 * limiter.c — GCRA rate limiting (see limiter.h) and the in-process implementation of the interface.
 */
#include "limit/limiter.h"
#include "core/err.h"

#include <pthread.h>
#include <stdlib.h>

#define NS_PER_MS 1000000LL
/* A settlement moves TAT by at most this many periods either way (a response may report more tokens than a
 * whole period allows; the key then waits, but arithmetic stays far from overflow). */
#define MAX_SETTLE_PERIODS 64

bool ig_limit_rule_valid(const ig_limit_rule_t *r)
{
    return r && r->limit >= 1 && r->limit <= IG_LIMITER_MAX_LIMIT && r->period_ms >= 1 &&
           r->period_ms <= IG_LIMITER_MAX_PERIOD_MS && r->limit <= r->period_ms * NS_PER_MS; /* I ≥ 1 ns */
}

static int64_t interval_ns(const ig_limit_rule_t *r)
{
    return r->period_ms * NS_PER_MS / r->limit;
}

static int64_t ceil_div(int64_t a, int64_t b)
{
    return a <= 0 ? 0 : (a + b - 1) / b;
}

void ig_gcra_take(int64_t *tat, const ig_limit_rule_t *rule, int64_t cost, int64_t now_ns,
                  ig_limit_result_t *out)
{
    const int64_t iv = interval_ns(rule), t = rule->limit * iv;
    int64_t base = *tat > now_ns ? *tat : now_ns;
    out->limit = rule->limit;
    if (cost < 0) cost = 0;
    if (cost > rule->limit) { /* can never fit: refuse, and say "a period" rather than "never" */
        out->allowed = false;
        out->remaining = IG_MAX((t - (base - now_ns)) / iv, 0);
        out->reset_ms = ceil_div(base - now_ns, NS_PER_MS);
        out->retry_after_ms = rule->period_ms;
        return;
    }
    int64_t next = base + cost * iv;
    if (next - now_ns <= t) {
        *tat = next;
        out->allowed = true;
        out->remaining = (t - (next - now_ns)) / iv;
        out->reset_ms = ceil_div(next - now_ns, NS_PER_MS);
        out->retry_after_ms = 0;
    } else {
        out->allowed = false;
        out->remaining = IG_MAX((t - (base - now_ns)) / iv, 0); /* < 0 after a settlement beyond T */
        out->reset_ms = ceil_div(base - now_ns, NS_PER_MS);
        out->retry_after_ms = IG_MAX(ceil_div(next - now_ns - t, NS_PER_MS), 1);
    }
}

int64_t ig_gcra_rescale(int64_t tat, const ig_limit_rule_t *from, const ig_limit_rule_t *to, int64_t now_ns)
{
    if (tat <= now_ns || (from->limit == to->limit && from->period_ms == to->period_ms)) return tat;
    const int64_t iv_from = interval_ns(from), iv_to = interval_ns(to);
    int64_t units = ceil_div(tat - now_ns, iv_from); /* in use, rounded up: never fewer */
    if (units > to->limit * MAX_SETTLE_PERIODS) units = to->limit * MAX_SETTLE_PERIODS;
    return now_ns + units * iv_to;
}

int64_t ig_gcra_settle(int64_t tat, const ig_limit_rule_t *rule, int64_t delta, int64_t now_ns)
{
    const int64_t iv = interval_ns(rule), lim = rule->limit * MAX_SETTLE_PERIODS;
    if (delta > lim) delta = lim;
    if (delta < -lim) delta = -lim;
    int64_t next = tat + delta * iv;
    return delta < 0 && next < now_ns ? IG_MIN(tat, now_ns) : next; /* a refund never creates credit */
}

/* ---- the in-process implementation ---- */

#define SHARDS      64   /* keys spread over this many locks: threads rarely meet on one */
#define SWEEP_EVERY 1024 /* operations on a shard between two sweeps of its rested entries */

typedef struct entry {
    struct entry *next;
    uint64_t hash;
    int64_t tat;
    ig_limit_rule_t rule; /* the rule TAT was counted in */
    uint8_t klen;
    char key[IG_LIMITER_KEY_MAX];
} entry_t;

typedef struct {
    pthread_mutex_t mu;
    entry_t **slots;
    size_t nslots, count;
    unsigned ops;
} shard_t;

typedef struct {
    ig_limiter_t base;
    shard_t shards[SHARDS];
} local_t;

ig_iov_t ig_limiter_key(char buf[IG_LIMITER_KEY_MAX], const char *id, char kind)
{
    size_t n = strnlen(id, IG_LIMITER_KEY_MAX - 2);
    memcpy(buf, id, n);
    buf[n] = ':';
    buf[n + 1] = kind;
    return ig_iov(buf, n + 2);
}

static uint64_t hash_key(ig_iov_t k)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a: keys are our own key ids, not attacker-chosen */
    for (size_t i = 0; i < k.len; i++) {
        h ^= (unsigned char)k.base[i];
        h *= 1099511628211ULL;
    }
    return h ^ (h >> 29);
}

/* Removes the entries whose TAT has passed (they hold nothing a fresh entry would not). */
static void sweep(shard_t *s, int64_t now_ns)
{
    for (size_t i = 0; i < s->nslots; i++)
        for (entry_t **pp = &s->slots[i]; *pp;) {
            entry_t *e = *pp;
            if (e->tat <= now_ns) {
                *pp = e->next;
                free(e);
                s->count--;
            } else {
                pp = &e->next;
            }
        }
}

static int grow(shard_t *s)
{
    size_t n = s->nslots ? s->nslots * 2 : 64;
    entry_t **slots = calloc(n, sizeof *slots);
    if (!slots) return IG_ENOMEM;
    for (size_t i = 0; i < s->nslots; i++)
        for (entry_t *e = s->slots[i], *next; e; e = next) {
            next = e->next;
            e->next = slots[e->hash & (n - 1)];
            slots[e->hash & (n - 1)] = e;
        }
    free(s->slots);
    s->slots = slots;
    s->nslots = n;
    return IG_OK;
}

/* The entry of key, created (TAT = 0: fresh) when create is set. NULL when absent (or out of memory). */
static entry_t *find(shard_t *s, ig_iov_t key, uint64_t h, bool create, int64_t now_ns)
{
    if (++s->ops >= SWEEP_EVERY) {
        s->ops = 0;
        sweep(s, now_ns);
    }
    if (s->nslots)
        for (entry_t *e = s->slots[h & (s->nslots - 1)]; e; e = e->next)
            if (e->hash == h && e->klen == key.len && memcmp(e->key, key.base, key.len) == 0) return e;
    if (!create) return NULL;
    if (s->count + 1 > s->nslots && grow(s) != IG_OK && !s->nslots) return NULL;
    entry_t *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->hash = h;
    e->klen = (uint8_t)key.len;
    memcpy(e->key, key.base, key.len);
    e->next = s->slots[h & (s->nslots - 1)];
    s->slots[h & (s->nslots - 1)] = e;
    s->count++;
    return e;
}

static bool key_ok(ig_iov_t key)
{
    return key.base && key.len > 0 && key.len <= IG_LIMITER_KEY_MAX;
}

static int local_take(ig_limiter_t *l, ig_iov_t key, const ig_limit_rule_t *rule, int64_t cost,
                      int64_t now_ns, ig_limit_result_t *out)
{
    if (!l || !key_ok(key) || !ig_limit_rule_valid(rule) || cost < 0 || !out) return IG_EINVAL;
    local_t *lc = (local_t *)l;
    uint64_t h = hash_key(key);
    shard_t *s = &lc->shards[(h >> 58) % SHARDS];
    pthread_mutex_lock(&s->mu);
    entry_t *e = find(s, key, h, true, now_ns);
    if (e) {
        if (e->rule.limit) e->tat = ig_gcra_rescale(e->tat, &e->rule, rule, now_ns);
        e->rule = *rule;
        ig_gcra_take(&e->tat, rule, cost, now_ns, out);
    }
    pthread_mutex_unlock(&s->mu);
    return e ? IG_OK : IG_ENOMEM;
}

static int local_settle(ig_limiter_t *l, ig_iov_t key, const ig_limit_rule_t *rule, int64_t delta,
                        int64_t now_ns)
{
    if (!l || !key_ok(key) || !ig_limit_rule_valid(rule)) return IG_EINVAL;
    if (delta == 0) return IG_OK;
    local_t *lc = (local_t *)l;
    uint64_t h = hash_key(key);
    shard_t *s = &lc->shards[(h >> 58) % SHARDS];
    pthread_mutex_lock(&s->mu);
    /* a refund to a key already rested changes nothing; a charge creates the entry if needed */
    entry_t *e = find(s, key, h, delta > 0, now_ns);
    if (e) {
        if (e->rule.limit) e->tat = ig_gcra_rescale(e->tat, &e->rule, rule, now_ns);
        e->rule = *rule;
        e->tat = ig_gcra_settle(e->tat, rule, delta, now_ns);
    }
    pthread_mutex_unlock(&s->mu);
    return e || delta < 0 ? IG_OK : IG_ENOMEM;
}

static void local_free(ig_limiter_t *l)
{
    local_t *lc = (local_t *)l;
    for (size_t i = 0; i < SHARDS; i++) {
        shard_t *s = &lc->shards[i];
        sweep(s, INT64_MAX);
        free(s->slots);
        pthread_mutex_destroy(&s->mu);
    }
    free(lc);
}

static const ig_limiter_ops_t LOCAL_OPS = {local_take, local_settle, local_free};

ig_limiter_t *ig_limiter_local_new(void)
{
    local_t *lc = calloc(1, sizeof *lc);
    if (!lc) return NULL;
    lc->base.ops = &LOCAL_OPS;
    for (size_t i = 0; i < SHARDS; i++)
        pthread_mutex_init(&lc->shards[i].mu, NULL);
    return &lc->base;
}

/*
 * ratelimit.c — sliding-log rate limiter (contract in ratelimit.h).
 *
 * Layout: everything is allocated in ig_ratelimit_new and addressed by 32-bit indices. `entries` holds
 * max_keys entries; `times` holds `limit` timestamps per entry, used as a ring (slot `w` is the next one
 * written, so once the ring is full it also holds the oldest timestamp). Entries are found through a
 * chained hash table of at least max_keys buckets (load factor <= 1) and are kept on a doubly linked list
 * ordered by their newest COUNTED attempt, most recent first. Refused attempts do not move an entry: that
 * keeps the list ordered by the time each entry's log expires as a whole (newest counted + window), which
 * the reuse rule below depends on.
 *
 * The bucket index comes from SipHash-2-4 under a random per-limiter key: part of every key is chosen by
 * clients (an IPv6 /64 out of a routed block), and an unkeyed hash would let one client fill a single chain
 * and make every call, on every loop thread, walk it under the lock.
 *
 * Reuse and eviction. While fewer than max_keys keys have been seen, a new key takes a fresh entry. After
 * that it takes the tail of the list, the entry whose newest counted attempt is the oldest of all:
 *   - If that attempt is at least window_ms old, every timestamp of the entry is outside the window and the
 *     entry decides nothing any more: forgetting it is exact. Because the list is ordered by newest counted
 *     attempt, when the tail is not expired no entry is, so this finds an expired entry whenever one exists.
 *   - Otherwise the tail is evicted although its log is live (counted in `evictions`). Of all live logs it
 *     is the one that expires first, so the least lockout is lost. This can only happen when max_keys
 *     distinct keys, i.e. max_keys client addresses or IPv6 /64s, each had a counted attempt within one
 *     window. An attacker with that many addresses already gets max_keys * limit attempts per window without
 *     any eviction; rotating through more addresses than max_keys lets it reuse addresses sooner, which
 *     gains it little over simply having the addresses. The alternative, refusing unknown keys while the
 *     table is full of live entries, would let the same attacker lock every legitimate client out of signup
 *     and login; on these routes availability for real users matters more. max_keys is sized well above the
 *     peak number of distinct clients per window, and a rising eviction count says it is not.
 *
 * Time arithmetic never overflows: windows are at most IG_RATELIMIT_MAX_WINDOW_MS and differences of two
 * caller-supplied times are taken in unsigned arithmetic only when known to be non-negative.
 */
#include "auth/ratelimit.h"
#include "core/err.h"
#include "crypto/crypto.h"

#include <pthread.h>
#include <stdlib.h>

#define NIL UINT32_MAX

typedef struct {
    uint32_t hnext;      /* next entry in the same bucket, NIL at the end */
    uint32_t prev, next; /* recency list, by newest counted attempt */
    uint32_t count;      /* timestamps held, 1..limit once the entry is in use */
    uint32_t w;          /* ring slot written next; the oldest timestamp once count == limit */
    int64_t newest_ms;   /* newest counted attempt */
    uint8_t klen;
    char key[IG_RATELIMIT_KEY_MAX];
} entry_t;

struct ig_ratelimit {
    pthread_mutex_t lock;
    uint32_t limit;
    int64_t window_ms;
    uint32_t max_keys;
    uint32_t used; /* entries handed out; entries[used..] were never used */
    uint32_t head, tail;
    size_t mask; /* buckets - 1 */
    uint64_t evictions;
    uint8_t seed[16];
    uint32_t *buckets;
    entry_t *entries;
    int64_t *times; /* limit timestamps per entry */
};

static inline uint64_t rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

static inline uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static inline void sip_round(uint64_t v[4])
{
    v[0] += v[1];
    v[1] = rotl(v[1], 13) ^ v[0];
    v[0] = rotl(v[0], 32);
    v[2] += v[3];
    v[3] = rotl(v[3], 16) ^ v[2];
    v[0] += v[3];
    v[3] = rotl(v[3], 21) ^ v[0];
    v[2] += v[1];
    v[1] = rotl(v[1], 17) ^ v[2];
    v[2] = rotl(v[2], 32);
}

/* SipHash-2-4 (Aumasson and Bernstein, 2012) of n bytes at p under a 16-byte key. */
static uint64_t siphash24(const uint8_t key[16], const uint8_t *p, size_t n)
{
    uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
    uint64_t v[4] = {k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL, k0 ^ 0x6c7967656e657261ULL,
                     k1 ^ 0x7465646279746573ULL};
    uint64_t last = (uint64_t)n << 56;
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        uint64_t m = load_le64(p + i);
        v[3] ^= m;
        sip_round(v);
        sip_round(v);
        v[0] ^= m;
    }
    for (size_t j = 0; i + j < n; j++)
        last |= (uint64_t)p[i + j] << (8 * j);
    v[3] ^= last;
    sip_round(v);
    sip_round(v);
    v[0] ^= last;
    v[2] ^= 0xff;
    for (int r = 0; r < 4; r++)
        sip_round(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* true when an attempt at t is outside the window at now (now - t >= window). */
static bool expired(int64_t t, int64_t now, int64_t window)
{
    return now >= t && (uint64_t)now - (uint64_t)t >= (uint64_t)window;
}

/* Whole seconds, rounded up, until an attempt at t leaves the window; only called when it has not, so the
 * result is at least 1. t may lie after now when callers' clocks disagree a little. */
static int64_t retry_after(int64_t t, int64_t now, int64_t window)
{
    uint64_t ms;
    if (now >= t)
        ms = (uint64_t)window - ((uint64_t)now - (uint64_t)t); /* > 0: not expired */
    else
        ms = (uint64_t)window + IG_MIN((uint64_t)t - (uint64_t)now, (uint64_t)INT64_MAX);
    uint64_t s = ms / 1000 + (ms % 1000 != 0);
    return (int64_t)IG_MIN(IG_MAX(s, 1u), (uint64_t)INT64_MAX);
}

static void list_unlink(ig_ratelimit_t *rl, uint32_t i)
{
    entry_t *e = &rl->entries[i];
    if (e->prev != NIL)
        rl->entries[e->prev].next = e->next;
    else
        rl->head = e->next;
    if (e->next != NIL)
        rl->entries[e->next].prev = e->prev;
    else
        rl->tail = e->prev;
    e->prev = e->next = NIL;
}

static void list_push_front(ig_ratelimit_t *rl, uint32_t i)
{
    entry_t *e = &rl->entries[i];
    e->prev = NIL;
    e->next = rl->head;
    if (rl->head != NIL) rl->entries[rl->head].prev = i;
    rl->head = i;
    if (rl->tail == NIL) rl->tail = i;
}

static size_t bucket_of(const ig_ratelimit_t *rl, const char *key, size_t klen)
{
    return (size_t)siphash24(rl->seed, (const uint8_t *)key, klen) & rl->mask;
}

/* Removes entry i from its bucket chain (it is in the chain of bucket b). */
static void chain_remove(ig_ratelimit_t *rl, size_t b, uint32_t i)
{
    uint32_t *link = &rl->buckets[b];
    while (*link != i)
        link = &rl->entries[*link].hnext;
    *link = rl->entries[i].hnext;
    rl->entries[i].hnext = NIL;
}

/* An entry for a key not in the table: a never-used one while there are any, else the list tail (reused
 * when its log has expired, evicted otherwise; see the file comment). The entry is off both lists. */
static uint32_t take_entry(ig_ratelimit_t *rl, int64_t now)
{
    if (rl->used < rl->max_keys) return rl->used++;
    uint32_t i = rl->tail;
    entry_t *e = &rl->entries[i];
    if (!expired(e->newest_ms, now, rl->window_ms)) rl->evictions++;
    list_unlink(rl, i);
    chain_remove(rl, bucket_of(rl, e->key, e->klen), i);
    return i;
}

ig_ratelimit_t *ig_ratelimit_new(unsigned limit, int64_t window_ms, size_t max_keys)
{
    ig_ratelimit_t *rl = NULL;
    size_t nbuckets = 1;
    bool mutex_ready = false;

    if (limit == 0 || limit > IG_RATELIMIT_MAX_LIMIT || window_ms <= 0 ||
        window_ms > IG_RATELIMIT_MAX_WINDOW_MS || max_keys == 0 || max_keys > IG_RATELIMIT_MAX_KEYS)
        goto fail;
    /* (2^24 keys * 2^16 timestamps * 8 bytes = 2^43 bytes fits a 64-bit size_t; a 32-bit one may not.) */
    if (max_keys > SIZE_MAX / sizeof(int64_t) / limit) goto fail;
    while (nbuckets < max_keys)
        nbuckets <<= 1;
    rl = calloc(1, sizeof *rl);
    if (!rl) goto fail;
    rl->buckets = malloc(nbuckets * sizeof *rl->buckets);
    rl->entries = calloc(max_keys, sizeof *rl->entries);
    rl->times = malloc(max_keys * limit * sizeof *rl->times);
    if (!rl->buckets || !rl->entries || !rl->times) goto fail;
    if (ig_random(rl->seed, sizeof rl->seed) != IG_OK) goto fail;
    if (pthread_mutex_init(&rl->lock, NULL) != 0) goto fail;
    mutex_ready = true;
    memset(rl->buckets, 0xff, nbuckets * sizeof *rl->buckets); /* all NIL */
    rl->limit = limit;
    rl->window_ms = window_ms;
    rl->max_keys = (uint32_t)max_keys;
    rl->mask = nbuckets - 1;
    rl->head = rl->tail = NIL;
    return rl;
fail:
    if (rl) {
        if (mutex_ready) pthread_mutex_destroy(&rl->lock);
        free(rl->buckets);
        free(rl->entries);
        free(rl->times);
        free(rl);
    }
    return NULL;
}

void ig_ratelimit_free(ig_ratelimit_t *rl)
{
    if (!rl) return;
    pthread_mutex_destroy(&rl->lock);
    free(rl->buckets);
    free(rl->entries);
    free(rl->times);
    ig_wipe(rl->seed, sizeof rl->seed);
    free(rl);
}

int ig_ratelimit_hit(ig_ratelimit_t *rl, ig_iov_t key, int64_t now_ms, int64_t *retry_after_s)
{
    int rc = IG_OK;
    size_t klen = IG_MIN(key.len, (size_t)IG_RATELIMIT_KEY_MAX);
    const char *kp = klen ? key.base : "";
    size_t b = bucket_of(rl, kp, klen); /* the seed never changes: no lock needed */
    uint32_t i;
    entry_t *e;
    int64_t *ring;

    pthread_mutex_lock(&rl->lock);
    for (i = rl->buckets[b]; i != NIL; i = rl->entries[i].hnext)
        if (rl->entries[i].klen == klen && memcmp(rl->entries[i].key, kp, klen) == 0) break;
    if (i != NIL) {
        e = &rl->entries[i];
        ring = &rl->times[(size_t)i * rl->limit];
        if (e->count == rl->limit && !expired(ring[e->w], now_ms, rl->window_ms)) {
            /* Refused: not counted, and the entry keeps its place in the list (file comment). */
            rc = IG_ETOOMANY;
            if (retry_after_s) *retry_after_s = retry_after(ring[e->w], now_ms, rl->window_ms);
            goto out;
        }
        list_unlink(rl, i);
    } else {
        i = take_entry(rl, now_ms);
        e = &rl->entries[i];
        ring = &rl->times[(size_t)i * rl->limit];
        memcpy(e->key, kp, klen);
        e->klen = (uint8_t)klen;
        e->count = e->w = 0;
        e->newest_ms = now_ms;
        e->hnext = rl->buckets[b];
        rl->buckets[b] = i;
    }
    ring[e->w] = now_ms;
    e->w = e->w + 1 == rl->limit ? 0 : e->w + 1;
    if (e->count < rl->limit) e->count++;
    e->newest_ms = IG_MAX(e->newest_ms, now_ms);
    list_push_front(rl, i);
out:
    pthread_mutex_unlock(&rl->lock);
    return rc;
}

void ig_ratelimit_stats(ig_ratelimit_t *rl, size_t *keys, uint64_t *evictions)
{
    pthread_mutex_lock(&rl->lock);
    if (keys) *keys = rl->used;
    if (evictions) *evictions = rl->evictions;
    pthread_mutex_unlock(&rl->lock);
}

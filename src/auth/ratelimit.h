/*
 * ratelimit.h — brute-force limiter for unauthenticated routes (signup, login): at most `limit` attempts per
 * key in any sliding window of `window_ms`, where the key is a client address (ig_client_ip_limit_key).
 *
 * The window is an exact sliding log: each key keeps the times of its last `limit` counted attempts, and an
 * attempt at now is allowed when fewer than `limit` are held or when the oldest of them is at least
 * window_ms old (now - oldest >= window_ms). A refused attempt is not counted, so a client that keeps
 * hammering is let in again exactly when its oldest counted attempt leaves the window; it cannot push its
 * own lockout further out.
 *
 * Memory is bounded and allocated once by ig_ratelimit_new: max_keys entries of about 100 bytes plus
 * max_keys * limit timestamps (8 bytes each). ig_ratelimit_hit never allocates. When all entries are taken,
 * a new key takes over the entry whose newest counted attempt is the oldest: if that attempt has left the
 * window the entry holds no live state and reuse is exact; otherwise a live log is forgotten (an eviction,
 * counted in ig_ratelimit_stats) and the reason why that is acceptable is in ratelimit.c.
 *
 * Thread-safe (one mutex, O(1) work per call plus one bucket walk): meant for event-loop threads.
 */
#ifndef IG_AUTH_RATELIMIT_H
#define IG_AUTH_RATELIMIT_H

#include "core/common.h"

/* Bytes of a key that are compared. Keys from ig_client_ip_limit_key are at most 63 bytes. A longer key is
 * cut to this length, so keys that differ only beyond it share one log: stricter, never looser. */
#define IG_RATELIMIT_KEY_MAX 64

/* Bounds of ig_ratelimit_new's arguments, so sizes cannot overflow: 2^24 keys is 16 M distinct addresses
 * (far more than a signup endpoint sees in one window), 2^16 attempts per window is far above any login
 * policy, and a window of at most a year keeps time arithmetic far from overflow. */
#define IG_RATELIMIT_MAX_KEYS      (1u << 24)
#define IG_RATELIMIT_MAX_LIMIT     (1u << 16)
#define IG_RATELIMIT_MAX_WINDOW_MS (366LL * 24 * 3600 * 1000)

typedef struct ig_ratelimit ig_ratelimit_t;

/* A limiter of `limit` attempts per `window_ms` per key, tracking at most max_keys keys. NULL when an
 * argument is 0 or out of the bounds above, or when memory (or the random hash seed) is not available.
 * Free with ig_ratelimit_free. */
ig_ratelimit_t *ig_ratelimit_new(unsigned limit, int64_t window_ms, size_t max_keys);

/* Frees rl and everything it holds. rl may be NULL. No call on rl may be running. */
void ig_ratelimit_free(ig_ratelimit_t *rl);

/* Records an attempt of key at now_ms (a monotonic clock in ms; callers on different threads may pass
 * slightly out-of-order times, which only shifts a decision by that much). key is read for key.len bytes
 * (no NUL needed; compared up to IG_RATELIMIT_KEY_MAX bytes). IG_OK: allowed and counted. IG_ETOOMANY:
 * refused and NOT counted, and *retry_after_s (may be NULL) = whole seconds, rounded up and at least 1,
 * until an attempt of this key would be allowed: ceil((oldest counted + window_ms - now_ms) / 1000). */
int ig_ratelimit_hit(ig_ratelimit_t *rl, ig_iov_t key, int64_t now_ms, int64_t *retry_after_s);

/* Keys currently held (at most max_keys; entries are reused, never given back) and the number of times a
 * key whose window had not passed was forgotten to make room (should stay 0: a rising count means max_keys
 * is too small for the traffic, or a distributed attack). Either pointer may be NULL. */
void ig_ratelimit_stats(ig_ratelimit_t *rl, size_t *keys, uint64_t *evictions);

#endif

/*
 * pool.h — per-request memory arena, freed in one call, with cleanup hooks (nginx ngx_pool_cleanup_add).
 *
 * Allocations are 16-byte aligned and live until ig_pool_free(). Cleanup hooks run in reverse order of
 * registration before the memory is released: use them to close handles and wipe secrets.
 */
#ifndef IG_CORE_POOL_H
#define IG_CORE_POOL_H

#include "core/common.h"

typedef struct ig_pool ig_pool_t;
typedef void (*ig_pool_cleanup_fn)(void *data);

/* NULL on allocation failure. `chunk` is the size of each block (large allocations get their own). */
ig_pool_t *ig_pool_new(size_t chunk);
void ig_pool_free(ig_pool_t *p);
/* Frees everything but the first block, for reuse across keep-alive requests. Runs cleanups. */
void ig_pool_reset(ig_pool_t *p);
void *ig_pool_alloc(ig_pool_t *p, size_t n);
void *ig_pool_calloc(ig_pool_t *p, size_t n);
/* Copies `len` bytes and NUL-terminates. */
char *ig_pool_strndup(ig_pool_t *p, const char *s, size_t len);
static inline char *ig_pool_iovdup(ig_pool_t *p, ig_iov_t v)
{
    return ig_pool_strndup(p, v.base, v.len);
}
/* Registers fn(data) to run at reset/free. Returns IG_ENOMEM on failure (then fn is NOT registered). */
int ig_pool_cleanup_add(ig_pool_t *p, ig_pool_cleanup_fn fn, void *data);

#endif

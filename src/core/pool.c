/* pool.c — bump allocator over a list of blocks. The first block is kept across resets. */
#include "core/pool.h"
#include "core/err.h"

#include <stdlib.h>

typedef struct block {
    struct block *next;
    size_t size, used;
    _Alignas(16) unsigned char mem[];
} block_t;

typedef struct cleanup {
    struct cleanup *next;
    ig_pool_cleanup_fn fn;
    void *data;
} cleanup_t;

struct ig_pool {
    block_t *head; /* current block (first in list) */
    block_t *first;
    block_t *large; /* blocks holding one large allocation each */
    cleanup_t *cleanups;
    size_t chunk;
};

static block_t *block_new(size_t size)
{
    block_t *b = malloc(sizeof(block_t) + size);
    if (!b) return NULL;
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

ig_pool_t *ig_pool_new(size_t chunk)
{
    ig_pool_t *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->chunk = chunk < 256 ? 256 : chunk;
    p->first = p->head = block_new(p->chunk);
    if (!p->first) {
        free(p);
        return NULL;
    }
    return p;
}

static void run_cleanups(ig_pool_t *p)
{
    cleanup_t *c = p->cleanups;
    p->cleanups = NULL; /* hooks registered during cleanup are not run twice */
    while (c) {
        c->fn(c->data);
        c = c->next;
    }
}

void ig_pool_reset(ig_pool_t *p)
{
    if (!p) return;
    run_cleanups(p);
    block_t *b = p->head;
    while (b && b != p->first) {
        block_t *n = b->next;
        free(b);
        b = n;
    }
    while (p->large) {
        block_t *n = p->large->next;
        free(p->large);
        p->large = n;
    }
    p->head = p->first;
    p->first->next = NULL;
    p->first->used = 0;
}

void ig_pool_free(ig_pool_t *p)
{
    if (!p) return;
    ig_pool_reset(p);
    free(p->first);
    free(p);
}

void *ig_pool_alloc(ig_pool_t *p, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    block_t *b = p->head;
    if (b->size - b->used >= n) {
        void *r = b->mem + b->used;
        b->used += n;
        return r;
    }
    size_t size = n > p->chunk / 4 ? n : p->chunk;
    block_t *nb = block_new(size);
    if (!nb) return NULL;
    if (size == n) {
        /* a large allocation: keep the current block as the bump target */
        nb->used = n;
        nb->next = p->large;
        p->large = nb;
        return nb->mem;
    }
    nb->next = b;
    p->head = nb;
    nb->used = n;
    return nb->mem;
}

void *ig_pool_calloc(ig_pool_t *p, size_t n)
{
    void *r = ig_pool_alloc(p, n);
    if (r) memset(r, 0, n);
    return r;
}

char *ig_pool_strndup(ig_pool_t *p, const char *s, size_t len)
{
    char *r = ig_pool_alloc(p, len + 1);
    if (!r) return NULL;
    if (len) memcpy(r, s, len);
    r[len] = '\0';
    return r;
}

int ig_pool_cleanup_add(ig_pool_t *p, ig_pool_cleanup_fn fn, void *data)
{
    cleanup_t *c = ig_pool_alloc(p, sizeof *c);
    if (!c) return IG_ENOMEM;
    c->fn = fn;
    c->data = data;
    c->next = p->cleanups;
    p->cleanups = c;
    return IG_OK;
}

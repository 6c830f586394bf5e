/*
 * mask.h — masking a secret (the injected provider key) in a byte stream that arrives in chunks.
 *
 * Every occurrence becomes '*' repeated (same length, so Content-Length stays true). A chunk's tail that
 * could be the beginning of the secret is held back until the next chunk; a tail that cannot (an SSE event's
 * final
 * "\n\n", a JSON "}") is never held, so streams are not delayed.
 */
#ifndef IG_PROXY_MASK_H
#define IG_PROXY_MASK_H

#include "core/common.h"

#define IG_MASK_MAX_SECRET 512

typedef struct ig_masker {
    ig_iov_t secret; /* not owned; len 0 = pass-through; longer than IG_MASK_MAX_SECRET = pass-through */
    char carry[IG_MASK_MAX_SECRET];
    size_t carry_len;
} ig_masker_t;

/* Emits masked output through `out` (called zero or more times). Returns the first non-zero value `out`
 * returned, else 0. */
typedef int (*ig_mask_out_fn)(void *ud, const char *p, size_t len);
int ig_mask_feed(ig_masker_t *m, const char *p, size_t len, ig_mask_out_fn out, void *ud);
/* Emits what is held back (at the end of the stream). */
int ig_mask_flush(ig_masker_t *m, ig_mask_out_fn out, void *ud);
/* Masks in place, for complete values such as header values. */
void ig_mask_inplace(char *p, size_t len, ig_iov_t secret);
void ig_mask_clear(ig_masker_t *m);

#endif

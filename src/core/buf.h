/*
 * buf.h — growable byte buffer with a ceiling fixed at creation (like curl's dynbuf "toobig").
 *
 * A full buffer refuses more (IG_ETOOBIG) instead of growing: callers either pause their producer or
 * truncate (and flag) what they keep. Contents are not NUL-terminated unless ig_buf_cstr() is used.
 */
#ifndef IG_CORE_BUF_H
#define IG_CORE_BUF_H

#include "core/common.h"

typedef struct {
    char *data;
    size_t len;
    size_t cap;
    size_t max;  /* ceiling: len never exceeds this */
    bool secret; /* growth wipes the old block; ig_buf_free always wipes */
} ig_buf_t;

void ig_buf_init(ig_buf_t *b, size_t max);
/* For secrets: no copy of the contents is ever left behind in freed memory. */
void ig_buf_init_secret(ig_buf_t *b, size_t max);
/* Appends all of `len` bytes or nothing: IG_ETOOBIG past the ceiling, IG_ENOMEM on allocation failure. */
int ig_buf_append(ig_buf_t *b, const void *p, size_t len);
/* Appends a string literal (its length counted by the compiler, never by hand). */
#define ig_buf_lit(b, lit) ig_buf_append((b), "" lit, sizeof(lit) - 1)
/* Appends as much as fits under the ceiling; returns bytes appended. */
size_t ig_buf_append_trunc(ig_buf_t *b, const void *p, size_t len);
int ig_buf_appendf(ig_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* NUL-terminates (without counting the NUL in len) and returns data; NULL on allocation failure. */
const char *ig_buf_cstr(ig_buf_t *b);
void ig_buf_reset(ig_buf_t *b);
/* Frees the memory. If `wipe`, the bytes are cleansed first (secrets). */
void ig_buf_free(ig_buf_t *b, bool wipe);
static inline ig_iov_t ig_buf_iov(const ig_buf_t *b)
{
    return (ig_iov_t){b->data, b->len};
}

#endif

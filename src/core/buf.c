/* buf.c — bounded growable buffer. Growth doubles, capped at the ceiling (+1 for an optional NUL). */
#include "core/buf.h"
#include "core/err.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void ig_buf_init(ig_buf_t *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
    b->secret = false;
}

void ig_buf_init_secret(ig_buf_t *b, size_t max)
{
    ig_buf_init(b, max);
    b->secret = true;
}

static int reserve(ig_buf_t *b, size_t need)
{
    if (need <= b->cap) return IG_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (cap > b->max + 1) cap = b->max + 1;
    if (cap < need) return IG_ETOOBIG;
    char *p;
    if (b->secret) {
        p = malloc(cap);
        if (!p) return IG_ENOMEM;
        if (b->data) {
            memcpy(p, b->data, b->len);
            OPENSSL_cleanse(b->data, b->cap);
            free(b->data);
        }
    } else {
        p = realloc(b->data, cap);
        if (!p) return IG_ENOMEM;
    }
    b->data = p;
    b->cap = cap;
    return IG_OK;
}

int ig_buf_append(ig_buf_t *b, const void *p, size_t len)
{
    if (len == 0) return IG_OK;
    if (len > b->max - b->len) return IG_ETOOBIG;
    int rc = reserve(b, b->len + len);
    if (rc) return rc;
    memcpy(b->data + b->len, p, len);
    b->len += len;
    return IG_OK;
}

size_t ig_buf_append_trunc(ig_buf_t *b, const void *p, size_t len)
{
    size_t room = b->max - b->len;
    size_t n = len < room ? len : room;
    if (n == 0 || ig_buf_append(b, p, n) != IG_OK) return 0;
    return n;
}

int ig_buf_appendf(ig_buf_t *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return IG_EINVAL;
    if ((size_t)n < sizeof tmp) return ig_buf_append(b, tmp, (size_t)n);
    if ((size_t)n > b->max - b->len) return IG_ETOOBIG;
    int rc = reserve(b, b->len + (size_t)n + 1);
    if (rc) return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return IG_OK;
}

const char *ig_buf_cstr(ig_buf_t *b)
{
    if (reserve(b, b->len + 1) != IG_OK) return NULL;
    b->data[b->len] = '\0';
    return b->data;
}

void ig_buf_reset(ig_buf_t *b)
{
    b->len = 0;
}

void ig_buf_free(ig_buf_t *b, bool wipe)
{
    if (b->data && (wipe || b->secret)) OPENSSL_cleanse(b->data, b->cap);
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

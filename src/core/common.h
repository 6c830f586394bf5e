/*
 * common.h — the few types every module shares.
 *
 * Byte ranges are `ig_iov_t {base, len}` passed by value; request and upstream data is never assumed to be
 * NUL-terminated. Functions return 0 (IG_OK) or a negative ig_err_t (see err.h).
 */
#ifndef IG_CORE_COMMON_H
#define IG_CORE_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>

typedef struct {
    const char *base;
    size_t len;
} ig_iov_t;

#define IG_IOV_LIT(s) ((ig_iov_t){(s), sizeof(s) - 1})
#define IG_IOV_NULL   ((ig_iov_t){NULL, 0})

static inline ig_iov_t ig_iov(const char *base, size_t len)
{
    return (ig_iov_t){base, len};
}

static inline ig_iov_t ig_iov_str(const char *s)
{
    return (ig_iov_t){s, s ? strlen(s) : 0};
}

static inline bool ig_iov_eq(ig_iov_t a, ig_iov_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.base, b.base, a.len) == 0);
}

/* ASCII case-insensitive comparison, for header names. */
bool ig_iov_ieq(ig_iov_t a, ig_iov_t b);
/* true when `s` starts with `prefix` (case-sensitive). */
bool ig_iov_has_prefix(ig_iov_t s, ig_iov_t prefix);
/* true when `s` starts with `prefix`, ASCII case-insensitively. */
bool ig_iov_has_iprefix(ig_iov_t s, ig_iov_t prefix);
/* `s` without leading and trailing spaces and tabs. */
ig_iov_t ig_iov_trim(ig_iov_t s);

#define IG_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define IG_MIN(a, b)    ((a) < (b) ? (a) : (b))
#define IG_MAX(a, b)    ((a) > (b) ? (a) : (b))
#define IG_UNUSED(x)    ((void)(x))

#endif

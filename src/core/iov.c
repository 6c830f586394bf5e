/* iov.c — helpers on {base, len} byte ranges. */
#include "core/common.h"

static inline unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

bool ig_iov_ieq(ig_iov_t a, ig_iov_t b)
{
    if (a.len != b.len) return false;
    for (size_t i = 0; i < a.len; i++)
        if (lower((unsigned char)a.base[i]) != lower((unsigned char)b.base[i])) return false;
    return true;
}

bool ig_iov_has_prefix(ig_iov_t s, ig_iov_t prefix)
{
    return s.len >= prefix.len && memcmp(s.base, prefix.base, prefix.len) == 0;
}

bool ig_iov_has_iprefix(ig_iov_t s, ig_iov_t prefix)
{
    return s.len >= prefix.len && ig_iov_ieq(ig_iov(s.base, prefix.len), prefix);
}

ig_iov_t ig_iov_trim(ig_iov_t s)
{
    while (s.len && (s.base[0] == ' ' || s.base[0] == '\t')) {
        s.base++;
        s.len--;
    }
    while (s.len && (s.base[s.len - 1] == ' ' || s.base[s.len - 1] == '\t'))
        s.len--;
    return s;
}

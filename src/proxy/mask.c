/* mask.c — streaming secret masking with a minimal hold-back (see mask.h). */
#include "proxy/mask.h"
#include "crypto/crypto.h"

void ig_mask_inplace(char *p, size_t len, ig_iov_t key)
{
    if (key.len == 0 || len < key.len) return;
    char *q = p, *end = p + len;
    while ((q = memmem(q, (size_t)(end - q), key.base, key.len)) != NULL) {
        memset(q, '*', key.len);
        q += key.len;
    }
}

/* length of the longest proper prefix of key that ends p[0..len) */
static size_t holdback(const char *p, size_t len, ig_iov_t key)
{
    size_t max = IG_MIN(len, key.len - 1);
    for (size_t k = max; k > 0; k--)
        if (memcmp(p + len - k, key.base, k) == 0) return k;
    return 0;
}

int ig_mask_feed(ig_masker_t *m, const char *p, size_t len, ig_mask_out_fn out, void *ud)
{
    ig_iov_t key = m->secret;
    if (key.len == 0 || key.len > sizeof m->carry) return len ? out(ud, p, len) : 0;
    while (len > 0) {
        char tmp[16384 + IG_MASK_MAX_SECRET];
        size_t take = IG_MIN(len, (size_t)16384);
        memcpy(tmp, m->carry, m->carry_len);
        memcpy(tmp + m->carry_len, p, take);
        size_t n = m->carry_len + take;
        ig_mask_inplace(tmp, n, key);
        size_t hb = holdback(tmp, n, key);
        int rc = n - hb ? out(ud, tmp, n - hb) : 0;
        memcpy(m->carry, tmp + n - hb, hb);
        m->carry_len = hb;
        ig_wipe(tmp, n);
        if (rc) return rc;
        p += take;
        len -= take;
    }
    return 0;
}

int ig_mask_flush(ig_masker_t *m, ig_mask_out_fn out, void *ud)
{
    int rc = 0;
    if (m->carry_len) rc = out(ud, m->carry, m->carry_len);
    ig_wipe(m->carry, m->carry_len);
    m->carry_len = 0;
    return rc;
}

void ig_mask_clear(ig_masker_t *m)
{
    ig_wipe(m->carry, sizeof m->carry);
    m->carry_len = 0;
    m->secret = IG_IOV_NULL;
}

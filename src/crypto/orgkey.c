/*
 * orgkey.c — per-org data keys and log field encryption (see orgkey.h). Only composition of crypto.c's
 * primitives: the envelope, HMAC and HKDF come from OpenSSL through it.
 */
#include "crypto/orgkey.h"
#include "core/err.h"
#include "crypto/crypto.h"

#include <stdio.h>
#include <string.h>

int ig_orgkey_generate(uint8_t dk[IG_ORGKEY_LEN])
{
    return ig_random(dk, IG_ORGKEY_LEN);
}

static int wrap_aad(const char *org_id, char *aad, size_t cap)
{
    int n = snprintf(aad, cap, "ingate/org-data-key/v1:%s", org_id);
    return n > 0 && (size_t)n < cap ? n : -1;
}

int ig_orgkey_wrap(const uint8_t kek[32], uint32_t key_id, const char *org_id,
                   const uint8_t dk[IG_ORGKEY_LEN], ig_buf_t *out)
{
    char aad[96];
    int n = wrap_aad(org_id, aad, sizeof aad);
    if (n < 0) return IG_EINVAL;
    return ig_seal(kek, key_id, ig_iov(aad, (size_t)n), ig_iov((const char *)dk, IG_ORGKEY_LEN), out);
}

int ig_orgkey_unwrap(const uint8_t kek[32], const char *org_id, ig_iov_t wrapped, uint8_t dk[IG_ORGKEY_LEN])
{
    char aad[96];
    int n = wrap_aad(org_id, aad, sizeof aad);
    if (n < 0) return IG_EINVAL;
    ig_buf_t pt;
    ig_buf_init_secret(&pt, 64);
    int rc = ig_open(kek, ig_iov(aad, (size_t)n), wrapped, &pt);
    if (rc == IG_OK && pt.len != IG_ORGKEY_LEN) rc = IG_ECRYPTO;
    if (rc == IG_OK) memcpy(dk, pt.data, IG_ORGKEY_LEN);
    ig_buf_free(&pt, true);
    return rc;
}

/* "ingate/log/v1:<org>:<record>:<field>" into aad (not NUL-terminated): its length, or -1 when it needs
 * cap bytes or more. Built by hand: four of these per log record, and snprintf cost more than the rest. */
static int field_aad(const char *org_id, const char *rec_id, const char *field, char *aad, size_t cap)
{
    static const char prefix[] = "ingate/log/v1:";
    const char *parts[] = {org_id, rec_id, field};
    size_t n = sizeof prefix - 1;
    memcpy(aad, prefix, n);
    for (size_t i = 0; i < IG_ARRAY_LEN(parts); i++) {
        size_t k = strlen(parts[i]);
        if (k + 1 >= cap - n) return -1;
        if (i) aad[n++] = ':';
        memcpy(aad + n, parts[i], k);
        n += k;
    }
    return (int)n;
}

int ig_field_seal(const uint8_t dk[IG_ORGKEY_LEN], const char *org_id, const char *rec_id, const char *field,
                  ig_iov_t pt, ig_buf_t *out)
{
    char aad[192];
    int n = field_aad(org_id, rec_id, field, aad, sizeof aad);
    if (n < 0) return IG_EINVAL;
    return ig_seal(dk, 0, ig_iov(aad, (size_t)n), pt, out);
}

int ig_field_open(const uint8_t dk[IG_ORGKEY_LEN], const char *org_id, const char *rec_id, const char *field,
                  ig_iov_t ct, ig_buf_t *out)
{
    char aad[192];
    int n = field_aad(org_id, rec_id, field, aad, sizeof aad);
    if (n < 0) return IG_EINVAL;
    return ig_open(dk, ig_iov(aad, (size_t)n), ct, out);
}

int ig_field_tag_key(const uint8_t dk[IG_ORGKEY_LEN], uint8_t tk[32])
{
    static const char info[] = "ingate/blind-index/v1";
    return ig_hkdf_sha256(NULL, 0, dk, IG_ORGKEY_LEN, (const uint8_t *)info, sizeof info - 1, tk, 32);
}

int ig_field_tag(const uint8_t tk[32], const char *field, ig_iov_t value, uint8_t out[IG_FIELD_TAG_LEN])
{
    uint8_t mac[32];
    char small[512];                 /* attribution ids are at most 256 bytes: no allocation for them */
    size_t flen = strlen(field) + 1; /* the NUL separates name and value */
    ig_buf_t msg;
    ig_buf_init_secret(&msg, flen + value.len + 1);
    int rc = IG_OK;
    const char *m = small;
    if (flen <= sizeof small && value.len <= sizeof small - flen) {
        memcpy(small, field, flen);
        if (value.len) memcpy(small + flen, value.base, value.len);
    } else {
        rc = ig_buf_append(&msg, field, flen);
        if (rc == IG_OK) rc = ig_buf_append(&msg, value.base, value.len);
        m = msg.data;
    }
    if (rc == IG_OK) rc = ig_hmac_sha256(tk, 32, m, flen + value.len, mac);
    if (rc == IG_OK) memcpy(out, mac, IG_FIELD_TAG_LEN);
    ig_wipe(mac, sizeof mac);
    ig_wipe(small, IG_MIN(sizeof small, flen + value.len));
    ig_buf_free(&msg, true);
    return rc;
}

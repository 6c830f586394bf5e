/*
 * apikey.c — API key generation and offline checking (format in apikey.h).
 *
 * Base62 conversion is schoolbook division and multiplication on a 32-byte big-endian number, with a fixed
 * number of steps whatever the digits, and digits are mapped to and from characters with arithmetic
 * instead of table lookups or branches, so the work done on a secret key does not depend on its value.
 * Length and prefix are checked first and may return early: they are not secret. Temporary copies of key
 * material are wiped before return.
 */
#include "auth/apikey.h"
#include "core/err.h"
#include "crypto/crypto.h"

#define NUM_BYTES  32 /* the body encodes a 256-bit number */
#define SUMMED_LEN (IG_APIKEY_PREFIX_LEN + IG_APIKEY_BODY_LEN)

_Static_assert(IG_APIKEY_PREFIX_LEN + IG_APIKEY_BODY_LEN + IG_APIKEY_CHECKSUM_LEN == IG_APIKEY_LEN,
               "key layout");

/* Character for a digit r in 0..61: '0'+r, shifted past ':'..'@' when r >= 10 and past '['..'`' when
 * r >= 36. (x - r) >> 31 is 1 exactly when r > x, as r is small. */
static char b62_char(unsigned r)
{
    unsigned c = '0' + r;
    c += ('A' - '9' - 1) & (0u - ((9u - r) >> 31));
    c += ('a' - 'Z' - 1) & (0u - ((35u - r) >> 31));
    return (char)c;
}

/* Digit value of a base62 character; sets *bad to non-zero for any other byte. */
static unsigned b62_value(unsigned char ch, unsigned *bad)
{
    unsigned d = ch - (unsigned)'0', u = ch - (unsigned)'A', l = ch - (unsigned)'a';
    unsigned is_d = d < 10, is_u = u < 26, is_l = l < 26;
    *bad |= 1u ^ (is_d | is_u | is_l);
    return (d & (0u - is_d)) | ((u + 10) & (0u - is_u)) | ((l + 36) & (0u - is_l));
}

/* Writes the big-endian number num[0..nlen) (nlen <= NUM_BYTES) as exactly `digits` base62 characters,
 * most significant first, left-padded with '0'. The caller guarantees the number fits. */
static void b62_encode(const uint8_t *num, size_t nlen, char *out, size_t digits)
{
    uint8_t work[NUM_BYTES];
    memcpy(work, num, nlen);
    for (size_t k = digits; k-- > 0;) {
        unsigned rem = 0;
        for (size_t j = 0; j < nlen; j++) {
            unsigned cur = rem << 8 | work[j];
            work[j] = (uint8_t)(cur / 62);
            rem = cur % 62;
        }
        out[k] = b62_char(rem);
    }
    ig_wipe(work, sizeof work);
}

/* Validates `digits` base62 characters and checks that their value fits in NUM_BYTES bytes.
 * true when both hold. */
static bool b62_body_ok(const char *s, size_t digits)
{
    uint8_t work[NUM_BYTES] = {0};
    unsigned bad = 0, overflow = 0;
    for (size_t i = 0; i < digits; i++) {
        unsigned carry = b62_value((unsigned char)s[i], &bad);
        for (size_t j = NUM_BYTES; j-- > 0;) {
            unsigned t = work[j] * 62u + carry;
            work[j] = (uint8_t)t;
            carry = t >> 8;
        }
        overflow |= carry;
    }
    ig_wipe(work, sizeof work);
    return (bad | overflow) == 0;
}

/* The 6 checksum characters for the first SUMMED_LEN characters of a key. */
static void checksum(const char *key, char out[IG_APIKEY_CHECKSUM_LEN])
{
    uint8_t digest[IG_SHA256_LEN];
    ig_sha256(key, SUMMED_LEN, digest);
    b62_encode(digest, 4, out, IG_APIKEY_CHECKSUM_LEN); /* 62^6 > 2^32 */
    ig_wipe(digest, sizeof digest);
}

int ig_apikey_generate(char out[IG_APIKEY_LEN + 1])
{
    uint8_t rnd[NUM_BYTES];
    int rc = ig_random(rnd, sizeof rnd);
    if (rc) goto out;
    memcpy(out, IG_APIKEY_PREFIX, IG_APIKEY_PREFIX_LEN);
    b62_encode(rnd, sizeof rnd, out + IG_APIKEY_PREFIX_LEN, IG_APIKEY_BODY_LEN); /* 62^43 > 2^256 */
    checksum(out, out + SUMMED_LEN);
    out[IG_APIKEY_LEN] = '\0';
out:
    if (rc) ig_wipe(out, IG_APIKEY_LEN + 1);
    ig_wipe(rnd, sizeof rnd);
    return rc;
}

int ig_apikey_check(ig_iov_t key)
{
    int rc = IG_EBADKEY;
    char want[IG_APIKEY_CHECKSUM_LEN];
    unsigned bad = 0;
    bool body_ok, sum_ok;

    if (key.len != IG_APIKEY_LEN || !ig_iov_has_prefix(key, IG_IOV_LIT(IG_APIKEY_PREFIX))) goto out;
    for (size_t i = SUMMED_LEN; i < IG_APIKEY_LEN; i++)
        (void)b62_value((unsigned char)key.base[i], &bad);
    /* Evaluate both checks before deciding, so timing does not tell which part was wrong. */
    body_ok = b62_body_ok(key.base + IG_APIKEY_PREFIX_LEN, IG_APIKEY_BODY_LEN);
    checksum(key.base, want);
    sum_ok = ig_ct_equal(want, key.base + SUMMED_LEN, sizeof want);
    if (bad == 0 && body_ok && sum_ok) rc = IG_OK;
out:
    ig_wipe(want, sizeof want);
    return rc;
}

void ig_apikey_hash(ig_iov_t key, uint8_t out[32])
{
    ig_sha256(key.base, key.len, out);
}

void ig_apikey_hash_prefix(const uint8_t hash[32], char out[13])
{
    ig_hex_encode(hash, IG_APIKEY_HASH_PREFIX_LEN / 2, out);
}

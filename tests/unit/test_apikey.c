/*
 * Unit tests of src/auth/apikey: generated keys have the documented shape and pass the check; keys built
 * here from the format description (an independent checksum) pass, including fixed known answers; any
 * single change, a wrong prefix, a wrong length, a non-base62 byte or a body of 2^256 or more fails.
 * Keys are checked from exactly-sized heap copies so ASan catches any read past key.len.
 */
#include "unit.h"
#include "auth/apikey.h"
#include "core/err.h"
#include "crypto/crypto.h"

static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* Known answers computed from the format description (docs/api-keys.md) by a separate implementation:
 * body 0, body 2^256 - 1, and their SHA-256 hash prefixes. */
#define KEY_ZERO "sk-ingate-00000000000000000000000000000000000000000000fy7Tz"
#define KEY_MAX  "sk-ingate-yhjskwdA6OZ1AL1YmHWZWm8LLG7HjnuCA2j5rOw8Xp12LuuRv"
/* Body 2^256 (one past the largest) with a checksum that matches it. */
#define KEY_OVER "sk-ingate-yhjskwdA6OZ1AL1YmHWZWm8LLG7HjnuCA2j5rOw8Xp24gA94o"

/* Runs ig_apikey_check on an exactly-sized heap copy of n bytes (no NUL after it). */
static int check_exact(const char *p, size_t n)
{
    char *copy = malloc(n ? n : 1);
    int rc;
    if (!copy) return IG_ENOMEM;
    memcpy(copy, p, n);
    rc = ig_apikey_check(ig_iov(copy, n));
    free(copy);
    return rc;
}

/* The checksum of the documented format, computed here without the code under test: first 4 bytes of
 * SHA-256 over prefix + body, big-endian, in base62 left-padded to 6 digits. */
static void test_checksum(const char *first53, char out[6])
{
    uint8_t md[32];
    ig_sha256(first53, 53, md);
    uint64_t v = (uint64_t)md[0] << 24 | (uint64_t)md[1] << 16 | (uint64_t)md[2] << 8 | md[3];
    for (int i = 5; i >= 0; i--) {
        out[i] = b62[v % 62];
        v /= 62;
    }
}

/* Builds prefix + body + a correct checksum. body must be 43 bytes (any bytes). */
static void make_key(const char *body, char out[IG_APIKEY_LEN + 1])
{
    memcpy(out, IG_APIKEY_PREFIX, 10);
    memcpy(out + 10, body, 43);
    test_checksum(out, out + 53);
    out[59] = '\0';
}

static bool all_base62(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!p[i] || !strchr(b62, p[i])) return false;
    return true;
}

TEST(known_answers)
{
    char k[IG_APIKEY_LEN + 1];
    uint8_t hash[32];
    char prefix[13];

    CHECK_EQ_INT(strlen(KEY_ZERO), IG_APIKEY_LEN);
    CHECK_EQ_INT(check_exact(KEY_ZERO, IG_APIKEY_LEN), IG_OK);
    CHECK_EQ_INT(check_exact(KEY_MAX, IG_APIKEY_LEN), IG_OK);
    CHECK_EQ_INT(check_exact(KEY_OVER, IG_APIKEY_LEN), IG_EBADKEY);

    /* The test's own checksum agrees with the known answers. */
    make_key("0000000000000000000000000000000000000000000", k);
    CHECK_EQ_STR(k, KEY_ZERO);
    make_key(&KEY_MAX[10], k);
    CHECK_EQ_STR(k, KEY_MAX);

    ig_apikey_hash(IG_IOV_LIT(KEY_ZERO), hash);
    char hex[65];
    ig_hex_encode(hash, 32, hex);
    CHECK_EQ_STR(hex, "e4b56036648a824175f4ad91410e444a31e531b250b0b8879cc9fd98d667b4c3");
    ig_apikey_hash_prefix(hash, prefix);
    CHECK_EQ_STR(prefix, "e4b56036648a");
    ig_apikey_hash(IG_IOV_LIT(KEY_MAX), hash);
    ig_apikey_hash_prefix(hash, prefix);
    CHECK_EQ_STR(prefix, "437968390cc5");
}

TEST(generated_keys_are_valid)
{
    char k[IG_APIKEY_LEN + 1];
    for (int i = 0; i < 100; i++) {
        memset(k, 'x', sizeof k);
        CHECK_EQ_INT(ig_apikey_generate(k), IG_OK);
        CHECK_EQ_INT(strlen(k), IG_APIKEY_LEN);
        CHECK(memcmp(k, IG_APIKEY_PREFIX, 10) == 0);
        CHECK(all_base62(k + 10, 49));
        CHECK_EQ_INT(check_exact(k, IG_APIKEY_LEN), IG_OK);
        /* The generator's checksum is the documented one. */
        char sum[6];
        test_checksum(k, sum);
        CHECK_MEM(sum, k + 53, 6);
    }
}

static int cmp_keys(const void *a, const void *b)
{
    return memcmp(a, b, IG_APIKEY_LEN + 1);
}

TEST(generated_keys_are_distinct)
{
    enum { N = 1000 };
    char(*keys)[IG_APIKEY_LEN + 1] = malloc(N * sizeof *keys);
    CHECK(keys != NULL);
    if (!keys) return;
    for (int i = 0; i < N; i++)
        CHECK_EQ_INT(ig_apikey_generate(keys[i]), IG_OK);
    qsort(keys, N, sizeof *keys, cmp_keys);
    int dups = 0;
    for (int i = 1; i < N; i++)
        dups += memcmp(keys[i - 1], keys[i], IG_APIKEY_LEN) == 0;
    CHECK_EQ_INT(dups, 0);
    /* 256 random bits: the first body digits vary too (not a counter or a short random part). */
    int same_start = 0;
    for (int i = 1; i < N; i++)
        same_start += memcmp(keys[0] + 10, keys[i] + 10, 4) == 0;
    CHECK(same_start < 5);
    ig_wipe(keys, N * sizeof *keys);
    free(keys);
}

TEST(any_single_change_fails)
{
    /* Every position, every other base62 character, on a fixed key: deterministic. */
    char k[IG_APIKEY_LEN + 1];
    int accepted = 0;
    memcpy(k, KEY_MAX, sizeof k);
    for (size_t i = 0; i < IG_APIKEY_LEN; i++) {
        char orig = k[i];
        for (size_t j = 0; j < sizeof b62 - 1; j++) {
            if (b62[j] == orig) continue;
            k[i] = b62[j];
            accepted += ig_apikey_check(ig_iov(k, IG_APIKEY_LEN)) != IG_EBADKEY;
        }
        k[i] = orig;
    }
    CHECK_EQ_INT(accepted, 0);
    CHECK_EQ_INT(ig_apikey_check(ig_iov(k, IG_APIKEY_LEN)), IG_OK);

    /* And one change per position on a fresh key. */
    CHECK_EQ_INT(ig_apikey_generate(k), IG_OK);
    for (size_t i = 0; i < IG_APIKEY_LEN; i++) {
        char orig = k[i];
        k[i] = orig == 'a' ? 'b' : 'a';
        CHECK_EQ_INT(check_exact(k, IG_APIKEY_LEN), IG_EBADKEY);
        k[i] = orig;
    }
    /* Swapping two adjacent different digits (a common typo) fails too. */
    for (size_t i = 10; i + 1 < IG_APIKEY_LEN; i++) {
        if (k[i] == k[i + 1]) continue;
        char t = k[i];
        k[i] = k[i + 1];
        k[i + 1] = t;
        CHECK_EQ_INT(check_exact(k, IG_APIKEY_LEN), IG_EBADKEY);
        k[i + 1] = k[i];
        k[i] = t;
    }
    CHECK_EQ_INT(check_exact(k, IG_APIKEY_LEN), IG_OK);
}

TEST(wrong_prefix_fails)
{
    const char *prefixes[] = {"sk-ingatf-", "SK-ingate-", "sk-Ingate-",
                              "pk-ingate-", "sk_ingate-", "sk-ingate_"};
    char k[IG_APIKEY_LEN + 1];
    for (size_t i = 0; i < IG_ARRAY_LEN(prefixes); i++) {
        memcpy(k, KEY_ZERO, sizeof k);
        memcpy(k, prefixes[i], 10);
        /* Even with a checksum recomputed over the wrong prefix. */
        test_checksum(k, k + 53);
        CHECK_EQ_INT(check_exact(k, IG_APIKEY_LEN), IG_EBADKEY);
    }
}

TEST(wrong_length_fails)
{
    char k[IG_APIKEY_LEN + 2];
    CHECK_EQ_INT(ig_apikey_generate(k), IG_OK);
    for (size_t n = 0; n < IG_APIKEY_LEN; n++)
        CHECK_EQ_INT(check_exact(k, n), IG_EBADKEY);
    CHECK_EQ_INT(ig_apikey_check(IG_IOV_NULL), IG_EBADKEY);
    k[IG_APIKEY_LEN] = '0';
    CHECK_EQ_INT(check_exact(k, IG_APIKEY_LEN + 1), IG_EBADKEY);
    CHECK_EQ_INT(check_exact(k, IG_APIKEY_LEN), IG_OK);
    /* A valid key followed by more text is not a key (the header value must be exactly the key). */
    char longer[128];
    memcpy(longer, k, IG_APIKEY_LEN);
    memcpy(longer + IG_APIKEY_LEN, k, IG_APIKEY_LEN);
    CHECK_EQ_INT(check_exact(longer, 2 * IG_APIKEY_LEN), IG_EBADKEY);
    /* The last 58 characters (first one lost in copy-paste). */
    CHECK_EQ_INT(check_exact(k + 1, IG_APIKEY_LEN - 1), IG_EBADKEY);
}

TEST(non_base62_fails)
{
    /* Bad bytes in the body with a checksum that matches them, so only the charset rule can reject. */
    const char bad[] = {'-', '_', '+', '/',  '=',  ' ',    '.',    ':',   '@',
                        '[', '`', '{', '\0', '\n', '\x7f', '\x80', '\xff'};
    char k[IG_APIKEY_LEN + 1];
    for (size_t i = 0; i < sizeof bad; i++) {
        for (size_t pos = 10; pos < 53; pos += 21) {
            memcpy(k, KEY_ZERO, sizeof k);
            k[pos] = bad[i];
            test_checksum(k, k + 53);
            CHECK_EQ_INT(check_exact(k, IG_APIKEY_LEN), IG_EBADKEY);
        }
        /* In the checksum itself. */
        memcpy(k, KEY_ZERO, sizeof k);
        k[58] = bad[i];
        CHECK_EQ_INT(check_exact(k, IG_APIKEY_LEN), IG_EBADKEY);
    }
}

TEST(body_range)
{
    /* Bodies whose value is 2^256 or more are malformed even with a matching checksum. */
    char k[IG_APIKEY_LEN + 1];
    make_key("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", k);
    CHECK_EQ_INT(check_exact(k, IG_APIKEY_LEN), IG_EBADKEY);
    make_key("z000000000000000000000000000000000000000000", k);
    CHECK_EQ_INT(check_exact(k, IG_APIKEY_LEN), IG_EBADKEY);
    make_key(&KEY_OVER[10], k);
    CHECK_EQ_STR(k, KEY_OVER);
    CHECK_EQ_INT(check_exact(k, IG_APIKEY_LEN), IG_EBADKEY);
    /* Just below, with a matching checksum: valid. */
    make_key("yhjskwdA6OZ1AL1YmHWZWm8LLG7HjnuCA2j5rOw8Xp0", k);
    CHECK_EQ_INT(check_exact(k, IG_APIKEY_LEN), IG_OK);
}

TEST(hash_prefix)
{
    char k[IG_APIKEY_LEN + 1], prefix[13], full[65];
    uint8_t hash[32], again[32];
    CHECK_EQ_INT(ig_apikey_generate(k), IG_OK);
    ig_apikey_hash(ig_iov(k, IG_APIKEY_LEN), hash);
    ig_sha256(k, IG_APIKEY_LEN, again);
    CHECK_MEM(hash, again, 32);
    memset(prefix, 'x', sizeof prefix);
    ig_apikey_hash_prefix(hash, prefix);
    CHECK_EQ_INT(strlen(prefix), 12);
    for (int i = 0; i < 12; i++)
        CHECK(strchr("0123456789abcdef", prefix[i]) != NULL);
    ig_hex_encode(hash, 32, full);
    CHECK(memcmp(prefix, full, 12) == 0);
}

int main(void)
{
    RUN(known_answers);
    RUN(generated_keys_are_valid);
    RUN(generated_keys_are_distinct);
    RUN(any_single_change_fails);
    RUN(wrong_prefix_fails);
    RUN(wrong_length_fails);
    RUN(non_base62_fails);
    RUN(body_range);
    RUN(hash_prefix);
    UNIT_DONE();
}

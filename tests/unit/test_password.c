/*
 * Unit tests of src/auth/password: the policy (length bounds 12..72 bytes, NUL, strict UTF-8, reasons that
 * never echo the password), hashing (format, fresh salts, cost bounds), verification (round trip, wrong and
 * over-long passwords, malformed stored hashes) against published and independently generated vectors,
 * and the dummy hash used for unknown accounts. Hashing runs at cost 10, the lowest ig_password_hash
 * allows, to keep the suite fast; known vectors at cost 04/05 go through ig_password_verify.
 * Passwords are passed from exactly-sized heap copies so ASan catches any read past pw.len.
 */
#include "unit.h"
#include "auth/password.h"
#include "net/loop.h"
#include "core/err.h"
#include "crypto/crypto.h"

#include <crypt.h>
#include <pthread.h>

#define COST 10 /* IG_PASSWORD_MIN_COST: the fastest hash the module will make */

/* "correct horse battery staple" hashed by an independent implementation: python3-bcrypt 3.2.2 (Debian
 * bookworm; OpenBSD's C bcrypt, not libxcrypt), bcrypt.hashpw(pw, bcrypt.gensalt(rounds=10, prefix=b"2b")).
 */
#define HORSE_PW   "correct horse battery staple"
#define HORSE_HASH "$2b$10$Kk3fAQcrZrz8wqxRR8IZZeZwt7X6wOpNWRDx2fWIV8/oW4cAzpgCa"

/* Published vectors: libxcrypt test/crypt-kat.inc lists ("$2b$05$CCCCCCCCCCCCCCCCCCCCC.", "U*U") ->
 * UU_2B; OpenBSD / jBCrypt / crypt_blowfish publish the same hash under "$2a$" (UU_2A). The 72-byte key
 * (LONG72) vector is the "0123...chars after 72 are ignored" vector of the same suites, whose hash is that
 * of the first 72 bytes; python3-bcrypt 3.2.2 reproduces all three. */
#define UU_2B       "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
#define UU_2Y       "$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
#define UU_2A       "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
#define UUU_2B      "$2b$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK" /* "U*U*" */
#define LONG72      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
#define LONG72_HASH "$2b$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui"

static const char bcrypt_b64[] = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/* Exactly-sized heap copy of n bytes (no NUL after it); caller frees. */
static char *dup_exact(const char *p, size_t n)
{
    char *c = malloc(n ? n : 1);
    if (c && n) memcpy(c, p, n);
    return c;
}

static int policy_exact(const char *p, size_t n, const char **why)
{
    char *c = dup_exact(p, n);
    int rc = c ? ig_password_policy(ig_iov(c, n), why) : IG_ENOMEM;
    free(c);
    return rc;
}

static int verify_exact(const char *p, size_t n, const char *hash)
{
    char *c = dup_exact(p, n);
    int rc = c ? ig_password_verify(ig_iov(c, n), hash) : IG_ENOMEM;
    free(c);
    return rc;
}

static int hash_exact(const char *p, size_t n, int cost, char out[IG_PASSWORD_HASH_MAX])
{
    char *c = dup_exact(p, n);
    int rc = c ? ig_password_hash(ig_iov(c, n), cost, out) : IG_ENOMEM;
    free(c);
    return rc;
}

static bool is_bcrypt_shape(const char *h, const char *prefix7)
{
    if (strlen(h) != IG_PASSWORD_HASH_LEN || strncmp(h, prefix7, 7) != 0) return false;
    return strspn(h + 7, bcrypt_b64) == IG_PASSWORD_HASH_LEN - 7;
}

TEST(policy_length_bounds)
{
    char buf[IG_PASSWORD_MAX_LEN + 2];
    const char *why = "unset";
    memset(buf, 'a', sizeof buf);

    CHECK_EQ_INT(policy_exact(buf, 12, &why), IG_OK);
    CHECK(why == NULL);
    CHECK_EQ_INT(policy_exact(buf, 11, &why), IG_EINVAL);
    CHECK(why && strstr(why, "at least 12 bytes"));
    CHECK_EQ_INT(policy_exact(buf, 0, &why), IG_EINVAL);
    CHECK(why && strstr(why, "at least 12"));
    CHECK_EQ_INT(ig_password_policy(IG_IOV_NULL, &why), IG_EINVAL);
    CHECK_EQ_INT(ig_password_policy(ig_iov(NULL, 20), &why), IG_EINVAL);

    CHECK_EQ_INT(policy_exact(buf, 72, &why), IG_OK);
    CHECK_EQ_INT(policy_exact(buf, 73, &why), IG_EINVAL);
    CHECK(why && strstr(why, "at most 72 bytes") && strstr(why, "not truncated"));
}

TEST(policy_huge_length_without_reading)
{
    /* A too-long password is refused on its length alone: nothing past the bound is read. */
    char *big = malloc(100000);
    const char *why = NULL;
    if (!big) {
        CHECK(0);
        return;
    }
    memset(big, 'x', 100000);
    CHECK_EQ_INT(ig_password_policy(ig_iov(big, 100000), &why), IG_EINVAL);
    CHECK(why && strstr(why, "at most 72"));
    free(big);
}

TEST(policy_nul_and_utf8)
{
    const char *why = NULL;
    static const struct {
        const char *s;
        size_t n;
        int want;
        const char *why_part;
    } cases[] = {
        {"abcdefgh\0ijklmn", 15, IG_EINVAL, "NUL"},
        {"\0abcdefghijklmn", 15, IG_EINVAL, "NUL"},
        {"abcdefghijklmn\0", 15, IG_EINVAL, "NUL"},
        {"abcdefghijk\x80", 12, IG_EINVAL, "UTF-8"},          /* lone continuation byte */
        {"abcdefghij\xc0\xaf", 12, IG_EINVAL, "UTF-8"},       /* overlong '/' */
        {"abcdefghij\xc1\xbf", 12, IG_EINVAL, "UTF-8"},       /* overlong */
        {"abcdefghi\xe0\x80\xaf", 12, IG_EINVAL, "UTF-8"},    /* overlong 3-byte */
        {"abcdefghi\xed\xa0\x80", 12, IG_EINVAL, "UTF-8"},    /* surrogate U+D800 */
        {"abcdefgh\xf0\x80\x80\xaf", 12, IG_EINVAL, "UTF-8"}, /* overlong 4-byte */
        {"abcdefgh\xf4\x90\x80\x80", 12, IG_EINVAL, "UTF-8"}, /* U+110000 */
        {"abcdefgh\xf5\x80\x80\x80", 12, IG_EINVAL, "UTF-8"}, /* F5 never appears */
        {"abcdefghijk\xff", 12, IG_EINVAL, "UTF-8"},          /* FF never appears */
        {"abcdefghijk\xe2\x82", 13, IG_EINVAL, "UTF-8"},      /* truncated at the end */
        {"abcdefghij\xe2\x82xx", 14, IG_EINVAL, "UTF-8"},     /* bad continuation */
        {"abcdefghijk\xc3\xa9", 13, IG_OK, NULL},             /* é */
        {"abcdefghi\xe2\x82\xac", 12, IG_OK, NULL},           /* € */
        {"abcdefgh\xf0\x9d\x84\x9e", 12, IG_OK, NULL},        /* U+1D11E */
        {"abcdefgh\xf4\x8f\xbf\xbf", 12, IG_OK, NULL},        /* U+10FFFF, the last code point */
        {"abcdefghi\xed\x9f\xbf", 12, IG_OK, NULL},           /* U+D7FF, just below surrogates */
        {"\xe4\xbd\xa0\xe5\xa5\xbd\xe4\xb8\x96\xe7\x95\x8c", 12, IG_OK, NULL}, /* 4 CJK chars = 12 bytes */
    };
    for (size_t i = 0; i < IG_ARRAY_LEN(cases); i++) {
        int rc = policy_exact(cases[i].s, cases[i].n, &why);
        if (rc != cases[i].want) fprintf(stderr, "  policy case %zu\n", i);
        CHECK_EQ_INT(rc, cases[i].want);
        if (cases[i].why_part) {
            CHECK(why && strstr(why, cases[i].why_part));
        } else {
            CHECK(why == NULL);
        }
    }
}

TEST(policy_reason_never_echoes_password)
{
    static const char *const pws[] = {"short-secret", "Xy7-secret!", "this-is-a-secret\x80-value"};
    char longpw[100];
    const char *why = NULL;
    memset(longpw, 'Q', sizeof longpw);
    CHECK_EQ_INT(policy_exact(longpw, sizeof longpw, &why), IG_EINVAL);
    CHECK(why && !strstr(why, "QQ"));
    for (size_t i = 0; i < IG_ARRAY_LEN(pws); i++) {
        int rc = policy_exact(pws[i], strlen(pws[i]), &why);
        if (rc == IG_OK) continue;
        CHECK(why && !strstr(why, "secret"));
    }
}

TEST(hash_round_trip)
{
    char h[IG_PASSWORD_HASH_MAX];
    CHECK_EQ_INT(hash_exact(HORSE_PW, strlen(HORSE_PW), COST, h), IG_OK);
    CHECK(is_bcrypt_shape(h, "$2b$10$"));
    CHECK_EQ_INT(verify_exact(HORSE_PW, strlen(HORSE_PW), h), IG_OK);
    /* wrong passwords: one byte changed, one byte missing, one byte more, case, empty */
    CHECK_EQ_INT(verify_exact("correct horse battery stapl", 27, h), IG_EBADKEY);
    CHECK_EQ_INT(verify_exact("correct horse battery staplf", 28, h), IG_EBADKEY);
    CHECK_EQ_INT(verify_exact("correct horse battery staple!", 29, h), IG_EBADKEY);
    CHECK_EQ_INT(verify_exact("Correct horse battery staple", 28, h), IG_EBADKEY);
    CHECK_EQ_INT(ig_password_verify(IG_IOV_NULL, h), IG_EBADKEY);
    /* a NUL after the real password must not be ignored (crypt_rn would stop at it) */
    CHECK_EQ_INT(verify_exact(HORSE_PW "\0tail", strlen(HORSE_PW) + 5, h), IG_EBADKEY);
    CHECK_EQ_INT(verify_exact(HORSE_PW "\0", strlen(HORSE_PW) + 1, h), IG_EBADKEY);
}

TEST(hash_multibyte_and_72_bytes)
{
    char h[IG_PASSWORD_HASH_MAX], pw[IG_PASSWORD_MAX_LEN + 1];
    const char *utf = "p\xc3\xa4ssw\xc3\xb6rd-\xe2\x82\xac\xf0\x9d\x84\x9e"; /* mixed 1-4 byte chars */
    CHECK_EQ_INT(hash_exact(utf, strlen(utf), COST, h), IG_OK);
    CHECK_EQ_INT(verify_exact(utf, strlen(utf), h), IG_OK);

    /* 72 bytes is accepted and every byte counts, the last one included */
    memset(pw, 'k', sizeof pw);
    CHECK_EQ_INT(hash_exact(pw, 72, COST, h), IG_OK);
    CHECK_EQ_INT(verify_exact(pw, 72, h), IG_OK);
    pw[71] = 'j';
    CHECK_EQ_INT(verify_exact(pw, 72, h), IG_EBADKEY);
    pw[71] = 'k';
    /* 73 bytes: refused by hash, and never matches the hash of its first 72 bytes */
    CHECK_EQ_INT(hash_exact(pw, 73, COST, h), IG_EINVAL);
    CHECK_EQ_INT(h[0], '\0');
}

TEST(hash_salts_differ)
{
    char a[IG_PASSWORD_HASH_MAX], b[IG_PASSWORD_HASH_MAX];
    CHECK_EQ_INT(hash_exact(HORSE_PW, strlen(HORSE_PW), COST, a), IG_OK);
    CHECK_EQ_INT(hash_exact(HORSE_PW, strlen(HORSE_PW), COST, b), IG_OK);
    CHECK(strcmp(a, b) != 0);
    CHECK(memcmp(a + 7, b + 7, 22) != 0); /* the salts themselves differ */
    CHECK_EQ_INT(verify_exact(HORSE_PW, strlen(HORSE_PW), a), IG_OK);
    CHECK_EQ_INT(verify_exact(HORSE_PW, strlen(HORSE_PW), b), IG_OK);
}

TEST(hash_rejects_bad_arguments)
{
    char h[IG_PASSWORD_HASH_MAX];
    char pw[80];
    memset(pw, 'z', sizeof pw);
    memset(h, 'x', sizeof h);
    CHECK_EQ_INT(hash_exact(pw, 20, IG_PASSWORD_MIN_COST - 1, h), IG_EINVAL);
    CHECK_EQ_INT(h[0], '\0');
    CHECK_EQ_INT(hash_exact(pw, 20, IG_PASSWORD_MAX_COST + 1, h), IG_EINVAL);
    CHECK_EQ_INT(hash_exact(pw, 20, 0, h), IG_EINVAL);
    CHECK_EQ_INT(hash_exact(pw, 20, -12, h), IG_EINVAL);
    CHECK_EQ_INT(hash_exact(pw, 11, COST, h), IG_EINVAL);
    CHECK_EQ_INT(hash_exact(pw, 73, COST, h), IG_EINVAL);
    CHECK_EQ_INT(hash_exact("abcdefghijkl\0mn", 15, COST, h), IG_EINVAL);
    CHECK_EQ_INT(hash_exact("abcdefghijk\xff", 12, COST, h), IG_EINVAL);
    CHECK_EQ_INT(ig_password_hash(ig_iov(NULL, 20), COST, h), IG_EINVAL);
}

TEST(verify_independent_vector)
{
    /* made by python3-bcrypt (see HORSE_HASH) */
    CHECK_EQ_INT(verify_exact(HORSE_PW, strlen(HORSE_PW), HORSE_HASH), IG_OK);
    CHECK_EQ_INT(verify_exact("correct horse battery stapel", 28, HORSE_HASH), IG_EBADKEY);
}

TEST(verify_published_vectors)
{
    char big[98];
    CHECK_EQ_INT(verify_exact("U*U", 3, UU_2B), IG_OK);
    CHECK_EQ_INT(verify_exact("U*U", 3, UU_2Y), IG_OK); /* $2y$ is the same algorithm as $2b$ */
    CHECK_EQ_INT(verify_exact("U*U*", 4, UU_2B), IG_EBADKEY);
    CHECK_EQ_INT(verify_exact("U*U*", 4, UUU_2B), IG_OK);
    CHECK_EQ_INT(verify_exact("U*U", 3, UUU_2B), IG_EBADKEY);
    CHECK_EQ_INT(verify_exact(LONG72, 72, LONG72_HASH), IG_OK);
    /* bcrypt itself accepts the 98-byte key of the published vector (it ignores bytes 73+); we refuse it */
    memcpy(big, LONG72 "chars after 72 are ignored", sizeof big);
    CHECK_EQ_INT(verify_exact(big, sizeof big, LONG72_HASH), IG_EBADKEY);
    CHECK_EQ_INT(verify_exact(big, 73, LONG72_HASH), IG_EBADKEY);
    CHECK_EQ_INT(verify_exact(LONG72, 71, LONG72_HASH), IG_EBADKEY);
}

TEST(libxcrypt_cross_check)
{
    /* The library under the module reproduces the published $2a$ vector and the 98-byte truncation, which is
     * why ig_password_verify has to bound the length itself. */
    struct crypt_data *cd = calloc(1, sizeof *cd);
    const char *h;
    if (!cd) {
        CHECK(0);
        return;
    }
    h = crypt_rn("U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.", cd, (int)sizeof *cd);
    CHECK_EQ_STR(h, UU_2A);
    h = crypt_rn("U*U", "$2b$05$CCCCCCCCCCCCCCCCCCCCC.", cd, (int)sizeof *cd);
    CHECK_EQ_STR(h, UU_2B);
    h = crypt_rn(LONG72 "chars after 72 are ignored", LONG72_HASH, cd, (int)sizeof *cd);
    CHECK_EQ_STR(h, LONG72_HASH);
    free(cd);
}

TEST(verify_rejects_malformed_hashes)
{
    static const char *const bad[] = {
        "",
        "*0",
        "*1",
        "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe",   /* 59 */
        "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeWx", /* 61 */
        UU_2A,                                                           /* $2a$ not accepted */
        "$2x$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "$2$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "$2B$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "$3b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "$2b$03$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", /* cost below 4 */
        "$2b$32$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", /* cost above 31 */
        "$2b$99$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "$2b$5a$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "$2b$ 5$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "$2b$05CCCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", /* no '$' after the cost */
        "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe*", /* not in the alphabet */
        "$2b$05$CCCCCCCCCCCCCCCCCCCC+.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyO=W",
        "$2b$05$CCCCCCCCCCCCCCCCCCCCC$E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
        "$5$rounds=5000$usesomesillystri$KqJWpanXZHKq2BOB43TSaYhEWsQ1Lr5QNyPCDH/Tp.6",
        "$1$saltsalt$qjXMvOEVdYWb5ni5UGhJN.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$X3DX6M94c7o.9agCG9G317fhZg9SqC.5i5rd.RhAtQ7xxxxx",
    };
    for (size_t i = 0; i < IG_ARRAY_LEN(bad); i++) {
        int rc = verify_exact("U*U", 3, bad[i]);
        if (rc != IG_EINVAL) fprintf(stderr, "  malformed hash %zu accepted: %s\n", i, bad[i]);
        CHECK_EQ_INT(rc, IG_EINVAL);
    }
    CHECK_EQ_INT(verify_exact("U*U", 3, NULL), IG_EINVAL);
    /* a hash with an embedded NUL is just a short string */
    {
        char h[IG_PASSWORD_HASH_MAX];
        memcpy(h, UU_2B, sizeof h);
        h[30] = '\0';
        CHECK_EQ_INT(verify_exact("U*U", 3, h), IG_EINVAL);
    }
}

TEST(verify_tampered_hash_fails)
{
    /* Any change to the checksum or salt of a well-formed hash is a mismatch, not an error. */
    char h[IG_PASSWORD_HASH_MAX];
    for (size_t i = 7; i < IG_PASSWORD_HASH_LEN; i += 6) {
        memcpy(h, UU_2B, sizeof h);
        h[i] = h[i] == 'A' ? 'B' : 'A';
        CHECK_EQ_INT(verify_exact("U*U", 3, h), IG_EBADKEY);
    }
    memcpy(h, UU_2B, sizeof h);
    h[5] = '6'; /* cost 06 instead of 05 */
    CHECK_EQ_INT(verify_exact("U*U", 3, h), IG_EBADKEY);
}

static void *dummy_thread(void *arg)
{
    IG_UNUSED(arg);
    return (void *)ig_password_dummy_hash();
}

TEST(dummy_hash)
{
    pthread_t t[4];
    void *res[4] = {0};
    const char *d;
    char prefix[8];
    uint8_t rnd[24];
    char pw[49];

    /* concurrent first use: everyone gets the same, fully built string */
    for (size_t i = 0; i < 4; i++)
        CHECK_EQ_INT(pthread_create(&t[i], NULL, dummy_thread, NULL), 0);
    for (size_t i = 0; i < 4; i++)
        pthread_join(t[i], &res[i]);
    d = ig_password_dummy_hash();
    CHECK(d != NULL);
    for (size_t i = 0; i < 4; i++)
        CHECK(res[i] == (const void *)d);

    snprintf(prefix, sizeof prefix, "$2b$%02d$", IG_PASSWORD_DEFAULT_COST);
    CHECK(is_bcrypt_shape(d, prefix));
    CHECK(ig_password_dummy_hash() == d);
    CHECK(strcmp(ig_password_dummy_hash(), d) == 0);

    /* random passwords do not verify (IG_EBADKEY, not IG_EINVAL: it is a real hash) */
    CHECK_EQ_INT(ig_random(rnd, sizeof rnd), IG_OK);
    ig_hex_encode(rnd, sizeof rnd, pw);
    CHECK_EQ_INT(verify_exact(pw, 48, d), IG_EBADKEY);
    CHECK_EQ_INT(verify_exact(HORSE_PW, strlen(HORSE_PW), d), IG_EBADKEY);
}

typedef struct {
    int hash_rc, verify_rc;
} loop_res_t;

static void *loop_thread(void *arg)
{
    loop_res_t *r = arg;
    char out[IG_PASSWORD_HASH_MAX];
    ig_loop_thread_mark(); /* what every event-loop thread does first */
    r->hash_rc = ig_password_hash(ig_iov_str(HORSE_PW), IG_PASSWORD_MIN_COST, out);
    r->verify_rc = ig_password_verify(ig_iov_str(HORSE_PW), ig_password_dummy_hash());
    return NULL;
}

TEST(refused_on_loop_threads)
{
    pthread_t t;
    loop_res_t r = {0, 0};
    (void)ig_password_dummy_hash(); /* built here, on a plain thread */
    CHECK_EQ_INT(pthread_create(&t, NULL, loop_thread, &r), 0);
    pthread_join(t, NULL);
    CHECK_EQ_INT(r.hash_rc, IG_EINTERNAL);
    CHECK_EQ_INT(r.verify_rc, IG_EINTERNAL);
    CHECK(!ig_on_loop_thread()); /* the mark is per thread */
}

int main(void)
{
    RUN(policy_length_bounds);
    RUN(policy_huge_length_without_reading);
    RUN(policy_nul_and_utf8);
    RUN(policy_reason_never_echoes_password);
    RUN(hash_round_trip);
    RUN(hash_multibyte_and_72_bytes);
    RUN(hash_salts_differ);
    RUN(hash_rejects_bad_arguments);
    RUN(verify_independent_vector);
    RUN(verify_published_vectors);
    RUN(libxcrypt_cross_check);
    RUN(verify_rejects_malformed_hashes);
    RUN(verify_tampered_hash_fails);
    RUN(dummy_hash);
    RUN(refused_on_loop_threads);
    UNIT_DONE();
}

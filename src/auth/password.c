/*
 * password.c — password policy and bcrypt via libxcrypt (contracts in password.h).
 *
 * libxcrypt takes NUL-terminated strings, so the password is copied into a fixed 73-byte stack buffer
 * (the 72-byte cap makes that always enough) and wiped on every exit. crypt_rn's work area (struct
 * crypt_data, ~32 KiB, too big for a worker's stack budget) is heap-allocated per call, zeroed by calloc as
 * crypt_rn requires, and wiped before it is freed: it holds the Blowfish state derived from the password.
 * The salt's random bytes come from ig_random (OpenSSL RAND_bytes) and are passed explicitly, so libxcrypt
 * never falls back to its own entropy source and a generator failure is an error, not a weak salt.
 *
 * Verification recomputes the hash with the stored string as the setting and compares all 60 characters
 * with ig_ct_equal. The stored string is checked for shape first, so libxcrypt is never asked to parse
 * something that is not bcrypt (it would otherwise pick another algorithm from the prefix, or return a
 * "*0" failure token).
 */
#include "auth/password.h"
#include "core/err.h"
#include "core/log.h"
#include "net/loop.h"
#include "crypto/crypto.h"

#include <crypt.h>
#include <pthread.h>
#include <stdlib.h>

#define BCRYPT_SALT_BYTES   16 /* bcrypt's salt is 128 bits */
#define BCRYPT_SETTING_LEN  29 /* "$2b$12$" + 22 salt chars */
#define BCRYPT_DUMMY_PW_LEN 32 /* random bytes behind the dummy hash (written as 64 hex chars) */

#define STR_(x) #x
#define STR(x)  STR_(x)

_Static_assert(IG_PASSWORD_DEFAULT_COST >= IG_PASSWORD_MIN_COST && IG_PASSWORD_DEFAULT_COST <= 31,
               "the default cost is a two-digit bcrypt cost");
_Static_assert(2 * BCRYPT_DUMMY_PW_LEN <= IG_PASSWORD_MAX_LEN, "the dummy password passes the policy");

/* bcrypt's base64 alphabet (not RFC 4648's): what follows "$2b$CC$" in a hash. */
static const char bcrypt_b64[] = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/* Strict UTF-8 (RFC 3629 section 4): no overlong forms, no UTF-16 surrogates, nothing above U+10FFFF,
 * no truncated sequence at the end. */
static bool utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t need;
        unsigned lo = 0x80, hi = 0xbf; /* allowed range of the first continuation byte */
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
        } else if (c == 0xe0) {
            need = 2, lo = 0xa0; /* E0 80..9F would be overlong */
        } else if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) {
            need = 2;
        } else if (c == 0xed) {
            need = 2, hi = 0x9f; /* ED A0..BF are surrogates */
        } else if (c == 0xf0) {
            need = 3, lo = 0x90; /* F0 80..8F would be overlong */
        } else if (c >= 0xf1 && c <= 0xf3) {
            need = 3;
        } else if (c == 0xf4) {
            need = 3, hi = 0x8f; /* F4 90.. is above U+10FFFF */
        } else {
            return false; /* continuation byte first, C0/C1 (overlong) or F5..FF */
        }
        if (n - i - 1 < need || s[i + 1] < lo || s[i + 1] > hi) return false;
        for (size_t k = 2; k <= need; k++)
            if ((s[i + k] & 0xc0) != 0x80) return false;
        i += need + 1;
    }
    return true;
}

int ig_password_policy(ig_iov_t pw, const char **why)
{
    int rc = IG_EINVAL;
    const char *reason = NULL;

    if (pw.len > 0 && !pw.base) {
        reason = "the password is missing";
    } else if (pw.len < IG_PASSWORD_MIN_LEN) {
        reason = "the password must be at least " STR(IG_PASSWORD_MIN_LEN) " bytes long";
    } else if (pw.len > IG_PASSWORD_MAX_LEN) {
        reason = "the password must be at most " STR(
            IG_PASSWORD_MAX_LEN) " bytes long (bcrypt reads only "
                                 "the first " STR(IG_PASSWORD_MAX_LEN) " bytes; longer passwords are "
                                                                       "refused, not truncated)";
    } else if (memchr(pw.base, '\0', pw.len)) {
        reason = "the password must not contain NUL bytes";
    } else if (!utf8_valid((const unsigned char *)pw.base, pw.len)) {
        reason = "the password must be valid UTF-8 text";
    } else {
        rc = IG_OK;
    }
    if (why) *why = reason;
    return rc;
}

/* true when h is a NUL-terminated "$2b$" or "$2y$" bcrypt string of exactly IG_PASSWORD_HASH_LEN chars
 * with a cost of 04..31 and only bcrypt base64 characters after the cost. */
static bool hash_well_formed(const char *h)
{
    int cost;
    if (!h || strnlen(h, IG_PASSWORD_HASH_LEN + 1) != IG_PASSWORD_HASH_LEN) return false;
    if (h[0] != '$' || h[1] != '2' || (h[2] != 'b' && h[2] != 'y') || h[3] != '$' || h[6] != '$')
        return false;
    if (h[4] < '0' || h[4] > '9' || h[5] < '0' || h[5] > '9') return false;
    cost = (h[4] - '0') * 10 + (h[5] - '0');
    if (cost < 4 || cost > IG_PASSWORD_MAX_COST) return false;
    for (size_t i = 7; i < IG_PASSWORD_HASH_LEN; i++)
        if (!memchr(bcrypt_b64, h[i], sizeof bcrypt_b64 - 1)) return false;
    return true;
}

/* A bcrypt on an event-loop thread would stall every connection of that loop for ~250 ms: refuse, loudly. */
static bool on_loop(void)
{
    if (!ig_on_loop_thread()) return false;
    IG_ERROR("password", "bcrypt called on an event-loop thread: refused (a bug: use the worker pool)");
    return true;
}

int ig_password_hash(ig_iov_t pw, int cost, char out[IG_PASSWORD_HASH_MAX])
{
    int rc = IG_EINVAL;
    uint8_t rbytes[BCRYPT_SALT_BYTES];
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    char pwz[IG_PASSWORD_MAX_LEN + 1];
    struct crypt_data *cd = NULL;
    const char *h;

    if (on_loop()) {
        rc = IG_EINTERNAL;
        goto out;
    }
    if (cost < IG_PASSWORD_MIN_COST || cost > IG_PASSWORD_MAX_COST) goto out;
    if (ig_password_policy(pw, NULL) != IG_OK) goto out;
    rc = ig_random(rbytes, sizeof rbytes);
    if (rc != IG_OK) goto out;
    rc = IG_ECRYPTO;
    if (!crypt_gensalt_rn("$2b$", (unsigned long)cost, (const char *)rbytes, (int)sizeof rbytes, setting,
                          (int)sizeof setting))
        goto out;
    rc = IG_ENOMEM;
    cd = calloc(1, sizeof *cd);
    if (!cd) goto out;
    memcpy(pwz, pw.base, pw.len); /* policy passed: pw.base is set and pw.len <= IG_PASSWORD_MAX_LEN */
    pwz[pw.len] = '\0';
    rc = IG_ECRYPTO;
    h = crypt_rn(pwz, setting, cd, (int)sizeof *cd);
    /* Belt and braces: what we store must be exactly the bcrypt string we asked for. */
    if (!h || !hash_well_formed(h) || memcmp(h, setting, BCRYPT_SETTING_LEN) != 0) goto out;
    memcpy(out, h, IG_PASSWORD_HASH_MAX);
    rc = IG_OK;
out:
    if (cd) ig_wipe(cd, sizeof *cd);
    free(cd);
    ig_wipe(pwz, sizeof pwz);
    ig_wipe(setting, sizeof setting);
    ig_wipe(rbytes, sizeof rbytes);
    if (rc != IG_OK) ig_wipe(out, IG_PASSWORD_HASH_MAX);
    return rc;
}

int ig_password_verify(ig_iov_t pw, const char *hash)
{
    int rc = IG_EINVAL;
    char pwz[IG_PASSWORD_MAX_LEN + 1];
    struct crypt_data *cd = NULL;
    const char *h;

    if (on_loop()) {
        rc = IG_EINTERNAL;
        goto out;
    }
    if (!hash_well_formed(hash)) goto out;
    /* Length and NUL are known to whoever sent the password: refusing them early reveals nothing. */
    rc = IG_EBADKEY;
    if (pw.len > IG_PASSWORD_MAX_LEN || (pw.len > 0 && (!pw.base || memchr(pw.base, '\0', pw.len)))) goto out;
    rc = IG_ENOMEM;
    cd = calloc(1, sizeof *cd);
    if (!cd) goto out;
    if (pw.len > 0) memcpy(pwz, pw.base, pw.len);
    pwz[pw.len] = '\0';
    rc = IG_ECRYPTO;
    h = crypt_rn(pwz, hash, cd, (int)sizeof *cd);
    if (!h || strnlen(h, IG_PASSWORD_HASH_LEN + 1) != IG_PASSWORD_HASH_LEN) goto out;
    rc = ig_ct_equal(h, hash, IG_PASSWORD_HASH_LEN) ? IG_OK : IG_EBADKEY;
out:
    if (cd) ig_wipe(cd, sizeof *cd);
    free(cd);
    ig_wipe(pwz, sizeof pwz);
    return rc;
}

static pthread_once_t g_dummy_once = PTHREAD_ONCE_INIT;
static char g_dummy[IG_PASSWORD_HASH_MAX];
static int g_dummy_cost = IG_PASSWORD_DEFAULT_COST;

int ig_password_set_dummy_cost(int cost)
{
    if (cost < IG_PASSWORD_MIN_COST || cost > IG_PASSWORD_MAX_COST) return IG_EINVAL;
    g_dummy_cost = cost;
    return IG_OK;
}

/* Used only if hashing fails at startup (random generator or allocation failure). Well-formed at the
 * default cost, so verifying against it still costs a full bcrypt computation; no password can match it,
 * because its salt and checksum end in characters bcrypt never outputs (non-zero unused low bits). */
static const char dummy_fallback[] = "$2b$" STR(IG_PASSWORD_DEFAULT_COST) "$ingate.dummy.hash.salt"
                                                                          "ingate.dummy.hash.never.matches";
_Static_assert(sizeof dummy_fallback == IG_PASSWORD_HASH_MAX, "fallback dummy hash has bcrypt's length");

static void dummy_init(void)
{
    uint8_t rnd[BCRYPT_DUMMY_PW_LEN];
    char pw[2 * BCRYPT_DUMMY_PW_LEN + 1];
    int rc = ig_random(rnd, sizeof rnd);
    if (rc == IG_OK) {
        ig_hex_encode(rnd, sizeof rnd, pw); /* hex: passes the policy (ASCII, 64 bytes) */
        rc = ig_password_hash(ig_iov(pw, 2 * BCRYPT_DUMMY_PW_LEN), g_dummy_cost, g_dummy);
    }
    if (rc != IG_OK) memcpy(g_dummy, dummy_fallback, sizeof dummy_fallback);
    ig_wipe(pw, sizeof pw);
    ig_wipe(rnd, sizeof rnd);
}

const char *ig_password_dummy_hash(void)
{
    pthread_once(&g_dummy_once, dummy_init);
    return g_dummy;
}

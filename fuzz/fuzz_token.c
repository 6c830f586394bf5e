/*
 * fuzz_token.c — libFuzzer target for session token verification (src/auth/token.c): untrusted bytes from
 * an Authorization header, not NUL-terminated, checked against a fixed key at a fixed time.
 *
 * Random bytes almost never carry a valid HMAC, so most inputs would stop at the signature check. To reach
 * the JSON rules behind it, each input is tried three ways:
 *   1. as is (the attacker's view);
 *   2. re-signed: everything before the last '.' (or the whole input when it has a single '.') is signed
 *      with the fuzz key and ".<signature>" appended, so mutated header and payload segments get parsed;
 *   3. when it starts with '{': as "<header JSON>\n<payload JSON>", base64url-encoded and signed, so the
 *      fuzzer can mutate JSON text directly.
 * Any accepted token must satisfy the documented invariants, and its claims must survive a re-issue and a
 * second verification unchanged; otherwise the target aborts.
 */
#include "auth/token.h"
#include "core/err.h"
#include "crypto/crypto.h"

#include <stdlib.h>
#include <string.h>

#define NOW    1767225610 /* seeds are valid from 1767225600 to 1767229200 */
#define MAX_IN (IG_TOKEN_MAX_LEN + 256)

static const uint8_t g_key[IG_TOKEN_KEY_LEN] = {
    0x66, 0x75, 0x7a, 0x7a, 0x2d, 0x74, 0x6f, 0x6b, 0x65, 0x6e, 0x2d, 0x6b, 0x65, 0x79, 0x2d, 0x30,
    0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x21,
}; /* "fuzz-token-key-0123456789abcdef!" */

static bool hex32(const char *s)
{
    if (strnlen(s, IG_TOKEN_ID_LEN + 1) != IG_TOKEN_ID_LEN) return false;
    for (size_t i = 0; i < IG_TOKEN_ID_LEN; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

static void check_accepted(const ig_token_claims_t *c)
{
    char tok[1024];
    size_t n = 0;
    ig_token_claims_t again;
    if (!hex32(c->sub) || !hex32(c->org) || !hex32(c->jti)) abort();
    if (c->exp <= NOW || c->iat - IG_TOKEN_CLOCK_SKEW > NOW || c->exp <= c->iat || c->iat < 0) abort();
    if (ig_token_issue(g_key, c, tok, sizeof tok, &n) != IG_OK) abort();
    if (ig_token_verify(g_key, ig_iov(tok, n), NOW, &again) != IG_OK) abort();
    if (memcmp(c, &again, sizeof again) != 0) abort();
}

/* Verifies an exact-size heap copy, so ASan catches any read past token.len. */
static void verify_copy(const char *p, size_t n)
{
    ig_token_claims_t c;
    char *copy = malloc(n ? n : 1);
    if (!copy) return;
    if (n) memcpy(copy, p, n);
    memset(&c, 0, sizeof c);
    if (ig_token_verify(g_key, ig_iov(copy, n), NOW, &c) == IG_OK) check_accepted(&c);
    free(copy);
}

/* Appends "." and the base64url HMAC of buf[0..n) to buf (which has room) and verifies the result. */
static void sign_and_verify(char *buf, size_t n)
{
    uint8_t mac[32];
    if (ig_hmac_sha256(g_key, sizeof g_key, buf, n, mac) != IG_OK) return;
    buf[n] = '.';
    n += 1 + ig_b64url_encode(mac, sizeof mac, buf + n + 1);
    verify_copy(buf, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char buf[2 * MAX_IN + 64];
    const char *p = (const char *)data;

    verify_copy(p, size);
    if (size > MAX_IN) return 0;

    /* 2: re-sign everything before the last '.' */
    {
        const char *last = memrchr(p, '.', size);
        if (last) {
            size_t keep = memchr(p, '.', (size_t)(last - p)) ? (size_t)(last - p) : size;
            memcpy(buf, p, keep);
            sign_and_verify(buf, keep);
        }
    }

    /* 3: "<header JSON>\n<payload JSON>" */
    if (size > 0 && p[0] == '{') {
        const char *nl = memchr(p, '\n', size);
        if (nl) {
            size_t hl = (size_t)(nl - p), pl = size - hl - 1, n;
            n = ig_b64url_encode((const uint8_t *)p, hl, buf);
            buf[n++] = '.';
            n += ig_b64url_encode((const uint8_t *)nl + 1, pl, buf + n);
            sign_and_verify(buf, n);
        }
    }
    return 0;
}

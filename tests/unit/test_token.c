/*
 * Unit tests of src/auth/token: issue/verify round trip; tokens made by an independent implementation
 * (python3 stdlib hmac/hashlib/base64/json) verify, and ours are byte-identical to Python's for the same
 * claims; every tampering and format case is refused (bit flips in each segment, swapped payloads, alg
 * none/HS512/hs256/missing/duplicated, typ, duplicate and unknown members, escapes, extra or missing
 * segments, padding, non-base64url bytes, non-canonical signatures, expiry boundaries, future iat, wrong
 * key, truncated signature, length limit). Tampered tokens are re-signed with the right key where the point
 * is to reach the JSON checks behind the MAC. Tokens are verified from exactly-sized heap copies so ASan
 * catches any read past token.len.
 */
#include "unit.h"
#include "auth/token.h"
#include "core/err.h"
#include "crypto/crypto.h"

#include <inttypes.h>

#define SUB "9f86d081884c7d659a2feaa0c55ad015"
#define ORG "a3f5c8e21b7d4096e8c1f2a3b4c5d6e7"
#define JTI "5e884898da28047151d0e56f8dc62927"
#define IAT 1767225600 /* 2026-01-01T00:00:00Z */
#define EXP 1767229200 /* one hour later */
#define NOW (IAT + 10)

#define HDR_B64 "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9" /* {"alg":"HS256","typ":"JWT"} */
#define BIG     8192

/* Independent tokens, made with python3 3.11 stdlib (hmac, hashlib, base64.urlsafe_b64encode stripped of
 * '=', json.dumps) under KEY_HEX, claims SUB/ORG/JTI/IAT/EXP:
 *   PY_COMPACT: header and payload with separators=(",",":") in our member order;
 *   PY_PRETTY:  {"typ":"JWT","alg":"HS256"} with indent=1 and the claims in reverse order with indent=2. */
#define KEY_HEX "6b3a55e0261b4fd3b1f0c5d2a7e8947f0c2d6e1a9b8f7c3d4e5a6b7c8d9e0f11"
#define PY_COMPACT                                                                                           \
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."                                                                  \
    "eyJzdWIiOiI5Zjg2ZDA4MTg4NGM3ZDY1OWEyZmVhYTBjNTVhZDAxNSIsIm9yZyI6ImE"                                    \
    "zZjVjOGUyMWI3ZDQwOTZlOGMxZjJhM2I0YzVkNmU3IiwianRpIjoiNWU4ODQ4OThkYTI4MDQ3MTUxZDBlNTZmOGRjNjI5MjciLCJpY" \
    "X"                                                                                                      \
    "QiOjE3NjcyMjU2MDAsImV4cCI6MTc2NzIyOTIwMH0.K5SpqcTzr0NPrSYH-KfNHlahknH7a_kvbR5BUpYq0G4"
#define PY_PRETTY                                                                                            \
    "ewogInR5cCI6ICJKV1QiLAogImFsZyI6ICJIUzI1NiIKfQ."                                                        \
    "ewogICJleHAiOiAxNzY3MjI5MjAwLAogICJqdGkiOiAiNWU4ODQ4OThkYT"                                             \
    "I4MDQ3MTUxZDBlNTZmOGRjNjI5MjciLAogICJpYXQiOiAxNzY3MjI1NjAwLAogICJvcmciOiAiYTNmNWM4ZTIxYjdkNDA5NmU4YzFm" \
    "MmE"                                                                                                    \
    "zYjRjNWQ2ZTciLAogICJzdWIiOiAiOWY4NmQwODE4ODRjN2Q2NTlhMmZlYWEwYzU1YWQwMTUiCn0.-"                         \
    "d35XCdR0WN3AM94lxwVeX9XTTe"                                                                             \
    "wKgnCGwrl0rIHagI"

static uint8_t g_key[32];

static void load_key(void)
{
    size_t n = 0;
    CHECK_EQ_INT(ig_hex_decode(IG_IOV_LIT(KEY_HEX), g_key, sizeof g_key, &n), IG_OK);
    CHECK_EQ_INT(n, 32);
}

static ig_token_claims_t claims(const char *sub, int64_t iat, int64_t exp)
{
    ig_token_claims_t c;
    memset(&c, 0, sizeof c);
    memcpy(c.sub, sub, strlen(sub) + 1);
    memcpy(c.org, ORG, sizeof c.org);
    memcpy(c.jti, JTI, sizeof c.jti);
    c.iat = iat;
    c.exp = exp;
    return c;
}

/* ig_token_verify on an exactly-sized heap copy of n bytes. */
static int verify_exact_at(const uint8_t *key, const char *tok, size_t n, int64_t now, ig_token_claims_t *out)
{
    ig_token_claims_t dummy;
    char *c = malloc(n ? n : 1);
    int rc;
    if (!c) return IG_ENOMEM;
    if (n) memcpy(c, tok, n);
    rc = ig_token_verify(key, ig_iov(c, n), now, out ? out : &dummy);
    free(c);
    return rc;
}

static int verify_n(const char *tok, size_t n)
{
    return verify_exact_at(g_key, tok, n, NOW, NULL);
}

static int verify_s(const char *tok)
{
    return verify_n(tok, strlen(tok));
}

/* Signs arbitrary header and payload bytes the way the format says (test-side, independent of
 * ig_token_issue): b64url(h) "." b64url(p) "." b64url(HMAC(key, ...)). Returns the length; out holds BIG. */
static size_t sign_raw(const uint8_t *key, const char *h, size_t hl, const char *p, size_t pl, char *out)
{
    uint8_t mac[32];
    size_t pos;
    if ((hl + pl) / 3 * 4 + 64 > BIG) return 0;
    pos = ig_b64url_encode((const uint8_t *)h, hl, out);
    out[pos++] = '.';
    pos += ig_b64url_encode((const uint8_t *)p, pl, out + pos);
    CHECK_EQ_INT(ig_hmac_sha256(key, 32, out, pos, mac), IG_OK);
    out[pos++] = '.';
    pos += ig_b64url_encode(mac, 32, out + pos);
    return pos;
}

static size_t sign_json(const char *h, const char *p, char *out)
{
    return sign_raw(g_key, h, strlen(h), p, strlen(p), out);
}

/* Our payload with the given values, as JSON text. */
static void payload(char *out, size_t cap, const char *sub, int64_t iat, int64_t exp)
{
    snprintf(out, cap,
             "{\"sub\":\"%s\",\"org\":\"" ORG "\",\"jti\":\"" JTI "\",\"iat\":%" PRId64 ",\"exp\":%" PRId64
             "}",
             sub, iat, exp);
}

#define STD_HDR "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define STD_PAYLOAD                                                                                          \
    "{\"sub\":\"" SUB "\",\"org\":\"" ORG "\",\"jti\":\"" JTI "\",\"iat\":1767225600,\"exp\":1767229200}"

static bool claims_eq(const ig_token_claims_t *a, const ig_token_claims_t *b)
{
    return strcmp(a->sub, b->sub) == 0 && strcmp(a->org, b->org) == 0 && strcmp(a->jti, b->jti) == 0 &&
           a->iat == b->iat && a->exp == b->exp;
}

static size_t issue_std(char *out, size_t cap)
{
    ig_token_claims_t c = claims(SUB, IAT, EXP);
    size_t n = 0;
    CHECK_EQ_INT(ig_token_issue(g_key, &c, out, cap, &n), IG_OK);
    return n;
}

TEST(round_trip)
{
    char tok[BIG];
    ig_token_claims_t c = claims(SUB, IAT, EXP), got;
    size_t n = 0;

    CHECK_EQ_INT(ig_token_issue(g_key, &c, tok, sizeof tok, &n), IG_OK);
    CHECK_EQ_INT(n, strlen(tok));
    CHECK(strncmp(tok, HDR_B64 ".", sizeof HDR_B64) == 0);
    CHECK(n < 400);
    memset(&got, 0x5a, sizeof got);
    CHECK_EQ_INT(verify_exact_at(g_key, tok, n, NOW, &got), IG_OK);
    CHECK(claims_eq(&c, &got));
    /* outlen is optional */
    CHECK_EQ_INT(ig_token_issue(g_key, &c, tok, sizeof tok, NULL), IG_OK);
    CHECK_EQ_INT(strlen(tok), n);

    /* large times (past 2038 and up to 2^53 - 1) survive exactly */
    c = claims(SUB, 4102444800LL, IG_TOKEN_MAX_SECONDS);
    CHECK_EQ_INT(ig_token_issue(g_key, &c, tok, sizeof tok, &n), IG_OK);
    CHECK_EQ_INT(verify_exact_at(g_key, tok, n, 4102444800LL, &got), IG_OK);
    CHECK(claims_eq(&c, &got));
    c = claims(SUB, 0, 1);
    CHECK_EQ_INT(ig_token_issue(g_key, &c, tok, sizeof tok, &n), IG_OK);
    CHECK_EQ_INT(verify_exact_at(g_key, tok, n, 0, &got), IG_OK);
    CHECK(claims_eq(&c, &got));
}

TEST(new_jti)
{
    char a[IG_TOKEN_ID_LEN + 1], b[IG_TOKEN_ID_LEN + 1];
    CHECK_EQ_INT(ig_token_new_jti(a), IG_OK);
    CHECK_EQ_INT(ig_token_new_jti(b), IG_OK);
    CHECK_EQ_INT(strlen(a), 32);
    CHECK_EQ_INT(strspn(a, "0123456789abcdef"), 32);
    CHECK(strcmp(a, b) != 0);
}

/* the dashboard's CSRF token: base64url(HMAC-SHA256(key, "csrf:" jti)), the value Python's hmac module gives */
TEST(csrf_token)
{
    char a[IG_TOKEN_CSRF_LEN + 1], b[IG_TOKEN_CSRF_LEN + 1];
    CHECK_EQ_INT(ig_token_csrf(g_key, "0123456789abcdef0123456789abcdef", a), IG_OK);
    CHECK_EQ_STR(a, "z9QNOoU32X-AIq0-6EjSJ-otBif2GZNDVBYrpGXKefo");
    CHECK_EQ_INT(ig_token_csrf(g_key, "0123456789abcdef0123456789abcdee", b), IG_OK);
    CHECK(strcmp(a, b) != 0); /* one per session */
    uint8_t other[32];
    memcpy(other, g_key, sizeof other);
    other[0] ^= 1;
    CHECK_EQ_INT(ig_token_csrf(other, "0123456789abcdef0123456789abcdef", b), IG_OK);
    CHECK(strcmp(a, b) != 0); /* and per gateway key */
}

TEST(interop_python)
{
    ig_token_claims_t want = claims(SUB, IAT, EXP), got;
    char tok[BIG];
    size_t n = 0;

    CHECK_EQ_INT(verify_exact_at(g_key, PY_COMPACT, strlen(PY_COMPACT), NOW, &got), IG_OK);
    CHECK(claims_eq(&want, &got));
    memset(&got, 0, sizeof got);
    CHECK_EQ_INT(verify_exact_at(g_key, PY_PRETTY, strlen(PY_PRETTY), NOW, &got), IG_OK);
    CHECK(claims_eq(&want, &got));
    /* ours are byte-identical to Python's compact form */
    CHECK_EQ_INT(ig_token_issue(g_key, &want, tok, sizeof tok, &n), IG_OK);
    CHECK_EQ_STR(tok, PY_COMPACT);
    /* and the Python tokens obey the same time rules */
    CHECK_EQ_INT(verify_exact_at(g_key, PY_PRETTY, strlen(PY_PRETTY), EXP, NULL), IG_EBADKEY);
}

TEST(issue_rejects_bad_claims)
{
    char tok[BIG];
    size_t n = 12345, len;
    ig_token_claims_t c;
    static const char *const bad_ids[] = {
        "9f86d081884c7d659a2feaa0c55ad01",   /* 31 */
        "9F86D081884C7D659A2FEAA0C55AD015",  /* uppercase */
        "9f86d081884c7d659a2feaa0c55ad01g",  /* not hex */
        "9f86d081884c7d659a2feaa0c55ad01\"", /* would need escaping */
        "",
    };
    for (size_t i = 0; i < IG_ARRAY_LEN(bad_ids); i++) {
        c = claims(bad_ids[i], IAT, EXP);
        CHECK_EQ_INT(ig_token_issue(g_key, &c, tok, sizeof tok, &n), IG_EINVAL);
        c = claims(SUB, IAT, EXP);
        memcpy(c.org, bad_ids[i], strlen(bad_ids[i]) + 1);
        CHECK_EQ_INT(ig_token_issue(g_key, &c, tok, sizeof tok, &n), IG_EINVAL);
        c = claims(SUB, IAT, EXP);
        memcpy(c.jti, bad_ids[i], strlen(bad_ids[i]) + 1);
        CHECK_EQ_INT(ig_token_issue(g_key, &c, tok, sizeof tok, &n), IG_EINVAL);
    }
    c = claims(SUB, IAT, EXP);
    c.sub[32] = 'a'; /* not NUL-terminated within the array */
    CHECK_EQ_INT(ig_token_issue(g_key, &c, tok, sizeof tok, &n), IG_EINVAL);
    c = claims(SUB, -1, EXP);
    CHECK_EQ_INT(ig_token_issue(g_key, &c, tok, sizeof tok, &n), IG_EINVAL);
    c = claims(SUB, IAT, IAT);
    CHECK_EQ_INT(ig_token_issue(g_key, &c, tok, sizeof tok, &n), IG_EINVAL);
    c = claims(SUB, IAT, IAT - 1);
    CHECK_EQ_INT(ig_token_issue(g_key, &c, tok, sizeof tok, &n), IG_EINVAL);
    c = claims(SUB, IAT, IG_TOKEN_MAX_SECONDS + 1);
    CHECK_EQ_INT(ig_token_issue(g_key, &c, tok, sizeof tok, &n), IG_EINVAL);
    CHECK_EQ_INT(ig_token_issue(g_key, NULL, tok, sizeof tok, &n), IG_EINVAL);
    CHECK_EQ_INT(n, 12345); /* untouched on failure */

    /* capacity: exactly the token and its NUL */
    c = claims(SUB, IAT, EXP);
    len = issue_std(tok, sizeof tok);
    memset(tok, 'x', sizeof tok);
    CHECK_EQ_INT(ig_token_issue(g_key, &c, tok, len, &n), IG_ETOOBIG);
    CHECK_EQ_INT(tok[0], '\0');
    CHECK_EQ_INT(ig_token_issue(g_key, &c, tok, 0, &n), IG_ETOOBIG);
    CHECK_EQ_INT(ig_token_issue(g_key, &c, NULL, 0, &n), IG_ETOOBIG);
    CHECK_EQ_INT(ig_token_issue(g_key, &c, tok, len + 1, &n), IG_OK);
    CHECK_EQ_INT(n, len);
    CHECK_EQ_INT(tok[len], '\0');
}

TEST(bit_flips_everywhere)
{
    char tok[BIG];
    size_t n = issue_std(tok, sizeof tok);
    int accepted = 0;
    CHECK_EQ_INT(verify_n(tok, n), IG_OK);
    for (size_t i = 0; i < n; i++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            tok[i] ^= (char)(1u << bit);
            if (verify_n(tok, n) != IG_EBADKEY) {
                fprintf(stderr, "  flip of bit %u at %zu accepted\n", bit, i);
                accepted++;
            }
            tok[i] ^= (char)(1u << bit);
        }
    }
    CHECK_EQ_INT(accepted, 0);
    CHECK_EQ_INT(verify_n(tok, n), IG_OK);
}

TEST(swapped_payloads)
{
    char a[BIG], b[BIG], mix[2 * BIG];
    ig_token_claims_t ca = claims(SUB, IAT, EXP), cb = claims("00000000000000000000000000000000", IAT, EXP);
    size_t na = 0, nb = 0;
    const char *a1, *a2, *b1, *b2;
    CHECK_EQ_INT(ig_token_issue(g_key, &ca, a, sizeof a, &na), IG_OK);
    CHECK_EQ_INT(ig_token_issue(g_key, &cb, b, sizeof b, &nb), IG_OK);
    a1 = strchr(a, '.'), a2 = strchr(a1 + 1, '.');
    b1 = strchr(b, '.'), b2 = strchr(b1 + 1, '.');
    /* a's header, b's payload, a's signature */
    snprintf(mix, sizeof mix, "%.*s%.*s%s", (int)(a1 - a), a, (int)(b2 - b1), b1, a2);
    CHECK_EQ_INT(verify_s(mix), IG_EBADKEY);
    /* b's header and payload with a's signature */
    snprintf(mix, sizeof mix, "%.*s%s", (int)(b2 - b), b, a2);
    CHECK_EQ_INT(verify_s(mix), IG_EBADKEY);
    CHECK_EQ_INT(verify_s(a), IG_OK);
    CHECK_EQ_INT(verify_s(b), IG_OK);
}

TEST(alg_none)
{
    char tok[2 * BIG], body[BIG];
    size_t n, k;
    /* unsigned token as an attacker would send it: header.payload. */
    k = ig_b64url_encode((const uint8_t *)"{\"alg\":\"none\",\"typ\":\"JWT\"}", 26, body);
    body[k++] = '.';
    k += ig_b64url_encode((const uint8_t *)STD_PAYLOAD, strlen(STD_PAYLOAD), body + k);
    body[k] = '\0';
    snprintf(tok, sizeof tok, "%s.", body);
    CHECK_EQ_INT(verify_s(tok), IG_EBADKEY);
    CHECK_EQ_INT(verify_s(body), IG_EBADKEY); /* and without the trailing dot */
    /* even with a correct HMAC, "none" is refused */
    n = sign_json("{\"alg\":\"none\",\"typ\":\"JWT\"}", STD_PAYLOAD, tok);
    CHECK_EQ_INT(verify_n(tok, n), IG_EBADKEY);
    n = sign_json("{\"alg\":\"none\"}", STD_PAYLOAD, tok);
    CHECK_EQ_INT(verify_n(tok, n), IG_EBADKEY);
}

TEST(header_rules)
{
    static const struct {
        const char *h;
        int want;
    } cases[] = {
        {STD_HDR, IG_OK},
        {"{\"alg\":\"HS256\"}", IG_OK},                 /* typ is optional */
        {"{\"typ\":\"JWT\",\"alg\":\"HS256\"}", IG_OK}, /* any order */
        {" {\r\n\t\"alg\" : \"HS256\" } \n", IG_OK},    /* JSON whitespace */
        {"{\"alg\":\"HS512\",\"typ\":\"JWT\"}", IG_EBADKEY},
        {"{\"alg\":\"hs256\",\"typ\":\"JWT\"}", IG_EBADKEY},
        {"{\"alg\":\"HS256 \",\"typ\":\"JWT\"}", IG_EBADKEY},
        {"{\"alg\":\"RS256\",\"typ\":\"JWT\"}", IG_EBADKEY},
        {"{\"alg\":\"\",\"typ\":\"JWT\"}", IG_EBADKEY},
        {"{\"typ\":\"JWT\"}", IG_EBADKEY}, /* missing alg */
        {"{}", IG_EBADKEY},
        {"{\"alg\":256}", IG_EBADKEY},
        {"{\"alg\":null}", IG_EBADKEY},
        {"{\"alg\":true}", IG_EBADKEY},
        {"{\"alg\":[\"HS256\"]}", IG_EBADKEY},
        {"{\"alg\":{\"x\":\"HS256\"}}", IG_EBADKEY},
        {"{\"alg\":\"HS256\",\"alg\":\"HS256\"}", IG_EBADKEY}, /* duplicates, same value */
        {"{\"alg\":\"none\",\"alg\":\"HS256\"}", IG_EBADKEY},
        {"{\"alg\":\"HS256\",\"alg\":\"none\"}", IG_EBADKEY},
        {"{\"alg\":\"HS256\",\"typ\":\"JWT\",\"typ\":\"JWT\"}", IG_EBADKEY},
        {"{\"alg\":\"HS256\",\"typ\":\"JWS\"}", IG_EBADKEY},
        {"{\"alg\":\"HS256\",\"typ\":\"jwt\"}", IG_EBADKEY},
        {"{\"alg\":\"HS256\",\"typ\":\"\"}", IG_EBADKEY},
        {"{\"alg\":\"HS256\",\"typ\":null}", IG_EBADKEY},
        {"{\"alg\":\"HS256\",\"typ\":1}", IG_EBADKEY},
        {"{\"alg\":\"HS256\",\"kid\":\"1\"}", IG_EBADKEY},
        {"{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", IG_EBADKEY},
        {"{\"alg\":\"HS256\",\"\":\"\"}", IG_EBADKEY},
        {"{\"alg\":\"HS\\u0032\\u0035\\u0036\"}", IG_EBADKEY}, /* escapes, even ones spelling HS256 */
        {"{\"alg\":\"HS256\\u0000x\"}", IG_EBADKEY},
        {"{\"al\\u0067\":\"HS256\"}", IG_EBADKEY},
        {"{\"alg\":\"HS256\"}x", IG_EBADKEY}, /* trailing garbage */
        {"{\"alg\":\"HS256\"}{}", IG_EBADKEY},
        {"{\"alg\":\"HS256\"", IG_EBADKEY},
        {"[\"alg\",\"HS256\"]", IG_EBADKEY},
        {"\"HS256\"", IG_EBADKEY},
        {"null", IG_EBADKEY},
        {"42", IG_EBADKEY},
        {"not json", IG_EBADKEY},
        {"{\"alg\":\"HS256\",\"typ\":\"J\xc3\xa9T\"}", IG_EBADKEY}, /* non-ASCII */
        {"\xef\xbb\xbf{\"alg\":\"HS256\"}", IG_EBADKEY},            /* BOM */
    };
    char tok[BIG];
    for (size_t i = 0; i < IG_ARRAY_LEN(cases); i++) {
        size_t n = sign_json(cases[i].h, STD_PAYLOAD, tok);
        int rc = verify_n(tok, n);
        if (rc != cases[i].want) fprintf(stderr, "  header case %zu: %s\n", i, cases[i].h);
        CHECK_EQ_INT(rc, cases[i].want);
    }
    /* NUL bytes in the decoded header, before or after the object */
    {
        static const char h1[] = "{\"alg\":\"HS256\"}\0";
        static const char h2[] = "{\"alg\":\"HS256\"}\0garbage";
        size_t n = sign_raw(g_key, h1, sizeof h1 - 1, STD_PAYLOAD, strlen(STD_PAYLOAD), tok);
        CHECK_EQ_INT(verify_n(tok, n), IG_EBADKEY);
        n = sign_raw(g_key, h2, sizeof h2 - 1, STD_PAYLOAD, strlen(STD_PAYLOAD), tok);
        CHECK_EQ_INT(verify_n(tok, n), IG_EBADKEY);
    }
}

TEST(payload_rules)
{
    char p[1024], tok[BIG];
#define ID_S "\"sub\":\"" SUB "\""
#define ID_O "\"org\":\"" ORG "\""
#define ID_J "\"jti\":\"" JTI "\""
#define T_I  "\"iat\":1767225600"
#define T_E  "\"exp\":1767229200"
    static const struct {
        const char *p;
        int want;
    } cases[] = {
        {"{" ID_S "," ID_O "," ID_J "," T_I "," T_E "}", IG_OK},
        {"{" T_E "," T_I "," ID_J "," ID_O "," ID_S "}", IG_OK},
        {"{" ID_S "," ID_O "," ID_J "," T_I ",\"exp\":1767229200.0}", IG_OK}, /* integral value */
        {"{" ID_S "," ID_O "," ID_J "," T_I ",\"exp\":17672292e2}", IG_OK},
        /* each claim missing */
        {"{" ID_O "," ID_J "," T_I "," T_E "}", IG_EBADKEY},
        {"{" ID_S "," ID_J "," T_I "," T_E "}", IG_EBADKEY},
        {"{" ID_S "," ID_O "," T_I "," T_E "}", IG_EBADKEY},
        {"{" ID_S "," ID_O "," ID_J "," T_E "}", IG_EBADKEY},
        {"{" ID_S "," ID_O "," ID_J "," T_I "}", IG_EBADKEY},
        /* each claim twice (same value) */
        {"{" ID_S "," ID_S "," ID_O "," ID_J "," T_I "," T_E "}", IG_EBADKEY},
        {"{" ID_S "," ID_O "," ID_O "," ID_J "," T_I "," T_E "}", IG_EBADKEY},
        {"{" ID_S "," ID_O "," ID_J "," ID_J "," T_I "," T_E "}", IG_EBADKEY},
        {"{" ID_S "," ID_O "," ID_J "," T_I "," T_I "," T_E "}", IG_EBADKEY},
        {"{" ID_S "," ID_O "," ID_J "," T_I "," T_E "," T_E "}", IG_EBADKEY},
        {"{" ID_S "," ID_O "," ID_J "," T_I "," T_E ",\"sub\":\"00000000000000000000000000000000\"}",
         IG_EBADKEY},
        /* unknown claims */
        {"{" ID_S "," ID_O "," ID_J "," T_I "," T_E ",\"nbf\":1767225600}", IG_EBADKEY},
        {"{" ID_S "," ID_O "," ID_J "," T_I "," T_E ",\"aud\":\"x\"}", IG_EBADKEY},
        {"{" ID_S "," ID_O "," ID_J "," T_I "," T_E ",\"role\":\"owner\"}", IG_EBADKEY},
        /* ill-typed ids */
        {"{\"sub\":1," ID_O "," ID_J "," T_I "," T_E "}", IG_EBADKEY},
        {"{\"sub\":null," ID_O "," ID_J "," T_I "," T_E "}", IG_EBADKEY},
        {"{\"sub\":[\"" SUB "\"]," ID_O "," ID_J "," T_I "," T_E "}", IG_EBADKEY},
        {"{\"sub\":{\"id\":\"" SUB "\"}," ID_O "," ID_J "," T_I "," T_E "}", IG_EBADKEY},
        {"{\"sub\":\"9f86d081884c7d659a2feaa0c55ad01\"," ID_O "," ID_J "," T_I "," T_E "}", IG_EBADKEY},
        {"{\"sub\":\"9f86d081884c7d659a2feaa0c55ad0155\"," ID_O "," ID_J "," T_I "," T_E "}", IG_EBADKEY},
        {"{\"sub\":\"9F86D081884C7D659A2FEAA0C55AD015\"," ID_O "," ID_J "," T_I "," T_E "}", IG_EBADKEY},
        {"{\"sub\":\"9f86d081884c7d659a2feaa0c55ad01g\"," ID_O "," ID_J "," T_I "," T_E "}", IG_EBADKEY},
        {"{\"sub\":\"9f86d081884c7d659a2feaa0c55ad01 \"," ID_O "," ID_J "," T_I "," T_E "}", IG_EBADKEY},
        {"{\"sub\":\"" SUB "\\u0000\"," ID_O "," ID_J "," T_I "," T_E "}", IG_EBADKEY},
        {"{" ID_S ",\"org\":\"\"," ID_J "," T_I "," T_E "}", IG_EBADKEY},
        {"{" ID_S "," ID_O ",\"jti\":true," T_I "," T_E "}", IG_EBADKEY},
        /* ill-typed times */
        {"{" ID_S "," ID_O "," ID_J ",\"iat\":\"1767225600\"," T_E "}", IG_EBADKEY},
        {"{" ID_S "," ID_O "," ID_J ",\"iat\":1767225600.5," T_E "}", IG_EBADKEY},
        {"{" ID_S "," ID_O "," ID_J ",\"iat\":-1," T_E "}", IG_EBADKEY},
        {"{" ID_S "," ID_O "," ID_J ",\"iat\":null," T_E "}", IG_EBADKEY},
        {"{" ID_S "," ID_O "," ID_J "," T_I ",\"exp\":1e300}", IG_EBADKEY},
        {"{" ID_S "," ID_O "," ID_J "," T_I ",\"exp\":1e999}", IG_EBADKEY},
        {"{" ID_S "," ID_O "," ID_J "," T_I ",\"exp\":9007199254740992}", IG_EBADKEY}, /* 2^53 */
        {"{" ID_S "," ID_O "," ID_J "," T_I ",\"exp\":9007199254740991}", IG_OK},      /* 2^53 - 1 */
        {"{" ID_S "," ID_O "," ID_J "," T_I ",\"exp\":[1767229200]}", IG_EBADKEY},
        {"{" ID_S "," ID_O "," ID_J "," T_I ",\"exp\":false}", IG_EBADKEY},
        /* not an object, or not JSON */
        {"[]", IG_EBADKEY},
        {"[{" ID_S "," ID_O "," ID_J "," T_I "," T_E "}]", IG_EBADKEY},
        {"\"" SUB "\"", IG_EBADKEY},
        {"1767229200", IG_EBADKEY},
        {"{}", IG_EBADKEY},
        {"{" ID_S "," ID_O "," ID_J "," T_I "," T_E "", IG_EBADKEY},
        {"{" ID_S "," ID_O "," ID_J "," T_I "," T_E "}}", IG_EBADKEY},
        {"{" ID_S "," ID_O "," ID_J "," T_I "," T_E ",}", IG_EBADKEY},
        {"sub=" SUB, IG_EBADKEY},
    };
    for (size_t i = 0; i < IG_ARRAY_LEN(cases); i++) {
        size_t n = sign_json(STD_HDR, cases[i].p, tok);
        int rc = verify_n(tok, n);
        if (rc != cases[i].want) fprintf(stderr, "  payload case %zu: %s\n", i, cases[i].p);
        CHECK_EQ_INT(rc, cases[i].want);
    }
    /* sanity of the helper: the standard payload text matches what payload() builds */
    payload(p, sizeof p, SUB, IAT, EXP);
    CHECK_EQ_STR(p, STD_PAYLOAD);
#undef ID_S
#undef ID_O
#undef ID_J
#undef T_I
#undef T_E
}

TEST(segments)
{
    char tok[BIG], t[2 * BIG];
    size_t n = issue_std(tok, sizeof tok);
    const char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');

    snprintf(t, sizeof t, "%s.", tok); /* extra empty segment */
    CHECK_EQ_INT(verify_s(t), IG_EBADKEY);
    snprintf(t, sizeof t, "%s.%s", tok, d2 + 1); /* extra segment (a copy of the signature) */
    CHECK_EQ_INT(verify_s(t), IG_EBADKEY);
    snprintf(t, sizeof t, "%.*s", (int)(d2 - tok), tok); /* two segments */
    CHECK_EQ_INT(verify_s(t), IG_EBADKEY);
    snprintf(t, sizeof t, "%.*s", (int)(d1 - tok), tok); /* one segment */
    CHECK_EQ_INT(verify_s(t), IG_EBADKEY);
    snprintf(t, sizeof t, "%s", d1); /* empty header */
    CHECK_EQ_INT(verify_s(t), IG_EBADKEY);
    snprintf(t, sizeof t, "%.*s%s", (int)(d1 - tok + 1), tok, d2); /* empty payload */
    CHECK_EQ_INT(verify_s(t), IG_EBADKEY);
    snprintf(t, sizeof t, "%.*s", (int)(d2 - tok + 1), tok); /* empty signature */
    CHECK_EQ_INT(verify_s(t), IG_EBADKEY);
    CHECK_EQ_INT(verify_s(".."), IG_EBADKEY);
    CHECK_EQ_INT(verify_s("..."), IG_EBADKEY);
    CHECK_EQ_INT(verify_s("."), IG_EBADKEY);
    CHECK_EQ_INT(verify_s("a"), IG_EBADKEY);
    CHECK_EQ_INT(verify_n("", 0), IG_EBADKEY);
    {
        ig_token_claims_t out;
        CHECK_EQ_INT(ig_token_verify(g_key, IG_IOV_NULL, NOW, &out), IG_EBADKEY);
        CHECK_EQ_INT(ig_token_verify(g_key, ig_iov(NULL, 10), NOW, &out), IG_EBADKEY);
    }
    /* the token as given is fine; a Bearer prefix or surrounding space is the caller's to strip */
    CHECK_EQ_INT(verify_n(tok, n), IG_OK);
    snprintf(t, sizeof t, " %s", tok);
    CHECK_EQ_INT(verify_s(t), IG_EBADKEY);
    snprintf(t, sizeof t, "%s\n", tok);
    CHECK_EQ_INT(verify_s(t), IG_EBADKEY);
}

TEST(padding_and_alphabet)
{
    char tok[BIG], t[2 * BIG], h64[64], body[BIG];
    size_t n = issue_std(tok, sizeof tok), k;
    static const char bad_chars[] = {' ', '*', '!', '=', '+', '/', '\0', '\x80', '\xff', '%', '\t'};

    /* '=' after the signature: 44 chars, which the (padding-tolerant) decoder alone would accept */
    snprintf(t, sizeof t, "%s=", tok);
    CHECK_EQ_INT(verify_s(t), IG_EBADKEY);
    {
        uint8_t sig[32];
        size_t sl = 0;
        CHECK_EQ_INT(ig_b64_decode(ig_iov(strrchr(t, '.') + 1, 44), sig, sizeof sig, &sl), IG_OK);
        CHECK_EQ_INT(sl, 32);
    }
    snprintf(t, sizeof t, "%s==", tok);
    CHECK_EQ_INT(verify_s(t), IG_EBADKEY);

    /* a padded header (28 bytes: 38 chars + "=="), correctly signed over the padded text */
    k = ig_b64url_encode((const uint8_t *)"{\"alg\":\"HS256\",\"typ\":\"JWT\" }", 28, h64);
    CHECK_EQ_INT(k, 38);
    while (k % 4)
        h64[k++] = '=';
    h64[k] = '\0';
    {
        uint8_t mac[32];
        size_t pos;
        pos = (size_t)snprintf(body, sizeof body, "%s.", h64);
        pos += ig_b64url_encode((const uint8_t *)STD_PAYLOAD, strlen(STD_PAYLOAD), body + pos);
        CHECK_EQ_INT(ig_hmac_sha256(g_key, 32, body, pos, mac), IG_OK);
        body[pos++] = '.';
        pos += ig_b64url_encode(mac, 32, body + pos);
        CHECK_EQ_INT(verify_n(body, pos), IG_EBADKEY);
    }

    /* any non-base64url byte, in any segment */
    for (size_t i = 0; i < n; i++) {
        if (tok[i] == '.') continue;
        for (size_t j = 0; j < sizeof bad_chars; j++) {
            memcpy(t, tok, n);
            t[i] = bad_chars[j];
            CHECK_EQ_INT(verify_n(t, n), IG_EBADKEY);
        }
    }
}

TEST(standard_alphabet_signature)
{
    /* Find claims whose signature has a '-' or '_', then spell it in the standard alphabet ('+' or '/'):
     * same bytes to a lenient decoder, refused here. */
    char tok[BIG];
    ig_token_claims_t c = claims(SUB, IAT, EXP);
    size_t n = 0;
    bool done = false;
    for (int i = 0; i < 64 && !done; i++) {
        char *sig, *p;
        c.iat = IAT + i;
        CHECK_EQ_INT(ig_token_issue(g_key, &c, tok, sizeof tok, &n), IG_OK);
        sig = strrchr(tok, '.') + 1;
        p = strpbrk(sig, "-_");
        if (!p) continue;
        CHECK_EQ_INT(verify_exact_at(g_key, tok, n, c.iat, NULL), IG_OK);
        *p = *p == '-' ? '+' : '/';
        CHECK_EQ_INT(verify_exact_at(g_key, tok, n, c.iat, NULL), IG_EBADKEY);
        done = true;
    }
    CHECK(done);
}

TEST(non_canonical_signature)
{
    /* 43 chars carry 258 bits for 256: the last char's 2 low bits must be zero. */
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char tok[BIG];
    size_t n = issue_std(tok, sizeof tok);
    const char *pos = strchr(alpha, tok[n - 1]);
    size_t v = (size_t)(pos - alpha);
    CHECK(pos != NULL && (v & 3) == 0);
    for (size_t low = 1; low < 4; low++) {
        tok[n - 1] = alpha[v | low];
        CHECK_EQ_INT(verify_n(tok, n), IG_EBADKEY);
    }
}

TEST(signature_length)
{
    char tok[BIG], t[2 * BIG], sig64[128];
    size_t n = issue_std(tok, sizeof tok);
    const char *d2 = strrchr(tok, '.');
    uint8_t raw[64];

    CHECK_EQ_INT(verify_n(tok, n - 1), IG_EBADKEY); /* truncated by one char */
    CHECK_EQ_INT(verify_n(tok, n - 4), IG_EBADKEY);
    CHECK_EQ_INT(verify_n(tok, (size_t)(d2 - tok) + 2), IG_EBADKEY);
    /* 64 bytes (an HS512-sized signature) whose first 32 are the right MAC */
    memset(raw, 0, sizeof raw);
    CHECK_EQ_INT(ig_hmac_sha256(g_key, 32, tok, (size_t)(d2 - tok), raw), IG_OK);
    ig_b64url_encode(raw, 64, sig64);
    snprintf(t, sizeof t, "%.*s.%s", (int)(d2 - tok), tok, sig64);
    CHECK_EQ_INT(verify_s(t), IG_EBADKEY);
    ig_b64url_encode(raw, 33, sig64);
    snprintf(t, sizeof t, "%.*s.%s", (int)(d2 - tok), tok, sig64);
    CHECK_EQ_INT(verify_s(t), IG_EBADKEY);
    ig_b64url_encode(raw, 31, sig64);
    snprintf(t, sizeof t, "%.*s.%s", (int)(d2 - tok), tok, sig64);
    CHECK_EQ_INT(verify_s(t), IG_EBADKEY);
    ig_b64url_encode(raw, 32, sig64); /* control: the same MAC at the right length passes */
    snprintf(t, sizeof t, "%.*s.%s", (int)(d2 - tok), tok, sig64);
    CHECK_EQ_INT(verify_s(t), IG_OK);
}

TEST(alg_hs512_signature)
{
    /* a header claiming HS512 with a real 64-byte HMAC-SHA512 would need SHA-512: emulate its shape with an
     * HS512 header and 64 bytes; and an HS512 header with a valid HS256 MAC (covered in header_rules). */
    char tok[2 * BIG], body[BIG], sig64[128];
    uint8_t raw[64];
    size_t k = ig_b64url_encode((const uint8_t *)"{\"alg\":\"HS512\",\"typ\":\"JWT\"}", 27, body);
    body[k++] = '.';
    k += ig_b64url_encode((const uint8_t *)STD_PAYLOAD, strlen(STD_PAYLOAD), body + k);
    body[k] = '\0';
    CHECK_EQ_INT(ig_random(raw, sizeof raw), IG_OK);
    ig_b64url_encode(raw, 64, sig64);
    snprintf(tok, sizeof tok, "%s.%s", body, sig64);
    CHECK_EQ_INT(verify_s(tok), IG_EBADKEY);
}

TEST(time_rules)
{
    char tok[BIG];
    ig_token_claims_t c;
    size_t n = 0;
    int64_t now = IAT + 100;

    c = claims(SUB, IAT, now - 1); /* expired one second ago */
    CHECK_EQ_INT(ig_token_issue(g_key, &c, tok, sizeof tok, &n), IG_OK);
    CHECK_EQ_INT(verify_exact_at(g_key, tok, n, now, NULL), IG_EBADKEY);
    c = claims(SUB, IAT, now); /* expires exactly now */
    CHECK_EQ_INT(ig_token_issue(g_key, &c, tok, sizeof tok, &n), IG_OK);
    CHECK_EQ_INT(verify_exact_at(g_key, tok, n, now, NULL), IG_EBADKEY);
    CHECK_EQ_INT(verify_exact_at(g_key, tok, n, now - 1, NULL), IG_OK);
    c = claims(SUB, IAT, now + 1); /* one second left */
    CHECK_EQ_INT(ig_token_issue(g_key, &c, tok, sizeof tok, &n), IG_OK);
    CHECK_EQ_INT(verify_exact_at(g_key, tok, n, now, NULL), IG_OK);

    c = claims(SUB, now + IG_TOKEN_CLOCK_SKEW, now + 3600); /* iat at the skew limit */
    CHECK_EQ_INT(ig_token_issue(g_key, &c, tok, sizeof tok, &n), IG_OK);
    CHECK_EQ_INT(verify_exact_at(g_key, tok, n, now, NULL), IG_OK);
    c = claims(SUB, now + IG_TOKEN_CLOCK_SKEW + 1, now + 3600); /* one second beyond */
    CHECK_EQ_INT(ig_token_issue(g_key, &c, tok, sizeof tok, &n), IG_OK);
    CHECK_EQ_INT(verify_exact_at(g_key, tok, n, now, NULL), IG_EBADKEY);
    c = claims(SUB, now + 100000, now + 200000); /* far future */
    CHECK_EQ_INT(ig_token_issue(g_key, &c, tok, sizeof tok, &n), IG_OK);
    CHECK_EQ_INT(verify_exact_at(g_key, tok, n, now, NULL), IG_EBADKEY);

    /* exp <= iat in a signed token (issue refuses to make one) */
    {
        char p[512];
        payload(p, sizeof p, SUB, now + 30, now + 30);
        n = sign_json(STD_HDR, p, tok);
        CHECK_EQ_INT(verify_exact_at(g_key, tok, n, now, NULL), IG_EBADKEY);
        payload(p, sizeof p, SUB, now + 30, now + 20);
        n = sign_json(STD_HDR, p, tok);
        CHECK_EQ_INT(verify_exact_at(g_key, tok, n, now, NULL), IG_EBADKEY);
    }

    /* extreme clocks: no overflow (UBSan), expired at the top, iat in the future at the bottom */
    n = issue_std(tok, sizeof tok);
    CHECK_EQ_INT(verify_exact_at(g_key, tok, n, INT64_MAX, NULL), IG_EBADKEY);
    CHECK_EQ_INT(verify_exact_at(g_key, tok, n, INT64_MIN, NULL), IG_EBADKEY);
}

TEST(wrong_key)
{
    char tok[BIG];
    uint8_t k2[32];
    size_t n = issue_std(tok, sizeof tok);
    memcpy(k2, g_key, sizeof k2);
    k2[31] ^= 1;
    CHECK_EQ_INT(verify_exact_at(k2, tok, n, NOW, NULL), IG_EBADKEY);
    memset(k2, 0, sizeof k2);
    CHECK_EQ_INT(verify_exact_at(k2, tok, n, NOW, NULL), IG_EBADKEY);
    /* keys derived for another purpose do not verify session tokens */
    {
        uint8_t master[32], ks[32], kp[32];
        ig_token_claims_t c = claims(SUB, IAT, EXP);
        CHECK_EQ_INT(ig_random(master, sizeof master), IG_OK);
        CHECK_EQ_INT(ig_derive_key(master, "session-tokens", ks), IG_OK);
        CHECK_EQ_INT(ig_derive_key(master, "provider-keys", kp), IG_OK);
        CHECK_EQ_INT(ig_token_issue(ks, &c, tok, sizeof tok, &n), IG_OK);
        CHECK_EQ_INT(verify_exact_at(ks, tok, n, NOW, NULL), IG_OK);
        CHECK_EQ_INT(verify_exact_at(kp, tok, n, NOW, NULL), IG_EBADKEY);
        ig_wipe(master, sizeof master);
        ig_wipe(ks, sizeof ks);
        ig_wipe(kp, sizeof kp);
    }
}

/* A correctly signed token of exactly `len` bytes, made by padding the payload with JSON whitespace.
 * Returns false when no padding gives that length (len in the one residue base64 cannot produce). */
static bool sized_token(size_t len, char *out)
{
    static char p[BIG];
    size_t base = strlen(STD_PAYLOAD) - 1; /* without the closing '}' */
    for (size_t pad = 0; pad < 4000; pad++) {
        size_t pl = base + pad + 1, n;
        if (36 + 1 + (pl / 3 * 4 + (pl % 3 ? pl % 3 + 1 : 0)) + 1 + 43 != len) continue;
        memcpy(p, STD_PAYLOAD, base);
        memset(p + base, ' ', pad);
        p[base + pad] = '}';
        p[base + pad + 1] = '\0';
        n = sign_json(STD_HDR, p, out);
        return n == len;
    }
    return false;
}

TEST(length_limit)
{
    static char tok[BIG];
    CHECK(sized_token(IG_TOKEN_MAX_LEN, tok));
    CHECK_EQ_INT(verify_n(tok, IG_TOKEN_MAX_LEN), IG_OK); /* exactly 4 KiB: accepted */
    CHECK(sized_token(IG_TOKEN_MAX_LEN + 1, tok));        /* one byte more: refused */
    CHECK_EQ_INT(verify_n(tok, IG_TOKEN_MAX_LEN + 1), IG_EBADKEY);
    CHECK_EQ_INT(verify_exact_at(g_key, tok, IG_TOKEN_MAX_LEN + 1, NOW, NULL), IG_EBADKEY);
    CHECK(sized_token(5000, tok));
    CHECK_EQ_INT(verify_n(tok, 5000), IG_EBADKEY); /* well-formed, correctly signed, too long */
    memset(tok, 'A', 5000);
    tok[100] = tok[200] = '.';
    CHECK_EQ_INT(verify_n(tok, 5000), IG_EBADKEY);
}

TEST(reads_only_len_bytes)
{
    /* a valid token followed by more bytes in the same buffer: only token.len counts */
    char tok[BIG];
    ig_token_claims_t out;
    size_t n = issue_std(tok, sizeof tok);
    memcpy(tok + n, ".garbage", 9);
    CHECK_EQ_INT(ig_token_verify(g_key, ig_iov(tok, n), NOW, &out), IG_OK);
    CHECK_EQ_INT(ig_token_verify(g_key, ig_iov(tok, n + 8), NOW, &out), IG_EBADKEY);
}

TEST(out_untouched_on_failure)
{
    char tok[BIG];
    ig_token_claims_t out, before;
    size_t n = issue_std(tok, sizeof tok);
    memset(&out, 0x5a, sizeof out);
    before = out;
    CHECK_EQ_INT(verify_exact_at(g_key, tok, n, EXP, &out), IG_EBADKEY); /* everything valid but expired */
    CHECK(memcmp(&out, &before, sizeof out) == 0);
}

int main(void)
{
    load_key();
    RUN(round_trip);
    RUN(new_jti);
    RUN(csrf_token);
    RUN(interop_python);
    RUN(issue_rejects_bad_claims);
    RUN(bit_flips_everywhere);
    RUN(swapped_payloads);
    RUN(alg_none);
    RUN(header_rules);
    RUN(payload_rules);
    RUN(segments);
    RUN(padding_and_alphabet);
    RUN(standard_alphabet_signature);
    RUN(non_canonical_signature);
    RUN(signature_length);
    RUN(alg_hs512_signature);
    RUN(time_rules);
    RUN(wrong_key);
    RUN(length_limit);
    RUN(reads_only_len_bytes);
    RUN(out_untouched_on_failure);
    UNIT_DONE();
}

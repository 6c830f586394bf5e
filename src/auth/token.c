/*
 * token.c — HS256 session tokens (format and contracts in token.h).
 *
 * Verification order matters. The length bound and the segment and alphabet checks come first and touch
 * only the token bytes. Then the MAC over the first two segments, exactly as received, is compared with the
 * decoded signature in constant time. Only a token that we signed is ever decoded and given to the JSON
 * parser, so parser bugs are not reachable by anonymous input, and "alg" in the header is checked but never
 * used to choose anything: HS256 is the only algorithm this code computes, which rules out "none" and
 * algorithm-confusion attacks by construction.
 *
 * cJSON is lenient where JWT verification must not be, so we add the missing rules: duplicate names are
 * found by walking each object's members against a whitelist with a seen-bitmask; decoded JSON must be
 * printable ASCII without any backslash, which keeps "\u0000" (cJSON would cut its C strings there, so
 * "HS256\u0000x" would read as "HS256") and every other escape out (nothing we issue needs one); and the
 * parse must consume the whole text (require_null_terminated on an exactly-sized, NUL-terminated copy).
 *
 * Issuing formats the payload with snprintf rather than cJSON: every value is checked first (hex ids,
 * integers in range), so no escaping is ever needed, and there is no allocation and no number formatting
 * to get wrong (cJSON prints doubles, which would put large times in exponent form).
 */
#include "auth/token.h"
#include "core/json.h"
#include "core/err.h"
#include "crypto/crypto.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>

#define HEADER_JSON "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define SIG_LEN     32                         /* HMAC-SHA256 */
#define SIG_B64_LEN 43                         /* ceil(32 * 4 / 3) chars, unpadded */
#define DECODED_MAX (IG_TOKEN_MAX_LEN / 4 * 3) /* a segment shorter than the token decodes to less */
#define PAYLOAD_MAX 256                        /* our payload is at most ~190 bytes */
#define B64_LEN(n)  ((n) / 3 * 4 + ((n) % 3 ? (n) % 3 + 1 : 0))

/* Header members: bit in the seen-mask. */
enum { H_ALG = 1u << 0, H_TYP = 1u << 1 };
/* Payload members: all five are required. */
enum { P_SUB = 1u << 0, P_ORG = 1u << 1, P_JTI = 1u << 2, P_IAT = 1u << 3, P_EXP = 1u << 4, P_ALL = 0x1f };

static bool is_b64url_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* A NUL-terminated id of exactly IG_TOKEN_ID_LEN chars of [0-9a-f], read at most IG_TOKEN_ID_LEN + 1 bytes.
 */
static bool id_valid(const char *s)
{
    if (strnlen(s, IG_TOKEN_ID_LEN + 1) != IG_TOKEN_ID_LEN) return false;
    for (size_t i = 0; i < IG_TOKEN_ID_LEN; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

static bool times_valid(int64_t iat, int64_t exp)
{
    return iat >= 0 && exp > iat && exp <= IG_TOKEN_MAX_SECONDS;
}

int ig_token_new_jti(char out[IG_TOKEN_ID_LEN + 1])
{
    uint8_t rnd[IG_TOKEN_ID_LEN / 2];
    int rc = ig_random(rnd, sizeof rnd);
    if (rc != IG_OK) goto out;
    ig_hex_encode(rnd, sizeof rnd, out);
out:
    if (rc != IG_OK) out[0] = '\0';
    ig_wipe(rnd, sizeof rnd);
    return rc;
}

int ig_token_csrf(const uint8_t key[IG_TOKEN_KEY_LEN], const char *jti, char out[IG_TOKEN_CSRF_LEN + 1])
{
    char msg[5 + IG_TOKEN_ID_LEN];
    size_t jl = strnlen(jti, IG_TOKEN_ID_LEN);
    memcpy(msg, "csrf:", 5);
    memcpy(msg + 5, jti, jl);
    uint8_t mac[32];
    out[0] = '\0';
    if (ig_hmac_sha256(key, IG_TOKEN_KEY_LEN, msg, 5 + jl, mac) != IG_OK) return IG_ECRYPTO;
    size_t n = ig_b64url_encode(mac, sizeof mac, out);
    out[n] = '\0';
    ig_wipe(mac, sizeof mac);
    return IG_OK;
}

int ig_token_issue(const uint8_t key[IG_TOKEN_KEY_LEN], const ig_token_claims_t *c, char *out, size_t cap,
                   size_t *outlen)
{
    int rc = IG_EINVAL;
    char payload[PAYLOAD_MAX];
    uint8_t mac[SIG_LEN];
    size_t pos = 0, plen, hlen = sizeof HEADER_JSON - 1, total;
    int n;

    if (!key || !c || !id_valid(c->sub) || !id_valid(c->org) || !id_valid(c->jti) ||
        !times_valid(c->iat, c->exp))
        goto out;
    n = snprintf(payload, sizeof payload,
                 "{\"sub\":\"%s\",\"org\":\"%s\",\"jti\":\"%s\",\"iat\":%" PRId64 ",\"exp\":%" PRId64 "}",
                 c->sub, c->org, c->jti, c->iat, c->exp);
    if (n < 0 || (size_t)n >= sizeof payload) { /* cannot happen with validated claims */
        rc = IG_EINTERNAL;
        goto out;
    }
    plen = (size_t)n;
    total = B64_LEN(hlen) + 1 + B64_LEN(plen) + 1 + SIG_B64_LEN;
    if (!out || cap <= total) {
        rc = IG_ETOOBIG;
        goto out;
    }
    pos = ig_b64url_encode((const uint8_t *)HEADER_JSON, hlen, out);
    out[pos++] = '.';
    pos += ig_b64url_encode((const uint8_t *)payload, plen, out + pos);
    rc = ig_hmac_sha256(key, IG_TOKEN_KEY_LEN, out, pos, mac);
    if (rc != IG_OK) goto out;
    out[pos++] = '.';
    pos += ig_b64url_encode(mac, sizeof mac, out + pos); /* NUL-terminates */
    if (outlen) *outlen = pos;
out:
    if (rc != IG_OK && out && cap > 0) ig_wipe(out, IG_MIN(cap, pos + 1));
    ig_wipe(mac, sizeof mac);
    return rc;
}

/* Decodes one base64url segment (alphabet already checked) into buf (DECODED_MAX + 1 bytes) and parses it
 * as JSON. NULL unless the decoded text is printable ASCII (plus JSON whitespace) without a backslash and
 * parses completely. The caller frees the result with cJSON_Delete. */
static cJSON *parse_segment(ig_iov_t seg, char *buf)
{
    size_t n = 0;
    if (ig_b64_decode(seg, (uint8_t *)buf, DECODED_MAX, &n) != IG_OK) return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)buf[i];
        bool ok = (ch >= 0x20 && ch <= 0x7e && ch != '\\') || ch == '\t' || ch == '\n' || ch == '\r';
        if (!ok) return NULL;
    }
    buf[n] = '\0';
    /* n + 1 with require_null_terminated: the parse must end (after whitespace) exactly at our NUL. */
    return ig_json_parse_raw(buf, n + 1, NULL, true);
}

/* {"alg":"HS256"} with an optional "typ":"JWT" and nothing else. */
static bool header_valid(const cJSON *h)
{
    unsigned seen = 0, bit;
    if (!cJSON_IsObject(h)) return false;
    for (const cJSON *m = h->child; m; m = m->next) {
        if (!m->string || !cJSON_IsString(m) || !m->valuestring) return false;
        if (strcmp(m->string, "alg") == 0) {
            bit = H_ALG;
            if (strcmp(m->valuestring, "HS256") != 0) return false;
        } else if (strcmp(m->string, "typ") == 0) {
            bit = H_TYP;
            if (strcmp(m->valuestring, "JWT") != 0) return false;
        } else {
            return false;
        }
        if (seen & bit) return false;
        seen |= bit;
    }
    return (seen & H_ALG) != 0;
}

/* A JSON number with an integral value in 0..IG_TOKEN_MAX_SECONDS (NaN and infinities fail the range). */
static bool get_seconds(const cJSON *m, int64_t *v)
{
    double d;
    if (!cJSON_IsNumber(m)) return false;
    d = m->valuedouble;
    if (!(d >= 0.0 && d <= (double)IG_TOKEN_MAX_SECONDS)) return false;
    if ((double)(int64_t)d != d) return false;
    *v = (int64_t)d;
    return true;
}

static bool get_id(const cJSON *m, char out[IG_TOKEN_ID_LEN + 1])
{
    if (!cJSON_IsString(m) || !m->valuestring || !id_valid(m->valuestring)) return false;
    memcpy(out, m->valuestring, IG_TOKEN_ID_LEN + 1);
    return true;
}

/* Exactly the five claims, each once and well-typed, into *c. */
static bool payload_valid(const cJSON *p, ig_token_claims_t *c)
{
    unsigned seen = 0, bit;
    bool ok;
    if (!cJSON_IsObject(p)) return false;
    for (const cJSON *m = p->child; m; m = m->next) {
        if (!m->string) return false;
        if (strcmp(m->string, "sub") == 0) {
            bit = P_SUB, ok = get_id(m, c->sub);
        } else if (strcmp(m->string, "org") == 0) {
            bit = P_ORG, ok = get_id(m, c->org);
        } else if (strcmp(m->string, "jti") == 0) {
            bit = P_JTI, ok = get_id(m, c->jti);
        } else if (strcmp(m->string, "iat") == 0) {
            bit = P_IAT, ok = get_seconds(m, &c->iat);
        } else if (strcmp(m->string, "exp") == 0) {
            bit = P_EXP, ok = get_seconds(m, &c->exp);
        } else {
            return false;
        }
        if (!ok || (seen & bit)) return false;
        seen |= bit;
    }
    return seen == P_ALL;
}

int ig_token_verify(const uint8_t key[IG_TOKEN_KEY_LEN], ig_iov_t token, int64_t now_s,
                    ig_token_claims_t *out)
{
    int rc = IG_EBADKEY;
    uint8_t sig[SIG_LEN], mac[SIG_LEN];
    char json[DECODED_MAX + 1];
    const char *p = token.base, *d1, *d2;
    ig_iov_t seg[3];
    size_t siglen = 0;
    ig_token_claims_t c;
    cJSON *root = NULL;

    memset(&c, 0, sizeof c);
    if (!key || !out || !p || token.len == 0 || token.len > IG_TOKEN_MAX_LEN) goto out;
    d1 = memchr(p, '.', token.len);
    if (!d1) goto out;
    d2 = memchr(d1 + 1, '.', token.len - (size_t)(d1 + 1 - p));
    if (!d2) goto out;
    seg[0] = ig_iov(p, (size_t)(d1 - p));
    seg[1] = ig_iov(d1 + 1, (size_t)(d2 - d1 - 1));
    seg[2] = ig_iov(d2 + 1, token.len - (size_t)(d2 + 1 - p));
    /* Non-empty, base64url alphabet only: this also refuses a fourth segment ('.'), '=' padding and the
     * standard alphabet's '+' and '/', which ig_b64_decode would otherwise accept. */
    for (size_t i = 0; i < 3; i++) {
        if (seg[i].len == 0) goto out;
        for (size_t k = 0; k < seg[i].len; k++)
            if (!is_b64url_char((unsigned char)seg[i].base[k])) goto out;
    }
    /* The decoder is strict about unused bits, so each signature has exactly one accepted spelling. */
    if (seg[2].len != SIG_B64_LEN || ig_b64_decode(seg[2], sig, sizeof sig, &siglen) != IG_OK ||
        siglen != SIG_LEN)
        goto out;
    if (ig_hmac_sha256(key, IG_TOKEN_KEY_LEN, p, (size_t)(d2 - p), mac) != IG_OK) {
        rc = IG_ECRYPTO;
        goto out;
    }
    if (!ig_ct_equal(mac, sig, SIG_LEN)) goto out;

    root = parse_segment(seg[0], json);
    if (!header_valid(root)) goto out;
    cJSON_Delete(root);
    root = parse_segment(seg[1], json);
    if (!payload_valid(root, &c)) goto out;

    /* Expired at exactly exp; iat may be a little ahead (clock skew); iat and exp are <= 2^53 - 1, so the
     * subtraction cannot overflow whatever now_s is. */
    if (c.exp <= now_s || c.iat - IG_TOKEN_CLOCK_SKEW > now_s || c.exp <= c.iat) goto out;
    *out = c;
    rc = IG_OK;
out:
    cJSON_Delete(root);
    ig_wipe(sig, sizeof sig);
    ig_wipe(mac, sizeof mac);
    return rc;
}

/*
 * json.c — strict JSON on top of cJSON in three steps:
 *
 * 1. scan(): one linear pass over the raw bytes, tracking whether we are inside a string. It enforces
 *    everything cJSON does not: UTF-8 validity (RFC 3629, Unicode table 3-7), no NUL byte, no \u0000, paired
 *    surrogate escapes, valid escapes, no raw control characters in strings, JSON whitespace only (cJSON
 *    skips every byte <= 0x20 as whitespace, NUL included), no BOM (cJSON skips one silently), the RFC 8259
 *    number grammar (cJSON hands anything made of [0-9+-.eE] to strtod: 01, 1., -.5 pass), the nesting
 *    depth, and balanced brackets. Because nesting is counted here, cJSON never recurses deeper than
 *    max_depth and never allocates a tree for a document we will refuse for its depth.
 * 2. cJSON_ParseWithLengthOpts() with require_null_terminated = 0: with a length, the "null terminated"
 *    option demands a NUL *inside* the length, so we take the parse end and check the rest is whitespace
 *    ourselves (cJSON otherwise accepts "[1]x"). cJSON 1.7.15 reads only within the given length, so the
 *    input is not copied.
 * 3. check_tree(): duplicate keys per object (pairwise for small objects, sorted for large ones) and
 *    number range (strtod turns 1e999 into infinity; see IG_JSON_MAX_MAGNITUDE for the upper bound).
 *
 * Keys compare with strcmp: after step 1 no string can contain a NUL, so that is exact byte comparison.
 */
#include "core/json.h"

#include <pthread.h>
#include "core/err.h"

#include <math.h>
#include <stdlib.h>

/* Objects up to this many keys are checked pairwise (<= 496 comparisons); larger ones are sorted. */
#define DUP_PAIRWISE_MAX 32

static const char WHY_SYNTAX[] = "syntax error";

static bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* Length (2..4) of the well-formed UTF-8 sequence at s[0] (a byte >= 0x80), or 0 when it is invalid:
 * continuation or C0/C1 lead bytes (overlongs), E0 overlongs, ED A0..BF (surrogates), F0 overlongs,
 * F4 90.. and F5..FF (> U+10FFFF), or a sequence cut short by the end of the input. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    size_t len = 0;

    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t k = 2; k < len; k++)
        if (s[k] < 0x80 || s[k] > 0xBF) return 0;
    return len;
}

/* Value of the 4 hex digits at s (n bytes available), or -1. */
static long hex4(const unsigned char *s, size_t n)
{
    long v = 0;
    if (n < 4) return -1;
    for (size_t k = 0; k < 4; k++) {
        unsigned char c = s[k];
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* The backslash escape at p[*i] (p[*i] == '\\'). Advances *i past it. */
static const char *scan_escape(const unsigned char *p, size_t n, size_t *i)
{
    const char *why = NULL;
    size_t at = *i;
    long cp, lo;

    if (n - at < 2) {
        why = "unterminated string";
        goto out;
    }
    switch (p[at + 1]) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
        *i = at + 2;
        goto out;
    case 'u':
        break;
    default:
        why = "invalid escape";
        goto out;
    }
    cp = hex4(p + at + 2, n - at - 2);
    if (cp < 0) {
        why = "invalid escape";
    } else if (cp == 0) {
        why = "\\u0000 escape";
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        why = "unpaired surrogate escape";
    } else if (cp >= 0xD800 && cp <= 0xDBFF) {
        /* a high surrogate must be followed at once by \u + a low surrogate */
        if (n - at < 12 || p[at + 6] != '\\' || p[at + 7] != 'u') {
            why = "unpaired surrogate escape";
            goto out;
        }
        lo = hex4(p + at + 8, 4);
        if (lo < 0xDC00 || lo > 0xDFFF) {
            why = lo < 0 ? "invalid escape" : "unpaired surrogate escape";
            goto out;
        }
        *i = at + 12;
    } else {
        *i = at + 6;
    }
out:
    return why;
}

/* The string starting at p[*i] == '"'. Advances *i past the closing quote. */
static const char *scan_string(const unsigned char *p, size_t n, size_t *i)
{
    const char *why = NULL;
    size_t at = *i + 1;

    for (;;) {
        /* fast path: printable ASCII other than the quote and the backslash (DEL is allowed by RFC 8259) */
        while (at < n && p[at] >= 0x20 && p[at] < 0x80 && p[at] != '"' && p[at] != '\\')
            at++;
        if (at == n) {
            why = "unterminated string";
            goto out;
        }
        unsigned char c = p[at];
        if (c == '"') {
            at++;
            goto out;
        } else if (c == '\\') {
            why = scan_escape(p, n, &at);
            if (why) goto out;
        } else if (c == 0) {
            why = "NUL byte";
            goto out;
        } else if (c < 0x20) {
            why = "control character in string";
            goto out;
        } else {
            size_t k = utf8_seq(p + at, n - at);
            if (k == 0) {
                why = "invalid UTF-8";
                goto out;
            }
            at += k;
        }
    }
out:
    *i = at;
    return why;
}

/* The number starting at p[*i] ('-' or a digit): -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, and the
 * token must end there (cJSON would otherwise read "01" as 1). Advances *i past it. */
static const char *scan_number(const unsigned char *p, size_t n, size_t *i)
{
    static const char bad[] = "invalid number";
    const char *why = NULL;
    size_t at = *i;

    if (p[at] == '-') at++;
    if (at < n && p[at] == '0') {
        at++;
    } else if (at < n && p[at] >= '1' && p[at] <= '9') {
        while (at < n && is_digit(p[at]))
            at++;
    } else {
        why = bad;
        goto out;
    }
    if (at < n && p[at] == '.') {
        at++;
        if (at == n || !is_digit(p[at])) {
            why = bad;
            goto out;
        }
        while (at < n && is_digit(p[at]))
            at++;
    }
    if (at < n && (p[at] == 'e' || p[at] == 'E')) {
        at++;
        if (at < n && (p[at] == '+' || p[at] == '-')) at++;
        if (at == n || !is_digit(p[at])) {
            why = bad;
            goto out;
        }
        while (at < n && is_digit(p[at]))
            at++;
    }
    if (at < n &&
        (is_digit(p[at]) || p[at] == '.' || p[at] == 'e' || p[at] == 'E' || p[at] == '+' || p[at] == '-'))
        why = bad;
out:
    *i = at;
    return why;
}

/* Step 1: the linear pre-pass over the whole input. NULL when cJSON may parse it. */
static const char *scan(const unsigned char *p, size_t n, int max_depth)
{
    const char *why = NULL;
    size_t i = 0;
    long depth = 0;

    while (i < n) {
        unsigned char c = p[i];
        if (c == '"') {
            why = scan_string(p, n, &i);
            if (why) goto out;
        } else if (c == '-' || is_digit(c)) {
            why = scan_number(p, n, &i);
            if (why) goto out;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth || depth > CJSON_NESTING_LIMIT) {
                why = "nesting too deep";
                goto out;
            }
            i++;
        } else if (c == ']' || c == '}') {
            if (depth == 0) {
                why = WHY_SYNTAX;
                goto out;
            }
            depth--;
            i++;
        } else if (c >= 0x21 && c <= 0x7E) {
            i++; /* literals, ':' and ',': cJSON checks the grammar */
        } else if (is_ws(c)) {
            i++;
        } else if (c == 0) {
            why = "NUL byte";
            goto out;
        } else if (c >= 0x80) {
            /* a BOM or any other character outside a string is a syntax error, if it is UTF-8 at all */
            why = utf8_seq(p + i, n - i) ? WHY_SYNTAX : "invalid UTF-8";
            goto out;
        } else {
            why = "control character outside string"; /* cJSON would skip it as whitespace */
            goto out;
        }
    }
    if (depth != 0) why = WHY_SYNTAX; /* unbalanced: truncated input */
out:
    return why;
}

/* Step 3 state: a scratch array reused by every large object. */
typedef struct {
    const char **keys;
    size_t cap;
} dupscratch_t;

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* IG_OK, IG_EBADJSON (duplicate key) or IG_ENOMEM, for the members of one object. */
static int check_dups(const cJSON *first, dupscratch_t *s)
{
    int rc = IG_OK;
    size_t n = 0;
    const cJSON *a, *b;

    for (a = first; a; a = a->next)
        n++;
    if (n <= DUP_PAIRWISE_MAX) {
        for (a = first; a; a = a->next)
            for (b = first; b != a; b = b->next)
                if (strcmp(a->string, b->string) == 0) {
                    rc = IG_EBADJSON;
                    goto out;
                }
        goto out;
    }
    if (n > s->cap) {
        const char **k = realloc(s->keys, n * sizeof *k);
        if (!k) {
            rc = IG_ENOMEM;
            goto out;
        }
        s->keys = k;
        s->cap = n;
    }
    n = 0;
    for (a = first; a; a = a->next)
        s->keys[n++] = a->string;
    qsort(s->keys, n, sizeof *s->keys, cmp_key);
    for (size_t k = 1; k < n; k++)
        if (strcmp(s->keys[k - 1], s->keys[k]) == 0) {
            rc = IG_EBADJSON;
            goto out;
        }
out:
    return rc;
}

/* Recursion depth is bounded by the nesting that scan() allowed. */
static int check_tree(const cJSON *it, dupscratch_t *s, const char **why)
{
    int rc = IG_OK;

    if (cJSON_IsNumber(it)) {
        if (!isfinite(it->valuedouble)) {
            rc = IG_EBADJSON;
            *why = "number is not finite";
        } else if (fabs(it->valuedouble) > IG_JSON_MAX_MAGNITUDE) {
            rc = IG_EBADJSON;
            *why = "number out of range";
        }
        goto out;
    }
    if (cJSON_IsObject(it)) {
        rc = check_dups(it->child, s);
        if (rc == IG_EBADJSON) *why = "duplicate key";
        if (rc) goto out;
    }
    if (cJSON_IsObject(it) || cJSON_IsArray(it))
        for (const cJSON *c = it->child; c; c = c->next) {
            rc = check_tree(c, s, why);
            if (rc) goto out;
        }
out:
    return rc;
}

int ig_json_parse(ig_iov_t in, const ig_json_limits_t *lim, cJSON **out, const char **why)
{
    const ig_json_limits_t deflim = IG_JSON_LIMITS_DEFAULT;
    const unsigned char *p = (const unsigned char *)in.base;
    const char *reason = NULL, *end = NULL;
    dupscratch_t scratch = {NULL, 0};
    cJSON *root = NULL;
    int rc = IG_EBADJSON;

    if (out) *out = NULL;
    if (!lim) lim = &deflim;
    if (!out || lim->max_depth < 0 || (!in.base && in.len)) {
        rc = IG_EINVAL;
        reason = "invalid arguments";
        goto out;
    }
    if (in.len > lim->max_bytes) {
        rc = IG_ETOOBIG;
        reason = "too large";
        goto out;
    }
    if (in.len == 0) {
        reason = "empty input";
        goto out;
    }
    reason = scan(p, in.len, lim->max_depth);
    if (reason) goto out;

    root = ig_json_parse_raw(in.base, in.len, &end, false);
    if (!root || !end || end < in.base || end > in.base + in.len) {
        reason = WHY_SYNTAX;
        goto out;
    }
    for (const char *t = end; t < in.base + in.len; t++)
        if (!is_ws((unsigned char)*t)) {
            reason = "trailing data after the value";
            goto out;
        }
    rc = check_tree(root, &scratch, &reason);
    if (rc) goto out;
    *out = root;
    root = NULL;
    reason = NULL;
out:
    free(scratch.keys);
    cJSON_Delete(root);
    if (rc == IG_ENOMEM) reason = "out of memory";
    if (why) *why = reason;
    return rc;
}

/* The member `key` of object `obj`: IG_OK, IG_ENOTFOUND or IG_EINVAL (obj is not an object). */
static int member(const cJSON *obj, const char *key, const cJSON **item)
{
    if (!cJSON_IsObject(obj) || !key) return IG_EINVAL;
    *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    return *item ? IG_OK : IG_ENOTFOUND;
}

int ig_json_get_str(const cJSON *obj, const char *key, const char **val, size_t *len)
{
    const cJSON *it = NULL;
    int rc = member(obj, key, &it);

    if (rc) goto out;
    if (!cJSON_IsString(it) || !it->valuestring) {
        rc = IG_EINVAL;
        goto out;
    }
    *val = it->valuestring;
    if (len) *len = strlen(it->valuestring);
out:
    return rc;
}

int ig_json_get_int(const cJSON *obj, const char *key, int64_t *val)
{
    const double limit = 9007199254740992.0; /* 2^53 */
    const cJSON *it = NULL;
    int rc = member(obj, key, &it);

    if (rc) goto out;
    if (!cJSON_IsNumber(it)) {
        rc = IG_EINVAL;
        goto out;
    }
    double d = it->valuedouble;
    /* !(x < limit) also catches NaN */
    if (!(fabs(d) < limit) || d != trunc(d)) {
        rc = IG_EINVAL;
        goto out;
    }
    *val = (int64_t)d;
out:
    return rc;
}

int ig_json_get_bool(const cJSON *obj, const char *key, bool *val)
{
    const cJSON *it = NULL;
    int rc = member(obj, key, &it);

    if (rc) goto out;
    if (!cJSON_IsBool(it)) {
        rc = IG_EINVAL;
        goto out;
    }
    *val = cJSON_IsTrue(it);
out:
    return rc;
}

int ig_json_only_keys(const cJSON *obj, const char *const *allowed, const char **bad)
{
    int rc = IG_OK;

    if (bad) *bad = NULL;
    if (!cJSON_IsObject(obj) || !allowed) {
        rc = IG_EINVAL;
        goto out;
    }
    for (const cJSON *c = obj->child; c; c = c->next) {
        const char *const *a = allowed;
        while (*a && (!c->string || strcmp(*a, c->string) != 0))
            a++;
        if (!*a) {
            rc = IG_EINVAL;
            if (bad) *bad = c->string;
            goto out;
        }
    }
out:
    return rc;
}

/* The escape for byte c (a control character, '"' or '\\') into esc; returns its length. */
static size_t escape_byte(unsigned char c, char *esc)
{
    static const char hexd[] = "0123456789abcdef";
    size_t len = 2;

    esc[0] = '\\';
    switch (c) {
    case '"':
    case '\\':
        esc[1] = (char)c;
        break;
    case '\b':
        esc[1] = 'b';
        break;
    case '\f':
        esc[1] = 'f';
        break;
    case '\n':
        esc[1] = 'n';
        break;
    case '\r':
        esc[1] = 'r';
        break;
    case '\t':
        esc[1] = 't';
        break;
    default:
        memcpy(esc + 1, "u00", 3);
        esc[4] = hexd[c >> 4];
        esc[5] = hexd[c & 0xF];
        len = 6;
        break;
    }
    return len;
}

int ig_json_append_str(ig_buf_t *b, ig_iov_t s)
{
    const unsigned char *p = (const unsigned char *)(s.base ? s.base : "");
    const size_t mark = b->len;
    size_t i = 0, run = 0; /* p[run..i) is pending output that needs no escaping */
    char esc[8];
    int rc = ig_buf_append(b, "\"", 1);

    while (rc == IG_OK && i < s.len) {
        unsigned char c = p[i];
        size_t elen;
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        if (c >= 0x80) {
            size_t k = utf8_seq(p + i, s.len - i);
            if (k) {
                i += k;
                continue;
            }
            memcpy(esc, "\\ufffd", 6);
            elen = 6;
        } else {
            elen = escape_byte(c, esc);
        }
        rc = ig_buf_append(b, p + run, i - run);
        if (rc == IG_OK) rc = ig_buf_append(b, esc, elen);
        run = ++i;
    }
    if (rc == IG_OK) rc = ig_buf_append(b, p + run, i - run);
    if (rc == IG_OK) rc = ig_buf_append(b, "\"", 1);
    if (rc) b->len = mark;
    return rc;
}

static pthread_mutex_t g_parse_mu = PTHREAD_MUTEX_INITIALIZER;

cJSON *ig_json_parse_raw(const char *p, size_t len, const char **end, bool require_nul)
{
    pthread_mutex_lock(&g_parse_mu);
    cJSON *r = cJSON_ParseWithLengthOpts(p, len, end, require_nul);
    pthread_mutex_unlock(&g_parse_mu);
    return r;
}

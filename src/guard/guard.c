/*
 * guard.c — request guardrails (contract in guard.h).
 *
 * The body walker is a small pushdown recognizer of RFC 8259 JSON (whitespace is space, tab, CR, LF; strict
 * numbers and literals; escapes checked), lenient only where cJSON is: raw control bytes and invalid UTF-8
 * inside strings pass. It builds no tree, so an unchanged body costs one pass and no allocation per value,
 * and a redacted one is the input with only the changed string tokens replaced (their values re-escaped,
 * see put_json_str). Decoded values and redacted copies live in "secret" buffers: wiped when they grow
 * and when freed, since they hold the client's text.
 */
#include "guard/guard.h"
#include "core/err.h"
#include "core/json.h"
#include "crypto/crypto.h"

#include <stdio.h>

/* walk(): the body is not JSON (positive: never an ig_err_t) */
#define NOT_JSON 1

typedef struct {
    const ig_guardset_t *set;
    const ig_redactor_t *r;
    const char *p;
    size_t n;
    ig_buf_t *out; /* the rewritten body (NULL: findings only) */
    size_t out0;   /* out->len before the walk */
    size_t done;   /* p[0..done) is accounted for in out */
    bool changed;  /* some value was rewritten */
    ig_buf_t dec;  /* the decoded value */
    ig_buf_t red;  /* its redacted copy */
    ig_guard_result_t *res;
} walk_t;

static bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_digit(unsigned char c)
{
    return (unsigned)(c - '0') < 10u;
}

static int hexval(unsigned char c)
{
    if (is_digit(c)) return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static long hex4(const char *s)
{
    long v = 0;
    for (int k = 0; k < 4; k++) {
        int d = hexval((unsigned char)s[k]);
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

static int put_utf8(ig_buf_t *b, unsigned long cp)
{
    char o[4];
    size_t n;
    if (cp < 0x80) {
        o[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        o[0] = (char)(0xF0 | (cp >> 18));
        o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return ig_buf_append(b, o, n);
}

/*
 * The string token whose opening quote is at p[q]: *tend = the offset past its closing quote. With dec !=
 * NULL its decoded value is written there (a lone surrogate escape becomes U+FFFD, as cJSON reads it).
 * NOT_JSON: unterminated, or an invalid escape.
 */
static int string_at(const char *p, size_t n, size_t q, ig_buf_t *dec, size_t *tend)
{
    size_t i = q + 1, run = i;
    int rc = IG_OK;
    if (dec) ig_buf_reset(dec);
    for (;;) {
        const char *quote = memchr(p + i, '"', n - i);
        if (!quote) return NOT_JSON;
        const char *bs = memchr(p + i, '\\', (size_t)(quote - (p + i)));
        if (!bs) {
            size_t e = (size_t)(quote - p);
            if (dec) rc = ig_buf_append(dec, p + run, e - run);
            *tend = e + 1;
            return rc;
        }
        size_t b = (size_t)(bs - p);
        if (dec && (rc = ig_buf_append(dec, p + run, b - run))) return rc;
        if (b + 1 >= n) return NOT_JSON;
        char c = p[b + 1], lit = 0;
        size_t len = 2;
        long cp = -1;
        switch (c) {
        case '"':
        case '\\':
        case '/':
            lit = c;
            break;
        case 'b':
            lit = '\b';
            break;
        case 'f':
            lit = '\f';
            break;
        case 'n':
            lit = '\n';
            break;
        case 'r':
            lit = '\r';
            break;
        case 't':
            lit = '\t';
            break;
        case 'u':
            if (n - b < 6 || (cp = hex4(p + b + 2)) < 0) return NOT_JSON;
            len = 6;
            if (cp >= 0xD800 && cp <= 0xDBFF && n - b >= 12 && p[b + 6] == '\\' && p[b + 7] == 'u') {
                long lo = hex4(p + b + 8);
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    len = 12;
                }
            }
            if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
            break;
        default:
            return NOT_JSON;
        }
        if (dec) rc = cp >= 0 ? put_utf8(dec, (unsigned long)cp) : ig_buf_append(dec, &lit, 1);
        if (rc) return rc;
        i = run = b + len;
    }
}

/* The end of the number token at p[i] (RFC 8259 grammar), or 0 when there is none. */
static size_t number_at(const char *p, size_t n, size_t i)
{
    if (i < n && p[i] == '-') i++;
    if (i >= n || !is_digit((unsigned char)p[i])) return 0;
    if (p[i] == '0')
        i++;
    else
        while (i < n && is_digit((unsigned char)p[i]))
            i++;
    if (i < n && p[i] == '.') {
        size_t d = ++i;
        while (i < n && is_digit((unsigned char)p[i]))
            i++;
        if (i == d) return 0;
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-')) i++;
        size_t d = i;
        while (i < n && is_digit((unsigned char)p[i]))
            i++;
        if (i == d) return 0;
    }
    return i;
}

/* Appends s[0..n) as a JSON string literal. Unlike ig_json_append_str, bytes >= 0x80 are kept as they are:
 * invalid UTF-8 becoming U+FFFD would change what the detectors see (a 1-byte "TLD" turning into a 3-byte
 * one is an email), so the value sent must be the value that was matched. Valid UTF-8 stays valid. */
static int put_json_str(ig_buf_t *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t at = 0;
    int rc = ig_buf_lit(b, "\"");
    for (size_t k = 0; k < n && !rc; k++) {
        unsigned char ch = (unsigned char)s[k];
        if (ch >= 0x20 && ch != '"' && ch != '\\') continue;
        char e[6] = {'\\', (char)ch, 0, 0, 0, 0};
        size_t el = 2;
        if (ch == '\n')
            e[1] = 'n';
        else if (ch == '\r')
            e[1] = 'r';
        else if (ch == '\t')
            e[1] = 't';
        else if (ch < 0x20) {
            memcpy(e + 1, "u00", 3);
            e[4] = hex[ch >> 4];
            e[5] = hex[ch & 15];
            el = 6;
        }
        rc = ig_buf_append(b, s + at, k - at);
        if (!rc) rc = ig_buf_append(b, e, el);
        at = k + 1;
    }
    if (!rc) rc = ig_buf_append(b, s + at, n - at);
    if (!rc) rc = ig_buf_lit(b, "\"");
    return rc;
}

/* One text (a decoded value, or a whole body that is not JSON): scanned by what is on. With w->out, a value
 * that changes is replaced in the output: its token is p[q, tend). */
static int on_text(walk_t *w, ig_iov_t text, size_t q, size_t tend)
{
    int rc = IG_OK;
    if (w->set->injection != IG_GUARD_OFF &&
        (rc = ig_injection_scan(text.base, text.len, &w->res->injection)))
        return rc;
    if (w->set->pii == IG_GUARD_OFF) return IG_OK;
    bool changed = false;
    ig_buf_reset(&w->red);
    rc = ig_redact_typed(w->r, text, w->out ? &w->red : NULL, &w->res->pii, &changed);
    if (rc || !changed || !w->out) return rc;
    if (q > w->done) rc = ig_buf_append(w->out, w->p + w->done, q - w->done);
    if (!rc) rc = put_json_str(w->out, w->red.data ? w->red.data : "", w->red.len);
    w->done = tend;
    w->changed = true;
    return rc;
}

enum { ST_VALUE, ST_VALUE_OR_END, ST_KEY_OR_END, ST_KEY, ST_COLON, ST_AFTER };

/* Walks the body as JSON, handing each string value to on_text. IG_OK, NOT_JSON, or an error. */
static int walk(walk_t *w)
{
    const char *p = w->p;
    size_t n = w->n, i = 0, depth = 0;
    uint8_t objs[IG_GUARD_MAX_DEPTH / 8];
    int st = ST_VALUE, rc;
    for (;;) {
        while (i < n && is_ws((unsigned char)p[i]))
            i++;
        if (i >= n) return depth == 0 && st == ST_AFTER ? IG_OK : NOT_JSON;
        char ch = p[i];
        bool in_obj = depth && ((objs[(depth - 1) / 8] >> ((depth - 1) % 8)) & 1);
        switch (st) {
        case ST_KEY_OR_END:
        case ST_KEY:
            if (ch == '}' && st == ST_KEY_OR_END) goto close;
            if (ch != '"') return NOT_JSON;
            if ((rc = string_at(p, n, i, NULL, &i))) return rc;
            st = ST_COLON;
            continue;
        case ST_COLON:
            if (ch != ':') return NOT_JSON;
            i++;
            st = ST_VALUE;
            continue;
        case ST_AFTER:
            if (depth == 0) return NOT_JSON; /* bytes after the value */
            if (ch == ',') {
                i++;
                st = in_obj ? ST_KEY : ST_VALUE;
                continue;
            }
            if (ch == (in_obj ? '}' : ']')) goto close;
            return NOT_JSON;
        default: /* a value */
            if (ch == ']' && st == ST_VALUE_OR_END) goto close;
            if (ch == '{' || ch == '[') {
                if (depth == IG_GUARD_MAX_DEPTH) return NOT_JSON;
                if (ch == '{')
                    objs[depth / 8] |= (uint8_t)(1u << (depth % 8));
                else
                    objs[depth / 8] &= (uint8_t) ~(1u << (depth % 8));
                depth++;
                i++;
                st = ch == '{' ? ST_KEY_OR_END : ST_VALUE_OR_END;
                continue;
            }
            if (ch == '"') {
                size_t q = i;
                if ((rc = string_at(p, n, q, &w->dec, &i))) return rc;
                if ((rc = on_text(w, ig_buf_iov(&w->dec), q, i))) return rc;
            } else if (ch == 't' || ch == 'f' || ch == 'n') {
                const char *lit = ch == 't' ? "true" : ch == 'f' ? "false" : "null";
                size_t len = strlen(lit);
                if (n - i < len || memcmp(p + i, lit, len) != 0) return NOT_JSON;
                i += len;
            } else {
                size_t e = number_at(p, n, i);
                if (!e) return NOT_JSON;
                i = e;
            }
            st = ST_AFTER;
            continue;
        }
    close:
        depth--;
        i++;
        st = ST_AFTER;
    }
}

static bool pii_found(const ig_guard_result_t *res)
{
    for (int k = 0; k < IG_PII_NTYPES; k++)
        if (res->pii.n[k]) return true;
    return false;
}

int ig_guard_run(const ig_guardset_t *set, const ig_redactor_t *r, ig_iov_t body, ig_buf_t *out,
                 ig_guard_result_t *res)
{
    if (!res) return IG_EINVAL;
    memset(res, 0, sizeof *res);
    if (!set || (set->pii != IG_GUARD_OFF && !r) || (!body.base && body.len)) return IG_EINVAL;
    if (set->pii == IG_GUARD_OFF && set->injection == IG_GUARD_OFF) return IG_OK;
    res->pii_ran = set->pii != IG_GUARD_OFF;
    res->injection_ran = set->injection != IG_GUARD_OFF;
    res->threshold = set->threshold > 0 ? set->threshold : IG_INJECTION_THRESHOLD;
    bool rewrite = out && (set->pii == IG_GUARD_REDACT || set->pii == IG_GUARD_BLOCK);
    walk_t w = {.set = set, .r = r, .p = body.base ? body.base : "", .n = body.len, .res = res};
    w.out = rewrite ? out : NULL;
    w.out0 = out ? out->len : 0;
    ig_buf_init_secret(&w.dec, body.len + 16);
    ig_buf_init_secret(&w.red, out ? out->max : body.len * 2 + 4096);
    int rc = IG_OK;
    if (body.len) {
        rc = walk(&w);
        res->json = rc == IG_OK;
        if (rc ==
            NOT_JSON) { /* the values before the syntax error count for nothing: the whole body is one text */
            ig_injection_result_t zero = {0, 0, 0};
            memset(&res->pii, 0, sizeof res->pii);
            res->injection = zero;
            if (out && out->len > w.out0) {
                ig_wipe(out->data + w.out0, out->len - w.out0);
                out->len = w.out0;
            }
            w.out = NULL;
            w.changed = false;
            rc = on_text(&w, ig_iov(w.p, w.n), 0, w.n);
        }
    }
    if (!rc && w.changed) {
        if (w.n > w.done) rc = ig_buf_append(out, w.p + w.done, w.n - w.done);
        res->rewritten = rc == IG_OK;
    }
    ig_buf_free(&w.dec, true);
    ig_buf_free(&w.red, true);
    if (rc) {
        if (out && out->len > w.out0) {
            ig_wipe(out->data + w.out0, out->len - w.out0);
            out->len = w.out0;
        }
        memset(res, 0, sizeof *res);
        return rc;
    }
    /* the decision: PII first, then injection */
    bool pii = pii_found(res);
    bool inj = res->injection_ran && res->injection.score >= res->threshold;
    if (pii && (set->pii == IG_GUARD_BLOCK || (set->pii == IG_GUARD_REDACT && !res->json))) {
        res->action = IG_GUARD_ACT_BLOCKED;
        res->blocked_by = IG_EPII;
    } else if (inj && set->injection == IG_GUARD_BLOCK) {
        res->action = IG_GUARD_ACT_BLOCKED;
        res->blocked_by = IG_EINJECTION;
    } else if (res->rewritten) {
        res->action = IG_GUARD_ACT_REDACTED;
    } else if (pii || inj) {
        res->action = IG_GUARD_ACT_LOGGED;
    } else {
        res->action = IG_GUARD_ACT_ALLOWED;
    }
    return IG_OK;
}

/* {"email":2,"card":1}: the types found, in IG_PII_T_* order ({} when none). */
static int pii_json(const ig_pii_counts_t *c, ig_buf_t *b)
{
    int rc = ig_buf_lit(b, "{");
    bool first = true;
    for (int k = 0; k < IG_PII_NTYPES && !rc; k++) {
        if (!c->n[k]) continue;
        rc = ig_buf_appendf(b, "%s\"%s\":%u", first ? "" : ",", ig_pii_type_name(k), (unsigned)c->n[k]);
        first = false;
    }
    return rc ? rc : ig_buf_lit(b, "}");
}

int ig_guard_error_json(const ig_guard_result_t *res, const char *request_id, ig_buf_t *b)
{
    int err = res->blocked_by ? res->blocked_by : IG_EPII, rc;
    if (err == IG_EPII) {
        rc = ig_buf_appendf(b,
                            "{\"error\":\"the request contains personal data (see \\\"pii\\\"): the org's "
                            "guardrails refuse it\",\"error_code\":\"%s\",\"pii\":",
                            ig_err_code(err));
        if (!rc) rc = pii_json(&res->pii, b);
    } else {
        rc = ig_buf_appendf(b,
                            "{\"error\":\"the request looks like a prompt-injection attempt: the org's "
                            "guardrails refuse it\",\"error_code\":\"%s\",\"injection_score\":%d,"
                            "\"threshold\":%d",
                            ig_err_code(err), res->injection.score, res->threshold);
    }
    if (!rc) rc = ig_buf_appendf(b, ",\"request_id\":\"%s\"}", request_id ? request_id : "");
    return rc;
}

void ig_guard_text(const ig_guard_result_t *res, ig_guard_text_t *out)
{
    static const char *const ACTIONS[] = {NULL, "allowed", "logged", "redacted", "blocked"};
    memset(out, 0, sizeof *out);
    out->injection_score = -1;
    out->action = (unsigned)res->action < IG_ARRAY_LEN(ACTIONS) ? ACTIONS[res->action] : NULL;
    if (!out->action) return;
    if (res->pii_ran) {
        ig_buf_t b;
        ig_buf_init(&b, sizeof out->pii - 1);
        if (pii_json(&res->pii, &b) == IG_OK && ig_buf_cstr(&b)) memcpy(out->pii, b.data, b.len + 1);
        ig_buf_free(&b, false);
    }
    if (res->injection_ran) {
        out->injection_score = res->injection.score;
        size_t at = 0;
        for (int i = 0; i < ig_injection_rule_count(); i++) {
            if (!(res->injection.matched & (1u << i))) continue;
            int k = snprintf(out->rules + at, sizeof out->rules - at, "%s%s", at ? "," : "",
                             ig_injection_rule_name(i));
            if (k < 0 || (size_t)k >= sizeof out->rules - at) {
                out->rules[at] = '\0'; /* cannot happen: 12 rule names fit */
                break;
            }
            at += (size_t)k;
        }
    }
}

static const char *const MODES[] = {"off", "log_only", "redact", "block"};

const char *ig_guard_mode_name(ig_guard_mode_t m)
{
    return (unsigned)m < IG_ARRAY_LEN(MODES) ? MODES[m] : "off";
}

int ig_guard_mode_parse(const char *name)
{
    for (size_t i = 0; name && i < IG_ARRAY_LEN(MODES); i++)
        if (strcmp(name, MODES[i]) == 0) return (int)i;
    return -1;
}

int ig_guardset_parse(const cJSON *g, ig_guardset_t *out, const char **why)
{
    static const char *const keys[] = {"pii", "injection", "injection_threshold", NULL};
    ig_guardset_t s = IG_GUARDSET_DEFAULT;
    const char *v = NULL;
    int64_t th = 0;
    if (!cJSON_IsObject(g) || ig_json_only_keys(g, keys, NULL) != IG_OK) {
        *why = "settings.guardrails must be an object with pii, injection, injection_threshold";
        return IG_EINVAL;
    }
    int rc = ig_json_get_str(g, "pii", &v, NULL);
    if (rc == IG_OK) {
        int m = ig_guard_mode_parse(v);
        if (m < 0) rc = IG_EINVAL;
        s.pii = (ig_guard_mode_t)(m < 0 ? 0 : m);
    }
    if (rc == IG_EINVAL) {
        *why = "settings.guardrails.pii must be off, log_only, redact or block";
        return IG_EINVAL;
    }
    rc = ig_json_get_str(g, "injection", &v, NULL);
    if (rc == IG_OK) {
        int m = ig_guard_mode_parse(v);
        if (m < 0 || m == IG_GUARD_REDACT) rc = IG_EINVAL;
        s.injection = (ig_guard_mode_t)(m < 0 ? 0 : m);
    }
    if (rc == IG_EINVAL) {
        *why = "settings.guardrails.injection must be off, log_only or block";
        return IG_EINVAL;
    }
    rc = ig_json_get_int(g, "injection_threshold", &th);
    if (rc == IG_OK && (th < 1 || th > IG_INJECTION_MAX_SCORE)) rc = IG_EINVAL;
    if (rc == IG_EINVAL) {
        *why = "settings.guardrails.injection_threshold must be an integer from 1 to 100";
        return IG_EINVAL;
    }
    if (rc == IG_OK) s.threshold = (int)th;
    *out = s;
    return IG_OK;
}

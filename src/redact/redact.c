/*
 * redact.c — PII redaction (see redact.h for the contract).
 *
 * Structure. A body is cut into units — JSON string values and keys, JSON number tokens, text lines, SSE
 * field values — and each unit goes through find(), which returns the merged [start, end) spans every
 * enabled detector matched. A unit without a match costs nothing on the output side: the output copies the
 * input lazily (ctx_t.done) and only a changed unit interrupts the copy, so an unchanged body is one memcpy.
 *
 * Why no cJSON tree: printing a tree re-serializes every number and string (1e2 -> 100, escapes change), so
 * "byte-identical where unchanged" would be lost, and a tree costs an allocation per value. walk_json() is a
 * small pushdown recognizer (strict structure, lenient about what cJSON is lenient about: any byte <= 0x20 as
 * whitespace, raw control bytes and invalid UTF-8 inside strings) that hands each token to the unit code.
 *
 * Default detectors are hand-written scanners, not regexes: emails start from memchr('@'); the digit
 * detectors start at each run of digits (found 8 bytes at a time) and check shapes, boundaries, SSN area
 * rules and Luhn. The GUIDE measured PCRE2-JIT PII passes at 180-206 MB/s; these scanners run the whole
 * default set at ~1 GB/s per core on mixed traffic (bench/redact_bench.c), and the boundary rules ("-" or
 * "." joining another digit run) would be awkward as lookarounds. Custom patterns are PCRE2.
 *
 * Escapes: a JSON string is decoded (escs_t records where each escape was) and matched decoded; a span found
 * in decoded text maps back to raw bytes through the escape list, widened to whole escapes, so pattern mode
 * rewrites only the raw bytes of the match and keeps every other escape as it was written.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "redact/redact.h"

#include "core/err.h"

#include <pcre2.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* walk_json() result: the bytes are not JSON (caller falls back to text). Positive: never an ig_err_t. */
#define NOT_JSON 1

static const char MARK[] = IG_REDACT_MARK;
static const char QMARK[] = "\"" IG_REDACT_MARK "\"";
#define MARK_LEN  (sizeof(MARK) - 1)
#define QMARK_LEN (sizeof(QMARK) - 1)

/* Shortest match of each default detector: a@b.co, +12345678, 555-123-4567, 123-45-6789, 13-digit card. */
#define MIN_EMAIL 6
#define MIN_PHONE 9
#define MIN_SSN   11
#define MIN_CARD  13

/* Scratch buffers above this size are freed after a call instead of kept for the next one. */
#define SCRATCH_KEEP (1u << 20)

typedef struct {
    pcre2_code *code;
    size_t minlen; /* PCRE2_INFO_MINLENGTH: shorter units cannot match */
} custom_t;

struct ig_redactor {
    unsigned defaults;
    size_t minlen; /* shortest unit any detector can match */
    size_t ncustom;
    custom_t custom[IG_REDACT_MAX_CUSTOM];
};

/* ---- scratch (per thread) ---------------------------------------------------------------------------- */

typedef struct {
    size_t s, e;
} span_t;

typedef struct {
    span_t *v;
    size_t n, cap;
    bool oom;
} spans_t;

/* One escape of a decoded string: decoded bytes [d, d+dl) came from raw bytes [r, r+rl). */
typedef struct {
    size_t d, r;
    uint8_t dl, rl;
} esc_t;

typedef struct {
    esc_t *v;
    size_t n, cap;
    bool oom;
} escs_t;

/* Byte scratch; its contents (decoded PII) are wiped on reset and before the memory is given back. */
typedef struct {
    char *p;
    size_t n, cap;
} sbuf_t;

typedef struct {
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jstack;
    sbuf_t dec;  /* decoded JSON string */
    sbuf_t vdec; /* decoded view of a text unit */
    sbuf_t w[2]; /* pattern-mode rounds */
    sbuf_t raw;  /* raw-side result of the first round on an escaped string */
    escs_t esc;  /* escapes of dec */
    escs_t vesc; /* escapes of vdec */
    spans_t sp;  /* result of find() */
    spans_t aux; /* find() on the decoded view */
    spans_t dsp; /* widened spans, decoded side */
    uint64_t deadline_ns;
    bool over_budget;
} tls_t;

static void sbuf_reset(sbuf_t *b)
{
    if (b->n) explicit_bzero(b->p, b->n);
    b->n = 0;
}

static void sbuf_free(sbuf_t *b)
{
    if (b->p) explicit_bzero(b->p, b->cap);
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

/* Room for `more` bytes past n. Growth copies into a new block and wipes the old one. */
static int sbuf_reserve(sbuf_t *b, size_t more)
{
    if (more <= b->cap - b->n) return IG_OK;
    if (more > SIZE_MAX / 2 - b->n) return IG_ENOMEM;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + more)
        cap *= 2;
    char *p = malloc(cap);
    if (!p) return IG_ENOMEM;
    if (b->p) {
        memcpy(p, b->p, b->n);
        explicit_bzero(b->p, b->cap);
        free(b->p);
    }
    b->p = p;
    b->cap = cap;
    return IG_OK;
}

static int sbuf_add(sbuf_t *b, const void *p, size_t n)
{
    int rc = sbuf_reserve(b, n);
    if (rc) return rc;
    if (n) memcpy(b->p + b->n, p, n);
    b->n += n;
    return IG_OK;
}

static void span_push(spans_t *s, size_t a, size_t e)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        span_t *v = realloc(s->v, cap * sizeof *v);
        if (!v) {
            s->oom = true;
            return;
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = (span_t){a, e};
}

static void esc_push(escs_t *s, size_t d, size_t r, size_t dl, size_t rl)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        esc_t *v = realloc(s->v, cap * sizeof *v);
        if (!v) {
            s->oom = true;
            return;
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = (esc_t){d, r, (uint8_t)dl, (uint8_t)rl};
}

static void tls_free(tls_t *t)
{
    if (!t) return;
    pcre2_match_data_free(t->md);
    pcre2_match_context_free(t->mctx);
    pcre2_jit_stack_free(t->jstack);
    sbuf_free(&t->dec);
    sbuf_free(&t->vdec);
    sbuf_free(&t->w[0]);
    sbuf_free(&t->w[1]);
    sbuf_free(&t->raw);
    free(t->esc.v);
    free(t->vesc.v);
    free(t->sp.v);
    free(t->aux.v);
    free(t->dsp.v);
    free(t);
}

static pthread_key_t tls_key;
static bool tls_key_ok;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static _Thread_local tls_t *tls_cur;

static void on_thread_exit(void *v)
{
    tls_free(v);
    tls_cur = NULL;
}

static void tls_key_init(void)
{
    tls_key_ok = pthread_key_create(&tls_key, on_thread_exit) == 0;
}

/* This thread's scratch. *owned: the caller frees it after the call (no thread-specific slot available). */
static tls_t *tls_get(bool *owned)
{
    *owned = false;
    if (tls_cur) return tls_cur;
    tls_t *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    pthread_once(&tls_once, tls_key_init);
    if (tls_key_ok && pthread_setspecific(tls_key, t) == 0) {
        tls_cur = t;
    } else {
        *owned = true;
    }
    return t;
}

/* PCRE2 per-thread objects, created on the first custom-pattern search of the thread. */
static int tls_pcre(tls_t *t)
{
    if (t->md) return IG_OK;
    t->mctx = pcre2_match_context_create(NULL);
    t->jstack = pcre2_jit_stack_create(32 * 1024, 512 * 1024, NULL);
    t->md = pcre2_match_data_create(1, NULL);
    if (!t->mctx || !t->jstack || !t->md) {
        pcre2_match_data_free(t->md);
        pcre2_match_context_free(t->mctx);
        pcre2_jit_stack_free(t->jstack);
        t->md = NULL;
        t->mctx = NULL;
        t->jstack = NULL;
        return IG_ENOMEM;
    }
    pcre2_set_match_limit(t->mctx, IG_REDACT_MATCH_LIMIT);
    pcre2_set_depth_limit(t->mctx, IG_REDACT_DEPTH_LIMIT);
    pcre2_set_heap_limit(t->mctx, IG_REDACT_HEAP_LIMIT_KIB);
    pcre2_jit_stack_assign(t->mctx, NULL, t->jstack);
    return IG_OK;
}

static void shrink(sbuf_t *b)
{
    sbuf_reset(b);
    if (b->cap > SCRATCH_KEEP) sbuf_free(b);
}

/* End of a call: wipe what was decoded, give back large blocks. */
static void tls_release(tls_t *t, bool owned)
{
    if (owned) {
        tls_free(t);
        return;
    }
    shrink(&t->dec);
    shrink(&t->vdec);
    shrink(&t->w[0]);
    shrink(&t->w[1]);
    shrink(&t->raw);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void budget_start(const ig_redactor_t *r, tls_t *t, size_t len)
{
    t->over_budget = false;
    if (!r->ncustom) return;
    double mib = (double)len / (1024.0 * 1024.0);
    double ms = IG_REDACT_BUDGET_BASE_MS + IG_REDACT_BUDGET_MS_PER_MIB * mib * (double)r->ncustom;
    t->deadline_ns = now_ns() + (uint64_t)(ms * 1e6);
}

/* ---- character classes ------------------------------------------------------------------------------- */

static inline bool is_dig(unsigned char c)
{
    return (unsigned)(c - '0') < 10u;
}

static inline bool is_alpha(unsigned char c)
{
    return (unsigned)((c | 0x20) - 'a') < 26u;
}

static inline bool is_word(unsigned char c)
{
    return is_dig(c) || is_alpha(c) || c == '_';
}

/* Joins two digit runs into one token (dates, versions, ids, times). */
static inline bool is_joiner(unsigned char c)
{
    return c == '-' || c == '.' || c == '/' || c == ':';
}

/* RFC 5322 atext, the dot, and any byte >= 0x80 (UTF-8 local parts, RFC 6531). */
static inline bool is_local(unsigned char c)
{
    if (c >= 0x80 || is_dig(c) || is_alpha(c)) return true;
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '/':
    case '=':
    case '?':
    case '^':
    case '_':
    case '`':
    case '{':
    case '|':
    case '}':
    case '~':
    case '.':
        return true;
    default:
        return false;
    }
}

static inline bool is_label(unsigned char c)
{
    return c >= 0x80 || is_dig(c) || is_alpha(c) || c == '-';
}

/* ---- default detectors ------------------------------------------------------------------------------- */

/* Left boundary of a digit match starting at s. */
static bool lb_ok(const unsigned char *p, size_t s)
{
    if (s == 0) return true;
    if (is_word(p[s - 1])) return false;
    return !(is_joiner(p[s - 1]) && s >= 2 && is_dig(p[s - 2]));
}

/* Right boundary of a digit match ending at e. */
static bool rb_ok(const unsigned char *p, size_t n, size_t e)
{
    if (e == n) return true;
    if (is_word(p[e])) return false;
    return !(is_joiner(p[e]) && e + 1 < n && is_dig(p[e + 1]));
}

static size_t digit_run(const unsigned char *p, size_t n, size_t i)
{
    while (i < n && is_dig(p[i]))
        i++;
    return i;
}

/* Index of the next ASCII digit at or after i (n if none), 8 bytes per step: after XOR with '0', a digit
 * is a byte < 10, and "has a byte < 10" is the classic exact SWAR test. */
static size_t next_digit(const unsigned char *p, size_t n, size_t i)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    while (i + 8 <= n) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        w ^= ones * '0';
        if (((w - ones * 10) & ~w & highs) != 0) break;
        i += 8;
    }
    while (i < n && !is_dig(p[i]))
        i++;
    return i;
}

static bool luhn(const char *d, size_t len)
{
    unsigned sum = 0;
    bool dbl = false;
    for (size_t k = len; k-- > 0;) {
        unsigned v = (unsigned)(d[k] - '0');
        if (dbl) {
            v *= 2;
            if (v > 9) v -= 9;
        }
        sum += v;
        dbl = !dbl;
    }
    return sum % 10 == 0;
}

/* Issuer prefix and length of Visa, Mastercard, Amex, Discover (len >= 13), then Luhn. */
static bool card_ok(const char *d, size_t len)
{
    unsigned p2 = (unsigned)(d[0] - '0') * 10 + (unsigned)(d[1] - '0');
    unsigned p3 = p2 * 10 + (unsigned)(d[2] - '0');
    unsigned p4 = p3 * 10 + (unsigned)(d[3] - '0');
    unsigned p6 = p4 * 100 + (unsigned)(d[4] - '0') * 10 + (unsigned)(d[5] - '0');
    bool brand = false;
    if (d[0] == '4')
        brand = len == 13 || len == 16 || len == 19;
    else if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720))
        brand = len == 16;
    else if (p2 == 34 || p2 == 37)
        brand = len == 15;
    else if (p4 == 6011 || (p3 >= 644 && p3 <= 649) || p2 == 65 || (p6 >= 622126 && p6 <= 622925))
        brand = len >= 16 && len <= 19;
    return brand && luhn(d, len);
}

/* A card starting at the digit run [s, re); returns its end or 0. */
static size_t card_at(const unsigned char *p, size_t n, size_t s, size_t re)
{
    char d[19];
    size_t len = re - s;
    if (len >= 13) {
        if (len > 19 || !rb_ok(p, n, re)) return 0;
        memcpy(d, p + s, len);
        return card_ok(d, len) ? re : 0;
    }
    if (len != 4) return 0;
    /* grouped: 4 4 4 4 [3], 4 4 4 1..4, 4 6 5 (Amex) */
    size_t glen[6], gend[6], k = 1, nd = 4, pos = re;
    memcpy(d, p + s, 4);
    glen[0] = 4;
    gend[0] = re;
    while (k < 6 && pos + 1 < n && (p[pos] == ' ' || p[pos] == '-') && is_dig(p[pos + 1])) {
        size_t ge = digit_run(p, n, pos + 1), gl = ge - pos - 1;
        if (gl > 6 || nd + gl > 19) break;
        memcpy(d + nd, p + pos + 1, gl);
        nd += gl;
        glen[k] = gl;
        gend[k] = ge;
        k++;
        pos = ge;
    }
    for (size_t m = k; m >= 3; m--) {
        bool shape = nd >= 13;
        if (m == 3 && glen[1] == 6 && glen[2] == 5) {
            /* Amex 4-6-5 */
        } else {
            for (size_t g = 1; g + 1 < m; g++)
                shape = shape && glen[g] == 4;
            shape = shape && glen[m - 1] <= 4;
        }
        if (shape && rb_ok(p, n, gend[m - 1]) && card_ok(d, nd)) return gend[m - 1];
        nd -= glen[m - 1];
    }
    return 0;
}

static unsigned num3(const unsigned char *p)
{
    return (unsigned)(p[0] - '0') * 100 + (unsigned)(p[1] - '0') * 10 + (unsigned)(p[2] - '0');
}

/* AAA-GG-SSSS at the 3-digit run [s, re). */
static size_t ssn_at(const unsigned char *p, size_t n, size_t s, size_t re)
{
    if (re - s != 3 || n - re < 8) return 0;
    const unsigned char *q = p + re;
    if (q[0] != '-' || !is_dig(q[1]) || !is_dig(q[2]) || q[3] != '-' || !is_dig(q[4]) || !is_dig(q[5]) ||
        !is_dig(q[6]) || !is_dig(q[7]))
        return 0;
    size_t e = re + 8;
    if (!rb_ok(p, n, e)) return 0;
    unsigned area = num3(p + s);
    if (area == 0 || area == 666 || area >= 900) return 0;
    if (q[1] == '0' && q[2] == '0') return 0;
    if (q[4] == '0' && q[5] == '0' && q[6] == '0' && q[7] == '0') return 0;
    return e;
}

static inline bool is_psep(unsigned char c)
{
    return c == '-' || c == '.' || c == ' ';
}

/* EEE<sep>NNNN with an optional separator, at pos. */
static size_t phone_tail(const unsigned char *p, size_t n, size_t pos, bool sep_optional)
{
    if (n - pos < 7) return 0;
    for (size_t k = 0; k < 3; k++)
        if (!is_dig(p[pos + k])) return 0;
    pos += 3;
    if (is_psep(p[pos]))
        pos++;
    else if (!sep_optional)
        return 0;
    if (n - pos < 4) return 0;
    for (size_t k = 0; k < 4; k++)
        if (!is_dig(p[pos + k])) return 0;
    pos += 4;
    return rb_ok(p, n, pos) ? pos : 0;
}

/* AAA<sep>EEE<sep>NNNN at pos (the area code is exactly 3 digits). */
static size_t phone_nanp(const unsigned char *p, size_t n, size_t pos)
{
    if (n - pos < 12 || !is_dig(p[pos]) || !is_dig(p[pos + 1]) || !is_dig(p[pos + 2]) || !is_psep(p[pos + 3]))
        return 0;
    return phone_tail(p, n, pos + 4, false);
}

/* (AAA) EEE-NNNN at o, p[o] == '(' (space or dash after ')' optional, separator before NNNN optional). */
static size_t phone_paren(const unsigned char *p, size_t n, size_t o)
{
    if (o > 0 && is_word(p[o - 1])) return 0;
    if (n - o < 12 || !is_dig(p[o + 1]) || !is_dig(p[o + 2]) || !is_dig(p[o + 3]) || p[o + 4] != ')')
        return 0;
    size_t pos = o + 5;
    if (p[pos] == ' ' || p[pos] == '-') pos++;
    return phone_tail(p, n, pos, true);
}

/* US forms without '+' at the digit run [s, re): 555-123-4567, and 1-555-123-4567 / 1 (555) 123-4567. */
static size_t phone_us(const unsigned char *p, size_t n, size_t s, size_t re)
{
    if (re - s == 1 && p[s] == '1' && re + 1 < n && is_psep(p[re])) {
        if (p[re] == ' ' && p[re + 1] == '(') return phone_paren(p, n, re + 1);
        return phone_nanp(p, n, re + 1);
    }
    if (re - s != 3) return 0;
    return phone_nanp(p, n, s);
}

/* +CC… at o, p[o] == '+': groups of digits or "(digits)", single separators, 8..15 digits in all. */
static size_t phone_plus(const unsigned char *p, size_t n, size_t o)
{
    if (o > 0 && is_word(p[o - 1])) return 0;
    size_t pos = o + 1;
    if (pos >= n || !is_dig(p[pos]) || p[pos] == '0') return 0;
    size_t ends[16], cnt[16], k = 0, nd = 0;
    while (k < 16) {
        size_t ge, gl;
        if (p[pos] == '(') {
            ge = digit_run(p, n, pos + 1);
            gl = ge - pos - 1;
            if (gl == 0 || gl > 4 || ge >= n || p[ge] != ')') break;
            ge++;
        } else {
            ge = digit_run(p, n, pos);
            gl = ge - pos;
        }
        if (gl == 0 || nd + gl > 15) break;
        nd += gl;
        ends[k] = ge;
        cnt[k] = nd;
        k++;
        pos = ge;
        if (pos < n && is_psep(p[pos]) && pos + 1 < n && (is_dig(p[pos + 1]) || p[pos + 1] == '('))
            pos++;
        else if (!(pos < n && (p[pos] == '(' || (p[pos - 1] == ')' && is_dig(p[pos])))))
            break;
    }
    for (size_t j = k; j-- > 0;)
        if (cnt[j] >= 8 && rb_ok(p, n, ends[j])) return ends[j];
    return 0;
}

static void find_numbers(unsigned mask, const unsigned char *p, size_t n, spans_t *out)
{
    size_t i = 0;
    while ((i = next_digit(p, n, i)) < n) {
        size_t s = i, re = digit_run(p, n, s), next = re, e;
        if (mask & IG_PII_PHONE) {
            if (s > 0 && p[s - 1] == '+' && (e = phone_plus(p, n, s - 1)) != 0) {
                span_push(out, s - 1, e);
                next = IG_MAX(next, e);
            }
            if (s > 0 && p[s - 1] == '(' && (e = phone_paren(p, n, s - 1)) != 0) {
                span_push(out, s - 1, e);
                next = IG_MAX(next, e);
            }
        }
        if (lb_ok(p, s)) {
            if ((mask & IG_PII_CARD) && (e = card_at(p, n, s, re)) != 0) {
                span_push(out, s, e);
                next = IG_MAX(next, e);
            }
            if ((mask & IG_PII_SSN) && (e = ssn_at(p, n, s, re)) != 0) {
                span_push(out, s, e);
                next = IG_MAX(next, e);
            }
            if ((mask & IG_PII_PHONE) && (e = phone_us(p, n, s, re)) != 0) {
                span_push(out, s, e);
                next = IG_MAX(next, e);
            }
        }
        i = next;
    }
}

static bool tld_ok(const unsigned char *p, size_t len)
{
    if (len < 2) return false;
    if (len >= 5 && (p[0] | 0x20) == 'x' && (p[1] | 0x20) == 'n' && p[2] == '-' && p[3] == '-') return true;
    for (size_t k = 0; k < len; k++)
        if (!(is_alpha(p[k]) || p[k] >= 0x80)) return false;
    return true;
}

/* End of the domain starting at pos (0 if none): labels joined by single dots, at least two, the last one
 * kept being a TLD (trailing labels that are not, such as a number, are left out). */
static size_t domain_end(const unsigned char *p, size_t n, size_t pos)
{
    size_t good = 0, labels = 0;
    for (;;) {
        size_t ls = pos;
        while (pos < n && is_label(p[pos]))
            pos++;
        if (pos == ls) break;
        labels++;
        if (labels >= 2 && tld_ok(p + ls, pos - ls)) good = pos;
        if (pos + 1 < n && p[pos] == '.' && is_label(p[pos + 1])) {
            pos++;
            continue;
        }
        break;
    }
    return good;
}

static void find_emails(const unsigned char *p, size_t n, spans_t *out)
{
    size_t lo = 0; /* the local part never reaches back past the previous '@' (keeps this linear) */
    const unsigned char *q = p;
    while ((q = memchr(q, '@', (size_t)(p + n - q))) != NULL) {
        size_t a = (size_t)(q - p), ls = a;
        while (ls > lo && is_local(p[ls - 1]))
            ls--;
        while (ls < a && p[ls] == '.')
            ls++;
        lo = a + 1;
        q++;
        if (ls == a) continue;
        size_t de = domain_end(p, n, a + 1);
        if (de) span_push(out, ls, de);
    }
}

/* ---- custom patterns --------------------------------------------------------------------------------- */

static bool budget_spent(tls_t *t)
{
    if (!t->over_budget && now_ns() > t->deadline_ns) t->over_budget = true;
    return t->over_budget;
}

/* Runs every custom pattern over p[0..n). *fail on a PCRE2 error (limits included) or a spent budget. */
static int find_custom(const ig_redactor_t *r, tls_t *t, const char *p, size_t n, spans_t *out, bool *fail)
{
    int rc = tls_pcre(t);
    if (rc) return rc;
    for (size_t k = 0; k < r->ncustom; k++) {
        const custom_t *c = &r->custom[k];
        if (n < c->minlen) continue;
        size_t off = 0;
        while (off < n) {
            if (budget_spent(t)) {
                *fail = true;
                return IG_OK;
            }
            size_t lim = off + IG_REDACT_WINDOW;
            pcre2_set_offset_limit(t->mctx, lim);
            int m = pcre2_match(c->code, (PCRE2_SPTR)p, n, off, 0, t->md, t->mctx);
            if (m == PCRE2_ERROR_NOMATCH) {
                if (lim >= n) break;
                off = lim + 1;
                /* a start offset must not split a UTF-8 character */
                while (off < n && ((unsigned char)p[off] & 0xC0) == 0x80)
                    off++;
                continue;
            }
            if (m < 0) {
                *fail = true; /* match / depth / heap / JIT stack limit, or any other error */
                return IG_OK;
            }
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(t->md);
            size_t s = ov[0], e = ov[1];
            if (e > s && e <= n) {
                span_push(out, s, e);
                off = e;
            } else {
                off = s + 1; /* cannot happen (empty matches are refused at compile time); stay safe */
                while (off < n && ((unsigned char)p[off] & 0xC0) == 0x80)
                    off++;
            }
        }
    }
    return IG_OK;
}

/* ---- escapes ----------------------------------------------------------------------------------------- */

static long hex4(const char *s, size_t avail)
{
    long v = 0;
    if (avail < 4) return -1;
    for (size_t k = 0; k < 4; k++) {
        unsigned char c = (unsigned char)s[k];
        int d;
        if (is_dig(c))
            d = c - '0';
        else if ((unsigned)((c | 0x20) - 'a') < 6u)
            d = (c | 0x20) - 'a' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static size_t utf8_put(unsigned long cp, char *o)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes the JSON escapes of raw[0..n) into d, recording each in e. Lone surrogates become U+FFFD; an
 * invalid or cut-short escape stays as literal bytes, its backslash and next byte one unit. Decoding never
 * lengthens: d->n <= n. */
static int decode(const char *raw, size_t n, sbuf_t *d, escs_t *e)
{
    sbuf_reset(d);
    e->n = 0;
    e->oom = false;
    int rc = sbuf_reserve(d, n);
    if (rc) return rc;
    size_t i = 0;
    while (i < n) {
        const char *b = memchr(raw + i, '\\', n - i);
        size_t stop = b ? (size_t)(b - raw) : n;
        memcpy(d->p + d->n, raw + i, stop - i);
        d->n += stop - i;
        i = stop;
        if (!b) break;
        char o[4];
        size_t rl = 0, dl = 1;
        if (i + 1 < n) {
            switch (raw[i + 1]) {
            case '"':
            case '\\':
            case '/':
                o[0] = raw[i + 1];
                rl = 2;
                break;
            case 'b':
                o[0] = '\b';
                rl = 2;
                break;
            case 'f':
                o[0] = '\f';
                rl = 2;
                break;
            case 'n':
                o[0] = '\n';
                rl = 2;
                break;
            case 'r':
                o[0] = '\r';
                rl = 2;
                break;
            case 't':
                o[0] = '\t';
                rl = 2;
                break;
            case 'u': {
                long cp = hex4(raw + i + 2, n - i - 2), lo;
                if (cp < 0) break;
                rl = 6;
                if (cp >= 0xD800 && cp <= 0xDBFF && n - i >= 12 && raw[i + 6] == '\\' && raw[i + 7] == 'u' &&
                    (lo = hex4(raw + i + 8, 4)) >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    rl = 12;
                } else if (cp >= 0xD800 && cp <= 0xDFFF) {
                    cp = 0xFFFD;
                }
                dl = utf8_put((unsigned long)cp, o);
                break;
            }
            default:
                break;
            }
        }
        if (rl == 0) {
            /* invalid escape: kept as written, the backslash and its byte as one unit, so a span never
             * starts between them (which would leave "\[REDACTED]", a new escape) */
            rl = dl = i + 1 < n ? 2 : 1;
            memcpy(o, raw + i, rl);
        }
        esc_push(e, d->n, i, dl, rl);
        memcpy(d->p + d->n, o, dl);
        d->n += dl;
        i += rl;
    }
    return e->oom ? IG_ENOMEM : IG_OK;
}

/* The unit (an escape, or one plain byte) holding decoded byte `at`: decoded [*ds, *de), raw [*rs, *re). */
static void unit_of(const escs_t *e, size_t at, size_t *ds, size_t *de, size_t *rs, size_t *re)
{
    size_t lo = 0, hi = e->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (e->v[mid].d <= at)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0) {
        *ds = *rs = at;
        *de = *re = at + 1;
        return;
    }
    const esc_t *x = &e->v[lo - 1];
    if (at < x->d + x->dl) {
        *ds = x->d;
        *de = x->d + x->dl;
        *rs = x->r;
        *re = x->r + x->rl;
        return;
    }
    size_t shift = (x->r + x->rl) - (x->d + x->dl);
    *ds = at;
    *de = at + 1;
    *rs = at + shift;
    *re = at + shift + 1;
}

/* Decoded span [s, e) widened to whole escapes: decoded side *d, raw side *r. */
static void widen(const escs_t *esc, span_t sp, span_t *d, span_t *r)
{
    size_t ds, de, rs, re, ds2, de2, rs2, re2;
    unit_of(esc, sp.s, &ds, &de, &rs, &re);
    unit_of(esc, sp.e - 1, &ds2, &de2, &rs2, &re2);
    *d = (span_t){ds, de2};
    *r = (span_t){rs, re2};
}

/* ---- find -------------------------------------------------------------------------------------------- */

static int cmp_span(const void *a, const void *b)
{
    const span_t *x = a, *y = b;
    return x->s < y->s ? -1 : x->s > y->s ? 1 : x->e < y->e ? -1 : x->e > y->e;
}

/* Sorts and merges overlapping or touching spans. */
static void merge(spans_t *s)
{
    if (s->n < 2) return;
    bool sorted = true;
    for (size_t k = 1; k < s->n && sorted; k++)
        sorted = s->v[k - 1].s <= s->v[k].s;
    if (!sorted) qsort(s->v, s->n, sizeof *s->v, cmp_span);
    size_t w = 0;
    for (size_t k = 1; k < s->n; k++) {
        if (s->v[k].s <= s->v[w].e) {
            if (s->v[k].e > s->v[w].e) s->v[w].e = s->v[k].e;
        } else {
            s->v[++w] = s->v[k];
        }
    }
    s->n = w + 1;
}

/* Every detector over p[0..n), spans appended to out (not merged). */
static int detect(const ig_redactor_t *r, tls_t *t, const char *p, size_t n, spans_t *out, bool *fail)
{
    const unsigned char *u = (const unsigned char *)p;
    if ((r->defaults & IG_PII_EMAIL) && n >= MIN_EMAIL) find_emails(u, n, out);
    if ((r->defaults & (IG_PII_SSN | IG_PII_CARD | IG_PII_PHONE)) && n >= MIN_PHONE)
        find_numbers(r->defaults, u, n, out);
    if (r->ncustom) return find_custom(r, t, p, n, out, fail);
    return IG_OK;
}

/*
 * The merged matches in p[0..n), into t->sp. `text`: also match the JSON-unescaped view when the unit has a
 * backslash (spans widened back to raw bytes). *fail: the unit must be treated as matched (limits).
 */
static int find(const ig_redactor_t *r, tls_t *t, const char *p, size_t n, bool text, bool *fail)
{
    spans_t *sp = &t->sp;
    int rc = IG_OK;
    sp->n = 0;
    sp->oom = false;
    *fail = false;
    if (n < r->minlen) return IG_OK;
    rc = detect(r, t, p, n, sp, fail);
    if (rc || *fail) goto out;
    if (text && memchr(p, '\\', n)) {
        rc = decode(p, n, &t->vdec, &t->vesc);
        if (rc) goto out;
        t->aux.n = 0;
        t->aux.oom = false;
        rc = detect(r, t, t->vdec.p, t->vdec.n, &t->aux, fail);
        if (rc || *fail) goto out;
        if (t->aux.oom) {
            rc = IG_ENOMEM;
            goto out;
        }
        for (size_t k = 0; k < t->aux.n; k++) {
            span_t d, w;
            widen(&t->vesc, t->aux.v[k], &d, &w);
            span_push(sp, w.s, w.e);
        }
    }
    if (sp->oom) {
        rc = IG_ENOMEM;
        goto out;
    }
    merge(sp);
out:
    return rc;
}

/* out = p[0..n) with each span replaced by the mark. */
static int subst(const char *p, size_t n, const spans_t *sp, sbuf_t *out)
{
    size_t at = 0;
    int rc = IG_OK;
    sbuf_reset(out);
    for (size_t k = 0; k < sp->n && !rc; k++) {
        rc = sbuf_add(out, p + at, sp->v[k].s - at);
        if (!rc) rc = sbuf_add(out, MARK, MARK_LEN);
        at = sp->v[k].e;
    }
    if (!rc) rc = sbuf_add(out, p + at, n - at);
    return rc;
}

/* ---- output ------------------------------------------------------------------------------------------ */

typedef struct {
    const ig_redactor_t *r;
    tls_t *t;
    ig_redact_mode_t mode;
    const char *in;
    size_t n;
    size_t done; /* in[0, done) is accounted for in out */
    ig_buf_t *out;
    size_t nmatch;
} ctx_t;

static int emit_to(ctx_t *c, size_t pos)
{
    int rc = IG_OK;
    if (pos > c->done) rc = ig_buf_append(c->out, c->in + c->done, pos - c->done);
    c->done = pos;
    return rc;
}

/* in[s, e) is replaced by rep. */
static int replace(ctx_t *c, size_t s, size_t e, const char *rep, size_t len)
{
    int rc = emit_to(c, s);
    if (!rc) rc = ig_buf_append(c->out, rep, len);
    c->done = e;
    return rc;
}

/*
 * Pattern-mode rounds after a first substitution left `b`: re-match until nothing matches. *final = the
 * settled text, or NULL when the unit must be replaced whole (a limit, or still matching after
 * IG_REDACT_MAX_PASSES rounds). *rounds = substitutions made here.
 */
static int settle(ctx_t *c, sbuf_t *b, bool text, sbuf_t **final, int *rounds)
{
    tls_t *t = c->t;
    *final = NULL;
    *rounds = 0;
    for (int pass = 1;; pass++) {
        bool fail;
        int rc = find(c->r, t, b->p, b->n, text, &fail);
        if (rc) return rc;
        if (fail) {
            c->nmatch++;
            return IG_OK;
        }
        if (t->sp.n == 0) {
            *final = b;
            return IG_OK;
        }
        if (pass >= IG_REDACT_MAX_PASSES) return IG_OK;
        c->nmatch += t->sp.n;
        sbuf_t *nb = b == &t->w[0] ? &t->w[1] : &t->w[0];
        rc = subst(b->p, b->n, &t->sp, nb);
        if (rc) return rc;
        b = nb;
        (*rounds)++;
    }
}

/* A text unit in[s, e) (a line, an SSE value). */
static int text_unit(ctx_t *c, size_t s, size_t e)
{
    tls_t *t = c->t;
    bool fail;
    int rc = find(c->r, t, c->in + s, e - s, true, &fail);
    if (rc) return rc;
    if (!fail && t->sp.n == 0) return IG_OK;
    c->nmatch += fail ? 1 : t->sp.n;
    if (fail || c->mode != IG_REDACT_PATTERN)
        return c->mode == IG_REDACT_DROP ? replace(c, s, e, "", 0) : replace(c, s, e, MARK, MARK_LEN);
    rc = subst(c->in + s, e - s, &t->sp, &t->w[0]);
    if (rc) return rc;
    sbuf_t *fin;
    int rounds;
    rc = settle(c, &t->w[0], true, &fin, &rounds);
    if (rc) return rc;
    return fin ? replace(c, s, e, fin->p, fin->n) : replace(c, s, e, MARK, MARK_LEN);
}

/* A JSON number token in[s, e): a match turns the whole token into a string (or null). */
static int number_unit(ctx_t *c, size_t s, size_t e)
{
    bool fail;
    int rc = find(c->r, c->t, c->in + s, e - s, false, &fail);
    if (rc) return rc;
    if (!fail && c->t->sp.n == 0) return IG_OK;
    c->nmatch += fail ? 1 : c->t->sp.n;
    return c->mode == IG_REDACT_DROP ? replace(c, s, e, "null", 4) : replace(c, s, e, QMARK, QMARK_LEN);
}

/* Writes the token in[q, tend) as '"' body '"' (no closing quote when the input had none). */
static int put_string(ctx_t *c, size_t q, size_t tend, bool closed, const char *body, size_t len)
{
    int rc = emit_to(c, q);
    if (!rc) rc = ig_buf_lit(c->out, "\"");
    if (!rc) rc = ig_buf_append(c->out, body, len);
    if (!rc && closed) rc = ig_buf_lit(c->out, "\"");
    c->done = tend;
    return rc;
}

/* Appends s[0..n) as a JSON string literal. Unlike ig_json_append_str, bytes >= 0x80 are kept as they are
 * (invalid UTF-8 is not turned into U+FFFD): the text written must be exactly the text that was last
 * matched, or a replacement could create a match (a 1-byte invalid "TLD" becoming a 3-byte U+FFFD one). */
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
        switch (ch) {
        case '"':
        case '\\':
            break;
        case '\b':
            e[1] = 'b';
            break;
        case '\f':
            e[1] = 'f';
            break;
        case '\n':
            e[1] = 'n';
            break;
        case '\r':
            e[1] = 'r';
            break;
        case '\t':
            e[1] = 't';
            break;
        default:
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

/* A JSON string token in[q, tend): opening quote at q, content in[q+1, cend). */
static int string_unit(ctx_t *c, size_t q, size_t cend, size_t tend, bool esc, bool key)
{
    tls_t *t = c->t;
    const char *raw = c->in + q + 1, *d = raw;
    size_t rn = cend - q - 1, dn = rn;
    bool closed = tend > cend, fail;
    int rc;

    if (rn < c->r->minlen) return IG_OK; /* decoding only shortens */
    if (esc) {
        rc = decode(raw, rn, &t->dec, &t->esc);
        if (rc) return rc;
        d = t->dec.p;
        dn = t->dec.n;
    }
    rc = find(c->r, t, d, dn, false, &fail);
    if (rc) return rc;
    if (!fail && t->sp.n == 0) return IG_OK;
    c->nmatch += fail ? 1 : t->sp.n;
    if (fail || c->mode != IG_REDACT_PATTERN)
        return c->mode == IG_REDACT_DROP && !key ? replace(c, q, tend, "null", 4)
                                                 : replace(c, q, tend, QMARK, QMARK_LEN);

    sbuf_t *fin;
    int rounds;
    if (!esc) {
        /* raw == decoded, and the content has no '"' or '\\': substituted text is valid string content */
        rc = subst(raw, rn, &t->sp, &t->w[0]);
        if (!rc) rc = settle(c, &t->w[0], false, &fin, &rounds);
        if (rc) return rc;
        return fin ? put_string(c, q, tend, closed, fin->p, fin->n) : replace(c, q, tend, QMARK, QMARK_LEN);
    }
    /* widen to whole escapes; substitute the raw side (kept as written) and the decoded side (re-matched) */
    t->dsp.n = 0;
    t->dsp.oom = false;
    t->aux.n = 0;
    t->aux.oom = false;
    for (size_t k = 0; k < t->sp.n; k++) {
        span_t ds, rs;
        widen(&t->esc, t->sp.v[k], &ds, &rs);
        span_push(&t->dsp, ds.s, ds.e);
        span_push(&t->aux, rs.s, rs.e);
    }
    if (t->dsp.oom || t->aux.oom) return IG_ENOMEM;
    merge(&t->dsp);
    merge(&t->aux);
    rc = subst(raw, rn, &t->aux, &t->raw);
    if (!rc) rc = subst(d, dn, &t->dsp, &t->w[0]);
    if (!rc) rc = settle(c, &t->w[0], false, &fin, &rounds);
    if (rc) return rc;
    if (!fin) return replace(c, q, tend, QMARK, QMARK_LEN);
    if (rounds == 0) return put_string(c, q, tend, closed, t->raw.p, t->raw.n);
    /* a later round changed the decoded text: write it out escaped */
    rc = emit_to(c, q);
    if (!rc) rc = put_json_str(c->out, fin->p, fin->n);
    c->done = tend;
    return rc;
}

/* ---- walkers ----------------------------------------------------------------------------------------- */

/* The string whose opening quote is at q: *cend = end of its content, *tend = end of the token (past the
 * closing quote, or `end` when unterminated). As in cJSON, a backslash always takes the next byte with it,
 * whatever that byte is: cJSON accepts "\u" followed by non-hex digits (it reads them as U+0000), so refusing
 * them here would send a document cJSON calls valid to the text path. */
static void scan_string(const char *p, size_t q, size_t end, size_t *cend, size_t *tend, bool *esc)
{
    size_t i = q + 1;
    const char *quote = NULL;
    *esc = false;
    for (;;) {
        if (!quote || quote < p + i) {
            quote = memchr(p + i, '"', end - i);
            if (!quote) quote = p + end;
        }
        const char *bs = memchr(p + i, '\\', (size_t)(quote - (p + i)));
        if (!bs) {
            *cend = (size_t)(quote - p);
            *tend = quote == p + end ? end : *cend + 1;
            return;
        }
        *esc = true;
        i = (size_t)(bs - p) + 2;
        if (i >= end) {
            *cend = *tend = end;
            return;
        }
    }
}

static bool is_num_char(unsigned char ch)
{
    return is_dig(ch) || ch == '-' || ch == '+' || ch == '.' || ch == 'e' || ch == 'E';
}

enum { ST_START, ST_VALUE, ST_ARR_OPEN, ST_OBJ_OPEN, ST_KEY, ST_COLON, ST_AFTER, ST_TOP_AFTER };

/*
 * Walks in[i, end) as JSON, handing strings and numbers to the unit code. IG_OK also for a document cut
 * short; NOT_JSON at the first byte that cannot continue JSON (the caller rolls back and uses text).
 */
static int walk_json(ctx_t *c, size_t i, size_t end, bool body)
{
    const char *p = c->in;
    uint8_t objs[IG_REDACT_MAX_DEPTH / 8]; /* bit set: that level is an object */
    size_t depth = 0;
    int st = ST_START, rc = IG_OK;
    bool nl = false;

    if (body && end - i >= 3 && memcmp(p + i, "\xEF\xBB\xBF", 3) == 0) i += 3;
    for (;;) {
        while (i < end && (unsigned char)p[i] <= 0x20) {
            nl = nl || p[i] == '\n';
            i++;
        }
        if (i >= end) break;
        unsigned char ch = (unsigned char)p[i];
        bool in_obj = depth && ((objs[(depth - 1) / 8] >> ((depth - 1) % 8)) & 1);
        bool value_ok = st == ST_START || st == ST_VALUE || st == ST_ARR_OPEN || (st == ST_TOP_AFTER && nl);
        switch (ch) {
        case '{':
        case '[':
            if (!value_ok || depth == IG_REDACT_MAX_DEPTH) return NOT_JSON;
            if (ch == '{')
                objs[depth / 8] |= (uint8_t)(1u << (depth % 8));
            else
                objs[depth / 8] &= (uint8_t) ~(1u << (depth % 8));
            depth++;
            st = ch == '{' ? ST_OBJ_OPEN : ST_ARR_OPEN;
            i++;
            continue;
        case '}':
        case ']':
            if (!depth || in_obj != (ch == '}') ||
                !(st == ST_AFTER || st == (ch == '}' ? ST_OBJ_OPEN : ST_ARR_OPEN)))
                return NOT_JSON;
            depth--;
            i++;
            break; /* a value ended */
        case ',':
            if (!depth || st != ST_AFTER) return NOT_JSON;
            st = in_obj ? ST_KEY : ST_VALUE;
            i++;
            continue;
        case ':':
            if (st != ST_COLON) return NOT_JSON;
            st = ST_VALUE;
            i++;
            continue;
        case '"': {
            bool key = st == ST_OBJ_OPEN || st == ST_KEY, esc;
            if (!key && !value_ok) return NOT_JSON;
            size_t cend, tend;
            scan_string(p, i, end, &cend, &tend, &esc);
            rc = string_unit(c, i, cend, tend, esc, key);
            if (rc) return rc;
            i = tend;
            if (key) {
                st = ST_COLON;
                continue;
            }
            break;
        }
        default:
            if (!value_ok) return NOT_JSON;
            if (ch == '-' || is_dig(ch)) {
                size_t s = i;
                while (i < end && is_num_char((unsigned char)p[i]))
                    i++;
                rc = number_unit(c, s, i);
                if (rc) return rc;
                break;
            }
            if (ch == 't' || ch == 'f' || ch == 'n') {
                const char *lit = ch == 't' ? "true" : ch == 'f' ? "false" : "null";
                size_t s = i, len = strlen(lit);
                while (i < end && (unsigned)(p[i] - 'a') < 26u)
                    i++;
                /* exactly the literal, or a prefix of it cut off by the end of the input */
                if (i - s > len || memcmp(p + s, lit, i - s) != 0 || (i - s < len && i < end))
                    return NOT_JSON;
                break;
            }
            return NOT_JSON;
        }
        /* a value ended */
        if (depth) {
            st = ST_AFTER;
        } else {
            st = ST_TOP_AFTER;
            nl = false;
        }
    }
    return IG_OK;
}

static int walk_text(ctx_t *c, size_t i, size_t end)
{
    while (i < end) {
        const char *nl = memchr(c->in + i, '\n', end - i);
        size_t le = nl ? (size_t)(nl - c->in) : end;
        size_t ce = le > i && c->in[le - 1] == '\r' ? le - 1 : le;
        int rc = text_unit(c, i, ce);
        if (rc) return rc;
        i = nl ? le + 1 : end;
    }
    return IG_OK;
}

/* An SSE "data:" value in[s, e): JSON when it parses as JSON, else text. */
static int sse_data(ctx_t *c, size_t s, size_t e)
{
    size_t k = s;
    while (k < e && (c->in[k] == ' ' || c->in[k] == '\t'))
        k++;
    static const char starts[] = "{[\"-0123456789tfn";
    if (k < e && memchr(starts, c->in[k], sizeof starts - 1)) {
        size_t out0 = c->out->len, done0 = c->done, nm0 = c->nmatch;
        int rc = walk_json(c, s, e, false);
        if (rc != NOT_JSON) return rc;
        c->out->len = out0;
        c->done = done0;
        c->nmatch = nm0;
    }
    return text_unit(c, s, e);
}

static int sse_line(ctx_t *c, size_t s, size_t e)
{
    if (s == e) return IG_OK;
    if (c->in[s] == ':') return text_unit(c, s + 1, e); /* comment */
    const char *colon = memchr(c->in + s, ':', e - s);
    if (!colon) return text_unit(c, s, e);
    size_t v = (size_t)(colon - c->in) + 1;
    if (v < e && c->in[v] == ' ') v++;
    if ((size_t)(colon - (c->in + s)) == 4 && memcmp(c->in + s, "data", 4) == 0) return sse_data(c, v, e);
    return text_unit(c, v, e);
}

static int walk_sse(ctx_t *c)
{
    size_t i = 0, n = c->n;
    while (i < n) {
        const char *nl = memchr(c->in + i, '\n', n - i);
        size_t le = nl ? (size_t)(nl - c->in) : n;
        const char *cr = memchr(c->in + i, '\r', le - i);
        size_t next;
        if (cr) { /* "\r\n" or a lone "\r" */
            next = (size_t)(cr - c->in) + 1;
            if (next < n && c->in[next] == '\n') next++;
            le = (size_t)(cr - c->in);
        } else {
            next = nl ? le + 1 : n;
        }
        int rc = sse_line(c, i, le);
        if (rc) return rc;
        i = next;
    }
    return IG_OK;
}

/* ---- API --------------------------------------------------------------------------------------------- */

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int ig_redactor_new(unsigned defaults, const char *const *custom, size_t ncustom, ig_redactor_t **out,
                    char *err, size_t errlen)
{
    ig_redactor_t *r = NULL;
    pcre2_compile_context *cc = NULL;
    int rc = IG_OK;

    if (err && errlen) err[0] = '\0';
    if (!out) return IG_EINVAL;
    *out = NULL;
    if (defaults & ~(unsigned)IG_PII_DEFAULTS) {
        set_err(err, errlen, "unknown default detector bits 0x%x", defaults & ~(unsigned)IG_PII_DEFAULTS);
        return IG_EINVAL;
    }
    if (ncustom > IG_REDACT_MAX_CUSTOM || (ncustom && !custom)) {
        set_err(err, errlen, "at most %d custom patterns", IG_REDACT_MAX_CUSTOM);
        return IG_EINVAL;
    }
    r = calloc(1, sizeof *r);
    cc = pcre2_compile_context_create(NULL);
    if (!r || !cc) {
        rc = IG_ENOMEM;
        goto out;
    }
    pcre2_set_max_pattern_length(cc, IG_REDACT_MAX_PATTERN_BYTES);
    pcre2_set_parens_nest_limit(cc, 64);
    r->defaults = defaults;
    r->minlen = SIZE_MAX;
    if (defaults & IG_PII_EMAIL) r->minlen = IG_MIN(r->minlen, (size_t)MIN_EMAIL);
    if (defaults & IG_PII_PHONE) r->minlen = IG_MIN(r->minlen, (size_t)MIN_PHONE);
    if (defaults & IG_PII_SSN) r->minlen = IG_MIN(r->minlen, (size_t)MIN_SSN);
    if (defaults & IG_PII_CARD) r->minlen = IG_MIN(r->minlen, (size_t)MIN_CARD);

    for (size_t k = 0; k < ncustom; k++) {
        const char *pat = custom[k];
        size_t len = pat ? strnlen(pat, IG_REDACT_MAX_PATTERN_BYTES + 1) : 0;
        if (len == 0 || len > IG_REDACT_MAX_PATTERN_BYTES) {
            set_err(err, errlen, "custom pattern %zu: %s (at most %zu bytes)", k + 1,
                    len ? "too long" : "empty", (size_t)IG_REDACT_MAX_PATTERN_BYTES);
            rc = IG_EINVAL;
            goto out;
        }
        int ec;
        PCRE2_SIZE eoff;
        pcre2_code *code = pcre2_compile((PCRE2_SPTR)pat, len,
                                         PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_NEVER_BACKSLASH_C |
                                             PCRE2_USE_OFFSET_LIMIT,
                                         &ec, &eoff, cc);
        if (!code) {
            PCRE2_UCHAR msg[256];
            if (pcre2_get_error_message(ec, msg, sizeof msg) < 0) snprintf((char *)msg, sizeof msg, "error");
            set_err(err, errlen, "custom pattern %zu: %s at offset %zu", k + 1, (const char *)msg,
                    (size_t)eoff);
            rc = ec == PCRE2_ERROR_NOMEMORY ? IG_ENOMEM : IG_EINVAL;
            goto out;
        }
        r->custom[k].code = code;
        r->ncustom = k + 1;
        uint32_t minlen = 0;
        pcre2_pattern_info(code, PCRE2_INFO_MINLENGTH, &minlen);
        if (minlen == 0) {
            set_err(err, errlen, "custom pattern %zu: can match the empty string", k + 1);
            rc = IG_EINVAL;
            goto out;
        }
        r->custom[k].minlen = minlen;
        r->minlen = IG_MIN(r->minlen, (size_t)minlen);
        /* JIT is best effort: without it the interpreter runs under the same limits */
        (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    }
out:
    pcre2_compile_context_free(cc);
    if (rc) {
        ig_redactor_free(r);
        r = NULL;
    }
    *out = r;
    return rc;
}

void ig_redactor_free(ig_redactor_t *r)
{
    if (!r) return;
    for (size_t k = 0; k < r->ncustom; k++)
        pcre2_code_free(r->custom[k].code);
    free(r);
}

ig_redact_kind_t ig_redact_kind_of(ig_iov_t ct)
{
    size_t len = ct.base ? ct.len : 0;
    const char *semi = len ? memchr(ct.base, ';', len) : NULL;
    if (semi) len = (size_t)(semi - ct.base);
    ig_iov_t mt = ig_iov_trim(ig_iov(ct.base, len));
    if (ig_iov_ieq(mt, IG_IOV_LIT("text/event-stream"))) return IG_REDACT_SSE;
    for (size_t k = 0; k + 4 <= mt.len; k++)
        if (ig_iov_has_iprefix(ig_iov(mt.base + k, mt.len - k), IG_IOV_LIT("json"))) return IG_REDACT_JSON;
    return IG_REDACT_TEXT;
}

/* Shared set-up and tear-down of the two entry points. */
static int run(const ig_redactor_t *r, ig_redact_mode_t mode, int kind, ig_iov_t in, ig_buf_t *out,
               bool *dropped, size_t *nmatches)
{
    bool owned;
    int rc = IG_OK;
    size_t out0 = out->len;
    tls_t *t = tls_get(&owned);
    if (!t) return IG_ENOMEM;
    ctx_t c = {r, t, mode, in.base ? in.base : "", in.len, 0, out, 0};
    budget_start(r, t, in.len);

    if (kind < 0) { /* one field */
        bool fail;
        rc = find(r, t, c.in, c.n, true, &fail);
        if (rc) goto out;
        if (!fail && t->sp.n == 0) goto out;
        c.nmatch += fail ? 1 : t->sp.n;
        if (mode == IG_REDACT_DROP) {
            *dropped = true;
            c.done = c.n;
        } else if (fail || mode == IG_REDACT_HASH) {
            rc = replace(&c, 0, c.n, MARK, MARK_LEN);
        } else {
            sbuf_t *fin;
            int rounds;
            rc = subst(c.in, c.n, &t->sp, &t->w[0]);
            if (!rc) rc = settle(&c, &t->w[0], true, &fin, &rounds);
            if (!rc) rc = fin ? replace(&c, 0, c.n, fin->p, fin->n) : replace(&c, 0, c.n, MARK, MARK_LEN);
        }
    } else if (kind == IG_REDACT_JSON) {
        rc = walk_json(&c, 0, c.n, true);
        if (rc == NOT_JSON) {
            out->len = out0;
            c.done = 0;
            c.nmatch = 0;
            rc = walk_text(&c, 0, c.n);
        }
    } else if (kind == IG_REDACT_SSE) {
        rc = walk_sse(&c);
    } else {
        rc = walk_text(&c, 0, c.n);
    }
out:
    if (!rc) rc = emit_to(&c, c.n);
    if (rc) {
        out->len = out0;
        c.nmatch = 0;
        if (dropped) *dropped = false;
    }
    if (nmatches) *nmatches = c.nmatch;
    tls_release(t, owned);
    return rc;
}

int ig_redact_body(const ig_redactor_t *r, ig_redact_mode_t mode, ig_redact_kind_t kind, ig_iov_t in,
                   ig_buf_t *out, size_t *nmatches)
{
    if (nmatches) *nmatches = 0;
    if (!r || !out || (!in.base && in.len) || (unsigned)mode > IG_REDACT_DROP ||
        (unsigned)kind > IG_REDACT_SSE)
        return IG_EINVAL;
    return run(r, mode, (int)kind, in, out, NULL, nmatches);
}

int ig_redact_field(const ig_redactor_t *r, ig_redact_mode_t mode, ig_iov_t in, ig_buf_t *out, bool *dropped,
                    size_t *nmatches)
{
    bool dummy = false;
    if (nmatches) *nmatches = 0;
    if (dropped) *dropped = false;
    if (!r || !out || (!in.base && in.len) || (unsigned)mode > IG_REDACT_DROP) return IG_EINVAL;
    return run(r, mode, -1, in, out, dropped ? dropped : &dummy, nmatches);
}

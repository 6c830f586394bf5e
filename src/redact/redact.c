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
 *
 * Streams: the strings that carry a streamed answer's text are not units of their own. The walker records
 * them and copies them unchanged; after the body, each stream's text is matched whole and piece by piece,
 * and the output is rewritten from the first piece that changed (see "streams" below).
 *
 * Broken JSON bodies: how a body is cut into units must not change when it is read back redacted, or the
 * second reading finds what the first did not (fuzz/fuzz_redact.c checks it). A JSON body is walked value
 * by value, and only the lines a failing value touches go line by line (walk_body); since redacting those
 * lines can still change how the body reads, such a body is read again until it settles (reread).
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
    unsigned ty; /* ig_pii_type_t of the detector that found it (typed redaction only reads it) */
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

/* A fragment of streamed text: a JSON string at a known path of one event (see "streams" below). */
typedef struct {
    size_t q;      /* input offset of the opening quote; the content is in[q+1, q+1+len) */
    size_t opos;   /* output offset where the walk copied the token unchanged */
    uint64_t key;  /* stream: the rule, then the index-like members of each enclosing object */
    uint32_t len;  /* raw content bytes */
    uint32_t next; /* next fragment of the same stream (NO_FRAG: none) */
} frag_t;

typedef struct {
    frag_t *v;
    size_t n, cap;
} frags_t;

typedef struct {
    uint64_t key;
    uint32_t head, tail, n;
} strm_t;

/* Working state of one fragment of the stream being redacted. */
typedef struct {
    size_t b, n;   /* current decoded text: [b, b+n) of the stream text */
    size_t e0, ne; /* escapes of the original text, in fesc (decoded offsets relative to the fragment) */
    size_t ro, rn; /* FS_RAW: the rewritten raw content, in fraw */
    uint32_t f;    /* index in frag */
    uint8_t st;    /* FS_* */
} fw_t;

/* A rewritten fragment: its new token is rep[off, off+len). */
typedef struct {
    uint32_t f;
    size_t off, len;
} chg_t;

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
    /* streams (see "streams" below) */
    frags_t frag; /* fragments of the body, in order */
    strm_t *strm; /* streams, in order of first fragment */
    size_t nstrm, strmcap;
    uint32_t *slot; /* open-addressing table: stream key -> index in strm */
    size_t slotcap;
    fw_t *fw; /* the stream being redacted */
    size_t fwcap;
    chg_t *chg; /* rewritten fragments */
    size_t nchg, chgcap;
    escs_t fesc;  /* escapes of the stream's fragments */
    spans_t ssp;  /* matches in the stream's text */
    sbuf_t cc[2]; /* the stream's text, before and after a round */
    sbuf_t fraw;  /* raw-side rewrites of escaped fragments */
    sbuf_t rep;   /* replacement tokens */
    sbuf_t tail;  /* output after the first rewritten fragment, while it is rebuilt */
    sbuf_t again; /* a JSON body's output, read again (see reread()) */
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

static void span_push_ty(spans_t *s, size_t a, size_t e, unsigned ty)
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
    s->v[s->n++] = (span_t){a, e, ty};
}

static void span_push(spans_t *s, size_t a, size_t e)
{
    span_push_ty(s, a, e, 0);
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

/* v with room for `need` elements of `size` bytes (capacity *cap, doubled as needed); NULL when out of
 * memory (v is then unchanged and still owned by the caller). */
static void *grow(void *v, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) return v;
    size_t c = *cap ? *cap : 16;
    while (c < need) {
        if (c > SIZE_MAX / 2 / size) return NULL;
        c *= 2;
    }
    void *p = realloc(v, c * size);
    if (p) *cap = c;
    return p;
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
    free(t->frag.v);
    free(t->strm);
    free(t->slot);
    free(t->fw);
    free(t->chg);
    free(t->fesc.v);
    free(t->ssp.v);
    sbuf_free(&t->cc[0]);
    sbuf_free(&t->cc[1]);
    sbuf_free(&t->fraw);
    sbuf_free(&t->rep);
    sbuf_free(&t->tail);
    sbuf_free(&t->again);
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

/* Arrays above SCRATCH_KEEP bytes are freed after a call too (they hold offsets, not text). */
#define SHRINK_ARR(p, cap)                                                                                   \
    do {                                                                                                     \
        if ((cap) * sizeof *(p) > SCRATCH_KEEP) {                                                            \
            free(p);                                                                                         \
            (p) = NULL;                                                                                      \
            (cap) = 0;                                                                                       \
        }                                                                                                    \
    } while (0)

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
    shrink(&t->cc[0]);
    shrink(&t->cc[1]);
    shrink(&t->fraw);
    shrink(&t->rep);
    shrink(&t->tail);
    shrink(&t->again);
    SHRINK_ARR(t->frag.v, t->frag.cap);
    SHRINK_ARR(t->strm, t->strmcap);
    SHRINK_ARR(t->slot, t->slotcap);
    SHRINK_ARR(t->fw, t->fwcap);
    SHRINK_ARR(t->chg, t->chgcap);
    SHRINK_ARR(t->fesc.v, t->fesc.cap);
    SHRINK_ARR(t->ssp.v, t->ssp.cap);
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
                span_push_ty(out, s - 1, e, IG_PII_T_PHONE);
                next = IG_MAX(next, e);
            }
            if (s > 0 && p[s - 1] == '(' && (e = phone_paren(p, n, s - 1)) != 0) {
                span_push_ty(out, s - 1, e, IG_PII_T_PHONE);
                next = IG_MAX(next, e);
            }
        }
        if (lb_ok(p, s)) {
            if ((mask & IG_PII_CARD) && (e = card_at(p, n, s, re)) != 0) {
                span_push_ty(out, s, e, IG_PII_T_CARD);
                next = IG_MAX(next, e);
            }
            if ((mask & IG_PII_SSN) && (e = ssn_at(p, n, s, re)) != 0) {
                span_push_ty(out, s, e, IG_PII_T_SSN);
                next = IG_MAX(next, e);
            }
            if ((mask & IG_PII_PHONE) && (e = phone_us(p, n, s, re)) != 0) {
                span_push_ty(out, s, e, IG_PII_T_PHONE);
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
        if (de) span_push_ty(out, ls, de, IG_PII_T_EMAIL);
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
                span_push_ty(out, s, e, IG_PII_T_CUSTOM);
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

/* Appends the JSON-unescaped raw[0..n) to d, recording each escape in e (decoded offsets relative to where
 * this call started writing, raw offsets relative to raw). Lone surrogates become U+FFFD; an invalid or
 * cut-short escape stays as literal bytes, its backslash and next byte one unit. Decoding never lengthens:
 * it appends at most n bytes. */
static int decode_at(const char *raw, size_t n, sbuf_t *d, escs_t *e)
{
    int rc = sbuf_reserve(d, n);
    if (rc) return rc;
    size_t i = 0, d0 = d->n;
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
        esc_push(e, d->n - d0, i, dl, rl);
        memcpy(d->p + d->n, o, dl);
        d->n += dl;
        i += rl;
    }
    return e->oom ? IG_ENOMEM : IG_OK;
}

/* d = raw[0..n) unescaped, e = its escapes. */
static int decode(const char *raw, size_t n, sbuf_t *d, escs_t *e)
{
    sbuf_reset(d);
    e->n = 0;
    e->oom = false;
    return decode_at(raw, n, d, e);
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
    *d = (span_t){ds, de2, 0};
    *r = (span_t){rs, re2, 0};
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
    bool frags;  /* JSON strings at stream paths are fragments (SSE and JSON bodies) */
    bool broken; /* a JSON body with a value that did not parse (see walk_body()) */
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

/* Where put_json_str writes: the output (ig_buf_t) or a scratch buffer (sbuf_t). */
typedef int (*put_fn)(void *dst, const void *p, size_t n);

static int put_out(void *dst, const void *p, size_t n)
{
    return ig_buf_append(dst, p, n);
}

static int put_sbuf(void *dst, const void *p, size_t n)
{
    return sbuf_add(dst, p, n);
}

/* Appends s[0..n) as a JSON string literal. Unlike ig_json_append_str, bytes >= 0x80 are kept as they are
 * (invalid UTF-8 is not turned into U+FFFD): the text written must be exactly the text that was last
 * matched, or a replacement could create a match (a 1-byte invalid "TLD" becoming a 3-byte U+FFFD one). */
static int put_json_str(put_fn put, void *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t at = 0;
    int rc = put(b, "\"", 1);
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
        rc = put(b, s + at, k - at);
        if (!rc) rc = put(b, e, el);
        at = k + 1;
    }
    if (!rc) rc = put(b, s + at, n - at);
    if (!rc) rc = put(b, "\"", 1);
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
    if (!rc) rc = put_json_str(put_out, c->out, fin->p, fin->n);
    c->done = tend;
    return rc;
}

/* ---- streams ----------------------------------------------------------------------------------------- */

/*
 * A streamed answer carries its text in pieces, one per event, each a JSON string at a known path of its
 * event: a "fragment". Redacting events one by one would miss PII that the model emitted across two
 * events, so the walker does not redact a fragment where it finds it: it records it (the token is copied to
 * the output unchanged for now) with the key of the stream it belongs to. After the body, each stream's
 * fragments are decoded and concatenated; the stream text is matched as a whole and each fragment alone
 * (as the per-event pass would see it: its ends are boundaries), and every match rewrites the fragments it
 * overlaps (stream_apply). Fragments are output tokens again only when something changed (streams_write).
 *
 * Paths. A fragment is a string at one of the paths of RULES, counted from the top-level object of an event
 * (an SSE "data:" value, or one NDJSON line). The walker keeps, per container depth, where the path from
 * the top-level object down to the container is in the trie of RULES, or PDEAD once no rule goes through
 * it: in a body without streams nearly every container is dead at once, and its strings cost one test.
 *
 * Stream key. The rule, then for each enclosing object the index-like members it has (choice "index",
 * content block "index", "output_index", "content_index", "summary_index"), folded in when the object
 * closes, so the order of members does not matter. The value folded is the member's token as it is
 * written to the output (a card number in "index" is "[REDACTED]" there), so redacting the output again
 * groups its fragments the same way. Fragments of different choices or content blocks are different
 * streams; a fragment's stream only ever joins fragments of the same rule.
 */

/* Member names that make up fragment paths and stream keys (below 32: trie_next is indexed by them). */
enum {
    K_OTHER = 0,
    K_CHOICES,
    K_DELTA,
    K_CONTENT,
    K_TEXT,
    K_REFUSAL,
    K_REASONING_CONTENT,
    K_REASONING,
    K_TOOL_CALLS,
    K_FUNCTION,
    K_ARGUMENTS,
    K_PARTIAL_JSON,
    K_THINKING,
    K_MESSAGE,
    K_RESPONSE,
    K_INDEX, /* K_INDEX..K_SUMMARY_INDEX: index-like, part of the stream key */
    K_OUTPUT_INDEX,
    K_CONTENT_INDEX,
    K_SUMMARY_INDEX,
    K_ELEM = 31, /* an array element */
};

/* Where streamed text is, for the providers ingate proxies (OpenAI and compatible servers, Anthropic,
 * Ollama): the member names from the top-level object of an event down to the string. */
static const struct {
    uint8_t seg[8]; /* ends at the first 0 */
} RULES[] = {
    /* OpenAI chat completions chunks: choices[].delta.{content, refusal, reasoning(_content)}, and the
     * arguments of each tool call (tool_calls[].index is part of the key) */
    {{K_CHOICES, K_ELEM, K_DELTA, K_CONTENT}},
    {{K_CHOICES, K_ELEM, K_DELTA, K_REFUSAL}},
    {{K_CHOICES, K_ELEM, K_DELTA, K_REASONING_CONTENT}},
    {{K_CHOICES, K_ELEM, K_DELTA, K_REASONING}},
    {{K_CHOICES, K_ELEM, K_DELTA, K_TOOL_CALLS, K_ELEM, K_FUNCTION, K_ARGUMENTS}},
    /* OpenAI completions chunks */
    {{K_CHOICES, K_ELEM, K_TEXT}},
    /* OpenAI Responses: every "response.*.delta" event has its text in a top-level "delta" string */
    {{K_DELTA}},
    /* Anthropic Messages content_block_delta: text_delta, input_json_delta, thinking_delta */
    {{K_DELTA, K_TEXT}},
    {{K_DELTA, K_PARTIAL_JSON}},
    {{K_DELTA, K_THINKING}},
    /* Ollama NDJSON: /api/chat message.{content, thinking}, /api/generate response, thinking */
    {{K_MESSAGE, K_CONTENT}},
    {{K_MESSAGE, K_THINKING}},
    {{K_RESPONSE}},
    {{K_THINKING}},
};

/* The names K_* stand for. */
static const struct {
    const char *s;
    uint8_t id;
} NAMES[] = {
    {"choices", K_CHOICES},
    {"delta", K_DELTA},
    {"content", K_CONTENT},
    {"text", K_TEXT},
    {"refusal", K_REFUSAL},
    {"reasoning_content", K_REASONING_CONTENT},
    {"reasoning", K_REASONING},
    {"tool_calls", K_TOOL_CALLS},
    {"function", K_FUNCTION},
    {"arguments", K_ARGUMENTS},
    {"partial_json", K_PARTIAL_JSON},
    {"thinking", K_THINKING},
    {"message", K_MESSAGE},
    {"response", K_RESPONSE},
    {"index", K_INDEX},
    {"output_index", K_OUTPUT_INDEX},
    {"content_index", K_CONTENT_INDEX},
    {"summary_index", K_SUMMARY_INDEX},
};

/* NAMES by hash of (first 4 bytes, last 4 bytes, length): every name is 4..17 bytes and these three tell
 * them all apart. The hash's multiplier is chosen at start-up so that no two names share a slot, so a
 * lookup is one slot and one compare (the middle bytes of a name over 8 bytes are compared only when the
 * rest matched). */
#define NAME_BITS 7
static struct {
    uint32_t head, tail;
    uint8_t len, k; /* len 0: empty slot; k: index in NAMES */
} name_slot[1u << NAME_BITS];
static uint32_t name_mul;

static inline uint32_t load4(const char *p)
{
    uint32_t w;
    memcpy(&w, p, 4);
    return w;
}

static inline size_t name_hash(uint32_t head, uint32_t tail, size_t n)
{
    return (size_t)(((head ^ (tail * 0x85EBCA77u) ^ (uint32_t)n) * name_mul) >> (32 - NAME_BITS));
}

static void names_init(void)
{
    for (name_mul = 0x9E3779B1u;; name_mul += 2) {
        bool clash = false;
        memset(name_slot, 0, sizeof name_slot);
        for (size_t k = 0; k < IG_ARRAY_LEN(NAMES) && !clash; k++) {
            size_t n = strlen(NAMES[k].s); /* 4..17, see key_name() */
            uint32_t head = load4(NAMES[k].s), tail = load4(NAMES[k].s + n - 4);
            size_t h = name_hash(head, tail, n);
            clash = name_slot[h].len != 0;
            name_slot[h].head = head;
            name_slot[h].tail = tail;
            name_slot[h].len = (uint8_t)n;
            name_slot[h].k = (uint8_t)k;
        }
        if (!clash) return;
    }
}

/* The member name in p[0..n) (K_OTHER for a name no rule uses). */
static inline uint8_t key_name(const char *p, size_t n)
{
    if (n < 4 || n > 17) return K_OTHER; /* "text" .. "reasoning_content" */
    uint32_t head = load4(p), tail = load4(p + n - 4);
    size_t h = name_hash(head, tail, n);
    if ((name_slot[h].head == head) & (name_slot[h].tail == tail) & (name_slot[h].len == n) &&
        (n <= 8 || memcmp(NAMES[name_slot[h].k].s + 4, p + 4, n - 8) == 0))
        return NAMES[name_slot[h].k].id;
    return K_OTHER;
}

/* RULES as a trie, built once: node 0 is an event's top-level object; a path (path_t.node) is a node, or
 * PDEAD once no rule goes through it. Each rule adds at most 8 nodes. */
#define TRIE_NODES (1 + IG_ARRAY_LEN(RULES) * 8)
#define PDEAD      0xFF
_Static_assert(TRIE_NODES < PDEAD, "trie nodes are uint8_t, PDEAD excluded");
static uint8_t trie_next[TRIE_NODES][32]; /* child by member name (0: none; the root is no one's child) */
static int8_t trie_rule[TRIE_NODES];      /* the rule whose path ends here, or -1 */
static bool trie_inner[TRIE_NODES];       /* some rule goes deeper */
static pthread_once_t trie_once = PTHREAD_ONCE_INIT;

static void trie_init(void)
{
    size_t nodes = 1;
    memset(trie_rule, -1, sizeof trie_rule);
    for (size_t k = 0; k < IG_ARRAY_LEN(RULES); k++) {
        size_t at = 0;
        for (size_t d = 0; d < sizeof RULES[k].seg && RULES[k].seg[d]; d++) {
            uint8_t seg = RULES[k].seg[d];
            trie_inner[at] = true;
            if (!trie_next[at][seg]) trie_next[at][seg] = (uint8_t)nodes++;
            at = trie_next[at][seg];
        }
        trie_rule[at] = (int8_t)k;
    }
    names_init();
}

/* Containers followed (the longest rule reaches 7 deep); deeper ones hold no fragment. */
#define PDEPTH  8
#define NO_FRAG UINT32_MAX

/* Fragment states (fw_t.st) and the token each one writes. */
enum {
    FS_SAME, /* unchanged: nothing written */
    FS_RAW,  /* changed once, had escapes: the raw content rewritten, escapes kept as written */
    FS_TEXT, /* the current text as it is (no escapes in it: no '"' or '\\' to escape) */
    FS_ENC,  /* the current text, JSON-escaped */
    FS_MARK, /* "[REDACTED]" */
    FS_NULL, /* null */
};

typedef struct {
    uint8_t node[PDEPTH + 1]; /* path of the container at depth d (a trie node), or PDEAD */
    uint64_t ik[PDEPTH + 1];  /* index-like members of the object at depth d (a sum: order-free) */
    size_t f0[PDEPTH + 1];    /* fragments recorded before that container opened */
    uint8_t key[PDEPTH + 1];  /* name of the member being read in the object at depth d */
} path_t;

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t k = 0; k < n; k++)
        h = (h ^ (unsigned char)p[k]) * 0x100000001b3ull;
    return h;
}

static inline bool is_index_name(uint8_t k)
{
    return k >= K_INDEX && k <= K_SUMMARY_INDEX;
}

static inline bool path_live(const path_t *P, size_t d)
{
    return d >= 1 && d <= PDEPTH && P->node[d] != PDEAD;
}

/* The member name of the key token in[q+1, cend) (decoded first when it has escapes). */
static uint8_t key_id(ctx_t *c, size_t q, size_t cend, bool esc)
{
    const char *p = c->in + q + 1;
    size_t n = cend - q - 1;
    if (esc && n <= 128 && decode(p, n, &c->t->vdec, &c->t->vesc) == IG_OK) {
        p = c->t->vdec.p;
        n = c->t->vdec.n;
    }
    return key_name(p, n);
}

/* Member `seg` of the live container at depth d: its path while some rule goes deeper (else PDEAD), and
 * *rule = the rule whose path it completes (a string there is a fragment), or -1. */
static inline uint8_t path_step(const path_t *P, size_t d, uint8_t seg, int *rule)
{
    *rule = -1;
    if (seg == K_OTHER) return PDEAD;
    uint8_t child = trie_next[P->node[d]][seg];
    if (!child) return PDEAD;
    *rule = trie_rule[child];
    return trie_inner[child] ? child : PDEAD;
}

/* A container opens at depth d+1, inside the container at depth d (d = 0: top level), as an array element
 * or (in_obj) as the member being read. Only a live path keeps state. */
static inline void path_open(ctx_t *c, path_t *P, size_t d, bool in_obj, bool obj)
{
    int rule;
    size_t nd = d + 1;
    uint8_t node = d == 0 ? (obj ? 0 : PDEAD) : path_step(P, d, in_obj ? P->key[d] : K_ELEM, &rule);
    P->node[nd] = node;
    if (node == PDEAD) return;
    P->ik[nd] = 0;
    P->f0[nd] = c->t->frag.n;
    P->key[nd] = K_OTHER;
}

/* The container at depth d closes (or the walk ends inside it): its index-like members join the key of
 * every fragment recorded inside it. */
static inline void path_close(ctx_t *c, const path_t *P, size_t d)
{
    frags_t *fr = &c->t->frag;
    if (P->node[d] == PDEAD || !P->ik[d]) return;
    uint64_t fold = mix64(P->ik[d] + d);
    for (size_t f = P->f0[d]; f < fr->n; f++)
        fr->v[f].key = mix64(fr->v[f].key ^ fold);
}

/* The value in[vs, ve) of an index-like member at depth d was just redacted (output was ob and done db
 * before): adds its output token to the object's key. */
static void path_index(ctx_t *c, path_t *P, size_t d, size_t vs, size_t ve, size_t ob, size_t db)
{
    uint64_t h;
    if (c->done > vs) { /* rewritten: the token is at the end of the output */
        size_t at = ob + (vs - db);
        h = hash_bytes(c->out->data + at, c->out->len - at);
    } else {
        h = hash_bytes(c->in + vs, ve - vs);
    }
    P->ik[d] += mix64(h ^ P->key[d]);
}

/* Records the string token at q (content in[q+1, cend)) as a fragment of `rule`. *added = false: it is
 * too big to record and the caller redacts it on its own. */
static int frag_add(ctx_t *c, size_t q, size_t cend, int rule, bool *added)
{
    frags_t *fr = &c->t->frag;
    size_t len = cend - q - 1;
    *added = false;
    if (len > UINT32_MAX || fr->n >= NO_FRAG) return IG_OK;
    frag_t *v = grow(fr->v, &fr->cap, fr->n + 1, sizeof *v);
    if (!v) return IG_ENOMEM;
    fr->v = v;
    v[fr->n++] = (frag_t){q, c->out->len + (q - c->done), mix64((uint64_t)rule + 1), (uint32_t)len, NO_FRAG};
    *added = true;
    return IG_OK;
}

/* Whether the fragment's token had its closing quote (only the last token of a cut-short body has not). */
static bool frag_closed(const ctx_t *c, const frag_t *g)
{
    size_t cend = g->q + 1 + g->len;
    return cend < c->n && c->in[cend] == '"';
}

/* The stream table with `cap` slots (a power of 2), filled from t->strm. */
static int slots_build(tls_t *t, size_t cap)
{
    uint32_t *slot = grow(t->slot, &t->slotcap, cap, sizeof *slot);
    if (!slot) return IG_ENOMEM;
    t->slot = slot;
    memset(slot, 0xff, cap * sizeof *slot);
    for (size_t s = 0; s < t->nstrm; s++) {
        size_t h = mix64(t->strm[s].key) & (cap - 1);
        while (slot[h] != NO_FRAG)
            h = (h + 1) & (cap - 1);
        slot[h] = (uint32_t)s;
    }
    return IG_OK;
}

/* Groups the fragments into streams by key (chained through frag_t.next, in order). */
static int streams_group(ctx_t *c)
{
    tls_t *t = c->t;
    size_t cap = 16;
    t->nstrm = 0;
    int rc = slots_build(t, cap);
    for (size_t f = 0; f < t->frag.n && !rc; f++) {
        frag_t *g = &t->frag.v[f];
        size_t h = mix64(g->key) & (cap - 1);
        g->next = NO_FRAG;
        while (t->slot[h] != NO_FRAG && t->strm[t->slot[h]].key != g->key)
            h = (h + 1) & (cap - 1);
        if (t->slot[h] != NO_FRAG) {
            strm_t *s = &t->strm[t->slot[h]];
            t->frag.v[s->tail].next = (uint32_t)f;
            s->tail = (uint32_t)f;
            s->n++;
            continue;
        }
        strm_t *v = grow(t->strm, &t->strmcap, t->nstrm + 1, sizeof *v);
        if (!v) return IG_ENOMEM;
        t->strm = v;
        v[t->nstrm++] = (strm_t){g->key, (uint32_t)f, (uint32_t)f, 1};
        if (t->nstrm * 2 > cap) { /* keep the table at most half full */
            cap *= 2;
            rc = slots_build(t, cap);
        } else {
            t->slot[h] = (uint32_t)(t->nstrm - 1);
        }
    }
    return rc;
}

/* Matches of the stream text p (fragments fw[0..m)) into t->ssp, merged: the text as a whole, and each
 * fragment alone. *fail: the stream must be treated as matched (limits). */
static int stream_find(ctx_t *c, const char *p, size_t n, const fw_t *fw, size_t m, bool *fail)
{
    tls_t *t = c->t;
    spans_t *sp = &t->ssp;
    size_t minlen = c->r->minlen;
    int rc = IG_OK;
    sp->n = 0;
    sp->oom = false;
    *fail = false;
    if (n >= minlen) rc = detect(c->r, t, p, n, sp, fail);
    for (size_t k = 0; m > 1 && k < m && !rc && !*fail; k++) {
        if (fw[k].n < minlen) continue;
        size_t n0 = sp->n;
        rc = detect(c->r, t, p + fw[k].b, fw[k].n, sp, fail);
        for (size_t j = n0; j < sp->n; j++) {
            sp->v[j].s += fw[k].b;
            sp->v[j].e += fw[k].b;
        }
    }
    if (!rc && sp->oom) rc = IG_ENOMEM;
    if (!rc && !*fail) merge(sp);
    return rc;
}

/* Appends p[0..n) with each span replaced by the mark; the first span by nothing when `cont` (it continues
 * a match whose mark is in an earlier fragment). */
static int subst_into(const char *p, size_t n, const spans_t *sp, bool cont, sbuf_t *out)
{
    size_t at = 0;
    int rc = IG_OK;
    for (size_t k = 0; k < sp->n && !rc; k++) {
        rc = sbuf_add(out, p + at, sp->v[k].s - at);
        if (!rc && !(k == 0 && cont)) rc = sbuf_add(out, MARK, MARK_LEN);
        at = sp->v[k].e;
    }
    if (!rc) rc = sbuf_add(out, p + at, n - at);
    return rc;
}

/*
 * Pattern mode, one fragment w (text old[0..n), stream offsets [b, e)) overlapped by the stream matches
 * from t->ssp.v[j] on: the overlapped bytes go, and a mark goes where a match starts. An escaped fragment
 * that is still as written is widened to whole escapes and its raw content rewritten too (FS_RAW), so the
 * escapes outside the matches stay as they were written; once rewritten, a later round writes the text
 * re-escaped (FS_ENC).
 */
static int frag_subst(ctx_t *c, fw_t *w, const char *old, size_t b, size_t e, size_t j, sbuf_t *nb)
{
    tls_t *t = c->t;
    const spans_t *S = &t->ssp;
    spans_t *ds = &t->dsp, *rs = &t->aux;
    bool cont = S->v[j].s < b, raw = w->st == FS_SAME && w->ne > 0;
    int rc;
    ds->n = rs->n = 0;
    ds->oom = rs->oom = false;
    for (size_t k = j; k < S->n && S->v[k].s < e; k++)
        span_push(ds, IG_MAX(S->v[k].s, b) - b, IG_MIN(S->v[k].e, e) - b);
    if (raw && !ds->oom) {
        escs_t view = {t->fesc.v + w->e0, w->ne, w->ne, false};
        for (size_t k = 0; k < ds->n; k++) {
            span_t d, r;
            widen(&view, ds->v[k], &d, &r);
            ds->v[k] = d;
            span_push(rs, r.s, r.e);
        }
        /* widening can make neighbours meet: merge both sides in step (a merge into the first span gives
         * it a match start of its own, so it gets a mark) */
        size_t o = 0;
        for (size_t k = 1; k < ds->n && !rs->oom; k++) {
            if (ds->v[k].s <= ds->v[o].e) {
                ds->v[o].e = IG_MAX(ds->v[o].e, ds->v[k].e);
                rs->v[o].e = IG_MAX(rs->v[o].e, rs->v[k].e);
                if (o == 0) cont = false;
            } else {
                o++;
                ds->v[o] = ds->v[k];
                rs->v[o] = rs->v[k];
            }
        }
        if (ds->n) ds->n = rs->n = o + 1;
    }
    if (ds->oom || rs->oom) return IG_ENOMEM;
    size_t at = nb->n;
    rc = subst_into(old, w->n, ds, cont, nb);
    if (rc) return rc;
    w->n = nb->n - at;
    if (raw) {
        const frag_t *g = &t->frag.v[w->f];
        w->ro = t->fraw.n;
        rc = subst_into(c->in + g->q + 1, g->len, rs, cont, &t->fraw);
        w->rn = t->fraw.n - w->ro;
        w->st = FS_RAW;
    } else {
        w->st = w->st == FS_SAME ? FS_TEXT : w->st == FS_RAW ? FS_ENC : w->st;
    }
    return rc;
}

/* One round: the matches in t->ssp applied to the stream text cur, the new text into nb (fw updated). */
static int stream_apply(ctx_t *c, const sbuf_t *cur, sbuf_t *nb, fw_t *fw, size_t m)
{
    const spans_t *S = &c->t->ssp;
    size_t j = 0;
    int rc = IG_OK;
    sbuf_reset(nb);
    for (size_t k = 0; k < m && !rc; k++) {
        fw_t *w = &fw[k];
        size_t b = w->b, e = b + w->n;
        w->b = nb->n;
        while (j < S->n && S->v[j].e <= b)
            j++;
        if (w->n == 0 || j == S->n || S->v[j].s >= e) {
            rc = sbuf_add(nb, cur->p + b, w->n);
        } else if (c->mode == IG_REDACT_HASH) {
            w->st = FS_MARK;
            w->n = MARK_LEN;
            rc = sbuf_add(nb, MARK, MARK_LEN);
        } else if (c->mode == IG_REDACT_DROP) {
            w->st = FS_NULL;
            w->n = 0;
        } else {
            rc = frag_subst(c, w, cur->p + b, b, e, j, nb);
        }
    }
    return rc;
}

/* The new token of each changed fragment of the stream (final text in cur) into t->rep / t->chg. */
static int stream_emit(ctx_t *c, const sbuf_t *cur, const fw_t *fw, size_t m)
{
    tls_t *t = c->t;
    int rc = IG_OK;
    for (size_t k = 0; k < m && !rc; k++) {
        const fw_t *w = &fw[k];
        if (w->st == FS_SAME) continue;
        const frag_t *g = &t->frag.v[w->f];
        bool closed = frag_closed(c, g);
        size_t off = t->rep.n;
        switch (w->st) {
        case FS_RAW:
        case FS_TEXT:
            rc = sbuf_add(&t->rep, "\"", 1);
            if (!rc)
                rc = w->st == FS_RAW ? sbuf_add(&t->rep, t->fraw.p + w->ro, w->rn)
                                     : sbuf_add(&t->rep, cur->p + w->b, w->n);
            if (!rc && closed) rc = sbuf_add(&t->rep, "\"", 1);
            break;
        case FS_ENC:
            rc = put_json_str(put_sbuf, &t->rep, cur->p + w->b, w->n);
            break;
        case FS_MARK:
            rc = sbuf_add(&t->rep, QMARK, QMARK_LEN);
            break;
        default:
            rc = sbuf_add(&t->rep, "null", 4);
            break;
        }
        if (rc) break;
        chg_t *v = grow(t->chg, &t->chgcap, t->nchg + 1, sizeof *v);
        if (!v) return IG_ENOMEM;
        t->chg = v;
        v[t->nchg++] = (chg_t){w->f, off, t->rep.n - off};
    }
    return rc;
}

/*
 * One stream (m fragments from `head`): its text is built, matched and rewritten in rounds as a text unit
 * is (see settle()): a round whose result still matches is followed by another, at most
 * IG_REDACT_MAX_PASSES; a limit, or a match left after them, fails closed: the whole stream text is one
 * match, applied once.
 */
static int stream_redact(ctx_t *c, uint32_t head, size_t m)
{
    tls_t *t = c->t;
    sbuf_t *cur = &t->cc[0], *nb = &t->cc[1];
    int rc = IG_OK;
    fw_t *fw = grow(t->fw, &t->fwcap, m, sizeof *fw);
    if (!fw) return IG_ENOMEM;
    t->fw = fw;
    sbuf_reset(cur);
    sbuf_reset(&t->fraw);
    t->fesc.n = 0;
    t->fesc.oom = false;
    uint32_t f = head;
    for (size_t k = 0; k < m; k++, f = t->frag.v[f].next) {
        const frag_t *g = &t->frag.v[f];
        fw[k] = (fw_t){.b = cur->n, .e0 = t->fesc.n, .f = f, .st = FS_SAME};
        rc = decode_at(c->in + g->q + 1, g->len, cur, &t->fesc);
        if (rc) return rc;
        fw[k].n = cur->n - fw[k].b;
        fw[k].ne = t->fesc.n - fw[k].e0;
    }
    for (int pass = 1;; pass++) {
        bool fail;
        rc = stream_find(c, cur->p, cur->n, fw, m, &fail);
        if (rc) return rc;
        if (!fail && t->ssp.n == 0) break;
        bool last = fail || pass > IG_REDACT_MAX_PASSES;
        if (fail) {
            c->nmatch++;
        } else if (!last) {
            c->nmatch += t->ssp.n;
        }
        if (last) {
            t->ssp.n = 0;
            span_push(&t->ssp, 0, cur->n);
            if (t->ssp.oom) return IG_ENOMEM;
        }
        rc = stream_apply(c, cur, nb, fw, m);
        if (rc) return rc;
        sbuf_t *x = cur;
        cur = nb;
        nb = x;
        if (last) break;
    }
    return stream_emit(c, cur, fw, m);
}

static int cmp_chg(const void *a, const void *b)
{
    const chg_t *x = a, *y = b;
    return x->f < y->f ? -1 : x->f > y->f;
}

/* Rewrites the output from the first changed fragment on: every changed token replaced by its new one. */
static int streams_write(ctx_t *c)
{
    tls_t *t = c->t;
    ig_buf_t *out = c->out;
    if (t->nchg == 0) return IG_OK;
    qsort(t->chg, t->nchg, sizeof *t->chg, cmp_chg);
    size_t p0 = t->frag.v[t->chg[0].f].opos, end = out->len, at = p0;
    sbuf_reset(&t->tail);
    int rc = sbuf_add(&t->tail, out->data + p0, end - p0);
    if (rc) return rc;
    out->len = p0;
    for (size_t k = 0; k < t->nchg && !rc; k++) {
        const frag_t *g = &t->frag.v[t->chg[k].f];
        rc = ig_buf_append(out, t->tail.p + (at - p0), g->opos - at);
        if (!rc) rc = ig_buf_append(out, t->rep.p + t->chg[k].off, t->chg[k].len);
        at = g->opos + 1 + g->len + frag_closed(c, g);
    }
    if (!rc) rc = ig_buf_append(out, t->tail.p + (at - p0), end - at);
    /* the old tail held the fragments as they were */
    if (out->len < end) explicit_bzero(out->data + out->len, end - out->len);
    return rc;
}

/* After the walk: redacts every stream of fragments and rewrites the output where they changed. */
static int streams_run(ctx_t *c)
{
    tls_t *t = c->t;
    int rc = streams_group(c);
    if (rc) return rc;
    if (c->r->ncustom) { /* the stream texts are matched on top of the body: widen the budget as much */
        size_t bytes = 0;
        for (size_t f = 0; f < t->frag.n; f++)
            bytes += t->frag.v[f].len;
        double ms = IG_REDACT_BUDGET_MS_PER_MIB * ((double)bytes / (1024.0 * 1024.0)) * (double)c->r->ncustom;
        t->deadline_ns += (uint64_t)(ms * 1e6);
    }
    t->nchg = 0;
    sbuf_reset(&t->rep);
    for (size_t s = 0; s < t->nstrm && !rc; s++)
        rc = stream_redact(c, t->strm[s].head, t->strm[s].n);
    if (!rc) rc = streams_write(c);
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

/* Where a JSON body walk can be rolled back to: the start of the top-level value being walked (`at`), the
 * output and the counts as they were there; and, once the walk failed, the offset of the byte it failed at.
 */
typedef struct {
    size_t at, out, done, nmatch, nfrag;
    size_t fail;
} resync_t;

/*
 * Walks in[i, end) as JSON, handing strings and numbers to the unit code. IG_OK also for a document cut
 * short; NOT_JSON at the first byte that cannot continue JSON (the caller rolls back and uses text). With
 * rs != NULL, *rs is kept at the start of the current top-level value, and on NOT_JSON rs->fail is set (the
 * output then holds that value's units up to the failure; the caller rolls back to *rs).
 */
static int walk_json(ctx_t *c, size_t i, size_t end, bool body, resync_t *rs)
{
    const char *p = c->in;
    uint8_t objs[IG_REDACT_MAX_DEPTH / 8]; /* bit set: that level is an object */
    size_t depth = 0;
    int st = ST_START, rc = IG_OK;
    bool nl = false, track = c->frags;
    path_t P;

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
        if (rs && depth == 0 && value_ok) /* a top-level value starts here (or the junk that fails) */
            *rs = (resync_t){i, c->out->len, c->done, c->nmatch, c->t->frag.n, 0};
        /* an index-like member's value is part of its object's stream key: where it starts, in and out */
        size_t vs = i, ob = 0, db = 0;
        bool idx = false;
        switch (ch) {
        case '{':
        case '[':
            if (!value_ok || depth == IG_REDACT_MAX_DEPTH) goto bad;
            if (track && depth < PDEPTH) {
                if (depth == 0 || path_live(&P, depth))
                    path_open(c, &P, depth, in_obj, ch == '{');
                else
                    P.node[depth + 1] = PDEAD;
            }
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
                goto bad;
            if (track && depth <= PDEPTH) path_close(c, &P, depth);
            depth--;
            i++;
            break; /* a value ended */
        case ',':
            if (!depth || st != ST_AFTER) goto bad;
            st = in_obj ? ST_KEY : ST_VALUE;
            i++;
            continue;
        case ':':
            if (st != ST_COLON) goto bad;
            st = ST_VALUE;
            i++;
            continue;
        case '"': {
            bool key = st == ST_OBJ_OPEN || st == ST_KEY, esc, added = false;
            if (!key && !value_ok) goto bad;
            size_t cend, tend;
            scan_string(p, i, end, &cend, &tend, &esc);
            bool live = track && path_live(&P, depth);
            if (live && !key && in_obj && is_index_name(P.key[depth])) {
                idx = true;
                ob = c->out->len;
                db = c->done;
            }
            if (!key && live && cend > i + 1) {
                int rule;
                path_step(&P, depth, in_obj ? P.key[depth] : K_ELEM, &rule);
                if (rule >= 0) {
                    rc = frag_add(c, i, cend, rule, &added);
                    if (rc) return rc;
                }
            }
            if (!added) rc = string_unit(c, i, cend, tend, esc, key);
            if (rc) return rc;
            if (key && live) P.key[depth] = key_id(c, i, cend, esc);
            i = tend;
            if (key) {
                st = ST_COLON;
                continue;
            }
            break;
        }
        default:
            if (!value_ok) goto bad;
            if (track && in_obj && path_live(&P, depth) && is_index_name(P.key[depth])) {
                idx = true;
                ob = c->out->len;
                db = c->done;
            }
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
                if (i - s > len || memcmp(p + s, lit, i - s) != 0 || (i - s < len && i < end)) goto bad;
                break;
            }
            goto bad;
        }
        if (idx) path_index(c, &P, depth, vs, i, ob, db);
        /* a value ended */
        if (depth) {
            st = ST_AFTER;
        } else {
            st = ST_TOP_AFTER;
            nl = false;
        }
    }
    /* cut short inside a value: the objects still open are part of their fragments' keys all the same */
    for (size_t d = track ? IG_MIN(depth, (size_t)PDEPTH) : 0; d > 0; d--)
        path_close(c, &P, d);
    return IG_OK;
bad:
    if (rs) rs->fail = i;
    return NOT_JSON;
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

/* A unit in[s, e) that may be JSON (an SSE "data:" value, a line of a JSON body that is not one JSON text):
 * JSON when it parses as JSON, else text. */
static int json_or_text(ctx_t *c, size_t s, size_t e)
{
    size_t k = s;
    while (k < e && (c->in[k] == ' ' || c->in[k] == '\t'))
        k++;
    static const char starts[] = "{[\"-0123456789tfn";
    if (k < e && memchr(starts, c->in[k], sizeof starts - 1)) {
        size_t out0 = c->out->len, done0 = c->done, nm0 = c->nmatch, nf0 = c->t->frag.n;
        int rc = walk_json(c, s, e, false, NULL);
        if (rc != NOT_JSON) return rc;
        c->out->len = out0;
        c->done = done0;
        c->nmatch = nm0;
        c->t->frag.n = nf0;
    }
    return text_unit(c, s, e);
}

/* The lines of in[i, end) one by one, each JSON when it parses (its strings still join their streams), else
 * text. */
static int walk_lines(ctx_t *c, size_t i, size_t end)
{
    while (i < end) {
        const char *nl = memchr(c->in + i, '\n', end - i);
        size_t le = nl ? (size_t)(nl - c->in) : end;
        size_t ce = le > i && c->in[le - 1] == '\r' ? le - 1 : le;
        int rc = json_or_text(c, i, ce);
        if (rc) return rc;
        i = nl ? le + 1 : end;
    }
    return IG_OK;
}

/*
 * A body announced as JSON: one JSON text, or several separated by newlines (NDJSON). When a value does not
 * parse (NDJSON with a bad line, a syntax error), the values before it stay as walked, the lines from the
 * one where the failing value starts to the one where it fails are redacted line by line (walk_lines), and
 * the walk starts again on the next line: one bad line costs the lines it touches, not the whole body.
 *
 * Why not every line on its own: a line is not an event. An event whose string holds a raw newline is one
 * value over two lines; cut at the newline, its first half is JSON cut short and its second half text, and
 * the text half's answer never joins its stream. The output of such a body, once its bad line is redacted
 * (a dropped line is an empty one), may well be JSON as a whole, and read that way, with the event whole.
 * c->broken is set when some value did not parse (see reread()).
 */
static int walk_body(ctx_t *c)
{
    size_t i = 0;
    for (;;) {
        resync_t rs;
        int rc = walk_json(c, i, c->n, i == 0, &rs);
        if (rc != NOT_JSON) return rc;
        c->broken = true;
        c->out->len = rs.out;
        c->done = rs.done;
        c->nmatch = rs.nmatch;
        c->t->frag.n = rs.nfrag;
        /* a top-level value starts on a line of its own (after a newline, or the body's first value): only
         * whitespace is before it on its line */
        size_t ls = rs.at;
        while (ls > i && c->in[ls - 1] != '\n')
            ls--;
        const char *nl = memchr(c->in + rs.fail, '\n', c->n - rs.fail);
        size_t le = nl ? (size_t)(nl - c->in) : c->n;
        rc = walk_lines(c, ls, le);
        if (rc || !nl) return rc;
        i = le + 1;
    }
}

static int sse_line(ctx_t *c, size_t s, size_t e)
{
    if (s == e) return IG_OK;
    if (c->in[s] == ':') return text_unit(c, s + 1, e); /* comment */
    const char *colon = memchr(c->in + s, ':', e - s);
    if (!colon) return text_unit(c, s, e);
    size_t v = (size_t)(colon - c->in) + 1;
    if (v < e && c->in[v] == ' ') v++;
    if ((size_t)(colon - (c->in + s)) == 4 && memcmp(c->in + s, "data", 4) == 0) return json_or_text(c, v, e);
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
    pthread_once(&trie_once, trie_init);
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

/*
 * A JSON body with a value that did not parse (c->broken), and changed: its output, out[out0, out->len), is
 * redacted again, as the body it now is, until a reading changes nothing. Redacting a bad line can change
 * how the lines around it read: a dropped line is an empty one, and without it they may parse as one value
 * (walk_body), whose strings join streams that the first reading saw as text. The output is what is
 * stored and read back, so it must hold nothing the same redaction still finds. A body that parses reads
 * the same once redacted (strings stay strings, containers stay as they were), so the rounds end after the
 * first one that parses, or that changes nothing; a body still changing after IG_REDACT_MAX_PASSES readings
 * in all is replaced whole (the mark; nothing in drop mode), as a unit that does not settle is. Only the
 * bodies that need it pay for it: JSON that parses and SSE (each event on its own line) are never read
 * again.
 */
static int reread(ctx_t *c, size_t out0)
{
    tls_t *t = c->t;
    ig_buf_t *out = c->out;
    bool again = true;
    int rc = IG_OK;
    for (int pass = 2; again && !rc; pass++) {
        size_t len = out->len - out0;
        sbuf_reset(&t->again);
        if (len) { /* out->data is NULL while nothing was ever appended */
            rc = sbuf_add(&t->again, out->data + out0, len);
            if (rc) break;
            explicit_bzero(out->data + out0, len);
        }
        out->len = out0;
        if (pass > IG_REDACT_MAX_PASSES) {
            c->nmatch++;
            if (c->mode != IG_REDACT_DROP) rc = ig_buf_append(out, MARK, MARK_LEN);
            break;
        }
        ctx_t d = {.r = c->r,
                   .t = t,
                   .mode = c->mode,
                   .in = t->again.p ? t->again.p : "",
                   .n = len,
                   .out = out,
                   .frags = true};
        if (c->r->ncustom) /* matched again: widen the budget as much */
            t->deadline_ns += (uint64_t)(IG_REDACT_BUDGET_MS_PER_MIB * ((double)len / (1024.0 * 1024.0)) *
                                         (double)c->r->ncustom * 1e6);
        t->frag.n = 0;
        rc = walk_body(&d);
        if (!rc) rc = emit_to(&d, d.n);
        if (!rc && t->frag.n) rc = streams_run(&d);
        /* the same bytes again is settled too: only a custom pattern that matches the mark finds something
         * in them, and each unit it matches is the mark already */
        bool same = out->len - out0 == len && (!len || memcmp(out->data + out0, t->again.p, len) == 0);
        if (!same) c->nmatch += d.nmatch;
        again = d.broken && d.nmatch && !same;
    }
    return rc;
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
    ctx_t c = {.r = r,
               .t = t,
               .mode = mode,
               .in = in.base ? in.base : "",
               .n = in.len,
               .out = out,
               .frags = kind >= 0};
    budget_start(r, t, in.len);
    t->frag.n = 0;

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
        rc = walk_body(&c);
    } else if (kind == IG_REDACT_SSE) {
        rc = walk_sse(&c);
    } else {
        rc = walk_text(&c, 0, c.n);
    }
out:
    if (!rc) rc = emit_to(&c, c.n);
    if (!rc && t->frag.n) rc = streams_run(&c);
    if (!rc && c.broken && c.nmatch) rc = reread(&c, out0);
    if (rc) {
        if (out->len > out0) explicit_bzero(out->data + out0, out->len - out0);
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

/* ---- typed tokens (outbound guardrails) --------------------------------------------------------------- */

static const struct {
    const char *name, *token;
} PII_TYPES[IG_PII_NTYPES] = {
    [IG_PII_T_EMAIL] = {"email", "[EMAIL_REDACTED]"},    [IG_PII_T_SSN] = {"ssn", "[SSN_REDACTED]"},
    [IG_PII_T_CARD] = {"card", "[CC_REDACTED]"},         [IG_PII_T_PHONE] = {"phone", "[PHONE_REDACTED]"},
    [IG_PII_T_CUSTOM] = {"custom", "[CUSTOM_REDACTED]"},
};

const char *ig_pii_type_name(int type)
{
    return type >= 0 && type < IG_PII_NTYPES ? PII_TYPES[type].name : NULL;
}

const char *ig_pii_type_token(int type)
{
    return type >= 0 && type < IG_PII_NTYPES ? PII_TYPES[type].token : NULL;
}

/* Start ascending, then the longest first: the merged span takes the type of the longest match among those
 * starting first (an email whose local part is a phone number is an email). */
static int cmp_span_long(const void *a, const void *b)
{
    const span_t *x = a, *y = b;
    return x->s < y->s ? -1 : x->s > y->s ? 1 : x->e > y->e ? -1 : x->e < y->e;
}

/* The matches of every detector in p[0..n), merged, with their types, into t->sp. */
static int find_typed(const ig_redactor_t *r, tls_t *t, const char *p, size_t n, bool *fail)
{
    spans_t *sp = &t->sp;
    sp->n = 0;
    sp->oom = false;
    *fail = false;
    if (n < r->minlen) return IG_OK;
    int rc = detect(r, t, p, n, sp, fail);
    if (rc || *fail) return rc;
    if (sp->oom) return IG_ENOMEM;
    if (sp->n < 2) return IG_OK;
    qsort(sp->v, sp->n, sizeof *sp->v, cmp_span_long);
    size_t w = 0;
    for (size_t k = 1; k < sp->n; k++) {
        if (sp->v[k].s <= sp->v[w].e) {
            if (sp->v[k].e > sp->v[w].e) sp->v[w].e = sp->v[k].e;
        } else {
            sp->v[++w] = sp->v[k];
        }
    }
    sp->n = w + 1;
    return IG_OK;
}

/* out = p[0..n) with each span replaced by its type's token. */
static int subst_typed(const char *p, size_t n, const spans_t *sp, sbuf_t *out)
{
    size_t at = 0;
    int rc = IG_OK;
    sbuf_reset(out);
    for (size_t k = 0; k < sp->n && !rc; k++) {
        const char *tok = PII_TYPES[sp->v[k].ty < IG_PII_NTYPES ? sp->v[k].ty : IG_PII_T_CUSTOM].token;
        rc = sbuf_add(out, p + at, sp->v[k].s - at);
        if (!rc) rc = sbuf_add(out, tok, strlen(tok));
        at = sp->v[k].e;
    }
    if (!rc) rc = sbuf_add(out, p + at, n - at);
    return rc;
}

int ig_redact_typed(const ig_redactor_t *r, ig_iov_t text, ig_buf_t *out, ig_pii_counts_t *counts,
                    bool *changed)
{
    ig_pii_counts_t c = {{0}};
    bool owned = false, fail = false;
    int rc = IG_OK, whole = -1;
    size_t out0 = out ? out->len : 0;
    if (changed) *changed = false;
    if (!r || !counts || (!text.base && text.len)) return IG_EINVAL;
    tls_t *t = tls_get(&owned);
    if (!t) return IG_ENOMEM;
    budget_start(r, t, text.len);
    const char *p = text.base ? text.base : "";
    size_t n = text.len;
    sbuf_t *cur = NULL; /* the text after the last round (NULL: unchanged) */
    for (int pass = 1;; pass++) {
        rc = find_typed(r, t, cur ? cur->p : p, cur ? cur->n : n, &fail);
        if (rc) goto out;
        if (fail) { /* only custom patterns have limits: the whole text is their match (fail closed) */
            whole = IG_PII_T_CUSTOM;
            c.n[whole]++;
            break;
        }
        if (t->sp.n == 0) break;
        if (pass > IG_REDACT_MAX_PASSES) { /* still matching: replaced whole */
            whole = (int)IG_MIN(t->sp.v[0].ty, (unsigned)IG_PII_T_CUSTOM);
            c.n[whole]++;
            break;
        }
        for (size_t k = 0; k < t->sp.n; k++)
            c.n[IG_MIN(t->sp.v[k].ty, (unsigned)IG_PII_T_CUSTOM)]++;
        sbuf_t *nb = cur == &t->w[0] ? &t->w[1] : &t->w[0];
        rc = subst_typed(cur ? cur->p : p, cur ? cur->n : n, &t->sp, nb);
        if (rc) goto out;
        cur = nb;
    }
    if (out) {
        if (whole >= 0)
            rc = ig_buf_append(out, PII_TYPES[whole].token, strlen(PII_TYPES[whole].token));
        else if (cur)
            rc = ig_buf_append(out, cur->p, cur->n);
        else
            rc = ig_buf_append(out, p, n);
    }
out:
    if (rc) {
        if (out && out->len > out0) explicit_bzero(out->data + out0, out->len - out0);
        if (out) out->len = out0;
    } else {
        for (int k = 0; k < IG_PII_NTYPES; k++)
            counts->n[k] += c.n[k];
        if (changed) *changed = whole >= 0 || cur != NULL;
    }
    tls_release(t, owned);
    return rc;
}

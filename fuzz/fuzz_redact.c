/*
 * fuzz_redact.c — libFuzzer target for PII redaction (src/redact/redact.c): captured bodies are arbitrary
 * bytes (invalid UTF-8, invalid or truncated JSON, broken SSE).
 *
 * Input: byte 0 picks the setup, the rest is the body (copied to an exact-size heap block, not
 * NUL-terminated, so ASan sees any read past its end).
 *   bits 0-1 kind (0 text, 1 JSON, 2 SSE, 3 text)   bits 2-3 mode (0 pattern, 1 hash, 2 drop, 3 pattern)
 *   bit 4    a redactor with two custom patterns as well as the defaults
 * Properties (abort on violation):
 *   1. IG_OK, and 0 matches means the output equals the input.
 *   2. Nothing is left to find: redacting the output again (pattern mode, same kind) finds 0 matches.
 *   3. Valid JSON in (cJSON accepts it and only bytes <= 0x20 follow, as cJSON itself skips), kind JSON:
 *      valid JSON out; and every string and key of the output, as cJSON decodes it, written back as a
 *      JSON string with nothing escaped but '"', '\\' and control bytes, and redacted alone, finds 0
 *      matches (an independent decoder checks ours; cJSON cuts a string at a NUL, which for every detector
 *      is a boundary just like the end of the string).
 *   4. The single-field API on the same bytes: a result that is not dropped has nothing left to find.
 *   5. Defaults only: the output stays within the size bound documented in redact.h.
 */
#include "core/err.h"
#include "core/json.h"
#include "redact/redact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ig_redactor_t *g_def, *g_cust;

static void init(void)
{
    /* neither pattern can match the mark, so property 2 holds for them too */
    static const char *const pats[] = {"(?i)acct-[0-9]{4,}", "\\bsk-[a-z0-9]{6,}"};
    char err[256];
    if (ig_redactor_new(IG_PII_DEFAULTS, NULL, 0, &g_def, err, sizeof err) ||
        ig_redactor_new(IG_PII_DEFAULTS, pats, 2, &g_cust, err, sizeof err))
        abort();
}

/* nmatches of redacting `in` again (pattern mode). */
static size_t again(const ig_redactor_t *r, ig_redact_kind_t kind, ig_iov_t in)
{
    ig_buf_t b;
    size_t nm = 0;
    ig_buf_init(&b, SIZE_MAX / 4);
    if (ig_redact_body(r, IG_REDACT_PATTERN, kind, in, &b, &nm) != IG_OK) abort();
    ig_buf_free(&b, false);
    return nm;
}

/* Valid JSON as cJSON sees it: a value, then only bytes it skips as whitespace. */
static cJSON *parse_valid(const char *p, size_t n)
{
    const char *end = NULL;
    cJSON *j = ig_json_parse_raw(p, n, &end, false);
    if (!j) return NULL;
    for (const char *q = end; q < p + n; q++) {
        if ((unsigned char)*q > 0x20) {
            cJSON_Delete(j);
            return NULL;
        }
    }
    return j;
}

/* s as a JSON string literal that decodes to exactly s: only '"', '\\' and control bytes are escaped. */
static void put_str(ig_buf_t *b, const char *s)
{
    char e[8];
    if (ig_buf_lit(b, "\"")) abort();
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        int n = 1;
        e[0] = (char)ch;
        if (ch < 0x20 || ch == '"' || ch == '\\') n = snprintf(e, sizeof e, "\\u%04x", ch);
        if (ig_buf_append(b, e, (size_t)n)) abort();
    }
    if (ig_buf_lit(b, "\"")) abort();
}

static void check_strings(const ig_redactor_t *r, const cJSON *j)
{
    for (const cJSON *c = j; c; c = c->next) {
        const char *strs[2] = {c->string, cJSON_IsString(c) ? c->valuestring : NULL};
        for (int k = 0; k < 2; k++) {
            if (!strs[k]) continue;
            ig_buf_t b;
            ig_buf_init(&b, SIZE_MAX / 4);
            put_str(&b, strs[k]);
            if (again(r, IG_REDACT_JSON, ig_buf_iov(&b)) != 0) abort();
            ig_buf_free(&b, false);
        }
        if (c->child) check_strings(r, c->child);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_def) init();
    if (size == 0) return 0;
    unsigned sel = data[0];
    ig_redact_kind_t kind = (sel & 3) == 3 ? IG_REDACT_TEXT : (ig_redact_kind_t)(sel & 3);
    ig_redact_mode_t mode = ((sel >> 2) & 3) == 3 ? IG_REDACT_PATTERN : (ig_redact_mode_t)((sel >> 2) & 3);
    const ig_redactor_t *r = (sel & 16) ? g_cust : g_def;
    size_t n = size - 1;
    char *p = malloc(n ? n : 1);
    if (!p) return 0;
    memcpy(p, data + 1, n);

    ig_buf_t out;
    size_t nm = 0;
    ig_buf_init(&out, SIZE_MAX / 4);
    if (ig_redact_body(r, mode, kind, ig_iov(p, n), &out, &nm) != IG_OK) abort();
    if (nm == 0 && (out.len != n || (n && memcmp(out.data, p, n) != 0))) abort();
    if (again(r, kind, ig_buf_iov(&out)) != 0) abort();
    if (r == g_def) { /* the size bound in redact.h */
        size_t ctl = 0;
        for (size_t k = 0; k < n; k++)
            ctl += (unsigned char)p[k] < 0x20;
        if (out.len * 6 > n * 10 + ctl * 30) abort();
    }

    if (kind == IG_REDACT_JSON) {
        cJSON *in_j = parse_valid(p, n);
        if (in_j) {
            cJSON *out_j = parse_valid(out.data, out.len);
            if (!out_j) abort();
            check_strings(r, out_j);
            cJSON_Delete(out_j);
            cJSON_Delete(in_j);
        }
    }

    ig_buf_t f;
    bool dropped = false;
    ig_buf_init(&f, SIZE_MAX / 4);
    if (ig_redact_field(r, mode, ig_iov(p, n), &f, &dropped, &nm) != IG_OK) abort();
    if (dropped != (mode == IG_REDACT_DROP && nm > 0) || (dropped && f.len)) abort();
    if (!dropped) {
        ig_buf_t g;
        size_t nm2 = 1;
        ig_buf_init(&g, SIZE_MAX / 4);
        if (ig_redact_field(r, IG_REDACT_PATTERN, ig_buf_iov(&f), &g, NULL, &nm2) != IG_OK || nm2 != 0)
            abort();
        ig_buf_free(&g, false);
    }
    ig_buf_free(&f, false);
    ig_buf_free(&out, false);
    free(p);
    return 0;
}

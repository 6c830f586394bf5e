/*
 * fuzz_redact.c — libFuzzer target for PII redaction (src/redact/redact.c): captured bodies are arbitrary
 * bytes (invalid UTF-8, invalid or truncated JSON, broken SSE).
 *
 * Input: byte 0 picks the setup, the rest is the body (copied to an exact-size heap block, not
 * NUL-terminated, so ASan sees any read past its end).
 *   bits 0-1 kind (0 text, 1 JSON, 2 SSE, 3 text)   bits 2-3 mode (0 pattern, 1 hash, 2 drop, 3 pattern)
 *   bit 4    a redactor with two custom patterns as well as the defaults
 *   bit 5    with kind SSE: the rest is not the body but the text of an OpenAI chat stream, pieces separated
 *            by NUL bytes; a piece's first byte picks its choice (bits 0-1), writes its ASCII letters,
 *            digits and punctuation as \u escapes (bit 2) and puts "index" after "delta" (bit 3). The body
 *            is that stream: one chunk event per piece, then [DONE].
 *            With kind JSON: the same pieces make an Ollama NDJSON stream, one message.content per event; a
 *            piece's first byte adds a line that is not JSON after its event (bits 0-1: none, text, a
 *            broken object, a broken object with a phone number that drop mode removes), writes escapes as
 *            above (bit 2), breaks the event's "created_at" string with a raw newline (bit 3) and writes the
 *            event over three lines (bit 4).
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
 *   6. Bit 5: every output event is valid JSON (cJSON), and for each choice the concatenation of its
 *      decoded delta.content strings (null: nothing), redacted alone with the default detectors, finds 0
 *      matches: PII split across events does not survive.
 *   7. Bit 5, kind JSON: the output read as cJSON reads NDJSON (a value, else skip the line) has every
 *      event, and the concatenation of their decoded message.content strings, redacted alone with the
 *      default detectors, finds 0 matches: lines that are not JSON, and events over several lines, do not
 *      keep split PII from being found. (Property 2 cannot see that: the first reading may cut the body
 *      as the second one does, and miss the same PII twice.)
 */
#include "core/err.h"
#include "core/json.h"
#include "redact/redact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* nmatches of redacting `in` again (pattern mode). Custom patterns run under a wall-clock budget per call
 * (100 ms at these sizes): a process stalled that long on a loaded machine fails closed, which counts as a
 * match, so a finding with custom patterns is confirmed by a second call before it is reported (a real one
 * does not depend on time and repeats). */
static size_t again(const ig_redactor_t *r, ig_redact_kind_t kind, ig_iov_t in)
{
    for (int k = 0;; k++) {
        ig_buf_t b;
        size_t nm = 0;
        double t0 = now_s();
        ig_buf_init(&b, SIZE_MAX / 4);
        if (ig_redact_body(r, IG_REDACT_PATTERN, kind, in, &b, &nm) != IG_OK) abort();
        ig_buf_free(&b, false);
        if (nm == 0 || r != g_cust || k == 1) return nm;
        fprintf(stderr, "fuzz_redact: %zu matches again with custom patterns after %.0f ms: confirming\n", nm,
                (now_s() - t0) * 1e3);
    }
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

/* Bit 5: the OpenAI chat stream made of the pieces in d[0..n) (see the top of the file). */
static void build_chat(ig_buf_t *b, const uint8_t *d, size_t n)
{
    size_t i = 0;
    while (i <= n) {
        const uint8_t *z = i < n ? memchr(d + i, 0, n - i) : NULL;
        size_t e = z ? (size_t)(z - d) : n;
        unsigned ctl = e > i ? d[i] : 0;
        char head[96];
        snprintf(head, sizeof head, "data: {\"id\":\"c1\",\"choices\":[{%s\"delta\":{\"content\":\"",
                 (ctl & 8)        ? ""
                 : (ctl & 3) == 0 ? "\"index\":0,"
                 : (ctl & 3) == 1 ? "\"index\":1,"
                 : (ctl & 3) == 2 ? "\"index\":2,"
                                  : "\"index\":3,");
        if (ig_buf_append(b, head, strlen(head))) abort();
        for (size_t k = i + (e > i); k < e; k++) {
            unsigned char ch = d[k];
            char o[8];
            int len = 1;
            o[0] = (char)ch;
            if (ch < 0x20 || ch == '"' || ch == '\\' || ((ctl & 4) && ch > 0x20 && ch < 0x7f))
                len = snprintf(o, sizeof o, "\\u%04x", ch);
            if (ig_buf_append(b, o, (size_t)len)) abort();
        }
        if (ig_buf_lit(b, "\"}")) abort();
        if (ctl & 8) {
            char idx[32];
            snprintf(idx, sizeof idx, ",\"index\":%u", ctl & 3);
            if (ig_buf_append(b, idx, strlen(idx))) abort();
        }
        if (ig_buf_lit(b, "}]}\n\n")) abort();
        i = e + 1;
    }
    if (ig_buf_lit(b, "data: [DONE]\n\n")) abort();
}

/* Property 6 on the redacted chat stream s[0..n). */
static void check_chat(const char *s, size_t n)
{
    ig_buf_t text[4];
    for (int k = 0; k < 4; k++)
        ig_buf_init(&text[k], SIZE_MAX / 4);
    for (size_t i = 0; i < n;) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - s) : n;
        if (e - i > 6 && memcmp(s + i, "data: {", 7) == 0) {
            cJSON *j = cJSON_ParseWithLength(s + i + 6, e - i - 6);
            if (!j) abort(); /* every event was valid JSON going in */
            cJSON *ch = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "choices"), 0);
            cJSON *idx = cJSON_GetObjectItemCaseSensitive(ch, "index");
            cJSON *txt =
                cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ch, "delta"), "content");
            int k = cJSON_IsNumber(idx) ? idx->valueint : 0;
            if (k < 0 || k > 3) abort();
            if (cJSON_IsString(txt) && ig_buf_append(&text[k], txt->valuestring, strlen(txt->valuestring)))
                abort();
            cJSON_Delete(j);
        }
        i = e + 1;
    }
    for (int k = 0; k < 4; k++) {
        ig_buf_t lit;
        ig_buf_init(&lit, SIZE_MAX / 4);
        put_str(&lit, ig_buf_cstr(&text[k]) ? text[k].data : "");
        if (again(g_def, IG_REDACT_JSON, ig_buf_iov(&lit)) != 0) abort();
        ig_buf_free(&lit, false);
        ig_buf_free(&text[k], false);
    }
}

/* Bit 5, kind JSON: the Ollama NDJSON stream made of the pieces in d[0..n) (see the top of the file); *nev =
 * its events. */
static void build_ndjson(ig_buf_t *b, const uint8_t *d, size_t n, size_t *nev)
{
    static const char *const junk[] = {"", "not json\n", "{\"x\": bad}\n", "{\"x\": +1 555 123 4567}\n"};
    size_t i = 0;
    *nev = 0;
    while (i <= n) {
        const uint8_t *z = i < n ? memchr(d + i, 0, n - i) : NULL;
        size_t e = z ? (size_t)(z - d) : n;
        unsigned ctl = e > i ? d[i] : 0;
        const char *nl = (ctl & 16) ? "\n" : "";
        char head[160];
        snprintf(head, sizeof head,
                 "{%s\"model\":\"m\",\"created_at\":\"2024-01-15T1%s0:30:01Z\",\"message\":{\"role\":"
                 "\"assistant\",\"content\":\"",
                 nl, (ctl & 8) ? "\x01\n" : "");
        if (ig_buf_append(b, head, strlen(head))) abort();
        for (size_t k = i + (e > i); k < e; k++) {
            unsigned char ch = d[k];
            char o[8];
            int len = 1;
            o[0] = (char)ch;
            if (ch < 0x20 || ch == '"' || ch == '\\' || ((ctl & 4) && ch > 0x20 && ch < 0x7f))
                len = snprintf(o, sizeof o, "\\u%04x", ch);
            if (ig_buf_append(b, o, (size_t)len)) abort();
        }
        if (ig_buf_lit(b, "\"},\"done\":false") || ig_buf_append(b, nl, strlen(nl)) || ig_buf_lit(b, "}\n") ||
            ig_buf_append(b, junk[ctl & 3], strlen(junk[ctl & 3])))
            abort();
        ++*nev;
        i = e + 1;
    }
}

/* Property 7 on the redacted NDJSON stream s[0..n) of nev events. */
static void check_ndjson(const char *s, size_t n, size_t nev)
{
    ig_buf_t text, lit;
    size_t got = 0;
    ig_buf_init(&text, SIZE_MAX / 4);
    ig_buf_init(&lit, SIZE_MAX / 4);
    for (size_t i = 0; i < n;) {
        if ((unsigned char)s[i] <= 0x20) {
            i++;
            continue;
        }
        const char *end = NULL;
        cJSON *j = ig_json_parse_raw(s + i, n - i, &end, false);
        if (!j) { /* a line that is not JSON */
            const char *nl = memchr(s + i, '\n', n - i);
            i = nl ? (size_t)(nl - s) + 1 : n;
            continue;
        }
        cJSON *txt =
            cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "message"), "content");
        if (!txt) abort(); /* every value read is an event */
        if (cJSON_IsString(txt) && ig_buf_append(&text, txt->valuestring, strlen(txt->valuestring))) abort();
        cJSON_Delete(j);
        got++;
        i = (size_t)(end - s);
    }
    if (got != nev) abort();
    put_str(&lit, ig_buf_cstr(&text) ? text.data : "");
    if (again(g_def, IG_REDACT_JSON, ig_buf_iov(&lit)) != 0) abort();
    ig_buf_free(&lit, false);
    ig_buf_free(&text, false);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_def) init();
    if (size == 0) return 0;
    unsigned sel = data[0];
    ig_redact_kind_t kind = (sel & 3) == 3 ? IG_REDACT_TEXT : (ig_redact_kind_t)(sel & 3);
    ig_redact_mode_t mode = ((sel >> 2) & 3) == 3 ? IG_REDACT_PATTERN : (ig_redact_mode_t)((sel >> 2) & 3);
    const ig_redactor_t *r = (sel & 16) ? g_cust : g_def;
    bool chat = (sel & 32) && kind == IG_REDACT_SSE, ndjson = (sel & 32) && kind == IG_REDACT_JSON;
    size_t n = size - 1, nev = 0;
    char *p;
    if (chat || ndjson) {
        ig_buf_t b;
        ig_buf_init(&b, SIZE_MAX / 4);
        if (chat)
            build_chat(&b, data + 1, n);
        else
            build_ndjson(&b, data + 1, n, &nev);
        n = b.len;
        p = malloc(n);
        if (!p) abort();
        memcpy(p, b.data, n);
        ig_buf_free(&b, false);
    } else {
        p = malloc(n ? n : 1);
        if (!p) return 0;
        memcpy(p, data + 1, n);
    }

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
        if (mode == IG_REDACT_HASH ? out.len * 11 > n * 20 : out.len * 6 > n * 10 + ctl * 30) abort();
    }
    if (chat) check_chat(out.data, out.len);
    if (ndjson) check_ndjson(out.data, out.len, nev);

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
        if (ig_redact_field(r, IG_REDACT_PATTERN, ig_buf_iov(&f), &g, NULL, &nm2) != IG_OK) abort();
        if (nm2 != 0 && r == g_cust) { /* confirm, as again() does */
            ig_buf_reset(&g);
            if (ig_redact_field(r, IG_REDACT_PATTERN, ig_buf_iov(&f), &g, NULL, &nm2) != IG_OK) abort();
        }
        if (nm2 != 0) abort();
        ig_buf_free(&g, false);
    }
    ig_buf_free(&f, false);
    ig_buf_free(&out, false);
    free(p);
    return 0;
}

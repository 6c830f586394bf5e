/*
 * redact_bench.c — throughput of PII redaction (src/redact) on one core, on a ~50 MB corpus of realistic
 * captured traffic generated in memory (deterministic PRNG): chat-completion request and response JSON,
 * SSE streams of chunk events, and plain text, with occasional PII (about 1 message in 30) and the usual
 * non-PII digits (token counts, timestamps, ids, dates, versions, UUIDs, escapes, non-ASCII).
 *
 * Build and run (see bench/README.md):
 *   make && cc -O2 -std=c17 -D_GNU_SOURCE -Isrc bench/redact_bench.c build/libingate.a \
 *        -lpcre2-8 -lcrypto -lpthread -o build/redact-bench && ./build/redact-bench
 * Options: -m MB (corpus size, default 50), -r rounds (default 7; the median is printed), -t threads (also
 * run N threads on separate copies of the corpus, default 2).
 *
 * The mixed corpus's SSE streams carry 1-4 words per event with PII whole inside one event; the "split"
 * line is streams of the four shapes the stream pass knows (OpenAI chat and Responses, Anthropic, Ollama
 * NDJSON) with the text cut every 1-12 bytes, so most PII is split across events.
 */
#include "core/buf.h"
#include "core/err.h"
#include "redact/redact.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    char *p;
    size_t len;
    ig_redact_kind_t kind;
} doc_t;

typedef struct {
    doc_t *v;
    size_t n, cap, bytes[3];
} corpus_t;

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static unsigned pick(unsigned n)
{
    return rnd() % n;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of the calling thread: on a shared machine, time spent descheduled does not count. */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char *const WORDS[] = {
    "the",       "model",    "returns",   "a",        "response", "with",    "tokens",    "and",
    "we",        "need",     "to",        "check",    "whether",  "your",    "request",   "is",
    "valid",     "please",   "summarize", "this",     "document", "in",      "three",     "bullet",
    "points",    "for",      "our",       "team",     "meeting",  "about",   "quarterly", "revenue",
    "growth",    "customer", "support",   "ticket",   "function", "returns", "null",      "when",
    "input",     "list",     "empty",     "code",     "review",   "can",     "you",       "explain",
    "how",       "works",    "thanks",    "great",    "question", "here",    "is",        "an",
    "example",   "of",       "that",      "approach", "should",   "be",      "fine",      "database",
    "migration", "failed",   "after",     "deploy",   "rollback", "plan",    "ready",     "latency",
};

static void add(ig_buf_t *b, const char *s)
{
    if (ig_buf_append(b, s, strlen(s))) abort();
}

static void addf(ig_buf_t *b, const char *fmt, unsigned long long v)
{
    char t[256];
    snprintf(t, sizeof t, fmt, v);
    add(b, t);
}

static void uuid(ig_buf_t *b)
{
    char t[40];
    snprintf(t, sizeof t, "%08x-%04x-4%03x-a%03x-%08x%04x", rnd(), rnd() & 0xffff, rnd() & 0xfff,
             rnd() & 0xfff, rnd(), rnd() & 0xffff);
    add(b, t);
}

/* One piece of PII, in the form a user would type it. */
static void pii(ig_buf_t *b)
{
    static const char *const P[] = {
        "jane.doe@example.com", "(555) 123-4567",         "4111 1111 1111 1111", "123-45-6789",
        "+44 20 7946 0958",     "bob.smith+work@corp.io", "555.867.5309",        "5555-5555-5555-4444",
    };
    add(b, P[pick(IG_ARRAY_LEN(P))]);
}

/* Message text. json: newlines and quotes written as JSON escapes, non-ASCII sometimes as \u escapes. */
static void text(ig_buf_t *b, unsigned words, bool json)
{
    for (unsigned i = 0; i < words; i++) {
        if (i) add(b, (i % 17 == 16) ? (json ? "\\n" : "\n") : " ");
        unsigned r = pick(1000);
        if (r < 1)
            pii(b); /* ~1 message in 30 at ~30 words/message */
        else if (r < 6)
            addf(b, "%llu", pick(5000));
        else if (r < 8)
            add(b, "2024-01-15");
        else if (r < 9)
            add(b, "v10.4.1");
        else if (r < 10)
            add(b, "ORD-2024-000123");
        else if (r < 12)
            add(b, json ? "\\\"quoted\\\"" : "\"quoted\"");
        else if (r < 14)
            add(b, json ? "caf\\u00e9" : "caf\xc3\xa9");
        else if (r < 15)
            add(b, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"); /* raw UTF-8 */
        else if (r < 16)
            uuid(b);
        else
            add(b, WORDS[pick(IG_ARRAY_LEN(WORDS))]);
    }
}

static void json_request(ig_buf_t *b)
{
    unsigned turns = 1 + pick(8);
    add(b, "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"system\",\"content\":\"");
    text(b, 20 + pick(40), true);
    add(b, "\"}");
    for (unsigned t = 0; t < turns; t++) {
        add(b, t % 2 ? ",{\"role\":\"assistant\",\"content\":\"" : ",{\"role\":\"user\",\"content\":\"");
        text(b, 10 + pick(t % 2 ? 300 : 80), true);
        add(b, "\"}");
    }
    addf(b, "],\"temperature\":0.7,\"max_tokens\":%llu,", 256 + pick(4000));
    addf(b, "\"user\":\"user-%llu\",\"metadata\":{\"request_id\":\"", pick(100000));
    uuid(b);
    addf(b, "\",\"ts\":%llu}}", 1705312345ull + pick(1000000));
}

static void json_response(ig_buf_t *b)
{
    addf(b, "{\"id\":\"chatcmpl-%llu\",\"object\":\"chat.completion\",", 1000000000ull + rnd());
    addf(b,
         "\"created\":%llu,\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
         "\"assistant\",\"content\":\"",
         1705312345ull + pick(1000000));
    text(b, 50 + pick(500), true);
    unsigned pt = pick(5000), ct = pick(1000);
    addf(b, "\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":%llu,", pt);
    addf(b, "\"completion_tokens\":%llu,", ct);
    addf(b, "\"total_tokens\":%llu}}", pt + ct);
}

static void sse_stream(ig_buf_t *b)
{
    unsigned events = 20 + pick(300);
    unsigned long long id = 1000000000ull + rnd(), created = 1705312345ull + pick(1000000);
    for (unsigned e = 0; e < events; e++) {
        addf(b, "data: {\"id\":\"chatcmpl-%llu\",\"object\":\"chat.completion.chunk\",", id);
        addf(b, "\"created\":%llu,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"",
             created);
        text(b, 1 + pick(4), true);
        add(b, "\"},\"finish_reason\":null}]}\n\n");
    }
    addf(b, "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":%llu,\"completion_tokens\":42}}\n\n",
         pick(5000));
    add(b, "data: [DONE]\n\n");
}

/* s[0..n) as the content of a JSON string. */
static void add_json(ig_buf_t *b, const char *s, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        unsigned char ch = (unsigned char)s[k];
        char e[8];
        if (ch == '"' || ch == '\\')
            snprintf(e, sizeof e, "\\%c", ch);
        else if (ch == '\n')
            snprintf(e, sizeof e, "\\n");
        else if (ch < 0x20)
            snprintf(e, sizeof e, "\\u%04x", ch);
        else
            e[0] = (char)ch, e[1] = 0;
        add(b, e);
    }
}

/* A streamed answer as a provider sends it, the text cut every 1-12 bytes (at character boundaries), so
 * PII is split across events as a tokenizer splits it: 0 OpenAI chat, 1 OpenAI Responses, 2 Anthropic
 * (SSE), 3 Ollama (NDJSON). */
static void split_stream(ig_buf_t *b, int shape)
{
    ig_buf_t t;
    ig_buf_init(&t, 64u << 20);
    text(&t, 100 + pick(400), false);
    for (size_t at = 0, e = 0; at < t.len; at = e) {
        e = at + 1 + pick(12);
        if (e > t.len) e = t.len;
        while (e < t.len && ((unsigned char)t.data[e] & 0xC0) == 0x80)
            e++;
        if (shape == 0) {
            add(b, "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1705312345,"
                   "\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"");
            add_json(b, t.data + at, e - at);
            add(b, "\"},\"finish_reason\":null}]}\n\n");
        } else if (shape == 1) {
            add(b, "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\","
                   "\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"");
            add_json(b, t.data + at, e - at);
            addf(b, "\",\"sequence_number\":%llu}\n\n", at);
        } else if (shape == 2) {
            add(b,
                "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
                "{\"type\":\"text_delta\",\"text\":\"");
            add_json(b, t.data + at, e - at);
            add(b, "\"}}\n\n");
        } else {
            add(b,
                "{\"model\":\"llama3.2\",\"created_at\":\"2024-01-15T10:30:00.123Z\",\"message\":{\"role\":"
                "\"assistant\",\"content\":\"");
            add_json(b, t.data + at, e - at);
            add(b, "\"},\"done\":false}\n");
        }
    }
    add(b, shape == 3 ? "{\"model\":\"llama3.2\",\"done\":true,\"eval_count\":282}\n" : "data: [DONE]\n\n");
    ig_buf_free(&t, false);
}

static void plain(ig_buf_t *b)
{
    text(b, 100 + pick(1500), false);
    add(b, "\n");
}

static void push(corpus_t *c, ig_buf_t *b, ig_redact_kind_t kind)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 1024;
        c->v = realloc(c->v, c->cap * sizeof *c->v);
        if (!c->v) abort();
    }
    c->v[c->n++] = (doc_t){b->data, b->len, kind};
    c->bytes[kind] += b->len;
}

/* Mixed corpus of `mb` MB: 55% JSON (requests and responses), 35% SSE, 10% text, by bytes (each new body
 * is of the kind furthest below its share). */
static void build(corpus_t *c, size_t mb)
{
    const double share[3] = {0.10, 0.55, 0.35}; /* text, JSON, SSE */
    size_t target = mb * 1000000;
    while (c->bytes[0] + c->bytes[1] + c->bytes[2] < target) {
        ig_buf_t b;
        ig_buf_init(&b, 64u << 20);
        int kind = 0;
        for (int k = 1; k < 3; k++)
            if ((double)c->bytes[k] / share[k] < (double)c->bytes[kind] / share[kind]) kind = k;
        if (kind == IG_REDACT_JSON) {
            if (pick(100) < 55)
                json_request(&b);
            else
                json_response(&b);
        } else if (kind == IG_REDACT_SSE) {
            sse_stream(&b);
        } else {
            plain(&b);
        }
        push(c, &b, (ig_redact_kind_t)kind);
    }
}

typedef struct {
    const ig_redactor_t *r;
    const corpus_t *c;
    ig_redact_mode_t mode;
    int kind; /* -1 = all */
    double secs;
    size_t bytes, matches;
} run_t;

static void *run_once(void *arg)
{
    run_t *x = arg;
    ig_buf_t out;
    ig_buf_init(&out, 64u << 20);
    x->bytes = x->matches = 0;
    double t0 = cpu_s();
    for (size_t i = 0; i < x->c->n; i++) {
        const doc_t *d = &x->c->v[i];
        if (x->kind >= 0 && (int)d->kind != x->kind) continue;
        size_t nm;
        ig_buf_reset(&out);
        if (ig_redact_body(x->r, x->mode, d->kind, ig_iov(d->p, d->len), &out, &nm) != IG_OK) abort();
        x->bytes += d->len;
        x->matches += nm;
    }
    x->secs = cpu_s() - t0;
    ig_buf_free(&out, false);
    return NULL;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median MB/s over `rounds` runs. */
static double measure(const ig_redactor_t *r, const corpus_t *c, ig_redact_mode_t mode, int kind, int rounds,
                      size_t *matches)
{
    double v[32];
    run_t x = {r, c, mode, kind, 0, 0, 0};
    run_once(&x); /* warm-up: per-thread scratch, page faults */
    for (int k = 0; k < rounds; k++) {
        run_once(&x);
        v[k] = (double)x.bytes / 1e6 / x.secs;
    }
    qsort(v, (size_t)rounds, sizeof v[0], cmp_d);
    if (matches) *matches = x.matches;
    return v[rounds / 2];
}

int main(int argc, char **argv)
{
    size_t mb = 50;
    int rounds = 7, threads = 2, opt;
    while ((opt = getopt(argc, argv, "m:r:t:")) != -1) {
        if (opt == 'm') mb = (size_t)strtoul(optarg, NULL, 10);
        if (opt == 'r') rounds = (int)strtol(optarg, NULL, 10);
        if (opt == 't') threads = (int)strtol(optarg, NULL, 10);
    }
    if (rounds < 1 || rounds > 31 || threads < 0 || threads > 64 || mb == 0) {
        fprintf(stderr, "usage: %s [-m MB] [-r rounds<=31] [-t threads]\n", argv[0]);
        return 2;
    }
    corpus_t c = {0};
    double t0 = now_s();
    build(&c, mb);
    printf("corpus: %zu bodies, %.1f MB (JSON %.1f, SSE %.1f, text %.1f), built in %.1f s\n", c.n,
           (double)(c.bytes[0] + c.bytes[1] + c.bytes[2]) / 1e6, (double)c.bytes[1] / 1e6,
           (double)c.bytes[2] / 1e6, (double)c.bytes[0] / 1e6, now_s() - t0);

    ig_redactor_t *def, *cust;
    char err[256];
    const char *pats[] = {"(?i)\\bacct-[0-9]{6,}\\b", "\\bsk-[A-Za-z0-9]{20,}"};
    if (ig_redactor_new(IG_PII_DEFAULTS, NULL, 0, &def, err, sizeof err) ||
        ig_redactor_new(IG_PII_DEFAULTS, pats, 2, &cust, err, sizeof err)) {
        fprintf(stderr, "redactor: %s\n", err);
        return 1;
    }
    static const char *const MODE[] = {"pattern", "hash", "drop"};
    printf("\nsingle thread, MB/s per core = input bytes / thread CPU time, median of %d rounds (1 MB = 10^6 "
           "B)\n",
           rounds);
    printf("%-28s %9s %9s %9s %9s %11s\n", "redactor / mode", "mixed", "json", "sse", "text", "redactions");
    const ig_redactor_t *rs[2] = {def, cust};
    const char *rn[2] = {"defaults", "defaults + 2 custom"};
    for (int ri = 0; ri < 2; ri++) {
        for (int m = 0; m < 3; m++) {
            size_t nm;
            double mixed = measure(rs[ri], &c, (ig_redact_mode_t)m, -1, rounds, &nm);
            double k[3];
            for (int kd = 0; kd < 3; kd++)
                k[kd] = measure(rs[ri], &c, (ig_redact_mode_t)m, kd, rounds, NULL);
            char label[64];
            snprintf(label, sizeof label, "%s / %s", rn[ri], MODE[m]);
            printf("%-28s %9.0f %9.0f %9.0f %9.0f %11zu\n", label, mixed, k[1], k[2], k[0], nm);
        }
    }

    /* a body with no digits and no '@' at all: the floor cost of walking JSON */
    {
        corpus_t z = {0};
        ig_buf_t b;
        ig_buf_init(&b, 64u << 20);
        add(&b, "[");
        while (b.len < 20000000) {
            add(&b, "{\"role\":\"user\",\"content\":\"");
            for (int i = 0; i < 200; i++) {
                add(&b, WORDS[pick(IG_ARRAY_LEN(WORDS))]);
                add(&b, i % 40 == 39 ? "\\n" : " ");
            }
            add(&b, "x\"},");
        }
        add(&b, "{}]");
        push(&z, &b, IG_REDACT_JSON);
        printf("\n%-28s %9.0f MB/s (one 20 MB JSON document, no candidates)\n", "defaults / pattern, clean",
               measure(def, &z, IG_REDACT_PATTERN, -1, rounds, NULL));
        free(b.data);
        free(z.v);
    }

    /* small bodies: per-call overhead */
    {
        corpus_t s = {0};
        for (int i = 0; i < 20000; i++) {
            ig_buf_t b;
            ig_buf_init(&b, 1u << 20);
            add(&b, "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"");
            text(&b, 120, true);
            add(&b, "\"}],\"max_tokens\":256}");
            push(&s, &b, IG_REDACT_JSON);
        }
        size_t bytes = s.bytes[IG_REDACT_JSON];
        double mbs = measure(def, &s, IG_REDACT_PATTERN, -1, rounds, NULL);
        printf("%-28s %9.0f MB/s (%d bodies of ~%zu bytes: %.2f us per body)\n", "defaults / pattern, small",
               mbs, 20000, bytes / 20000, (double)bytes / 20000 / mbs);
        for (size_t i = 0; i < s.n; i++)
            free(s.v[i].p);
        free(s.v);
    }

    /* streams whose text is cut every 1-12 bytes: PII split across events, joined again by the stream pass */
    {
        corpus_t z = {0};
        size_t bytes = 0;
        for (int i = 0; bytes < 20000000; i++) {
            ig_buf_t b;
            ig_buf_init(&b, 64u << 20);
            split_stream(&b, i % 4);
            bytes += b.len;
            push(&z, &b, i % 4 == 3 ? IG_REDACT_JSON : IG_REDACT_SSE);
        }
        size_t nm;
        double mbs = measure(def, &z, IG_REDACT_PATTERN, -1, rounds, &nm);
        printf("%-28s %9.0f MB/s, %zu redactions (%zu streams, 4 shapes, text cut every 1-12 bytes)\n",
               "defaults / pattern, split", mbs, nm, z.n);
        for (size_t i = 0; i < z.n; i++)
            free(z.v[i].p);
        free(z.v);
    }

    /* what allocating the PCRE2 per-call state would cost instead of the per-thread cache */
    {
        int n = 20000;
        double a0 = cpu_s();
        for (int i = 0; i < n; i++) {
            pcre2_match_context *mc = pcre2_match_context_create(NULL);
            pcre2_jit_stack *js = pcre2_jit_stack_create(32 * 1024, 512 * 1024, NULL);
            pcre2_match_data *md = pcre2_match_data_create(1, NULL);
            pcre2_jit_stack_assign(mc, NULL, js);
            pcre2_match_data_free(md);
            pcre2_jit_stack_free(js);
            pcre2_match_context_free(mc);
        }
        printf("%-28s %9.2f us per call (match data + match context + JIT stack, create and free)\n",
               "per-call PCRE2 state", (cpu_s() - a0) / n * 1e6);
    }

    /* several threads sharing one redactor */
    if (threads > 1) {
        pthread_t th[64];
        run_t x[64];
        for (int t = 0; t < threads; t++) {
            x[t] = (run_t){def, &c, IG_REDACT_PATTERN, -1, 0, 0, 0};
            run_once(&x[t]);
        }
        double w0 = now_s();
        for (int t = 0; t < threads; t++)
            pthread_create(&th[t], NULL, run_once, &x[t]);
        size_t total = 0;
        for (int t = 0; t < threads; t++) {
            pthread_join(th[t], NULL);
            total += x[t].bytes;
        }
        double wall = now_s() - w0;
        double cpu = 0;
        for (int t = 0; t < threads; t++)
            cpu += x[t].secs;
        printf(
            "%-28s %9.0f MB/s wall, %.0f MB/s per CPU-second: %d threads sharing one redactor (%ld CPUs)\n",
            "defaults / pattern, mixed", (double)total / 1e6 / wall, (double)total / 1e6 / cpu, threads,
            sysconf(_SC_NPROCESSORS_ONLN));
    }

    for (size_t i = 0; i < c.n; i++)
        free(c.v[i].p);
    free(c.v);
    ig_redactor_free(def);
    ig_redactor_free(cust);
    return 0;
}

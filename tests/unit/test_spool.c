/*
 * Unit tests of src/capture/spool.c on files in a fresh temporary directory: every field of a log record
 * survives an append/replay round trip (NULL texts and blobs stay NULL, binary blobs byte for byte); records
 * of several orgs interleaved reach the sink in order, one org per call, in batches of at most 256; a torn
 * last frame and a corrupted payload byte end their file at that frame (the frames before are replayed); a
 * failing sink keeps the file for the next attempt; the active (unsealed) file is not replayed; modes 0700 /
 * 0600; a file replayed twice into an idempotent sink (the log store) stores each record once.
 */
#include "unit.h"
#include "capture/spool.h"
#include "core/err.h"
#include "core/log.h"
#include "store/logstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#define ORG_A "0123456789abcdef0123456789abcdef"
#define ORG_B "fedcba9876543210fedcba9876543210"
#define ORG_C "a3f5c8e21b7d4096e8c1f2a3b4c5d6e7"
#define T0    1700000000000LL

static char g_dir[64];

/* ---- records with their own storage ---- */

typedef struct {
    ig_logrec_t r;
    char path[64], model[64], error[64];
    uint8_t blob[5][48];
} own_rec_t;

/* Record i with every field set; the blobs hold every byte value class (0x00, 0xff, text). */
static void full_rec(own_rec_t *o, int i)
{
    memset(o, 0, sizeof *o);
    ig_logrec_t *r = &o->r;
    snprintf(r->id, sizeof r->id, "0000%04d-0a14-709e-9c1e-1dc70b6d74ab", i);
    snprintf(r->key_id, sizeof r->key_id, "%032d", i);
    snprintf(r->key_prefix, sizeof r->key_prefix, "ig_%09d", i);
    snprintf(r->provider, sizeof r->provider, "openai");
    snprintf(r->method, sizeof r->method, "POST");
    snprintf(o->path, sizeof o->path, "/v1/chat/completions/%d", i);
    snprintf(o->model, sizeof o->model, "gpt-4o-%d", i);
    snprintf(o->error, sizeof o->error, "upstream_timeout %d", i);
    r->path = o->path;
    r->model = o->model;
    r->error = o->error;
    r->status = 200 + i % 300;
    r->stream = i % 2;
    r->req_truncated = i % 3 == 0;
    r->resp_truncated = i % 5 == 0;
    r->cache_hit = i % 7 == 0;
    r->has_user_tag = i % 2 == 0;
    r->has_session_tag = i % 4 == 1;
    r->latency_ms = 12.375 + i;
    r->ttfb_ms = 3.0625 + i;
    r->input_tokens = 1000 + i;
    r->output_tokens = 500 + i;
    r->cached_tokens = i;
    r->cost_micros = 7250 + i;
    r->req_bytes = 4096 + i;
    r->resp_bytes = 8192 + i;
    r->created_at = T0 + i;
    r->guard_injection_score = -1;
    if (i % 2) { /* guardrail findings on every other record (the others: the guardrails did not run) */
        r->guard_action = "redacted";
        r->guard_pii = i % 4 == 1 ? "{\"email\":2,\"card\":1}" : NULL;
        r->guard_injection_score = i % 4 == 1 ? 60 : -1;
        r->guard_injection_rules = i % 4 == 1 ? "ignore_instructions" : NULL;
    }
    for (int b = 0; b < 5; b++)
        for (int k = 0; k < 48; k++)
            o->blob[b][k] = (uint8_t)(k == 0 ? 0 : k == 1 ? 0xff : (b * 48 + k + i) & 0xff);
    r->req_body = o->blob[0];
    r->req_body_len = 48;
    r->resp_body = o->blob[1];
    r->resp_body_len = 47;
    r->user_id = o->blob[2];
    r->user_id_len = 16;
    r->session_id = o->blob[3];
    r->session_id_len = 1;
    r->client_ip = o->blob[4];
    r->client_ip_len = 28;
    for (int k = 0; k < 16; k++) {
        r->user_tag[k] = (uint8_t)(0xa0 + k + i);
        r->session_tag[k] = (uint8_t)(0x10 + k * 3 + i);
    }
}

/* Record i with every optional field absent. */
static void bare_rec(own_rec_t *o, int i)
{
    memset(o, 0, sizeof *o);
    snprintf(o->r.id, sizeof o->r.id, "bare-%d", i);
    o->r.path = "";
    o->r.input_tokens = o->r.output_tokens = o->r.cached_tokens = o->r.cost_micros = -1;
    o->r.created_at = T0 + i;
}

/* ---- a sink that keeps deep copies of what it is handed ---- */

typedef struct {
    char org[33];
    ig_logrec_t r;
    char path[4097], model[513], error[513];
    bool has_model, has_error;
    uint8_t *blob[5];
    char guard[3][512]; /* action, pii, rules */
    bool has_guard[3];
} got_t;

/* The guard_* texts of g->r point into g (after a copy or a move). */
static void guard_point(got_t *g)
{
    g->r.guard_action = g->has_guard[0] ? g->guard[0] : NULL;
    g->r.guard_pii = g->has_guard[1] ? g->guard[1] : NULL;
    g->r.guard_injection_rules = g->has_guard[2] ? g->guard[2] : NULL;
}

typedef struct {
    got_t *recs;
    size_t n, cap;
    size_t calls;
    size_t call_sizes[64];
    char call_orgs[64][33];
    int fail_rc;          /* returned instead of storing */
    const char *fail_org; /* fail only for this org (NULL = every org) */
} sink_t;

static uint8_t *dup_blob(const uint8_t *p, size_t n)
{
    if (!p) return NULL;
    uint8_t *c = malloc(n ? n : 1);
    if (c && n) memcpy(c, p, n);
    return c;
}

static int on_recs(void *ctx, const char *org_id, const ig_logrec_t *recs, size_t n)
{
    sink_t *s = ctx;
    if (s->fail_rc && (!s->fail_org || strcmp(s->fail_org, org_id) == 0)) return s->fail_rc;
    if (s->calls < 64) {
        s->call_sizes[s->calls] = n;
        snprintf(s->call_orgs[s->calls], 33, "%s", org_id);
    }
    s->calls++;
    if (s->n + n > s->cap) {
        size_t cap = (s->n + n) * 2;
        got_t *v = realloc(s->recs, cap * sizeof *v);
        if (!v) return IG_ENOMEM;
        s->recs = v;
        s->cap = cap;
        for (size_t i = 0; i < s->n; i++) { /* the texts moved with the array */
            got_t *g = &s->recs[i];
            g->r.path = g->path;
            g->r.model = g->has_model ? g->model : NULL;
            g->r.error = g->has_error ? g->error : NULL;
            guard_point(g);
        }
    }
    for (size_t i = 0; i < n; i++) {
        got_t *g = &s->recs[s->n++];
        memset(g, 0, sizeof *g);
        snprintf(g->org, sizeof g->org, "%s", org_id);
        g->r = recs[i];
        snprintf(g->path, sizeof g->path, "%s", recs[i].path ? recs[i].path : "(null)");
        g->has_model = recs[i].model != NULL;
        g->has_error = recs[i].error != NULL;
        snprintf(g->model, sizeof g->model, "%s", recs[i].model ? recs[i].model : "");
        snprintf(g->error, sizeof g->error, "%s", recs[i].error ? recs[i].error : "");
        g->r.path = g->path;
        g->r.model = g->has_model ? g->model : NULL;
        g->r.error = g->has_error ? g->error : NULL;
        const char *gt[3] = {recs[i].guard_action, recs[i].guard_pii, recs[i].guard_injection_rules};
        for (int k = 0; k < 3; k++) {
            g->has_guard[k] = gt[k] != NULL;
            snprintf(g->guard[k], sizeof g->guard[k], "%s", gt[k] ? gt[k] : "");
        }
        guard_point(g);
        const uint8_t *src[5] = {recs[i].req_body, recs[i].resp_body, recs[i].user_id, recs[i].session_id,
                                 recs[i].client_ip};
        size_t len[5] = {recs[i].req_body_len, recs[i].resp_body_len, recs[i].user_id_len,
                         recs[i].session_id_len, recs[i].client_ip_len};
        for (int b = 0; b < 5; b++)
            g->blob[b] = dup_blob(src[b], len[b]);
        g->r.req_body = g->blob[0];
        g->r.resp_body = g->blob[1];
        g->r.user_id = g->blob[2];
        g->r.session_id = g->blob[3];
        g->r.client_ip = g->blob[4];
    }
    return IG_OK;
}

static void sink_clear(sink_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        for (int b = 0; b < 5; b++)
            free(s->recs[i].blob[b]);
    free(s->recs);
    memset(s, 0, sizeof *s);
}

static bool blob_eq(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    if (an == 0 || bn == 0) return an == bn; /* NULL or empty: both mean absent */
    return a && b && an == bn && memcmp(a, b, an) == 0;
}

/* Checks every field of got against want. */
static void check_same(const got_t *got, const char *org, const ig_logrec_t *w)
{
    const ig_logrec_t *g = &got->r;
    CHECK_EQ_STR(got->org, org);
    CHECK_EQ_STR(g->id, w->id);
    CHECK_EQ_STR(g->key_id, w->key_id);
    CHECK_EQ_STR(g->key_prefix, w->key_prefix);
    CHECK_EQ_STR(g->provider, w->provider);
    CHECK_EQ_STR(g->method, w->method);
    CHECK_EQ_STR(g->path, w->path);
    CHECK_EQ_INT(g->model != NULL, w->model != NULL);
    if (g->model && w->model) CHECK_EQ_STR(g->model, w->model);
    CHECK_EQ_INT(g->error != NULL, w->error != NULL);
    if (g->error && w->error) CHECK_EQ_STR(g->error, w->error);
    CHECK_EQ_INT(g->status, w->status);
    CHECK_EQ_INT(g->stream, w->stream);
    CHECK_EQ_INT(g->req_truncated, w->req_truncated);
    CHECK_EQ_INT(g->resp_truncated, w->resp_truncated);
    CHECK_EQ_INT(g->cache_hit, w->cache_hit);
    CHECK_EQ_INT(g->has_user_tag, w->has_user_tag);
    CHECK_EQ_INT(g->has_session_tag, w->has_session_tag);
    CHECK(g->latency_ms == w->latency_ms);
    CHECK(g->ttfb_ms == w->ttfb_ms);
    CHECK_EQ_INT(g->input_tokens, w->input_tokens);
    CHECK_EQ_INT(g->output_tokens, w->output_tokens);
    CHECK_EQ_INT(g->cached_tokens, w->cached_tokens);
    CHECK_EQ_INT(g->cost_micros, w->cost_micros);
    CHECK_EQ_INT(g->req_bytes, w->req_bytes);
    CHECK_EQ_INT(g->resp_bytes, w->resp_bytes);
    CHECK_EQ_INT(g->created_at, w->created_at);
    CHECK(blob_eq(g->req_body, g->req_body_len, w->req_body, w->req_body_len));
    CHECK(blob_eq(g->resp_body, g->resp_body_len, w->resp_body, w->resp_body_len));
    CHECK(blob_eq(g->user_id, g->user_id_len, w->user_id, w->user_id_len));
    CHECK(blob_eq(g->session_id, g->session_id_len, w->session_id, w->session_id_len));
    CHECK(blob_eq(g->client_ip, g->client_ip_len, w->client_ip, w->client_ip_len));
    CHECK_MEM(g->user_tag, w->user_tag, 16);
    CHECK_MEM(g->session_tag, w->session_tag, 16);
    CHECK_EQ_INT(g->guard_action != NULL, w->guard_action != NULL);
    if (g->guard_action && w->guard_action) {
        CHECK_EQ_STR(g->guard_action, w->guard_action);
        CHECK_EQ_INT(g->guard_pii != NULL, w->guard_pii != NULL);
        if (g->guard_pii && w->guard_pii) CHECK_EQ_STR(g->guard_pii, w->guard_pii);
        CHECK_EQ_INT(g->guard_injection_score, w->guard_injection_score);
        CHECK_EQ_INT(g->guard_injection_rules != NULL, w->guard_injection_rules != NULL);
        if (g->guard_injection_rules && w->guard_injection_rules)
            CHECK_EQ_STR(g->guard_injection_rules, w->guard_injection_rules);
    }
}

/* ---- files ---- */

static const char *sub(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", g_dir, name);
    return out;
}

static ig_spool_t *open_spool(const char *name)
{
    char dir[128];
    int err = 0;
    ig_spool_t *sp = ig_spool_open(sub(dir, sizeof dir, name), &err);
    CHECK(sp != NULL);
    CHECK_EQ_INT(err, 0);
    return sp;
}

/* Names of the spool files of a directory, sorted; returns how many (up to cap). */
static size_t list_spool(const char *name, char out[][256], size_t cap)
{
    char dir[128];
    DIR *d = opendir(sub(dir, sizeof dir, name));
    size_t n = 0;
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, "spool-", 6) == 0 && n < cap) snprintf(out[n++], 256, "%s", e->d_name);
    closedir(d);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(out[j - 1], out[j]) > 0; j--) {
            char t[256];
            memcpy(t, out[j], 256);
            memcpy(out[j], out[j - 1], 256);
            memcpy(out[j - 1], t, 256);
        }
    return n;
}

/* The full path of the only spool file of a directory ("" when there is not exactly one). */
static void only_file(const char *name, char *out, size_t cap)
{
    char files[4][256];
    out[0] = '\0';
    size_t n = list_spool(name, files, 4);
    CHECK_EQ_INT(n, 1);
    if (n == 1) snprintf(out, cap, "%s/%s/%s", g_dir, name, files[0]);
}

static long file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

/* Byte offsets at which the frames of a spool file start (read from their headers); returns how many. */
static size_t frame_offsets(const char *path, long *off, size_t cap)
{
    FILE *f = fopen(path, "rb");
    size_t n = 0;
    long at = 0;
    uint8_t hdr[16];
    while (f && n < cap && fread(hdr, 1, 16, f) == 16) {
        uint32_t plen =
            (uint32_t)hdr[4] | (uint32_t)hdr[5] << 8 | (uint32_t)hdr[6] << 16 | (uint32_t)hdr[7] << 24;
        CHECK_MEM(hdr, "IGS1", 4);
        off[n++] = at;
        at += 16 + (long)plen;
        if (fseek(f, at, SEEK_SET) != 0) break;
    }
    if (f) fclose(f);
    return n;
}

static void flip_byte(const char *path, long at)
{
    int fd = open(path, O_RDWR);
    uint8_t b = 0;
    CHECK(fd >= 0);
    if (fd < 0) return;
    CHECK_EQ_INT(pread(fd, &b, 1, at), 1);
    b ^= 0x20;
    CHECK_EQ_INT(pwrite(fd, &b, 1, at), 1);
    close(fd);
}

/* ---- tests ---- */

TEST(round_trip_every_field)
{
    ig_spool_t *sp = open_spool("rt");
    own_rec_t a, b, c, d;
    full_rec(&a, 1);
    full_rec(&b, 2); /* the other value of each flag */
    bare_rec(&c, 3);
    full_rec(&d, 4);
    /* longest texts of the fixed arrays, empty (not NULL) blobs, a model but no error */
    memset(d.r.id, 'i', 36);
    memset(d.r.key_id, 'k', 32);
    memset(d.r.key_prefix, 'p', 12);
    memset(d.r.provider, 'v', 32);
    memset(d.r.method, 'M', 15);
    d.r.error = NULL;
    d.r.user_id = NULL;
    d.r.user_id_len = 0;
    d.r.session_id_len = 0; /* a pointer with no bytes: absent too */
    d.r.latency_ms = 0;
    d.r.input_tokens = -1;
    d.r.cost_micros = -1;
    if (!sp) return;
    CHECK_EQ_INT(ig_spool_append(sp, ORG_A, &a.r), IG_OK);
    CHECK_EQ_INT(ig_spool_append(sp, ORG_A, &b.r), IG_OK);
    CHECK_EQ_INT(ig_spool_append(sp, ORG_A, &c.r), IG_OK);
    CHECK_EQ_INT(ig_spool_append(sp, ORG_A, &d.r), IG_OK);
    uint64_t bytes = 0, files = 0;
    ig_spool_seal(sp);
    char p[256];
    sub(p, sizeof p, "rt");
    ig_spool_usage(p, &bytes, &files);
    CHECK_EQ_INT(files, 1);
    CHECK(bytes > 4 * 16);
    char path[512];
    only_file("rt", path, sizeof path);
    CHECK_EQ_INT(file_size(path), (long)bytes);

    sink_t s = {0};
    uint64_t n = 99;
    CHECK_EQ_INT(ig_spool_replay(sp, on_recs, &s, &n), IG_OK);
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(s.n, 4);
    CHECK_EQ_INT(s.calls, 1); /* one org: one batch */
    if (s.n == 4) {
        check_same(&s.recs[0], ORG_A, &a.r);
        check_same(&s.recs[1], ORG_A, &b.r);
        check_same(&s.recs[2], ORG_A, &c.r);
        check_same(&s.recs[3], ORG_A, &d.r);
        /* absent stays absent, not "" */
        CHECK(s.recs[2].r.model == NULL && s.recs[2].r.error == NULL);
        CHECK(s.recs[2].r.req_body == NULL && s.recs[2].r.client_ip == NULL);
        CHECK(s.recs[3].r.user_id == NULL && s.recs[3].r.error == NULL);
        CHECK_EQ_STR(s.recs[2].r.path, "");
        CHECK_EQ_INT(s.recs[2].r.key_id[0], 0);
        CHECK_EQ_INT(s.recs[0].r.req_body[0], 0x00);
        CHECK_EQ_INT(s.recs[0].r.req_body[1], 0xff);
    }
    /* the file is gone once replayed */
    ig_spool_usage(p, &bytes, &files);
    CHECK_EQ_INT(files, 0);
    CHECK_EQ_INT(bytes, 0);
    sink_clear(&s);
    CHECK_EQ_INT(ig_spool_replay(sp, on_recs, &s, &n), IG_OK); /* nothing left */
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(s.calls, 0);
    ig_spool_close(sp);
}

TEST(orgs_interleaved_in_order)
{
    ig_spool_t *sp = open_spool("mix");
    static own_rec_t recs[310];
    const char *orgs[310];
    /* A B A A B C, then 300 of A (split in batches of 256) */
    const char *pattern[6] = {ORG_A, ORG_B, ORG_A, ORG_A, ORG_B, ORG_C};
    if (!sp) return;
    for (int i = 0; i < 306; i++) {
        full_rec(&recs[i], i);
        orgs[i] = i < 6 ? pattern[i] : ORG_A;
        CHECK_EQ_INT(ig_spool_append(sp, orgs[i], &recs[i].r), IG_OK);
    }
    ig_spool_seal(sp);
    sink_t s = {0};
    uint64_t n = 0;
    CHECK_EQ_INT(ig_spool_replay(sp, on_recs, &s, &n), IG_OK);
    CHECK_EQ_INT(n, 306);
    CHECK_EQ_INT(s.n, 306);
    for (size_t i = 0; i < s.n && i < 306; i++)
        check_same(&s.recs[i], orgs[i], &recs[i].r);
    /* one org per call: A(1) B(1) A(2) B(1) C(1) A(256) A(44) */
    size_t want_sizes[] = {1, 1, 2, 1, 1, 256, 44};
    const char *want_orgs[] = {ORG_A, ORG_B, ORG_A, ORG_B, ORG_C, ORG_A, ORG_A};
    CHECK_EQ_INT(s.calls, 7);
    for (size_t i = 0; i < 7 && i < s.calls; i++) {
        CHECK_EQ_INT(s.call_sizes[i], want_sizes[i]);
        CHECK_EQ_STR(s.call_orgs[i], want_orgs[i]);
    }
    sink_clear(&s);
    ig_spool_close(sp);
}

/* A crash in the middle of an append leaves a torn frame: the frames before it are replayed. */
TEST(torn_last_frame)
{
    ig_spool_t *sp = open_spool("torn");
    own_rec_t r[3];
    if (!sp) return;
    for (int i = 0; i < 3; i++) {
        full_rec(&r[i], 10 + i);
        CHECK_EQ_INT(ig_spool_append(sp, ORG_B, &r[i].r), IG_OK);
    }
    ig_spool_seal(sp);
    char path[512];
    only_file("torn", path, sizeof path);
    long size = file_size(path);
    CHECK(size > 0);
    CHECK_EQ_INT(truncate(path, size - 5), 0); /* the last payload is 5 bytes short */
    sink_t s = {0};
    uint64_t n = 0;
    CHECK_EQ_INT(ig_spool_replay(sp, on_recs, &s, &n), IG_OK);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(s.n, 2);
    if (s.n == 2) {
        check_same(&s.recs[0], ORG_B, &r[0].r);
        check_same(&s.recs[1], ORG_B, &r[1].r);
    }
    CHECK_EQ_INT(file_size(path), -1); /* done with: deleted */
    sink_clear(&s);

    /* torn inside the header of the second frame */
    for (int i = 0; i < 2; i++)
        CHECK_EQ_INT(ig_spool_append(sp, ORG_B, &r[i].r), IG_OK);
    ig_spool_seal(sp);
    only_file("torn", path, sizeof path);
    long off[4];
    CHECK_EQ_INT(frame_offsets(path, off, 4), 2);
    CHECK_EQ_INT(truncate(path, off[1] + 7), 0);
    CHECK_EQ_INT(ig_spool_replay(sp, on_recs, &s, &n), IG_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(s.n, 1);
    if (s.n == 1) check_same(&s.recs[0], ORG_B, &r[0].r);
    sink_clear(&s);
    ig_spool_close(sp);
}

/* One flipped byte in a frame's payload (its hash no longer matches) ends the file at that frame. */
TEST(corrupt_payload_stops_file)
{
    ig_spool_t *sp = open_spool("corrupt");
    own_rec_t r[4];
    if (!sp) return;
    for (int i = 0; i < 4; i++) {
        full_rec(&r[i], 20 + i);
        CHECK_EQ_INT(ig_spool_append(sp, ORG_C, &r[i].r), IG_OK);
    }
    ig_spool_seal(sp);
    char path[512];
    only_file("corrupt", path, sizeof path);
    long off[8];
    CHECK_EQ_INT(frame_offsets(path, off, 8), 4);
    flip_byte(path, off[2] + 16 + 40); /* inside the third payload */
    sink_t s = {0};
    uint64_t n = 0;
    CHECK_EQ_INT(ig_spool_replay(sp, on_recs, &s, &n), IG_OK);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(s.n, 2);
    if (s.n == 2) {
        check_same(&s.recs[0], ORG_C, &r[0].r);
        check_same(&s.recs[1], ORG_C, &r[1].r);
    }
    sink_clear(&s);

    /* a bad magic on the second frame: only the first is taken */
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(ig_spool_append(sp, ORG_C, &r[i].r), IG_OK);
    ig_spool_seal(sp);
    only_file("corrupt", path, sizeof path);
    CHECK_EQ_INT(frame_offsets(path, off, 8), 3);
    flip_byte(path, off[1]);
    CHECK_EQ_INT(ig_spool_replay(sp, on_recs, &s, &n), IG_OK);
    CHECK_EQ_INT(n, 1);
    if (s.n == 1) check_same(&s.recs[0], ORG_C, &r[0].r);
    sink_clear(&s);

    /* a corrupted hash byte in the header does the same */
    for (int i = 0; i < 2; i++)
        CHECK_EQ_INT(ig_spool_append(sp, ORG_C, &r[i].r), IG_OK);
    ig_spool_seal(sp);
    only_file("corrupt", path, sizeof path);
    CHECK_EQ_INT(frame_offsets(path, off, 8), 2);
    flip_byte(path, off[0] + 8);
    CHECK_EQ_INT(ig_spool_replay(sp, on_recs, &s, &n), IG_OK);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(s.n, 0);
    char files[4][256];
    CHECK_EQ_INT(list_spool("corrupt", files, 4), 0);
    sink_clear(&s);
    ig_spool_close(sp);
}

/* A sink that refuses keeps the file (and stops the replay); the next replay takes it. */
TEST(replay_failure_keeps_file)
{
    ig_spool_t *sp = open_spool("fail");
    own_rec_t r[4];
    if (!sp) return;
    for (int i = 0; i < 4; i++)
        full_rec(&r[i], 30 + i);
    CHECK_EQ_INT(ig_spool_append(sp, ORG_A, &r[0].r), IG_OK);
    CHECK_EQ_INT(ig_spool_append(sp, ORG_A, &r[1].r), IG_OK);
    ig_spool_seal(sp);
    char first[4][256];
    CHECK_EQ_INT(list_spool("fail", first, 4), 1);
    usleep(3000); /* the second file is strictly newer */
    CHECK_EQ_INT(ig_spool_append(sp, ORG_A, &r[2].r), IG_OK);
    CHECK_EQ_INT(ig_spool_append(sp, ORG_B, &r[3].r), IG_OK);
    ig_spool_seal(sp);
    char files[4][256];
    CHECK_EQ_INT(list_spool("fail", files, 4), 2);
    char p2[512];
    snprintf(p2, sizeof p2, "%s/fail/%s", g_dir, files[1]);
    long size2 = file_size(p2);

    /* every org refused: nothing taken, both files stay as they were */
    sink_t s = {.fail_rc = IG_ESTORE};
    uint64_t n = 99;
    CHECK_EQ_INT(ig_spool_replay(sp, on_recs, &s, &n), IG_ESTORE);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(s.n, 0);
    CHECK_EQ_INT(list_spool("fail", files, 4), 2);
    CHECK_EQ_INT(file_size(p2), size2);

    /* only ORG_B refused: the first file goes, the second (A then B) stays whole */
    s.fail_org = ORG_B;
    CHECK_EQ_INT(ig_spool_replay(sp, on_recs, &s, &n), IG_ESTORE);
    CHECK_EQ_INT(n, 3); /* 2 of the first file, 1 (ORG_A) of the second */
    CHECK_EQ_INT(list_spool("fail", files, 4), 1);
    CHECK_EQ_STR(files[0], strrchr(p2, '/') + 1);
    CHECK_EQ_INT(file_size(p2), size2);
    sink_clear(&s);

    /* the sink works again: the rest is taken (ORG_A's record again: sinks are idempotent by id) */
    CHECK_EQ_INT(ig_spool_replay(sp, on_recs, &s, &n), IG_OK);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(s.n, 2);
    if (s.n == 2) {
        check_same(&s.recs[0], ORG_A, &r[2].r);
        check_same(&s.recs[1], ORG_B, &r[3].r);
    }
    CHECK_EQ_INT(list_spool("fail", files, 4), 0);
    sink_clear(&s);
    ig_spool_close(sp);
}

/* The file being appended to is not replayed (nor deleted) until it is sealed. */
TEST(active_file_not_replayed)
{
    ig_spool_t *sp = open_spool("active");
    own_rec_t r[2];
    if (!sp) return;
    full_rec(&r[0], 40);
    full_rec(&r[1], 41);
    CHECK_EQ_INT(ig_spool_append(sp, ORG_A, &r[0].r), IG_OK);
    char path[512];
    only_file("active", path, sizeof path);
    long size = file_size(path);
    sink_t s = {0};
    uint64_t n = 99;
    CHECK_EQ_INT(ig_spool_replay(sp, on_recs, &s, &n), IG_OK);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(s.calls, 0);
    CHECK_EQ_INT(file_size(path), size);
    /* appending continues in the same file */
    CHECK_EQ_INT(ig_spool_append(sp, ORG_A, &r[1].r), IG_OK);
    char again[512];
    only_file("active", again, sizeof again);
    CHECK_EQ_STR(again, path);
    CHECK(file_size(path) > size);
    ig_spool_seal(sp);
    CHECK_EQ_INT(ig_spool_replay(sp, on_recs, &s, &n), IG_OK);
    CHECK_EQ_INT(n, 2);
    if (s.n == 2) {
        check_same(&s.recs[0], ORG_A, &r[0].r);
        check_same(&s.recs[1], ORG_A, &r[1].r);
    }
    CHECK_EQ_INT(file_size(path), -1);
    sink_clear(&s);

    /* closing seals: what another spool (the next process) left behind is replayed */
    CHECK_EQ_INT(ig_spool_append(sp, ORG_B, &r[0].r), IG_OK);
    ig_spool_close(sp);
    sp = open_spool("active");
    if (!sp) return;
    CHECK_EQ_INT(ig_spool_replay(sp, on_recs, &s, &n), IG_OK);
    CHECK_EQ_INT(n, 1);
    if (s.n == 1) check_same(&s.recs[0], ORG_B, &r[0].r);
    sink_clear(&s);
    ig_spool_close(sp);
}

TEST(modes_0700_0600)
{
    mode_t old = umask(0); /* the modes must come from the code, not from the umask */
    ig_spool_t *sp = open_spool("modes");
    umask(old);
    own_rec_t r;
    full_rec(&r, 50);
    if (!sp) return;
    char dir[128];
    struct stat sb;
    CHECK_EQ_INT(stat(sub(dir, sizeof dir, "modes"), &sb), 0);
    CHECK_EQ_INT(sb.st_mode & 0777, 0700);
    umask(0);
    CHECK_EQ_INT(ig_spool_append(sp, ORG_A, &r.r), IG_OK);
    umask(old);
    char path[512];
    only_file("modes", path, sizeof path);
    CHECK_EQ_INT(stat(path, &sb), 0);
    CHECK_EQ_INT(sb.st_mode & 0777, 0600);
    /* an existing directory is fine to open again */
    ig_spool_t *sp2 = open_spool("modes");
    ig_spool_close(sp2);
    ig_spool_close(sp);
}

/* The disk refusing the append (here: the directory is gone) is IG_EIO, and the next append after the
 * directory is back works. */
TEST(append_refused_is_eio)
{
    ig_spool_t *sp = open_spool("gone");
    own_rec_t r;
    full_rec(&r, 60);
    if (!sp) return;
    char dir[128];
    CHECK_EQ_INT(rmdir(sub(dir, sizeof dir, "gone")), 0);
    CHECK_EQ_INT(ig_spool_append(sp, ORG_A, &r.r), IG_EIO);
    CHECK_EQ_INT(mkdir(dir, 0700), 0);
    CHECK_EQ_INT(ig_spool_append(sp, ORG_A, &r.r), IG_OK);
    ig_spool_seal(sp);
    sink_t s = {0};
    uint64_t n = 0;
    CHECK_EQ_INT(ig_spool_replay(sp, on_recs, &s, &n), IG_OK);
    CHECK_EQ_INT(n, 1);
    sink_clear(&s);
    ig_spool_close(sp);
}

/* ---- replaying twice into the log store ---- */

typedef struct {
    const char *dir;
    int calls;
} ls_sink_t;

static int into_logstore(void *ctx, const char *org_id, const ig_logrec_t *recs, size_t n)
{
    ls_sink_t *s = ctx;
    int err = 0;
    ig_logstore_t *ls = ig_logstore_open(s->dir, org_id, &err);
    if (!ls) return err;
    int rc = ig_logstore_insert(ls, recs, n);
    ig_logstore_close(ls);
    s->calls++;
    return rc;
}

static int64_t ls_count(const char *dir, const char *org)
{
    int err = 0;
    int64_t n = -1;
    ig_logstore_t *ls = ig_logstore_open(dir, org, &err);
    CHECK(ls != NULL);
    if (ls) CHECK_EQ_INT(ig_logstore_count(ls, &n), IG_OK);
    ig_logstore_close(ls);
    return n;
}

static bool read_all(const char *path, uint8_t **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    long size = file_size(path);
    *data = NULL;
    *len = 0;
    if (!f || size < 0) {
        if (f) fclose(f);
        return false;
    }
    *data = malloc((size_t)size + 1);
    *len = *data ? fread(*data, 1, (size_t)size, f) : 0;
    fclose(f);
    return *data && *len == (size_t)size;
}

TEST(replay_twice_is_harmless)
{
    ig_spool_t *sp = open_spool("twice");
    own_rec_t r[5];
    char logs[128];
    sub(logs, sizeof logs, "twice-logs");
    if (!sp) return;
    for (int i = 0; i < 5; i++) {
        full_rec(&r[i], 70 + i);
        CHECK_EQ_INT(ig_spool_append(sp, i == 2 ? ORG_B : ORG_A, &r[i].r), IG_OK);
    }
    ig_spool_seal(sp);
    char path[512];
    only_file("twice", path, sizeof path);
    uint8_t *copy = NULL;
    size_t clen = 0;
    CHECK(read_all(path, &copy, &clen));

    ls_sink_t s = {logs, 0};
    uint64_t n = 0;
    CHECK_EQ_INT(ig_spool_replay(sp, into_logstore, &s, &n), IG_OK);
    CHECK_EQ_INT(n, 5);
    CHECK_EQ_INT(s.calls, 3); /* A A | B | A A */
    CHECK_EQ_INT(ls_count(logs, ORG_A), 4);
    CHECK_EQ_INT(ls_count(logs, ORG_B), 1);

    /* a crash between the insert and the unlink: the same file is there again */
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        CHECK_EQ_INT(fwrite(copy, 1, clen, f), clen);
        fclose(f);
    }
    CHECK_EQ_INT(ig_spool_replay(sp, into_logstore, &s, &n), IG_OK);
    CHECK_EQ_INT(n, 5);                     /* handed over again... */
    CHECK_EQ_INT(ls_count(logs, ORG_A), 4); /* ...but stored once */
    CHECK_EQ_INT(ls_count(logs, ORG_B), 1);
    int err = 0;
    ig_logstore_t *ls = ig_logstore_open(logs, ORG_A, &err);
    ig_logrow_t row;
    if (ls && ig_logstore_get(ls, r[4].r.id, &row) == IG_OK) {
        CHECK_EQ_STR(row.r.model, r[4].r.model);
        CHECK_EQ_INT(row.r.cost_micros, r[4].r.cost_micros);
        CHECK(blob_eq(row.r.req_body, row.r.req_body_len, r[4].r.req_body, r[4].r.req_body_len));
        ig_logrow_free(&row);
    } else {
        CHECK(!"record 4 not stored");
    }
    ig_usage_summary_t u;
    if (ls && ig_logstore_usage_summary(ls, 0, 0, &u) == IG_OK)
        CHECK_EQ_INT(u.requests, 4); /* not counted twice in the aggregates either */
    ig_logstore_close(ls);
    free(copy);
    ig_spool_close(sp);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

int main(void)
{
    ig_log_set_level(IG_LOG_ERROR);
    snprintf(g_dir, sizeof g_dir, "/tmp/ingate-test-spool-XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(round_trip_every_field);
    RUN(orgs_interleaved_in_order);
    RUN(torn_last_frame);
    RUN(corrupt_payload_stops_file);
    RUN(replay_failure_keeps_file);
    RUN(active_file_not_replayed);
    RUN(modes_0700_0600);
    RUN(append_refused_is_eio);
    RUN(replay_twice_is_harmless);
    if (nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) fprintf(stderr, "cannot remove %s\n", g_dir);
    UNIT_DONE();
}

/*
 * spool.c — append-only overflow of the log writer (see spool.h).
 */
#include "capture/spool.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/log.h"
#include "crypto/crypto.h"
#include "net/loop.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "IGS1"
#define HDR   (4 + 4 + 8)
#define NIL   0xFFFFFFFFu
#define BATCH 256

struct ig_spool {
    char *dir;
    int fd;           /* current file, -1 = none */
    char path[4096];  /* of the current file */
    uint64_t written; /* bytes in the current file */
    unsigned seq;
};

ig_spool_t *ig_spool_open(const char *dir, int *err)
{
    struct stat sb;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        if (err) *err = IG_EIO;
        return NULL;
    }
    /* an existing directory others can read is tightened (its files hold sealed records, but their names and
     * sizes are still nobody else's business) */
    if (lstat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode) || ((sb.st_mode & 077) && chmod(dir, 0700) != 0)) {
        if (err) *err = IG_EIO;
        return NULL;
    }
    ig_spool_t *sp = calloc(1, sizeof *sp);
    if (!sp || !(sp->dir = strdup(dir))) {
        free(sp);
        if (err) *err = IG_ENOMEM;
        return NULL;
    }
    sp->fd = -1;
    return sp;
}

void ig_spool_seal(ig_spool_t *sp)
{
    if (sp->fd >= 0) close(sp->fd);
    sp->fd = -1;
    sp->written = 0;
}

void ig_spool_close(ig_spool_t *sp)
{
    if (!sp) return;
    ig_spool_seal(sp);
    free(sp->dir);
    free(sp);
}

/* ---- encoding ---- */

static int put_u32(ig_buf_t *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    return ig_buf_append(b, x, 4);
}

static int put_i64(ig_buf_t *b, int64_t v)
{
    uint8_t x[8];
    uint64_t u = (uint64_t)v;
    for (int i = 0; i < 8; i++)
        x[i] = (uint8_t)(u >> (8 * i));
    return ig_buf_append(b, x, 8);
}

static int put_bytes(ig_buf_t *b, const void *p, size_t n, bool present)
{
    if (!present) return put_u32(b, NIL);
    if (n >= NIL) return IG_ETOOBIG;
    int rc = put_u32(b, (uint32_t)n);
    return rc || !n ? rc : ig_buf_append(b, p, n);
}

static int put_str(ig_buf_t *b, const char *s)
{
    return put_bytes(b, s, s ? strlen(s) : 0, s != NULL);
}

static int put_dbl(ig_buf_t *b, double d)
{
    int64_t v;
    memcpy(&v, &d, sizeof v);
    return put_i64(b, v);
}

static int encode(ig_buf_t *b, const char *org_id, const ig_logrec_t *r)
{
    int rc = put_str(b, org_id);
    if (!rc) rc = put_str(b, r->id);
    if (!rc) rc = put_str(b, r->key_id);
    if (!rc) rc = put_str(b, r->key_prefix);
    if (!rc) rc = put_str(b, r->provider);
    if (!rc) rc = put_str(b, r->method);
    if (!rc) rc = put_str(b, r->path);
    if (!rc) rc = put_str(b, r->model);
    if (!rc) rc = put_str(b, r->error);
    if (!rc) rc = put_i64(b, r->status);
    if (!rc)
        rc = put_i64(b, (r->stream ? 1 : 0) | (r->req_truncated ? 2 : 0) | (r->resp_truncated ? 4 : 0) |
                            (r->cache_hit ? 8 : 0) | (r->has_user_tag ? 16 : 0) |
                            (r->has_session_tag ? 32 : 0));
    if (!rc) rc = put_dbl(b, r->latency_ms);
    if (!rc) rc = put_dbl(b, r->ttfb_ms);
    if (!rc) rc = put_i64(b, r->input_tokens);
    if (!rc) rc = put_i64(b, r->output_tokens);
    if (!rc) rc = put_i64(b, r->cached_tokens);
    if (!rc) rc = put_i64(b, r->cost_micros);
    if (!rc) rc = put_i64(b, r->req_bytes);
    if (!rc) rc = put_i64(b, r->resp_bytes);
    if (!rc) rc = put_i64(b, r->created_at);
    if (!rc) rc = put_bytes(b, r->req_body, r->req_body_len, r->req_body != NULL);
    if (!rc) rc = put_bytes(b, r->resp_body, r->resp_body_len, r->resp_body != NULL);
    if (!rc) rc = put_bytes(b, r->user_id, r->user_id_len, r->user_id != NULL);
    if (!rc) rc = put_bytes(b, r->session_id, r->session_id_len, r->session_id != NULL);
    if (!rc) rc = put_bytes(b, r->client_ip, r->client_ip_len, r->client_ip != NULL);
    if (!rc) rc = put_bytes(b, r->user_tag, 16, true);
    if (!rc) rc = put_bytes(b, r->session_tag, 16, true);
    /* guardrail findings (appended later: a frame without them, from an older binary, still decodes) */
    if (!rc) rc = put_str(b, r->guard_action);
    if (!rc) rc = put_str(b, r->guard_action ? r->guard_pii : NULL);
    if (!rc) rc = put_i64(b, r->guard_action ? r->guard_injection_score : -1);
    if (!rc) rc = put_str(b, r->guard_action ? r->guard_injection_rules : NULL);
    return rc;
}

static bool write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

int ig_spool_append(ig_spool_t *sp, const char *org_id, const ig_logrec_t *r)
{
    ig_buf_t b;
    ig_buf_init(&b, IG_SPOOL_FRAME_MAX + HDR);
    int rc = ig_buf_append(&b, MAGIC "\0\0\0\0\0\0\0\0\0\0\0\0", HDR);
    if (!rc) rc = encode(&b, org_id, r);
    if (rc) {
        ig_buf_free(&b, false);
        return rc == IG_ETOOBIG || rc == IG_ENOMEM ? rc : IG_EINVAL;
    }
    uint32_t plen = (uint32_t)(b.len - HDR);
    uint8_t h[32];
    ig_sha256(b.data + HDR, plen, h);
    uint8_t len4[4] = {(uint8_t)plen, (uint8_t)(plen >> 8), (uint8_t)(plen >> 16), (uint8_t)(plen >> 24)};
    memcpy(b.data + 4, len4, 4);
    memcpy(b.data + 8, h, 8);
    if (sp->fd < 0 || sp->written + b.len > IG_SPOOL_FILE_MAX) {
        ig_spool_seal(sp);
        snprintf(sp->path, sizeof sp->path, "%s/spool-%013lld-%d-%06u.log", sp->dir, (long long)ig_wall_ms(),
                 (int)getpid(), sp->seq++);
        sp->fd = open(sp->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (sp->fd < 0) {
            IG_ERROR("spool", "cannot create a spool file in %s (%s)", sp->dir, strerror(errno));
            ig_buf_free(&b, false);
            return IG_EIO;
        }
    }
    bool ok = write_all(sp->fd, b.data, b.len);
    if (ok) sp->written += b.len;
    ig_buf_free(&b, false);
    if (!ok) {
        /* a partial frame is detected (bad length or hash) and ends the file at replay: start a new one */
        IG_ERROR("spool", "append to %s failed (%s)", sp->path, strerror(errno));
        ig_spool_seal(sp);
        return IG_EIO;
    }
    return IG_OK;
}

/* ---- decoding ---- */

typedef struct {
    const uint8_t *p, *end;
    bool bad;
} rd_t;

static uint32_t get_u32(rd_t *r)
{
    if (r->end - r->p < 4) {
        r->bad = true;
        return 0;
    }
    uint32_t v =
        (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 | (uint32_t)r->p[3] << 24;
    r->p += 4;
    return v;
}

static int64_t get_i64(rd_t *r)
{
    if (r->end - r->p < 8) {
        r->bad = true;
        return 0;
    }
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u |= (uint64_t)r->p[i] << (8 * i);
    r->p += 8;
    return (int64_t)u;
}

static double get_dbl(rd_t *r)
{
    int64_t v = get_i64(r);
    double d;
    memcpy(&d, &v, sizeof d);
    return d;
}

/* A pointer into the frame (not NUL-terminated) and its length; NULL when absent. */
static const uint8_t *get_bytes(rd_t *r, size_t *n)
{
    uint32_t len = get_u32(r);
    *n = 0;
    if (r->bad || len == NIL) return NULL;
    if ((size_t)(r->end - r->p) < len) {
        r->bad = true;
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += len;
    *n = len;
    return p;
}

/* Copies a text into dst (cap with NUL); false when too long. NULL text → *out NULL. */
static bool get_text(rd_t *r, char *dst, size_t cap, const char **out)
{
    size_t n;
    const uint8_t *p = get_bytes(r, &n);
    if (out) *out = NULL;
    if (r->bad) return false;
    if (!p) {
        dst[0] = '\0';
        return true;
    }
    if (n >= cap || memchr(p, 0, n)) return false;
    memcpy(dst, p, n);
    dst[n] = '\0';
    if (out) *out = dst;
    return true;
}

typedef struct {
    ig_logrec_t r;
    char org[33];
    char path[4097], model[513], error[513];
    char guard_action[17], guard_pii[512], guard_rules[512];
    uint8_t *frame; /* owns the blobs' bytes */
} slot_t;

static bool decode(uint8_t *frame, size_t len, slot_t *s)
{
    rd_t r = {frame, frame + len, false};
    ig_logrec_t *x = &s->r;
    memset(x, 0, sizeof *x);
    const char *path = NULL;
    bool ok = get_text(&r, s->org, sizeof s->org, NULL) && get_text(&r, x->id, sizeof x->id, NULL) &&
              get_text(&r, x->key_id, sizeof x->key_id, NULL) &&
              get_text(&r, x->key_prefix, sizeof x->key_prefix, NULL) &&
              get_text(&r, x->provider, sizeof x->provider, NULL) &&
              get_text(&r, x->method, sizeof x->method, NULL) &&
              get_text(&r, s->path, sizeof s->path, &path) &&
              get_text(&r, s->model, sizeof s->model, &x->model) &&
              get_text(&r, s->error, sizeof s->error, &x->error);
    if (!ok) return false;
    x->path = path ? path : "";
    x->status = (int)get_i64(&r);
    int64_t fl = get_i64(&r);
    x->stream = fl & 1;
    x->req_truncated = fl & 2;
    x->resp_truncated = fl & 4;
    x->cache_hit = fl & 8;
    x->has_user_tag = fl & 16;
    x->has_session_tag = fl & 32;
    x->latency_ms = get_dbl(&r);
    x->ttfb_ms = get_dbl(&r);
    x->input_tokens = get_i64(&r);
    x->output_tokens = get_i64(&r);
    x->cached_tokens = get_i64(&r);
    x->cost_micros = get_i64(&r);
    x->req_bytes = get_i64(&r);
    x->resp_bytes = get_i64(&r);
    x->created_at = get_i64(&r);
    x->req_body = get_bytes(&r, &x->req_body_len);
    x->resp_body = get_bytes(&r, &x->resp_body_len);
    x->user_id = get_bytes(&r, &x->user_id_len);
    x->session_id = get_bytes(&r, &x->session_id_len);
    x->client_ip = get_bytes(&r, &x->client_ip_len);
    size_t n1 = 0, n2 = 0;
    const uint8_t *ut = get_bytes(&r, &n1), *st = get_bytes(&r, &n2);
    if (r.bad || !ut || !st || n1 != 16 || n2 != 16) return false;
    x->guard_injection_score = -1;
    if (r.p != r.end) { /* the guardrail findings */
        int64_t score = 0;
        if (!get_text(&r, s->guard_action, sizeof s->guard_action, &x->guard_action) ||
            !get_text(&r, s->guard_pii, sizeof s->guard_pii, &x->guard_pii) || (score = get_i64(&r)) < -1 ||
            score > 100 || !get_text(&r, s->guard_rules, sizeof s->guard_rules, &x->guard_injection_rules))
            return false;
        x->guard_injection_score = (int)score;
    }
    if (r.bad || r.p != r.end) return false;
    memcpy(x->user_tag, ut, 16);
    memcpy(x->session_tag, st, 16);
    return true;
}

/* Reads the next frame of f into a malloc'd payload. 1 = frame, 0 = clean end, -1 = torn/corrupt. */
static int next_frame(FILE *f, uint8_t **out, size_t *len)
{
    uint8_t hdr[HDR];
    size_t got = fread(hdr, 1, HDR, f);
    if (got == 0) return 0;
    if (got != HDR || memcmp(hdr, MAGIC, 4) != 0) return -1;
    uint32_t plen =
        (uint32_t)hdr[4] | (uint32_t)hdr[5] << 8 | (uint32_t)hdr[6] << 16 | (uint32_t)hdr[7] << 24;
    if (plen > IG_SPOOL_FRAME_MAX) return -1;
    uint8_t *p = malloc(plen ? plen : 1);
    if (!p) return -1;
    if (fread(p, 1, plen, f) != plen) {
        free(p);
        return -1;
    }
    uint8_t h[32];
    ig_sha256(p, plen, h);
    if (memcmp(h, hdr + 8, 8) != 0) {
        free(p);
        return -1;
    }
    *out = p;
    *len = plen;
    return 1;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Closed spool files of dir (sorted, oldest first) excluding `skip`; malloc'd list of malloc'd names. */
static char **list_files(const char *dir, const char *skip, size_t *n)
{
    DIR *d = opendir(dir);
    char **v = NULL;
    size_t cap = 0;
    *n = 0;
    if (!d) return NULL;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (strncmp(e->d_name, "spool-", 6) != 0 || l < 10 || strcmp(e->d_name + l - 4, ".log") != 0)
            continue;
        if (skip && strcmp(e->d_name, skip) == 0) continue;
        if (*n == cap) {
            char **nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof *v);
            if (!nv) break;
            v = nv;
        }
        if (!(v[*n] = strdup(e->d_name))) break;
        (*n)++;
    }
    closedir(d);
    if (v) qsort(v, *n, sizeof *v, name_cmp);
    return v;
}

void ig_spool_usage(const char *dir, uint64_t *bytes, uint64_t *files)
{
    size_t n = 0;
    char **v = list_files(dir, NULL, &n);
    *bytes = 0;
    *files = n;
    for (size_t i = 0; i < n; i++) {
        char p[4096];
        struct stat stt;
        snprintf(p, sizeof p, "%s/%s", dir, v[i]);
        if (stat(p, &stt) == 0) *bytes += (uint64_t)stt.st_size;
        free(v[i]);
    }
    free(v);
}

/* After a slot was copied: its texts point into the copy's own buffers again. */
static void repoint(slot_t *s)
{
    s->r.path = s->path;
    if (s->r.model) s->r.model = s->model;
    if (s->r.guard_action) s->r.guard_action = s->guard_action;
    if (s->r.guard_pii) s->r.guard_pii = s->guard_pii;
    if (s->r.guard_injection_rules) s->r.guard_injection_rules = s->guard_rules;
    if (s->r.error) s->r.error = s->error;
}

/* Hands the pending slots (all of one org) to the sink, then frees their frames. */
static int flush(slot_t *slots, size_t *n, ig_spool_sink_fn sink, void *ctx, uint64_t *records)
{
    if (*n == 0) return IG_OK;
    ig_logrec_t recs[BATCH];
    for (size_t i = 0; i < *n; i++)
        recs[i] = slots[i].r;
    int rc = sink(ctx, slots[0].org, recs, *n);
    if (rc == IG_OK) *records += *n;
    for (size_t i = 0; i < *n; i++)
        free(slots[i].frame);
    *n = 0;
    return rc;
}

int ig_spool_replay(ig_spool_t *sp, ig_spool_sink_fn sink, void *ctx, uint64_t *records)
{
    const char *active = NULL;
    if (sp->fd >= 0) {
        const char *slash = strrchr(sp->path, '/');
        active = slash ? slash + 1 : sp->path;
    }
    size_t nf = 0;
    char **files = list_files(sp->dir, active, &nf);
    slot_t *slots = calloc(BATCH, sizeof *slots);
    int rc = slots || nf == 0 ? IG_OK : IG_ENOMEM;
    *records = 0;
    for (size_t i = 0; rc == IG_OK && i < nf; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", sp->dir, files[i]);
        FILE *f = fopen(p, "rbe");
        if (!f) continue;
        size_t n = 0;
        uint8_t *frame = NULL;
        size_t flen = 0;
        int fr;
        while (rc == IG_OK && (fr = next_frame(f, &frame, &flen)) == 1) {
            slot_t *s = &slots[n];
            if (!decode(frame, flen, s)) {
                free(frame);
                IG_WARN("spool", "%s: undecodable frame skipped", files[i]);
                continue;
            }
            s->frame = frame;
            if (n > 0 && strcmp(slots[0].org, s->org) != 0) {
                /* another org: flush what came before, then start with this one */
                slot_t *keep = malloc(sizeof *keep);
                if (!keep) {
                    free(frame);
                    rc = IG_ENOMEM;
                    break;
                }
                *keep = *s;
                rc = flush(slots, &n, sink, ctx, records);
                slots[0] = *keep;
                free(keep);
                repoint(&slots[0]);
                n = 1;
            } else if (++n == BATCH) {
                rc = flush(slots, &n, sink, ctx, records);
            }
        }
        if (rc == IG_OK) rc = flush(slots, &n, sink, ctx, records);
        for (size_t k = 0; k < n; k++)
            free(slots[k].frame);
        fclose(f);
        if (rc == IG_OK) {
            if (fr < 0) IG_WARN("spool", "%s ends with a torn frame (a crash while appending)", files[i]);
            unlink(p);
        }
    }
    for (size_t i = 0; i < nf; i++)
        free(files[i]);
    free(files);
    free(slots);
    return rc;
}

/*
 * Unit tests of src/capture/capture.c, the queue and its writer thread, over real orgs in a control database
 * and per-org log databases in a fresh temporary directory: model extraction from request bodies; every
 * submitted record ends in its org's log database; stop drains what is queued; a full queue refuses at once
 * while the writer is held up by a locked log database, and the writer spools after the busy timeout (it does
 * not block forever) and replays once the lock is gone; records of a missing org are counted as orphaned;
 * keys' last use is raised; one record the log store refuses does not hold up the others.
 */
#include "unit.h"
#include "capture/capture.h"
#include "capture/orgctx.h"
#include "core/err.h"
#include "core/log.h"
#include "crypto/orgkey.h"
#include "net/loop.h"
#include "store/logstore.h"
#include "store/store.h"

#include <dirent.h>
#include <ftw.h>
#include <sched.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char g_dir[64], g_url[128], g_logs[128], g_spool[128];
static uint8_t g_kek[32];
static ig_store_t *g_st;

static char *model_of(const char *s)
{
    return ig_capture_model_of(ig_iov_str(s));
}

/* Checks that model_of(body) is `want` (NULL = no model) and frees it. */
static void expect_model(const char *body, const char *want)
{
    char *m = model_of(body);
    if (want) {
        CHECK_EQ_STR(m, want);
    } else if (m) {
        fprintf(stderr, "  body %.60s: unexpected model '%s'\n", body, m);
        CHECK(m == NULL);
    }
    free(m);
}

TEST(model_of_bodies)
{
    expect_model("{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", "gpt-4o");
    expect_model("{\"messages\":[],\"stream\":true,\"model\":\"claude-3-5-sonnet\"}", "claude-3-5-sonnet");
    expect_model("{\"model\":\"gpt\\u002d4\\\"q\"}", "gpt-4\"q"); /* JSON escapes are decoded */
    expect_model("{\"messages\":[]}", NULL);
    expect_model("{\"model\":5}", NULL);
    expect_model("{\"model\":null}", NULL);
    expect_model("{\"model\":[\"gpt-4o\"]}", NULL);
    expect_model("{\"model\":{\"name\":\"gpt-4o\"}}", NULL);
    expect_model("{\"input\":{\"model\":\"nested\"}}", NULL); /* top level only */
    expect_model("{\"Model\":\"gpt-4o\"}", NULL);             /* case-sensitive */
    expect_model("[{\"model\":\"gpt-4o\"}]", NULL);
    expect_model("not json", NULL);
    expect_model("model=gpt-4o", NULL);
    expect_model("", NULL);
    expect_model("{\"model\":\"gpt-4o\"", "gpt-4o");     /* cut after the model: it is complete */
    expect_model("{\"model\":\"gpt-4o", NULL);           /* cut inside the string */
    expect_model("{\"model\":\"gpt-4o\",\"m", "gpt-4o"); /* cut later */
    CHECK(ig_capture_model_of(IG_IOV_NULL) == NULL);

    /* only len bytes are read: the body need not be NUL-terminated */
    const char *body = "{\"model\":\"a\"}GARBAGE";
    char *m = ig_capture_model_of(ig_iov(body, 13));
    CHECK_EQ_STR(m, "a");
    free(m);
    m = ig_capture_model_of(ig_iov(body, 12)); /* cut before the closing brace: the model is complete */
    CHECK_EQ_STR(m, "a");
    free(m);

    /* 256 characters are kept, 257 are refused */
    char name[300], json[400];
    memset(name, 'm', 256);
    name[256] = '\0';
    snprintf(json, sizeof json, "{\"model\":\"%s\"}", name);
    m = model_of(json);
    CHECK(m != NULL && strlen(m) == 256);
    free(m);
    memset(name, 'm', 257);
    name[257] = '\0';
    snprintf(json, sizeof json, "{\"model\":\"%s\"}", name);
    expect_model(json, NULL);
}

/* ---- helpers ---- */

static ig_capture_conf_t conf_of(size_t queue_len)
{
    return (ig_capture_conf_t){.store_url = g_url,
                               .logs_dir = g_logs,
                               .spool_dir = g_spool,
                               .kek = g_kek,
                               .kek_id = 1,
                               .redact_all_orgs = false,
                               .pricing = NULL,
                               .queue_len = queue_len};
}

static int start(size_t queue_len)
{
    ig_capture_conf_t c = conf_of(queue_len);
    return ig_capture_start(&c);
}

static void new_org(const char *slug, char id[33])
{
    ig_org_t *o = calloc(1, sizeof *o);
    id[0] = '\0';
    CHECK(o != NULL);
    if (!o) return;
    CHECK_EQ_INT(ig_store_org_create(g_st, slug, slug, o), IG_OK);
    snprintf(id, 33, "%s", o->id);
    CHECK_EQ_INT(strlen(id), 32);
    free(o);
}

/* A record as the proxy hands it over: everything heap-allocated, owned by the record. */
static ig_capture_rec_t *make_rec(size_t i, const char *org_id, const char *model)
{
    ig_capture_rec_t *r = calloc(1, sizeof *r);
    CHECK(r != NULL);
    if (!r) return NULL;
    snprintf(r->meta.id, sizeof r->meta.id, "%08x-0000-4000-8000-%012zx", (unsigned)getpid(), i);
    snprintf(r->meta.org_id, sizeof r->meta.org_id, "%s", org_id);
    snprintf(r->meta.key_prefix, sizeof r->meta.key_prefix, "0123456789ab");
    snprintf(r->meta.provider, sizeof r->meta.provider, "openai");
    snprintf(r->meta.method, sizeof r->meta.method, "POST");
    r->meta.status = 200;
    r->meta.created_at = ig_wall_ms();
    r->path = strdup("/v1/chat/completions");
    ig_buf_init(&r->req_body, 1 << 20);
    ig_buf_init(&r->resp_body, 1 << 20);
    CHECK_EQ_INT(ig_buf_appendf(&r->req_body,
                                "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"%zu\"}]}",
                                model, i),
                 IG_OK);
    CHECK_EQ_INT(ig_buf_appendf(&r->resp_body, "{\"id\":\"chatcmpl-%zu\"}", i), IG_OK);
    r->meta.req_bytes = (int64_t)r->req_body.len;
    r->meta.resp_bytes = (int64_t)r->resp_body.len;
    r->req_ctype = strdup("application/json");
    r->resp_ctype = strdup("application/json");
    return r;
}

static int64_t count_of(const char *org)
{
    int err = 0;
    int64_t n = -1;
    ig_logstore_t *ls = ig_logstore_open(g_logs, org, &err);
    CHECK(ls != NULL);
    if (ls) CHECK_EQ_INT(ig_logstore_count(ls, &n), IG_OK);
    ig_logstore_close(ls);
    return n;
}

/* The stored model and the decrypted request body of record id. */
static bool stored(const char *org, const char *id, char *model, size_t mcap, char *body, size_t bcap)
{
    int err = 0;
    bool ok = false;
    ig_logstore_t *ls = ig_logstore_open(g_logs, org, &err);
    ig_logrow_t row;
    uint8_t *w = NULL, dk[32];
    size_t wlen = 0;
    if (ls && ig_logstore_get(ls, id, &row) == IG_OK) {
        snprintf(model, mcap, "%s", row.r.model ? row.r.model : "(null)");
        ig_buf_t pt;
        ig_buf_init(&pt, 1 << 20);
        if (ig_store_org_data_key_get(g_st, org, &w, &wlen) == IG_OK && w &&
            ig_orgkey_unwrap(g_kek, org, ig_iov((const char *)w, wlen), dk) == IG_OK &&
            ig_field_open(dk, org, id, "req_body", ig_iov((const char *)row.r.req_body, row.r.req_body_len),
                          &pt) == IG_OK) {
            snprintf(body, bcap, "%.*s", (int)pt.len, pt.data);
            ok = true;
        }
        ig_buf_free(&pt, true);
        ig_logrow_free(&row);
    }
    free(w);
    ig_logstore_close(ls);
    return ok;
}

static int spool_files(void)
{
    DIR *d = opendir(g_spool);
    int n = 0;
    if (!d) return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strncmp(e->d_name, "spool-", 6) == 0;
    closedir(d);
    return n;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

#define STAT(name) atomic_load(&ig_capture_stats.name)

/* ---- tests ---- */

TEST(writer_persists_every_record)
{
    char odd[33], even[33];
    new_org("org-odd", odd);
    new_org("org-even", even);
    unsigned long long written0 = STAT(written), submitted0 = STAT(submitted), dropped0 = STAT(dropped);
    CHECK_EQ_INT(start(4096), IG_OK);
    char first_id[37] = "", last_id[37] = "";
    size_t accepted = 0;
    for (size_t i = 0; i < 1000; i++) {
        ig_capture_rec_t *r = make_rec(i, i % 2 ? odd : even, i % 2 ? "gpt-4o-mini" : "claude-3-haiku");
        if (!r) continue;
        if (i == 0) snprintf(first_id, sizeof first_id, "%s", r->meta.id);
        if (i == 999) snprintf(last_id, sizeof last_id, "%s", r->meta.id);
        accepted += ig_capture_submit(r);
        if (i % 100 == 0) sched_yield();
    }
    CHECK_EQ_INT(accepted, 1000);
    ig_capture_stop();

    CHECK_EQ_INT(STAT(written) - written0, 1000);
    CHECK_EQ_INT(STAT(submitted) - submitted0, 1000);
    CHECK_EQ_INT(STAT(dropped) - dropped0, 0);
    CHECK_EQ_INT(count_of(even), 500);
    CHECK_EQ_INT(count_of(odd), 500);
    CHECK_EQ_INT(STAT(queue_depth), 0);

    /* the writer derived the model from each request body; the body is stored sealed */
    char model[300], body[300];
    CHECK(stored(even, first_id, model, sizeof model, body, sizeof body));
    CHECK_EQ_STR(model, "claude-3-haiku");
    CHECK_EQ_STR(body, "{\"model\":\"claude-3-haiku\",\"messages\":[{\"role\":\"user\",\"content\":\"0\"}]}");
    CHECK(stored(odd, last_id, model, sizeof model, body, sizeof body));
    CHECK_EQ_STR(model, "gpt-4o-mini");
    CHECK_EQ_STR(body, "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"999\"}]}");
    /* no record of one org in the other's file */
    CHECK(!stored(odd, first_id, model, sizeof model, body, sizeof body));

    /* after stop: refused, counted as dropped, the record freed (ASan/LSan would see a leak) */
    ig_capture_rec_t *late = make_rec(5000, even, "late");
    CHECK(!ig_capture_submit(late));
    CHECK_EQ_INT(STAT(dropped) - dropped0, 1);
    CHECK_EQ_INT(STAT(submitted) - submitted0, 1001);
    CHECK_EQ_INT(count_of(even), 500);
    ig_capture_stop(); /* a second stop is harmless */
}

/* What SIGTERM does: stop right after a burst; everything still queued is written before the writer exits. */
TEST(stop_drains_queue)
{
    char org[33];
    new_org("org-drain", org);
    unsigned long long written0 = STAT(written), dropped0 = STAT(dropped);
    CHECK_EQ_INT(start(100000), IG_OK);
    size_t accepted = 0;
    for (size_t i = 0; i < 5000; i++)
        accepted += ig_capture_submit(make_rec(10000 + i, org, "gpt-4o"));
    ig_capture_stop();
    CHECK_EQ_INT(accepted, 5000);
    CHECK_EQ_INT(STAT(written) - written0, 5000);
    CHECK_EQ_INT(STAT(dropped) - dropped0, 0);
    CHECK_EQ_INT(STAT(queue_depth), 0);
    CHECK_EQ_INT(count_of(org), 5000);
}

/* Queue of 16 while the writer is held up by an org's log database another connection holds the write lock
 * of: the 17th waiting record is refused at once. The writer spools after the busy timeout instead of
 * blocking forever, and once the lock is gone every accepted record is in the store (the spooled one through
 * the idle writer's replay). */
TEST(full_queue_refuses_without_waiting)
{
    char org[33];
    new_org("org-q", org);
    unsigned long long written0 = STAT(written), dropped0 = STAT(dropped), spooled0 = STAT(spooled),
                       replayed0 = STAT(replayed), submitted0 = STAT(submitted);
    CHECK_EQ_INT(start(16), IG_OK);
    /* a first record creates the org's database and the writer's handle on it */
    CHECK(ig_capture_submit(make_rec(20000, org, "m")));
    for (int i = 0; i < 500 && STAT(written) == written0; i++)
        sleep_ms(10);
    CHECK_EQ_INT(STAT(written) - written0, 1);

    char path[256];
    sqlite3 *db = NULL;
    snprintf(path, sizeof path, "%s/%s.db", g_logs, org);
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    uint64_t locked_at = now_ms();

    /* the writer takes this one and waits in the busy handler */
    CHECK(ig_capture_submit(make_rec(20001, org, "m")));
    sleep_ms(300);
    uint64_t t0 = now_ms();
    size_t accepted = 0, refused = 0;
    for (size_t i = 0; i < 17; i++) {
        if (ig_capture_submit(make_rec(20002 + i, org, "m")))
            accepted++;
        else
            refused++;
    }
    uint64_t took = now_ms() - t0;
    CHECK_EQ_INT(accepted, 16);
    CHECK_EQ_INT(refused, 1);
    CHECK(took < 1000); /* never waits on the store (whose busy timeout is seconds) */
    CHECK_EQ_INT(STAT(dropped) - dropped0, 1);

    /* the writer gives up on the locked database after its busy timeout and spools */
    for (int i = 0; i < 1500 && STAT(spooled) == spooled0; i++)
        sleep_ms(10);
    uint64_t spooled_after = now_ms() - locked_at;
    CHECK(STAT(spooled) - spooled0 >= 1);
    CHECK(spooled_after >= 4000 && spooled_after < 15000);
    CHECK_EQ_INT(STAT(written) - written0, 1);

    CHECK_EQ_INT(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    /* the queued records go in, and the idle writer replays the spool (about once a second) */
    for (int i = 0; i < 1500 && (STAT(replayed) - replayed0 < STAT(spooled) - spooled0 || spool_files() != 0);
         i++)
        sleep_ms(10);
    CHECK_EQ_INT(STAT(replayed) - replayed0, STAT(spooled) - spooled0);
    CHECK_EQ_INT(spool_files(), 0);
    CHECK_EQ_INT(count_of(org), 18);
    ig_capture_stop();
    CHECK_EQ_INT((STAT(written) - written0) + (STAT(replayed) - replayed0), 18);
    CHECK_EQ_INT(STAT(submitted) - submitted0, 19);
    CHECK_EQ_INT(count_of(org), 18);
}

/* A record for an org that does not exist (never did, or was deleted meanwhile) is discarded and counted. */
TEST(orphans_counted)
{
    char org[33], keep[33];
    new_org("org-doomed", org);
    new_org("org-kept", keep);
    CHECK_EQ_INT(ig_store_org_delete(g_st, org), IG_OK);
    ig_orgctx_bump();
    unsigned long long orphaned0 = STAT(orphaned), written0 = STAT(written), spooled0 = STAT(spooled),
                       dropped0 = STAT(dropped);
    CHECK_EQ_INT(start(64), IG_OK);
    CHECK(ig_capture_submit(make_rec(30000, org, "m")));
    CHECK(ig_capture_submit(make_rec(30001, "0000000000000000000000000000dead", "m")));
    CHECK(ig_capture_submit(make_rec(30002, keep, "m")));
    ig_capture_stop();
    CHECK_EQ_INT(STAT(orphaned) - orphaned0, 2);
    CHECK_EQ_INT(STAT(written) - written0, 1);
    CHECK_EQ_INT(STAT(spooled) - spooled0, 0);
    CHECK_EQ_INT(STAT(dropped) - dropped0, 0);
    CHECK_EQ_INT(count_of(keep), 1);
    char path[256];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s.db", g_logs, org);
    CHECK(stat(path, &sb) != 0); /* nothing created for it */
    CHECK_EQ_INT(spool_files(), 0);
}

TEST(key_last_used_raised)
{
    char org[33];
    new_org("org-keys", org);
    uint8_t hash[32];
    for (int i = 0; i < 32; i++)
        hash[i] = (uint8_t)(0xa5 ^ (i * 3));
    ig_keyrec_t key, other;
    CHECK_EQ_INT(ig_store_key_create(g_st, org, hash, "igk_cap1", "k", IG_STORE_ROLE_MEMBER, 0, &key), IG_OK);
    hash[0] ^= 0xff;
    CHECK_EQ_INT(ig_store_key_create(g_st, org, hash, "igk_cap2", "k2", IG_STORE_ROLE_MEMBER, 0, &other),
                 IG_OK);
    int64_t t = ig_wall_ms();
    CHECK_EQ_INT(start(64), IG_OK);
    int64_t at[3] = {t - 3000, t - 1000, t - 2000};
    for (int i = 0; i < 3; i++) {
        ig_capture_rec_t *r = make_rec(40000 + (size_t)i, org, "m");
        if (!r) continue;
        memcpy(r->meta.key_id, key.id, sizeof key.id);
        r->meta.created_at = at[i];
        CHECK(ig_capture_submit(r));
    }
    ig_capture_stop();
    ig_keyrec_t got;
    CHECK_EQ_INT(ig_store_key_get(g_st, org, key.id, &got), IG_OK);
    CHECK_EQ_INT(got.last_used_at, t - 1000);
    CHECK_EQ_INT(ig_store_key_get(g_st, org, other.id, &got), IG_OK);
    CHECK_EQ_INT(got.last_used_at, 0); /* untouched */
    CHECK_EQ_INT(count_of(org), 3);
}

/* One record the log store refuses — a model name of 200 bytes, which ig_capture_model_of accepts (up to
 * 256) but the log store does not (IG_LOGSTORE_MAX_MODEL = 128) — must not take the valid records queued with
 * it down: they reach the store, and every record is accounted for. */
TEST(invalid_record_does_not_sink_its_batch)
{
    char org[33];
    new_org("org-inv", org);
    unsigned long long written0 = STAT(written), dropped0 = STAT(dropped), spooled0 = STAT(spooled);
    char long_model[201];
    memset(long_model, 'm', 200);
    long_model[200] = '\0';
    CHECK_EQ_INT(start(64), IG_OK);
    for (size_t i = 0; i < 10; i++)
        CHECK(ig_capture_submit(make_rec(50000 + i, org, i == 5 ? long_model : "gpt-4o")));
    /* give the writer its first batch and a couple of idle replays */
    for (int i = 0; i < 300 && count_of(org) < 9; i++)
        sleep_ms(10);
    ig_capture_stop();
    unsigned long long written = STAT(written) - written0, dropped = STAT(dropped) - dropped0,
                       spooled = STAT(spooled) - spooled0;
    CHECK_EQ_INT(written + dropped + spooled, 10);
    CHECK(count_of(org) >= 9);
    CHECK(written >= 9);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

int main(void)
{
    ig_log_set_level(IG_LOG_ERROR);
    snprintf(g_dir, sizeof g_dir, "/tmp/ingate-test-capture-XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(g_url, sizeof g_url, "sqlite:%s/control.db", g_dir);
    snprintf(g_logs, sizeof g_logs, "%s/orgs", g_dir);
    snprintf(g_spool, sizeof g_spool, "%s/spool", g_dir);
    for (int i = 0; i < 32; i++)
        g_kek[i] = (uint8_t)(0x3c + 11 * i);
    int err = 0;
    g_st = ig_store_open(g_url, &err);
    if (!g_st || ig_store_migrate(g_st) != IG_OK) {
        fprintf(stderr, "cannot open the control store\n");
        return 1;
    }
    RUN(model_of_bodies);
    RUN(writer_persists_every_record);
    RUN(stop_drains_queue);
    RUN(full_queue_refuses_without_waiting);
    RUN(orphans_counted);
    RUN(key_last_used_raised);
    RUN(invalid_record_does_not_sink_its_batch);
    ig_store_close(g_st);
    if (nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) fprintf(stderr, "cannot remove %s\n", g_dir);
    UNIT_DONE();
}

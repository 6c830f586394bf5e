/* Unit tests of src/capture/capture.c: model extraction from request bodies, the writer thread persisting
 * every submitted record into a real SQLite store, a full queue refusing (never waiting) while the writer is
 * blocked on a locked database, and submit after stop. */
#include "unit.h"
#include "capture/capture.h"
#include "core/err.h"
#include "core/log.h"
#include "net/loop.h"
#include "store/store.h"

#include <sched.h>
#include <sqlite3.h>
#include <time.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[64];

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
    expect_model("{\"model\":\"gpt-4o\"", NULL);     /* truncated */
    expect_model("{\"model\":\"gpt-4o", NULL);       /* truncated in the string */
    expect_model("{\"model\":\"gpt-4o\",\"m", NULL); /* truncated later */
    CHECK(ig_capture_model_of(IG_IOV_NULL) == NULL);

    /* only len bytes are read: the body need not be NUL-terminated */
    const char *body = "{\"model\":\"a\"}GARBAGE";
    char *m = ig_capture_model_of(ig_iov(body, 13));
    CHECK_EQ_STR(m, "a");
    free(m);
    m = ig_capture_model_of(ig_iov(body, 12)); /* cut before the closing brace */
    CHECK(m == NULL);
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

/* A record as the proxy hands it over: everything heap-allocated, owned by the record. */
static ig_capture_rec_t *make_rec(size_t i, const char *org_id, const char *model)
{
    ig_capture_rec_t *r = calloc(1, sizeof *r);
    CHECK(r != NULL);
    if (!r) return NULL;
    snprintf(r->meta.id, sizeof r->meta.id, "%08zx-0000-4000-8000-%012zx", (size_t)getpid(), i);
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
    return r;
}

static ig_store_t *open_store(const char *url)
{
    int err = 0;
    ig_store_t *st = ig_store_open(url, &err);
    CHECK(st != NULL);
    if (st) CHECK_EQ_INT(ig_store_migrate(st), IG_OK);
    return st;
}

/* Call records are stored only for an org that exists: adds one with a fixed id straight in SQLite. */
static void seed_org(const char *path, const char *org_id)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    CHECK_EQ_INT(sqlite3_prepare_v2(db,
                                    "INSERT INTO orgs (id, slug, name, created_at) VALUES (?1, ?1, ?1, 1)"
                                    " ON CONFLICT DO NOTHING",
                                    -1, &q, NULL),
                 SQLITE_OK);
    sqlite3_bind_text(q, 1, org_id, -1, SQLITE_STATIC);
    CHECK_EQ_INT(sqlite3_step(q), SQLITE_DONE);
    sqlite3_finalize(q);
    sqlite3_close(db);
}

static int64_t count_calls(const char *url, const char *org_id)
{
    ig_store_t *st = open_store(url);
    int64_t n = -1;
    if (st) CHECK_EQ_INT(ig_store_calls_count(st, org_id, &n), IG_OK);
    ig_store_close(st);
    return n;
}

/* The model column of call `id`, straight from SQLite. */
static bool stored_model(const char *path, const char *id, char *out, size_t cap)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    bool found = false;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT model, path FROM calls WHERE id = ?", -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW) {
            const unsigned char *m = sqlite3_column_text(q, 0);
            const unsigned char *p = sqlite3_column_text(q, 1);
            snprintf(out, cap, "%s %s", m ? (const char *)m : "(null)", p ? (const char *)p : "(null)");
            found = true;
        }
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    return found;
}

TEST(writer_persists_every_record)
{
    char path[128], url[160];
    snprintf(path, sizeof path, "%s/calls.db", g_dir);
    snprintf(url, sizeof url, "sqlite:%s", path);
    ig_store_close(open_store(url)); /* migrated before the writer starts */
    seed_org(path, "org-odd");
    seed_org(path, "org-even");

    unsigned long long written0 = atomic_load(&ig_capture_stats.written);
    unsigned long long submitted0 = atomic_load(&ig_capture_stats.submitted);
    unsigned long long dropped0 = atomic_load(&ig_capture_stats.dropped);
    CHECK_EQ_INT(ig_capture_start(url, 4096), IG_OK);
    char first_id[37] = "", last_id[37] = "";
    size_t accepted = 0;
    for (size_t i = 0; i < 1000; i++) {
        const char *org = i % 2 ? "org-odd" : "org-even";
        ig_capture_rec_t *r = make_rec(i, org, i % 2 ? "gpt-4o-mini" : "claude-3-haiku");
        if (!r) continue;
        if (i == 0) snprintf(first_id, sizeof first_id, "%s", r->meta.id);
        if (i == 999) snprintf(last_id, sizeof last_id, "%s", r->meta.id);
        accepted += ig_capture_submit(r);
        if (i % 100 == 0) sched_yield();
    }
    CHECK_EQ_INT(accepted, 1000);
    ig_capture_stop();

    CHECK_EQ_INT(atomic_load(&ig_capture_stats.written) - written0, 1000);
    CHECK_EQ_INT(atomic_load(&ig_capture_stats.submitted) - submitted0, 1000);
    CHECK_EQ_INT(atomic_load(&ig_capture_stats.dropped) - dropped0, 0);
    CHECK_EQ_INT(count_calls(url, NULL), 1000);
    CHECK_EQ_INT(count_calls(url, "org-even"), 500);
    CHECK_EQ_INT(count_calls(url, "org-odd"), 500);

    /* the writer derived the model from each request body */
    char got[128];
    CHECK(stored_model(path, first_id, got, sizeof got));
    CHECK_EQ_STR(got, "claude-3-haiku /v1/chat/completions");
    CHECK(stored_model(path, last_id, got, sizeof got));
    CHECK_EQ_STR(got, "gpt-4o-mini /v1/chat/completions");

    /* after stop: refused, counted as dropped, the record freed (ASan/LSan would see a leak) */
    ig_capture_rec_t *late = make_rec(5000, "org-even", "late");
    CHECK(!ig_capture_submit(late));
    CHECK_EQ_INT(atomic_load(&ig_capture_stats.dropped) - dropped0, 1);
    CHECK_EQ_INT(atomic_load(&ig_capture_stats.submitted) - submitted0, 1001);
    CHECK_EQ_INT(count_calls(url, NULL), 1000);
    ig_capture_stop(); /* a second stop is harmless */
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

/* Queue of 16 while the writer is stuck on a database another connection holds the write lock of: the
 * 17th waiting record is refused at once, and everything accepted is written once the lock goes away. */
TEST(full_queue_refuses_without_waiting)
{
    char path[128], url[160];
    snprintf(path, sizeof path, "%s/blocked.db", g_dir);
    snprintf(url, sizeof url, "sqlite:%s", path);
    ig_store_close(open_store(url));
    seed_org(path, "org-q");

    unsigned long long written0 = atomic_load(&ig_capture_stats.written);
    unsigned long long dropped0 = atomic_load(&ig_capture_stats.dropped);
    CHECK_EQ_INT(ig_capture_start(url, 16), IG_OK);
    /* a first record makes the writer open its store handle */
    CHECK(ig_capture_submit(make_rec(0, "org-q", "m")));
    for (int i = 0; i < 500 && atomic_load(&ig_capture_stats.written) == written0; i++)
        sleep_ms(10);
    CHECK_EQ_INT(atomic_load(&ig_capture_stats.written) - written0, 1);

    /* take the write lock from another connection */
    sqlite3 *db = NULL;
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);

    /* the writer takes this one and blocks in the busy handler */
    CHECK(ig_capture_submit(make_rec(1, "org-q", "m")));
    sleep_ms(300);
    uint64_t t0 = now_ms();
    size_t accepted = 0, refused = 0;
    for (size_t i = 2; i < 2 + 17; i++) {
        if (ig_capture_submit(make_rec(i, "org-q", "m")))
            accepted++;
        else
            refused++;
    }
    uint64_t took = now_ms() - t0;
    CHECK_EQ_INT(accepted, 16);
    CHECK_EQ_INT(refused, 1);
    CHECK(took < 1000); /* never waits on the store (whose busy timeout is seconds) */
    CHECK_EQ_INT(atomic_load(&ig_capture_stats.dropped) - dropped0, 1);

    CHECK_EQ_INT(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    ig_capture_stop();
    CHECK_EQ_INT(atomic_load(&ig_capture_stats.written) - written0, 18);
    CHECK_EQ_INT(count_calls(url, "org-q"), 18);
}

/* One record the store refuses (empty id) must not take the valid records queued with it down, and every
 * record must be accounted for as written or dropped ("records are never dropped once queued"). */
TEST(invalid_record_does_not_sink_its_batch)
{
    char path[128], url[160];
    snprintf(path, sizeof path, "%s/invalid.db", g_dir);
    snprintf(url, sizeof url, "sqlite:%s", path);
    ig_store_close(open_store(url));
    seed_org(path, "org-inv");

    unsigned long long written0 = atomic_load(&ig_capture_stats.written);
    unsigned long long dropped0 = atomic_load(&ig_capture_stats.dropped);
    CHECK_EQ_INT(ig_capture_start(url, 64), IG_OK);
    for (size_t i = 0; i < 10; i++) {
        ig_capture_rec_t *r = make_rec(100 + i, "org-inv", "m");
        if (r && i == 5) r->meta.id[0] = '\0'; /* the store refuses this one (IG_EINVAL) */
        CHECK(ig_capture_submit(r));
    }
    ig_capture_stop();
    unsigned long long written = atomic_load(&ig_capture_stats.written) - written0;
    unsigned long long dropped = atomic_load(&ig_capture_stats.dropped) - dropped0;
    CHECK_EQ_INT(written + dropped, 10);
    CHECK_EQ_INT(count_calls(url, "org-inv"), 9);
    CHECK_EQ_INT(written, 9);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

/* Removes the temporary tree. */
static void rm_dir(void)
{
    if (nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) fprintf(stderr, "cannot remove %s\n", g_dir);
}

int main(void)
{
    ig_log_set_level(IG_LOG_ERROR);
    snprintf(g_dir, sizeof g_dir, "/tmp/ingate-test-capture-XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(model_of_bodies);
    RUN(writer_persists_every_record);
    RUN(full_queue_refuses_without_waiting);
    RUN(invalid_record_does_not_sink_its_batch);
    rm_dir();
    UNIT_DONE();
}

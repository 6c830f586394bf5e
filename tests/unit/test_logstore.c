/* Unit tests of the per-org log store (store/logstore.h) on files in a fresh temporary directory: round
 * trips, replay idempotence, filters, cursor paging, scans, retention, usage aggregates (exact values, the
 * histogram's accuracy bound), file isolation and permissions, concurrent handles. The last test prints (does
 * not assert) the insert throughput for the lead to quote. */
#include "unit.h"
#include "core/err.h"
#include "store/logstore.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define HOUR_MS (3600 * 1000LL)
#define DAY_MS  (24 * HOUR_MS)
#define T0      1700000000000LL
/* 472222 hours since the epoch: 2023-11-14 22:00 UTC, so H0 and H1 fall on the same UTC day. */
#define H0 (472222LL * HOUR_MS)
#define H1 (H0 + HOUR_MS)

#define ORG_A "0123456789abcdef0123456789abcdef"
#define ORG_B "fedcba9876543210fedcba9876543210"

static char g_dir[64];

static const char *sub(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", g_dir, name);
    return out;
}

static ig_logstore_t *open_ls(const char *name, const char *org)
{
    char dir[128];
    int err = -1;
    ig_logstore_t *ls = ig_logstore_open(sub(dir, sizeof dir, name), org, &err);
    CHECK(ls != NULL);
    CHECK_EQ_INT(err, IG_OK);
    return ls;
}

static const char *db_file(char *out, size_t cap, const char *name, const char *org, const char *suffix)
{
    snprintf(out, cap, "%s/%s/%s.db%s", g_dir, name, org, suffix);
    return out;
}

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static unsigned mode_of(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (unsigned)(sb.st_mode & 0777) : 01000;
}

/* A SELECT on the org's file through a separate raw connection: one integer, or -1. */
static int64_t raw_int(const char *name, const char *org, const char *sql)
{
    char path[256];
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    int64_t v = -1;
    if (sqlite3_open(db_file(path, sizeof path, name, org, ""), &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return v;
}

static void raw_text(const char *name, const char *org, const char *sql, char *out, size_t cap)
{
    char path[256];
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    out[0] = '\0';
    if (sqlite3_open(db_file(path, sizeof path, name, org, ""), &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        snprintf(out, cap, "%s", (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    sqlite3_close(db);
}

static int raw_exec(const char *name, const char *org, const char *sql)
{
    char path[256];
    sqlite3 *db = NULL;
    int src = sqlite3_open(db_file(path, sizeof path, name, org, ""), &db);
    if (src == SQLITE_OK) src = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return src;
}

/* A minimal valid record: id "req-<i>", GET /v1/models, 200, everything optional absent. */
static void base_rec(ig_logrec_t *r, int i, int64_t at)
{
    memset(r, 0, sizeof *r);
    snprintf(r->id, sizeof r->id, "req-%05d", i);
    snprintf(r->method, sizeof r->method, "GET");
    r->path = "/v1/models";
    r->status = 200;
    r->latency_ms = 10;
    r->ttfb_ms = 5;
    r->input_tokens = r->output_tokens = r->cached_tokens = r->cost_micros = -1;
    r->created_at = at;
}

static int64_t count_of(ig_logstore_t *ls)
{
    int64_t n = -1;
    CHECK_EQ_INT(ig_logstore_count(ls, &n), IG_OK);
    return n;
}

/* The number in an id made by base_rec ("req-00042" -> 42). */
static int id_num(const char *id)
{
    return (int)strtol(id + 4, NULL, 10);
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + i * 31);
}

static bool near(double a, double b)
{
    return fabs(a - b) <= 1e-9 * fmax(1, fabs(b));
}
#define CHECK_NEAR(a, b)                                                                                     \
    do {                                                                                                     \
        double _x = (a), _y = (b);                                                                           \
        if (!near(_x, _y)) {                                                                                 \
            unit_failed_checks++;                                                                            \
            fprintf(stderr, "  check failed %s:%d: %s ~= %s (%.12g != %.12g)\n", __FILE__, __LINE__, #a, #b, \
                    _x, _y);                                                                                 \
        }                                                                                                    \
    } while (0)

/* ---- open, permissions, schema ---- */

TEST(open_creates_private_files)
{
    char path[256], dir[128], text[32];
    int err = 0;

    /* the directory does not exist yet: created 0700 (the test runs with umask 022) */
    ig_logstore_t *ls = open_ls("perm", ORG_A);
    CHECK_EQ_INT(mode_of(sub(dir, sizeof dir, "perm")), 0700);
    CHECK_EQ_INT(mode_of(db_file(path, sizeof path, "perm", ORG_A, "")), 0600);
    ig_logrec_t r;
    base_rec(&r, 1, T0);
    CHECK_EQ_INT(ig_logstore_insert(ls, &r, 1), IG_OK);
    CHECK_EQ_INT(mode_of(db_file(path, sizeof path, "perm", ORG_A, "-wal")), 0600);
    CHECK_EQ_INT(mode_of(db_file(path, sizeof path, "perm", ORG_A, "-shm")), 0600);
    raw_text("perm", ORG_A, "PRAGMA journal_mode", text, sizeof text);
    CHECK_EQ_STR(text, "wal");
    CHECK_EQ_INT(raw_int("perm", ORG_A, "PRAGMA auto_vacuum"), 2);  /* incremental */
    CHECK_EQ_INT(raw_int("perm", ORG_A, "PRAGMA page_size"), 8192); /* rows of a few KB: see logstore.c */
    CHECK_EQ_INT(raw_int("perm", ORG_A, "SELECT MAX(version) FROM schema_migrations"),
                 IG_LOGSTORE_SCHEMA_VERSION);
    CHECK_EQ_INT(raw_int("perm", ORG_A,
                         "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index'"
                         " AND name LIKE 'logs_%'"),
                 7);
    ig_logstore_close(ls);

    /* reopening keeps the data and does not migrate again */
    ls = open_ls("perm", ORG_A);
    CHECK_EQ_INT(count_of(ls), 1);
    ig_logstore_close(ls);
    CHECK_EQ_INT(raw_int("perm", ORG_A, "SELECT COUNT(*) FROM schema_migrations"),
                 IG_LOGSTORE_SCHEMA_VERSION);

    /* loose modes on an existing directory and file are tightened */
    CHECK_EQ_INT(chmod(sub(dir, sizeof dir, "perm"), 0755), 0);
    CHECK_EQ_INT(chmod(db_file(path, sizeof path, "perm", ORG_A, ""), 0644), 0);
    ls = open_ls("perm", ORG_A);
    CHECK_EQ_INT(mode_of(dir), 0700);
    CHECK_EQ_INT(mode_of(path), 0600);
    ig_logstore_close(ls);

    /* malformed org ids never reach the file system */
    static const char *const bad[] = {"",
                                      "0123456789ABCDEF0123456789abcdef",
                                      "0123456789abcdef0123456789abcde",
                                      "0123456789abcdef0123456789abcdef0",
                                      "../../../../etc/passwd0123456789",
                                      "0123456789abcdef0123456789abcdeg"};
    for (size_t i = 0; i < IG_ARRAY_LEN(bad); i++) {
        err = 0;
        CHECK(ig_logstore_open(dir, bad[i], &err) == NULL);
        CHECK_EQ_INT(err, IG_EINVAL);
        CHECK_EQ_INT(ig_logstore_destroy(dir, bad[i]), IG_EINVAL);
    }
    CHECK(ig_logstore_open(dir, NULL, &err) == NULL);
    CHECK_EQ_INT(err, IG_EINVAL);
    CHECK(ig_logstore_open(NULL, ORG_A, &err) == NULL);
    CHECK_EQ_INT(err, IG_EINVAL);
    CHECK(ig_logstore_open("", ORG_A, NULL) == NULL);

    /* the directory path is a file */
    FILE *f = fopen(sub(path, sizeof path, "notadir"), "w");
    CHECK(f != NULL);
    if (f) fclose(f);
    CHECK(ig_logstore_open(path, ORG_A, &err) == NULL);
    CHECK_EQ_INT(err, IG_ESTORE);

    /* a database from a newer binary is refused, untouched */
    CHECK_EQ_INT(raw_exec("perm", ORG_A, "INSERT INTO schema_migrations VALUES (99, 0)"), SQLITE_OK);
    CHECK(ig_logstore_open(dir, ORG_A, &err) == NULL);
    CHECK_EQ_INT(err, IG_ESTORE);
    CHECK_EQ_INT(raw_int("perm", ORG_A, "SELECT COUNT(*) FROM logs"), 1);

    ig_logstore_close(NULL);
    ig_logrow_free(NULL);
}

/* ---- round trip ---- */

static void check_same(const ig_logrow_t *row, const ig_logrec_t *w)
{
    const ig_logrec_t *r = &row->r;
    CHECK_EQ_STR(r->id, w->id);
    CHECK_EQ_STR(r->key_id, w->key_id);
    CHECK_EQ_STR(r->key_prefix, w->key_prefix);
    CHECK_EQ_STR(r->provider, w->provider);
    CHECK_EQ_STR(r->method, w->method);
    CHECK_EQ_STR(r->path, w->path);
    CHECK(r->path == row->path_buf);
    if (w->model) {
        CHECK_EQ_STR(r->model, w->model);
        CHECK(r->model == row->model_buf);
    } else {
        CHECK(r->model == NULL);
    }
    if (w->error)
        CHECK_EQ_STR(r->error, w->error);
    else
        CHECK(r->error == NULL);
    CHECK_EQ_INT(r->status, w->status);
    CHECK_EQ_INT(r->stream, w->stream);
    CHECK(r->latency_ms == w->latency_ms);
    CHECK(r->ttfb_ms == w->ttfb_ms);
    CHECK_EQ_INT(r->input_tokens, w->input_tokens);
    CHECK_EQ_INT(r->output_tokens, w->output_tokens);
    CHECK_EQ_INT(r->cached_tokens, w->cached_tokens);
    CHECK_EQ_INT(r->cost_micros, w->cost_micros);
    CHECK_EQ_INT(r->req_bytes, w->req_bytes);
    CHECK_EQ_INT(r->resp_bytes, w->resp_bytes);
    CHECK_EQ_INT(r->req_truncated, w->req_truncated);
    CHECK_EQ_INT(r->resp_truncated, w->resp_truncated);
    CHECK_EQ_INT(r->cache_hit, w->cache_hit);
    CHECK_EQ_INT(r->created_at, w->created_at);
    CHECK_EQ_INT(r->has_user_tag, w->has_user_tag);
    if (w->has_user_tag) CHECK_MEM(r->user_tag, w->user_tag, 16);
    CHECK_EQ_INT(r->has_session_tag, w->has_session_tag);
    if (w->has_session_tag) CHECK_MEM(r->session_tag, w->session_tag, 16);
    struct {
        const uint8_t *got, *want;
        size_t got_len, want_len;
    } b[] = {{r->req_body, w->req_body, r->req_body_len, w->req_body_len},
             {r->resp_body, w->resp_body, r->resp_body_len, w->resp_body_len},
             {r->user_id, w->user_id, r->user_id_len, w->user_id_len},
             {r->session_id, w->session_id, r->session_id_len, w->session_id_len},
             {r->client_ip, w->client_ip, r->client_ip_len, w->client_ip_len}};
    for (size_t i = 0; i < IG_ARRAY_LEN(b); i++) {
        if (b[i].want && b[i].want_len) {
            CHECK_EQ_INT(b[i].got_len, b[i].want_len);
            CHECK(b[i].got != NULL && b[i].got != b[i].want);
            if (b[i].got && b[i].got_len == b[i].want_len) CHECK_MEM(b[i].got, b[i].want, b[i].want_len);
        } else {
            CHECK(b[i].got == NULL);
            CHECK_EQ_INT(b[i].got_len, 0);
        }
    }
}

TEST(existing_file_keeps_its_page_size)
{
    /* a log database made before 8 KiB pages (4 KiB, WAL, the v1 schema) is used as it is: a WAL database's
     * page size cannot change, and nothing here needs it to */
    char path[256], dir[128];
    sqlite3 *db = NULL;
    mkdir(sub(dir, sizeof dir, "oldpage"), 0700);
    CHECK_EQ_INT(sqlite3_open(db_file(path, sizeof path, "oldpage", ORG_A, ""), &db), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(db,
                              "PRAGMA page_size = 4096; PRAGMA auto_vacuum = INCREMENTAL;"
                              " PRAGMA journal_mode = WAL;",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(db);
    ig_logstore_t *ls = open_ls("oldpage", ORG_A);
    static uint8_t body[3000];
    ig_logrec_t recs[20];
    ig_logrow_t row;
    size_t deleted;
    fill(body, sizeof body, 3);
    for (int i = 0; i < 20; i++) {
        base_rec(&recs[i], i, T0 + i);
        recs[i].req_body = body;
        recs[i].req_body_len = sizeof body;
    }
    CHECK_EQ_INT(ig_logstore_insert(ls, recs, 20), IG_OK);
    CHECK_EQ_INT(ig_logstore_get(ls, "req-00007", &row), IG_OK);
    CHECK_EQ_INT(row.r.req_body_len, sizeof body);
    if (row.r.req_body) CHECK_MEM(row.r.req_body, body, sizeof body);
    ig_logrow_free(&row);
    CHECK_EQ_INT(ig_logstore_purge(ls, T0 + 10, 100, &deleted), IG_OK);
    CHECK_EQ_INT(deleted, 10);
    CHECK_EQ_INT(count_of(ls), 10);
    ig_logstore_close(ls);
    CHECK_EQ_INT(raw_int("oldpage", ORG_A, "PRAGMA page_size"), 4096);
}

TEST(insert_get_round_trip)
{
    ig_logstore_t *ls = open_ls("rt", ORG_A);
    static uint8_t req[5000], resp[70000], uid[44], sid[60], ip[29];
    static char long_path[IG_LOGSTORE_MAX_PATH + 1], long_model[IG_LOGSTORE_MAX_MODEL + 1],
        long_error[IG_LOGSTORE_MAX_ERROR + 1];
    ig_logrec_t w[4];
    ig_logrow_t row;

    fill(req, sizeof req, 1);
    fill(resp, sizeof resp, 2);
    fill(uid, sizeof uid, 3);
    fill(sid, sizeof sid, 4);
    fill(ip, sizeof ip, 5);
    req[10] = 0; /* binary, with NUL bytes */

    /* every field set */
    base_rec(&w[0], 0, T0 + 123);
    snprintf(w[0].id, sizeof w[0].id, "3f0c9a52-6d1e-4b8a-9c3f-0e1d2c3b4a59");
    snprintf(w[0].key_id, sizeof w[0].key_id, "00112233445566778899aabbccddeeff");
    snprintf(w[0].key_prefix, sizeof w[0].key_prefix, "ig_abcdefghi");
    snprintf(w[0].provider, sizeof w[0].provider, "openai");
    snprintf(w[0].method, sizeof w[0].method, "POST");
    w[0].path = "/v1/chat/completions?x=1";
    w[0].model = "gpt-4o-mini";
    w[0].error = "upstream timeout";
    w[0].status = 504;
    w[0].stream = true;
    w[0].latency_ms = 1234.5;
    w[0].ttfb_ms = 321.25;
    w[0].input_tokens = 1000;
    w[0].output_tokens = 2000;
    w[0].cached_tokens = 300;
    w[0].cost_micros = 4567;
    w[0].req_bytes = 12345;
    w[0].resp_bytes = 67890;
    w[0].req_truncated = true;
    w[0].cache_hit = true;
    w[0].req_body = req;
    w[0].req_body_len = sizeof req;
    w[0].resp_body = resp;
    w[0].resp_body_len = sizeof resp;
    w[0].user_id = uid;
    w[0].user_id_len = sizeof uid;
    w[0].session_id = sid;
    w[0].session_id_len = sizeof sid;
    w[0].client_ip = ip;
    w[0].client_ip_len = sizeof ip;
    fill(w[0].user_tag, 16, 6);
    w[0].has_user_tag = true;
    fill(w[0].session_tag, 16, 7);
    w[0].has_session_tag = true;

    /* everything optional absent: NULL texts, unknown counters, no blobs, no tags, empty char arrays; a
     * blob pointer with length 0 counts as absent; zero counters are not "unknown" */
    base_rec(&w[1], 1, T0 + 456);
    w[1].method[0] = '\0';
    w[1].resp_truncated = true;
    w[1].req_body = req; /* length 0 */
    w[1].cached_tokens = 0;
    w[1].cost_micros = 0;
    w[1].latency_ms = 0;
    w[1].ttfb_ms = 0;
    w[1].status = 0;

    /* "" model and error stay "" (not NULL) */
    base_rec(&w[2], 2, T0 + 789);
    w[2].model = "";
    w[2].error = "";

    /* the longest texts accepted */
    memset(long_path, 'p', IG_LOGSTORE_MAX_PATH);
    memset(long_model, 'm', IG_LOGSTORE_MAX_MODEL);
    memset(long_error, 'e', IG_LOGSTORE_MAX_ERROR);
    base_rec(&w[3], 3, T0 + 999);
    w[3].path = long_path;
    w[3].model = long_model;
    w[3].error = long_error;
    snprintf(w[3].key_prefix, sizeof w[3].key_prefix, "%s", "abcdefghijkl");
    snprintf(w[3].method, sizeof w[3].method, "%s", "PROPPATCHXXXXXX");

    CHECK_EQ_INT(ig_logstore_insert(ls, w, 4), IG_OK);
    for (int i = 0; i < 4; i++) {
        memset(&row, 0xa5, sizeof row); /* the output needs no initialisation */
        CHECK_EQ_INT(ig_logstore_get(ls, w[i].id, &row), IG_OK);
        check_same(&row, &w[i]);
        CHECK_EQ_INT(row.seq, i + 1);
        ig_logrow_free(&row);
        CHECK(row.blobs[0] == NULL && row.r.req_body == NULL);
        ig_logrow_free(&row); /* idempotent */
    }
    /* the NULLs are real NULLs in the file */
    CHECK_EQ_INT(
        raw_int("rt", ORG_A,
                "SELECT COUNT(*) FROM logs WHERE id = 'req-00001' AND model IS NULL AND error IS NULL"
                " AND input_tokens IS NULL AND cost_micros = 0 AND key_id IS NULL AND"
                " method IS NULL AND req_body IS NULL AND user_tag IS NULL"),
        1);
    CHECK_EQ_INT(ig_logstore_get(ls, "nope", &row), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_logstore_get(ls, NULL, &row), IG_EINVAL);
    ig_logstore_close(ls);
}

TEST(insert_validation_and_atomicity)
{
    ig_logstore_t *ls = open_ls("val", ORG_A);
    static char too_long[IG_LOGSTORE_MAX_ERROR + 2];
    ig_logrec_t recs[2], *bad = &recs[1];
    ig_usage_summary_t s;
    memset(too_long, 'x', sizeof too_long - 1);

    base_rec(&recs[0], 0, T0);
    CHECK_EQ_INT(ig_logstore_insert(ls, NULL, 0), IG_OK);
    CHECK_EQ_INT(ig_logstore_insert(ls, recs, 0), IG_OK);
    CHECK_EQ_INT(ig_logstore_insert(ls, NULL, 1), IG_EINVAL);
    CHECK_EQ_INT(ig_logstore_insert(NULL, recs, 1), IG_EINVAL);
    for (int c = 0; c < 17; c++) {
        base_rec(bad, 1, T0);
        switch (c) {
        case 0:
            bad->id[0] = '\0';
            break;
        case 1:
            memset(bad->id, 'a', sizeof bad->id);
            break;
        case 2:
            memset(bad->key_id, 'a', sizeof bad->key_id);
            break;
        case 3:
            memset(bad->provider, 'a', sizeof bad->provider);
            break;
        case 4:
            bad->path = NULL;
            break;
        case 5:
            bad->model = too_long;
            break;
        case 6:
            bad->error = too_long;
            break;
        case 7:
            bad->status = 1000;
            break;
        case 8:
            bad->latency_ms = NAN;
            break;
        case 9:
            bad->ttfb_ms = -1;
            break;
        case 10:
            bad->input_tokens = -2;
            break;
        case 11:
            bad->cost_micros = -5;
            break;
        case 12:
            bad->req_bytes = -1;
            break;
        case 13:
            bad->resp_body_len = 10;
            break; /* NULL pointer with a length */
        case 14:
            bad->client_ip = (const uint8_t *)"x";
            bad->client_ip_len = IG_LOGSTORE_MAX_BLOB + 1;
            break;
        case 15:
            bad->created_at = 0;
            break;
        case 16:
            memset(bad->method, 'a', sizeof bad->method);
            break;
        }
        CHECK_EQ_INT(ig_logstore_insert(ls, recs, 2), IG_EINVAL);
    }
    CHECK_EQ_INT(count_of(ls), 0); /* the valid first record was not stored either */

    /* a failure inside the transaction (a trigger rejects the third record) leaves neither records nor
     * aggregates behind */
    CHECK_EQ_INT(raw_exec("val", ORG_A,
                          "CREATE TRIGGER boom BEFORE INSERT ON logs WHEN NEW.path = '/boom'"
                          " BEGIN SELECT RAISE(ABORT, 'boom'); END"),
                 SQLITE_OK);
    ig_logrec_t three[3];
    for (int i = 0; i < 3; i++)
        base_rec(&three[i], i, H0 + i);
    three[2].path = "/boom";
    CHECK_EQ_INT(ig_logstore_insert(ls, three, 3), IG_ECONFLICT);
    CHECK_EQ_INT(count_of(ls), 0);
    CHECK_EQ_INT(ig_logstore_usage_summary(ls, 0, 0, &s), IG_OK);
    CHECK_EQ_INT(s.requests, 0);
    CHECK_EQ_INT(raw_int("val", ORG_A, "SELECT COUNT(*) FROM usage_hourly"), 0);
    CHECK_EQ_INT(raw_exec("val", ORG_A, "DROP TRIGGER boom"), SQLITE_OK);
    CHECK_EQ_INT(ig_logstore_insert(ls, three, 3), IG_OK);
    CHECK_EQ_INT(count_of(ls), 3);
    ig_logstore_close(ls);
}

/* ---- replay ---- */

TEST(replay_is_idempotent)
{
    ig_logstore_t *ls = open_ls("replay", ORG_A);
    ig_logrec_t recs[10], more[3];
    ig_logrow_t row;
    ig_usage_summary_t s;

    for (int i = 0; i < 10; i++) {
        base_rec(&recs[i], i, H0 + i * 1000);
        recs[i].input_tokens = 10;
        recs[i].cost_micros = 7;
    }
    CHECK_EQ_INT(ig_logstore_insert(ls, recs, 10), IG_OK);
    /* a spool replayed: nothing new stored or counted, and the stored rows are not overwritten */
    for (int i = 0; i < 10; i++)
        recs[i].status = 500;
    CHECK_EQ_INT(ig_logstore_insert(ls, recs, 10), IG_OK);
    CHECK_EQ_INT(count_of(ls), 10);
    CHECK_EQ_INT(ig_logstore_get(ls, "req-00003", &row), IG_OK);
    CHECK_EQ_INT(row.r.status, 200);
    ig_logrow_free(&row);
    CHECK_EQ_INT(ig_logstore_usage_summary(ls, 0, 0, &s), IG_OK);
    CHECK_EQ_INT(s.requests, 10);
    CHECK_EQ_INT(s.errors, 0);
    CHECK_EQ_INT(s.input_tokens, 100);
    CHECK_EQ_INT(s.cost_micros, 70);

    /* the same id twice in one batch, next to an old one: the first new copy wins, counted once */
    base_rec(&more[0], 50, H0 + 50);
    more[0].input_tokens = 1;
    more[1] = more[0];
    more[1].input_tokens = 1000;
    more[2] = recs[0];
    CHECK_EQ_INT(ig_logstore_insert(ls, more, 3), IG_OK);
    CHECK_EQ_INT(count_of(ls), 11);
    CHECK_EQ_INT(ig_logstore_get(ls, "req-00050", &row), IG_OK);
    CHECK_EQ_INT(row.r.input_tokens, 1);
    ig_logrow_free(&row);
    CHECK_EQ_INT(ig_logstore_usage_summary(ls, 0, 0, &s), IG_OK);
    CHECK_EQ_INT(s.requests, 11);
    CHECK_EQ_INT(s.input_tokens, 101);
    CHECK_EQ_INT(s.errors, 0);
    ig_logstore_close(ls);
}

/* ---- filters and paging ---- */

static const char *const k_models[] = {"gpt-4o", "claude-3", "llama"};
static const char *const k_keys[] = {"k0", "k1", "k2", "k3"};
static uint8_t tag_a[16], tag_b[16], tag_s1[16], tag_s2[16];

/* The filter data set: 60 records, three per second. */
static void filter_rec(ig_logrec_t *r, int i)
{
    base_rec(r, i, T0 + (i / 3) * 1000);
    r->model = k_models[i % 3];
    snprintf(r->provider, sizeof r->provider, "%s", i % 2 ? "openai" : "anthropic");
    snprintf(r->key_id, sizeof r->key_id, "%s", k_keys[i % 4]);
    r->status = i % 5 == 0 ? 500 : 200;
    if (i % 6 == 0 || i % 6 == 1) {
        memcpy(r->user_tag, i % 6 == 0 ? tag_a : tag_b, 16);
        r->has_user_tag = true;
    }
    memcpy(r->session_tag, i % 10 < 5 ? tag_s1 : tag_s2, 16);
    r->has_session_tag = true;
}

static bool filter_match(const ig_logrec_t *r, const ig_logfilter_t *f)
{
    return (!f->start || r->created_at >= f->start) && (!f->end || r->created_at < f->end) &&
           (!f->model || strcmp(r->model, f->model) == 0) &&
           (!f->provider || strcmp(r->provider, f->provider) == 0) &&
           (!f->key_id || strcmp(r->key_id, f->key_id) == 0) && (!f->status || r->status == f->status) &&
           (!f->user_tag || (r->has_user_tag && memcmp(r->user_tag, f->user_tag, 16) == 0)) &&
           (!f->session_tag || (r->has_session_tag && memcmp(r->session_tag, f->session_tag, 16) == 0));
}

/* Pages through f with page size cap, checking that the order is strictly descending (created_at, seq) and
 * that the last page (only) has an empty cursor; the ids go to ids[]. Returns the number of rows. */
static size_t page_all(ig_logstore_t *ls, const ig_logfilter_t *f, size_t cap, char (*ids)[37], size_t max,
                       int *pages)
{
    ig_logrow_t *rows = calloc(cap, sizeof *rows);
    char cursor[IG_LOGSTORE_CURSOR_MAX] = "", next[IG_LOGSTORE_CURSOR_MAX];
    int64_t last_at = INT64_MAX, last_seq = INT64_MAX;
    size_t total = 0, n;
    *pages = 0;
    for (;;) {
        int rc = ig_logstore_query(ls, f, cursor, false, rows, cap, &n, next);
        CHECK_EQ_INT(rc, IG_OK);
        if (rc) break;
        (*pages)++;
        for (size_t i = 0; i < n; i++) {
            const ig_logrow_t *r = &rows[i];
            CHECK(r->r.created_at < last_at || (r->r.created_at == last_at && r->seq < last_seq));
            last_at = r->r.created_at;
            last_seq = r->seq;
            CHECK(r->r.req_body == NULL && r->r.resp_body == NULL); /* listing: no bodies */
            if (total < max) memcpy(ids[total], r->r.id, 37);
            total++;
            ig_logrow_free(&rows[i]);
        }
        if (!next[0]) break;
        CHECK_EQ_INT(n, cap);
        if (*pages > 1000) break;
        memcpy(cursor, next, sizeof cursor);
    }
    free(rows);
    return total;
}

TEST(query_filters)
{
    ig_logstore_t *ls = open_ls("filter", ORG_A);
    ig_logrec_t recs[60];
    char ids[64][37];
    int pages;
    fill(tag_a, 16, 11);
    fill(tag_b, 16, 12);
    fill(tag_s1, 16, 13);
    fill(tag_s2, 16, 14);
    uint8_t tag_none[16];
    fill(tag_none, 16, 15);
    for (int i = 0; i < 60; i++)
        filter_rec(&recs[i], i);
    CHECK_EQ_INT(ig_logstore_insert(ls, recs, 60), IG_OK);

    struct {
        ig_logfilter_t f;
        size_t want; /* hand-counted */
    } cases[] = {
        {{0}, 60},
        {{.model = "gpt-4o"}, 20},                       /* i % 3 == 0 */
        {{.provider = "openai"}, 30},                    /* odd i */
        {{.key_id = "k0"}, 15},                          /* i % 4 == 0 */
        {{.status = 500}, 12},                           /* i % 5 == 0 */
        {{.status = 404}, 0},                            /* none */
        {{.user_tag = tag_a}, 10},                       /* i % 6 == 0 */
        {{.user_tag = tag_b}, 10},                       /* i % 6 == 1 */
        {{.user_tag = tag_none}, 0},                     /* unknown tag */
        {{.session_tag = tag_s1}, 30},                   /* i % 10 < 5 */
        {{.start = T0 + 10000}, 30},                     /* i >= 30 */
        {{.end = T0 + 5000}, 15},                        /* i < 15 */
        {{.start = T0 + 5000, .end = T0 + 10000}, 15},   /* 15 <= i < 30 */
        {{.model = "gpt-4o", .provider = "openai"}, 10}, /* i % 6 == 3 */
        {{.key_id = "k1", .status = 500}, 3},            /* i = 5, 25, 45 */
        {{.user_tag = tag_a, .session_tag = tag_s1}, 6}, /* i = 0, 12, 24, 30, 42, 54 */
        {{.model = "nope"}, 0},
        /* everything at once: i = 24 only */
        {{.start = T0 + 5000,
          .end = T0 + 10000,
          .model = "gpt-4o",
          .provider = "anthropic",
          .key_id = "k0",
          .status = 200,
          .user_tag = tag_a,
          .session_tag = tag_s1},
         1},
    };
    for (size_t c = 0; c < IG_ARRAY_LEN(cases); c++) {
        size_t got = page_all(ls, &cases[c].f, 7, ids, 64, &pages);
        CHECK_EQ_INT(got, cases[c].want);
        /* exactly the matching records, newest first (records were inserted in created_at order) */
        size_t k = 0;
        for (int i = 59; i >= 0 && k < got; i--) {
            if (!filter_match(&recs[i], &cases[c].f)) continue;
            if (strcmp(ids[k], recs[i].id) != 0) {
                fprintf(stderr, "  case %zu: row %zu is %s, want %s\n", c, k, ids[k], recs[i].id);
                CHECK(0);
                break;
            }
            k++;
        }
        CHECK_EQ_INT(k, got);
        CHECK_EQ_INT(pages, got ? (int)((got + 6) / 7) : 1);
    }
    CHECK_EQ_STR(ids[0], "req-00024"); /* the last case */
    ig_logstore_close(ls);
}

TEST(guard_findings)
{
    /* schema v3: findings round-trip through get, listings and scans; absent stays absent; bad values are
     * refused; purging a record removes its findings; a v2 file gains the table */
    ig_logstore_t *ls = open_ls("guard", ORG_A);
    ig_logrec_t recs[3];
    ig_logrow_t row, page[3];
    size_t n = 0;
    char cur[IG_LOGSTORE_CURSOR_MAX];
    if (!ls) return;
    for (int i = 0; i < 3; i++)
        base_rec(&recs[i], i, T0 + i);
    recs[0].guard_action = "redacted";
    recs[0].guard_pii = "{\"email\":2,\"ssn\":1}";
    recs[0].guard_injection_score = 60;
    recs[0].guard_injection_rules = "ignore_instructions,jailbreak_word";
    recs[1].guard_action = "allowed";
    recs[1].guard_injection_score = -1; /* injection not screened, PII not screened */
    CHECK_EQ_INT(ig_logstore_insert(ls, recs, 3), IG_OK);
    CHECK_EQ_INT(ig_logstore_get(ls, "req-00000", &row), IG_OK);
    CHECK_EQ_STR(row.r.guard_action, "redacted");
    CHECK_EQ_STR(row.r.guard_pii, "{\"email\":2,\"ssn\":1}");
    CHECK_EQ_INT(row.r.guard_injection_score, 60);
    CHECK_EQ_STR(row.r.guard_injection_rules, "ignore_instructions,jailbreak_word");
    ig_logrow_free(&row);
    CHECK_EQ_INT(ig_logstore_get(ls, "req-00001", &row), IG_OK);
    CHECK_EQ_STR(row.r.guard_action, "allowed");
    CHECK(row.r.guard_pii == NULL && row.r.guard_injection_rules == NULL);
    CHECK_EQ_INT(row.r.guard_injection_score, -1);
    ig_logrow_free(&row);
    CHECK_EQ_INT(ig_logstore_get(ls, "req-00002", &row), IG_OK);
    CHECK(row.r.guard_action == NULL && row.r.guard_pii == NULL);
    CHECK_EQ_INT(row.r.guard_injection_score, -1);
    ig_logrow_free(&row);
    /* a listing (no bodies) reads them too, newest first */
    CHECK_EQ_INT(ig_logstore_query(ls, NULL, NULL, false, page, 3, &n, cur), IG_OK);
    CHECK_EQ_INT(n, 3);
    if (n == 3) {
        CHECK(page[0].r.guard_action == NULL);
        CHECK_EQ_STR(page[2].r.guard_action, "redacted");
        CHECK_EQ_INT(page[2].r.guard_injection_score, 60);
    }
    for (size_t i = 0; i < n; i++)
        ig_logrow_free(&page[i]);
    /* validation */
    ig_logrec_t bad;
    base_rec(&bad, 9, T0 + 9);
    bad.guard_action = "";
    CHECK_EQ_INT(ig_logstore_insert(ls, &bad, 1), IG_EINVAL);
    bad.guard_action = "logged";
    bad.guard_injection_score = 101;
    CHECK_EQ_INT(ig_logstore_insert(ls, &bad, 1), IG_EINVAL);
    bad.guard_injection_score = 0;
    char long_text[IG_LOGSTORE_MAX_GUARD_TEXT + 2];
    memset(long_text, 'x', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    bad.guard_pii = long_text;
    CHECK_EQ_INT(ig_logstore_insert(ls, &bad, 1), IG_EINVAL);
    /* a replay stores nothing twice */
    CHECK_EQ_INT(ig_logstore_insert(ls, recs, 3), IG_OK);
    CHECK_EQ_INT(raw_int("guard", ORG_A, "SELECT COUNT(*) FROM log_guard"), 2);
    /* purge: the findings go with their records */
    size_t deleted = 0;
    CHECK_EQ_INT(ig_logstore_purge(ls, T0 + 1, 10, &deleted), IG_OK);
    CHECK_EQ_INT(deleted, 1);
    CHECK_EQ_INT(raw_int("guard", ORG_A, "SELECT COUNT(*) FROM log_guard"), 1);
    ig_logstore_close(ls);
    /* a v2 file (no log_guard) is upgraded and keeps its records */
    CHECK_EQ_INT(raw_exec("guard", ORG_A,
                          "DROP TRIGGER log_guard_purge; DROP TABLE log_guard;"
                          " DELETE FROM schema_migrations WHERE version = 3;"),
                 SQLITE_OK);
    ls = open_ls("guard", ORG_A);
    if (!ls) return;
    CHECK_EQ_INT(raw_int("guard", ORG_A, "SELECT MAX(version) FROM schema_migrations"), 3);
    CHECK_EQ_INT(count_of(ls), 2);
    CHECK_EQ_INT(ig_logstore_get(ls, "req-00001", &row), IG_OK);
    CHECK(row.r.guard_action == NULL);
    ig_logrow_free(&row);
    ig_logstore_close(ls);
}

TEST(query_plans_use_indexes)
{
    /* the WHERE shapes the store builds (placeholders included), checked with EXPLAIN QUERY PLAN on a store's
     * file: an equality filter uses its own index and no filter needs a sort */
    ig_logstore_t *ls = open_ls("plan", ORG_A);
    ig_logstore_close(ls);
    static const struct {
        const char *where, *index;
    } cases[] = {
        {"user_tag = ?7", "logs_user"},
        {"session_tag = ?8", "logs_session"},
        {"model = ?3", "logs_model"},
        {"key_id = ?5", "logs_key"},
        {"provider = ?4", "logs_provider"},
        {"status = ?6", "logs_status"},
        {"created_at >= ?1 AND created_at < ?2", "logs_created"},
        {"created_at <= ?9 AND (created_at < ?9 OR seq < ?10)", "logs_created"},
        {"user_tag = ?7 AND created_at <= ?9 AND (created_at < ?9 OR seq < ?10)", "logs_user"},
        {"model = ?3 AND created_at >= ?9 AND (created_at > ?9 OR seq > ?10)", "logs_model"}, /* scan */
    };
    for (size_t i = 0; i < IG_ARRAY_LEN(cases); i++) {
        char sql[512], plan[512], path[256];
        sqlite3 *db = NULL;
        sqlite3_stmt *q = NULL;
        plan[0] = '\0';
        const char *dir = strstr(cases[i].where, "> ?9") ? "ASC" : "DESC";
        snprintf(sql, sizeof sql,
                 "EXPLAIN QUERY PLAN SELECT seq, action FROM logs LEFT JOIN log_guard USING (seq) WHERE 1 = 1"
                 " AND %s ORDER BY created_at %s, seq %s"
                 " LIMIT ?11",
                 cases[i].where, dir, dir);
        if (sqlite3_open(db_file(path, sizeof path, "plan", ORG_A, ""), &db) == SQLITE_OK &&
            sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK) {
            while (sqlite3_step(q) == SQLITE_ROW) {
                size_t len = strlen(plan);
                snprintf(plan + len, sizeof plan - len, "%s;", (const char *)sqlite3_column_text(q, 3));
            }
        }
        sqlite3_finalize(q);
        sqlite3_close(db);
        if (!strstr(plan, cases[i].index) || strstr(plan, "TEMP B-TREE")) {
            fprintf(stderr, "  plan for %s: %s\n", cases[i].where, plan);
            CHECK(0);
        }
    }
}

TEST(cursor_paging_equal_timestamps)
{
    ig_logstore_t *ls = open_ls("paging", ORG_A);
    ig_logrec_t recs[50];
    char ids[64][37];
    int pages;

    /* 5 timestamps x 10 records, inserted in a shuffled order over several batches, so neither the id
     * order nor the batch order matches the time order */
    for (int i = 0; i < 50; i++) {
        int j = (i * 17) % 50; /* 17 is coprime with 50: a permutation */
        base_rec(&recs[i], j, T0 + (j % 5) * 1000);
        recs[i].model = "m";
    }
    CHECK_EQ_INT(ig_logstore_insert(ls, recs, 13), IG_OK);
    CHECK_EQ_INT(ig_logstore_insert(ls, recs + 13, 20), IG_OK);
    CHECK_EQ_INT(ig_logstore_insert(ls, recs + 33, 17), IG_OK);

    size_t caps[] = {1, 3, 7, 10, 50, 1000};
    int want_pages[] = {50, 17, 8, 5, 1, 1};
    for (size_t c = 0; c < IG_ARRAY_LEN(caps); c++) {
        size_t got = page_all(ls, NULL, caps[c], ids, 64, &pages);
        CHECK_EQ_INT(got, 50);
        CHECK_EQ_INT(pages, want_pages[c]);
        /* no duplicates (with 50 rows returned, that also means no gaps) */
        int seen[50] = {0};
        for (size_t i = 0; i < got && i < 50; i++) {
            int v = id_num(ids[i]);
            CHECK(v >= 0 && v < 50);
            if (v >= 0 && v < 50) seen[v]++;
        }
        for (int i = 0; i < 50; i++)
            CHECK_EQ_INT(seen[i], 1);
        /* the newest timestamp first: j % 5 == 4 */
        CHECK_EQ_INT(id_num(ids[0]) % 5, 4);
        CHECK_EQ_INT(id_num(ids[49]) % 5, 0);
    }

    /* the cursor is a position, not a row: a record inserted later with an older timestamp appears on a
     * later page, a newer one does not */
    ig_logrow_t rows[10];
    char next[IG_LOGSTORE_CURSOR_MAX], next2[IG_LOGSTORE_CURSOR_MAX];
    size_t n;
    CHECK_EQ_INT(ig_logstore_query(ls, NULL, "", true, rows, 10, &n, next), IG_OK);
    CHECK_EQ_INT(n, 10);
    CHECK(rows[0].r.req_body == NULL); /* absent bodies stay NULL with with_bodies */
    for (size_t i = 0; i < n; i++)
        ig_logrow_free(&rows[i]);
    ig_logrec_t late[2];
    base_rec(&late[0], 900, T0 + 10000); /* newer than the page: not seen below the cursor */
    base_rec(&late[1], 901, T0);         /* older: seen */
    CHECK_EQ_INT(ig_logstore_insert(ls, late, 2), IG_OK);
    size_t total = 0;
    bool seen_old = false, seen_new = false;
    while (next[0]) {
        CHECK_EQ_INT(ig_logstore_query(ls, NULL, next, false, rows, 10, &n, next2), IG_OK);
        for (size_t i = 0; i < n; i++) {
            seen_old |= strcmp(rows[i].r.id, "req-00901") == 0;
            seen_new |= strcmp(rows[i].r.id, "req-00900") == 0;
            ig_logrow_free(&rows[i]);
        }
        total += n;
        memcpy(next, next2, sizeof next);
    }
    CHECK_EQ_INT(total, 41);
    CHECK(seen_old);
    CHECK(!seen_new);

    /* malformed cursors and bad arguments */
    static const char *const bad[] = {"abc", "1.", ".5", "1.2.3", "-1.2", "1.-2", "99999999999999999999.1",
                                      "1,2", "12"};
    for (size_t i = 0; i < IG_ARRAY_LEN(bad); i++)
        CHECK_EQ_INT(ig_logstore_query(ls, NULL, bad[i], false, rows, 10, &n, next), IG_EINVAL);
    CHECK_EQ_INT(ig_logstore_query(ls, NULL, NULL, false, rows, 0, &n, next), IG_EINVAL);
    CHECK_EQ_INT(ig_logstore_query(ls, NULL, NULL, false, rows, IG_LOGSTORE_MAX_PAGE + 1, &n, next),
                 IG_EINVAL);
    ig_logfilter_t neg = {.start = -1};
    CHECK_EQ_INT(ig_logstore_query(ls, &neg, NULL, false, rows, 10, &n, next), IG_EINVAL);
    CHECK_EQ_INT(n, 0);
    ig_logstore_close(ls);
}

/* ---- scan ---- */

typedef struct {
    size_t rows, stop_after;
    int64_t last_at, last_seq;
    bool ordered, bodies_ok;
} scan_ctx_t;

static int on_row(void *p, const ig_logrow_t *row)
{
    scan_ctx_t *c = p;
    if (row->r.created_at < c->last_at || (row->r.created_at == c->last_at && row->seq <= c->last_seq))
        c->ordered = false;
    c->last_at = row->r.created_at;
    c->last_seq = row->seq;
    /* the body is the record number, repeated; the blobs are borrowed, not owned */
    int i = id_num(row->r.id);
    uint8_t want[64];
    fill(want, sizeof want, (uint8_t)i);
    if (row->r.req_body_len != sizeof want || memcmp(row->r.req_body, want, sizeof want) != 0 ||
        row->r.resp_body_len != 3 || row->blobs[0] != NULL)
        c->bodies_ok = false;
    c->rows++;
    return c->stop_after && c->rows == c->stop_after ? 7 : 0;
}

TEST(scan_order_and_early_stop)
{
    ig_logstore_t *ls = open_ls("scan", ORG_A);
    static ig_logrec_t recs[600];
    static uint8_t bodies[600][64];
    scan_ctx_t c;

    /* 6 timestamps x 100 records, inserted newest first: the scan's pages of 256 split runs of equal
     * timestamps */
    for (int i = 0; i < 600; i++) {
        int j = 599 - i;
        base_rec(&recs[i], j, T0 + (j / 100) * 1000);
        fill(bodies[j], 64, (uint8_t)j);
        recs[i].req_body = bodies[j];
        recs[i].req_body_len = 64;
        recs[i].resp_body = (const uint8_t *)"abc";
        recs[i].resp_body_len = 3;
        recs[i].model = j % 2 ? "odd" : "even";
    }
    c = (scan_ctx_t){.ordered = true, .bodies_ok = true, .last_at = 0, .last_seq = 0};
    CHECK_EQ_INT(ig_logstore_scan(ls, NULL, on_row, &c), IG_OK); /* empty */
    CHECK_EQ_INT(c.rows, 0);
    CHECK_EQ_INT(ig_logstore_insert(ls, recs, 600), IG_OK);

    c = (scan_ctx_t){.ordered = true, .bodies_ok = true};
    CHECK_EQ_INT(ig_logstore_scan(ls, NULL, on_row, &c), IG_OK);
    CHECK_EQ_INT(c.rows, 600);
    CHECK(c.ordered);
    CHECK(c.bodies_ok);
    CHECK_EQ_INT(c.last_at, T0 + 5000);

    /* the callback's non-zero value stops the scan and is returned */
    c = (scan_ctx_t){.ordered = true, .bodies_ok = true, .stop_after = 300};
    CHECK_EQ_INT(ig_logstore_scan(ls, NULL, on_row, &c), 7);
    CHECK_EQ_INT(c.rows, 300);
    CHECK_EQ_INT(c.last_at, T0 + 2000); /* rows 0..299 in time order: the first three seconds */

    /* with a filter */
    ig_logfilter_t f = {.model = "odd", .start = T0 + 1000, .end = T0 + 4000};
    c = (scan_ctx_t){.ordered = true, .bodies_ok = true};
    CHECK_EQ_INT(ig_logstore_scan(ls, &f, on_row, &c), IG_OK);
    CHECK_EQ_INT(c.rows, 150);
    CHECK(c.ordered);
    CHECK(c.bodies_ok);

    /* the handle stays usable after an early stop */
    CHECK_EQ_INT(count_of(ls), 600);
    CHECK_EQ_INT(ig_logstore_scan(ls, NULL, NULL, NULL), IG_EINVAL);
    ig_logstore_close(ls);
}

/* ---- retention ---- */

TEST(purge_in_batches)
{
    ig_logstore_t *ls = open_ls("purge", ORG_A);
    ig_logrec_t recs[100];
    ig_usage_summary_t before, after;
    ig_logrow_t row;
    size_t deleted = 99;
    int64_t oldest = -1;

    CHECK_EQ_INT(ig_logstore_oldest(ls, &oldest), IG_OK);
    CHECK_EQ_INT(oldest, 0);
    CHECK_EQ_INT(ig_logstore_purge(ls, T0, 10, &deleted), IG_OK);
    CHECK_EQ_INT(deleted, 0);
    /* inserted in reverse time order: purge goes by time, not by insertion */
    for (int i = 0; i < 100; i++) {
        base_rec(&recs[i], 99 - i, T0 + (99 - i) * 1000);
        recs[i].input_tokens = 5;
    }
    CHECK_EQ_INT(ig_logstore_insert(ls, recs, 100), IG_OK);
    CHECK_EQ_INT(ig_logstore_oldest(ls, &oldest), IG_OK);
    CHECK_EQ_INT(oldest, T0);
    CHECK_EQ_INT(ig_logstore_usage_summary(ls, 0, 0, &before), IG_OK);
    CHECK_EQ_INT(before.requests, 100);

    size_t want[] = {25, 25, 10, 0};
    int64_t want_oldest[] = {T0 + 25000, T0 + 50000, T0 + 60000, T0 + 60000};
    for (int b = 0; b < 4; b++) {
        CHECK_EQ_INT(ig_logstore_purge(ls, T0 + 60000, 25, &deleted), IG_OK);
        CHECK_EQ_INT(deleted, want[b]);
        CHECK_EQ_INT(ig_logstore_oldest(ls, &oldest), IG_OK);
        CHECK_EQ_INT(oldest, want_oldest[b]);
    }
    CHECK_EQ_INT(count_of(ls), 40);
    CHECK_EQ_INT(ig_logstore_get(ls, "req-00059", &row), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_logstore_get(ls, "req-00060", &row), IG_OK);
    ig_logrow_free(&row);
    /* usage history outlives the records */
    CHECK_EQ_INT(ig_logstore_usage_summary(ls, 0, 0, &after), IG_OK);
    CHECK_EQ_INT(after.requests, 100);
    CHECK_EQ_INT(after.input_tokens, 500);
    CHECK(memcmp(&before, &after, sizeof before) == 0);

    CHECK_EQ_INT(ig_logstore_purge(ls, T0, 0, &deleted), IG_EINVAL);
    CHECK_EQ_INT(ig_logstore_purge(ls, T0, IG_LOGSTORE_MAX_PURGE + 1, &deleted), IG_EINVAL);
    CHECK_EQ_INT(ig_logstore_purge(ls, -1, 10, &deleted), IG_EINVAL);
    ig_logstore_close(ls);
}

TEST(purge_gives_space_back)
{
    ig_logstore_t *ls = open_ls("shrink", ORG_A);
    static uint8_t body[16384];
    ig_logrec_t recs[50];
    size_t deleted;
    fill(body, sizeof body, 9);
    for (int b = 0; b < 8; b++) {
        for (int i = 0; i < 50; i++) {
            base_rec(&recs[i], b * 50 + i, T0 + b * 50 + i);
            recs[i].req_body = body;
            recs[i].req_body_len = sizeof body;
        }
        CHECK_EQ_INT(ig_logstore_insert(ls, recs, 50), IG_OK);
    }
    int64_t full = raw_int("shrink", ORG_A, "PRAGMA page_count");
    CHECK(full * raw_int("shrink", ORG_A, "PRAGMA page_size") > 400 * 16384); /* 400 x 16 KiB */
    do {
        CHECK_EQ_INT(ig_logstore_purge(ls, INT64_MAX, 100, &deleted), IG_OK);
    } while (deleted);
    CHECK_EQ_INT(count_of(ls), 0);
    int64_t now = raw_int("shrink", ORG_A, "PRAGMA page_count");
    CHECK(now > 0 && now < full / 2);
    ig_logstore_close(ls);
}

/* ---- usage ---- */

TEST(histogram_buckets_and_accuracy)
{
    CHECK_EQ_INT(ig_logstore_hist_bucket(0), 0);
    CHECK_EQ_INT(ig_logstore_hist_bucket(0.0999), 0);
    CHECK_EQ_INT(ig_logstore_hist_bucket(-5), 0);
    CHECK_EQ_INT(ig_logstore_hist_bucket(NAN), 0);
    CHECK_EQ_INT(ig_logstore_hist_bucket(0.1), 1);
    CHECK_EQ_INT(ig_logstore_hist_bucket(0.1 * exp2(0.25)), 2);
    CHECK_EQ_INT(ig_logstore_hist_bucket(0.1 * exp2(0.25) * 0.999999), 1);
    CHECK_EQ_INT(ig_logstore_hist_bucket(0.2), 5); /* one octave = 4 buckets */
    CHECK_EQ_INT(ig_logstore_hist_bucket(10), 27);
    CHECK_EQ_INT(ig_logstore_hist_bucket(1000), 54);
    CHECK_EQ_INT(ig_logstore_hist_bucket(0.1 * exp2(23.5) * 0.999999), 94);
    CHECK_EQ_INT(ig_logstore_hist_bucket(0.1 * exp2(23.5)), 95);
    CHECK_EQ_INT(ig_logstore_hist_bucket(1e12), 95);
    CHECK_EQ_INT(ig_logstore_hist_bucket(INFINITY), 95);
    CHECK_NEAR(ig_logstore_hist_value(0), 0.05);
    CHECK_NEAR(ig_logstore_hist_value(1), 0.1 * exp2(0.125));
    CHECK_NEAR(ig_logstore_hist_value(54), 0.1 * exp2(53.5 / 4));
    CHECK_NEAR(ig_logstore_hist_value(95), 0.1 * exp2(23.5));
    CHECK_NEAR(ig_logstore_hist_value(96), 0);
    CHECK_NEAR(ig_logstore_hist_value(-1), 0);

    /* the bound stated in logstore.h: the reported value is within a factor 2^(1/8) of the sample, over
     * 0.1 ms .. 19.8 min; bucket numbers never go down as the latency grows */
    double worst_hi = 0, worst_lo = 0;
    int prev = 0;
    for (double v = 0.1; v < 0.1 * exp2(23.5); v *= 1.0007) {
        int b = ig_logstore_hist_bucket(v);
        CHECK(b >= prev);
        prev = b;
        double rel = ig_logstore_hist_value(b) / v - 1;
        worst_hi = fmax(worst_hi, rel);
        worst_lo = fmin(worst_lo, rel);
    }
    CHECK(worst_hi <= IG_LOGSTORE_HIST_REL_ERR);
    CHECK(worst_hi > 0.0905);   /* the bound is tight: 2^(1/8) - 1 = 0.090508 */
    CHECK(worst_lo >= -0.0830); /* 2^(-1/8) - 1 = -0.082996 */
    CHECK(worst_lo < -0.0829);
    CHECK_EQ_INT(prev, 94);
}

/* Decodes every stored histogram through a raw connection (little-endian uint32 per bucket, trailing empty
 * buckets left out) and checks that each adds up to its row's request count. Returns the rows checked. */
static int hist_rows_consistent(const char *name)
{
    char path[256];
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    int rows = 0;
    if (sqlite3_open(db_file(path, sizeof path, name, ORG_A, ""), &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT requests, latency_hist FROM usage_hourly", -1, &q, NULL) ==
            SQLITE_OK) {
        while (sqlite3_step(q) == SQLITE_ROW) {
            const uint8_t *h = sqlite3_column_blob(q, 1);
            int len = sqlite3_column_bytes(q, 1);
            int64_t sum = 0;
            CHECK(len % 4 == 0 && len <= IG_LOGSTORE_HIST_BUCKETS * 4 && len >= 4);
            CHECK(h && h[len - 4] | h[len - 3] | h[len - 2] | h[len - 1]); /* no trailing empty bucket */
            for (int b = 0; h && b + 3 < len; b += 4)
                sum += (int64_t)h[b] | (int64_t)h[b + 1] << 8 | (int64_t)h[b + 2] << 16 |
                       (int64_t)h[b + 3] << 24;
            CHECK_EQ_INT(sum, sqlite3_column_int64(q, 0));
            rows++;
        }
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    return rows;
}

/* The usage data set: 100 records in hour H0 and 100 in H1 (see the comments for the hand counts). */
static void usage_recs(ig_logrec_t *recs)
{
    for (int i = 0; i < 100; i++) {
        ig_logrec_t *r = &recs[i];
        base_rec(r, i, H0 + i * 1000);
        r->latency_ms = i < 98 ? 10 : 1000;                 /* i = 98, 99: 1 s */
        r->status = i % 10 == 0 ? 500 : i == 1 ? 404 : 200; /* 10 + 1 errors */
        r->error = i == 2 ? "upstream reset" : NULL;        /* + 1 error = 12 */
        r->input_tokens = i == 3 ? -1 : 100;                /* 99 x 100 = 9900 */
        r->output_tokens = i == 4 ? -1 : 50;                /* 99 x 50 = 4950 */
        r->cached_tokens = i % 4 == 0 ? 20 : 0;             /* 25 x 20 = 500 */
        r->cost_micros = i == 5 ? -1 : 1500;                /* 99 x 1500 = 148500 */
        r->cache_hit = i % 5 == 0;                          /* 20 */
        r->model = i % 2 ? "gpt-4o" : "claude-3";           /* odd / even */
        snprintf(r->provider, sizeof r->provider, "%s", i % 2 ? "openai" : "anthropic");
        snprintf(r->key_id, sizeof r->key_id, "%s", i < 50 ? "ka" : "kb");
    }
    for (int i = 0; i < 100; i++) {
        ig_logrec_t *r = &recs[100 + i];
        base_rec(r, 100 + i, H1 + i * 1000);
        r->latency_ms = i == 50 ? 1000 : 10; /* one slow request: p99 of this hour is 10 ms */
        r->input_tokens = 10;                /* 1000 */
        r->output_tokens = 5;                /* 500 */
        r->cached_tokens = 0;
        r->cost_micros = 100; /* 10000 */
        r->model = "gpt-4o";
        snprintf(r->provider, sizeof r->provider, "openai");
        snprintf(r->key_id, sizeof r->key_id, "ka");
    }
}

TEST(usage_summary_values)
{
    ig_logstore_t *ls = open_ls("usage", ORG_A);
    static ig_logrec_t recs[200];
    ig_usage_summary_t s;
    usage_recs(recs);
    /* batches that mix both hours and all groups */
    for (int b = 0; b < 200; b += 64) {
        ig_logrec_t mixed[64];
        size_t n = 0;
        for (int i = b; i < 200 && i < b + 64; i++)
            mixed[n++] = recs[(i % 2) * 100 + i / 2];
        CHECK_EQ_INT(ig_logstore_insert(ls, mixed, n), IG_OK);
    }
    const double p99_1s = 0.1 * exp2(53.5 / 4);   /* bucket 54: [974.4, 1158.7) ms -> 1062.4 ms */
    const double p99_10ms = 0.1 * exp2(26.5 / 4); /* bucket 27: [9.51, 11.31) ms -> 9.87 ms */
    CHECK(fabs(p99_1s / 1000 - 1) <= IG_LOGSTORE_HIST_REL_ERR);
    CHECK(fabs(p99_10ms / 10 - 1) <= IG_LOGSTORE_HIST_REL_ERR);
    CHECK_NEAR(round(p99_1s * 100) / 100, 1062.37);

    /* hour H0 */
    CHECK_EQ_INT(ig_logstore_usage_summary(ls, H0, H1, &s), IG_OK);
    CHECK_EQ_INT(s.since, H0);
    CHECK_EQ_INT(s.until, H1);
    CHECK_EQ_INT(s.requests, 100);
    CHECK_EQ_INT(s.errors, 12);
    CHECK_EQ_INT(s.input_tokens, 9900);
    CHECK_EQ_INT(s.output_tokens, 4950);
    CHECK_EQ_INT(s.cached_tokens, 500);
    CHECK_EQ_INT(s.cost_micros, 148500);
    CHECK_EQ_INT(s.cache_hits, 20);
    CHECK_NEAR(s.avg_latency_ms, 29.8);     /* (98 x 10 + 2 x 1000) / 100 */
    CHECK_NEAR(s.p99_latency_ms, p99_1s);   /* rank 99 of 100 is a 1 s request */
    CHECK_NEAR(s.p50_latency_ms, p99_10ms); /* rank 50 of 100: a 10 ms request */
    CHECK_NEAR(s.error_rate, 0.12);
    CHECK_NEAR(s.cache_hit_rate, 0.2);

    /* bounds inside the hours are rounded out to the whole hours */
    ig_usage_summary_t r;
    CHECK_EQ_INT(ig_logstore_usage_summary(ls, H0 + 1234, H0 + 5678, &r), IG_OK);
    CHECK_EQ_INT(r.since, H0);
    CHECK_EQ_INT(r.until, H1);
    CHECK(memcmp(&r, &s, sizeof r) == 0);
    CHECK_EQ_INT(ig_logstore_usage_summary(ls, H0 + 1, H1, &r), IG_OK);
    CHECK_EQ_INT(r.requests, 100);

    /* hour H1, open end: rank 99 of 100 is a 10 ms request */
    CHECK_EQ_INT(ig_logstore_usage_summary(ls, H1, 0, &s), IG_OK);
    CHECK_EQ_INT(s.since, H1);
    CHECK_EQ_INT(s.until, 0);
    CHECK_EQ_INT(s.requests, 100);
    CHECK_EQ_INT(s.errors, 0);
    CHECK_EQ_INT(s.input_tokens, 1000);
    CHECK_EQ_INT(s.output_tokens, 500);
    CHECK_EQ_INT(s.cached_tokens, 0);
    CHECK_EQ_INT(s.cost_micros, 10000);
    CHECK_EQ_INT(s.cache_hits, 0);
    CHECK_NEAR(s.avg_latency_ms, 19.9);
    CHECK_NEAR(s.p99_latency_ms, p99_10ms);
    CHECK_NEAR(s.error_rate, 0);
    CHECK_NEAR(s.cache_hit_rate, 0);

    /* both hours: histograms added; rank 198 of 200 (197 x 10 ms, 3 x 1 s) is a 1 s request */
    CHECK_EQ_INT(ig_logstore_usage_summary(ls, 0, 0, &s), IG_OK);
    CHECK_EQ_INT(s.since, 0);
    CHECK_EQ_INT(s.until, 0);
    CHECK_EQ_INT(s.requests, 200);
    CHECK_EQ_INT(s.errors, 12);
    CHECK_EQ_INT(s.input_tokens, 10900);
    CHECK_EQ_INT(s.cost_micros, 158500);
    CHECK_NEAR(s.avg_latency_ms, 24.85); /* (2980 + 1990) / 200 */
    CHECK_NEAR(s.p99_latency_ms, p99_1s);
    CHECK_NEAR(s.error_rate, 0.06);
    CHECK_NEAR(s.cache_hit_rate, 0.1);

    ig_usage_summary_t all = s;

    /* nothing there */
    CHECK_EQ_INT(ig_logstore_usage_summary(ls, H1 + HOUR_MS, 0, &s), IG_OK);
    CHECK_EQ_INT(s.requests, 0);
    CHECK_NEAR(s.avg_latency_ms, 0);
    CHECK_NEAR(s.p99_latency_ms, 0);
    CHECK_NEAR(s.error_rate, 0);
    CHECK_EQ_INT(ig_logstore_usage_summary(ls, -1, 0, &s), IG_EINVAL);
    CHECK_EQ_INT(ig_logstore_usage_summary(ls, 0, 0, NULL), IG_EINVAL);

    /* one aggregate row per (hour, model, provider, key): H0 has 2 models (= providers) x 2 keys, H1 one */
    CHECK_EQ_INT(raw_int("usage", ORG_A, "SELECT COUNT(*) FROM usage_hourly"), 5);
    CHECK_EQ_INT(hist_rows_consistent("usage"), 5);
    /* a replay of everything changes nothing */
    CHECK_EQ_INT(ig_logstore_insert(ls, recs, 200), IG_OK);
    CHECK_EQ_INT(ig_logstore_usage_summary(ls, 0, 0, &r), IG_OK);
    CHECK(memcmp(&r, &all, sizeof r) == 0);
    CHECK_EQ_INT(r.requests, 200);
    CHECK_NEAR(r.p99_latency_ms, p99_1s);
    ig_logstore_close(ls);
}

TEST(histograms_add_up_across_batches)
{
    ig_logstore_t *ls = open_ls("hist", ORG_A);
    ig_logrec_t recs[98];
    ig_usage_summary_t s;
    /* two slow requests first, then 98 fast ones in another batch of the same group: rank 99 of 100 is
     * slow only if the stored histogram was added to, not replaced */
    for (int i = 0; i < 2; i++) {
        base_rec(&recs[i], i, H0 + i);
        recs[i].latency_ms = 1000;
    }
    CHECK_EQ_INT(ig_logstore_insert(ls, recs, 2), IG_OK);
    for (int i = 0; i < 98; i++)
        base_rec(&recs[i], 10 + i, H0 + 10 + i);
    CHECK_EQ_INT(ig_logstore_insert(ls, recs, 98), IG_OK);
    CHECK_EQ_INT(ig_logstore_usage_summary(ls, H0, H1, &s), IG_OK);
    CHECK_EQ_INT(s.requests, 100);
    CHECK_NEAR(s.p99_latency_ms, ig_logstore_hist_value(54));
    CHECK_NEAR(s.avg_latency_ms, 29.8);
    CHECK_EQ_INT(hist_rows_consistent("hist"), 1);
    ig_logstore_close(ls);
}

static void check_point(const ig_usage_point_t *p, int64_t bucket, const char *group, int64_t req,
                        int64_t err, int64_t in, int64_t out, int64_t cost, double avg)
{
    CHECK_EQ_INT(p->bucket, bucket);
    CHECK_EQ_STR(p->group, group);
    CHECK_EQ_INT(p->requests, req);
    CHECK_EQ_INT(p->errors, err);
    CHECK_EQ_INT(p->input_tokens, in);
    CHECK_EQ_INT(p->output_tokens, out);
    CHECK_EQ_INT(p->cost_micros, cost);
    CHECK_NEAR(p->avg_latency_ms, avg);
}

TEST(usage_timeseries_values)
{
    ig_logstore_t *ls = open_ls("series", ORG_A);
    static ig_logrec_t recs[200];
    ig_usage_point_t p[8];
    size_t n = 99;
    const int64_t day = H0 - H0 % DAY_MS;
    usage_recs(recs);
    CHECK_EQ_INT(ig_logstore_insert(ls, recs, 200), IG_OK);
    CHECK_EQ_INT(day, H0 - 22 * HOUR_MS);

    CHECK_EQ_INT(ig_logstore_usage_timeseries(ls, 0, 0, IG_USAGE_HOUR, IG_USAGE_BY_NONE, p, 8, &n), IG_OK);
    CHECK_EQ_INT(n, 2);
    check_point(&p[0], H0, "", 100, 12, 9900, 4950, 148500, 29.8);
    check_point(&p[1], H1, "", 100, 0, 1000, 500, 10000, 19.9);
    /* percentiles per bucket: H0 has 2 slow requests of 100 (rank 99 is slow), H1 one (rank 99 is not) */
    const double slow = 0.1 * exp2(53.5 / 4), fast = 0.1 * exp2(26.5 / 4);
    CHECK_NEAR(p[0].p50_latency_ms, fast);
    CHECK_NEAR(p[0].p99_latency_ms, slow);
    CHECK_NEAR(p[1].p50_latency_ms, fast);
    CHECK_NEAR(p[1].p99_latency_ms, fast);

    /* by model: H0 even i are claude-3 (errors 500 x 10 + the error text at i = 2; i = 4's output is
     * unknown; i = 98 is slow), odd i gpt-4o (404 at i = 1; i = 3, 5 unknown input and cost; i = 99 slow) */
    CHECK_EQ_INT(ig_logstore_usage_timeseries(ls, 0, 0, IG_USAGE_HOUR, IG_USAGE_BY_MODEL, p, 8, &n), IG_OK);
    CHECK_EQ_INT(n, 3);
    check_point(&p[0], H0, "claude-3", 50, 11, 5000, 2450, 75000, 29.8);
    check_point(&p[1], H0, "gpt-4o", 50, 1, 4900, 2500, 73500, 29.8);
    check_point(&p[2], H1, "gpt-4o", 100, 0, 1000, 500, 10000, 19.9);

    /* per UTC day by provider: both hours fall on one day */
    CHECK_EQ_INT(ig_logstore_usage_timeseries(ls, 0, 0, IG_USAGE_DAY, IG_USAGE_BY_PROVIDER, p, 8, &n), IG_OK);
    CHECK_EQ_INT(n, 2);
    check_point(&p[0], day, "anthropic", 50, 11, 5000, 2450, 75000, 29.8);
    check_point(&p[1], day, "openai", 150, 1, 5900, 3000, 83500, 23.2); /* (1490 + 1990) / 150 */
    CHECK_NEAR(p[1].p99_latency_ms, slow); /* 2 slow of 150: rank 149 is slow, added across both hours */
    CHECK_NEAR(p[1].p50_latency_ms, fast);

    /* by key: ka = H0 i < 50 plus all of H1, kb = H0 i >= 50 */
    CHECK_EQ_INT(ig_logstore_usage_timeseries(ls, 0, 0, IG_USAGE_DAY, IG_USAGE_BY_KEY, p, 8, &n), IG_OK);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(p[0].group, "ka");
    CHECK_EQ_INT(p[0].requests, 150);
    CHECK_EQ_INT(p[0].errors, 7); /* i = 0, 10, 20, 30, 40 (500), 1 (404), 2 (error text) */
    CHECK_EQ_STR(p[1].group, "kb");
    CHECK_EQ_INT(p[1].requests, 50);
    CHECK_EQ_INT(p[1].errors, 5);
    CHECK_NEAR(p[1].avg_latency_ms, (48 * 10 + 2 * 1000) / 50.0);

    /* range rounding: from inside H1 = all of H1 */
    CHECK_EQ_INT(ig_logstore_usage_timeseries(ls, H1 + 5, 0, IG_USAGE_HOUR, IG_USAGE_BY_KEY, p, 8, &n),
                 IG_OK);
    CHECK_EQ_INT(n, 1);
    check_point(&p[0], H1, "ka", 100, 0, 1000, 500, 10000, 19.9);
    CHECK_EQ_INT(ig_logstore_usage_timeseries(ls, 0, H0, IG_USAGE_HOUR, IG_USAGE_BY_KEY, p, 8, &n), IG_OK);
    CHECK_EQ_INT(n, 0);

    /* too many points for the array */
    CHECK_EQ_INT(ig_logstore_usage_timeseries(ls, 0, 0, IG_USAGE_HOUR, IG_USAGE_BY_KEY, p, 2, &n),
                 IG_ETOOBIG);
    CHECK_EQ_INT(n, 2);
    check_point(&p[0], H0, "ka", 50, 7, 4900, 2450, 73500, 10);
    CHECK_EQ_STR(p[1].group, "kb");
    CHECK_EQ_INT(ig_logstore_usage_timeseries(ls, 0, 0, (ig_usage_gran_t)2, IG_USAGE_BY_KEY, p, 8, &n),
                 IG_EINVAL);
    CHECK_EQ_INT(ig_logstore_usage_timeseries(ls, 0, 0, IG_USAGE_DAY, (ig_usage_group_t)4, p, 8, &n),
                 IG_EINVAL);
    CHECK_EQ_INT(ig_logstore_usage_timeseries(ls, 0, -1, IG_USAGE_DAY, IG_USAGE_BY_KEY, p, 8, &n), IG_EINVAL);
    CHECK_EQ_INT(n, 0);
    ig_logstore_close(ls);
}

/* ---- files ---- */

TEST(orgs_are_independent_and_destroy_removes_files)
{
    ig_logstore_t *a = open_ls("orgs", ORG_A), *b = open_ls("orgs", ORG_B);
    ig_logrec_t recs[5];
    ig_logrow_t row;
    ig_usage_summary_t s;
    char path[256], dir[128];

    for (int i = 0; i < 5; i++)
        base_rec(&recs[i], i, H0 + i);
    CHECK_EQ_INT(ig_logstore_insert(a, recs, 3), IG_OK);
    CHECK_EQ_INT(ig_logstore_insert(b, recs, 5), IG_OK); /* the same ids in another org are other records */
    CHECK_EQ_INT(count_of(a), 3);
    CHECK_EQ_INT(count_of(b), 5);
    CHECK_EQ_INT(ig_logstore_get(a, "req-00004", &row), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_logstore_get(b, "req-00004", &row), IG_OK);
    ig_logrow_free(&row);
    CHECK_EQ_INT(ig_logstore_usage_summary(a, 0, 0, &s), IG_OK);
    CHECK_EQ_INT(s.requests, 3);
    CHECK_EQ_INT(ig_logstore_usage_summary(b, 0, 0, &s), IG_OK);
    CHECK_EQ_INT(s.requests, 5);

    const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++)
        CHECK(exists(db_file(path, sizeof path, "orgs", ORG_A, suffixes[i])));
    ig_logstore_close(a);
    CHECK_EQ_INT(ig_logstore_destroy(sub(dir, sizeof dir, "orgs"), ORG_A), IG_OK);
    for (size_t i = 0; i < 3; i++)
        CHECK(!exists(db_file(path, sizeof path, "orgs", ORG_A, suffixes[i])));
    CHECK_EQ_INT(ig_logstore_destroy(dir, ORG_A), IG_OK); /* already gone */
    CHECK_EQ_INT(ig_logstore_destroy(NULL, ORG_A), IG_EINVAL);

    /* the other org is untouched; the destroyed one starts empty again */
    CHECK_EQ_INT(count_of(b), 5);
    CHECK(exists(db_file(path, sizeof path, "orgs", ORG_B, "")));
    a = open_ls("orgs", ORG_A);
    CHECK_EQ_INT(count_of(a), 0);
    CHECK_EQ_INT(ig_logstore_usage_summary(a, 0, 0, &s), IG_OK);
    CHECK_EQ_INT(s.requests, 0);
    ig_logstore_close(a);
    ig_logstore_close(b);
}

/* ---- concurrency ---- */

#define CW_BATCHES 30
#define CW_BATCH   100

typedef struct {
    int base, failures;
} writer_arg_t;

static volatile int g_writers_done;

static void *writer_main(void *p)
{
    writer_arg_t *w = p;
    ig_logstore_t *ls = open_ls("conc", ORG_A);
    static __thread ig_logrec_t recs[CW_BATCH];
    static __thread uint8_t body[1024];
    fill(body, sizeof body, 3);
    for (int b = 0; ls && b < CW_BATCHES; b++) {
        for (int i = 0; i < CW_BATCH; i++) {
            int k = w->base + b * CW_BATCH + i;
            base_rec(&recs[i], k, H0 + k);
            recs[i].req_body = body;
            recs[i].req_body_len = sizeof body;
            recs[i].input_tokens = 1;
        }
        if (ig_logstore_insert(ls, recs, CW_BATCH) != IG_OK) w->failures++;
    }
    ig_logstore_close(ls);
    __atomic_add_fetch(&g_writers_done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

typedef struct {
    int failures, rounds, non_monotonic;
} reader_arg_t;

static void *reader_main(void *p)
{
    reader_arg_t *r = p;
    ig_logstore_t *ls = open_ls("conc", ORG_A);
    static __thread ig_logrow_t rows[20];
    int64_t last = 0;
    bool more = ls != NULL;
    /* at least one round after both writers are done too: on a slow (sanitizer) build the writers may finish
     * before the reader's first round */
    while (more) {
        more = __atomic_load_n(&g_writers_done, __ATOMIC_SEQ_CST) < 2;
        int64_t c1 = -1, c2 = -1;
        ig_usage_summary_t s;
        char next[IG_LOGSTORE_CURSOR_MAX];
        size_t n = 0;
        if (ig_logstore_count(ls, &c1) || ig_logstore_usage_summary(ls, 0, 0, &s) ||
            ig_logstore_query(ls, NULL, "", true, rows, 20, &n, next) || ig_logstore_count(ls, &c2)) {
            r->failures++;
            continue;
        }
        for (size_t i = 0; i < n; i++)
            ig_logrow_free(&rows[i]);
        /* records and aggregates commit together: each read sees whole batches, in order */
        if (c1 < last || s.requests < c1 || c2 < s.requests || c1 % CW_BATCH || s.requests % CW_BATCH)
            r->non_monotonic++;
        last = c2;
        r->rounds++;
    }
    ig_logstore_close(ls);
    return NULL;
}

TEST(concurrent_writers_and_reader)
{
    ig_logstore_t *ls = open_ls("conc", ORG_A); /* created before the threads race to open it */
    writer_arg_t w1 = {0, 0}, w2 = {100000, 0};
    reader_arg_t r = {0, 0, 0};
    pthread_t t1, t2, t3;
    g_writers_done = 0;
    CHECK_EQ_INT(pthread_create(&t3, NULL, reader_main, &r), 0);
    CHECK_EQ_INT(pthread_create(&t1, NULL, writer_main, &w1), 0);
    CHECK_EQ_INT(pthread_create(&t2, NULL, writer_main, &w2), 0);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    pthread_join(t3, NULL);
    CHECK_EQ_INT(w1.failures, 0);
    CHECK_EQ_INT(w2.failures, 0);
    CHECK_EQ_INT(r.failures, 0);
    CHECK_EQ_INT(r.non_monotonic, 0);
    CHECK(r.rounds > 0);
    CHECK_EQ_INT(count_of(ls), 2 * CW_BATCHES * CW_BATCH);
    ig_usage_summary_t s;
    CHECK_EQ_INT(ig_logstore_usage_summary(ls, 0, 0, &s), IG_OK);
    CHECK_EQ_INT(s.requests, 2 * CW_BATCHES * CW_BATCH);
    CHECK_EQ_INT(s.input_tokens, 2 * CW_BATCHES * CW_BATCH);
    ig_logstore_close(ls);
}

/* ---- throughput (printed, not asserted) ---- */

TEST(throughput_print)
{
    long total = 100000;
    const char *env = getenv("IG_LOGSTORE_BENCH_N");
    if (env) total = strtol(env, NULL, 10);
    if (total <= 0) return;
    ig_logstore_t *ls = open_ls("bench", ORG_A);
    static ig_logrec_t recs[256];
    static uint8_t req[2048], resp[2048], uid[44], ip[32];
    static const char *const models[] = {"gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet"};
    fill(req, sizeof req, 1);
    fill(resp, sizeof resp, 2);
    fill(uid, sizeof uid, 3);
    fill(ip, sizeof ip, 4);
    struct timespec t0, t1;
    struct rusage u0, u1;
    getrusage(RUSAGE_SELF, &u0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long done_n = 0; done_n < total;) {
        size_t n = 0;
        for (; n < 256 && done_n < total; n++, done_n++) {
            ig_logrec_t *r = &recs[n];
            base_rec(r, 0, T0 + done_n * 10);
            snprintf(r->id, sizeof r->id, "%08x-0000-4000-8000-%012x", (unsigned)done_n,
                     (unsigned)(done_n * 2654435761UL));
            snprintf(r->key_id, sizeof r->key_id, "%032lx", done_n % 4);
            snprintf(r->provider, sizeof r->provider, "openai");
            snprintf(r->method, sizeof r->method, "POST");
            r->path = "/v1/chat/completions";
            r->model = models[done_n % 3];
            r->latency_ms = 50 + done_n % 1000;
            r->input_tokens = 500;
            r->output_tokens = 200;
            r->cost_micros = 1234;
            r->req_body = req;
            r->req_body_len = sizeof req;
            r->resp_body = resp;
            r->resp_body_len = sizeof resp;
            r->user_id = uid;
            r->user_id_len = sizeof uid;
            r->client_ip = ip;
            r->client_ip_len = sizeof ip;
            fill(r->user_tag, 16, (uint8_t)(done_n % 50));
            r->has_user_tag = true;
        }
        CHECK_EQ_INT(ig_logstore_insert(ls, recs, n), IG_OK);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    getrusage(RUSAGE_SELF, &u1);
    double cpu =
        (double)(u1.ru_utime.tv_sec - u0.ru_utime.tv_sec + u1.ru_stime.tv_sec - u0.ru_stime.tv_sec) +
        (double)(u1.ru_utime.tv_usec - u0.ru_utime.tv_usec + u1.ru_stime.tv_usec - u0.ru_stime.tv_usec) / 1e6;
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    CHECK_EQ_INT(count_of(ls), total);
    char path[256];
    struct stat sb;
    stat(db_file(path, sizeof path, "bench", ORG_A, ""), &sb);
    double mb = (double)sb.st_size / 1e6;
    stat(db_file(path, sizeof path, "bench", ORG_A, "-wal"), &sb);
    printf(
        "# logstore insert: %ld records (2 KiB request + 2 KiB response ciphertext, 7 indexes, hourly "
        "aggregates) in batches of 256: %.2f s, %.0f records/s, %.1f MB/s of bodies, %.1f us CPU per record; "
        "db %.1f MB + wal %.1f MB\n",
        total, secs, (double)total / secs, (double)total * 4096 / secs / 1e6, cpu * 1e6 / (double)total, mb,
        (double)sb.st_size / 1e6);

    /* retention: everything, in batches of 1000 (the space comes back to the file system on the way) */
    size_t deleted, batches = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        CHECK_EQ_INT(ig_logstore_purge(ls, INT64_MAX, 1000, &deleted), IG_OK);
        batches++;
    } while (deleted);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    CHECK_EQ_INT(count_of(ls), 0);
    stat(db_file(path, sizeof path, "bench", ORG_A, ""), &sb);
    printf("# logstore purge: %ld records in %zu batches of 1000: %.2f s, %.0f records/s, %.1f ms per batch; "
           "db %.1f MB after\n",
           total, batches - 1, secs, (double)total / secs, secs * 1000 / (double)batches,
           (double)sb.st_size / 1e6);
    ig_logstore_close(ls);
}

static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        unlink(path);
        return;
    }
    struct dirent *e;
    char child[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(child, sizeof child, "%s/%s", path, e->d_name);
        remove_tree(child);
    }
    closedir(d);
    rmdir(path);
}

int main(void)
{
    umask(022); /* so the 0600 / 0700 modes come from the store, not from the umask */
    snprintf(g_dir, sizeof g_dir, "/tmp/ingate-logstore-XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(open_creates_private_files);
    RUN(existing_file_keeps_its_page_size);
    RUN(insert_get_round_trip);
    RUN(insert_validation_and_atomicity);
    RUN(replay_is_idempotent);
    RUN(query_filters);
    RUN(guard_findings);
    RUN(query_plans_use_indexes);
    RUN(cursor_paging_equal_timestamps);
    RUN(scan_order_and_early_stop);
    RUN(purge_in_batches);
    RUN(purge_gives_space_back);
    RUN(histogram_buckets_and_accuracy);
    RUN(usage_summary_values);
    RUN(histograms_add_up_across_batches);
    RUN(usage_timeseries_values);
    RUN(orgs_are_independent_and_destroy_removes_files);
    RUN(concurrent_writers_and_reader);
    RUN(throughput_print);
    remove_tree(g_dir);
    UNIT_DONE();
}

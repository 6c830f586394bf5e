/* Unit tests of an org's own audit chain (store/orgaudit.h) in its log database, on files in a fresh
 * temporary directory: the chain's links and hashes, the address sealed (never in the file, opened only with
 * the org's key and only in its own row), filters and cursor, isolation between orgs, tampering found by
 * verification (edits, deletions, rows moved between orgs or envelopes between rows), duplicate ids, two
 * appending handles, and the schema migration of a file made before the table existed. */
#include "unit.h"
#include "core/err.h"
#include "store/orgaudit.h"

#include <dirent.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define ORG_A "0123456789abcdef0123456789abcdef"
#define ORG_B "fedcba9876543210fedcba9876543210"

static char g_dir[64];
static uint8_t g_dk_a[32], g_dk_b[32];

static ig_logstore_t *open_ls(const char *org)
{
    int err = -1;
    ig_logstore_t *ls = ig_logstore_open(g_dir, org, &err);
    CHECK(ls != NULL);
    CHECK_EQ_INT(err, IG_OK);
    return ls;
}

static const char *db_file(char *out, size_t cap, const char *org, const char *suffix)
{
    snprintf(out, cap, "%s/%s.db%s", g_dir, org, suffix);
    return out;
}

/* Runs SQL on the org's file through a separate raw connection (what someone with the file can do). */
static int raw_exec(const char *org, const char *sql)
{
    char path[256];
    sqlite3 *db = NULL;
    int src = sqlite3_open(db_file(path, sizeof path, org, ""), &db);
    if (src == SQLITE_OK) src = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return src;
}

static int64_t raw_int(const char *org, const char *sql)
{
    char path[256];
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    int64_t v = -1;
    if (sqlite3_open(db_file(path, sizeof path, org, ""), &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return v;
}

/* true when needle is in any of the org's files (db, -wal, -shm). */
static bool on_disk(const char *org, const char *needle)
{
    static const char *const sfx[] = {"", "-wal", "-shm"};
    bool found = false;
    for (size_t i = 0; i < 3 && !found; i++) {
        char p[256];
        FILE *f = fopen(db_file(p, sizeof p, org, sfx[i]), "rb");
        if (!f) continue;
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        char *buf = malloc(n > 0 ? (size_t)n : 1);
        if (buf && n > 0 && fread(buf, 1, (size_t)n, f) == (size_t)n)
            found = memmem(buf, (size_t)n, needle, strlen(needle)) != NULL;
        free(buf);
        fclose(f);
    }
    return found;
}

/* An entry of org made by ig_store_audit_new. */
static void entry(ig_audit_t *e, const char *org, const char *actor, const char *action, const char *target,
                  const char *ip, const char *req)
{
    CHECK_EQ_INT(ig_store_audit_new(org, actor, action, target, ip, req, e), IG_OK);
}

TEST(chain_links_and_seals_the_address)
{
    ig_logstore_t *ls = open_ls(ORG_A);
    if (!ls) return;
    int64_t bad = -1, n = -1;
    CHECK_EQ_INT(ig_orgaudit_verify(ls, ORG_A, &bad, &n), IG_OK); /* empty chain */
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(n, 0);

    ig_audit_t e1, e2, got;
    uint8_t zero[32] = {0};
    entry(&e1, ORG_A, "user:u1", "key.create", "k1", "203.0.113.199", "req-1");
    CHECK_EQ_INT(ig_orgaudit_append(ls, g_dk_a, &e1), IG_OK);
    CHECK_EQ_INT(e1.seq, 1);
    CHECK_MEM(e1.prev_hash, zero, 32);
    CHECK_EQ_STR(e1.source_ip, "203.0.113.199");
    entry(&e2, ORG_A, "key:k9", "team.create", "t1", NULL, NULL); /* no address */
    CHECK_EQ_INT(ig_orgaudit_append(ls, g_dk_a, &e2), IG_OK);
    CHECK_EQ_INT(e2.seq, 2);
    CHECK_MEM(e2.prev_hash, e1.hash, 32);

    /* read back in clear, with the org id filled in */
    CHECK_EQ_INT(ig_orgaudit_get(ls, g_dk_a, ORG_A, e1.id, &got), IG_OK);
    CHECK_EQ_STR(got.source_ip, "203.0.113.199");
    CHECK_EQ_STR(got.org_id, ORG_A);
    CHECK_EQ_STR(got.actor, "user:u1");
    CHECK_EQ_STR(got.target, "k1");
    CHECK_EQ_STR(got.request_id, "req-1");
    CHECK_EQ_INT(got.created_at, e1.created_at);
    CHECK_MEM(got.hash, e1.hash, 32);
    CHECK_EQ_INT(ig_orgaudit_get(ls, g_dk_a, ORG_A, e2.id, &got), IG_OK);
    CHECK_EQ_STR(got.source_ip, "");
    CHECK_EQ_INT(ig_orgaudit_get(ls, g_dk_a, ORG_A, "00000000000000000000000000000000", &got), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_orgaudit_get(ls, g_dk_a, ORG_A, "0123456789abcdef0123456789abcdef0", &got), IG_ENOTFOUND);

    /* the hash covers the envelope as stored, tagged as an org chain of this org */
    CHECK_EQ_INT(ig_orgaudit_verify(ls, ORG_A, &bad, &n), IG_OK);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(raw_int(ORG_A, "SELECT length(source_ip) FROM audit WHERE seq = 1"), 13 + 33);
    CHECK_EQ_INT(raw_int(ORG_A, "SELECT source_ip IS NULL FROM audit WHERE seq = 2"), 1);

    /* the same id twice: refused, nothing written */
    ig_audit_t dup = e1;
    CHECK_EQ_INT(ig_orgaudit_append(ls, g_dk_a, &dup), IG_ECONFLICT);
    CHECK_EQ_INT(raw_int(ORG_A, "SELECT COUNT(*) FROM audit"), 2);
    /* bad input */
    ig_audit_t x;
    entry(&x, ORG_A, "u", "a.b", NULL, NULL, NULL);
    x.org_id[0] = 'X';
    CHECK_EQ_INT(ig_orgaudit_append(ls, g_dk_a, &x), IG_EINVAL);
    entry(&x, NULL, "u", "a.b", NULL, NULL, NULL);
    CHECK_EQ_INT(ig_orgaudit_append(ls, g_dk_a, &x), IG_EINVAL); /* no org */
    entry(&x, ORG_A, "u", "a.b", NULL, NULL, NULL);
    x.created_at = 0;
    CHECK_EQ_INT(ig_orgaudit_append(ls, g_dk_a, &x), IG_EINVAL);
    CHECK_EQ_INT(ig_orgaudit_verify(ls, ORG_A, NULL, NULL), IG_EINVAL);
    ig_logstore_close(ls);

    /* never in clear in the file, even after a checkpoint */
    CHECK(!on_disk(ORG_A, "203.0.113.199"));
    CHECK(on_disk(ORG_A, "team.create")); /* the scan works: actions are in clear */

    /* another key cannot read it; an envelope moved to another row does not open either */
    ls = open_ls(ORG_A);
    if (!ls) return;
    CHECK_EQ_INT(ig_orgaudit_get(ls, g_dk_b, ORG_A, e1.id, &got), IG_EINTERNAL);
    CHECK_EQ_INT(ig_orgaudit_verify(ls, ORG_A, &bad, NULL), IG_OK); /* verification needs no key */
    ig_logstore_close(ls);
    CHECK_EQ_INT(raw_exec(ORG_A, "UPDATE audit SET source_ip = (SELECT source_ip FROM audit WHERE seq = 1)"
                                 " WHERE seq = 2"),
                 SQLITE_OK);
    ls = open_ls(ORG_A);
    if (!ls) return;
    CHECK_EQ_INT(ig_orgaudit_get(ls, g_dk_a, ORG_A, e2.id, &got), IG_EINTERNAL);
    CHECK_EQ_INT(ig_orgaudit_verify(ls, ORG_A, &bad, NULL), IG_ECONFLICT);
    CHECK_EQ_INT(bad, 2);
    ig_logstore_close(ls);
}

TEST(query_filters_and_cursor)
{
    ig_logstore_t *ls = open_ls(ORG_B);
    if (!ls) return;
    ig_audit_t e[6], out[10];
    size_t n = 0;
    const char *act[6] = {"key.create", "key.revoke", "key.create",
                          "org.update", "key.create", "login.success"};
    const char *who[6] = {"user:1", "user:2", "user:1", "user:1", "key:9", "user:1"};
    for (int i = 0; i < 6; i++) {
        char target[16];
        snprintf(target, sizeof target, "k%d", i % 2);
        entry(&e[i], ORG_B, who[i], act[i], target, "192.0.2.1", NULL);
        e[i].created_at = 1000 + 10 * i; /* distinct times for the range filters */
        CHECK_EQ_INT(ig_orgaudit_append(ls, g_dk_b, &e[i]), IG_OK);
    }
    CHECK_EQ_INT(ig_orgaudit_query(ls, g_dk_b, ORG_B, NULL, INT64_MAX, out, 10, &n), IG_OK);
    CHECK_EQ_INT(n, 6);
    CHECK_EQ_STR(out[0].id, e[5].id); /* newest first */
    CHECK_EQ_STR(out[5].id, e[0].id);
    CHECK_EQ_STR(out[3].source_ip, "192.0.2.1");
    ig_audit_filter_t f = {.action = "key.create"};
    CHECK_EQ_INT(ig_orgaudit_query(ls, g_dk_b, ORG_B, &f, INT64_MAX, out, 10, &n), IG_OK);
    CHECK_EQ_INT(n, 3);
    f = (ig_audit_filter_t){.action = "key.create", .actor = "user:1"};
    CHECK_EQ_INT(ig_orgaudit_query(ls, g_dk_b, ORG_B, &f, INT64_MAX, out, 10, &n), IG_OK);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(out[0].id, e[2].id);
    f = (ig_audit_filter_t){.target = "k1", .actor = ""};
    CHECK_EQ_INT(ig_orgaudit_query(ls, g_dk_b, ORG_B, &f, INT64_MAX, out, 10, &n), IG_OK);
    CHECK_EQ_INT(n, 3);
    f = (ig_audit_filter_t){.since = 1020, .until = 1040};
    CHECK_EQ_INT(ig_orgaudit_query(ls, g_dk_b, ORG_B, &f, INT64_MAX, out, 10, &n), IG_OK);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_STR(out[0].id, e[4].id);
    CHECK_EQ_STR(out[2].id, e[2].id);
    /* paging inside a filter: the last seq is the cursor */
    f = (ig_audit_filter_t){.actor = "user:1"};
    CHECK_EQ_INT(ig_orgaudit_query(ls, g_dk_b, ORG_B, &f, INT64_MAX, out, 2, &n), IG_OK);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(out[1].id, e[3].id);
    CHECK_EQ_INT(ig_orgaudit_query(ls, g_dk_b, ORG_B, &f, out[1].seq, out, 2, &n), IG_OK);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(out[0].id, e[2].id);
    CHECK_EQ_STR(out[1].id, e[0].id);
    /* nothing can match: an empty page, not an error */
    f = (ig_audit_filter_t){.since = 2000, .until = 1000};
    n = 9;
    CHECK_EQ_INT(ig_orgaudit_query(ls, g_dk_b, ORG_B, &f, INT64_MAX, out, 10, &n), IG_OK);
    CHECK_EQ_INT(n, 0);
    char long_action[80];
    memset(long_action, 'a', 79);
    long_action[79] = '\0';
    f = (ig_audit_filter_t){.action = long_action};
    CHECK_EQ_INT(ig_orgaudit_query(ls, g_dk_b, ORG_B, &f, INT64_MAX, out, 10, &n), IG_OK);
    CHECK_EQ_INT(n, 0);
    /* bad arguments */
    f = (ig_audit_filter_t){.since = -1};
    CHECK_EQ_INT(ig_orgaudit_query(ls, g_dk_b, ORG_B, &f, INT64_MAX, out, 10, &n), IG_EINVAL);
    CHECK_EQ_INT(ig_orgaudit_query(ls, g_dk_b, ORG_B, NULL, INT64_MAX, out, 0, &n), IG_EINVAL);
    CHECK_EQ_INT(ig_orgaudit_query(ls, g_dk_b, ORG_B, NULL, INT64_MAX, out, 1001, &n), IG_EINVAL);
    CHECK_EQ_INT(ig_orgaudit_query(ls, g_dk_b, "nope", NULL, INT64_MAX, out, 10, &n), IG_EINVAL);
    ig_logstore_close(ls);
}

TEST(orgs_are_isolated)
{
    /* each org's entries are in its own file: another org's id is simply not there */
    ig_logstore_t *a = open_ls(ORG_A), *b = open_ls(ORG_B);
    if (!a || !b) goto out;
    ig_audit_t ea, got;
    entry(&ea, ORG_A, "user:1", "app.create", "a1", "10.0.0.1", NULL);
    CHECK_EQ_INT(ig_orgaudit_append(a, g_dk_a, &ea), IG_OK);
    CHECK_EQ_INT(ig_orgaudit_get(b, g_dk_b, ORG_B, ea.id, &got), IG_ENOTFOUND);
    /* an org's entry appended to another org's file is refused: the org id is the file's */
    ig_audit_t eb = ea;
    memcpy(eb.id, "11111111111111111111111111111111", 33);
    CHECK_EQ_INT(ig_orgaudit_append(b, g_dk_b, &eb), IG_OK); /* the caller names the org: the wrong one */
    int64_t bad = -1;
    CHECK_EQ_INT(ig_orgaudit_verify(b, ORG_B, &bad, NULL), IG_ECONFLICT); /* hashed for ORG_A */
out:
    ig_logstore_close(a);
    ig_logstore_close(b);
}

TEST(tampering_is_detected)
{
    static const char org[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    ig_logstore_t *ls = open_ls(org);
    if (!ls) return;
    for (int i = 0; i < 6; i++) {
        ig_audit_t e;
        entry(&e, org, "user:1", "key.create", "k", "192.0.2.9", "r");
        CHECK_EQ_INT(ig_orgaudit_append(ls, g_dk_a, &e), IG_OK);
    }
    int64_t bad = -1, n = 0;
    CHECK_EQ_INT(ig_orgaudit_verify(ls, org, &bad, &n), IG_OK);
    CHECK_EQ_INT(n, 6);
    /* an edited field: found at that entry */
    CHECK_EQ_INT(raw_exec(org, "UPDATE audit SET target = 'other' WHERE seq = 3"), SQLITE_OK);
    CHECK_EQ_INT(ig_orgaudit_verify(ls, org, &bad, &n), IG_ECONFLICT);
    CHECK_EQ_INT(bad, 3);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(raw_exec(org, "UPDATE audit SET target = 'k' WHERE seq = 3"), SQLITE_OK);
    CHECK_EQ_INT(ig_orgaudit_verify(ls, org, &bad, NULL), IG_OK);
    /* a recomputed-looking hash only moves the break to the next entry */
    CHECK_EQ_INT(raw_exec(org, "UPDATE audit SET hash = zeroblob(32) WHERE seq = 4"), SQLITE_OK);
    CHECK_EQ_INT(ig_orgaudit_verify(ls, org, &bad, NULL), IG_ECONFLICT);
    CHECK_EQ_INT(bad, 4);
    /* a deleted entry: found at the next one; a deleted first entry too */
    CHECK_EQ_INT(raw_exec(org, "DELETE FROM audit WHERE seq >= 4"), SQLITE_OK);
    CHECK_EQ_INT(ig_orgaudit_verify(ls, org, &bad, NULL), IG_OK); /* the newest: not detectable alone */
    CHECK_EQ_INT(raw_exec(org, "DELETE FROM audit WHERE seq = 2"), SQLITE_OK);
    CHECK_EQ_INT(ig_orgaudit_verify(ls, org, &bad, NULL), IG_ECONFLICT);
    CHECK_EQ_INT(bad, 3);
    CHECK_EQ_INT(raw_exec(org, "DELETE FROM audit WHERE seq = 1"), SQLITE_OK);
    CHECK_EQ_INT(ig_orgaudit_verify(ls, org, &bad, NULL), IG_ECONFLICT);
    CHECK_EQ_INT(bad, 3);
    /* a value our writer cannot have stored is a break, not an internal error */
    CHECK_EQ_INT(raw_exec(org, "UPDATE audit SET source_ip = zeroblob(200) WHERE seq = 3"), SQLITE_OK);
    CHECK_EQ_INT(ig_orgaudit_verify(ls, org, &bad, NULL), IG_ECONFLICT);
    CHECK_EQ_INT(bad, 3);
    ig_logstore_close(ls);
}

typedef struct {
    int rc;
    int n;
} appender_t;

static void *appender(void *p)
{
    appender_t *a = p;
    int err = 0;
    ig_logstore_t *ls = ig_logstore_open(g_dir, "cccccccccccccccccccccccccccccccc", &err);
    a->rc = ls ? IG_OK : err;
    for (int i = 0; i < a->n && a->rc == IG_OK; i++) {
        ig_audit_t e;
        a->rc = ig_store_audit_new("cccccccccccccccccccccccccccccccc", "worker", "conc.append", NULL, "::1",
                                   NULL, &e);
        if (a->rc == IG_OK) a->rc = ig_orgaudit_append(ls, g_dk_a, &e);
    }
    ig_logstore_close(ls);
    return NULL;
}

TEST(concurrent_appenders_keep_one_chain)
{
    pthread_t t[2];
    appender_t args[2] = {{-1, 100}, {-1, 100}};
    for (int i = 0; i < 2; i++)
        CHECK_EQ_INT(pthread_create(&t[i], NULL, appender, &args[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ_INT(args[0].rc, IG_OK);
    CHECK_EQ_INT(args[1].rc, IG_OK);
    ig_logstore_t *ls = open_ls("cccccccccccccccccccccccccccccccc");
    if (!ls) return;
    int64_t bad = -1, n = 0;
    CHECK_EQ_INT(ig_orgaudit_verify(ls, "cccccccccccccccccccccccccccccccc", &bad, &n), IG_OK);
    CHECK_EQ_INT(n, 200);
    ig_logstore_close(ls);
    CHECK_EQ_INT(raw_int("cccccccccccccccccccccccccccccccc", "SELECT MAX(seq) FROM audit"), 200);
}

TEST(v1_file_gets_the_table)
{
    /* a log database made before the audit table (schema v1) gains it, empty, and keeps its logs */
    static const char org[] = "dddddddddddddddddddddddddddddddd";
    ig_logstore_t *ls = open_ls(org);
    if (!ls) return;
    ig_logstore_close(ls);
    CHECK_EQ_INT(raw_exec(org, "DROP TABLE audit; DROP TRIGGER log_guard_purge; DROP TABLE log_guard;"
                               " DELETE FROM schema_migrations WHERE version >= 2;"
                               " INSERT INTO logs (id, path, status, stream, latency_ms, ttfb_ms, req_bytes,"
                               " resp_bytes, req_truncated, resp_truncated, cache_hit, created_at)"
                               " VALUES ('r1', '/v1/x', 200, 0, 1, 1, 0, 0, 0, 0, 0, 1)"),
                 SQLITE_OK);
    CHECK_EQ_INT(raw_int(org, "SELECT MAX(version) FROM schema_migrations"), 1);
    ls = open_ls(org);
    if (!ls) return;
    CHECK_EQ_INT(raw_int(org, "SELECT MAX(version) FROM schema_migrations"), IG_LOGSTORE_SCHEMA_VERSION);
    CHECK_EQ_INT(raw_int(org, "SELECT COUNT(*) FROM logs"), 1);
    ig_audit_t e;
    entry(&e, org, "operator", "org.create", org, NULL, NULL);
    CHECK_EQ_INT(ig_orgaudit_append(ls, g_dk_a, &e), IG_OK);
    CHECK_EQ_INT(e.seq, 1);
    int64_t bad = -1;
    CHECK_EQ_INT(ig_orgaudit_verify(ls, org, &bad, NULL), IG_OK);
    ig_logstore_close(ls);
}

static void remove_dir(void)
{
    DIR *d = opendir(g_dir);
    if (!d) return;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(path, sizeof path, "%s/%s", g_dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(g_dir);
}

int main(void)
{
    umask(077);
    snprintf(g_dir, sizeof g_dir, "/tmp/ingate-orgaudit-XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    memset(g_dk_a, 0x11, sizeof g_dk_a);
    memset(g_dk_b, 0x22, sizeof g_dk_b);
    RUN(chain_links_and_seals_the_address);
    RUN(query_filters_and_cursor);
    RUN(orgs_are_isolated);
    RUN(tampering_is_detected);
    RUN(concurrent_appenders_keep_one_chain);
    RUN(v1_file_gets_the_table);
    remove_dir();
    UNIT_DONE();
}

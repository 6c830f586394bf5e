/* Unit tests of the audit log's routing and checks (capture/auditlog.h) over a control store and per-org
 * databases in a fresh temporary directory: org entries go to the org's own chain and the rest (no org,
 * org.delete) to the control chain; no address is in clear in any file; the check of all chains names the
 * first broken link (chain, org, seq); and the start-up upgrade of the single chain of schemas 2-3 moves each
 * entry where it belongs, keeps its id, time and fields, survives an interrupted earlier run, and leaves a
 * broken chain alone. */
#include "unit.h"
#include "capture/auditlog.h"
#include "core/err.h"
#include "store/orgaudit.h"

#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[64];
static char g_logs[128];
static uint8_t g_kek[32];

static const char *path_of(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", g_dir, name);
    return out;
}

static ig_store_t *open_db(const char *name)
{
    char p[128];
    int err = 0;
    ig_store_t *st = ig_store_open(path_of(p, sizeof p, name), &err);
    CHECK(st != NULL);
    if (st) CHECK_EQ_INT(ig_store_migrate(st), IG_OK);
    return st;
}

static ig_orgcache_t *new_cache(void)
{
    ig_orgctx_conf_t conf = {g_logs, g_kek, 1, false};
    ig_orgcache_t *c = ig_orgcache_new(&conf, 8);
    CHECK(c != NULL);
    return c;
}

static int raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    int src = sqlite3_open(path, &db);
    if (src == SQLITE_OK) src = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return src;
}

static int64_t raw_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    int64_t v = -1;
    if (sqlite3_open(path, &db) == SQLITE_OK && sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return v;
}

static bool file_has(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc(n > 0 ? (size_t)n : 1);
    bool found = buf && n > 0 && fread(buf, 1, (size_t)n, f) == (size_t)n &&
                 memmem(buf, (size_t)n, needle, strlen(needle)) != NULL;
    free(buf);
    fclose(f);
    return found;
}

/* true when needle is in any file under g_dir (one level of subdirectories: the org databases). */
static bool on_disk(const char *needle)
{
    const char *dirs[2] = {g_dir, g_logs};
    bool found = false;
    for (int i = 0; i < 2 && !found; i++) {
        DIR *d = opendir(dirs[i]);
        struct dirent *e;
        while (d && (e = readdir(d)) && !found) {
            char p[400];
            snprintf(p, sizeof p, "%s/%s", dirs[i], e->d_name);
            struct stat sb;
            if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode)) found = file_has(p, needle);
        }
        if (d) closedir(d);
    }
    return found;
}

static const char *org_file(char *out, size_t cap, const char *org_id)
{
    snprintf(out, cap, "%s/%s.db", g_logs, org_id);
    return out;
}

TEST(entries_go_to_their_chain)
{
    uint8_t idk[32];
    memset(idk, 3, sizeof idk);
    CHECK_EQ_INT(ig_store_set_identity_key(idk), IG_OK);
    ig_store_t *st = open_db("route.db");
    ig_orgcache_t *oc = new_cache();
    if (!st || !oc) goto out;
    ig_org_t a, b;
    CHECK_EQ_INT(ig_store_org_create(st, "route-a", "A", &a), IG_OK);
    CHECK_EQ_INT(ig_store_org_create(st, "route-b", "B", &b), IG_OK);
    ig_audit_t e1, e2, e3, e4, got, out[8];
    size_t n = 0;
    CHECK_EQ_INT(ig_auditlog_append(st, oc, a.id, "user:1", "key.create", "k1", "198.51.100.23", "r1", &e1),
                 IG_OK);
    CHECK_EQ_INT(e1.seq, 1);
    CHECK_EQ_INT(ig_auditlog_append(st, oc, b.id, "user:2", "team.create", "t1", "198.51.100.24", "r2", &e2),
                 IG_OK);
    CHECK_EQ_INT(e2.seq, 1); /* each org its own chain */
    CHECK_EQ_INT(
        ig_auditlog_append(st, oc, NULL, "anonymous", "login.failure", NULL, "198.51.100.25", "r3", &e3),
        IG_OK);
    CHECK_EQ_INT(ig_auditlog_append(st, oc, b.id, "user:2", "org.delete", b.id, "198.51.100.26", "r4", &e4),
                 IG_OK);
    CHECK_EQ_INT(e4.seq, 2); /* the control chain: login.failure was 1 */
    /* the org's chain through the API's calls, the control chain through the store */
    CHECK_EQ_INT(ig_auditlog_query(st, oc, a.id, NULL, INT64_MAX, out, 8, &n), IG_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_STR(out[0].id, e1.id);
    CHECK_EQ_STR(out[0].source_ip, "198.51.100.23");
    CHECK_EQ_INT(ig_auditlog_query(st, oc, b.id, NULL, INT64_MAX, out, 8, &n), IG_OK);
    CHECK_EQ_INT(n, 1); /* org.delete is not in b's own chain */
    CHECK_EQ_INT(ig_store_audit_list(st, b.id, INT64_MAX, out, 8, &n), IG_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_STR(out[0].action, "org.delete");
    CHECK_EQ_STR(out[0].source_ip, "198.51.100.26");
    CHECK_EQ_INT(ig_store_audit_list(st, a.id, INT64_MAX, out, 8, &n), IG_OK);
    CHECK_EQ_INT(n, 0);
    /* get: the org's own entry only */
    CHECK_EQ_INT(ig_auditlog_get(st, oc, a.id, e1.id, &got), IG_OK);
    CHECK_EQ_STR(got.target, "k1");
    CHECK_EQ_INT(ig_auditlog_get(st, oc, b.id, e1.id, &got), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_auditlog_get(st, oc, a.id, e3.id, &got), IG_ENOTFOUND); /* a control entry */
    /* no cache for an org entry; an unknown org */
    CHECK_EQ_INT(ig_auditlog_append(st, NULL, a.id, "u", "a.b", NULL, NULL, NULL, NULL), IG_EUNAVAILABLE);
    CHECK_EQ_INT(ig_auditlog_append(st, NULL, NULL, "u", "a.b", NULL, NULL, NULL, NULL), IG_OK);
    CHECK_EQ_INT(
        ig_auditlog_append(st, oc, "00000000000000000000000000000000", "u", "a.b", NULL, NULL, NULL, NULL),
        IG_ENOTFOUND);
    CHECK_EQ_INT(ig_auditlog_append(st, oc, a.id, "u", "a b", NULL, NULL, NULL, NULL), IG_EINVAL);

    ig_auditlog_check_t chk;
    CHECK_EQ_INT(ig_auditlog_verify(st, g_logs, &chk), IG_OK);
    CHECK_EQ_INT(chk.orgs, 2);
    CHECK_EQ_INT(chk.entries, 2);
out:
    ig_orgcache_free(oc);
    ig_store_close(st);
    /* closed (checkpointed): no address in clear in the control database nor in the org databases */
    CHECK(!on_disk("198.51.100.2"));
    CHECK(on_disk("login.failure")); /* the scan works */
    ig_store_set_identity_key(NULL);
}

TEST(verify_names_the_broken_link)
{
    ig_store_t *st = open_db("verify.db");
    ig_orgcache_t *oc = new_cache();
    ig_org_t a, b, c;
    char p[256], sql[256];
    if (!st || !oc) goto out;
    CHECK_EQ_INT(ig_store_org_create(st, "verify-a", "A", &a), IG_OK);
    CHECK_EQ_INT(ig_store_org_create(st, "verify-b", "B", &b), IG_OK);
    CHECK_EQ_INT(ig_store_org_create(st, "verify-c", "C", &c), IG_OK); /* no entries: no file */
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(ig_auditlog_append(st, oc, a.id, "user:1", "key.create", "k", "192.0.2.1", NULL, NULL),
                     IG_OK);
        CHECK_EQ_INT(ig_auditlog_append(st, oc, b.id, "user:1", "key.create", "k", "192.0.2.1", NULL, NULL),
                     IG_OK);
        CHECK_EQ_INT(
            ig_auditlog_append(st, oc, NULL, "anonymous", "login.failure", NULL, "192.0.2.1", NULL, NULL),
            IG_OK);
    }
    ig_orgcache_free(oc);
    oc = NULL;
    ig_auditlog_check_t chk;
    CHECK_EQ_INT(ig_auditlog_verify(st, g_logs, &chk), IG_OK);
    CHECK_EQ_INT(chk.orgs, 3);
    CHECK_EQ_INT(chk.entries, 6);
    /* an org's row edited with the sqlite3 CLI's means: named by org and seq */
    CHECK_EQ_INT(
        raw_exec(org_file(p, sizeof p, b.id), "UPDATE audit SET action = 'key.revoke' WHERE seq = 2"),
        SQLITE_OK);
    CHECK_EQ_INT(ig_auditlog_verify(st, g_logs, &chk), IG_ECONFLICT);
    CHECK_EQ_STR(chk.chain, "org");
    CHECK_EQ_STR(chk.org_id, b.id);
    CHECK_EQ_INT(chk.bad_seq, 2);
    CHECK_EQ_INT(
        raw_exec(org_file(p, sizeof p, b.id), "UPDATE audit SET action = 'key.create' WHERE seq = 2"),
        SQLITE_OK);
    CHECK_EQ_INT(ig_auditlog_verify(st, g_logs, &chk), IG_OK);
    /* the control chain is checked first */
    snprintf(sql, sizeof sql, "UPDATE audit SET actor = 'someone' WHERE seq = 3");
    CHECK_EQ_INT(raw_exec(path_of(p, sizeof p, "verify.db"), sql), SQLITE_OK);
    CHECK_EQ_INT(ig_auditlog_verify(st, g_logs, &chk), IG_ECONFLICT);
    CHECK_EQ_STR(chk.chain, "control");
    CHECK_EQ_STR(chk.org_id, "");
    CHECK_EQ_INT(chk.bad_seq, 3);
out:
    ig_orgcache_free(oc);
    ig_store_close(st);
}

/* Adds an entry to the legacy table (audit_v1) exactly as a v2/v3 gateway wrote it: the address in clear,
 * hashed by ig_store_audit_hash after prev. */
static void legacy_add(const char *db, int64_t seq, const char *org, const char *action, const char *ip,
                       uint8_t prev[32], ig_audit_t *out)
{
    ig_audit_t e;
    CHECK_EQ_INT(ig_store_audit_new(org, "user:old", action, "tgt", ip, "req-old", &e), IG_OK);
    e.seq = seq;
    e.created_at = 1700000000000LL + seq;
    memcpy(e.prev_hash, prev, 32);
    ig_store_audit_hash(&e, e.hash);
    memcpy(prev, e.hash, 32);
    sqlite3 *h = NULL;
    sqlite3_stmt *q = NULL;
    CHECK_EQ_INT(sqlite3_open(db, &h), SQLITE_OK);
    CHECK_EQ_INT(
        sqlite3_prepare_v2(h,
                           "INSERT INTO audit_v1 (seq, id, org_id, actor, action, target, source_ip,"
                           " request_id, created_at, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?,"
                           " ?, ?)",
                           -1, &q, NULL),
        SQLITE_OK);
    sqlite3_bind_int64(q, 1, e.seq);
    sqlite3_bind_text(q, 2, e.id, -1, SQLITE_STATIC);
    if (org)
        sqlite3_bind_text(q, 3, org, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(q, 3);
    sqlite3_bind_text(q, 4, e.actor, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 5, e.action, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 6, e.target, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 7, ip, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 8, e.request_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 9, e.created_at);
    sqlite3_bind_blob(q, 10, e.prev_hash, 32, SQLITE_STATIC);
    sqlite3_bind_blob(q, 11, e.hash, 32, SQLITE_STATIC);
    CHECK_EQ_INT(sqlite3_step(q), SQLITE_DONE);
    sqlite3_finalize(q);
    sqlite3_close(h);
    if (out) *out = e;
}

TEST(upgrade_moves_the_legacy_chain)
{
    static const char gone[] = "99999999999999999999999999999999"; /* an org deleted before the upgrade */
    uint8_t idk[32], prev[32] = {0}, head[32];
    memset(idk, 4, sizeof idk);
    CHECK_EQ_INT(ig_store_set_identity_key(idk), IG_OK);
    ig_store_t *st = open_db("upgrade.db");
    ig_orgcache_t *oc = new_cache();
    char db[128];
    path_of(db, sizeof db, "upgrade.db");
    if (!st || !oc) goto out;
    ig_org_t a, b;
    CHECK_EQ_INT(ig_store_org_create(st, "upgrade-a", "A", &a), IG_OK);
    CHECK_EQ_INT(ig_store_org_create(st, "upgrade-b", "B", &b), IG_OK);
    ig_audit_t l[7];
    legacy_add(db, 1, a.id, "org.create", "203.0.113.101", prev, &l[0]);
    legacy_add(db, 2, NULL, "login.failure", "203.0.113.102", prev, &l[1]);
    legacy_add(db, 3, b.id, "team.create", "203.0.113.103", prev, &l[2]);
    legacy_add(db, 4, gone, "key.create", "203.0.113.104", prev, &l[3]);
    legacy_add(db, 5, gone, "org.delete", "203.0.113.105", prev, &l[4]);
    legacy_add(db, 6, a.id, "login.success", "203.0.113.106", prev, &l[5]);
    legacy_add(db, 7, b.id, "app.create", NULL, prev, &l[6]);
    memcpy(head, prev, 32);
    /* a new entry of org a written by the upgraded gateway before the upgrade ran */
    ig_audit_t fresh;
    CHECK_EQ_INT(
        ig_auditlog_append(st, oc, a.id, "user:new", "key.create", "k", "203.0.113.107", NULL, &fresh),
        IG_OK);
    /* an interrupted earlier run had copied l[2] into b's chain already */
    ig_orgctx_t *o = NULL;
    ig_logstore_t *ls = NULL;
    CHECK_EQ_INT(ig_orgcache_get(oc, st, b.id, &o), IG_OK);
    CHECK_EQ_INT(ig_orgcache_logstore(oc, o, &ls), IG_OK);
    ig_audit_t copy = l[2];
    CHECK_EQ_INT(ig_orgaudit_append(ls, o->dk, &copy), IG_OK);

    ig_auditlog_check_t chk;
    CHECK_EQ_INT(ig_auditlog_verify(st, g_logs, &chk), IG_OK); /* the legacy chain is checked too */
    size_t moved = 0;
    int64_t bad = -1;
    CHECK_EQ_INT(ig_auditlog_upgrade(st, oc, &moved, &bad), IG_OK);
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(moved, 6); /* 2 to a, 1 to b (the other was there), 3 to the control chain */
    CHECK_EQ_INT(raw_int(db, "SELECT COUNT(*) FROM audit_v1"), 0);

    /* each org's entries: same id, time, fields and address, in its chain after what it had */
    ig_audit_t out[10], got;
    size_t n = 0;
    CHECK_EQ_INT(ig_auditlog_query(st, oc, a.id, NULL, INT64_MAX, out, 10, &n), IG_OK);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_STR(out[2].id, fresh.id);
    CHECK_EQ_STR(out[1].id, l[0].id);
    CHECK_EQ_STR(out[0].id, l[5].id);
    CHECK_EQ_INT(out[1].created_at, l[0].created_at);
    CHECK_EQ_STR(out[1].source_ip, "203.0.113.101");
    CHECK_EQ_STR(out[1].actor, "user:old");
    CHECK_EQ_STR(out[1].request_id, "req-old");
    CHECK_EQ_INT(ig_auditlog_get(st, oc, b.id, l[6].id, &got), IG_OK);
    CHECK_EQ_STR(got.source_ip, "");
    CHECK_EQ_INT(ig_auditlog_query(st, oc, b.id, NULL, INT64_MAX, out, 10, &n), IG_OK);
    CHECK_EQ_INT(n, 2); /* no duplicate of the earlier copy */
    /* the control chain: no org, the deleted org's entries (its deletion record too), then the upgrade */
    CHECK_EQ_INT(ig_store_audit_list(st, gone, INT64_MAX, out, 10, &n), IG_OK);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(out[0].id, l[4].id);
    CHECK_EQ_STR(out[0].source_ip, "203.0.113.105");
    CHECK_EQ_INT(raw_int(db, "SELECT COUNT(*) FROM audit"), 4);
    char hex[65], sql[200];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", head[i]);
    snprintf(sql, sizeof sql,
             "SELECT COUNT(*) FROM audit WHERE seq = 4 AND action = 'audit.upgrade' AND target = '%s'", hex);
    CHECK_EQ_INT(raw_int(db, sql), 1);
    CHECK_EQ_INT(ig_auditlog_verify(st, g_logs, &chk), IG_OK);
    CHECK_EQ_INT(chk.entries, 5);

    /* idempotent: nothing left to do */
    CHECK_EQ_INT(ig_auditlog_upgrade(st, oc, &moved, &bad), IG_OK);
    CHECK_EQ_INT(moved, 0);
    CHECK_EQ_INT(raw_int(db, "SELECT COUNT(*) FROM audit"), 4);
out:
    ig_orgcache_free(oc);
    ig_store_close(st);
    st = open_db("upgrade.db"); /* a checkpoint of what the upgrade deleted (secure_delete) */
    ig_store_close(st);
    CHECK(!on_disk("203.0.113.10"));
    CHECK(on_disk("audit.upgrade")); /* the scan works */
    ig_store_set_identity_key(NULL);
}

TEST(upgrade_leaves_a_broken_chain_alone)
{
    uint8_t prev[32] = {0};
    ig_store_t *st = open_db("broken.db");
    ig_orgcache_t *oc = new_cache();
    char db[128];
    path_of(db, sizeof db, "broken.db");
    if (!st || !oc) goto out;
    ig_org_t a;
    CHECK_EQ_INT(ig_store_org_create(st, "broken-a", "A", &a), IG_OK);
    for (int i = 1; i <= 4; i++)
        legacy_add(db, i, a.id, "key.create", "192.0.2.50", prev, NULL);
    CHECK_EQ_INT(raw_exec(db, "UPDATE audit_v1 SET target = 'edited' WHERE seq = 3"), SQLITE_OK);
    size_t moved = 9;
    int64_t bad = 0;
    CHECK_EQ_INT(ig_auditlog_upgrade(st, oc, &moved, &bad), IG_ECONFLICT);
    CHECK_EQ_INT(bad, 3);
    CHECK_EQ_INT(moved, 0);
    CHECK_EQ_INT(raw_int(db, "SELECT COUNT(*) FROM audit_v1"), 4);
    ig_audit_t out[4];
    size_t n = 9;
    CHECK_EQ_INT(ig_auditlog_query(st, oc, a.id, NULL, INT64_MAX, out, 4, &n), IG_OK);
    CHECK_EQ_INT(n, 0);
    ig_auditlog_check_t chk;
    CHECK_EQ_INT(ig_auditlog_verify(st, g_logs, &chk), IG_ECONFLICT);
    CHECK_EQ_STR(chk.chain, "legacy");
    CHECK_EQ_INT(chk.bad_seq, 3);
    /* the head moved between the check and the end: the end refuses */
    uint8_t h[32];
    int64_t last = 0;
    CHECK_EQ_INT(raw_exec(db, "UPDATE audit_v1 SET target = 'tgt' WHERE seq = 3"), SQLITE_OK);
    CHECK_EQ_INT(ig_store_audit_legacy_verify(st, &bad, &last, h), IG_OK);
    CHECK_EQ_INT(last, 4);
    h[0] ^= 1;
    size_t kept = 9;
    CHECK_EQ_INT(ig_store_audit_legacy_finish(st, last, h, &kept), IG_ECONFLICT);
    CHECK_EQ_INT(kept, 0);
    CHECK_EQ_INT(raw_int(db, "SELECT COUNT(*) FROM audit_v1"), 4);
out:
    ig_orgcache_free(oc);
    ig_store_close(st);
}

static void remove_tree(void)
{
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
}

int main(void)
{
    umask(077);
    snprintf(g_dir, sizeof g_dir, "/tmp/ingate-auditlog-XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(g_logs, sizeof g_logs, "%s/orgs", g_dir);
    memset(g_kek, 0x5a, sizeof g_kek);
    RUN(entries_go_to_their_chain);
    RUN(verify_names_the_broken_link);
    RUN(upgrade_moves_the_legacy_chain);
    RUN(upgrade_leaves_a_broken_chain_alone);
    remove_tree();
    UNIT_DONE();
}

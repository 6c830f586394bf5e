/* Unit tests of src/store with the SQLite backend, on files in a fresh temporary directory. */
#include "unit.h"
#include "store_tmp.h"
#include "core/err.h"
#include "store/store.h"

#include <dirent.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

/* Call records are stored only for an org that exists: adds one with a fixed id straight in SQLite (the store
 * makes random ids). Idempotent, and waits out a concurrent writer. */
static void seed_org(const char *name, const char *org_id)
{
    char path[128];
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    CHECK_EQ_INT(sqlite3_open(tmp_path(path, sizeof path, name), &db), SQLITE_OK);
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

static void fill_hash(uint8_t h[32], uint8_t seed)
{
    for (int i = 0; i < 32; i++)
        h[i] = (uint8_t)(seed + i * 7);
}

static bool is_hex_id(const char *s)
{
    if (strlen(s) != 32) return false;
    for (size_t i = 0; i < 32; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

static void make_call(ig_callrec_t *r, const char *org_id, size_t i)
{
    memset(r, 0, sizeof *r);
    snprintf(r->id, sizeof r->id, "00000000-0000-4000-8000-%012zx", i);
    snprintf(r->org_id, sizeof r->org_id, "%s", org_id);
    snprintf(r->key_prefix, sizeof r->key_prefix, "ig_abcdef12");
    snprintf(r->provider, sizeof r->provider, "openai");
    snprintf(r->method, sizeof r->method, "POST");
    r->path = "/v1/chat/completions";
    r->model = (i % 2) ? "gpt-4o-mini" : NULL;
    r->status = 200;
    r->stream = i % 3 == 0;
    r->latency_ms = 12.5;
    r->ttfb_ms = 3.25;
    r->req_bytes = 100 + (int64_t)i;
    r->resp_bytes = 2000;
    r->error = (i % 10 == 0) ? "upstream timeout" : NULL;
    r->created_at = 1700000000000 + (int64_t)i;
}

TEST(open_migrate_idempotent)
{
    char path[128];
    tmp_path(path, sizeof path, "mig.db");
    ig_store_t *st = open_db("mig.db");
    if (!st) return;
    int v = -1;
    CHECK_EQ_INT(ig_store_schema_version(st, &v), IG_OK);
    CHECK_EQ_INT(v, IG_STORE_SCHEMA_VERSION);
    CHECK_EQ_INT(ig_store_migrate(st), IG_OK);
    CHECK_EQ_INT(ig_store_ping(st), IG_OK);
    ig_store_close(st);

    st = open_db("mig.db"); /* reopen + migrate again */
    if (!st) return;
    CHECK_EQ_INT(ig_store_schema_version(st, &v), IG_OK);
    CHECK_EQ_INT(v, IG_STORE_SCHEMA_VERSION);
    ig_store_close(st);

    /* one row per version, and the connection settings took effect */
    sqlite3 *db = NULL;
    CHECK_EQ_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *q = NULL;
    CHECK_EQ_INT(sqlite3_prepare_v2(db, "SELECT COUNT(*), MAX(version) FROM schema_migrations", -1, &q, NULL),
                 SQLITE_OK);
    CHECK_EQ_INT(sqlite3_step(q), SQLITE_ROW);
    CHECK_EQ_INT(sqlite3_column_int(q, 0), IG_STORE_SCHEMA_VERSION);
    CHECK_EQ_INT(sqlite3_column_int(q, 1), IG_STORE_SCHEMA_VERSION);
    sqlite3_finalize(q);
    CHECK_EQ_INT(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_step(q), SQLITE_ROW);
    CHECK_EQ_STR((const char *)sqlite3_column_text(q, 0), "wal");
    sqlite3_finalize(q);
    sqlite3_close(db);
}

TEST(newer_schema_refused)
{
    char path[128];
    ig_store_t *st = open_db("newer.db");
    if (!st) return;
    ig_store_close(st);
    sqlite3 *db = NULL;
    CHECK_EQ_INT(sqlite3_open(tmp_path(path, sizeof path, "newer.db"), &db), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(db, "INSERT INTO schema_migrations VALUES (999, 0)", NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(db);
    int err;
    st = ig_store_open(path, &err);
    CHECK(st != NULL);
    if (!st) return;
    CHECK_EQ_INT(ig_store_migrate(st), IG_ESTORE);
    ig_store_close(st);
}

TEST(file_mode_0600)
{
    char path[128], wal[140];
    ig_store_t *st = open_db("mode.db");
    if (!st) return;
    /* write something so the -wal file exists while the handle is open */
    ig_org_t org;
    CHECK_EQ_INT(ig_store_org_create(st, "mode-org", "Mode", &org), IG_OK);
    struct stat sb;
    CHECK_EQ_INT(stat(tmp_path(path, sizeof path, "mode.db"), &sb), 0);
    CHECK_EQ_INT(sb.st_mode & 0777, 0600);
    snprintf(wal, sizeof wal, "%s-wal", path);
    CHECK_EQ_INT(stat(wal, &sb), 0);
    CHECK_EQ_INT(sb.st_mode & 0777, 0600);
    ig_store_close(st);

    /* an existing world-readable file is tightened */
    CHECK_EQ_INT(chmod(path, 0644), 0);
    st = open_db("mode.db");
    CHECK_EQ_INT(stat(path, &sb), 0);
    CHECK_EQ_INT(sb.st_mode & 0777, 0600);
    ig_store_close(st);
}

TEST(open_urls)
{
    char path[128], url[160];
    int err = 0;
    tmp_path(path, sizeof path, "url.db");
    snprintf(url, sizeof url, "sqlite:%s", path);
    ig_store_t *st = ig_store_open(url, &err);
    CHECK(st != NULL);
    ig_store_close(st);
    snprintf(url, sizeof url, "sqlite://%s", path); /* sqlite:///tmp/... */
    st = ig_store_open(url, &err);
    CHECK(st != NULL);
    ig_store_close(st);
    st = ig_store_open("postgres://user:secret@localhost/ingate", &err);
    CHECK(st == NULL);
    CHECK_EQ_INT(err, IG_EINVAL);
    CHECK(ig_store_open("", &err) == NULL);
    CHECK_EQ_INT(err, IG_EINVAL);
    CHECK(ig_store_open("sqlite:", &err) == NULL);
    CHECK_EQ_INT(err, IG_EINVAL);
    CHECK(ig_store_open("/nonexistent-dir-ingate/x.db", &err) == NULL);
    CHECK_EQ_INT(err, IG_ESTORE);
    st = ig_store_open(":memory:", &err);
    CHECK(st != NULL);
    if (st) CHECK_EQ_INT(ig_store_migrate(st), IG_OK);
    ig_store_close(st);
    ig_store_close(NULL);
}

TEST(orgs)
{
    ig_store_t *st = open_db("orgs.db");
    if (!st) return;
    ig_org_t a, b, got;
    CHECK_EQ_INT(ig_store_org_create(st, "acme", "Acme Inc.", &a), IG_OK);
    CHECK(is_hex_id(a.id));
    CHECK_EQ_STR(a.slug, "acme");
    CHECK_EQ_STR(a.default_provider, "");
    CHECK(a.created_at > 1600000000000);
    CHECK_EQ_INT(ig_store_org_create(st, "acme", "Other", &b), IG_ECONFLICT);
    CHECK_EQ_INT(ig_store_org_create(st, "beta-2", "Beta", &b), IG_OK);
    CHECK(strcmp(a.id, b.id) != 0);

    CHECK_EQ_INT(ig_store_org_create(st, "a", "too short", NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_org_create(st, "Acme", "upper", NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_org_create(st, "ac me", "space", NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_org_create(st, "acme_x", "underscore", NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_org_create(st, NULL, "null", NULL), IG_EINVAL);
    char longslug[66];
    memset(longslug, 'a', 65);
    longslug[65] = '\0';
    CHECK_EQ_INT(ig_store_org_create(st, longslug, "long", NULL), IG_EINVAL);
    longslug[64] = '\0';
    CHECK_EQ_INT(ig_store_org_create(st, longslug, "max length", NULL), IG_OK);
    CHECK_EQ_INT(ig_store_org_create(st, "gamma", "", NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_org_create(st, "gamma", "bad\nname", NULL), IG_EINVAL);

    CHECK_EQ_INT(ig_store_org_get(st, a.id, &got), IG_OK);
    CHECK_EQ_STR(got.slug, "acme");
    CHECK_EQ_STR(got.name, "Acme Inc.");
    CHECK_EQ_INT(got.created_at, a.created_at);
    CHECK_EQ_INT(ig_store_org_get_by_slug(st, "beta-2", &got), IG_OK);
    CHECK_EQ_STR(got.id, b.id);
    CHECK_EQ_INT(ig_store_org_get(st, "00000000000000000000000000000000", &got), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_org_get(st, "an id far too long to ever be stored in the table", &got),
                 IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_org_get_by_slug(st, "nope", &got), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_org_get_by_slug(st, "NOPE!", &got), IG_ENOTFOUND);

    CHECK_EQ_INT(ig_store_org_set_default_provider(st, a.id, "anthropic"), IG_OK);
    CHECK_EQ_INT(ig_store_org_get(st, a.id, &got), IG_OK);
    CHECK_EQ_STR(got.default_provider, "anthropic");
    CHECK_EQ_INT(ig_store_org_set_default_provider(st, a.id, NULL), IG_OK);
    CHECK_EQ_INT(ig_store_org_get(st, a.id, &got), IG_OK);
    CHECK_EQ_STR(got.default_provider, "");
    CHECK_EQ_INT(ig_store_org_set_default_provider(st, "00000000000000000000000000000000", "openai"),
                 IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_org_set_default_provider(st, a.id, "a provider name longer than 32 bytes"),
                 IG_EINVAL);
    ig_store_close(st);
}

TEST(keys)
{
    ig_store_t *st = open_db("keys.db");
    if (!st) return;
    ig_org_t org;
    CHECK_EQ_INT(ig_store_org_create(st, "keys-org", "Keys", &org), IG_OK);
    uint8_t h1[32], h2[32], h3[32], h4[32];
    fill_hash(h1, 1);
    fill_hash(h2, 2);
    fill_hash(h3, 3);
    fill_hash(h4, 4);

    ig_keyrec_t k1, k2, k3, got;
    CHECK_EQ_INT(ig_store_key_create(st, org.id, h1, "ig_1111aaaa", "ci", IG_STORE_ROLE_ADMIN, 0, &k1),
                 IG_OK);
    CHECK(is_hex_id(k1.id));
    CHECK_EQ_INT(
        ig_store_key_create(st, org.id, h2, "ig_2222bbbb", NULL, IG_STORE_ROLE_VIEWER, 1900000000000, &k2),
        IG_OK);
    CHECK_EQ_INT(ig_store_key_create(st, org.id, h1, "ig_dupe", "dupe hash", 1, 0, NULL), IG_ECONFLICT);
    CHECK_EQ_INT(ig_store_key_create(st, "00000000000000000000000000000000", h3, "ig_x", "x", 1, 0, NULL),
                 IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_key_create(st, org.id, h3, "ig_x", "x", 4, 0, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_key_create(st, org.id, h3, "ig_x", "x", -1, 0, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_key_create(st, org.id, h3, "", "x", 1, 0, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_key_create(st, org.id, h3, "ig_0123456789", "x", 1, 0, NULL), IG_EINVAL);

    CHECK_EQ_INT(ig_store_key_get_by_hash(st, h1, &got), IG_OK);
    CHECK_EQ_STR(got.id, k1.id);
    CHECK_EQ_STR(got.org_id, org.id);
    CHECK_MEM(got.key_hash, h1, 32);
    CHECK_EQ_STR(got.hash_prefix, "ig_1111aaaa");
    CHECK_EQ_STR(got.name, "ci");
    CHECK_EQ_INT(got.role, IG_STORE_ROLE_ADMIN);
    CHECK_EQ_INT(got.created_at, k1.created_at);
    CHECK_EQ_INT(got.expires_at, 0);
    CHECK_EQ_INT(got.revoked_at, 0);
    CHECK_EQ_INT(ig_store_key_get_by_hash(st, h2, &got), IG_OK);
    CHECK_EQ_STR(got.name, "");
    CHECK_EQ_INT(got.expires_at, 1900000000000);
    CHECK_EQ_INT(ig_store_key_get_by_hash(st, h4, &got), IG_ENOTFOUND);

    /* revoke by id */
    CHECK_EQ_INT(ig_store_key_revoke(st, org.id, k1.id, &got), IG_OK);
    CHECK_EQ_STR(got.id, k1.id);
    CHECK(got.revoked_at > 0);
    int64_t first = got.revoked_at;
    CHECK_EQ_INT(ig_store_key_get_by_hash(st, h1, &got), IG_OK); /* revoked keys are still returned */
    CHECK_EQ_INT(got.revoked_at, first);
    CHECK_EQ_INT(ig_store_key_revoke(st, NULL, k1.id, &got), IG_OK); /* again: keeps the first time */
    CHECK_EQ_INT(got.revoked_at, first);

    /* revoke by prefix, with any org */
    CHECK_EQ_INT(ig_store_key_revoke(st, NULL, "ig_2222bbbb", &got), IG_OK);
    CHECK_EQ_STR(got.id, k2.id);
    CHECK(got.revoked_at > 0);
    CHECK_EQ_INT(ig_store_key_get_by_hash(st, h2, &got), IG_OK);
    CHECK(got.revoked_at > 0);

    CHECK_EQ_INT(ig_store_key_revoke(st, org.id, "ig_nothere", NULL), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_key_revoke(st, NULL, "ffffffffffffffffffffffffffffffff", NULL), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_key_revoke(st, NULL, "", NULL), IG_EINVAL);

    /* a shared prefix is ambiguous: nothing is revoked */
    CHECK_EQ_INT(ig_store_key_create(st, org.id, h3, "ig_same", "a", 1, 0, &k3), IG_OK);
    CHECK_EQ_INT(ig_store_key_create(st, org.id, h4, "ig_same", "b", 1, 0, NULL), IG_OK);
    CHECK_EQ_INT(ig_store_key_revoke(st, org.id, "ig_same", NULL), IG_ECONFLICT);
    CHECK_EQ_INT(ig_store_key_get_by_hash(st, h3, &got), IG_OK);
    CHECK_EQ_INT(got.revoked_at, 0);
    CHECK_EQ_INT(ig_store_key_revoke(st, org.id, k3.id, NULL), IG_OK);

    /* list: oldest first, revoked included, overflow reported */
    ig_keyrec_t list[8];
    size_t n = 99;
    CHECK_EQ_INT(ig_store_key_list(st, org.id, list, 8, &n), IG_OK);
    CHECK_EQ_INT(n, 4);
    size_t found = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK(i == 0 || list[i - 1].created_at <= list[i].created_at);
        if (strcmp(list[i].id, k1.id) == 0) {
            found++;
            CHECK(list[i].revoked_at > 0);
        }
    }
    CHECK_EQ_INT(found, 1);
    CHECK_EQ_INT(ig_store_key_list(st, org.id, list, 2, &n), IG_ETOOBIG);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(ig_store_key_list(st, "00000000000000000000000000000000", list, 8, &n), IG_OK);
    CHECK_EQ_INT(n, 0);
    ig_store_close(st);
}

TEST(key_other_org)
{
    ig_store_t *st = open_db("keys2.db");
    if (!st) return;
    ig_org_t a, b;
    CHECK_EQ_INT(ig_store_org_create(st, "org-a", "A", &a), IG_OK);
    CHECK_EQ_INT(ig_store_org_create(st, "org-b", "B", &b), IG_OK);
    uint8_t h[32];
    fill_hash(h, 9);
    ig_keyrec_t k, got;
    CHECK_EQ_INT(ig_store_key_create(st, a.id, h, "ig_aaaa0000", "a key", 3, 0, &k), IG_OK);
    CHECK_EQ_INT(ig_store_key_revoke(st, b.id, k.id, &got), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_key_revoke(st, b.id, "ig_aaaa0000", &got), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_key_get_by_hash(st, h, &got), IG_OK);
    CHECK_EQ_INT(got.revoked_at, 0);
    size_t n = 1;
    CHECK_EQ_INT(ig_store_key_list(st, b.id, NULL, 0, &n), IG_OK);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(ig_store_key_revoke(st, a.id, "ig_aaaa0000", &got), IG_OK);
    ig_store_close(st);
}

TEST(providers)
{
    ig_store_t *st = open_db("prov.db");
    if (!st) return;
    ig_org_t org;
    CHECK_EQ_INT(ig_store_org_create(st, "prov-org", "Prov", &org), IG_OK);
    const uint8_t env1[] = {1, 0, 0, 0, 0, 9, 8, 7, 0, 6, 5, 4, 3, 2, 1, 0, 0xff};
    const uint8_t env2[] = {1, 0, 0, 0, 1, 42};
    int mode = -1;
    uint8_t *sec = NULL;
    size_t len = 0;

    CHECK_EQ_INT(ig_store_provider_get(st, org.id, "openai", &mode, &sec, &len), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_provider_set(st, org.id, "openai", IG_STORE_AUTH_STORED, env1, sizeof env1), IG_OK);
    CHECK_EQ_INT(ig_store_provider_get(st, org.id, "openai", &mode, &sec, &len), IG_OK);
    CHECK_EQ_INT(mode, IG_STORE_AUTH_STORED);
    CHECK_EQ_INT(len, sizeof env1);
    CHECK(sec && memcmp(sec, env1, sizeof env1) == 0);
    free(sec);
    sec = NULL;

    /* overwrite */
    CHECK_EQ_INT(ig_store_provider_set(st, org.id, "openai", IG_STORE_AUTH_STORED, env2, sizeof env2), IG_OK);
    CHECK_EQ_INT(ig_store_provider_get(st, org.id, "openai", &mode, &sec, &len), IG_OK);
    CHECK_EQ_INT(len, sizeof env2);
    CHECK(sec && memcmp(sec, env2, sizeof env2) == 0);
    free(sec);
    sec = NULL;

    /* passthrough, no secret; replaces the stored key */
    CHECK_EQ_INT(ig_store_provider_set(st, org.id, "openai", IG_STORE_AUTH_PASSTHROUGH, NULL, 0), IG_OK);
    CHECK_EQ_INT(ig_store_provider_get(st, org.id, "openai", &mode, &sec, &len), IG_OK);
    CHECK_EQ_INT(mode, IG_STORE_AUTH_PASSTHROUGH);
    CHECK(sec == NULL);
    CHECK_EQ_INT(len, 0);
    CHECK_EQ_INT(ig_store_provider_get(st, org.id, "anthropic", &mode, &sec, &len), IG_ENOTFOUND);

    CHECK_EQ_INT(ig_store_provider_set(st, org.id, "openai", IG_STORE_AUTH_STORED, NULL, 0), IG_EINVAL);
    CHECK_EQ_INT(ig_store_provider_set(st, org.id, "openai", 2, env1, sizeof env1), IG_EINVAL);
    CHECK_EQ_INT(ig_store_provider_set(st, org.id, "open ai", 0, env1, sizeof env1), IG_EINVAL);
    CHECK_EQ_INT(ig_store_provider_set(st, org.id, "openai", 0, env1, 0), IG_EINVAL);
    CHECK_EQ_INT(
        ig_store_provider_set(st, "00000000000000000000000000000000", "openai", 0, env1, sizeof env1),
        IG_ENOTFOUND);
    ig_store_close(st);
}

TEST(calls_batch)
{
    ig_store_t *st = open_db("calls.db");
    if (!st) return;
    seed_org("calls.db", "org1");
    seed_org("calls.db", "org2");
    enum { N = 1000 };
    ig_callrec_t *recs = calloc(N, sizeof *recs);
    CHECK(recs != NULL);
    if (!recs) return;
    for (size_t i = 0; i < N; i++)
        make_call(&recs[i], "org1", i);
    int64_t n = -1;
    CHECK_EQ_INT(ig_store_calls_count(st, "org1", &n), IG_OK);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(ig_store_calls_insert(st, recs, N), IG_OK);
    CHECK_EQ_INT(ig_store_calls_count(st, "org1", &n), IG_OK);
    CHECK_EQ_INT(n, N);
    CHECK_EQ_INT(ig_store_calls_count(st, "org2", &n), IG_OK);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(ig_store_calls_insert(st, recs, 0), IG_OK);

    /* replaying the same ids is harmless */
    CHECK_EQ_INT(ig_store_calls_insert(st, recs, 10), IG_OK);
    CHECK_EQ_INT(ig_store_calls_count(st, NULL, &n), IG_OK);
    CHECK_EQ_INT(n, N);

    /* an invalid record rejects the whole batch */
    for (size_t i = 0; i < 5; i++)
        make_call(&recs[i], "org2", N + i);
    recs[4].path = NULL;
    CHECK_EQ_INT(ig_store_calls_insert(st, recs, 5), IG_EINVAL);
    recs[4].path = "/v1/messages";
    memset(recs[3].method, 'X', sizeof recs[3].method); /* not terminated */
    CHECK_EQ_INT(ig_store_calls_insert(st, recs, 5), IG_EINVAL);
    CHECK_EQ_INT(ig_store_calls_count(st, "org2", &n), IG_OK);
    CHECK_EQ_INT(n, 0);
    free(recs);
    ig_store_close(st);
}

typedef struct {
    int rc;
    int base;
} writer_arg_t;

static void *writer(void *p)
{
    writer_arg_t *a = p;
    char path[128];
    int err;
    ig_store_t *st = ig_store_open(tmp_path(path, sizeof path, "conc.db"), &err);
    a->rc = st ? ig_store_migrate(st) : err;
    if (a->rc == IG_OK) seed_org("conc.db", "conc");
    ig_callrec_t recs[50];
    for (int batch = 0; batch < 40 && a->rc == IG_OK; batch++) {
        for (size_t i = 0; i < 50; i++)
            make_call(&recs[i], "conc", (size_t)a->base + (size_t)batch * 50 + i);
        a->rc = ig_store_calls_insert(st, recs, 50);
    }
    ig_store_close(st);
    return NULL;
}

TEST(concurrent_handles)
{
    /* two handles on one fresh file, each migrating then writing: busy waits, never errors */
    pthread_t t[2];
    writer_arg_t args[2] = {{-1, 0}, {-1, 100000}};
    for (int i = 0; i < 2; i++)
        CHECK_EQ_INT(pthread_create(&t[i], NULL, writer, &args[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ_INT(args[0].rc, IG_OK);
    CHECK_EQ_INT(args[1].rc, IG_OK);
    ig_store_t *st = open_db("conc.db");
    if (!st) return;
    int64_t n = 0;
    CHECK_EQ_INT(ig_store_calls_count(st, "conc", &n), IG_OK);
    CHECK_EQ_INT(n, 2 * 40 * 50);
    int v = 0;
    CHECK_EQ_INT(ig_store_schema_version(st, &v), IG_OK);
    CHECK_EQ_INT(v, IG_STORE_SCHEMA_VERSION);
    ig_store_close(st);
}

int main(void)
{
    if (!store_tmp_init("ingate-store")) return 1;
    umask(022); /* the 0600 checks must not depend on the caller's umask */
    RUN(open_migrate_idempotent);
    RUN(newer_schema_refused);
    RUN(file_mode_0600);
    RUN(open_urls);
    RUN(orgs);
    RUN(keys);
    RUN(key_other_org);
    RUN(providers);
    RUN(calls_batch);
    RUN(concurrent_handles);
    store_tmp_remove();
    UNIT_DONE();
}

/* Unit tests of the store's schema v3 (org plan and settings, org deletion and transfer, members and their
 * roles, invitations, sessions, teams and apps, key rotation and last use, provider deletion, audit queries)
 * with the SQLite backend, on files in a fresh temporary directory. */
#include "unit.h"
#include "store_tmp.h"
#include "core/err.h"
#include "store/store.h"

#include <dirent.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Two well-formed bcrypt strings (60 bytes, cost 12). */
#define BCRYPT_A "$2b$12$abcdefghijklmnopqrstuvABCDEFGHIJKLMNOPQRSTUVWXYZ01234"
#define BCRYPT_B "$2b$12$ABCDEFGHIJKLMNOPQRSTUVabcdefghijklmnopqrstuvwxyz./567"
#define NO_ID    "0123456789abcdef0123456789abcdef" /* well-formed, never generated */
#define HOUR_MS  (3600 * 1000LL)

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    nanosleep(&(struct timespec){.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000}, NULL);
}

static void fill_hash(uint8_t h[32], uint8_t seed)
{
    for (int i = 0; i < 32; i++)
        h[i] = (uint8_t)(seed + i * 7);
}

/* A session jti / token hash seed as ig_token_new_jti would make one (32 lowercase hex chars). */
static void make_jti(char out[33], unsigned n)
{
    snprintf(out, 33, "%032x", n);
}

/* SELECT that returns one integer (or -1); "%s" in sql is replaced by arg (an id we generated). */
static int64_t raw_int_arg(const char *name, const char *sql, const char *arg)
{
    char path[128], text[512];
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    int64_t v = -1;
    snprintf(text, sizeof text, sql, arg ? arg : "");
    if (sqlite3_open(tmp_path(path, sizeof path, name), &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, text, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return v;
}

/* Signs up a tenant (org slug, user email); key hash from seed, key role admin. */
static int signup(ig_store_t *st, const char *slug, const char *email, uint8_t seed, ig_org_t *org,
                  ig_user_t *user, ig_keyrec_t *key)
{
    uint8_t h[32];
    fill_hash(h, seed);
    return ig_store_signup(st, slug, "Org", email, BCRYPT_A, "Someone", h, "ig_signup", IG_STORE_ROLE_ADMIN,
                           org, user, key, NULL);
}

/* A user who also belongs to org with role (signed up into an org of their own first). */
static void add_member(ig_store_t *st, const char *org_id, const char *slug, const char *email, uint8_t seed,
                       int role, ig_user_t *u)
{
    CHECK_EQ_INT(signup(st, slug, email, seed, NULL, u, NULL), IG_OK);
    CHECK_EQ_INT(ig_store_membership_add(st, u->id, org_id, role, NULL), IG_OK);
}

static int role_of(ig_store_t *st, const char *user_id, const char *org_id)
{
    ig_membership_t m;
    return ig_store_membership_get(st, user_id, org_id, &m) == IG_OK ? m.role : -1;
}

/* ---- migration ---- */

/* The v2 schema exactly as the v2 binary left it (v1 tables, then the v2 migration), with rows: a frozen
 * fixture, so this test keeps proving that a database of a v2 gateway upgrades in place. */
static const char v2_schema[] =
    "CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, applied_at INTEGER NOT NULL);"
    "CREATE TABLE orgs (id TEXT NOT NULL PRIMARY KEY, slug TEXT NOT NULL UNIQUE, name TEXT NOT NULL,"
    " default_provider TEXT, created_at INTEGER NOT NULL);"
    "CREATE TABLE api_keys (id TEXT NOT NULL PRIMARY KEY, org_id TEXT NOT NULL REFERENCES orgs(id),"
    " key_hash BLOB NOT NULL UNIQUE CHECK (length(key_hash) = 32), hash_prefix TEXT NOT NULL, name TEXT,"
    " role INTEGER NOT NULL CHECK (role BETWEEN 0 AND 3), created_at INTEGER NOT NULL, expires_at INTEGER,"
    " revoked_at INTEGER);"
    "CREATE INDEX api_keys_org ON api_keys (org_id);"
    "CREATE INDEX api_keys_prefix ON api_keys (hash_prefix);"
    "CREATE TABLE provider_credentials (org_id TEXT NOT NULL REFERENCES orgs(id), provider TEXT NOT NULL,"
    " auth_mode INTEGER NOT NULL CHECK (auth_mode IN (0, 1)), secret BLOB, updated_at INTEGER NOT NULL,"
    " PRIMARY KEY (org_id, provider));"
    "CREATE TABLE calls (id TEXT NOT NULL PRIMARY KEY, org_id TEXT, key_prefix TEXT, provider TEXT,"
    " method TEXT, path TEXT, model TEXT, status INTEGER, stream INTEGER, latency_ms DOUBLE PRECISION,"
    " ttfb_ms DOUBLE PRECISION, req_bytes INTEGER, resp_bytes INTEGER, req_truncated INTEGER,"
    " resp_truncated INTEGER, error TEXT, created_at INTEGER NOT NULL);"
    "CREATE INDEX calls_org_created ON calls (org_id, created_at);"
    "CREATE TABLE users (id TEXT NOT NULL PRIMARY KEY, email TEXT NOT NULL UNIQUE, password_hash TEXT NOT "
    "NULL,"
    " display_name TEXT, created_at INTEGER NOT NULL, password_changed_at INTEGER NOT NULL);"
    "CREATE TABLE memberships (user_id TEXT NOT NULL REFERENCES users(id), org_id TEXT NOT NULL REFERENCES"
    " orgs(id), role INTEGER NOT NULL CHECK (role BETWEEN 0 AND 3), created_at INTEGER NOT NULL,"
    " PRIMARY KEY (user_id, org_id));"
    "CREATE INDEX memberships_org ON memberships (org_id);"
    "ALTER TABLE api_keys ADD COLUMN created_by TEXT REFERENCES users(id);"
    "CREATE TABLE audit (seq INTEGER NOT NULL PRIMARY KEY, id TEXT NOT NULL UNIQUE, org_id TEXT,"
    " actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT, source_ip TEXT, request_id TEXT,"
    " created_at INTEGER NOT NULL, prev_hash BLOB NOT NULL CHECK (length(prev_hash) = 32),"
    " hash BLOB NOT NULL CHECK (length(hash) = 32));"
    "CREATE INDEX audit_org_seq ON audit (org_id, seq);"
    "INSERT INTO schema_migrations VALUES (1, 1700000000000), (2, 1710000000000);"
    "INSERT INTO orgs VALUES ('00000000000000000000000000000001', 'old-org', 'Old', 'anthropic',"
    " 1700000000000);"
    "INSERT INTO users VALUES ('00000000000000000000000000000003', 'old@example.com',"
    " '" BCRYPT_A "', 'Old User', 1700000000000, 1700000000000);"
    "INSERT INTO memberships VALUES ('00000000000000000000000000000003', '00000000000000000000000000000001',"
    " 3, 1700000000000);"
    "INSERT INTO api_keys VALUES ('00000000000000000000000000000002', '00000000000000000000000000000001',"
    " zeroblob(32), 'ig_old00000', 'legacy', 3, 1700000000000, NULL, NULL,"
    " '00000000000000000000000000000003');"
    "INSERT INTO calls (id, org_id, path, created_at) VALUES ('c1', '00000000000000000000000000000001', '/x',"
    " 1700000000000);";

TEST(v2_upgrades_in_place)
{
    CHECK_EQ_INT(raw_exec("v2.db", v2_schema), SQLITE_OK);
    ig_store_t *st = open_db("v2.db");
    if (!st) return;
    int v = 0;
    CHECK_EQ_INT(ig_store_schema_version(st, &v), IG_OK);
    CHECK_EQ_INT(v, IG_STORE_SCHEMA_VERSION);
    CHECK_EQ_INT(IG_STORE_SCHEMA_VERSION, 9); /* v4: control audit chain; v5: log_batches; v6: key limits;
                                                v7: budgets; v8: key lineage; v9: budget alerts pending */

    /* v2 rows read back with the v3 defaults */
    ig_org_t org;
    CHECK_EQ_INT(ig_store_org_get_by_slug(st, "old-org", &org), IG_OK);
    CHECK_EQ_STR(org.default_provider, "anthropic");
    CHECK_EQ_INT(org.plan, IG_STORE_PLAN_FREE);
    CHECK_EQ_STR(org.settings, "{}");
    uint8_t zero[32] = {0};
    ig_keyrec_t k;
    CHECK_EQ_INT(ig_store_key_get_by_hash(st, zero, &k), IG_OK);
    CHECK_EQ_STR(k.name, "legacy");
    CHECK_EQ_STR(k.created_by, "00000000000000000000000000000003"); /* the v2 column is kept */
    CHECK_EQ_STR(k.app_id, "");
    CHECK_EQ_INT(k.last_used_at, 0);
    CHECK_EQ_INT(k.rpm_limit, 0); /* v6: the org's default */
    CHECK_EQ_INT(k.tpm_limit, 0);
    CHECK_EQ_INT(ig_store_key_get(st, org.id, k.id, &k), IG_OK);

    /* v3 works on the upgraded file, with the v2 rows */
    ig_member_t mem[2];
    size_t n = 0;
    CHECK_EQ_INT(ig_store_member_list(st, org.id, mem, 2, &n), IG_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_STR(mem[0].email, "old@example.com");
    CHECK_EQ_STR(mem[0].display_name, "Old User");
    CHECK_EQ_INT(ig_store_org_set_plan(st, org.id, IG_STORE_PLAN_ENTERPRISE), IG_OK);
    char jti[33];
    make_jti(jti, 1);
    CHECK_EQ_INT(ig_store_session_create(st, jti, mem[0].m.user_id, org.id, now_ms() + HOUR_MS), IG_OK);
    ig_team_t t;
    CHECK_EQ_INT(ig_store_team_create(st, org.id, "Platform", &t), IG_OK);

    /* migrating again (same handle, then a new one) changes nothing */
    CHECK_EQ_INT(ig_store_migrate(st), IG_OK);
    ig_store_close(st);
    st = open_db("v2.db");
    if (!st) return;
    CHECK_EQ_INT(ig_store_schema_version(st, &v), IG_OK);
    CHECK_EQ_INT(v, IG_STORE_SCHEMA_VERSION);
    CHECK_EQ_INT(ig_store_org_get(st, org.id, &org), IG_OK);
    CHECK_EQ_INT(org.plan, IG_STORE_PLAN_ENTERPRISE);
    ig_store_close(st);
    CHECK_EQ_INT(raw_int_arg("v2.db", "SELECT COUNT(*) FROM schema_migrations", NULL),
                 IG_STORE_SCHEMA_VERSION);
    CHECK_EQ_INT(raw_int_arg("v2.db", "SELECT MAX(version) FROM schema_migrations", NULL),
                 IG_STORE_SCHEMA_VERSION);
    /* v4: the v2 chain is kept as audit_v1 (for the start-up upgrade), a new control chain begins */
    CHECK_EQ_INT(
        raw_int_arg("v2.db",
                    "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('audit', 'audit_v1', 'audit_org_seq',"
                    " 'audit_control_org')",
                    NULL),
        4);
    CHECK_EQ_INT(raw_int_arg("v2.db",
                             "SELECT COUNT(*) FROM pragma_table_info('audit') WHERE name = 'source_ip_enc'",
                             NULL),
                 1);
    CHECK_EQ_INT(
        raw_int_arg("v2.db",
                    "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('sessions', 'invitations', 'teams',"
                    " 'apps', 'sessions_user', 'invitations_org_email', 'api_keys_creator')",
                    NULL),
        7);
    CHECK_EQ_INT(raw_int_arg("v2.db", "SELECT COUNT(*) FROM calls WHERE key_id IS NULL", NULL), 1);
    CHECK_EQ_INT(raw_int_arg("v2.db", "SELECT COUNT(*) FROM sessions", NULL), 1);
}

/* ---- orgs ---- */

TEST(org_update_and_plan)
{
    ig_store_t *st = open_db("org.db");
    if (!st) return;
    ig_org_t a, b, got;
    CHECK_EQ_INT(ig_store_org_create(st, "acme", "Acme", &a), IG_OK);
    CHECK_EQ_INT(a.plan, IG_STORE_PLAN_FREE);
    CHECK_EQ_STR(a.settings, "{}");
    CHECK_EQ_INT(ig_store_org_create(st, "beta", "Beta", &b), IG_OK);
    CHECK_EQ_INT(ig_store_org_get(st, a.id, &got), IG_OK);
    CHECK_EQ_STR(got.settings, "{}");

    /* each field alone; NULL leaves it as it was */
    CHECK_EQ_INT(ig_store_org_update(st, a.id, "Acme Corp", NULL, NULL, &got), IG_OK);
    CHECK_EQ_STR(got.name, "Acme Corp");
    CHECK_EQ_STR(got.slug, "acme");
    CHECK_EQ_STR(got.default_provider, "");
    CHECK_EQ_INT(got.created_at, a.created_at);
    CHECK_EQ_INT(ig_store_org_update(st, a.id, NULL, "openai", NULL, &got), IG_OK);
    CHECK_EQ_STR(got.name, "Acme Corp");
    CHECK_EQ_STR(got.default_provider, "openai");
    CHECK_EQ_INT(ig_store_org_update(st, a.id, NULL, NULL, "{\"retention_days\":30}", &got), IG_OK);
    CHECK_EQ_STR(got.settings, "{\"retention_days\":30}");
    CHECK_EQ_STR(got.default_provider, "openai");
    CHECK_EQ_INT(ig_store_org_update(st, a.id, NULL, "", NULL, NULL), IG_OK); /* "" clears */
    CHECK_EQ_INT(ig_store_org_get(st, a.id, &got), IG_OK);
    CHECK_EQ_STR(got.default_provider, "");
    CHECK_EQ_STR(got.name, "Acme Corp");
    CHECK_EQ_STR(got.settings, "{\"retention_days\":30}");
    CHECK_EQ_INT(ig_store_org_update(st, a.id, NULL, NULL, NULL, &got), IG_OK); /* nothing to change */
    CHECK_EQ_STR(got.name, "Acme Corp");
    /* the other org is untouched */
    CHECK_EQ_INT(ig_store_org_get(st, b.id, &got), IG_OK);
    CHECK_EQ_STR(got.name, "Beta");
    CHECK_EQ_STR(got.settings, "{}");

    /* the largest settings document, and one byte more */
    char *big = malloc(IG_STORE_MAX_SETTINGS + 2);
    CHECK(big != NULL);
    if (big) {
        memset(big, ' ', IG_STORE_MAX_SETTINGS + 1);
        big[0] = '{';
        big[IG_STORE_MAX_SETTINGS - 1] = '}';
        big[IG_STORE_MAX_SETTINGS] = '\0';
        CHECK_EQ_INT(ig_store_org_update(st, a.id, NULL, NULL, big, &got), IG_OK);
        CHECK_EQ_INT((int)strlen(got.settings), IG_STORE_MAX_SETTINGS);
        CHECK_EQ_INT(ig_store_org_get_by_slug(st, "acme", &got), IG_OK);
        CHECK_EQ_INT((int)strlen(got.settings), IG_STORE_MAX_SETTINGS);
        big[IG_STORE_MAX_SETTINGS] = ' ';
        big[IG_STORE_MAX_SETTINGS + 1] = '\0';
        CHECK_EQ_INT(ig_store_org_update(st, a.id, NULL, NULL, big, NULL), IG_EINVAL);
        free(big);
    }

    /* bad input changes nothing */
    CHECK_EQ_INT(ig_store_org_update(st, a.id, "", NULL, NULL, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_org_update(st, a.id, "bad\nname", NULL, NULL, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_org_update(st, a.id, NULL, "open ai", NULL, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_org_update(st, a.id, NULL, NULL, "", NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_org_update(st, NULL, "x", NULL, NULL, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_org_update(st, NO_ID, "x", NULL, NULL, &got), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_org_update(st, NO_ID "-too-long", "x", NULL, NULL, &got), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_org_get(st, a.id, &got), IG_OK);
    CHECK_EQ_STR(got.name, "Acme Corp");

    /* plan */
    CHECK_EQ_INT(ig_store_org_set_plan(st, a.id, IG_STORE_PLAN_ENTERPRISE), IG_OK);
    CHECK_EQ_INT(ig_store_org_get(st, a.id, &got), IG_OK);
    CHECK_EQ_INT(got.plan, IG_STORE_PLAN_ENTERPRISE);
    CHECK_EQ_INT(ig_store_org_get_by_slug(st, "acme", &got), IG_OK);
    CHECK_EQ_INT(got.plan, IG_STORE_PLAN_ENTERPRISE);
    CHECK_EQ_INT(ig_store_org_get(st, b.id, &got), IG_OK);
    CHECK_EQ_INT(got.plan, IG_STORE_PLAN_FREE);
    CHECK_EQ_INT(ig_store_org_set_plan(st, a.id, 2), IG_EINVAL);
    CHECK_EQ_INT(ig_store_org_set_plan(st, a.id, -1), IG_EINVAL);
    CHECK_EQ_INT(ig_store_org_set_plan(st, NO_ID, IG_STORE_PLAN_FREE), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_org_get(st, a.id, &got), IG_OK);
    CHECK_EQ_INT(got.plan, IG_STORE_PLAN_ENTERPRISE);
    CHECK_EQ_INT(ig_store_org_set_plan(st, a.id, IG_STORE_PLAN_FREE), IG_OK);
    CHECK_EQ_INT(ig_store_org_get(st, a.id, &got), IG_OK);
    CHECK_EQ_INT(got.plan, IG_STORE_PLAN_FREE);

    /* signup's org has the defaults too */
    CHECK_EQ_INT(signup(st, "signed", "s@example.com", 1, &got, NULL, NULL), IG_OK);
    CHECK_EQ_STR(got.settings, "{}");
    CHECK_EQ_INT(ig_store_org_get(st, got.id, &got), IG_OK);
    CHECK_EQ_STR(got.settings, "{}");
    CHECK_EQ_INT(got.plan, IG_STORE_PLAN_FREE);
    ig_store_close(st);
}

/* ---- keys ---- */

TEST(keys_app_creator_get)
{
    ig_store_t *st = open_db("keys.db");
    if (!st) return;
    ig_org_t a, b;
    ig_user_t u;
    ig_keyrec_t sk, k, got;
    CHECK_EQ_INT(signup(st, "org-a", "a@example.com", 1, &a, &u, &sk), IG_OK);
    CHECK_EQ_STR(sk.created_by, u.id);
    CHECK_EQ_INT(ig_store_key_get(st, a.id, sk.id, &got), IG_OK);
    CHECK_EQ_STR(got.created_by, u.id);
    CHECK_EQ_INT(ig_store_org_create(st, "org-b", "B", &b), IG_OK);
    ig_app_t app, app_b;
    CHECK_EQ_INT(ig_store_app_create(st, a.id, "chatbot", NULL, &app), IG_OK);
    CHECK_EQ_INT(ig_store_app_create(st, b.id, "other", NULL, &app_b), IG_OK);

    uint8_t h[32];
    fill_hash(h, 10);
    CHECK_EQ_INT(ig_store_key_create_for(st, a.id, h, "ig_k1", "bot key", IG_STORE_ROLE_MEMBER, 1900000000000,
                                         app.id, u.id, &k),
                 IG_OK);
    CHECK_EQ_STR(k.app_id, app.id);
    CHECK_EQ_STR(k.created_by, u.id);
    CHECK_EQ_INT(k.last_used_at, 0);
    CHECK_EQ_INT(ig_store_key_get(st, a.id, k.id, &got), IG_OK);
    CHECK_EQ_STR(got.id, k.id);
    CHECK_EQ_STR(got.org_id, a.id);
    CHECK_MEM(got.key_hash, h, 32);
    CHECK_EQ_STR(got.hash_prefix, "ig_k1");
    CHECK_EQ_STR(got.name, "bot key");
    CHECK_EQ_INT(got.role, IG_STORE_ROLE_MEMBER);
    CHECK_EQ_INT(got.expires_at, 1900000000000);
    CHECK_EQ_INT(got.created_at, k.created_at);
    CHECK_EQ_STR(got.app_id, app.id);
    CHECK_EQ_STR(got.created_by, u.id);
    CHECK_EQ_INT(ig_store_key_get_by_hash(st, h, &got), IG_OK);
    CHECK_EQ_STR(got.app_id, app.id);
    CHECK_EQ_STR(got.created_by, u.id);
    ig_keyrec_t list[4];
    size_t n = 0;
    CHECK_EQ_INT(ig_store_key_list(st, a.id, list, 4, &n), IG_OK);
    CHECK_EQ_INT(n, 2);
    size_t at = strcmp(list[0].id, k.id) == 0 ? 0 : 1; /* both may share a created_at ms */
    CHECK_EQ_STR(list[at].id, k.id);
    CHECK_EQ_STR(list[at].app_id, app.id);
    CHECK_EQ_STR(list[at].created_by, u.id);
    CHECK_EQ_STR(list[1 - at].app_id, "");
    CHECK_EQ_STR(list[1 - at].created_by, u.id);
    ig_keyrec_t rk;
    CHECK_EQ_INT(ig_store_key_revoke(st, a.id, k.id, &rk), IG_OK);
    CHECK_EQ_STR(rk.app_id, app.id);

    /* the v2 function: no app, no creator */
    fill_hash(h, 11);
    CHECK_EQ_INT(ig_store_key_create(st, a.id, h, "ig_k2", NULL, IG_STORE_ROLE_VIEWER, 0, &k), IG_OK);
    CHECK_EQ_STR(k.app_id, "");
    CHECK_EQ_STR(k.created_by, "");
    CHECK_EQ_INT(ig_store_key_get(st, a.id, k.id, &got), IG_OK);
    CHECK_EQ_STR(got.app_id, "");
    CHECK_EQ_STR(got.created_by, "");
    fill_hash(h, 12);
    CHECK_EQ_INT(ig_store_key_create_for(st, a.id, h, "ig_k3", NULL, 0, 0, "", "", &k), IG_OK);
    CHECK_EQ_STR(k.app_id, "");

    /* another org's app, an unknown app or creator: nothing stored */
    fill_hash(h, 13);
    CHECK_EQ_INT(ig_store_key_create_for(st, a.id, h, "ig_k4", NULL, 0, 0, app_b.id, NULL, NULL),
                 IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_key_create_for(st, a.id, h, "ig_k4", NULL, 0, 0, NO_ID, NULL, NULL), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_key_create_for(st, a.id, h, "ig_k4", NULL, 0, 0, NULL, NO_ID, NULL), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_key_create_for(st, a.id, h, "ig_k4", NULL, 0, 0, NO_ID "x", NULL, NULL),
                 IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_key_create_for(st, NO_ID, h, "ig_k4", NULL, 0, 0, NULL, NULL, NULL), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_key_create_for(st, a.id, h, "ig_k4", NULL, 4, 0, NULL, NULL, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_key_create_for(st, a.id, NULL, "ig_k4", NULL, 0, 0, NULL, NULL, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_key_get_by_hash(st, h, &got), IG_ENOTFOUND);

    /* key_get: another org's key is not found, like a missing one */
    CHECK_EQ_INT(ig_store_key_get(st, b.id, sk.id, &got), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_key_get(st, a.id, NO_ID, &got), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_key_get(st, a.id, NO_ID "0", &got), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_key_get(st, a.id, NULL, &got), IG_EINVAL);
    CHECK_EQ_INT(ig_store_key_get(st, a.id, sk.id, NULL), IG_EINVAL);
    ig_store_close(st);
}

TEST(key_rotation)
{
    ig_store_t *st = open_db("rotate.db");
    if (!st) return;
    ig_org_t a, b;
    ig_user_t u;
    CHECK_EQ_INT(signup(st, "rot-a", "r@example.com", 1, &a, &u, NULL), IG_OK);
    CHECK_EQ_INT(ig_store_org_create(st, "rot-b", "B", &b), IG_OK);
    ig_app_t app;
    CHECK_EQ_INT(ig_store_app_create(st, a.id, "svc", NULL, &app), IG_OK);
    uint8_t h1[32], h2[32], h3[32], h4[32], h5[32];
    fill_hash(h1, 21);
    fill_hash(h2, 22);
    fill_hash(h3, 23);
    fill_hash(h4, 24);
    fill_hash(h5, 25);
    uint8_t h6x[32];
    fill_hash(h6x, 31);
    ig_keyrec_t k, o, nk, got;
    CHECK_EQ_INT(
        ig_store_key_create_for(st, a.id, h1, "ig_old", "ci", IG_STORE_ROLE_ADMIN, 0, app.id, NULL, &k),
        IG_OK);

    /* a key that never expired gets the overlap end; the new key copies name, role, app and expiry */
    int64_t overlap = now_ms() + HOUR_MS;
    CHECK_EQ_INT(ig_store_key_rotate(st, a.id, k.id, h2, "ig_new", u.id, overlap, &o, &nk), IG_OK);
    CHECK_EQ_STR(o.id, k.id);
    CHECK_EQ_INT(o.expires_at, overlap);
    CHECK_EQ_INT(o.revoked_at, 0);
    CHECK(strcmp(nk.id, k.id) != 0);
    CHECK_EQ_STR(nk.org_id, a.id);
    CHECK_MEM(nk.key_hash, h2, 32);
    CHECK_EQ_STR(nk.hash_prefix, "ig_new");
    CHECK_EQ_STR(nk.name, "ci");
    CHECK_EQ_INT(nk.role, IG_STORE_ROLE_ADMIN);
    CHECK_EQ_STR(nk.app_id, app.id);
    CHECK_EQ_INT(nk.expires_at, 0);
    CHECK_EQ_STR(nk.created_by, u.id);
    CHECK_EQ_INT(ig_store_key_get_by_hash(st, h1, &got), IG_OK);
    CHECK_EQ_INT(got.expires_at, overlap);
    CHECK_EQ_INT(ig_store_key_get_by_hash(st, h2, &got), IG_OK);
    CHECK_EQ_STR(got.id, nk.id);
    CHECK_EQ_STR(got.name, "ci");
    CHECK_EQ_STR(got.app_id, app.id);
    CHECK_EQ_STR(got.created_by, u.id);
    CHECK_EQ_INT(got.expires_at, 0);

    /* a key is rotated once: a second rotation is refused and changes nothing */
    CHECK_EQ_INT(ig_store_key_rotate(st, a.id, k.id, h3, "ig_new2", NULL, overlap + HOUR_MS, &o, NULL),
                 IG_ECONFLICT);
    CHECK_EQ_INT(ig_store_key_get_by_hash(st, h3, &got), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_key_get(st, a.id, k.id, &got), IG_OK);
    CHECK_EQ_INT(got.expires_at, overlap);

    /* a key that expires: its successor expires with it; an earlier overlap end wins over it (min) */
    ig_keyrec_t e, en;
    CHECK_EQ_INT(ig_store_key_create(st, a.id, h3, "ig_exp", "exp", 1, overlap, &e), IG_OK);
    CHECK_EQ_INT(ig_store_key_rotate(st, a.id, e.id, h4, "ig_exp2", NULL, overlap + HOUR_MS, &o, &en), IG_OK);
    CHECK_EQ_INT(o.expires_at, overlap);
    CHECK_EQ_INT(en.expires_at, overlap);
    CHECK_EQ_STR(en.created_by, "");
    /* a duplicate new hash changes nothing (the successor is still rotatable afterwards) */
    CHECK_EQ_INT(ig_store_key_rotate(st, a.id, en.id, h2, "ig_dup", NULL, overlap - 5000, &o, NULL),
                 IG_ECONFLICT);
    CHECK_EQ_INT(ig_store_key_get(st, a.id, en.id, &got), IG_OK);
    CHECK_EQ_INT(got.expires_at, overlap);
    CHECK_EQ_INT(ig_store_key_rotate(st, a.id, en.id, h6x, "ig_exp3", NULL, overlap - 1000, &o, NULL), IG_OK);
    CHECK_EQ_INT(o.expires_at, overlap - 1000);
    CHECK_EQ_INT(ig_store_key_get_by_hash(st, h4, &got), IG_OK);
    CHECK_EQ_INT(got.expires_at, overlap - 1000);

    /* another org's key, a revoked key, an expired key, a missing key */
    CHECK_EQ_INT(ig_store_key_rotate(st, b.id, k.id, h5, "ig_x", NULL, overlap, NULL, NULL), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_key_get(st, a.id, k.id, &got), IG_OK);
    CHECK_EQ_INT(got.expires_at, overlap);
    ig_keyrec_t rv, ex;
    uint8_t h6[32], h7[32];
    fill_hash(h6, 26);
    fill_hash(h7, 27);
    CHECK_EQ_INT(ig_store_key_create(st, a.id, h6, "ig_rv", NULL, 1, 0, &rv), IG_OK);
    CHECK_EQ_INT(ig_store_key_revoke(st, a.id, rv.id, NULL), IG_OK);
    CHECK_EQ_INT(ig_store_key_rotate(st, a.id, rv.id, h5, "ig_x", NULL, overlap, NULL, NULL), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_key_create(st, a.id, h7, "ig_ex", NULL, 1, now_ms() - 1000, &ex), IG_OK);
    CHECK_EQ_INT(ig_store_key_rotate(st, a.id, ex.id, h5, "ig_x", NULL, overlap, NULL, NULL), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_key_rotate(st, a.id, NO_ID, h5, "ig_x", NULL, overlap, NULL, NULL), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_key_get_by_hash(st, h5, &got), IG_ENOTFOUND);

    /* bad input */
    CHECK_EQ_INT(ig_store_key_rotate(st, a.id, k.id, h5, "ig_x", NULL, 0, NULL, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_key_rotate(st, a.id, k.id, h5, "", NULL, overlap, NULL, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_key_rotate(st, a.id, k.id, NULL, "ig_x", NULL, overlap, NULL, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_key_rotate(st, a.id, NULL, h5, "ig_x", NULL, overlap, NULL, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_key_get_by_hash(st, h5, &got), IG_ENOTFOUND);
    ig_store_close(st);
}

static void make_call(ig_callrec_t *r, const char *org_id, const char *key_id, size_t i, int64_t at)
{
    memset(r, 0, sizeof *r);
    snprintf(r->id, sizeof r->id, "00000000-0000-4000-8000-%012zx", i);
    snprintf(r->org_id, sizeof r->org_id, "%s", org_id);
    snprintf(r->key_id, sizeof r->key_id, "%s", key_id);
    snprintf(r->key_prefix, sizeof r->key_prefix, "ig_x");
    snprintf(r->method, sizeof r->method, "POST");
    r->path = "/v1/chat/completions";
    r->status = 200;
    r->created_at = at;
}

TEST(calls_maintain_last_used)
{
    ig_store_t *st = open_db("lastused.db");
    if (!st) return;
    ig_org_t a, b;
    CHECK_EQ_INT(ig_store_org_create(st, "lu-a", "A", &a), IG_OK);
    CHECK_EQ_INT(ig_store_org_create(st, "lu-b", "B", &b), IG_OK);
    uint8_t h[32];
    ig_keyrec_t ka, kb, got;
    fill_hash(h, 1);
    CHECK_EQ_INT(ig_store_key_create(st, a.id, h, "ig_a", NULL, 1, 0, &ka), IG_OK);
    fill_hash(h, 2);
    CHECK_EQ_INT(ig_store_key_create(st, b.id, h, "ig_b", NULL, 1, 0, &kb), IG_OK);

    ig_callrec_t r[4];
    make_call(&r[0], a.id, ka.id, 1, 1700000000100);
    make_call(&r[1], a.id, ka.id, 2, 1700000000300); /* newest, not last in the batch */
    make_call(&r[2], a.id, ka.id, 3, 1700000000200);
    make_call(&r[3], a.id, "", 4, 1700000000900); /* no key: touches nothing */
    CHECK_EQ_INT(ig_store_calls_insert(st, r, 4), IG_OK);
    CHECK_EQ_INT(ig_store_key_get(st, a.id, ka.id, &got), IG_OK);
    CHECK_EQ_INT(got.last_used_at, 1700000000300);
    CHECK_EQ_INT(ig_store_key_get_by_hash(st, got.key_hash, &got), IG_OK);
    CHECK_EQ_INT(got.last_used_at, 1700000000300);

    /* an older record never lowers it; a newer one raises it */
    make_call(&r[0], a.id, ka.id, 5, 1700000000050);
    CHECK_EQ_INT(ig_store_calls_insert(st, r, 1), IG_OK);
    CHECK_EQ_INT(ig_store_key_get(st, a.id, ka.id, &got), IG_OK);
    CHECK_EQ_INT(got.last_used_at, 1700000000300);
    make_call(&r[0], a.id, ka.id, 6, 1700000000400);
    CHECK_EQ_INT(ig_store_calls_insert(st, r, 1), IG_OK);
    CHECK_EQ_INT(ig_store_key_get(st, a.id, ka.id, &got), IG_OK);
    CHECK_EQ_INT(got.last_used_at, 1700000000400);

    /* a record of org a naming org b's key does not touch it */
    make_call(&r[0], a.id, kb.id, 7, 1700000000500);
    CHECK_EQ_INT(ig_store_calls_insert(st, r, 1), IG_OK);
    CHECK_EQ_INT(ig_store_key_get(st, b.id, kb.id, &got), IG_OK);
    CHECK_EQ_INT(got.last_used_at, 0);

    /* a failed batch (invalid record) touches nothing */
    make_call(&r[0], b.id, kb.id, 8, 1700000000600);
    make_call(&r[1], b.id, kb.id, 9, 1700000000600);
    r[1].path = NULL;
    CHECK_EQ_INT(ig_store_calls_insert(st, r, 2), IG_EINVAL);
    memset(r[1].key_id, 'x', sizeof r[1].key_id); /* not terminated */
    r[1].path = "/x";
    CHECK_EQ_INT(ig_store_calls_insert(st, r, 2), IG_EINVAL);
    CHECK_EQ_INT(ig_store_key_get(st, b.id, kb.id, &got), IG_OK);
    CHECK_EQ_INT(got.last_used_at, 0);

    /* more distinct keys in one batch than the writer aggregates at once */
    enum { NK = 70 };
    ig_keyrec_t *keys = calloc(NK, sizeof *keys);
    ig_callrec_t *recs = calloc(2 * NK, sizeof *recs);
    CHECK(keys && recs);
    if (keys && recs) {
        for (size_t i = 0; i < NK; i++) {
            fill_hash(h, (uint8_t)(100 + i));
            CHECK_EQ_INT(ig_store_key_create(st, b.id, h, "ig_many", NULL, 1, 0, &keys[i]), IG_OK);
            make_call(&recs[i], b.id, keys[i].id, 1000 + i, 1800000000000 + (int64_t)i);
            make_call(&recs[NK + i], b.id, keys[i].id, 2000 + i, 1700000000000);
        }
        CHECK_EQ_INT(ig_store_calls_insert(st, recs, 2 * NK), IG_OK);
        for (size_t i = 0; i < NK; i++) {
            CHECK_EQ_INT(ig_store_key_get(st, b.id, keys[i].id, &got), IG_OK);
            CHECK_EQ_INT(got.last_used_at, 1800000000000 + (int64_t)i);
        }
        CHECK_EQ_INT(raw_int_arg("lastused.db", "SELECT COUNT(*) FROM calls WHERE key_id IS NOT NULL", NULL),
                     6 + 2 * NK);
    }
    free(keys);
    free(recs);
    ig_store_close(st);
}

/* ---- members ---- */

TEST(members_add_and_list)
{
    ig_store_t *st = open_db("members.db");
    if (!st) return;
    ig_org_t a, b;
    ig_user_t owner, bob;
    CHECK_EQ_INT(signup(st, "mem-a", "owner@example.com", 1, &a, &owner, NULL), IG_OK);
    CHECK_EQ_INT(signup(st, "mem-b", "bob@example.com", 2, &b, &bob, NULL), IG_OK);
    ig_membership_t m;
    sleep_ms(2); /* created_at orders the list */
    CHECK_EQ_INT(ig_store_membership_add(st, bob.id, a.id, IG_STORE_ROLE_MEMBER, &m), IG_OK);
    CHECK_EQ_STR(m.user_id, bob.id);
    CHECK_EQ_STR(m.org_id, a.id);
    CHECK_EQ_INT(m.role, IG_STORE_ROLE_MEMBER);
    CHECK(m.created_at > 0);
    CHECK_EQ_INT(ig_store_membership_add(st, bob.id, a.id, IG_STORE_ROLE_ADMIN, NULL), IG_ECONFLICT);
    CHECK_EQ_INT(role_of(st, bob.id, a.id), IG_STORE_ROLE_MEMBER);
    CHECK_EQ_INT(ig_store_membership_add(st, NO_ID, a.id, 1, NULL), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_membership_add(st, bob.id, NO_ID, 1, NULL), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_membership_add(st, bob.id, NO_ID "0", 1, NULL), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_membership_add(st, bob.id, a.id, 4, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_membership_add(st, bob.id, a.id, -1, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_membership_add(st, NULL, a.id, 1, NULL), IG_EINVAL);

    ig_member_t list[4];
    size_t n = 99;
    CHECK_EQ_INT(ig_store_member_list(st, a.id, list, 4, &n), IG_OK);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(list[0].m.user_id, owner.id); /* oldest first */
    CHECK_EQ_INT(list[0].m.role, IG_STORE_ROLE_OWNER);
    CHECK_EQ_STR(list[0].email, "owner@example.com");
    CHECK_EQ_STR(list[0].display_name, "Someone");
    CHECK_EQ_STR(list[1].m.user_id, bob.id);
    CHECK_EQ_STR(list[1].m.org_id, a.id);
    CHECK_EQ_STR(list[1].email, "bob@example.com");
    CHECK_EQ_INT(list[1].m.role, IG_STORE_ROLE_MEMBER);
    CHECK_EQ_INT(ig_store_member_list(st, a.id, list, 1, &n), IG_ETOOBIG);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(ig_store_member_list(st, b.id, list, 4, &n), IG_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(ig_store_member_list(st, NO_ID, list, 4, &n), IG_OK);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(ig_store_member_list(st, NO_ID "-long", list, 4, &n), IG_OK);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(ig_store_member_list(st, a.id, NULL, 4, &n), IG_EINVAL);
    ig_store_close(st);
}

TEST(membership_change_rules)
{
    ig_store_t *st = open_db("change.db");
    if (!st) return;
    ig_org_t org, other;
    ig_user_t o, adm, mem, vw;
    CHECK_EQ_INT(signup(st, "chg", "o@example.com", 1, &org, &o, NULL), IG_OK);
    add_member(st, org.id, "chg-adm", "adm@example.com", 2, IG_STORE_ROLE_ADMIN, &adm);
    add_member(st, org.id, "chg-mem", "mem@example.com", 3, IG_STORE_ROLE_MEMBER, &mem);
    add_member(st, org.id, "chg-vw", "vw@example.com", 4, IG_STORE_ROLE_VIEWER, &vw);
    CHECK_EQ_INT(ig_store_org_get_by_slug(st, "chg-mem", &other), IG_OK); /* mem owns this one */
    const char *why = "unset";
    int old = -7;

    /* an actor below owner can neither grant, demote nor remove an owner */
    CHECK_EQ_INT(
        ig_store_membership_change(st, org.id, o.id, IG_STORE_ROLE_ADMIN, IG_STORE_ROLE_ADMIN, &old, &why),
        IG_EFORBIDDEN);
    CHECK_EQ_STR(why, "owner_only");
    CHECK_EQ_INT(old, -7); /* written on success only */
    why = NULL;
    CHECK_EQ_INT(ig_store_membership_change(st, org.id, o.id, -1, IG_STORE_ROLE_ADMIN, NULL, &why),
                 IG_EFORBIDDEN);
    CHECK_EQ_STR(why, "owner_only");
    why = NULL;
    CHECK_EQ_INT(
        ig_store_membership_change(st, org.id, mem.id, IG_STORE_ROLE_OWNER, IG_STORE_ROLE_ADMIN, NULL, &why),
        IG_EFORBIDDEN);
    CHECK_EQ_STR(why, "owner_only");
    CHECK_EQ_INT(role_of(st, o.id, org.id), IG_STORE_ROLE_OWNER);
    CHECK_EQ_INT(role_of(st, mem.id, org.id), IG_STORE_ROLE_MEMBER);

    /* no escalation: neither above the actor's role nor of someone above it */
    why = NULL;
    CHECK_EQ_INT(
        ig_store_membership_change(st, org.id, vw.id, IG_STORE_ROLE_ADMIN, IG_STORE_ROLE_MEMBER, NULL, &why),
        IG_EFORBIDDEN);
    CHECK_EQ_STR(why, "above_own_role");
    why = NULL;
    CHECK_EQ_INT(ig_store_membership_change(st, org.id, adm.id, IG_STORE_ROLE_VIEWER, IG_STORE_ROLE_MEMBER,
                                            NULL, &why),
                 IG_EFORBIDDEN);
    CHECK_EQ_STR(why, "above_own_role");
    why = NULL;
    CHECK_EQ_INT(ig_store_membership_change(st, org.id, adm.id, -1, IG_STORE_ROLE_MEMBER, NULL, &why),
                 IG_EFORBIDDEN);
    CHECK_EQ_STR(why, "above_own_role");
    CHECK_EQ_INT(role_of(st, vw.id, org.id), IG_STORE_ROLE_VIEWER);
    CHECK_EQ_INT(role_of(st, adm.id, org.id), IG_STORE_ROLE_ADMIN);
    /* up to the actor's own role is fine */
    why = "unset";
    CHECK_EQ_INT(
        ig_store_membership_change(st, org.id, vw.id, IG_STORE_ROLE_ADMIN, IG_STORE_ROLE_ADMIN, &old, &why),
        IG_OK);
    CHECK(why == NULL);
    CHECK_EQ_INT(old, IG_STORE_ROLE_VIEWER);
    CHECK_EQ_INT(role_of(st, vw.id, org.id), IG_STORE_ROLE_ADMIN);
    CHECK_EQ_INT(
        ig_store_membership_change(st, org.id, vw.id, IG_STORE_ROLE_VIEWER, IG_STORE_ROLE_ADMIN, &old, NULL),
        IG_OK);
    CHECK_EQ_INT(old, IG_STORE_ROLE_ADMIN);

    /* the last owner can be neither demoted nor removed, even by an owner */
    why = NULL;
    CHECK_EQ_INT(
        ig_store_membership_change(st, org.id, o.id, IG_STORE_ROLE_ADMIN, IG_STORE_ROLE_OWNER, NULL, &why),
        IG_ECONFLICT);
    CHECK_EQ_STR(why, "last_owner");
    why = NULL;
    CHECK_EQ_INT(ig_store_membership_change(st, org.id, o.id, -1, IG_STORE_ROLE_OWNER, NULL, &why),
                 IG_ECONFLICT);
    CHECK_EQ_STR(why, "last_owner");
    CHECK_EQ_INT(role_of(st, o.id, org.id), IG_STORE_ROLE_OWNER);
    /* an owner to owner "change" is allowed; with a second owner the first one may step down */
    CHECK_EQ_INT(
        ig_store_membership_change(st, org.id, o.id, IG_STORE_ROLE_OWNER, IG_STORE_ROLE_OWNER, &old, NULL),
        IG_OK);
    CHECK_EQ_INT(
        ig_store_membership_change(st, org.id, adm.id, IG_STORE_ROLE_OWNER, IG_STORE_ROLE_OWNER, &old, NULL),
        IG_OK);
    CHECK_EQ_INT(old, IG_STORE_ROLE_ADMIN);
    CHECK_EQ_INT(
        ig_store_membership_change(st, org.id, o.id, IG_STORE_ROLE_ADMIN, IG_STORE_ROLE_OWNER, &old, NULL),
        IG_OK);
    CHECK_EQ_INT(old, IG_STORE_ROLE_OWNER);
    why = NULL;
    CHECK_EQ_INT(ig_store_membership_change(st, org.id, adm.id, -1, IG_STORE_ROLE_OWNER, NULL, &why),
                 IG_ECONFLICT);
    CHECK_EQ_STR(why, "last_owner");

    /* missing membership, another org, bad arguments */
    why = "unset";
    CHECK_EQ_INT(ig_store_membership_change(st, org.id, NO_ID, 1, IG_STORE_ROLE_OWNER, NULL, &why),
                 IG_ENOTFOUND);
    CHECK(why == NULL);
    CHECK_EQ_INT(ig_store_membership_change(st, other.id, vw.id, 1, IG_STORE_ROLE_OWNER, NULL, NULL),
                 IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_membership_change(st, NO_ID, vw.id, 1, IG_STORE_ROLE_OWNER, NULL, NULL),
                 IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_membership_change(st, org.id, vw.id, 4, IG_STORE_ROLE_OWNER, NULL, NULL),
                 IG_EINVAL);
    CHECK_EQ_INT(ig_store_membership_change(st, org.id, vw.id, -2, IG_STORE_ROLE_OWNER, NULL, NULL),
                 IG_EINVAL);
    CHECK_EQ_INT(ig_store_membership_change(st, org.id, vw.id, 1, 4, NULL, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_membership_change(st, org.id, vw.id, 1, -1, NULL, NULL), IG_EINVAL);
    CHECK_EQ_INT(role_of(st, vw.id, org.id), IG_STORE_ROLE_VIEWER);
    ig_store_close(st);
}

TEST(membership_change_keys_and_sessions)
{
    ig_store_t *st = open_db("change2.db");
    if (!st) return;
    ig_org_t org, home;
    ig_user_t o, mem;
    CHECK_EQ_INT(signup(st, "kc", "o@example.com", 1, &org, &o, NULL), IG_OK);
    add_member(st, org.id, "kc-mem", "mem@example.com", 2, IG_STORE_ROLE_ADMIN, &mem);
    CHECK_EQ_INT(ig_store_org_get_by_slug(st, "kc-mem", &home), IG_OK);
    uint8_t h[32];
    ig_keyrec_t k_admin, k_viewer, k_home, k_owner_made, got;
    fill_hash(h, 10);
    CHECK_EQ_INT(
        ig_store_key_create_for(st, org.id, h, "ig_a", NULL, IG_STORE_ROLE_ADMIN, 0, NULL, mem.id, &k_admin),
        IG_OK);
    fill_hash(h, 11);
    CHECK_EQ_INT(ig_store_key_create_for(st, org.id, h, "ig_v", NULL, IG_STORE_ROLE_VIEWER, 0, NULL, mem.id,
                                         &k_viewer),
                 IG_OK);
    fill_hash(h, 12);
    CHECK_EQ_INT(
        ig_store_key_create_for(st, home.id, h, "ig_h", NULL, IG_STORE_ROLE_ADMIN, 0, NULL, mem.id, &k_home),
        IG_OK);
    fill_hash(h, 13);
    CHECK_EQ_INT(ig_store_key_create_for(st, org.id, h, "ig_o", NULL, IG_STORE_ROLE_ADMIN, 0, NULL, o.id,
                                         &k_owner_made),
                 IG_OK);
    char s_org[33], s_home[33];
    make_jti(s_org, 1);
    make_jti(s_home, 2);
    int64_t exp = now_ms() + HOUR_MS;
    CHECK_EQ_INT(ig_store_session_create(st, s_org, mem.id, org.id, exp), IG_OK);
    CHECK_EQ_INT(ig_store_session_create(st, s_home, mem.id, home.id, exp), IG_OK);

    /* demotion caps the keys the member created in this org, and only those */
    int old = -1, role = -1;
    CHECK_EQ_INT(
        ig_store_membership_change(st, org.id, mem.id, IG_STORE_ROLE_MEMBER, IG_STORE_ROLE_OWNER, &old, NULL),
        IG_OK);
    CHECK_EQ_INT(old, IG_STORE_ROLE_ADMIN);
    CHECK_EQ_INT(ig_store_key_get(st, org.id, k_admin.id, &got), IG_OK);
    CHECK_EQ_INT(got.role, IG_STORE_ROLE_MEMBER);
    CHECK_EQ_INT(got.revoked_at, 0);
    CHECK_EQ_INT(ig_store_key_get(st, org.id, k_viewer.id, &got), IG_OK);
    CHECK_EQ_INT(got.role, IG_STORE_ROLE_VIEWER); /* never raised */
    CHECK_EQ_INT(ig_store_key_get(st, home.id, k_home.id, &got), IG_OK);
    CHECK_EQ_INT(got.role, IG_STORE_ROLE_ADMIN);
    CHECK_EQ_INT(ig_store_key_get(st, org.id, k_owner_made.id, &got), IG_OK);
    CHECK_EQ_INT(got.role, IG_STORE_ROLE_ADMIN);
    /* a promotion does not raise keys */
    CHECK_EQ_INT(
        ig_store_membership_change(st, org.id, mem.id, IG_STORE_ROLE_ADMIN, IG_STORE_ROLE_OWNER, NULL, NULL),
        IG_OK);
    CHECK_EQ_INT(ig_store_key_get(st, org.id, k_admin.id, &got), IG_OK);
    CHECK_EQ_INT(got.role, IG_STORE_ROLE_MEMBER);
    /* sessions see the current role */
    CHECK_EQ_INT(ig_store_session_check(st, s_org, mem.id, org.id, now_ms(), &role), IG_OK);
    CHECK_EQ_INT(role, IG_STORE_ROLE_ADMIN);

    /* removal: the member's keys of this org are revoked and its sessions there too */
    CHECK_EQ_INT(ig_store_membership_change(st, org.id, mem.id, -1, IG_STORE_ROLE_ADMIN, &old, NULL), IG_OK);
    CHECK_EQ_INT(old, IG_STORE_ROLE_ADMIN);
    ig_membership_t m;
    CHECK_EQ_INT(ig_store_membership_get(st, mem.id, org.id, &m), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_key_get(st, org.id, k_admin.id, &got), IG_OK);
    CHECK(got.revoked_at > 0);
    CHECK_EQ_INT(ig_store_key_get(st, org.id, k_viewer.id, &got), IG_OK);
    CHECK(got.revoked_at > 0);
    CHECK_EQ_INT(ig_store_key_get(st, home.id, k_home.id, &got), IG_OK);
    CHECK_EQ_INT(got.revoked_at, 0);
    CHECK_EQ_INT(ig_store_key_get(st, org.id, k_owner_made.id, &got), IG_OK);
    CHECK_EQ_INT(got.revoked_at, 0);
    CHECK_EQ_INT(ig_store_session_check(st, s_org, mem.id, org.id, now_ms(), &role), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_session_check(st, s_home, mem.id, home.id, now_ms(), &role), IG_OK);
    CHECK_EQ_INT(role, IG_STORE_ROLE_OWNER);
    /* rejoining does not bring the session back: it was revoked, not only hidden */
    CHECK_EQ_INT(ig_store_membership_add(st, mem.id, org.id, IG_STORE_ROLE_MEMBER, NULL), IG_OK);
    CHECK_EQ_INT(ig_store_session_check(st, s_org, mem.id, org.id, now_ms(), &role), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_key_get(st, org.id, k_admin.id, &got), IG_OK);
    CHECK(got.revoked_at > 0);
    ig_store_close(st);
}

/* Two owners demote each other at the same moment, each through its own handle. */
#define RACE_ROUNDS 10

typedef struct {
    pthread_barrier_t *go;
    const char *org_id, *target;
    int rc[RACE_ROUNDS];
} demoter_t;

static void *demoter(void *p)
{
    demoter_t *d = p;
    char path[128];
    int err;
    ig_store_t *st = ig_store_open(tmp_path(path, sizeof path, "race.db"), &err);
    for (int i = 0; i < RACE_ROUNDS; i++) {
        pthread_barrier_wait(d->go); /* start together */
        d->rc[i] = st ? ig_store_membership_change(st, d->org_id, d->target, IG_STORE_ROLE_ADMIN,
                                                   IG_STORE_ROLE_OWNER, NULL, NULL)
                      : err;
        pthread_barrier_wait(d->go); /* the main thread checks and resets */
        pthread_barrier_wait(d->go);
    }
    ig_store_close(st);
    return NULL;
}

TEST(membership_change_concurrent_owners)
{
    ig_store_t *st = open_db("race.db");
    if (!st) return;
    ig_org_t org;
    ig_user_t o1, o2;
    CHECK_EQ_INT(signup(st, "race", "o1@example.com", 1, &org, &o1, NULL), IG_OK);
    add_member(st, org.id, "race-2", "o2@example.com", 2, IG_STORE_ROLE_OWNER, &o2);
    /* a third connection holds the write lock while both calls start, so they really overlap: both are
     * waiting when it is released (a call that read before taking the write lock would then fail) */
    char path[128];
    sqlite3 *blocker = NULL;
    CHECK_EQ_INT(sqlite3_open(tmp_path(path, sizeof path, "race.db"), &blocker), SQLITE_OK);
    sqlite3_busy_timeout(blocker, 5000);
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, 3);
    demoter_t d1 = {&go, org.id, o2.id, {0}}, d2 = {&go, org.id, o1.id, {0}};
    pthread_t t1, t2;
    CHECK_EQ_INT(pthread_create(&t1, NULL, demoter, &d1), 0);
    CHECK_EQ_INT(pthread_create(&t2, NULL, demoter, &d2), 0);
    for (int i = 0; i < RACE_ROUNDS; i++) {
        CHECK_EQ_INT(sqlite3_exec(blocker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
        pthread_barrier_wait(&go);
        sleep_ms(30);
        CHECK_EQ_INT(sqlite3_exec(blocker, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
        pthread_barrier_wait(&go);
        /* exactly one wins, the other is refused: the org always keeps an owner */
        int ok = (d1.rc[i] == IG_OK) + (d2.rc[i] == IG_OK);
        int refused = (d1.rc[i] == IG_ECONFLICT) + (d2.rc[i] == IG_ECONFLICT);
        CHECK_EQ_INT(ok, 1);
        CHECK_EQ_INT(refused, 1);
        int owners = (role_of(st, o1.id, org.id) == IG_STORE_ROLE_OWNER) +
                     (role_of(st, o2.id, org.id) == IG_STORE_ROLE_OWNER);
        CHECK_EQ_INT(owners, 1);
        /* both owners again for the next round */
        const char *demoted = role_of(st, o1.id, org.id) == IG_STORE_ROLE_OWNER ? o2.id : o1.id;
        CHECK_EQ_INT(ig_store_membership_change(st, org.id, demoted, IG_STORE_ROLE_OWNER, IG_STORE_ROLE_OWNER,
                                                NULL, NULL),
                     IG_OK);
        pthread_barrier_wait(&go);
    }
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    pthread_barrier_destroy(&go);
    sqlite3_close(blocker);
    ig_store_close(st);
}

TEST(org_transfer)
{
    ig_store_t *st = open_db("transfer.db");
    if (!st) return;
    ig_org_t org, home;
    ig_user_t o, a, v, out;
    CHECK_EQ_INT(signup(st, "tr", "o@example.com", 1, &org, &o, NULL), IG_OK);
    add_member(st, org.id, "tr-a", "a@example.com", 2, IG_STORE_ROLE_ADMIN, &a);
    add_member(st, org.id, "tr-v", "v@example.com", 3, IG_STORE_ROLE_VIEWER, &v);
    CHECK_EQ_INT(signup(st, "tr-out", "out@example.com", 4, NULL, &out, NULL), IG_OK);
    CHECK_EQ_INT(ig_store_org_create(st, "tr-home", "Home", &home), IG_OK);
    CHECK_EQ_INT(ig_store_membership_add(st, o.id, home.id, IG_STORE_ROLE_OWNER, NULL), IG_OK);
    uint8_t h[32];
    ig_keyrec_t k_owner, k_viewer, k_home, got;
    fill_hash(h, 10);
    CHECK_EQ_INT(
        ig_store_key_create_for(st, org.id, h, "ig_o", NULL, IG_STORE_ROLE_OWNER, 0, NULL, o.id, &k_owner),
        IG_OK);
    fill_hash(h, 11);
    CHECK_EQ_INT(
        ig_store_key_create_for(st, org.id, h, "ig_v", NULL, IG_STORE_ROLE_VIEWER, 0, NULL, o.id, &k_viewer),
        IG_OK);
    fill_hash(h, 12);
    CHECK_EQ_INT(
        ig_store_key_create_for(st, home.id, h, "ig_h", NULL, IG_STORE_ROLE_OWNER, 0, NULL, o.id, &k_home),
        IG_OK);

    /* refused: not an owner, not a member, same user, unknown or foreign org */
    CHECK_EQ_INT(ig_store_org_transfer(st, org.id, a.id, v.id), IG_EFORBIDDEN);
    CHECK_EQ_INT(ig_store_org_transfer(st, org.id, out.id, a.id), IG_EFORBIDDEN);
    CHECK_EQ_INT(ig_store_org_transfer(st, org.id, NO_ID "x", a.id), IG_EFORBIDDEN);
    CHECK_EQ_INT(ig_store_org_transfer(st, org.id, o.id, out.id), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_org_transfer(st, org.id, o.id, NO_ID), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_org_transfer(st, org.id, o.id, NO_ID "x"), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_org_transfer(st, org.id, a.id, NO_ID "x"), IG_EFORBIDDEN);
    CHECK_EQ_INT(ig_store_org_transfer(st, org.id, o.id, o.id), IG_EINVAL);
    CHECK_EQ_INT(ig_store_org_transfer(st, org.id, NULL, a.id), IG_EINVAL);
    CHECK_EQ_INT(ig_store_org_transfer(st, NO_ID, o.id, a.id), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_org_transfer(st, NO_ID, NO_ID "x", a.id), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_org_transfer(st, home.id, o.id, a.id), IG_ENOTFOUND); /* a is not in home */
    CHECK_EQ_INT(role_of(st, o.id, org.id), IG_STORE_ROLE_OWNER);
    CHECK_EQ_INT(role_of(st, a.id, org.id), IG_STORE_ROLE_ADMIN);

    CHECK_EQ_INT(ig_store_org_transfer(st, org.id, o.id, a.id), IG_OK);
    CHECK_EQ_INT(role_of(st, a.id, org.id), IG_STORE_ROLE_OWNER);
    CHECK_EQ_INT(role_of(st, o.id, org.id), IG_STORE_ROLE_ADMIN);
    CHECK_EQ_INT(role_of(st, o.id, home.id), IG_STORE_ROLE_OWNER);
    CHECK_EQ_INT(ig_store_key_get(st, org.id, k_owner.id, &got), IG_OK);
    CHECK_EQ_INT(got.role, IG_STORE_ROLE_ADMIN);
    CHECK_EQ_INT(got.revoked_at, 0);
    CHECK_EQ_INT(ig_store_key_get(st, org.id, k_viewer.id, &got), IG_OK);
    CHECK_EQ_INT(got.role, IG_STORE_ROLE_VIEWER);
    CHECK_EQ_INT(ig_store_key_get(st, home.id, k_home.id, &got), IG_OK);
    CHECK_EQ_INT(got.role, IG_STORE_ROLE_OWNER);
    /* the former owner cannot transfer again */
    CHECK_EQ_INT(ig_store_org_transfer(st, org.id, o.id, v.id), IG_EFORBIDDEN);
    ig_store_close(st);
}

/* ---- invitations ---- */

TEST(invites_create_list_revoke)
{
    ig_store_t *st = open_db("inv.db");
    if (!st) return;
    ig_org_t org, other;
    ig_user_t o;
    CHECK_EQ_INT(signup(st, "inv", "owner@example.com", 1, &org, &o, NULL), IG_OK);
    CHECK_EQ_INT(ig_store_org_create(st, "inv-other", "Other", &other), IG_OK);
    uint8_t t1[32], t2[32], t3[32], t4[32];
    fill_hash(t1, 50);
    fill_hash(t2, 51);
    fill_hash(t3, 52);
    fill_hash(t4, 53);
    int64_t exp = now_ms() + HOUR_MS;
    ig_invite_t inv, got;
    CHECK_EQ_INT(ig_store_invite_create(st, org.id, "New.Person@Example.COM", IG_STORE_ROLE_MEMBER, t1, o.id,
                                        exp, &inv),
                 IG_OK);
    CHECK_EQ_INT((int)strlen(inv.id), 32);
    CHECK_EQ_STR(inv.org_id, org.id);
    CHECK_EQ_STR(inv.email, "new.person@example.com");
    CHECK_EQ_INT(inv.role, IG_STORE_ROLE_MEMBER);
    CHECK_EQ_STR(inv.invited_by, o.id);
    CHECK_EQ_INT(inv.expires_at, exp);
    CHECK(inv.created_at > 0);
    CHECK_EQ_INT(inv.accepted_at, 0);
    CHECK_EQ_INT(inv.revoked_at, 0);
    CHECK_EQ_INT(ig_store_invite_get_by_token(st, t1, &got), IG_OK);
    CHECK_EQ_STR(got.id, inv.id);
    CHECK_EQ_STR(got.email, "new.person@example.com");
    CHECK_EQ_STR(got.invited_by, o.id);
    CHECK_EQ_INT(got.created_at, inv.created_at);
    CHECK_EQ_INT(ig_store_invite_get_by_token(st, t4, &got), IG_ENOTFOUND);

    /* conflicts: a pending invitation (any case), an existing member, a token hash already stored */
    CHECK_EQ_INT(ig_store_invite_create(st, org.id, "new.person@example.com", 0, t2, NULL, exp, NULL),
                 IG_ECONFLICT);
    CHECK_EQ_INT(ig_store_invite_create(st, org.id, "OWNER@example.com", 0, t2, NULL, exp, NULL),
                 IG_ECONFLICT);
    CHECK_EQ_INT(ig_store_invite_create(st, org.id, "third@example.com", 0, t1, NULL, exp, NULL),
                 IG_ECONFLICT);
    /* the same email may be invited to another org; no inviter is fine */
    CHECK_EQ_INT(ig_store_invite_create(st, other.id, "new.person@example.com", 2, t2, NULL, exp, &got),
                 IG_OK);
    CHECK_EQ_STR(got.invited_by, "");
    /* bad input */
    CHECK_EQ_INT(ig_store_invite_create(st, org.id, "not-an-email", 0, t3, NULL, exp, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_invite_create(st, org.id, "x@example.com", 4, t3, NULL, exp, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_invite_create(st, org.id, "x@example.com", -1, t3, NULL, exp, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_invite_create(st, org.id, "x@example.com", 0, NULL, NULL, exp, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_invite_create(st, org.id, "x@example.com", 0, t3, NULL, now_ms() - 1, NULL),
                 IG_EINVAL);
    CHECK_EQ_INT(ig_store_invite_create(st, org.id, "x@example.com", 0, t3, "bad id", exp, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_invite_create(st, NO_ID, "x@example.com", 0, t3, NULL, exp, NULL), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_invite_create(st, org.id, "x@example.com", 0, t3, NO_ID, exp, NULL), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_invite_get_by_token(st, t3, &got), IG_ENOTFOUND);

    sleep_ms(2);
    ig_invite_t inv2;
    CHECK_EQ_INT(
        ig_store_invite_create(st, org.id, "second@example.com", IG_STORE_ROLE_ADMIN, t3, o.id, exp, &inv2),
        IG_OK);
    ig_invite_t list[4];
    size_t n = 0;
    CHECK_EQ_INT(ig_store_invite_list(st, org.id, list, 4, &n), IG_OK);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(list[0].id, inv.id); /* oldest first */
    CHECK_EQ_STR(list[1].id, inv2.id);
    CHECK_EQ_INT(list[1].role, IG_STORE_ROLE_ADMIN);
    CHECK_EQ_INT(ig_store_invite_list(st, org.id, list, 1, &n), IG_ETOOBIG);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(ig_store_invite_list(st, other.id, list, 4, &n), IG_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(ig_store_invite_list(st, NO_ID, list, 4, &n), IG_OK);
    CHECK_EQ_INT(n, 0);

    /* revoke: another org's id is not found, the right one works once */
    CHECK_EQ_INT(ig_store_invite_revoke(st, other.id, inv.id, &got), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_invite_get_by_token(st, t1, &got), IG_OK);
    CHECK_EQ_INT(ig_store_invite_revoke(st, org.id, inv.id, &got), IG_OK);
    CHECK_EQ_STR(got.id, inv.id);
    CHECK(got.revoked_at > 0);
    CHECK_EQ_INT(got.accepted_at, 0);
    CHECK_EQ_INT(ig_store_invite_revoke(st, org.id, inv.id, &got), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_invite_revoke(st, org.id, NO_ID, NULL), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_invite_revoke(st, org.id, NO_ID "0", NULL), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_invite_get_by_token(st, t1, &got), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_invite_accept(st, t1, BCRYPT_A, NULL, NULL, NULL), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_invite_list(st, org.id, list, 4, &n), IG_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_STR(list[0].id, inv2.id);
    /* a revoked invitation no longer blocks a new one */
    CHECK_EQ_INT(ig_store_invite_create(st, org.id, "new.person@example.com", 0, t4, NULL, exp, NULL), IG_OK);
    ig_store_close(st);
}

TEST(invites_accept)
{
    ig_store_t *st = open_db("accept.db");
    if (!st) return;
    ig_org_t org;
    ig_user_t o, existing, u, u2;
    ig_membership_t m;
    CHECK_EQ_INT(signup(st, "acc", "owner@example.com", 1, &org, &o, NULL), IG_OK);
    CHECK_EQ_INT(signup(st, "acc-ex", "existing@example.com", 2, NULL, &existing, NULL), IG_OK);
    uint8_t t1[32], t2[32], t3[32], t4[32];
    fill_hash(t1, 60);
    fill_hash(t2, 61);
    fill_hash(t3, 62);
    fill_hash(t4, 63);
    int64_t exp = now_ms() + HOUR_MS;
    CHECK_EQ_INT(
        ig_store_invite_create(st, org.id, "fresh@example.com", IG_STORE_ROLE_MEMBER, t1, o.id, exp, NULL),
        IG_OK);

    /* a new user needs a password hash; a malformed one is refused; nothing is used up */
    CHECK_EQ_INT(ig_store_invite_accept(st, t1, NULL, "Fresh", &u, &m), IG_EINVAL);
    CHECK_EQ_INT(ig_store_invite_accept(st, t1, "plain", "Fresh", &u, &m), IG_EINVAL);
    CHECK_EQ_INT(ig_store_invite_accept(st, t1, BCRYPT_B, "bad\nname", &u, &m), IG_EINVAL);
    CHECK_EQ_INT(ig_store_invite_accept(st, NULL, BCRYPT_B, NULL, &u, &m), IG_EINVAL);
    CHECK_EQ_INT(ig_store_user_get_by_email(st, "fresh@example.com", &u), IG_ENOTFOUND);
    ig_invite_t got;
    CHECK_EQ_INT(ig_store_invite_get_by_token(st, t1, &got), IG_OK);

    CHECK_EQ_INT(ig_store_invite_accept(st, t1, BCRYPT_B, "Fresh", &u, &m), IG_OK);
    CHECK_EQ_INT((int)strlen(u.id), 32);
    CHECK_EQ_STR(u.email, "fresh@example.com");
    CHECK_EQ_STR(u.password_hash, BCRYPT_B);
    CHECK_EQ_STR(u.display_name, "Fresh");
    CHECK_EQ_STR(m.user_id, u.id);
    CHECK_EQ_STR(m.org_id, org.id);
    CHECK_EQ_INT(m.role, IG_STORE_ROLE_MEMBER);
    CHECK_EQ_INT(ig_store_user_get_by_email(st, "fresh@example.com", &u2), IG_OK);
    CHECK_EQ_STR(u2.id, u.id);
    CHECK_EQ_INT(role_of(st, u.id, org.id), IG_STORE_ROLE_MEMBER);
    /* used: never again */
    CHECK_EQ_INT(ig_store_invite_accept(st, t1, BCRYPT_B, "Fresh", &u2, &m), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_invite_get_by_token(st, t1, &got), IG_ENOTFOUND);
    ig_invite_t list[2];
    size_t n = 9;
    CHECK_EQ_INT(ig_store_invite_list(st, org.id, list, 2, &n), IG_OK);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(
        raw_int_arg("accept.db", "SELECT COUNT(*) FROM invitations WHERE accepted_at IS NOT NULL", NULL), 1);

    /* an existing user joins; the password hash and name given are ignored */
    CHECK_EQ_INT(
        ig_store_invite_create(st, org.id, "Existing@Example.com", IG_STORE_ROLE_ADMIN, t2, NULL, exp, NULL),
        IG_OK);
    CHECK_EQ_INT(ig_store_invite_accept(st, t2, NULL, NULL, &u, &m), IG_OK);
    CHECK_EQ_STR(u.id, existing.id);
    CHECK_EQ_STR(u.password_hash, BCRYPT_A);
    CHECK_EQ_INT(m.role, IG_STORE_ROLE_ADMIN);
    CHECK_EQ_INT(ig_store_user_get(st, existing.id, &u2), IG_OK);
    CHECK_EQ_STR(u2.password_hash, BCRYPT_A);
    CHECK_EQ_STR(u2.display_name, "Someone");
    CHECK_EQ_INT(role_of(st, existing.id, org.id), IG_STORE_ROLE_ADMIN);
    CHECK_EQ_INT(ig_store_invite_accept(st, t2, NULL, NULL, NULL, NULL), IG_ENOTFOUND);

    /* already a member by the time of acceptance: refused, and the invitation stays pending */
    CHECK_EQ_INT(ig_store_invite_create(st, org.id, "late@example.com", 0, t3, NULL, exp, NULL), IG_OK);
    ig_user_t late;
    CHECK_EQ_INT(signup(st, "acc-late", "late@example.com", 3, NULL, &late, NULL), IG_OK);
    CHECK_EQ_INT(ig_store_membership_add(st, late.id, org.id, IG_STORE_ROLE_VIEWER, NULL), IG_OK);
    CHECK_EQ_INT(ig_store_invite_accept(st, t3, NULL, NULL, &u, &m), IG_ECONFLICT);
    CHECK_EQ_INT(ig_store_invite_get_by_token(st, t3, &got), IG_OK);
    CHECK_EQ_INT(role_of(st, late.id, org.id), IG_STORE_ROLE_VIEWER);

    /* an expired invitation is neither found, listed, accepted nor revoked, and no longer blocks the email */
    ig_invite_t ex;
    CHECK_EQ_INT(ig_store_invite_create(st, org.id, "slow@example.com", 0, t4, NULL, now_ms() + 40, &ex),
                 IG_OK);
    sleep_ms(80);
    CHECK_EQ_INT(ig_store_invite_get_by_token(st, t4, &got), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_invite_accept(st, t4, BCRYPT_A, NULL, &u, &m), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_user_get_by_email(st, "slow@example.com", &u), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_invite_revoke(st, org.id, ex.id, NULL), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_invite_list(st, org.id, list, 2, &n), IG_OK);
    CHECK_EQ_INT(n, 1); /* only t3's */
    uint8_t t5[32];
    fill_hash(t5, 64);
    CHECK_EQ_INT(
        ig_store_invite_create(st, org.id, "slow@example.com", 0, t5, NULL, now_ms() + HOUR_MS, NULL), IG_OK);
    ig_store_close(st);
}

/* ---- sessions ---- */

TEST(sessions)
{
    ig_store_t *st = open_db("sess.db");
    if (!st) return;
    ig_org_t org, home;
    ig_user_t o, u;
    CHECK_EQ_INT(signup(st, "ses", "o@example.com", 1, &org, &o, NULL), IG_OK);
    add_member(st, org.id, "ses-u", "u@example.com", 2, IG_STORE_ROLE_MEMBER, &u);
    CHECK_EQ_INT(ig_store_org_get_by_slug(st, "ses-u", &home), IG_OK);
    char j1[33], j2[33], j3[33], j4[33];
    make_jti(j1, 1);
    make_jti(j2, 2);
    make_jti(j3, 3);
    make_jti(j4, 4);
    int64_t now = now_ms(), exp = now + HOUR_MS;
    int role = -1;
    CHECK_EQ_INT(ig_store_session_create(st, j1, u.id, org.id, exp), IG_OK);
    CHECK_EQ_INT(ig_store_session_create(st, j2, u.id, home.id, exp), IG_OK);
    CHECK_EQ_INT(ig_store_session_create(st, j3, o.id, org.id, exp), IG_OK);
    CHECK_EQ_INT(ig_store_session_check(st, j1, u.id, org.id, now, &role), IG_OK);
    CHECK_EQ_INT(role, IG_STORE_ROLE_MEMBER);
    CHECK_EQ_INT(ig_store_session_check(st, j2, u.id, home.id, now, &role), IG_OK);
    CHECK_EQ_INT(role, IG_STORE_ROLE_OWNER);
    /* the role is looked up live */
    CHECK_EQ_INT(
        ig_store_membership_change(st, org.id, u.id, IG_STORE_ROLE_ADMIN, IG_STORE_ROLE_OWNER, NULL, NULL),
        IG_OK);
    CHECK_EQ_INT(ig_store_session_check(st, j1, u.id, org.id, now, &role), IG_OK);
    CHECK_EQ_INT(role, IG_STORE_ROLE_ADMIN);

    /* mismatches and expiry */
    role = -1;
    CHECK_EQ_INT(ig_store_session_check(st, j1, o.id, org.id, now, &role), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_session_check(st, j1, u.id, home.id, now, &role), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_session_check(st, j4, u.id, org.id, now, &role), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_session_check(st, j1, u.id, org.id, exp, &role), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_session_check(st, j1, u.id, org.id, exp - 1, &role), IG_OK);
    CHECK_EQ_INT(ig_store_session_check(st, "x", u.id, org.id, now, &role), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_session_check(st, j1, u.id, org.id, now, NULL), IG_EINVAL);

    /* create: duplicate jti, unknown user or org, malformed input */
    CHECK_EQ_INT(ig_store_session_create(st, j1, o.id, org.id, exp), IG_ECONFLICT);
    CHECK_EQ_INT(ig_store_session_create(st, j4, NO_ID, org.id, exp), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_session_create(st, j4, u.id, NO_ID, exp), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_session_create(st, j4, u.id, NO_ID "0", exp), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_session_create(st, "0123456789ABCDEF0123456789abcdef", u.id, org.id, exp),
                 IG_EINVAL);
    CHECK_EQ_INT(ig_store_session_create(st, "0123", u.id, org.id, exp), IG_EINVAL);
    CHECK_EQ_INT(ig_store_session_create(st, j4, u.id, org.id, 0), IG_EINVAL);
    CHECK_EQ_INT(ig_store_session_create(st, NULL, u.id, org.id, exp), IG_EINVAL);

    /* revoke one: idempotent, unknown jti not found */
    CHECK_EQ_INT(ig_store_session_revoke(st, j1), IG_OK);
    CHECK_EQ_INT(ig_store_session_check(st, j1, u.id, org.id, now, &role), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_session_revoke(st, j1), IG_OK);
    CHECK_EQ_INT(ig_store_session_revoke(st, j4), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_session_revoke(st, NO_ID "00"), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_session_check(st, j2, u.id, home.id, now, &role), IG_OK);

    /* revoke all of a user's sessions, every org; others' stay */
    CHECK_EQ_INT(ig_store_sessions_revoke_user(st, u.id), IG_OK);
    CHECK_EQ_INT(ig_store_session_check(st, j2, u.id, home.id, now, &role), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_session_check(st, j3, o.id, org.id, now, &role), IG_OK);
    CHECK_EQ_INT(ig_store_sessions_revoke_user(st, NO_ID), IG_OK);
    CHECK_EQ_INT(ig_store_sessions_revoke_user(st, NO_ID "-long"), IG_OK);
    CHECK_EQ_INT(ig_store_sessions_revoke_user(st, NULL), IG_EINVAL);

    /* a password change revokes the user's sessions in the same transaction */
    CHECK_EQ_INT(ig_store_session_create(st, j4, o.id, org.id, exp), IG_OK);
    CHECK_EQ_INT(ig_store_user_set_password(st, o.id, BCRYPT_B), IG_OK);
    CHECK_EQ_INT(ig_store_session_check(st, j3, o.id, org.id, now, &role), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_session_check(st, j4, o.id, org.id, now, &role), IG_ENOTFOUND);
    /* … and a failed one revokes nothing */
    char j5[33];
    make_jti(j5, 5);
    CHECK_EQ_INT(ig_store_session_create(st, j5, o.id, org.id, exp), IG_OK);
    CHECK_EQ_INT(ig_store_user_set_password(st, o.id, "not bcrypt"), IG_EINVAL);
    CHECK_EQ_INT(ig_store_user_set_password(st, NO_ID, BCRYPT_B), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_session_check(st, j5, o.id, org.id, now, &role), IG_OK);
    CHECK_EQ_INT(role, IG_STORE_ROLE_OWNER);
    ig_store_close(st);

    /* housekeeping: rows that expired over a day ago go, at most 100 per sign-in; recent ones stay */
    char sql[256];
    for (int i = 0; i < 150; i++) {
        snprintf(sql, sizeof sql, "INSERT INTO sessions VALUES ('old%03d', '%s', '%s', 1000, %lld, NULL)", i,
                 o.id, org.id, (long long)(now - 2 * 24 * HOUR_MS));
        CHECK_EQ_INT(raw_exec("sess.db", sql), SQLITE_OK);
    }
    snprintf(sql, sizeof sql, "INSERT INTO sessions VALUES ('recent', '%s', '%s', 1000, %lld, NULL)", o.id,
             org.id, (long long)(now - HOUR_MS));
    CHECK_EQ_INT(raw_exec("sess.db", sql), SQLITE_OK);
    st = open_db("sess.db");
    if (!st) return;
    char j6[33], j7[33];
    make_jti(j6, 6);
    make_jti(j7, 7);
    CHECK_EQ_INT(ig_store_session_create(st, j6, o.id, org.id, exp), IG_OK);
    CHECK_EQ_INT(raw_int_arg("sess.db", "SELECT COUNT(*) FROM sessions WHERE jti LIKE 'old%%'", NULL), 50);
    CHECK_EQ_INT(ig_store_session_create(st, j7, o.id, org.id, exp), IG_OK);
    CHECK_EQ_INT(raw_int_arg("sess.db", "SELECT COUNT(*) FROM sessions WHERE jti LIKE 'old%%'", NULL), 0);
    CHECK_EQ_INT(raw_int_arg("sess.db", "SELECT COUNT(*) FROM sessions WHERE jti = 'recent'", NULL), 1);
    ig_store_close(st);
}

/* ---- teams and apps ---- */

TEST(teams_and_apps)
{
    ig_store_t *st = open_db("teams.db");
    if (!st) return;
    ig_org_t a, b;
    CHECK_EQ_INT(ig_store_org_create(st, "ta-a", "A", &a), IG_OK);
    CHECK_EQ_INT(ig_store_org_create(st, "ta-b", "B", &b), IG_OK);
    ig_team_t t1, t2, tb, tl[4];
    CHECK_EQ_INT(ig_store_team_create(st, a.id, "Platform", &t1), IG_OK);
    CHECK_EQ_INT((int)strlen(t1.id), 32);
    CHECK_EQ_STR(t1.org_id, a.id);
    CHECK_EQ_STR(t1.name, "Platform");
    CHECK(t1.created_at > 0);
    sleep_ms(2);
    CHECK_EQ_INT(ig_store_team_create(st, a.id, "Research", &t2), IG_OK);
    CHECK_EQ_INT(ig_store_team_create(st, a.id, "Platform", NULL), IG_ECONFLICT);
    CHECK_EQ_INT(ig_store_team_create(st, b.id, "Platform", &tb), IG_OK); /* unique per org only */
    CHECK_EQ_INT(ig_store_team_create(st, a.id, "", NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_team_create(st, a.id, "tab\there", NULL), IG_EINVAL);
    char long_name[131];
    memset(long_name, 'n', 129);
    long_name[129] = '\0';
    CHECK_EQ_INT(ig_store_team_create(st, a.id, long_name, NULL), IG_EINVAL);
    long_name[128] = '\0';
    sleep_ms(2); /* created after Research: the list order is by created_at */
    CHECK_EQ_INT(ig_store_team_create(st, a.id, long_name, NULL), IG_OK);
    CHECK_EQ_INT(ig_store_team_create(st, NO_ID, "X", NULL), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_team_create(st, NO_ID "0", "X", NULL), IG_ENOTFOUND);
    size_t n = 0;
    CHECK_EQ_INT(ig_store_team_list(st, a.id, tl, 4, &n), IG_OK);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_STR(tl[0].id, t1.id);
    CHECK_EQ_STR(tl[1].id, t2.id);
    CHECK_EQ_STR(tl[1].name, "Research");
    CHECK_EQ_INT(ig_store_team_list(st, a.id, tl, 2, &n), IG_ETOOBIG);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(ig_store_team_list(st, NO_ID, tl, 4, &n), IG_OK);
    CHECK_EQ_INT(n, 0);

    /* apps: optional team of the same org */
    ig_app_t p1, p2, p3, al[4];
    CHECK_EQ_INT(ig_store_app_create(st, a.id, "chatbot", t1.id, &p1), IG_OK);
    CHECK_EQ_STR(p1.team_id, t1.id);
    CHECK_EQ_STR(p1.org_id, a.id);
    CHECK_EQ_STR(p1.name, "chatbot");
    sleep_ms(2);
    CHECK_EQ_INT(ig_store_app_create(st, a.id, "batch", "", &p2), IG_OK);
    CHECK_EQ_STR(p2.team_id, "");
    sleep_ms(2);
    CHECK_EQ_INT(ig_store_app_create(st, a.id, "search", t2.id, &p3), IG_OK);
    CHECK_EQ_INT(ig_store_app_create(st, a.id, "chatbot", NULL, NULL), IG_ECONFLICT);
    CHECK_EQ_INT(ig_store_app_create(st, a.id, "x", tb.id, NULL), IG_ENOTFOUND); /* another org's team */
    CHECK_EQ_INT(ig_store_app_create(st, a.id, "x", NO_ID, NULL), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_app_create(st, a.id, "x", NO_ID "0", NULL), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_app_create(st, NO_ID, "x", NULL, NULL), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_app_create(st, a.id, "", NULL, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_app_create(st, a.id, NULL, NULL, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_app_list(st, a.id, al, 4, &n), IG_OK);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_STR(al[0].id, p1.id);
    CHECK_EQ_STR(al[0].team_id, t1.id);
    CHECK_EQ_STR(al[1].id, p2.id);
    CHECK_EQ_STR(al[1].team_id, "");
    CHECK_EQ_INT(ig_store_app_list(st, b.id, al, 4, &n), IG_OK);
    CHECK_EQ_INT(n, 0);

    /* deleting a team: another org cannot; its apps stay, with no team */
    CHECK_EQ_INT(ig_store_team_delete(st, b.id, t1.id), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_team_delete(st, a.id, NO_ID), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_team_delete(st, a.id, t1.id), IG_OK);
    CHECK_EQ_INT(ig_store_team_delete(st, a.id, t1.id), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_app_list(st, a.id, al, 4, &n), IG_OK);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_STR(al[0].team_id, "");
    CHECK_EQ_STR(al[2].team_id, t2.id); /* the other team's app is untouched */
    CHECK_EQ_INT(ig_store_team_list(st, a.id, tl, 4, &n), IG_OK);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(ig_store_team_list(st, b.id, tl, 4, &n), IG_OK);
    CHECK_EQ_INT(n, 1);

    /* deleting an app: keys pointing at it keep working with no app */
    uint8_t h[32];
    ig_keyrec_t k, got;
    fill_hash(h, 5);
    CHECK_EQ_INT(ig_store_key_create_for(st, a.id, h, "ig_app", "k", 1, 0, p1.id, NULL, &k), IG_OK);
    CHECK_EQ_INT(ig_store_app_delete(st, b.id, p1.id), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_key_get(st, a.id, k.id, &got), IG_OK);
    CHECK_EQ_STR(got.app_id, p1.id);
    CHECK_EQ_INT(ig_store_app_delete(st, a.id, p1.id), IG_OK);
    CHECK_EQ_INT(ig_store_app_delete(st, a.id, p1.id), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_app_delete(st, a.id, NO_ID "0"), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_key_get_by_hash(st, h, &got), IG_OK);
    CHECK_EQ_STR(got.app_id, "");
    CHECK_EQ_INT(got.revoked_at, 0);
    CHECK_EQ_INT(ig_store_app_list(st, a.id, al, 4, &n), IG_OK);
    CHECK_EQ_INT(n, 2);
    ig_store_close(st);
}

/* ---- providers ---- */

TEST(provider_delete)
{
    ig_store_t *st = open_db("provdel.db");
    if (!st) return;
    ig_org_t a, b;
    CHECK_EQ_INT(ig_store_org_create(st, "pd-a", "A", &a), IG_OK);
    CHECK_EQ_INT(ig_store_org_create(st, "pd-b", "B", &b), IG_OK);
    const uint8_t env[] = {1, 2, 3, 4};
    CHECK_EQ_INT(ig_store_provider_set(st, a.id, "openai", IG_STORE_AUTH_STORED, env, sizeof env), IG_OK);
    CHECK_EQ_INT(ig_store_provider_set(st, a.id, "anthropic", IG_STORE_AUTH_PASSTHROUGH, NULL, 0), IG_OK);
    CHECK_EQ_INT(ig_store_provider_set(st, b.id, "openai", IG_STORE_AUTH_STORED, env, sizeof env), IG_OK);
    CHECK_EQ_INT(ig_store_provider_delete(st, b.id, "anthropic"), IG_ENOTFOUND); /* a's, not b's */
    CHECK_EQ_INT(ig_store_provider_delete(st, a.id, "openai"), IG_OK);
    int mode;
    uint8_t *sec = NULL;
    size_t len;
    CHECK_EQ_INT(ig_store_provider_get(st, a.id, "openai", &mode, &sec, &len), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_provider_get(st, a.id, "anthropic", &mode, &sec, &len), IG_OK);
    CHECK_EQ_INT(ig_store_provider_get(st, b.id, "openai", &mode, &sec, &len), IG_OK);
    free(sec);
    CHECK_EQ_INT(ig_store_provider_delete(st, a.id, "openai"), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_provider_delete(st, NO_ID, "openai"), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_provider_delete(st, a.id, "a provider name longer than 32 bytes"), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_provider_delete(st, a.id, NULL), IG_EINVAL);
    ig_store_close(st);
}

/* ---- audit ---- */

TEST(audit_query_and_get)
{
    ig_store_t *st = open_db("auditq.db");
    if (!st) return;
    ig_org_t a, b;
    CHECK_EQ_INT(ig_store_org_create(st, "aq-a", "A", &a), IG_OK);
    CHECK_EQ_INT(ig_store_org_create(st, "aq-b", "B", &b), IG_OK);
    ig_audit_t e[8];
    CHECK_EQ_INT(ig_store_audit_append(st, a.id, "user1", "key.create", "k1", NULL, NULL, &e[0]), IG_OK);
    CHECK_EQ_INT(ig_store_audit_append(st, a.id, "user2", "key.revoke", "k1", NULL, NULL, &e[1]), IG_OK);
    CHECK_EQ_INT(ig_store_audit_append(st, b.id, "user1", "key.create", "k9", NULL, NULL, &e[2]), IG_OK);
    sleep_ms(5);
    CHECK_EQ_INT(ig_store_audit_append(st, a.id, "user1", "key.create", "k2", NULL, NULL, &e[3]), IG_OK);
    CHECK_EQ_INT(ig_store_audit_append(st, a.id, "user1", "org.update", NULL, NULL, NULL, &e[4]), IG_OK);

    ig_audit_t out[10];
    size_t n = 0;
    CHECK_EQ_INT(ig_store_audit_query(st, a.id, NULL, INT64_MAX, out, 10, &n), IG_OK);
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(out[0].seq, e[4].seq); /* newest first */
    CHECK_EQ_INT(out[3].seq, e[0].seq);
    ig_audit_filter_t f = {.action = "key.create"};
    CHECK_EQ_INT(ig_store_audit_query(st, a.id, &f, INT64_MAX, out, 10, &n), IG_OK);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(out[0].id, e[3].id);
    CHECK_EQ_STR(out[1].id, e[0].id);
    f = (ig_audit_filter_t){.actor = "user2"};
    CHECK_EQ_INT(ig_store_audit_query(st, a.id, &f, INT64_MAX, out, 10, &n), IG_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_STR(out[0].id, e[1].id);
    f = (ig_audit_filter_t){.target = "k1", .actor = ""};
    CHECK_EQ_INT(ig_store_audit_query(st, a.id, &f, INT64_MAX, out, 10, &n), IG_OK);
    CHECK_EQ_INT(n, 2);
    f = (ig_audit_filter_t){.target = "k1", .action = "key.create", .actor = "user1"};
    CHECK_EQ_INT(ig_store_audit_query(st, a.id, &f, INT64_MAX, out, 10, &n), IG_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_STR(out[0].id, e[0].id);
    /* time range, inclusive on both ends */
    f = (ig_audit_filter_t){.since = e[3].created_at};
    CHECK_EQ_INT(ig_store_audit_query(st, a.id, &f, INT64_MAX, out, 10, &n), IG_OK);
    CHECK_EQ_INT(n, 2);
    f = (ig_audit_filter_t){.until = e[1].created_at};
    CHECK_EQ_INT(ig_store_audit_query(st, a.id, &f, INT64_MAX, out, 10, &n), IG_OK);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(out[0].id, e[1].id);
    f = (ig_audit_filter_t){.since = e[3].created_at, .until = e[3].created_at, .action = "key.create"};
    CHECK_EQ_INT(ig_store_audit_query(st, a.id, &f, INT64_MAX, out, 10, &n), IG_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_STR(out[0].id, e[3].id);
    /* paging with a filter: the last seq is the cursor */
    f = (ig_audit_filter_t){.actor = "user1"};
    CHECK_EQ_INT(ig_store_audit_query(st, a.id, &f, INT64_MAX, out, 2, &n), IG_OK);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(out[1].id, e[3].id);
    CHECK_EQ_INT(ig_store_audit_query(st, a.id, &f, out[1].seq, out, 2, &n), IG_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_STR(out[0].id, e[0].id);
    /* nothing can match: empty, not an error */
    f = (ig_audit_filter_t){.action = "no.such"};
    CHECK_EQ_INT(ig_store_audit_query(st, a.id, &f, INT64_MAX, out, 10, &n), IG_OK);
    CHECK_EQ_INT(n, 0);
    char long_action[80];
    memset(long_action, 'a', 79);
    long_action[79] = '\0';
    f = (ig_audit_filter_t){.action = long_action};
    n = 9;
    CHECK_EQ_INT(ig_store_audit_query(st, a.id, &f, INT64_MAX, out, 10, &n), IG_OK);
    CHECK_EQ_INT(n, 0);
    f = (ig_audit_filter_t){.since = 2000, .until = 1000};
    CHECK_EQ_INT(ig_store_audit_query(st, a.id, &f, INT64_MAX, out, 10, &n), IG_OK);
    CHECK_EQ_INT(n, 0);
    f = (ig_audit_filter_t){.since = -1};
    CHECK_EQ_INT(ig_store_audit_query(st, a.id, &f, INT64_MAX, out, 10, &n), IG_EINVAL);
    CHECK_EQ_INT(ig_store_audit_query(st, a.id, NULL, INT64_MAX, out, 0, &n), IG_EINVAL);
    CHECK_EQ_INT(ig_store_audit_query(st, a.id, NULL, INT64_MAX, out, 1001, &n), IG_EINVAL);
    /* audit_list is the unfiltered query */
    CHECK_EQ_INT(ig_store_audit_list(st, a.id, INT64_MAX, out, 10, &n), IG_OK);
    CHECK_EQ_INT(n, 4);
    CHECK_EQ_INT(ig_store_audit_list(st, b.id, INT64_MAX, out, 10, &n), IG_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_STR(out[0].id, e[2].id);

    /* get: the org's own entry only */
    ig_audit_t got;
    CHECK_EQ_INT(ig_store_audit_get(st, a.id, e[1].id, &got), IG_OK);
    CHECK_EQ_INT(got.seq, e[1].seq);
    CHECK_EQ_STR(got.actor, "user2");
    CHECK_EQ_STR(got.action, "key.revoke");
    CHECK_EQ_STR(got.target, "k1");
    CHECK_MEM(got.hash, e[1].hash, 32);
    CHECK_EQ_INT(ig_store_audit_get(st, b.id, e[1].id, &got), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_audit_get(st, a.id, e[2].id, &got), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_audit_get(st, a.id, NO_ID, &got), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_audit_get(st, a.id, NO_ID "0", &got), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_audit_get(st, a.id, e[1].id, NULL), IG_EINVAL);
    ig_store_close(st);
}

/* ---- org deletion ---- */

/* Rows of table whose org_id column equals org_id (raw). */
static int64_t rows_of(const char *db, const char *table, const char *org_id)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s WHERE org_id = '%%s'", table);
    return raw_int_arg(db, sql, org_id);
}

/* Fills an org with one row of everything it can own; u is a member (and owns its own org). */
static void populate(ig_store_t *st, const ig_org_t *org, const ig_user_t *owner, const ig_user_t *u,
                     uint8_t seed)
{
    uint8_t h[32];
    ig_team_t t;
    ig_app_t app;
    char jti[33];
    CHECK_EQ_INT(ig_store_membership_add(st, u->id, org->id, IG_STORE_ROLE_MEMBER, NULL), IG_OK);
    CHECK_EQ_INT(ig_store_team_create(st, org->id, "Team", &t), IG_OK);
    CHECK_EQ_INT(ig_store_app_create(st, org->id, "App", t.id, &app), IG_OK);
    fill_hash(h, seed);
    ig_keyrec_t k;
    CHECK_EQ_INT(ig_store_key_create_for(st, org->id, h, "ig_pop", NULL, 1, 0, app.id, u->id, &k), IG_OK);
    const uint8_t env[] = {9, 9, 9};
    CHECK_EQ_INT(ig_store_provider_set(st, org->id, "openai", IG_STORE_AUTH_STORED, env, sizeof env), IG_OK);
    fill_hash(h, (uint8_t)(seed + 1));
    CHECK_EQ_INT(
        ig_store_invite_create(st, org->id, "invitee@example.com", 0, h, owner->id, now_ms() + HOUR_MS, NULL),
        IG_OK);
    make_jti(jti, seed);
    CHECK_EQ_INT(ig_store_session_create(st, jti, u->id, org->id, now_ms() + HOUR_MS), IG_OK);
    ig_callrec_t r;
    memset(&r, 0, sizeof r);
    snprintf(r.id, sizeof r.id, "call-%u", seed);
    snprintf(r.org_id, sizeof r.org_id, "%s", org->id);
    snprintf(r.key_id, sizeof r.key_id, "%s", k.id);
    r.path = "/v1/x";
    r.created_at = now_ms();
    CHECK_EQ_INT(ig_store_calls_insert(st, &r, 1), IG_OK);
    CHECK_EQ_INT(ig_store_audit_append(st, org->id, owner->id, "org.populate", NULL, NULL, NULL, NULL),
                 IG_OK);
}

TEST(org_data_key)
{
    ig_store_t *st = open_db("dk.db");
    if (!st) return;
    ig_org_t a, b;
    CHECK_EQ_INT(ig_store_org_create(st, "dk-a", "A", &a), IG_OK);
    CHECK_EQ_INT(ig_store_org_create(st, "dk-b", "B", &b), IG_OK);
    uint8_t *w = (uint8_t *)"x", *out = NULL;
    size_t len = 99, olen = 0;
    CHECK_EQ_INT(ig_store_org_data_key_get(st, a.id, &w, &len), IG_OK);
    CHECK(w == NULL);
    CHECK_EQ_INT((int)len, 0);
    /* first writer wins; a second initialiser gets the first key back */
    CHECK_EQ_INT(ig_store_org_data_key_init(st, a.id, (const uint8_t *)"first-wrapped", 13, &out, &olen),
                 IG_OK);
    CHECK(out && olen == 13 && memcmp(out, "first-wrapped", 13) == 0);
    free(out);
    out = NULL;
    CHECK_EQ_INT(ig_store_org_data_key_init(st, a.id, (const uint8_t *)"second", 6, &out, &olen), IG_OK);
    CHECK(out && olen == 13 && memcmp(out, "first-wrapped", 13) == 0);
    free(out);
    CHECK_EQ_INT(ig_store_org_data_key_get(st, a.id, &w, &len), IG_OK);
    CHECK(w && len == 13 && memcmp(w, "first-wrapped", 13) == 0);
    free(w);
    /* another org is untouched; unknown org; deleting the org destroys its key with it */
    CHECK_EQ_INT(ig_store_org_data_key_get(st, b.id, &w, &len), IG_OK);
    CHECK(w == NULL);
    CHECK_EQ_INT(ig_store_org_data_key_init(st, NO_ID, (const uint8_t *)"k", 1, &out, &olen), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_org_data_key_get(st, NO_ID, &w, &len), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_org_delete(st, a.id), IG_OK);
    CHECK_EQ_INT(ig_store_org_data_key_get(st, a.id, &w, &len), IG_ENOTFOUND);
    ig_store_close(st);
}

TEST(org_delete)
{
    ig_store_t *st = open_db("orgdel.db");
    if (!st) return;
    ig_org_t doomed, kept;
    ig_user_t o, u, ko;
    ig_keyrec_t signup_key, got;
    CHECK_EQ_INT(signup(st, "doomed", "o@example.com", 1, &doomed, &o, &signup_key), IG_OK);
    CHECK_EQ_INT(signup(st, "kept", "ko@example.com", 2, &kept, &ko, NULL), IG_OK);
    CHECK_EQ_INT(signup(st, "u-home", "u@example.com", 3, NULL, &u, NULL), IG_OK);
    populate(st, &doomed, &o, &u, 10);
    populate(st, &kept, &ko, &u, 20);
    static const char *const tables[] = {
        "api_keys", "provider_credentials", "memberships", "invitations", "sessions", "teams", "apps",
        "calls"};
    for (size_t i = 0; i < IG_ARRAY_LEN(tables); i++)
        CHECK(rows_of("orgdel.db", tables[i], doomed.id) > 0);
    int64_t audit_before = rows_of("orgdel.db", "audit", doomed.id);
    CHECK(audit_before > 0);

    CHECK_EQ_INT(ig_store_org_delete(st, doomed.id), IG_OK);
    ig_org_t gone;
    CHECK_EQ_INT(ig_store_org_get(st, doomed.id, &gone), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_org_get_by_slug(st, "doomed", &gone), IG_ENOTFOUND);
    for (size_t i = 0; i < IG_ARRAY_LEN(tables); i++) {
        if (rows_of("orgdel.db", tables[i], doomed.id) != 0) {
            fprintf(stderr, "# rows left in %s\n", tables[i]);
            CHECK(false);
        }
        CHECK(rows_of("orgdel.db", tables[i], kept.id) > 0); /* the other org keeps everything */
    }
    CHECK_EQ_INT(ig_store_key_get_by_hash(st, signup_key.key_hash, &got), IG_ENOTFOUND);
    /* users stay, with their other memberships and sessions */
    ig_user_t uu;
    CHECK_EQ_INT(ig_store_user_get(st, o.id, &uu), IG_OK);
    CHECK_EQ_INT(ig_store_user_get(st, u.id, &uu), IG_OK);
    CHECK_EQ_INT(role_of(st, u.id, kept.id), IG_STORE_ROLE_MEMBER);
    char jti[33];
    int role;
    make_jti(jti, 20);
    CHECK_EQ_INT(ig_store_session_check(st, jti, u.id, kept.id, now_ms(), &role), IG_OK);
    make_jti(jti, 10);
    CHECK_EQ_INT(ig_store_session_check(st, jti, u.id, doomed.id, now_ms(), &role), IG_ENOTFOUND);
    /* the audit entries stay and the chain still verifies; a new entry chains on */
    CHECK_EQ_INT(rows_of("orgdel.db", "audit", doomed.id), audit_before);
    int64_t bad = -1;
    CHECK_EQ_INT(ig_store_audit_verify(st, &bad), IG_OK);
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(ig_store_audit_append(st, doomed.id, o.id, "org.delete", doomed.id, NULL, NULL, NULL),
                 IG_OK);
    CHECK_EQ_INT(ig_store_audit_verify(st, &bad), IG_OK);
    /* the slug is free again */
    CHECK_EQ_INT(ig_store_org_create(st, "doomed", "Again", NULL), IG_OK);

    CHECK_EQ_INT(ig_store_org_delete(st, doomed.id), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_org_delete(st, NO_ID "0"), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_org_delete(st, NULL), IG_EINVAL);
    ig_store_close(st);
}

int main(void)
{
    if (!store_tmp_init("ingate-store-v3")) return 1;
    RUN(v2_upgrades_in_place);
    RUN(org_update_and_plan);
    RUN(keys_app_creator_get);
    RUN(key_rotation);
    RUN(calls_maintain_last_used);
    RUN(members_add_and_list);
    RUN(membership_change_rules);
    RUN(membership_change_keys_and_sessions);
    RUN(membership_change_concurrent_owners);
    RUN(org_transfer);
    RUN(invites_create_list_revoke);
    RUN(invites_accept);
    RUN(sessions);
    RUN(teams_and_apps);
    RUN(provider_delete);
    RUN(audit_query_and_get);
    RUN(org_data_key);
    RUN(org_delete);
    store_tmp_remove();
    UNIT_DONE();
}

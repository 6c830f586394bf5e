/* Unit tests of the store's schema v2 (users, memberships, signup, the hash-chained audit log) with the
 * SQLite backend, on files in a fresh temporary directory. */
#include "unit.h"
#include "store_tmp.h"
#include "core/err.h"
#include "store/store.h"

#include <dirent.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Two well-formed bcrypt strings (60 bytes, cost 12). */
#define BCRYPT_A "$2b$12$abcdefghijklmnopqrstuvABCDEFGHIJKLMNOPQRSTUVWXYZ01234"
#define BCRYPT_B "$2b$12$ABCDEFGHIJKLMNOPQRSTUVabcdefghijklmnopqrstuvwxyz./567"

static void fill_hash(uint8_t h[32], uint8_t seed)
{
    for (int i = 0; i < 32; i++)
        h[i] = (uint8_t)(seed + i * 7);
}

/* Runs one SQL text on g_dir/name through a raw sqlite3 handle (what an attacker with file access does). */
/* SELECT that returns one integer (or -1). */
static int signup(ig_store_t *st, const char *slug, const char *email, uint8_t seed, ig_org_t *org,
                  ig_user_t *user, ig_keyrec_t *key, const char **which)
{
    uint8_t h[32];
    fill_hash(h, seed);
    return ig_store_signup(st, slug, "Acme Inc", email, BCRYPT_A, "Alice", h, "ig_abcd1234",
                           IG_STORE_ROLE_ADMIN, org, user, key, which);
}

TEST(fresh_db_is_current)
{
    ig_store_t *st = open_db("fresh.db");
    if (!st) return;
    int v = 0;
    CHECK_EQ_INT(ig_store_schema_version(st, &v), IG_OK);
    CHECK_EQ_INT(v, IG_STORE_SCHEMA_VERSION);
    CHECK_EQ_INT(ig_store_migrate(st), IG_OK);
    CHECK_EQ_INT(ig_store_schema_version(st, &v), IG_OK);
    CHECK_EQ_INT(v, IG_STORE_SCHEMA_VERSION);
    ig_store_close(st);
    CHECK_EQ_INT(raw_int("fresh.db", "SELECT COUNT(*) FROM schema_migrations"), IG_STORE_SCHEMA_VERSION);
    CHECK_EQ_INT(raw_int("fresh.db", "SELECT COUNT(*) FROM sqlite_master WHERE name IN"
                                     " ('users', 'memberships', 'audit', 'audit_org_seq')"),
                 4);
}

/* The v1 schema exactly as the v1 binary created it: a frozen fixture, so this test keeps proving that a
 * database left by a v1 gateway upgrades in place. */
static const char v1_schema[] =
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
    "INSERT INTO schema_migrations VALUES (1, 1700000000000);"
    "INSERT INTO orgs VALUES ('00000000000000000000000000000001', 'old-org', 'Old', NULL, 1700000000000);"
    "INSERT INTO api_keys VALUES ('00000000000000000000000000000002', '00000000000000000000000000000001',"
    " zeroblob(32), 'ig_old00000', 'legacy', 3, 1700000000000, NULL, NULL);";

TEST(v1_upgrades_in_place)
{
    CHECK_EQ_INT(raw_exec("v1.db", v1_schema), SQLITE_OK);
    ig_store_t *st = open_db("v1.db");
    if (!st) return;
    int v = 0;
    CHECK_EQ_INT(ig_store_schema_version(st, &v), IG_OK);
    CHECK_EQ_INT(v, IG_STORE_SCHEMA_VERSION);
    /* v1 rows are intact and still readable through the v1 functions */
    ig_org_t org;
    CHECK_EQ_INT(ig_store_org_get_by_slug(st, "old-org", &org), IG_OK);
    uint8_t zero[32] = {0};
    ig_keyrec_t k;
    CHECK_EQ_INT(ig_store_key_get_by_hash(st, zero, &k), IG_OK);
    CHECK_EQ_STR(k.name, "legacy");
    /* v2 works on the upgraded file */
    const char *which = "unset";
    CHECK_EQ_INT(signup(st, "new-org", "bob@example.com", 9, NULL, NULL, NULL, &which), IG_OK);
    CHECK(which == NULL);
    CHECK_EQ_INT(ig_store_audit_append(st, NULL, "system", "store.upgrade", NULL, NULL, NULL, NULL), IG_OK);
    CHECK_EQ_INT(ig_store_migrate(st), IG_OK); /* idempotent on the upgraded file */
    ig_store_close(st);
    CHECK_EQ_INT(raw_int("v1.db", "SELECT COUNT(*) FROM api_keys WHERE created_by IS NULL"), 1);
    CHECK_EQ_INT(raw_int("v1.db", "SELECT MAX(version) FROM schema_migrations"), IG_STORE_SCHEMA_VERSION);
}

TEST(signup_happy_path)
{
    ig_store_t *st = open_db("signup.db");
    if (!st) return;
    ig_org_t org;
    ig_user_t user;
    ig_keyrec_t key;
    const char *which = "unset";
    uint8_t h[32];
    fill_hash(h, 1);
    CHECK_EQ_INT(signup(st, "acme", "Alice.Smith@Example.COM", 1, &org, &user, &key, &which), IG_OK);
    CHECK(which == NULL);
    CHECK_EQ_STR(org.slug, "acme");
    CHECK_EQ_STR(org.name, "Acme Inc");
    CHECK_EQ_STR(user.email, "alice.smith@example.com");
    CHECK_EQ_STR(user.password_hash, BCRYPT_A);
    CHECK_EQ_STR(user.display_name, "Alice");
    CHECK(user.created_at > 0);
    CHECK_EQ_INT(user.password_changed_at, user.created_at);
    CHECK_EQ_STR(key.org_id, org.id);
    CHECK_EQ_INT(key.role, IG_STORE_ROLE_ADMIN);
    CHECK_MEM(key.key_hash, h, 32);

    /* everything is stored */
    ig_org_t o2;
    CHECK_EQ_INT(ig_store_org_get(st, org.id, &o2), IG_OK);
    CHECK_EQ_STR(o2.slug, "acme");
    ig_user_t u2;
    CHECK_EQ_INT(ig_store_user_get(st, user.id, &u2), IG_OK);
    CHECK_EQ_STR(u2.email, "alice.smith@example.com");
    CHECK_EQ_INT(u2.created_at, user.created_at);
    CHECK_EQ_INT(ig_store_user_get_by_email(st, "ALICE.smith@example.com", &u2), IG_OK);
    CHECK_EQ_STR(u2.id, user.id);
    ig_membership_t m;
    CHECK_EQ_INT(ig_store_membership_get(st, user.id, org.id, &m), IG_OK);
    CHECK_EQ_INT(m.role, IG_STORE_ROLE_OWNER);
    CHECK_EQ_STR(m.user_id, user.id);
    CHECK_EQ_STR(m.org_id, org.id);
    ig_keyrec_t k2;
    CHECK_EQ_INT(ig_store_key_get_by_hash(st, h, &k2), IG_OK);
    CHECK_EQ_STR(k2.id, key.id);
    CHECK_EQ_STR(k2.org_id, org.id);
    CHECK_EQ_INT(k2.role, IG_STORE_ROLE_ADMIN);
    CHECK_EQ_STR(k2.hash_prefix, "ig_abcd1234");
    CHECK_EQ_INT(k2.expires_at, 0);

    /* display_name may be NULL; outputs may be NULL */
    fill_hash(h, 2);
    CHECK_EQ_INT(ig_store_signup(st, "beta", "Beta", "b@example.org", BCRYPT_B, NULL, h, "ig_b",
                                 IG_STORE_ROLE_OWNER, NULL, NULL, NULL, NULL),
                 IG_OK);
    CHECK_EQ_INT(ig_store_user_get_by_email(st, "b@example.org", &u2), IG_OK);
    CHECK_EQ_STR(u2.display_name, "");
    CHECK_EQ_INT(ig_store_user_get(st, "0123456789abcdef0123456789abcdef", &u2), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_user_get(st, "0123456789abcdef0123456789abcdef0", &u2), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_user_get_by_email(st, "nobody@example.org", &u2), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_user_get_by_email(st, "not an email", &u2), IG_ENOTFOUND);
    ig_store_close(st);

    char sql[256];
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM api_keys WHERE created_by = '%s'", user.id);
    CHECK_EQ_INT(raw_int("signup.db", sql), 1);
}

TEST(signup_conflicts_write_nothing)
{
    ig_store_t *st = open_db("conflict.db");
    if (!st) return;
    const char *which = NULL;
    CHECK_EQ_INT(signup(st, "acme", "alice@example.com", 1, NULL, NULL, NULL, &which), IG_OK);

    /* same email in another case, new slug: nothing of the second signup exists afterwards */
    CHECK_EQ_INT(signup(st, "other", "ALICE@example.com", 2, NULL, NULL, NULL, &which), IG_ECONFLICT);
    CHECK(which != NULL);
    if (which) CHECK_EQ_STR(which, "email");
    ig_org_t org;
    CHECK_EQ_INT(ig_store_org_get_by_slug(st, "other", &org), IG_ENOTFOUND);
    uint8_t h[32];
    ig_keyrec_t k;
    fill_hash(h, 2);
    CHECK_EQ_INT(ig_store_key_get_by_hash(st, h, &k), IG_ENOTFOUND);

    /* same slug, new email */
    which = NULL;
    CHECK_EQ_INT(signup(st, "acme", "carol@example.com", 3, NULL, NULL, NULL, &which), IG_ECONFLICT);
    CHECK(which != NULL);
    if (which) CHECK_EQ_STR(which, "org_slug");
    ig_user_t u;
    CHECK_EQ_INT(ig_store_user_get_by_email(st, "carol@example.com", &u), IG_ENOTFOUND);

    /* same key hash (an astronomically unlikely collision): still all-or-nothing */
    which = NULL;
    CHECK_EQ_INT(signup(st, "dave-org", "dave@example.com", 1, NULL, NULL, NULL, &which), IG_ECONFLICT);
    CHECK(which != NULL);
    if (which) CHECK_EQ_STR(which, "key_hash");
    CHECK_EQ_INT(ig_store_org_get_by_slug(st, "dave-org", &org), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_user_get_by_email(st, "dave@example.com", &u), IG_ENOTFOUND);

    /* bad input: IG_EINVAL, which cleared */
    which = "unset";
    fill_hash(h, 4);
    CHECK_EQ_INT(ig_store_signup(st, "ok-slug", "Name", "e@example.com", "plaintext-password", NULL, h,
                                 "ig_x", IG_STORE_ROLE_OWNER, NULL, NULL, NULL, &which),
                 IG_EINVAL);
    CHECK(which == NULL);
    CHECK_EQ_INT(ig_store_signup(st, "ok-slug", "Name", "e@example.com", BCRYPT_A, NULL, h, "ig_x", 4, NULL,
                                 NULL, NULL, &which),
                 IG_EINVAL);
    CHECK_EQ_INT(ig_store_signup(st, "Bad Slug", "Name", "e@example.com", BCRYPT_A, NULL, h, "ig_x", 0, NULL,
                                 NULL, NULL, &which),
                 IG_EINVAL);
    CHECK_EQ_INT(ig_store_signup(st, "ok-slug", "Name", "e@example.com", BCRYPT_A, "bad\nname", h, "ig_x", 0,
                                 NULL, NULL, NULL, &which),
                 IG_EINVAL);
    CHECK_EQ_INT(ig_store_signup(st, "ok-slug", "Name", "e@example.com", BCRYPT_A, NULL, NULL, "ig_x", 0,
                                 NULL, NULL, NULL, &which),
                 IG_EINVAL);
    CHECK_EQ_INT(ig_store_org_get_by_slug(st, "ok-slug", &org), IG_ENOTFOUND);
    ig_store_close(st);
    CHECK_EQ_INT(raw_int("conflict.db", "SELECT COUNT(*) FROM orgs"), 1);
    CHECK_EQ_INT(raw_int("conflict.db", "SELECT COUNT(*) FROM users"), 1);
    CHECK_EQ_INT(raw_int("conflict.db", "SELECT COUNT(*) FROM memberships"), 1);
    CHECK_EQ_INT(raw_int("conflict.db", "SELECT COUNT(*) FROM api_keys"), 1);
}

TEST(email_validation)
{
    ig_store_t *st = open_db("email.db");
    if (!st) return;
    static const char *const bad[] = {
        "",           "a",        "noat",           "a@b",       "a@@b.com",    ".a@b.com",    "a.@b.com",
        "a..b@b.com", "a@-b.com", "a@b-.com",       "a b@c.com", "a@b..com",    "a@.b.com",    "a@b.com.",
        "@b.com",     "a@",       "\xc3\xa9@b.com", "a@b_c.com", "\"q\"@b.com", "a@[1.2.3.4]", "a(b)@c.com",
    };
    uint8_t h[32];
    char slug[16];
    for (size_t i = 0; i < IG_ARRAY_LEN(bad); i++) {
        fill_hash(h, (uint8_t)(100 + i));
        snprintf(slug, sizeof slug, "bad-%zu", i);
        if (ig_store_signup(st, slug, "N", bad[i], BCRYPT_A, NULL, h, "ig_x", 0, NULL, NULL, NULL, NULL) !=
            IG_EINVAL) {
            fprintf(stderr, "# accepted bad email [%s]\n", bad[i]);
            CHECK(false);
        }
    }
    CHECK_EQ_INT(ig_store_signup(st, "x", "N", NULL, BCRYPT_A, NULL, h, "ig_x", 0, NULL, NULL, NULL, NULL),
                 IG_EINVAL);

    /* the longest accepted: 64-byte local part, 254 bytes in all; one more byte is refused */
    char email[300];
    memset(email, 'l', 64);
    email[64] = '@';
    memset(email + 65, 'a', 63);
    email[128] = '.';
    memset(email + 129, 'b', 63);
    email[192] = '.';
    memset(email + 193, 'C', 61);
    email[254] = '\0';
    CHECK_EQ_INT((int)strlen(email), 254);
    ig_user_t u;
    fill_hash(h, 1);
    CHECK_EQ_INT(ig_store_signup(st, "long", "N", email, BCRYPT_A, NULL, h, "ig_x", 0, NULL, &u, NULL, NULL),
                 IG_OK);
    CHECK_EQ_INT((int)strlen(u.email), 254);
    CHECK(strchr(u.email, 'C') == NULL && strchr(u.email, 'c') != NULL); /* lower-cased */
    email[254] = 'c';
    email[255] = '\0';
    fill_hash(h, 2);
    CHECK_EQ_INT(
        ig_store_signup(st, "longer", "N", email, BCRYPT_A, NULL, h, "ig_x", 0, NULL, NULL, NULL, NULL),
        IG_EINVAL);
    memset(email, 'l', 65); /* 65-byte local part */
    snprintf(email + 65, sizeof email - 65, "@b.com");
    CHECK_EQ_INT(
        ig_store_signup(st, "longer", "N", email, BCRYPT_A, NULL, h, "ig_x", 0, NULL, NULL, NULL, NULL),
        IG_EINVAL);

    /* practical shapes that must pass, stored lower-cased */
    static const char *const good[] = {"X+Tag@Sub.Example.CO", "o'brien@example.ie", "a_b-c.d@x-y.io",
                                       "1@2.example"};
    static const char *const stored[] = {"x+tag@sub.example.co", "o'brien@example.ie", "a_b-c.d@x-y.io",
                                         "1@2.example"};
    for (size_t i = 0; i < IG_ARRAY_LEN(good); i++) {
        fill_hash(h, (uint8_t)(200 + i));
        snprintf(slug, sizeof slug, "good-%zu", i);
        CHECK_EQ_INT(
            ig_store_signup(st, slug, "N", good[i], BCRYPT_A, NULL, h, "ig_x", 0, NULL, &u, NULL, NULL),
            IG_OK);
        CHECK_EQ_STR(u.email, stored[i]);
        CHECK_EQ_INT(ig_store_user_get_by_email(st, good[i], &u), IG_OK);
        CHECK_EQ_STR(u.email, stored[i]);
    }
    ig_store_close(st);
}

TEST(set_password)
{
    ig_store_t *st = open_db("pw.db");
    if (!st) return;
    ig_user_t u, u2;
    CHECK_EQ_INT(signup(st, "pw", "pw@example.com", 1, NULL, &u, NULL, NULL), IG_OK);
    nanosleep(&(struct timespec){.tv_nsec = 5 * 1000000}, NULL);
    CHECK_EQ_INT(ig_store_user_set_password(st, u.id, BCRYPT_B), IG_OK);
    CHECK_EQ_INT(ig_store_user_get(st, u.id, &u2), IG_OK);
    CHECK_EQ_STR(u2.password_hash, BCRYPT_B);
    CHECK(u2.password_changed_at > u.password_changed_at);
    CHECK_EQ_INT(u2.created_at, u.created_at);
    CHECK_EQ_INT(ig_store_user_set_password(st, u.id, "$2b$12$tooshort"), IG_EINVAL);
    CHECK_EQ_INT(
        ig_store_user_set_password(st, u.id, "$2b$03$abcdefghijklmnopqrstuvABCDEFGHIJKLMNOPQRSTUVWXYZ01234"),
        IG_EINVAL); /* cost below 4 */
    CHECK_EQ_INT(ig_store_user_set_password(st, u.id, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_user_set_password(st, "0123456789abcdef0123456789abcdef", BCRYPT_A), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_user_get(st, u.id, &u2), IG_OK);
    CHECK_EQ_STR(u2.password_hash, BCRYPT_B);
    ig_store_close(st);
}

TEST(memberships)
{
    ig_store_t *st = open_db("mem.db");
    if (!st) return;
    ig_org_t org, other;
    ig_user_t u;
    CHECK_EQ_INT(signup(st, "home", "m@example.com", 1, &org, &u, NULL, NULL), IG_OK);
    CHECK_EQ_INT(ig_store_org_create(st, "other", "Other", &other), IG_OK);
    ig_membership_t m[4];
    size_t n = 99;
    CHECK_EQ_INT(ig_store_memberships_of_user(st, u.id, m, 4, &n), IG_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_STR(m[0].org_id, org.id);
    CHECK_EQ_INT(ig_store_membership_get(st, u.id, other.id, &m[0]), IG_ENOTFOUND);

    /* no API adds a membership yet (a later change will): add one the way it will */
    char sql[256];
    snprintf(sql, sizeof sql, "INSERT INTO memberships VALUES ('%s', '%s', 1, %lld)", u.id, other.id,
             (long long)u.created_at + 1);
    CHECK_EQ_INT(raw_exec("mem.db", sql), SQLITE_OK);
    CHECK_EQ_INT(ig_store_memberships_of_user(st, u.id, m, 4, &n), IG_OK);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(m[0].org_id, org.id); /* oldest first */
    CHECK_EQ_INT(m[0].role, IG_STORE_ROLE_OWNER);
    CHECK_EQ_STR(m[1].org_id, other.id);
    CHECK_EQ_INT(m[1].role, IG_STORE_ROLE_MEMBER);
    CHECK_EQ_INT(ig_store_memberships_of_user(st, u.id, m, 1, &n), IG_ETOOBIG);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(ig_store_memberships_of_user(st, u.id, NULL, 0, &n), IG_ETOOBIG);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(ig_store_membership_get(st, u.id, other.id, &m[0]), IG_OK);
    CHECK_EQ_INT(m[0].role, IG_STORE_ROLE_MEMBER);
    CHECK_EQ_INT(ig_store_memberships_of_user(st, "0123456789abcdef0123456789abcdef", m, 4, &n), IG_OK);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(ig_store_memberships_of_user(st, "0123456789abcdef0123456789abcdef-too-long", m, 4, &n),
                 IG_OK);
    CHECK_EQ_INT(n, 0);
    /* the role CHECK holds */
    snprintf(sql, sizeof sql, "UPDATE memberships SET role = 4 WHERE org_id = '%s'", other.id);
    CHECK(raw_exec("mem.db", sql) != SQLITE_OK);
    ig_store_close(st);
}

TEST(audit_hash_is_injective)
{
    /* moving bytes between adjacent fields must change the hash */
    ig_audit_t a, b;
    memset(&a, 0, sizeof a);
    a.seq = 1;
    snprintf(a.actor, sizeof a.actor, "user");
    snprintf(a.action, sizeof a.action, "x.y");
    b = a;
    snprintf(a.target, sizeof a.target, "ab");
    snprintf(b.target, sizeof b.target, "a");
    snprintf(b.source_ip, sizeof b.source_ip, "b");
    uint8_t ha[32], hb[32];
    ig_store_audit_hash(&a, ha);
    ig_store_audit_hash(&b, hb);
    CHECK(memcmp(ha, hb, 32) != 0);
    b = a;
    b.prev_hash[31] = 1;
    ig_store_audit_hash(&b, hb);
    CHECK(memcmp(ha, hb, 32) != 0);
    b = a;
    b.created_at = 1;
    ig_store_audit_hash(&b, hb);
    CHECK(memcmp(ha, hb, 32) != 0);
    ig_store_audit_hash(&a, hb);
    CHECK_MEM(ha, hb, 32);

    /* the v4 form: the chain tag, and the clear and sealed address fields, are all distinct inputs */
    uint8_t h1[32], h2[32];
    b = a;
    CHECK_EQ_INT(ig_store_audit_hash_stored(IG_AUDIT_CHAIN_CONTROL, &a, "1.2.3.4", IG_IOV_NULL, h1), IG_OK);
    CHECK_EQ_INT(ig_store_audit_hash_stored(IG_AUDIT_CHAIN_CONTROL, &a, "", IG_IOV_LIT("1.2.3.4"), h2),
                 IG_OK);
    CHECK(memcmp(h1, h2, 32) != 0);
    CHECK_EQ_INT(ig_store_audit_hash_stored(IG_AUDIT_CHAIN_ORG, &a, "1.2.3.4", IG_IOV_NULL, h2), IG_OK);
    CHECK(memcmp(h1, h2, 32) != 0);
    snprintf(b.source_ip, sizeof b.source_ip, "9.9.9.9"); /* the clear field of e is not read */
    CHECK_EQ_INT(ig_store_audit_hash_stored(IG_AUDIT_CHAIN_CONTROL, &b, "1.2.3.4", IG_IOV_NULL, h2), IG_OK);
    CHECK_MEM(h1, h2, 32);
    snprintf(b.target, sizeof b.target, "a");
    CHECK_EQ_INT(ig_store_audit_hash_stored(IG_AUDIT_CHAIN_CONTROL, &b, "b1.2.3.4", IG_IOV_NULL, h2), IG_OK);
    CHECK(memcmp(h1, h2, 32) != 0);
    char big[IG_AUDIT_SEALED_IP_MAX + 1];
    memset(big, 'x', sizeof big);
    CHECK_EQ_INT(ig_store_audit_hash_stored(IG_AUDIT_CHAIN_CONTROL, &a, "", ig_iov(big, sizeof big), h2),
                 IG_EINVAL);
}

/* Appends n entries to name; seq i's action is "act.i". */
static void append_n(ig_store_t *st, int n)
{
    char action[32];
    for (int i = 1; i <= n; i++) {
        snprintf(action, sizeof action, "act.%d", i);
        CHECK_EQ_INT(ig_store_audit_append(st, (i % 2) ? "0123456789abcdef0123456789abcdef" : NULL, "system",
                                           action, "key:ig_abcd", "203.0.113.7", "req-1", NULL),
                     IG_OK);
    }
}

TEST(audit_chain)
{
    ig_store_t *st = open_db("audit.db");
    if (!st) return;
    int64_t bad = -1;
    CHECK_EQ_INT(ig_store_audit_verify(st, &bad), IG_OK); /* empty log */
    CHECK_EQ_INT(bad, 0);

    ig_audit_t e1, e2;
    uint8_t zero[32] = {0}, h[32];
    CHECK_EQ_INT(ig_store_audit_append(st, "org1", "user1", "org.create", "org1", "::1", "r1", &e1), IG_OK);
    CHECK_EQ_INT(e1.seq, 1);
    CHECK_MEM(e1.prev_hash, zero, 32);
    /* no identity key here (clear mode): the address is stored, and hashed, in clear */
    CHECK_EQ_INT(ig_store_audit_hash_stored(IG_AUDIT_CHAIN_CONTROL, &e1, "::1", IG_IOV_NULL, h), IG_OK);
    CHECK_MEM(e1.hash, h, 32);
    CHECK_EQ_STR(e1.source_ip, "::1");
    CHECK_EQ_STR(e1.action, "org.create");
    CHECK(e1.created_at > 0 && strlen(e1.id) == 32);
    CHECK_EQ_INT(ig_store_audit_append(st, NULL, "system", "gc.run", NULL, NULL, NULL, &e2), IG_OK);
    CHECK_EQ_INT(e2.seq, 2);
    CHECK_MEM(e2.prev_hash, e1.hash, 32);
    CHECK_EQ_STR(e2.org_id, "");
    append_n(st, 4);
    CHECK_EQ_INT(ig_store_audit_verify(st, &bad), IG_OK);

    /* bad input */
    CHECK_EQ_INT(ig_store_audit_append(st, NULL, NULL, "a.b", NULL, NULL, NULL, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_audit_append(st, NULL, "", "a.b", NULL, NULL, NULL, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_audit_append(st, NULL, "u", "a b", NULL, NULL, NULL, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_audit_append(st, NULL, "u", "", NULL, NULL, NULL, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_audit_append(st, NULL, "u", "a.b", "t\n", NULL, NULL, NULL), IG_EINVAL);
    CHECK_EQ_INT(
        ig_store_audit_append(st, "0123456789abcdef0123456789abcdef0", "u", "a.b", NULL, NULL, NULL, NULL),
        IG_EINVAL);
    CHECK_EQ_INT(ig_store_audit_verify(st, NULL), IG_EINVAL);

    /* an edit through another connection is caught at that entry */
    CHECK_EQ_INT(raw_exec("audit.db", "UPDATE audit SET action = 'x' WHERE seq = 3"), SQLITE_OK);
    CHECK_EQ_INT(ig_store_audit_verify(st, &bad), IG_ECONFLICT);
    CHECK_EQ_INT(bad, 3);
    ig_store_close(st);

    /* recomputing that row's hash only moves the break to the next entry */
    CHECK_EQ_INT(raw_exec("audit.db", "UPDATE audit SET hash = zeroblob(32) WHERE seq = 3"), SQLITE_OK);
    st = open_db("audit.db");
    if (!st) return;
    CHECK_EQ_INT(ig_store_audit_verify(st, &bad), IG_ECONFLICT);
    CHECK_EQ_INT(bad, 3);
    ig_store_close(st);

    /* a value our writer cannot have stored is a break too, not an internal error */
    CHECK_EQ_INT(raw_exec("audit.db", "UPDATE audit SET hash = x'00' WHERE seq = 1"), SQLITE_CONSTRAINT);
    CHECK_EQ_INT(raw_exec("audit.db", "UPDATE audit SET request_id = printf('%0100d', 1) WHERE seq = 2"),
                 SQLITE_OK);
    st = open_db("audit.db");
    if (!st) return;
    CHECK_EQ_INT(ig_store_audit_verify(st, &bad), IG_ECONFLICT);
    CHECK_EQ_INT(bad, 2);
    ig_store_close(st);
}

TEST(audit_delete_detected)
{
    ig_store_t *st = open_db("auditdel.db");
    if (!st) return;
    append_n(st, 6);
    int64_t bad = -1;
    CHECK_EQ_INT(ig_store_audit_verify(st, &bad), IG_OK);
    CHECK_EQ_INT(raw_exec("auditdel.db", "DELETE FROM audit WHERE seq = 3"), SQLITE_OK);
    CHECK_EQ_INT(ig_store_audit_verify(st, &bad), IG_ECONFLICT);
    CHECK_EQ_INT(bad, 4);
    ig_store_close(st);

    /* deleting the first entry: the new first one does not start from zeros */
    st = open_db("auditdel2.db");
    if (!st) return;
    append_n(st, 3);
    CHECK_EQ_INT(raw_exec("auditdel2.db", "DELETE FROM audit WHERE seq = 1"), SQLITE_OK);
    CHECK_EQ_INT(ig_store_audit_verify(st, &bad), IG_ECONFLICT);
    CHECK_EQ_INT(bad, 2);
    ig_store_close(st);
}

typedef struct {
    int rc;
    int n;
} appender_t;

static void *appender(void *p)
{
    appender_t *a = p;
    char path[128];
    int err;
    ig_store_t *st = ig_store_open(tmp_path(path, sizeof path, "auditconc.db"), &err);
    a->rc = st ? ig_store_migrate(st) : err;
    for (int i = 0; i < a->n && a->rc == IG_OK; i++)
        a->rc = ig_store_audit_append(st, NULL, "worker", "conc.append", NULL, NULL, NULL, NULL);
    ig_store_close(st);
    return NULL;
}

TEST(audit_concurrent_appenders)
{
    /* two handles appending at once, on a fresh file (both also migrate): one intact chain */
    pthread_t t[2];
    appender_t args[2] = {{-1, 150}, {-1, 150}};
    for (int i = 0; i < 2; i++)
        CHECK_EQ_INT(pthread_create(&t[i], NULL, appender, &args[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ_INT(args[0].rc, IG_OK);
    CHECK_EQ_INT(args[1].rc, IG_OK);
    ig_store_t *st = open_db("auditconc.db");
    if (!st) return;
    int64_t bad = -1;
    CHECK_EQ_INT(ig_store_audit_verify(st, &bad), IG_OK);
    CHECK_EQ_INT(bad, 0);
    ig_store_close(st);
    CHECK_EQ_INT(raw_int("auditconc.db", "SELECT COUNT(*) FROM audit"), 300);
    CHECK_EQ_INT(raw_int("auditconc.db", "SELECT MAX(seq) FROM audit"), 300);
}

int main(void)
{
    if (!store_tmp_init("ingate-store-id")) return 1;
    RUN(fresh_db_is_current);
    RUN(v1_upgrades_in_place);
    RUN(signup_happy_path);
    RUN(signup_conflicts_write_nothing);
    RUN(email_validation);
    RUN(set_password);
    RUN(memberships);
    RUN(audit_hash_is_injective);
    RUN(audit_chain);
    RUN(audit_delete_detected);
    RUN(audit_concurrent_appenders);
    store_tmp_remove();
    UNIT_DONE();
}

/* Unit tests of the store's schema v6 (per-key rate-limit overrides: requests and tokens per minute, 0 = the
 * org's default) with the SQLite backend, on files in a fresh temporary directory: the upgrade of a v5
 * database, creation with limits, every key read, changing them (org scope, active keys only, bounds) and
 * their carry-over on rotation. */
#include "unit.h"
#include "store_tmp.h"
#include "core/err.h"
#include "limit/limiter.h"
#include "store/store.h"

#include <dirent.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BCRYPT_A "$2b$12$abcdefghijklmnopqrstuvABCDEFGHIJKLMNOPQRSTUVWXYZ01234"
#define NO_ID    "0123456789abcdef0123456789abcdef" /* well-formed, never generated */
#define HOUR_MS  (3600 * 1000LL)

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void fill_hash(uint8_t h[32], uint8_t seed)
{
    for (int i = 0; i < 32; i++)
        h[i] = (uint8_t)(seed + i * 7);
}

/* SELECT that returns one integer (or -1). */
/* The limits of the org's key id as every read path answers them (they must agree): by hash, by id, in
 * the org's list. */
static void check_limits(ig_store_t *st, const char *org_id, const ig_keyrec_t *k, int64_t rpm, int64_t tpm)
{
    ig_keyrec_t got, list[16];
    size_t n = 0;
    CHECK_EQ_INT(ig_store_key_get_by_hash(st, k->key_hash, &got), IG_OK);
    CHECK_EQ_INT(got.rpm_limit, rpm);
    CHECK_EQ_INT(got.tpm_limit, tpm);
    CHECK_EQ_INT(ig_store_key_get(st, org_id, k->id, &got), IG_OK);
    CHECK_EQ_INT(got.rpm_limit, rpm);
    CHECK_EQ_INT(got.tpm_limit, tpm);
    CHECK_EQ_INT(ig_store_key_list(st, org_id, list, 16, &n), IG_OK);
    bool found = false;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(list[i].id, k->id) != 0) continue;
        found = true;
        CHECK_EQ_INT(list[i].rpm_limit, rpm);
        CHECK_EQ_INT(list[i].tpm_limit, tpm);
    }
    CHECK(found);
}

/* ---- migration ---- */

TEST(v5_upgrades_in_place)
{
    /* a v5 database: today's schema with the v6 step undone, and a key in it */
    ig_store_t *st = open_db("v5.db");
    if (!st) return;
    ig_org_t org;
    ig_keyrec_t k;
    uint8_t h[32];
    fill_hash(h, 1);
    CHECK_EQ_INT(ig_store_org_create(st, "old-org", "Old", &org), IG_OK);
    CHECK_EQ_INT(ig_store_key_create(st, org.id, h, "ig_old", "legacy", IG_STORE_ROLE_MEMBER, 0, &k), IG_OK);
    ig_store_close(st);
    CHECK_EQ_INT(raw_exec("v5.db",
                          "DROP INDEX webhook_deliveries_budget_event;" /* v9, v8 and v7, which came after */
                          "DELETE FROM schema_migrations WHERE version = 9;"
                          "ALTER TABLE api_keys DROP COLUMN lineage_id;"
                          "DELETE FROM schema_migrations WHERE version = 8;"
                          "DROP TABLE budget_spend;"
                          "DROP TABLE budgets;"
                          "DELETE FROM schema_migrations WHERE version = 7;"
                          "ALTER TABLE api_keys DROP COLUMN rate_limit_rpm;"
                          "ALTER TABLE api_keys DROP COLUMN rate_limit_tpm;"
                          "DELETE FROM schema_migrations WHERE version = 6;"),
                 SQLITE_OK);
    CHECK_EQ_INT(raw_int("v5.db", "SELECT MAX(version) FROM schema_migrations"), 5);
    CHECK_EQ_INT(
        raw_int("v5.db", "SELECT COUNT(*) FROM pragma_table_info('api_keys') WHERE name LIKE 'rate_limit_%'"),
        0);

    st = open_db("v5.db");
    if (!st) return;
    int v = 0;
    CHECK_EQ_INT(ig_store_schema_version(st, &v), IG_OK);
    CHECK_EQ_INT(v, IG_STORE_SCHEMA_VERSION); /* v6, then v7, v8, v9 */
    CHECK_EQ_INT(IG_STORE_SCHEMA_VERSION, 9);
    /* the existing key follows its org's defaults, and can be given limits of its own */
    check_limits(st, org.id, &k, 0, 0);
    CHECK_EQ_INT(ig_store_key_set_limits(st, org.id, k.id, 60, 0, NULL), IG_OK);
    check_limits(st, org.id, &k, 60, 0);
    CHECK_EQ_INT(ig_store_migrate(st), IG_OK); /* idempotent */
    ig_store_close(st);
    CHECK_EQ_INT(raw_int("v5.db",
                         "SELECT COUNT(*) FROM pragma_table_info('api_keys') WHERE name LIKE 'rate_limit_%'"
                         " AND \"notnull\" = 1 AND dflt_value = '0'"),
                 2);
    /* the columns refuse a negative limit even from outside the store */
    CHECK(raw_exec("v5.db", "UPDATE api_keys SET rate_limit_rpm = -1") != SQLITE_OK);
    CHECK(raw_exec("v5.db", "UPDATE api_keys SET rate_limit_tpm = -1") != SQLITE_OK);
    CHECK_EQ_INT(raw_int("v5.db", "SELECT rate_limit_rpm FROM api_keys"), 60);
}

/* ---- creation ---- */

TEST(create_with_limits)
{
    ig_store_t *st = open_db("create.db");
    if (!st) return;
    ig_org_t org;
    ig_user_t u;
    ig_keyrec_t first, k, d, big;
    uint8_t h0[32], h1[32], h2[32], h3[32], h4[32];
    fill_hash(h0, 10);
    fill_hash(h1, 11);
    fill_hash(h2, 12);
    fill_hash(h3, 13);
    fill_hash(h4, 14);
    CHECK_EQ_INT(ig_store_signup(st, "lim-org", "Org", "l@example.com", BCRYPT_A, NULL, h0, "ig_first",
                                 IG_STORE_ROLE_OWNER, &org, &u, &first, NULL),
                 IG_OK);
    CHECK_EQ_INT(first.rpm_limit, 0); /* signup's key follows the org */
    check_limits(st, org.id, &first, 0, 0);

    CHECK_EQ_INT(ig_store_key_create_limited(st, org.id, h1, "ig_lim", "ci", IG_STORE_ROLE_MEMBER, 0, NULL,
                                             u.id, 120, 50000, &k),
                 IG_OK);
    CHECK_EQ_INT(k.rpm_limit, 120);
    CHECK_EQ_INT(k.tpm_limit, 50000);
    CHECK_EQ_STR(k.created_by, u.id);
    check_limits(st, org.id, &k, 120, 50000);
    /* one limit alone; the plain creators give none */
    CHECK_EQ_INT(ig_store_key_create_limited(st, org.id, h2, "ig_tpm", NULL, IG_STORE_ROLE_MEMBER, 0, NULL,
                                             NULL, 0, 7, &d),
                 IG_OK);
    check_limits(st, org.id, &d, 0, 7);
    ig_keyrec_t plain;
    CHECK_EQ_INT(ig_store_key_create_for(st, org.id, h3, "ig_plain", NULL, 1, 0, NULL, NULL, &plain), IG_OK);
    check_limits(st, org.id, &plain, 0, 0);
    /* the largest limit the limiter holds */
    CHECK_EQ_INT(ig_store_key_create_limited(st, org.id, h4, "ig_big", NULL, 1, 0, NULL, NULL,
                                             IG_LIMITER_MAX_LIMIT, IG_LIMITER_MAX_LIMIT, &big),
                 IG_OK);
    check_limits(st, org.id, &big, IG_LIMITER_MAX_LIMIT, IG_LIMITER_MAX_LIMIT);

    /* out of bounds: nothing stored */
    uint8_t h5[32];
    fill_hash(h5, 15);
    const int64_t bad[] = {-1, INT64_MIN, IG_LIMITER_MAX_LIMIT + 1, INT64_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ_INT(
            ig_store_key_create_limited(st, org.id, h5, "ig_bad", NULL, 1, 0, NULL, NULL, bad[i], 0, NULL),
            IG_EINVAL);
        CHECK_EQ_INT(
            ig_store_key_create_limited(st, org.id, h5, "ig_bad", NULL, 1, 0, NULL, NULL, 0, bad[i], NULL),
            IG_EINVAL);
    }
    ig_keyrec_t got;
    CHECK_EQ_INT(ig_store_key_get_by_hash(st, h5, &got), IG_ENOTFOUND);
    /* the other checks still apply */
    CHECK_EQ_INT(ig_store_key_create_limited(st, NO_ID, h5, "ig_bad", NULL, 1, 0, NULL, NULL, 5, 5, NULL),
                 IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_key_create_limited(st, org.id, h1, "ig_dup", NULL, 1, 0, NULL, NULL, 5, 5, NULL),
                 IG_ECONFLICT);
    CHECK_EQ_INT(ig_store_key_get_by_hash(st, h5, &got), IG_ENOTFOUND);
    check_limits(st, org.id, &k, 120, 50000);
    ig_store_close(st);
}

/* ---- changing them ---- */

TEST(set_limits)
{
    ig_store_t *st = open_db("set.db");
    if (!st) return;
    ig_org_t a, b;
    CHECK_EQ_INT(ig_store_org_create(st, "set-a", "A", &a), IG_OK);
    CHECK_EQ_INT(ig_store_org_create(st, "set-b", "B", &b), IG_OK);
    uint8_t h1[32], h2[32], h3[32], h4[32];
    fill_hash(h1, 21);
    fill_hash(h2, 22);
    fill_hash(h3, 23);
    fill_hash(h4, 24);
    ig_keyrec_t k, out, bk;
    CHECK_EQ_INT(ig_store_key_create(st, a.id, h1, "ig_a", "a", IG_STORE_ROLE_ADMIN, 0, &k), IG_OK);
    CHECK_EQ_INT(ig_store_key_create(st, b.id, h4, "ig_b", "b", IG_STORE_ROLE_ADMIN, 0, &bk), IG_OK);

    /* set both; out is the whole record after the change */
    memset(&out, 0, sizeof out);
    CHECK_EQ_INT(ig_store_key_set_limits(st, a.id, k.id, 30, 10000, &out), IG_OK);
    CHECK_EQ_STR(out.id, k.id);
    CHECK_EQ_STR(out.org_id, a.id);
    CHECK_MEM(out.key_hash, h1, 32);
    CHECK_EQ_STR(out.name, "a");
    CHECK_EQ_INT(out.role, IG_STORE_ROLE_ADMIN);
    CHECK_EQ_INT(out.rpm_limit, 30);
    CHECK_EQ_INT(out.tpm_limit, 10000);
    check_limits(st, a.id, &k, 30, 10000);
    /* replace one and clear the other; then clear both (out may be NULL) */
    CHECK_EQ_INT(ig_store_key_set_limits(st, a.id, k.id, 0, 20000, &out), IG_OK);
    CHECK_EQ_INT(out.rpm_limit, 0);
    check_limits(st, a.id, &k, 0, 20000);
    CHECK_EQ_INT(ig_store_key_set_limits(st, a.id, k.id, 0, 0, NULL), IG_OK);
    check_limits(st, a.id, &k, 0, 0);
    CHECK_EQ_INT(ig_store_key_set_limits(st, a.id, k.id, IG_LIMITER_MAX_LIMIT, 1, NULL), IG_OK);
    check_limits(st, a.id, &k, IG_LIMITER_MAX_LIMIT, 1);
    CHECK_EQ_INT(ig_store_key_set_limits(st, a.id, k.id, 40, 400, NULL), IG_OK);

    /* another org's key is not found, like a missing one, and nothing changes on either side */
    CHECK_EQ_INT(ig_store_key_set_limits(st, b.id, k.id, 1, 1, &out), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_key_set_limits(st, a.id, bk.id, 1, 1, &out), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_key_set_limits(st, a.id, NO_ID, 1, 1, &out), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_key_set_limits(st, NO_ID, k.id, 1, 1, &out), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_key_set_limits(st, a.id, NO_ID "0", 1, 1, &out), IG_ENOTFOUND);     /* too long */
    CHECK_EQ_INT(ig_store_key_set_limits(st, a.id, k.hash_prefix, 1, 1, &out), IG_ENOTFOUND); /* ids only */
    check_limits(st, a.id, &k, 40, 400);
    check_limits(st, b.id, &bk, 0, 0);

    /* bad input: nothing changes */
    CHECK_EQ_INT(ig_store_key_set_limits(st, a.id, k.id, -1, 0, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_key_set_limits(st, a.id, k.id, 0, -1, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_key_set_limits(st, a.id, k.id, IG_LIMITER_MAX_LIMIT + 1, 0, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_key_set_limits(st, a.id, k.id, 0, INT64_MAX, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_key_set_limits(st, a.id, NULL, 1, 1, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_key_set_limits(st, NULL, k.id, 1, 1, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_key_set_limits(NULL, a.id, k.id, 1, 1, NULL), IG_EINVAL);
    check_limits(st, a.id, &k, 40, 400);

    /* only active keys: a revoked one and an expired one are not found, and keep their limits */
    ig_keyrec_t rv, ex;
    CHECK_EQ_INT(ig_store_key_create_limited(st, a.id, h2, "ig_rv", NULL, 1, 0, NULL, NULL, 5, 6, &rv),
                 IG_OK);
    CHECK_EQ_INT(ig_store_key_revoke(st, a.id, rv.id, NULL), IG_OK);
    CHECK_EQ_INT(ig_store_key_set_limits(st, a.id, rv.id, 1, 1, &out), IG_ENOTFOUND);
    check_limits(st, a.id, &rv, 5, 6);
    CHECK_EQ_INT(
        ig_store_key_create_limited(st, a.id, h3, "ig_ex", NULL, 1, now_ms() - 1000, NULL, NULL, 5, 6, &ex),
        IG_OK);
    CHECK_EQ_INT(ig_store_key_set_limits(st, a.id, ex.id, 1, 1, &out), IG_ENOTFOUND);
    check_limits(st, a.id, &ex, 5, 6);
    ig_store_close(st);
}

/* ---- rotation ---- */

TEST(rotation_carries_limits)
{
    ig_store_t *st = open_db("rotate.db");
    if (!st) return;
    ig_org_t a;
    CHECK_EQ_INT(ig_store_org_create(st, "rot-a", "A", &a), IG_OK);
    uint8_t h1[32], h2[32], h3[32], h4[32], h5[32];
    fill_hash(h1, 31);
    fill_hash(h2, 32);
    fill_hash(h3, 33);
    fill_hash(h4, 34);
    fill_hash(h5, 35);
    ig_keyrec_t k, o, nk;
    CHECK_EQ_INT(ig_store_key_create_limited(st, a.id, h1, "ig_r1", "ci", IG_STORE_ROLE_MEMBER, 0, NULL, NULL,
                                             90, 9000, &k),
                 IG_OK);
    int64_t overlap = now_ms() + HOUR_MS;
    CHECK_EQ_INT(ig_store_key_rotate(st, a.id, k.id, h2, "ig_r2", NULL, overlap, &o, &nk), IG_OK);
    CHECK_EQ_INT(nk.rpm_limit, 90);
    CHECK_EQ_INT(nk.tpm_limit, 9000);
    CHECK_EQ_INT(o.rpm_limit, 90); /* the old key keeps its own for the overlap */
    CHECK_EQ_INT(o.tpm_limit, 9000);
    check_limits(st, a.id, &nk, 90, 9000);
    check_limits(st, a.id, &k, 90, 9000);

    /* the two keys are limited separately from then on: a change to the new key leaves the old one */
    CHECK_EQ_INT(ig_store_key_set_limits(st, a.id, nk.id, 0, 100, NULL), IG_OK);
    check_limits(st, a.id, &nk, 0, 100);
    check_limits(st, a.id, &k, 90, 9000);
    /* and the successor's successor gets what the successor has now */
    ig_keyrec_t nk2;
    CHECK_EQ_INT(ig_store_key_rotate(st, a.id, nk.id, h3, "ig_r3", NULL, overlap, NULL, &nk2), IG_OK);
    CHECK_EQ_INT(nk2.rpm_limit, 0);
    CHECK_EQ_INT(nk2.tpm_limit, 100);
    check_limits(st, a.id, &nk2, 0, 100);
    /* v8: the whole chain has one lineage, the first key's id, read back from the store */
    CHECK_EQ_STR(k.lineage_id, "");
    CHECK_EQ_STR(nk.lineage_id, k.id);
    CHECK_EQ_STR(nk2.lineage_id, k.id);
    ig_keyrec_t back;
    CHECK_EQ_INT(ig_store_key_get(st, a.id, nk2.id, &back), IG_OK);
    CHECK_EQ_STR(back.lineage_id, k.id);
    CHECK_EQ_INT(ig_store_key_get_by_hash(st, h3, &back), IG_OK);
    CHECK_EQ_STR(back.lineage_id, k.id);

    /* a key without limits rotates to a key without limits */
    ig_keyrec_t p, pn;
    CHECK_EQ_INT(ig_store_key_create(st, a.id, h4, "ig_p1", NULL, 1, 0, &p), IG_OK);
    CHECK_EQ_INT(ig_store_key_rotate(st, a.id, p.id, h5, "ig_p2", NULL, overlap, NULL, &pn), IG_OK);
    check_limits(st, a.id, &pn, 0, 0);
    ig_store_close(st);
}

int main(void)
{
    if (!store_tmp_init("ingate-store-v6")) return 1;
    RUN(v5_upgrades_in_place);
    RUN(create_with_limits);
    RUN(set_limits);
    RUN(rotation_carries_limits);
    store_tmp_remove();
    UNIT_DONE();
}

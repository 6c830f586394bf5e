/* Unit tests of the store's schema v7 (spend budgets and their spend per period) with the SQLite backend, on
 * files in a fresh temporary directory: the upgrade of a v6 database; creation with every scope (the scope
 * target must be the org's, one budget per target, a cap per org); validation; reads scoped by org; update;
 * spend added per (budget, period) with alert bits OR-ed in, skipped for a deleted budget; deletion of a
 * budget and of its org taking the spend along. */
#include "unit.h"
#include "store_tmp.h"
#include "core/err.h"
#include "store/store.h"

#include <dirent.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#define NO_ID "0123456789abcdef0123456789abcdef" /* well-formed, never generated */

static void fill_hash(uint8_t h[32], uint8_t seed)
{
    for (int i = 0; i < 32; i++)
        h[i] = (uint8_t)(seed + i * 7);
}

static ig_budget_spend_t spend(const char *budget_id, const char *org_id, int64_t start, int64_t add,
                               unsigned alerted)
{
    ig_budget_spend_t s;
    memset(&s, 0, sizeof s);
    snprintf(s.budget_id, sizeof s.budget_id, "%s", budget_id);
    snprintf(s.org_id, sizeof s.org_id, "%s", org_id);
    s.period_start = start;
    s.add_micros = add;
    s.alerted = alerted;
    return s;
}

TEST(v6_upgrades_in_place)
{
    ig_store_t *st = open_db("v6.db");
    if (!st) return;
    ig_org_t org;
    CHECK_EQ_INT(ig_store_org_create(st, "old-org", "Old", &org), IG_OK);
    ig_store_close(st);
    CHECK_EQ_INT(raw_exec("v6.db", "DROP INDEX webhook_deliveries_budget_event;" /* v9 and v8, after */
                                   "DELETE FROM schema_migrations WHERE version = 9;"
                                   "ALTER TABLE api_keys DROP COLUMN lineage_id;"
                                   "DELETE FROM schema_migrations WHERE version = 8;"
                                   "DROP TABLE budget_spend; DROP TABLE budgets;"
                                   "DELETE FROM schema_migrations WHERE version = 7;"),
                 SQLITE_OK);
    CHECK_EQ_INT(raw_int("v6.db", "SELECT MAX(version) FROM schema_migrations"), 6);
    st = open_db("v6.db");
    if (!st) return;
    int v = 0;
    CHECK_EQ_INT(ig_store_schema_version(st, &v), IG_OK);
    CHECK_EQ_INT(v, 9);
    CHECK_EQ_INT(IG_STORE_SCHEMA_VERSION, 9);
    ig_budget_t b;
    CHECK_EQ_INT(ig_store_budget_create(st, org.id, IG_STORE_BUDGET_ORG, NULL, NULL, IG_STORE_PERIOD_MONTHLY,
                                        5000000, 0, &b),
                 IG_OK);
    CHECK_EQ_INT(ig_store_migrate(st), IG_OK); /* idempotent */
    ig_store_close(st);
    CHECK_EQ_INT(raw_int("v6.db", "SELECT COUNT(*) FROM budgets"), 1);
}

TEST(create_scopes_and_validation)
{
    ig_store_t *st = open_db("create.db");
    if (!st) return;
    ig_org_t a, o2;
    ig_app_t app, app2;
    ig_keyrec_t key, key2;
    uint8_t h[32];
    CHECK_EQ_INT(ig_store_org_create(st, "org-a", "A", &a), IG_OK);
    CHECK_EQ_INT(ig_store_org_create(st, "org-b", "B", &o2), IG_OK);
    CHECK_EQ_INT(ig_store_app_create(st, a.id, "Chat", NULL, &app), IG_OK);
    CHECK_EQ_INT(ig_store_app_create(st, o2.id, "Other", NULL, &app2), IG_OK);
    fill_hash(h, 1);
    CHECK_EQ_INT(ig_store_key_create(st, a.id, h, "ig_a", "k", IG_STORE_ROLE_MEMBER, 0, &key), IG_OK);
    fill_hash(h, 2);
    CHECK_EQ_INT(ig_store_key_create(st, o2.id, h, "ig_b", "k", IG_STORE_ROLE_MEMBER, 0, &key2), IG_OK);

    ig_budget_t bo, ba, bk, got;
    CHECK_EQ_INT(ig_store_budget_create(st, a.id, IG_STORE_BUDGET_ORG, NULL, "Org cap",
                                        IG_STORE_PERIOD_MONTHLY, 100000000, 80000000, &bo),
                 IG_OK);
    CHECK_EQ_INT(bo.scope, IG_STORE_BUDGET_ORG);
    CHECK_EQ_STR(bo.scope_id, "");
    CHECK_EQ_STR(bo.name, "Org cap");
    CHECK_EQ_INT(ig_store_budget_create(st, a.id, IG_STORE_BUDGET_APP, app.id, NULL, IG_STORE_PERIOD_DAILY,
                                        1000000, 0, &ba),
                 IG_OK);
    CHECK_EQ_INT(
        ig_store_budget_create(st, a.id, IG_STORE_BUDGET_KEY, key.id, "", IG_STORE_PERIOD_WEEKLY, 1, 1, &bk),
        IG_OK);
    CHECK_EQ_STR(bk.scope_id, key.id);
    CHECK_EQ_STR(bk.name, "");

    /* one budget per scope target */
    CHECK_EQ_INT(
        ig_store_budget_create(st, a.id, IG_STORE_BUDGET_ORG, NULL, NULL, IG_STORE_PERIOD_DAILY, 5, 0, NULL),
        IG_ECONFLICT);
    CHECK_EQ_INT(ig_store_budget_create(st, a.id, IG_STORE_BUDGET_KEY, key.id, NULL, IG_STORE_PERIOD_DAILY, 5,
                                        0, NULL),
                 IG_ECONFLICT);
    /* the scope target must be the org's */
    CHECK_EQ_INT(ig_store_budget_create(st, a.id, IG_STORE_BUDGET_APP, app2.id, NULL, IG_STORE_PERIOD_DAILY,
                                        5, 0, NULL),
                 IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_budget_create(st, a.id, IG_STORE_BUDGET_KEY, key2.id, NULL, IG_STORE_PERIOD_DAILY,
                                        5, 0, NULL),
                 IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_budget_create(st, a.id, IG_STORE_BUDGET_APP, key.id, NULL, IG_STORE_PERIOD_DAILY, 5,
                                        0, NULL),
                 IG_ENOTFOUND); /* a key id is not an app */
    CHECK_EQ_INT(
        ig_store_budget_create(st, NO_ID, IG_STORE_BUDGET_ORG, NULL, NULL, IG_STORE_PERIOD_DAILY, 5, 0, NULL),
        IG_ENOTFOUND);
    /* bad input */
    CHECK_EQ_INT(ig_store_budget_create(st, a.id, 3, NULL, NULL, IG_STORE_PERIOD_DAILY, 5, 0, NULL),
                 IG_EINVAL);
    CHECK_EQ_INT(ig_store_budget_create(st, a.id, IG_STORE_BUDGET_ORG, app.id, NULL, 0, 5, 0, NULL),
                 IG_EINVAL);
    CHECK_EQ_INT(ig_store_budget_create(st, a.id, IG_STORE_BUDGET_APP, NULL, NULL, 0, 5, 0, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_budget_create(st, o2.id, IG_STORE_BUDGET_ORG, NULL, NULL, 3, 5, 0, NULL),
                 IG_EINVAL);
    CHECK_EQ_INT(ig_store_budget_create(st, o2.id, IG_STORE_BUDGET_ORG, NULL, NULL, 0, 0, 0, NULL),
                 IG_EINVAL);
    CHECK_EQ_INT(ig_store_budget_create(st, o2.id, IG_STORE_BUDGET_ORG, NULL, NULL, 0, 5, 6, NULL),
                 IG_EINVAL);
    CHECK_EQ_INT(ig_store_budget_create(st, o2.id, IG_STORE_BUDGET_ORG, NULL, NULL, 0, 5, -1, NULL),
                 IG_EINVAL);
    CHECK_EQ_INT(ig_store_budget_create(st, o2.id, IG_STORE_BUDGET_ORG, NULL, NULL, 0,
                                        IG_STORE_BUDGET_MAX_MICROS + 1, 0, NULL),
                 IG_EINVAL);
    CHECK_EQ_INT(ig_store_budget_create(st, o2.id, IG_STORE_BUDGET_ORG, NULL, "bad\nname", 0, 5, 0, NULL),
                 IG_EINVAL);

    /* reads are scoped by org */
    CHECK_EQ_INT(ig_store_budget_get(st, a.id, ba.id, &got), IG_OK);
    CHECK_EQ_STR(got.scope_id, app.id);
    CHECK_EQ_INT(got.period, IG_STORE_PERIOD_DAILY);
    CHECK_EQ_INT(got.hard_micros, 1000000);
    CHECK_EQ_INT(ig_store_budget_get(st, o2.id, ba.id, &got), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_budget_get(st, a.id, "x", &got), IG_ENOTFOUND);
    ig_budget_t list[4];
    size_t n = 0;
    CHECK_EQ_INT(ig_store_budget_list(st, a.id, list, 4, &n), IG_OK);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(ig_store_budget_list(st, a.id, list, 2, &n), IG_ETOOBIG);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(ig_store_budget_list(st, o2.id, list, 4, &n), IG_OK);
    CHECK_EQ_INT(n, 0);

    /* the cap per org */
    for (int i = 0; i < IG_STORE_BUDGETS_PER_ORG; i++) {
        char name[16];
        snprintf(name, sizeof name, "app-%d", i);
        ig_app_t x;
        CHECK_EQ_INT(ig_store_app_create(st, o2.id, name, NULL, &x), IG_OK);
        CHECK_EQ_INT(ig_store_budget_create(st, o2.id, IG_STORE_BUDGET_APP, x.id, NULL, 0, 5, 0, NULL),
                     i < IG_STORE_BUDGETS_PER_ORG ? IG_OK : IG_ETOOBIG);
    }
    CHECK_EQ_INT(ig_store_budget_create(st, o2.id, IG_STORE_BUDGET_ORG, NULL, NULL, 0, 5, 0, NULL),
                 IG_ETOOBIG);
    ig_store_close(st);
}

TEST(update_spend_delete)
{
    ig_store_t *st = open_db("spend.db");
    if (!st) return;
    ig_org_t a, b;
    CHECK_EQ_INT(ig_store_org_create(st, "org-a", "A", &a), IG_OK);
    CHECK_EQ_INT(ig_store_org_create(st, "org-b", "B", &b), IG_OK);
    ig_budget_t x, y;
    CHECK_EQ_INT(ig_store_budget_create(st, a.id, IG_STORE_BUDGET_ORG, NULL, "cap", IG_STORE_PERIOD_MONTHLY,
                                        1000, 500, &x),
                 IG_OK);
    CHECK_EQ_INT(ig_store_budget_create(st, b.id, IG_STORE_BUDGET_ORG, NULL, NULL, IG_STORE_PERIOD_MONTHLY,
                                        1000, 0, &y),
                 IG_OK);

    /* update: replaces the mutable fields, scoped by org */
    ig_budget_t u;
    CHECK_EQ_INT(ig_store_budget_update(st, a.id, x.id, NULL, IG_STORE_PERIOD_DAILY, 2000, 0, &u), IG_OK);
    CHECK_EQ_STR(u.name, "");
    CHECK_EQ_INT(u.period, IG_STORE_PERIOD_DAILY);
    CHECK_EQ_INT(u.hard_micros, 2000);
    CHECK_EQ_INT(u.soft_micros, 0);
    CHECK(u.updated_at >= x.updated_at);
    CHECK_EQ_INT(ig_store_budget_update(st, b.id, x.id, NULL, 0, 2000, 0, &u), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_budget_update(st, a.id, x.id, NULL, 0, 2000, 2001, &u), IG_EINVAL);

    /* spend: nothing recorded reads as 0; adds accumulate per (budget, period); alert bits are OR-ed */
    int64_t spent = -1;
    unsigned alerted = 9;
    CHECK_EQ_INT(ig_store_budget_spend_get(st, x.id, 1000, &spent, &alerted), IG_OK);
    CHECK_EQ_INT(spent, 0);
    CHECK_EQ_INT(alerted, 0);
    ig_budget_spend_t items[4] = {spend(x.id, a.id, 1000, 300, 0), spend(x.id, a.id, 1000, 250, 1),
                                  spend(x.id, a.id, 2000, 7, 2), spend(y.id, a.id, 1000, 99, 3)};
    CHECK_EQ_INT(ig_store_budget_spend_add(st, items, 4), IG_OK);
    CHECK_EQ_INT(ig_store_budget_spend_get(st, x.id, 1000, &spent, &alerted), IG_OK);
    CHECK_EQ_INT(spent, 550);
    CHECK_EQ_INT(alerted, 1);
    CHECK_EQ_INT(ig_store_budget_spend_get(st, x.id, 2000, &spent, &alerted), IG_OK);
    CHECK_EQ_INT(spent, 7);
    CHECK_EQ_INT(alerted, 2);
    /* an item naming another org's budget is skipped */
    CHECK_EQ_INT(ig_store_budget_spend_get(st, y.id, 1000, &spent, &alerted), IG_OK);
    CHECK_EQ_INT(spent, 0);
    items[0] = spend(x.id, a.id, 1000, 0, 2);
    CHECK_EQ_INT(ig_store_budget_spend_add(st, items, 1), IG_OK);
    CHECK_EQ_INT(ig_store_budget_spend_get(st, x.id, 1000, &spent, &alerted), IG_OK);
    CHECK_EQ_INT(spent, 550);
    CHECK_EQ_INT(alerted, 3);
    /* bad items: nothing written */
    items[0] = spend(x.id, a.id, 1000, 5, 0);
    items[1] = spend(x.id, a.id, 1000, -1, 0);
    CHECK_EQ_INT(ig_store_budget_spend_add(st, items, 2), IG_EINVAL);
    items[1] = spend(x.id, a.id, 1000, 1, 4);
    CHECK_EQ_INT(ig_store_budget_spend_add(st, items, 2), IG_EINVAL);
    CHECK_EQ_INT(ig_store_budget_spend_get(st, x.id, 1000, &spent, &alerted), IG_OK);
    CHECK_EQ_INT(spent, 550);
    CHECK_EQ_INT(ig_store_budget_spend_add(st, items, 0), IG_OK);

    /* delete takes the spend along; later spend of the deleted budget is skipped */
    CHECK_EQ_INT(ig_store_budget_delete(st, b.id, x.id), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_budget_delete(st, a.id, x.id), IG_OK);
    CHECK_EQ_INT(ig_store_budget_delete(st, a.id, x.id), IG_ENOTFOUND);
    CHECK_EQ_INT(raw_int("spend.db", "SELECT COUNT(*) FROM budget_spend"), 0);
    items[0] = spend(x.id, a.id, 1000, 5, 0);
    CHECK_EQ_INT(ig_store_budget_spend_add(st, items, 1), IG_OK);
    CHECK_EQ_INT(raw_int("spend.db", "SELECT COUNT(*) FROM budget_spend"), 0);

    /* deleting the org deletes its budgets and their spend */
    items[0] = spend(y.id, b.id, 1000, 5, 1);
    CHECK_EQ_INT(ig_store_budget_spend_add(st, items, 1), IG_OK);
    CHECK_EQ_INT(raw_int("spend.db", "SELECT COUNT(*) FROM budget_spend"), 1);
    CHECK_EQ_INT(ig_store_org_delete(st, b.id), IG_OK);
    CHECK_EQ_INT(raw_int("spend.db", "SELECT COUNT(*) FROM budgets"), 0);
    CHECK_EQ_INT(raw_int("spend.db", "SELECT COUNT(*) FROM budget_spend"), 0);
    ig_store_close(st);
}

int main(void)
{
    if (!store_tmp_init("ingate-store-v7")) return 1;
    RUN(v6_upgrades_in_place);
    RUN(create_scopes_and_validation);
    RUN(update_spend_delete);
    store_tmp_remove();
    UNIT_DONE();
}

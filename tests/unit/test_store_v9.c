/* Unit tests of the store's schema v9 (budget alerts claimed once per period, pending until queued) with the
 * SQLite backend, on files in a fresh temporary directory: the upgrade of a v8 database (alerts recorded
 * before it are not pending: nothing is sent again); claims first come, first served (a bit claimed once per
 * (budget, period), pending until marked done, listed with the budget while pending, none for a deleted
 * budget, none when the transaction fails); two handles (two processes' worth) crossing together claim
 * each alert exactly once; and a budget event queued at most once per webhook (the unique index). */
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
#include <unistd.h>

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
    s.claimed = 99; /* the store sets it */
    return s;
}

/* The org and one monthly budget of it (hard 1000, soft 500). */
static void org_and_budget(ig_store_t *st, const char *slug, ig_org_t *org, ig_budget_t *b)
{
    CHECK_EQ_INT(ig_store_org_create(st, slug, slug, org), IG_OK);
    CHECK_EQ_INT(ig_store_budget_create(st, org->id, IG_STORE_BUDGET_ORG, NULL, "cap",
                                        IG_STORE_PERIOD_MONTHLY, 1000, 500, b),
                 IG_OK);
}

TEST(v8_upgrades_in_place_without_resending)
{
    ig_store_t *st = open_db("v8.db");
    if (!st) return;
    ig_org_t org;
    ig_budget_t b;
    org_and_budget(st, "old-org", &org, &b);
    ig_store_close(st);
    /* a v8 database whose budget sent both alerts last month */
    char sql[512];
    snprintf(sql, sizeof sql,
             "DROP INDEX webhook_deliveries_budget_event; DROP INDEX budget_spend_pending;"
             "ALTER TABLE budget_spend DROP COLUMN pending;"
             "DELETE FROM schema_migrations WHERE version = 9;"
             "INSERT INTO budget_spend (budget_id, org_id, period_start, spent_micros, alerted, updated_at)"
             " VALUES ('%s', '%s', 1000, 1200, 3, 1)",
             b.id, org.id);
    CHECK_EQ_INT(raw_exec("v8.db", sql), SQLITE_OK);
    CHECK_EQ_INT(raw_int("v8.db", "SELECT MAX(version) FROM schema_migrations"), 8);
    st = open_db("v8.db");
    if (!st) return;
    int v = 0;
    CHECK_EQ_INT(ig_store_schema_version(st, &v), IG_OK);
    CHECK_EQ_INT(v, 9);
    CHECK_EQ_INT(IG_STORE_SCHEMA_VERSION, 9);
    ig_budget_alert_t as[4];
    size_t n = 9;
    CHECK_EQ_INT(ig_store_budget_alerts_pending(st, as, 4, &n), IG_OK);
    CHECK_EQ_INT(n, 0); /* alerts recorded before v9 were sent: nothing is pending */
    ig_budget_spend_t it = spend(b.id, org.id, 1000, 0, 3);
    CHECK_EQ_INT(ig_store_budget_spend_add(st, &it, 1), IG_OK);
    CHECK_EQ_INT(it.claimed, 0);               /* and they are not claimed again */
    CHECK_EQ_INT(ig_store_migrate(st), IG_OK); /* idempotent */
    ig_store_close(st);
    CHECK_EQ_INT(raw_int("v8.db", "SELECT pending FROM budget_spend"), 0);
}

TEST(claims_once_pending_until_done)
{
    ig_store_t *st = open_db("claims.db");
    if (!st) return;
    ig_org_t org;
    ig_budget_t b, gone;
    org_and_budget(st, "claim-org", &org, &b);
    ig_org_t o2;
    org_and_budget(st, "gone-org", &o2, &gone);
    CHECK_EQ_INT(ig_store_budget_delete(st, o2.id, gone.id), IG_OK);

    const int64_t P = 1764547200000LL; /* a period start */
    ig_budget_spend_t items[3] = {spend(b.id, org.id, P, 600, 1), spend(gone.id, o2.id, P, 5, 3),
                                  spend(b.id, org.id, P + 1, 7, 0)};
    CHECK_EQ_INT(ig_store_budget_spend_add(st, items, 3), IG_OK);
    CHECK_EQ_INT(items[0].claimed, 1);
    CHECK_EQ_INT(items[1].claimed, 0); /* the budget is gone: nothing stored, nothing claimed */
    CHECK_EQ_INT(items[2].claimed, 0);
    /* the same crossing again (another writer, later): not claimed twice; exceeded is new */
    ig_budget_spend_t again = spend(b.id, org.id, P, 500, 3);
    CHECK_EQ_INT(ig_store_budget_spend_add(st, &again, 1), IG_OK);
    CHECK_EQ_INT(again.claimed, 2);
    int64_t spent = 0;
    unsigned alerted = 0;
    CHECK_EQ_INT(ig_store_budget_spend_get(st, b.id, P, &spent, &alerted), IG_OK);
    CHECK_EQ_INT(spent, 1100);
    CHECK_EQ_INT(alerted, 3);

    /* both pending, listed with the budget and the period's spend */
    ig_budget_alert_t as[4];
    size_t n = 0;
    CHECK_EQ_INT(ig_store_budget_alerts_pending(st, as, 4, &n), IG_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_STR(as[0].budget.id, b.id);
    CHECK_EQ_STR(as[0].budget.org_id, org.id);
    CHECK_EQ_INT(as[0].budget.hard_micros, 1000);
    CHECK_EQ_INT(as[0].budget.soft_micros, 500);
    CHECK_EQ_INT(as[0].budget.period, IG_STORE_PERIOD_MONTHLY);
    CHECK_EQ_INT(as[0].period_start, P);
    CHECK_EQ_INT(as[0].spent_micros, 1100);
    CHECK_EQ_INT(as[0].pending, 3);
    CHECK_EQ_INT(ig_store_budget_alert_done(st, b.id, P, 1), IG_OK);
    CHECK_EQ_INT(ig_store_budget_alerts_pending(st, as, 4, &n), IG_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(as[0].pending, 2);
    CHECK_EQ_INT(ig_store_budget_alert_done(st, b.id, P, 2), IG_OK);
    CHECK_EQ_INT(ig_store_budget_alerts_pending(st, as, 4, &n), IG_OK);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(ig_store_budget_alert_done(st, gone.id, P, 2), IG_OK); /* a row that is gone: fine */
    /* done does not re-arm: the period's alerts stay claimed */
    again = spend(b.id, org.id, P, 1, 3);
    CHECK_EQ_INT(ig_store_budget_spend_add(st, &again, 1), IG_OK);
    CHECK_EQ_INT(again.claimed, 0);
    /* a new period claims again */
    again = spend(b.id, org.id, P + 86400000LL * 31, 600, 1);
    CHECK_EQ_INT(ig_store_budget_spend_add(st, &again, 1), IG_OK);
    CHECK_EQ_INT(again.claimed, 1);

    /* bad arguments */
    CHECK_EQ_INT(ig_store_budget_alert_done(st, b.id, P, 0), IG_EINVAL);
    CHECK_EQ_INT(ig_store_budget_alert_done(st, b.id, P, 4), IG_EINVAL);
    CHECK_EQ_INT(ig_store_budget_alerts_pending(st, as, 0, &n), IG_EINVAL);
    CHECK_EQ_INT(ig_store_budget_alerts_pending(st, as, 1001, &n), IG_EINVAL);
    ig_budget_spend_t bad = spend(b.id, org.id, P, 1, 4);
    CHECK_EQ_INT(ig_store_budget_spend_add(st, &bad, 1), IG_EINVAL);
    ig_store_close(st);
}

/* Two handles on one database (as two gateway processes have), each adding spend that crosses both limits
 * of a fresh period at the same moment, round after round: each alert is claimed by exactly one of them. */
typedef struct {
    ig_store_t *st;
    const char *budget_id, *org_id;
    pthread_barrier_t *bar;
    unsigned claimed[64];
    int errors;
} claimer_t;

static void *claimer(void *arg)
{
    claimer_t *c = arg;
    for (int r = 0; r < 64; r++) {
        ig_budget_spend_t it = spend(c->budget_id, c->org_id, 1000000 + r, 10, 3);
        pthread_barrier_wait(c->bar);
        if (ig_store_budget_spend_add(c->st, &it, 1) != IG_OK) c->errors++;
        c->claimed[r] = it.claimed;
    }
    return NULL;
}

TEST(two_writers_claim_each_alert_once)
{
    ig_store_t *a = open_db("race.db"), *b2 = open_db("race.db");
    if (!a || !b2) {
        ig_store_close(a);
        ig_store_close(b2);
        return;
    }
    ig_org_t org;
    ig_budget_t b;
    org_and_budget(a, "race-org", &org, &b);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 2);
    claimer_t cs[2] = {{a, b.id, org.id, &bar, {0}, 0}, {b2, b.id, org.id, &bar, {0}, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, claimer, &cs[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&bar);
    CHECK_EQ_INT(cs[0].errors + cs[1].errors, 0);
    for (int r = 0; r < 64; r++) {                            /* who wins is up to the scheduler */
        CHECK_EQ_INT(cs[0].claimed[r] | cs[1].claimed[r], 3); /* every alert claimed ... */
        CHECK_EQ_INT(cs[0].claimed[r] & cs[1].claimed[r], 0); /* ... by one of them only */
    }
    int64_t spent = 0;
    unsigned alerted = 0;
    CHECK_EQ_INT(ig_store_budget_spend_get(a, b.id, 1000000 + 63, &spent, &alerted), IG_OK);
    CHECK_EQ_INT(spent, 20);
    ig_store_close(a);
    ig_store_close(b2);
}

static int seal_fixed(void *ctx, const char *org_id, const char *id, ig_buf_t *out)
{
    return ig_buf_append(out, "sealed", 6);
}

TEST(a_budget_event_is_queued_once_per_webhook)
{
    ig_store_t *st = open_db("events.db");
    if (!st) return;
    ig_org_t org;
    ig_webhook_t w1, w2;
    CHECK_EQ_INT(ig_store_org_create(st, "ev-org", "Ev", &org), IG_OK);
    CHECK_EQ_INT(ig_store_webhook_create(st, org.id, "https://a.example/h", "budget.warning,key.create", NULL,
                                         seal_fixed, NULL, &w1),
                 IG_OK);
    CHECK_EQ_INT(ig_store_webhook_create(st, org.id, "https://b.example/h", "budget.warning", NULL,
                                         seal_fixed, NULL, &w2),
                 IG_OK);
    const char *ev = "0123456789abcdef0123456789abcdef";
    CHECK_EQ_INT(
        ig_store_webhook_delivery_add(st, org.id, w1.id, ev, "budget.warning", 5, seal_fixed, NULL, NULL),
        IG_OK);
    CHECK_EQ_INT(
        ig_store_webhook_delivery_add(st, org.id, w1.id, ev, "budget.warning", 6, seal_fixed, NULL, NULL),
        IG_ECONFLICT);
    CHECK_EQ_INT(
        ig_store_webhook_delivery_add(st, org.id, w2.id, ev, "budget.warning", 5, seal_fixed, NULL, NULL),
        IG_OK); /* another webhook gets its own delivery */
    /* other events are not constrained (their ids are random anyway) */
    CHECK_EQ_INT(
        ig_store_webhook_delivery_add(st, org.id, w1.id, ev, "key.create", 5, seal_fixed, NULL, NULL), IG_OK);
    CHECK_EQ_INT(
        ig_store_webhook_delivery_add(st, org.id, w1.id, ev, "key.create", 5, seal_fixed, NULL, NULL), IG_OK);
    ig_store_close(st);
    CHECK_EQ_INT(raw_int("events.db", "SELECT COUNT(*) FROM webhook_deliveries"), 4);
}

int main(void)
{
    if (!store_tmp_init("ingate-store-v9")) return 1;
    RUN(v8_upgrades_in_place_without_resending);
    RUN(claims_once_pending_until_done);
    RUN(two_writers_claim_each_alert_once);
    RUN(a_budget_event_is_queued_once_per_webhook);
    store_tmp_remove();
    UNIT_DONE();
}

/* Unit tests of src/auth/authcache.c against a real SQLite store in a fresh temporary directory: misses,
 * loads, negative caching, revocation, expiry, org invalidation with snapshots still in use, credential
 * lookup, and readers racing invalidations and reloads (meant to run under ASan). */
#include "unit.h"
#include "auth/apikey.h"
#include "auth/authcache.h"
#include "core/err.h"
#include "core/log.h"
#include "net/loop.h"
#include "store/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[64];
static char g_url[128];
static ig_store_t *g_st;

static const uint8_t SECRET_OPENAI[] = {0x01, 0x02, 0x03, 0x00, 0xff, 0x7f, 'e', 'n', 'v'};

typedef struct {
    char raw[IG_APIKEY_LEN + 1];
    uint8_t hash[32];
    char prefix[13];
    ig_keyrec_t rec;
} testkey_t;

static void new_key(testkey_t *k)
{
    CHECK_EQ_INT(ig_apikey_generate(k->raw), IG_OK);
    ig_apikey_hash(ig_iov(k->raw, IG_APIKEY_LEN), k->hash);
    ig_apikey_hash_prefix(k->hash, k->prefix);
}

/* Stores key k in org with role and expiry. */
static void store_key(testkey_t *k, const char *org_id, int role, int64_t expires_at)
{
    new_key(k);
    CHECK_EQ_INT(ig_store_key_create(g_st, org_id, k->hash, k->prefix, "test", role, expires_at, &k->rec),
                 IG_OK);
}

/* An org with an openai stored credential and an anthropic passthrough one. */
static void make_org(const char *slug, ig_org_t *org)
{
    CHECK_EQ_INT(ig_store_org_create(g_st, slug, "Test Org", org), IG_OK);
    CHECK_EQ_INT(ig_store_org_set_default_provider(g_st, org->id, "anthropic"), IG_OK);
    CHECK_EQ_INT(ig_store_provider_set(g_st, org->id, "openai", IG_STORE_AUTH_STORED, SECRET_OPENAI,
                                       sizeof SECRET_OPENAI),
                 IG_OK);
    CHECK_EQ_INT(ig_store_provider_set(g_st, org->id, "anthropic", IG_STORE_AUTH_PASSTHROUGH, NULL, 0),
                 IG_OK);
}

TEST(get_before_load_is_eagain)
{
    testkey_t k;
    new_key(&k);
    ig_auth_t a;
    memset(&a, 0, sizeof a);
    CHECK_EQ_INT(ig_authcache_get(k.hash, ig_wall_ms(), &a), IG_EAGAIN);
    CHECK(a.org == NULL);
}

TEST(load_then_get)
{
    ig_org_t org;
    make_org("load-then-get", &org);
    testkey_t k;
    store_key(&k, org.id, IG_STORE_ROLE_ADMIN, 0);
    ig_auth_t a;
    memset(&a, 0, sizeof a);
    CHECK_EQ_INT(ig_authcache_get(k.hash, ig_wall_ms(), &a), IG_EAGAIN);
    CHECK_EQ_INT(ig_authcache_load(g_st, k.hash), IG_OK);
    CHECK_EQ_INT(ig_authcache_get(k.hash, ig_wall_ms(), &a), IG_OK);
    CHECK(a.org != NULL);
    if (!a.org) return;
    CHECK_EQ_INT(a.role, IG_STORE_ROLE_ADMIN);
    CHECK_EQ_STR(a.key_id, k.rec.id);
    CHECK_EQ_STR(a.hash_prefix, k.prefix);
    CHECK_EQ_STR(a.org->id, org.id);
    CHECK_EQ_STR(a.org->slug, "load-then-get");
    CHECK_EQ_STR(a.org->default_provider, "anthropic");
    CHECK_EQ_INT(a.org->ncreds, 2);

    const ig_provcred_t *c = ig_orgsnap_cred(a.org, IG_IOV_LIT("openai"));
    CHECK(c != NULL);
    if (c) {
        CHECK_EQ_STR(c->provider, "openai");
        CHECK_EQ_INT(c->auth_mode, IG_STORE_AUTH_STORED);
        CHECK_EQ_INT(c->secret_len, sizeof SECRET_OPENAI);
        CHECK(c->secret && memcmp(c->secret, SECRET_OPENAI, sizeof SECRET_OPENAI) == 0);
    }
    c = ig_orgsnap_cred(a.org, IG_IOV_LIT("anthropic"));
    CHECK(c != NULL);
    if (c) {
        CHECK_EQ_INT(c->auth_mode, IG_STORE_AUTH_PASSTHROUGH);
        CHECK(c->secret == NULL);
        CHECK_EQ_INT(c->secret_len, 0);
    }
    /* not configured (ollama is not in the cache's provider list here), or no such provider */
    CHECK(ig_orgsnap_cred(a.org, IG_IOV_LIT("ollama")) == NULL);
    CHECK(ig_orgsnap_cred(a.org, IG_IOV_LIT("azure")) == NULL);
    CHECK(ig_orgsnap_cred(a.org, IG_IOV_LIT("open")) == NULL);
    CHECK(ig_orgsnap_cred(a.org, ig_iov("openai!", 6)) != NULL); /* only len bytes count */

    /* a second get shares the same snapshot and takes another reference */
    ig_auth_t b;
    memset(&b, 0, sizeof b);
    CHECK_EQ_INT(ig_authcache_get(k.hash, ig_wall_ms(), &b), IG_OK);
    CHECK(b.org == a.org);
    CHECK_EQ_INT(atomic_load(&a.org->ref), 3); /* the cache + two requests */
    ig_auth_release(&b);
    CHECK(b.org == NULL);
    CHECK_EQ_INT(atomic_load(&a.org->ref), 2);
    ig_auth_release(&a);
    CHECK(a.org == NULL);
    ig_auth_release(&a); /* twice is harmless */
    ig_auth_release(NULL);
}

/* An Enterprise org's snapshot carries its budgets with the spend stored for the current period; a free org's
 * carries none (budgets apply to Enterprise orgs only); the key's app comes with the key. */
TEST(snapshot_budgets_and_app)
{
    ig_org_t org, free_org;
    ig_app_t app;
    make_org("budget-snap", &org);
    make_org("budget-free", &free_org);
    CHECK_EQ_INT(ig_store_org_set_plan(g_st, org.id, IG_STORE_PLAN_ENTERPRISE), IG_OK);
    CHECK_EQ_INT(ig_store_app_create(g_st, org.id, "Chat", NULL, &app), IG_OK);
    testkey_t k, kf;
    new_key(&k);
    CHECK_EQ_INT(ig_store_key_create_for(g_st, org.id, k.hash, k.prefix, "app key", IG_STORE_ROLE_MEMBER, 0,
                                         app.id, NULL, &k.rec),
                 IG_OK);
    store_key(&kf, free_org.id, IG_STORE_ROLE_MEMBER, 0);
    ig_budget_t bo, bk, bf;
    CHECK_EQ_INT(ig_store_budget_create(g_st, org.id, IG_STORE_BUDGET_ORG, NULL, NULL,
                                        IG_STORE_PERIOD_MONTHLY, 9000, 4000, &bo),
                 IG_OK);
    CHECK_EQ_INT(ig_store_budget_create(g_st, org.id, IG_STORE_BUDGET_KEY, k.rec.id, NULL,
                                        IG_STORE_PERIOD_DAILY, 500, 0, &bk),
                 IG_OK);
    CHECK_EQ_INT(ig_store_budget_create(g_st, free_org.id, IG_STORE_BUDGET_ORG, NULL, NULL,
                                        IG_STORE_PERIOD_MONTHLY, 9000, 0, &bf),
                 IG_OK);
    int64_t now = ig_wall_ms();
    ig_budget_spend_t sp;
    memset(&sp, 0, sizeof sp);
    memcpy(sp.budget_id, bo.id, sizeof sp.budget_id);
    memcpy(sp.org_id, org.id, sizeof sp.org_id);
    sp.period_start = ig_budget_period_start(IG_BUDGET_MONTHLY, now);
    sp.add_micros = 1234;
    sp.alerted = IG_BUDGET_CROSSED_SOFT;
    CHECK_EQ_INT(ig_store_budget_spend_add(g_st, &sp, 1), IG_OK);

    CHECK_EQ_INT(ig_authcache_load(g_st, k.hash), IG_OK);
    CHECK_EQ_INT(ig_authcache_load(g_st, kf.hash), IG_OK);
    ig_auth_t a, f;
    memset(&a, 0, sizeof a);
    memset(&f, 0, sizeof f);
    CHECK_EQ_INT(ig_authcache_get(k.hash, now, &a), IG_OK);
    CHECK_EQ_INT(ig_authcache_get(kf.hash, now, &f), IG_OK);
    if (!a.org || !f.org) return;
    CHECK_EQ_STR(a.app_id, app.id);
    CHECK_EQ_STR(f.app_id, "");
    CHECK_EQ_INT(f.org->nbudgets, 0);
    CHECK_EQ_INT(a.org->nbudgets, 2);
    for (size_t i = 0; i < a.org->nbudgets; i++) {
        const ig_orgbudget_t *b = &a.org->budgets[i];
        if (strcmp(b->rule.id, bo.id) == 0) {
            CHECK_EQ_INT(b->scope, IG_STORE_BUDGET_ORG);
            CHECK_EQ_INT(b->rule.period, IG_BUDGET_MONTHLY);
            CHECK_EQ_INT(b->rule.hard_micros, 9000);
            CHECK_EQ_INT(b->rule.soft_micros, 4000);
            CHECK_EQ_INT(b->period_start, sp.period_start);
            CHECK_EQ_INT(b->spent_micros, 1234);
            CHECK_EQ_INT(b->alerted, IG_BUDGET_CROSSED_SOFT);
        } else {
            CHECK_EQ_STR(b->rule.id, bk.id);
            CHECK_EQ_INT(b->scope, IG_STORE_BUDGET_KEY);
            CHECK_EQ_STR(b->scope_id, k.rec.id);
            CHECK_EQ_INT(b->period_start, ig_budget_period_start(IG_BUDGET_DAILY, now));
            CHECK_EQ_INT(b->spent_micros, 0);
            CHECK_EQ_INT(b->alerted, 0);
        }
    }
    ig_auth_release(&a);
    ig_auth_release(&f);
}

TEST(unknown_key_negative_cache)
{
    testkey_t k;
    new_key(&k); /* never stored */
    ig_auth_t a;
    memset(&a, 0, sizeof a);
    int64_t now = ig_wall_ms();
    CHECK_EQ_INT(ig_authcache_get(k.hash, now, &a), IG_EAGAIN);
    CHECK_EQ_INT(ig_authcache_load(g_st, k.hash), IG_OK);
    CHECK_EQ_INT(ig_authcache_get(k.hash, now, &a), IG_EBADKEY);
    CHECK_EQ_INT(ig_authcache_get(k.hash, now + 1000, &a), IG_EBADKEY);
    CHECK(a.org == NULL);
    /* remembered for a short time only: an hour later the key is looked up again */
    CHECK_EQ_INT(ig_authcache_get(k.hash, now + 3600 * 1000, &a), IG_EAGAIN);
    /* a key created after it was remembered as unknown becomes valid once the entry is dropped */
    ig_org_t org;
    make_org("neg-then-created", &org);
    CHECK_EQ_INT(ig_store_key_create(g_st, org.id, k.hash, k.prefix, NULL, IG_STORE_ROLE_MEMBER, 0, NULL),
                 IG_OK);
    ig_authcache_invalidate_key(k.hash);
    CHECK_EQ_INT(ig_authcache_get(k.hash, now, &a), IG_EAGAIN);
    CHECK_EQ_INT(ig_authcache_load(g_st, k.hash), IG_OK);
    CHECK_EQ_INT(ig_authcache_get(k.hash, ig_wall_ms(), &a), IG_OK);
    CHECK_EQ_INT(a.role, IG_STORE_ROLE_MEMBER);
    ig_auth_release(&a);
}

TEST(revoked_key)
{
    ig_org_t org;
    make_org("revoked", &org);
    testkey_t k;
    store_key(&k, org.id, IG_STORE_ROLE_MEMBER, 0);
    ig_auth_t a;
    memset(&a, 0, sizeof a);
    CHECK_EQ_INT(ig_authcache_load(g_st, k.hash), IG_OK);
    CHECK_EQ_INT(ig_authcache_get(k.hash, ig_wall_ms(), &a), IG_OK);
    ig_auth_release(&a);

    CHECK_EQ_INT(ig_store_key_revoke(g_st, org.id, k.rec.id, NULL), IG_OK);
    ig_authcache_invalidate_key(k.hash);
    CHECK_EQ_INT(ig_authcache_get(k.hash, ig_wall_ms(), &a), IG_EAGAIN);
    CHECK_EQ_INT(ig_authcache_load(g_st, k.hash), IG_OK);
    CHECK_EQ_INT(ig_authcache_get(k.hash, ig_wall_ms(), &a), IG_EBADKEY);
    CHECK(a.org == NULL);
    /* still refused much later (a revoked key is not a short-lived negative entry) */
    CHECK_EQ_INT(ig_authcache_get(k.hash, ig_wall_ms() + 3600 * 1000, &a), IG_EBADKEY);
}

TEST(expired_key)
{
    ig_org_t org;
    make_org("expiry", &org);
    int64_t now = ig_wall_ms();
    testkey_t past, future;
    store_key(&past, org.id, IG_STORE_ROLE_MEMBER, now - 1000);
    store_key(&future, org.id, IG_STORE_ROLE_VIEWER, now + 60 * 1000);
    ig_auth_t a;
    memset(&a, 0, sizeof a);
    CHECK_EQ_INT(ig_authcache_load(g_st, past.hash), IG_OK);
    CHECK_EQ_INT(ig_authcache_get(past.hash, now, &a), IG_EBADKEY);
    CHECK_EQ_INT(ig_authcache_load(g_st, future.hash), IG_OK);
    CHECK_EQ_INT(ig_authcache_get(future.hash, now, &a), IG_OK);
    CHECK_EQ_INT(a.role, IG_STORE_ROLE_VIEWER);
    ig_auth_release(&a);
    /* the same cached entry expires when its time comes, without a reload */
    CHECK_EQ_INT(ig_authcache_get(future.hash, now + 60 * 1000, &a), IG_EBADKEY);
    CHECK_EQ_INT(ig_authcache_get(future.hash, now + 120 * 1000, &a), IG_EBADKEY);
    CHECK(a.org == NULL);
}

TEST(invalidate_org_keeps_held_snapshot)
{
    ig_org_t org, other;
    make_org("inval-org", &org);
    make_org("inval-other", &other);
    testkey_t k1, k2, ko;
    store_key(&k1, org.id, IG_STORE_ROLE_OWNER, 0);
    store_key(&k2, org.id, IG_STORE_ROLE_MEMBER, 0);
    store_key(&ko, other.id, IG_STORE_ROLE_MEMBER, 0);
    CHECK_EQ_INT(ig_authcache_load(g_st, k1.hash), IG_OK);
    CHECK_EQ_INT(ig_authcache_load(g_st, k2.hash), IG_OK);
    CHECK_EQ_INT(ig_authcache_load(g_st, ko.hash), IG_OK);

    ig_auth_t held, tmp;
    memset(&held, 0, sizeof held);
    memset(&tmp, 0, sizeof tmp);
    CHECK_EQ_INT(ig_authcache_get(k1.hash, ig_wall_ms(), &held), IG_OK);
    if (!held.org) return;
    ig_orgsnap_t *old = held.org;

    /* the org changes in the store, then the cache is told */
    CHECK_EQ_INT(ig_store_org_set_default_provider(g_st, org.id, "openai"), IG_OK);
    static const uint8_t newsecret[] = {9, 8, 7};
    CHECK_EQ_INT(
        ig_store_provider_set(g_st, org.id, "openai", IG_STORE_AUTH_STORED, newsecret, sizeof newsecret),
        IG_OK);
    ig_authcache_invalidate_org(org.id);

    CHECK_EQ_INT(ig_authcache_get(k1.hash, ig_wall_ms(), &tmp), IG_EAGAIN);
    CHECK_EQ_INT(ig_authcache_get(k2.hash, ig_wall_ms(), &tmp), IG_EAGAIN);
    /* another org is untouched */
    CHECK_EQ_INT(ig_authcache_get(ko.hash, ig_wall_ms(), &tmp), IG_OK);
    ig_auth_release(&tmp);

    /* the request holding the old snapshot still sees the old, complete state */
    CHECK_EQ_STR(old->id, org.id);
    CHECK_EQ_STR(old->default_provider, "anthropic");
    const ig_provcred_t *c = ig_orgsnap_cred(old, IG_IOV_LIT("openai"));
    CHECK(c && c->secret_len == sizeof SECRET_OPENAI && memcmp(c->secret, SECRET_OPENAI, c->secret_len) == 0);
    CHECK_EQ_INT(atomic_load(&old->ref), 1); /* only the request holds it now */

    /* a reload gives the new state */
    CHECK_EQ_INT(ig_authcache_load(g_st, k1.hash), IG_OK);
    CHECK_EQ_INT(ig_authcache_get(k1.hash, ig_wall_ms(), &tmp), IG_OK);
    if (tmp.org) {
        CHECK_EQ_STR(tmp.org->default_provider, "openai");
        c = ig_orgsnap_cred(tmp.org, IG_IOV_LIT("openai"));
        CHECK(c && c->secret_len == sizeof newsecret && memcmp(c->secret, newsecret, sizeof newsecret) == 0);
    }
    /* k2 shares the reloaded org once loaded itself */
    ig_auth_t t2;
    memset(&t2, 0, sizeof t2);
    CHECK_EQ_INT(ig_authcache_load(g_st, k2.hash), IG_OK);
    CHECK_EQ_INT(ig_authcache_get(k2.hash, ig_wall_ms(), &t2), IG_OK);
    CHECK(t2.org != NULL && t2.org == tmp.org);
    ig_auth_release(&t2);
    ig_auth_release(&tmp);
    /* the old snapshot is still intact until its last release (ASan reports any use after free) */
    CHECK_EQ_STR(old->slug, "inval-org");
    ig_auth_release(&held);
    CHECK(held.org == NULL);

    /* invalidating an unknown org, or all, is harmless */
    ig_authcache_invalidate_org("00000000000000000000000000000000");
    ig_authcache_invalidate_all();
    CHECK_EQ_INT(ig_authcache_get(ko.hash, ig_wall_ms(), &tmp), IG_EAGAIN);
}

TEST(store_failure_is_estore_and_not_cached)
{
    char path[128];
    snprintf(path, sizeof path, "%s/unmigrated.db", g_dir);
    int err = 0;
    ig_store_t *raw = ig_store_open(path, &err); /* no schema: every query fails */
    CHECK(raw != NULL);
    if (!raw) return;
    testkey_t k;
    new_key(&k);
    ig_auth_t a;
    memset(&a, 0, sizeof a);
    CHECK_EQ_INT(ig_authcache_load(raw, k.hash), IG_ESTORE);
    CHECK_EQ_INT(ig_authcache_get(k.hash, ig_wall_ms(), &a), IG_EAGAIN); /* not remembered as unknown */
    ig_store_close(raw);
}

/* ---- concurrency ---- */

typedef struct {
    testkey_t *keys;
    size_t nkeys;
    const char *org_id;
    atomic_bool *stop;
    atomic_long ok, bad, again;
} race_t;

static void *reader(void *arg)
{
    race_t *r = arg;
    unsigned i = 0;
    while (!atomic_load(r->stop)) {
        ig_auth_t a;
        memset(&a, 0, sizeof a);
        const testkey_t *k = &r->keys[i++ % r->nkeys];
        int rc = ig_authcache_get(k->hash, ig_wall_ms(), &a);
        if (rc == IG_OK) {
            /* read the whole snapshot while others invalidate */
            bool good = a.org && strcmp(a.org->id, r->org_id) == 0 && strcmp(a.key_id, k->rec.id) == 0;
            const ig_provcred_t *c = good ? ig_orgsnap_cred(a.org, IG_IOV_LIT("openai")) : NULL;
            good = good && c && c->secret_len == sizeof SECRET_OPENAI &&
                   memcmp(c->secret, SECRET_OPENAI, sizeof SECRET_OPENAI) == 0;
            atomic_fetch_add(good ? &r->ok : &r->bad, 1);
            ig_auth_release(&a);
        } else if (rc == IG_EAGAIN) {
            atomic_fetch_add(&r->again, 1);
        } else {
            atomic_fetch_add(&r->bad, 1);
        }
    }
    return NULL;
}

typedef struct {
    race_t *r;
    int rounds;
    int load_errors;
} writer_t;

static void *writer(void *arg)
{
    writer_t *w = arg;
    int err = 0;
    ig_store_t *st = ig_store_open(g_url, &err); /* one handle per thread */
    if (!st) {
        w->load_errors = -1;
        return NULL;
    }
    for (int i = 0; i < w->rounds; i++) {
        switch (i % 3) {
        case 0:
            ig_authcache_invalidate_org(w->r->org_id);
            break;
        case 1:
            ig_authcache_invalidate_key(w->r->keys[i % w->r->nkeys].hash);
            break;
        default:
            ig_authcache_invalidate_all();
            break;
        }
        for (size_t k = 0; k < w->r->nkeys; k++)
            if (ig_authcache_load(st, w->r->keys[k].hash) != IG_OK) w->load_errors++;
    }
    ig_store_close(st);
    return NULL;
}

TEST(concurrent_get_release_vs_invalidate_reload)
{
    ig_org_t org;
    make_org("race", &org);
    static testkey_t keys[4];
    for (size_t i = 0; i < IG_ARRAY_LEN(keys); i++)
        store_key(&keys[i], org.id, IG_STORE_ROLE_MEMBER, 0);
    atomic_bool stop;
    atomic_init(&stop, false);
    race_t r = {.keys = keys, .nkeys = IG_ARRAY_LEN(keys), .org_id = org.id, .stop = &stop};
    atomic_init(&r.ok, 0);
    atomic_init(&r.bad, 0);
    atomic_init(&r.again, 0);
    for (size_t i = 0; i < IG_ARRAY_LEN(keys); i++)
        CHECK_EQ_INT(ig_authcache_load(g_st, keys[i].hash), IG_OK);

    pthread_t rd[4], wr;
    for (int i = 0; i < 4; i++)
        CHECK_EQ_INT(pthread_create(&rd[i], NULL, reader, &r), 0);
    writer_t w = {.r = &r, .rounds = 300};
    CHECK_EQ_INT(pthread_create(&wr, NULL, writer, &w), 0);
    pthread_join(wr, NULL);
    atomic_store(&stop, true);
    for (int i = 0; i < 4; i++)
        pthread_join(rd[i], NULL);

    CHECK_EQ_INT(w.load_errors, 0);
    CHECK_EQ_INT(atomic_load(&r.bad), 0);
    CHECK(atomic_load(&r.ok) > 0);
    /* after the last reload every key is answered from the cache */
    for (size_t i = 0; i < IG_ARRAY_LEN(keys); i++) {
        ig_auth_t a;
        memset(&a, 0, sizeof a);
        int rc = ig_authcache_get(keys[i].hash, ig_wall_ms(), &a);
        if (rc == IG_EAGAIN) { /* the last round may have dropped the org after a key's load */
            CHECK_EQ_INT(ig_authcache_load(g_st, keys[i].hash), IG_OK);
            rc = ig_authcache_get(keys[i].hash, ig_wall_ms(), &a);
        }
        CHECK_EQ_INT(rc, IG_OK);
        if (rc == IG_OK) CHECK_EQ_INT(atomic_load(&a.org->ref), 2);
        ig_auth_release(&a);
    }
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
    snprintf(g_dir, sizeof g_dir, "/tmp/ingate-test-authcache-XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(g_url, sizeof g_url, "sqlite:%s/t.db", g_dir);
    int err = 0;
    g_st = ig_store_open(g_url, &err);
    if (!g_st || ig_store_migrate(g_st) != IG_OK) {
        fprintf(stderr, "cannot open store %s (%d)\n", g_url, err);
        rm_dir();
        return 1;
    }
    static const char *const names[] = {"openai", "anthropic"};
    if (ig_authcache_init(names, IG_ARRAY_LEN(names)) != IG_OK) return 1;

    RUN(get_before_load_is_eagain);
    RUN(load_then_get);
    RUN(snapshot_budgets_and_app);
    RUN(unknown_key_negative_cache);
    RUN(revoked_key);
    RUN(expired_key);
    RUN(invalidate_org_keeps_held_snapshot);
    RUN(store_failure_is_estore_and_not_cached);
    RUN(concurrent_get_release_vs_invalidate_reload);

    ig_authcache_shutdown();
    ig_store_close(g_st);
    rm_dir();
    UNIT_DONE();
}

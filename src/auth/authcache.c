/*
 * authcache.c — key and org cache behind a single rwlock.
 *
 * Keys live in a chained hash table indexed by the first bytes of their SHA-256 (already uniform). Negative
 * entries (unknown keys) expire after NEG_TTL_MS and are capped at NEG_MAX so memory stays bounded. Orgs are
 * a small chained table keyed by id; a snapshot leaves the table on invalidation and is freed when its last
 * request releases it.
 */
#include "auth/authcache.h"
#include "capture/orgset.h"
#include "core/err.h"
#include "core/log.h"
#include "crypto/crypto.h"
#include "net/loop.h"

#include <pthread.h>
#include <stdlib.h>

#define KEY_BUCKETS 65536u
#define ORG_BUCKETS 4096u
#define NEG_TTL_MS  10000
#define NEG_MAX     100000

typedef struct keyent {
    struct keyent *next;
    uint8_t hash[32];
    bool known;
    int64_t added_ms; /* for negative entries */
    char key_id[33];
    char created_by[33];
    char hash_prefix[13];
    char org_id[33];
    int role;
    int64_t expires_at, revoked_at;
    int64_t rpm_limit, tpm_limit;
    char app_id[33];
    char lineage_id[33];
} keyent_t;

typedef struct orgent {
    struct orgent *next;
    ig_orgsnap_t *snap;
} orgent_t;

static pthread_rwlock_t g_lock = PTHREAD_RWLOCK_INITIALIZER;
static keyent_t **g_keys;
static orgent_t **g_orgs;
static size_t g_neg;
static char (*g_provnames)[33];
static size_t g_nprov;
static void (*g_on_org_change)(void);

static size_t key_bucket(const uint8_t h[32])
{
    return ((size_t)h[0] << 8 | h[1]) % KEY_BUCKETS;
}

static size_t org_bucket(const char *id)
{
    uint32_t x = 2166136261u;
    for (; *id; id++)
        x = (x ^ (uint8_t)*id) * 16777619u;
    return x % ORG_BUCKETS;
}

int ig_authcache_init(const char *const *names, size_t n)
{
    g_keys = calloc(KEY_BUCKETS, sizeof *g_keys);
    g_orgs = calloc(ORG_BUCKETS, sizeof *g_orgs);
    g_provnames = calloc(n ? n : 1, sizeof *g_provnames);
    if (!g_keys || !g_orgs || !g_provnames) return IG_ENOMEM;
    for (size_t i = 0; i < n; i++)
        snprintf(g_provnames[i], sizeof g_provnames[i], "%s", names[i]);
    g_nprov = n;
    return IG_OK;
}

static void snap_unref(ig_orgsnap_t *s)
{
    if (!s) return;
    if (atomic_fetch_sub(&s->ref, 1) != 1) return;
    ig_redactor_free(s->guard_redactor);
    for (size_t i = 0; i < s->ncreds; i++) {
        if (s->creds[i].secret) ig_wipe(s->creds[i].secret, s->creds[i].secret_len);
        free(s->creds[i].secret);
    }
    free(s->budgets);
    free(s);
}

void ig_authcache_invalidate_all(void)
{
    if (!g_keys) return;
    if (g_on_org_change) g_on_org_change();
    pthread_rwlock_wrlock(&g_lock);
    for (size_t i = 0; i < KEY_BUCKETS; i++) {
        keyent_t *e = g_keys[i];
        while (e) {
            keyent_t *n = e->next;
            free(e);
            e = n;
        }
        g_keys[i] = NULL;
    }
    for (size_t i = 0; i < ORG_BUCKETS; i++) {
        orgent_t *o = g_orgs[i];
        while (o) {
            orgent_t *n = o->next;
            snap_unref(o->snap);
            free(o);
            o = n;
        }
        g_orgs[i] = NULL;
    }
    g_neg = 0;
    pthread_rwlock_unlock(&g_lock);
}

void ig_authcache_shutdown(void)
{
    ig_authcache_invalidate_all();
    free(g_keys);
    free(g_orgs);
    free(g_provnames);
    g_keys = NULL;
    g_orgs = NULL;
    g_provnames = NULL;
}

static keyent_t *find_key(const uint8_t h[32])
{
    for (keyent_t *e = g_keys[key_bucket(h)]; e; e = e->next)
        if (memcmp(e->hash, h, 32) == 0) return e;
    return NULL;
}

static ig_orgsnap_t *find_org(const char *id)
{
    for (orgent_t *o = g_orgs[org_bucket(id)]; o; o = o->next)
        if (strcmp(o->snap->id, id) == 0) return o->snap;
    return NULL;
}

int ig_authcache_get(const uint8_t hash[32], int64_t now_ms, ig_auth_t *out)
{
    int rc = IG_EAGAIN;
    pthread_rwlock_rdlock(&g_lock);
    keyent_t *e = find_key(hash);
    if (!e) goto out;
    if (!e->known) {
        rc = now_ms - e->added_ms < NEG_TTL_MS ? IG_EBADKEY : IG_EAGAIN;
        goto out;
    }
    if (e->revoked_at || (e->expires_at && e->expires_at <= now_ms)) {
        rc = IG_EBADKEY;
        goto out;
    }
    ig_orgsnap_t *s = find_org(e->org_id);
    if (!s) goto out; /* org invalidated: reload */
    atomic_fetch_add(&s->ref, 1);
    memcpy(out->key_id, e->key_id, sizeof out->key_id);
    memcpy(out->created_by, e->created_by, sizeof out->created_by);
    memcpy(out->hash_prefix, e->hash_prefix, sizeof out->hash_prefix);
    out->role = e->role;
    out->rpm_limit = e->rpm_limit;
    out->tpm_limit = e->tpm_limit;
    memcpy(out->lineage_id, e->lineage_id, sizeof out->lineage_id);
    memcpy(out->app_id, e->app_id, sizeof out->app_id);
    out->org = s;
    rc = IG_OK;
out:
    pthread_rwlock_unlock(&g_lock);
    return rc;
}

void ig_auth_release(ig_auth_t *a)
{
    if (a && a->org) {
        snap_unref(a->org);
        a->org = NULL;
    }
}

const ig_provcred_t *ig_orgsnap_cred(const ig_orgsnap_t *org, ig_iov_t provider)
{
    for (size_t i = 0; i < org->ncreds; i++)
        if (ig_iov_eq(ig_iov_str(org->creds[i].provider), provider)) return &org->creds[i];
    return NULL;
}

/* The org's budgets into s (Enterprise orgs only: budgets are a feature of that plan), each with the spend
 * recorded for its period current now. */
static int load_budgets(ig_store_t *st, ig_orgsnap_t *s)
{
    if (s->plan != IG_STORE_PLAN_ENTERPRISE) return IG_OK;
    size_t n = 0;
    ig_budget_t *bs = calloc(IG_STORE_BUDGETS_PER_ORG, sizeof *bs);
    int rc = bs ? ig_store_budget_list(st, s->id, bs, IG_STORE_BUDGETS_PER_ORG, &n) : IG_ENOMEM;
    if (rc == IG_ETOOBIG) rc = IG_OK; /* the store refuses more; only a hand-edited database has them */
    if (rc == IG_OK && n && !(s->budgets = calloc(n, sizeof *s->budgets))) rc = IG_ENOMEM;
    int64_t now = ig_wall_ms();
    for (size_t i = 0; rc == IG_OK && i < n; i++) {
        ig_orgbudget_t *b = &s->budgets[i];
        memcpy(b->rule.id, bs[i].id, sizeof b->rule.id);
        b->rule.period = (ig_budget_period_t)bs[i].period;
        b->rule.hard_micros = bs[i].hard_micros;
        b->rule.soft_micros = bs[i].soft_micros;
        b->rule.version =
            bs[i].updated_at; /* a newer snapshot's rule wins in the ledger, never an older one */
        b->scope = bs[i].scope;
        memcpy(b->scope_id, bs[i].scope_id, sizeof b->scope_id);
        b->period_start = ig_budget_period_start(b->rule.period, now);
        rc = ig_store_budget_spend_get(st, b->rule.id, b->period_start, &b->spent_micros, &b->alerted);
        if (rc == IG_OK) s->nbudgets++;
    }
    free(bs);
    return rc;
}

/* The guardrails of the org and, for PII, its redactor: compiled here (a worker) so that loop threads only
 * use it. A pattern that no longer compiles (it did when saved) leaves guard_redactor NULL: the proxy then
 * refuses the org's calls rather than forwarding them unscreened. */
static void guard_load(ig_orgsnap_t *s, const ig_orgset_t *set)
{
    char err[256];
    s->guard = ig_orgset_guard(set, s->plan);
    if (s->guard.pii == IG_GUARD_OFF) return;
    if (ig_redactor_new(set->detectors, (const char *const *)set->custom, set->ncustom, &s->guard_redactor,
                        err, sizeof err) != IG_OK)
        IG_ERROR("auth", "org %s: guardrail PII patterns do not compile (%s): its calls are refused", s->id,
                 err);
}

static int load_org(ig_store_t *st, const char *org_id, ig_orgsnap_t **out)
{
    ig_org_t org;
    int rc = ig_store_org_get(st, org_id, &org);
    if (rc) return rc;
    ig_orgsnap_t *s = calloc(1, sizeof *s + g_nprov * sizeof(ig_provcred_t));
    if (!s) return IG_ENOMEM;
    atomic_init(&s->ref, 1);
    memcpy(s->id, org.id, sizeof s->id);
    memcpy(s->slug, org.slug, sizeof s->slug);
    memcpy(s->default_provider, org.default_provider, sizeof s->default_provider);
    s->plan = org.plan;
    ig_orgset_t set; /* validated when saved; the defaults when unreadable */
    ig_orgset_parse_text(org.settings, &set);
    s->rpm_limit = set.rpm_limit;
    s->tpm_limit = set.tpm_limit;
    guard_load(s, &set);
    ig_orgset_clear(&set);
    if ((rc = load_budgets(st, s))) {
        snap_unref(s);
        return rc;
    }
    for (size_t i = 0; i < g_nprov; i++) {
        ig_provcred_t *c = &s->creds[s->ncreds];
        rc = ig_store_provider_get(st, org_id, g_provnames[i], &c->auth_mode, &c->secret, &c->secret_len);
        if (rc == IG_ENOTFOUND) continue;
        if (rc) {
            s->ncreds++;
            snap_unref(s);
            return rc;
        }
        memcpy(c->provider, g_provnames[i], sizeof c->provider);
        s->ncreds++;
    }
    *out = s;
    return IG_OK;
}

/* Drops the entry for `hash`, if any. Caller holds the write lock. */
static void remove_key_locked(const uint8_t hash[32])
{
    keyent_t **pp = &g_keys[key_bucket(hash)];
    for (keyent_t *e = *pp; e; pp = &e->next, e = e->next) {
        if (memcmp(e->hash, hash, 32) == 0) {
            *pp = e->next;
            if (!e->known) g_neg--;
            free(e);
            return;
        }
    }
}

int ig_authcache_load(ig_store_t *st, const uint8_t hash[32])
{
    ig_keyrec_t kr;
    ig_orgsnap_t *snap = NULL;
    int rc = ig_store_key_get_by_hash(st, hash, &kr);
    if (rc && rc != IG_ENOTFOUND) return IG_ESTORE;
    bool known = rc == IG_OK;
    if (known) {
        pthread_rwlock_rdlock(&g_lock);
        bool have = find_org(kr.org_id) != NULL;
        pthread_rwlock_unlock(&g_lock);
        if (!have) {
            rc = load_org(st, kr.org_id, &snap);
            if (rc == IG_ENOTFOUND)
                known = false;
            else if (rc)
                return IG_ESTORE;
        }
    }
    keyent_t *e = calloc(1, sizeof *e);
    if (!e) {
        snap_unref(snap);
        return IG_ENOMEM;
    }
    memcpy(e->hash, hash, 32);
    e->known = known;
    e->added_ms = ig_wall_ms();
    if (known) {
        memcpy(e->key_id, kr.id, sizeof e->key_id);
        memcpy(e->created_by, kr.created_by, sizeof e->created_by);
        memcpy(e->hash_prefix, kr.hash_prefix, sizeof e->hash_prefix);
        memcpy(e->org_id, kr.org_id, sizeof e->org_id);
        e->role = kr.role;
        e->expires_at = kr.expires_at;
        e->revoked_at = kr.revoked_at;
        e->rpm_limit = kr.rpm_limit;
        e->tpm_limit = kr.tpm_limit;
        memcpy(e->lineage_id, kr.lineage_id[0] ? kr.lineage_id : kr.id, sizeof e->lineage_id);
        memcpy(e->app_id, kr.app_id, sizeof e->app_id);
    }
    pthread_rwlock_wrlock(&g_lock);
    remove_key_locked(hash);
    keyent_t **pp = &g_keys[key_bucket(hash)];
    if (!known && g_neg >= NEG_MAX) {
        free(e); /* bounded: beyond the cap unknown keys are simply not remembered */
    } else {
        if (!known) g_neg++;
        e->next = *pp;
        *pp = e;
    }
    if (snap && !find_org(snap->id)) {
        orgent_t *o = calloc(1, sizeof *o);
        if (o) {
            o->snap = snap;
            size_t b = org_bucket(snap->id);
            o->next = g_orgs[b];
            g_orgs[b] = o;
            snap = NULL;
        }
    }
    pthread_rwlock_unlock(&g_lock);
    snap_unref(snap);
    return IG_OK;
}

void ig_authcache_invalidate_key(const uint8_t hash[32])
{
    pthread_rwlock_wrlock(&g_lock);
    remove_key_locked(hash);
    pthread_rwlock_unlock(&g_lock);
}

void ig_authcache_on_org_change(void (*fn)(void))
{
    g_on_org_change = fn;
}

void ig_authcache_invalidate_org(const char *org_id)
{
    if (g_on_org_change) g_on_org_change();
    ig_orgsnap_t *gone = NULL;
    pthread_rwlock_wrlock(&g_lock);
    orgent_t **pp = &g_orgs[org_bucket(org_id)];
    for (orgent_t *o = *pp, *prev = NULL; o; prev = o, o = o->next) {
        if (strcmp(o->snap->id, org_id) == 0) {
            if (prev)
                prev->next = o->next;
            else
                *pp = o->next;
            gone = o->snap;
            free(o);
            break;
        }
    }
    /* keys of this org are also dropped so role changes and revocations done together are seen */
    for (size_t i = 0; i < KEY_BUCKETS; i++) {
        keyent_t **kp = &g_keys[i];
        while (*kp) {
            keyent_t *e = *kp;
            if (e->known && strcmp(e->org_id, org_id) == 0) {
                *kp = e->next;
                free(e);
            } else {
                kp = &e->next;
            }
        }
    }
    pthread_rwlock_unlock(&g_lock);
    snap_unref(gone);
}

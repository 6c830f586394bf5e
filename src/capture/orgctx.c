/*
 * orgctx.c — per-thread cache of org contexts (see orgctx.h).
 */
#include "capture/orgctx.h"
#include "core/err.h"
#include "core/log.h"
#include "crypto/crypto.h"
#include "net/loop.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

static atomic_ullong g_gen = 1;

void ig_orgctx_bump(void)
{
    atomic_fetch_add(&g_gen, 1);
}

/* The process-wide KEK, when set (serve, after a master key rotation): it overrides every cache's own. */
static pthread_mutex_t g_kek_mu = PTHREAD_MUTEX_INITIALIZER;
static uint8_t g_kek[32];
static uint32_t g_kek_id;
static bool g_kek_set;

void ig_orgctx_set_kek(const uint8_t kek[32], uint32_t id)
{
    pthread_mutex_lock(&g_kek_mu);
    if (kek) {
        memcpy(g_kek, kek, 32);
        g_kek_id = id;
        g_kek_set = true;
    } else {
        ig_wipe(g_kek, sizeof g_kek);
        g_kek_set = false;
    }
    pthread_mutex_unlock(&g_kek_mu);
    ig_orgctx_bump(); /* every cache reloads: its data keys unwrap under the new KEK from now on */
}

static void current_kek(ig_orgcache_t *c);

struct ig_orgcache {
    char *logs_dir;
    uint8_t kek[32];
    uint32_t kek_id;
    bool redact_all;
    size_t cap, n;
    ig_orgctx_t **ents;
};

ig_orgcache_t *ig_orgcache_new(const ig_orgctx_conf_t *conf, size_t cap)
{
    ig_orgcache_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->logs_dir = strdup(conf->logs_dir);
    c->ents = calloc(cap ? cap : 1, sizeof *c->ents);
    if (!c->logs_dir || !c->ents) {
        free(c->logs_dir);
        free(c->ents);
        free(c);
        return NULL;
    }
    memcpy(c->kek, conf->kek, 32);
    c->kek_id = conf->kek_id;
    c->redact_all = conf->redact_all_orgs;
    c->cap = cap ? cap : 1;
    return c;
}

static void current_kek(ig_orgcache_t *c)
{
    pthread_mutex_lock(&g_kek_mu);
    if (g_kek_set) {
        memcpy(c->kek, g_kek, 32);
        c->kek_id = g_kek_id;
    }
    pthread_mutex_unlock(&g_kek_mu);
}

static void ent_free(ig_orgctx_t *o)
{
    if (!o) return;
    ig_logstore_close(o->ls);
    ig_redactor_free(o->redactor);
    ig_orgset_clear(&o->set);
    ig_wipe(o->dk, sizeof o->dk);
    ig_wipe(o->tk, sizeof o->tk);
    free(o);
}

static void drop_at(ig_orgcache_t *c, size_t i)
{
    ent_free(c->ents[i]);
    c->ents[i] = c->ents[--c->n];
    c->ents[c->n] = NULL;
}

void ig_orgcache_free(ig_orgcache_t *c)
{
    if (!c) return;
    while (c->n)
        drop_at(c, c->n - 1);
    ig_wipe(c->kek, sizeof c->kek);
    free(c->ents);
    free(c->logs_dir);
    free(c);
}

void ig_orgcache_forget(ig_orgcache_t *c, const char *org_id)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->ents[i]->org_id, org_id) == 0) {
            drop_at(c, i);
            return;
        }
}

/* The org's data key: unwrapped from the store, or created (first initialiser wins). */
static int data_key(ig_orgcache_t *c, ig_store_t *st, const char *org_id, uint8_t dk[32])
{
    uint8_t *w = NULL;
    size_t wlen = 0;
    int rc = ig_store_org_data_key_get(st, org_id, &w, &wlen);
    if (rc) return rc;
    if (!w) {
        uint8_t fresh[32];
        ig_buf_t blob;
        ig_buf_init(&blob, 4096);
        rc = ig_orgkey_generate(fresh);
        if (rc == IG_OK) rc = ig_orgkey_wrap(c->kek, c->kek_id, org_id, fresh, &blob);
        ig_wipe(fresh, sizeof fresh);
        if (rc == IG_OK)
            rc = ig_store_org_data_key_init(st, org_id, (const uint8_t *)blob.data, blob.len, &w, &wlen);
        ig_buf_free(&blob, false);
        if (rc) return rc;
    }
    rc = ig_orgkey_unwrap(c->kek, org_id, ig_iov((const char *)w, wlen), dk);
    if (rc) IG_ERROR("orgctx", "the data key of org %s does not unwrap under the master key", org_id);
    free(w);
    return rc;
}

static int load(ig_orgcache_t *c, ig_store_t *st, const char *org_id, ig_orgctx_t *o)
{
    ig_org_t *org = malloc(sizeof *org);
    if (!org) return IG_ENOMEM;
    int rc = ig_store_org_get(st, org_id, org);
    if (rc == IG_OK) {
        memcpy(o->org_id, org->id, sizeof o->org_id);
        memcpy(o->slug, org->slug, sizeof o->slug);
        o->plan = org->plan;
        ig_orgset_parse_text(org->settings, &o->set);
    }
    free(org);
    if (rc) return rc;
    o->redact = ig_orgset_redacts(&o->set, o->plan, c->redact_all);
    o->retention_days = ig_orgset_retention_days(&o->set, o->plan);
    if (o->redact) {
        char err[256];
        /* custom patterns compiled when saved; if one no longer compiles, fail closed: no custom ones is
         * less redaction, so refuse to write instead (the caller spools and retries) */
        rc = ig_redactor_new(o->set.detectors, (const char *const *)o->set.custom, o->set.ncustom,
                             &o->redactor, err, sizeof err);
        if (rc) {
            IG_ERROR("orgctx", "org %s: redaction patterns do not compile (%s)", org_id, err);
            return rc;
        }
    }
    if ((rc = data_key(c, st, org_id, o->dk))) return rc;
    return ig_field_tag_key(o->dk, o->tk);
}

int ig_orgcache_get(ig_orgcache_t *c, ig_store_t *st, const char *org_id, ig_orgctx_t **out)
{
    uint64_t gen = atomic_load(&g_gen);
    int64_t now = ig_wall_ms();
    ig_orgctx_t *old = NULL;
    size_t at = 0;
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->ents[i]->org_id, org_id) == 0) {
            old = c->ents[i];
            at = i;
            break;
        }
    if (old && old->gen == gen && now - old->loaded_ms < IG_ORGCTX_TTL_MS) {
        old->used_ms = now;
        *out = old;
        return IG_OK;
    }
    ig_orgctx_t *o = calloc(1, sizeof *o);
    if (!o) return IG_ENOMEM;
    ig_orgset_clear(&o->set);
    current_kek(c);
    int rc = load(c, st, org_id, o);
    if (rc) {
        ent_free(o);
        if (old && rc != IG_ENOTFOUND && rc != IG_ENOMEM) {
            /* the store is unreachable: the keys cannot have changed meanwhile, keep using what we have and
             * try again in a second */
            old->loaded_ms = now - IG_ORGCTX_TTL_MS + 1000;
            old->used_ms = now;
            *out = old;
            return IG_OK;
        }
        if (old) drop_at(c, at); /* the org is gone: its database handle is closed too */
        return rc;
    }
    o->gen = gen;
    o->loaded_ms = o->used_ms = now;
    if (old) { /* replaced in place, keeping its open database */
        o->down_until = old->down_until;
        o->ls = old->ls;
        old->ls = NULL;
        ent_free(old);
        c->ents[at] = o;
    } else {
        if (c->n == c->cap) { /* evict the least recently used */
            size_t lru = 0;
            for (size_t i = 1; i < c->n; i++)
                if (c->ents[i]->used_ms < c->ents[lru]->used_ms) lru = i;
            drop_at(c, lru);
        }
        c->ents[c->n++] = o;
    }
    *out = o;
    return IG_OK;
}

int ig_orgcache_logstore(ig_orgcache_t *c, ig_orgctx_t *o, ig_logstore_t **out)
{
    if (!o->ls) {
        int err = 0;
        o->ls = ig_logstore_open(c->logs_dir, o->org_id, &err);
        if (!o->ls) return err ? err : IG_ESTORE;
    }
    *out = o->ls;
    return IG_OK;
}

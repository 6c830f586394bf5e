/*
 * orgctx.h — what a thread that reads or writes an org's logs needs about the org, cached per thread: its
 * unwrapped data key and blind-index key, plan, logging settings and compiled redactor, and an open handle on
 * its log database (store/logstore.h).
 *
 * One cache per thread (the log writer, each worker): no locks. Entries are reloaded when the process-wide
 * generation moves (ig_orgctx_bump, called whenever an org's settings, plan or existence change in this
 * process) and at the latest after IG_ORGCTX_TTL_MS (changes made by another gateway process). At most `cap`
 * orgs are cached; the least recently used entry (and its database handle) goes first. Keys are wiped when an
 * entry goes.
 *
 * The data key is created on first use: generated, wrapped under the KEK and stored with
 * ig_store_org_data_key_init (the first writer wins, so concurrent threads and processes agree).
 */
#ifndef IG_CAPTURE_ORGCTX_H
#define IG_CAPTURE_ORGCTX_H

#include "capture/orgset.h"
#include "crypto/orgkey.h"
#include "store/logstore.h"
#include "store/store.h"

#define IG_ORGCTX_TTL_MS 5000

typedef struct ig_orgctx {
    char org_id[33];
    char slug[65];
    int plan;
    ig_orgset_t set;
    bool redact;               /* redaction applies (plan, settings, operator) */
    ig_redactor_t *redactor;   /* when redact */
    int retention_days;        /* effective (0 = unlimited) */
    uint8_t dk[IG_ORGKEY_LEN]; /* data key */
    uint8_t tk[32];            /* blind-index key */
    ig_logstore_t *ls;         /* opened on first use */
    int64_t down_until; /* the log writer spools this org's records without trying the store until then */
    uint64_t gen;
    int64_t loaded_ms, used_ms;
} ig_orgctx_t;

typedef struct {
    const char *logs_dir; /* <data_dir>/orgs */
    const uint8_t *kek;   /* 32 bytes: wraps org data keys (derive_key(master, "org-data-keys")) */
    uint32_t kek_id;      /* the master key generation, written into new wraps */
    bool redact_all_orgs; /* operator: redaction for every org */
} ig_orgctx_conf_t;

typedef struct ig_orgcache ig_orgcache_t; /* struct ig_orgcache */

/* conf is copied (its strings too; the KEK bytes are copied and wiped on free). */
ig_orgcache_t *ig_orgcache_new(const ig_orgctx_conf_t *conf, size_t cap);
void ig_orgcache_free(ig_orgcache_t *c);
/* The org's context, loading it from st when missing or stale. IG_ENOTFOUND when the org does not exist (any
 * cached entry is dropped and its database handle closed). The pointer is valid until the next call. */
int ig_orgcache_get(ig_orgcache_t *c, ig_store_t *st, const char *org_id, ig_orgctx_t **out);
/* The org's log database (opened on first use). */
int ig_orgcache_logstore(ig_orgcache_t *c, ig_orgctx_t *o, ig_logstore_t **out);
/* Drops the org's entry (closing its database handle), e.g. before deleting its files. */
void ig_orgcache_forget(ig_orgcache_t *c, const char *org_id);
/* Every cache reloads its entries on next use (an org changed in this process). Thread-safe. */
void ig_orgctx_bump(void);
/* Sets the process-wide KEK (and its id) every cache uses from its next load on, overriding the one in its
 * conf; NULL unsets it. Called at startup and when the master key is rotated (then every cache reloads). */
void ig_orgctx_set_kek(const uint8_t kek[32], uint32_t id);

#endif

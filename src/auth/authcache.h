/*
 * authcache.h — the hot path's view of keys and orgs: hash → key record, org id → org snapshot.
 *
 * Loop threads only read it (a shared rwlock, no store access). A miss is filled by ig_authcache_load() on a
 * worker thread. Entries are invalidated when a key is revoked or an org's settings change (through the
 * management API or the control socket of the operator CLI), so a revoked key is refused on the very next
 * request. Unknown keys are remembered for a short time (bounded) so a flood of well-formed but unknown keys
 * does not turn into a flood of store queries.
 *
 * Org snapshots are immutable and reference-counted: a request keeps its snapshot until it ends even if the
 * org changes meanwhile. Provider secrets in a snapshot are the encrypted envelopes from the store.
 */
#ifndef IG_AUTH_AUTHCACHE_H
#define IG_AUTH_AUTHCACHE_H

#include "core/common.h"
#include "limit/budget.h"
#include "guard/guard.h"
#include "store/store.h"

#include <stdatomic.h>

typedef struct ig_provcred {
    char provider[33];
    int auth_mode;   /* IG_STORE_AUTH_* */
    uint8_t *secret; /* sealed envelope, NULL when none */
    size_t secret_len;
} ig_provcred_t;

/* One budget of an org as the proxy path applies it (limit/budget.h), with the spend the store had recorded
 * for the period current when the snapshot was loaded: the node's ledger starts from it the first time it
 * sees the budget in that period (later spend of this node is the ledger's own). */
typedef struct ig_orgbudget {
    ig_budget_rule_t rule; /* id, period, limits in micro-USD */
    int scope;             /* IG_STORE_BUDGET_* */
    char scope_id[33];     /* app or key id, "" for the org */
    int64_t period_start;  /* of the persisted state below */
    int64_t spent_micros;
    unsigned alerted; /* IG_BUDGET_CROSSED_* bits already claimed in that period (sent or pending) */
} ig_orgbudget_t;

typedef struct ig_orgsnap {
    atomic_int ref;
    char id[33];
    char slug[65];
    char default_provider[33];
    int plan;                     /* IG_STORE_PLAN_* */
    int64_t rpm_limit, tpm_limit; /* the org's default rate limits per key (settings.rate_limits), 0 = none */
    size_t nbudgets; /* budgets: loaded for Enterprise orgs only (a free org has none that apply) */
    ig_orgbudget_t *budgets;
    ig_guardset_t guard; /* the guardrails that apply (settings.guardrails and the plan) */
    /* the org's PII detectors and custom patterns (settings.redaction), compiled on the worker that loaded
     * the snapshot when guard.pii is not off; NULL then means they did not compile (the proxy fails closed)
     */
    ig_redactor_t *guard_redactor;
    size_t ncreds;
    ig_provcred_t creds[]; /* flexible */
} ig_orgsnap_t;

/* What a request knows about its caller. Release with ig_auth_release(). */
typedef struct ig_auth {
    char key_id[33];
    char created_by[33]; /* user id of the key's creator, "" when none */
    char hash_prefix[13];
    int role;
    int64_t rpm_limit, tpm_limit; /* the key's own rate limits, 0 = the org's default */
    char lineage_id[33]; /* the first key of its rotation chain (the key's own id when not rotated) */
    char app_id[33];     /* the key's app, "" when none (its budget applies too) */
    ig_orgsnap_t *org;
} ig_auth_t;

/* names of the providers whose credentials are loaded into org snapshots */
int ig_authcache_init(const char *const *provider_names, size_t n);
void ig_authcache_shutdown(void);

/* IG_OK (out filled, org referenced), IG_EAGAIN (not cached: call ig_authcache_load on a worker), or
 * IG_EBADKEY (unknown, revoked or expired). Loop-thread safe, never touches the store. */
int ig_authcache_get(const uint8_t hash[32], int64_t now_ms, ig_auth_t *out);
/* Worker thread: loads the key (and its org if not cached) from the store into the cache. IG_OK when the
 * cache now has an answer (positive or negative), IG_ESTORE when the store failed. */
int ig_authcache_load(ig_store_t *st, const uint8_t hash[32]);
void ig_authcache_invalidate_key(const uint8_t hash[32]);
void ig_authcache_invalidate_org(const char *org_id);
void ig_authcache_invalidate_all(void);
/* fn runs on every org invalidation (any thread): other caches of org state follow (the log writer's).
 * Set once at startup. */
void ig_authcache_on_org_change(void (*fn)(void));
void ig_auth_release(ig_auth_t *a);
const ig_provcred_t *ig_orgsnap_cred(const ig_orgsnap_t *org, ig_iov_t provider);

#endif

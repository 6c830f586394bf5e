/*
 * auditlog.h — where an audit entry goes, how the API reads an org's entries, how the operator checks every
 * chain, and the start-up upgrade of the chain of schemas 2-3.
 *
 * Two kinds of chains (docs/security.md):
 *   - each org's own chain, in its log database (store/orgaudit.h): every entry with an org, its address
 *     sealed under the org's data key. Deleting the org destroys it with the rest of the org's data.
 *   - the control chain (store.h ig_store_audit_append): entries without an org (a login failure for an
 *     unknown email, future operator actions on no org) and the record of an org's deletion ("org.delete":
 *     the org's database is gone, the fact that it was deleted, when and by whom must outlive it), its
 *     address sealed under the identity key.
 * Both hash the address as stored, so `ingate admin verify-audit` checks them without the master key.
 *
 * The org cache (capture/orgctx.h) of the calling thread supplies each org's data key and database handle.
 * Same threading and blocking rules as the store: worker threads and the operator CLI only.
 */
#ifndef IG_CAPTURE_AUDITLOG_H
#define IG_CAPTURE_AUDITLOG_H

#include "capture/orgctx.h"
#include "store/store.h"

/* Appends an entry (fields as ig_store_audit_new) to the org's chain when org_id is set and action is not
 * "org.delete", else to the control chain. oc may be NULL only for control entries (IG_EUNAVAILABLE
 * otherwise). IG_ENOTFOUND when the org does not exist. out (may be NULL) gets the stored entry. */
int ig_auditlog_append(ig_store_t *st, ig_orgcache_t *oc, const char *org_id, const char *actor,
                       const char *action, const char *target, const char *source_ip, const char *request_id,
                       ig_audit_t *out);
/* One page of the org's own chain, newest first, as ig_orgaudit_query (addresses in clear). */
int ig_auditlog_query(ig_store_t *st, ig_orgcache_t *oc, const char *org_id, const ig_audit_filter_t *f,
                      int64_t before_seq, ig_audit_t *out, size_t cap, size_t *n);
/* One entry of the org's own chain. IG_ENOTFOUND otherwise (another org's entry too). */
int ig_auditlog_get(ig_store_t *st, ig_orgcache_t *oc, const char *org_id, const char *id, ig_audit_t *out);

/* The result of ig_auditlog_verify. */
typedef struct {
    int64_t orgs;      /* org chains checked (orgs without a database file have none) */
    int64_t entries;   /* entries checked in the org chains */
    const char *chain; /* the broken chain: "control", "legacy" (schemas 2-3, not upgraded yet) or "org" */
    char org_id[33];   /* chain "org": the org whose chain is broken */
    int64_t bad_seq;   /* the first entry that does not verify */
} ig_auditlog_check_t;
/* Verifies the control chain, the legacy chain (while it has entries) and the chain of every org in the
 * control database (org id order; logs_dir = <data_dir>/orgs; an org without a database file has an empty
 * chain), stopping at the first broken one. Needs no key. IG_OK when all are intact; IG_ECONFLICT with
 * out->chain, out->org_id and out->bad_seq naming the first broken link; other errors as the stores'. */
int ig_auditlog_verify(ig_store_t *st, const char *logs_dir, ig_auditlog_check_t *out);

/* Verifies one org's own chain through the caller's cache (the dashboard's check): IG_OK when intact,
 * IG_ECONFLICT with *bad_seq = the first entry that does not verify; *entries = entries checked. */
int ig_auditlog_verify_org(ig_store_t *st, ig_orgcache_t *oc, const char *org_id, int64_t *entries,
                           int64_t *bad_seq);

/* The start-up upgrade from schemas 2-3 (idempotent; a no-op once done): verifies the legacy chain, copies
 * each of its entries of an existing org into that org's chain (same id, created_at and fields, its address
 * sealed), then ig_store_audit_legacy_finish moves the rest into the control chain and empties it. A broken
 * legacy chain is left as it is (IG_ECONFLICT, *bad_seq set; verify-audit keeps reporting it); any other
 * failure leaves it too, to be retried at the next start. *moved (may be NULL) = entries upgraded. */
int ig_auditlog_upgrade(ig_store_t *st, ig_orgcache_t *oc, size_t *moved, int64_t *bad_seq);

#endif

/*
 * auditlog.c — routing of audit entries between the control chain and each org's own chain, the check of
 * all chains, and the start-up upgrade of the single chain of schemas 2-3 (see auditlog.h).
 *
 * The upgrade runs in two steps because the org databases and the control database are separate files: no
 * transaction spans both. First every legacy entry of an existing org is copied into that org's chain with
 * its id (a copy whose id is there already is skipped, so an interrupted upgrade simply runs again); then
 * one control transaction appends the remaining entries to the control chain and empties the legacy table.
 * The legacy chain is verified first and the control step refuses to run if its head moved since, so no
 * entry is dropped unverified. An org deleted between the two steps loses nothing: its entries go to the
 * control chain in the second step (the copies went with its database).
 */
#include "capture/auditlog.h"
#include "core/err.h"
#include "core/log.h"
#include "store/orgaudit.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* Legacy entries per page during the upgrade, org ids per page during verification. */
#define UPGRADE_PAGE 256
#define VERIFY_PAGE  256

/* Whether an entry belongs in its org's chain (else the control chain). */
static bool in_org_chain(const char *org_id, const char *action)
{
    return org_id && *org_id && strcmp(action, "org.delete") != 0;
}

/* The org's context (data key) and database through the caller's cache. */
static int org_db(ig_store_t *st, ig_orgcache_t *oc, const char *org_id, ig_orgctx_t **o, ig_logstore_t **ls)
{
    if (!oc) return IG_EUNAVAILABLE;
    int rc = ig_orgcache_get(oc, st, org_id, o);
    if (rc == IG_OK) rc = ig_orgcache_logstore(oc, *o, ls);
    return rc;
}

int ig_auditlog_append(ig_store_t *st, ig_orgcache_t *oc, const char *org_id, const char *actor,
                       const char *action, const char *target, const char *source_ip, const char *request_id,
                       ig_audit_t *out)
{
    ig_orgctx_t *o = NULL;
    ig_logstore_t *ls = NULL;
    ig_audit_t e;
    int rc = IG_EINVAL;

    if (!st || !action) goto out;
    if (!in_org_chain(org_id, action)) {
        rc = ig_store_audit_append(st, org_id, actor, action, target, source_ip, request_id, out);
        goto out;
    }
    if ((rc = ig_store_audit_new(org_id, actor, action, target, source_ip, request_id, &e)) ||
        (rc = org_db(st, oc, org_id, &o, &ls)) || (rc = ig_orgaudit_append(ls, o->dk, &e)))
        goto out;
    if (out) *out = e;
out:
    return rc;
}

int ig_auditlog_query(ig_store_t *st, ig_orgcache_t *oc, const char *org_id, const ig_audit_filter_t *f,
                      int64_t before_seq, ig_audit_t *out, size_t cap, size_t *n)
{
    ig_orgctx_t *o = NULL;
    ig_logstore_t *ls = NULL;
    if (!n) return IG_EINVAL;
    *n = 0;
    if (!st || !org_id) return IG_EINVAL;
    int rc = org_db(st, oc, org_id, &o, &ls);
    return rc ? rc : ig_orgaudit_query(ls, o->dk, org_id, f, before_seq, out, cap, n);
}

int ig_auditlog_get(ig_store_t *st, ig_orgcache_t *oc, const char *org_id, const char *id, ig_audit_t *out)
{
    ig_orgctx_t *o = NULL;
    ig_logstore_t *ls = NULL;
    if (!st || !org_id || !id || !out) return IG_EINVAL;
    int rc = org_db(st, oc, org_id, &o, &ls);
    return rc ? rc : ig_orgaudit_get(ls, o->dk, org_id, id, out);
}

int ig_auditlog_verify_org(ig_store_t *st, ig_orgcache_t *oc, const char *org_id, int64_t *entries,
                           int64_t *bad_seq)
{
    ig_orgctx_t *o = NULL;
    ig_logstore_t *ls = NULL;
    *entries = 0;
    *bad_seq = 0;
    if (!st || !org_id) return IG_EINVAL;
    int rc = org_db(st, oc, org_id, &o, &ls);
    return rc ? rc : ig_orgaudit_verify(ls, org_id, bad_seq, entries);
}

/* Verifies one org's chain, if it has a database file. */
static int verify_org(const char *logs_dir, const char *org_id, ig_auditlog_check_t *out)
{
    char path[PATH_MAX];
    struct stat sb;
    int64_t bad = 0, n = 0;
    int rc = IG_EINVAL, len = snprintf(path, sizeof path, "%s/%s.db", logs_dir, org_id);
    if (len <= 0 || (size_t)len >= sizeof path) return rc;
    if (stat(path, &sb) != 0) {
        if (errno != ENOENT) return IG_ESTORE;
        out->orgs++; /* no database yet: an empty chain (opening would create the file) */
        return IG_OK;
    }
    ig_logstore_t *ls = ig_logstore_open(logs_dir, org_id, &rc);
    if (!ls) return rc ? rc : IG_ESTORE;
    rc = ig_orgaudit_verify(ls, org_id, &bad, &n);
    ig_logstore_close(ls);
    out->orgs++;
    out->entries += n;
    if (rc == IG_ECONFLICT) {
        out->chain = "org";
        memcpy(out->org_id, org_id, sizeof out->org_id);
        out->bad_seq = bad;
    }
    return rc;
}

int ig_auditlog_verify(ig_store_t *st, const char *logs_dir, ig_auditlog_check_t *out)
{
    char(*ids)[33] = NULL;
    char after[33] = "";
    uint8_t head[32];
    int64_t bad = 0, last = 0;
    size_t n = 0;
    int rc = IG_EINVAL;

    if (!out) goto out;
    memset(out, 0, sizeof *out);
    if (!st || !logs_dir) goto out;
    if ((rc = ig_store_audit_verify(st, &bad)) == IG_ECONFLICT) out->chain = "control";
    if (rc == IG_OK && (rc = ig_store_audit_legacy_verify(st, &bad, &last, head)) == IG_ECONFLICT)
        out->chain = "legacy";
    if (rc == IG_ECONFLICT) out->bad_seq = bad;
    if (rc) goto out;
    rc = IG_ENOMEM;
    if (!(ids = calloc(VERIFY_PAGE, sizeof *ids))) goto out;
    do {
        if ((rc = ig_store_org_ids(st, after, ids, VERIFY_PAGE, &n))) goto out;
        for (size_t i = 0; i < n; i++)
            if ((rc = verify_org(logs_dir, ids[i], out))) goto out;
        if (n) memcpy(after, ids[n - 1], sizeof after);
    } while (n == VERIFY_PAGE);
out:
    free(ids);
    return rc;
}

int ig_auditlog_upgrade(ig_store_t *st, ig_orgcache_t *oc, size_t *moved, int64_t *bad_seq)
{
    ig_audit_t *page = NULL;
    uint8_t head[32];
    int64_t bad = 0, last = 0, after = 0;
    size_t n = 0, copied = 0, kept = 0;
    int rc = IG_EINVAL;
    bool broken = false;

    if (moved) *moved = 0;
    if (bad_seq) *bad_seq = 0;
    if (!st || !oc) goto out;
    rc = ig_store_audit_legacy_verify(st, &bad, &last, head);
    if (rc == IG_ECONFLICT) {
        IG_ERROR("audit",
                 "the audit chain of the previous schema is broken at entry %lld: it is not upgraded (run "
                 "`ingate admin verify-audit`)",
                 (long long)bad);
        if (bad_seq) *bad_seq = bad;
        broken = true;
    }
    if (rc || last == 0) goto out; /* an error, or nothing to upgrade */
    rc = IG_ENOMEM;
    if (!(page = calloc(UPGRADE_PAGE, sizeof *page))) goto out;
    do {
        if ((rc = ig_store_audit_legacy_list(st, after, page, UPGRADE_PAGE, &n))) goto out;
        for (size_t i = 0; i < n; i++) {
            ig_audit_t *e = &page[i];
            ig_orgctx_t *o = NULL;
            ig_logstore_t *ls = NULL;
            after = e->seq;
            if (!in_org_chain(e->org_id, e->action)) continue;
            rc = org_db(st, oc, e->org_id, &o, &ls);
            if (rc == IG_ENOTFOUND) continue; /* a deleted org: its entries stay in the control chain */
            if (rc == IG_OK) rc = ig_orgaudit_append(ls, o->dk, e);
            if (rc == IG_ECONFLICT) { /* copied by an earlier, interrupted run */
                rc = IG_OK;
                continue;
            }
            if (rc) goto out;
            copied++;
        }
    } while (n == UPGRADE_PAGE);
    if ((rc = ig_store_audit_legacy_finish(st, last, head, &kept))) goto out;
    IG_INFO("audit",
            "audit log upgraded: %zu entries moved into their orgs' databases, %zu into the control chain",
            copied, kept);
    if (moved) *moved = copied + kept;
out:
    if (rc && !broken)
        IG_ERROR("audit", "the audit log was not upgraded (%s): retried at the next start", ig_err_name(rc));
    free(page);
    return rc;
}

/*
 * orgaudit.h — an org's own audit chain, in the org's log database (store/logstore.h, table `audit` of
 * schema v2), so the org's audit entries live and die with the rest of its data.
 *
 * One hash chain per org, as the control chain (store.h): entries are numbered seq = 1, 2, … in append
 * order, prev_hash is the previous entry's hash (32 zero bytes for the first), and hash =
 * ig_store_audit_hash_stored(IG_AUDIT_CHAIN_ORG, …) with org_id = the org of the file, so rows copied into
 * another org's file do not verify. Reading the tail and inserting happen in one BEGIN IMMEDIATE transaction,
 * so appenders in several threads or processes cannot fork the chain.
 *
 * What is sealed: source_ip, the only identity field of an entry, is an AES-256-GCM envelope under the org's
 * data key with AAD "ingate/audit/v1:<org id>:<entry id>:source_ip" (bound to org, entry and column), so the
 * file never holds an address in clear and an envelope moved to another row or org does not open. The hash
 * covers the envelope, not the address: a chain verifies without any key (ig_orgaudit_verify, `ingate admin
 * verify-audit`), and the hash cannot be used to test guesses of the address (2^32 for IPv4). actor, action,
 * target and request_id are ids and action names (never an email: callers pass ids), in clear for filters.
 *
 * Entries are ig_audit_t (store.h): on output org_id is the org and source_ip the address in clear.
 * Threads and blocking as the log store: one handle per thread, never from an event loop. Errors as
 * logstore.h (IG_EINVAL, IG_ENOTFOUND, IG_ECONFLICT, IG_ESTORE, IG_ENOMEM, IG_EINTERNAL), plus IG_ECRYPTO
 * when sealing fails. Log lines carry SQLite's messages and entry ids, never an address.
 */
#ifndef IG_STORE_ORGAUDIT_H
#define IG_STORE_ORGAUDIT_H

#include "store/logstore.h"
#include "store/store.h"

#include <stdint.h>

/* Appends e to the org's chain. e: the fields of ig_store_audit_new (id, created_at > 0, actor, action, the
 * optional ones), e->org_id = the org of ls (32 lowercase hex, else IG_EINVAL); dk its data key. Sets
 * e->seq, e->prev_hash and e->hash. IG_ECONFLICT when an entry with e->id is stored already (nothing is
 * written: a copy made twice is harmless). */
int ig_orgaudit_append(ig_logstore_t *ls, const uint8_t dk[32], ig_audit_t *e);
/* One page of the org's entries, newest first: seq < before_seq (INT64_MAX = from the newest), filtered as
 * ig_store_audit_query (f may be NULL; negative times IG_EINVAL), at most cap (1..1000) into out; *n = how
 * many. The last entry's seq is the next cursor. An envelope that does not open under dk is IG_EINTERNAL. */
int ig_orgaudit_query(ig_logstore_t *ls, const uint8_t dk[32], const char *org_id, const ig_audit_filter_t *f,
                      int64_t before_seq, ig_audit_t *out, size_t cap, size_t *n);
/* The entry with this id. IG_ENOTFOUND when the org has none (an id of another org's entry is not in this
 * file). */
int ig_orgaudit_get(ig_logstore_t *ls, const uint8_t dk[32], const char *org_id, const char *id,
                    ig_audit_t *out);
/* Recomputes the org's chain over the stored bytes (no key needed), in seq order, in one read snapshot.
 * IG_OK when intact, else IG_ECONFLICT with *bad_seq = the first entry whose prev_hash or hash does not
 * match (an edited entry, or the one after a deleted one; deleting the newest entries is not detectable by
 * the chain alone). *bad_seq is 0 on IG_OK; *count (may be NULL) = entries checked. */
int ig_orgaudit_verify(ig_logstore_t *ls, const char *org_id, int64_t *bad_seq, int64_t *count);

#endif

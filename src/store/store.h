/*
 * store.h — the gateway's persistent state (orgs, API keys, provider credentials, call log, users and their
 * org memberships, the control database's hash-chained audit log; v3: sessions, invitations, teams and apps,
 * outbound webhooks with their queued deliveries and every attempt; v5: the log batches of logs.expiring
 * deliveries; v6: per-key rate-limit overrides; v7: spend budgets and their spend per period; v8: key
 * lineage; v9: budget alerts claimed once per period, pending until queued) behind one backend-independent
 * interface. (An org's own audit entries live in its log database: store/orgaudit.h.)
 *
 * A store is a vtable (ig_store_ops_t) plus thin ig_store_* wrappers. The wrappers validate arguments,
 * generate ids (16 bytes from RAND_bytes as 32 lowercase hex chars) and timestamps (unix milliseconds), so
 * every backend sees the same well-formed input and only translates it to its own SQL. SQLite is the only
 * backend today; PostgreSQL is meant to plug in as another ops table with the same schema versions.
 *
 * Threads: a handle is used by ONE thread at a time. Each worker thread opens its own handle on the same
 * database; the server never calls the store from an event-loop thread (calls can block up to the busy
 * timeout). Handles are cheap to keep open, expensive to open per call.
 *
 * Errors (all functions return IG_OK or one of these):
 *   IG_EINVAL     an argument breaks the contract stated on the function (NULL, too long, bad charset)
 *   IG_ENOTFOUND  no such row, or a referenced row (the org of a key or credential) does not exist
 *   IG_ECONFLICT  a uniqueness constraint: slug taken, key hash already stored, ambiguous prefix
 *   IG_ESTORE     the database is busy past the timeout, locked, full, unreadable or cannot be opened
 *   IG_ENOMEM     allocation failure;  IG_ECRYPTO  the random generator failed (ids)
 *   IG_EINTERNAL  a bug or a database that breaks our invariants (SQL error, oversized stored value)
 * Output structs are written only on success. Secrets (provider envelopes) never reach log lines.
 */
#ifndef IG_STORE_STORE_H
#define IG_STORE_STORE_H

#include "core/buf.h"
#include "core/common.h"

#include <stdint.h>

/* Schema version this binary creates: every backend has exactly this many migrations. */
#define IG_STORE_SCHEMA_VERSION 9

/* Largest provider secret envelope accepted: a sealed provider key is well under 1 KiB. */
#define IG_STORE_MAX_SECRET (64u * 1024)

/* api_keys.role values (the auth module maps them to permissions). */
enum { IG_STORE_ROLE_VIEWER = 0, IG_STORE_ROLE_MEMBER = 1, IG_STORE_ROLE_ADMIN = 2, IG_STORE_ROLE_OWNER = 3 };

/* orgs.plan values: the plan gates the Enterprise features (PII redaction, long retention, budgets,
 * webhooks). */
enum { IG_STORE_PLAN_FREE = 0, IG_STORE_PLAN_ENTERPRISE = 1 };

/* Largest orgs.settings document (a JSON object validated by the API; the store keeps it as text). */
#define IG_STORE_MAX_SETTINGS 4096

/* provider_credentials.auth_mode values. */
enum { IG_STORE_AUTH_STORED = 0, IG_STORE_AUTH_PASSTHROUGH = 1 };

typedef struct ig_store ig_store_t;

/* All char arrays are NUL-terminated. Optional text is "" when absent. */
typedef struct {
    char id[33];
    char slug[65];
    char name[129];
    char default_provider[33];
    int plan;                                 /* IG_STORE_PLAN_* (v3) */
    char settings[IG_STORE_MAX_SETTINGS + 1]; /* JSON object text, "{}" by default (v3) */
    int64_t created_at;
} ig_org_t;

typedef struct {
    char id[33];
    char org_id[33];
    uint8_t key_hash[32];
    char hash_prefix[13];
    char name[129];
    int role;
    int64_t created_at, expires_at /*0 = never*/, revoked_at /*0 = not revoked*/;
    char app_id[33];      /* "" = none (v3) */
    char created_by[33];  /* user id of the creator, "" = none (operator CLI, v3) */
    int64_t last_used_at; /* 0 = never; maintained by ig_store_calls_insert (v3) */
    /* Per-key rate limits overriding the org's defaults (limit/limiter.h): requests and tokens per minute,
     * 0 = the org's default (v6) */
    int64_t rpm_limit, tpm_limit;
    /* the first key of its rotation chain, "" = this key (v8): rate limits and key budgets count per lineage
     */
    char lineage_id[33];
} ig_keyrec_t;

typedef struct {
    char id[37];
    char org_id[33];
    char key_prefix[13];
    char key_id[33]; /* "" = unknown; when set, the key's last_used_at is raised to created_at (v3) */
    char provider[33];
    char method[16];
    const char *path;
    const char *model /*may be NULL*/;
    int status;
    bool stream;
    double latency_ms, ttfb_ms;
    int64_t req_bytes, resp_bytes;
    bool req_truncated, resp_truncated;
    const char *error /*NULL*/;
    int64_t created_at;
} ig_callrec_t;

/* A user (an identity that signs in to the console). email is stored lower-cased; password_hash is a bcrypt
 * string ("$2b$12$…", 60 bytes): the store never sees a password. display_name is "" when absent. */
typedef struct {
    char id[33];
    char email[255];
    char password_hash[61];
    char display_name[129];
    int64_t created_at, password_changed_at;
} ig_user_t;

/* A user's role in an org (the IG_STORE_ROLE_* values). */
typedef struct {
    char user_id[33];
    char org_id[33];
    int role;
    int64_t created_at;
} ig_membership_t;

/* One audit log entry, of the control chain or of an org's chain (store/orgaudit.h). Optional text (org_id,
 * target, source_ip, request_id) is "" when absent. source_ip is always the address in clear: each chain
 * stores it sealed and hashes it as stored (ig_store_audit_hash_stored). hash = SHA-256(prev_hash ||
 * canonical serialization of the other fields). */
typedef struct {
    int64_t seq;
    char id[33];
    char org_id[33];
    char actor[65];
    char action[65];
    char target[129];
    char source_ip[46];
    char request_id[37];
    int64_t created_at;
    uint8_t prev_hash[32], hash[32];
} ig_audit_t;

/* Opens a handle. url: "sqlite:PATH", "sqlite://PATH" (so "sqlite:///abs/path.db") or a plain PATH
 * (":memory:" for a private in-memory database). A new database file is created with mode 0600; an
 * existing one we own that is readable by group or others is tightened to 0600 (with a warning). Other
 * schemes ("postgres://…") give IG_EINVAL until their backend exists and are never logged (they may hold a
 * password); a SQLite path may appear in error lines. On failure returns NULL and sets *err (err may be
 * NULL). Call ig_store_migrate before use. */
ig_store_t *ig_store_open(const char *url, int *err);
/* Closes the handle and frees everything it holds. NULL is a no-op. */
void ig_store_close(ig_store_t *st);

/* Brings the schema to IG_STORE_SCHEMA_VERSION, one migration per transaction. Idempotent, and safe when
 * several processes (or handles) call it at once: each step takes the write lock and re-checks the version.
 * IG_ESTORE when the database is newer than this binary (it refuses to touch it). */
int ig_store_migrate(ig_store_t *st);
/* The highest applied migration into *version (0 for a new database). */
int ig_store_schema_version(ig_store_t *st, int *version);
/* Cheap query that reads the database (for /readyz). IG_ESTORE when it fails or the schema is missing. */
int ig_store_ping(ig_store_t *st);

/* Creates an org with a fresh id. slug must match [a-z0-9-]{2,64}; name 1..128 bytes without control
 * characters (IG_EINVAL). IG_ECONFLICT if the slug is taken. out may be NULL. */
int ig_store_org_create(ig_store_t *st, const char *slug, const char *name, ig_org_t *out);
/* IG_ENOTFOUND when no org has this id / slug. */
int ig_store_org_get(ig_store_t *st, const char *id, ig_org_t *out);
int ig_store_org_get_by_slug(ig_store_t *st, const char *slug, ig_org_t *out);
/* provider: 1..32 printable ASCII bytes without spaces, or NULL to clear. IG_ENOTFOUND for an unknown org. */
int ig_store_org_set_default_provider(ig_store_t *st, const char *org_id,
                                      const char *provider /*NULL clears*/);

/* Stores a key record with a fresh id. The store only ever sees the key's SHA-256 hash; hash_prefix (1..12
 * printable bytes, for display and revocation) may be shared by several keys. name may be NULL (stored as
 * absent, read back as ""); role 0..3; expires_at 0 = never, else unix ms. IG_ENOTFOUND if the org does not
 * exist; IG_ECONFLICT if the hash is already stored. out may be NULL. */
int ig_store_key_create(ig_store_t *st, const char *org_id, const uint8_t hash[32], const char *hash_prefix,
                        const char *name, int role, int64_t expires_at, ig_keyrec_t *out);
/* IG_ENOTFOUND; returns revoked and expired keys too (the caller checks revoked_at / expires_at). */
int ig_store_key_get_by_hash(ig_store_t *st, const uint8_t hash[32], ig_keyrec_t *out);
/* Revokes the key whose id or hash_prefix equals id_or_prefix, within org_id (NULL = any org). Revoking an
 * already revoked key succeeds and keeps its first revoked_at. out (may be NULL) gets the revoked record.
 * IG_ENOTFOUND when nothing matches (a key of another org does not match); IG_ECONFLICT if a prefix matches
 * several keys (nothing is revoked: use the id). The caller must also drop the key from its caches. */
int ig_store_key_revoke(ig_store_t *st, const char *org_id /*NULL = any org*/, const char *id_or_prefix,
                        ig_keyrec_t *out);
/* The org's keys, revoked ones included, oldest first (ties in unspecified order), into out[0..cap); *n = how
 * many were written. IG_ETOOBIG when the org has more than cap keys (out then holds the oldest cap, *n =
 * cap). An unknown org simply has no keys (*n = 0). */
int ig_store_key_list(ig_store_t *st, const char *org_id, ig_keyrec_t *out, size_t cap, size_t *n);

/* Sets (inserts or replaces) an org's credential for a provider. secret is an already-encrypted envelope
 * (the store never sees plaintext), 1..IG_STORE_MAX_SECRET bytes; required for IG_STORE_AUTH_STORED, may be
 * NULL for IG_STORE_AUTH_PASSTHROUGH. IG_ENOTFOUND if the org does not exist. */
int ig_store_provider_set(ig_store_t *st, const char *org_id, const char *provider, int auth_mode,
                          const uint8_t *secret, size_t secret_len /*secret may be NULL for passthrough*/);
/* *secret is malloc'd (caller frees), NULL when none stored. IG_ENOTFOUND when no row. Outputs are written
 * only on success. */
int ig_store_provider_get(ig_store_t *st, const char *org_id, const char *provider, int *auth_mode,
                          uint8_t **secret, size_t *secret_len);

/* Inserts n call records in ONE transaction (batched writer). All-or-nothing: on error nothing is stored.
 * Every record is validated first (IG_EINVAL: id empty, a char array not terminated, path NULL). A record
 * whose id is already stored is skipped, so replaying a spool file twice is harmless; so is a record whose
 * org no longer exists (a call in flight while its org was deleted leaves nothing behind). n may be 0. (v3)
 * In the same transaction, a record with a key_id raises that key's last_used_at to its created_at (never
 * lowers it); only a key of the record's own org_id is touched. */
int ig_store_calls_insert(ig_store_t *st, const ig_callrec_t *recs, size_t n);
/* Raises last_used_at of each record's key (key_id, within the record's org_id) to the record's created_at,
 * never lowering it, in ONE transaction; records without key_id are ignored. Only key_id, org_id and
 * created_at are read. (The call log itself lives in each org's log database: store/logstore.h.) */
int ig_store_keys_touch(ig_store_t *st, const ig_callrec_t *recs, size_t n);
/* Number of call records of org_id (NULL = all orgs). */
int ig_store_calls_count(ig_store_t *st, const char *org_id, int64_t *n); /* for tests/readyz-style checks */

/* Signs up a new tenant in ONE transaction: an org (slug, org_name as for ig_store_org_create), a user (email
 * lower-cased, password_hash a bcrypt string, display_name NULL or 0..128 bytes without control characters),
 * an owner membership of the user in the org, and a first API key of the org (key_hash, key_prefix and
 * key_role as for ig_store_key_create, never expiring, created_by = the new user). IG_EINVAL on bad input;
 * IG_ECONFLICT when the email or the slug is taken, with *which = "email" or "org_slug" (checked in that
 * order; "key_hash" if the key hash is already stored). Nothing is written on error. On success the outputs
 * that are not NULL (org, user, key) are filled; which (may be NULL) is set to NULL on every other outcome.
 */
int ig_store_signup(ig_store_t *st, const char *slug, const char *org_name, const char *email,
                    const char *password_hash, const char *display_name, const uint8_t key_hash[32],
                    const char *key_prefix, int key_role, ig_org_t *org, ig_user_t *user, ig_keyrec_t *key,
                    const char **which);
/* Looks a user up by email (ASCII-lower-cased first, so the match ignores case). IG_ENOTFOUND when no user
 * has it, including for a string that is not a valid email. */
int ig_store_user_get_by_email(ig_store_t *st, const char *email, ig_user_t *out);
/* IG_ENOTFOUND when no user has this id. */
int ig_store_user_get(ig_store_t *st, const char *id, ig_user_t *out);
/* Replaces the user's password hash (a bcrypt string, IG_EINVAL otherwise), sets password_changed_at to
 * now and (v3) revokes all the user's sessions, in ONE transaction. IG_ENOTFOUND for an unknown user. */
int ig_store_user_set_password(ig_store_t *st, const char *user_id, const char *password_hash);
/* The membership of user_id in org_id. IG_ENOTFOUND when the user is not a member. */
int ig_store_membership_get(ig_store_t *st, const char *user_id, const char *org_id, ig_membership_t *out);
/* The user's memberships, oldest first, into out[0..cap); *n = how many were written. IG_ETOOBIG when there
 * are more than cap (out then holds the oldest cap, *n = cap). An unknown user has none (*n = 0). */
int ig_store_memberships_of_user(ig_store_t *st, const char *user_id, ig_membership_t *out, size_t cap,
                                 size_t *n);

/* Checks the fields of a new audit entry and fills e with them, a fresh id and created_at = now (seq and the
 * hashes are the appender's). actor: 1..64 bytes without control characters (a user id, "key:<prefix>",
 * "system"); action: 1..64 printable ASCII bytes without spaces ("org.create"); org_id (≤32), target (≤128
 * bytes, no control characters), source_ip (≤45 printable bytes) and request_id (≤36) are optional: NULL or
 * "". Never pass secrets: only ids and action names. IG_EINVAL on bad input; IG_ECRYPTO (id). Both chains'
 * appenders take entries made by it. */
int ig_store_audit_new(const char *org_id, const char *actor, const char *action, const char *target,
                       const char *source_ip, const char *request_id, ig_audit_t *e);
/* Appends an entry (fields as ig_store_audit_new) to the CONTROL chain: entries without an org, the record of
 * an org's deletion, and entries of orgs deleted before their own chains existed (store/orgaudit.h holds
 * every other org entry). seq = the last seq + 1, prev_hash = the previous entry's hash (32 zero bytes for
 * the first), hash = ig_store_audit_hash_stored(IG_AUDIT_CHAIN_CONTROL, …); reading the tail and inserting
 * happen under the write lock, so concurrent appenders (threads or processes) cannot fork the chain. With
 * the identity key set, source_ip is stored sealed under it (AAD "ingate/identity/v1:audit:<id>:source_ip")
 * and never in clear. IG_EINVAL on bad input. out (may be NULL) gets the stored entry. */
int ig_store_audit_append(ig_store_t *st, const char *org_id, const char *actor, const char *action,
                          const char *target, const char *source_ip, const char *request_id, ig_audit_t *out);
/* Recomputes the control chain from the first entry in seq order, over the stored bytes (no key needed).
 * IG_OK when every entry's prev_hash is the previous entry's hash (zeros for the first) and its hash matches
 * its content; otherwise IG_ECONFLICT with *bad_seq = the seq of the first entry that does not (an edited
 * entry, or the one after a deleted entry). Deleting the newest entries cannot be detected by the chain
 * alone: compare with an externally kept head. *bad_seq is 0 on IG_OK. Reads one consistent snapshot; other
 * errors as listed at the top. */
int ig_store_audit_verify(ig_store_t *st, int64_t *bad_seq);

/* ---- v4: the audit chain of schemas 2-3 ("legacy": one chain for all orgs, addresses in clear) ----
 * Schema v4 renamed it to audit_v1 and began the control chain above. At start-up the audit log module
 * (capture/auditlog.h) verifies it, copies each entry of an existing org into that org's chain and calls
 * ig_store_audit_legacy_finish, which moves the rest into the control chain and empties audit_v1. */

/* As ig_store_audit_verify for the legacy chain (hashes of ig_store_audit_hash). *last_seq and last_hash get
 * its newest entry (*last_seq = 0 when it is empty) on IG_OK. */
int ig_store_audit_legacy_verify(ig_store_t *st, int64_t *bad_seq, int64_t *last_seq, uint8_t last_hash[32]);
/* Legacy entries with seq > after_seq, oldest first, at most cap (1..1000) into out; *n = how many. */
int ig_store_audit_legacy_list(ig_store_t *st, int64_t after_seq, ig_audit_t *out, size_t cap, size_t *n);
/* Ends the upgrade in ONE transaction: IG_ECONFLICT (nothing changed) unless the legacy chain's newest entry
 * is still (last_seq, last_hash) as verified. Every legacy entry that has no org, whose org no longer exists
 * or whose action is "org.delete" is appended to the control chain (same id, created_at and fields; its
 * address sealed; skipped when the id is there already); every other one must already have been copied to
 * its org's chain by the caller. Then the legacy table is emptied and an entry "audit.upgrade" (actor
 * "system", target = hex of last_hash, so the old chain's head stays on record) appended. *kept = entries
 * appended, that one excluded. A no-op (IG_OK, *kept = 0) when the legacy table is empty. */
int ig_store_audit_legacy_finish(ig_store_t *st, int64_t last_seq, const uint8_t last_hash[32], size_t *kept);
/* One page of an org's entries in the CONTROL chain (its deletion record, entries of orgs deleted before v4),
 * newest first: entries with seq < before_seq (INT64_MAX = from the newest), at most cap (1..1000) of them
 * into out; *n = how many. The last entry's seq is the next cursor. */
int ig_store_audit_list(ig_store_t *st, const char *org_id, int64_t before_seq, ig_audit_t *out, size_t cap,
                        size_t *n);

/* ---- v3: organisations, members, invitations, sessions, teams and apps, key rotation ---- */

/* A member of an org as listed by the API: the membership and the user's public fields. */
typedef struct {
    ig_membership_t m;
    char email[255];
    char display_name[129];
} ig_member_t;

/* An invitation to join an org. The one-time token is never stored: only its SHA-256 hash. */
typedef struct {
    char id[33];
    char org_id[33];
    char email[255]; /* lower-cased */
    int role;
    char invited_by[33]; /* user id, "" = none */
    int64_t created_at, expires_at, accepted_at /*0 = pending*/, revoked_at /*0 = not revoked*/;
} ig_invite_t;

typedef struct {
    char id[33];
    char org_id[33];
    char name[129];
    int64_t created_at;
} ig_team_t;

typedef struct {
    char id[33];
    char org_id[33];
    char team_id[33]; /* "" = none */
    char name[129];
    int64_t created_at;
} ig_app_t;

/* Filters of ig_store_audit_query: NULL / "" / 0 = no condition. action, actor and target match exactly;
 * since and until are unix ms, inclusive. */
typedef struct {
    const char *action;
    const char *actor;
    const char *target;
    int64_t since, until;
} ig_audit_filter_t;
/* The filter f (may be NULL: none) as the chains' queries apply it: strings NULL or non-empty into *nf.
 * false when no entry can match (a value longer than its field, until < since): the answer is an empty
 * page. IG_EINVAL cases (negative times) are the caller's to refuse first. */
bool ig_store_audit_filter_norm(const ig_audit_filter_t *f, ig_audit_filter_t *nf);

/* Updates an org: name (as for org_create) when not NULL; default_provider when not NULL ("" clears it, else
 * as for ig_store_org_set_default_provider); settings when not NULL (1..IG_STORE_MAX_SETTINGS bytes, stored
 * as given: the caller validates the JSON). out (may be NULL) gets the updated org. IG_ENOTFOUND. */
int ig_store_org_update(ig_store_t *st, const char *org_id, const char *name, const char *default_provider,
                        const char *settings, ig_org_t *out);
/* plan: IG_STORE_PLAN_* (IG_EINVAL otherwise). IG_ENOTFOUND. */
int ig_store_org_set_plan(ig_store_t *st, const char *org_id, int plan);
/* Deletes an org and, in ONE transaction, everything scoped to it: keys, provider credentials,
 * memberships, invitations, sessions, teams, apps, webhooks (with their deliveries, attempts and log
 * batches), budgets (with their spend) and call records. Users are kept (they may belong to other orgs). Its
 * entries in the control audit chain are kept (the chain must stay verifiable); its own chain goes with its
 * log database. IG_ENOTFOUND. */
int ig_store_org_delete(ig_store_t *st, const char *org_id);
/* In ONE transaction: from_user must be an owner of the org (IG_EFORBIDDEN otherwise) and to_user a member
 * (IG_ENOTFOUND otherwise, also for an unknown org); to_user becomes owner and from_user admin (keys created
 * by from_user with role owner are lowered to admin). to_user == from_user is IG_EINVAL. */
int ig_store_org_transfer(ig_store_t *st, const char *org_id, const char *from_user, const char *to_user);

/* The org's members, oldest first, into out[0..cap) (*n written; IG_ETOOBIG when there are more). */
int ig_store_member_list(ig_store_t *st, const char *org_id, ig_member_t *out, size_t cap, size_t *n);
/* Adds user_id to org_id with role (0..3). IG_ECONFLICT if already a member; IG_ENOTFOUND if the user or
 * the org does not exist. out may be NULL. */
int ig_store_membership_add(ig_store_t *st, const char *user_id, const char *org_id, int role,
                            ig_membership_t *out);
/* Changes user_id's role in org_id to new_role (0..3), or removes the membership when new_role is -1, on
 * behalf of an actor whose role is actor_role. ONE transaction that enforces, against the current rows:
 *   - the membership exists (IG_ENOTFOUND);
 *   - no escalation (IG_EFORBIDDEN, *why = "above_own_role"): new_role <= actor_role and the member's current
 *     role <= actor_role; an actor below owner can neither grant nor remove/demote an owner (*why =
 *     "owner_only");
 *   - the org keeps at least one owner (IG_ECONFLICT, *why = "last_owner").
 * Then: keys of this org created by the user get their role lowered to new_role (when above it), or are
 * revoked when the membership is removed; the user's sessions for this org are revoked on removal. The
 * caller must drop the org's keys from its caches. *old_role (may be NULL) = the role before. why may be
 * NULL; it is set to NULL on IG_OK. */
int ig_store_membership_change(ig_store_t *st, const char *org_id, const char *user_id, int new_role,
                               int actor_role, int *old_role, const char **why);

/* Creates an invitation (email lower-cased, role 0..3, token_hash = SHA-256 of the one-time token,
 * invited_by NULL or a user id, expires_at unix ms in the future). IG_ECONFLICT when the email already
 * belongs to a member of the org or has a pending unexpired invitation there. out may be NULL. */
int ig_store_invite_create(ig_store_t *st, const char *org_id, const char *email, int role,
                           const uint8_t token_hash[32], const char *invited_by, int64_t expires_at,
                           ig_invite_t *out);
/* The org's pending (not accepted, not revoked, not expired) invitations, oldest first. */
int ig_store_invite_list(ig_store_t *st, const char *org_id, ig_invite_t *out, size_t cap, size_t *n);
/* Revokes a pending invitation of the org. IG_ENOTFOUND (also for another org's, or a used one). */
int ig_store_invite_revoke(ig_store_t *st, const char *org_id, const char *id, ig_invite_t *out);
/* The pending, unexpired invitation with this token hash. IG_ENOTFOUND otherwise. */
int ig_store_invite_get_by_token(ig_store_t *st, const uint8_t token_hash[32], ig_invite_t *out);
/* Accepts a pending, unexpired invitation (IG_ENOTFOUND otherwise) in ONE transaction. If a user with the
 * invitation's email exists, it joins the org (the CALLER must have verified that user's password first;
 * password_hash and display_name are ignored); otherwise a user is created with password_hash (a bcrypt
 * string; IG_EINVAL when NULL) and display_name (NULL or as for signup). Then the membership is added with
 * the invitation's role (IG_ECONFLICT when already a member) and the invitation marked accepted (it can
 * never be used again). user and mem (may be NULL) get the rows. */
int ig_store_invite_accept(ig_store_t *st, const uint8_t token_hash[32], const char *password_hash,
                           const char *display_name, ig_user_t *user, ig_membership_t *mem);

/* Records an issued session token (jti as ig_token_new_jti makes it; expires_at unix ms). Also deletes
 * rows that expired more than a day ago (bounded housekeeping). IG_ENOTFOUND for an unknown user or org;
 * IG_ECONFLICT for a duplicate jti. */
int ig_store_session_create(ig_store_t *st, const char *jti, const char *user_id, const char *org_id,
                            int64_t expires_at);
/* Checks a presented session: a row with this jti, user and org exists, is not revoked, expires after
 * now_ms, and the user is still a member of the org; *role = the membership's CURRENT role (roles are looked
 * up live). IG_ENOTFOUND otherwise. */
int ig_store_session_check(ig_store_t *st, const char *jti, const char *user_id, const char *org_id,
                           int64_t now_ms, int *role);
/* Revokes one session (idempotent). IG_ENOTFOUND when no row has this jti. */
int ig_store_session_revoke(ig_store_t *st, const char *jti);
/* Revokes every session of the user (all orgs). */
int ig_store_sessions_revoke_user(ig_store_t *st, const char *user_id);

/* Teams and apps: named groups of an org that keys and budgets point at. Names 1..128 bytes without control
 * characters, unique within the org (IG_ECONFLICT). */
int ig_store_team_create(ig_store_t *st, const char *org_id, const char *name, ig_team_t *out);
int ig_store_team_list(ig_store_t *st, const char *org_id, ig_team_t *out, size_t cap, size_t *n);
/* Deletes a team of the org (IG_ENOTFOUND otherwise); its apps keep existing with no team. */
int ig_store_team_delete(ig_store_t *st, const char *org_id, const char *id);
/* team_id NULL/"" = none, else a team of the same org (IG_ENOTFOUND otherwise). */
int ig_store_app_create(ig_store_t *st, const char *org_id, const char *name, const char *team_id,
                        ig_app_t *out);
int ig_store_app_list(ig_store_t *st, const char *org_id, ig_app_t *out, size_t cap, size_t *n);
/* Deletes an app of the org (IG_ENOTFOUND otherwise); keys pointing at it keep working with no app. */
int ig_store_app_delete(ig_store_t *st, const char *org_id, const char *id);

/* As ig_store_key_create, plus app_id (NULL/"" = none, else an app of the same org: IG_ENOTFOUND
 * otherwise) and created_by (NULL/"" = none, else a user id). */
int ig_store_key_create_for(ig_store_t *st, const char *org_id, const uint8_t hash[32],
                            const char *hash_prefix, const char *name, int role, int64_t expires_at,
                            const char *app_id, const char *created_by, ig_keyrec_t *out);
/* As ig_store_key_create_for, plus the key's rate-limit overrides (v6): requests and tokens per minute, 0 =
 * the org's default, else 1..IG_LIMITER_MAX_LIMIT (limit/limiter.h; IG_EINVAL otherwise). */
int ig_store_key_create_limited(ig_store_t *st, const char *org_id, const uint8_t hash[32],
                                const char *hash_prefix, const char *name, int role, int64_t expires_at,
                                const char *app_id, const char *created_by, int64_t rpm_limit,
                                int64_t tpm_limit, ig_keyrec_t *out);
/* Replaces the rate-limit overrides of the org's key id (v6): rpm_limit and tpm_limit as for
 * ig_store_key_create_limited (0 clears one: the org's default applies). The key must be active: IG_ENOTFOUND
 * when it is revoked, expired, missing or another org's. out (may be NULL) gets the record after the change.
 * The caller must drop the key from its caches so the next request sees the new limits. */
int ig_store_key_set_limits(ig_store_t *st, const char *org_id, const char *id, int64_t rpm_limit,
                            int64_t tpm_limit, ig_keyrec_t *out);
/* The org's key with this id. IG_ENOTFOUND otherwise (another org's key too). */
int ig_store_key_get(ig_store_t *st, const char *org_id, const char *id, ig_keyrec_t *out);
/* Rotates a key in ONE transaction: the org's key old_id must exist, not be revoked and not be expired at
 * now (IG_ENOTFOUND otherwise), and not have been rotated before (IG_ECONFLICT: rotate its successor; a
 * second successor would inherit the overlap expiry). A new key is stored (new_hash, new_prefix) with the old
 * key's name, role, app, expiry and rate limits (v6), created_by as given (NULL = none); the old key's
 * expires_at becomes overlap_until (unix ms) unless it already expires earlier. old_out and new_out (may be
 * NULL) get the records after the change. The caller must drop the old key from its caches. */
int ig_store_key_rotate(ig_store_t *st, const char *org_id, const char *old_id, const uint8_t new_hash[32],
                        const char *new_prefix, const char *created_by, int64_t overlap_until,
                        ig_keyrec_t *old_out, ig_keyrec_t *new_out);

/* A page of org ids in id order: those after `after` ("" = from the first), at most cap (1..10000) into ids;
 * *n = how many (fewer than cap: the last page). For background jobs that visit every org. */
int ig_store_org_ids(ig_store_t *st, const char *after, char (*ids)[33], size_t cap, size_t *n);
/* The org's wrapped data key (crypto/orgkey.h): *wrapped is malloc'd (caller frees), NULL when the org has
 * none yet. IG_ENOTFOUND when there is no such org. */
int ig_store_org_data_key_get(ig_store_t *st, const char *org_id, uint8_t **wrapped, size_t *len);
/* Stores wrapped (1..IG_STORE_MAX_SECRET bytes) as the org's data key unless one is stored already — the
 * first writer wins, in one transaction — and returns the stored one (malloc'd) in *out, so concurrent
 * initialisers all end up with the same key. IG_ENOTFOUND when there is no such org. */
int ig_store_org_data_key_init(ig_store_t *st, const char *org_id, const uint8_t *wrapped, size_t len,
                               uint8_t **out, size_t *outlen);

/* Removes an org's credential for a provider. IG_ENOTFOUND when none is stored. */
int ig_store_provider_delete(ig_store_t *st, const char *org_id, const char *provider);

/* As ig_store_audit_list with filters (f may be NULL) (the control chain). */
int ig_store_audit_query(ig_store_t *st, const char *org_id, const ig_audit_filter_t *f, int64_t before_seq,
                         ig_audit_t *out, size_t cap, size_t *n);
/* The org's entry with this id in the control chain. IG_ENOTFOUND otherwise (another org's entry too). */
int ig_store_audit_get(ig_store_t *st, const char *org_id, const char *id, ig_audit_t *out);

/* ---- v3: outbound webhooks (the webhook module, webhook/webhook.h, owns event names, signing and delivery)
 * ---- */

#define IG_STORE_WEBHOOK_URL_MAX     2047 /* bytes of a URL: the outbound validator's ceiling, NUL excluded */
#define IG_STORE_WEBHOOK_EVENTS_MAX  512  /* the comma-separated event list (ten names are ~150 bytes) */
#define IG_STORE_WEBHOOK_DESC_MAX    256  /* a human note, not a document */
#define IG_STORE_WEBHOOK_SECRET_MAX  128  /* a sealed signing secret (32 bytes + envelope = 65) */
#define IG_STORE_WEBHOOKS_PER_ORG    25   /* each event fans out to every subscribed webhook of the org */
#define IG_STORE_WEBHOOK_PAYLOAD_MAX (64u * 1024) /* a sealed event payload (ids and names: ~1 KiB) */
#define IG_STORE_WEBHOOK_ERROR_MAX   255          /* error text of an attempt */

/* webhook_deliveries.status values. */
enum { IG_STORE_DELIVERY_PENDING = 0, IG_STORE_DELIVERY_SUCCEEDED = 1, IG_STORE_DELIVERY_FAILED = 2 };

/* A webhook subscription of an org. url is the normalised URL the outbound validator accepted; events the
 * comma-separated event names; secret the SEALED signing secret (the store never sees it in clear). */
typedef struct {
    char id[33];
    char org_id[33];
    char url[IG_STORE_WEBHOOK_URL_MAX + 1];
    char events[IG_STORE_WEBHOOK_EVENTS_MAX + 1];
    char description[IG_STORE_WEBHOOK_DESC_MAX + 1]; /* "" = none */
    bool enabled;
    uint8_t secret[IG_STORE_WEBHOOK_SECRET_MAX];
    size_t secret_len;
    int64_t created_at, updated_at;
} ig_webhook_t;

/* One event to deliver to one webhook. Its payload (sealed) is read separately: ig_store_webhook_payload. */
typedef struct {
    char id[33];
    char org_id[33];
    char webhook_id[33];
    char event_id[33];
    char event_type[65];
    int status;              /* IG_STORE_DELIVERY_* */
    int attempts;            /* attempts made so far */
    int64_t next_attempt_at; /* pending: when the next attempt is due (unix ms); 0 once finished */
    int last_status;         /* HTTP status of the last attempt; 0 = none (no attempt, or no response) */
    char last_error[IG_STORE_WEBHOOK_ERROR_MAX + 1]; /* "" = none */
    int64_t created_at, updated_at;
} ig_webhook_delivery_t;

/* One attempt at a delivery. */
typedef struct {
    int attempt;                                /* 1-based (set by the store when recording) */
    int64_t started_at;                         /* unix ms */
    int status_code;                            /* HTTP status, 0 = no response */
    char error[IG_STORE_WEBHOOK_ERROR_MAX + 1]; /* "" = none; never a URL (it may hold a token) */
    int64_t duration_ms;
} ig_webhook_attempt_t;

/* Seals a secret for the row `id` of org_id, appending the envelope to out. The creators below generate the
 * row's id, then call this so that the ciphertext's AAD can bind the id; any error it returns is returned
 * as is and nothing is stored. */
typedef int (*ig_store_seal_fn)(void *ctx, const char *org_id, const char *id, ig_buf_t *out);

/* Creates an enabled webhook with a fresh id: url 1..IG_STORE_WEBHOOK_URL_MAX and events
 * 1..IG_STORE_WEBHOOK_EVENTS_MAX printable ASCII bytes without spaces, description NULL/"" or text of at most
 * IG_STORE_WEBHOOK_DESC_MAX bytes (IG_EINVAL); seal (required) makes the sealed secret (1..
 * IG_STORE_WEBHOOK_SECRET_MAX bytes, else IG_EINVAL). IG_ETOOBIG when the org already has
 * IG_STORE_WEBHOOKS_PER_ORG webhooks (checked under the write lock); IG_ENOTFOUND for an unknown org. */
int ig_store_webhook_create(ig_store_t *st, const char *org_id, const char *url, const char *events,
                            const char *description, ig_store_seal_fn seal, void *ctx, ig_webhook_t *out);
/* The org's webhook with this id. IG_ENOTFOUND otherwise (another org's webhook too). */
int ig_store_webhook_get(ig_store_t *st, const char *org_id, const char *id, ig_webhook_t *out);
/* The org's webhooks, oldest first, into out[0..cap) (*n written; IG_ETOOBIG when there are more). */
int ig_store_webhook_list(ig_store_t *st, const char *org_id, ig_webhook_t *out, size_t cap, size_t *n);
/* Changes the given fields of the org's webhook (url, events, description: NULL keeps, as for create, ""
 * clears the description; enabled: -1 keeps, 0 or 1) and sets updated_at. out (may be NULL) gets the row.
 * IG_ENOTFOUND. */
int ig_store_webhook_update(ig_store_t *st, const char *org_id, const char *id, const char *url,
                            const char *events, const char *description, int enabled, ig_webhook_t *out);
/* Deletes the org's webhook with its deliveries, their attempts and log batches, in ONE transaction.
 * IG_ENOTFOUND. */
int ig_store_webhook_delete(ig_store_t *st, const char *org_id, const char *id);

/* Queues a pending delivery (fresh id, 0 attempts, due at next_attempt_at) of event event_id (1..32
 * printable bytes) of type event_type (1..64) to the org's webhook webhook_id; seal (required) makes the
 * sealed payload (1..IG_STORE_WEBHOOK_PAYLOAD_MAX bytes) for the delivery's id. IG_ENOTFOUND when the org has
 * no such webhook. out may be NULL. */
int ig_store_webhook_delivery_add(ig_store_t *st, const char *org_id, const char *webhook_id,
                                  const char *event_id, const char *event_type, int64_t next_attempt_at,
                                  ig_store_seal_fn seal, void *ctx, ig_webhook_delivery_t *out);
/* The sealed payload of the org's delivery: *blob is malloc'd (caller frees). IG_ENOTFOUND. */
int ig_store_webhook_payload(ig_store_t *st, const char *org_id, const char *id, uint8_t **blob, size_t *len);
/* For the delivery thread, ALL orgs: pending deliveries due at now (next_attempt_at <= now), earliest due
 * first, at most cap (1..1000) into out; *n = how many. */
int ig_store_webhook_due(ig_store_t *st, int64_t now, ig_webhook_delivery_t *out, size_t cap, size_t *n);
/* The earliest next_attempt_at of all pending deliveries into *at; 0 when none is pending. */
int ig_store_webhook_next_due(ig_store_t *st, int64_t *at);
/* Takes a lease on a delivery: moves its next_attempt_at to until, only if it is pending and due by
 * due_by (IG_ENOTFOUND otherwise: finished, or leased meanwhile by another thread or process). A crashed
 * deliverer's lease simply expires, and the delivery is retried. The holder gives a lease back with
 * due_by = INT64_MAX and until = now. */
int ig_store_webhook_lease(ig_store_t *st, const char *id, int64_t due_by, int64_t until);
/* Records an attempt at the org's pending delivery in ONE transaction: the attempt row (a->attempt is set to
 * the delivery's attempts + 1; a->error text as for last_error), then the delivery's attempts, last_status
 * (a->status_code), last_error (a->error), status (IG_STORE_DELIVERY_*) and next_attempt_at (unix ms,
 * > 0, when status stays pending; ignored otherwise). out (may be NULL) gets the delivery after the change.
 * IG_ENOTFOUND; IG_ECONFLICT when the delivery is no longer pending. */
int ig_store_webhook_record(ig_store_t *st, const char *org_id, const char *id, const ig_webhook_attempt_t *a,
                            int status, int64_t next_attempt_at, ig_webhook_delivery_t *out);
/* The deliveries of the org's webhook, newest first, at most cap (1..1000) into out; *n = how many. An
 * unknown webhook (or another org's) has none. */
int ig_store_webhook_deliveries(ig_store_t *st, const char *org_id, const char *webhook_id,
                                ig_webhook_delivery_t *out, size_t cap, size_t *n);
/* The attempts of the org's delivery, oldest first, into out[0..cap) (*n written; IG_ETOOBIG when more). */
int ig_store_webhook_attempts(ig_store_t *st, const char *org_id, const char *delivery_id,
                              ig_webhook_attempt_t *out, size_t cap, size_t *n);
/* Deletes up to max (1..10000) finished deliveries (succeeded or failed) last updated before `before`
 * (unix ms), oldest first, with their attempts and log batches, in ONE transaction; *purged = how many. */
int ig_store_webhook_purge(ig_store_t *st, int64_t before, size_t max, size_t *purged);

/* ---- v5: logs.expiring batches (capture/expiring.h owns the policy) ----
 * A logs.expiring delivery carries a batch of the org's log records, named here by the positions of its first
 * and last record in the org's log database (store/logstore.h: (created_at, seq), both ends included), never
 * the records themselves: the body is built from the log database when the delivery is attempted. The
 * batches of one webhook are queued in position order and never overlap. A batch is open while its delivery
 * is pending or failed less than a grace period ago; records from an open batch's first position on are not
 * purged. Batches go with their delivery (purge), webhook and org. */
typedef struct {
    char delivery_id[33];
    char org_id[33];
    char webhook_id[33];
    int64_t first_at, first_seq; /* position of the first record */
    int64_t last_at, last_seq;   /* and of the last */
    int64_t records;             /* records in the range when it was queued */
    int64_t cutoff;              /* the retention cut-off it was queued for (unix ms) */
    bool done;                   /* no longer open */
    int64_t created_at;
} ig_logbatch_t;

/* One webhook's batches, as ig_store_logbatch_state reports them. */
typedef struct {
    bool queued;               /* it has a batch */
    int64_t last_at, last_seq; /* when queued: the last position of its last batch */
    int64_t open;              /* open batches */
    int64_t open_at, open_seq; /* when open > 0: the first position of the oldest open batch */
} ig_logbatch_state_t;

/* Queues a pending delivery exactly as ig_store_webhook_delivery_add and, in the same transaction, its batch:
 * b's positions, records and cutoff are used (first <= last, positions >= 0, records >= 1, cutoff > 0, else
 * IG_EINVAL); ids, done and created_at are filled. IG_ECONFLICT when b does not start after the webhook's
 * last batch (checked under the write lock: another pass queued these records meanwhile); IG_ENOTFOUND when
 * the org has no such webhook. out (may be NULL) gets the delivery. */
int ig_store_logbatch_add(ig_store_t *st, const char *org_id, const char *webhook_id, const char *event_id,
                          const char *event_type, const ig_logbatch_t *b, ig_store_seal_fn seal, void *ctx,
                          ig_webhook_delivery_t *out);
/* The batch of the org's delivery. IG_ENOTFOUND (another org's delivery, or one without a batch). */
int ig_store_logbatch_get(ig_store_t *st, const char *org_id, const char *delivery_id, ig_logbatch_t *out);
/* In ONE transaction: closes the webhook's open batches whose delivery succeeded, failed with its last
 * attempt at or before failed_before (unix ms), or is gone; then reports the webhook's batches into out. An
 * unknown webhook has none (IG_OK, all zero). */
int ig_store_logbatch_state(ig_store_t *st, const char *org_id, const char *webhook_id, int64_t failed_before,
                            ig_logbatch_state_t *out);

/* ---- v7: spend budgets (limit/budget.h holds the ledger, docs/budgets.md the semantics) ---- */

#define IG_STORE_BUDGETS_PER_ORG 100 /* the org snapshot carries them all; a call checks at most 3 */
/* Largest limit: 1e9 USD in micro-USD (sums of such limits and a day's spend stay far from INT64_MAX). */
#define IG_STORE_BUDGET_MAX_MICROS 1000000000000000LL

/* budgets.scope values: what a budget counts the spend of. */
enum { IG_STORE_BUDGET_ORG = 0, IG_STORE_BUDGET_APP = 1, IG_STORE_BUDGET_KEY = 2 };
/* budgets.period values (the same as limit/budget.h ig_budget_period_t): calendar periods in UTC. */
enum { IG_STORE_PERIOD_DAILY = 0, IG_STORE_PERIOD_WEEKLY = 1, IG_STORE_PERIOD_MONTHLY = 2 };

typedef struct {
    char id[33];
    char org_id[33];
    int scope;         /* IG_STORE_BUDGET_* */
    char scope_id[33]; /* the app's or key's id; "" for the org scope */
    char name[129];    /* "" = none */
    int period;        /* IG_STORE_PERIOD_* */
    int64_t hard_micros;
    int64_t soft_micros; /* 0 = none; else <= hard_micros */
    int64_t created_at, updated_at;
} ig_budget_t;

/* Spend to add to a budget's period (the log writer's settlements, summed per batch). */
typedef struct {
    char budget_id[33];
    char org_id[33];
    int64_t period_start; /* unix ms: the period the spend belongs to */
    int64_t add_micros;   /* >= 0 */
    unsigned alerted;     /* alert bits to claim (1 = budget.warning, 2 = budget.exceeded) */
    unsigned claimed;     /* out: the bits of `alerted` this call claimed first (its caller emits those) */
} ig_budget_spend_t;

/* An alert claimed but not yet queued as a webhook event (v9), with what its payload needs. */
typedef struct {
    ig_budget_t budget;   /* the budget as it is now */
    int64_t period_start; /* the period the alert is of */
    int64_t spent_micros; /* the period's recorded spend */
    unsigned pending;     /* 1 = budget.warning, 2 = budget.exceeded, or both */
} ig_budget_alert_t;

/* Creates a budget with a fresh id: scope IG_STORE_BUDGET_*, scope_id NULL/"" for the org scope and else the
 * id of an app or key of the org; name NULL/"" or text of at most 128 bytes; period IG_STORE_PERIOD_*;
 * hard_micros 1..IG_STORE_BUDGET_MAX_MICROS; soft_micros 0 (none) or 1..hard_micros (IG_EINVAL otherwise).
 * IG_ENOTFOUND for an unknown org or a scope id that is not one of its apps / keys (checked under the write
 * lock); IG_ECONFLICT when the scope target has a budget already (one per org, app or key: a call is checked
 * against at most three); IG_ETOOBIG when the org has IG_STORE_BUDGETS_PER_ORG. out may be NULL. */
int ig_store_budget_create(ig_store_t *st, const char *org_id, int scope, const char *scope_id,
                           const char *name, int period, int64_t hard_micros, int64_t soft_micros,
                           ig_budget_t *out);
/* The org's budget with this id. IG_ENOTFOUND otherwise (another org's budget too). */
int ig_store_budget_get(ig_store_t *st, const char *org_id, const char *id, ig_budget_t *out);
/* The org's budgets, oldest first, into out[0..cap) (*n written; IG_ETOOBIG when there are more). */
int ig_store_budget_list(ig_store_t *st, const char *org_id, ig_budget_t *out, size_t cap, size_t *n);
/* Replaces the mutable fields of the org's budget (name, period, limits, as for create; the scope never
 * changes) and sets updated_at. Spend already recorded stays with the periods it was recorded for. out (may
 * be NULL) gets the row. IG_ENOTFOUND. */
int ig_store_budget_update(ig_store_t *st, const char *org_id, const char *id, const char *name, int period,
                           int64_t hard_micros, int64_t soft_micros, ig_budget_t *out);
/* Deletes the org's budget with its spend rows, in ONE transaction. IG_ENOTFOUND. */
int ig_store_budget_delete(ig_store_t *st, const char *org_id, const char *id);
/* The spend recorded for the budget's period starting at period_start, and the alert bits claimed for it
 * (queued or pending): 0 and 0 when nothing was recorded (also for an unknown budget). */
int ig_store_budget_spend_get(ig_store_t *st, const char *budget_id, int64_t period_start, int64_t *spent,
                              unsigned *alerted);
/* Adds items[i].add_micros to the spend of each (budget, period) and claims its alert bits, in ONE
 * transaction under the write lock (saturating far below INT64_MAX). Claiming is first come, first served
 * across threads and processes: items[i].claimed gets the bits of items[i].alerted that were not claimed
 * for the period yet; they are recorded as claimed and as pending (v9) until ig_store_budget_alert_done.
 * Items of a budget that no longer exists (or is not of the item's org) are skipped (claimed 0). IG_EINVAL
 * for a bad item (nothing written). */
int ig_store_budget_spend_add(ig_store_t *st, ig_budget_spend_t *items, size_t n);

/* ---- v9: budget alerts claimed, then queued ---- */

/* Clears the pending bits (1 warning, 2 exceeded) of the budget's period: their events are queued. A row
 * that is gone (the budget was deleted) is not an error. */
int ig_store_budget_alert_done(ig_store_t *st, const char *budget_id, int64_t period_start, unsigned bits);
/* For the log writer, ALL orgs: alerts claimed but still pending (their event was not queued: a failure, or
 * a crash in between), oldest first, at most cap (1..1000) into out; *n = how many. */
int ig_store_budget_alerts_pending(ig_store_t *st, ig_budget_alert_t *out, size_t cap, size_t *n);

/* ---- wrapped keys (the key hierarchy of docs/security.md) ---- */
/* A process-wide data key by name ("control"): its wrapped form, malloc'd into *out. With init set, stores
 * init first unless the name has one (the first writer wins, one transaction) and returns what is stored.
 * IG_ENOTFOUND when there is none (and no init). */
int ig_store_control_key(ig_store_t *st, const char *name, const uint8_t *init, size_t init_len,
                         uint8_t **out, size_t *outlen);
/* Called by ig_store_rewrap for each wrapped key: kind "org" (id = org id) or "control" (id = name). Appends
 * the new wrapped form to out and sets *changed, or leaves it unchanged. Any error aborts the whole rewrap.
 */
typedef int (*ig_store_rewrap_fn)(void *ctx, const char *kind, const char *id, const uint8_t *wrapped,
                                  size_t len, ig_buf_t *out, bool *changed);
/* Passes every wrapped data key through fn and stores the results in ONE transaction (master key rotation).
 * *n = how many changed. */
int ig_store_rewrap(ig_store_t *st, ig_store_rewrap_fn fn, void *ctx, size_t *n);

/* ---- identity columns ----
 * Users' emails and display names and invitees' emails are identity data: with a key set (ig_serve and the
 * operator CLI derive it from the master key, purpose "identity"), backends store them sealed (AES-256-GCM,
 * AAD "ingate/identity/v1:<table>:<row id>:<field>") and look emails up by a tag ("t1:" + hex HMAC-SHA256
 * under a key derived from it), so the database never holds an email in clear. Process-wide: set once at
 * startup, before any handle is used. Without a key (unit tests of other modules) they are stored in clear.
 * ig_store_identity_backfill seals rows written in clear before the key existed (databases from before v3).
 */
#define IG_STORE_TAG_MAX 68 /* "t1:" + 64 hex + NUL */
int ig_store_set_identity_key(const uint8_t key[32] /* NULL = clear mode */);
bool ig_store_identity_on(void);
/* For backends: the stored (lookup) form of a normalized email. */
void ig_store_email_tag(const char *email, char out[IG_STORE_TAG_MAX]);
/* For backends: seal pt (appends the envelope to out) / open ct into out (cap bytes with the NUL). */
int ig_store_identity_seal(const char *table, const char *row_id, const char *field, const char *pt,
                           ig_buf_t *out);
int ig_store_identity_open(const char *table, const char *row_id, const char *field, const void *ct,
                           size_t len, char *out, size_t cap);
/* Seals the identity columns of rows still in clear (idempotent; a no-op in clear mode). */
int ig_store_identity_backfill(ig_store_t *st);

/* The legacy chain's hash (schemas 2-3, address in clear): SHA-256(prev_hash || serialization) of e (its hash
 * field is not read). The serialization is a version tag, then seq and created_at as 8-byte big-endian, then
 * id, org_id, actor, action, target, source_ip, request_id each as a 4-byte big-endian length and its bytes,
 * so no two distinct entries serialize alike. Every char field of e must be NUL-terminated. */
void ig_store_audit_hash(const ig_audit_t *e, uint8_t hash[32]);

/* The chains of v4 hash an entry's address AS STORED, never in clear: they verify without any key, and a
 * hash cannot be used to test guesses of a sealed address (2^32 for IPv4). The chain's domain tag comes
 * first, so an entry cannot be moved between chains of different kinds. */
#define IG_AUDIT_CHAIN_CONTROL "ingate-audit-v2"     /* the control database's chain */
#define IG_AUDIT_CHAIN_ORG     "ingate-org-audit-v1" /* each org's chain (org_id = the org of the file) */
#define IG_AUDIT_SEALED_IP_MAX 128                   /* an envelope of a 45-byte address is 78 bytes */
/* hash = SHA-256(prev_hash || chain tag || seq || created_at || id, org_id, actor, action, target, ip_clear,
 * ip_sealed, request_id), integers 8-byte big-endian, each field a 4-byte big-endian length and its bytes.
 * ip_clear is the clear address when it is stored so ("" otherwise), ip_sealed the stored envelope (empty
 * when none); e->source_ip and e->hash are not read. IG_EINVAL when ip_sealed is longer than
 * IG_AUDIT_SEALED_IP_MAX or a char field of e is not terminated. */
int ig_store_audit_hash_stored(const char *chain, const ig_audit_t *e, const char *ip_clear,
                               ig_iov_t ip_sealed, uint8_t hash[32]);

/*
 * Backend interface. The wrappers above have already validated every argument (lengths fit the structs,
 * pointers non-NULL where required) and filled ids and timestamps; backends map their errors onto the
 * codes listed at the top. A backend's handle struct starts with `ig_store_t base`.
 */
typedef struct ig_store_ops {
    const char *name;
    void (*close)(ig_store_t *st);
    int (*migrate)(ig_store_t *st, int64_t now);
    int (*schema_version)(ig_store_t *st, int *version);
    int (*ping)(ig_store_t *st);
    int (*org_insert)(ig_store_t *st, const ig_org_t *org);
    int (*org_get)(ig_store_t *st, const char *id, ig_org_t *out);
    int (*org_get_by_slug)(ig_store_t *st, const char *slug, ig_org_t *out);
    int (*org_set_default_provider)(ig_store_t *st, const char *org_id, const char *provider);
    int (*key_insert)(ig_store_t *st, const ig_keyrec_t *rec);
    int (*key_get_by_hash)(ig_store_t *st, const uint8_t hash[32], ig_keyrec_t *out);
    int (*key_revoke)(ig_store_t *st, const char *org_id, const char *id_or_prefix, int64_t now,
                      ig_keyrec_t *out);
    int (*key_list)(ig_store_t *st, const char *org_id, ig_keyrec_t *out, size_t cap, size_t *n);
    int (*provider_set)(ig_store_t *st, const char *org_id, const char *provider, int auth_mode,
                        const uint8_t *secret, size_t secret_len, int64_t now);
    int (*provider_get)(ig_store_t *st, const char *org_id, const char *provider, int *auth_mode,
                        uint8_t **secret, size_t *secret_len);
    int (*calls_insert)(ig_store_t *st, const ig_callrec_t *recs, size_t n);
    int (*calls_count)(ig_store_t *st, const char *org_id, int64_t *n);
    /* v2: identity and audit. signup inserts all four rows in one transaction (ids and timestamps filled,
     * key->id etc. set; membership role owner); *which as ig_store_signup. audit_append sets e->seq,
     * e->prev_hash and e->hash (via ig_store_audit_hash) under the write lock, then inserts. */
    int (*signup)(ig_store_t *st, const ig_org_t *org, const ig_user_t *user, const ig_membership_t *mem,
                  const ig_keyrec_t *key, const char **which);
    int (*user_get_by_email)(ig_store_t *st, const char *email, ig_user_t *out);
    int (*user_get)(ig_store_t *st, const char *id, ig_user_t *out);
    int (*user_set_password)(ig_store_t *st, const char *user_id, const char *password_hash, int64_t now);
    int (*membership_get)(ig_store_t *st, const char *user_id, const char *org_id, ig_membership_t *out);
    int (*memberships_of_user)(ig_store_t *st, const char *user_id, ig_membership_t *out, size_t cap,
                               size_t *n);
    int (*audit_append)(ig_store_t *st, ig_audit_t *e);
    int (*audit_verify)(ig_store_t *st, int64_t *bad_seq);
    /* v4: the legacy chain (audit_v1) */
    int (*audit_legacy_verify)(ig_store_t *st, int64_t *bad_seq, int64_t *last_seq, uint8_t last_hash[32]);
    int (*audit_legacy_list)(ig_store_t *st, int64_t after_seq, ig_audit_t *out, size_t cap, size_t *n);
    int (*audit_legacy_finish)(ig_store_t *st, int64_t last_seq, const uint8_t last_hash[32], int64_t now,
                               size_t *kept);
    /* v3. key_insert (above) also stores app_id, created_by and last_used_at, and refuses (IG_ENOTFOUND) an
     * app_id that is not an app of rec->org_id. user_set_password also revokes the user's sessions.
     * calls_insert also raises api_keys.last_used_at. The audit filter's strings are NULL or non-empty.
     * Optional argument strings of the v3 entries are NULL or non-empty, except org_update's
     * default_provider ("" clears it). Every `now` is the wrapper's clock (unix ms). */
    int (*org_update)(ig_store_t *st, const char *org_id, const char *name, const char *default_provider,
                      const char *settings, ig_org_t *out);
    int (*org_set_plan)(ig_store_t *st, const char *org_id, int plan);
    int (*org_delete)(ig_store_t *st, const char *org_id);
    int (*org_transfer)(ig_store_t *st, const char *org_id, const char *from_user, const char *to_user);
    int (*member_list)(ig_store_t *st, const char *org_id, ig_member_t *out, size_t cap, size_t *n);
    int (*membership_insert)(ig_store_t *st, const ig_membership_t *m);
    /* new_role -1..3, actor_role 0..3; *why is set on IG_EFORBIDDEN / IG_ECONFLICT; *old_role on IG_OK. */
    int (*membership_change)(ig_store_t *st, const char *org_id, const char *user_id, int new_role,
                             int actor_role, int64_t now, int *old_role, const char **why);
    /* inv is complete (id, created_at, accepted_at = revoked_at = 0); the conflict checks use now. */
    int (*invite_insert)(ig_store_t *st, const ig_invite_t *inv, const uint8_t token_hash[32], int64_t now);
    int (*invite_list)(ig_store_t *st, const char *org_id, int64_t now, ig_invite_t *out, size_t cap,
                       size_t *n);
    int (*invite_revoke)(ig_store_t *st, const char *org_id, const char *id, int64_t now, ig_invite_t *out);
    int (*invite_get_by_token)(ig_store_t *st, const uint8_t token_hash[32], int64_t now, ig_invite_t *out);
    /* new_user is the user to create when the invitation's email has none: id, password_hash ("" = none
     * given: IG_EINVAL then), display_name and timestamps filled; its email is taken from the invitation. */
    int (*invite_accept)(ig_store_t *st, const uint8_t token_hash[32], const ig_user_t *new_user, int64_t now,
                         ig_user_t *user, ig_membership_t *mem);
    int (*session_insert)(ig_store_t *st, const char *jti, const char *user_id, const char *org_id,
                          int64_t now, int64_t expires_at);
    int (*session_check)(ig_store_t *st, const char *jti, const char *user_id, const char *org_id,
                         int64_t now, int *role);
    int (*session_revoke)(ig_store_t *st, const char *jti, int64_t now);
    int (*sessions_revoke_user)(ig_store_t *st, const char *user_id, int64_t now);
    int (*team_insert)(ig_store_t *st, const ig_team_t *t);
    int (*team_list)(ig_store_t *st, const char *org_id, ig_team_t *out, size_t cap, size_t *n);
    int (*team_delete)(ig_store_t *st, const char *org_id, const char *id);
    /* refuses (IG_ENOTFOUND) a team_id that is not a team of a->org_id */
    int (*app_insert)(ig_store_t *st, const ig_app_t *a);
    int (*app_list)(ig_store_t *st, const char *org_id, ig_app_t *out, size_t cap, size_t *n);
    int (*app_delete)(ig_store_t *st, const char *org_id, const char *id);
    int (*key_get)(ig_store_t *st, const char *org_id, const char *id, ig_keyrec_t *out);
    /* new_key has id, org_id, key_hash, hash_prefix, created_by and created_at = now filled; the backend
     * copies name, role, app_id, expires_at, rpm_limit and tpm_limit from the old key. */
    int (*key_rotate)(ig_store_t *st, const char *old_id, const ig_keyrec_t *new_key, int64_t overlap_until,
                      ig_keyrec_t *old_out, ig_keyrec_t *new_out);
    int (*provider_delete)(ig_store_t *st, const char *org_id, const char *provider);
    /* cap 1..1000; replaces v2's audit_list (f == NULL: no filter) */
    int (*audit_query)(ig_store_t *st, const char *org_id, const ig_audit_filter_t *f, int64_t before_seq,
                       ig_audit_t *out, size_t cap, size_t *n);
    int (*audit_get)(ig_store_t *st, const char *org_id, const char *id, ig_audit_t *out);
    int (*org_data_key_get)(ig_store_t *st, const char *org_id, uint8_t **out, size_t *outlen);
    int (*org_data_key_init)(ig_store_t *st, const char *org_id, const uint8_t *wrapped, size_t len,
                             uint8_t **out, size_t *outlen);
    int (*keys_touch)(ig_store_t *st, const ig_callrec_t *recs, size_t n);
    int (*org_ids)(ig_store_t *st, const char *after, char (*ids)[33], size_t cap, size_t *n);
    /* webhooks. webhook_insert refuses (IG_ETOOBIG) an org that has max_per_org webhooks already. update's
     * description is NULL (keep) or the new text ("" clears); enabled -1 keeps. delivery_insert refuses
     * (IG_ENOTFOUND) a webhook that is not one of d->org_id. record sets a->attempt. */
    int (*webhook_insert)(ig_store_t *st, const ig_webhook_t *w, size_t max_per_org);
    int (*webhook_get)(ig_store_t *st, const char *org_id, const char *id, ig_webhook_t *out);
    int (*webhook_list)(ig_store_t *st, const char *org_id, ig_webhook_t *out, size_t cap, size_t *n);
    int (*webhook_update)(ig_store_t *st, const char *org_id, const char *id, const char *url,
                          const char *events, const char *description, int enabled, int64_t now,
                          ig_webhook_t *out);
    int (*webhook_delete)(ig_store_t *st, const char *org_id, const char *id);
    int (*delivery_insert)(ig_store_t *st, const ig_webhook_delivery_t *d, const uint8_t *payload,
                           size_t len);
    int (*delivery_payload)(ig_store_t *st, const char *org_id, const char *id, uint8_t **blob, size_t *len);
    int (*delivery_due)(ig_store_t *st, int64_t now, ig_webhook_delivery_t *out, size_t cap, size_t *n);
    int (*delivery_next_due)(ig_store_t *st, int64_t *at);
    int (*delivery_lease)(ig_store_t *st, const char *id, int64_t due_by, int64_t until);
    int (*delivery_record)(ig_store_t *st, const char *org_id, const char *id, ig_webhook_attempt_t *a,
                           int status, int64_t next_attempt_at, int64_t now, ig_webhook_delivery_t *out);
    int (*delivery_list)(ig_store_t *st, const char *org_id, const char *webhook_id,
                         ig_webhook_delivery_t *out, size_t cap, size_t *n);
    int (*attempt_list)(ig_store_t *st, const char *org_id, const char *delivery_id,
                        ig_webhook_attempt_t *out, size_t cap, size_t *n);
    int (*delivery_purge)(ig_store_t *st, int64_t before, size_t max, size_t *purged);
    /* v5. logbatch_insert inserts d (as delivery_insert) and b (ids and created_at filled) in one
     * transaction, refusing (IG_ECONFLICT) a b that does not start after the webhook's last batch. */
    int (*logbatch_insert)(ig_store_t *st, const ig_webhook_delivery_t *d, const uint8_t *payload, size_t len,
                           const ig_logbatch_t *b);
    int (*logbatch_get)(ig_store_t *st, const char *org_id, const char *delivery_id, ig_logbatch_t *out);
    int (*logbatch_state)(ig_store_t *st, const char *org_id, const char *webhook_id, int64_t failed_before,
                          ig_logbatch_state_t *out);
    int (*identity_backfill)(ig_store_t *st);
    int (*control_key)(ig_store_t *st, const char *name, const uint8_t *init, size_t init_len, int64_t now,
                       uint8_t **out, size_t *outlen);
    int (*rewrap)(ig_store_t *st, ig_store_rewrap_fn fn, void *ctx, int64_t now, size_t *n);
    /* v6. key_insert (above) also stores rpm_limit and tpm_limit. key_set_limits refuses (IG_ENOTFOUND) a key
     * that is not one of org_id, or is revoked or expired at now; out gets the record after the change. */
    int (*key_set_limits)(ig_store_t *st, const char *org_id, const char *id, int64_t rpm_limit,
                          int64_t tpm_limit, int64_t now, ig_keyrec_t *out);
    /* v7. budget_insert checks the org, the scope target and max_per_org under the write lock (b complete,
     * scope_id "" for the org scope). budget_update's name is NULL or non-empty (NULL clears). */
    int (*budget_insert)(ig_store_t *st, const ig_budget_t *b, size_t max_per_org);
    int (*budget_get)(ig_store_t *st, const char *org_id, const char *id, ig_budget_t *out);
    int (*budget_list)(ig_store_t *st, const char *org_id, ig_budget_t *out, size_t cap, size_t *n);
    int (*budget_update)(ig_store_t *st, const char *org_id, const char *id, const char *name, int period,
                         int64_t hard_micros, int64_t soft_micros, int64_t now, ig_budget_t *out);
    int (*budget_delete)(ig_store_t *st, const char *org_id, const char *id);
    int (*budget_spend_get)(ig_store_t *st, const char *budget_id, int64_t period_start, int64_t *spent,
                            unsigned *alerted);
    int (*budget_spend_add)(ig_store_t *st, ig_budget_spend_t *items, size_t n, int64_t now);
    /* v9 */
    int (*budget_alert_done)(ig_store_t *st, const char *budget_id, int64_t period_start, unsigned bits);
    int (*budget_alerts_pending)(ig_store_t *st, ig_budget_alert_t *out, size_t cap, size_t *n);
} ig_store_ops_t;

struct ig_store {
    const ig_store_ops_t *ops;
};

/* SQLite backend (sqlite.c): path is a file path or ":memory:". Same contract as ig_store_open. */
ig_store_t *ig_store_sqlite_open(const char *path, int *err);

#endif

/*
 * sqlite.c — the SQLite backend of the store (contract in store.h).
 *
 * One handle is one sqlite3 connection, used by one thread at a time, so it is opened with
 * SQLITE_OPEN_NOMUTEX and holds no lock of its own. Several handles (threads or processes) share a file:
 *   - WAL journal: readers never block the writer nor each other; synchronous=NORMAL is durable against
 *     process crashes and never corrupts on power loss (only the last commits may be lost then).
 *   - busy_timeout: a writer waits up to IG_SQLITE_BUSY_MS for another's transaction instead of failing.
 *   - every multi-statement write starts with BEGIN IMMEDIATE, which takes the write lock up front (waiting
 *     in the busy handler). A deferred transaction that reads and then writes can instead fail at once with
 *     SQLITE_BUSY_SNAPSHOT when another handle wrote in between, whatever the timeout.
 * Statements are prepared on first use and cached per handle for its lifetime; every use ends with reset
 * and clear_bindings so no statement keeps a read snapshot open or a pointer to the caller's data.
 *
 * The schema is an ordered array of migrations; version N is migrations[N - 1]. Each runs in its own
 * BEGIN IMMEDIATE transaction that re-reads the version first, so two processes migrating at once apply
 * each step exactly once. The SQL sticks to types and syntax PostgreSQL also accepts (TEXT, INTEGER, BLOB
 * becomes BYTEA there, DOUBLE PRECISION, ON CONFLICT … DO UPDATE/NOTHING) so its backend can mirror it.
 *
 * Values are bound, never formatted into SQL. Error log lines carry SQLite's message, which names tables
 * and columns but never bound values, so secrets cannot leak through them.
 */
#include "core/err.h"
#include "core/log.h"
#include "crypto/crypto.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* How long a write waits for another handle's transaction. Our transactions are short (a call-log batch of
 * a few thousand rows takes tens of ms), so 5 s only expires when the database is wedged, and a worker
 * thread (never an event loop) is the one waiting. */
#define IG_SQLITE_BUSY_MS 5000

static const char *const migrations[] = {
    /* v1: orgs, API keys (hashes only), provider credentials (sealed envelopes), call log. */
    "CREATE TABLE orgs ("
    " id TEXT NOT NULL PRIMARY KEY,"
    " slug TEXT NOT NULL UNIQUE,"
    " name TEXT NOT NULL,"
    " default_provider TEXT,"
    " created_at INTEGER NOT NULL);"
    "CREATE TABLE api_keys ("
    " id TEXT NOT NULL PRIMARY KEY,"
    " org_id TEXT NOT NULL REFERENCES orgs(id),"
    " key_hash BLOB NOT NULL UNIQUE CHECK (length(key_hash) = 32),"
    " hash_prefix TEXT NOT NULL,"
    " name TEXT,"
    " role INTEGER NOT NULL CHECK (role BETWEEN 0 AND 3),"
    " created_at INTEGER NOT NULL,"
    " expires_at INTEGER,"
    " revoked_at INTEGER);"
    "CREATE INDEX api_keys_org ON api_keys (org_id);"
    "CREATE INDEX api_keys_prefix ON api_keys (hash_prefix);"
    "CREATE TABLE provider_credentials ("
    " org_id TEXT NOT NULL REFERENCES orgs(id),"
    " provider TEXT NOT NULL,"
    " auth_mode INTEGER NOT NULL CHECK (auth_mode IN (0, 1)),"
    " secret BLOB,"
    " updated_at INTEGER NOT NULL,"
    " PRIMARY KEY (org_id, provider));"
    "CREATE TABLE calls ("
    " id TEXT NOT NULL PRIMARY KEY,"
    " org_id TEXT,"
    " key_prefix TEXT,"
    " provider TEXT,"
    " method TEXT,"
    " path TEXT,"
    " model TEXT,"
    " status INTEGER,"
    " stream INTEGER,"
    " latency_ms DOUBLE PRECISION,"
    " ttfb_ms DOUBLE PRECISION,"
    " req_bytes INTEGER,"
    " resp_bytes INTEGER,"
    " req_truncated INTEGER,"
    " resp_truncated INTEGER,"
    " error TEXT,"
    " created_at INTEGER NOT NULL);"
    "CREATE INDEX calls_org_created ON calls (org_id, created_at);",
    /* v2: users (bcrypt hashes only), their org memberships, who created a key, the hash-chained audit log.
     * audit.seq is assigned by the writer (last + 1 under the write lock), not by the database, so it is
     * part of the hashed content and the same on every backend. */
    "CREATE TABLE users ("
    " id TEXT NOT NULL PRIMARY KEY,"
    " email TEXT NOT NULL UNIQUE,"
    " password_hash TEXT NOT NULL,"
    " display_name TEXT,"
    " created_at INTEGER NOT NULL,"
    " password_changed_at INTEGER NOT NULL);"
    "CREATE TABLE memberships ("
    " user_id TEXT NOT NULL REFERENCES users(id),"
    " org_id TEXT NOT NULL REFERENCES orgs(id),"
    " role INTEGER NOT NULL CHECK (role BETWEEN 0 AND 3),"
    " created_at INTEGER NOT NULL,"
    " PRIMARY KEY (user_id, org_id));"
    "CREATE INDEX memberships_org ON memberships (org_id);"
    "ALTER TABLE api_keys ADD COLUMN created_by TEXT REFERENCES users(id);"
    "CREATE TABLE audit ("
    " seq INTEGER NOT NULL PRIMARY KEY,"
    " id TEXT NOT NULL UNIQUE,"
    " org_id TEXT,"
    " actor TEXT NOT NULL,"
    " action TEXT NOT NULL,"
    " target TEXT,"
    " source_ip TEXT,"
    " request_id TEXT,"
    " created_at INTEGER NOT NULL,"
    " prev_hash BLOB NOT NULL CHECK (length(prev_hash) = 32),"
    " hash BLOB NOT NULL CHECK (length(hash) = 32));"
    "CREATE INDEX audit_org_seq ON audit (org_id, seq);",
    /* v3: an org's plan and settings; teams and apps (named groups of an org that keys point at); a key's
     * app and last use, and the key behind a call; console sessions (revocable by jti); invitations (the
     * one-time token's SHA-256 only). Every new table is scoped by org_id, and every query of it filters on
     * org_id too, so an id of another org behaves exactly like a missing one. Deleting a team or an app
     * clears the references to it in the same transaction (no ON DELETE actions: both backends do it in
     * their own code, so the behaviour does not depend on foreign-key enforcement). */
    "CREATE TABLE teams ("
    " id TEXT NOT NULL PRIMARY KEY,"
    " org_id TEXT NOT NULL REFERENCES orgs(id),"
    " name TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " UNIQUE (org_id, name));"
    "CREATE TABLE apps ("
    " id TEXT NOT NULL PRIMARY KEY,"
    " org_id TEXT NOT NULL REFERENCES orgs(id),"
    " team_id TEXT REFERENCES teams(id),"
    " name TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " UNIQUE (org_id, name));"
    "CREATE INDEX apps_team ON apps (team_id);"
    "ALTER TABLE orgs ADD COLUMN plan INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE orgs ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';"
    "ALTER TABLE orgs ADD COLUMN data_key BLOB;"
    "ALTER TABLE api_keys ADD COLUMN app_id TEXT REFERENCES apps(id);"
    "ALTER TABLE api_keys ADD COLUMN last_used_at INTEGER;"
    "ALTER TABLE api_keys ADD COLUMN replaced_by TEXT;"
    "CREATE INDEX api_keys_app ON api_keys (app_id);"
    "CREATE INDEX api_keys_creator ON api_keys (created_by, org_id);"
    "ALTER TABLE calls ADD COLUMN key_id TEXT;"
    "CREATE TABLE sessions ("
    " jti TEXT NOT NULL PRIMARY KEY,"
    " user_id TEXT NOT NULL REFERENCES users(id),"
    " org_id TEXT NOT NULL REFERENCES orgs(id),"
    " created_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " revoked_at INTEGER);"
    "CREATE INDEX sessions_user ON sessions (user_id);"
    "CREATE INDEX sessions_org ON sessions (org_id);"
    "CREATE INDEX sessions_expires ON sessions (expires_at);"
    "CREATE TABLE invitations ("
    " id TEXT NOT NULL PRIMARY KEY,"
    " org_id TEXT NOT NULL REFERENCES orgs(id),"
    " email TEXT NOT NULL,"
    " role INTEGER NOT NULL CHECK (role BETWEEN 0 AND 3),"
    " token_hash BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),"
    " invited_by TEXT REFERENCES users(id),"
    " created_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " accepted_at INTEGER,"
    " revoked_at INTEGER,"
    " email_enc BLOB);"
    "CREATE INDEX invitations_org_email ON invitations (org_id, email);"
    /* identity columns sealed (store.h): email holds the lookup tag, email_enc / display_enc the values */
    "ALTER TABLE users ADD COLUMN email_enc BLOB;"
    "ALTER TABLE users ADD COLUMN display_enc BLOB;"
    /* outbound webhooks: the signing secret and each payload are sealed (AAD = org and row id); a delivery
     * is one event to one webhook, retried until it succeeds or runs out of attempts, each one recorded */
    /* the control data key and any later process-wide data key, wrapped under the master key's KEK */
    "CREATE TABLE control_keys ("
    " name TEXT NOT NULL PRIMARY KEY,"
    " wrapped BLOB NOT NULL,"
    " updated_at INTEGER NOT NULL);"
    "CREATE TABLE webhooks ("
    " id TEXT NOT NULL PRIMARY KEY,"
    " org_id TEXT NOT NULL REFERENCES orgs(id),"
    " url TEXT NOT NULL,"
    " events TEXT NOT NULL,"
    " description TEXT,"
    " enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),"
    " secret BLOB NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL);"
    "CREATE INDEX webhooks_org ON webhooks (org_id);"
    "CREATE TABLE webhook_deliveries ("
    " id TEXT NOT NULL PRIMARY KEY,"
    " org_id TEXT NOT NULL REFERENCES orgs(id),"
    " webhook_id TEXT NOT NULL REFERENCES webhooks(id),"
    " event_id TEXT NOT NULL,"
    " event_type TEXT NOT NULL,"
    " payload BLOB NOT NULL,"
    " status INTEGER NOT NULL CHECK (status BETWEEN 0 AND 2),"
    " attempts INTEGER NOT NULL,"
    " next_attempt_at INTEGER,"
    " last_status INTEGER,"
    " last_error TEXT,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL);"
    "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);"
    "CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (webhook_id, created_at);"
    "CREATE INDEX webhook_deliveries_org ON webhook_deliveries (org_id);"
    "CREATE TABLE webhook_attempts ("
    " delivery_id TEXT NOT NULL REFERENCES webhook_deliveries(id),"
    " org_id TEXT NOT NULL REFERENCES orgs(id),"
    " attempt INTEGER NOT NULL,"
    " started_at INTEGER NOT NULL,"
    " status_code INTEGER,"
    " error TEXT,"
    " duration_ms INTEGER NOT NULL,"
    " PRIMARY KEY (delivery_id, attempt));"
    "CREATE INDEX webhook_attempts_org ON webhook_attempts (org_id);",
    /* v4: the source address of an audit entry is identity data. The chain of v2-v3 (one for all orgs,
     * addresses in clear) becomes audit_v1 and is kept only until the start-up upgrade (capture/auditlog.c)
     * has moved its entries: those of existing orgs into each org's own chain (its log database,
     * store/orgaudit.h), the rest into the new control chain. The control chain holds the entries without an
     * org and the record of each org's deletion; the address is sealed under the identity key into
     * source_ip_enc (source_ip only in clear mode) and hashed as stored, so the hash reveals nothing. */
    "ALTER TABLE audit RENAME TO audit_v1;"
    "CREATE TABLE audit ("
    " seq INTEGER NOT NULL PRIMARY KEY,"
    " id TEXT NOT NULL UNIQUE,"
    " org_id TEXT,"
    " actor TEXT NOT NULL,"
    " action TEXT NOT NULL,"
    " target TEXT,"
    " source_ip TEXT,"
    " request_id TEXT,"
    " created_at INTEGER NOT NULL,"
    " prev_hash BLOB NOT NULL CHECK (length(prev_hash) = 32),"
    " hash BLOB NOT NULL CHECK (length(hash) = 32),"
    " source_ip_enc BLOB);"
    "CREATE INDEX audit_control_org ON audit (org_id, seq);",
    /* v5: the batch of log records a logs.expiring delivery carries, named by the positions (created_at,
     * seq) of its first and last record in the org's log database: the records themselves are read from
     * there when the delivery is attempted, never copied here. done = 1 once the batch no longer holds its
     * records back (delivered, or failed longer ago than the grace period); the partial index keeps the
     * open ones cheap to find. */
    "CREATE TABLE log_batches ("
    " delivery_id TEXT NOT NULL PRIMARY KEY REFERENCES webhook_deliveries(id),"
    " org_id TEXT NOT NULL REFERENCES orgs(id),"
    " webhook_id TEXT NOT NULL REFERENCES webhooks(id),"
    " first_at INTEGER NOT NULL,"
    " first_seq INTEGER NOT NULL,"
    " last_at INTEGER NOT NULL,"
    " last_seq INTEGER NOT NULL,"
    " records INTEGER NOT NULL,"
    " cutoff INTEGER NOT NULL,"
    " done INTEGER NOT NULL CHECK (done IN (0, 1)),"
    " created_at INTEGER NOT NULL);"
    "CREATE INDEX log_batches_hook ON log_batches (org_id, webhook_id, first_at, first_seq);"
    "CREATE INDEX log_batches_open ON log_batches (org_id, webhook_id, first_at, first_seq) WHERE done = 0;",
    /* v6: a key's own rate limits (requests and tokens per minute), overriding its org's defaults (the org's
     * settings.rate_limits); 0 = the org's default, so every existing key keeps following its org. */
    "ALTER TABLE api_keys ADD COLUMN rate_limit_rpm INTEGER NOT NULL DEFAULT 0"
    " CHECK (rate_limit_rpm >= 0);"
    "ALTER TABLE api_keys ADD COLUMN rate_limit_tpm INTEGER NOT NULL DEFAULT 0"
    " CHECK (rate_limit_tpm >= 0);",
    /* v7: spend budgets (limit/budget.h, docs/budgets.md) of an org, one of its apps or one of its keys
     * (scope_id: the app or key id, '' for the org itself; one budget per scope target), limits in micro-USD
     * per calendar period (UTC); and the spend of each budget per period with the alerts already sent for it
     * (bit 1 budget.warning, bit 2 budget.exceeded), so a restart neither forgets spend nor alerts twice. */
    "CREATE TABLE budgets ("
    " id TEXT NOT NULL PRIMARY KEY,"
    " org_id TEXT NOT NULL REFERENCES orgs(id),"
    " scope INTEGER NOT NULL CHECK (scope BETWEEN 0 AND 2),"
    " scope_id TEXT NOT NULL,"
    " name TEXT,"
    " period INTEGER NOT NULL CHECK (period BETWEEN 0 AND 2),"
    " hard_limit_micros INTEGER NOT NULL CHECK (hard_limit_micros > 0),"
    " soft_limit_micros INTEGER NOT NULL CHECK (soft_limit_micros >= 0"
    " AND soft_limit_micros <= hard_limit_micros),"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL,"
    " UNIQUE (org_id, scope, scope_id));"
    "CREATE TABLE budget_spend ("
    " budget_id TEXT NOT NULL REFERENCES budgets(id),"
    " org_id TEXT NOT NULL REFERENCES orgs(id),"
    " period_start INTEGER NOT NULL,"
    " spent_micros INTEGER NOT NULL CHECK (spent_micros >= 0),"
    " alerted INTEGER NOT NULL CHECK (alerted BETWEEN 0 AND 3),"
    " updated_at INTEGER NOT NULL,"
    " PRIMARY KEY (budget_id, period_start));"
    "CREATE INDEX budget_spend_org ON budget_spend (org_id);",
    /* v8: a key's lineage, the id of the first key of its rotation chain ('' = the key itself): a rotated
     * key keeps its rate-limit counters and its key budget (both are counted per lineage). */
    "ALTER TABLE api_keys ADD COLUMN lineage_id TEXT NOT NULL DEFAULT '';",
    /* v9: budget alerts exactly once per period. `alerted` now means claimed: the log writer that adds the
     * spend crossing a limit claims the bit in the same transaction (the first writer wins, whichever node),
     * and marks it `pending` until the event is queued; a bit still pending (a failed queue, a crash in
     * between) is queued again later. A budget event's id is derived from (budget, period, type), and this
     * index refuses a second delivery of it to one webhook, so queuing again after a crash that followed the
     * first queuing sends nothing twice. */
    "ALTER TABLE budget_spend ADD COLUMN pending INTEGER NOT NULL DEFAULT 0 CHECK (pending BETWEEN 0 AND 3);"
    "CREATE INDEX budget_spend_pending ON budget_spend (updated_at) WHERE pending <> 0;"
    "CREATE UNIQUE INDEX webhook_deliveries_budget_event ON webhook_deliveries (webhook_id, event_id)"
    " WHERE event_type IN ('budget.warning', 'budget.exceeded');",
};

_Static_assert(IG_ARRAY_LEN(migrations) == IG_STORE_SCHEMA_VERSION,
               "store.h IG_STORE_SCHEMA_VERSION must equal the number of SQLite migrations");

#define KEY_COLS                                                                                             \
    "id, org_id, key_hash, hash_prefix, name, role, created_at, expires_at, revoked_at, app_id, created_by," \
    " last_used_at, rate_limit_rpm, rate_limit_tpm, lineage_id"
#define ORG_COLS "id, slug, name, default_provider, created_at, plan, settings"
#define USER_COLS                                                                                            \
    "id, email, password_hash, display_name, created_at, password_changed_at, email_enc, display_enc"
#define MEM_COLS "user_id, org_id, role, created_at"
#define AUDIT_V1_COLS                                                                                        \
    "seq, id, org_id, actor, action, target, source_ip, request_id, created_at, prev_hash, hash"
#define AUDIT_COLS AUDIT_V1_COLS ", source_ip_enc"
#define INV_COLS                                                                                             \
    "id, org_id, email, role, invited_by, created_at, expires_at, accepted_at, revoked_at, email_enc"
#define TEAM_COLS "id, org_id, name, created_at"
#define APP_COLS  "id, org_id, team_id, name, created_at"
#define MEMBER_COLS                                                                                          \
    "m.user_id, m.org_id, m.role, m.created_at, u.email, u.display_name, u.email_enc, u.display_enc"
#define WH_COLS "id, org_id, url, events, description, enabled, secret, created_at, updated_at"
#define DEL_COLS                                                                                             \
    "id, org_id, webhook_id, event_id, event_type, status, attempts, next_attempt_at, last_status,"          \
    " last_error, created_at, updated_at"
#define ATT_COLS "attempt, started_at, status_code, error, duration_ms"
#define BUDGET_COLS                                                                                          \
    "id, org_id, scope, scope_id, name, period, hard_limit_micros, soft_limit_micros, created_at, "          \
    "updated_at"
#define LB_COLS                                                                                              \
    "delivery_id, org_id, webhook_id, first_at, first_seq, last_at, last_seq, records, cutoff, done, "       \
    "created_at"
/* The finished deliveries a purge removes, oldest first (the same rows for each of its statements). */
#define DEL_PURGEABLE                                                                                        \
    "SELECT id FROM webhook_deliveries WHERE status <> 0 AND updated_at < ?1 ORDER BY updated_at, id LIMIT " \
    "?2"
/* Pending invitation: neither accepted nor revoked, and not expired at the bound `now`. */
#define INV_PENDING "accepted_at IS NULL AND revoked_at IS NULL AND expires_at > "

/* The statement cache: one slot per SQL text below. */
#define STMT_MAP(X)                                                                                          \
    X(BEGIN, "BEGIN IMMEDIATE")                                                                              \
    X(COMMIT, "COMMIT")                                                                                      \
    X(ROLLBACK, "ROLLBACK")                                                                                  \
    X(MIG_VERSION, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations")                                \
    X(MIG_INSERT, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)")                       \
    X(MIG_EXISTS, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'")  \
    X(ORG_INSERT, "INSERT INTO orgs (" ORG_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?)")                            \
    X(ORG_BY_ID, "SELECT " ORG_COLS " FROM orgs WHERE id = ?")                                               \
    X(ORG_BY_SLUG, "SELECT " ORG_COLS " FROM orgs WHERE slug = ?")                                           \
    X(ORG_SET_PROVIDER, "UPDATE orgs SET default_provider = ? WHERE id = ?")                                 \
    X(KEY_INSERT,                                                                                            \
      "INSERT INTO api_keys (" KEY_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")            \
    X(KEY_BY_HASH, "SELECT " KEY_COLS " FROM api_keys WHERE key_hash = ?")                                   \
    X(KEY_FIND_ORG, "SELECT " KEY_COLS " FROM api_keys WHERE (id = ? OR hash_prefix = ?) AND org_id = ?"     \
                    " ORDER BY created_at, id LIMIT 2")                                                      \
    X(KEY_FIND_ANY, "SELECT " KEY_COLS " FROM api_keys WHERE id = ? OR hash_prefix = ?"                      \
                    " ORDER BY created_at, id LIMIT 2")                                                      \
    X(KEY_REVOKE, "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")                  \
    X(KEY_LIST, "SELECT " KEY_COLS " FROM api_keys WHERE org_id = ? ORDER BY created_at, id LIMIT ?")        \
    X(PROV_UPSERT, "INSERT INTO provider_credentials (org_id, provider, auth_mode, secret, updated_at)"      \
                   " VALUES (?, ?, ?, ?, ?) ON CONFLICT (org_id, provider) DO UPDATE SET"                    \
                   " auth_mode = excluded.auth_mode, secret = excluded.secret,"                              \
                   " updated_at = excluded.updated_at")                                                      \
    X(PROV_GET, "SELECT auth_mode, secret FROM provider_credentials WHERE org_id = ? AND provider = ?")      \
    X(ORG_DK_GET, "SELECT data_key FROM orgs WHERE id = ?")                                                  \
    X(ORG_IDS, "SELECT id FROM orgs WHERE id > ? ORDER BY id LIMIT ?")                                       \
    X(ORG_DK_SET, "UPDATE orgs SET data_key = ? WHERE id = ? AND data_key IS NULL")                          \
    X(CK_GET, "SELECT wrapped FROM control_keys WHERE name = ?")                                             \
    X(CK_INIT,                                                                                               \
      "INSERT INTO control_keys (name, wrapped, updated_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING")        \
    X(CALL_INSERT,                                                                                           \
      "INSERT INTO calls (id, org_id, key_prefix, provider, method, path, model, status,"                    \
      " stream, latency_ms, ttfb_ms, req_bytes, resp_bytes, req_truncated, resp_truncated,"                  \
      " error, created_at, key_id) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15," \
      " ?16, ?17, ?18 WHERE EXISTS (SELECT 1 FROM orgs WHERE id = ?2)"                                       \
      " ON CONFLICT (id) DO NOTHING")                                                                        \
    X(CALLS_COUNT_ORG, "SELECT COUNT(*) FROM calls WHERE org_id = ?")                                        \
    X(CALLS_COUNT_ALL, "SELECT COUNT(*) FROM calls")                                                         \
    X(USER_INSERT, "INSERT INTO users (" USER_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)")                      \
    X(USER_BY_ID, "SELECT " USER_COLS " FROM users WHERE id = ?")                                            \
    X(USER_BY_EMAIL, "SELECT " USER_COLS " FROM users WHERE email = ?")                                      \
    X(USER_EMAIL_TAKEN, "SELECT COUNT(*) FROM users WHERE email = ?")                                        \
    X(ORG_SLUG_TAKEN, "SELECT COUNT(*) FROM orgs WHERE slug = ?")                                            \
    X(USER_SET_PW, "UPDATE users SET password_hash = ?, password_changed_at = ? WHERE id = ?")               \
    X(MEM_INSERT, "INSERT INTO memberships (" MEM_COLS ") VALUES (?, ?, ?, ?)")                              \
    X(MEM_GET, "SELECT " MEM_COLS " FROM memberships WHERE user_id = ? AND org_id = ?")                      \
    X(MEM_OF_USER, "SELECT " MEM_COLS " FROM memberships WHERE user_id = ?"                                  \
                   " ORDER BY created_at, org_id LIMIT ?")                                                   \
    X(AUDIT_TAIL, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1")                                   \
    X(AUDIT_INSERT, "INSERT INTO audit (" AUDIT_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")        \
    X(AUDIT_ALL, "SELECT " AUDIT_COLS " FROM audit ORDER BY seq")                                            \
    X(AUDIT_ID_TAKEN, "SELECT COUNT(*) FROM audit WHERE id = ?")                                             \
    X(AUDIT_V1_TAIL, "SELECT seq, hash FROM audit_v1 ORDER BY seq DESC LIMIT 1")                             \
    X(AUDIT_V1_ALL, "SELECT " AUDIT_V1_COLS " FROM audit_v1 ORDER BY seq")                                   \
    X(AUDIT_V1_PAGE, "SELECT " AUDIT_V1_COLS " FROM audit_v1 WHERE seq > ? ORDER BY seq LIMIT ?")            \
    X(AUDIT_V1_REST, "SELECT " AUDIT_V1_COLS " FROM audit_v1 WHERE org_id IS NULL OR action = 'org.delete'"  \
                     " OR org_id NOT IN (SELECT id FROM orgs) ORDER BY seq")                                 \
    X(AUDIT_V1_CLEAR, "DELETE FROM audit_v1")                                                                \
    STMT_MAP_V3(X)

/* v3 statements. Numbered parameters (?N) where one value is used twice. */
#define STMT_MAP_V3(X)                                                                                       \
    X(ORG_EXISTS, "SELECT COUNT(*) FROM orgs WHERE id = ?")                                                  \
    X(ORG_UPDATE, "UPDATE orgs SET name = COALESCE(?1, name),"                                               \
                  " default_provider = CASE WHEN ?2 = 1 THEN ?3 ELSE default_provider END,"                  \
                  " settings = COALESCE(?4, settings) WHERE id = ?5")                                        \
    X(ORG_SET_PLAN, "UPDATE orgs SET plan = ? WHERE id = ?")                                                 \
    X(ORG_DEL_SESSIONS, "DELETE FROM sessions WHERE org_id = ?")                                             \
    X(ORG_DEL_INVITES, "DELETE FROM invitations WHERE org_id = ?")                                           \
    X(ORG_DEL_MEMBERS, "DELETE FROM memberships WHERE org_id = ?")                                           \
    X(ORG_DEL_KEYS, "DELETE FROM api_keys WHERE org_id = ?")                                                 \
    X(ORG_DEL_APPS, "DELETE FROM apps WHERE org_id = ?")                                                     \
    X(ORG_DEL_TEAMS, "DELETE FROM teams WHERE org_id = ?")                                                   \
    X(ORG_DEL_PROVIDERS, "DELETE FROM provider_credentials WHERE org_id = ?")                                \
    X(ORG_DEL_CALLS, "DELETE FROM calls WHERE org_id = ?")                                                   \
    X(ORG_DEL, "DELETE FROM orgs WHERE id = ?")                                                              \
    X(MEM_LIST, "SELECT " MEMBER_COLS " FROM memberships m JOIN users u ON u.id = m.user_id"                 \
                " WHERE m.org_id = ? ORDER BY m.created_at, m.user_id LIMIT ?")                              \
    X(MEM_SET_ROLE, "UPDATE memberships SET role = ? WHERE user_id = ? AND org_id = ?")                      \
    X(MEM_DELETE, "DELETE FROM memberships WHERE user_id = ? AND org_id = ?")                                \
    X(MEM_OWNERS, "SELECT COUNT(*) FROM memberships WHERE org_id = ? AND role = 3")                          \
    X(KEY_CAP_ROLE, "UPDATE api_keys SET role = ?1 WHERE org_id = ?2 AND created_by = ?3 AND role > ?1")     \
    X(KEY_REVOKE_BY, "UPDATE api_keys SET revoked_at = ? WHERE org_id = ? AND created_by = ?"                \
                     " AND revoked_at IS NULL")                                                              \
    X(KEY_GET, "SELECT " KEY_COLS " FROM api_keys WHERE id = ? AND org_id = ?")                              \
    X(KEY_SET_EXPIRY, "UPDATE api_keys SET expires_at = ? WHERE id = ?")                                     \
    X(KEY_SET_LIMITS, "UPDATE api_keys SET rate_limit_rpm = ?, rate_limit_tpm = ? WHERE id = ?")             \
    X(KEY_MARK_REPLACED, "UPDATE api_keys SET replaced_by = ? WHERE id = ? AND replaced_by IS NULL")         \
    X(KEY_TOUCH, "UPDATE api_keys SET last_used_at = ?1 WHERE id = ?2 AND org_id = ?3"                       \
                 " AND (last_used_at IS NULL OR last_used_at < ?1)")                                         \
    X(KEY_UNSET_APP, "UPDATE api_keys SET app_id = NULL WHERE app_id = ? AND org_id = ?")                    \
    X(SESS_INSERT,                                                                                           \
      "INSERT INTO sessions (jti, user_id, org_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)")          \
    X(SESS_GC,                                                                                               \
      "DELETE FROM sessions WHERE jti IN (SELECT jti FROM sessions WHERE expires_at < ? LIMIT 100)")         \
    X(SESS_CHECK, "SELECT m.role FROM sessions s JOIN memberships m"                                         \
                  " ON m.user_id = s.user_id AND m.org_id = s.org_id WHERE s.jti = ? AND s.user_id = ?"      \
                  " AND s.org_id = ? AND s.revoked_at IS NULL AND s.expires_at > ?")                         \
    X(SESS_REVOKE, "UPDATE sessions SET revoked_at = COALESCE(revoked_at, ?) WHERE jti = ?")                 \
    X(SESS_REVOKE_USER, "UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL")       \
    X(SESS_REVOKE_MEMBER, "UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND org_id = ?"              \
                          " AND revoked_at IS NULL")                                                         \
    X(INV_INSERT,                                                                                            \
      "INSERT INTO invitations (" INV_COLS ", token_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")         \
    X(INV_MEMBER_EMAIL, "SELECT COUNT(*) FROM memberships m JOIN users u ON u.id = m.user_id"                \
                        " WHERE m.org_id = ? AND u.email = ?")                                               \
    X(INV_PENDING_EMAIL,                                                                                     \
      "SELECT COUNT(*) FROM invitations WHERE org_id = ? AND email = ? AND " INV_PENDING "?")                \
    X(INV_LIST, "SELECT " INV_COLS " FROM invitations WHERE org_id = ? AND " INV_PENDING "?"                 \
                " ORDER BY created_at, id LIMIT ?")                                                          \
    X(INV_REVOKE,                                                                                            \
      "UPDATE invitations SET revoked_at = ?1 WHERE id = ?2 AND org_id = ?3 AND " INV_PENDING "?1")          \
    X(INV_GET, "SELECT " INV_COLS " FROM invitations WHERE id = ? AND org_id = ?")                           \
    X(INV_BY_TOKEN, "SELECT " INV_COLS " FROM invitations WHERE token_hash = ? AND " INV_PENDING "?")        \
    X(INV_ACCEPT, "UPDATE invitations SET accepted_at = ? WHERE id = ? AND accepted_at IS NULL")             \
    X(TEAM_INSERT, "INSERT INTO teams (" TEAM_COLS ") VALUES (?, ?, ?, ?)")                                  \
    X(TEAM_LIST, "SELECT " TEAM_COLS " FROM teams WHERE org_id = ? ORDER BY created_at, id LIMIT ?")         \
    X(TEAM_IN_ORG, "SELECT COUNT(*) FROM teams WHERE id = ? AND org_id = ?")                                 \
    X(TEAM_DELETE, "DELETE FROM teams WHERE id = ? AND org_id = ?")                                          \
    X(APP_INSERT, "INSERT INTO apps (" APP_COLS ") VALUES (?, ?, ?, ?, ?)")                                  \
    X(APP_LIST, "SELECT " APP_COLS " FROM apps WHERE org_id = ? ORDER BY created_at, id LIMIT ?")            \
    X(APP_IN_ORG, "SELECT COUNT(*) FROM apps WHERE id = ? AND org_id = ?")                                   \
    X(APP_UNSET_TEAM, "UPDATE apps SET team_id = NULL WHERE team_id = ? AND org_id = ?")                     \
    X(APP_DELETE, "DELETE FROM apps WHERE id = ? AND org_id = ?")                                            \
    X(PROV_DELETE, "DELETE FROM provider_credentials WHERE org_id = ? AND provider = ?")                     \
    X(AUDIT_QUERY, "SELECT " AUDIT_COLS " FROM audit WHERE org_id = ?1 AND seq < ?2"                         \
                   " AND (?3 IS NULL OR action = ?3) AND (?4 IS NULL OR actor = ?4)"                         \
                   " AND (?5 IS NULL OR target = ?5) AND (?6 IS NULL OR created_at >= ?6)"                   \
                   " AND (?7 IS NULL OR created_at <= ?7) ORDER BY seq DESC LIMIT ?8")                       \
    X(AUDIT_GET, "SELECT " AUDIT_COLS " FROM audit WHERE id = ? AND org_id = ?")                             \
    STMT_MAP_WEBHOOKS(X)                                                                                     \
    STMT_MAP_LOGBATCHES(X)                                                                                   \
    STMT_MAP_BUDGETS(X)

/* Webhook statements: every one of an org's rows is reached through org_id, except those of the delivery
 * thread (due, next due, lease, purge), which serves all orgs. */
#define STMT_MAP_WEBHOOKS(X)                                                                                 \
    X(ORG_DEL_WH_ATTEMPTS, "DELETE FROM webhook_attempts WHERE org_id = ?")                                  \
    X(ORG_DEL_WH_DELIVERIES, "DELETE FROM webhook_deliveries WHERE org_id = ?")                              \
    X(ORG_DEL_WEBHOOKS, "DELETE FROM webhooks WHERE org_id = ?")                                             \
    X(WH_INSERT, "INSERT INTO webhooks (" WH_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")                    \
    X(WH_COUNT_ORG, "SELECT COUNT(*) FROM webhooks WHERE org_id = ?")                                        \
    X(WH_GET, "SELECT " WH_COLS " FROM webhooks WHERE id = ? AND org_id = ?")                                \
    X(WH_LIST, "SELECT " WH_COLS " FROM webhooks WHERE org_id = ? ORDER BY created_at, id LIMIT ?")          \
    X(WH_UPDATE, "UPDATE webhooks SET url = COALESCE(?1, url), events = COALESCE(?2, events),"               \
                 " description = CASE WHEN ?3 = 1 THEN ?4 ELSE description END,"                             \
                 " enabled = COALESCE(?5, enabled), updated_at = ?6 WHERE id = ?7 AND org_id = ?8")          \
    X(WH_DEL_ATTEMPTS, "DELETE FROM webhook_attempts WHERE delivery_id IN"                                   \
                       " (SELECT id FROM webhook_deliveries WHERE webhook_id = ?1 AND org_id = ?2)")         \
    X(WH_DEL_DELIVERIES, "DELETE FROM webhook_deliveries WHERE webhook_id = ? AND org_id = ?")               \
    X(WH_DELETE, "DELETE FROM webhooks WHERE id = ? AND org_id = ?")                                         \
    X(DEL_INSERT,                                                                                            \
      "INSERT INTO webhook_deliveries (" DEL_COLS ", payload) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"    \
      " ?10, ?11, ?12, ?13 WHERE EXISTS (SELECT 1 FROM webhooks WHERE id = ?3 AND org_id = ?2)")             \
    X(DEL_PAYLOAD, "SELECT payload FROM webhook_deliveries WHERE id = ? AND org_id = ?")                     \
    X(DEL_GET, "SELECT " DEL_COLS " FROM webhook_deliveries WHERE id = ? AND org_id = ?")                    \
    X(DEL_DUE, "SELECT " DEL_COLS " FROM webhook_deliveries WHERE status = 0 AND next_attempt_at <= ?"       \
               " ORDER BY next_attempt_at, id LIMIT ?")                                                      \
    X(DEL_NEXT_DUE, "SELECT MIN(next_attempt_at) FROM webhook_deliveries WHERE status = 0")                  \
    X(DEL_LEASE, "UPDATE webhook_deliveries SET next_attempt_at = ?1 WHERE id = ?2 AND status = 0"           \
                 " AND next_attempt_at <= ?3")                                                               \
    X(DEL_UPDATE, "UPDATE webhook_deliveries SET attempts = ?1, status = ?2, next_attempt_at = ?3,"          \
                  " last_status = ?4, last_error = ?5, updated_at = ?6 WHERE id = ?7 AND org_id = ?8")       \
    X(DEL_LIST, "SELECT " DEL_COLS " FROM webhook_deliveries WHERE org_id = ?1 AND webhook_id = ?2"          \
                " ORDER BY created_at DESC, id DESC LIMIT ?3")                                               \
    X(ATT_INSERT, "INSERT INTO webhook_attempts (delivery_id, org_id, " ATT_COLS ")"                         \
                  " VALUES (?, ?, ?, ?, ?, ?, ?)")                                                           \
    X(ATT_LIST, "SELECT " ATT_COLS " FROM webhook_attempts WHERE org_id = ?1 AND delivery_id = ?2"           \
                " ORDER BY attempt LIMIT ?3")                                                                \
    X(DEL_PURGE_ATTEMPTS, "DELETE FROM webhook_attempts WHERE delivery_id IN (" DEL_PURGEABLE ")")           \
    X(DEL_PURGE, "DELETE FROM webhook_deliveries WHERE id IN (" DEL_PURGEABLE ")")

/* logs.expiring batches (v5): reached through org_id, and deleted with their delivery, webhook or org. */
#define STMT_MAP_LOGBATCHES(X)                                                                               \
    X(ORG_DEL_LOGBATCHES, "DELETE FROM log_batches WHERE org_id = ?")                                        \
    X(WH_DEL_LOGBATCHES, "DELETE FROM log_batches WHERE webhook_id = ? AND org_id = ?")                      \
    X(DEL_PURGE_LOGBATCHES, "DELETE FROM log_batches WHERE delivery_id IN (" DEL_PURGEABLE ")")              \
    X(LB_INSERT, "INSERT INTO log_batches (" LB_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")           \
    X(LB_GET, "SELECT " LB_COLS " FROM log_batches WHERE delivery_id = ? AND org_id = ?")                    \
    X(LB_LAST, "SELECT last_at, last_seq FROM log_batches WHERE org_id = ?1 AND webhook_id = ?2"             \
               " ORDER BY first_at DESC, first_seq DESC LIMIT 1")                                            \
    X(LB_CLOSE, "UPDATE log_batches SET done = 1 WHERE org_id = ?1 AND webhook_id = ?2 AND done = 0"         \
                " AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.id = log_batches.delivery_id"   \
                " AND (d.status = 0 OR (d.status = 2 AND d.updated_at > ?3)))")                              \
    X(LB_OPEN, "SELECT COUNT(*) FROM log_batches WHERE org_id = ?1 AND webhook_id = ?2 AND done = 0")        \
    X(LB_OPEN_FIRST, "SELECT first_at, first_seq FROM log_batches WHERE org_id = ?1 AND webhook_id = ?2"     \
                     " AND done = 0 ORDER BY first_at, first_seq LIMIT 1")

/* Budgets (v7): reached through org_id; spend rows go with their budget or org. A spend row is only added for
 * a budget that still exists (a call settled after its budget was deleted leaves nothing behind). */
#define STMT_MAP_BUDGETS(X)                                                                                  \
    X(ORG_DEL_BUDGET_SPEND, "DELETE FROM budget_spend WHERE org_id = ?")                                     \
    X(ORG_DEL_BUDGETS, "DELETE FROM budgets WHERE org_id = ?")                                               \
    X(BUDGET_INSERT, "INSERT INTO budgets (" BUDGET_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")          \
    X(BUDGET_COUNT_ORG, "SELECT COUNT(*) FROM budgets WHERE org_id = ?")                                     \
    X(BUDGET_KEY_IN_ORG, "SELECT COUNT(*) FROM api_keys WHERE id = ? AND org_id = ?")                        \
    X(BUDGET_GET, "SELECT " BUDGET_COLS " FROM budgets WHERE id = ? AND org_id = ?")                         \
    X(BUDGET_LIST, "SELECT " BUDGET_COLS " FROM budgets WHERE org_id = ? ORDER BY created_at, id LIMIT ?")   \
    X(BUDGET_UPDATE, "UPDATE budgets SET name = ?1, period = ?2, hard_limit_micros = ?3,"                    \
                     " soft_limit_micros = ?4, updated_at = ?5 WHERE id = ?6 AND org_id = ?7")               \
    X(BUDGET_DEL_SPEND, "DELETE FROM budget_spend WHERE budget_id = ? AND org_id = ?")                       \
    X(BUDGET_DELETE, "DELETE FROM budgets WHERE id = ? AND org_id = ?")                                      \
    X(BUDGET_SPEND_GET, "SELECT spent_micros, alerted FROM budget_spend WHERE budget_id = ?1"                \
                        " AND period_start = ?2")                                                            \
    X(BUDGET_SPEND_ADD,                                                                                      \
      "INSERT INTO budget_spend (budget_id, org_id, period_start, spent_micros, alerted, pending, "          \
      "updated_at)"                                                                                          \
      " SELECT ?1, ?2, ?3, ?4, ?5, ?5, ?6 WHERE EXISTS (SELECT 1 FROM budgets WHERE id = ?1 AND org_id = "   \
      "?2)"                                                                                                  \
      " ON CONFLICT (budget_id, period_start) DO UPDATE SET spent_micros = CASE"                             \
      " WHEN budget_spend.spent_micros > 9000000000000000000 - excluded.spent_micros"                        \
      " THEN 9000000000000000000 ELSE budget_spend.spent_micros + excluded.spent_micros END,"                \
      " pending = budget_spend.pending | (excluded.alerted & ~budget_spend.alerted),"                        \
      " alerted = budget_spend.alerted | excluded.alerted, updated_at = excluded.updated_at")                \
    X(BUDGET_ALERT_DONE, "UPDATE budget_spend SET pending = pending & ~?3 WHERE budget_id = ?1"              \
                         " AND period_start = ?2")                                                           \
    X(BUDGET_ALERTS_PENDING,                                                                                 \
      "SELECT b.id, b.org_id, b.scope, b.scope_id, b.name, b.period, b.hard_limit_micros,"                   \
      " b.soft_limit_micros, b.created_at, b.updated_at, s.period_start, s.spent_micros, s.pending"          \
      " FROM budget_spend s JOIN budgets b ON b.id = s.budget_id WHERE s.pending <> 0"                       \
      " ORDER BY s.updated_at, s.budget_id, s.period_start LIMIT ?1")

enum {
#define STMT_ENUM(name, sql) ST_##name,
    STMT_MAP(STMT_ENUM)
#undef STMT_ENUM
        ST__COUNT
};

static const char *const stmt_sql[ST__COUNT] = {
#define STMT_SQL(name, sql) sql,
    STMT_MAP(STMT_SQL)
#undef STMT_SQL
};

typedef struct {
    ig_store_t base; /* first: the generic handle */
    sqlite3 *db;
    sqlite3_stmt *stmts[ST__COUNT];
} sq_store_t;

static sq_store_t *sq(ig_store_t *st)
{
    return (sq_store_t *)st;
}

/* Maps an SQLite result code (extended codes on) onto our errors, logging the unexpected ones. */
static int map_err(sq_store_t *s, int src, const char *what)
{
    int rc;
    switch (src & 0xff) {
    case SQLITE_CONSTRAINT:
        /* a missing parent row (the org of a key or credential) is "not found", not a conflict */
        rc = src == SQLITE_CONSTRAINT_FOREIGNKEY ? IG_ENOTFOUND : IG_ECONFLICT;
        IG_DEBUG("store", "%s: %s", what, s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(src));
        return rc;
    case SQLITE_NOMEM:
        rc = IG_ENOMEM;
        break;
    case SQLITE_ERROR:
    case SQLITE_MISUSE:
    case SQLITE_RANGE:
    case SQLITE_MISMATCH:
        rc = IG_EINTERNAL;
        break;
    default: /* BUSY, LOCKED, IOERR, FULL, CANTOPEN, READONLY, CORRUPT, NOTADB, PERM, … */
        rc = IG_ESTORE;
        break;
    }
    IG_ERROR("store", "sqlite %s failed: %s (%s)", what, s->db ? sqlite3_errmsg(s->db) : "no connection",
             sqlite3_errstr(src));
    return rc;
}

/* The cached statement `id`, prepared on first use. Release it with done(). */
static int stmt(sq_store_t *s, int id, sqlite3_stmt **out)
{
    int rc = IG_OK;
    if (!s->stmts[id]) {
        int src = sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &s->stmts[id], NULL);
        if (src != SQLITE_OK) {
            rc = map_err(s, src, "prepare");
            s->stmts[id] = NULL;
            goto out;
        }
    }
    *out = s->stmts[id];
out:
    return rc;
}

static void done(sqlite3_stmt *st)
{
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
}

/* Runs a statement that returns no rows (already bound). */
static int step_done(sq_store_t *s, sqlite3_stmt *st, const char *what)
{
    int src = sqlite3_step(st);
    return src == SQLITE_DONE ? IG_OK : map_err(s, src, what);
}

/* Runs one of the argument-less cached statements (BEGIN, COMMIT, ROLLBACK). */
static int run(sq_store_t *s, int id, const char *what)
{
    sqlite3_stmt *st = NULL;
    int rc = stmt(s, id, &st);
    if (rc == IG_OK) rc = step_done(s, st, what);
    done(st);
    return rc;
}

static int tx_begin(sq_store_t *s)
{
    return run(s, ST_BEGIN, "begin");
}

static int tx_commit(sq_store_t *s)
{
    return run(s, ST_COMMIT, "commit");
}

/* Rolls back if a transaction is open (a failed COMMIT may have ended it already). */
static void tx_rollback(sq_store_t *s)
{
    if (!sqlite3_get_autocommit(s->db)) run(s, ST_ROLLBACK, "rollback");
}

/* Ends an update-and-read-back inside the transaction the caller began: runs the bound UPDATE q, reads the
 * row back with get (so out is exactly the row this call left) and commits. IG_ENOTFOUND when no row
 * changed; any error rolls back. */
static int update_read_back(sq_store_t *s, sqlite3_stmt *q, const char *what,
                            int (*get)(sq_store_t *, const char *, const char *, void *), const char *org_id,
                            const char *id, void *out)
{
    int rc = step_done(s, q, what);
    if (rc == IG_OK && sqlite3_changes(s->db) == 0) rc = IG_ENOTFOUND;
    done(q);
    if (rc == IG_OK) rc = get(s, org_id, id, out);
    if (rc == IG_OK) rc = tx_commit(s);
    if (rc) tx_rollback(s);
    return rc;
}

/* Text or NULL. SQLITE_STATIC: callers keep the string alive until done(). */
static int bind_text(sqlite3_stmt *st, int i, const char *v)
{
    return v ? sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

/* "" is stored as NULL (optional text fields of the record structs). */
static int bind_opt_text(sqlite3_stmt *st, int i, const char *v)
{
    return bind_text(st, i, v && *v ? v : NULL);
}

/* 0 is stored as NULL (optional timestamps). */
static int bind_opt_i64(sqlite3_stmt *st, int i, int64_t v)
{
    return v ? sqlite3_bind_int64(st, i, v) : sqlite3_bind_null(st, i);
}

/* Copies a text column into a fixed array; NULL reads as "". IG_EINTERNAL if the stored value is longer
 * than our invariants allow (the row was not written by us). */
static int col_text(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
    const unsigned char *v = sqlite3_column_text(st, i);
    size_t n = (size_t)sqlite3_column_bytes(st, i);
    if (!v) n = 0;
    if (n >= cap) return IG_EINTERNAL;
    if (n) memcpy(dst, v, n);
    dst[n] = '\0';
    return IG_OK;
}

/* Steps the bound statement q, reading rows of `size` bytes into out[0..cap) through read(). A row beyond
 * cap gives IG_ETOOBIG when strict (list statements ask for cap + 1 rows to tell "more" from "exactly cap"),
 * and is left unread otherwise. *n = the rows read (0 on any other error). */
static int step_rows(sq_store_t *s, sqlite3_stmt *q, void *out, size_t size, size_t cap, size_t *n,
                     int (*read)(sqlite3_stmt *, void *), bool strict, const char *what)
{
    size_t got = 0;
    int src, rc = IG_OK;
    while ((src = sqlite3_step(q)) == SQLITE_ROW) {
        if (got == cap) {
            if (strict) rc = IG_ETOOBIG;
            goto out;
        }
        if ((rc = read(q, (char *)out + got * size))) goto out;
        got++;
    }
    if (src != SQLITE_DONE) rc = map_err(s, src, what);
out:
    *n = rc == IG_OK || rc == IG_ETOOBIG ? got : 0;
    return rc;
}

/* an id column (32 hex chars) into a char[33] */
static int read_id_v(sqlite3_stmt *st, void *p)
{
    const unsigned char *id = sqlite3_column_text(st, 0);
    size_t len = id ? strlen((const char *)id) : 0;
    if (!id || len > 32) return IG_EINTERNAL;
    memcpy(p, id, len + 1);
    return IG_OK;
}

static int read_org(sqlite3_stmt *st, ig_org_t *o)
{
    int rc;
    memset(o, 0, sizeof *o);
    if ((rc = col_text(st, 0, o->id, sizeof o->id)) || (rc = col_text(st, 1, o->slug, sizeof o->slug)) ||
        (rc = col_text(st, 2, o->name, sizeof o->name)) ||
        (rc = col_text(st, 3, o->default_provider, sizeof o->default_provider)) ||
        (rc = col_text(st, 6, o->settings, sizeof o->settings)))
        goto out;
    o->created_at = sqlite3_column_int64(st, 4);
    o->plan = sqlite3_column_int(st, 5);
out:
    return rc;
}

static int read_key(sqlite3_stmt *st, ig_keyrec_t *k)
{
    int rc;
    memset(k, 0, sizeof *k);
    if ((rc = col_text(st, 0, k->id, sizeof k->id)) || (rc = col_text(st, 1, k->org_id, sizeof k->org_id)) ||
        (rc = col_text(st, 3, k->hash_prefix, sizeof k->hash_prefix)) ||
        (rc = col_text(st, 4, k->name, sizeof k->name)) ||
        (rc = col_text(st, 9, k->app_id, sizeof k->app_id)) ||
        (rc = col_text(st, 10, k->created_by, sizeof k->created_by)) ||
        (rc = col_text(st, 14, k->lineage_id, sizeof k->lineage_id)))
        goto out;
    const void *h = sqlite3_column_blob(st, 2);
    rc = IG_EINTERNAL;
    if (!h || sqlite3_column_bytes(st, 2) != (int)sizeof k->key_hash) goto out;
    memcpy(k->key_hash, h, sizeof k->key_hash);
    k->role = sqlite3_column_int(st, 5);
    k->created_at = sqlite3_column_int64(st, 6);
    k->expires_at = sqlite3_column_int64(st, 7); /* NULL reads as 0 */
    k->revoked_at = sqlite3_column_int64(st, 8);
    k->last_used_at = sqlite3_column_int64(st, 11);
    k->rpm_limit = sqlite3_column_int64(st, 12);
    k->tpm_limit = sqlite3_column_int64(st, 13);
    rc = IG_OK;
out:
    return rc;
}

/* An identity column: the sealed value of column enc when present, else the clear text of column clear. */
static int col_identity(sqlite3_stmt *st, int clear, int enc, const char *table, const char *row_id,
                        const char *field, char *out, size_t cap)
{
    const void *ct = sqlite3_column_blob(st, enc);
    int len = sqlite3_column_bytes(st, enc);
    if (ct && len > 0) {
        int rc = ig_store_identity_open(table, row_id, field, ct, (size_t)len, out, cap);
        if (rc) IG_ERROR("store", "%s %s: %s does not decrypt (%s)", table, row_id, field, ig_err_name(rc));
        return rc ? IG_EINTERNAL : IG_OK;
    }
    return col_text(st, clear, out, cap);
}

static int read_user(sqlite3_stmt *st, ig_user_t *u)
{
    int rc;
    memset(u, 0, sizeof *u);
    if ((rc = col_text(st, 0, u->id, sizeof u->id)) ||
        (rc = col_identity(st, 1, 6, "users", u->id, "email", u->email, sizeof u->email)) ||
        (rc = col_text(st, 2, u->password_hash, sizeof u->password_hash)) ||
        (rc =
             col_identity(st, 3, 7, "users", u->id, "display_name", u->display_name, sizeof u->display_name)))
        goto out;
    u->created_at = sqlite3_column_int64(st, 4);
    u->password_changed_at = sqlite3_column_int64(st, 5);
out:
    return rc;
}

static int read_membership(sqlite3_stmt *st, ig_membership_t *m)
{
    int rc;
    memset(m, 0, sizeof *m);
    if ((rc = col_text(st, 0, m->user_id, sizeof m->user_id)) ||
        (rc = col_text(st, 1, m->org_id, sizeof m->org_id)))
        goto out;
    m->role = sqlite3_column_int(st, 2);
    m->created_at = sqlite3_column_int64(st, 3);
out:
    return rc;
}

/* Copies a 32-byte blob column; IG_EINTERNAL when it is NULL or another size. */
static int col_hash(sqlite3_stmt *st, int i, uint8_t out[32])
{
    const void *h = sqlite3_column_blob(st, i);
    if (!h || sqlite3_column_bytes(st, i) != 32) return IG_EINTERNAL;
    memcpy(out, h, 32);
    return IG_OK;
}

/* The first 11 columns (AUDIT_V1_COLS) as stored: source_ip is the clear column ("" when sealed). */
static int read_audit(sqlite3_stmt *st, ig_audit_t *a)
{
    int rc;
    memset(a, 0, sizeof *a);
    a->seq = sqlite3_column_int64(st, 0);
    if ((rc = col_text(st, 1, a->id, sizeof a->id)) || (rc = col_text(st, 2, a->org_id, sizeof a->org_id)) ||
        (rc = col_text(st, 3, a->actor, sizeof a->actor)) ||
        (rc = col_text(st, 4, a->action, sizeof a->action)) ||
        (rc = col_text(st, 5, a->target, sizeof a->target)) ||
        (rc = col_text(st, 6, a->source_ip, sizeof a->source_ip)) ||
        (rc = col_text(st, 7, a->request_id, sizeof a->request_id)) || (rc = col_hash(st, 9, a->prev_hash)) ||
        (rc = col_hash(st, 10, a->hash)))
        goto out;
    a->created_at = sqlite3_column_int64(st, 8);
out:
    return rc;
}

/* The sealed address of a control-chain row (column 11): *enc / *len, or NULL / 0 when it has none.
 * IG_EINTERNAL when it is larger than our writer makes (the row was not written by us). */
static int col_sealed_ip(sqlite3_stmt *st, const uint8_t **enc, size_t *len)
{
    *enc = sqlite3_column_blob(st, 11);
    *len = *enc ? (size_t)sqlite3_column_bytes(st, 11) : 0;
    if (!*len) *enc = NULL;
    return *len <= IG_AUDIT_SEALED_IP_MAX ? IG_OK : IG_EINTERNAL;
}

/* A control-chain row (AUDIT_COLS) with its address in clear: the sealed one opened with the identity key. */
static int read_audit_open(sqlite3_stmt *st, ig_audit_t *a)
{
    const uint8_t *enc;
    size_t len;
    int rc = read_audit(st, a);
    if (rc == IG_OK) rc = col_sealed_ip(st, &enc, &len);
    if (rc == IG_OK && enc) {
        rc = ig_store_identity_open("audit", a->id, "source_ip", enc, len, a->source_ip, sizeof a->source_ip);
        if (rc) IG_ERROR("store", "audit %s: source_ip does not decrypt (%s)", a->id, ig_err_name(rc));
        if (rc) rc = IG_EINTERNAL;
    }
    return rc;
}

/* void * forms for step_rows */
static int read_audit_legacy_v(sqlite3_stmt *st, void *p)
{
    return read_audit(st, p);
}

static int read_audit_v(sqlite3_stmt *st, void *p)
{
    return read_audit_open(st, p);
}

/* The v3 row readers take void * so one list loop (list_rows) serves them all. */
static int read_invite(sqlite3_stmt *st, void *p)
{
    ig_invite_t *v = p;
    int rc;
    memset(v, 0, sizeof *v);
    if ((rc = col_text(st, 0, v->id, sizeof v->id)) || (rc = col_text(st, 1, v->org_id, sizeof v->org_id)) ||
        (rc = col_identity(st, 2, 9, "invitations", v->id, "email", v->email, sizeof v->email)) ||
        (rc = col_text(st, 4, v->invited_by, sizeof v->invited_by)))
        goto out;
    v->role = sqlite3_column_int(st, 3);
    v->created_at = sqlite3_column_int64(st, 5);
    v->expires_at = sqlite3_column_int64(st, 6);
    v->accepted_at = sqlite3_column_int64(st, 7);
    v->revoked_at = sqlite3_column_int64(st, 8);
out:
    return rc;
}

static int read_team(sqlite3_stmt *st, void *p)
{
    ig_team_t *t = p;
    int rc;
    memset(t, 0, sizeof *t);
    if ((rc = col_text(st, 0, t->id, sizeof t->id)) || (rc = col_text(st, 1, t->org_id, sizeof t->org_id)) ||
        (rc = col_text(st, 2, t->name, sizeof t->name)))
        goto out;
    t->created_at = sqlite3_column_int64(st, 3);
out:
    return rc;
}

static int read_app(sqlite3_stmt *st, void *p)
{
    ig_app_t *a = p;
    int rc;
    memset(a, 0, sizeof *a);
    if ((rc = col_text(st, 0, a->id, sizeof a->id)) || (rc = col_text(st, 1, a->org_id, sizeof a->org_id)) ||
        (rc = col_text(st, 2, a->team_id, sizeof a->team_id)) ||
        (rc = col_text(st, 3, a->name, sizeof a->name)))
        goto out;
    a->created_at = sqlite3_column_int64(st, 4);
out:
    return rc;
}

static int read_member(sqlite3_stmt *st, void *p)
{
    ig_member_t *m = p;
    int rc;
    memset(m, 0, sizeof *m); /* read_membership fills m->m */
    if ((rc = read_membership(st, &m->m)) ||
        (rc = col_identity(st, 4, 6, "users", m->m.user_id, "email", m->email, sizeof m->email)))
        return rc;
    return col_identity(st, 5, 7, "users", m->m.user_id, "display_name", m->display_name,
                        sizeof m->display_name);
}

/* Creates the file with mode 0600 before SQLite opens it (SQLite would use 0644 minus umask; its -wal and
 * -shm files copy the database's mode). An existing file we own that others can read is tightened. */
/* Makes sure the database file exists with mode 0600 — without ever opening and closing a descriptor to a
 * file this process may already have open through SQLite: POSIX drops all of a process's fcntl locks on a
 * file when any descriptor to it is closed, and SQLite relies on those locks (losing them lets another
 * process delete the WAL under us). A new file is created with O_EXCL (no connection can have it open yet);
 * an existing one is only stat'ed and chmod'ed by path. */
static int create_private(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (errno != ENOENT) {
            IG_ERROR("store", "cannot stat database file %s: %s", path, strerror(errno));
            return IG_ESTORE;
        }
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            close(fd);
            return IG_OK;
        }
        if (errno != EEXIST) {
            IG_ERROR("store", "cannot create database file %s: %s", path, strerror(errno));
            return IG_ESTORE;
        }
        if (stat(path, &sb) != 0) return IG_ESTORE; /* created by another thread meanwhile */
    }
    if ((sb.st_mode & 077) && sb.st_uid == geteuid()) {
        IG_WARN("store", "database file %s was readable by others (mode %03o): setting it to 0600", path,
                (unsigned)(sb.st_mode & 0777));
        if (chmod(path, 0600) != 0) {
            IG_ERROR("store", "cannot chmod database file %s: %s", path, strerror(errno));
            return IG_ESTORE;
        }
    }
    return IG_OK;
}

static void sq_close(ig_store_t *st)
{
    sq_store_t *s = sq(st);
    for (size_t i = 0; i < ST__COUNT; i++)
        sqlite3_finalize(s->stmts[i]);
    if (s->db && sqlite3_close(s->db) != SQLITE_OK)
        IG_ERROR("store", "sqlite close failed: %s", sqlite3_errmsg(s->db));
    free(s);
}

/* Connection settings, applied to every handle (pragmas are per connection). */
static int configure(sq_store_t *s, bool memory)
{
    sqlite3_stmt *st = NULL;
    int rc, src;

    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, IG_SQLITE_BUSY_MS);
    /* hardening: no writes to sqlite_master, no SQL functions from the schema, no extensions */
    sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
    sqlite3_db_config(s->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
    sqlite3_db_config(s->db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, (int *)NULL);

    /* cache_size/mmap_size: the call-log writer re-reads its index pages from SQLite's own cache (or a
     * mapping) instead of a pread() per page; measured ~2x fewer syscalls per batched insert. secure_delete:
     * what is deleted or rewritten (a revoked session, a row sealed by the identity backfill) is overwritten
     * with zeros rather than left in free pages. */
    src = sqlite3_exec(s->db,
                       "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -8192;"
                       " PRAGMA temp_store = MEMORY; PRAGMA secure_delete = ON;",
                       NULL, NULL, NULL);
    if (src != SQLITE_OK) {
        rc = map_err(s, src, "pragma");
        goto out;
    }
    /* journal_mode answers the mode actually in effect (a :memory: database stays "memory"). Switching a
     * new file to WAL while another handle does the same can fail with SQLITE_BUSY without the busy handler
     * being called, so we wait here ourselves, for at most the same timeout. */
    src = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    for (int waited = 0; src == SQLITE_OK || (src & 0xff) == SQLITE_BUSY; waited += 10) {
        src = sqlite3_step(st);
        if ((src & 0xff) != SQLITE_BUSY || waited >= IG_SQLITE_BUSY_MS) break;
        sqlite3_reset(st);
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000000}, NULL);
    }
    if (src != SQLITE_ROW) {
        rc = map_err(s, src, "journal_mode");
        goto out;
    }
    const char *mode = (const char *)sqlite3_column_text(st, 0);
    rc = IG_ESTORE;
    if (!memory && (!mode || strcmp(mode, "wal") != 0)) {
        IG_ERROR("store", "cannot switch the database to WAL mode (got %s)", mode ? mode : "nothing");
        goto out;
    }
    rc = IG_OK;
out:
    sqlite3_finalize(st);
    return rc;
}

static const ig_store_ops_t sqlite_ops;

ig_store_t *ig_store_sqlite_open(const char *path, int *err)
{
    sq_store_t *s = NULL;
    int rc = IG_EINVAL;
    bool memory = path && strcmp(path, ":memory:") == 0;

    if (!path || !*path) goto out;
    if (!memory && (rc = create_private(path))) goto out;
    rc = IG_ENOMEM;
    s = calloc(1, sizeof *s);
    if (!s) goto out;
    s->base.ops = &sqlite_ops;
    int src = sqlite3_open_v2(
        path, &s->db,
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE, NULL);
    if (src != SQLITE_OK) {
        rc = map_err(s, src, "open");
        goto out;
    }
    rc = configure(s, memory);
out:
    if (rc && s) {
        sq_close(&s->base);
        s = NULL;
    }
    if (err) *err = rc;
    return s ? &s->base : NULL;
}

/* *v = highest applied migration; 0 when the table is missing. */
static int read_version(sq_store_t *s, int *v)
{
    sqlite3_stmt *st = NULL;
    int rc = stmt(s, ST_MIG_EXISTS, &st);
    if (rc) goto out;
    int src = sqlite3_step(st);
    if (src != SQLITE_ROW) {
        rc = map_err(s, src, "schema version");
        goto out;
    }
    bool exists = sqlite3_column_int(st, 0) > 0;
    done(st);
    st = NULL;
    *v = 0;
    if (!exists) goto out;
    if ((rc = stmt(s, ST_MIG_VERSION, &st))) goto out;
    src = sqlite3_step(st);
    if (src != SQLITE_ROW) {
        rc = map_err(s, src, "schema version");
        goto out;
    }
    *v = sqlite3_column_int(st, 0);
out:
    done(st);
    return rc;
}

static int sq_schema_version(ig_store_t *st, int *version)
{
    return read_version(sq(st), version);
}

static int sq_migrate(ig_store_t *st, int64_t now)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *ins = NULL;
    int rc, v = 0, src;

    if ((rc = tx_begin(s))) goto out;
    src = sqlite3_exec(s->db,
                       "CREATE TABLE IF NOT EXISTS schema_migrations ("
                       " version INTEGER NOT NULL PRIMARY KEY, applied_at INTEGER NOT NULL)",
                       NULL, NULL, NULL);
    if (src != SQLITE_OK) {
        rc = map_err(s, src, "create schema_migrations");
        goto out;
    }
    if ((rc = tx_commit(s)) || (rc = read_version(s, &v))) goto out;
    if (v > IG_STORE_SCHEMA_VERSION) {
        IG_ERROR("store", "database schema v%d is newer than this binary (v%d): refusing to use it", v,
                 IG_STORE_SCHEMA_VERSION);
        rc = IG_ESTORE;
        goto out;
    }
    for (int next = v + 1; next <= IG_STORE_SCHEMA_VERSION; next++) {
        if ((rc = tx_begin(s)) || (rc = read_version(s, &v))) goto out;
        if (v >= next) { /* another process applied it while we waited for the lock */
            if ((rc = tx_commit(s))) goto out;
            continue;
        }
        src = sqlite3_exec(s->db, migrations[next - 1], NULL, NULL, NULL);
        if (src != SQLITE_OK) {
            IG_ERROR("store", "migration v%d failed", next);
            rc = map_err(s, src, "migration");
            goto out;
        }
        if ((rc = stmt(s, ST_MIG_INSERT, &ins))) goto out;
        sqlite3_bind_int(ins, 1, next);
        sqlite3_bind_int64(ins, 2, now);
        rc = step_done(s, ins, "record migration");
        done(ins);
        ins = NULL;
        if (rc || (rc = tx_commit(s))) goto out;
        IG_INFO("store", "applied schema migration v%d", next);
    }
out:
    done(ins);
    if (rc) tx_rollback(s);
    return rc;
}

static int sq_ping(ig_store_t *st)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    int rc = stmt(s, ST_MIG_VERSION, &q);
    if (rc == IG_OK) {
        int src = sqlite3_step(q);
        if (src != SQLITE_ROW) rc = map_err(s, src, "ping");
    }
    done(q);
    return rc ? IG_ESTORE : IG_OK;
}

static int sq_org_insert(ig_store_t *st, const ig_org_t *org)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    int rc = stmt(s, ST_ORG_INSERT, &q);
    if (rc) goto out;
    bind_text(q, 1, org->id);
    bind_text(q, 2, org->slug);
    bind_text(q, 3, org->name);
    bind_opt_text(q, 4, org->default_provider);
    sqlite3_bind_int64(q, 5, org->created_at);
    sqlite3_bind_int(q, 6, org->plan);
    bind_text(q, 7, org->settings[0] ? org->settings : "{}");
    rc = step_done(s, q, "org insert");
out:
    done(q);
    return rc;
}

/* Runs a bound single-row org query. */
static int org_query(sq_store_t *s, sqlite3_stmt *q, ig_org_t *out)
{
    ig_org_t org;
    int rc = IG_ENOTFOUND;
    int src = sqlite3_step(q);
    if (src == SQLITE_DONE) goto out;
    if (src != SQLITE_ROW) {
        rc = map_err(s, src, "org get");
        goto out;
    }
    if ((rc = read_org(q, &org))) goto out;
    *out = org;
out:
    return rc;
}

static int sq_org_get(ig_store_t *st, const char *id, ig_org_t *out)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    int rc = stmt(s, ST_ORG_BY_ID, &q);
    if (rc) goto out;
    bind_text(q, 1, id);
    rc = org_query(s, q, out);
out:
    done(q);
    return rc;
}

/* void * form for update_read_back (id unused: the org is the row) */
static int org_get_v(sq_store_t *s, const char *org_id, const char *id, void *out)
{
    (void)id;
    return sq_org_get(&s->base, org_id, out);
}

static int sq_org_get_by_slug(ig_store_t *st, const char *slug, ig_org_t *out)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    int rc = stmt(s, ST_ORG_BY_SLUG, &q);
    if (rc) goto out;
    bind_text(q, 1, slug);
    rc = org_query(s, q, out);
out:
    done(q);
    return rc;
}

static int sq_org_set_default_provider(ig_store_t *st, const char *org_id, const char *provider)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    int rc = stmt(s, ST_ORG_SET_PROVIDER, &q);
    if (rc) goto out;
    bind_text(q, 1, provider);
    bind_text(q, 2, org_id);
    if ((rc = step_done(s, q, "org set provider"))) goto out;
    if (sqlite3_changes(s->db) == 0) rc = IG_ENOTFOUND;
out:
    done(q);
    return rc;
}

/* Inserts one key row (no transaction of its own). */
static int key_insert_row(sq_store_t *s, const ig_keyrec_t *rec)
{
    sqlite3_stmt *q = NULL;
    int rc = stmt(s, ST_KEY_INSERT, &q);
    if (rc) goto out;
    bind_text(q, 1, rec->id);
    bind_text(q, 2, rec->org_id);
    sqlite3_bind_blob(q, 3, rec->key_hash, (int)sizeof rec->key_hash, SQLITE_STATIC);
    bind_text(q, 4, rec->hash_prefix);
    bind_opt_text(q, 5, rec->name);
    sqlite3_bind_int(q, 6, rec->role);
    sqlite3_bind_int64(q, 7, rec->created_at);
    bind_opt_i64(q, 8, rec->expires_at);
    bind_opt_i64(q, 9, rec->revoked_at);
    bind_opt_text(q, 10, rec->app_id);
    bind_opt_text(q, 11, rec->created_by);
    bind_opt_i64(q, 12, rec->last_used_at);
    sqlite3_bind_int64(q, 13, rec->rpm_limit);
    sqlite3_bind_int64(q, 14, rec->tpm_limit);
    bind_text(q, 15, rec->lineage_id);
    rc = step_done(s, q, "key insert");
out:
    done(q);
    return rc;
}

/* *n = the count a "SELECT COUNT(*) … WHERE a = ? AND b = ?" statement answers (b NULL: one parameter). */
static int count2(sq_store_t *s, int id, const char *a, const char *b, int64_t *n)
{
    sqlite3_stmt *q = NULL;
    int rc = stmt(s, id, &q);
    if (rc) goto out;
    bind_text(q, 1, a);
    if (b) bind_text(q, 2, b);
    int src = sqlite3_step(q);
    if (src != SQLITE_ROW) {
        rc = map_err(s, src, "count");
        goto out;
    }
    *n = sqlite3_column_int64(q, 0);
out:
    done(q);
    return rc;
}

static int sq_key_insert(ig_store_t *st, const ig_keyrec_t *rec)
{
    sq_store_t *s = sq(st);
    int64_t n = 0;
    int rc;
    if (!rec->app_id[0]) return key_insert_row(s, rec);
    /* the foreign key only proves the app exists: it must be an app of the key's org, checked under the
     * write lock so it cannot be deleted in between */
    if ((rc = tx_begin(s)) || (rc = count2(s, ST_APP_IN_ORG, rec->app_id, rec->org_id, &n))) goto out;
    rc = IG_ENOTFOUND;
    if (n == 0 || (rc = key_insert_row(s, rec))) goto out;
    rc = tx_commit(s);
out:
    if (rc) tx_rollback(s);
    return rc;
}

static int sq_key_get_by_hash(ig_store_t *st, const uint8_t hash[32], ig_keyrec_t *out)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    ig_keyrec_t rec;
    int rc = stmt(s, ST_KEY_BY_HASH, &q);
    if (rc) goto out;
    sqlite3_bind_blob(q, 1, hash, 32, SQLITE_STATIC);
    int src = sqlite3_step(q);
    if (src == SQLITE_DONE) {
        rc = IG_ENOTFOUND;
        goto out;
    }
    if (src != SQLITE_ROW) {
        rc = map_err(s, src, "key get");
        goto out;
    }
    if ((rc = read_key(q, &rec))) goto out;
    *out = rec;
out:
    done(q);
    return rc;
}

static int sq_key_revoke(ig_store_t *st, const char *org_id, const char *id_or_prefix, int64_t now,
                         ig_keyrec_t *out)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    ig_keyrec_t rec;
    int rc, src;

    /* find and update under the write lock, so the match cannot change in between */
    if ((rc = tx_begin(s))) goto out;
    if ((rc = stmt(s, org_id ? ST_KEY_FIND_ORG : ST_KEY_FIND_ANY, &q))) goto out;
    bind_text(q, 1, id_or_prefix);
    bind_text(q, 2, id_or_prefix);
    if (org_id) bind_text(q, 3, org_id);
    src = sqlite3_step(q);
    if (src == SQLITE_DONE) {
        rc = IG_ENOTFOUND;
        goto out;
    }
    if (src != SQLITE_ROW) {
        rc = map_err(s, src, "key find");
        goto out;
    }
    if ((rc = read_key(q, &rec))) goto out;
    src = sqlite3_step(q);
    if (src == SQLITE_ROW) {
        rc = IG_ECONFLICT; /* the prefix is shared: the caller must name the key by id */
        goto out;
    }
    if (src != SQLITE_DONE) {
        rc = map_err(s, src, "key find");
        goto out;
    }
    done(q);
    q = NULL;
    if (rec.revoked_at == 0) {
        if ((rc = stmt(s, ST_KEY_REVOKE, &q))) goto out;
        sqlite3_bind_int64(q, 1, now);
        bind_text(q, 2, rec.id);
        if ((rc = step_done(s, q, "key revoke"))) goto out;
        rec.revoked_at = now;
    }
    if ((rc = tx_commit(s))) goto out;
    *out = rec;
out:
    done(q);
    if (rc) tx_rollback(s);
    return rc;
}

static int sq_key_list(ig_store_t *st, const char *org_id, ig_keyrec_t *out, size_t cap, size_t *n)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    size_t got = 0;
    int rc = stmt(s, ST_KEY_LIST, &q), src;
    if (rc) goto out;
    bind_text(q, 1, org_id);
    /* one more than fits tells "there are more" apart from "exactly cap" */
    sqlite3_bind_int64(q, 2, cap < (size_t)INT64_MAX ? (int64_t)cap + 1 : INT64_MAX);
    while ((src = sqlite3_step(q)) == SQLITE_ROW) {
        if (got == cap) {
            rc = IG_ETOOBIG;
            goto out;
        }
        if ((rc = read_key(q, &out[got]))) goto out;
        got++;
    }
    if (src != SQLITE_DONE) rc = map_err(s, src, "key list");
out:
    done(q);
    *n = rc == IG_OK || rc == IG_ETOOBIG ? got : 0;
    return rc;
}

static int sq_provider_set(ig_store_t *st, const char *org_id, const char *provider, int auth_mode,
                           const uint8_t *secret, size_t secret_len, int64_t now)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    int rc = stmt(s, ST_PROV_UPSERT, &q);
    if (rc) goto out;
    bind_text(q, 1, org_id);
    bind_text(q, 2, provider);
    sqlite3_bind_int(q, 3, auth_mode);
    if (secret)
        sqlite3_bind_blob(q, 4, secret, (int)secret_len, SQLITE_STATIC);
    else
        sqlite3_bind_null(q, 4);
    sqlite3_bind_int64(q, 5, now);
    rc = step_done(s, q, "provider set");
out:
    done(q);
    return rc;
}

/* Steps q once and copies its blob column col into *out (malloc'd; NULL, 0 for NULL or empty). IG_ENOTFOUND
 * when there is no row. */
static int step_blob(sq_store_t *s, sqlite3_stmt *q, int col, uint8_t **out, size_t *outlen, const char *what)
{
    int src = sqlite3_step(q);
    if (src == SQLITE_DONE) return IG_ENOTFOUND;
    if (src != SQLITE_ROW) return map_err(s, src, what);
    const void *blob = sqlite3_column_blob(q, col);
    size_t len = (size_t)sqlite3_column_bytes(q, col);
    uint8_t *copy = NULL;
    if (blob && len) {
        if (!(copy = malloc(len))) return IG_ENOMEM;
        memcpy(copy, blob, len);
    } else {
        len = 0;
    }
    *out = copy;
    *outlen = len;
    return IG_OK;
}

static int sq_provider_get(ig_store_t *st, const char *org_id, const char *provider, int *auth_mode,
                           uint8_t **secret, size_t *secret_len)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    int rc = stmt(s, ST_PROV_GET, &q);
    if (rc) goto out;
    bind_text(q, 1, org_id);
    bind_text(q, 2, provider);
    if ((rc = step_blob(s, q, 1, secret, secret_len, "provider get")) == IG_OK)
        *auth_mode = sqlite3_column_int(q, 0);
out:
    done(q);
    return rc;
}

static int org_dk_read(sq_store_t *s, const char *org_id, uint8_t **out, size_t *outlen)
{
    sqlite3_stmt *q = NULL;
    int rc = stmt(s, ST_ORG_DK_GET, &q);
    if (rc) goto out;
    bind_text(q, 1, org_id);
    rc = step_blob(s, q, 0, out, outlen, "org data key get");
out:
    done(q);
    return rc;
}

static int sq_org_ids(ig_store_t *st, const char *after, char (*ids)[33], size_t cap, size_t *n)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    int rc = stmt(s, ST_ORG_IDS, &q);
    *n = 0;
    if (rc) goto out;
    bind_text(q, 1, after);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)cap);
    rc = step_rows(s, q, ids, sizeof *ids, cap, n, read_id_v, false, "org ids");
out:
    done(q);
    if (rc) *n = 0;
    return rc;
}

static int blob_query(sq_store_t *s, sqlite3_stmt *q, const char *what, uint8_t **out, size_t *outlen)
{
    int src = sqlite3_step(q);
    if (src == SQLITE_DONE) return IG_ENOTFOUND;
    if (src != SQLITE_ROW) return map_err(s, src, what);
    const void *b = sqlite3_column_blob(q, 0);
    size_t n = (size_t)sqlite3_column_bytes(q, 0);
    if (!b || !n) return IG_ENOTFOUND;
    if (!(*out = malloc(n))) return IG_ENOMEM;
    memcpy(*out, b, n);
    *outlen = n;
    return IG_OK;
}

static int sq_control_key(ig_store_t *st, const char *name, const uint8_t *init, size_t init_len, int64_t now,
                          uint8_t **out, size_t *outlen)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    int rc = IG_OK;
    bool tx = init != NULL;
    if (tx && (rc = tx_begin(s))) return rc;
    if (init) {
        if ((rc = stmt(s, ST_CK_INIT, &q))) goto out;
        bind_text(q, 1, name);
        sqlite3_bind_blob(q, 2, init, (int)init_len, SQLITE_STATIC);
        sqlite3_bind_int64(q, 3, now);
        if ((rc = step_done(s, q, "control key init"))) goto out;
        done(q);
        q = NULL;
    }
    if ((rc = stmt(s, ST_CK_GET, &q))) goto out;
    bind_text(q, 1, name);
    rc = blob_query(s, q, "control key get", out, outlen);
    done(q);
    q = NULL;
    if (rc == IG_OK && tx && (rc = tx_commit(s))) {
        free(*out);
        *out = NULL;
    }
out:
    done(q);
    if (rc && tx) tx_rollback(s);
    return rc;
}

/* Re-wraps every wrapped key (orgs.data_key, control_keys.wrapped) through fn in ONE transaction. */
static int sq_rewrap(ig_store_t *st, ig_store_rewrap_fn fn, void *ctx, int64_t now, size_t *n)
{
    sq_store_t *s = sq(st);
    static const char *const sel[2] = {"SELECT id, data_key FROM orgs WHERE data_key IS NOT NULL",
                                       "SELECT name, wrapped FROM control_keys"};
    static const char *const upd[2] = {
        "UPDATE orgs SET data_key = ?2 WHERE id = ?1",
        "UPDATE control_keys SET wrapped = ?2, updated_at = ?3 WHERE name = ?1"};
    int rc = tx_begin(s);
    *n = 0;
    for (int t = 0; rc == IG_OK && t < 2; t++) {
        sqlite3_stmt *q = NULL, *u = NULL;
        if (sqlite3_prepare_v2(s->db, sel[t], -1, &q, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(s->db, upd[t], -1, &u, NULL) != SQLITE_OK)
            rc = IG_EINTERNAL;
        int src = SQLITE_DONE;
        while (rc == IG_OK && (src = sqlite3_step(q)) == SQLITE_ROW) {
            char id[129];
            if ((rc = col_text(q, 0, id, sizeof id))) break;
            const void *b = sqlite3_column_blob(q, 1);
            size_t len = (size_t)sqlite3_column_bytes(q, 1);
            ig_buf_t nb;
            ig_buf_init(&nb, IG_STORE_MAX_SECRET);
            bool changed = false;
            rc = fn(ctx, t == 0 ? "org" : "control", id, b, len, &nb, &changed);
            if (rc == IG_OK && changed) {
                sqlite3_reset(u);
                bind_text(u, 1, id);
                sqlite3_bind_blob(u, 2, nb.data, (int)nb.len, SQLITE_TRANSIENT);
                sqlite3_bind_int64(u, 3, now);
                rc = step_done(s, u, "rewrap");
                if (rc == IG_OK) (*n)++;
            }
            ig_buf_free(&nb, true);
        }
        if (rc == IG_OK && src != SQLITE_DONE) rc = map_err(s, src, "rewrap");
        sqlite3_finalize(q);
        sqlite3_finalize(u);
    }
    if (rc == IG_OK) rc = tx_commit(s);
    if (rc) tx_rollback(s);
    return rc;
}

static int sq_org_data_key_get(ig_store_t *st, const char *org_id, uint8_t **out, size_t *outlen)
{
    return org_dk_read(sq(st), org_id, out, outlen);
}

static int sq_org_data_key_init(ig_store_t *st, const char *org_id, const uint8_t *wrapped, size_t len,
                                uint8_t **out, size_t *outlen)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    int rc = tx_begin(s);
    if (rc) return rc;
    if ((rc = stmt(s, ST_ORG_DK_SET, &q))) goto out;
    sqlite3_bind_blob(q, 1, wrapped, (int)len, SQLITE_STATIC);
    bind_text(q, 2, org_id);
    rc = step_done(s, q, "org data key set");
    done(q);
    q = NULL;
    if (rc) goto out;
    /* first writer wins: whoever set it, everyone uses what is stored */
    if ((rc = org_dk_read(s, org_id, out, outlen))) goto out;
    rc = tx_commit(s);
    if (rc) {
        free(*out);
        *out = NULL;
    }
out:
    done(q);
    if (rc) tx_rollback(s);
    return rc;
}

/* The newest call per key seen in a batch: one UPDATE per distinct key instead of one per record. */
typedef struct {
    const char *key_id, *org_id;
    int64_t at;
} key_touch_t;

#define KEY_TOUCH_MAX 32 /* distinct keys remembered before an early flush (a batch rarely has more) */

/* Raises api_keys.last_used_at to each remembered time (never lowers it: the WHERE compares), for the key
 * of the record's own org only, then forgets them. */
static int touch_flush(sq_store_t *s, key_touch_t *t, size_t *nt)
{
    sqlite3_stmt *q = NULL;
    int rc = stmt(s, ST_KEY_TOUCH, &q);
    for (size_t i = 0; rc == IG_OK && i < *nt; i++) {
        sqlite3_bind_int64(q, 1, t[i].at);
        bind_text(q, 2, t[i].key_id);
        bind_text(q, 3, t[i].org_id);
        rc = step_done(s, q, "key touch");
        sqlite3_reset(q);
    }
    done(q);
    *nt = 0;
    return rc;
}

static int touch_add(sq_store_t *s, key_touch_t *t, size_t *nt, const ig_callrec_t *r)
{
    for (size_t i = 0; i < *nt; i++) {
        if (strcmp(t[i].key_id, r->key_id) == 0 && strcmp(t[i].org_id, r->org_id) == 0) {
            if (r->created_at > t[i].at) t[i].at = r->created_at;
            return IG_OK;
        }
    }
    int rc = *nt == KEY_TOUCH_MAX ? touch_flush(s, t, nt) : IG_OK;
    if (rc == IG_OK) t[(*nt)++] = (key_touch_t){r->key_id, r->org_id, r->created_at};
    return rc;
}

static int sq_keys_touch(ig_store_t *st, const ig_callrec_t *recs, size_t n)
{
    sq_store_t *s = sq(st);
    key_touch_t touches[KEY_TOUCH_MAX];
    size_t nt = 0;
    int rc = tx_begin(s);
    if (rc) return rc;
    for (size_t i = 0; i < n && rc == IG_OK; i++)
        if (recs[i].key_id[0]) rc = touch_add(s, touches, &nt, &recs[i]);
    if (rc == IG_OK) rc = touch_flush(s, touches, &nt);
    if (rc == IG_OK) rc = tx_commit(s);
    if (rc) tx_rollback(s);
    return rc;
}

static int sq_calls_insert(ig_store_t *st, const ig_callrec_t *recs, size_t n)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    key_touch_t touches[KEY_TOUCH_MAX];
    size_t nt = 0;
    int rc;

    if ((rc = tx_begin(s)) || (rc = stmt(s, ST_CALL_INSERT, &q))) goto out;
    for (size_t i = 0; i < n; i++) {
        const ig_callrec_t *r = &recs[i];
        bind_text(q, 1, r->id);
        bind_opt_text(q, 2, r->org_id);
        bind_opt_text(q, 3, r->key_prefix);
        bind_opt_text(q, 4, r->provider);
        bind_opt_text(q, 5, r->method);
        bind_text(q, 6, r->path);
        bind_text(q, 7, r->model);
        sqlite3_bind_int(q, 8, r->status);
        sqlite3_bind_int(q, 9, r->stream);
        sqlite3_bind_double(q, 10, r->latency_ms);
        sqlite3_bind_double(q, 11, r->ttfb_ms);
        sqlite3_bind_int64(q, 12, r->req_bytes);
        sqlite3_bind_int64(q, 13, r->resp_bytes);
        sqlite3_bind_int(q, 14, r->req_truncated);
        sqlite3_bind_int(q, 15, r->resp_truncated);
        bind_text(q, 16, r->error);
        sqlite3_bind_int64(q, 17, r->created_at);
        bind_opt_text(q, 18, r->key_id);
        rc = step_done(s, q, "call insert");
        sqlite3_reset(q);
        if (rc) goto out;
        if (r->key_id[0] && (rc = touch_add(s, touches, &nt, r))) goto out;
    }
    done(q);
    q = NULL;
    if ((rc = touch_flush(s, touches, &nt))) goto out;
    rc = tx_commit(s);
out:
    done(q);
    if (rc) tx_rollback(s);
    return rc;
}

static int sq_calls_count(ig_store_t *st, const char *org_id, int64_t *n)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    int rc = stmt(s, org_id ? ST_CALLS_COUNT_ORG : ST_CALLS_COUNT_ALL, &q);
    if (rc) goto out;
    if (org_id) bind_text(q, 1, org_id);
    int src = sqlite3_step(q);
    if (src != SQLITE_ROW) {
        rc = map_err(s, src, "calls count");
        goto out;
    }
    *n = sqlite3_column_int64(q, 0);
out:
    done(q);
    return rc;
}

/* Binds the value of one "SELECT COUNT(*) … WHERE x = ?" statement and answers whether it is > 0. */
static int exists(sq_store_t *s, int id, const char *v, bool *yes)
{
    sqlite3_stmt *q = NULL;
    int rc = stmt(s, id, &q);
    if (rc) goto out;
    bind_text(q, 1, v);
    int src = sqlite3_step(q);
    if (src != SQLITE_ROW) {
        rc = map_err(s, src, "exists");
        goto out;
    }
    *yes = sqlite3_column_int64(q, 0) > 0;
out:
    done(q);
    return rc;
}

/* Binds a text and its sealed form: in identity mode the clear column gets `clear_form` (the lookup tag, or
 * "" for a display name) and the enc column the sealed value; otherwise the clear column gets the value. */
static int bind_identity(sqlite3_stmt *q, int clear, int enc, const char *table, const char *row_id,
                         const char *field, const char *value, const char *clear_form, ig_buf_t *buf)
{
    if (!ig_store_identity_on() || !value || !value[0]) {
        bind_opt_text(q, clear, value);
        sqlite3_bind_null(q, enc);
        return IG_OK;
    }
    int rc = ig_store_identity_seal(table, row_id, field, value, buf);
    if (rc) return rc;
    bind_text(q, clear, clear_form);
    sqlite3_bind_blob(q, enc, buf->data, (int)buf->len, SQLITE_TRANSIENT);
    return IG_OK;
}

static int user_insert(sq_store_t *s, const ig_user_t *u)
{
    sqlite3_stmt *q = NULL;
    char tag[IG_STORE_TAG_MAX];
    ig_buf_t e1, e2;
    ig_buf_init(&e1, 4096);
    ig_buf_init(&e2, 4096);
    ig_store_email_tag(u->email, tag);
    int rc = stmt(s, ST_USER_INSERT, &q);
    if (rc) goto out;
    bind_text(q, 1, u->id);
    bind_text(q, 3, u->password_hash);
    sqlite3_bind_int64(q, 5, u->created_at);
    sqlite3_bind_int64(q, 6, u->password_changed_at);
    if ((rc = bind_identity(q, 2, 7, "users", u->id, "email", u->email, tag, &e1)) ||
        (rc = bind_identity(q, 4, 8, "users", u->id, "display_name", u->display_name, "", &e2)))
        goto out;
    if (!ig_store_identity_on()) bind_text(q, 2, tag); /* clear mode: the tag is the email */
    rc = step_done(s, q, "user insert");
out:
    done(q);
    ig_buf_free(&e1, false);
    ig_buf_free(&e2, false);
    return rc;
}

/* Seals identity columns written in clear (rows from before the identity key existed). One transaction. */
static int sq_identity_backfill(ig_store_t *st)
{
    sq_store_t *s = sq(st);
    static const char *const sel[2] = {
        "SELECT id, email, display_name FROM users WHERE email_enc IS NULL AND email NOT LIKE 't1:%'",
        "SELECT id, email, NULL FROM invitations WHERE email_enc IS NULL AND email NOT LIKE 't1:%'"};
    static const char *const upd[2] = {
        "UPDATE users SET email = ?2, email_enc = ?3, display_name = ?4, display_enc = ?5 WHERE id = ?1",
        "UPDATE invitations SET email = ?2, email_enc = ?3 WHERE id = ?1"};
    static const char *const table[2] = {"users", "invitations"};
    int rc = tx_begin(s);
    size_t n = 0;
    for (int t = 0; rc == IG_OK && t < 2; t++) {
        sqlite3_stmt *q = NULL, *u = NULL;
        if (sqlite3_prepare_v2(s->db, sel[t], -1, &q, NULL) != SQLITE_OK ||
            sqlite3_prepare_v2(s->db, upd[t], -1, &u, NULL) != SQLITE_OK)
            rc = IG_EINTERNAL;
        int src;
        while (rc == IG_OK && (src = sqlite3_step(q)) == SQLITE_ROW) {
            char id[33], email[255], name[129], tag[IG_STORE_TAG_MAX];
            ig_buf_t e1, e2;
            ig_buf_init(&e1, 4096);
            ig_buf_init(&e2, 4096);
            if ((rc = col_text(q, 0, id, sizeof id)) || (rc = col_text(q, 1, email, sizeof email)) ||
                (rc = col_text(q, 2, name, sizeof name)))
                goto next;
            ig_store_email_tag(email, tag);
            sqlite3_reset(u);
            bind_text(u, 1, id);
            if ((rc = bind_identity(u, 2, 3, table[t], id, "email", email, tag, &e1))) goto next;
            if (t == 0 && (rc = bind_identity(u, 4, 5, table[t], id, "display_name", name, "", &e2)))
                goto next;
            if (t == 0 && !name[0]) bind_text(u, 4, "");
            rc = step_done(s, u, "identity backfill");
            n++;
        next:
            ig_buf_free(&e1, false);
            ig_buf_free(&e2, false);
        }
        if (rc == IG_OK && src != SQLITE_DONE) rc = map_err(s, src, "identity backfill");
        sqlite3_finalize(q);
        sqlite3_finalize(u);
    }
    if (rc == IG_OK) rc = tx_commit(s);
    if (rc)
        tx_rollback(s);
    else if (n)
        IG_INFO("store", "sealed the emails and display names of %zu rows written in clear", n);
    return rc;
}

static int sq_signup(ig_store_t *st, const ig_org_t *org, const ig_user_t *user, const ig_membership_t *mem,
                     const ig_keyrec_t *key, const char **which)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    bool taken = false;
    int rc;

    /* checked under the write lock, so the answer holds until COMMIT; the UNIQUE constraints stay the
     * backstop (a constraint error below still rolls everything back) */
    if ((rc = tx_begin(s))) goto out;
    char tag[IG_STORE_TAG_MAX];
    ig_store_email_tag(user->email, tag);
    if ((rc = exists(s, ST_USER_EMAIL_TAKEN, tag, &taken))) goto out;
    if (taken) {
        *which = "email";
        rc = IG_ECONFLICT;
        goto out;
    }
    if ((rc = exists(s, ST_ORG_SLUG_TAKEN, org->slug, &taken))) goto out;
    if (taken) {
        *which = "org_slug";
        rc = IG_ECONFLICT;
        goto out;
    }
    if ((rc = sq_org_insert(st, org))) goto out;

    if ((rc = user_insert(s, user))) goto out;

    if ((rc = stmt(s, ST_MEM_INSERT, &q))) goto out;
    bind_text(q, 1, mem->user_id);
    bind_text(q, 2, mem->org_id);
    sqlite3_bind_int(q, 3, mem->role);
    sqlite3_bind_int64(q, 4, mem->created_at);
    if ((rc = step_done(s, q, "membership insert"))) goto out;
    done(q);

    q = NULL;
    if ((rc = key_insert_row(s, key))) {             /* key->created_by = user->id (the wrapper set it) */
        if (rc == IG_ECONFLICT) *which = "key_hash"; /* the only UNIQUE left unchecked */
        goto out;
    }
    rc = tx_commit(s);
out:
    done(q);
    if (rc) tx_rollback(s);
    return rc;
}

/* Runs a bound single-row user query. */
static int user_query(sq_store_t *s, sqlite3_stmt *q, ig_user_t *out)
{
    ig_user_t u;
    int rc = IG_ENOTFOUND;
    int src = sqlite3_step(q);
    if (src == SQLITE_DONE) goto out;
    if (src != SQLITE_ROW) {
        rc = map_err(s, src, "user get");
        goto out;
    }
    if ((rc = read_user(q, &u))) goto out;
    *out = u;
out:
    return rc;
}

static int sq_user_get_by_email(ig_store_t *st, const char *email, ig_user_t *out)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    char tag[IG_STORE_TAG_MAX];
    ig_store_email_tag(email, tag);
    int rc = stmt(s, ST_USER_BY_EMAIL, &q);
    if (rc) goto out;
    bind_text(q, 1, tag);
    rc = user_query(s, q, out);
out:
    done(q);
    return rc;
}

static int sq_user_get(ig_store_t *st, const char *id, ig_user_t *out)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    int rc = stmt(s, ST_USER_BY_ID, &q);
    if (rc) goto out;
    bind_text(q, 1, id);
    rc = user_query(s, q, out);
out:
    done(q);
    return rc;
}

static int sq_user_set_password(ig_store_t *st, const char *user_id, const char *password_hash, int64_t now)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    int rc;
    /* one transaction: no session can outlive the password it was issued under */
    if ((rc = tx_begin(s)) || (rc = stmt(s, ST_USER_SET_PW, &q))) goto out;
    bind_text(q, 1, password_hash);
    sqlite3_bind_int64(q, 2, now);
    bind_text(q, 3, user_id);
    if ((rc = step_done(s, q, "user set password"))) goto out;
    rc = IG_ENOTFOUND;
    if (sqlite3_changes(s->db) == 0) goto out;
    done(q);
    if ((rc = stmt(s, ST_SESS_REVOKE_USER, &q))) goto out;
    sqlite3_bind_int64(q, 1, now);
    bind_text(q, 2, user_id);
    if ((rc = step_done(s, q, "session revoke"))) goto out;
    done(q);
    q = NULL;
    rc = tx_commit(s);
out:
    done(q);
    if (rc) tx_rollback(s);
    return rc;
}

static int sq_membership_get(ig_store_t *st, const char *user_id, const char *org_id, ig_membership_t *out)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    ig_membership_t m;
    int rc = stmt(s, ST_MEM_GET, &q);
    if (rc) goto out;
    bind_text(q, 1, user_id);
    bind_text(q, 2, org_id);
    int src = sqlite3_step(q);
    if (src == SQLITE_DONE) {
        rc = IG_ENOTFOUND;
        goto out;
    }
    if (src != SQLITE_ROW) {
        rc = map_err(s, src, "membership get");
        goto out;
    }
    if ((rc = read_membership(q, &m))) goto out;
    *out = m;
out:
    done(q);
    return rc;
}

static int sq_memberships_of_user(ig_store_t *st, const char *user_id, ig_membership_t *out, size_t cap,
                                  size_t *n)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    size_t got = 0;
    int rc = stmt(s, ST_MEM_OF_USER, &q), src;
    if (rc) goto out;
    bind_text(q, 1, user_id);
    /* one more than fits tells "there are more" apart from "exactly cap" */
    sqlite3_bind_int64(q, 2, cap < (size_t)INT64_MAX ? (int64_t)cap + 1 : INT64_MAX);
    while ((src = sqlite3_step(q)) == SQLITE_ROW) {
        if (got == cap) {
            rc = IG_ETOOBIG;
            goto out;
        }
        if ((rc = read_membership(q, &out[got]))) goto out;
        got++;
    }
    if (src != SQLITE_DONE) rc = map_err(s, src, "memberships of user");
out:
    done(q);
    *n = rc == IG_OK || rc == IG_ETOOBIG ? got : 0;
    return rc;
}

/* Appends e to the control chain inside the caller's write transaction: seq, prev_hash and hash are set
 * here, the address sealed when the identity key is set. */
static int chain_append(sq_store_t *s, ig_audit_t *e)
{
    sqlite3_stmt *q = NULL;
    ig_buf_t enc;
    const char *clear = e->source_ip;
    int rc, src;

    ig_buf_init(&enc, 4 * IG_AUDIT_SEALED_IP_MAX);
    if ((rc = stmt(s, ST_AUDIT_TAIL, &q))) goto out;
    src = sqlite3_step(q);
    if (src == SQLITE_ROW) {
        e->seq = sqlite3_column_int64(q, 0) + 1;
        if ((rc = col_hash(q, 1, e->prev_hash))) goto out;
    } else if (src == SQLITE_DONE) {
        e->seq = 1;
        memset(e->prev_hash, 0, sizeof e->prev_hash);
    } else {
        rc = map_err(s, src, "audit tail");
        goto out;
    }
    done(q);
    q = NULL;
    if (e->source_ip[0] && ig_store_identity_on()) {
        if ((rc = ig_store_identity_seal("audit", e->id, "source_ip", e->source_ip, &enc))) goto out;
        clear = "";
    }
    if ((rc = ig_store_audit_hash_stored(IG_AUDIT_CHAIN_CONTROL, e, clear, ig_buf_iov(&enc), e->hash)))
        goto out;

    if ((rc = stmt(s, ST_AUDIT_INSERT, &q))) goto out;
    sqlite3_bind_int64(q, 1, e->seq);
    bind_text(q, 2, e->id);
    bind_opt_text(q, 3, e->org_id);
    bind_text(q, 4, e->actor);
    bind_text(q, 5, e->action);
    bind_opt_text(q, 6, e->target);
    bind_opt_text(q, 7, clear);
    bind_opt_text(q, 8, e->request_id);
    sqlite3_bind_int64(q, 9, e->created_at);
    sqlite3_bind_blob(q, 10, e->prev_hash, 32, SQLITE_STATIC);
    sqlite3_bind_blob(q, 11, e->hash, 32, SQLITE_STATIC);
    if (enc.len)
        sqlite3_bind_blob(q, 12, enc.data, (int)enc.len, SQLITE_STATIC);
    else
        sqlite3_bind_null(q, 12);
    rc = step_done(s, q, "audit insert");
out:
    done(q);
    ig_buf_free(&enc, false);
    return rc;
}

static int sq_audit_append(ig_store_t *st, ig_audit_t *e)
{
    sq_store_t *s = sq(st);
    /* BEGIN IMMEDIATE: the tail we chain onto cannot change before our COMMIT */
    int rc = tx_begin(s);
    if (rc == IG_OK) rc = chain_append(s, e);
    if (rc == IG_OK) rc = tx_commit(s);
    if (rc) tx_rollback(s);
    return rc;
}

/* Recomputes a chain read by statement id (in seq order). control: the v4 control chain (hashed as stored),
 * else the legacy chain (ig_store_audit_hash). *last_seq / last_hash (may be NULL) get its newest entry. */
static int verify_chain(sq_store_t *s, int id, bool control, int64_t *bad_seq, int64_t *last_seq,
                        uint8_t last_hash[32])
{
    sqlite3_stmt *q = NULL;
    uint8_t prev[32] = {0}, h[32];
    int64_t last = 0;
    ig_audit_t e;
    int rc = stmt(s, id, &q), src;
    if (rc) goto out;
    /* one statement is one read snapshot (WAL): appends running meanwhile are simply not seen */
    while ((src = sqlite3_step(q)) == SQLITE_ROW) {
        /* a value our writer could not have stored (too long, hash not 32 bytes) is tampering too */
        bool ok = read_audit(q, &e) == IG_OK && memcmp(e.prev_hash, prev, 32) == 0;
        if (ok && control) {
            const uint8_t *enc;
            size_t len;
            ok = col_sealed_ip(q, &enc, &len) == IG_OK &&
                 ig_store_audit_hash_stored(IG_AUDIT_CHAIN_CONTROL, &e, e.source_ip,
                                            ig_iov((const char *)enc, len), h) == IG_OK;
        } else if (ok) {
            ig_store_audit_hash(&e, h);
        }
        if (!ok || memcmp(h, e.hash, 32) != 0) {
            *bad_seq = sqlite3_column_int64(q, 0);
            rc = IG_ECONFLICT;
            goto out;
        }
        memcpy(prev, e.hash, 32);
        last = e.seq;
    }
    if (src != SQLITE_DONE) {
        rc = map_err(s, src, "audit verify");
        goto out;
    }
    if (last_seq) *last_seq = last;
    if (last_hash) memcpy(last_hash, prev, 32);
out:
    done(q);
    return rc;
}

static int sq_audit_verify(ig_store_t *st, int64_t *bad_seq)
{
    return verify_chain(sq(st), ST_AUDIT_ALL, true, bad_seq, NULL, NULL);
}

static int sq_audit_legacy_verify(ig_store_t *st, int64_t *bad_seq, int64_t *last_seq, uint8_t last_hash[32])
{
    return verify_chain(sq(st), ST_AUDIT_V1_ALL, false, bad_seq, last_seq, last_hash);
}

/* Runs statement `id` whose parameters are one integer and the LIMIT (cap): rows through step_rows. */
static int rows_by_int(sq_store_t *s, int id, int64_t v, void *out, size_t size, size_t cap, size_t *n,
                       int (*read)(sqlite3_stmt *, void *), const char *what)
{
    sqlite3_stmt *q = NULL;
    int rc = stmt(s, id, &q);
    if (rc) goto out;
    sqlite3_bind_int64(q, 1, v);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)cap);
    rc = step_rows(s, q, out, size, cap, n, read, false, what);
out:
    done(q);
    if (rc) *n = 0;
    return rc;
}

static int sq_audit_legacy_list(ig_store_t *st, int64_t after_seq, ig_audit_t *out, size_t cap, size_t *n)
{
    return rows_by_int(sq(st), ST_AUDIT_V1_PAGE, after_seq, out, sizeof *out, cap, n, read_audit_legacy_v,
                       "audit legacy list");
}

static int sq_audit_legacy_finish(ig_store_t *st, int64_t last_seq, const uint8_t last_hash[32], int64_t now,
                                  size_t *kept)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL, *t = NULL;
    uint8_t tail[32];
    char hex[65];
    size_t n = 0;
    int rc, src;
    ig_audit_t e;

    if ((rc = tx_begin(s)) || (rc = stmt(s, ST_AUDIT_V1_TAIL, &q))) goto out;
    src = sqlite3_step(q);
    if (src == SQLITE_DONE) goto commit; /* nothing left to move */
    if (src != SQLITE_ROW) {
        rc = map_err(s, src, "audit legacy tail");
        goto out;
    }
    if ((rc = col_hash(q, 1, tail))) goto out;
    if (sqlite3_column_int64(q, 0) != last_seq || memcmp(tail, last_hash, 32) != 0) {
        rc = IG_ECONFLICT; /* not the chain the caller verified */
        goto out;
    }
    done(q);
    q = NULL;
    if ((rc = stmt(s, ST_AUDIT_V1_REST, &q)) || (rc = stmt(s, ST_AUDIT_ID_TAKEN, &t))) goto out;
    while ((src = sqlite3_step(q)) == SQLITE_ROW) {
        if ((rc = read_audit(q, &e))) goto out;
        bind_text(t, 1, e.id);
        src = sqlite3_step(t);
        int64_t taken = src == SQLITE_ROW ? sqlite3_column_int64(t, 0) : -1;
        done(t);
        if (taken < 0) {
            rc = map_err(s, src, "audit id");
            goto out;
        }
        if (taken) continue; /* moved by an earlier run that did not commit its end */
        if ((rc = chain_append(s, &e))) goto out;
        n++;
    }
    if (src != SQLITE_DONE) {
        rc = map_err(s, src, "audit legacy rest");
        goto out;
    }
    done(q);
    q = NULL;
    if ((rc = stmt(s, ST_AUDIT_V1_CLEAR, &q)) || (rc = step_done(s, q, "audit legacy clear"))) goto out;
    done(q);
    q = NULL;
    ig_hex_encode(last_hash, 32, hex);
    if ((rc = ig_store_audit_new(NULL, "system", "audit.upgrade", hex, NULL, NULL, &e))) goto out;
    e.created_at = now;
    if ((rc = chain_append(s, &e))) goto out;
commit:
    rc = tx_commit(s);
out:
    done(q);
    done(t);
    if (rc) tx_rollback(s);
    *kept = rc ? 0 : n;
    return rc;
}

/* ---- v3 ---- */

/* Runs a statement with text parameters a (1) and b (2, skipped when NULL); *changes (may be NULL) = the
 * rows it changed. */
static int exec_tt(sq_store_t *s, int id, const char *what, const char *a, const char *b, int64_t *changes)
{
    sqlite3_stmt *q = NULL;
    int rc = stmt(s, id, &q);
    if (rc) goto out;
    bind_text(q, 1, a);
    if (b) bind_text(q, 2, b);
    if ((rc = step_done(s, q, what))) goto out;
    if (changes) *changes = sqlite3_changes64(s->db);
out:
    done(q);
    return rc;
}

/* As exec_tt with an integer first: v (1), a (2), b (3, skipped when NULL). */
static int exec_itt(sq_store_t *s, int id, const char *what, int64_t v, const char *a, const char *b,
                    int64_t *changes)
{
    sqlite3_stmt *q = NULL;
    int rc = stmt(s, id, &q);
    if (rc) goto out;
    sqlite3_bind_int64(q, 1, v);
    bind_text(q, 2, a);
    if (b) bind_text(q, 3, b);
    if ((rc = step_done(s, q, what))) goto out;
    if (changes) *changes = sqlite3_changes64(s->db);
out:
    done(q);
    return rc;
}

/* Steps a bound single-row query into out with read(). IG_ENOTFOUND when it has no row. */
static int get_row(sq_store_t *s, sqlite3_stmt *q, int (*read)(sqlite3_stmt *, void *), void *out,
                   const char *what)
{
    int src = sqlite3_step(q);
    if (src == SQLITE_DONE) return IG_ENOTFOUND;
    if (src != SQLITE_ROW) return map_err(s, src, what);
    return read(q, out);
}

/* The row statement `id` selects by (row id = parameter 1, org = parameter 2), read by read() into out:
 * another org's row is IG_ENOTFOUND like a missing one. No transaction of its own. */
static int org_row_get(sq_store_t *s, int id, const char *org_id, const char *row_id,
                       int (*read)(sqlite3_stmt *, void *), void *out, const char *what)
{
    sqlite3_stmt *q = NULL;
    int rc = stmt(s, id, &q);
    if (rc == IG_OK) {
        bind_text(q, 1, row_id);
        bind_text(q, 2, org_id);
        rc = get_row(s, q, read, out, what);
    }
    done(q);
    return rc;
}

/* Runs list statement `id` of an org: org_id is parameter 1, now (when with_now) parameter 2, the LIMIT the
 * last one. Rows of `size` bytes go to out[0..cap) through read(); *n and IG_ETOOBIG as ig_store_key_list. */
static int list_rows(sq_store_t *s, int id, const char *org_id, bool with_now, int64_t now, void *out,
                     size_t size, size_t cap, size_t *n, int (*read)(sqlite3_stmt *, void *),
                     const char *what)
{
    sqlite3_stmt *q = NULL;
    int rc = stmt(s, id, &q);
    if (rc) goto out;
    bind_text(q, 1, org_id);
    if (with_now) sqlite3_bind_int64(q, 2, now);
    /* one more than fits tells "there are more" apart from "exactly cap" */
    sqlite3_bind_int64(q, sqlite3_bind_parameter_count(q),
                       cap < (size_t)INT64_MAX ? (int64_t)cap + 1 : INT64_MAX);
    rc = step_rows(s, q, out, size, cap, n, read, true, what);
out:
    done(q);
    if (rc && rc != IG_ETOOBIG) *n = 0;
    return rc;
}

/* IG_ENOTFOUND unless the org exists. */
static int org_exists(sq_store_t *s, const char *org_id)
{
    bool yes = false;
    int rc = exists(s, ST_ORG_EXISTS, org_id, &yes);
    return rc ? rc : yes ? IG_OK : IG_ENOTFOUND;
}

static int sq_org_update(ig_store_t *st, const char *org_id, const char *name, const char *default_provider,
                         const char *settings, ig_org_t *out)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    int rc;
    if ((rc = tx_begin(s)) || (rc = stmt(s, ST_ORG_UPDATE, &q))) {
        tx_rollback(s);
        return rc;
    }
    bind_text(q, 1, name);
    sqlite3_bind_int(q, 2, default_provider != NULL);
    bind_opt_text(q, 3, default_provider);
    bind_text(q, 4, settings);
    bind_text(q, 5, org_id);
    return update_read_back(s, q, "org update", org_get_v, org_id, NULL, out);
}

static int sq_org_set_plan(ig_store_t *st, const char *org_id, int plan)
{
    int64_t changed = 0;
    int rc = exec_itt(sq(st), ST_ORG_SET_PLAN, "org set plan", plan, org_id, NULL, &changed);
    return rc ? rc : changed ? IG_OK : IG_ENOTFOUND;
}

/* What an org owns, children before their parents (keys point at apps, apps at teams, webhook attempts at
 * deliveries, deliveries at webhooks, all at the org).
 * Audit entries are not here: they outlive the org, and deleting any would break the chain. */
static const int org_delete_steps[] = {
    ST_ORG_DEL_SESSIONS,    ST_ORG_DEL_INVITES,       ST_ORG_DEL_MEMBERS,   ST_ORG_DEL_KEYS,
    ST_ORG_DEL_APPS,        ST_ORG_DEL_TEAMS,         ST_ORG_DEL_PROVIDERS, ST_ORG_DEL_CALLS,
    ST_ORG_DEL_WH_ATTEMPTS, ST_ORG_DEL_WH_DELIVERIES, ST_ORG_DEL_WEBHOOKS,  ST_ORG_DEL,
};

static int sq_org_delete(ig_store_t *st, const char *org_id)
{
    sq_store_t *s = sq(st);
    int rc;
    if ((rc = tx_begin(s)) || (rc = org_exists(s, org_id))) goto out;
    /* v5: the log batches of its deliveries, before those; v7: its budgets and their spend */
    if ((rc = exec_tt(s, ST_ORG_DEL_LOGBATCHES, "org delete", org_id, NULL, NULL)) ||
        (rc = exec_tt(s, ST_ORG_DEL_BUDGET_SPEND, "org delete", org_id, NULL, NULL)) ||
        (rc = exec_tt(s, ST_ORG_DEL_BUDGETS, "org delete", org_id, NULL, NULL)))
        goto out;
    for (size_t i = 0; i < IG_ARRAY_LEN(org_delete_steps); i++)
        if ((rc = exec_tt(s, org_delete_steps[i], "org delete", org_id, NULL, NULL))) goto out;
    rc = tx_commit(s);
out:
    if (rc) tx_rollback(s);
    return rc;
}

static int sq_org_transfer(ig_store_t *st, const char *org_id, const char *from_user, const char *to_user)
{
    sq_store_t *s = sq(st);
    ig_membership_t from, to;
    int rc;
    /* under the write lock: from_user is still an owner when we demote them, and to_user still a member */
    if ((rc = tx_begin(s)) || (rc = org_exists(s, org_id))) goto out;
    rc = sq_membership_get(st, from_user, org_id, &from);
    if (rc == IG_ENOTFOUND || (rc == IG_OK && from.role != IG_STORE_ROLE_OWNER)) rc = IG_EFORBIDDEN;
    if (rc || (rc = sq_membership_get(st, to_user, org_id, &to))) goto out;
    if ((rc = exec_itt(s, ST_MEM_SET_ROLE, "membership set role", IG_STORE_ROLE_OWNER, to_user, org_id,
                       NULL)) ||
        (rc = exec_itt(s, ST_MEM_SET_ROLE, "membership set role", IG_STORE_ROLE_ADMIN, from_user, org_id,
                       NULL)) ||
        (rc = exec_itt(s, ST_KEY_CAP_ROLE, "key cap role", IG_STORE_ROLE_ADMIN, org_id, from_user, NULL)))
        goto out;
    rc = tx_commit(s);
out:
    if (rc) tx_rollback(s);
    return rc;
}

static int sq_member_list(ig_store_t *st, const char *org_id, ig_member_t *out, size_t cap, size_t *n)
{
    return list_rows(sq(st), ST_MEM_LIST, org_id, false, 0, out, sizeof *out, cap, n, read_member,
                     "member list");
}

static int sq_membership_insert(ig_store_t *st, const ig_membership_t *m)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    int rc = stmt(s, ST_MEM_INSERT, &q);
    if (rc) goto out;
    bind_text(q, 1, m->user_id);
    bind_text(q, 2, m->org_id);
    sqlite3_bind_int(q, 3, m->role);
    sqlite3_bind_int64(q, 4, m->created_at);
    rc = step_done(s, q, "membership insert"); /* primary key: IG_ECONFLICT; foreign keys: IG_ENOTFOUND */
out:
    done(q);
    return rc;
}

static int sq_membership_change(ig_store_t *st, const char *org_id, const char *user_id, int new_role,
                                int actor_role, int64_t now, int *old_role, const char **why)
{
    sq_store_t *s = sq(st);
    ig_membership_t m;
    int64_t owners = 0;
    int rc;

    /* every rule is checked against the rows as they are under the write lock, so two admins changing
     * roles at once are serialized: e.g. two owners demoting each other leave one owner, never zero */
    if ((rc = tx_begin(s)) || (rc = sq_membership_get(st, user_id, org_id, &m))) goto out;
    rc = IG_EFORBIDDEN;
    if (actor_role < IG_STORE_ROLE_OWNER &&
        (m.role == IG_STORE_ROLE_OWNER || new_role == IG_STORE_ROLE_OWNER)) {
        *why = "owner_only";
        goto out;
    }
    if (m.role > actor_role || new_role > actor_role) {
        *why = "above_own_role";
        goto out;
    }
    if (m.role == IG_STORE_ROLE_OWNER && new_role != IG_STORE_ROLE_OWNER) {
        if ((rc = count2(s, ST_MEM_OWNERS, org_id, NULL, &owners))) goto out;
        if (owners <= 1) {
            *why = "last_owner";
            rc = IG_ECONFLICT;
            goto out;
        }
    }
    if (new_role < 0) {
        if ((rc = exec_itt(s, ST_KEY_REVOKE_BY, "key revoke", now, org_id, user_id, NULL)) ||
            (rc = exec_itt(s, ST_SESS_REVOKE_MEMBER, "session revoke", now, user_id, org_id, NULL)) ||
            (rc = exec_tt(s, ST_MEM_DELETE, "membership delete", user_id, org_id, NULL)))
            goto out;
    } else {
        if ((rc = exec_itt(s, ST_MEM_SET_ROLE, "membership set role", new_role, user_id, org_id, NULL)) ||
            (rc = exec_itt(s, ST_KEY_CAP_ROLE, "key cap role", new_role, org_id, user_id, NULL)))
            goto out;
    }
    if ((rc = tx_commit(s))) goto out;
    *old_role = m.role;
out:
    if (rc) tx_rollback(s);
    return rc;
}

/* *n = the count of "SELECT COUNT(*) … WHERE org_id = ? AND email = ? [AND … ?]" with now as the third. */
static int count_email(sq_store_t *s, int id, const char *org_id, const char *email, int64_t now, int64_t *n)
{
    sqlite3_stmt *q = NULL;
    char tag[IG_STORE_TAG_MAX];
    ig_store_email_tag(email, tag);
    int rc = stmt(s, id, &q);
    if (rc) goto out;
    bind_text(q, 1, org_id);
    bind_text(q, 2, tag);
    if (sqlite3_bind_parameter_count(q) >= 3) sqlite3_bind_int64(q, 3, now);
    int src = sqlite3_step(q);
    if (src != SQLITE_ROW) {
        rc = map_err(s, src, "invite check");
        goto out;
    }
    *n = sqlite3_column_int64(q, 0);
out:
    done(q);
    return rc;
}

static int sq_invite_insert(ig_store_t *st, const ig_invite_t *inv, const uint8_t token_hash[32], int64_t now)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    int64_t members = 0, pending = 0;
    int rc;

    /* the two conflict checks hold until COMMIT: nobody can join or be invited in between */
    if ((rc = tx_begin(s)) ||
        (rc = count_email(s, ST_INV_MEMBER_EMAIL, inv->org_id, inv->email, now, &members)) ||
        (rc = count_email(s, ST_INV_PENDING_EMAIL, inv->org_id, inv->email, now, &pending)))
        goto out;
    rc = IG_ECONFLICT;
    if (members || pending) goto out;
    char tag[IG_STORE_TAG_MAX];
    ig_buf_t enc;
    ig_buf_init(&enc, 4096);
    ig_store_email_tag(inv->email, tag);
    if ((rc = stmt(s, ST_INV_INSERT, &q))) goto out;
    bind_text(q, 1, inv->id);
    bind_text(q, 2, inv->org_id);
    rc = bind_identity(q, 3, 10, "invitations", inv->id, "email", inv->email, tag, &enc);
    ig_buf_free(&enc, false);
    if (rc) goto out;
    sqlite3_bind_int(q, 4, inv->role);
    bind_opt_text(q, 5, inv->invited_by);
    sqlite3_bind_int64(q, 6, inv->created_at);
    sqlite3_bind_int64(q, 7, inv->expires_at);
    bind_opt_i64(q, 8, inv->accepted_at);
    bind_opt_i64(q, 9, inv->revoked_at);
    sqlite3_bind_blob(q, 11, token_hash, 32, SQLITE_STATIC);
    if ((rc = step_done(s, q, "invite insert"))) goto out; /* unknown org or inviter: IG_ENOTFOUND */
    done(q);
    q = NULL;
    rc = tx_commit(s);
out:
    done(q);
    if (rc) tx_rollback(s);
    return rc;
}

static int sq_invite_list(ig_store_t *st, const char *org_id, int64_t now, ig_invite_t *out, size_t cap,
                          size_t *n)
{
    return list_rows(sq(st), ST_INV_LIST, org_id, true, now, out, sizeof *out, cap, n, read_invite,
                     "invite list");
}

static int sq_invite_revoke(ig_store_t *st, const char *org_id, const char *id, int64_t now, ig_invite_t *out)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    int64_t changed = 0;
    int rc;
    if ((rc = tx_begin(s)) || (rc = exec_itt(s, ST_INV_REVOKE, "invite revoke", now, id, org_id, &changed)))
        goto out;
    rc = IG_ENOTFOUND;
    if (!changed || (rc = stmt(s, ST_INV_GET, &q))) goto out;
    bind_text(q, 1, id);
    bind_text(q, 2, org_id);
    if ((rc = get_row(s, q, read_invite, out, "invite get"))) goto out;
    done(q);
    q = NULL;
    rc = tx_commit(s);
out:
    done(q);
    if (rc) tx_rollback(s);
    return rc;
}

/* The pending invitation with this token hash (bound query, no transaction of its own). */
static int invite_by_token(sq_store_t *s, const uint8_t token_hash[32], int64_t now, ig_invite_t *out)
{
    sqlite3_stmt *q = NULL;
    int rc = stmt(s, ST_INV_BY_TOKEN, &q);
    if (rc) goto out;
    sqlite3_bind_blob(q, 1, token_hash, 32, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, now);
    rc = get_row(s, q, read_invite, out, "invite get");
out:
    done(q);
    return rc;
}

static int sq_invite_get_by_token(ig_store_t *st, const uint8_t token_hash[32], int64_t now, ig_invite_t *out)
{
    return invite_by_token(sq(st), token_hash, now, out);
}

static int sq_invite_accept(ig_store_t *st, const uint8_t token_hash[32], const ig_user_t *new_user,
                            int64_t now, ig_user_t *user, ig_membership_t *mem)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    ig_invite_t inv;
    ig_user_t u;
    ig_membership_t m;
    int64_t changed = 0;
    int rc;

    /* under the write lock from the first read: an invitation is accepted at most once */
    if ((rc = tx_begin(s)) || (rc = invite_by_token(s, token_hash, now, &inv))) goto out;
    rc = sq_user_get_by_email(st, inv.email, &u);
    if (rc == IG_ENOTFOUND) {
        rc = IG_EINVAL; /* a new user needs a password */
        if (!new_user->password_hash[0]) goto out;
        u = *new_user;
        memcpy(u.email, inv.email, sizeof u.email);
        if ((rc = user_insert(s, &u))) goto out;
    } else if (rc) {
        goto out;
    }
    memset(&m, 0, sizeof m);
    memcpy(m.user_id, u.id, sizeof m.user_id);
    memcpy(m.org_id, inv.org_id, sizeof m.org_id);
    m.role = inv.role;
    m.created_at = now;
    if ((rc = sq_membership_insert(st, &m)) ||
        (rc = exec_itt(s, ST_INV_ACCEPT, "invite accept", now, inv.id, NULL, &changed)))
        goto out;
    rc = IG_ENOTFOUND;
    if (!changed || (rc = tx_commit(s))) goto out;
    *user = u;
    *mem = m;
out:
    done(q);
    if (rc) tx_rollback(s);
    return rc;
}

/* Sessions that expired more than this long ago are deleted (kept a while for audit and debugging). */
#define SESSION_KEEP_MS (24 * 3600 * 1000LL)

static int sq_session_insert(ig_store_t *st, const char *jti, const char *user_id, const char *org_id,
                             int64_t now, int64_t expires_at)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    int rc;
    if ((rc = tx_begin(s))) goto out;
    /* bounded housekeeping (the statement deletes at most 100 rows): sign-ins keep the table small */
    if ((rc = stmt(s, ST_SESS_GC, &q))) goto out;
    sqlite3_bind_int64(q, 1, now - SESSION_KEEP_MS);
    if ((rc = step_done(s, q, "session gc"))) goto out;
    done(q);
    if ((rc = stmt(s, ST_SESS_INSERT, &q))) goto out;
    bind_text(q, 1, jti);
    bind_text(q, 2, user_id);
    bind_text(q, 3, org_id);
    sqlite3_bind_int64(q, 4, now);
    sqlite3_bind_int64(q, 5, expires_at);
    if ((rc = step_done(s, q, "session insert")))
        goto out; /* jti taken: IG_ECONFLICT; no user/org: ENOTFOUND */
    done(q);
    q = NULL;
    rc = tx_commit(s);
out:
    done(q);
    if (rc) tx_rollback(s);
    return rc;
}

static int read_role(sqlite3_stmt *st, void *p)
{
    *(int *)p = sqlite3_column_int(st, 0);
    return IG_OK;
}

static int sq_session_check(ig_store_t *st, const char *jti, const char *user_id, const char *org_id,
                            int64_t now, int *role)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    int rc = stmt(s, ST_SESS_CHECK, &q);
    if (rc) goto out;
    bind_text(q, 1, jti);
    bind_text(q, 2, user_id);
    bind_text(q, 3, org_id);
    sqlite3_bind_int64(q, 4, now);
    rc = get_row(s, q, read_role, role, "session check"); /* one statement: one consistent snapshot */
out:
    done(q);
    return rc;
}

static int sq_session_revoke(ig_store_t *st, const char *jti, int64_t now)
{
    int64_t changed = 0;
    int rc = exec_itt(sq(st), ST_SESS_REVOKE, "session revoke", now, jti, NULL, &changed);
    return rc ? rc : changed ? IG_OK : IG_ENOTFOUND;
}

static int sq_sessions_revoke_user(ig_store_t *st, const char *user_id, int64_t now)
{
    return exec_itt(sq(st), ST_SESS_REVOKE_USER, "session revoke", now, user_id, NULL, NULL);
}

static int sq_team_insert(ig_store_t *st, const ig_team_t *t)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    int rc = stmt(s, ST_TEAM_INSERT, &q);
    if (rc) goto out;
    bind_text(q, 1, t->id);
    bind_text(q, 2, t->org_id);
    bind_text(q, 3, t->name);
    sqlite3_bind_int64(q, 4, t->created_at);
    rc = step_done(s, q, "team insert"); /* name taken: IG_ECONFLICT; no org: IG_ENOTFOUND */
out:
    done(q);
    return rc;
}

static int sq_team_list(ig_store_t *st, const char *org_id, ig_team_t *out, size_t cap, size_t *n)
{
    return list_rows(sq(st), ST_TEAM_LIST, org_id, false, 0, out, sizeof *out, cap, n, read_team,
                     "team list");
}

/* Deletes a row of the org after clearing the references to it (clear_id: "UPDATE … SET x = NULL WHERE x = ?
 * AND org_id = ?"), in one transaction. IG_ENOTFOUND when the org has no such row (nothing changes). */
static int delete_clearing(sq_store_t *s, int clear_id, int delete_id, const char *org_id, const char *id)
{
    int64_t changed = 0;
    int rc;
    if ((rc = tx_begin(s)) || (rc = exec_tt(s, clear_id, "clear references", id, org_id, NULL)) ||
        (rc = exec_tt(s, delete_id, "delete", id, org_id, &changed)))
        goto out;
    rc = IG_ENOTFOUND;
    if (!changed || (rc = tx_commit(s))) goto out;
out:
    if (rc) tx_rollback(s);
    return rc;
}

static int sq_team_delete(ig_store_t *st, const char *org_id, const char *id)
{
    return delete_clearing(sq(st), ST_APP_UNSET_TEAM, ST_TEAM_DELETE, org_id, id);
}

static int sq_app_insert(ig_store_t *st, const ig_app_t *a)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    int64_t n = 0;
    int rc;
    /* the team must be one of the same org, and stay so until COMMIT */
    if ((rc = tx_begin(s))) goto out;
    if (a->team_id[0]) {
        if ((rc = count2(s, ST_TEAM_IN_ORG, a->team_id, a->org_id, &n))) goto out;
        rc = IG_ENOTFOUND;
        if (n == 0) goto out;
    }
    if ((rc = stmt(s, ST_APP_INSERT, &q))) goto out;
    bind_text(q, 1, a->id);
    bind_text(q, 2, a->org_id);
    bind_opt_text(q, 3, a->team_id);
    bind_text(q, 4, a->name);
    sqlite3_bind_int64(q, 5, a->created_at);
    if ((rc = step_done(s, q, "app insert"))) goto out; /* name taken: IG_ECONFLICT; no org: IG_ENOTFOUND */
    done(q);
    q = NULL;
    rc = tx_commit(s);
out:
    done(q);
    if (rc) tx_rollback(s);
    return rc;
}

static int sq_app_list(ig_store_t *st, const char *org_id, ig_app_t *out, size_t cap, size_t *n)
{
    return list_rows(sq(st), ST_APP_LIST, org_id, false, 0, out, sizeof *out, cap, n, read_app, "app list");
}

static int sq_app_delete(ig_store_t *st, const char *org_id, const char *id)
{
    return delete_clearing(sq(st), ST_KEY_UNSET_APP, ST_APP_DELETE, org_id, id);
}

static int read_key_v(sqlite3_stmt *st, void *p)
{
    return read_key(st, p);
}

/* The org's key with this id (bound query, no transaction of its own). */
static int key_get(sq_store_t *s, const char *org_id, const char *id, ig_keyrec_t *out)
{
    return org_row_get(s, ST_KEY_GET, org_id, id, read_key_v, out, "key get");
}

static int sq_key_get(ig_store_t *st, const char *org_id, const char *id, ig_keyrec_t *out)
{
    return key_get(sq(st), org_id, id, out);
}

static int sq_key_rotate(ig_store_t *st, const char *old_id, const ig_keyrec_t *new_key,
                         int64_t overlap_until, ig_keyrec_t *old_out, ig_keyrec_t *new_out)
{
    sq_store_t *s = sq(st);
    ig_keyrec_t old, nk = *new_key;
    int64_t now = new_key->created_at;
    int rc;

    /* read, insert and shorten under the write lock: a concurrent revoke or rotation of the same key either
     * happens before (we answer IG_ENOTFOUND) or after (it sees the new state) */
    if ((rc = tx_begin(s)) || (rc = key_get(s, new_key->org_id, old_id, &old))) goto out;
    rc = IG_ENOTFOUND;
    if (old.revoked_at || (old.expires_at && old.expires_at <= now)) goto out;
    /* a key is rotated once: a second successor would inherit the overlap expiry and die with it */
    int64_t marked = 0;
    if ((rc = exec_tt(s, ST_KEY_MARK_REPLACED, "key mark replaced", nk.id, old.id, &marked))) goto out;
    rc = IG_ECONFLICT;
    if (!marked) goto out;
    memcpy(nk.name, old.name, sizeof nk.name);
    nk.role = old.role;
    memcpy(nk.app_id, old.app_id, sizeof nk.app_id);
    nk.expires_at = old.expires_at;
    nk.rpm_limit = old.rpm_limit; /* the replacement is limited exactly as the key it replaces */
    nk.tpm_limit = old.tpm_limit;
    /* the same lineage: its limits keep counting and its key budget keeps applying */
    memcpy(nk.lineage_id, old.lineage_id[0] ? old.lineage_id : old.id, sizeof nk.lineage_id);
    if ((rc = key_insert_row(s, &nk))) goto out;
    if (!old.expires_at || old.expires_at > overlap_until) {
        old.expires_at = overlap_until;
        if ((rc = exec_itt(s, ST_KEY_SET_EXPIRY, "key set expiry", overlap_until, old.id, NULL, NULL)))
            goto out;
    }
    if ((rc = tx_commit(s))) goto out;
    *old_out = old;
    *new_out = nk;
out:
    if (rc) tx_rollback(s);
    return rc;
}

static int sq_key_set_limits(ig_store_t *st, const char *org_id, const char *id, int64_t rpm_limit,
                             int64_t tpm_limit, int64_t now, ig_keyrec_t *out)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    ig_keyrec_t k;
    int rc;

    /* read and update under the write lock: a concurrent revocation happens either before (IG_ENOTFOUND)
     * or after, and the answer is the row as committed */
    if ((rc = tx_begin(s)) || (rc = key_get(s, org_id, id, &k))) goto out;
    rc = IG_ENOTFOUND;
    if (k.revoked_at || (k.expires_at && k.expires_at <= now)) goto out;
    if ((rc = stmt(s, ST_KEY_SET_LIMITS, &q))) goto out;
    sqlite3_bind_int64(q, 1, rpm_limit);
    sqlite3_bind_int64(q, 2, tpm_limit);
    bind_text(q, 3, k.id);
    if ((rc = step_done(s, q, "key set limits"))) goto out;
    done(q);
    q = NULL;
    if ((rc = tx_commit(s))) goto out;
    k.rpm_limit = rpm_limit;
    k.tpm_limit = tpm_limit;
    *out = k;
out:
    done(q);
    if (rc) tx_rollback(s);
    return rc;
}

static int sq_provider_delete(ig_store_t *st, const char *org_id, const char *provider)
{
    int64_t changed = 0;
    int rc = exec_tt(sq(st), ST_PROV_DELETE, "provider delete", org_id, provider, &changed);
    return rc ? rc : changed ? IG_OK : IG_ENOTFOUND;
}

static int sq_audit_query(ig_store_t *st, const char *org_id, const ig_audit_filter_t *f, int64_t before_seq,
                          ig_audit_t *out, size_t cap, size_t *n)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    int rc = stmt(s, ST_AUDIT_QUERY, &q);
    *n = 0;
    if (rc) goto out;
    bind_text(q, 1, org_id);
    sqlite3_bind_int64(q, 2, before_seq);
    if (f) { /* unbound parameters are NULL: no condition */
        bind_text(q, 3, f->action);
        bind_text(q, 4, f->actor);
        bind_text(q, 5, f->target);
        bind_opt_i64(q, 6, f->since);
        bind_opt_i64(q, 7, f->until);
    }
    sqlite3_bind_int64(q, 8, (sqlite3_int64)cap);
    rc = step_rows(s, q, out, sizeof *out, cap, n, read_audit_v, false, "audit query");
out:
    done(q);
    if (rc) *n = 0;
    return rc;
}

static int sq_audit_get(ig_store_t *st, const char *org_id, const char *id, ig_audit_t *out)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    ig_audit_t e;
    int rc = stmt(s, ST_AUDIT_GET, &q);
    if (rc) goto out;
    bind_text(q, 1, id);
    bind_text(q, 2, org_id);
    if ((rc = get_row(s, q, read_audit_v, &e, "audit get"))) goto out;
    *out = e;
out:
    done(q);
    return rc;
}

/* ---- webhooks ---- */

/* Copies a blob column into a malloc'd buffer (*out NULL and *len 0 for NULL or empty). */
static int col_blob_dup(sqlite3_stmt *q, int i, uint8_t **out, size_t *len)
{
    const void *blob = sqlite3_column_blob(q, i);
    size_t n = (size_t)sqlite3_column_bytes(q, i);
    *out = NULL;
    *len = 0;
    if (!blob || !n) return IG_OK;
    if (!(*out = malloc(n))) return IG_ENOMEM;
    memcpy(*out, blob, n);
    *len = n;
    return IG_OK;
}

static int read_webhook(sqlite3_stmt *st, void *p)
{
    ig_webhook_t *w = p;
    int rc;
    memset(w, 0, sizeof *w);
    if ((rc = col_text(st, 0, w->id, sizeof w->id)) || (rc = col_text(st, 1, w->org_id, sizeof w->org_id)) ||
        (rc = col_text(st, 2, w->url, sizeof w->url)) ||
        (rc = col_text(st, 3, w->events, sizeof w->events)) ||
        (rc = col_text(st, 4, w->description, sizeof w->description)))
        goto out;
    w->enabled = sqlite3_column_int(st, 5) != 0;
    const void *secret = sqlite3_column_blob(st, 6);
    size_t n = (size_t)sqlite3_column_bytes(st, 6);
    rc = IG_EINTERNAL;
    if (!secret || n == 0 || n > sizeof w->secret) goto out;
    memcpy(w->secret, secret, n);
    w->secret_len = n;
    w->created_at = sqlite3_column_int64(st, 7);
    w->updated_at = sqlite3_column_int64(st, 8);
    rc = IG_OK;
out:
    return rc;
}

static int read_delivery(sqlite3_stmt *st, void *p)
{
    ig_webhook_delivery_t *d = p;
    int rc;
    memset(d, 0, sizeof *d);
    if ((rc = col_text(st, 0, d->id, sizeof d->id)) || (rc = col_text(st, 1, d->org_id, sizeof d->org_id)) ||
        (rc = col_text(st, 2, d->webhook_id, sizeof d->webhook_id)) ||
        (rc = col_text(st, 3, d->event_id, sizeof d->event_id)) ||
        (rc = col_text(st, 4, d->event_type, sizeof d->event_type)) ||
        (rc = col_text(st, 9, d->last_error, sizeof d->last_error)))
        goto out;
    d->status = sqlite3_column_int(st, 5);
    d->attempts = sqlite3_column_int(st, 6);
    d->next_attempt_at = sqlite3_column_int64(st, 7); /* NULL reads as 0 */
    d->last_status = sqlite3_column_int(st, 8);
    d->created_at = sqlite3_column_int64(st, 10);
    d->updated_at = sqlite3_column_int64(st, 11);
out:
    return rc;
}

static int read_attempt(sqlite3_stmt *st, void *p)
{
    ig_webhook_attempt_t *a = p;
    memset(a, 0, sizeof *a);
    a->attempt = sqlite3_column_int(st, 0);
    a->started_at = sqlite3_column_int64(st, 1);
    a->status_code = sqlite3_column_int(st, 2);
    a->duration_ms = sqlite3_column_int64(st, 4);
    return col_text(st, 3, a->error, sizeof a->error);
}

/* As list_rows, for statements with two text parameters (a, b) before the LIMIT. */
static int list_rows2(sq_store_t *s, int id, const char *a, const char *b, void *out, size_t size, size_t cap,
                      size_t *n, int (*read)(sqlite3_stmt *, void *), const char *what)
{
    sqlite3_stmt *q = NULL;
    int rc = stmt(s, id, &q);
    if (rc) goto out;
    bind_text(q, 1, a);
    bind_text(q, 2, b);
    sqlite3_bind_int64(q, 3, cap < (size_t)INT64_MAX ? (int64_t)cap + 1 : INT64_MAX);
    rc = step_rows(s, q, out, size, cap, n, read, true, what);
out:
    done(q);
    if (rc && rc != IG_ETOOBIG) *n = 0;
    return rc;
}

static int sq_webhook_insert(ig_store_t *st, const ig_webhook_t *w, size_t max_per_org)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    int64_t n = 0;
    int rc;
    /* counted under the write lock: two concurrent creations cannot both take the last slot */
    if ((rc = tx_begin(s)) || (rc = count2(s, ST_WH_COUNT_ORG, w->org_id, NULL, &n))) goto out;
    rc = IG_ETOOBIG;
    if ((uint64_t)n >= max_per_org) goto out;
    if ((rc = stmt(s, ST_WH_INSERT, &q))) goto out;
    bind_text(q, 1, w->id);
    bind_text(q, 2, w->org_id);
    bind_text(q, 3, w->url);
    bind_text(q, 4, w->events);
    bind_opt_text(q, 5, w->description);
    sqlite3_bind_int(q, 6, w->enabled);
    sqlite3_bind_blob(q, 7, w->secret, (int)w->secret_len, SQLITE_STATIC);
    sqlite3_bind_int64(q, 8, w->created_at);
    sqlite3_bind_int64(q, 9, w->updated_at);
    if ((rc = step_done(s, q, "webhook insert"))) goto out; /* no org: IG_ENOTFOUND */
    done(q);
    q = NULL;
    rc = tx_commit(s);
out:
    done(q);
    if (rc) tx_rollback(s);
    return rc;
}

/* The org's webhook (bound query, no transaction of its own). */
static int webhook_get(sq_store_t *s, const char *org_id, const char *id, ig_webhook_t *out)
{
    return org_row_get(s, ST_WH_GET, org_id, id, read_webhook, out, "webhook get");
}

static int webhook_get_v(sq_store_t *s, const char *org_id, const char *id, void *out)
{
    return webhook_get(s, org_id, id, out);
}

static int sq_webhook_get(ig_store_t *st, const char *org_id, const char *id, ig_webhook_t *out)
{
    return webhook_get(sq(st), org_id, id, out);
}

static int sq_webhook_list(ig_store_t *st, const char *org_id, ig_webhook_t *out, size_t cap, size_t *n)
{
    return list_rows(sq(st), ST_WH_LIST, org_id, false, 0, out, sizeof *out, cap, n, read_webhook,
                     "webhook list");
}

static int sq_webhook_update(ig_store_t *st, const char *org_id, const char *id, const char *url,
                             const char *events, const char *description, int enabled, int64_t now,
                             ig_webhook_t *out)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    int rc;
    if ((rc = tx_begin(s)) || (rc = stmt(s, ST_WH_UPDATE, &q))) {
        tx_rollback(s);
        return rc;
    }
    bind_text(q, 1, url);
    bind_text(q, 2, events);
    sqlite3_bind_int(q, 3, description != NULL);
    bind_opt_text(q, 4, description);
    if (enabled >= 0) sqlite3_bind_int(q, 5, enabled); /* unbound: NULL, keep */
    sqlite3_bind_int64(q, 6, now);
    bind_text(q, 7, id);
    bind_text(q, 8, org_id);
    return update_read_back(s, q, "webhook update", webhook_get_v, org_id, id, out);
}

static int sq_webhook_delete(ig_store_t *st, const char *org_id, const char *id)
{
    sq_store_t *s = sq(st);
    int64_t changed = 0;
    int rc;
    if ((rc = tx_begin(s)) || (rc = exec_tt(s, ST_WH_DEL_LOGBATCHES, "webhook delete", id, org_id, NULL)) ||
        (rc = exec_tt(s, ST_WH_DEL_ATTEMPTS, "webhook delete", id, org_id, NULL)) ||
        (rc = exec_tt(s, ST_WH_DEL_DELIVERIES, "webhook delete", id, org_id, NULL)) ||
        (rc = exec_tt(s, ST_WH_DELETE, "webhook delete", id, org_id, &changed)))
        goto out;
    rc = IG_ENOTFOUND;
    if (!changed || (rc = tx_commit(s))) goto out;
out:
    if (rc) tx_rollback(s);
    return rc;
}

static int sq_delivery_insert(ig_store_t *st, const ig_webhook_delivery_t *d, const uint8_t *payload,
                              size_t len)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    int rc = stmt(s, ST_DEL_INSERT, &q);
    if (rc) goto out;
    bind_text(q, 1, d->id);
    bind_text(q, 2, d->org_id);
    bind_text(q, 3, d->webhook_id);
    bind_text(q, 4, d->event_id);
    bind_text(q, 5, d->event_type);
    sqlite3_bind_int(q, 6, d->status);
    sqlite3_bind_int(q, 7, d->attempts);
    bind_opt_i64(q, 8, d->next_attempt_at);
    if (d->last_status) sqlite3_bind_int(q, 9, d->last_status);
    bind_opt_text(q, 10, d->last_error);
    sqlite3_bind_int64(q, 11, d->created_at);
    sqlite3_bind_int64(q, 12, d->updated_at);
    sqlite3_bind_blob(q, 13, payload, (int)len, SQLITE_STATIC);
    if ((rc = step_done(s, q, "delivery insert"))) goto out;
    if (sqlite3_changes(s->db) == 0) rc = IG_ENOTFOUND; /* not a webhook of this org */
out:
    done(q);
    return rc;
}

static int sq_delivery_payload(ig_store_t *st, const char *org_id, const char *id, uint8_t **blob,
                               size_t *len)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    uint8_t *copy = NULL;
    size_t n = 0;
    int rc = stmt(s, ST_DEL_PAYLOAD, &q);
    if (rc) goto out;
    bind_text(q, 1, id);
    bind_text(q, 2, org_id);
    int src = sqlite3_step(q);
    if (src == SQLITE_DONE) {
        rc = IG_ENOTFOUND;
        goto out;
    }
    if (src != SQLITE_ROW) {
        rc = map_err(s, src, "delivery payload");
        goto out;
    }
    if ((rc = col_blob_dup(q, 0, &copy, &n))) goto out;
    rc = IG_EINTERNAL;
    if (!copy) goto out; /* NOT NULL in the schema: a row we did not write */
    *blob = copy;
    *len = n;
    copy = NULL;
    rc = IG_OK;
out:
    done(q);
    free(copy);
    return rc;
}

static int sq_delivery_due(ig_store_t *st, int64_t now, ig_webhook_delivery_t *out, size_t cap, size_t *n)
{
    return rows_by_int(sq(st), ST_DEL_DUE, now, out, sizeof *out, cap, n, read_delivery, "delivery due");
}

static int sq_delivery_next_due(ig_store_t *st, int64_t *at)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    int rc = stmt(s, ST_DEL_NEXT_DUE, &q);
    if (rc) goto out;
    int src = sqlite3_step(q);
    if (src != SQLITE_ROW) {
        rc = map_err(s, src, "delivery next due");
        goto out;
    }
    *at = sqlite3_column_int64(q, 0); /* MIN of nothing is NULL: 0 */
out:
    done(q);
    return rc;
}

static int sq_delivery_lease(ig_store_t *st, const char *id, int64_t due_by, int64_t until)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    int rc = stmt(s, ST_DEL_LEASE, &q);
    if (rc) goto out;
    sqlite3_bind_int64(q, 1, until);
    bind_text(q, 2, id);
    sqlite3_bind_int64(q, 3, due_by);
    if ((rc = step_done(s, q, "delivery lease"))) goto out;
    if (sqlite3_changes(s->db) == 0) rc = IG_ENOTFOUND;
out:
    done(q);
    return rc;
}

/* The org's delivery (bound query, no transaction of its own). */
static int delivery_get(sq_store_t *s, const char *org_id, const char *id, ig_webhook_delivery_t *out)
{
    return org_row_get(s, ST_DEL_GET, org_id, id, read_delivery, out, "delivery get");
}

static int sq_delivery_record(ig_store_t *st, const char *org_id, const char *id, ig_webhook_attempt_t *a,
                              int status, int64_t next_attempt_at, int64_t now, ig_webhook_delivery_t *out)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    ig_webhook_delivery_t d;
    int rc;
    /* read, append and update under the write lock: the attempt number is the delivery's own count + 1 */
    if ((rc = tx_begin(s)) || (rc = delivery_get(s, org_id, id, &d))) goto out;
    rc = IG_ECONFLICT;
    if (d.status != IG_STORE_DELIVERY_PENDING) goto out;
    a->attempt = d.attempts + 1;
    if ((rc = stmt(s, ST_ATT_INSERT, &q))) goto out;
    bind_text(q, 1, id);
    bind_text(q, 2, org_id);
    sqlite3_bind_int(q, 3, a->attempt);
    sqlite3_bind_int64(q, 4, a->started_at);
    if (a->status_code) sqlite3_bind_int(q, 5, a->status_code);
    bind_opt_text(q, 6, a->error);
    sqlite3_bind_int64(q, 7, a->duration_ms);
    if ((rc = step_done(s, q, "attempt insert"))) goto out;
    done(q);
    if ((rc = stmt(s, ST_DEL_UPDATE, &q))) goto out;
    sqlite3_bind_int(q, 1, a->attempt);
    sqlite3_bind_int(q, 2, status);
    bind_opt_i64(q, 3, next_attempt_at);
    if (a->status_code) sqlite3_bind_int(q, 4, a->status_code);
    bind_opt_text(q, 5, a->error);
    sqlite3_bind_int64(q, 6, now);
    bind_text(q, 7, id);
    bind_text(q, 8, org_id);
    if ((rc = step_done(s, q, "delivery update"))) goto out;
    done(q);
    q = NULL;
    if ((rc = delivery_get(s, org_id, id, &d)) || (rc = tx_commit(s))) goto out;
    *out = d;
out:
    done(q);
    if (rc) tx_rollback(s);
    return rc;
}

static int sq_delivery_list(ig_store_t *st, const char *org_id, const char *webhook_id,
                            ig_webhook_delivery_t *out, size_t cap, size_t *n)
{
    return list_rows2(sq(st), ST_DEL_LIST, org_id, webhook_id, out, sizeof *out, cap, n, read_delivery,
                      "delivery list");
}

static int sq_attempt_list(ig_store_t *st, const char *org_id, const char *delivery_id,
                           ig_webhook_attempt_t *out, size_t cap, size_t *n)
{
    return list_rows2(sq(st), ST_ATT_LIST, org_id, delivery_id, out, sizeof *out, cap, n, read_attempt,
                      "attempt list");
}

static int sq_delivery_purge(ig_store_t *st, int64_t before, size_t max, size_t *purged)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    int rc;
    /* the statements select the same rows (same order, same limit) under one write lock; the deliveries go
     * last, so the selection cannot move before then */
    static const int steps[] = {ST_DEL_PURGE_LOGBATCHES, ST_DEL_PURGE_ATTEMPTS, ST_DEL_PURGE};
    if ((rc = tx_begin(s))) goto out;
    for (size_t i = 0; i < IG_ARRAY_LEN(steps); i++) {
        if ((rc = stmt(s, steps[i], &q))) goto out;
        sqlite3_bind_int64(q, 1, before);
        sqlite3_bind_int64(q, 2, (sqlite3_int64)max);
        if ((rc = step_done(s, q, "delivery purge"))) goto out;
        if (steps[i] == ST_DEL_PURGE) *purged = (size_t)sqlite3_changes64(s->db);
        done(q);
        q = NULL;
    }
    rc = tx_commit(s);
out:
    done(q);
    if (rc) {
        tx_rollback(s);
        *purged = 0;
    }
    return rc;
}

/* ---- v5: logs.expiring batches ---- */

static int read_logbatch(sqlite3_stmt *st, void *p)
{
    ig_logbatch_t *b = p;
    int rc;
    memset(b, 0, sizeof *b);
    if ((rc = col_text(st, 0, b->delivery_id, sizeof b->delivery_id)) ||
        (rc = col_text(st, 1, b->org_id, sizeof b->org_id)) ||
        (rc = col_text(st, 2, b->webhook_id, sizeof b->webhook_id)))
        return rc;
    b->first_at = sqlite3_column_int64(st, 3);
    b->first_seq = sqlite3_column_int64(st, 4);
    b->last_at = sqlite3_column_int64(st, 5);
    b->last_seq = sqlite3_column_int64(st, 6);
    b->records = sqlite3_column_int64(st, 7);
    b->cutoff = sqlite3_column_int64(st, 8);
    b->done = sqlite3_column_int(st, 9) != 0;
    b->created_at = sqlite3_column_int64(st, 10);
    return IG_OK;
}

/* Steps a bound query of two integer columns into *a, *b; *found = whether it had a row. */
static int query_pair(sq_store_t *s, sqlite3_stmt *q, const char *what, bool *found, int64_t *a, int64_t *b)
{
    int src = sqlite3_step(q);
    *found = src == SQLITE_ROW;
    if (src == SQLITE_DONE) return IG_OK;
    if (src != SQLITE_ROW) return map_err(s, src, what);
    *a = sqlite3_column_int64(q, 0);
    *b = sqlite3_column_int64(q, 1);
    return IG_OK;
}

/* The position of the last record queued to a webhook (bound query, no transaction of its own). */
static int logbatch_last(sq_store_t *s, const char *org_id, const char *webhook_id, bool *found, int64_t *at,
                         int64_t *seq)
{
    sqlite3_stmt *q = NULL;
    int rc = stmt(s, ST_LB_LAST, &q);
    if (rc == IG_OK) {
        bind_text(q, 1, org_id);
        bind_text(q, 2, webhook_id);
        rc = query_pair(s, q, "log batch last", found, at, seq);
    }
    done(q);
    return rc;
}

static int sq_logbatch_insert(ig_store_t *st, const ig_webhook_delivery_t *d, const uint8_t *payload,
                              size_t len, const ig_logbatch_t *b)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    bool found = false;
    int64_t at = 0, seq = 0;
    int rc;
    /* under the write lock: two passes (the server's and the CLI's) cannot both queue the same records */
    if ((rc = tx_begin(s)) || (rc = logbatch_last(s, d->org_id, d->webhook_id, &found, &at, &seq))) goto out;
    rc = IG_ECONFLICT;
    if (found && (b->first_at < at || (b->first_at == at && b->first_seq <= seq))) goto out;
    if ((rc = sq_delivery_insert(st, d, payload, len)) || (rc = stmt(s, ST_LB_INSERT, &q))) goto out;
    bind_text(q, 1, d->id);
    bind_text(q, 2, d->org_id);
    bind_text(q, 3, d->webhook_id);
    sqlite3_bind_int64(q, 4, b->first_at);
    sqlite3_bind_int64(q, 5, b->first_seq);
    sqlite3_bind_int64(q, 6, b->last_at);
    sqlite3_bind_int64(q, 7, b->last_seq);
    sqlite3_bind_int64(q, 8, b->records);
    sqlite3_bind_int64(q, 9, b->cutoff);
    sqlite3_bind_int(q, 10, 0);
    sqlite3_bind_int64(q, 11, d->created_at);
    if ((rc = step_done(s, q, "log batch insert"))) goto out;
    done(q);
    q = NULL;
    rc = tx_commit(s);
out:
    done(q);
    if (rc) tx_rollback(s);
    return rc;
}

static int sq_logbatch_get(ig_store_t *st, const char *org_id, const char *delivery_id, ig_logbatch_t *out)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    int rc = stmt(s, ST_LB_GET, &q);
    if (rc == IG_OK) {
        bind_text(q, 1, delivery_id);
        bind_text(q, 2, org_id);
        rc = get_row(s, q, read_logbatch, out, "log batch get");
    }
    done(q);
    return rc;
}

static int sq_logbatch_state(ig_store_t *st, const char *org_id, const char *webhook_id,
                             int64_t failed_before, ig_logbatch_state_t *out)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    ig_logbatch_state_t r;
    bool found = false;
    int rc;
    memset(&r, 0, sizeof r);
    if ((rc = tx_begin(s)) || (rc = stmt(s, ST_LB_CLOSE, &q))) goto out;
    bind_text(q, 1, org_id);
    bind_text(q, 2, webhook_id);
    sqlite3_bind_int64(q, 3, failed_before);
    if ((rc = step_done(s, q, "log batch close"))) goto out;
    done(q);
    q = NULL;
    if ((rc = count2(s, ST_LB_OPEN, org_id, webhook_id, &r.open))) goto out;
    if (r.open) {
        if ((rc = stmt(s, ST_LB_OPEN_FIRST, &q))) goto out;
        bind_text(q, 1, org_id);
        bind_text(q, 2, webhook_id);
        if ((rc = query_pair(s, q, "log batch open", &found, &r.open_at, &r.open_seq))) goto out;
        done(q);
        q = NULL;
        rc = IG_EINTERNAL;
        if (!found) goto out; /* counted a moment ago under the same lock */
    }
    if ((rc = logbatch_last(s, org_id, webhook_id, &r.queued, &r.last_at, &r.last_seq)) ||
        (rc = tx_commit(s)))
        goto out;
    *out = r;
out:
    done(q);
    if (rc) tx_rollback(s);
    return rc;
}

/* ---- v7: budgets ---- */

static int read_budget(sqlite3_stmt *st, void *p)
{
    ig_budget_t *b = p;
    int rc;
    memset(b, 0, sizeof *b);
    if ((rc = col_text(st, 0, b->id, sizeof b->id)) || (rc = col_text(st, 1, b->org_id, sizeof b->org_id)) ||
        (rc = col_text(st, 3, b->scope_id, sizeof b->scope_id)) ||
        (rc = col_text(st, 4, b->name, sizeof b->name)))
        goto out;
    b->scope = sqlite3_column_int(st, 2);
    b->period = sqlite3_column_int(st, 5);
    b->hard_micros = sqlite3_column_int64(st, 6);
    b->soft_micros = sqlite3_column_int64(st, 7);
    b->created_at = sqlite3_column_int64(st, 8);
    b->updated_at = sqlite3_column_int64(st, 9);
out:
    return rc;
}

/* The org's budget (bound query, no transaction of its own). */
static int budget_get(sq_store_t *s, const char *org_id, const char *id, ig_budget_t *out)
{
    return org_row_get(s, ST_BUDGET_GET, org_id, id, read_budget, out, "budget get");
}

static int budget_get_v(sq_store_t *s, const char *org_id, const char *id, void *out)
{
    return budget_get(s, org_id, id, out);
}

static int sq_budget_insert(ig_store_t *st, const ig_budget_t *b, size_t max_per_org)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    int64_t n = 0;
    int rc;
    /* under the write lock: the scope target is one of the org's until COMMIT, and two creations cannot both
     * take the last slot */
    if ((rc = tx_begin(s)) || (rc = org_exists(s, b->org_id))) goto out;
    if (b->scope != IG_STORE_BUDGET_ORG) {
        int id = b->scope == IG_STORE_BUDGET_APP ? ST_APP_IN_ORG : ST_BUDGET_KEY_IN_ORG;
        if ((rc = count2(s, id, b->scope_id, b->org_id, &n))) goto out;
        rc = IG_ENOTFOUND;
        if (n == 0) goto out;
    }
    if ((rc = count2(s, ST_BUDGET_COUNT_ORG, b->org_id, NULL, &n))) goto out;
    rc = IG_ETOOBIG;
    if ((uint64_t)n >= max_per_org) goto out;
    if ((rc = stmt(s, ST_BUDGET_INSERT, &q))) goto out;
    bind_text(q, 1, b->id);
    bind_text(q, 2, b->org_id);
    sqlite3_bind_int(q, 3, b->scope);
    bind_text(q, 4, b->scope_id);
    bind_opt_text(q, 5, b->name);
    sqlite3_bind_int(q, 6, b->period);
    sqlite3_bind_int64(q, 7, b->hard_micros);
    sqlite3_bind_int64(q, 8, b->soft_micros);
    sqlite3_bind_int64(q, 9, b->created_at);
    sqlite3_bind_int64(q, 10, b->updated_at);
    if ((rc = step_done(s, q, "budget insert"))) goto out; /* the scope target has one: IG_ECONFLICT */
    done(q);
    q = NULL;
    rc = tx_commit(s);
out:
    done(q);
    if (rc) tx_rollback(s);
    return rc;
}

static int sq_budget_get(ig_store_t *st, const char *org_id, const char *id, ig_budget_t *out)
{
    return budget_get(sq(st), org_id, id, out);
}

static int sq_budget_list(ig_store_t *st, const char *org_id, ig_budget_t *out, size_t cap, size_t *n)
{
    return list_rows(sq(st), ST_BUDGET_LIST, org_id, false, 0, out, sizeof *out, cap, n, read_budget,
                     "budget list");
}

static int sq_budget_update(ig_store_t *st, const char *org_id, const char *id, const char *name, int period,
                            int64_t hard_micros, int64_t soft_micros, int64_t now, ig_budget_t *out)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    int rc;
    if ((rc = tx_begin(s)) || (rc = stmt(s, ST_BUDGET_UPDATE, &q))) {
        tx_rollback(s);
        return rc;
    }
    bind_opt_text(q, 1, name);
    sqlite3_bind_int(q, 2, period);
    sqlite3_bind_int64(q, 3, hard_micros);
    sqlite3_bind_int64(q, 4, soft_micros);
    sqlite3_bind_int64(q, 5, now);
    bind_text(q, 6, id);
    bind_text(q, 7, org_id);
    return update_read_back(s, q, "budget update", budget_get_v, org_id, id, out);
}

static int sq_budget_delete(ig_store_t *st, const char *org_id, const char *id)
{
    sq_store_t *s = sq(st);
    int64_t changed = 0;
    int rc;
    if ((rc = tx_begin(s)) || (rc = exec_tt(s, ST_BUDGET_DEL_SPEND, "budget delete", id, org_id, NULL)) ||
        (rc = exec_tt(s, ST_BUDGET_DELETE, "budget delete", id, org_id, &changed)))
        goto out;
    rc = IG_ENOTFOUND;
    if (!changed || (rc = tx_commit(s))) goto out;
out:
    if (rc) tx_rollback(s);
    return rc;
}

static int sq_budget_spend_get(ig_store_t *st, const char *budget_id, int64_t period_start, int64_t *spent,
                               unsigned *alerted)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    int rc = stmt(s, ST_BUDGET_SPEND_GET, &q);
    if (rc) goto out;
    bind_text(q, 1, budget_id);
    sqlite3_bind_int64(q, 2, period_start);
    int src = sqlite3_step(q);
    if (src == SQLITE_DONE) { /* nothing spent in this period yet */
        *spent = 0;
        *alerted = 0;
    } else if (src == SQLITE_ROW) {
        *spent = sqlite3_column_int64(q, 0);
        *alerted = (unsigned)sqlite3_column_int(q, 1) & 3u;
    } else {
        rc = map_err(s, src, "budget spend get");
    }
out:
    done(q);
    return rc;
}

/* The alert bits already claimed for (budget, period) (0 when nothing was recorded), in the caller's
 * transaction. */
static int spend_alerted(sq_store_t *s, const char *budget_id, int64_t period_start, unsigned *alerted)
{
    int64_t spent = 0;
    return sq_budget_spend_get(&s->base, budget_id, period_start, &spent, alerted);
}

static int sq_budget_spend_add(ig_store_t *st, ig_budget_spend_t *items, size_t n, int64_t now)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    int rc;
    /* BEGIN IMMEDIATE: the claims below read and write under the write lock, so two writers (threads or
     * processes) that cross a limit together cannot both claim its alert */
    if ((rc = tx_begin(s)) || (rc = stmt(s, ST_BUDGET_SPEND_ADD, &q))) goto out;
    for (size_t i = 0; i < n; i++) {
        unsigned before = 0;
        if (items[i].alerted && (rc = spend_alerted(s, items[i].budget_id, items[i].period_start, &before)))
            goto out;
        bind_text(q, 1, items[i].budget_id);
        bind_text(q, 2, items[i].org_id);
        sqlite3_bind_int64(q, 3, items[i].period_start);
        sqlite3_bind_int64(q, 4, items[i].add_micros);
        sqlite3_bind_int(q, 5, (int)(items[i].alerted & 3u));
        sqlite3_bind_int64(q, 6, now);
        if ((rc = step_done(s, q, "budget spend add"))) goto out;
        /* no row changed: the budget is gone, nothing was claimed */
        if (sqlite3_changes(s->db) > 0) items[i].claimed = items[i].alerted & 3u & ~before;
        done(q);
    }
    done(q);
    q = NULL;
    rc = tx_commit(s);
out:
    done(q);
    if (rc) {
        tx_rollback(s);
        for (size_t i = 0; i < n; i++) /* nothing was recorded: nothing is claimed */
            items[i].claimed = 0;
    }
    return rc;
}

static int sq_budget_alert_done(ig_store_t *st, const char *budget_id, int64_t period_start, unsigned bits)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    int rc = stmt(s, ST_BUDGET_ALERT_DONE, &q);
    if (rc) goto out;
    bind_text(q, 1, budget_id);
    sqlite3_bind_int64(q, 2, period_start);
    sqlite3_bind_int(q, 3, (int)(bits & 3u));
    rc = step_done(s, q, "budget alert done");
out:
    done(q);
    return rc;
}

static int read_budget_alert(sqlite3_stmt *st, void *p)
{
    ig_budget_alert_t *a = p;
    int rc = read_budget(st, &a->budget); /* the budget's columns come first, in BUDGET_COLS order */
    if (rc) return rc;
    a->period_start = sqlite3_column_int64(st, 10);
    a->spent_micros = sqlite3_column_int64(st, 11);
    a->pending = (unsigned)sqlite3_column_int(st, 12) & 3u;
    return IG_OK;
}

static int sq_budget_alerts_pending(ig_store_t *st, ig_budget_alert_t *out, size_t cap, size_t *n)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    int rc = stmt(s, ST_BUDGET_ALERTS_PENDING, &q);
    if (rc) goto out;
    sqlite3_bind_int64(q, 1, (sqlite3_int64)cap);
    rc = step_rows(s, q, out, sizeof *out, cap, n, read_budget_alert, false, "budget alerts pending");
out:
    done(q);
    if (rc) *n = 0;
    return rc;
}

static const ig_store_ops_t sqlite_ops = {
    .name = "sqlite",
    .close = sq_close,
    .migrate = sq_migrate,
    .schema_version = sq_schema_version,
    .ping = sq_ping,
    .org_insert = sq_org_insert,
    .org_get = sq_org_get,
    .org_get_by_slug = sq_org_get_by_slug,
    .org_set_default_provider = sq_org_set_default_provider,
    .key_insert = sq_key_insert,
    .key_get_by_hash = sq_key_get_by_hash,
    .key_revoke = sq_key_revoke,
    .key_list = sq_key_list,
    .provider_set = sq_provider_set,
    .provider_get = sq_provider_get,
    .calls_insert = sq_calls_insert,
    .calls_count = sq_calls_count,
    .signup = sq_signup,
    .user_get_by_email = sq_user_get_by_email,
    .user_get = sq_user_get,
    .user_set_password = sq_user_set_password,
    .membership_get = sq_membership_get,
    .memberships_of_user = sq_memberships_of_user,
    .audit_append = sq_audit_append,
    .audit_verify = sq_audit_verify,
    .audit_legacy_verify = sq_audit_legacy_verify,
    .audit_legacy_list = sq_audit_legacy_list,
    .audit_legacy_finish = sq_audit_legacy_finish,
    .org_update = sq_org_update,
    .org_set_plan = sq_org_set_plan,
    .org_delete = sq_org_delete,
    .org_transfer = sq_org_transfer,
    .member_list = sq_member_list,
    .membership_insert = sq_membership_insert,
    .membership_change = sq_membership_change,
    .invite_insert = sq_invite_insert,
    .invite_list = sq_invite_list,
    .invite_revoke = sq_invite_revoke,
    .invite_get_by_token = sq_invite_get_by_token,
    .invite_accept = sq_invite_accept,
    .session_insert = sq_session_insert,
    .session_check = sq_session_check,
    .session_revoke = sq_session_revoke,
    .sessions_revoke_user = sq_sessions_revoke_user,
    .team_insert = sq_team_insert,
    .team_list = sq_team_list,
    .team_delete = sq_team_delete,
    .app_insert = sq_app_insert,
    .app_list = sq_app_list,
    .app_delete = sq_app_delete,
    .key_get = sq_key_get,
    .key_rotate = sq_key_rotate,
    .key_set_limits = sq_key_set_limits,
    .org_data_key_get = sq_org_data_key_get,
    .keys_touch = sq_keys_touch,
    .org_ids = sq_org_ids,
    .identity_backfill = sq_identity_backfill,
    .control_key = sq_control_key,
    .rewrap = sq_rewrap,
    .org_data_key_init = sq_org_data_key_init,
    .provider_delete = sq_provider_delete,
    .audit_query = sq_audit_query,
    .audit_get = sq_audit_get,
    .webhook_insert = sq_webhook_insert,
    .webhook_get = sq_webhook_get,
    .webhook_list = sq_webhook_list,
    .webhook_update = sq_webhook_update,
    .webhook_delete = sq_webhook_delete,
    .delivery_insert = sq_delivery_insert,
    .delivery_payload = sq_delivery_payload,
    .delivery_due = sq_delivery_due,
    .delivery_next_due = sq_delivery_next_due,
    .delivery_lease = sq_delivery_lease,
    .delivery_record = sq_delivery_record,
    .delivery_list = sq_delivery_list,
    .attempt_list = sq_attempt_list,
    .delivery_purge = sq_delivery_purge,
    .logbatch_insert = sq_logbatch_insert,
    .logbatch_get = sq_logbatch_get,
    .logbatch_state = sq_logbatch_state,
    .budget_insert = sq_budget_insert,
    .budget_get = sq_budget_get,
    .budget_list = sq_budget_list,
    .budget_update = sq_budget_update,
    .budget_delete = sq_budget_delete,
    .budget_spend_get = sq_budget_spend_get,
    .budget_spend_add = sq_budget_spend_add,
    .budget_alert_done = sq_budget_alert_done,
    .budget_alerts_pending = sq_budget_alerts_pending,
};

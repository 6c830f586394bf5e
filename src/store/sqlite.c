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
};

_Static_assert(IG_ARRAY_LEN(migrations) == IG_STORE_SCHEMA_VERSION,
               "store.h IG_STORE_SCHEMA_VERSION must equal the number of SQLite migrations");

#define KEY_COLS  "id, org_id, key_hash, hash_prefix, name, role, created_at, expires_at, revoked_at"
#define ORG_COLS  "id, slug, name, default_provider, created_at"
#define USER_COLS "id, email, password_hash, display_name, created_at, password_changed_at"
#define MEM_COLS  "user_id, org_id, role, created_at"
#define AUDIT_COLS                                                                                           \
    "seq, id, org_id, actor, action, target, source_ip, request_id, created_at, prev_hash, hash"

/* The statement cache: one slot per SQL text below. */
#define STMT_MAP(X)                                                                                          \
    X(BEGIN, "BEGIN IMMEDIATE")                                                                              \
    X(COMMIT, "COMMIT")                                                                                      \
    X(ROLLBACK, "ROLLBACK")                                                                                  \
    X(MIG_VERSION, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations")                                \
    X(MIG_INSERT, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)")                       \
    X(MIG_EXISTS, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'")  \
    X(ORG_INSERT, "INSERT INTO orgs (" ORG_COLS ") VALUES (?, ?, ?, ?, ?)")                                  \
    X(ORG_BY_ID, "SELECT " ORG_COLS " FROM orgs WHERE id = ?")                                               \
    X(ORG_BY_SLUG, "SELECT " ORG_COLS " FROM orgs WHERE slug = ?")                                           \
    X(ORG_SET_PROVIDER, "UPDATE orgs SET default_provider = ? WHERE id = ?")                                 \
    X(KEY_INSERT, "INSERT INTO api_keys (" KEY_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")                  \
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
    X(CALL_INSERT, "INSERT INTO calls (id, org_id, key_prefix, provider, method, path, model, status,"       \
                   " stream, latency_ms, ttfb_ms, req_bytes, resp_bytes, req_truncated, resp_truncated,"     \
                   " error, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"          \
                   " ON CONFLICT (id) DO NOTHING")                                                           \
    X(CALLS_COUNT_ORG, "SELECT COUNT(*) FROM calls WHERE org_id = ?")                                        \
    X(CALLS_COUNT_ALL, "SELECT COUNT(*) FROM calls")                                                         \
    X(KEY_INSERT_BY,                                                                                         \
      "INSERT INTO api_keys (" KEY_COLS ", created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")               \
    X(USER_INSERT, "INSERT INTO users (" USER_COLS ") VALUES (?, ?, ?, ?, ?, ?)")                            \
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
    X(AUDIT_INSERT, "INSERT INTO audit (" AUDIT_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")           \
    X(AUDIT_ALL, "SELECT " AUDIT_COLS " FROM audit ORDER BY seq")                                            \
    X(AUDIT_PAGE, "SELECT " AUDIT_COLS " FROM audit WHERE org_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?")

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

static int read_org(sqlite3_stmt *st, ig_org_t *o)
{
    int rc;
    memset(o, 0, sizeof *o);
    if ((rc = col_text(st, 0, o->id, sizeof o->id)) || (rc = col_text(st, 1, o->slug, sizeof o->slug)) ||
        (rc = col_text(st, 2, o->name, sizeof o->name)) ||
        (rc = col_text(st, 3, o->default_provider, sizeof o->default_provider)))
        goto out;
    o->created_at = sqlite3_column_int64(st, 4);
out:
    return rc;
}

static int read_key(sqlite3_stmt *st, ig_keyrec_t *k)
{
    int rc;
    memset(k, 0, sizeof *k);
    if ((rc = col_text(st, 0, k->id, sizeof k->id)) || (rc = col_text(st, 1, k->org_id, sizeof k->org_id)) ||
        (rc = col_text(st, 3, k->hash_prefix, sizeof k->hash_prefix)) ||
        (rc = col_text(st, 4, k->name, sizeof k->name)))
        goto out;
    const void *h = sqlite3_column_blob(st, 2);
    rc = IG_EINTERNAL;
    if (!h || sqlite3_column_bytes(st, 2) != (int)sizeof k->key_hash) goto out;
    memcpy(k->key_hash, h, sizeof k->key_hash);
    k->role = sqlite3_column_int(st, 5);
    k->created_at = sqlite3_column_int64(st, 6);
    k->expires_at = sqlite3_column_int64(st, 7); /* NULL reads as 0 */
    k->revoked_at = sqlite3_column_int64(st, 8);
    rc = IG_OK;
out:
    return rc;
}

static int read_user(sqlite3_stmt *st, ig_user_t *u)
{
    int rc;
    memset(u, 0, sizeof *u);
    if ((rc = col_text(st, 0, u->id, sizeof u->id)) || (rc = col_text(st, 1, u->email, sizeof u->email)) ||
        (rc = col_text(st, 2, u->password_hash, sizeof u->password_hash)) ||
        (rc = col_text(st, 3, u->display_name, sizeof u->display_name)))
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
     * mapping) instead of a pread() per page; measured ~2x fewer syscalls per batched insert */
    src = sqlite3_exec(s->db,
                       "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -8192;"
                       " PRAGMA temp_store = MEMORY;",
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

static int sq_key_insert(ig_store_t *st, const ig_keyrec_t *rec)
{
    sq_store_t *s = sq(st);
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
    rc = step_done(s, q, "key insert");
out:
    done(q);
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

static int sq_provider_get(ig_store_t *st, const char *org_id, const char *provider, int *auth_mode,
                           uint8_t **secret, size_t *secret_len)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    uint8_t *copy = NULL;
    size_t len = 0;
    int rc = stmt(s, ST_PROV_GET, &q);
    if (rc) goto out;
    bind_text(q, 1, org_id);
    bind_text(q, 2, provider);
    int src = sqlite3_step(q);
    if (src == SQLITE_DONE) {
        rc = IG_ENOTFOUND;
        goto out;
    }
    if (src != SQLITE_ROW) {
        rc = map_err(s, src, "provider get");
        goto out;
    }
    const void *blob = sqlite3_column_blob(q, 1);
    len = (size_t)sqlite3_column_bytes(q, 1);
    if (blob && len) {
        rc = IG_ENOMEM;
        if (!(copy = malloc(len))) goto out;
        memcpy(copy, blob, len);
    } else {
        len = 0;
    }
    *auth_mode = sqlite3_column_int(q, 0);
    *secret = copy;
    *secret_len = len;
    copy = NULL;
    rc = IG_OK;
out:
    done(q);
    free(copy);
    return rc;
}

static int sq_calls_insert(ig_store_t *st, const ig_callrec_t *recs, size_t n)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
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
        rc = step_done(s, q, "call insert");
        sqlite3_reset(q);
        if (rc) goto out;
    }
    done(q);
    q = NULL;
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
    if ((rc = exists(s, ST_USER_EMAIL_TAKEN, user->email, &taken))) goto out;
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

    if ((rc = stmt(s, ST_USER_INSERT, &q))) goto out;
    bind_text(q, 1, user->id);
    bind_text(q, 2, user->email);
    bind_text(q, 3, user->password_hash);
    bind_opt_text(q, 4, user->display_name);
    sqlite3_bind_int64(q, 5, user->created_at);
    sqlite3_bind_int64(q, 6, user->password_changed_at);
    if ((rc = step_done(s, q, "user insert"))) goto out;
    done(q);

    if ((rc = stmt(s, ST_MEM_INSERT, &q))) goto out;
    bind_text(q, 1, mem->user_id);
    bind_text(q, 2, mem->org_id);
    sqlite3_bind_int(q, 3, mem->role);
    sqlite3_bind_int64(q, 4, mem->created_at);
    if ((rc = step_done(s, q, "membership insert"))) goto out;
    done(q);

    if ((rc = stmt(s, ST_KEY_INSERT_BY, &q))) goto out;
    bind_text(q, 1, key->id);
    bind_text(q, 2, key->org_id);
    sqlite3_bind_blob(q, 3, key->key_hash, (int)sizeof key->key_hash, SQLITE_STATIC);
    bind_text(q, 4, key->hash_prefix);
    bind_opt_text(q, 5, key->name);
    sqlite3_bind_int(q, 6, key->role);
    sqlite3_bind_int64(q, 7, key->created_at);
    bind_opt_i64(q, 8, key->expires_at);
    bind_opt_i64(q, 9, key->revoked_at);
    bind_text(q, 10, user->id);
    if ((rc = step_done(s, q, "key insert"))) {
        if (rc == IG_ECONFLICT) *which = "key_hash"; /* the only UNIQUE left unchecked */
        goto out;
    }
    done(q);
    q = NULL;
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
    int rc = stmt(s, ST_USER_BY_EMAIL, &q);
    if (rc) goto out;
    bind_text(q, 1, email);
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
    int rc = stmt(s, ST_USER_SET_PW, &q);
    if (rc) goto out;
    bind_text(q, 1, password_hash);
    sqlite3_bind_int64(q, 2, now);
    bind_text(q, 3, user_id);
    if ((rc = step_done(s, q, "user set password"))) goto out;
    if (sqlite3_changes(s->db) == 0) rc = IG_ENOTFOUND;
out:
    done(q);
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

static int sq_audit_append(ig_store_t *st, ig_audit_t *e)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    int rc, src;

    /* BEGIN IMMEDIATE: the tail we chain onto cannot change before our COMMIT */
    if ((rc = tx_begin(s)) || (rc = stmt(s, ST_AUDIT_TAIL, &q))) goto out;
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
    ig_store_audit_hash(e, e->hash);

    if ((rc = stmt(s, ST_AUDIT_INSERT, &q))) goto out;
    sqlite3_bind_int64(q, 1, e->seq);
    bind_text(q, 2, e->id);
    bind_opt_text(q, 3, e->org_id);
    bind_text(q, 4, e->actor);
    bind_text(q, 5, e->action);
    bind_opt_text(q, 6, e->target);
    bind_opt_text(q, 7, e->source_ip);
    bind_opt_text(q, 8, e->request_id);
    sqlite3_bind_int64(q, 9, e->created_at);
    sqlite3_bind_blob(q, 10, e->prev_hash, 32, SQLITE_STATIC);
    sqlite3_bind_blob(q, 11, e->hash, 32, SQLITE_STATIC);
    if ((rc = step_done(s, q, "audit insert"))) goto out;
    done(q);
    q = NULL;
    rc = tx_commit(s);
out:
    done(q);
    if (rc) tx_rollback(s);
    return rc;
}

static int sq_audit_verify(ig_store_t *st, int64_t *bad_seq)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    uint8_t prev[32] = {0}, h[32];
    ig_audit_t e;
    int rc = stmt(s, ST_AUDIT_ALL, &q), src;
    if (rc) goto out;
    /* one statement is one read snapshot (WAL): appends running meanwhile are simply not seen */
    while ((src = sqlite3_step(q)) == SQLITE_ROW) {
        /* a value our writer could not have stored (too long, hash not 32 bytes) is tampering too */
        bool ok = read_audit(q, &e) == IG_OK && memcmp(e.prev_hash, prev, 32) == 0;
        if (ok) {
            ig_store_audit_hash(&e, h);
            ok = memcmp(h, e.hash, 32) == 0;
        }
        if (!ok) {
            *bad_seq = sqlite3_column_int64(q, 0);
            rc = IG_ECONFLICT;
            goto out;
        }
        memcpy(prev, e.hash, 32);
    }
    if (src != SQLITE_DONE) rc = map_err(s, src, "audit verify");
out:
    done(q);
    return rc;
}

static int sq_audit_list(ig_store_t *st, const char *org_id, int64_t before_seq, ig_audit_t *out, size_t cap,
                         size_t *n)
{
    sq_store_t *s = sq(st);
    sqlite3_stmt *q = NULL;
    int src, rc = stmt(s, ST_AUDIT_PAGE, &q);
    *n = 0;
    if (rc) goto out;
    bind_text(q, 1, org_id);
    sqlite3_bind_int64(q, 2, before_seq);
    sqlite3_bind_int64(q, 3, (sqlite3_int64)cap);
    while ((src = sqlite3_step(q)) == SQLITE_ROW && *n < cap) {
        if ((rc = read_audit(q, &out[*n]))) goto out;
        (*n)++;
    }
    if (src != SQLITE_ROW && src != SQLITE_DONE) rc = map_err(s, src, "audit list");
out:
    done(q);
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
    .audit_list = sq_audit_list,
};

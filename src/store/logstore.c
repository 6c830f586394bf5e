/*
 * logstore.c — an org's request log and hourly usage aggregates in an SQLite file of its own (contract in
 * logstore.h).
 *
 * It follows sqlite.c's patterns (helpers duplicated here, as the two files share nothing else): one
 * connection per handle opened with SQLITE_OPEN_NOMUTEX, WAL with synchronous=NORMAL, a busy timeout, every
 * multi-statement write in BEGIN IMMEDIATE, statements prepared once and cached (the STMT_MAP X-macro),
 * reset and unbound after each use, files created 0600 before SQLite opens them, and an ordered list of
 * migrations each applied in its own transaction that re-reads the version first.
 *
 * Layout choices, and why:
 *   - logs is a rowid table keyed by seq (INTEGER PRIMARY KEY, the insertion order); the request id is a
 *     UNIQUE column. Every index then ends with the 8-byte seq instead of a 36-byte id, and an index on
 *     (x, created_at) delivers rows already ordered by (created_at, seq) for x = ?, which is why pages and
 *     cursors order by (created_at, seq) rather than (created_at, id).
 *   - The blob columns come last, bodies at the very end: SQLite stores the tail of a row larger than a page
 *     in overflow pages, so a listing that reads only the metadata never touches the pages holding them.
 *   - New files use 8 KiB pages (LS_PAGE_SIZE_SQL says why), existing ones keep theirs.
 *   - Every secondary index is kept, though each costs the writer ~0.7 us per record: without the model,
 *     provider and status indexes a record would cost ~2 us less, but a filter on a rare value would read
 *     every row in time order until a page is full (measured 0.05 ms -> 40-170 ms on 300,000 records, and
 *     linear in the org's size); see docs/benchmarks.md.
 *   - Queries with optional filters are built from fixed fragments (placeholders only, never values) and
 *     cached per combination of filters: "(? IS NULL OR col = ?)" would keep SQLite from using the index
 *     of a filter that is present.
 *   - usage_hourly holds one row per (hour, model, provider, key_id) with counters and a latency histogram
 *     blob. The insert transaction first stores the records (ON CONFLICT (id) DO NOTHING), then adds only
 *     the records that were really stored, grouped in memory, with one read and one upsert per group: a
 *     replayed record changes nothing, and the aggregates can never disagree with what was committed.
 *   - The database uses incremental auto-vacuum (set before the first table exists): pages freed by purging
 *     are normally reused by later inserts, and only when much of the file is free (retention shortened)
 *     does a purge batch give a bounded number of pages back to the file system.
 * The SQL sticks to what PostgreSQL also accepts (TEXT, INTEGER, BLOB as BYTEA, DOUBLE PRECISION, partial
 * indexes, ON CONFLICT); there seq would be an identity column and each org a schema.
 *
 * Values are bound, never formatted into SQL. Log lines carry SQLite's messages and the file path only.
 */
#include "core/err.h"
#include "core/log.h"
#include "store/logstore.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* How long a write waits for another handle's transaction: as in sqlite.c (our transactions are short; a
 * batch of 256 records takes a few ms), it only expires when the database is wedged. */
#define LS_BUSY_MS 5000

#define HOUR_MS (3600 * 1000LL)
#define DAY_MS  (24 * HOUR_MS)

/* Records per read transaction during a scan: small enough that no snapshot is held long, large enough that
 * re-running the statement costs nothing measurable. */
#define SCAN_PAGE 256

/* Page size of new files. A row no larger than a page is stored whole in one leaf, so rows between half a
 * page and a page waste up to half of it. With SQLite's default 4 KiB pages that band is 2-4 KB: a captured
 * chat call (a 1.6 KB request and its answer, sealed, ~2.5 KB) took a page of its own, and everything
 * written went through the WAL and the checkpoint twice as large as needed. Measured with 8 KiB pages
 * (docs/benchmarks.md, batches of 160 records): 2.2 KB of bodies 4.2 -> 2.9 KB of disk and 15.8 -> 11.3 us
 * per insert; bodies drawn from 0.7-36 KB 29.9 -> 23.5 us; rows of 4-5 KB, now in the wasteful band,
 * 18.5 -> 19.5 us and 5.6 -> 8.2 KB. 16 KiB pages were faster still under load, but every commit writes
 * whole pages (the table, each index and the aggregates it touches): a commit of one record (a quiet
 * gateway) writes 44 KB (WAL and checkpoint) with 4 KiB pages, 82 KB with 8 KiB and 159 KB with 16 KiB.
 * 8 KiB is the compromise.
 * Existing files keep the page size they were made with (a WAL database's cannot change). */
#define LS_PAGE_SIZE_SQL "8192"

/* WAL size (bytes) at which a commit checkpoints: SQLite's default of 1000 pages for 4 KiB pages, kept in
 * bytes so 8 KiB pages do not double the WAL file each org keeps. A larger WAL (up to 10000 pages) did not
 * lower the writer's CPU measurably: the checkpoint copies every page once whatever its size, and only the
 * few index and aggregate pages rewritten by every commit are copied less often. */
#define LS_WAL_BYTES (4000 * 1024)

/* Purge hands pages back to the file system only when more than 1/FREE_RATIO of the file is free, and at
 * most VACUUM_BYTES per batch (2048 pages of 4 KiB, 1024 of 8 KiB), more than a batch of 1000 records frees
 * (so a bulk purge keeps up), and measured at ~30 ms per batch on top of the ~20 ms the deletion takes. */
#define FREE_RATIO   4
#define VACUUM_BYTES (8 * 1024 * 1024)

static const char *const migrations[] = {
    /* v1: the log (ciphertext blobs last, bodies at the very end) and the hourly usage aggregates. */
    "CREATE TABLE logs ("
    " seq INTEGER PRIMARY KEY,"
    " id TEXT NOT NULL UNIQUE,"
    " key_id TEXT,"
    " key_prefix TEXT,"
    " provider TEXT,"
    " method TEXT,"
    " path TEXT NOT NULL,"
    " model TEXT,"
    " error TEXT,"
    " status INTEGER NOT NULL,"
    " stream INTEGER NOT NULL,"
    " latency_ms DOUBLE PRECISION NOT NULL,"
    " ttfb_ms DOUBLE PRECISION NOT NULL,"
    " input_tokens INTEGER,"
    " output_tokens INTEGER,"
    " cached_tokens INTEGER,"
    " cost_micros INTEGER,"
    " req_bytes INTEGER NOT NULL,"
    " resp_bytes INTEGER NOT NULL,"
    " req_truncated INTEGER NOT NULL,"
    " resp_truncated INTEGER NOT NULL,"
    " cache_hit INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " user_tag BLOB CHECK (length(user_tag) = 16),"
    " session_tag BLOB CHECK (length(session_tag) = 16),"
    " user_id BLOB,"
    " session_id BLOB,"
    " client_ip BLOB,"
    " req_body BLOB,"
    " resp_body BLOB);"
    "CREATE INDEX logs_created ON logs (created_at);"
    "CREATE INDEX logs_key ON logs (key_id, created_at);"
    "CREATE INDEX logs_model ON logs (model, created_at);"
    "CREATE INDEX logs_provider ON logs (provider, created_at);"
    "CREATE INDEX logs_status ON logs (status, created_at);"
    "CREATE INDEX logs_user ON logs (user_tag, created_at) WHERE user_tag IS NOT NULL;"
    "CREATE INDEX logs_session ON logs (session_tag, created_at) WHERE session_tag IS NOT NULL;"
    "CREATE TABLE usage_hourly ("
    " hour INTEGER NOT NULL,"
    " model TEXT NOT NULL,"
    " provider TEXT NOT NULL,"
    " key_id TEXT NOT NULL,"
    " requests INTEGER NOT NULL,"
    " errors INTEGER NOT NULL,"
    " input_tokens INTEGER NOT NULL,"
    " output_tokens INTEGER NOT NULL,"
    " cached_tokens INTEGER NOT NULL,"
    " cost_micros INTEGER NOT NULL,"
    " cache_hits INTEGER NOT NULL,"
    " latency_sum DOUBLE PRECISION NOT NULL,"
    " latency_hist BLOB NOT NULL,"
    " PRIMARY KEY (hour, model, provider, key_id));",
    /* v2: the org's own audit chain (store/orgaudit.c owns the table; existing files get it empty). seq is
     * assigned by the appender (last + 1 under the write lock) and hashed; source_ip is an envelope under
     * the org's data key; the rest are ids and action names, in clear for filters. */
    "CREATE TABLE audit ("
    " seq INTEGER NOT NULL PRIMARY KEY,"
    " id TEXT NOT NULL UNIQUE,"
    " actor TEXT NOT NULL,"
    " action TEXT NOT NULL,"
    " target TEXT,"
    " source_ip BLOB,"
    " request_id TEXT,"
    " created_at INTEGER NOT NULL,"
    " prev_hash BLOB NOT NULL CHECK (length(prev_hash) = 32),"
    " hash BLOB NOT NULL CHECK (length(hash) = 32));",
    /* v3: request guardrail findings, one row per log record that has them (guard/guard.h). A table of its
     * own because columns added to logs would land after the bodies, and a listing reading them would walk
     * every body's overflow pages; read with LEFT JOIN on seq, deleted with their record by the trigger
     * (PostgreSQL: a foreign key ON DELETE CASCADE). */
    "CREATE TABLE log_guard ("
    " seq INTEGER PRIMARY KEY,"
    " action TEXT NOT NULL,"
    " pii TEXT,"
    " injection_score INTEGER,"
    " injection_rules TEXT);"
    "CREATE TRIGGER log_guard_purge AFTER DELETE ON logs BEGIN"
    " DELETE FROM log_guard WHERE seq = old.seq; END;",
};

_Static_assert(IG_ARRAY_LEN(migrations) == IG_LOGSTORE_SCHEMA_VERSION,
               "logstore.h IG_LOGSTORE_SCHEMA_VERSION must equal the number of log store migrations");

/* Column order shared by the insert and every read (read_row indexes into it). */
#define LOG_META_COLS                                                                                        \
    "seq, id, key_id, key_prefix, provider, method, path, model, error, status, stream, latency_ms,"         \
    " ttfb_ms, input_tokens, output_tokens, cached_tokens, cost_micros, req_bytes, resp_bytes,"              \
    " req_truncated, resp_truncated, cache_hit, created_at, user_tag, session_tag, user_id, session_id,"     \
    " client_ip"
#define LOG_BODY_COLS ", req_body, resp_body"
#define LOG_NO_BODIES ", NULL, NULL"
/* After the bodies: the guardrail findings (v3), from log_guard */
#define LOG_GUARD_COLS ", action, pii, injection_score, injection_rules"
#define LOG_FROM       " FROM logs LEFT JOIN log_guard USING (seq)"
enum {
    C_SEQ,
    C_ID,
    C_KEY_ID,
    C_KEY_PREFIX,
    C_PROVIDER,
    C_METHOD,
    C_PATH,
    C_MODEL,
    C_ERROR,
    C_STATUS,
    C_STREAM,
    C_LATENCY,
    C_TTFB,
    C_IN_TOK,
    C_OUT_TOK,
    C_CACHED_TOK,
    C_COST,
    C_REQ_BYTES,
    C_RESP_BYTES,
    C_REQ_TRUNC,
    C_RESP_TRUNC,
    C_CACHE_HIT,
    C_CREATED,
    C_USER_TAG,
    C_SESSION_TAG,
    C_USER_ID,
    C_SESSION_ID,
    C_CLIENT_IP,
    C_REQ_BODY,
    C_RESP_BODY,
    C_GUARD_ACTION,
    C_GUARD_PII,
    C_GUARD_SCORE,
    C_GUARD_RULES
};
#define USAGE_SUMS                                                                                           \
    "requests, errors, input_tokens, output_tokens, cached_tokens, cost_micros, cache_hits, latency_sum"

/* The statement cache: one slot per SQL text below. */
#define STMT_MAP(X)                                                                                          \
    X(BEGIN, "BEGIN IMMEDIATE")                                                                              \
    X(COMMIT, "COMMIT")                                                                                      \
    X(ROLLBACK, "ROLLBACK")                                                                                  \
    X(MIG_VERSION, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations")                                \
    X(MIG_INSERT, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)")                       \
    X(MIG_EXISTS, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'")  \
    X(LOG_INSERT,                                                                                            \
      "INSERT INTO logs (id, key_id, key_prefix, provider, method, path, model, error, status, stream,"      \
      " latency_ms, ttfb_ms, input_tokens, output_tokens, cached_tokens, cost_micros, req_bytes,"            \
      " resp_bytes, req_truncated, resp_truncated, cache_hit, created_at, user_tag, session_tag, user_id,"   \
      " session_id, client_ip, req_body, resp_body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?," \
      " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING")                                 \
    X(LOG_GET, "SELECT " LOG_META_COLS LOG_BODY_COLS LOG_GUARD_COLS LOG_FROM " WHERE id = ?")                \
    X(GUARD_INSERT, "INSERT INTO log_guard (seq, action, pii, injection_score, injection_rules)"             \
                    " VALUES (?, ?, ?, ?, ?)")                                                               \
    X(LOG_COUNT, "SELECT COUNT(*) FROM logs")                                                                \
    X(LOG_OLDEST, "SELECT COALESCE(MIN(created_at), 0) FROM logs")                                           \
    X(LOG_PURGE, "DELETE FROM logs WHERE seq IN"                                                             \
                 " (SELECT seq FROM logs WHERE created_at < ? ORDER BY created_at, seq LIMIT ?)")            \
    X(LOG_PURGE_THROUGH, "DELETE FROM logs WHERE seq IN (SELECT seq FROM logs WHERE created_at < ?1"         \
                         " AND created_at <= ?2 AND (created_at < ?2 OR seq <= ?3)"                          \
                         " ORDER BY created_at, seq LIMIT ?4)")                                              \
    X(LOG_SPAN, "SELECT created_at, seq, COALESCE(length(req_body), 0) + COALESCE(length(resp_body), 0) +"   \
                " length(path) FROM logs WHERE created_at < ?1 AND created_at >= ?2"                         \
                " AND (created_at > ?2 OR seq > ?3) ORDER BY created_at, seq LIMIT ?4")                      \
    X(PAGE_COUNT, "PRAGMA page_count")                                                                       \
    X(FREE_COUNT, "PRAGMA freelist_count")                                                                   \
    X(USAGE_HIST, "SELECT latency_hist FROM usage_hourly"                                                    \
                  " WHERE hour = ? AND model = ? AND provider = ? AND key_id = ?")                           \
    X(USAGE_UPSERT,                                                                                          \
      "INSERT INTO usage_hourly (hour, model, provider, key_id, " USAGE_SUMS ", latency_hist)"               \
      " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (hour, model, provider, key_id)"          \
      " DO UPDATE SET requests = usage_hourly.requests + excluded.requests,"                                 \
      " errors = usage_hourly.errors + excluded.errors,"                                                     \
      " input_tokens = usage_hourly.input_tokens + excluded.input_tokens,"                                   \
      " output_tokens = usage_hourly.output_tokens + excluded.output_tokens,"                                \
      " cached_tokens = usage_hourly.cached_tokens + excluded.cached_tokens,"                                \
      " cost_micros = usage_hourly.cost_micros + excluded.cost_micros,"                                      \
      " cache_hits = usage_hourly.cache_hits + excluded.cache_hits,"                                         \
      " latency_sum = usage_hourly.latency_sum + excluded.latency_sum,"                                      \
      " latency_hist = excluded.latency_hist")                                                               \
    X(USAGE_RANGE, "SELECT " USAGE_SUMS ", latency_hist FROM usage_hourly WHERE hour >= ? AND hour < ?")     \
    X(USAGE_SERIES, "SELECT (hour / ?3) * ?3 AS b,"                                                          \
                    " CASE ?4 WHEN 1 THEN model WHEN 2 THEN provider WHEN 3 THEN key_id ELSE '' END AS g,"   \
                    " SUM(requests), SUM(errors), SUM(input_tokens), SUM(output_tokens), SUM(cost_micros),"  \
                    " SUM(latency_sum), ig_hist_pct(latency_hist, 50), ig_hist_pct(latency_hist, 99)"        \
                    " FROM usage_hourly WHERE hour >= ?1 AND hour < ?2"                                      \
                    " GROUP BY b, g ORDER BY b, g LIMIT ?5")

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

/* Filter statements: one per combination of the conditions present (bits below), the direction and whether
 * bodies are read, prepared on first use and kept in a small round-robin cache (a server uses a handful of
 * combinations). Parameter numbers are fixed per condition. */
enum {
    F_START = 1 << 0,    /* ?1 */
    F_END = 1 << 1,      /* ?2 */
    F_MODEL = 1 << 2,    /* ?3 */
    F_PROVIDER = 1 << 3, /* ?4 */
    F_KEY = 1 << 4,      /* ?5 */
    F_STATUS = 1 << 5,   /* ?6 */
    F_USER = 1 << 6,     /* ?7 */
    F_SESSION = 1 << 7,  /* ?8 */
    F_CURSOR = 1 << 8,   /* ?9 created_at, ?10 seq */
    F_ASC = 1 << 9,      /* ascending (scan) instead of descending (pages) */
    F_BODIES = 1 << 10,  /* read req_body and resp_body */
};
#define P_LIMIT   11
#define DYN_SLOTS 16

struct ig_logstore {
    sqlite3 *db;
    sqlite3_stmt *stmts[ST__COUNT];
    sqlite3_stmt *dyn[DYN_SLOTS];
    unsigned dyn_key[DYN_SLOTS];
    unsigned dyn_next;
    int64_t page_size; /* the file's, read at open */
    char path[PATH_MAX];
};

/* Maps an SQLite result code (extended codes on) onto our errors, logging the unexpected ones. */
static int map_err(ig_logstore_t *ls, int src, const char *what)
{
    int rc;
    switch (src & 0xff) {
    case SQLITE_CONSTRAINT:
        IG_DEBUG("logstore", "%s: %s", what, ls->db ? sqlite3_errmsg(ls->db) : sqlite3_errstr(src));
        return IG_ECONFLICT;
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
    IG_ERROR("logstore", "sqlite %s failed on %s: %s (%s)", what, ls->path,
             ls->db ? sqlite3_errmsg(ls->db) : "no connection", sqlite3_errstr(src));
    return rc;
}

/* The cached statement `id`, prepared on first use. Release it with done(). */
static int stmt(ig_logstore_t *ls, int id, sqlite3_stmt **out)
{
    int rc = IG_OK;
    if (!ls->stmts[id]) {
        int src =
            sqlite3_prepare_v3(ls->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &ls->stmts[id], NULL);
        if (src != SQLITE_OK) {
            rc = map_err(ls, src, "prepare");
            ls->stmts[id] = NULL;
            goto out;
        }
    }
    *out = ls->stmts[id];
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
static int step_done(ig_logstore_t *ls, sqlite3_stmt *st, const char *what)
{
    int src = sqlite3_step(st);
    return src == SQLITE_DONE ? IG_OK : map_err(ls, src, what);
}

/* Runs one of the argument-less cached statements (BEGIN, COMMIT, ROLLBACK). */
static int run(ig_logstore_t *ls, int id, const char *what)
{
    sqlite3_stmt *st = NULL;
    int rc = stmt(ls, id, &st);
    if (rc == IG_OK) rc = step_done(ls, st, what);
    done(st);
    return rc;
}

static int tx_begin(ig_logstore_t *ls)
{
    return run(ls, ST_BEGIN, "begin");
}

static int tx_commit(ig_logstore_t *ls)
{
    return run(ls, ST_COMMIT, "commit");
}

/* Rolls back if a transaction is open (a failed COMMIT may have ended it already). */
static void tx_rollback(ig_logstore_t *ls)
{
    if (!sqlite3_get_autocommit(ls->db)) run(ls, ST_ROLLBACK, "rollback");
}

/* *v = the single integer a cached statement answers (COUNT, MIN, a pragma). */
static int query_int(ig_logstore_t *ls, int id, const char *what, int64_t *v)
{
    sqlite3_stmt *q = NULL;
    int rc = stmt(ls, id, &q);
    if (rc) goto out;
    int src = sqlite3_step(q);
    if (src != SQLITE_ROW) {
        rc = map_err(ls, src, what);
        goto out;
    }
    *v = sqlite3_column_int64(q, 0);
out:
    done(q);
    return rc;
}

/* Text or NULL. SQLITE_STATIC: callers keep the string alive until done(). */
static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* "" is stored as NULL (the optional char arrays of ig_logrec_t). */
static void bind_opt_text(sqlite3_stmt *st, int i, const char *v)
{
    bind_text(st, i, v && *v ? v : NULL);
}

/* A blob, or NULL when absent (NULL pointer or length 0). */
static void bind_blob(sqlite3_stmt *st, int i, const void *p, size_t len)
{
    if (p && len)
        sqlite3_bind_blob(st, i, p, (int)len, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* -1 (unknown) is stored as NULL. */
static void bind_opt_count(sqlite3_stmt *st, int i, int64_t v)
{
    if (v >= 0)
        sqlite3_bind_int64(st, i, v);
    else
        sqlite3_bind_null(st, i);
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

/* Like col_text, but a NULL column gives *out = NULL instead of "". */
static int col_opt_text(sqlite3_stmt *st, int i, char *dst, size_t cap, const char **out)
{
    *out = NULL;
    if (sqlite3_column_type(st, i) == SQLITE_NULL) return IG_OK;
    int rc = col_text(st, i, dst, cap);
    if (rc == IG_OK) *out = dst;
    return rc;
}

static int64_t col_opt_count(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, i);
}

/* A 16-byte tag column: *has = false for NULL; IG_EINTERNAL for another size. */
static int col_tag(sqlite3_stmt *st, int i, uint8_t out[16], bool *has)
{
    const void *p = sqlite3_column_blob(st, i);
    int len = sqlite3_column_bytes(st, i);
    *has = false;
    if (!p) return IG_OK;
    if (len != 16) return IG_EINTERNAL;
    memcpy(out, p, 16);
    *has = true;
    return IG_OK;
}

/* ---- latency histogram ---- */

int ig_logstore_hist_bucket(double ms)
{
    if (!(ms >= IG_LOGSTORE_HIST_MIN_MS)) return 0; /* also NaN */
    double x = log2(ms / IG_LOGSTORE_HIST_MIN_MS) * IG_LOGSTORE_HIST_PER_OCT;
    if (x >= IG_LOGSTORE_HIST_BUCKETS - 2) return IG_LOGSTORE_HIST_BUCKETS - 1;
    int k = (int)x; /* ms in [bound(k), bound(k + 1)) up to rounding of log2: fix that up exactly */
    if (k > 0 && ms < IG_LOGSTORE_HIST_MIN_MS * exp2((double)k / IG_LOGSTORE_HIST_PER_OCT)) k--;
    if (ms >= IG_LOGSTORE_HIST_MIN_MS * exp2((double)(k + 1) / IG_LOGSTORE_HIST_PER_OCT)) k++;
    return k + 1 < IG_LOGSTORE_HIST_BUCKETS ? k + 1 : IG_LOGSTORE_HIST_BUCKETS - 1;
}

double ig_logstore_hist_value(int b)
{
    if (b < 0 || b >= IG_LOGSTORE_HIST_BUCKETS) return 0;
    if (b == 0) return IG_LOGSTORE_HIST_MIN_MS / 2;
    double lo_exp = (double)(b - 1) / IG_LOGSTORE_HIST_PER_OCT;
    if (b == IG_LOGSTORE_HIST_BUCKETS - 1) return IG_LOGSTORE_HIST_MIN_MS * exp2(lo_exp);
    return IG_LOGSTORE_HIST_MIN_MS * exp2(lo_exp + 0.5 / IG_LOGSTORE_HIST_PER_OCT); /* geometric middle */
}

/* Stored form: little-endian uint32 per bucket, trailing empty buckets left out (most hours use a few
 * neighbouring buckets). An hour of one group cannot reach 2^32 requests; the add saturates anyway. */
static size_t hist_encode(const uint64_t *h, uint8_t out[IG_LOGSTORE_HIST_BUCKETS * 4])
{
    size_t n = IG_LOGSTORE_HIST_BUCKETS;
    while (n > 0 && h[n - 1] == 0)
        n--;
    for (size_t i = 0; i < n; i++) {
        uint32_t v = h[i] > UINT32_MAX ? UINT32_MAX : (uint32_t)h[i];
        out[4 * i] = (uint8_t)v;
        out[4 * i + 1] = (uint8_t)(v >> 8);
        out[4 * i + 2] = (uint8_t)(v >> 16);
        out[4 * i + 3] = (uint8_t)(v >> 24);
    }
    return 4 * n;
}

/* Adds a stored histogram (len bytes at p; NULL = empty) into h. IG_EINTERNAL when it is not one we wrote. */
static int hist_add(const uint8_t *p, size_t len, uint64_t *h)
{
    if (!p) len = 0;
    if (len % 4 || len > IG_LOGSTORE_HIST_BUCKETS * 4) return IG_EINTERNAL;
    for (size_t b = 0; b < len / 4; b++)
        h[b] += (uint64_t)p[4 * b] | (uint64_t)p[4 * b + 1] << 8 | (uint64_t)p[4 * b + 2] << 16 |
                (uint64_t)p[4 * b + 3] << 24;
    return IG_OK;
}

/* Adds the histogram of column i into h. */
static int hist_add_col(sqlite3_stmt *st, int i, uint64_t *h)
{
    const uint8_t *p = sqlite3_column_blob(st, i);
    return hist_add(p, (size_t)sqlite3_column_bytes(st, i), h);
}

/* The nearest-rank percentile (pct in (0, 100]) of a histogram; 0 when it is empty. */
static double hist_percentile(const uint64_t *h, unsigned pct)
{
    uint64_t total = 0, seen = 0;
    for (int b = 0; b < IG_LOGSTORE_HIST_BUCKETS; b++)
        total += h[b];
    if (total == 0) return 0;
    uint64_t rank = total / 100 * pct + (total % 100 * pct + 99) / 100; /* ceil(total * pct / 100) */
    for (int b = 0; b < IG_LOGSTORE_HIST_BUCKETS; b++) {
        seen += h[b];
        if (seen >= rank) return ig_logstore_hist_value(b);
    }
    return ig_logstore_hist_value(IG_LOGSTORE_HIST_BUCKETS - 1);
}

/* ig_hist_pct(latency_hist, pct): the aggregate SQL function that adds a group's histograms and answers
 * their nearest-rank percentile, so that a time series gets p50 and p99 per bucket from the GROUP BY. */
typedef struct {
    uint64_t h[IG_LOGSTORE_HIST_BUCKETS];
    int pct;
    bool bad;
} hist_agg_t;

static void hist_pct_step(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    hist_agg_t *a = sqlite3_aggregate_context(ctx, sizeof *a);
    if (!a || argc != 2) return;
    const uint8_t *p = sqlite3_value_blob(argv[0]);
    a->pct = sqlite3_value_int(argv[1]);
    if (hist_add(p, (size_t)sqlite3_value_bytes(argv[0]), a->h) != IG_OK)
        a->bad = true; /* not one we wrote */
}

static void hist_pct_final(sqlite3_context *ctx)
{
    hist_agg_t *a = sqlite3_aggregate_context(ctx, 0);
    if (a && a->bad)
        sqlite3_result_error(ctx, "latency_hist: not a histogram", -1);
    else
        sqlite3_result_double(ctx,
                              a && a->pct > 0 && a->pct <= 100 ? hist_percentile(a->h, (unsigned)a->pct) : 0);
}

/* ---- open, migrate, close, destroy ---- */

static bool valid_org_id(const char *org_id)
{
    if (!org_id) return false;
    for (int i = 0; i < 32; i++) {
        char c = org_id[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return org_id[32] == '\0';
}

/* <dir>/<org_id><suffix> into out. IG_EINVAL when it does not fit. */
static int db_path(char *out, size_t cap, const char *dir, const char *org_id, const char *suffix)
{
    int len = snprintf(out, cap, "%s/%s.db%s", dir, org_id, suffix);
    return len > 0 && (size_t)len < cap ? IG_OK : IG_EINVAL;
}

/* Creates the directory 0700 when missing; an existing one we own that others can access is tightened. */
static int ensure_dir(const char *dir)
{
    struct stat sb;
    if (mkdir(dir, 0700) == 0) return IG_OK;
    if (errno != EEXIST) {
        IG_ERROR("logstore", "cannot create log directory %s: %s", dir, strerror(errno));
        return IG_ESTORE;
    }
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        IG_ERROR("logstore", "log directory %s is not a directory", dir);
        return IG_ESTORE;
    }
    if ((sb.st_mode & 077) && sb.st_uid == geteuid()) {
        IG_WARN("logstore", "log directory %s was accessible by others (mode %03o): setting it to 0700", dir,
                (unsigned)(sb.st_mode & 0777));
        if (chmod(dir, 0700) != 0) {
            IG_ERROR("logstore", "cannot chmod log directory %s: %s", dir, strerror(errno));
            return IG_ESTORE;
        }
    }
    return IG_OK;
}

/* Makes sure the database file exists with mode 0600, without ever opening and closing a descriptor to a
 * file this process may already have open through SQLite (closing any descriptor drops all of the process's
 * fcntl locks on the file, which SQLite relies on): a new file is created with O_EXCL, an existing one is
 * only stat'ed and chmod'ed by path. Same as sqlite.c. */
static int create_private(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (errno != ENOENT) {
            IG_ERROR("logstore", "cannot stat database file %s: %s", path, strerror(errno));
            return IG_ESTORE;
        }
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            close(fd);
            return IG_OK;
        }
        if (errno != EEXIST) {
            IG_ERROR("logstore", "cannot create database file %s: %s", path, strerror(errno));
            return IG_ESTORE;
        }
        if (stat(path, &sb) != 0) return IG_ESTORE; /* created by another thread meanwhile */
    }
    if ((sb.st_mode & 077) && sb.st_uid == geteuid()) {
        IG_WARN("logstore", "database file %s was readable by others (mode %03o): setting it to 0600", path,
                (unsigned)(sb.st_mode & 0777));
        if (chmod(path, 0600) != 0) {
            IG_ERROR("logstore", "cannot chmod database file %s: %s", path, strerror(errno));
            return IG_ESTORE;
        }
    }
    return IG_OK;
}

void ig_logstore_close(ig_logstore_t *ls)
{
    if (!ls) return;
    for (size_t i = 0; i < ST__COUNT; i++)
        sqlite3_finalize(ls->stmts[i]);
    for (size_t i = 0; i < DYN_SLOTS; i++)
        sqlite3_finalize(ls->dyn[i]);
    if (ls->db && sqlite3_close(ls->db) != SQLITE_OK)
        IG_ERROR("logstore", "sqlite close failed on %s: %s", ls->path, sqlite3_errmsg(ls->db));
    free(ls);
}

/* Connection settings, applied to every handle (pragmas are per connection). */
static int configure(ig_logstore_t *ls)
{
    sqlite3_stmt *st = NULL;
    int rc, src;

    sqlite3_extended_result_codes(ls->db, 1);
    sqlite3_busy_timeout(ls->db, LS_BUSY_MS);
    /* hardening: no writes to sqlite_master, no SQL functions from the schema, no extensions */
    sqlite3_db_config(ls->db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
    sqlite3_db_config(ls->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
    sqlite3_db_config(ls->db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, (int *)NULL);

    src = sqlite3_create_function_v2(ls->db, "ig_hist_pct", 2,
                                     SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY, NULL, NULL,
                                     hist_pct_step, hist_pct_final, NULL);
    if (src != SQLITE_OK) {
        rc = map_err(ls, src, "function");
        goto out;
    }
    src = sqlite3_exec(ls->db,
                       "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -8192; PRAGMA temp_store = MEMORY;",
                       NULL, NULL, NULL);
    if (src != SQLITE_OK) {
        rc = map_err(ls, src, "pragma");
        goto out;
    }
    /* the page size and auto_vacuum only take effect before the first table exists (and the page size of a
     * WAL database can never change), and setting auto_vacuum on an existing file needs the write lock (a
     * reader opening behind a busy writer would wait for it): only on a new, empty file */
    src = sqlite3_prepare_v2(ls->db, "PRAGMA page_count", -1, &st, NULL);
    bool fresh = src == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int64(st, 0) == 0;
    sqlite3_finalize(st);
    st = NULL;
    if (fresh && (src = sqlite3_exec(ls->db,
                                     "PRAGMA page_size = " LS_PAGE_SIZE_SQL ";"
                                     " PRAGMA auto_vacuum = INCREMENTAL",
                                     NULL, NULL, NULL)) != SQLITE_OK) {
        rc = map_err(ls, src, "pragma");
        goto out;
    }
    /* switching a new file to WAL while another handle does the same can fail with SQLITE_BUSY without the
     * busy handler being called: wait here ourselves, for at most the same timeout (as sqlite.c) */
    src = sqlite3_prepare_v2(ls->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    for (int waited = 0; src == SQLITE_OK || (src & 0xff) == SQLITE_BUSY; waited += 10) {
        src = sqlite3_step(st);
        if ((src & 0xff) != SQLITE_BUSY || waited >= LS_BUSY_MS) break;
        sqlite3_reset(st);
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000000}, NULL);
    }
    if (src != SQLITE_ROW) {
        rc = map_err(ls, src, "journal_mode");
        goto out;
    }
    const char *mode = (const char *)sqlite3_column_text(st, 0);
    rc = IG_ESTORE;
    if (!mode || strcmp(mode, "wal") != 0) {
        IG_ERROR("logstore", "cannot switch %s to WAL mode (got %s)", ls->path, mode ? mode : "nothing");
        goto out;
    }
    sqlite3_finalize(st);
    st = NULL;
    /* checkpoint when the WAL reaches LS_WAL_BYTES, whatever the file's page size */
    src = sqlite3_prepare_v2(ls->db, "PRAGMA page_size", -1, &st, NULL);
    int64_t page = src == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    if (page <= 0) {
        rc = map_err(ls, src == SQLITE_OK ? SQLITE_ERROR : src, "page_size");
        goto out;
    }
    ls->page_size = page;
    sqlite3_wal_autocheckpoint(ls->db, (int)IG_MAX(LS_WAL_BYTES / page, 1));
    rc = IG_OK;
out:
    sqlite3_finalize(st);
    return rc;
}

/* *v = highest applied migration; 0 when the table is missing. */
static int read_version(ig_logstore_t *ls, int *v)
{
    int64_t exists = 0, ver = 0;
    int rc = query_int(ls, ST_MIG_EXISTS, "schema version", &exists);
    if (rc == IG_OK && exists) rc = query_int(ls, ST_MIG_VERSION, "schema version", &ver);
    if (rc == IG_OK) *v = (int)ver;
    return rc;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int migrate(ig_logstore_t *ls)
{
    sqlite3_stmt *ins = NULL;
    int rc, v = 0, src;

    if ((rc = tx_begin(ls))) goto out;
    src = sqlite3_exec(ls->db,
                       "CREATE TABLE IF NOT EXISTS schema_migrations ("
                       " version INTEGER NOT NULL PRIMARY KEY, applied_at INTEGER NOT NULL)",
                       NULL, NULL, NULL);
    if (src != SQLITE_OK) {
        rc = map_err(ls, src, "create schema_migrations");
        goto out;
    }
    if ((rc = tx_commit(ls)) || (rc = read_version(ls, &v))) goto out;
    if (v > IG_LOGSTORE_SCHEMA_VERSION) {
        IG_ERROR("logstore", "%s has schema v%d, newer than this binary (v%d): refusing to use it", ls->path,
                 v, IG_LOGSTORE_SCHEMA_VERSION);
        rc = IG_ESTORE;
        goto out;
    }
    for (int next = v + 1; next <= IG_LOGSTORE_SCHEMA_VERSION; next++) {
        if ((rc = tx_begin(ls)) || (rc = read_version(ls, &v))) goto out;
        if (v >= next) { /* another handle applied it while we waited for the lock */
            if ((rc = tx_commit(ls))) goto out;
            continue;
        }
        src = sqlite3_exec(ls->db, migrations[next - 1], NULL, NULL, NULL);
        if (src != SQLITE_OK) {
            IG_ERROR("logstore", "migration v%d failed", next);
            rc = map_err(ls, src, "migration");
            goto out;
        }
        if ((rc = stmt(ls, ST_MIG_INSERT, &ins))) goto out;
        sqlite3_bind_int(ins, 1, next);
        sqlite3_bind_int64(ins, 2, now_ms());
        rc = step_done(ls, ins, "record migration");
        done(ins);
        ins = NULL;
        if (rc || (rc = tx_commit(ls))) goto out;
        IG_DEBUG("logstore", "applied log schema migration v%d to %s", next, ls->path);
    }
out:
    done(ins);
    if (rc) tx_rollback(ls);
    return rc;
}

ig_logstore_t *ig_logstore_open(const char *dir, const char *org_id, int *err)
{
    ig_logstore_t *ls = NULL;
    int rc = IG_EINVAL;

    if (!dir || !*dir || !valid_org_id(org_id)) goto out;
    rc = IG_ENOMEM;
    if (!(ls = calloc(1, sizeof *ls))) goto out;
    if ((rc = db_path(ls->path, sizeof ls->path, dir, org_id, "")) || (rc = ensure_dir(dir)) ||
        (rc = create_private(ls->path)))
        goto out;
    int src = sqlite3_open_v2(
        ls->path, &ls->db,
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE, NULL);
    if (src != SQLITE_OK) {
        rc = map_err(ls, src, "open");
        goto out;
    }
    if ((rc = configure(ls))) goto out;
    rc = migrate(ls);
out:
    if (rc && ls) {
        ig_logstore_close(ls);
        ls = NULL;
    }
    if (err) *err = rc;
    return ls;
}

sqlite3 *ig_logstore_sqlite(ig_logstore_t *ls)
{
    return ls ? ls->db : NULL;
}

int ig_logstore_destroy(const char *dir, const char *org_id)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    char path[PATH_MAX];
    int rc = IG_EINVAL;

    if (!dir || !*dir || !valid_org_id(org_id)) goto out;
    for (size_t i = 0; i < IG_ARRAY_LEN(suffixes); i++) {
        if ((rc = db_path(path, sizeof path, dir, org_id, suffixes[i]))) goto out;
        if (unlink(path) != 0 && errno != ENOENT) {
            IG_ERROR("logstore", "cannot delete %s: %s", path, strerror(errno));
            rc = IG_ESTORE;
            goto out;
        }
    }
    /* make the deletion durable (best effort: a directory descriptor, never one of the database files) */
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    rc = IG_OK;
out:
    return rc;
}

/* ---- insert ---- */

static bool blob_ok(const uint8_t *p, size_t len)
{
    return (p || len == 0) && len <= IG_LOGSTORE_MAX_BLOB;
}

static bool text_ok(const char *s, size_t max)
{
    return strnlen(s, max + 1) <= max;
}

static bool terminated(const char *a, size_t cap)
{
    return memchr(a, '\0', cap) != NULL;
}

static bool valid_rec(const ig_logrec_t *r)
{
    return r->id[0] && terminated(r->id, sizeof r->id) && terminated(r->key_id, sizeof r->key_id) &&
           terminated(r->key_prefix, sizeof r->key_prefix) && terminated(r->provider, sizeof r->provider) &&
           terminated(r->method, sizeof r->method) && r->path && text_ok(r->path, IG_LOGSTORE_MAX_PATH) &&
           (!r->model || text_ok(r->model, IG_LOGSTORE_MAX_MODEL)) &&
           (!r->error || text_ok(r->error, IG_LOGSTORE_MAX_ERROR)) && r->status >= 0 && r->status <= 999 &&
           isfinite(r->latency_ms) && r->latency_ms >= 0 && isfinite(r->ttfb_ms) && r->ttfb_ms >= 0 &&
           r->input_tokens >= -1 && r->output_tokens >= -1 && r->cached_tokens >= -1 &&
           r->cost_micros >= -1 && r->req_bytes >= 0 && r->resp_bytes >= 0 &&
           blob_ok(r->req_body, r->req_body_len) && blob_ok(r->resp_body, r->resp_body_len) &&
           blob_ok(r->user_id, r->user_id_len) && blob_ok(r->session_id, r->session_id_len) &&
           blob_ok(r->client_ip, r->client_ip_len) && r->created_at > 0 &&
           (!r->guard_action ||
            (r->guard_action[0] && text_ok(r->guard_action, IG_LOGSTORE_MAX_GUARD_ACTION) &&
             (!r->guard_pii || text_ok(r->guard_pii, IG_LOGSTORE_MAX_GUARD_TEXT)) &&
             (!r->guard_injection_rules || text_ok(r->guard_injection_rules, IG_LOGSTORE_MAX_GUARD_TEXT)) &&
             r->guard_injection_score >= -1 && r->guard_injection_score <= 100));
}

/* The guardrail findings of the record just stored as `seq` (v3). */
static int insert_guard(ig_logstore_t *ls, const ig_logrec_t *r, int64_t seq)
{
    sqlite3_stmt *q = NULL;
    int rc = stmt(ls, ST_GUARD_INSERT, &q);
    if (rc) return rc;
    sqlite3_bind_int64(q, 1, seq);
    bind_text(q, 2, r->guard_action);
    bind_text(q, 3, r->guard_pii);
    bind_opt_count(q, 4, r->guard_injection_score);
    bind_text(q, 5, r->guard_injection_rules);
    rc = step_done(ls, q, "guard insert");
    done(q);
    return rc;
}

static int insert_row(ig_logstore_t *ls, sqlite3_stmt *q, const ig_logrec_t *r, bool *stored)
{
    bind_text(q, 1, r->id);
    bind_opt_text(q, 2, r->key_id);
    bind_opt_text(q, 3, r->key_prefix);
    bind_opt_text(q, 4, r->provider);
    bind_opt_text(q, 5, r->method);
    bind_text(q, 6, r->path);
    bind_text(q, 7, r->model);
    bind_text(q, 8, r->error);
    sqlite3_bind_int(q, 9, r->status);
    sqlite3_bind_int(q, 10, r->stream);
    sqlite3_bind_double(q, 11, r->latency_ms);
    sqlite3_bind_double(q, 12, r->ttfb_ms);
    bind_opt_count(q, 13, r->input_tokens);
    bind_opt_count(q, 14, r->output_tokens);
    bind_opt_count(q, 15, r->cached_tokens);
    bind_opt_count(q, 16, r->cost_micros);
    sqlite3_bind_int64(q, 17, r->req_bytes);
    sqlite3_bind_int64(q, 18, r->resp_bytes);
    sqlite3_bind_int(q, 19, r->req_truncated);
    sqlite3_bind_int(q, 20, r->resp_truncated);
    sqlite3_bind_int(q, 21, r->cache_hit);
    sqlite3_bind_int64(q, 22, r->created_at);
    bind_blob(q, 23, r->has_user_tag ? r->user_tag : NULL, 16);
    bind_blob(q, 24, r->has_session_tag ? r->session_tag : NULL, 16);
    bind_blob(q, 25, r->user_id, r->user_id_len);
    bind_blob(q, 26, r->session_id, r->session_id_len);
    bind_blob(q, 27, r->client_ip, r->client_ip_len);
    bind_blob(q, 28, r->req_body, r->req_body_len);
    bind_blob(q, 29, r->resp_body, r->resp_body_len);
    int rc = step_done(ls, q, "log insert");
    /* ON CONFLICT DO NOTHING: no change means the id was already stored */
    *stored = rc == IG_OK && sqlite3_changes(ls->db) == 1;
    sqlite3_reset(q);
    return rc;
}

/* A newly stored record with its aggregate group: (hour, model, provider, key_id). */
typedef struct {
    const ig_logrec_t *r;
    int64_t hour;
} agg_ref_t;

static const char *model_key(const ig_logrec_t *r)
{
    return r->model ? r->model : "";
}

static int agg_cmp(const void *a, const void *b)
{
    const agg_ref_t *x = a, *y = b;
    int c;
    if (x->hour != y->hour) return x->hour < y->hour ? -1 : 1;
    if ((c = strcmp(model_key(x->r), model_key(y->r)))) return c;
    if ((c = strcmp(x->r->provider, y->r->provider))) return c;
    return strcmp(x->r->key_id, y->r->key_id);
}

/* Adds the group refs[0..n) (same hour, model, provider, key) to its usage_hourly row. */
static int agg_flush(ig_logstore_t *ls, const agg_ref_t *refs, size_t n)
{
    const ig_logrec_t *g = refs[0].r;
    uint64_t hist[IG_LOGSTORE_HIST_BUCKETS] = {0};
    uint8_t enc[IG_LOGSTORE_HIST_BUCKETS * 4];
    int64_t errors = 0, in = 0, out = 0, cached = 0, cost = 0, hits = 0;
    double lat = 0;
    sqlite3_stmt *q = NULL;
    int rc, src;

    for (size_t i = 0; i < n; i++) {
        const ig_logrec_t *r = refs[i].r;
        errors += r->status >= 400 || (r->error && r->error[0]);
        in += IG_MAX(r->input_tokens, 0);
        out += IG_MAX(r->output_tokens, 0);
        cached += IG_MAX(r->cached_tokens, 0);
        cost += IG_MAX(r->cost_micros, 0);
        hits += r->cache_hit;
        lat += r->latency_ms;
        hist[ig_logstore_hist_bucket(r->latency_ms)]++;
    }
    /* the histogram cannot be added in SQL: read the stored one (we hold the write lock) and merge */
    if ((rc = stmt(ls, ST_USAGE_HIST, &q))) goto out;
    sqlite3_bind_int64(q, 1, refs[0].hour);
    bind_text(q, 2, model_key(g));
    bind_text(q, 3, g->provider);
    bind_text(q, 4, g->key_id);
    src = sqlite3_step(q);
    if (src == SQLITE_ROW) {
        if ((rc = hist_add_col(q, 0, hist))) goto out;
    } else if (src != SQLITE_DONE) {
        rc = map_err(ls, src, "usage read");
        goto out;
    }
    done(q);
    if ((rc = stmt(ls, ST_USAGE_UPSERT, &q))) goto out;
    sqlite3_bind_int64(q, 1, refs[0].hour);
    bind_text(q, 2, model_key(g));
    bind_text(q, 3, g->provider);
    bind_text(q, 4, g->key_id);
    sqlite3_bind_int64(q, 5, (int64_t)n);
    sqlite3_bind_int64(q, 6, errors);
    sqlite3_bind_int64(q, 7, in);
    sqlite3_bind_int64(q, 8, out);
    sqlite3_bind_int64(q, 9, cached);
    sqlite3_bind_int64(q, 10, cost);
    sqlite3_bind_int64(q, 11, hits);
    sqlite3_bind_double(q, 12, lat);
    sqlite3_bind_blob(q, 13, enc, (int)hist_encode(hist, enc), SQLITE_STATIC);
    rc = step_done(ls, q, "usage upsert");
out:
    done(q);
    return rc;
}

int ig_logstore_insert(ig_logstore_t *ls, const ig_logrec_t *recs, size_t n)
{
    sqlite3_stmt *q = NULL;
    agg_ref_t *refs = NULL;
    size_t nref = 0;
    bool stored;
    int rc = IG_EINVAL;

    if (!ls || (n && !recs) || n > SIZE_MAX / sizeof *refs) goto out;
    for (size_t i = 0; i < n; i++)
        if (!valid_rec(&recs[i])) goto out;
    rc = IG_OK;
    if (n == 0) goto out;
    rc = IG_ENOMEM;
    if (!(refs = malloc(n * sizeof *refs))) goto out;

    if ((rc = tx_begin(ls)) || (rc = stmt(ls, ST_LOG_INSERT, &q))) goto out;
    for (size_t i = 0; i < n; i++) {
        if ((rc = insert_row(ls, q, &recs[i], &stored))) goto out;
        if (stored && recs[i].guard_action &&
            (rc = insert_guard(ls, &recs[i], sqlite3_last_insert_rowid(ls->db))))
            goto out;
        if (stored) refs[nref++] = (agg_ref_t){&recs[i], recs[i].created_at - recs[i].created_at % HOUR_MS};
    }
    done(q);
    q = NULL;
    /* one aggregate update per group, not per record: a batch mostly falls into a few groups */
    qsort(refs, nref, sizeof *refs, agg_cmp);
    for (size_t i = 0, j; i < nref; i = j) {
        for (j = i + 1; j < nref && agg_cmp(&refs[i], &refs[j]) == 0; j++)
            ;
        if ((rc = agg_flush(ls, refs + i, j - i))) goto out;
    }
    rc = tx_commit(ls);
out:
    done(q);
    if (rc && ls && ls->db) tx_rollback(ls);
    free(refs);
    return rc;
}

/* ---- reading records ---- */

void ig_logrow_free(ig_logrow_t *row)
{
    if (!row) return;
    for (size_t i = 0; i < IG_ARRAY_LEN(row->blobs); i++) {
        free(row->blobs[i]);
        row->blobs[i] = NULL;
    }
    row->r.req_body = row->r.resp_body = row->r.user_id = row->r.session_id = row->r.client_ip = NULL;
    row->r.req_body_len = row->r.resp_body_len = row->r.user_id_len = row->r.session_id_len =
        row->r.client_ip_len = 0;
}

/* A blob column into *p / *len: a malloc'd copy owned by the row (own = true) or a pointer into the
 * statement, valid until its next step (own = false). NULL, 0 when absent. */
static int col_blob(sqlite3_stmt *st, int i, bool own, uint8_t **slot, const uint8_t **p, size_t *len)
{
    const void *v = sqlite3_column_blob(st, i);
    size_t n = (size_t)sqlite3_column_bytes(st, i);
    *p = NULL;
    *len = 0;
    if (!v || !n) return IG_OK;
    if (own) {
        if (!(*slot = malloc(n))) return IG_ENOMEM;
        memcpy(*slot, v, n);
        v = *slot;
    }
    *p = v;
    *len = n;
    return IG_OK;
}

/* Reads the current row (LOG_META_COLS then the two body columns) into row, which is zeroed first. On
 * error nothing stays allocated. */
static int read_row(sqlite3_stmt *st, ig_logrow_t *row, bool own)
{
    ig_logrec_t *r = &row->r;
    int rc;
    memset(row, 0, sizeof *row);
    row->seq = sqlite3_column_int64(st, C_SEQ);
    if ((rc = col_text(st, C_ID, r->id, sizeof r->id)) ||
        (rc = col_text(st, C_KEY_ID, r->key_id, sizeof r->key_id)) ||
        (rc = col_text(st, C_KEY_PREFIX, r->key_prefix, sizeof r->key_prefix)) ||
        (rc = col_text(st, C_PROVIDER, r->provider, sizeof r->provider)) ||
        (rc = col_text(st, C_METHOD, r->method, sizeof r->method)) ||
        (rc = col_text(st, C_PATH, row->path_buf, sizeof row->path_buf)) ||
        (rc = col_opt_text(st, C_MODEL, row->model_buf, sizeof row->model_buf, &r->model)) ||
        (rc = col_opt_text(st, C_ERROR, row->error_buf, sizeof row->error_buf, &r->error)) ||
        (rc = col_tag(st, C_USER_TAG, r->user_tag, &r->has_user_tag)) ||
        (rc = col_tag(st, C_SESSION_TAG, r->session_tag, &r->has_session_tag)) ||
        (rc = col_opt_text(st, C_GUARD_ACTION, row->guard_action_buf, sizeof row->guard_action_buf,
                           &r->guard_action)) ||
        (rc = col_opt_text(st, C_GUARD_PII, row->guard_pii_buf, sizeof row->guard_pii_buf, &r->guard_pii)) ||
        (rc = col_opt_text(st, C_GUARD_RULES, row->guard_rules_buf, sizeof row->guard_rules_buf,
                           &r->guard_injection_rules)))
        goto out;
    r->guard_injection_score = r->guard_action ? (int)col_opt_count(st, C_GUARD_SCORE) : -1;
    r->path = row->path_buf;
    r->status = sqlite3_column_int(st, C_STATUS);
    r->stream = sqlite3_column_int(st, C_STREAM) != 0;
    r->latency_ms = sqlite3_column_double(st, C_LATENCY);
    r->ttfb_ms = sqlite3_column_double(st, C_TTFB);
    r->input_tokens = col_opt_count(st, C_IN_TOK);
    r->output_tokens = col_opt_count(st, C_OUT_TOK);
    r->cached_tokens = col_opt_count(st, C_CACHED_TOK);
    r->cost_micros = col_opt_count(st, C_COST);
    r->req_bytes = sqlite3_column_int64(st, C_REQ_BYTES);
    r->resp_bytes = sqlite3_column_int64(st, C_RESP_BYTES);
    r->req_truncated = sqlite3_column_int(st, C_REQ_TRUNC) != 0;
    r->resp_truncated = sqlite3_column_int(st, C_RESP_TRUNC) != 0;
    r->cache_hit = sqlite3_column_int(st, C_CACHE_HIT) != 0;
    r->created_at = sqlite3_column_int64(st, C_CREATED);
    if ((rc = col_blob(st, C_REQ_BODY, own, &row->blobs[0], &r->req_body, &r->req_body_len)) ||
        (rc = col_blob(st, C_RESP_BODY, own, &row->blobs[1], &r->resp_body, &r->resp_body_len)) ||
        (rc = col_blob(st, C_USER_ID, own, &row->blobs[2], &r->user_id, &r->user_id_len)) ||
        (rc = col_blob(st, C_SESSION_ID, own, &row->blobs[3], &r->session_id, &r->session_id_len)) ||
        (rc = col_blob(st, C_CLIENT_IP, own, &row->blobs[4], &r->client_ip, &r->client_ip_len)))
        goto out;
out:
    if (rc) ig_logrow_free(row);
    return rc;
}

int ig_logstore_get(ig_logstore_t *ls, const char *id, ig_logrow_t *out)
{
    sqlite3_stmt *q = NULL;
    int rc = IG_EINVAL;
    if (!ls || !id || !out) goto out;
    if ((rc = stmt(ls, ST_LOG_GET, &q))) goto out;
    bind_text(q, 1, id);
    int src = sqlite3_step(q);
    if (src == SQLITE_DONE) {
        rc = IG_ENOTFOUND;
        goto out;
    }
    if (src != SQLITE_ROW) {
        rc = map_err(ls, src, "log get");
        goto out;
    }
    rc = read_row(q, out, true);
out:
    done(q);
    return rc;
}

/* The filter's conditions as F_* bits; IG_EINVAL for a negative time bound or status. */
static int filter_mask(const ig_logfilter_t *f, unsigned *mask)
{
    *mask = 0;
    if (!f) return IG_OK;
    if (f->start < 0 || f->end < 0 || f->status < 0) return IG_EINVAL;
    *mask = (f->start ? F_START : 0) | (f->end ? F_END : 0) | (f->model ? F_MODEL : 0) |
            (f->provider ? F_PROVIDER : 0) | (f->key_id ? F_KEY : 0) | (f->status ? F_STATUS : 0) |
            (f->user_tag ? F_USER : 0) | (f->session_tag ? F_SESSION : 0);
    return IG_OK;
}

/* Appends s to buf when it fits; otherwise sets *len = cap (the caller checks len < cap). */
static void append(char *buf, size_t cap, size_t *len, const char *s)
{
    size_t n = strlen(s);
    if (*len + n >= cap) {
        *len = cap;
        return;
    }
    memcpy(buf + *len, s, n + 1);
    *len += n;
}

/* The filter statement for `key` (F_* bits), from the cache or prepared now. */
static int dyn_stmt(ig_logstore_t *ls, unsigned key, sqlite3_stmt **out)
{
    static const struct {
        unsigned bit;
        const char *sql;
    } conds[] = {
        {F_START, " AND created_at >= ?1"}, {F_END, " AND created_at < ?2"},
        {F_MODEL, " AND model = ?3"},       {F_PROVIDER, " AND provider = ?4"},
        {F_KEY, " AND key_id = ?5"},        {F_STATUS, " AND status = ?6"},
        {F_USER, " AND user_tag = ?7"},     {F_SESSION, " AND session_tag = ?8"},
    };
    char sql[2048];
    size_t len = 0;
    int rc = IG_OK;

    for (unsigned i = 0; i < DYN_SLOTS; i++) {
        if (ls->dyn[i] && ls->dyn_key[i] == key) {
            *out = ls->dyn[i];
            goto out;
        }
    }
    append(sql, sizeof sql, &len, "SELECT " LOG_META_COLS);
    append(sql, sizeof sql, &len, key & F_BODIES ? LOG_BODY_COLS : LOG_NO_BODIES);
    append(sql, sizeof sql, &len, LOG_GUARD_COLS LOG_FROM " WHERE 1 = 1");
    for (size_t i = 0; i < IG_ARRAY_LEN(conds); i++)
        if (key & conds[i].bit) append(sql, sizeof sql, &len, conds[i].sql);
    /* keyset position: the created_at term alone bounds the index range; the seq term filters the ties */
    if (key & F_CURSOR)
        append(sql, sizeof sql, &len,
               key & F_ASC ? " AND created_at >= ?9 AND (created_at > ?9 OR seq > ?10)"
                           : " AND created_at <= ?9 AND (created_at < ?9 OR seq < ?10)");
    append(sql, sizeof sql, &len,
           key & F_ASC ? " ORDER BY created_at, seq LIMIT ?11"
                       : " ORDER BY created_at DESC, seq DESC LIMIT ?11");
    rc = IG_EINTERNAL;
    if (len >= sizeof sql) goto out;
    unsigned slot = ls->dyn_next++ % DYN_SLOTS;
    sqlite3_finalize(ls->dyn[slot]);
    ls->dyn[slot] = NULL;
    int src = sqlite3_prepare_v3(ls->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &ls->dyn[slot], NULL);
    if (src != SQLITE_OK) {
        rc = map_err(ls, src, "prepare");
        ls->dyn[slot] = NULL;
        goto out;
    }
    ls->dyn_key[slot] = key;
    *out = ls->dyn[slot];
    rc = IG_OK;
out:
    return rc;
}

static void bind_filter(sqlite3_stmt *q, const ig_logfilter_t *f, unsigned mask)
{
    if (mask & F_START) sqlite3_bind_int64(q, 1, f->start);
    if (mask & F_END) sqlite3_bind_int64(q, 2, f->end);
    if (mask & F_MODEL) bind_text(q, 3, f->model);
    if (mask & F_PROVIDER) bind_text(q, 4, f->provider);
    if (mask & F_KEY) bind_text(q, 5, f->key_id);
    if (mask & F_STATUS) sqlite3_bind_int(q, 6, f->status);
    if (mask & F_USER) sqlite3_bind_blob(q, 7, f->user_tag, 16, SQLITE_STATIC);
    if (mask & F_SESSION) sqlite3_bind_blob(q, 8, f->session_tag, 16, SQLITE_STATIC);
}

/* Parses a decimal int64 ≥ 0 from s up to `end` (exclusive); false when malformed or too large. */
static bool parse_i64(const char *s, const char *end, int64_t *v)
{
    int64_t x = 0;
    if (s == end || end - s > 19) return false;
    for (; s < end; s++) {
        if (*s < '0' || *s > '9') return false;
        if (x > (INT64_MAX - (*s - '0')) / 10) return false;
        x = x * 10 + (*s - '0');
    }
    *v = x;
    return true;
}

/* A cursor is "<created_at>.<seq>" of the last row of the previous page. */
static bool parse_cursor(const char *c, int64_t *created_at, int64_t *seq)
{
    const char *dot = strchr(c, '.');
    return dot && parse_i64(c, dot, created_at) && parse_i64(dot + 1, dot + strlen(dot), seq);
}

static void format_cursor(char out[IG_LOGSTORE_CURSOR_MAX], int64_t created_at, int64_t seq)
{
    snprintf(out, IG_LOGSTORE_CURSOR_MAX, "%lld.%lld", (long long)created_at, (long long)seq);
}

int ig_logstore_query(ig_logstore_t *ls, const ig_logfilter_t *f, const char *cursor, bool with_bodies,
                      ig_logrow_t *out, size_t cap, size_t *n, char next_cursor[IG_LOGSTORE_CURSOR_MAX])
{
    sqlite3_stmt *q = NULL;
    int64_t c_at = 0, c_seq = 0;
    size_t got = 0;
    bool more = false;
    unsigned mask;
    int rc = IG_EINVAL, src;

    if (n) *n = 0;
    if (!ls || !out || !n || !next_cursor || cap == 0 || cap > IG_LOGSTORE_MAX_PAGE) goto out;
    if ((rc = filter_mask(f, &mask))) goto out;
    if (cursor && *cursor) {
        rc = IG_EINVAL;
        if (!parse_cursor(cursor, &c_at, &c_seq)) goto out;
        mask |= F_CURSOR;
    }
    if ((rc = dyn_stmt(ls, mask | (with_bodies ? F_BODIES : 0), &q))) goto out;
    bind_filter(q, f, mask);
    if (mask & F_CURSOR) {
        sqlite3_bind_int64(q, 9, c_at);
        sqlite3_bind_int64(q, 10, c_seq);
    }
    /* one more than fits tells "there is a next page" apart from "exactly cap" */
    sqlite3_bind_int64(q, P_LIMIT, (int64_t)cap + 1);
    while ((src = sqlite3_step(q)) == SQLITE_ROW) {
        if (got == cap) {
            more = true;
            break;
        }
        if ((rc = read_row(q, &out[got], true))) goto out;
        got++;
    }
    if (src != SQLITE_ROW && src != SQLITE_DONE) {
        rc = map_err(ls, src, "log query");
        goto out;
    }
    next_cursor[0] = '\0';
    if (more) format_cursor(next_cursor, out[cap - 1].r.created_at, out[cap - 1].seq);
    *n = got;
    rc = IG_OK;
out:
    done(q);
    if (rc) {
        for (size_t i = 0; i < got; i++)
            ig_logrow_free(&out[i]);
    }
    return rc;
}

int ig_logstore_scan(ig_logstore_t *ls, const ig_logfilter_t *f, int (*fn)(void *ctx, const ig_logrow_t *row),
                     void *ctx)
{
    sqlite3_stmt *q = NULL;
    ig_logrow_t row;
    int64_t c_at = 0, c_seq = 0;
    unsigned mask;
    bool first = true;
    int rc = IG_EINVAL, src;

    if (!ls || !fn) goto out;
    if ((rc = filter_mask(f, &mask))) goto out;
    for (;;) {
        unsigned key = mask | F_ASC | F_BODIES | (first ? 0 : F_CURSOR);
        size_t got = 0;
        if ((rc = dyn_stmt(ls, key, &q))) goto out;
        bind_filter(q, f, mask);
        if (!first) {
            sqlite3_bind_int64(q, 9, c_at);
            sqlite3_bind_int64(q, 10, c_seq);
        }
        sqlite3_bind_int64(q, P_LIMIT, SCAN_PAGE);
        while ((src = sqlite3_step(q)) == SQLITE_ROW) {
            if ((rc = read_row(q, &row, false))) goto out;
            got++;
            c_at = row.r.created_at;
            c_seq = row.seq;
            if ((rc = fn(ctx, &row))) goto out;
        }
        if (src != SQLITE_DONE) {
            rc = map_err(ls, src, "log scan");
            goto out;
        }
        /* ends this page's read transaction before the next */
        done(q);
        q = NULL;
        first = false;
        if (got < SCAN_PAGE) break;
    }
    rc = IG_OK;
out:
    done(q);
    return rc;
}

/* ---- retention and counts ---- */

/* Gives freed pages back to the file system when a large part of the file is free (retention was
 * shortened); in steady state later inserts reuse them and this does nothing. */
static int shrink(ig_logstore_t *ls)
{
    int64_t pages = 0, free_pages = 0;
    char sql[64];
    int rc;
    if ((rc = query_int(ls, ST_PAGE_COUNT, "page count", &pages)) ||
        (rc = query_int(ls, ST_FREE_COUNT, "freelist count", &free_pages)))
        return rc;
    if (free_pages * FREE_RATIO <= pages) return IG_OK;
    snprintf(sql, sizeof sql, "PRAGMA incremental_vacuum(%d)", (int)IG_MAX(VACUUM_BYTES / ls->page_size, 1));
    int src = sqlite3_exec(ls->db, sql, NULL, NULL, NULL);
    return src == SQLITE_OK ? IG_OK : map_err(ls, src, "incremental vacuum");
}

int ig_logstore_purge(ig_logstore_t *ls, int64_t before, size_t limit, size_t *deleted)
{
    sqlite3_stmt *q = NULL;
    size_t changed = 0;
    int rc = IG_EINVAL;

    if (!ls || !deleted || before < 0 || limit == 0 || limit > IG_LOGSTORE_MAX_PURGE) goto out;
    if ((rc = tx_begin(ls)) || (rc = stmt(ls, ST_LOG_PURGE, &q))) goto out;
    sqlite3_bind_int64(q, 1, before);
    sqlite3_bind_int64(q, 2, (int64_t)limit);
    if ((rc = step_done(ls, q, "log purge"))) goto out;
    changed = (size_t)sqlite3_changes(ls->db);
    done(q);
    q = NULL;
    if ((changed && (rc = shrink(ls))) || (rc = tx_commit(ls))) goto out;
    *deleted = changed;
out:
    done(q);
    if (rc && ls && ls->db) tx_rollback(ls);
    return rc;
}

int ig_logstore_count(ig_logstore_t *ls, int64_t *n)
{
    return ls && n ? query_int(ls, ST_LOG_COUNT, "log count", n) : IG_EINVAL;
}

int ig_logstore_oldest(ig_logstore_t *ls, int64_t *created_at)
{
    return ls && created_at ? query_int(ls, ST_LOG_OLDEST, "log oldest", created_at) : IG_EINVAL;
}

/* ---- logs.expiring: batches by position, and a purge that stops at a position ---- */

/* Per record of a span, on top of its stored blobs: the metadata and the JSON around it, roughly. */
#define SPAN_RECORD_OVERHEAD 512

int ig_logstore_span(ig_logstore_t *ls, int64_t before, int64_t after_at, int64_t after_seq,
                     size_t max_records, int64_t max_bytes, ig_logspan_t *out)
{
    sqlite3_stmt *q = NULL;
    ig_logspan_t s = {0, 0, 0, 0, 0, 0};
    int rc = IG_EINVAL, src;

    if (!ls || !out || before < 0 || after_at < 0 || after_seq < 0 || max_records == 0 ||
        max_records > IG_LOGSTORE_MAX_PAGE || max_bytes <= 0)
        goto out;
    if ((rc = stmt(ls, ST_LOG_SPAN, &q))) goto out;
    sqlite3_bind_int64(q, 1, before);
    sqlite3_bind_int64(q, 2, after_at);
    sqlite3_bind_int64(q, 3, after_seq);
    sqlite3_bind_int64(q, 4, (int64_t)max_records);
    /* length() of a blob reads the record header only: no body is loaded */
    while ((src = sqlite3_step(q)) == SQLITE_ROW) {
        int64_t size = sqlite3_column_int64(q, 2) + SPAN_RECORD_OVERHEAD;
        if (s.records > 0 && s.bytes + size > max_bytes) break; /* the first record always fits */
        if (s.records == 0) {
            s.first_at = sqlite3_column_int64(q, 0);
            s.first_seq = sqlite3_column_int64(q, 1);
        }
        s.last_at = sqlite3_column_int64(q, 0);
        s.last_seq = sqlite3_column_int64(q, 1);
        s.records++;
        s.bytes += size;
    }
    if (src != SQLITE_ROW && src != SQLITE_DONE) {
        rc = map_err(ls, src, "log span");
        goto out;
    }
    *out = s;
    rc = IG_OK;
out:
    done(q);
    return rc;
}

int ig_logstore_purge_through(ig_logstore_t *ls, int64_t before, int64_t through_at, int64_t through_seq,
                              size_t limit, size_t *deleted)
{
    sqlite3_stmt *q = NULL;
    size_t changed = 0;
    int rc = IG_EINVAL;

    if (!ls || !deleted || before < 0 || through_at < 0 || through_seq < 0 || limit == 0 ||
        limit > IG_LOGSTORE_MAX_PURGE)
        goto out;
    if ((rc = tx_begin(ls)) || (rc = stmt(ls, ST_LOG_PURGE_THROUGH, &q))) goto out;
    sqlite3_bind_int64(q, 1, before);
    sqlite3_bind_int64(q, 2, through_at);
    sqlite3_bind_int64(q, 3, through_seq);
    sqlite3_bind_int64(q, 4, (int64_t)limit);
    if ((rc = step_done(ls, q, "log purge"))) goto out;
    changed = (size_t)sqlite3_changes(ls->db);
    done(q);
    q = NULL;
    if ((changed && (rc = shrink(ls))) || (rc = tx_commit(ls))) goto out;
    *deleted = changed;
out:
    done(q);
    if (rc && ls && ls->db) tx_rollback(ls);
    return rc;
}

/* ---- usage ---- */

/* [since, until) rounded out to whole hours; 0 = open. *lo / *hi are the SQL bounds. */
static int hour_range(int64_t since, int64_t until, int64_t *r_since, int64_t *r_until, int64_t *lo,
                      int64_t *hi)
{
    if (since < 0 || until < 0) return IG_EINVAL;
    *r_since = since - since % HOUR_MS;
    *r_until = until / HOUR_MS * HOUR_MS;
    if (*r_until < until) *r_until = *r_until <= INT64_MAX - HOUR_MS ? *r_until + HOUR_MS : 0;
    *lo = *r_since;
    *hi = *r_until ? *r_until : INT64_MAX;
    return IG_OK;
}

int ig_logstore_usage_summary(ig_logstore_t *ls, int64_t since, int64_t until, ig_usage_summary_t *out)
{
    sqlite3_stmt *q = NULL;
    ig_usage_summary_t s;
    uint64_t hist[IG_LOGSTORE_HIST_BUCKETS] = {0};
    double lat = 0;
    int64_t lo, hi;
    int rc = IG_EINVAL, src;

    memset(&s, 0, sizeof s);
    if (!ls || !out || (rc = hour_range(since, until, &s.since, &s.until, &lo, &hi))) goto out;
    if ((rc = stmt(ls, ST_USAGE_RANGE, &q))) goto out;
    sqlite3_bind_int64(q, 1, lo);
    sqlite3_bind_int64(q, 2, hi);
    /* one row per (hour, group): summed here because the histograms have to be anyway */
    while ((src = sqlite3_step(q)) == SQLITE_ROW) {
        s.requests += sqlite3_column_int64(q, 0);
        s.errors += sqlite3_column_int64(q, 1);
        s.input_tokens += sqlite3_column_int64(q, 2);
        s.output_tokens += sqlite3_column_int64(q, 3);
        s.cached_tokens += sqlite3_column_int64(q, 4);
        s.cost_micros += sqlite3_column_int64(q, 5);
        s.cache_hits += sqlite3_column_int64(q, 6);
        lat += sqlite3_column_double(q, 7);
        if ((rc = hist_add_col(q, 8, hist))) goto out;
    }
    if (src != SQLITE_DONE) {
        rc = map_err(ls, src, "usage summary");
        goto out;
    }
    if (s.requests > 0) {
        s.avg_latency_ms = lat / (double)s.requests;
        s.error_rate = (double)s.errors / (double)s.requests;
        s.cache_hit_rate = (double)s.cache_hits / (double)s.requests;
        s.p50_latency_ms = hist_percentile(hist, 50);
        s.p99_latency_ms = hist_percentile(hist, 99);
    }
    *out = s;
    rc = IG_OK;
out:
    done(q);
    return rc;
}

int ig_logstore_usage_timeseries(ig_logstore_t *ls, int64_t since, int64_t until, ig_usage_gran_t g,
                                 ig_usage_group_t by, ig_usage_point_t *out, size_t cap, size_t *n)
{
    sqlite3_stmt *q = NULL;
    int64_t r_since, r_until, lo, hi;
    size_t got = 0;
    int rc = IG_EINVAL, src;

    if (n) *n = 0;
    if (!ls || !out || !n || (unsigned)g > IG_USAGE_DAY || (unsigned)by > IG_USAGE_BY_KEY ||
        (rc = hour_range(since, until, &r_since, &r_until, &lo, &hi)))
        goto out;
    if ((rc = stmt(ls, ST_USAGE_SERIES, &q))) goto out;
    sqlite3_bind_int64(q, 1, lo);
    sqlite3_bind_int64(q, 2, hi);
    sqlite3_bind_int64(q, 3, g == IG_USAGE_DAY ? DAY_MS : HOUR_MS);
    sqlite3_bind_int(q, 4, (int)by);
    sqlite3_bind_int64(q, 5, cap < (size_t)INT64_MAX ? (int64_t)cap + 1 : INT64_MAX);
    while ((src = sqlite3_step(q)) == SQLITE_ROW) {
        if (got == cap) {
            rc = IG_ETOOBIG;
            goto out;
        }
        ig_usage_point_t *p = &out[got];
        memset(p, 0, sizeof *p);
        p->bucket = sqlite3_column_int64(q, 0);
        if ((rc = col_text(q, 1, p->group, sizeof p->group))) goto out;
        p->requests = sqlite3_column_int64(q, 2);
        p->errors = sqlite3_column_int64(q, 3);
        p->input_tokens = sqlite3_column_int64(q, 4);
        p->output_tokens = sqlite3_column_int64(q, 5);
        p->cost_micros = sqlite3_column_int64(q, 6);
        p->avg_latency_ms = p->requests ? sqlite3_column_double(q, 7) / (double)p->requests : 0;
        p->p50_latency_ms = sqlite3_column_double(q, 8);
        p->p99_latency_ms = sqlite3_column_double(q, 9);
        got++;
    }
    rc = src == SQLITE_DONE ? IG_OK : map_err(ls, src, "usage timeseries");
out:
    done(q);
    if (n) *n = rc == IG_OK || rc == IG_ETOOBIG ? got : 0;
    return rc;
}

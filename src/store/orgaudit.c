/*
 * orgaudit.c — an org's audit chain in its log database (contract in orgaudit.h).
 *
 * It works on the log store handle's own connection (ig_logstore_sqlite), so an org costs no second
 * connection, and follows logstore.c's rules: values are bound, never formatted into SQL; every write is one
 * BEGIN IMMEDIATE transaction (reading the tail and inserting under the write lock keeps the chain linear
 * across threads and processes); a failure rolls back whatever it began. Audit writes and reads are rare
 * (management actions), so statements are prepared per call instead of being cached on the handle, which
 * keeps this table's code out of logstore.c.
 *
 * Filters read the chain in seq order with optional conditions bound as NULL when absent, as the control
 * chain does: an org's chain is small (management actions, logins), so no secondary index is kept.
 */
#include "store/orgaudit.h"
#include "core/err.h"
#include "core/log.h"
#include "crypto/crypto.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#define AUDIT_COLS "seq, id, actor, action, target, source_ip, request_id, created_at, prev_hash, hash"
enum { A_SEQ, A_ID, A_ACTOR, A_ACTION, A_TARGET, A_IP, A_REQ, A_CREATED, A_PREV, A_HASH };

static bool valid_org_id(const char *org_id)
{
    if (!org_id) return false;
    for (int i = 0; i < 32; i++) {
        char c = org_id[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return org_id[32] == '\0';
}

/* Maps an SQLite result code onto our errors (as logstore.c), logging the unexpected ones with the file. */
static int map_err(sqlite3 *db, int src, const char *what)
{
    int rc;
    switch (src & 0xff) {
    case SQLITE_CONSTRAINT:
        IG_DEBUG("orgaudit", "%s: %s", what, sqlite3_errmsg(db));
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
    default:
        rc = IG_ESTORE;
        break;
    }
    const char *file = sqlite3_db_filename(db, "main");
    IG_ERROR("orgaudit", "sqlite %s failed on %s: %s (%s)", what, file ? file : "?", sqlite3_errmsg(db),
             sqlite3_errstr(src));
    return rc;
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **q)
{
    int src = sqlite3_prepare_v2(db, sql, -1, q, NULL);
    return src == SQLITE_OK ? IG_OK : map_err(db, src, "prepare");
}

static int exec(sqlite3 *db, const char *sql)
{
    int src = sqlite3_exec(db, sql, NULL, NULL, NULL);
    return src == SQLITE_OK ? IG_OK : map_err(db, src, sql);
}

static void bind_opt_text(sqlite3_stmt *q, int i, const char *v)
{
    if (v && *v)
        sqlite3_bind_text(q, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(q, i);
}

/* "ingate/audit/v1:<org>:<entry>:source_ip" into aad: its length, or -1 when it does not fit. */
static int ip_aad(const char *org_id, const char *id, char *aad, size_t cap)
{
    int n = snprintf(aad, cap, "ingate/audit/v1:%s:%s:source_ip", org_id, id);
    return n > 0 && (size_t)n < cap ? n : -1;
}

static int seal_ip(const uint8_t dk[32], const char *org_id, const char *id, const char *ip, ig_buf_t *out)
{
    char aad[128];
    int n = ip_aad(org_id, id, aad, sizeof aad);
    if (n < 0) return IG_EINVAL;
    return ig_seal(dk, 0, ig_iov(aad, (size_t)n), ig_iov_str(ip), out);
}

/* Opens an envelope into out (cap bytes with the NUL). IG_ECRYPTO when it was not sealed for this org, entry
 * and column under dk; IG_EINTERNAL when the plaintext is not an address we could have stored. */
static int open_ip(const uint8_t dk[32], const char *org_id, const char *id, const void *ct, size_t len,
                   char *out, size_t cap)
{
    char aad[128];
    int n = ip_aad(org_id, id, aad, sizeof aad);
    if (n < 0) return IG_EINVAL;
    ig_buf_t pt;
    ig_buf_init_secret(&pt, cap);
    int rc = ig_open(dk, ig_iov(aad, (size_t)n), ig_iov(ct, len), &pt);
    if (rc == IG_OK && (pt.len >= cap || memchr(pt.data ? pt.data : "", 0, pt.len))) rc = IG_EINTERNAL;
    if (rc == IG_OK) {
        if (pt.len) memcpy(out, pt.data, pt.len);
        out[pt.len] = '\0';
    }
    ig_buf_free(&pt, true);
    return rc;
}

/* Copies a text column into a fixed array; NULL reads as "". IG_EINTERNAL when longer than our writer
 * stores. */
static int col_text(sqlite3_stmt *q, int i, char *dst, size_t cap)
{
    const unsigned char *v = sqlite3_column_text(q, i);
    size_t n = v ? (size_t)sqlite3_column_bytes(q, i) : 0;
    if (n >= cap) return IG_EINTERNAL;
    if (n) memcpy(dst, v, n);
    dst[n] = '\0';
    return IG_OK;
}

static int col_hash(sqlite3_stmt *q, int i, uint8_t out[32])
{
    const void *h = sqlite3_column_blob(q, i);
    if (!h || sqlite3_column_bytes(q, i) != 32) return IG_EINTERNAL;
    memcpy(out, h, 32);
    return IG_OK;
}

/* A row as stored (AUDIT_COLS): a->source_ip stays "", the envelope goes to *ip / *iplen (NULL / 0 when
 * none). IG_EINTERNAL for a value our writer could not have stored. */
static int read_stored(sqlite3_stmt *q, const char *org_id, ig_audit_t *a, const uint8_t **ip, size_t *iplen)
{
    int rc;
    memset(a, 0, sizeof *a);
    memcpy(a->org_id, org_id, 33);
    a->seq = sqlite3_column_int64(q, A_SEQ);
    a->created_at = sqlite3_column_int64(q, A_CREATED);
    if ((rc = col_text(q, A_ID, a->id, sizeof a->id)) ||
        (rc = col_text(q, A_ACTOR, a->actor, sizeof a->actor)) ||
        (rc = col_text(q, A_ACTION, a->action, sizeof a->action)) ||
        (rc = col_text(q, A_TARGET, a->target, sizeof a->target)) ||
        (rc = col_text(q, A_REQ, a->request_id, sizeof a->request_id)) ||
        (rc = col_hash(q, A_PREV, a->prev_hash)) || (rc = col_hash(q, A_HASH, a->hash)))
        return rc;
    *ip = sqlite3_column_blob(q, A_IP);
    *iplen = *ip ? (size_t)sqlite3_column_bytes(q, A_IP) : 0;
    if (!*iplen) *ip = NULL;
    return *iplen <= IG_AUDIT_SEALED_IP_MAX ? IG_OK : IG_EINTERNAL;
}

/* A row with its address opened. */
static int read_open(sqlite3_stmt *q, const uint8_t dk[32], const char *org_id, ig_audit_t *a)
{
    const uint8_t *ip;
    size_t iplen;
    int rc = read_stored(q, org_id, a, &ip, &iplen);
    if (rc == IG_OK && ip) {
        rc = open_ip(dk, org_id, a->id, ip, iplen, a->source_ip, sizeof a->source_ip);
        if (rc) {
            IG_ERROR("orgaudit", "org %s audit entry %s: source_ip does not decrypt (%s)", org_id, a->id,
                     ig_err_name(rc));
            rc = IG_EINTERNAL;
        }
    }
    return rc;
}

static bool terminated(const char *field, size_t size)
{
    return memchr(field, '\0', size) != NULL;
}

int ig_orgaudit_append(ig_logstore_t *ls, const uint8_t dk[32], ig_audit_t *e)
{
    sqlite3 *db = ig_logstore_sqlite(ls);
    sqlite3_stmt *q = NULL;
    ig_buf_t ip;
    int rc = IG_EINVAL, src;

    ig_buf_init(&ip, 4 * IG_AUDIT_SEALED_IP_MAX);
    if (!db || !dk || !e || !valid_org_id(e->org_id) || !terminated(e->id, sizeof e->id) || !e->id[0] ||
        !terminated(e->actor, sizeof e->actor) || !e->actor[0] || !terminated(e->action, sizeof e->action) ||
        !e->action[0] || !terminated(e->target, sizeof e->target) ||
        !terminated(e->source_ip, sizeof e->source_ip) || !terminated(e->request_id, sizeof e->request_id) ||
        e->created_at <= 0)
        goto out;
    if (e->source_ip[0] && (rc = seal_ip(dk, e->org_id, e->id, e->source_ip, &ip))) goto out;

    /* BEGIN IMMEDIATE: the tail we chain onto cannot change before our COMMIT */
    if ((rc = exec(db, "BEGIN IMMEDIATE"))) goto out;
    if ((rc = prepare(db, "SELECT COUNT(*) FROM audit WHERE id = ?", &q))) goto out;
    sqlite3_bind_text(q, 1, e->id, -1, SQLITE_STATIC);
    if ((src = sqlite3_step(q)) != SQLITE_ROW) {
        rc = map_err(db, src, "audit id");
        goto out;
    }
    if (sqlite3_column_int64(q, 0)) {
        rc = IG_ECONFLICT;
        goto out;
    }
    sqlite3_finalize(q);
    q = NULL;
    if ((rc = prepare(db, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", &q))) goto out;
    src = sqlite3_step(q);
    if (src == SQLITE_ROW) {
        e->seq = sqlite3_column_int64(q, 0) + 1;
        if ((rc = col_hash(q, 1, e->prev_hash))) goto out;
    } else if (src == SQLITE_DONE) {
        e->seq = 1;
        memset(e->prev_hash, 0, sizeof e->prev_hash);
    } else {
        rc = map_err(db, src, "audit tail");
        goto out;
    }
    sqlite3_finalize(q);
    q = NULL;
    if ((rc = ig_store_audit_hash_stored(IG_AUDIT_CHAIN_ORG, e, "", ig_buf_iov(&ip), e->hash))) goto out;
    if ((rc = prepare(db, "INSERT INTO audit (" AUDIT_COLS ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", &q)))
        goto out;
    sqlite3_bind_int64(q, 1, e->seq);
    sqlite3_bind_text(q, 2, e->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, e->actor, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, e->action, -1, SQLITE_STATIC);
    bind_opt_text(q, 5, e->target);
    if (ip.len)
        sqlite3_bind_blob(q, 6, ip.data, (int)ip.len, SQLITE_STATIC);
    else
        sqlite3_bind_null(q, 6);
    bind_opt_text(q, 7, e->request_id);
    sqlite3_bind_int64(q, 8, e->created_at);
    sqlite3_bind_blob(q, 9, e->prev_hash, 32, SQLITE_STATIC);
    sqlite3_bind_blob(q, 10, e->hash, 32, SQLITE_STATIC);
    if ((src = sqlite3_step(q)) != SQLITE_DONE) {
        rc = map_err(db, src, "audit insert");
        goto out;
    }
    sqlite3_finalize(q);
    q = NULL;
    rc = exec(db, "COMMIT");
out:
    sqlite3_finalize(q);
    if (rc && db && !sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    ig_buf_free(&ip, false);
    return rc;
}

int ig_orgaudit_query(ig_logstore_t *ls, const uint8_t dk[32], const char *org_id, const ig_audit_filter_t *f,
                      int64_t before_seq, ig_audit_t *out, size_t cap, size_t *n)
{
    sqlite3 *db = ig_logstore_sqlite(ls);
    sqlite3_stmt *q = NULL;
    ig_audit_filter_t nf;
    int rc = IG_EINVAL, src;

    if (!n) goto out;
    *n = 0;
    if (!db || !dk || !valid_org_id(org_id) || !out || cap == 0 || cap > 1000 ||
        (f && (f->since < 0 || f->until < 0)))
        goto out;
    rc = IG_OK;
    if (!ig_store_audit_filter_norm(f, &nf)) goto out; /* nothing can match: an empty page */
    if ((rc = prepare(db,
                      "SELECT " AUDIT_COLS " FROM audit WHERE seq < ?1 AND (?2 IS NULL OR action = ?2)"
                      " AND (?3 IS NULL OR actor = ?3) AND (?4 IS NULL OR target = ?4)"
                      " AND (?5 IS NULL OR created_at >= ?5) AND (?6 IS NULL OR created_at <= ?6)"
                      " ORDER BY seq DESC LIMIT ?7",
                      &q)))
        goto out;
    sqlite3_bind_int64(q, 1, before_seq);
    bind_opt_text(q, 2, nf.action);
    bind_opt_text(q, 3, nf.actor);
    bind_opt_text(q, 4, nf.target);
    if (nf.since) sqlite3_bind_int64(q, 5, nf.since);
    if (nf.until) sqlite3_bind_int64(q, 6, nf.until);
    sqlite3_bind_int64(q, 7, (sqlite3_int64)cap);
    while ((src = sqlite3_step(q)) == SQLITE_ROW && *n < cap) {
        if ((rc = read_open(q, dk, org_id, &out[*n]))) goto out;
        (*n)++;
    }
    if (src != SQLITE_ROW && src != SQLITE_DONE) rc = map_err(db, src, "audit query");
out:
    sqlite3_finalize(q);
    if (rc && n) *n = 0;
    return rc;
}

int ig_orgaudit_get(ig_logstore_t *ls, const uint8_t dk[32], const char *org_id, const char *id,
                    ig_audit_t *out)
{
    sqlite3 *db = ig_logstore_sqlite(ls);
    sqlite3_stmt *q = NULL;
    ig_audit_t e;
    int rc = IG_EINVAL, src;

    if (!db || !dk || !valid_org_id(org_id) || !id || !out) goto out;
    rc = IG_ENOTFOUND;
    if (strnlen(id, sizeof e.id) >= sizeof e.id) goto out; /* longer than any stored id */
    if ((rc = prepare(db, "SELECT " AUDIT_COLS " FROM audit WHERE id = ?", &q))) goto out;
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    src = sqlite3_step(q);
    if (src == SQLITE_DONE) {
        rc = IG_ENOTFOUND;
        goto out;
    }
    if (src != SQLITE_ROW) {
        rc = map_err(db, src, "audit get");
        goto out;
    }
    if ((rc = read_open(q, dk, org_id, &e))) goto out;
    *out = e;
out:
    sqlite3_finalize(q);
    return rc;
}

int ig_orgaudit_verify(ig_logstore_t *ls, const char *org_id, int64_t *bad_seq, int64_t *count)
{
    sqlite3 *db = ig_logstore_sqlite(ls);
    sqlite3_stmt *q = NULL;
    uint8_t prev[32] = {0}, h[32];
    int64_t seen = 0;
    ig_audit_t e;
    int rc = IG_EINVAL, src;

    if (!db || !valid_org_id(org_id) || !bad_seq) goto out;
    *bad_seq = 0;
    /* one statement is one read snapshot (WAL): appends running meanwhile are simply not seen */
    if ((rc = prepare(db, "SELECT " AUDIT_COLS " FROM audit ORDER BY seq", &q))) goto out;
    while ((src = sqlite3_step(q)) == SQLITE_ROW) {
        const uint8_t *ip;
        size_t iplen;
        /* a value our writer could not have stored (too long, a hash not 32 bytes) is tampering too */
        bool ok = read_stored(q, org_id, &e, &ip, &iplen) == IG_OK && memcmp(e.prev_hash, prev, 32) == 0 &&
                  ig_store_audit_hash_stored(IG_AUDIT_CHAIN_ORG, &e, "", ig_iov((const char *)ip, iplen),
                                             h) == IG_OK &&
                  memcmp(h, e.hash, 32) == 0;
        if (!ok) {
            *bad_seq = sqlite3_column_int64(q, A_SEQ);
            rc = IG_ECONFLICT;
            goto out;
        }
        memcpy(prev, e.hash, 32);
        seen++;
    }
    if (src != SQLITE_DONE) rc = map_err(db, src, "audit verify");
out:
    sqlite3_finalize(q);
    if (count) *count = rc == IG_OK || rc == IG_ECONFLICT ? seen : 0;
    return rc;
}

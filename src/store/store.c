/*
 * store.c — the backend-independent half of the store: URL dispatch, argument validation, id and
 * timestamp generation, then one call through the handle's ops table.
 *
 * Validation lives here, not in backends, so every backend gets the same guarantees: strings fit the
 * fixed-size fields of the record structs, enums are in range, required pointers are non-NULL. Lookups by a
 * string too long to be stored answer IG_ENOTFOUND (no row can match) rather than IG_EINVAL, so an API
 * handler can map "garbage id" and "unknown id" to the same 404.
 *
 * The audit chain's canonical serialization lives here too (ig_store_audit_hash), so every backend hashes
 * entries byte for byte alike and a log moved between backends still verifies.
 */
#include "store/store.h"
#include "core/err.h"
#include "core/log.h"
#include "crypto/crypto.h"
#include "limit/limiter.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef struct {
    const char *scheme; /* URL scheme, without the ':' */
    ig_store_t *(*open)(const char *target, int *err);
} backend_t;

/* A plain path (no scheme) goes to the first entry. */
static const backend_t backends[] = {
    {"sqlite", ig_store_sqlite_open},
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 16 random bytes as 32 lowercase hex characters. */
static int new_id(char out[33])
{
    static const char hex[] = "0123456789abcdef";
    uint8_t r[16];
    if (RAND_bytes(r, (int)sizeof r) != 1) return IG_ECRYPTO;
    for (size_t i = 0; i < sizeof r; i++) {
        out[2 * i] = hex[r[i] >> 4];
        out[2 * i + 1] = hex[r[i] & 0xf];
    }
    out[32] = '\0';
    return IG_OK;
}

/* Length of s when it is at most max bytes, else SIZE_MAX (without reading past max + 1 bytes). */
static size_t bounded_len(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);
    return n > max ? SIZE_MAX : n;
}

static bool valid_slug(const char *s)
{
    if (!s) return false;
    size_t n = bounded_len(s, 64);
    if (n < 2 || n == SIZE_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
    }
    return true;
}

/* Display text: min..max bytes, no ASCII control characters (UTF-8 passes through). */
static bool valid_text(const char *s, size_t min, size_t max)
{
    if (!s) return false;
    size_t n = bounded_len(s, max);
    if (n < min || n == SIZE_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) return false;
    }
    return true;
}

/* Token: 1..max printable ASCII bytes without spaces (provider names, hash prefixes). */
static bool valid_token(const char *s, size_t max)
{
    if (!s) return false;
    size_t n = bounded_len(s, max);
    if (n == 0 || n == SIZE_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= 0x20 || s[i] >= 0x7f) return false;
    return true;
}

/* A char array field is NUL-terminated inside its size. */
static bool terminated(const char *field, size_t size)
{
    return memchr(field, '\0', size) != NULL;
}

ig_store_t *ig_store_open(const char *url, int *err)
{
    ig_store_t *st = NULL;
    int rc = IG_EINVAL;
    const backend_t *be = &backends[0];
    const char *target = url;

    if (!url || !*url) goto out;
    /* "scheme:" prefix? A scheme is [a-z][a-z0-9+.-]* followed by ':' (RFC 3986). */
    size_t i = 0;
    if (url[0] >= 'a' && url[0] <= 'z') {
        while ((url[i] >= 'a' && url[i] <= 'z') || (url[i] >= '0' && url[i] <= '9') || url[i] == '+' ||
               url[i] == '.' || url[i] == '-')
            i++;
    }
    if (i > 0 && url[i] == ':') {
        be = NULL;
        for (size_t k = 0; k < IG_ARRAY_LEN(backends); k++)
            if (strlen(backends[k].scheme) == i && memcmp(backends[k].scheme, url, i) == 0) be = &backends[k];
        if (!be && strncmp(url + i, "://", 3) != 0) {
            be = &backends[0]; /* "file:name.db"-like plain path with a colon: not a URL */
        } else if (!be) {
            IG_ERROR("store", "unsupported store URL scheme (%.*s)", (int)IG_MIN(i, 16), url);
            goto out;
        } else {
            target = url + i + 1;
            if (strncmp(target, "//", 2) == 0) target += 2;
        }
    }
    if (!*target) goto out;
    st = be->open(target, &rc);
out:
    if (err) *err = st ? IG_OK : rc;
    return st;
}

void ig_store_close(ig_store_t *st)
{
    if (st) st->ops->close(st);
}

int ig_store_migrate(ig_store_t *st)
{
    if (!st) return IG_EINVAL;
    return st->ops->migrate(st, now_ms());
}

int ig_store_schema_version(ig_store_t *st, int *version)
{
    if (!st || !version) return IG_EINVAL;
    return st->ops->schema_version(st, version);
}

int ig_store_ping(ig_store_t *st)
{
    if (!st) return IG_EINVAL;
    return st->ops->ping(st);
}

int ig_store_org_create(ig_store_t *st, const char *slug, const char *name, ig_org_t *out)
{
    ig_org_t org;
    int rc = IG_EINVAL;
    if (!st || !valid_slug(slug) || !valid_text(name, 1, sizeof org.name - 1)) goto out;
    memset(&org, 0, sizeof org);
    rc = new_id(org.id);
    if (rc) goto out;
    memcpy(org.slug, slug, strlen(slug) + 1);
    memcpy(org.name, name, strlen(name) + 1);
    org.plan = IG_STORE_PLAN_FREE;
    memcpy(org.settings, "{}", 3);
    org.created_at = now_ms();
    rc = st->ops->org_insert(st, &org);
    if (rc == IG_OK && out) *out = org;
out:
    return rc;
}

int ig_store_org_get(ig_store_t *st, const char *id, ig_org_t *out)
{
    if (!st || !id || !out) return IG_EINVAL;
    if (bounded_len(id, 32) == SIZE_MAX) return IG_ENOTFOUND;
    return st->ops->org_get(st, id, out);
}

int ig_store_org_get_by_slug(ig_store_t *st, const char *slug, ig_org_t *out)
{
    if (!st || !slug || !out) return IG_EINVAL;
    if (!valid_slug(slug)) return IG_ENOTFOUND;
    return st->ops->org_get_by_slug(st, slug, out);
}

int ig_store_org_set_default_provider(ig_store_t *st, const char *org_id, const char *provider)
{
    if (!st || !org_id || (provider && !valid_token(provider, 32))) return IG_EINVAL;
    if (bounded_len(org_id, 32) == SIZE_MAX) return IG_ENOTFOUND;
    return st->ops->org_set_default_provider(st, org_id, provider);
}

int ig_store_key_create(ig_store_t *st, const char *org_id, const uint8_t hash[32], const char *hash_prefix,
                        const char *name, int role, int64_t expires_at, ig_keyrec_t *out)
{
    return ig_store_key_create_for(st, org_id, hash, hash_prefix, name, role, expires_at, NULL, NULL, out);
}

int ig_store_key_get_by_hash(ig_store_t *st, const uint8_t hash[32], ig_keyrec_t *out)
{
    if (!st || !hash || !out) return IG_EINVAL;
    return st->ops->key_get_by_hash(st, hash, out);
}

int ig_store_key_revoke(ig_store_t *st, const char *org_id, const char *id_or_prefix, ig_keyrec_t *out)
{
    ig_keyrec_t rec;
    int rc = IG_EINVAL;
    if (!st || !id_or_prefix || !*id_or_prefix) goto out;
    rc = IG_ENOTFOUND;
    if (bounded_len(id_or_prefix, 32) == SIZE_MAX || (org_id && bounded_len(org_id, 32) == SIZE_MAX))
        goto out;
    rc = st->ops->key_revoke(st, org_id, id_or_prefix, now_ms(), &rec);
    if (rc == IG_OK && out) *out = rec;
out:
    return rc;
}

int ig_store_key_list(ig_store_t *st, const char *org_id, ig_keyrec_t *out, size_t cap, size_t *n)
{
    if (!st || !org_id || !n || (cap && !out)) return IG_EINVAL;
    *n = 0;
    if (bounded_len(org_id, 32) == SIZE_MAX) return IG_OK; /* no such org: no keys */
    return st->ops->key_list(st, org_id, out, cap, n);
}

int ig_store_provider_set(ig_store_t *st, const char *org_id, const char *provider, int auth_mode,
                          const uint8_t *secret, size_t secret_len)
{
    if (!st || !org_id || !valid_token(provider, 32)) return IG_EINVAL;
    if (auth_mode != IG_STORE_AUTH_STORED && auth_mode != IG_STORE_AUTH_PASSTHROUGH) return IG_EINVAL;
    if (secret && (secret_len == 0 || secret_len > IG_STORE_MAX_SECRET)) return IG_EINVAL;
    if (!secret && (secret_len != 0 || auth_mode == IG_STORE_AUTH_STORED)) return IG_EINVAL;
    if (bounded_len(org_id, 32) == SIZE_MAX) return IG_ENOTFOUND;
    return st->ops->provider_set(st, org_id, provider, auth_mode, secret, secret_len, now_ms());
}

int ig_store_provider_get(ig_store_t *st, const char *org_id, const char *provider, int *auth_mode,
                          uint8_t **secret, size_t *secret_len)
{
    if (!st || !org_id || !provider || !auth_mode || !secret || !secret_len) return IG_EINVAL;
    if (bounded_len(org_id, 32) == SIZE_MAX || bounded_len(provider, 32) == SIZE_MAX) return IG_ENOTFOUND;
    return st->ops->provider_get(st, org_id, provider, auth_mode, secret, secret_len);
}

int ig_store_calls_insert(ig_store_t *st, const ig_callrec_t *recs, size_t n)
{
    if (!st || (n && !recs)) return IG_EINVAL;
    for (size_t i = 0; i < n; i++) {
        const ig_callrec_t *r = &recs[i];
        if (!r->id[0] || !terminated(r->id, sizeof r->id) || !terminated(r->org_id, sizeof r->org_id) ||
            !terminated(r->key_prefix, sizeof r->key_prefix) || !terminated(r->key_id, sizeof r->key_id) ||
            !terminated(r->provider, sizeof r->provider) || !terminated(r->method, sizeof r->method) ||
            !r->path)
            return IG_EINVAL;
    }
    if (n == 0) return IG_OK;
    return st->ops->calls_insert(st, recs, n);
}

int ig_store_calls_count(ig_store_t *st, const char *org_id, int64_t *n)
{
    if (!st || !n) return IG_EINVAL;
    if (org_id && bounded_len(org_id, 32) == SIZE_MAX) {
        *n = 0;
        return IG_OK;
    }
    return st->ops->calls_count(st, org_id, n);
}

/* Optional text: NULL or "" (absent), else valid_text(s, 1, max). */
static bool valid_opt_text(const char *s, size_t max)
{
    return !s || !*s || valid_text(s, 1, max);
}

/* Optional token: NULL or "" (absent), else valid_token(s, max). */
static bool valid_opt_token(const char *s, size_t max)
{
    return !s || !*s || valid_token(s, max);
}

/* Copies optional text (NULL = "") into a field already checked to fit. */
static void copy_opt(char *dst, const char *s)
{
    if (s) memcpy(dst, s, strlen(s) + 1);
}

static bool email_local_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c && strchr(".!#$%&'*+/=?^_`{|}~-", c));
}

/* Lower-cases the ASCII letters of email into out[255] and checks a practical shape: at most 254 bytes,
 * local@domain with a 1..64 byte dot-atom local part (RFC 5322 atext, no leading, trailing or double dot)
 * and a domain of at least two dot-separated labels of [a-z0-9-]{1,63} not starting or ending with '-'.
 * Quoted local parts, IP literals and raw UTF-8 are refused (an IDN domain arrives as punycode). */
static bool normalize_email(const char *email, char out[255])
{
    if (!email) return false;
    size_t n = bounded_len(email, 254);
    if (n == SIZE_MAX || n < 3) return false;
    for (size_t i = 0; i <= n; i++) {
        char c = email[i];
        out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    const char *at = strchr(out, '@');
    if (!at || strchr(at + 1, '@')) return false;
    size_t local = (size_t)(at - out);
    if (local == 0 || local > 64 || out[0] == '.' || out[local - 1] == '.') return false;
    for (size_t i = 0; i < local; i++)
        if (!email_local_char(out[i]) || (out[i] == '.' && out[i + 1] == '.')) return false;
    size_t labels = 0, len = 0;
    for (const char *p = at + 1;; p++) {
        if (*p == '.' || *p == '\0') {
            if (len == 0 || len > 63 || p[-1] == '-' || *(p - len) == '-') return false;
            labels++;
            len = 0;
            if (*p == '\0') break;
            continue;
        }
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) return false;
        len++;
    }
    return labels >= 2;
}

/* A bcrypt modular-crypt string: "$2a$", "$2b$" or "$2y$", a two-digit cost 04..31, "$", then 53 chars of
 * bcrypt's base64 alphabet (22 of salt, 31 of hash): 60 bytes in all. */
static bool valid_bcrypt(const char *s)
{
    if (!s || bounded_len(s, 60) != 60) return false;
    if (s[0] != '$' || s[1] != '2' || (s[2] != 'a' && s[2] != 'b' && s[2] != 'y') || s[3] != '$')
        return false;
    if (s[4] < '0' || s[4] > '3' || s[5] < '0' || s[5] > '9' || s[6] != '$') return false;
    int cost = (s[4] - '0') * 10 + (s[5] - '0');
    if (cost < 4 || cost > 31) return false;
    for (size_t i = 7; i < 60; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '/'))
            return false;
    }
    return true;
}

int ig_store_signup(ig_store_t *st, const char *slug, const char *org_name, const char *email,
                    const char *password_hash, const char *display_name, const uint8_t key_hash[32],
                    const char *key_prefix, int key_role, ig_org_t *org, ig_user_t *user, ig_keyrec_t *key,
                    const char **which)
{
    ig_org_t o;
    ig_user_t u;
    ig_membership_t m;
    ig_keyrec_t k;
    const char *w = NULL;
    int rc = IG_EINVAL;

    memset(&o, 0, sizeof o);
    memset(&u, 0, sizeof u);
    memset(&m, 0, sizeof m);
    memset(&k, 0, sizeof k);
    if (!st || !valid_slug(slug) || !valid_text(org_name, 1, sizeof o.name - 1) ||
        !normalize_email(email, u.email) || !valid_bcrypt(password_hash) ||
        (display_name && !valid_text(display_name, 0, sizeof u.display_name - 1)) || !key_hash ||
        !valid_token(key_prefix, sizeof k.hash_prefix - 1) || key_role < IG_STORE_ROLE_VIEWER ||
        key_role > IG_STORE_ROLE_OWNER)
        goto out;
    if ((rc = new_id(o.id)) || (rc = new_id(u.id)) || (rc = new_id(k.id))) goto out;
    int64_t now = now_ms();
    memcpy(o.slug, slug, strlen(slug) + 1);
    memcpy(o.name, org_name, strlen(org_name) + 1);
    o.plan = IG_STORE_PLAN_FREE;
    memcpy(o.settings, "{}", 3);
    o.created_at = now;
    memcpy(u.password_hash, password_hash, 61);
    copy_opt(u.display_name, display_name);
    u.created_at = u.password_changed_at = now;
    memcpy(m.user_id, u.id, sizeof m.user_id);
    memcpy(m.org_id, o.id, sizeof m.org_id);
    m.role = IG_STORE_ROLE_OWNER;
    m.created_at = now;
    memcpy(k.org_id, o.id, sizeof k.org_id);
    memcpy(k.key_hash, key_hash, sizeof k.key_hash);
    memcpy(k.hash_prefix, key_prefix, strlen(key_prefix) + 1);
    k.role = key_role;
    k.created_at = now;
    memcpy(k.created_by, u.id, sizeof k.created_by);
    rc = st->ops->signup(st, &o, &u, &m, &k, &w);
    if (rc) goto out;
    if (org) *org = o;
    if (user) *user = u;
    if (key) *key = k;
out:
    if (which) *which = rc == IG_ECONFLICT ? w : NULL;
    return rc;
}

int ig_store_user_get_by_email(ig_store_t *st, const char *email, ig_user_t *out)
{
    char norm[sizeof out->email];
    if (!st || !email || !out) return IG_EINVAL;
    if (!normalize_email(email, norm)) return IG_ENOTFOUND;
    return st->ops->user_get_by_email(st, norm, out);
}

int ig_store_user_get(ig_store_t *st, const char *id, ig_user_t *out)
{
    if (!st || !id || !out) return IG_EINVAL;
    if (bounded_len(id, 32) == SIZE_MAX) return IG_ENOTFOUND;
    return st->ops->user_get(st, id, out);
}

int ig_store_user_set_password(ig_store_t *st, const char *user_id, const char *password_hash)
{
    if (!st || !user_id || !valid_bcrypt(password_hash)) return IG_EINVAL;
    if (bounded_len(user_id, 32) == SIZE_MAX) return IG_ENOTFOUND;
    return st->ops->user_set_password(st, user_id, password_hash, now_ms());
}

int ig_store_membership_get(ig_store_t *st, const char *user_id, const char *org_id, ig_membership_t *out)
{
    if (!st || !user_id || !org_id || !out) return IG_EINVAL;
    if (bounded_len(user_id, 32) == SIZE_MAX || bounded_len(org_id, 32) == SIZE_MAX) return IG_ENOTFOUND;
    return st->ops->membership_get(st, user_id, org_id, out);
}

int ig_store_memberships_of_user(ig_store_t *st, const char *user_id, ig_membership_t *out, size_t cap,
                                 size_t *n)
{
    if (!st || !user_id || !n || (cap && !out)) return IG_EINVAL;
    *n = 0;
    if (bounded_len(user_id, 32) == SIZE_MAX) return IG_OK; /* no such user: no memberships */
    return st->ops->memberships_of_user(st, user_id, out, cap, n);
}

int ig_store_audit_new(const char *org_id, const char *actor, const char *action, const char *target,
                       const char *source_ip, const char *request_id, ig_audit_t *e)
{
    int rc = IG_EINVAL;
    if (!e) goto out;
    memset(e, 0, sizeof *e);
    if (!valid_opt_token(org_id, sizeof e->org_id - 1) || !valid_text(actor, 1, sizeof e->actor - 1) ||
        !valid_token(action, sizeof e->action - 1) || !valid_opt_text(target, sizeof e->target - 1) ||
        !valid_opt_token(source_ip, sizeof e->source_ip - 1) ||
        !valid_opt_token(request_id, sizeof e->request_id - 1))
        goto out;
    if ((rc = new_id(e->id))) goto out;
    copy_opt(e->org_id, org_id);
    copy_opt(e->actor, actor);
    copy_opt(e->action, action);
    copy_opt(e->target, target);
    copy_opt(e->source_ip, source_ip);
    copy_opt(e->request_id, request_id);
    e->created_at = now_ms();
out:
    return rc;
}

int ig_store_audit_append(ig_store_t *st, const char *org_id, const char *actor, const char *action,
                          const char *target, const char *source_ip, const char *request_id, ig_audit_t *out)
{
    ig_audit_t e;
    int rc = IG_EINVAL;
    if (!st || (rc = ig_store_audit_new(org_id, actor, action, target, source_ip, request_id, &e))) goto out;
    rc = st->ops->audit_append(st, &e);
    if (rc == IG_OK && out) *out = e;
out:
    return rc;
}

int ig_store_audit_legacy_verify(ig_store_t *st, int64_t *bad_seq, int64_t *last_seq, uint8_t last_hash[32])
{
    if (!st || !bad_seq || !last_seq || !last_hash) return IG_EINVAL;
    *bad_seq = 0;
    return st->ops->audit_legacy_verify(st, bad_seq, last_seq, last_hash);
}

int ig_store_audit_legacy_list(ig_store_t *st, int64_t after_seq, ig_audit_t *out, size_t cap, size_t *n)
{
    if (!st || !out || !n || cap == 0 || cap > 1000) return IG_EINVAL;
    *n = 0;
    return st->ops->audit_legacy_list(st, after_seq, out, cap, n);
}

int ig_store_audit_legacy_finish(ig_store_t *st, int64_t last_seq, const uint8_t last_hash[32], size_t *kept)
{
    if (!st || !last_hash || !kept || last_seq < 0) return IG_EINVAL;
    *kept = 0;
    return st->ops->audit_legacy_finish(st, last_seq, last_hash, now_ms(), kept);
}

int ig_store_audit_list(ig_store_t *st, const char *org_id, int64_t before_seq, ig_audit_t *out, size_t cap,
                        size_t *n)
{
    return ig_store_audit_query(st, org_id, NULL, before_seq, out, cap, n);
}

int ig_store_audit_verify(ig_store_t *st, int64_t *bad_seq)
{
    if (!st || !bad_seq) return IG_EINVAL;
    *bad_seq = 0;
    return st->ops->audit_verify(st, bad_seq);
}

/* Appends v as 8 big-endian bytes. */
static uint8_t *put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--)
        *p++ = (uint8_t)(v >> (8 * i));
    return p;
}

/* Appends a 4-byte big-endian length and the bytes of s. */
static uint8_t *put_str(uint8_t *p, const char *s)
{
    size_t n = strlen(s);
    for (int i = 3; i >= 0; i--)
        *p++ = (uint8_t)((uint32_t)n >> (8 * i));
    memcpy(p, s, n);
    return p + n;
}

void ig_store_audit_hash(const ig_audit_t *e, uint8_t hash[32])
{
    /* tag, prev_hash, two integers, seven length-prefixed fields: each bounded by its struct field, so the
     * buffer is sized from the struct and can never overflow */
    static const char tag[] = "ingate-audit-v1";
    uint8_t buf[sizeof tag + 32 + 16 + 7 * 4 + sizeof e->id + sizeof e->org_id + sizeof e->actor +
                sizeof e->action + sizeof e->target + sizeof e->source_ip + sizeof e->request_id];
    uint8_t *p = buf;
    memcpy(p, e->prev_hash, 32);
    p += 32;
    memcpy(p, tag, sizeof tag); /* with its NUL: the tag is fixed, so this only versions the format */
    p += sizeof tag;
    p = put_u64(p, (uint64_t)e->seq);
    p = put_u64(p, (uint64_t)e->created_at);
    p = put_str(p, e->id);
    p = put_str(p, e->org_id);
    p = put_str(p, e->actor);
    p = put_str(p, e->action);
    p = put_str(p, e->target);
    p = put_str(p, e->source_ip);
    p = put_str(p, e->request_id);
    ig_sha256(buf, (size_t)(p - buf), hash);
}

int ig_store_audit_hash_stored(const char *chain, const ig_audit_t *e, const char *ip_clear,
                               ig_iov_t ip_sealed, uint8_t hash[32])
{
    /* as ig_store_audit_hash, with the chain's tag and the address as stored (two fields): every part is
     * bounded (struct fields, the tag, IG_AUDIT_SEALED_IP_MAX), so the buffer cannot overflow */
    uint8_t buf[32 + 64 + 16 + 8 * 4 + sizeof e->id + sizeof e->org_id + sizeof e->actor + sizeof e->action +
                sizeof e->target + sizeof e->source_ip + IG_AUDIT_SEALED_IP_MAX + sizeof e->request_id];
    size_t tlen = chain ? strnlen(chain, 64) : 64;
    if (tlen >= 64 || !ip_clear || strnlen(ip_clear, sizeof e->source_ip) >= sizeof e->source_ip ||
        ip_sealed.len > IG_AUDIT_SEALED_IP_MAX || (ip_sealed.len && !ip_sealed.base) ||
        !terminated(e->id, sizeof e->id) || !terminated(e->org_id, sizeof e->org_id) ||
        !terminated(e->actor, sizeof e->actor) || !terminated(e->action, sizeof e->action) ||
        !terminated(e->target, sizeof e->target) || !terminated(e->request_id, sizeof e->request_id))
        return IG_EINVAL;
    uint8_t *p = buf;
    memcpy(p, e->prev_hash, 32);
    p += 32;
    memcpy(p, chain, tlen + 1); /* with its NUL: the tag names the chain and versions the format */
    p += tlen + 1;
    p = put_u64(p, (uint64_t)e->seq);
    p = put_u64(p, (uint64_t)e->created_at);
    p = put_str(p, e->id);
    p = put_str(p, e->org_id);
    p = put_str(p, e->actor);
    p = put_str(p, e->action);
    p = put_str(p, e->target);
    p = put_str(p, ip_clear);
    for (int i = 3; i >= 0; i--)
        *p++ = (uint8_t)((uint32_t)ip_sealed.len >> (8 * i));
    if (ip_sealed.len) memcpy(p, ip_sealed.base, ip_sealed.len);
    p += ip_sealed.len;
    p = put_str(p, e->request_id);
    ig_sha256(buf, (size_t)(p - buf), hash);
    return IG_OK;
}

/* ---- v3 ---- */

/* An id or a reference to one: a lookup with a string longer than any stored id cannot match. */
static bool id_fits(const char *s)
{
    return bounded_len(s, 32) != SIZE_MAX;
}

/* Exactly 32 lowercase hex characters (ids we generate, session jti). */
static bool valid_hex32(const char *s)
{
    if (!s || bounded_len(s, 32) != 32) return false;
    for (size_t i = 0; i < 32; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

int ig_store_org_update(ig_store_t *st, const char *org_id, const char *name, const char *default_provider,
                        const char *settings, ig_org_t *out)
{
    ig_org_t org;
    int rc = IG_EINVAL;
    if (!st || !org_id || (name && !valid_text(name, 1, sizeof org.name - 1)) ||
        (default_provider && *default_provider &&
         !valid_token(default_provider, sizeof org.default_provider - 1)))
        goto out;
    if (settings && (!*settings || bounded_len(settings, IG_STORE_MAX_SETTINGS) == SIZE_MAX)) goto out;
    rc = IG_ENOTFOUND;
    if (!id_fits(org_id)) goto out;
    rc = st->ops->org_update(st, org_id, name, default_provider, settings, &org);
    if (rc == IG_OK && out) *out = org;
out:
    return rc;
}

int ig_store_org_set_plan(ig_store_t *st, const char *org_id, int plan)
{
    if (!st || !org_id || (plan != IG_STORE_PLAN_FREE && plan != IG_STORE_PLAN_ENTERPRISE)) return IG_EINVAL;
    if (!id_fits(org_id)) return IG_ENOTFOUND;
    return st->ops->org_set_plan(st, org_id, plan);
}

int ig_store_org_delete(ig_store_t *st, const char *org_id)
{
    if (!st || !org_id) return IG_EINVAL;
    if (!id_fits(org_id)) return IG_ENOTFOUND;
    return st->ops->org_delete(st, org_id);
}

int ig_store_org_transfer(ig_store_t *st, const char *org_id, const char *from_user, const char *to_user)
{
    if (!st || !org_id || !from_user || !to_user || strcmp(from_user, to_user) == 0) return IG_EINVAL;
    if (!id_fits(org_id)) return IG_ENOTFOUND;
    if (!id_fits(from_user) || !id_fits(to_user)) {
        /* no such user: answer in the backend's order (org, then from_user, then to_user) */
        ig_org_t org;
        ig_membership_t m;
        int rc = st->ops->org_get(st, org_id, &org);
        if (rc || !id_fits(from_user)) return rc ? rc : IG_EFORBIDDEN;
        rc = st->ops->membership_get(st, from_user, org_id, &m);
        if (rc == IG_ENOTFOUND || (rc == IG_OK && m.role != IG_STORE_ROLE_OWNER)) return IG_EFORBIDDEN;
        return rc ? rc : IG_ENOTFOUND;
    }
    return st->ops->org_transfer(st, org_id, from_user, to_user);
}

int ig_store_member_list(ig_store_t *st, const char *org_id, ig_member_t *out, size_t cap, size_t *n)
{
    if (!st || !org_id || !n || (cap && !out)) return IG_EINVAL;
    *n = 0;
    if (!id_fits(org_id)) return IG_OK; /* no such org: nothing to list */
    return st->ops->member_list(st, org_id, out, cap, n);
}

int ig_store_membership_add(ig_store_t *st, const char *user_id, const char *org_id, int role,
                            ig_membership_t *out)
{
    ig_membership_t m;
    if (!st || !user_id || !org_id || role < IG_STORE_ROLE_VIEWER || role > IG_STORE_ROLE_OWNER)
        return IG_EINVAL;
    if (!id_fits(user_id) || !id_fits(org_id)) return IG_ENOTFOUND;
    memset(&m, 0, sizeof m);
    memcpy(m.user_id, user_id, strlen(user_id) + 1);
    memcpy(m.org_id, org_id, strlen(org_id) + 1);
    m.role = role;
    m.created_at = now_ms();
    int rc = st->ops->membership_insert(st, &m);
    if (rc == IG_OK && out) *out = m;
    return rc;
}

int ig_store_membership_change(ig_store_t *st, const char *org_id, const char *user_id, int new_role,
                               int actor_role, int *old_role, const char **why)
{
    const char *w = NULL;
    int old = -1, rc = IG_EINVAL;
    if (!st || !org_id || !user_id || new_role < -1 || new_role > IG_STORE_ROLE_OWNER ||
        actor_role < IG_STORE_ROLE_VIEWER || actor_role > IG_STORE_ROLE_OWNER)
        goto out;
    rc = IG_ENOTFOUND;
    if (!id_fits(org_id) || !id_fits(user_id)) goto out;
    rc = st->ops->membership_change(st, org_id, user_id, new_role, actor_role, now_ms(), &old, &w);
    if (rc == IG_OK && old_role) *old_role = old;
out:
    if (why) *why = rc == IG_EFORBIDDEN || rc == IG_ECONFLICT ? w : NULL;
    return rc;
}

int ig_store_invite_create(ig_store_t *st, const char *org_id, const char *email, int role,
                           const uint8_t token_hash[32], const char *invited_by, int64_t expires_at,
                           ig_invite_t *out)
{
    ig_invite_t inv;
    int rc = IG_EINVAL;
    int64_t now = now_ms();
    memset(&inv, 0, sizeof inv);
    if (!st || !org_id || !normalize_email(email, inv.email) || role < IG_STORE_ROLE_VIEWER ||
        role > IG_STORE_ROLE_OWNER || !token_hash ||
        !valid_opt_token(invited_by, sizeof inv.invited_by - 1) || expires_at <= now)
        goto out;
    rc = IG_ENOTFOUND;
    if (!id_fits(org_id)) goto out;
    if ((rc = new_id(inv.id))) goto out;
    memcpy(inv.org_id, org_id, strlen(org_id) + 1);
    inv.role = role;
    copy_opt(inv.invited_by, invited_by);
    inv.created_at = now;
    inv.expires_at = expires_at;
    rc = st->ops->invite_insert(st, &inv, token_hash, now);
    if (rc == IG_OK && out) *out = inv;
out:
    return rc;
}

int ig_store_invite_list(ig_store_t *st, const char *org_id, ig_invite_t *out, size_t cap, size_t *n)
{
    if (!st || !org_id || !n || (cap && !out)) return IG_EINVAL;
    *n = 0;
    if (!id_fits(org_id)) return IG_OK; /* no such org: nothing to list */
    return st->ops->invite_list(st, org_id, now_ms(), out, cap, n);
}

int ig_store_invite_revoke(ig_store_t *st, const char *org_id, const char *id, ig_invite_t *out)
{
    ig_invite_t inv;
    if (!st || !org_id || !id) return IG_EINVAL;
    if (!id_fits(org_id) || !id_fits(id)) return IG_ENOTFOUND;
    int rc = st->ops->invite_revoke(st, org_id, id, now_ms(), &inv);
    if (rc == IG_OK && out) *out = inv;
    return rc;
}

int ig_store_invite_get_by_token(ig_store_t *st, const uint8_t token_hash[32], ig_invite_t *out)
{
    if (!st || !token_hash || !out) return IG_EINVAL;
    return st->ops->invite_get_by_token(st, token_hash, now_ms(), out);
}

int ig_store_invite_accept(ig_store_t *st, const uint8_t token_hash[32], const char *password_hash,
                           const char *display_name, ig_user_t *user, ig_membership_t *mem)
{
    ig_user_t nu, u;
    ig_membership_t m;
    int rc = IG_EINVAL;
    memset(&nu, 0, sizeof nu);
    /* a malformed password_hash is refused even when the invitation's user exists (and it would be ignored):
     * the caller passes either NULL or a real hash */
    if (!st || !token_hash || (password_hash && !valid_bcrypt(password_hash)) ||
        (display_name && !valid_text(display_name, 0, sizeof nu.display_name - 1)))
        goto out;
    if ((rc = new_id(nu.id))) goto out;
    int64_t now = now_ms();
    copy_opt(nu.password_hash, password_hash);
    copy_opt(nu.display_name, display_name);
    nu.created_at = nu.password_changed_at = now;
    rc = st->ops->invite_accept(st, token_hash, &nu, now, &u, &m);
    if (rc) goto out;
    if (user) *user = u;
    if (mem) *mem = m;
out:
    return rc;
}

int ig_store_session_create(ig_store_t *st, const char *jti, const char *user_id, const char *org_id,
                            int64_t expires_at)
{
    if (!st || !valid_hex32(jti) || !user_id || !org_id || expires_at <= 0) return IG_EINVAL;
    if (!id_fits(user_id) || !id_fits(org_id)) return IG_ENOTFOUND;
    return st->ops->session_insert(st, jti, user_id, org_id, now_ms(), expires_at);
}

int ig_store_session_check(ig_store_t *st, const char *jti, const char *user_id, const char *org_id,
                           int64_t now, int *role)
{
    int r = -1;
    if (!st || !jti || !user_id || !org_id || !role) return IG_EINVAL;
    if (!id_fits(jti) || !id_fits(user_id) || !id_fits(org_id)) return IG_ENOTFOUND;
    int rc = st->ops->session_check(st, jti, user_id, org_id, now, &r);
    if (rc == IG_OK) *role = r;
    return rc;
}

int ig_store_session_revoke(ig_store_t *st, const char *jti)
{
    if (!st || !jti) return IG_EINVAL;
    if (!id_fits(jti)) return IG_ENOTFOUND;
    return st->ops->session_revoke(st, jti, now_ms());
}

int ig_store_sessions_revoke_user(ig_store_t *st, const char *user_id)
{
    if (!st || !user_id) return IG_EINVAL;
    if (!id_fits(user_id)) return IG_OK; /* no such user: no sessions */
    return st->ops->sessions_revoke_user(st, user_id, now_ms());
}

int ig_store_team_create(ig_store_t *st, const char *org_id, const char *name, ig_team_t *out)
{
    ig_team_t t;
    int rc = IG_EINVAL;
    memset(&t, 0, sizeof t);
    if (!st || !org_id || !valid_text(name, 1, sizeof t.name - 1)) goto out;
    rc = IG_ENOTFOUND;
    if (!id_fits(org_id)) goto out;
    if ((rc = new_id(t.id))) goto out;
    memcpy(t.org_id, org_id, strlen(org_id) + 1);
    memcpy(t.name, name, strlen(name) + 1);
    t.created_at = now_ms();
    rc = st->ops->team_insert(st, &t);
    if (rc == IG_OK && out) *out = t;
out:
    return rc;
}

int ig_store_team_list(ig_store_t *st, const char *org_id, ig_team_t *out, size_t cap, size_t *n)
{
    if (!st || !org_id || !n || (cap && !out)) return IG_EINVAL;
    *n = 0;
    if (!id_fits(org_id)) return IG_OK; /* no such org: nothing to list */
    return st->ops->team_list(st, org_id, out, cap, n);
}

int ig_store_team_delete(ig_store_t *st, const char *org_id, const char *id)
{
    if (!st || !org_id || !id) return IG_EINVAL;
    if (!id_fits(org_id) || !id_fits(id)) return IG_ENOTFOUND;
    return st->ops->team_delete(st, org_id, id);
}

int ig_store_app_create(ig_store_t *st, const char *org_id, const char *name, const char *team_id,
                        ig_app_t *out)
{
    ig_app_t a;
    int rc = IG_EINVAL;
    memset(&a, 0, sizeof a);
    if (!st || !org_id || !valid_text(name, 1, sizeof a.name - 1)) goto out;
    rc = IG_ENOTFOUND;
    if (!id_fits(org_id) || (team_id && !id_fits(team_id))) goto out;
    if ((rc = new_id(a.id))) goto out;
    memcpy(a.org_id, org_id, strlen(org_id) + 1);
    copy_opt(a.team_id, team_id);
    memcpy(a.name, name, strlen(name) + 1);
    a.created_at = now_ms();
    rc = st->ops->app_insert(st, &a);
    if (rc == IG_OK && out) *out = a;
out:
    return rc;
}

int ig_store_app_list(ig_store_t *st, const char *org_id, ig_app_t *out, size_t cap, size_t *n)
{
    if (!st || !org_id || !n || (cap && !out)) return IG_EINVAL;
    *n = 0;
    if (!id_fits(org_id)) return IG_OK; /* no such org: nothing to list */
    return st->ops->app_list(st, org_id, out, cap, n);
}

int ig_store_app_delete(ig_store_t *st, const char *org_id, const char *id)
{
    if (!st || !org_id || !id) return IG_EINVAL;
    if (!id_fits(org_id) || !id_fits(id)) return IG_ENOTFOUND;
    return st->ops->app_delete(st, org_id, id);
}

/* A per-key rate limit (v6): 0 = the org's default, else a limit the limiter can hold. */
static bool valid_key_limit(int64_t v)
{
    return v >= 0 && v <= IG_LIMITER_MAX_LIMIT;
}

int ig_store_key_create_for(ig_store_t *st, const char *org_id, const uint8_t hash[32],
                            const char *hash_prefix, const char *name, int role, int64_t expires_at,
                            const char *app_id, const char *created_by, ig_keyrec_t *out)
{
    return ig_store_key_create_limited(st, org_id, hash, hash_prefix, name, role, expires_at, app_id,
                                       created_by, 0, 0, out);
}

int ig_store_key_create_limited(ig_store_t *st, const char *org_id, const uint8_t hash[32],
                                const char *hash_prefix, const char *name, int role, int64_t expires_at,
                                const char *app_id, const char *created_by, int64_t rpm_limit,
                                int64_t tpm_limit, ig_keyrec_t *out)
{
    ig_keyrec_t rec;
    int rc = IG_EINVAL;
    if (!st || !org_id || !hash || !valid_token(hash_prefix, sizeof rec.hash_prefix - 1)) goto out;
    if ((name && !valid_text(name, 0, sizeof rec.name - 1)) || role < IG_STORE_ROLE_VIEWER ||
        role > IG_STORE_ROLE_OWNER || expires_at < 0 || !valid_key_limit(rpm_limit) ||
        !valid_key_limit(tpm_limit))
        goto out;
    rc = IG_ENOTFOUND; /* an org, app or user id that cannot exist */
    if (!id_fits(org_id) || (app_id && !id_fits(app_id)) || (created_by && !id_fits(created_by))) goto out;
    memset(&rec, 0, sizeof rec);
    rc = new_id(rec.id);
    if (rc) goto out;
    memcpy(rec.org_id, org_id, strlen(org_id) + 1);
    memcpy(rec.key_hash, hash, sizeof rec.key_hash);
    memcpy(rec.hash_prefix, hash_prefix, strlen(hash_prefix) + 1);
    copy_opt(rec.name, name);
    rec.role = role;
    rec.created_at = now_ms();
    rec.expires_at = expires_at;
    copy_opt(rec.app_id, app_id);
    copy_opt(rec.created_by, created_by);
    rec.rpm_limit = rpm_limit;
    rec.tpm_limit = tpm_limit;
    rc = st->ops->key_insert(st, &rec);
    if (rc == IG_OK && out) *out = rec;
out:
    return rc;
}

int ig_store_key_get(ig_store_t *st, const char *org_id, const char *id, ig_keyrec_t *out)
{
    if (!st || !org_id || !id || !out) return IG_EINVAL;
    if (!id_fits(org_id) || !id_fits(id)) return IG_ENOTFOUND;
    return st->ops->key_get(st, org_id, id, out);
}

int ig_store_key_set_limits(ig_store_t *st, const char *org_id, const char *id, int64_t rpm_limit,
                            int64_t tpm_limit, ig_keyrec_t *out)
{
    ig_keyrec_t rec;
    int rc = IG_EINVAL;
    if (!st || !org_id || !id || !valid_key_limit(rpm_limit) || !valid_key_limit(tpm_limit)) goto out;
    rc = IG_ENOTFOUND;
    if (!id_fits(org_id) || !id_fits(id)) goto out;
    rc = st->ops->key_set_limits(st, org_id, id, rpm_limit, tpm_limit, now_ms(), &rec);
    if (rc == IG_OK && out) *out = rec;
out:
    return rc;
}

int ig_store_key_rotate(ig_store_t *st, const char *org_id, const char *old_id, const uint8_t new_hash[32],
                        const char *new_prefix, const char *created_by, int64_t overlap_until,
                        ig_keyrec_t *old_out, ig_keyrec_t *new_out)
{
    ig_keyrec_t nk, o, k;
    int rc = IG_EINVAL;
    memset(&nk, 0, sizeof nk);
    /* overlap_until 0 would read as "never expires": the old key must always get an end */
    if (!st || !org_id || !old_id || !new_hash || !valid_token(new_prefix, sizeof nk.hash_prefix - 1) ||
        overlap_until <= 0)
        goto out;
    rc = IG_ENOTFOUND;
    if (!id_fits(org_id) || !id_fits(old_id) || (created_by && !id_fits(created_by))) goto out;
    if ((rc = new_id(nk.id))) goto out;
    memcpy(nk.org_id, org_id, strlen(org_id) + 1);
    memcpy(nk.key_hash, new_hash, sizeof nk.key_hash);
    memcpy(nk.hash_prefix, new_prefix, strlen(new_prefix) + 1);
    copy_opt(nk.created_by, created_by);
    nk.created_at = now_ms();
    rc = st->ops->key_rotate(st, old_id, &nk, overlap_until, &o, &k);
    if (rc) goto out;
    if (old_out) *old_out = o;
    if (new_out) *new_out = k;
out:
    return rc;
}

int ig_store_provider_delete(ig_store_t *st, const char *org_id, const char *provider)
{
    if (!st || !org_id || !provider) return IG_EINVAL;
    if (!id_fits(org_id) || !*provider || bounded_len(provider, 32) == SIZE_MAX) return IG_ENOTFOUND;
    return st->ops->provider_delete(st, org_id, provider);
}

/* A filter string: NULL or "" = no condition (*use = NULL); longer than max bytes matches nothing. */
static bool filter_str(const char *s, size_t max, const char **use)
{
    *use = s && *s ? s : NULL;
    return !*use || bounded_len(s, max) != SIZE_MAX;
}

bool ig_store_audit_filter_norm(const ig_audit_filter_t *f, ig_audit_filter_t *nf)
{
    const ig_audit_t *e = NULL; /* for the field sizes */
    memset(nf, 0, sizeof *nf);
    if (!f) return true;
    /* a value no stored entry can hold, or an empty time range, answers an empty page */
    if (!filter_str(f->action, sizeof e->action - 1, &nf->action) ||
        !filter_str(f->actor, sizeof e->actor - 1, &nf->actor) ||
        !filter_str(f->target, sizeof e->target - 1, &nf->target) ||
        (f->since && f->until && f->until < f->since))
        return false;
    nf->since = f->since;
    nf->until = f->until;
    return true;
}

int ig_store_audit_query(ig_store_t *st, const char *org_id, const ig_audit_filter_t *f, int64_t before_seq,
                         ig_audit_t *out, size_t cap, size_t *n)
{
    ig_audit_filter_t nf;
    if (!st || !org_id || !out || !n || cap == 0 || cap > 1000 || strlen(org_id) > 32) return IG_EINVAL;
    if (f && (f->since < 0 || f->until < 0)) return IG_EINVAL;
    *n = 0;
    if (!ig_store_audit_filter_norm(f, &nf)) return IG_OK;
    return st->ops->audit_query(st, org_id, f ? &nf : NULL, before_seq, out, cap, n);
}

int ig_store_audit_get(ig_store_t *st, const char *org_id, const char *id, ig_audit_t *out)
{
    if (!st || !org_id || !id || !out) return IG_EINVAL;
    if (!id_fits(org_id) || !id_fits(id)) return IG_ENOTFOUND;
    return st->ops->audit_get(st, org_id, id, out);
}

int ig_store_org_data_key_get(ig_store_t *st, const char *org_id, uint8_t **wrapped, size_t *len)
{
    if (!st || !org_id || !wrapped || !len) return IG_EINVAL;
    if (bounded_len(org_id, 32) == SIZE_MAX) return IG_ENOTFOUND;
    return st->ops->org_data_key_get(st, org_id, wrapped, len);
}

int ig_store_org_data_key_init(ig_store_t *st, const char *org_id, const uint8_t *wrapped, size_t len,
                               uint8_t **out, size_t *outlen)
{
    if (!st || !org_id || !wrapped || !len || len > IG_STORE_MAX_SECRET || !out || !outlen) return IG_EINVAL;
    if (bounded_len(org_id, 32) == SIZE_MAX) return IG_ENOTFOUND;
    return st->ops->org_data_key_init(st, org_id, wrapped, len, out, outlen);
}

int ig_store_keys_touch(ig_store_t *st, const ig_callrec_t *recs, size_t n)
{
    if (!st || (n && !recs)) return IG_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!terminated(recs[i].key_id, sizeof recs[i].key_id) ||
            !terminated(recs[i].org_id, sizeof recs[i].org_id))
            return IG_EINVAL;
    return n ? st->ops->keys_touch(st, recs, n) : IG_OK;
}

int ig_store_org_ids(ig_store_t *st, const char *after, char (*ids)[33], size_t cap, size_t *n)
{
    if (!st || !after || !ids || !n || cap == 0 || cap > 10000) return IG_EINVAL;
    if (bounded_len(after, 32) == SIZE_MAX) return IG_EINVAL;
    return st->ops->org_ids(st, after, ids, cap, n);
}

/* ---- v3: webhooks ---- */

/* ---- v7: budgets ---- */

static bool valid_budget_limits(int period, int64_t hard, int64_t soft)
{
    return period >= IG_STORE_PERIOD_DAILY && period <= IG_STORE_PERIOD_MONTHLY && hard > 0 &&
           hard <= IG_STORE_BUDGET_MAX_MICROS && soft >= 0 && soft <= hard;
}

int ig_store_budget_create(ig_store_t *st, const char *org_id, int scope, const char *scope_id,
                           const char *name, int period, int64_t hard_micros, int64_t soft_micros,
                           ig_budget_t *out)
{
    ig_budget_t b;
    int rc = IG_EINVAL;
    bool org_scope = scope == IG_STORE_BUDGET_ORG;
    memset(&b, 0, sizeof b);
    if (!st || !org_id || scope < IG_STORE_BUDGET_ORG || scope > IG_STORE_BUDGET_KEY ||
        !valid_opt_text(name, sizeof b.name - 1) || !valid_budget_limits(period, hard_micros, soft_micros))
        goto out;
    if (org_scope ? scope_id && *scope_id : !scope_id || !*scope_id) goto out;
    rc = IG_ENOTFOUND;
    if (!id_fits(org_id) || (scope_id && !id_fits(scope_id))) goto out;
    if ((rc = new_id(b.id))) goto out;
    memcpy(b.org_id, org_id, strlen(org_id) + 1);
    b.scope = scope;
    copy_opt(b.scope_id, scope_id);
    copy_opt(b.name, name);
    b.period = period;
    b.hard_micros = hard_micros;
    b.soft_micros = soft_micros;
    b.created_at = b.updated_at = now_ms();
    rc = st->ops->budget_insert(st, &b, IG_STORE_BUDGETS_PER_ORG);
    if (rc == IG_OK && out) *out = b;
out:
    return rc;
}

int ig_store_budget_get(ig_store_t *st, const char *org_id, const char *id, ig_budget_t *out)
{
    if (!st || !org_id || !id || !out) return IG_EINVAL;
    if (!id_fits(org_id) || !id_fits(id)) return IG_ENOTFOUND;
    return st->ops->budget_get(st, org_id, id, out);
}

int ig_store_budget_list(ig_store_t *st, const char *org_id, ig_budget_t *out, size_t cap, size_t *n)
{
    if (!st || !org_id || !n || (cap && !out)) return IG_EINVAL;
    *n = 0;
    if (!id_fits(org_id)) return IG_OK; /* no such org: no budgets */
    return st->ops->budget_list(st, org_id, out, cap, n);
}

int ig_store_budget_update(ig_store_t *st, const char *org_id, const char *id, const char *name, int period,
                           int64_t hard_micros, int64_t soft_micros, ig_budget_t *out)
{
    ig_budget_t b;
    int rc = IG_EINVAL;
    if (!st || !org_id || !id || !valid_opt_text(name, sizeof b.name - 1) ||
        !valid_budget_limits(period, hard_micros, soft_micros))
        goto out;
    rc = IG_ENOTFOUND;
    if (!id_fits(org_id) || !id_fits(id)) goto out;
    rc = st->ops->budget_update(st, org_id, id, name && *name ? name : NULL, period, hard_micros, soft_micros,
                                now_ms(), &b);
    if (rc == IG_OK && out) *out = b;
out:
    return rc;
}

int ig_store_budget_delete(ig_store_t *st, const char *org_id, const char *id)
{
    if (!st || !org_id || !id) return IG_EINVAL;
    if (!id_fits(org_id) || !id_fits(id)) return IG_ENOTFOUND;
    return st->ops->budget_delete(st, org_id, id);
}

int ig_store_budget_spend_get(ig_store_t *st, const char *budget_id, int64_t period_start, int64_t *spent,
                              unsigned *alerted)
{
    if (!st || !budget_id || !spent || !alerted) return IG_EINVAL;
    if (!id_fits(budget_id)) { /* cannot be stored: nothing spent */
        *spent = 0;
        *alerted = 0;
        return IG_OK;
    }
    return st->ops->budget_spend_get(st, budget_id, period_start, spent, alerted);
}

int ig_store_budget_spend_add(ig_store_t *st, ig_budget_spend_t *items, size_t n)
{
    if (!st || (n && !items)) return IG_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!terminated(items[i].budget_id, sizeof items[i].budget_id) || !items[i].budget_id[0] ||
            !terminated(items[i].org_id, sizeof items[i].org_id) || !items[i].org_id[0] ||
            items[i].add_micros < 0 || items[i].alerted > 3)
            return IG_EINVAL;
    for (size_t i = 0; i < n; i++)
        items[i].claimed = 0;
    if (n == 0) return IG_OK;
    return st->ops->budget_spend_add(st, items, n, now_ms());
}

int ig_store_budget_alert_done(ig_store_t *st, const char *budget_id, int64_t period_start, unsigned bits)
{
    if (!st || !budget_id || bits == 0 || bits > 3) return IG_EINVAL;
    if (!id_fits(budget_id)) return IG_OK; /* cannot be stored: nothing pending */
    return st->ops->budget_alert_done(st, budget_id, period_start, bits);
}

int ig_store_budget_alerts_pending(ig_store_t *st, ig_budget_alert_t *out, size_t cap, size_t *n)
{
    if (!st || !out || !n || cap == 0 || cap > 1000) return IG_EINVAL;
    *n = 0;
    return st->ops->budget_alerts_pending(st, out, cap, n);
}

/* Runs the caller's seal callback for row id into a fresh buffer of at most max bytes: IG_OK with a
 * non-empty envelope, the callback's error, or IG_EINVAL for an empty or oversized envelope. */
static int seal_for(ig_store_seal_fn seal, void *ctx, const char *org_id, const char *id, size_t max,
                    ig_buf_t *blob)
{
    ig_buf_init(blob, max);
    int rc = seal(ctx, org_id, id, blob);
    if (rc == IG_ETOOBIG || (rc == IG_OK && blob->len == 0)) rc = IG_EINVAL;
    return rc;
}

int ig_store_webhook_create(ig_store_t *st, const char *org_id, const char *url, const char *events,
                            const char *description, ig_store_seal_fn seal, void *ctx, ig_webhook_t *out)
{
    ig_webhook_t *w = NULL;
    ig_buf_t blob = {0};
    int rc = IG_EINVAL;
    if (!st || !org_id || !valid_token(url, IG_STORE_WEBHOOK_URL_MAX) ||
        !valid_token(events, IG_STORE_WEBHOOK_EVENTS_MAX) ||
        !valid_opt_text(description, IG_STORE_WEBHOOK_DESC_MAX) || !seal)
        goto out;
    rc = IG_ENOTFOUND;
    if (!id_fits(org_id)) goto out;
    rc = IG_ENOMEM;
    if (!(w = calloc(1, sizeof *w))) goto out;
    if ((rc = new_id(w->id))) goto out;
    memcpy(w->org_id, org_id, strlen(org_id) + 1);
    if ((rc = seal_for(seal, ctx, org_id, w->id, sizeof w->secret, &blob))) goto out;
    memcpy(w->secret, blob.data, blob.len);
    w->secret_len = blob.len;
    memcpy(w->url, url, strlen(url) + 1);
    memcpy(w->events, events, strlen(events) + 1);
    copy_opt(w->description, description);
    w->enabled = true;
    w->created_at = w->updated_at = now_ms();
    rc = st->ops->webhook_insert(st, w, IG_STORE_WEBHOOKS_PER_ORG);
    if (rc == IG_OK && out) *out = *w;
out:
    ig_buf_free(&blob, true);
    free(w);
    return rc;
}

int ig_store_webhook_get(ig_store_t *st, const char *org_id, const char *id, ig_webhook_t *out)
{
    if (!st || !org_id || !id || !out) return IG_EINVAL;
    if (!id_fits(org_id) || !id_fits(id)) return IG_ENOTFOUND;
    return st->ops->webhook_get(st, org_id, id, out);
}

int ig_store_webhook_list(ig_store_t *st, const char *org_id, ig_webhook_t *out, size_t cap, size_t *n)
{
    if (!st || !org_id || !n || (cap && !out)) return IG_EINVAL;
    *n = 0;
    if (!id_fits(org_id)) return IG_OK; /* no such org: no webhooks */
    return st->ops->webhook_list(st, org_id, out, cap, n);
}

int ig_store_webhook_update(ig_store_t *st, const char *org_id, const char *id, const char *url,
                            const char *events, const char *description, int enabled, ig_webhook_t *out)
{
    ig_webhook_t *w = NULL;
    int rc = IG_EINVAL;
    if (!st || !org_id || !id || (url && !valid_token(url, IG_STORE_WEBHOOK_URL_MAX)) ||
        (events && !valid_token(events, IG_STORE_WEBHOOK_EVENTS_MAX)) ||
        (description && !valid_opt_text(description, IG_STORE_WEBHOOK_DESC_MAX)) || enabled < -1 ||
        enabled > 1)
        goto out;
    rc = IG_ENOTFOUND;
    if (!id_fits(org_id) || !id_fits(id)) goto out;
    rc = IG_ENOMEM;
    if (!(w = malloc(sizeof *w))) goto out;
    rc = st->ops->webhook_update(st, org_id, id, url, events, description, enabled, now_ms(), w);
    if (rc == IG_OK && out) *out = *w;
out:
    free(w);
    return rc;
}

int ig_store_webhook_delete(ig_store_t *st, const char *org_id, const char *id)
{
    if (!st || !org_id || !id) return IG_EINVAL;
    if (!id_fits(org_id) || !id_fits(id)) return IG_ENOTFOUND;
    return st->ops->webhook_delete(st, org_id, id);
}

int ig_store_webhook_delivery_add(ig_store_t *st, const char *org_id, const char *webhook_id,
                                  const char *event_id, const char *event_type, int64_t next_attempt_at,
                                  ig_store_seal_fn seal, void *ctx, ig_webhook_delivery_t *out)
{
    ig_webhook_delivery_t d;
    ig_buf_t blob = {0};
    int rc = IG_EINVAL;
    memset(&d, 0, sizeof d);
    if (!st || !org_id || !webhook_id || !valid_token(event_id, sizeof d.event_id - 1) ||
        !valid_token(event_type, sizeof d.event_type - 1) || next_attempt_at <= 0 || !seal)
        goto out;
    rc = IG_ENOTFOUND;
    if (!id_fits(org_id) || !id_fits(webhook_id)) goto out;
    if ((rc = new_id(d.id))) goto out;
    if ((rc = seal_for(seal, ctx, org_id, d.id, IG_STORE_WEBHOOK_PAYLOAD_MAX, &blob))) goto out;
    memcpy(d.org_id, org_id, strlen(org_id) + 1);
    memcpy(d.webhook_id, webhook_id, strlen(webhook_id) + 1);
    memcpy(d.event_id, event_id, strlen(event_id) + 1);
    memcpy(d.event_type, event_type, strlen(event_type) + 1);
    d.status = IG_STORE_DELIVERY_PENDING;
    d.next_attempt_at = next_attempt_at;
    d.created_at = d.updated_at = now_ms();
    rc = st->ops->delivery_insert(st, &d, (const uint8_t *)blob.data, blob.len);
    if (rc == IG_OK && out) *out = d;
out:
    ig_buf_free(&blob, true);
    return rc;
}

int ig_store_webhook_payload(ig_store_t *st, const char *org_id, const char *id, uint8_t **blob, size_t *len)
{
    if (!st || !org_id || !id || !blob || !len) return IG_EINVAL;
    if (!id_fits(org_id) || !id_fits(id)) return IG_ENOTFOUND;
    return st->ops->delivery_payload(st, org_id, id, blob, len);
}

int ig_store_webhook_due(ig_store_t *st, int64_t now, ig_webhook_delivery_t *out, size_t cap, size_t *n)
{
    if (!st || !out || !n || cap == 0 || cap > 1000) return IG_EINVAL;
    *n = 0;
    return st->ops->delivery_due(st, now, out, cap, n);
}

int ig_store_webhook_next_due(ig_store_t *st, int64_t *at)
{
    if (!st || !at) return IG_EINVAL;
    *at = 0;
    return st->ops->delivery_next_due(st, at);
}

int ig_store_webhook_lease(ig_store_t *st, const char *id, int64_t due_by, int64_t until)
{
    if (!st || !id || until <= 0) return IG_EINVAL;
    if (!id_fits(id)) return IG_ENOTFOUND;
    return st->ops->delivery_lease(st, id, due_by, until);
}

int ig_store_webhook_record(ig_store_t *st, const char *org_id, const char *id, const ig_webhook_attempt_t *a,
                            int status, int64_t next_attempt_at, ig_webhook_delivery_t *out)
{
    ig_webhook_attempt_t at;
    ig_webhook_delivery_t d;
    if (!st || !org_id || !id || !a || !terminated(a->error, sizeof a->error) ||
        !valid_opt_text(a->error, sizeof a->error - 1) || a->status_code < 0 || a->status_code > 999 ||
        a->duration_ms < 0 || a->started_at <= 0 || status < IG_STORE_DELIVERY_PENDING ||
        status > IG_STORE_DELIVERY_FAILED || (status == IG_STORE_DELIVERY_PENDING && next_attempt_at <= 0))
        return IG_EINVAL;
    if (!id_fits(org_id) || !id_fits(id)) return IG_ENOTFOUND;
    at = *a;
    int rc = st->ops->delivery_record(
        st, org_id, id, &at, status, status == IG_STORE_DELIVERY_PENDING ? next_attempt_at : 0, now_ms(), &d);
    if (rc == IG_OK && out) *out = d;
    return rc;
}

int ig_store_webhook_deliveries(ig_store_t *st, const char *org_id, const char *webhook_id,
                                ig_webhook_delivery_t *out, size_t cap, size_t *n)
{
    if (!st || !org_id || !webhook_id || !out || !n || cap == 0 || cap > 1000) return IG_EINVAL;
    *n = 0;
    if (!id_fits(org_id) || !id_fits(webhook_id)) return IG_OK; /* no such webhook: nothing delivered */
    int rc = st->ops->delivery_list(st, org_id, webhook_id, out, cap, n);
    return rc == IG_ETOOBIG ? IG_OK : rc; /* a page: the newest cap */
}

int ig_store_webhook_attempts(ig_store_t *st, const char *org_id, const char *delivery_id,
                              ig_webhook_attempt_t *out, size_t cap, size_t *n)
{
    if (!st || !org_id || !delivery_id || !n || (cap && !out)) return IG_EINVAL;
    *n = 0;
    if (!id_fits(org_id) || !id_fits(delivery_id)) return IG_OK;
    return st->ops->attempt_list(st, org_id, delivery_id, out, cap, n);
}

int ig_store_webhook_purge(ig_store_t *st, int64_t before, size_t max, size_t *purged)
{
    if (!st || !purged || max == 0 || max > 10000) return IG_EINVAL;
    *purged = 0;
    return st->ops->delivery_purge(st, before, max, purged);
}

/* ---- v5: logs.expiring batches ---- */

int ig_store_logbatch_add(ig_store_t *st, const char *org_id, const char *webhook_id, const char *event_id,
                          const char *event_type, const ig_logbatch_t *b, ig_store_seal_fn seal, void *ctx,
                          ig_webhook_delivery_t *out)
{
    ig_webhook_delivery_t d;
    ig_logbatch_t lb;
    ig_buf_t blob = {0};
    int rc = IG_EINVAL;
    memset(&d, 0, sizeof d);
    if (!st || !org_id || !webhook_id || !b || !valid_token(event_id, sizeof d.event_id - 1) ||
        !valid_token(event_type, sizeof d.event_type - 1) || !seal || b->first_at < 0 || b->first_seq < 0 ||
        b->last_at < b->first_at || (b->last_at == b->first_at && b->last_seq < b->first_seq) ||
        b->last_seq < 0 || b->records < 1 || b->cutoff <= 0)
        goto out;
    rc = IG_ENOTFOUND;
    if (!id_fits(org_id) || !id_fits(webhook_id)) goto out;
    if ((rc = new_id(d.id))) goto out;
    if ((rc = seal_for(seal, ctx, org_id, d.id, IG_STORE_WEBHOOK_PAYLOAD_MAX, &blob))) goto out;
    memcpy(d.org_id, org_id, strlen(org_id) + 1);
    memcpy(d.webhook_id, webhook_id, strlen(webhook_id) + 1);
    memcpy(d.event_id, event_id, strlen(event_id) + 1);
    memcpy(d.event_type, event_type, strlen(event_type) + 1);
    d.status = IG_STORE_DELIVERY_PENDING;
    d.created_at = d.updated_at = d.next_attempt_at = now_ms();
    lb = *b;
    memcpy(lb.delivery_id, d.id, sizeof lb.delivery_id);
    memcpy(lb.org_id, d.org_id, sizeof lb.org_id);
    memcpy(lb.webhook_id, d.webhook_id, sizeof lb.webhook_id);
    lb.done = false;
    lb.created_at = d.created_at;
    rc = st->ops->logbatch_insert(st, &d, (const uint8_t *)blob.data, blob.len, &lb);
    if (rc == IG_OK && out) *out = d;
out:
    ig_buf_free(&blob, true);
    return rc;
}

int ig_store_logbatch_get(ig_store_t *st, const char *org_id, const char *delivery_id, ig_logbatch_t *out)
{
    if (!st || !org_id || !delivery_id || !out) return IG_EINVAL;
    if (!id_fits(org_id) || !id_fits(delivery_id)) return IG_ENOTFOUND;
    return st->ops->logbatch_get(st, org_id, delivery_id, out);
}

int ig_store_logbatch_state(ig_store_t *st, const char *org_id, const char *webhook_id, int64_t failed_before,
                            ig_logbatch_state_t *out)
{
    if (!st || !org_id || !webhook_id || !out) return IG_EINVAL;
    if (!id_fits(org_id) || !id_fits(webhook_id)) {
        memset(out, 0, sizeof *out);
        return IG_OK;
    }
    return st->ops->logbatch_state(st, org_id, webhook_id, failed_before, out);
}

/* ---- identity columns (emails, display names): sealed under a key the process sets once ---- */

static uint8_t g_id_key[32], g_tag_key[32];
static bool g_id_on;

int ig_store_set_identity_key(const uint8_t key[32])
{
    static const char info[] = "ingate/email-tag/v1";
    if (!key) {
        g_id_on = false;
        ig_wipe(g_id_key, sizeof g_id_key);
        ig_wipe(g_tag_key, sizeof g_tag_key);
        return IG_OK;
    }
    memcpy(g_id_key, key, 32);
    int rc = ig_hkdf_sha256(NULL, 0, key, 32, (const uint8_t *)info, sizeof info - 1, g_tag_key, 32);
    g_id_on = rc == IG_OK;
    return rc;
}

bool ig_store_identity_on(void)
{
    return g_id_on;
}

void ig_store_email_tag(const char *email, char out[IG_STORE_TAG_MAX])
{
    uint8_t mac[32];
    if (!g_id_on || ig_hmac_sha256(g_tag_key, 32, email, strlen(email), mac) != IG_OK) {
        snprintf(out, IG_STORE_TAG_MAX, "%s",
                 email); /* clear mode (tests), or an HMAC failure: never empty */
        return;
    }
    memcpy(out, "t1:", 3);
    ig_hex_encode(mac, 32, out + 3);
}

static int id_aad(const char *table, const char *row_id, const char *field, char *aad, size_t cap)
{
    int n = snprintf(aad, cap, "ingate/identity/v1:%s:%s:%s", table, row_id, field);
    return n > 0 && (size_t)n < cap ? n : -1;
}

int ig_store_identity_seal(const char *table, const char *row_id, const char *field, const char *pt,
                           ig_buf_t *out)
{
    char aad[160];
    int n = id_aad(table, row_id, field, aad, sizeof aad);
    if (!g_id_on || n < 0) return IG_EINVAL;
    return ig_seal(g_id_key, 0, ig_iov(aad, (size_t)n), ig_iov_str(pt), out);
}

int ig_store_identity_open(const char *table, const char *row_id, const char *field, const void *ct,
                           size_t len, char *out, size_t cap)
{
    char aad[160];
    int n = id_aad(table, row_id, field, aad, sizeof aad);
    if (!g_id_on || n < 0) return IG_ECRYPTO;
    ig_buf_t pt;
    ig_buf_init_secret(&pt, cap);
    int rc = ig_open(g_id_key, ig_iov(aad, (size_t)n), ig_iov(ct, len), &pt);
    if (rc == IG_OK && (pt.len >= cap || memchr(pt.data ? pt.data : "", 0, pt.len))) rc = IG_EINTERNAL;
    if (rc == IG_OK) {
        if (pt.len) memcpy(out, pt.data, pt.len);
        out[pt.len] = '\0';
    }
    ig_buf_free(&pt, true);
    return rc;
}

int ig_store_identity_backfill(ig_store_t *st)
{
    if (!st) return IG_EINVAL;
    return g_id_on ? st->ops->identity_backfill(st) : IG_OK;
}

int ig_store_control_key(ig_store_t *st, const char *name, const uint8_t *init, size_t init_len,
                         uint8_t **out, size_t *outlen)
{
    if (!st || !name || !out || !outlen || bounded_len(name, 64) == SIZE_MAX || !name[0]) return IG_EINVAL;
    if (init && (!init_len || init_len > IG_STORE_MAX_SECRET)) return IG_EINVAL;
    return st->ops->control_key(st, name, init, init_len, now_ms(), out, outlen);
}

int ig_store_rewrap(ig_store_t *st, ig_store_rewrap_fn fn, void *ctx, size_t *n)
{
    if (!st || !fn || !n) return IG_EINVAL;
    return st->ops->rewrap(st, fn, ctx, now_ms(), n);
}

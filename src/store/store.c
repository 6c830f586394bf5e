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

#include <openssl/rand.h>
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
    ig_keyrec_t rec;
    int rc = IG_EINVAL;
    if (!st || !org_id || !hash || !valid_token(hash_prefix, sizeof rec.hash_prefix - 1)) goto out;
    if ((name && !valid_text(name, 0, sizeof rec.name - 1)) || role < IG_STORE_ROLE_VIEWER ||
        role > IG_STORE_ROLE_OWNER || expires_at < 0)
        goto out;
    rc = IG_ENOTFOUND; /* an org id that cannot exist */
    if (bounded_len(org_id, 32) == SIZE_MAX) goto out;
    memset(&rec, 0, sizeof rec);
    rc = new_id(rec.id);
    if (rc) goto out;
    memcpy(rec.org_id, org_id, strlen(org_id) + 1);
    memcpy(rec.key_hash, hash, sizeof rec.key_hash);
    memcpy(rec.hash_prefix, hash_prefix, strlen(hash_prefix) + 1);
    if (name) memcpy(rec.name, name, strlen(name) + 1);
    rec.role = role;
    rec.created_at = now_ms();
    rec.expires_at = expires_at;
    rc = st->ops->key_insert(st, &rec);
    if (rc == IG_OK && out) *out = rec;
out:
    return rc;
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
            !terminated(r->key_prefix, sizeof r->key_prefix) ||
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

int ig_store_audit_append(ig_store_t *st, const char *org_id, const char *actor, const char *action,
                          const char *target, const char *source_ip, const char *request_id, ig_audit_t *out)
{
    ig_audit_t e;
    int rc = IG_EINVAL;
    memset(&e, 0, sizeof e);
    if (!st || !valid_opt_token(org_id, sizeof e.org_id - 1) || !valid_text(actor, 1, sizeof e.actor - 1) ||
        !valid_token(action, sizeof e.action - 1) || !valid_opt_text(target, sizeof e.target - 1) ||
        !valid_opt_token(source_ip, sizeof e.source_ip - 1) ||
        !valid_opt_token(request_id, sizeof e.request_id - 1))
        goto out;
    if ((rc = new_id(e.id))) goto out;
    copy_opt(e.org_id, org_id);
    copy_opt(e.actor, actor);
    copy_opt(e.action, action);
    copy_opt(e.target, target);
    copy_opt(e.source_ip, source_ip);
    copy_opt(e.request_id, request_id);
    e.created_at = now_ms();
    rc = st->ops->audit_append(st, &e);
    if (rc == IG_OK && out) *out = e;
out:
    return rc;
}

int ig_store_audit_list(ig_store_t *st, const char *org_id, int64_t before_seq, ig_audit_t *out, size_t cap,
                        size_t *n)
{
    if (!st || !org_id || !out || !n || cap == 0 || cap > 1000 || strlen(org_id) > 32) return IG_EINVAL;
    *n = 0;
    return st->ops->audit_list(st, org_id, before_seq, out, cap, n);
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

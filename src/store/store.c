/*
 * store.c — the backend-independent half of the store: URL dispatch, argument validation, id and
 * timestamp generation, then one call through the handle's ops table.
 *
 * Validation lives here, not in backends, so every backend gets the same guarantees: strings fit the
 * fixed-size fields of the record structs, enums are in range, required pointers are non-NULL. Lookups by a
 * string too long to be stored answer IG_ENOTFOUND (no row can match) rather than IG_EINVAL, so an API
 * handler can map "garbage id" and "unknown id" to the same 404.
 */
#include "store/store.h"
#include "core/err.h"
#include "core/log.h"

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

/*
 * keys.c — the gateway's key hierarchy: KEK from the master key, the control data key and what derives from
 * it (see keys.h).
 */
#include "app/keys.h"
#include "core/err.h"
#include "core/log.h"
#include "crypto/crypto.h"

#include <stdio.h>
#include <stdlib.h>

#define CONTROL_KEY "control"

int ig_kek_of(const uint8_t master[32], uint8_t kek[32], uint32_t *id)
{
    uint8_t h[32];
    static const char tag[] = "ingate/kek-id/v1";
    int rc = ig_derive_key(master, "org-data-keys", kek);
    if (rc) return rc;
    uint8_t buf[sizeof tag - 1 + 32];
    memcpy(buf, tag, sizeof tag - 1);
    memcpy(buf + sizeof tag - 1, kek, 32);
    ig_sha256(buf, sizeof buf, h);
    ig_wipe(buf, sizeof buf);
    uint32_t v = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
    *id = v ? v : 1; /* 0 names the keys wrapped before ids existed */
    return IG_OK;
}

static int wrap_control(const uint8_t kek[32], uint32_t id, const uint8_t cdk[32], ig_buf_t *out)
{
    static const char aad[] = "ingate/control-data-key/v1";
    return ig_seal(kek, id, ig_iov(aad, sizeof aad - 1), ig_iov((const char *)cdk, 32), out);
}

static int unwrap_control(const uint8_t kek[32], const uint8_t *w, size_t len, uint8_t cdk[32])
{
    static const char aad[] = "ingate/control-data-key/v1";
    ig_buf_t pt;
    ig_buf_init_secret(&pt, 64);
    int rc = ig_open(kek, ig_iov(aad, sizeof aad - 1), ig_iov((const char *)w, len), &pt);
    if (rc == IG_OK && pt.len != 32) rc = IG_ECRYPTO;
    if (rc == IG_OK) memcpy(cdk, pt.data, 32);
    ig_buf_free(&pt, true);
    return rc;
}

int ig_keys_load(ig_store_t *st, const uint8_t master[32], ig_keys_t *out)
{
    uint8_t cdk[32];
    uint8_t *w = NULL;
    size_t wl = 0;
    ig_buf_t init;
    ig_buf_init(&init, 4096);
    memset(out, 0, sizeof *out);
    int rc = ig_kek_of(master, out->kek, &out->kek_id);
    if (rc == IG_OK) rc = ig_store_control_key(st, CONTROL_KEY, NULL, 0, &w, &wl);
    if (rc == IG_ENOTFOUND) {
        /* first use: the control data key is the master key of today, so keys derived before stay the same */
        rc = wrap_control(out->kek, out->kek_id, master, &init);
        if (rc == IG_OK)
            rc = ig_store_control_key(st, CONTROL_KEY, (const uint8_t *)init.data, init.len, &w, &wl);
    }
    ig_buf_free(&init, false);
    if (rc == IG_OK) rc = unwrap_control(out->kek, w, wl, cdk);
    free(w);
    if (rc == IG_OK) rc = ig_derive_key(cdk, "provider-keys", out->provider);
    if (rc == IG_OK) rc = ig_derive_key(cdk, "session-tokens", out->session);
    if (rc == IG_OK) rc = ig_derive_key(cdk, "identity", out->identity);
    if (rc == IG_OK) rc = ig_derive_key(cdk, "webhook-secrets", out->webhook);
    ig_wipe(cdk, sizeof cdk);
    if (rc) ig_keys_clear(out);
    return rc;
}

typedef struct {
    uint8_t old_kek[32], new_kek[32];
    uint32_t old_id, new_id;
} rewrap_ctx_t;

static int rewrap_one(void *ctx, const char *kind, const char *id, const uint8_t *w, size_t len,
                      ig_buf_t *out, bool *changed)
{
    rewrap_ctx_t *c = ctx;
    uint32_t kid = 0;
    *changed = false;
    if (ig_seal_key_id(ig_iov((const char *)w, len), &kid) == IG_OK && kid == c->new_id && kid != 0)
        return IG_OK; /* done already (a second pass, or a key made after the switch) */
    char aad[96];
    int n = strcmp(kind, "org") == 0 ? snprintf(aad, sizeof aad, "ingate/org-data-key/v1:%s", id)
                                     : snprintf(aad, sizeof aad, "ingate/control-data-key/v1");
    if (n <= 0 || (size_t)n >= sizeof aad) return IG_EINVAL;
    ig_buf_t pt;
    ig_buf_init_secret(&pt, 64);
    int rc = ig_open(c->old_kek, ig_iov(aad, (size_t)n), ig_iov((const char *)w, len), &pt);
    if (rc) IG_ERROR("keys", "%s key %s does not unwrap under the current master key", kind, id);
    if (rc == IG_OK) rc = ig_seal(c->new_kek, c->new_id, ig_iov(aad, (size_t)n), ig_buf_iov(&pt), out);
    ig_buf_free(&pt, true);
    if (rc == IG_OK) *changed = true;
    return rc;
}

int ig_keys_rewrap(ig_store_t *st, const uint8_t old_master[32], const uint8_t new_master[32], size_t *n)
{
    rewrap_ctx_t c;
    int rc = ig_kek_of(old_master, c.old_kek, &c.old_id);
    if (rc == IG_OK) rc = ig_kek_of(new_master, c.new_kek, &c.new_id);
    if (rc == IG_OK) rc = ig_store_rewrap(st, rewrap_one, &c, n);
    ig_wipe(&c, sizeof c);
    return rc;
}

void ig_keys_clear(ig_keys_t *k)
{
    ig_wipe(k, sizeof *k);
}

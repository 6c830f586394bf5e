/*
 * Unit tests of src/app/keys: the first load creates the control data key equal to the master key, so the
 * derived keys are those derived from the master key before the hierarchy existed (older data keeps
 * opening); a re-wrap moves every data key (orgs' and the control key) to a new master key in one pass, after
 * which only the new key loads, the derived keys are unchanged and org data keys still unwrap; a second pass
 * changes nothing; a key wrapped under the old KEK after the first pass is picked up by the second.
 */
#include "unit.h"
#include "app/keys.h"
#include "core/err.h"
#include "crypto/crypto.h"
#include "crypto/orgkey.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[64];

static ig_store_t *open_db(const char *name)
{
    char p[128];
    int err = 0;
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    ig_store_t *st = ig_store_open(p, &err);
    CHECK(st != NULL);
    if (st) CHECK_EQ_INT(ig_store_migrate(st), IG_OK);
    return st;
}

/* An org with a data key wrapped under master's KEK (as the log writer makes them). */
static void org_with_key(ig_store_t *st, const char *slug, const uint8_t master[32], ig_org_t *org,
                         uint8_t dk[32])
{
    uint8_t kek[32];
    uint32_t id = 0;
    ig_buf_t w;
    ig_buf_init(&w, 4096);
    uint8_t *out = NULL;
    size_t olen = 0;
    CHECK_EQ_INT(ig_store_org_create(st, slug, slug, org), IG_OK);
    CHECK_EQ_INT(ig_kek_of(master, kek, &id), IG_OK);
    CHECK_EQ_INT(ig_orgkey_generate(dk), IG_OK);
    CHECK_EQ_INT(ig_orgkey_wrap(kek, id, org->id, dk, &w), IG_OK);
    CHECK_EQ_INT(ig_store_org_data_key_init(st, org->id, (const uint8_t *)w.data, w.len, &out, &olen), IG_OK);
    free(out);
    ig_buf_free(&w, true);
}

static void org_key_opens(ig_store_t *st, const ig_org_t *org, const uint8_t master[32], const uint8_t dk[32],
                          bool expect)
{
    uint8_t kek[32], got[32];
    uint32_t id = 0;
    uint8_t *w = NULL;
    size_t wl = 0;
    CHECK_EQ_INT(ig_kek_of(master, kek, &id), IG_OK);
    CHECK_EQ_INT(ig_store_org_data_key_get(st, org->id, &w, &wl), IG_OK);
    int rc = ig_orgkey_unwrap(kek, org->id, ig_iov((const char *)w, wl), got);
    CHECK_EQ_INT(rc, expect ? IG_OK : IG_ECRYPTO);
    if (expect) CHECK_MEM(got, dk, 32);
    free(w);
}

TEST(first_load_keeps_master_derived_keys)
{
    ig_store_t *st = open_db("first.db");
    if (!st) return;
    uint8_t m[32], d[32];
    memset(m, 0x11, sizeof m);
    ig_keys_t k, k2;
    CHECK_EQ_INT(ig_keys_load(st, m, &k), IG_OK);
    CHECK(k.kek_id != 0);
    CHECK_EQ_INT(ig_derive_key(m, "provider-keys", d), IG_OK);
    CHECK_MEM(k.provider, d, 32);
    CHECK_EQ_INT(ig_derive_key(m, "session-tokens", d), IG_OK);
    CHECK_MEM(k.session, d, 32);
    CHECK_EQ_INT(ig_derive_key(m, "identity", d), IG_OK);
    CHECK_MEM(k.identity, d, 32);
    CHECK_EQ_INT(ig_derive_key(m, "org-data-keys", d), IG_OK);
    CHECK_MEM(k.kek, d, 32);
    CHECK_EQ_INT(ig_keys_load(st, m, &k2), IG_OK); /* the stored control key, not a new one */
    CHECK_MEM(k2.webhook, k.webhook, 32);
    uint8_t other[32];
    memset(other, 0x22, sizeof other);
    CHECK_EQ_INT(ig_keys_load(st, other, &k2), IG_ECRYPTO); /* another master key opens nothing */
    ig_store_close(st);
}

TEST(rotation_rewraps_every_data_key)
{
    ig_store_t *st = open_db("rot.db");
    if (!st) return;
    uint8_t m1[32], m2[32], dka[32], dkb[32], dkc[32];
    memset(m1, 0x33, sizeof m1);
    memset(m2, 0x44, sizeof m2);
    ig_keys_t k1, k2;
    ig_org_t a, b, c;
    CHECK_EQ_INT(ig_keys_load(st, m1, &k1), IG_OK);
    org_with_key(st, "rot-a", m1, &a, dka);
    org_with_key(st, "rot-b", m1, &b, dkb);
    size_t n = 0;
    CHECK_EQ_INT(ig_keys_rewrap(st, m1, m2, &n), IG_OK);
    CHECK_EQ_INT((int)n, 3); /* two orgs and the control key */
    CHECK_EQ_INT(ig_keys_load(st, m1, &k2), IG_ECRYPTO);
    CHECK_EQ_INT(ig_keys_load(st, m2, &k2), IG_OK);
    CHECK_MEM(k2.provider, k1.provider, 32); /* what hangs off the control key is unchanged */
    CHECK_MEM(k2.session, k1.session, 32);
    CHECK(memcmp(k2.kek, k1.kek, 32) != 0 && k2.kek_id != k1.kek_id);
    org_key_opens(st, &a, m2, dka, true);
    org_key_opens(st, &b, m2, dkb, true);
    org_key_opens(st, &a, m1, dka, false);
    /* an org keyed under the old master in between (a gateway that had not reloaded yet): the second pass */
    org_with_key(st, "rot-c", m1, &c, dkc);
    CHECK_EQ_INT(ig_keys_rewrap(st, m1, m2, &n), IG_OK);
    CHECK_EQ_INT((int)n, 1);
    org_key_opens(st, &c, m2, dkc, true);
    CHECK_EQ_INT(ig_keys_rewrap(st, m1, m2, &n), IG_OK);
    CHECK_EQ_INT((int)n, 0);
    /* a key that opens under neither master aborts the whole pass: nothing changes */
    uint8_t m3[32];
    memset(m3, 0x55, sizeof m3);
    CHECK_EQ_INT(ig_keys_rewrap(st, m3, m1, &n), IG_ECRYPTO);
    CHECK_EQ_INT(ig_keys_load(st, m2, &k2), IG_OK);
    ig_keys_clear(&k1);
    ig_keys_clear(&k2);
    ig_store_close(st);
}

int main(void)
{
    umask(077);
    snprintf(g_dir, sizeof g_dir, "/tmp/ingate-keys-XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    RUN(first_load_keeps_master_derived_keys);
    RUN(rotation_rewraps_every_data_key);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0) return 1;
    UNIT_DONE();
}

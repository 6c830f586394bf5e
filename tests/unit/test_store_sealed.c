/*
 * Unit tests of the store's sealed identity columns: with an identity key set, users' emails and display
 * names and invitees' emails never reach the database file in clear (checked by reading every file of the
 * database byte by byte), lookups by email still work (case-insensitive, through the tag), members and
 * invitations read back in clear, a wrong key refuses to decrypt, and rows written in clear before the key
 * existed are sealed by the backfill and still readable.
 */
#include "unit.h"
#include "core/err.h"
#include "store/store.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[64];

static const char *path_of(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", g_dir, name);
    return out;
}

static ig_store_t *open_db(const char *name)
{
    char p[128];
    int err = 0;
    ig_store_t *st = ig_store_open(path_of(p, sizeof p, name), &err);
    CHECK(st != NULL);
    if (st) CHECK_EQ_INT(ig_store_migrate(st), IG_OK);
    return st;
}

/* true when `needle` appears in any file of the directory whose name starts with `prefix`. */
static bool on_disk(const char *prefix, const char *needle)
{
    DIR *d = opendir(g_dir);
    struct dirent *e;
    bool found = false;
    while (d && (e = readdir(d)) && !found) {
        if (strncmp(e->d_name, prefix, strlen(prefix)) != 0) continue;
        char p[400];
        snprintf(p, sizeof p, "%s/%s", g_dir, e->d_name);
        FILE *f = fopen(p, "rb");
        if (!f) continue;
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        char *buf = malloc(n > 0 ? (size_t)n : 1);
        if (buf && n > 0 && fread(buf, 1, (size_t)n, f) == (size_t)n)
            found = memmem(buf, (size_t)n, needle, strlen(needle)) != NULL;
        free(buf);
        fclose(f);
    }
    if (d) closedir(d);
    return found;
}

static const char HASH[] = "$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234";

static int signup(ig_store_t *st, const char *slug, const char *email, const char *name, uint8_t seed,
                  ig_org_t *org, ig_user_t *user)
{
    uint8_t h[32];
    memset(h, seed, sizeof h);
    return ig_store_signup(st, slug, slug, email, HASH, name, h, "ig_sealtest", 1, org, user, NULL, NULL);
}

TEST(sealed_roundtrip)
{
    uint8_t key[32];
    memset(key, 7, sizeof key);
    CHECK_EQ_INT(ig_store_set_identity_key(key), IG_OK);
    CHECK(ig_store_identity_on());
    ig_store_t *st = open_db("sealed.db");
    if (!st) return;
    ig_org_t org;
    ig_user_t u, got;
    CHECK_EQ_INT(signup(st, "sealed", "Alice.Private@Example.com", "Alice Privatename", 1, &org, &u), IG_OK);
    CHECK_EQ_STR(u.email, "alice.private@example.com");
    CHECK_EQ_INT(ig_store_user_get_by_email(st, "ALICE.private@example.COM", &got), IG_OK);
    CHECK_EQ_STR(got.id, u.id);
    CHECK_EQ_STR(got.email, "alice.private@example.com");
    CHECK_EQ_STR(got.display_name, "Alice Privatename");
    CHECK_EQ_INT(ig_store_user_get(st, u.id, &got), IG_OK);
    CHECK_EQ_STR(got.display_name, "Alice Privatename");
    /* taken email found through the tag */
    ig_org_t o2;
    const char *which = NULL;
    uint8_t h2[32];
    memset(h2, 2, sizeof h2);
    CHECK_EQ_INT(ig_store_signup(st, "other", "o", "alice.private@example.com", HASH, NULL, h2, "ig_x", 1,
                                 &o2, NULL, NULL, &which),
                 IG_ECONFLICT);
    CHECK(which && strcmp(which, "email") == 0);
    /* members and invitations read back in clear */
    ig_member_t ms[4];
    size_t n = 0;
    CHECK_EQ_INT(ig_store_member_list(st, org.id, ms, 4, &n), IG_OK);
    CHECK_EQ_INT((int)n, 1);
    CHECK_EQ_STR(ms[0].email, "alice.private@example.com");
    CHECK_EQ_STR(ms[0].display_name, "Alice Privatename");
    uint8_t th[32];
    memset(th, 9, sizeof th);
    ig_invite_t inv, invs[4];
    CHECK_EQ_INT(
        ig_store_invite_create(st, org.id, "Bob.Hidden@example.com", 0, th, u.id, 4102444800000LL, &inv),
        IG_OK);
    CHECK_EQ_INT(
        ig_store_invite_create(st, org.id, "bob.hidden@example.com", 0, h2, u.id, 4102444800000LL, NULL),
        IG_ECONFLICT); /* the pending check compares tags */
    CHECK_EQ_INT(ig_store_invite_list(st, org.id, invs, 4, &n), IG_OK);
    CHECK_EQ_INT((int)n, 1);
    CHECK_EQ_STR(invs[0].email, "bob.hidden@example.com");
    ig_user_t joined;
    ig_membership_t mem;
    CHECK_EQ_INT(ig_store_invite_accept(st, th, HASH, "Bob Hiddenname", &joined, &mem), IG_OK);
    CHECK_EQ_STR(joined.email, "bob.hidden@example.com");
    CHECK_EQ_INT(ig_store_user_get_by_email(st, "bob.hidden@example.com", &got), IG_OK);
    CHECK_EQ_STR(got.display_name, "Bob Hiddenname");
    ig_store_close(st);
    /* nothing of it in the files */
    CHECK(!on_disk("sealed.db", "alice.private"));
    CHECK(!on_disk("sealed.db", "Privatename"));
    CHECK(!on_disk("sealed.db", "bob.hidden"));
    CHECK(!on_disk("sealed.db", "Hiddenname"));
    CHECK(on_disk("sealed.db", "sealed")); /* the scan works: the org slug is in clear */
    /* another key cannot read them */
    memset(key, 8, sizeof key);
    CHECK_EQ_INT(ig_store_set_identity_key(key), IG_OK);
    st = open_db("sealed.db");
    if (st) {
        CHECK_EQ_INT(ig_store_user_get_by_email(st, "alice.private@example.com", &got), IG_ENOTFOUND);
        CHECK_EQ_INT(ig_store_user_get(st, u.id, &got), IG_EINTERNAL);
        ig_store_close(st);
    }
    ig_store_set_identity_key(NULL);
}

TEST(backfill_seals_clear_rows)
{
    ig_store_set_identity_key(NULL);
    ig_store_t *st = open_db("legacy.db");
    if (!st) return;
    ig_org_t org;
    ig_user_t u, got;
    CHECK_EQ_INT(signup(st, "legacy", "carol.old@example.com", "Carol Oldname", 3, &org, &u), IG_OK);
    uint8_t th[32];
    memset(th, 4, sizeof th);
    CHECK_EQ_INT(
        ig_store_invite_create(st, org.id, "dave.old@example.com", 0, th, NULL, 4102444800000LL, NULL),
        IG_OK);
    ig_store_close(st);
    CHECK(on_disk("legacy.db", "carol.old@example.com")); /* clear mode: in clear */
    uint8_t key[32];
    memset(key, 5, sizeof key);
    CHECK_EQ_INT(ig_store_set_identity_key(key), IG_OK);
    st = open_db("legacy.db");
    if (!st) return;
    CHECK_EQ_INT(ig_store_identity_backfill(st), IG_OK);
    CHECK_EQ_INT(ig_store_identity_backfill(st), IG_OK); /* idempotent */
    CHECK_EQ_INT(ig_store_user_get_by_email(st, "carol.old@example.com", &got), IG_OK);
    CHECK_EQ_STR(got.display_name, "Carol Oldname");
    ig_invite_t inv;
    CHECK_EQ_INT(ig_store_invite_get_by_token(st, th, &inv), IG_OK);
    CHECK_EQ_STR(inv.email, "dave.old@example.com");
    /* a checkpoint, so the old pages are overwritten in the main file too */
    ig_store_close(st);
    st = open_db("legacy.db");
    ig_store_close(st);
    CHECK(!on_disk("legacy.db", "Oldname"));
    ig_store_set_identity_key(NULL);
}

/* The control audit chain (entries without an org, org deletions): the address is sealed under the identity
 * key, read back in clear, never in the file, and the chain verifies over the sealed bytes. */
TEST(control_audit_address_sealed)
{
    uint8_t key[32];
    memset(key, 6, sizeof key);
    CHECK_EQ_INT(ig_store_set_identity_key(key), IG_OK);
    ig_store_t *st = open_db("caudit.db");
    if (!st) return;
    ig_org_t org;
    CHECK_EQ_INT(ig_store_org_create(st, "caudit", "C", &org), IG_OK);
    ig_audit_t e1, e2, got;
    CHECK_EQ_INT(
        ig_store_audit_append(st, NULL, "anonymous", "login.failure", NULL, "198.51.100.77", "r-1", &e1),
        IG_OK);
    CHECK_EQ_STR(e1.source_ip, "198.51.100.77");
    CHECK_EQ_INT(
        ig_store_audit_append(st, org.id, "user:u1", "org.delete", org.id, "2001:db8::4242", "r-2", &e2),
        IG_OK);
    CHECK_EQ_INT(ig_store_audit_get(st, org.id, e2.id, &got), IG_OK);
    CHECK_EQ_STR(got.source_ip, "2001:db8::4242");
    CHECK_MEM(got.hash, e2.hash, 32);
    int64_t bad = -1;
    CHECK_EQ_INT(ig_store_audit_verify(st, &bad), IG_OK);
    ig_store_close(st);
    st = open_db("caudit.db"); /* a checkpoint into the main file */
    ig_store_close(st);
    CHECK(!on_disk("caudit.db", "198.51.100.77"));
    CHECK(!on_disk("caudit.db", "2001:db8::4242"));
    CHECK(on_disk("caudit.db", "login.failure")); /* the scan works: the action is in clear */
    /* verification needs no key; reading the address needs the right one */
    CHECK_EQ_INT(ig_store_set_identity_key(NULL), IG_OK);
    st = open_db("caudit.db");
    if (st) {
        CHECK_EQ_INT(ig_store_audit_verify(st, &bad), IG_OK);
        CHECK_EQ_INT(ig_store_audit_get(st, org.id, e2.id, &got), IG_EINTERNAL);
        ig_store_close(st);
    }
    ig_store_set_identity_key(NULL);
}

int main(void)
{
    umask(077);
    snprintf(g_dir, sizeof g_dir, "/tmp/ingate-store-sealed-XXXXXX");
    if (!mkdtemp(g_dir)) return 1;
    RUN(sealed_roundtrip);
    RUN(backfill_seals_clear_rows);
    RUN(control_audit_address_sealed);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0) return 1;
    UNIT_DONE();
}

/* Unit tests of src/app/datadir.c on fresh temporary directories: creation with private modes, the generated
 * master key and self-signed certificate, reuse on a second start, refusal of group/other-accessible paths
 * with fix-it messages, configured master keys (hex, base64, too short), and no key value in any message. */
#include "unit.h"
#include "app/datadir.h"
#include "config/options.h"
#include "core/err.h"
#include "core/log.h"
#include "crypto/crypto.h"
#include "net/tls.h"

#include <ctype.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_base[64];
static char g_err[1024];

static const char HEX_KEY[] = "00112233445566778899aabbccddeeff0f1e2d3c4b5a69788796a5b4c3d2e1f0";

/* Fresh (not yet existing) directory path under g_base. */
static void sub(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", g_base, name);
}

/* Loads a config with --data-dir dir and an optional environment; then opens the data directory. */
static int open_dd(ig_datadir_t *dd, const char *dir, char **envp, bool want_tls)
{
    ig_config_t cfg;
    char *argv[] = {"--data-dir", (char *)dir, NULL};
    CHECK_EQ_INT(ig_config_init(&cfg), IG_OK);
    char cerr[256] = "";
    int rc = ig_config_load(&cfg, 2, argv, envp, cerr, sizeof cerr);
    CHECK_EQ_INT(rc, IG_OK);
    if (rc) {
        fprintf(stderr, "  config: %s\n", cerr);
        ig_config_free(&cfg);
        return rc;
    }
    g_err[0] = '\0';
    rc = ig_datadir_open(dd, &cfg, want_tls, g_err, sizeof g_err);
    ig_config_free(&cfg);
    return rc;
}

static unsigned mode_of(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) return 0xffffffffu;
    return (unsigned)(st.st_mode & 07777);
}

static size_t read_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    if (n < 0) n = 0;
    buf[n] = '\0';
    return (size_t)n;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    CHECK(fd >= 0);
    if (fd < 0) return;
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    CHECK_EQ_INT(chmod(path, mode), 0);
}

static bool exists(const char *path)
{
    return access(path, F_OK) == 0;
}

TEST(new_dir_created_private_with_key_and_cert)
{
    char dir[128], path[256], buf[512];
    sub(dir, sizeof dir, "new");
    ig_datadir_t dd;
    int rc = open_dd(&dd, dir, NULL, true);
    CHECK_EQ_INT(rc, IG_OK);
    if (rc) {
        fprintf(stderr, "  %s\n", g_err);
        return;
    }
    CHECK_EQ_INT(mode_of(dir), 0700);
    CHECK_EQ_STR(dd.dir, dir);

    snprintf(path, sizeof path, "%s/master.key", dir);
    CHECK_EQ_INT(mode_of(path), 0600);
    size_t n = read_file(path, buf, sizeof buf);
    CHECK_EQ_INT(n, 65);
    bool hex = n == 65 && buf[64] == '\n';
    for (size_t i = 0; hex && i < 64; i++)
        hex = isxdigit((unsigned char)buf[i]) != 0;
    CHECK(hex);
    uint8_t k[32];
    size_t klen = 0;
    CHECK_EQ_INT(ig_hex_decode(ig_iov(buf, 64), k, sizeof k, &klen), IG_OK);
    CHECK_EQ_INT(klen, 32);
    CHECK(memcmp(k, dd.master, 32) == 0); /* the file holds the key in use */
    static const uint8_t zero[32];
    CHECK(memcmp(dd.master, zero, 32) != 0);

    char want[256];
    snprintf(want, sizeof want, "%s/tls-cert.pem", dir);
    CHECK_EQ_STR(dd.cert, want);
    snprintf(want, sizeof want, "%s/tls-key.pem", dir);
    CHECK_EQ_STR(dd.key, want);
    CHECK(exists(dd.cert));
    CHECK_EQ_INT(mode_of(dd.key), 0600);
    CHECK(read_file(dd.cert, buf, sizeof buf) > 0 && strstr(buf, "-----BEGIN CERTIFICATE-----") == buf);
    /* a usable certificate/key pair */
    char terr[256] = "";
    SSL_CTX *ctx = ig_tls_server_ctx(dd.cert, dd.key, terr, sizeof terr);
    CHECK(ctx != NULL);
    if (!ctx) fprintf(stderr, "  tls: %s\n", terr);
    SSL_CTX_free(ctx);

    snprintf(want, sizeof want, "sqlite:%s/ingate.db", dir);
    CHECK_EQ_STR(dd.store_url, want);
    snprintf(want, sizeof want, "%s/control.sock", dir);
    CHECK_EQ_STR(dd.control_sock, want);

    ig_datadir_clear(&dd);
    CHECK(memcmp(dd.master, zero, 32) == 0);
}

TEST(second_open_reuses_key_and_cert)
{
    char dir[128], cert1[4096], cert2[4096];
    sub(dir, sizeof dir, "again");
    ig_datadir_t a, b;
    CHECK_EQ_INT(open_dd(&a, dir, NULL, true), IG_OK);
    size_t n1 = read_file(a.cert, cert1, sizeof cert1);
    CHECK_EQ_INT(open_dd(&b, dir, NULL, true), IG_OK);
    CHECK(memcmp(a.master, b.master, 32) == 0);
    size_t n2 = read_file(b.cert, cert2, sizeof cert2);
    CHECK(n1 > 0 && n1 == n2 && memcmp(cert1, cert2, n1) == 0); /* not regenerated */
    ig_datadir_clear(&a);
    ig_datadir_clear(&b);

    /* without TLS no certificate is made */
    char path[256];
    sub(dir, sizeof dir, "notls");
    CHECK_EQ_INT(open_dd(&a, dir, NULL, false), IG_OK);
    snprintf(path, sizeof path, "%s/tls-cert.pem", dir);
    CHECK(!exists(path));
    snprintf(path, sizeof path, "%s/master.key", dir);
    CHECK(exists(path));
    ig_datadir_clear(&a);
}

TEST(open_dir_refused)
{
    char dir[128];
    sub(dir, sizeof dir, "opendir");
    CHECK_EQ_INT(mkdir(dir, 0700), 0);
    CHECK_EQ_INT(chmod(dir, 0755), 0);
    ig_datadir_t dd;
    CHECK(open_dd(&dd, dir, NULL, false) != IG_OK);
    CHECK(strstr(g_err, "chmod 700") != NULL);
    CHECK(strstr(g_err, dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/master.key", dir);
    CHECK(!exists(path)); /* nothing written into it */
    /* with a configured key the message still never contains it */
    char env[128];
    snprintf(env, sizeof env, "INGATE_MASTER_KEY=%s", HEX_KEY);
    char *envp[] = {env, NULL};
    CHECK(open_dd(&dd, dir, envp, false) != IG_OK);
    CHECK(strstr(g_err, "chmod 700") != NULL);
    CHECK(strstr(g_err, HEX_KEY) == NULL);
    /* group-writable only, or other-executable only: refused too */
    CHECK_EQ_INT(chmod(dir, 0720), 0);
    CHECK(open_dd(&dd, dir, NULL, false) != IG_OK);
    CHECK(strstr(g_err, "chmod 700") != NULL);
    CHECK_EQ_INT(chmod(dir, 0701), 0);
    CHECK(open_dd(&dd, dir, NULL, false) != IG_OK);
    /* fixed: accepted */
    CHECK_EQ_INT(chmod(dir, 0700), 0);
    CHECK_EQ_INT(open_dd(&dd, dir, NULL, false), IG_OK);
    ig_datadir_clear(&dd);

    /* a file where the directory should be */
    char file[128];
    sub(file, sizeof file, "afile");
    write_file(file, "x", 0600);
    CHECK(open_dd(&dd, file, NULL, false) != IG_OK);
    CHECK(g_err[0] != '\0');
}

TEST(open_master_key_refused)
{
    char dir[128], path[256];
    sub(dir, sizeof dir, "openkey");
    ig_datadir_t dd;
    CHECK_EQ_INT(open_dd(&dd, dir, NULL, false), IG_OK);
    snprintf(path, sizeof path, "%s/master.key", dir);
    char content[128];
    read_file(path, content, sizeof content);
    CHECK_EQ_INT(chmod(path, 0644), 0);
    ig_datadir_t dd2;
    CHECK(open_dd(&dd2, dir, NULL, false) != IG_OK);
    CHECK(strstr(g_err, "chmod 600") != NULL);
    CHECK(strstr(g_err, path) != NULL);
    content[64] = '\0';
    CHECK(strstr(g_err, content) == NULL); /* never the key */
    CHECK_EQ_INT(chmod(path, 0640), 0);
    CHECK(open_dd(&dd2, dir, NULL, false) != IG_OK);
    CHECK_EQ_INT(chmod(path, 0600), 0);
    CHECK_EQ_INT(open_dd(&dd2, dir, NULL, false), IG_OK);
    CHECK(memcmp(dd.master, dd2.master, 32) == 0);
    ig_datadir_clear(&dd);
    ig_datadir_clear(&dd2);

    /* a master.key that does not hold a key */
    static const char *const junk[] = {"hello\n", "0123456789abcdef\n", ""};
    for (size_t i = 0; i < IG_ARRAY_LEN(junk); i++) {
        write_file(path, junk[i], 0600);
        CHECK(open_dd(&dd2, dir, NULL, false) != IG_OK);
        CHECK(strstr(g_err, "master.key") != NULL);
        if (junk[i][0]) CHECK(strstr(g_err, "0123456789abcdef") == NULL);
    }
}

TEST(configured_master_key_hex)
{
    char dir[128], env[128], path[256];
    sub(dir, sizeof dir, "envkey");
    snprintf(env, sizeof env, "INGATE_MASTER_KEY=%s", HEX_KEY);
    char *envp[] = {env, NULL};
    ig_datadir_t dd;
    int rc = open_dd(&dd, dir, envp, false);
    CHECK_EQ_INT(rc, IG_OK);
    if (rc) fprintf(stderr, "  %s\n", g_err);
    uint8_t want[32];
    size_t n = 0;
    CHECK_EQ_INT(ig_hex_decode(ig_iov_str(HEX_KEY), want, sizeof want, &n), IG_OK);
    CHECK(memcmp(dd.master, want, 32) == 0); /* used as is */
    snprintf(path, sizeof path, "%s/master.key", dir);
    CHECK(!exists(path)); /* no key file generated next to a configured key */
    ig_datadir_clear(&dd);
}

TEST(configured_master_key_base64)
{
    char dir[128], env[128];
    sub(dir, sizeof dir, "b64key");
    /* base64 of the 32 bytes 0x00..0x1f */
    snprintf(env, sizeof env, "INGATE_MASTER_KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
    char *envp[] = {env, NULL};
    ig_datadir_t dd;
    CHECK_EQ_INT(open_dd(&dd, dir, envp, false), IG_OK);
    bool ok = true;
    for (int i = 0; i < 32; i++)
        ok = ok && dd.master[i] == i;
    CHECK(ok);
    ig_datadir_clear(&dd);
}

/* Checks that the configured key `key` is refused, with a message about 32 bytes and without the key. */
static void expect_short_refused(const char *name, const char *key)
{
    char dir[128], env[256];
    sub(dir, sizeof dir, name);
    snprintf(env, sizeof env, "INGATE_MASTER_KEY=%s", key);
    char *envp[] = {env, NULL};
    ig_datadir_t dd;
    int rc = open_dd(&dd, dir, envp, false);
    if (rc == IG_OK) fprintf(stderr, "  master key '%s' (%zu chars) was accepted\n", key, strlen(key));
    CHECK(rc != IG_OK);
    CHECK(strstr(g_err, "32 bytes") != NULL);
    CHECK(strstr(g_err, key) == NULL);
    /* not even a recognizable part of it */
    char part[17];
    snprintf(part, sizeof part, "%s", key);
    CHECK(strstr(g_err, part) == NULL);
}

TEST(short_master_key_refused)
{
    expect_short_refused("short16hex", "00112233445566778899aabbccddeeff"); /* 16 bytes as hex */
    expect_short_refused("short16b64", "ABEiM0RVZneImaq7zN3u/w==");         /* 16 bytes as base64 */
    expect_short_refused("short31b64", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg=="); /* 31 bytes */
    expect_short_refused("short63hex", "00112233445566778899aabbccddeeff0f1e2d3c4b5a69788796a5b4c3d2e1f");
}

/* A hex key of 24 bytes (48 hex chars, e.g. from `openssl rand -hex 24`) is shorter than 32 bytes and must
 * be refused, not reinterpreted as 36 bytes of base64. */
TEST(short_hex_key_not_reread_as_base64)
{
    expect_short_refused("hex24", "00112233445566778899aabbccddeeff0011223344556677");
    expect_short_refused("hex30", "00112233445566778899aabbccddeeff00112233445566778899aabbccdd");
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

/* Removes the temporary tree. */
static void rm_base(void)
{
    if (nftw(g_base, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) fprintf(stderr, "cannot remove %s\n", g_base);
}

int main(void)
{
    ig_log_set_level(IG_LOG_ERROR);
    snprintf(g_base, sizeof g_base, "/tmp/ingate-test-datadir-XXXXXX");
    if (!mkdtemp(g_base)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(new_dir_created_private_with_key_and_cert);
    RUN(second_open_reuses_key_and_cert);
    RUN(open_dir_refused);
    RUN(open_master_key_refused);
    RUN(configured_master_key_hex);
    RUN(configured_master_key_base64);
    RUN(short_master_key_refused);
    RUN(short_hex_key_not_reread_as_base64);
    rm_base();
    UNIT_DONE();
}

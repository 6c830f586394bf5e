/* datadir.c — data directory checks, master key and certificate bootstrap. */
#include "app/datadir.h"
#include "core/err.h"
#include "core/log.h"
#include "crypto/crypto.h"
#include "net/tls.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static int check_private(const char *path, bool is_dir, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "cannot stat %s: %s", path, strerror(errno));
        return IG_EIO;
    }
    if (is_dir != S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s is not a %s", path, is_dir ? "directory" : "regular file");
        return IG_EINVAL;
    }
    if (st.st_mode & 077) {
        snprintf(
            err, errlen,
            "refusing to start: %s is accessible by group or others (mode %03o); fix it with: chmod %s %s",
            path, (unsigned)(st.st_mode & 0777), is_dir ? "700" : "600", path);
        return IG_EINVAL;
    }
    return IG_OK;
}

static int decode_master(const char *s, uint8_t out[32], char *err, size_t errlen)
{
    uint8_t buf[128];
    size_t n = 0;
    ig_iov_t v = ig_iov_trim(ig_iov_str(s));
    int rc = IG_EINVAL;
    bool all_hex = v.len > 0;
    for (size_t i = 0; i < v.len; i++)
        if (!isxdigit((unsigned char)v.base[i])) all_hex = false;
    /* a value made only of hex digits is hex (never re-read as base64): it must be 64 characters */
    if (all_hex) {
        if (v.len == 64 && ig_hex_decode(v, buf, sizeof buf, &n) == IG_OK) rc = IG_OK;
    } else if (ig_b64_decode(v, buf, sizeof buf, &n) == IG_OK) {
        rc = IG_OK;
    }
    if (rc != IG_OK || n < 32) {
        snprintf(
            err, errlen,
            "refusing to start: the configured master key must be 32 bytes or more, as 64 hex characters or "
            "base64 (generate one with: openssl rand -hex 32)");
        ig_wipe(buf, sizeof buf);
        return IG_EINVAL;
    }
    /* longer keys are condensed to 32 bytes with HKDF so every byte counts */
    if (n == 32)
        memcpy(out, buf, 32);
    else
        rc = ig_hkdf_sha256((const uint8_t *)"ingate-master", 13, buf, n, NULL, 0, out, 32);
    ig_wipe(buf, sizeof buf);
    return rc;
}

static int load_or_make_master(ig_datadir_t *dd, char *err, size_t errlen)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/master.key", dd->dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 && errno == ENOENT) {
        uint8_t k[32];
        char hex[65];
        if (ig_random(k, sizeof k) != IG_OK) return IG_ECRYPTO;
        ig_hex_encode(k, 32, hex);
        hex[64] = '\n';
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0) {
            snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
            return IG_EIO;
        }
        ssize_t w = write(fd, hex, 65);
        int ok = w == 65 && fsync(fd) == 0;
        close(fd);
        memcpy(dd->master, k, 32);
        ig_wipe(k, sizeof k);
        ig_wipe(hex, sizeof hex);
        if (!ok) {
            unlink(path);
            snprintf(err, errlen, "cannot write %s", path);
            return IG_EIO;
        }
        IG_INFO("datadir",
                "generated a new master key in %s (back it up: provider keys cannot be decrypted without it)",
                path);
        return IG_OK;
    }
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return IG_EIO;
    }
    close(fd);
    int rc = check_private(path, false, err, errlen);
    if (rc) return rc;
    char buf[256];
    fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0) close(fd);
    if (n <= 0) {
        snprintf(err, errlen, "cannot read %s", path);
        return IG_EIO;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    rc = decode_master(buf, dd->master, err, errlen);
    ig_wipe(buf, sizeof buf);
    if (rc)
        snprintf(err, errlen, "refusing to start: %s does not hold a 32-byte key (64 hex characters)", path);
    return rc;
}

int ig_datadir_read_master(const char *path, uint8_t out[32], char *err, size_t errlen)
{
    int rc = check_private(path, false, err, errlen);
    if (rc) return rc;
    char buf[256];
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0) close(fd);
    if (n <= 0) {
        snprintf(err, errlen, "cannot read %s", path);
        return IG_EIO;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    rc = decode_master(buf, out, err, errlen);
    ig_wipe(buf, sizeof buf);
    return rc;
}

int ig_datadir_write_master(const char *path, const uint8_t key[32], char *err, size_t errlen)
{
    char hex[65];
    ig_hex_encode(key, 32, hex);
    hex[64] = '\n';
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        return IG_EIO;
    }
    bool ok = write(fd, hex, 65) == 65 && fsync(fd) == 0;
    close(fd);
    ig_wipe(hex, sizeof hex);
    if (!ok) {
        unlink(path);
        snprintf(err, errlen, "cannot write %s", path);
        return IG_EIO;
    }
    return IG_OK;
}

int ig_datadir_open(ig_datadir_t *dd, const ig_config_t *cfg, bool want_tls, char *err, size_t errlen)
{
    memset(dd, 0, sizeof *dd);
    int rc;
    if (snprintf(dd->dir, sizeof dd->dir, "%s", cfg->data_dir) >= (int)sizeof dd->dir) {
        snprintf(err, errlen, "data_dir is too long");
        return IG_EINVAL;
    }
    if (mkdir(dd->dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create data directory %s: %s", dd->dir, strerror(errno));
        return IG_EIO;
    }
    if ((rc = check_private(dd->dir, true, err, errlen))) return rc;
    if (cfg->master_key && *cfg->master_key)
        rc = decode_master(cfg->master_key, dd->master, err, errlen);
    else
        rc = load_or_make_master(dd, err, errlen);
    if (rc) return rc;
    snprintf(dd->store_url, sizeof dd->store_url, "sqlite:%s/ingate.db", dd->dir);
    snprintf(dd->control_sock, sizeof dd->control_sock, "%s/control.sock", dd->dir);
    if (!want_tls) return IG_OK;
    if (cfg->tls_cert && *cfg->tls_cert) {
        if (!cfg->tls_key || !*cfg->tls_key) {
            snprintf(
                err, errlen,
                "tls_cert is set but tls_key is not: set both, or neither to use a generated certificate");
            return IG_EINVAL;
        }
        snprintf(dd->cert, sizeof dd->cert, "%s", cfg->tls_cert);
        snprintf(dd->key, sizeof dd->key, "%s", cfg->tls_key);
        return check_private(dd->key, false, err, errlen);
    }
    snprintf(dd->cert, sizeof dd->cert, "%s/tls-cert.pem", dd->dir);
    snprintf(dd->key, sizeof dd->key, "%s/tls-key.pem", dd->dir);
    if (access(dd->cert, R_OK) != 0 || access(dd->key, R_OK) != 0) {
        if (ig_tls_make_selfsigned(dd->cert, dd->key) != IG_OK) {
            snprintf(err, errlen, "cannot generate a self-signed certificate in %s", dd->dir);
            return IG_ECRYPTO;
        }
        IG_INFO("datadir", "generated a self-signed ECDSA P-256 certificate: %s", dd->cert);
    }
    return check_private(dd->key, false, err, errlen);
}

void ig_datadir_clear(ig_datadir_t *dd)
{
    ig_wipe(dd->master, sizeof dd->master);
}

/*
 * datadir.h — the data directory: its permissions, the master key and the TLS certificate made on first
 * start.
 *
 * Secure by default: a data directory or key file that group or others can access is refused with a message
 * saying how to fix it, and so is a configured master key shorter than 32 bytes.
 */
#ifndef IG_APP_DATADIR_H
#define IG_APP_DATADIR_H

#include "config/options.h"

#include <stdint.h>

typedef struct ig_datadir {
    char dir[4096];
    char cert[4200], key[4200]; /* TLS files in use */
    char store_url[4200];
    char control_sock[4200];
    uint8_t master[32];
} ig_datadir_t;

/* Creates (0700) or checks the directory, loads or generates the master key, and when `want_tls` makes the
 * self-signed certificate unless one is configured. On error writes a one-line fix-it message into err. */
int ig_datadir_open(ig_datadir_t *dd, const ig_config_t *cfg, bool want_tls, char *err, size_t errlen);
void ig_datadir_clear(ig_datadir_t *dd);
/* Reads a master key file (mode 0600 or stricter, 64 hex characters). */
int ig_datadir_read_master(const char *path, uint8_t out[32], char *err, size_t errlen);
/* Writes a new master key file (0600, O_EXCL, fsync'ed). */
int ig_datadir_write_master(const char *path, const uint8_t key[32], char *err, size_t errlen);

#endif

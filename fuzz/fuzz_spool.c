/* fuzz_spool.c — libFuzzer target for the spool reader: a spool file's bytes (a crash while appending, a full
 * disk, bit rot) are replayed; every record handed to the sink must be well-formed (texts NUL-terminated
 * within their arrays, blob pointers inside the file's frame memory with their lengths), and the reader must
 * never crash, loop or leak, whatever the bytes. */
#include "capture/spool.h"
#include "core/err.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_dir[64];
static ig_spool_t *g_sp;

static int sink(void *ctx, const char *org_id, const ig_logrec_t *recs, size_t n)
{
    (void)ctx;
    if (!org_id || strlen(org_id) > 32 || n == 0 || n > 256) abort();
    for (size_t i = 0; i < n; i++) {
        const ig_logrec_t *r = &recs[i];
        if (strnlen(r->id, sizeof r->id) == sizeof r->id ||
            strnlen(r->key_id, sizeof r->key_id) == sizeof r->key_id ||
            strnlen(r->provider, sizeof r->provider) == sizeof r->provider || !r->path)
            abort();
        volatile size_t sum =
            strlen(r->path) + (r->model ? strlen(r->model) : 0) + (r->error ? strlen(r->error) : 0);
        (void)sum;
        /* touching every blob byte lets ASan check the pointers and lengths */
        const uint8_t *b[5] = {r->req_body, r->resp_body, r->user_id, r->session_id, r->client_ip};
        size_t l[5] = {r->req_body_len, r->resp_body_len, r->user_id_len, r->session_id_len,
                       r->client_ip_len};
        volatile unsigned x = 0;
        for (int k = 0; k < 5; k++)
            for (size_t j = 0; b[k] && j < l[k]; j++)
                x += b[k][j];
        (void)x;
    }
    return (recs[0].status & 1) ? IG_OK : IG_ESTORE; /* exercise both outcomes */
}

static void cleanup(void)
{
    ig_spool_close(g_sp);
    rmdir(g_dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_sp) {
        atexit(cleanup);
        snprintf(g_dir, sizeof g_dir, "/tmp/ingate-fuzz-spool-%d", (int)getpid());
        int err = 0;
        g_sp = ig_spool_open(g_dir, &err);
        if (!g_sp) abort();
    }
    char path[128];
    snprintf(path, sizeof path, "%s/spool-0000000000001-1-000000.log", g_dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return 0;
    if (size && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        unlink(path);
        return 0;
    }
    close(fd);
    uint64_t n = 0;
    (void)ig_spool_replay(g_sp, sink, NULL, &n);
    unlink(path); /* a failed replay keeps the file: the next input starts clean */
    return 0;
}

/* control.c — control socket server thread and client. */
#include "admin/control.h"
#include "auth/authcache.h"
#include "core/err.h"
#include "core/log.h"
#include "crypto/crypto.h"
#include "webhook/webhook.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int g_fd = -1;
static int g_wake[2] = {-1, -1};
static pthread_t g_thread;
static char g_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

static int (*g_reload_master)(void);

void ig_control_on_reload_master(int (*fn)(void))
{
    g_reload_master = fn;
}

static const char *handle(char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    if (strcmp(line, "ping") == 0) return "ok\n";
    if (strcmp(line, "reload-master") == 0) {
        if (!g_reload_master) return "error not supported\n";
        return g_reload_master() == IG_OK ? "ok\n" : "error reload failed\n";
    }
    if (strcmp(line, "wake-webhooks") == 0) { /* purge-logs queued logs.expiring deliveries */
        ig_webhook_wake();
        return "ok\n";
    }
    if (strcmp(line, "invalidate-all") == 0) {
        ig_authcache_invalidate_all();
        return "ok\n";
    }
    if (strncmp(line, "invalidate-key ", 15) == 0) {
        uint8_t h[32];
        size_t hl = 0;
        if (ig_hex_decode(ig_iov_str(line + 15), h, sizeof h, &hl) != IG_OK || hl != 32)
            return "error bad hash\n";
        ig_authcache_invalidate_key(h);
        return "ok\n";
    }
    if (strncmp(line, "invalidate-org ", 15) == 0) {
        if (strlen(line + 15) > 64) return "error bad id\n";
        ig_authcache_invalidate_org(line + 15);
        return "ok\n";
    }
    return "error unknown command\n";
}

static void *control_main(void *arg)
{
    for (;;) {
        struct pollfd p[2] = {{g_fd, POLLIN, 0}, {g_wake[0], POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (p[1].revents) break;
        int c = accept4(g_fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) continue;
        struct ucred cred;
        socklen_t cl = sizeof cred;
        if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cred, &cl) != 0 ||
            (cred.uid != getuid() && cred.uid != 0)) {
            close(c);
            continue;
        }
        struct timeval tv = {2, 0};
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        char line[256];
        ssize_t r = read(c, line, sizeof line - 1);
        if (r > 0) {
            line[r] = '\0';
            const char *ans = handle(line);
            ssize_t w = write(c, ans, strlen(ans));
            (void)w;
        }
        close(c);
    }
    return NULL;
}

int ig_control_start(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) return IG_EINVAL;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    snprintf(g_path, sizeof g_path, "%s", path);
    unlink(path);
    g_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (g_fd < 0) return IG_EIO;
    mode_t old = umask(0077);
    int rc = bind(g_fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (rc != 0 || listen(g_fd, 16) != 0 || pipe2(g_wake, O_CLOEXEC) != 0) {
        close(g_fd);
        g_fd = -1;
        return IG_EIO;
    }
    if (pthread_create(&g_thread, NULL, control_main, NULL) != 0) return IG_EINTERNAL;
    return IG_OK;
}

void ig_control_stop(void)
{
    if (g_fd < 0) return;
    ssize_t w = write(g_wake[1], "x", 1);
    (void)w;
    pthread_join(g_thread, NULL);
    close(g_fd);
    close(g_wake[0]);
    close(g_wake[1]);
    unlink(g_path);
    g_fd = -1;
}

int ig_control_send(const char *path, const char *line)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) return IG_EINVAL;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return IG_EIO;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return IG_EUNAVAILABLE;
    }
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[64];
    int rc = IG_EIO;
    size_t n = strlen(line);
    if (write(fd, line, n) == (ssize_t)n) {
        ssize_t r = read(fd, buf, sizeof buf - 1);
        if (r >= 2 && memcmp(buf, "ok", 2) == 0) rc = IG_OK;
    }
    close(fd);
    return rc;
}

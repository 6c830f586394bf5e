/*
 * ttfb.c — keep-alive HTTP/1.1 latency client for bench/run.sh (plain or TLS 1.3).
 *
 * Two jobs:
 *   measure  C connections (one thread each) send N requests in total, one at a time per connection, over
 *            keep-alive. Each sample runs from just before the request is written to
 *              --mode first  the first response-body byte (for SSE: the first byte of the first "data:" line;
 *                            the chunked framing is decoded, so chunk-size lines do not count), or
 *              --mode full   the last byte of the response.
 *            The TLS handshake and one warm-up request per connection are excluded. Prints one line:
 *              RESULT n=.. errors=.. p50_us=.. p90_us=.. p99_us=.. min_us=.. max_us=.. mean_us=..
 *   --hold   opens C connections one after another, completes the handshake and one request on each, prints
 *              HELD ok=.. failed=..
 *            and then keeps them all open and idle until SIGTERM/SIGINT.
 *
 * usage: ttfb --port P [--host 127.0.0.1] [--tls] [--conns C] [--requests N] [--mode first|full] [--hold]
 *             [--path /v1/chat/completions] [--body JSON] [-H "Name: value"]...
 * Build: cc -O2 -o ttfb ttfb.c -lssl -lcrypto -lpthread
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_HDRS 32
#define RBUF (64 * 1024)

static const char *g_host = "127.0.0.1";
static int g_port;
static bool g_tls;
static int g_conns = 1;
static int g_requests = 200;
static bool g_mode_first;
static bool g_hold;
static const char *g_path = "/v1/chat/completions";
static const char *g_body = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"Say hello\"}]}";
static const char *g_hdrs[MAX_HDRS];
static int g_nhdrs;
static SSL_CTX *g_ctx;
static char *g_req;
static size_t g_req_len;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t *g_samples;
static int g_nsamples;
static int g_errors;
static int g_next; /* requests handed out so far */

typedef struct conn {
    int fd;
    SSL *ssl;
    char buf[RBUF];
    size_t off, len; /* unread bytes are buf[off, len) */
} conn_t;

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void conn_close(conn_t *c)
{
    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->off = c->len = 0;
}

static int conn_open(conn_t *c)
{
    c->fd = -1;
    c->ssl = NULL;
    c->off = c->len = 0;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_port)};
    if (inet_pton(AF_INET, g_host, &sa.sin_addr) != 1 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->fd = fd;
    if (g_tls) {
        c->ssl = SSL_new(g_ctx);
        if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1 || SSL_connect(c->ssl) != 1) {
            ERR_clear_error();
            conn_close(c);
            return -1;
        }
    }
    return 0;
}

static int conn_write(conn_t *c, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w;
        if (c->ssl) {
            int r = SSL_write(c->ssl, p, (int)n);
            w = r > 0 ? r : -1;
        } else {
            w = send(c->fd, p, n, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR) continue;
        }
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads more bytes into the buffer (compacting it first). Returns bytes read, 0 on EOF, -1 on error. */
static ssize_t conn_fill(conn_t *c)
{
    if (c->off > 0) {
        memmove(c->buf, c->buf + c->off, c->len - c->off);
        c->len -= c->off;
        c->off = 0;
    }
    if (c->len == sizeof c->buf) return -1; /* a header line longer than the buffer */
    for (;;) {
        ssize_t r;
        if (c->ssl) {
            int n = SSL_read(c->ssl, c->buf + c->len, (int)(sizeof c->buf - c->len));
            if (n <= 0) {
                int e = SSL_get_error(c->ssl, n);
                ERR_clear_error();
                return e == SSL_ERROR_ZERO_RETURN ? 0 : -1;
            }
            r = n;
        } else {
            r = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
            if (r < 0 && errno == EINTR) continue;
        }
        if (r > 0) c->len += (size_t)r;
        return r;
    }
}

/* Returns a pointer to the next CRLF-terminated line (without CRLF) and its length, reading as needed. */
static const char *conn_line(conn_t *c, size_t *n)
{
    for (;;) {
        char *s = c->buf + c->off;
        char *e = memmem(s, c->len - c->off, "\r\n", 2);
        if (e) {
            *n = (size_t)(e - s);
            c->off += *n + 2;
            return s;
        }
        if (conn_fill(c) <= 0) return NULL;
    }
}

/* Consumes n body bytes; *t_first is set when the first body byte is available. */
static int conn_body(conn_t *c, uint64_t n, uint64_t *t_first, bool *first_ok, bool *seen)
{
    while (n > 0) {
        if (c->off == c->len && conn_fill(c) <= 0) return -1;
        size_t avail = c->len - c->off;
        size_t take = avail < n ? avail : (size_t)n;
        if (!*seen && take > 0) {
            *seen = true;
            *t_first = now_us();
            *first_ok = take >= 5 ? memcmp(c->buf + c->off, "data:", 5) == 0 : true;
        }
        c->off += take;
        n -= take;
    }
    return 0;
}

/* Sends the request and reads the whole response. Returns the status (>0) or -1; *keep says whether the
 * connection may be reused. t_first/t_end are the first-body-byte and end times. */
static int do_request(conn_t *c, uint64_t *t0, uint64_t *t_first, uint64_t *t_end, bool *keep, bool *first_ok)
{
    *t0 = now_us();
    *t_first = 0;
    *first_ok = true;
    *keep = false;
    if (conn_write(c, g_req, g_req_len) != 0) return -1;
    size_t n;
    const char *l = conn_line(c, &n);
    if (!l || n < 12 || memcmp(l, "HTTP/1.", 7) != 0) return -1;
    int status = atoi(l + 9);
    bool http10 = l[7] == '0';
    int64_t clen = -1;
    bool chunked = false, close_hdr = false;
    for (;;) {
        l = conn_line(c, &n);
        if (!l) return -1;
        if (n == 0) break;
        if (n > 15 && strncasecmp(l, "content-length:", 15) == 0) clen = strtoll(l + 15, NULL, 10);
        if (n > 18 && strncasecmp(l, "transfer-encoding:", 18) == 0 && memmem(l, n, "chunked", 7)) chunked = true;
        if (n > 11 && strncasecmp(l, "connection:", 11) == 0 && memmem(l, n, "close", 5)) close_hdr = true;
    }
    bool seen = false;
    if (chunked) {
        for (;;) {
            l = conn_line(c, &n);
            if (!l) return -1;
            char tmp[32];
            size_t k = n < sizeof tmp - 1 ? n : sizeof tmp - 1;
            memcpy(tmp, l, k);
            tmp[k] = '\0';
            uint64_t sz = strtoull(tmp, NULL, 16);
            if (sz == 0) {
                do { /* trailers until the empty line */
                    l = conn_line(c, &n);
                    if (!l) return -1;
                } while (n != 0);
                break;
            }
            if (conn_body(c, sz, t_first, first_ok, &seen) != 0) return -1;
            l = conn_line(c, &n); /* CRLF after the chunk */
            if (!l || n != 0) return -1;
        }
    } else if (clen >= 0) {
        if (conn_body(c, (uint64_t)clen, t_first, first_ok, &seen) != 0) return -1;
    } else {
        /* delimited by EOF */
        for (;;) {
            if (c->off < c->len && !seen) {
                seen = true;
                *t_first = now_us();
            }
            c->off = c->len;
            ssize_t r = conn_fill(c);
            if (r < 0) return -1;
            if (r == 0) break;
        }
        close_hdr = true;
    }
    *t_end = now_us();
    if (!seen) *t_first = *t_end;
    *keep = !close_hdr && !http10;
    return status;
}

static void record(uint64_t us, bool err)
{
    pthread_mutex_lock(&g_mu);
    if (err)
        g_errors++;
    else
        g_samples[g_nsamples++] = us;
    pthread_mutex_unlock(&g_mu);
}

static bool take_ticket(void)
{
    pthread_mutex_lock(&g_mu);
    bool ok = g_next < g_requests;
    if (ok) g_next++;
    pthread_mutex_unlock(&g_mu);
    return ok;
}

static void *measure_thread(void *arg)
{
    (void)arg;
    conn_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->fd = -1;
    bool open = false;
    bool warmed = false;
    for (;;) {
        if (!open) {
            if (conn_open(c) != 0) {
                if (!take_ticket()) break;
                record(0, true);
                usleep(10000);
                continue;
            }
            open = true;
        }
        uint64_t t0, tf, te;
        bool keep, first_ok;
        if (!warmed) { /* one unmeasured request per connection: caches, upstream connection, TLS tickets */
            int st = do_request(c, &t0, &tf, &te, &keep, &first_ok);
            warmed = true;
            if (st < 0 || !keep) {
                conn_close(c);
                open = false;
            }
            continue;
        }
        if (!take_ticket()) break;
        int st = do_request(c, &t0, &tf, &te, &keep, &first_ok);
        bool err = st != 200 || (g_mode_first && !first_ok);
        record(g_mode_first ? tf - t0 : te - t0, err);
        if (st < 0 || !keep) {
            conn_close(c);
            open = false;
        }
    }
    if (open) conn_close(c);
    free(c);
    return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t pct(const uint64_t *s, int n, double p)
{
    if (n == 0) return 0;
    /* nearest rank */
    int k = (int)(p / 100.0 * n + 0.999999);
    if (k < 1) k = 1;
    if (k > n) k = n;
    return s[k - 1];
}

static volatile sig_atomic_t g_stop;
static void on_sig(int s)
{
    (void)s;
    g_stop = 1;
}

static int run_hold(void)
{
    conn_t **cs = calloc((size_t)g_conns, sizeof *cs);
    if (!cs) return 1;
    int ok = 0, failed = 0;
    for (int i = 0; i < g_conns; i++) {
        conn_t *c = calloc(1, sizeof *c);
        if (!c) {
            failed++;
            continue;
        }
        uint64_t t0, tf, te;
        bool keep, first_ok;
        if (conn_open(c) != 0 || do_request(c, &t0, &tf, &te, &keep, &first_ok) != 200 || !keep) {
            conn_close(c);
            free(c);
            failed++;
            continue;
        }
        cs[ok++] = c;
    }
    printf("HELD ok=%d failed=%d\n", ok, failed);
    fflush(stdout);
    while (!g_stop)
        pause();
    for (int i = 0; i < ok; i++) {
        conn_close(cs[i]);
        free(cs[i]);
    }
    free(cs);
    return failed ? 1 : 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: ttfb --port P [--host H] [--tls] [--conns C] [--requests N] [--mode first|full] "
                    "[--hold] [--path P] [--body JSON] [-H 'Name: value']...\n");
    exit(2);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--tls")) {
            g_tls = true;
        } else if (!strcmp(a, "--hold")) {
            g_hold = true;
        } else if (v && !strcmp(a, "--port")) {
            g_port = atoi(v), i++;
        } else if (v && !strcmp(a, "--host")) {
            g_host = v, i++;
        } else if (v && !strcmp(a, "--conns")) {
            g_conns = atoi(v), i++;
        } else if (v && !strcmp(a, "--requests")) {
            g_requests = atoi(v), i++;
        } else if (v && !strcmp(a, "--mode")) {
            if (!strcmp(v, "first"))
                g_mode_first = true;
            else if (!strcmp(v, "full"))
                g_mode_first = false;
            else
                usage();
            i++;
        } else if (v && !strcmp(a, "--path")) {
            g_path = v, i++;
        } else if (v && !strcmp(a, "--body")) {
            g_body = v, i++;
        } else if (v && !strcmp(a, "-H")) {
            if (g_nhdrs == MAX_HDRS) usage();
            g_hdrs[g_nhdrs++] = v, i++;
        } else {
            usage();
        }
    }
    if (g_port <= 0 || g_conns < 1 || g_requests < 1) usage();
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_sig};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    size_t cap = 4096 + strlen(g_body) + strlen(g_path);
    for (int i = 0; i < g_nhdrs; i++)
        cap += strlen(g_hdrs[i]) + 2;
    g_req = malloc(cap);
    if (!g_req) return 1;
    int n = snprintf(g_req, cap, "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n", g_path,
                     g_host, g_port);
    for (int i = 0; i < g_nhdrs; i++)
        n += snprintf(g_req + n, cap - (size_t)n, "%s\r\n", g_hdrs[i]);
    n += snprintf(g_req + n, cap - (size_t)n, "Content-Length: %zu\r\n\r\n%s", strlen(g_body), g_body);
    g_req_len = (size_t)n;

    if (g_tls) {
        g_ctx = SSL_CTX_new(TLS_client_method());
        if (!g_ctx) return 1;
        SSL_CTX_set_min_proto_version(g_ctx, TLS1_3_VERSION);
        SSL_CTX_set_max_proto_version(g_ctx, TLS1_3_VERSION);
        SSL_CTX_set_verify(g_ctx, SSL_VERIFY_NONE, NULL); /* self-signed benchmark certificate */
    }
    if (g_hold) return run_hold();

    g_samples = calloc((size_t)g_requests, sizeof *g_samples);
    pthread_t *th = calloc((size_t)g_conns, sizeof *th);
    if (!g_samples || !th) return 1;
    for (int i = 0; i < g_conns; i++)
        if (pthread_create(&th[i], NULL, measure_thread, NULL) != 0) return 1;
    for (int i = 0; i < g_conns; i++)
        pthread_join(th[i], NULL);
    qsort(g_samples, (size_t)g_nsamples, sizeof *g_samples, cmp_u64);
    uint64_t sum = 0;
    for (int i = 0; i < g_nsamples; i++)
        sum += g_samples[i];
    printf("RESULT n=%d errors=%d p50_us=%llu p90_us=%llu p99_us=%llu min_us=%llu max_us=%llu mean_us=%llu\n",
           g_nsamples, g_errors, (unsigned long long)pct(g_samples, g_nsamples, 50),
           (unsigned long long)pct(g_samples, g_nsamples, 90), (unsigned long long)pct(g_samples, g_nsamples, 99),
           (unsigned long long)(g_nsamples ? g_samples[0] : 0),
           (unsigned long long)(g_nsamples ? g_samples[g_nsamples - 1] : 0),
           (unsigned long long)(g_nsamples ? sum / (uint64_t)g_nsamples : 0));
    return g_errors ? 1 : 0;
}

/* Unit tests of src/http/conn.c driven in-process: one end of a socketpair is adopted as a plain connection
 * of a real server on a real event loop (as fuzz/fuzz_http.c does), raw request bytes are written on the
 * other end, the loop is run non-blocking, and the raw response bytes are parsed and checked here. */
#include "unit.h"
#include "core/err.h"
#include "core/log.h"
#include "http/http.h"
#include "net/loop.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static ig_loop_t g_loop;
static ig_http_server_t g_srv;
static ig_http_server_t g_fast; /* same handlers, 300 ms header timeout */

/* ---- handlers ---- */

static int g_on_headers_calls, g_on_request_calls;
static char g_last_path[256], g_last_query[256], g_last_xtest[256];

static void copy_iov(char *out, size_t cap, ig_iov_t v)
{
    snprintf(out, cap, "%.*s", (int)v.len, v.base ? v.base : "");
}

static int h_on_headers(ig_req_t *req)
{
    g_on_headers_calls++;
    ig_iov_t shape = ig_req_header(req, IG_IOV_LIT("x-shape"));
    if (shape.base && ig_iov_ieq(shape, IG_IOV_LIT("flat"))) req->errshape = IG_ERRSHAPE_FLAT;
    if (ig_iov_has_prefix(req->path, IG_IOV_LIT("/deny"))) return IG_EBADKEY;
    req->body_max = ig_iov_has_prefix(req->path, IG_IOV_LIT("/small")) ? 10 : 1 << 20;
    return IG_OK;
}

static void h_on_request(ig_req_t *req)
{
    g_on_request_calls++;
    copy_iov(g_last_path, sizeof g_last_path, req->path);
    copy_iov(g_last_query, sizeof g_last_query, req->query);
    copy_iov(g_last_xtest, sizeof g_last_xtest, ig_req_header(req, IG_IOV_LIT("x-test")));
    if (ig_iov_eq(req->path, IG_IOV_LIT("/stream"))) {
        static const ig_header_t ct = {IG_IOV_LIT("Content-Type"), IG_IOV_LIT("text/plain")};
        if (ig_resp_start(req, 200, &ct, 1, -1) != IG_OK) {
            ig_resp_abort(req);
            return;
        }
        CHECK_EQ_INT(ig_resp_write(req, "hello", 5), IG_OK);
        CHECK_EQ_INT(ig_resp_write(req, " world", 6), IG_OK);
        ig_resp_finish(req);
        return;
    }
    if (ig_iov_has_prefix(req->path, IG_IOV_LIT("/echo")) ||
        ig_iov_has_prefix(req->path, IG_IOV_LIT("/small"))) {
        static const ig_header_t ct = {IG_IOV_LIT("Content-Type"), IG_IOV_LIT("text/plain")};
        if (ig_resp_start_with_body(req, 200, &ct, 1, req->body.data ? req->body.data : "", req->body.len) !=
            IG_OK) {
            ig_resp_abort(req);
            return;
        }
        ig_resp_finish(req);
        return;
    }
    char body[300];
    int n = snprintf(body, sizeof body, "{\"path\":\"%s\"}", g_last_path);
    ig_resp_json(req, 200, body, (size_t)n);
}

/* ---- client side ---- */

typedef struct {
    int fd;
    char buf[1 << 18];
    size_t len;
    bool eof;
} client_t;

static client_t g_cl;

static void sleep_us(long us)
{
    struct timespec ts = {0, us * 1000L};
    nanosleep(&ts, NULL);
}

/* One loop pass, then reads whatever the server sent. Returns true if bytes arrived or EOF was seen. */
static bool pump(client_t *c)
{
    event_base_loop(g_loop.base, EVLOOP_NONBLOCK);
    bool progress = false;
    for (;;) {
        if (c->fd < 0 || c->eof || c->len == sizeof c->buf) break;
        ssize_t r = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
        if (r > 0) {
            c->len += (size_t)r;
            progress = true;
        } else if (r == 0) {
            c->eof = true;
            progress = true;
        } else {
            break; /* EAGAIN */
        }
    }
    return progress;
}

static bool client_open_on(client_t *c, ig_http_server_t *srv)
{
    memset(c, 0, sizeof *c);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return false;
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    c->fd = sv[1];
    if (ig_http_adopt(srv, sv[0], NULL, false) != IG_OK) {
        close(sv[1]);
        c->fd = -1;
        return false;
    }
    return true;
}

static bool client_open(client_t *c)
{
    return client_open_on(c, &g_srv);
}

static void client_send(client_t *c, const void *p, size_t n)
{
    const char *q = p;
    for (int spins = 0; n > 0 && spins < 100000; spins++) {
        ssize_t w = write(c->fd, q, n);
        if (w > 0) {
            q += w;
            n -= (size_t)w;
        } else if (w < 0 && errno != EAGAIN) {
            break; /* the server closed on us: the response tells why */
        }
        pump(c);
    }
}

static void client_sends(client_t *c, const char *s)
{
    client_send(c, s, strlen(s));
}

/* Closes the client end and lets the server notice; checks the server dropped the connection. */
static void client_close(client_t *c)
{
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    for (int i = 0; i < 2000 && g_srv.nconns + g_fast.nconns > 0; i++) {
        event_base_loop(g_loop.base, EVLOOP_NONBLOCK);
        if (g_srv.nconns + g_fast.nconns > 0) sleep_us(500);
    }
    CHECK_EQ_INT(g_srv.nconns, 0);
    CHECK_EQ_INT(g_fast.nconns, 0);
    event_base_loop(g_loop.base, EVLOOP_NONBLOCK); /* deferred frees */
}

/* ---- response parsing ---- */

typedef struct {
    int status;
    char head[20000]; /* status line and headers, NUL-terminated, without the blank line */
    char body[65536];
    size_t body_len;
    const char *raw_body; /* the body as framed on the wire (points into the client buffer) */
    size_t raw_body_len;
} resp_t;

/* Value of header `name` (case-insensitive) into out; false when absent. */
static bool hdr(const resp_t *r, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    const char *line = strstr(r->head, "\r\n");
    while (line) {
        line += 2;
        const char *end = strstr(line, "\r\n");
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > nl && line[nl] == ':' && strncasecmp(line, name, nl) == 0) {
            const char *v = line + nl + 1;
            while (*v == ' ')
                v++;
            snprintf(out, cap, "%.*s", (int)(line + len - v), v);
            return true;
        }
        line = end;
    }
    return false;
}

static bool has_hdr_value(const resp_t *r, const char *name, const char *value)
{
    char v[512];
    return hdr(r, name, v, sizeof v) && strcmp(v, value) == 0;
}

/* Parses one response at p; returns the bytes it takes when complete, 0 when more is needed, -1 when it is
 * malformed. head_req: the response to a HEAD request (no body whatever the headers say). */
static long parse_resp(const char *p, size_t len, bool head_req, bool eof, resp_t *r)
{
    memset(r, 0, sizeof *r);
    const char *end = memmem(p, len, "\r\n\r\n", 4);
    if (!end) return 0;
    size_t hlen = (size_t)(end - p);
    if (hlen >= sizeof r->head || len < 12 || memcmp(p, "HTTP/1.1 ", 9) != 0) return -1;
    memcpy(r->head, p, hlen);
    r->head[hlen] = '\0';
    char *e = NULL;
    r->status = (int)strtol(r->head + 9, &e, 10);
    if (e != r->head + 12) return -1;
    size_t off = hlen + 4;
    r->raw_body = p + off;
    char v[64];
    if ((r->status >= 100 && r->status < 200) || r->status == 204 || r->status == 304 || head_req)
        return (long)off;
    if (hdr(r, "Transfer-Encoding", v, sizeof v)) {
        if (strcmp(v, "chunked") != 0) return -1;
        size_t q = off;
        for (;;) {
            const char *crlf = memmem(p + q, len - q, "\r\n", 2);
            if (!crlf) return 0;
            char num[32];
            size_t nlen = (size_t)(crlf - (p + q));
            if (nlen == 0 || nlen >= sizeof num) return -1;
            memcpy(num, p + q, nlen);
            num[nlen] = '\0';
            char *ne = NULL;
            unsigned long sz = strtoul(num, &ne, 16);
            if (*ne != '\0') return -1;
            q += nlen + 2;
            if (len - q < sz + 2) return 0;
            if (memcmp(p + q + sz, "\r\n", 2) != 0) return -1;
            if (sz == 0) {
                q += 2;
                break;
            }
            if (r->body_len + sz > sizeof r->body) return -1;
            memcpy(r->body + r->body_len, p + q, sz);
            r->body_len += sz;
            q += sz + 2;
        }
        r->raw_body_len = q - off;
        return (long)q;
    }
    if (hdr(r, "Content-Length", v, sizeof v)) {
        unsigned long cl = strtoul(v, &e, 10);
        if (*e != '\0' || cl > sizeof r->body) return -1;
        if (len - off < cl) return 0;
        memcpy(r->body, p + off, cl);
        r->body_len = r->raw_body_len = cl;
        return (long)(off + cl);
    }
    if (!eof) return 0; /* close-delimited */
    if (len - off > sizeof r->body) return -1;
    memcpy(r->body, p + off, len - off);
    r->body_len = r->raw_body_len = len - off;
    return (long)len;
}

static resp_t g_resp[4];

/* Parses up to max responses from the client buffer; head_mask bit i = response i answers a HEAD. */
static int parse_all(client_t *c, int max, unsigned head_mask)
{
    size_t off = 0;
    int n = 0;
    while (n < max && off < c->len) {
        long k = parse_resp(c->buf + off, c->len - off, (head_mask >> n) & 1u, c->eof, &g_resp[n]);
        if (k <= 0) break;
        off += (size_t)k;
        n++;
    }
    return n;
}

/* Runs the loop until n responses are complete (or EOF, or 3 s). Returns how many were parsed. */
static int wait_responses(client_t *c, int n, unsigned head_mask)
{
    int got = 0;
    for (int i = 0; i < 6000; i++) {
        bool progress = pump(c);
        got = parse_all(c, n, head_mask);
        if (got >= n || c->eof) break;
        if (!progress) sleep_us(500);
    }
    return parse_all(c, n, head_mask);
}

/* Runs the loop until the server closes the connection (EOF) or 3 s pass. */
static bool wait_eof(client_t *c)
{
    for (int i = 0; i < 6000 && !c->eof; i++)
        if (!pump(c)) sleep_us(500);
    return c->eof;
}

/* a UUIDv7 whose 48-bit millisecond timestamp is within a minute of now */
static bool is_v7_uuid(const char *s)
{
    if (strlen(s) != 36) return false;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') return false;
        } else if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i])) {
            return false;
        }
    }
    if (s[14] != '7' || strchr("89ab", s[19]) == NULL) return false;
    uint64_t ms = 0;
    for (int i = 0; i < 13; i++) {
        if (i == 8) continue;
        char ch = s[i];
        ms = ms * 16 + (uint64_t)(ch <= '9' ? ch - '0' : ch - 'a' + 10);
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t now_ms = (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
    return ms + 60000 > now_ms && ms < now_ms + 60000;
}

/* One request on a fresh connection; expects one response. Returns the number of responses parsed. */
static int one_shot(const char *request, unsigned head_mask)
{
    if (!client_open(&g_cl)) {
        CHECK(!"client_open");
        return 0;
    }
    client_sends(&g_cl, request);
    return wait_responses(&g_cl, 1, head_mask);
}

/* ---- tests ---- */

TEST(get_has_security_headers_and_request_id)
{
    int calls = g_on_request_calls;
    CHECK_EQ_INT(one_shot("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", 0), 1);
    resp_t *r = &g_resp[0];
    CHECK_EQ_INT(r->status, 200);
    CHECK_EQ_INT(g_on_request_calls, calls + 1);
    CHECK(has_hdr_value(r, "X-Content-Type-Options", "nosniff"));
    CHECK(has_hdr_value(r, "X-Frame-Options", "DENY"));
    CHECK(has_hdr_value(r, "X-XSS-Protection", "1; mode=block"));
    char v[512];
    CHECK(hdr(r, "Referrer-Policy", v, sizeof v) && v[0]);
    CHECK(hdr(r, "Permissions-Policy", v, sizeof v) && strstr(v, "camera=()") != NULL);
    CHECK(hdr(r, "Strict-Transport-Security", v, sizeof v) && strncmp(v, "max-age=", 8) == 0);
    CHECK(hdr(r, "Content-Security-Policy", v, sizeof v) && strstr(v, "default-src 'none'") != NULL);
    CHECK(hdr(r, "Date", v, sizeof v) && strstr(v, "GMT") != NULL);
    CHECK(has_hdr_value(r, "Content-Type", "application/json"));
    CHECK(hdr(r, "X-Ingate-Request-Id", v, sizeof v));
    CHECK(is_v7_uuid(v));
    CHECK_EQ_INT(r->body_len, strlen("{\"path\":\"/hello\"}"));
    CHECK(memcmp(r->body, "{\"path\":\"/hello\"}", r->body_len) == 0);
    CHECK(!hdr(r, "Connection", v, sizeof v)); /* HTTP/1.1 keep-alive is the default */
    /* the connection stays open */
    for (int i = 0; i < 20; i++)
        pump(&g_cl);
    CHECK(!g_cl.eof);
    CHECK_EQ_INT(g_srv.nconns, 1);
    client_close(&g_cl);
}

TEST(path_query_and_header_lookup)
{
    CHECK_EQ_INT(one_shot("GET /q/p?a=1&b=2 HTTP/1.1\r\nHost: x\r\nX-TEST:   spaced value  \r\n\r\n", 0), 1);
    CHECK_EQ_INT(g_resp[0].status, 200);
    CHECK_EQ_STR(g_last_path, "/q/p");
    CHECK_EQ_STR(g_last_query, "a=1&b=2");
    CHECK_EQ_STR(g_last_xtest, "spaced value");
    client_close(&g_cl);
}

TEST(keepalive_pipelined_in_order)
{
    if (!client_open(&g_cl)) return;
    client_sends(&g_cl, "GET /first HTTP/1.1\r\nHost: x\r\n\r\n"
                        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                        "GET /third HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK_EQ_INT(wait_responses(&g_cl, 3, 0), 3);
    CHECK_EQ_INT(g_resp[0].status, 200);
    CHECK_EQ_INT(g_resp[0].body_len, 17);
    CHECK(memcmp(g_resp[0].body, "{\"path\":\"/first\"}", 17) == 0);
    CHECK_EQ_INT(g_resp[1].body_len, 3);
    CHECK(memcmp(g_resp[1].body, "abc", 3) == 0);
    CHECK(memcmp(g_resp[2].body, "{\"path\":\"/third\"}", 17) == 0);
    char id0[64] = "", id2[64] = "";
    CHECK(hdr(&g_resp[0], "X-Ingate-Request-Id", id0, sizeof id0));
    CHECK(hdr(&g_resp[2], "X-Ingate-Request-Id", id2, sizeof id2));
    CHECK(is_v7_uuid(id0) && is_v7_uuid(id2));
    CHECK(strcmp(id0, id2) != 0);
    CHECK(!g_cl.eof);
    /* and a later request on the same connection */
    g_cl.len = 0;
    client_sends(&g_cl, "GET /fourth HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK_EQ_INT(wait_responses(&g_cl, 1, 0), 1);
    CHECK(memcmp(g_resp[0].body, "{\"path\":\"/fourth\"}", 18) == 0);
    client_close(&g_cl);
}

TEST(http10_closes)
{
    /* complete response: Content-Length, Connection: close, then the server closes */
    CHECK_EQ_INT(one_shot("GET /old HTTP/1.0\r\n\r\n", 0), 1);
    char v[64];
    CHECK_EQ_INT(g_resp[0].status, 200);
    CHECK(hdr(&g_resp[0], "Content-Length", v, sizeof v));
    CHECK(has_hdr_value(&g_resp[0], "Connection", "close"));
    CHECK(wait_eof(&g_cl));
    client_close(&g_cl);

    /* streamed response to HTTP/1.0: no chunked framing, delimited by the close */
    if (!client_open(&g_cl)) return;
    client_sends(&g_cl, "GET /stream HTTP/1.0\r\n\r\n");
    CHECK(wait_eof(&g_cl));
    CHECK_EQ_INT(parse_all(&g_cl, 1, 0), 1);
    CHECK_EQ_INT(g_resp[0].status, 200);
    CHECK(!hdr(&g_resp[0], "Transfer-Encoding", v, sizeof v));
    CHECK(!hdr(&g_resp[0], "Content-Length", v, sizeof v));
    CHECK_EQ_INT(g_resp[0].body_len, 11);
    CHECK(memcmp(g_resp[0].body, "hello world", 11) == 0);
    client_close(&g_cl);

    /* HTTP/1.1 asking for close: answered, then closed */
    CHECK_EQ_INT(one_shot("GET /bye HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 0), 1);
    CHECK_EQ_INT(g_resp[0].status, 200);
    CHECK(has_hdr_value(&g_resp[0], "Connection", "close"));
    CHECK(wait_eof(&g_cl));
    client_close(&g_cl);

    /* HTTP/1.0 asking for keep-alive keeps the connection */
    CHECK_EQ_INT(one_shot("GET /ka HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 0), 1);
    CHECK(has_hdr_value(&g_resp[0], "Connection", "keep-alive"));
    for (int i = 0; i < 20; i++)
        pump(&g_cl);
    CHECK(!g_cl.eof);
    client_close(&g_cl);
}

TEST(chunked_stream_framing)
{
    CHECK_EQ_INT(one_shot("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n", 0), 1);
    resp_t *r = &g_resp[0];
    CHECK_EQ_INT(r->status, 200);
    CHECK(has_hdr_value(r, "Transfer-Encoding", "chunked"));
    char v[64];
    CHECK(!hdr(r, "Content-Length", v, sizeof v));
    static const char wire[] = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    CHECK_EQ_INT(r->raw_body_len, sizeof wire - 1);
    CHECK(r->raw_body_len == sizeof wire - 1 && memcmp(r->raw_body, wire, sizeof wire - 1) == 0);
    CHECK_EQ_INT(r->body_len, 11);
    /* nothing after the terminating chunk, and the connection is reusable */
    CHECK_EQ_INT((size_t)(r->raw_body + r->raw_body_len - g_cl.buf), g_cl.len);
    g_cl.len = 0;
    client_sends(&g_cl, "GET /again HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK_EQ_INT(wait_responses(&g_cl, 1, 0), 1);
    CHECK_EQ_INT(g_resp[0].status, 200);
    client_close(&g_cl);
}

/* A request whose header block has one header of `value_len` bytes plus `extra` small headers. */
static char *big_request(size_t value_len, int extra)
{
    size_t cap = value_len + (size_t)extra * 32 + 256;
    char *s = malloc(cap);
    if (!s) return NULL;
    size_t o = (size_t)snprintf(s, cap, "GET /big HTTP/1.1\r\nHost: x\r\n");
    if (value_len) {
        o += (size_t)snprintf(s + o, cap - o, "X-Big: ");
        memset(s + o, 'a', value_len);
        o += value_len;
        o += (size_t)snprintf(s + o, cap - o, "\r\n");
    }
    for (int i = 0; i < extra; i++)
        o += (size_t)snprintf(s + o, cap - o, "X-H%d: v\r\n", i);
    snprintf(s + o, cap - o, "\r\n");
    return s;
}

TEST(header_limits)
{
    /* a 15000-byte header is fine */
    char *req = big_request(15000, 0);
    CHECK_EQ_INT(one_shot(req, 0), 1);
    CHECK_EQ_INT(g_resp[0].status, 200);
    client_close(&g_cl);
    free(req);

    /* over 16 KiB: 431 and close */
    int calls = g_on_headers_calls;
    req = big_request(17 * 1024, 0);
    CHECK_EQ_INT(one_shot(req, 0), 1);
    CHECK_EQ_INT(g_resp[0].status, 431);
    CHECK(has_hdr_value(&g_resp[0], "Connection", "close"));
    CHECK(strstr(g_resp[0].head, "HTTP/1.1 431 Request Header Fields Too Large") == g_resp[0].head);
    CHECK_EQ_INT(g_on_headers_calls, calls);
    CHECK(wait_eof(&g_cl));
    client_close(&g_cl);
    free(req);

    /* 100 header lines (Host + 99) are accepted; 101 are not */
    req = big_request(0, 99);
    CHECK_EQ_INT(one_shot(req, 0), 1);
    CHECK_EQ_INT(g_resp[0].status, 200);
    client_close(&g_cl);
    free(req);
    req = big_request(0, 100);
    CHECK_EQ_INT(one_shot(req, 0), 1);
    CHECK_EQ_INT(g_resp[0].status, 431);
    CHECK(has_hdr_value(&g_resp[0], "Connection", "close"));
    CHECK(wait_eof(&g_cl));
    client_close(&g_cl);
    free(req);
}

TEST(body_limits)
{
    int calls = g_on_request_calls;
    /* at the limit */
    CHECK_EQ_INT(one_shot("POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789", 0), 1);
    CHECK_EQ_INT(g_resp[0].status, 200);
    CHECK_EQ_INT(g_resp[0].body_len, 10);
    client_close(&g_cl);
    CHECK_EQ_INT(g_on_request_calls, calls + 1);

    /* declared over the limit */
    CHECK_EQ_INT(one_shot("POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n0123456789A", 0), 1);
    CHECK_EQ_INT(g_resp[0].status, 413);
    CHECK(has_hdr_value(&g_resp[0], "Connection", "close"));
    CHECK(wait_eof(&g_cl));
    client_close(&g_cl);

    /* chunked, over the limit once read */
    CHECK_EQ_INT(one_shot("POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n",
                          0),
                 1);
    CHECK_EQ_INT(g_resp[0].status, 413);
    CHECK(wait_eof(&g_cl));
    client_close(&g_cl);

    /* beyond any possible limit: refused before the handler sees the headers */
    int hcalls = g_on_headers_calls;
    CHECK_EQ_INT(one_shot("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n", 0), 1);
    CHECK_EQ_INT(g_resp[0].status, 413);
    CHECK_EQ_INT(g_on_headers_calls, hcalls);
    client_close(&g_cl);
    CHECK_EQ_INT(g_on_request_calls, calls + 1);

    /* a chunked body within the limit arrives de-chunked */
    CHECK_EQ_INT(one_shot("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
                          0),
                 1);
    CHECK_EQ_INT(g_resp[0].status, 200);
    CHECK_EQ_INT(g_resp[0].body_len, 11);
    CHECK(memcmp(g_resp[0].body, "hello world", 11) == 0);
    client_close(&g_cl);
}

TEST(on_headers_error_shapes)
{
    int calls = g_on_request_calls;
    /* OpenAI shape (default) */
    CHECK_EQ_INT(one_shot("POST /deny HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", 0), 1);
    CHECK_EQ_INT(g_resp[0].status, 401);
    CHECK(has_hdr_value(&g_resp[0], "Content-Type", "application/json"));
    cJSON *j = cJSON_ParseWithLength(g_resp[0].body, g_resp[0].body_len);
    CHECK(j != NULL);
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(j, "error");
    CHECK(cJSON_IsObject(err));
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "type")), "authentication_error");
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "code")), "invalid_api_key");
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(err, "message")), "invalid API key");
    cJSON_Delete(j);
    client_close(&g_cl);

    /* flat shape, with the request id matching the header */
    CHECK_EQ_INT(one_shot("GET /deny HTTP/1.1\r\nHost: x\r\nX-Shape: flat\r\n\r\n", 0), 1);
    CHECK_EQ_INT(g_resp[0].status, 401);
    j = cJSON_ParseWithLength(g_resp[0].body, g_resp[0].body_len);
    CHECK(j != NULL);
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "error")), "invalid API key");
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "error_code")), "invalid_api_key");
    char id[64] = "";
    CHECK(hdr(&g_resp[0], "X-Ingate-Request-Id", id, sizeof id));
    CHECK_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "request_id")), id);
    cJSON_Delete(j);
    client_close(&g_cl);

    /* a request pipelined behind a refused one is not served */
    if (client_open(&g_cl)) {
        client_sends(&g_cl, "GET /deny HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n");
        CHECK(wait_eof(&g_cl));
        CHECK_EQ_INT(parse_all(&g_cl, 2, 0), 1);
        CHECK_EQ_INT(g_resp[0].status, 401);
        client_close(&g_cl);
    }
    CHECK_EQ_INT(g_on_request_calls, calls); /* never reached the request handler */
}

/* Content-Length together with Transfer-Encoding is a request-smuggling vector: refused, never served. */
TEST(content_length_with_transfer_encoding_refused)
{
    int calls = g_on_request_calls;
    CHECK_EQ_INT(
        one_shot("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
                 0),
        1);
    CHECK_EQ_INT(g_resp[0].status, 400);
    CHECK(wait_eof(&g_cl));
    CHECK_EQ_INT(parse_all(&g_cl, 2, 0), 1);
    client_close(&g_cl);
    CHECK_EQ_INT(g_on_request_calls, calls);
}

/* Slowloris: a header block that does not complete within header_timeout_ms gets 408 and a close. */
TEST(header_timeout_408)
{
    if (!client_open_on(&g_cl, &g_fast)) return;
    client_sends(&g_cl, "GET /slow HTTP/1.1\r\nHost: x\r\nX-Partial: ");
    CHECK_EQ_INT(wait_responses(&g_cl, 1, 0), 1);
    CHECK_EQ_INT(g_resp[0].status, 408);
    CHECK(has_hdr_value(&g_resp[0], "Connection", "close"));
    CHECK(wait_eof(&g_cl));
    client_close(&g_cl);
}

TEST(malformed_requests_400)
{
    static const char *const bad[] = {
        "BLAH / HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "GET / HTTP/1.1\r\nBad Header Line\r\n\r\n",
        "\x01\x02\x03 garbage\r\n\r\n",
    };
    int calls = g_on_request_calls;
    for (size_t i = 0; i < IG_ARRAY_LEN(bad); i++) {
        CHECK_EQ_INT(one_shot(bad[i], 0), 1);
        if (g_resp[0].status != 400) fprintf(stderr, "  request %zu: status %d\n", i, g_resp[0].status);
        CHECK_EQ_INT(g_resp[0].status, 400);
        CHECK(has_hdr_value(&g_resp[0], "Connection", "close"));
        CHECK(memmem(g_resp[0].body, g_resp[0].body_len, "malformed HTTP request", 22) != NULL);
        char v[64];
        CHECK(hdr(&g_resp[0], "X-Ingate-Request-Id", v, sizeof v) && is_v7_uuid(v));
        CHECK(wait_eof(&g_cl));
        client_close(&g_cl);
    }
    CHECK_EQ_INT(g_on_request_calls, calls);

    /* a version other than 1.x */
    CHECK_EQ_INT(one_shot("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 0), 1);
    CHECK_EQ_INT(g_resp[0].status, 505);
    client_close(&g_cl);
}

TEST(head_has_no_body)
{
    if (!client_open(&g_cl)) return;
    client_sends(&g_cl, "HEAD /h HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK_EQ_INT(wait_responses(&g_cl, 2, 1u), 2);
    char v[64];
    CHECK_EQ_INT(g_resp[0].status, 200);
    CHECK(hdr(&g_resp[0], "Content-Length", v, sizeof v) && strcmp(v, "13") == 0); /* {"path":"/h"} */
    /* the second response starts right after the first one's header block */
    CHECK(strncmp(g_resp[0].raw_body, "HTTP/1.1 200", 12) == 0);
    CHECK_EQ_INT(g_resp[1].status, 200);
    CHECK(memcmp(g_resp[1].body, "{\"path\":\"/after\"}", 17) == 0);
    client_close(&g_cl);

    /* a streamed response to HEAD: no chunk framing at all */
    if (!client_open(&g_cl)) return;
    client_sends(&g_cl, "HEAD /stream HTTP/1.1\r\nHost: x\r\n\r\nGET /x HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK_EQ_INT(wait_responses(&g_cl, 2, 1u), 2);
    CHECK(strncmp(g_resp[0].raw_body, "HTTP/1.1 200", 12) == 0);
    CHECK(memcmp(g_resp[1].body, "{\"path\":\"/x\"}", 13) == 0);
    client_close(&g_cl);
}

TEST(expect_100_continue)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    if (!client_open(&g_cl)) return;
    client_sends(&g_cl,
                 "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    for (int i = 0; i < 6000 && g_cl.len < sizeof cont - 1; i++)
        if (!pump(&g_cl)) sleep_us(500);
    CHECK_EQ_INT(g_cl.len, sizeof cont - 1); /* the interim response and nothing else yet */
    CHECK(memcmp(g_cl.buf, cont, sizeof cont - 1) == 0);
    client_sends(&g_cl, "hello");
    CHECK_EQ_INT(wait_responses(&g_cl, 2, 0), 2);
    CHECK_EQ_INT(g_resp[0].status, 100);
    CHECK_EQ_INT(g_resp[1].status, 200);
    CHECK_EQ_INT(g_resp[1].body_len, 5);
    CHECK(memcmp(g_resp[1].body, "hello", 5) == 0);
    client_close(&g_cl);

    /* refused at header time: no 100 Continue, straight to the error */
    CHECK_EQ_INT(
        one_shot("POST /deny HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n", 0),
        1);
    CHECK_EQ_INT(g_resp[0].status, 401);
    CHECK(memmem(g_cl.buf, g_cl.len, "100 Continue", 12) == NULL);
    client_close(&g_cl);
}

int main(void)
{
    ig_log_set_level(IG_LOG_ERROR);
    if (ig_loop_global_init() != IG_OK || ig_loop_init(&g_loop, 0, NULL) != IG_OK) return 1;
    ig_http_limits_t lim = {.max_body_bytes = 1 << 20,
                            .header_timeout_ms = 10000,
                            .idle_timeout_ms = 10000,
                            .body_timeout_ms = 10000,
                            .max_connections = 100};
    ig_http_handlers_t h = {h_on_headers, h_on_request, NULL};
    if (ig_http_server_init(&g_srv, &g_loop, NULL, &lim, &h) != IG_OK) return 1;
    lim.header_timeout_ms = 300;
    if (ig_http_server_init(&g_fast, &g_loop, NULL, &lim, &h) != IG_OK) return 1;

    RUN(get_has_security_headers_and_request_id);
    RUN(path_query_and_header_lookup);
    RUN(keepalive_pipelined_in_order);
    RUN(http10_closes);
    RUN(chunked_stream_framing);
    RUN(header_limits);
    RUN(body_limits);
    RUN(on_headers_error_shapes);
    RUN(content_length_with_transfer_encoding_refused);
    RUN(header_timeout_408);
    RUN(malformed_requests_400);
    RUN(head_has_no_body);
    RUN(expect_100_continue);

    ig_http_server_clear(&g_srv);
    ig_http_server_clear(&g_fast);
    event_base_loop(g_loop.base, EVLOOP_NONBLOCK); /* deferred frees */
    ig_loop_clear(&g_loop);
    UNIT_DONE();
}

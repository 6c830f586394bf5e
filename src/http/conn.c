/*
 * conn.c — HTTP/1.1 connections over libevent bufferevents (OpenSSL or plain socket), parsed by http-parser.
 *
 * One request at a time per connection: after a request is complete the parser is paused until its response
 * is finished; pipelined bytes stay in the input buffer and are parsed afterwards. Header bytes and count are
 * capped (431), bodies are capped by req->body_max (413), and one connection timer enforces, by state, the
 * idle keep-alive timeout, the header-read timeout (whole header block, against slowloris) and the
 * between-reads body timeout. A rejected request gets its response and then a lingering close: we stop
 * answering, keep discarding input briefly, so the client reads the error instead of a reset.
 *
 * Invariants: conn memory is freed only from conn_free(), which runs from a libevent callback or a deferred
 * event — never underneath a handler that is still using the request.
 */
#include "http/http.h"
#include "core/err.h"
#include "core/limits.h"
#include "core/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <http_parser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

atomic_int ig_http_open_conns;

typedef enum {
    ST_IDLE,     /* waiting for the first byte of a request */
    ST_HEAD,     /* reading request line + headers */
    ST_AUTH,     /* headers done, waiting for on_headers async work */
    ST_BODY,     /* reading the body */
    ST_HANDLING, /* request complete, response in progress */
    ST_LINGER,   /* response sent after an error; discarding input, then close */
    ST_CLOSED
} conn_state_t;

struct ig_conn {
    ig_conn_t *prev, *next;
    ig_http_server_t *srv;
    struct bufferevent *bev;
    SSL *ssl;
    struct event *timer;
    http_parser parser;
    conn_state_t state;
    ig_req_t *req;
    ig_pool_t *pool;
    ig_buf_t hfield, hvalue; /* header being assembled */
    ig_buf_t head;           /* response head being built (kept across requests) */
    bool in_value;
    size_t head_bytes;
    size_t hdrs_cap;
    int parse_err; /* IG_E* set by parser callbacks */
    bool closing;  /* close after the output is flushed */
    bool freed;
    bool in_parse;         /* conn_parse is on the stack */
    bool trimmed;          /* idle memory given back (conn_trim) */
    bool pending_dispatch; /* a complete request waits for on_request */
    char peer[INET6_ADDRSTRLEN];
    uint32_t nreq;
};

static const char SECURITY_HEADERS[] =
    "X-Content-Type-Options: nosniff\r\n"
    "X-Frame-Options: DENY\r\n"
    "X-XSS-Protection: 1; mode=block\r\n"
    "Referrer-Policy: strict-origin-when-cross-origin\r\n"
    "Permissions-Policy: geolocation=(), camera=(), microphone=()\r\n"
    "Strict-Transport-Security: max-age=63072000; includeSubDomains; preload\r\n";
static const char API_CSP[] = "default-src 'none'; frame-ancestors 'none'";

static void conn_close(ig_conn_t *c);
static void conn_parse(ig_conn_t *c);
static void conn_start_linger(ig_conn_t *c);

/* ----------------------------------------------------------------------------------------------------------
 */
/* timers */

static void arm_timer(ig_conn_t *c, const struct timeval *tv)
{
    if (tv)
        event_add(c->timer, tv);
    else
        event_del(c->timer);
}

/* Frees what an idle keep-alive connection does not need: its request pool (running the request's cleanup
 * hooks, which wipe the decrypted provider key) and scratch buffers. An idle TLS connection then holds little
 * beyond OpenSSL's own state, and no secret outlives its request by more than one loop iteration. */
static void conn_trim(ig_conn_t *c)
{
    ig_pool_free(c->pool);
    c->pool = NULL;
    ig_buf_free(&c->hfield, false);
    ig_buf_free(&c->hvalue, false);
    ig_buf_free(&c->head, false);
    c->trimmed = true;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    ig_conn_t *c = arg;
    switch (c->state) {
    case ST_HEAD:
    case ST_BODY:
        /* slowloris / stalled body: answer 408 when we can, then close */
        if (c->req && !c->req->resp_started) {
            c->req->keepalive = false;
            ig_resp_error(c->req, IG_EHDRTIMEOUT, NULL);
            return;
        }
        conn_close(c);
        return;
    case ST_IDLE:
        if (!c->trimmed && c->pool) {
            /* the response is done: free the request (its cleanups wipe secrets and cancel handles) and the
             * scratch buffers now, in a fresh loop iteration, then wait out the keep-alive timeout */
            conn_trim(c);
            arm_timer(c, c->srv->tv_idle);
            return;
        }
        conn_close(c);
        return;
    case ST_LINGER:
    default:
        conn_close(c);
        return;
    }
}

/* ----------------------------------------------------------------------------------------------------------
 */
/* requests */

/* Random bytes for request ids from a per-thread pool refilled by RAND_bytes 4 KiB at a time: one DRBG call
 * (and its fork check, a getpid() syscall) per ~400 requests instead of per request. */
static int rand_take(unsigned char *out, size_t n)
{
    static _Thread_local unsigned char pool[4096];
    static _Thread_local size_t left;
    if (left < n) {
        if (RAND_bytes(pool, sizeof pool) != 1) return IG_EINTERNAL;
        left = sizeof pool;
    }
    memcpy(out, pool + sizeof pool - left, n);
    memset(pool + sizeof pool - left, 0, n);
    left -= n;
    return IG_OK;
}

static int new_request(ig_conn_t *c)
{
    if (!c->pool && !(c->pool = ig_pool_new(4096))) return IG_ENOMEM;
    c->trimmed = false;
    ig_pool_reset(c->pool);
    ig_req_t *r = ig_pool_calloc(c->pool, sizeof *r);
    if (!r) return IG_ENOMEM;
    r->conn = c;
    r->srv = c->srv;
    r->pool = c->pool;
    r->body_max = IG_PREAUTH_MAX_BODY_BYTES;
    r->t_start_ns = ig_now_ns();
    r->peer_ip = c->peer;
    r->resp_content_length = -1;
    ig_buf_init(&r->body, r->body_max);
    c->hdrs_cap = 24;
    r->hdrs = ig_pool_alloc(c->pool, c->hdrs_cap * sizeof(ig_header_t));
    if (!r->hdrs) return IG_ENOMEM;
    /* request id: a UUIDv7 (RFC 9562) — 48-bit Unix ms timestamp, then random bits — so ids sort by time and
     * the call log's primary key grows at its end instead of at random places */
    unsigned char u[16];
    if (rand_take(u + 6, 10) != IG_OK) return IG_EINTERNAL;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    for (int i = 0; i < 6; i++)
        u[i] = (unsigned char)(ms >> (40 - 8 * i));
    u[6] = (unsigned char)((u[6] & 0x0f) | 0x70);
    u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
    static const char hx[] = "0123456789abcdef";
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) r->id[o++] = '-';
        r->id[o++] = hx[u[i] >> 4];
        r->id[o++] = hx[u[i] & 15];
    }
    r->id[o] = '\0';
    c->req = r;
    c->in_value = false;
    c->head_bytes = 0;
    c->parse_err = 0;
    ig_buf_reset(&c->hfield);
    ig_buf_reset(&c->hvalue);
    return IG_OK;
}

static void req_release(ig_conn_t *c)
{
    if (!c->req) return;
    ig_buf_free(&c->req->body, false);
    c->req = NULL;
}

ig_iov_t ig_req_header(const ig_req_t *req, ig_iov_t name)
{
    for (size_t i = 0; i < req->nhdrs; i++)
        if (ig_iov_ieq(req->hdrs[i].name, name)) return req->hdrs[i].value;
    return IG_IOV_NULL;
}

/* ----------------------------------------------------------------------------------------------------------
 */
/* parser callbacks */

static int count_head(ig_conn_t *c, size_t len)
{
    c->head_bytes += len;
    if (c->head_bytes > IG_MAX_HEADER_BYTES) {
        c->parse_err = IG_EHDRTOOBIG;
        return -1;
    }
    return 0;
}

static int on_message_begin(http_parser *p)
{
    ig_conn_t *c = p->data;
    if (!c->req && new_request(c) != IG_OK) {
        c->parse_err = IG_ENOMEM;
        return -1;
    }
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    ig_conn_t *c = p->data;
    if (count_head(c, len)) return -1;
    if (c->hvalue.len + len > IG_MAX_URL_BYTES) {
        c->parse_err = IG_EURITOOLONG;
        return -1;
    }
    if (ig_buf_append(&c->hvalue, at, len) != IG_OK) {
        c->parse_err = IG_EHDRTOOBIG;
        return -1;
    }
    return 0;
}

static int flush_header(ig_conn_t *c)
{
    ig_req_t *r = c->req;
    if (r->nhdrs >= IG_MAX_HEADER_COUNT) {
        c->parse_err = IG_EHDRTOOBIG;
        return -1;
    }
    if (r->nhdrs == c->hdrs_cap) {
        size_t ncap = c->hdrs_cap * 2;
        ig_header_t *nh = ig_pool_alloc(c->pool, ncap * sizeof *nh);
        if (!nh) goto oom;
        memcpy(nh, r->hdrs, r->nhdrs * sizeof *nh);
        r->hdrs = nh;
        c->hdrs_cap = ncap;
    }
    char *n = ig_pool_strndup(c->pool, c->hfield.data, c->hfield.len);
    char *v = ig_pool_strndup(c->pool, c->hvalue.data, c->hvalue.len);
    if (!n || !v) goto oom;
    r->hdrs[r->nhdrs].name = ig_iov(n, c->hfield.len);
    r->hdrs[r->nhdrs].value = ig_iov_trim(ig_iov(v, c->hvalue.len));
    r->nhdrs++;
    ig_buf_reset(&c->hfield);
    ig_buf_reset(&c->hvalue);
    c->in_value = false;
    return 0;
oom:
    c->parse_err = IG_ENOMEM;
    return -1;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    ig_conn_t *c = p->data;
    if (count_head(c, len)) return -1;
    if (c->in_value && flush_header(c)) return -1;
    if (!c->req->url.base) {
        /* the URL was collected in hvalue: move it into the pool */
        char *u = ig_pool_strndup(c->pool, c->hvalue.data, c->hvalue.len);
        if (!u) return -1;
        c->req->url = ig_iov(u, c->hvalue.len);
        ig_buf_reset(&c->hvalue);
    }
    if (ig_buf_append(&c->hfield, at, len) != IG_OK) {
        c->parse_err = IG_EHDRTOOBIG;
        return -1;
    }
    return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    ig_conn_t *c = p->data;
    if (count_head(c, len)) return -1;
    c->in_value = true;
    if (ig_buf_append(&c->hvalue, at, len) != IG_OK) {
        c->parse_err = IG_EHDRTOOBIG;
        return -1;
    }
    return 0;
}

static void split_url(ig_req_t *r)
{
    const char *q = memchr(r->url.base, '?', r->url.len);
    if (q) {
        r->path = ig_iov(r->url.base, (size_t)(q - r->url.base));
        r->query = ig_iov(q + 1, r->url.len - r->path.len - 1);
    } else {
        r->path = r->url;
        r->query = ig_iov(r->url.base + r->url.len, 0);
    }
}

static void begin_body(ig_conn_t *c)
{
    ig_req_t *r = c->req;
    r->body.max = r->body_max;
    if (r->expect_continue && c->parser.content_length > 0 && !r->resp_started) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        bufferevent_write(c->bev, cont, sizeof cont - 1);
    }
    c->state = ST_BODY;
    arm_timer(c, c->srv->tv_body);
}

static int on_headers_complete(http_parser *p)
{
    ig_conn_t *c = p->data;
    ig_req_t *r = c->req;
    if (c->in_value && flush_header(c)) return -1;
    if (!r->url.base) {
        char *u = ig_pool_strndup(c->pool, c->hvalue.data, c->hvalue.len);
        if (!u) return -1;
        r->url = ig_iov(u, c->hvalue.len);
        ig_buf_reset(&c->hvalue);
    }
    if (p->http_major != 1) {
        c->parse_err = IG_EBADVERSION;
        return -1;
    }
    split_url(r);
    r->method = p->method;
    r->method_name = http_method_str((enum http_method)p->method);
    r->http_minor = p->http_minor;
    r->keepalive = http_should_keep_alive(p) && !c->srv->draining;
    r->head_only = p->method == HTTP_HEAD;
    ig_iov_t ex = ig_req_header(r, IG_IOV_LIT("expect"));
    r->expect_continue = ex.base && ig_iov_ieq(ex, IG_IOV_LIT("100-continue"));
    /* a body larger than any limit we would grant is refused before the handler runs */
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > IG_MAX_MAX_BODY_BYTES) {
        c->parse_err = IG_ETOOBIG;
        return -1;
    }
    int rc = c->srv->handlers.on_headers ? c->srv->handlers.on_headers(r) : IG_OK;
    if (rc == IG_EAGAIN) {
        c->state = ST_AUTH;
        arm_timer(c, NULL);
        http_parser_pause(p, 1);
        return 0;
    }
    if (rc != IG_OK) {
        /* rc == 1: the handler answered; < 0: answer with the error. Either way no body is read. */
        if (rc < 0) {
            r->keepalive = false;
            ig_resp_error(r, rc, NULL);
        }
        http_parser_pause(p, 1);
        return 0;
    }
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > r->body_max) {
        c->parse_err = IG_ETOOBIG;
        return -1;
    }
    begin_body(c);
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    ig_conn_t *c = p->data;
    if (ig_buf_append(&c->req->body, at, len) != IG_OK) {
        c->parse_err = IG_ETOOBIG;
        return -1;
    }
    return 0;
}

static int on_message_complete(http_parser *p)
{
    ig_conn_t *c = p->data;
    c->state = ST_HANDLING;
    c->nreq++;
    arm_timer(c, NULL);
    http_parser_pause(p, 1);
    /* the handler runs after http_parser_execute returns, never inside it */
    c->pending_dispatch = !c->req->resp_started;
    return 0;
}

static const http_parser_settings PARSER_SETTINGS = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* Feeds buffered input to the parser until it pauses, errs, or the buffer is empty. */
static void conn_parse(ig_conn_t *c)
{
    if (c->in_parse) return; /* the outer call keeps going with the new state */
    c->in_parse = true;
    struct evbuffer *in = bufferevent_get_input(c->bev);
    while (!c->closing && c->state != ST_LINGER && c->state != ST_CLOSED) {
        if (HTTP_PARSER_ERRNO(&c->parser) == HPE_PAUSED) break;
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0) break;
        if (c->state == ST_IDLE) {
            c->state = ST_HEAD;
            arm_timer(c, c->srv->tv_header);
        }
        size_t n = http_parser_execute(&c->parser, &PARSER_SETTINGS, v.iov_base, v.iov_len);
        enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
        evbuffer_drain(in, n);
        if (c->freed) return;
        if (c->pending_dispatch) {
            c->pending_dispatch = false;
            c->srv->handlers.on_request(c->req);
            if (c->freed) return;
            continue;
        }
        if (e == HPE_OK || e == HPE_PAUSED) {
            if (c->state == ST_BODY) arm_timer(c, c->srv->tv_body);
            continue;
        }
        /* a parse error: answer 4xx once, then linger-close */
        int err = c->parse_err ? c->parse_err : IG_EINVAL;
        if (!c->req && new_request(c) != IG_OK) {
            conn_close(c);
            return;
        }
        if (!c->req->resp_started) {
            c->req->keepalive = false;
            c->req->method_name = c->req->method_name ? c->req->method_name : "GET";
            ig_resp_error(c->req, err, err == IG_EINVAL ? "malformed HTTP request" : NULL);
        } else {
            conn_close(c);
        }
        break;
    }
    c->in_parse = false;
}

void ig_req_resume(ig_req_t *req, int rc)
{
    ig_conn_t *c = req->conn;
    if (c->state != ST_AUTH) return;
    if (rc != IG_OK) {
        if (!req->resp_started) {
            req->keepalive = false;
            ig_resp_error(req, rc, NULL);
        }
        return;
    }
    if ((c->parser.flags & F_CONTENTLENGTH) && c->parser.content_length > req->body_max) {
        req->keepalive = false;
        ig_resp_error(req, IG_ETOOBIG, NULL);
        return;
    }
    begin_body(c);
    http_parser_pause(&c->parser, 0);
    bufferevent_enable(c->bev, EV_READ); /* reading may have stopped while we waited */
    conn_parse(c);
}

/* ----------------------------------------------------------------------------------------------------------
 */
/* responses */

static const char *reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 402:
        return "Payment Required";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    case 529:
        return "Site Overloaded";
    default:
        return "Status";
    }
}

static void update_date(ig_http_server_t *srv)
{
    time_t now = time(NULL);
    if (now == srv->date_sec) return;
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(srv->date, sizeof srv->date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    srv->date_sec = now;
}

ig_iov_t ig_req_cookie(const ig_req_t *req, ig_iov_t name)
{
    for (size_t i = 0; name.len && i < req->nhdrs; i++) {
        if (!ig_iov_ieq(req->hdrs[i].name, IG_IOV_LIT("cookie")) || !req->hdrs[i].value.base) continue;
        const char *p = req->hdrs[i].value.base, *end = p + req->hdrs[i].value.len;
        while (p < end) {
            const char *semi = memchr(p, ';', (size_t)(end - p));
            ig_iov_t pair = ig_iov_trim(ig_iov(p, (size_t)((semi ? semi : end) - p)));
            if (pair.len > name.len && pair.base[name.len] == '=' &&
                memcmp(pair.base, name.base, name.len) == 0)
                return ig_iov(pair.base + name.len + 1, pair.len - name.len - 1);
            p = semi ? semi + 1 : end;
        }
    }
    return IG_IOV_NULL;
}

static bool header_safe(ig_iov_t v)
{
    for (size_t i = 0; i < v.len; i++)
        if (v.base[i] == '\r' || v.base[i] == '\n' || v.base[i] == '\0') return false;
    return true;
}

int ig_req_add_resp_header(ig_req_t *req, ig_iov_t name, ig_iov_t value)
{
    if (req->resp_started || !name.len || !header_safe(name) || !header_safe(value)) return IG_EINVAL;
    size_t old = req->extra_head ? strlen(req->extra_head) : 0;
    size_t n = old + name.len + 2 + value.len + 3;
    char *p = ig_pool_alloc(req->pool, n);
    if (!p) return IG_ENOMEM;
    if (old) memcpy(p, req->extra_head, old);
    char *w = p + old;
    memcpy(w, name.base, name.len);
    w += name.len;
    memcpy(w, ": ", 2);
    w += 2;
    memcpy(w, value.base, value.len);
    w += value.len;
    memcpy(w, "\r\n", 3); /* with the NUL */
    req->extra_head = p;
    return IG_OK;
}

static int build_head(ig_req_t *req, int status, const ig_header_t *hdrs, size_t nhdrs, int64_t clen,
                      ig_buf_t *out)
{
    ig_conn_t *c = req->conn;
    update_date(c->srv);
    if (c->srv->draining || c->closing) req->keepalive = false;
    bool no_body = req->head_only || status == 204 || status == 304 || (status >= 100 && status < 200);
    req->resp_chunked = false;
    req->resp_eof_delimited = false;
    if (clen < 0 && !no_body) {
        if (req->http_minor >= 1)
            req->resp_chunked = true;
        else {
            req->resp_eof_delimited = true;
            req->keepalive = false;
        }
    }
    int rc = ig_buf_appendf(out, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status, reason(status), c->srv->date);
    if (rc == IG_OK) rc = ig_buf_append(out, SECURITY_HEADERS, sizeof SECURITY_HEADERS - 1);
    if (rc == IG_OK)
        rc = ig_buf_appendf(out, "Content-Security-Policy: %s\r\nX-Ingate-Request-Id: %s\r\n",
                            req->csp ? req->csp : API_CSP, req->id);
    if (rc == IG_OK && req->extra_head) rc = ig_buf_append(out, req->extra_head, strlen(req->extra_head));
    for (size_t i = 0; rc == IG_OK && i < nhdrs + req->nresp_hdrs; i++) {
        const ig_header_t *h = i < nhdrs ? &hdrs[i] : &req->resp_hdrs[i - nhdrs]; /* then the request's own */
        rc = ig_buf_append(out, h->name.base, h->name.len);
        if (rc == IG_OK) rc = ig_buf_append(out, ": ", 2);
        if (rc == IG_OK) rc = ig_buf_append(out, h->value.base, h->value.len);
        if (rc == IG_OK) rc = ig_buf_append(out, "\r\n", 2);
    }
    if (rc == IG_OK && !(status >= 100 && status < 200) && status != 204) {
        if (clen >= 0)
            rc = ig_buf_appendf(out, "Content-Length: %lld\r\n", (long long)clen);
        else if (req->resp_chunked)
            rc = ig_buf_append(out, "Transfer-Encoding: chunked\r\n", 28);
    }
    if (rc == IG_OK) {
        if (!req->keepalive)
            rc = ig_buf_append(out, "Connection: close\r\n\r\n", 21);
        else if (req->http_minor == 0)
            rc = ig_buf_append(out, "Connection: keep-alive\r\n\r\n", 26);
        else
            rc = ig_buf_append(out, "\r\n", 2);
    }
    req->status = status;
    req->resp_started = true;
    req->resp_content_length = clen;
    return rc;
}

static int frame_into(ig_req_t *req, struct evbuffer *ob, const void *p, size_t len)
{
    if (len == 0 || req->head_only) return IG_OK;
    if (req->resp_chunked) {
        char hdr[24];
        int n = snprintf(hdr, sizeof hdr, "%zx\r\n", len);
        if (evbuffer_add(ob, hdr, (size_t)n) || evbuffer_add(ob, p, len) || evbuffer_add(ob, "\r\n", 2))
            return IG_ENOMEM;
    } else if (evbuffer_add(ob, p, len)) {
        return IG_ENOMEM;
    }
    req->resp_body_bytes += len;
    return IG_OK;
}

static int start_impl(ig_req_t *req, int status, const ig_header_t *hdrs, size_t nhdrs, int64_t clen,
                      const void *body, size_t len)
{
    ig_conn_t *c = req->conn;
    if (req->resp_started || c->closing) return IG_EIO;
    ig_buf_t *head = &c->head;
    ig_buf_reset(head);
    int rc = build_head(req, status, hdrs, nhdrs, clen, head);
    if (rc == IG_OK) {
        struct evbuffer *ob = bufferevent_get_output(c->bev);
        /* one contiguous chain for the head and the first body bytes: libevent writes (and OpenSSL seals)
         * one chain at a time, so this makes a small response one TLS record and one write() */
        size_t body_hint = body ? len : clen > 0 && clen <= 16384 ? (size_t)clen : 4096;
        if (!req->head_only && body_hint <= 16384) evbuffer_expand(ob, head->len + body_hint + 16);
        if (body && len && !req->head_only && !req->resp_chunked && len <= 4096 &&
            ig_buf_append(head, body, len) == IG_OK) {
            req->resp_body_bytes += len; /* one buffer write for small complete responses */
            rc = evbuffer_add(ob, head->data, head->len) ? IG_ENOMEM : IG_OK;
        } else {
            rc = evbuffer_add(ob, head->data, head->len) ? IG_ENOMEM : IG_OK;
            if (rc == IG_OK && body) rc = frame_into(req, ob, body, len);
        }
    }
    return rc;
}

int ig_resp_start(ig_req_t *req, int status, const ig_header_t *hdrs, size_t nhdrs, int64_t content_length)
{
    return start_impl(req, status, hdrs, nhdrs, content_length, NULL, 0);
}

int ig_resp_start_with_body(ig_req_t *req, int status, const ig_header_t *hdrs, size_t nhdrs,
                            const void *body, size_t len)
{
    return start_impl(req, status, hdrs, nhdrs, body ? (int64_t)len : -1, body, len);
}

int ig_resp_write(ig_req_t *req, const void *p, size_t len)
{
    ig_conn_t *c = req->conn;
    if (!req->resp_started || req->resp_done || c->closing) return IG_EIO;
    return frame_into(req, bufferevent_get_output(c->bev), p, len);
}

size_t ig_resp_queued(const ig_req_t *req)
{
    return evbuffer_get_length(bufferevent_get_output(req->conn->bev));
}

static void after_response(ig_conn_t *c)
{
    ig_req_t *r = c->req;
    bool keep = r->keepalive && !c->srv->draining && !r->resp_eof_delimited;
    bool unread_body = c->state == ST_AUTH || c->state == ST_HEAD || c->state == ST_BODY;
    req_release(c);
    if (!keep || unread_body) {
        if (unread_body) {
            conn_start_linger(c);
        } else {
            c->closing = true;
            if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) conn_close(c);
        }
        return;
    }
    c->state = ST_IDLE;
    static const struct timeval now = {0, 0};
    arm_timer(c, &now); /* conn_trim on the next loop iteration, outside the handler's stack */
    http_parser_pause(&c->parser, 0);
    bufferevent_enable(c->bev, EV_READ);
    conn_parse(c);
}

void ig_resp_finish(ig_req_t *req)
{
    ig_conn_t *c = req->conn;
    if (req->resp_done) return;
    req->resp_done = true;
    if (req->resp_chunked && !req->head_only) evbuffer_add(bufferevent_get_output(c->bev), "0\r\n\r\n", 5);
    if (req->resp_eof_delimited) req->keepalive = false;
    after_response(c);
}

void ig_resp_abort(ig_req_t *req)
{
    ig_conn_t *c = req->conn;
    req->resp_done = true;
    req->on_abort = NULL;
    conn_close(c);
}

void ig_resp_json(ig_req_t *req, int status, const char *json, size_t len)
{
    static const ig_header_t ct = {IG_IOV_LIT("Content-Type"), IG_IOV_LIT("application/json")};
    if (ig_resp_start_with_body(req, status, &ct, 1, json, len) != IG_OK) {
        ig_resp_abort(req);
        return;
    }
    ig_resp_finish(req);
}

void ig_resp_rate_limited(ig_req_t *req, int64_t retry_after, const ig_header_t *extra, size_t nextra)
{
    char body[160], ra[24];
    ig_header_t h[2 + IG_RESP_RATE_LIMITED_MAX_EXTRA] = {
        {IG_IOV_LIT("Content-Type"), IG_IOV_LIT("application/json")}};
    if (retry_after < 1) retry_after = 1;
    int n = snprintf(body, sizeof body,
                     "{\"error\": \"rate limit exceeded\", \"error_code\": \"rate_limited\", "
                     "\"retry_after_seconds\": %lld}",
                     (long long)retry_after);
    int m = snprintf(ra, sizeof ra, "%lld", (long long)retry_after);
    h[1] = (ig_header_t){IG_IOV_LIT("Retry-After"), ig_iov(ra, (size_t)m)};
    size_t nh = 2;
    for (size_t i = 0; i < nextra && i < IG_RESP_RATE_LIMITED_MAX_EXTRA; i++)
        h[nh++] = extra[i];
    if (ig_resp_start_with_body(req, 429, h, nh, body, (size_t)n) != IG_OK) {
        ig_resp_abort(req);
        return;
    }
    ig_resp_finish(req);
}

void ig_resp_method_not_allowed(ig_req_t *req, ig_iov_t allow)
{
    static const char body[] = "{\"error\":\"method not allowed\",\"error_code\":\"method_not_allowed\"}";
    ig_header_t hs[2] = {{IG_IOV_LIT("Content-Type"), IG_IOV_LIT("application/json")},
                         {IG_IOV_LIT("Allow"), allow}};
    if (ig_resp_start_with_body(req, 405, hs, 2, body, sizeof body - 1) != IG_OK)
        ig_resp_abort(req);
    else
        ig_resp_finish(req);
}

/* JSON-escapes a short ASCII message into out (messages come from our own tables). */
static void json_escape(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (; *s && o + 7 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            out[o++] = '\\';
            out[o++] = (char)ch;
        } else if (ch < 0x20) {
            o += (size_t)snprintf(out + o, cap - o, "\\u%04x", ch);
        } else {
            out[o++] = (char)ch;
        }
    }
    out[o] = '\0';
}

void ig_resp_error(ig_req_t *req, int err, const char *message)
{
    char msg[512], body[1024];
    json_escape(message ? message : ig_err_message(err), msg, sizeof msg);
    int status = ig_err_status(err);
    const char *code = ig_err_code(err);
    int n;
    if (req->errshape == IG_ERRSHAPE_FLAT) {
        n = snprintf(body, sizeof body, "{\"error\":\"%s\",\"error_code\":\"%s\",\"request_id\":\"%s\"}", msg,
                     code, req->id);
    } else {
        const char *type = status == 401   ? "authentication_error"
                           : status == 403 ? "permission_error"
                           : status == 404 ? "not_found_error"
                           : status == 429 ? "rate_limit_error"
                           : status >= 500 ? "api_error"
                                           : "invalid_request_error";
        n = snprintf(body, sizeof body, "{\"error\":{\"message\":\"%s\",\"type\":\"%s\",\"code\":\"%s\"}}",
                     msg, type, code);
    }
    if (n < 0 || (size_t)n >= sizeof body) n = 0;
    if (status >= 400 && status != 401 && status != 404 && status != 405 && status != 429 && status != 403 &&
        status != 409 && status != 400 && status < 500)
        req->keepalive = false; /* 408, 413, 431, ...: the connection state is unknown */
    ig_resp_json(req, status, body, (size_t)n);
}

/* ----------------------------------------------------------------------------------------------------------
 */
/* connection lifetime */

static void conn_free_cb(evutil_socket_t fd, short what, void *arg)
{
    ig_conn_t *c = arg;
    ig_pool_free(c->pool);
    free(c);
}

static void conn_close(ig_conn_t *c)
{
    if (c->freed) return;
    c->freed = true;
    c->state = ST_CLOSED;
    ig_http_server_t *srv = c->srv;
    ig_req_t *r = c->req;
    if (r && r->resp_started == false && r->on_abort == NULL) {
        /* nothing to notify */
    }
    if (r && !r->resp_done && r->on_abort) {
        void (*cb)(ig_req_t *) = r->on_abort;
        r->on_abort = NULL;
        cb(r);
    }
    req_release(c);
    event_free(c->timer);
    if (c->ssl) {
        /* libevent frees an SSL bufferevent without close_notify: send it ourselves (best effort) */
        SSL_set_quiet_shutdown(c->ssl, 0);
        SSL_shutdown(c->ssl);
    }
    bufferevent_free(c->bev);
    ig_buf_free(&c->hfield, false);
    ig_buf_free(&c->hvalue, false);
    ig_buf_free(&c->head, false);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    srv->nconns--;
    atomic_fetch_sub(&ig_http_open_conns, 1);
    /* the pool (and the request in it) may still be referenced up the stack: free on the next iteration */
    struct timeval zero = {0, 0};
    if (event_base_once(srv->loop->base, -1, EV_TIMEOUT, conn_free_cb, c, &zero) != 0) {
        IG_WARN("http", "cannot defer connection free; leaking %zu bytes", sizeof *c);
    }
    if (srv->draining && srv->nconns == 0 && srv->on_drained) srv->on_drained(srv);
}

static void conn_start_linger(ig_conn_t *c)
{
    c->state = ST_LINGER;
    c->closing = true;
    static const struct timeval two = {2, 0};
    event_add(c->timer, &two);
    bufferevent_enable(c->bev, EV_READ);
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
        int fd = bufferevent_getfd(c->bev);
        if (!c->ssl && fd >= 0) shutdown(fd, SHUT_WR);
    }
}

static void on_read(struct bufferevent *bev, void *arg)
{
    ig_conn_t *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (c->state == ST_LINGER) {
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    if (c->state == ST_HANDLING || c->state == ST_AUTH) {
        /* parser paused: keep reading only to notice a disconnect; never buffer a pipelining flood */
        if (evbuffer_get_length(in) > IG_MAX_HEADER_BYTES) bufferevent_disable(bev, EV_READ);
        return;
    }
    conn_parse(c);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    ig_conn_t *c = arg;
    if (evbuffer_get_length(bufferevent_get_output(bev)) == 0 && c->closing) {
        if (c->state == ST_LINGER) {
            int fd = bufferevent_getfd(bev);
            if (!c->ssl && fd >= 0) shutdown(fd, SHUT_WR);
            return;
        }
        conn_close(c);
        return;
    }
    if (c->req && !c->req->resp_done && c->req->on_writable) c->req->on_writable(c->req);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    ig_conn_t *c = arg;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
        if (c->ssl) ERR_clear_error();
        conn_close(c);
    }
}

int ig_http_adopt(ig_http_server_t *srv, evutil_socket_t fd, const struct sockaddr *sa, bool tls)
{
    if (srv->draining || atomic_load(&ig_http_open_conns) >= srv->limits.max_connections) {
        evutil_closesocket(fd);
        return IG_EUNAVAILABLE;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ig_conn_t *c = calloc(1, sizeof *c);
    if (!c) goto fail;
    c->srv = srv; /* the request pool is created with the first request (new_request) */
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, c->peer, sizeof c->peer);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, c->peer, sizeof c->peer);
    if (tls) {
        c->ssl = SSL_new(srv->ssl_ctx);
        if (!c->ssl) goto fail;
        c->bev = bufferevent_openssl_socket_new(srv->loop->base, fd, c->ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                BEV_OPT_CLOSE_ON_FREE);
        if (!c->bev) {
            SSL_free(c->ssl);
            goto fail;
        }
        bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
    } else {
        c->bev = bufferevent_socket_new(srv->loop->base, fd, BEV_OPT_CLOSE_ON_FREE);
        if (!c->bev) goto fail;
    }
    c->timer = evtimer_new(srv->loop->base, on_timer, c);
    if (!c->timer) {
        bufferevent_free(c->bev);
        goto fail_nofd;
    }
    ig_buf_init(&c->hfield, IG_MAX_HEADER_BYTES);
    ig_buf_init(&c->hvalue, IG_MAX_HEADER_BYTES);
    ig_buf_init(&c->head, IG_MAX_UPSTREAM_HEADER_BYTES + 4096 + 8192);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->state = ST_IDLE;
    c->next = srv->conns;
    if (srv->conns) srv->conns->prev = c;
    srv->conns = c;
    srv->nconns++;
    atomic_fetch_add(&ig_http_open_conns, 1);
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    bufferevent_setwatermark(c->bev, EV_WRITE, IG_CLIENT_OUTBUF_LOW, 0);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    /* the TLS handshake and first request must come within the header timeout */
    arm_timer(c, srv->tv_header);
    return IG_OK;
fail:
    evutil_closesocket(fd);
fail_nofd:
    if (c) {
        ig_pool_free(c->pool);
        free(c);
    }
    return IG_ENOMEM;
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
    ig_http_server_t *srv = arg;
    bool tls = false;
    for (int i = 0; i < srv->nlisteners; i++)
        if (srv->listeners[i] == l) tls = srv->listener_tls[i];
    ig_http_adopt(srv, fd, sa, tls);
}

/* ----------------------------------------------------------------------------------------------------------
 */
/* server */

int ig_http_server_init(ig_http_server_t *srv, ig_loop_t *loop, SSL_CTX *ssl_ctx,
                        const ig_http_limits_t *limits, const ig_http_handlers_t *h)
{
    memset(srv, 0, sizeof *srv);
    srv->loop = loop;
    srv->ssl_ctx = ssl_ctx;
    srv->limits = *limits;
    srv->handlers = *h;
    struct timeval tv;
    tv.tv_sec = limits->idle_timeout_ms / 1000;
    tv.tv_usec = (limits->idle_timeout_ms % 1000) * 1000;
    srv->tv_idle = event_base_init_common_timeout(loop->base, &tv);
    tv.tv_sec = limits->header_timeout_ms / 1000;
    tv.tv_usec = (limits->header_timeout_ms % 1000) * 1000;
    srv->tv_header = event_base_init_common_timeout(loop->base, &tv);
    tv.tv_sec = limits->body_timeout_ms / 1000;
    tv.tv_usec = (limits->body_timeout_ms % 1000) * 1000;
    srv->tv_body = event_base_init_common_timeout(loop->base, &tv);
    if (!srv->tv_idle || !srv->tv_header || !srv->tv_body) return IG_EINTERNAL;
    return IG_OK;
}

int ig_http_listen(ig_http_server_t *srv, const char *hostport, bool tls, char *err, size_t errlen)
{
    char host[256];
    const char *port;
    const char *colon = strrchr(hostport, ':');
    if (!colon || colon == hostport || (size_t)(colon - hostport) >= sizeof host) {
        snprintf(err, errlen, "listen address must be host:port, got '%s'", hostport);
        return IG_EINVAL;
    }
    size_t hl = (size_t)(colon - hostport);
    memcpy(host, hostport, hl);
    host[hl] = '\0';
    port = colon + 1;
    if (host[0] == '[' && hl >= 2 && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    if (srv->nlisteners >= (int)IG_ARRAY_LEN(srv->listeners)) {
        snprintf(err, errlen, "too many listeners");
        return IG_EINVAL;
    }
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int g = getaddrinfo(host, port, &hints, &ai);
    if (g != 0 || !ai) {
        snprintf(err, errlen, "cannot resolve listen address '%s': %s", hostport, gai_strerror(g));
        return IG_EINVAL;
    }
    struct evconnlistener *l = evconnlistener_new_bind(srv->loop->base, on_accept, srv,
                                                       LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE |
                                                           LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_EXEC,
                                                       1024, ai->ai_addr, (int)ai->ai_addrlen);
    freeaddrinfo(ai);
    if (!l) {
        snprintf(err, errlen, "cannot listen on %s: %s", hostport, strerror(errno));
        return IG_EIO;
    }
    srv->listener_tls[srv->nlisteners] = tls;
    srv->listeners[srv->nlisteners++] = l;
    return IG_OK;
}

void ig_http_server_drain(ig_http_server_t *srv)
{
    if (srv->draining) return;
    srv->draining = true;
    for (int i = 0; i < srv->nlisteners; i++) {
        evconnlistener_free(srv->listeners[i]);
        srv->listeners[i] = NULL;
    }
    srv->nlisteners = 0;
    ig_conn_t *c = srv->conns;
    while (c) {
        ig_conn_t *n = c->next;
        if (c->state == ST_IDLE || c->state == ST_LINGER)
            conn_close(c);
        else if (c->req)
            c->req->keepalive = false;
        c = n;
    }
    if (srv->nconns == 0 && srv->on_drained) srv->on_drained(srv);
}

void ig_http_server_close_all(ig_http_server_t *srv)
{
    while (srv->conns)
        conn_close(srv->conns);
}

void ig_http_server_clear(ig_http_server_t *srv)
{
    for (int i = 0; i < srv->nlisteners; i++)
        if (srv->listeners[i]) evconnlistener_free(srv->listeners[i]);
    srv->nlisteners = 0;
    ig_http_server_close_all(srv);
}

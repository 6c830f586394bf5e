/*
 * http.h — the HTTP/1.1 connection layer: one ig_http_server_t per loop thread, connections over TLS 1.3 or
 * (loopback only) plain TCP, requests parsed by http-parser, responses framed here.
 *
 * Ownership: a request (ig_req_t) and everything in its pool belong to the connection; they stay valid until
 * the response is finished (ig_resp_finish / ig_resp_abort) or the client goes away (req->on_abort runs,
 * after which the handler must not touch the request). Handlers run on the loop thread and never block.
 *
 * Every response passes ig_resp_start(), which adds the security headers and X-Ingate-Request-Id, and the
 * request's own extra headers (req->resp_hdrs) when a handler set them.
 */
#ifndef IG_HTTP_HTTP_H
#define IG_HTTP_HTTP_H

#include "core/buf.h"
#include "core/common.h"
#include "core/pool.h"
#include "net/loop.h"

#include <openssl/ssl.h>
#include <stdatomic.h>
#include <sys/socket.h>

typedef struct ig_header {
    ig_iov_t name, value;
} ig_header_t;

typedef struct ig_req ig_req_t;
typedef struct ig_conn ig_conn_t;
typedef struct ig_http_server ig_http_server_t;

typedef struct ig_http_limits {
    size_t max_body_bytes; /* after on_headers accepted the request */
    uint32_t header_timeout_ms;
    uint32_t idle_timeout_ms;
    uint32_t body_timeout_ms;
    int max_connections; /* process-wide */
} ig_http_limits_t;

typedef struct ig_http_handlers {
    /* Headers are complete, the body is not read yet. Return IG_OK to read the body (req->body_max says how
     * much), IG_EAGAIN after starting async work that will call ig_req_resume(), or a negative error to
     * answer with ig_resp_error() semantics... or having already sent a complete response yourself (return
     * 1). */
    int (*on_headers)(ig_req_t *req);
    /* The whole request is in. The handler must eventually finish the response. */
    void (*on_request)(ig_req_t *req);
    void *ctx;
} ig_http_handlers_t;

typedef enum { IG_ERRSHAPE_OPENAI = 0, IG_ERRSHAPE_FLAT = 1 } ig_errshape_t;

struct ig_req {
    ig_conn_t *conn;
    ig_http_server_t *srv;
    ig_pool_t *pool;
    unsigned method; /* enum http_method */
    const char *method_name;
    ig_iov_t url, path, query; /* path and query point into url */
    ig_header_t *hdrs;
    size_t nhdrs;
    ig_buf_t body;
    size_t body_max;
    unsigned http_minor;
    bool keepalive;
    bool expect_continue;
    bool authenticated; /* set by on_headers once a credential was accepted */
    uint64_t t_start_ns;
    char id[37];
    const char *peer_ip;
    /* response state */
    int status;
    bool resp_started, resp_done, resp_chunked, resp_eof_delimited, resp_close, head_only;
    uint64_t resp_body_bytes;
    int64_t resp_content_length;
    const char *csp;        /* NULL = API policy */
    const char *extra_head; /* "Name: value\r\n" lines every response head of this request carries */
    ig_errshape_t errshape;
    /* Headers every response to this request carries, whichever helper produces it (e.g. the proxy's
     * rate-limit headers once the call is admitted: the gateway's own errors then describe the limit as a
     * relayed answer does). Set by the handler; the array and its strings must outlive the request (pool). */
    const ig_header_t *resp_hdrs;
    size_t nresp_hdrs;
    /* handler hooks */
    void *app;                          /* the application's per-request state (router) */
    void *ctx;                          /* the current handler's state */
    void (*on_abort)(ig_req_t *req);    /* client went away before ig_resp_finish */
    void (*on_writable)(ig_req_t *req); /* output queue drained below IG_CLIENT_OUTBUF_LOW */
};

struct ig_http_server {
    ig_loop_t *loop;
    SSL_CTX *ssl_ctx;
    struct evconnlistener *listeners[16];
    bool listener_tls[16];
    int nlisteners;
    ig_http_limits_t limits;
    ig_http_handlers_t handlers;
    ig_conn_t *conns; /* doubly linked list of open connections */
    int nconns;
    bool draining;
    void (*on_drained)(ig_http_server_t *srv); /* called once no connection remains while draining */
    const struct timeval *tv_idle, *tv_header, *tv_body; /* common timeouts */
    char date[40];
    int64_t date_sec;
};

/* Process-wide count of open connections, for the connection cap and metrics. */
extern atomic_int ig_http_open_conns;

/* Sets up a server on `loop`. Listeners are added with ig_http_listen(). */
int ig_http_server_init(ig_http_server_t *srv, ig_loop_t *loop, SSL_CTX *ssl_ctx,
                        const ig_http_limits_t *limits, const ig_http_handlers_t *h);
/* Binds host:port with SO_REUSEPORT (each loop thread gets its own socket). tls=false only for plain
 * listeners the caller has verified are loopback. Returns IG_OK or IG_EIO with errno set. */
int ig_http_listen(ig_http_server_t *srv, const char *hostport, bool tls, char *err, size_t errlen);
/* Takes over an accepted socket as a new connection (the listener's path; also used by the fuzz target with
 * one end of a socketpair). The fd is closed on failure. */
int ig_http_adopt(ig_http_server_t *srv, int fd, const struct sockaddr *sa, bool tls);
/* Stops accepting, closes idle connections, lets active requests finish (their responses get Connection:
 * close), then calls srv->on_drained. Loop thread only. */
void ig_http_server_drain(ig_http_server_t *srv);
/* Closes every connection at once (after the drain timeout). */
void ig_http_server_close_all(ig_http_server_t *srv);
void ig_http_server_clear(ig_http_server_t *srv);

/* Request helpers */
ig_iov_t ig_req_header(const ig_req_t *req,
                       ig_iov_t name); /* first match, case-insensitive; base NULL if absent */
/* The value of cookie `name` (exact, case-sensitive) in the request's Cookie headers ("a=b; c=d"); base NULL
 * when absent. The first occurrence wins. */
ig_iov_t ig_req_cookie(const ig_req_t *req, ig_iov_t name);
/* After on_headers returned IG_EAGAIN: continue reading the body (rc IG_OK) or answer with error rc. */
void ig_req_resume(ig_req_t *req, int rc);

/* Response API. Headers in `hdrs` must already be safe (no CR/LF). content_length < 0 means unknown: the
 * body is sent chunked (or close-delimited to an HTTP/1.0 client). */
int ig_resp_start(ig_req_t *req, int status, const ig_header_t *hdrs, size_t nhdrs, int64_t content_length);
/* Queues body bytes. IG_EIO if the connection is gone. Never blocks; check ig_resp_queued(). */
int ig_resp_write(ig_req_t *req, const void *p, size_t len);
/* Start + one write in a single buffer write (fewer syscalls), for complete responses. */
int ig_resp_start_with_body(ig_req_t *req, int status, const ig_header_t *hdrs, size_t nhdrs,
                            const void *body, size_t len);
size_t ig_resp_queued(const ig_req_t *req);
/* Ends the response; the connection moves on to the next request or closes. Do not touch req afterwards. */
void ig_resp_finish(ig_req_t *req);
/* Drops the connection now (e.g. the upstream died mid-stream: the client must see a truncated body, not a
 * clean end). Do not touch req afterwards. on_abort is NOT called. */
void ig_resp_abort(ig_req_t *req);
/* Adds a header to whatever response this request gets, including error answers (e.g. Set-Cookie). name
 * and value must be safe (no CR/LF): IG_EINVAL otherwise. Before the response starts only. */
int ig_req_add_resp_header(ig_req_t *req, ig_iov_t name, ig_iov_t value);
/* A complete JSON response. */
void ig_resp_json(ig_req_t *req, int status, const char *json, size_t len);
/* A complete 429: Retry-After (seconds, at least 1), the extra headers (at most
 * IG_RESP_RATE_LIMITED_MAX_EXTRA, e.g. X-RateLimit-*) and the body
 * {"error": "rate limit exceeded", "error_code": "rate_limited", "retry_after_seconds": N}. */
#define IG_RESP_RATE_LIMITED_MAX_EXTRA 8
void ig_resp_rate_limited(ig_req_t *req, int64_t retry_after, const ig_header_t *extra, size_t nextra);
/* A complete 405 with an Allow header listing `allow` (e.g. "GET, HEAD") and a flat JSON error body. */
void ig_resp_method_not_allowed(ig_req_t *req, ig_iov_t allow);
/* A complete JSON error response for an IG_E* code, in the request's error shape. `message` NULL = the
 * table's message. Never include secrets in `message`. */
void ig_resp_error(ig_req_t *req, int err, const char *message);

#endif

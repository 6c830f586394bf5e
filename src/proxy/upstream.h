/*
 * upstream.h — outgoing HTTP transfers on the loop thread: libcurl multi driven by libevent
 * (curl_multi_socket_action), easy handles kept in a free list, one timer per transfer for the first-byte
 * and between-chunk timeouts.
 *
 * Callbacks run on the loop thread. After on_done, or after ig_xfer_cancel(), the transfer is gone and no
 * callback runs again. on_data must not cancel the transfer itself: return IG_EIO to fail it instead.
 */
#ifndef IG_PROXY_UPSTREAM_H
#define IG_PROXY_UPSTREAM_H

#include "core/common.h"
#include "http/http.h"

#include <curl/curl.h>
#include <event2/event.h>

typedef struct ig_upstream ig_upstream_t;
typedef struct ig_xfer ig_xfer_t;

typedef struct ig_upstream_opts {
    const char *ca_file; /* extra CA bundle, NULL = system */
    bool tls_verify;
} ig_upstream_opts_t;

typedef struct ig_xfer_cbs {
    /* The final response head (1xx are skipped). Headers are valid during the call only. Return IG_OK, or an
     * error to fail the transfer. */
    int (*on_headers)(void *ud, int status, const ig_header_t *hdrs, size_t n);
    /* Body bytes as they arrive (transfer-decoded). Return IG_OK when consumed, IG_EAGAIN to pause (the same
     * bytes come again after ig_xfer_resume), IG_EIO to fail. */
    int (*on_data)(void *ud, const char *p, size_t len);
    /* The end: IG_OK, IG_EUPSTREAM (connect failure, reset, bad response), IG_ETIMEOUT. `got_headers` tells
     * whether on_headers ran. */
    void (*on_done)(void *ud, int err, bool got_headers);
} ig_xfer_cbs_t;

typedef struct ig_xfer_req {
    const char *method;
    const char *url;
    struct curl_slist *headers; /* owned by the caller, must outlive the transfer */
    const void *body;           /* must outlive the transfer */
    size_t body_len;
    long connect_timeout_ms, first_byte_timeout_ms, chunk_timeout_ms;
} ig_xfer_req_t;

ig_upstream_t *ig_upstream_new(struct event_base *base, const ig_upstream_opts_t *opts);
void ig_upstream_free(ig_upstream_t *u);
/* Starts a transfer. NULL on failure (then no callback runs). */
ig_xfer_t *ig_xfer_start(ig_upstream_t *u, const ig_xfer_req_t *rq, const ig_xfer_cbs_t *cbs, void *ud);
void ig_xfer_resume(ig_xfer_t *x);
void ig_xfer_cancel(ig_xfer_t *x);
/* Transfers in flight on this loop (for metrics and drain). */
int ig_upstream_active(const ig_upstream_t *u);

#endif

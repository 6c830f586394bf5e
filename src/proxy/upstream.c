/*
 * upstream.c — libcurl multi on a libevent loop.
 *
 * curl tells us which sockets to watch (socket callback) and when to call it back (timer callback); we turn
 * both into libevent events. The multi timer is re-armed only when curl's deadline moves earlier: an early
 * wake-up is harmless (curl just finds nothing due), a missed one is not, and skipping the re-arm saves a
 * timerfd/epoll round per request. Each transfer has its own timer for the first-byte and between-chunk
 * timeouts; it checks the time of the last activity when it fires instead of being re-armed on every chunk.
 * A paused transfer (slow client) never times out: the slowness is not the upstream's.
 */
#include "proxy/upstream.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/limits.h"
#include "core/log.h"
#include "net/loop.h"

#include <stdlib.h>

#define FREE_EASY_MAX 256

struct ig_upstream {
    struct event_base *base;
    CURLM *multi;
    struct event *timer;
    uint64_t timer_deadline_ns; /* 0 = not armed */
    CURL *free_easy[FREE_EASY_MAX];
    int nfree;
    int active;
    ig_upstream_opts_t opts;
};

struct ig_xfer {
    ig_upstream_t *u;
    CURL *easy;
    ig_xfer_cbs_t cbs;
    void *ud;
    struct event *timer;
    uint64_t last_ns;
    long first_byte_ms, chunk_ms;
    bool got_headers, paused, done;
    int status;
    ig_buf_t hbuf; /* raw header lines of the current response */
    int fail_err;  /* set when a callback failed the transfer */
};

static void check_done(ig_upstream_t *u);

/* ----------------------------------------------------------------------------------------------------------
 */

static void on_sock_event(evutil_socket_t fd, short what, void *arg)
{
    ig_upstream_t *u = arg;
    int flags = (what & EV_READ ? CURL_CSELECT_IN : 0) | (what & EV_WRITE ? CURL_CSELECT_OUT : 0);
    int running = 0;
    curl_multi_socket_action(u->multi, fd, flags, &running);
    check_done(u);
}

static int on_curl_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    ig_upstream_t *u = userp;
    struct event *ev = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (ev) event_free(ev);
        curl_multi_assign(u->multi, s, NULL);
        return 0;
    }
    short kind =
        (short)((what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0) | EV_PERSIST);
    if (ev) {
        if (event_get_events(ev) == kind) return 0;
        event_del(ev);
        event_assign(ev, u->base, s, kind, on_sock_event, u);
    } else {
        ev = event_new(u->base, s, kind, on_sock_event, u);
        if (!ev) return -1;
        curl_multi_assign(u->multi, s, ev);
    }
    event_add(ev, NULL);
    return 0;
}

static void on_multi_timer(evutil_socket_t fd, short what, void *arg)
{
    ig_upstream_t *u = arg;
    u->timer_deadline_ns = 0;
    int running = 0;
    curl_multi_socket_action(u->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(u);
}

static int on_curl_timer(CURLM *m, long timeout_ms, void *userp)
{
    ig_upstream_t *u = userp;
    if (timeout_ms < 0) {
        evtimer_del(u->timer);
        u->timer_deadline_ns = 0;
        return 0;
    }
    uint64_t deadline = ig_now_ns() + (uint64_t)timeout_ms * 1000000u;
    if (u->timer_deadline_ns && u->timer_deadline_ns <= deadline) return 0;
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    evtimer_add(u->timer, &tv);
    u->timer_deadline_ns = deadline;
    return 0;
}

/* ----------------------------------------------------------------------------------------------------------
 */

static void xfer_arm(ig_xfer_t *x)
{
    long ms = x->got_headers ? x->chunk_ms : x->first_byte_ms;
    if (ms <= 0) return;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(x->timer, &tv);
}

static void xfer_release(ig_xfer_t *x)
{
    ig_upstream_t *u = x->u;
    if (x->timer) event_free(x->timer);
    ig_buf_free(&x->hbuf, false);
    if (x->easy) {
        curl_multi_remove_handle(u->multi, x->easy);
        if (u->nfree < FREE_EASY_MAX) {
            /* kept configured (see set_constant_options); only pointers into the finished request are
             * dropped, the rest is overwritten by the next transfer */
            curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, NULL);
            curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, NULL);
            curl_easy_setopt(x->easy, CURLOPT_PRIVATE, NULL);
            u->free_easy[u->nfree++] = x->easy;
        } else {
            curl_easy_cleanup(x->easy);
        }
    }
    u->active--;
    free(x);
}

static void xfer_finish(ig_xfer_t *x, int err)
{
    if (x->done) return;
    x->done = true;
    void (*done)(void *, int, bool) = x->cbs.on_done;
    void *ud = x->ud;
    bool got = x->got_headers;
    xfer_release(x);
    done(ud, err, got);
}

static void on_xfer_timer(evutil_socket_t fd, short what, void *arg)
{
    ig_xfer_t *x = arg;
    long ms = x->got_headers ? x->chunk_ms : x->first_byte_ms;
    uint64_t idle = (ig_now_ns() - x->last_ns) / 1000000u;
    if (x->paused || idle < (uint64_t)ms) {
        long left = x->paused ? ms : ms - (long)idle;
        struct timeval tv = {left / 1000, (left % 1000) * 1000};
        evtimer_add(x->timer, &tv);
        return;
    }
    xfer_finish(x, IG_ETIMEOUT);
}

/* Parses the collected header block of a final response and hands it to on_headers. */
static int deliver_headers(ig_xfer_t *x)
{
    ig_header_t hdrs[IG_MAX_HEADER_COUNT];
    size_t n = 0;
    const char *p = x->hbuf.data, *end = p + x->hbuf.len;
    /* skip the status line */
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    p = nl ? nl + 1 : end;
    while (p < end && n < IG_ARRAY_LEN(hdrs)) {
        nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *lend = le;
        if (lend > p && lend[-1] == '\r') lend--;
        const char *colon = memchr(p, ':', (size_t)(lend - p));
        if (colon && colon > p) {
            hdrs[n].name = ig_iov(p, (size_t)(colon - p));
            hdrs[n].value = ig_iov_trim(ig_iov(colon + 1, (size_t)(lend - colon - 1)));
            n++;
        }
        p = nl ? nl + 1 : end;
    }
    x->got_headers = true;
    return x->cbs.on_headers(x->ud, x->status, hdrs, n);
}

static size_t on_curl_header(char *buf, size_t size, size_t nitems, void *ud)
{
    ig_xfer_t *x = ud;
    size_t len = size * nitems;
    x->last_ns = ig_now_ns();
    if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
        /* a new response starts (after 1xx ones): forget earlier lines */
        ig_buf_reset(&x->hbuf);
        long code = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
        x->status = (int)code;
    }
    if (len <= 2 && (buf[0] == '\r' || buf[0] == '\n')) {
        if (x->status >= 100 && x->status < 200) return len; /* interim response */
        int rc = deliver_headers(x);
        if (rc != IG_OK) {
            x->fail_err = rc;
            return 0;
        }
        xfer_arm(x);
        return len;
    }
    if (ig_buf_append(&x->hbuf, buf, len) != IG_OK) {
        x->fail_err = IG_EUPSTREAM;
        return 0;
    }
    return len;
}

static size_t on_curl_write(char *buf, size_t size, size_t nmemb, void *ud)
{
    ig_xfer_t *x = ud;
    size_t len = size * nmemb;
    x->last_ns = ig_now_ns();
    if (!x->got_headers) {
        x->fail_err = IG_EUPSTREAM;
        return 0;
    }
    int rc = x->cbs.on_data(x->ud, buf, len);
    if (rc == IG_EAGAIN) {
        x->paused = true;
        return CURL_WRITEFUNC_PAUSE;
    }
    if (rc != IG_OK) {
        x->fail_err = rc;
        return 0;
    }
    return len;
}

static void check_done(ig_upstream_t *u)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(u->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        ig_xfer_t *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (!x || x->done) continue;
        CURLcode res = m->data.result;
        int err = IG_OK;
        if (x->fail_err)
            err = x->fail_err == IG_ETIMEOUT ? IG_ETIMEOUT : IG_EUPSTREAM;
        else if (res == CURLE_OPERATION_TIMEDOUT)
            err = IG_ETIMEOUT;
        else if (res != CURLE_OK)
            err = IG_EUPSTREAM;
        if (err == IG_OK && !x->got_headers) {
            if (deliver_headers(x) != IG_OK) err = IG_EUPSTREAM;
        }
        if (res != CURLE_OK && res != CURLE_WRITE_ERROR)
            IG_DEBUG("upstream", "transfer failed: %s", curl_easy_strerror(res));
        xfer_finish(x, err);
    }
}

/* ----------------------------------------------------------------------------------------------------------
 */

ig_upstream_t *ig_upstream_new(struct event_base *base, const ig_upstream_opts_t *opts)
{
    ig_upstream_t *u = calloc(1, sizeof *u);
    if (!u) return NULL;
    u->base = base;
    u->opts = *opts;
    u->multi = curl_multi_init();
    u->timer = evtimer_new(base, on_multi_timer, u);
    if (!u->multi || !u->timer) {
        ig_upstream_free(u);
        return NULL;
    }
    curl_multi_setopt(u->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(u->multi, CURLMOPT_SOCKETDATA, u);
    curl_multi_setopt(u->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(u->multi, CURLMOPT_TIMERDATA, u);
    curl_multi_setopt(u->multi, CURLMOPT_MAXCONNECTS, 512L);
    return u;
}

void ig_upstream_free(ig_upstream_t *u)
{
    if (!u) return;
    for (int i = 0; i < u->nfree; i++)
        curl_easy_cleanup(u->free_easy[i]);
    if (u->multi) curl_multi_cleanup(u->multi);
    if (u->timer) event_free(u->timer);
    free(u);
}

int ig_upstream_active(const ig_upstream_t *u)
{
    return u->active;
}

/* Options that are the same for every transfer: set once per easy handle, which is then reused from the free
 * list without curl_easy_reset (about twenty setopt calls saved per request). */
static void set_constant_options(ig_upstream_t *u, CURL *e)
{
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PATH_AS_IS, 1L); /* forward the path exactly as sent */
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_curl_header);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_curl_write);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, u->opts.tls_verify ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, u->opts.tls_verify ? 2L : 0L);
    if (u->opts.ca_file && *u->opts.ca_file) curl_easy_setopt(e, CURLOPT_CAINFO, u->opts.ca_file);
}

ig_xfer_t *ig_xfer_start(ig_upstream_t *u, const ig_xfer_req_t *rq, const ig_xfer_cbs_t *cbs, void *ud)
{
    ig_xfer_t *x = calloc(1, sizeof *x);
    if (!x) return NULL;
    x->u = u;
    x->cbs = *cbs;
    x->ud = ud;
    x->first_byte_ms = rq->first_byte_timeout_ms;
    x->chunk_ms = rq->chunk_timeout_ms;
    x->last_ns = ig_now_ns();
    ig_buf_init(&x->hbuf, IG_MAX_UPSTREAM_HEADER_BYTES);
    bool fresh = u->nfree == 0;
    x->easy = u->nfree ? u->free_easy[--u->nfree] : curl_easy_init();
    x->timer = evtimer_new(u->base, on_xfer_timer, x);
    u->active++;
    if (!x->easy || !x->timer) goto fail;
    CURL *e = x->easy;
    if (fresh) set_constant_options(u, e);
    curl_easy_setopt(e, CURLOPT_URL, rq->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, rq->headers);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, rq->connect_timeout_ms);
    /* the method options persist on a reused handle: set all of them every time */
    bool has_body = rq->body_len > 0 || strcmp(rq->method, "POST") == 0 || strcmp(rq->method, "PUT") == 0 ||
                    strcmp(rq->method, "PATCH") == 0;
    if (strcmp(rq->method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
    } else if (has_body) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 0L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, rq->body ? rq->body : "");
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, strcmp(rq->method, "POST") != 0 ? rq->method : NULL);
    } else {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, strcmp(rq->method, "GET") != 0 ? rq->method : NULL);
    }
    if (curl_multi_add_handle(u->multi, e) != CURLM_OK) goto fail;
    xfer_arm(x);
    return x;
fail:
    x->done = true;
    xfer_release(x);
    return NULL;
}

void ig_xfer_resume(ig_xfer_t *x)
{
    if (!x->paused || x->done) return;
    x->paused = false;
    x->last_ns = ig_now_ns();
    curl_easy_pause(x->easy, CURLPAUSE_CONT);
    /* unpausing may have delivered data synchronously; completions are picked up by the next socket event */
}

void ig_xfer_cancel(ig_xfer_t *x)
{
    if (!x || x->done) return;
    x->done = true;
    xfer_release(x);
}

/*
 * mock_upstream.c - the mock LLM provider that ingate's integration tests and
 * benchmark proxy to.
 *
 * A single-threaded libevent evhttp server speaking plain HTTP/1.1 with
 * keep-alive. `mock-upstream --port N [--host 127.0.0.1]` (port 0 picks a free
 * port) prints exactly one line "LISTENING <port>" on stdout once it accepts
 * connections, and exits 0 on SIGTERM/SIGINT.
 *
 * Every request is answered according to a mode, taken from (first match):
 * the X-Mock-Mode header, the JSON body field "mock_mode", the body's "model"
 * when it is "mock-<mode>" (optionally followed by "-suffix" or ":suffix", so
 * "mock-stream-a" streams too), else the default `json`; a default-mode request
 * whose body says "stream": true is answered as `stream`. Parameters come
 * from the headers X-Mock-Status, X-Mock-Delay-Ms, X-Mock-Bytes, X-Mock-Events
 * and X-Mock-Interval-Ms, else from the body fields mock_status, mock_delay_ms,
 * mock_bytes, mock_events, mock_interval_ms. The response shape follows the
 * path: ".../v1/messages" is Anthropic, ".../api/chat" and ".../api/generate"
 * are ollama (streamed as NDJSON), everything else is OpenAI chat.completion.
 * Modes: json (canned ~600-byte completion echoing the request's model),
 * stream (SSE: X-Mock-Events deltas spaced by X-Mock-Interval-Ms, then usage and
 * [DONE] / Anthropic's message_* events; "X-Mock-Usage: none" leaves out the
 * OpenAI usage chunk, as OpenAI does without stream_options.include_usage), error (X-Mock-Status, default 500,
 * OpenAI error body), echo-key (401 whose body and X-Echo-Auth header repeat
 * the received credential, so tests can check the gateway masks it), slow
 * (X-Mock-Delay-Ms, default 2000, then json or stream), hang (never answers),
 * reset (2 SSE events then a TCP RST), big (X-Mock-Bytes, default 12 MiB, of
 * SSE lines produced 64 KiB at a time as the socket drains, so memory stays
 * flat for slow readers) and status (X-Mock-Status with {"ok":true}).
 * X-Mock-Delay-Ms delays the first byte of every mode but hang.
 *
 * Introspection (never recorded): GET /__mock/requests lists the last 200
 * requests (method, path with query, headers in order, body length, first
 * 64 KiB of the body), DELETE clears them; GET /__mock/stats returns
 * {"requests","aborted","open_streams","recorded"}: `aborted` counts requests
 * whose client went away before the response was complete, `open_streams`
 * the requests being held right now (delayed, hanging, streaming with an
 * interval, big, reset); DELETE /__mock/stats zeroes the counters;
 * GET /__mock/health returns {"ok":true}.
 *
 * Speed: the canned bodies are built once at start-up; a json request costs a
 * linear scan of the body's top-level keys (no JSON tree), one record
 * allocation and one reply.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#define REC_MAX        200
#define REC_BODY_MAX   (64 * 1024)
#define MAX_BODY       (64LL * 1024 * 1024)
#define MAX_HEADERS    (64 * 1024)
#define MODEL_MAX      256
#define BIG_CHUNK      (64 * 1024)
#define BIG_LINE       1024
#define BIG_DEFAULT    (12LL * 1024 * 1024)
#define SLOW_DEFAULT   2000
#define EVENTS_DEFAULT 5
#define MAX_MS         (3600LL * 1000)
#define RESET_GRACE_MS 20
#define DEFAULT_MODEL  "mock-model"

enum mode { M_JSON, M_STREAM, M_ERROR, M_ECHO_KEY, M_SLOW, M_HANG, M_RESET, M_BIG, M_STATUS, M_COUNT };
static const char *const mode_names[M_COUNT] = {
    "json", "stream", "error", "echo-key", "slow", "hang", "reset", "big", "status",
};

enum shape { SH_OPENAI, SH_ANTHROPIC, SH_OLLAMA_CHAT, SH_OLLAMA_GEN, SH_COUNT };

enum phase { PH_DELAY, PH_STREAM, PH_RESET_EVENT, PH_RESET_KILL, PH_HELD };

/* Everything needed to answer one request. Lives on the stack for requests
 * answered at once, on the heap (async) for those that outlive the callback. */
struct ctx {
    struct evhttp_request *req;
    enum mode mode;
    enum shape shape;
    bool stream;        /* answer as SSE / NDJSON */
    bool body_stream;   /* the body said "stream": true */
    bool count_tokens;  /* .../v1/messages/count_tokens */
    bool head;          /* HEAD request: no body may be sent */
    bool no_usage;      /* X-Mock-Usage: none: an OpenAI stream without its usage chunk */
    int status;
    long long delay_ms, bytes, events, interval_ms;
    char model[MODEL_MAX + 1];
    size_t model_len;
    /* async state */
    bool async, resetting;
    enum phase phase;
    struct event *timer;
    long long step;
    long long sent;
};

struct canned {
    char pre[256];
    size_t pre_len;
    char suf[1024];
    size_t suf_len;
};

static struct event_base *g_base;
static struct evhttp *g_http;
static struct evbuffer *g_scratch;
static struct canned g_canned[SH_COUNT];
static long long g_created;
static char g_created_at[32];
static unsigned long long g_requests, g_aborted, g_seq;
static long long g_open;
static char *g_rec[REC_MAX];
static size_t g_rec_len[REC_MAX];
static unsigned g_rec_head, g_rec_count;
static char g_bigbuf[BIG_CHUNK + 2 * BIG_LINE + 64];
static char g_pad[2 * BIG_LINE];

static const char k_content[] =
    "Hello from the ingate mock upstream. This is a canned completion used by the "
    "integration tests and the benchmark; its size is fixed so that throughput numbers "
    "stay comparable between runs. Lorem ipsum dolor sit amet, consectetur adipiscing "
    "elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.";
static const char *const k_words[] = {
    "Hello", " from", " the", " mock", " upstream", ".", " This", " is", " streamed", " text",
};
#define N_WORDS (sizeof k_words / sizeof k_words[0])

static const char k_error_body[] =
    "{\"error\":{\"message\":\"mock error\",\"type\":\"server_error\",\"code\":\"mock\"}}";
static const char k_ok_body[] = "{\"ok\":true}";

/* ---------- small growable string ---------- */

struct sbuf {
    char *p;
    size_t len, cap;
    bool oom;
};

static bool sb_reserve(struct sbuf *s, size_t extra)
{
    if (s->oom)
        return false;
    if (s->len + extra + 1 <= s->cap)
        return true;
    size_t cap = s->cap ? s->cap : 256;
    while (cap < s->len + extra + 1)
        cap *= 2;
    char *np = realloc(s->p, cap);
    if (!np) {
        s->oom = true;
        return false;
    }
    s->p = np;
    s->cap = cap;
    return true;
}

static void sb_add(struct sbuf *s, const void *d, size_t n)
{
    if (n == 0 || !sb_reserve(s, n))
        return;
    memcpy(s->p + s->len, d, n);
    s->len += n;
    s->p[s->len] = '\0';
}

static void sb_adds(struct sbuf *s, const char *str) { sb_add(s, str, strlen(str)); }

__attribute__((format(printf, 2, 3))) static void sb_fmt(struct sbuf *s, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        sb_add(s, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Length of the valid UTF-8 sequence at s (non-ASCII lead byte), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    size_t len;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++)
        if ((s[k] & 0xC0) != 0x80)
            return 0;
    return len;
}

/* Append d as the inside of a JSON string; invalid UTF-8 bytes become \u00XX. */
static void sb_jesc(struct sbuf *s, const char *data, size_t n)
{
    const unsigned char *d = (const unsigned char *)data;
    size_t i = 0, start = 0;
    while (i < n) {
        unsigned char ch = d[i];
        if (ch >= 0x20 && ch < 0x80 && ch != '"' && ch != '\\') {
            i++;
            continue;
        }
        if (ch >= 0x80) {
            size_t k = utf8_seq(d + i, n - i);
            if (k) {
                i += k;
                continue;
            }
        }
        sb_add(s, d + start, i - start);
        switch (ch) {
        case '"': sb_add(s, "\\\"", 2); break;
        case '\\': sb_add(s, "\\\\", 2); break;
        case '\n': sb_add(s, "\\n", 2); break;
        case '\r': sb_add(s, "\\r", 2); break;
        case '\t': sb_add(s, "\\t", 2); break;
        default: sb_fmt(s, "\\u%04x", (unsigned)ch); break;
        }
        start = ++i;
    }
    sb_add(s, d + start, i - start);
}

static void sb_jstr(struct sbuf *s, const char *d, size_t n)
{
    sb_add(s, "\"", 1);
    sb_jesc(s, d, n);
    sb_add(s, "\"", 1);
}

/* ---------- top-level JSON body scan (no tree, linear, bounded) ---------- */

struct body_info {
    const char *model;
    size_t model_len;
    const char *mode;
    size_t mode_len;
    bool stream;
    long long status, delay_ms, bytes, events, interval_ms; /* -1: absent */
};

static bool js_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static const char *js_skip_ws(const char *p, const char *e)
{
    while (p < e && js_ws(*p))
        p++;
    return p;
}

/* p just after an opening quote; returns the closing quote or NULL. */
static const char *js_str_end(const char *p, const char *e)
{
    while (p < e) {
        if (*p == '\\') {
            if (e - p < 2)
                return NULL;
            p += 2;
            continue;
        }
        if (*p == '"')
            return p;
        p++;
    }
    return NULL;
}

static const char *js_skip_value(const char *p, const char *e)
{
    if (p >= e)
        return NULL;
    if (*p == '"') {
        const char *q = js_str_end(p + 1, e);
        return q ? q + 1 : NULL;
    }
    if (*p == '{' || *p == '[') {
        long depth = 0;
        while (p < e) {
            char ch = *p;
            if (ch == '"') {
                const char *q = js_str_end(p + 1, e);
                if (!q)
                    return NULL;
                p = q + 1;
                continue;
            }
            if (ch == '{' || ch == '[') {
                depth++;
            } else if (ch == '}' || ch == ']') {
                if (--depth == 0)
                    return p + 1;
            }
            p++;
        }
        return NULL;
    }
    while (p < e && *p != ',' && *p != '}' && *p != ']' && !js_ws(*p))
        p++;
    return p;
}

/* A number, or a string holding one; -1 if absent or not a non-negative integer. */
static long long js_number(const char *v, const char *vend)
{
    if (v < vend && *v == '"') {
        v++;
        if (vend > v && vend[-1] == '"')
            vend--;
    }
    char tmp[32];
    size_t n = (size_t)(vend - v);
    if (n == 0 || n >= sizeof tmp)
        return -1;
    memcpy(tmp, v, n);
    tmp[n] = '\0';
    char *end = NULL;
    errno = 0;
    double d = 0;
    long long x = strtoll(tmp, &end, 10);
    if (errno || end == tmp)
        return -1;
    if (*end == '.' || *end == 'e' || *end == 'E') { /* 1.0 or 1e3 */
        d = strtod(tmp, &end);
        if (*end || d < 0 || d > 9e18)
            return -1;
        x = (long long)d;
    } else if (*end) {
        return -1;
    }
    return x < 0 ? -1 : x;
}

static bool key_is(const char *k, size_t klen, const char *want)
{
    return klen == strlen(want) && memcmp(k, want, klen) == 0;
}

static void scan_body(const char *p, size_t n, struct body_info *bi)
{
    const char *e = p + n;
    p = js_skip_ws(p, e);
    if (p >= e || *p != '{')
        return;
    p++;
    for (;;) {
        p = js_skip_ws(p, e);
        if (p >= e || *p != '"')
            return;
        const char *k = p + 1, *kend = js_str_end(k, e);
        if (!kend)
            return;
        p = js_skip_ws(kend + 1, e);
        if (p >= e || *p != ':')
            return;
        const char *v = js_skip_ws(p + 1, e);
        const char *vend = js_skip_value(v, e);
        if (!vend)
            return;
        size_t klen = (size_t)(kend - k);
        if (key_is(k, klen, "model")) {
            if (*v == '"' && vend - v >= 2) {
                bi->model = v + 1;
                bi->model_len = (size_t)(vend - v - 2);
            }
        } else if (key_is(k, klen, "stream")) {
            bi->stream = (vend - v == 4 && memcmp(v, "true", 4) == 0);
        } else if (key_is(k, klen, "mock_mode")) {
            if (*v == '"' && vend - v >= 2) {
                bi->mode = v + 1;
                bi->mode_len = (size_t)(vend - v - 2);
            }
        } else if (key_is(k, klen, "mock_status")) {
            bi->status = js_number(v, vend);
        } else if (key_is(k, klen, "mock_delay_ms")) {
            bi->delay_ms = js_number(v, vend);
        } else if (key_is(k, klen, "mock_bytes")) {
            bi->bytes = js_number(v, vend);
        } else if (key_is(k, klen, "mock_events")) {
            bi->events = js_number(v, vend);
        } else if (key_is(k, klen, "mock_interval_ms")) {
            bi->interval_ms = js_number(v, vend);
        }
        p = js_skip_ws(vend, e);
        if (p >= e || *p != ',')
            return;
        p++;
    }
}

/* ---------- helpers ---------- */

static long long hdr_number(struct evkeyvalq *h, const char *name, long long body_val)
{
    const char *v = evhttp_find_header(h, name);
    if (!v)
        return body_val;
    while (*v == ' ' || *v == '\t')
        v++;
    const char *e = v + strlen(v);
    while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    return js_number(v, e);
}

static long long clampll(long long v, long long lo, long long hi) { return v < lo ? lo : v > hi ? hi : v; }

/* "name" exactly, or "name" followed by '-', ':' or '/' (model suffixes). */
static int lookup_mode(const char *s, size_t n, bool allow_suffix)
{
    int best = -1;
    size_t best_len = 0;
    for (int m = 0; m < M_COUNT; m++) {
        size_t ml = strlen(mode_names[m]);
        if (n < ml || strncasecmp(s, mode_names[m], ml) != 0)
            continue;
        if (n == ml || (allow_suffix && (s[ml] == '-' || s[ml] == ':' || s[ml] == '/'))) {
            if (ml > best_len) {
                best = m;
                best_len = ml;
            }
        }
    }
    return best;
}

static const char *method_name(enum evhttp_cmd_type t)
{
    switch (t) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_TRACE: return "TRACE";
    case EVHTTP_REQ_CONNECT: return "CONNECT";
    case EVHTTP_REQ_PATCH: return "PATCH";
    }
    return "UNKNOWN";
}

/* evhttp's table stops at 417 and 505; give the common provider codes their names. */
static const char *reason_phrase(int code)
{
    switch (code) {
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 529: return "Overloaded";
    default: return NULL; /* evhttp's own */
    }
}

static struct timeval ms_tv(long long ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    return tv;
}

/* ---------- recording ---------- */

static void record_request(struct evhttp_request *req, const char *uri, const char *body, size_t blen,
                           const char *mode)
{
    struct sbuf s = {0};
    sb_reserve(&s, 512 + (blen < REC_BODY_MAX ? blen : REC_BODY_MAX) * 11 / 10);
    sb_fmt(&s, "{\"seq\":%llu,\"method\":\"%s\",\"path\":", ++g_seq,
           method_name(evhttp_request_get_command(req)));
    sb_jstr(&s, uri, strlen(uri));
    sb_adds(&s, ",\"headers\":[");
    struct evkeyval *h;
    bool first = true;
    TAILQ_FOREACH(h, evhttp_request_get_input_headers(req), next) {
        sb_adds(&s, first ? "[" : ",[");
        first = false;
        sb_jstr(&s, h->key, strlen(h->key));
        sb_add(&s, ",", 1);
        sb_jstr(&s, h->value, strlen(h->value));
        sb_add(&s, "]", 1);
    }
    sb_fmt(&s, "],\"body_len\":%zu,\"body\":", blen);
    sb_jstr(&s, body, blen < REC_BODY_MAX ? blen : REC_BODY_MAX);
    sb_fmt(&s, ",\"body_truncated\":%s,\"mode\":\"%s\"}", blen > REC_BODY_MAX ? "true" : "false", mode);
    if (s.oom) {
        free(s.p);
        return;
    }
    unsigned slot;
    if (g_rec_count < REC_MAX) {
        slot = (g_rec_head + g_rec_count++) % REC_MAX;
    } else {
        slot = g_rec_head;
        free(g_rec[slot]);
        g_rec_head = (g_rec_head + 1) % REC_MAX;
    }
    g_rec[slot] = s.p;
    g_rec_len[slot] = s.len;
}

static void records_clear(void)
{
    for (unsigned i = 0; i < REC_MAX; i++) {
        free(g_rec[i]);
        g_rec[i] = NULL;
    }
    g_rec_head = g_rec_count = 0;
}

/* ---------- request lifetime ---------- */

static void ctx_free(struct ctx *c)
{
    if (!c->async)
        return;
    if (c->timer)
        event_free(c->timer);
    g_open--;
    free(c);
}

/* Call just before the final send: the request is finished, not aborted. */
static void ctx_release(struct ctx *c)
{
    if (!c->async)
        return;
    struct evhttp_connection *conn = evhttp_request_get_connection(c->req);
    if (conn)
        evhttp_connection_set_closecb(conn, NULL, NULL);
}

/* The connection went away while an async request was held or streaming. */
static void on_conn_close(struct evhttp_connection *conn, void *arg)
{
    struct ctx *c = arg;
    evhttp_connection_set_closecb(conn, NULL, NULL);
    if (!c->resetting)
        g_aborted++;
    /* Detached by libevent (client EOF/error): the request is now ours to free.
     * Otherwise libevent frees it with the connection right after this. */
    if (evhttp_request_get_connection(c->req) == NULL)
        evhttp_request_free(c->req);
    ctx_free(c);
}

static void on_timer(evutil_socket_t fd, short what, void *arg);

static struct ctx *ctx_make_async(const struct ctx *src)
{
    struct ctx *c = malloc(sizeof *c);
    if (!c)
        return NULL;
    *c = *src;
    c->async = true;
    c->timer = evtimer_new(g_base, on_timer, c);
    if (!c->timer) {
        free(c);
        return NULL;
    }
    g_open++;
    struct evhttp_connection *conn = evhttp_request_get_connection(c->req);
    evhttp_connection_set_closecb(conn, on_conn_close, c);
    /* evhttp stops reading while the handler owns the request; keep reading
     * (with no read callback, as evhttp itself does while writing) so that
     * a client going away is noticed even before anything is written. */
    struct bufferevent *bev = evhttp_connection_get_bufferevent(conn);
    bufferevent_data_cb rcb, wcb;
    bufferevent_event_cb ecb;
    void *cbarg;
    bufferevent_getcb(bev, &rcb, &wcb, &ecb, &cbarg);
    bufferevent_setcb(bev, NULL, wcb, ecb, cbarg);
    bufferevent_enable(bev, EV_READ);
    evutil_socket_t fd = bufferevent_getfd(bev);
    if (fd >= 0) {
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    return c;
}

static void arm(struct ctx *c, enum phase ph, long long ms)
{
    c->phase = ph;
    struct timeval tv = ms_tv(ms);
    evtimer_add(c->timer, &tv);
}

/* ---------- plain replies ---------- */

static void finish_reply(struct ctx *c, int code, const char *ctype)
{
    struct evkeyvalq *oh = evhttp_request_get_output_headers(c->req);
    evhttp_add_header(oh, "Content-Type", ctype);
    ctx_release(c);
    evhttp_send_reply(c->req, code, reason_phrase(code), NULL);
    ctx_free(c);
}

static void reply_static(struct ctx *c, int code, const char *body, size_t len)
{
    evbuffer_add(evhttp_request_get_output_buffer(c->req), body, len);
    finish_reply(c, code, "application/json");
}

static void reply_json(struct ctx *c)
{
    struct evbuffer *out = evhttp_request_get_output_buffer(c->req);
    if (c->count_tokens) {
        evbuffer_add(out, "{\"input_tokens\":12}", 19);
    } else {
        const struct canned *k = &g_canned[c->shape];
        evbuffer_add(out, k->pre, k->pre_len);
        evbuffer_add(out, c->model, c->model_len);
        evbuffer_add(out, k->suf, k->suf_len);
    }
    finish_reply(c, 200, "application/json");
}

static void reply_echo_key(struct ctx *c)
{
    struct evkeyvalq *ih = evhttp_request_get_input_headers(c->req);
    const char *key = evhttp_find_header(ih, "Authorization");
    if (key) {
        if (strncasecmp(key, "Bearer ", 7) == 0)
            key += 7;
    } else {
        key = evhttp_find_header(ih, "x-api-key");
        if (!key)
            key = evhttp_find_header(ih, "api-key");
        if (!key)
            key = "";
    }
    struct sbuf s = {0};
    sb_adds(&s, "{\"error\":{\"message\":\"Incorrect API key provided: ");
    sb_jesc(&s, key, strlen(key));
    sb_adds(&s, "\",\"type\":\"invalid_request_error\",\"code\":\"invalid_api_key\"}}");
    evhttp_add_header(evhttp_request_get_output_headers(c->req), "X-Echo-Auth", key);
    if (!s.oom)
        evbuffer_add(evhttp_request_get_output_buffer(c->req), s.p, s.len);
    free(s.p);
    finish_reply(c, 401, "application/json");
}

/* ---------- streams ---------- */

static void send_chunk(struct ctx *c, void (*cb)(struct evhttp_connection *, void *))
{
    if (cb)
        evhttp_send_reply_chunk_with_cb(c->req, g_scratch, cb, c);
    else
        evhttp_send_reply_chunk(c->req, g_scratch);
    evbuffer_drain(g_scratch, evbuffer_get_length(g_scratch));
}

#define M_ARGS (int)c->model_len, c->model

static void stream_head(struct ctx *c)
{
    struct evkeyvalq *oh = evhttp_request_get_output_headers(c->req);
    bool ndjson = c->shape == SH_OLLAMA_CHAT || c->shape == SH_OLLAMA_GEN;
    evhttp_add_header(oh, "Content-Type", ndjson ? "application/x-ndjson" : "text/event-stream");
    evhttp_add_header(oh, "Cache-Control", "no-cache");
    evhttp_send_reply_start(c->req, 200, "OK");
    if (c->shape == SH_ANTHROPIC) {
        evbuffer_add_printf(g_scratch,
                            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":"
                            "\"msg_mock0001\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"%.*s\","
                            "\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{"
                            "\"input_tokens\":12,\"output_tokens\":1}}}\n\n",
                            M_ARGS);
        send_chunk(c, NULL);
        evbuffer_add_printf(g_scratch, "event: content_block_start\ndata: {\"type\":\"content_block_start\","
                                       "\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n");
        send_chunk(c, NULL);
    }
}

static void stream_event(struct ctx *c, long long i, void (*cb)(struct evhttp_connection *, void *))
{
    const char *w = k_words[i % (long long)N_WORDS];
    switch (c->shape) {
    case SH_OPENAI:
        evbuffer_add_printf(g_scratch,
                            "data: {\"id\":\"chatcmpl-mock-0001\",\"object\":\"chat.completion.chunk\","
                            "\"created\":%lld,\"model\":\"%.*s\",\"system_fingerprint\":\"fp_mock\","
                            "\"choices\":[{\"index\":0,\"delta\":{%s\"content\":\"%s\"},\"logprobs\":null,"
                            "\"finish_reason\":%s}]}\n\n",
                            g_created, M_ARGS, i == 0 ? "\"role\":\"assistant\"," : "", w,
                            i == c->events - 1 ? "\"stop\"" : "null");
        break;
    case SH_ANTHROPIC:
        evbuffer_add_printf(g_scratch,
                            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
                            "\"delta\":{\"type\":\"text_delta\",\"text\":\"%s\"}}\n\n",
                            w);
        break;
    case SH_OLLAMA_CHAT:
        evbuffer_add_printf(g_scratch,
                            "{\"model\":\"%.*s\",\"created_at\":\"%s\",\"message\":{\"role\":\"assistant\","
                            "\"content\":\"%s\"},\"done\":false}\n",
                            M_ARGS, g_created_at, w);
        break;
    case SH_OLLAMA_GEN:
    case SH_COUNT:
        evbuffer_add_printf(g_scratch,
                            "{\"model\":\"%.*s\",\"created_at\":\"%s\",\"response\":\"%s\",\"done\":false}\n",
                            M_ARGS, g_created_at, w);
        break;
    }
    send_chunk(c, cb);
}

static void stream_tail_and_end(struct ctx *c)
{
    long long n = c->events;
    switch (c->shape) {
    case SH_OPENAI:
        if (!c->no_usage) {
            evbuffer_add_printf(g_scratch,
                                "data: {\"id\":\"chatcmpl-mock-0001\",\"object\":\"chat.completion.chunk\","
                                "\"created\":%lld,\"model\":\"%.*s\",\"system_fingerprint\":\"fp_mock\","
                                "\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":%lld,"
                                "\"total_tokens\":%lld}}\n\n",
                                g_created, M_ARGS, n, n + 12);
            send_chunk(c, NULL);
        }
        evbuffer_add(g_scratch, "data: [DONE]\n\n", 14);
        send_chunk(c, NULL);
        break;
    case SH_ANTHROPIC:
        evbuffer_add_printf(g_scratch, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\","
                                       "\"index\":0}\n\n");
        send_chunk(c, NULL);
        evbuffer_add_printf(g_scratch,
                            "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
                            "\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":%lld}}\n\n",
                            n);
        send_chunk(c, NULL);
        evbuffer_add_printf(g_scratch, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n");
        send_chunk(c, NULL);
        break;
    case SH_OLLAMA_CHAT:
        evbuffer_add_printf(g_scratch,
                            "{\"model\":\"%.*s\",\"created_at\":\"%s\",\"message\":{\"role\":\"assistant\","
                            "\"content\":\"\"},\"done_reason\":\"stop\",\"done\":true,\"total_duration\":"
                            "123456789,\"load_duration\":1234567,\"prompt_eval_count\":12,"
                            "\"prompt_eval_duration\":1234567,\"eval_count\":%lld,\"eval_duration\":12345678}\n",
                            M_ARGS, g_created_at, n);
        send_chunk(c, NULL);
        break;
    case SH_OLLAMA_GEN:
    case SH_COUNT:
        evbuffer_add_printf(g_scratch,
                            "{\"model\":\"%.*s\",\"created_at\":\"%s\",\"response\":\"\",\"done\":true,"
                            "\"done_reason\":\"stop\",\"context\":[1,2,3],\"total_duration\":123456789,"
                            "\"load_duration\":1234567,\"prompt_eval_count\":12,\"prompt_eval_duration\":"
                            "1234567,\"eval_count\":%lld,\"eval_duration\":12345678}\n",
                            M_ARGS, g_created_at, n);
        send_chunk(c, NULL);
        break;
    }
    ctx_release(c);
    evhttp_send_reply_end(c->req);
    ctx_free(c);
}

/* Sends the next event; ends the stream after the last one. */
static void stream_step(struct ctx *c)
{
    if (c->step < c->events)
        stream_event(c, c->step++, NULL);
    if (c->step >= c->events)
        stream_tail_and_end(c);
    else
        arm(c, PH_STREAM, c->interval_ms);
}

static void stream_start(struct ctx *c)
{
    stream_head(c);
    if (c->interval_ms <= 0 || c->events <= 1 || !c->async) {
        for (long long i = 0; i < c->events; i++)
            stream_event(c, i, NULL);
        stream_tail_and_end(c);
        return;
    }
    c->step = 0;
    stream_step(c);
}

/* ---------- reset ---------- */

static void on_reset_written(struct evhttp_connection *conn, void *arg)
{
    (void)conn;
    struct ctx *c = arg;
    if (c->phase == PH_RESET_KILL)
        return;
    arm(c, PH_RESET_KILL, RESET_GRACE_MS);
}

static void reset_kill(struct ctx *c)
{
    struct evhttp_connection *conn = evhttp_request_get_connection(c->req);
    struct bufferevent *bev = evhttp_connection_get_bufferevent(conn);
    evutil_socket_t fd = bufferevent_getfd(bev);
    if (fd >= 0) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        /* Closing the socket's last descriptor with linger 0 sends a RST.
         * Put an inert socket in its place so that libevent's own shutdown()
         * (which would send a FIN first) and close() hit that instead. */
        int dummy = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (dummy >= 0) {
            (void)dup2(dummy, fd);
            close(dummy);
        }
    }
    c->resetting = true;
    evhttp_connection_free(conn); /* runs on_conn_close, which frees c */
}

static void reset_start(struct ctx *c)
{
    stream_head(c);
    if (c->head) {
        arm(c, PH_RESET_KILL, RESET_GRACE_MS);
        return;
    }
    stream_event(c, 0, NULL);
    if (c->interval_ms > 0)
        arm(c, PH_RESET_EVENT, c->interval_ms);
    else
        stream_event(c, 1, on_reset_written);
}

/* ---------- big ---------- */

/* Appends one SSE line of exactly len bytes for index idx to dst. */
static size_t big_line(char *dst, unsigned long long idx, size_t len)
{
    char hdr[64];
    int hn = snprintf(hdr, sizeof hdr, "data: {\"i\":%llu,\"pad\":\"", idx);
    size_t h = hn > 0 ? (size_t)hn : 0;
    if (len >= h + 4) {
        memcpy(dst, hdr, h);
        memcpy(dst + h, g_pad, len - h - 4);
        memcpy(dst + len - 4, "\"}\n\n", 4);
    } else if (len >= 2) { /* tiny remainder: an SSE comment line */
        dst[0] = ':';
        memset(dst + 1, 'x', len - 2);
        dst[len - 1] = '\n';
    } else if (len == 1) {
        dst[0] = '\n';
    }
    return len;
}

static void big_next(struct evhttp_connection *conn, void *arg)
{
    (void)conn;
    struct ctx *c = arg;
    if (c->sent >= c->bytes) {
        ctx_release(c);
        evhttp_send_reply_end(c->req);
        ctx_free(c);
        return;
    }
    size_t n = 0;
    while (n < BIG_CHUNK && c->sent < c->bytes) {
        long long remaining = c->bytes - c->sent;
        size_t want = remaining < 2 * BIG_LINE ? (size_t)remaining : BIG_LINE;
        n += big_line(g_bigbuf + n, (unsigned long long)c->step++, want);
        c->sent += (long long)want;
    }
    evbuffer_add(g_scratch, g_bigbuf, n);
    send_chunk(c, big_next);
}

static void big_start(struct ctx *c)
{
    struct evkeyvalq *oh = evhttp_request_get_output_headers(c->req);
    evhttp_add_header(oh, "Content-Type", c->body_stream ? "text/event-stream" : "application/octet-stream");
    evhttp_send_reply_start(c->req, 200, "OK");
    c->step = 0;
    c->sent = 0;
    if (c->head)
        c->bytes = 0;
    big_next(NULL, c);
}

/* ---------- dispatch ---------- */

static void start_response(struct ctx *c)
{
    switch (c->mode) {
    case M_JSON:
    case M_SLOW:
    case M_STREAM:
        if (c->stream && !c->count_tokens)
            stream_start(c);
        else
            reply_json(c);
        break;
    case M_ERROR:
        reply_static(c, c->status, k_error_body, sizeof k_error_body - 1);
        break;
    case M_STATUS:
        reply_static(c, c->status, k_ok_body, sizeof k_ok_body - 1);
        break;
    case M_ECHO_KEY:
        reply_echo_key(c);
        break;
    case M_HANG:
        c->phase = PH_HELD;
        break;
    case M_RESET:
        reset_start(c);
        break;
    case M_BIG:
        big_start(c);
        break;
    case M_COUNT:
        break;
    }
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct ctx *c = arg;
    switch (c->phase) {
    case PH_DELAY:
        start_response(c);
        break;
    case PH_STREAM:
        stream_step(c);
        break;
    case PH_RESET_EVENT:
        stream_event(c, 1, on_reset_written);
        break;
    case PH_RESET_KILL:
        reset_kill(c);
        break;
    case PH_HELD:
        break;
    }
}

/* ---------- /__mock/ ---------- */

static void admin_reply(struct evhttp_request *req, int code, struct evbuffer *body)
{
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, code, NULL, body);
}

static void handle_admin(struct evhttp_request *req, const char *path, size_t plen)
{
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    struct evbuffer *out = evhttp_request_get_output_buffer(req);
    bool get = m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD;
#define IS(p) (plen == sizeof(p) - 1 && memcmp(path, p, plen) == 0)
    if (IS("/__mock/health")) {
        evbuffer_add(out, k_ok_body, sizeof k_ok_body - 1);
        admin_reply(req, 200, NULL);
    } else if (IS("/__mock/requests") && get) {
        evbuffer_add(out, "[", 1);
        for (unsigned i = 0; i < g_rec_count; i++) {
            unsigned slot = (g_rec_head + i) % REC_MAX;
            if (i)
                evbuffer_add(out, ",", 1);
            evbuffer_add(out, g_rec[slot], g_rec_len[slot]);
        }
        evbuffer_add(out, "]", 1);
        admin_reply(req, 200, NULL);
    } else if (IS("/__mock/requests") && m == EVHTTP_REQ_DELETE) {
        records_clear();
        evbuffer_add(out, k_ok_body, sizeof k_ok_body - 1);
        admin_reply(req, 200, NULL);
    } else if (IS("/__mock/stats") && get) {
        evbuffer_add_printf(out, "{\"requests\":%llu,\"aborted\":%llu,\"open_streams\":%lld,\"recorded\":%u}",
                            g_requests, g_aborted, g_open, g_rec_count);
        admin_reply(req, 200, NULL);
    } else if (IS("/__mock/stats") && m == EVHTTP_REQ_DELETE) {
        g_requests = g_aborted = 0;
        evbuffer_add(out, k_ok_body, sizeof k_ok_body - 1);
        admin_reply(req, 200, NULL);
    } else if (IS("/__mock/requests") || IS("/__mock/stats")) {
        evbuffer_add(out, "{\"error\":{\"message\":\"method not allowed\"}}", 42);
        admin_reply(req, 405, NULL);
    } else {
        evbuffer_add(out, "{\"error\":{\"message\":\"no such mock endpoint\"}}", 45);
        admin_reply(req, 404, NULL);
    }
#undef IS
}

static bool path_has(const char *p, size_t n, const char *needle)
{
    return memmem(p, n, needle, strlen(needle)) != NULL;
}

static bool path_ends(const char *p, size_t n, const char *suffix)
{
    size_t sl = strlen(suffix);
    return n >= sl && memcmp(p + n - sl, suffix, sl) == 0;
}

static void on_request(struct evhttp_request *req, void *arg)
{
    (void)arg;
    const char *uri = evhttp_request_get_uri(req);
    size_t plen = strcspn(uri, "?#");
    if (plen >= 8 && memcmp(uri, "/__mock/", 8) == 0) {
        handle_admin(req, uri, plen);
        return;
    }
    g_requests++;

    struct evkeyvalq *ih = evhttp_request_get_input_headers(req);
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t blen = evbuffer_get_length(in);
    const char *body = blen ? (const char *)evbuffer_pullup(in, -1) : "";
    if (!body) {
        body = "";
        blen = 0;
    }
    struct body_info bi = {.status = -1, .delay_ms = -1, .bytes = -1, .events = -1, .interval_ms = -1};
    if (blen)
        scan_body(body, blen, &bi);

    struct ctx c;
    memset(&c, 0, sizeof c);
    c.req = req;
    c.head = evhttp_request_get_command(req) == EVHTTP_REQ_HEAD;
    c.body_stream = bi.stream;

    if (path_has(uri, plen, "/v1/messages")) {
        c.shape = SH_ANTHROPIC;
        c.count_tokens = path_has(uri, plen, "/count_tokens");
    } else if (path_ends(uri, plen, "/api/chat")) {
        c.shape = SH_OLLAMA_CHAT;
    } else if (path_ends(uri, plen, "/api/generate")) {
        c.shape = SH_OLLAMA_GEN;
    } else {
        c.shape = SH_OPENAI;
    }

    bool model_ok = bi.model && bi.model_len <= MODEL_MAX;
    for (size_t i = 0; model_ok && i < bi.model_len; i++)
        if ((unsigned char)bi.model[i] < 0x20)
            model_ok = false;
    if (model_ok) {
        memcpy(c.model, bi.model, bi.model_len);
        c.model_len = bi.model_len;
    } else {
        memcpy(c.model, DEFAULT_MODEL, sizeof DEFAULT_MODEL - 1);
        c.model_len = sizeof DEFAULT_MODEL - 1;
    }

    int mode = -1;
    bool explicit_mode = true, bad_mode = false;
    const char *hm = evhttp_find_header(ih, "X-Mock-Mode");
    if (hm) {
        mode = lookup_mode(hm, strlen(hm), false);
        bad_mode = mode < 0;
    } else if (bi.mode) {
        mode = lookup_mode(bi.mode, bi.mode_len, false);
        bad_mode = mode < 0;
    } else if (model_ok && c.model_len > 5 && memcmp(c.model, "mock-", 5) == 0) {
        mode = lookup_mode(c.model + 5, c.model_len - 5, true);
    }
    if (mode < 0) {
        mode = M_JSON;
        explicit_mode = false;
    }
    c.mode = (enum mode)mode;
    c.stream = c.mode == M_STREAM || (c.mode == M_SLOW && bi.stream) || (!explicit_mode && bi.stream);

    long long st = hdr_number(ih, "X-Mock-Status", bi.status);
    long long dl = hdr_number(ih, "X-Mock-Delay-Ms", bi.delay_ms);
    long long by = hdr_number(ih, "X-Mock-Bytes", bi.bytes);
    long long ev = hdr_number(ih, "X-Mock-Events", bi.events);
    long long iv = hdr_number(ih, "X-Mock-Interval-Ms", bi.interval_ms);
    if (st < 0)
        st = c.mode == M_ERROR ? 500 : 200;
    c.status = (st >= 200 && st <= 599) ? (int)st : 500;
    c.delay_ms = dl >= 0 ? clampll(dl, 0, MAX_MS) : (c.mode == M_SLOW ? SLOW_DEFAULT : 0);
    c.bytes = by >= 0 ? clampll(by, 0, 1LL << 40) : BIG_DEFAULT;
    c.events = ev >= 0 ? clampll(ev, 0, 10 * 1000 * 1000) : EVENTS_DEFAULT;
    c.interval_ms = iv >= 0 ? clampll(iv, 0, MAX_MS) : 0;
    const char *usage_hdr = evhttp_find_header(ih, "X-Mock-Usage");
    c.no_usage = usage_hdr && strcasecmp(usage_hdr, "none") == 0;

    record_request(req, uri, body, blen,
                   bad_mode ? "invalid" : (c.stream && c.mode == M_JSON) ? "stream" : mode_names[c.mode]);

    if (bad_mode) {
        struct evbuffer *out = evhttp_request_get_output_buffer(req);
        evbuffer_add_printf(out, "{\"error\":{\"message\":\"unknown mock mode\",\"type\":\"invalid_request_error\","
                                 "\"code\":\"mock_mode\"}}");
        finish_reply(&c, 400, "application/json");
        return;
    }

    bool needs_async = c.delay_ms > 0 || c.mode == M_HANG || c.mode == M_RESET || c.mode == M_BIG ||
                       (c.stream && c.interval_ms > 0 && c.events > 1);
    if (!needs_async) {
        start_response(&c);
        return;
    }
    struct ctx *a = ctx_make_async(&c);
    if (!a) {
        reply_static(&c, 500, k_error_body, sizeof k_error_body - 1);
        return;
    }
    if (a->delay_ms > 0 && a->mode != M_HANG)
        arm(a, PH_DELAY, a->delay_ms);
    else
        start_response(a);
}

/* ---------- start-up ---------- */

static void build_canned(void)
{
    struct canned *k;
    g_created = (long long)time(NULL);
    time_t now = (time_t)g_created;
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(g_created_at, sizeof g_created_at, "%Y-%m-%dT%H:%M:%SZ", &tm);

    k = &g_canned[SH_OPENAI];
    k->pre_len = (size_t)snprintf(k->pre, sizeof k->pre,
                                  "{\"id\":\"chatcmpl-mock-0001\",\"object\":\"chat.completion\",\"created\":%lld,"
                                  "\"model\":\"",
                                  g_created);
    k->suf_len = (size_t)snprintf(k->suf, sizeof k->suf,
                                  "\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"
                                  "\"%s\",\"refusal\":null},\"logprobs\":null,\"finish_reason\":\"stop\"}],"
                                  "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":34,\"total_tokens\":46},"
                                  "\"system_fingerprint\":\"fp_mock\"}",
                                  k_content);

    k = &g_canned[SH_ANTHROPIC];
    k->pre_len = (size_t)snprintf(k->pre, sizeof k->pre,
                                  "{\"id\":\"msg_mock0001\",\"type\":\"message\",\"role\":\"assistant\","
                                  "\"model\":\"");
    k->suf_len = (size_t)snprintf(k->suf, sizeof k->suf,
                                  "\",\"content\":[{\"type\":\"text\",\"text\":\"%s\"}],\"stop_reason\":"
                                  "\"end_turn\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":12,"
                                  "\"output_tokens\":34}}",
                                  k_content);

    k = &g_canned[SH_OLLAMA_CHAT];
    k->pre_len = (size_t)snprintf(k->pre, sizeof k->pre, "{\"model\":\"");
    k->suf_len = (size_t)snprintf(k->suf, sizeof k->suf,
                                  "\",\"created_at\":\"%s\",\"message\":{\"role\":\"assistant\",\"content\":"
                                  "\"%s\"},\"done_reason\":\"stop\",\"done\":true,\"total_duration\":123456789,"
                                  "\"load_duration\":1234567,\"prompt_eval_count\":12,\"prompt_eval_duration\":"
                                  "1234567,\"eval_count\":34,\"eval_duration\":12345678}",
                                  g_created_at, k_content);

    k = &g_canned[SH_OLLAMA_GEN];
    k->pre_len = (size_t)snprintf(k->pre, sizeof k->pre, "{\"model\":\"");
    k->suf_len = (size_t)snprintf(k->suf, sizeof k->suf,
                                  "\",\"created_at\":\"%s\",\"response\":\"%s\",\"done\":true,\"done_reason\":"
                                  "\"stop\",\"context\":[1,2,3],\"total_duration\":123456789,\"load_duration\":"
                                  "1234567,\"prompt_eval_count\":12,\"prompt_eval_duration\":1234567,"
                                  "\"eval_count\":34,\"eval_duration\":12345678}",
                                  g_created_at, k_content);

    memset(g_pad, 'x', sizeof g_pad);
}

static evutil_socket_t listen_on(const char *host, long port)
{
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%ld", port);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "mock-upstream: %s: %s\n", host, gai_strerror(rc));
        return -1;
    }
    evutil_socket_t fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0)
            continue;
        int one = 1;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* inherited by accepted sockets */
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 4096) == 0)
            break;
        fprintf(stderr, "mock-upstream: bind %s:%ld: %s\n", host, port, strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static int bound_port(evutil_socket_t fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -1;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    (void)arg;
    event_base_loopbreak(g_base);
}

static void usage(void)
{
    fprintf(stderr, "usage: mock-upstream --port N [--host 127.0.0.1]\n"
                    "  port 0 picks a free port; prints \"LISTENING <port>\" when ready\n");
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    long port = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        bool is_port = strncmp(a, "--port", 6) == 0 && (a[6] == '\0' || a[6] == '=');
        bool is_host = strncmp(a, "--host", 6) == 0 && (a[6] == '\0' || a[6] == '=');
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage();
            return 0;
        }
        if (!is_port && !is_host) {
            usage();
            return 2;
        }
        if (a[6] == '=') {
            val = a + 7;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            usage();
            return 2;
        }
        if (is_host) {
            host = val;
        } else {
            char *end = NULL;
            errno = 0;
            port = strtol(val, &end, 10);
            if (errno || end == val || *end || port < 0 || port > 65535) {
                fprintf(stderr, "mock-upstream: bad port '%s'\n", val);
                return 2;
            }
        }
    }

    signal(SIGPIPE, SIG_IGN);
    build_canned();

    g_base = event_base_new();
    g_http = g_base ? evhttp_new(g_base) : NULL;
    g_scratch = evbuffer_new();
    if (!g_base || !g_http || !g_scratch) {
        fprintf(stderr, "mock-upstream: out of memory\n");
        return 1;
    }
    evhttp_set_max_body_size(g_http, MAX_BODY);
    evhttp_set_max_headers_size(g_http, MAX_HEADERS);
    evhttp_set_allowed_methods(g_http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
                                           EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(g_http, on_request, NULL);

    evutil_socket_t fd = listen_on(host, port);
    if (fd < 0)
        return 1;
    int actual = bound_port(fd);
    if (actual < 0 || !evhttp_accept_socket_with_handle(g_http, fd)) {
        fprintf(stderr, "mock-upstream: cannot listen on %s:%ld\n", host, port);
        return 1;
    }

    struct event *sterm = evsignal_new(g_base, SIGTERM, on_signal, NULL);
    struct event *sint = evsignal_new(g_base, SIGINT, on_signal, NULL);
    if (!sterm || !sint || evsignal_add(sterm, NULL) || evsignal_add(sint, NULL)) {
        fprintf(stderr, "mock-upstream: cannot install signal handlers\n");
        return 1;
    }

    printf("LISTENING %d\n", actual);
    fflush(stdout);

    event_base_dispatch(g_base);

    evhttp_free(g_http); /* closes connections; held requests are released via on_conn_close */
    event_free(sterm);
    event_free(sint);
    evbuffer_free(g_scratch);
    records_clear();
    event_base_free(g_base);
    return 0;
}

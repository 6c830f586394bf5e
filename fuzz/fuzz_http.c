/*
 * fuzz_http.c — libFuzzer target for the HTTP/1.1 request layer (src/http/conn.c): the input is written as
 * the raw byte stream of one client connection (any number of pipelined requests), through a socketpair into
 * a real connection of the server, with handlers that answer, stream, refuse at header time, and read bodies.
 * Crashes, sanitizer reports and leaks are the findings.
 */
#include "app/ui.h"
#include "core/err.h"
#include "core/limits.h"
#include "core/log.h"
#include "http/http.h"
#include "net/loop.h"

#include <event2/event.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static ig_loop_t g_loop;
static ig_http_server_t g_srv;

static int fz_on_headers(ig_req_t *req)
{
    if (ig_iov_has_prefix(req->path, IG_IOV_LIT("/deny"))) return IG_EBADKEY;
    if (ig_iov_has_prefix(req->path, IG_IOV_LIT("/self"))) {
        ig_resp_json(req, 403, "{}", 2);
        return 1;
    }
    req->body_max = 1 << 20;
    return IG_OK;
}

static void fz_on_request(ig_req_t *req)
{
    /* the dashboard's files (lookup, Accept-Encoding, If-None-Match) and the cookie reader */
    ig_iov_t ck = ig_req_cookie(req, IG_IOV_LIT("__Host-ingate_session"));
    if (ck.base && ck.len > IG_MAX_HEADER_BYTES) abort(); /* no longer than the headers it came from */
    if (ig_iov_has_prefix(req->path, IG_IOV_LIT("/ui"))) {
        ig_ui_handle(req);
        return;
    }
    if (ig_iov_has_prefix(req->path, IG_IOV_LIT("/stream"))) {
        static const ig_header_t ct = {IG_IOV_LIT("Content-Type"), IG_IOV_LIT("text/event-stream")};
        if (ig_resp_start(req, 200, &ct, 1, -1) != IG_OK) {
            ig_resp_abort(req);
            return;
        }
        ig_resp_write(req, "data: a\n\n", 9);
        ig_resp_write(req, req->body.data ? req->body.data : "", req->body.len);
        ig_resp_finish(req);
        return;
    }
    ig_iov_t h = ig_req_header(req, IG_IOV_LIT("x-fuzz"));
    ig_resp_json(req, h.base ? 201 : 200, "{\"ok\":true}", 11);
}

static void setup(void)
{
    static bool done;
    if (done) return;
    done = true;
    ig_log_set_level(IG_LOG_ERROR);
    ig_loop_global_init();
    ig_loop_init(&g_loop, 0, NULL);
    g_loop.user = NULL;
    ig_http_limits_t lim = {.max_body_bytes = 1 << 20,
                            .header_timeout_ms = 1000,
                            .idle_timeout_ms = 1000,
                            .body_timeout_ms = 1000,
                            .max_connections = 100};
    ig_http_handlers_t h = {fz_on_headers, fz_on_request, NULL};
    ig_http_server_init(&g_srv, &g_loop, NULL, &lim, &h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    if (size > 60000) return 0;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return 0;
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    int sz = 1 << 20;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    if (ig_http_adopt(&g_srv, sv[0], NULL, false) != IG_OK) {
        close(sv[1]);
        return 0;
    }
    size_t off = 0;
    char sink[65536];
    for (int i = 0; i < 64; i++) {
        if (off < size) {
            ssize_t w = write(sv[1], data + off, size - off);
            if (w > 0) off += (size_t)w;
            if (off == size) shutdown(sv[1], SHUT_WR);
        }
        event_base_loop(g_loop.base, EVLOOP_NONBLOCK);
        while (read(sv[1], sink, sizeof sink) > 0) {
        }
        if (off == size && g_srv.nconns == 0) break;
    }
    close(sv[1]);
    event_base_loop(g_loop.base, EVLOOP_NONBLOCK);
    ig_http_server_close_all(&g_srv);
    event_base_loop(g_loop.base, EVLOOP_NONBLOCK); /* deferred frees */
    return 0;
}

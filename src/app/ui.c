/*
 * ui.c — serves the embedded dashboard (see ui.h).
 */
#include "app/ui.h"
#include "core/err.h"

#include <stdlib.h>
#include <string.h>

static int cmp_path(const void *key, const void *elem)
{
    const ig_iov_t *k = key;
    const ig_ui_asset_t *a = elem;
    size_t al = strlen(a->path);
    int c = memcmp(k->base, a->path, k->len < al ? k->len : al);
    if (c) return c;
    return k->len < al ? -1 : k->len > al;
}

static const ig_ui_asset_t *find(const ig_ui_asset_t *tab, size_t n, ig_iov_t rel)
{
    return n ? bsearch(&rel, tab, n, sizeof tab[0], cmp_path) : NULL;
}

const ig_ui_asset_t *ig_ui_lookup(ig_iov_t path)
{
    return ig_ui_lookup_in(ig_ui_assets, ig_ui_assets_n, path);
}

const ig_ui_asset_t *ig_ui_lookup_in(const ig_ui_asset_t *tab, size_t n, ig_iov_t path)
{
    if (path.len < 4 || memcmp(path.base, "/ui/", 4) != 0) return NULL;
    ig_iov_t rel = ig_iov(path.base + 4, path.len - 4);
    const char *slash = rel.len ? memrchr(rel.base, '/', rel.len) : NULL;
    ig_iov_t last = slash ? ig_iov(slash + 1, (size_t)(rel.base + rel.len - slash - 1)) : rel;
    /* a route of the dashboard (no file extension): its single page */
    if (!memchr(last.base ? last.base : "", '.', last.len)) return find(tab, n, IG_IOV_LIT("index.html"));
    if (ig_iov_eq(rel, IG_IOV_LIT("index.html"))) return NULL; /* one address per page: /ui/ */
    return find(tab, n, rel);
}

bool ig_ui_accepts_gzip(ig_iov_t v)
{
    if (!v.base) return false;
    const char *p = v.base, *end = v.base + v.len;
    bool star = false;
    while (p && p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        ig_iov_t item = ig_iov_trim(ig_iov(p, (size_t)((comma ? comma : end) - p)));
        const char *semi = memchr(item.base, ';', item.len);
        ig_iov_t coding = ig_iov_trim(ig_iov(item.base, semi ? (size_t)(semi - item.base) : item.len));
        bool zero = false;
        if (semi) {
            ig_iov_t params = ig_iov_trim(ig_iov(semi + 1, (size_t)(item.base + item.len - semi - 1)));
            /* q=0, q=0.0, q=0.000: refused */
            if (params.len >= 3 && (params.base[0] == 'q' || params.base[0] == 'Q') &&
                params.base[1] == '=') {
                zero = true;
                for (size_t i = 2; i < params.len; i++)
                    if (params.base[i] != '0' && params.base[i] != '.') zero = false;
            }
        }
        if (ig_iov_ieq(coding, IG_IOV_LIT("gzip")) || ig_iov_ieq(coding, IG_IOV_LIT("x-gzip"))) return !zero;
        if (ig_iov_eq(coding, IG_IOV_LIT("*")) && !zero) star = true;
        p = comma ? comma + 1 : end;
    }
    return star;
}

/* If-None-Match holding this ETag (weak comparison, as RFC 9110 asks for this header) or "*". */
static bool not_modified(ig_iov_t inm, const char *etag)
{
    if (!inm.base) return false;
    ig_iov_t t = ig_iov_trim(inm);
    if (ig_iov_eq(t, IG_IOV_LIT("*"))) return true;
    size_t el = strlen(etag);
    return el && memmem(t.base, t.len, etag, el) != NULL;
}

static void redirect(ig_req_t *req, int status, const char *location)
{
    ig_header_t h[2] = {{IG_IOV_LIT("Location"), ig_iov_str(location)},
                        {IG_IOV_LIT("Cache-Control"), IG_IOV_LIT("no-cache")}};
    if (ig_resp_start_with_body(req, status, h, 2, NULL, 0) != IG_OK)
        ig_resp_abort(req);
    else
        ig_resp_finish(req);
}

void ig_ui_handle(ig_req_t *req)
{
    if (strcmp(req->method_name, "GET") != 0 && strcmp(req->method_name, "HEAD") != 0) {
        ig_resp_method_not_allowed(req, IG_IOV_LIT("GET, HEAD"));
        return;
    }
    if (ig_iov_eq(req->path, IG_IOV_LIT("/ui"))) {
        redirect(req, 301, "/ui/");
        return;
    }
    const ig_ui_asset_t *a = ig_ui_lookup(req->path);
    if (!a) {
        ig_resp_error(req, IG_ENOTFOUND,
                      ig_ui_assets_n ? NULL : "the dashboard was not built into this binary");
        return;
    }
    req->csp = IG_UI_CSP; /* the dashboard's files; its errors and redirects keep the API's stricter one */
    bool page = strcmp(a->path, "index.html") == 0;
    ig_header_t h[5];
    size_t n = 0;
    h[n++] = (ig_header_t){IG_IOV_LIT("Content-Type"), ig_iov_str(a->content_type)};
    /* the page is revalidated on every load (it names the current assets); the assets never change */
    h[n++] = (ig_header_t){IG_IOV_LIT("Cache-Control"),
                           page ? IG_IOV_LIT("no-cache") : IG_IOV_LIT("public, max-age=31536000, immutable")};
    h[n++] = (ig_header_t){IG_IOV_LIT("ETag"), ig_iov_str(a->etag)};
    if (a->gz) h[n++] = (ig_header_t){IG_IOV_LIT("Vary"), IG_IOV_LIT("Accept-Encoding")};
    if (not_modified(ig_req_header(req, IG_IOV_LIT("if-none-match")), a->etag)) {
        if (ig_resp_start(req, 304, h + 1, n - 1, -1) != IG_OK) /* no body, no length */
            ig_resp_abort(req);
        else
            ig_resp_finish(req);
        return;
    }
    const unsigned char *body = a->data;
    size_t len = a->len;
    if (a->gz && ig_ui_accepts_gzip(ig_req_header(req, IG_IOV_LIT("accept-encoding")))) {
        h[n++] = (ig_header_t){IG_IOV_LIT("Content-Encoding"), IG_IOV_LIT("gzip")};
        body = a->gz;
        len = a->gz_len;
    }
    if (ig_resp_start_with_body(req, 200, h, n, body, len) != IG_OK)
        ig_resp_abort(req);
    else
        ig_resp_finish(req);
}

void ig_ui_handle_root(ig_req_t *req)
{
    redirect(req, 302, "/ui/"); /* 302: the bare address may serve something else one day */
}

/*
 * ui.h — the dashboard's files, embedded in the binary at build time (scripts/embed-ui.mjs turns the
 * production build of ui/ into a table), and the handler that serves them under /ui/.
 *
 *   /ui/assets/<name>-<hash>.<ext>   the file; content-hashed names, so cached for a year ("immutable")
 *   /ui/ and /ui/<route>             index.html for every path whose last segment has no '.', so the
 *                                    dashboard's own routes survive a reload (Cache-Control: no-cache)
 *   /ui                              301 to /ui/;  / (GET, HEAD) 302 to /ui/
 *
 * GET and HEAD only. A strong ETag answers If-None-Match with 304; the gzip form is sent to clients that
 * accept it (Vary: Accept-Encoding). Every answer carries the dashboard's Content-Security-Policy (no inline
 * script or style, nothing from another origin, no framing) on top of the security headers of every
 * response. Nothing is read from disk.
 */
#ifndef IG_APP_UI_H
#define IG_APP_UI_H

#include "http/http.h"

#include <stddef.h>

typedef struct ig_ui_asset {
    const char *path;         /* relative to the build root: "index.html", "assets/app-1a2b3c.js" */
    const char *content_type; /* with charset for text */
    const char *etag;         /* quoted, strong */
    const unsigned char *data;
    size_t len;
    const unsigned char *gz; /* NULL when gzip would not be smaller */
    size_t gz_len;
} ig_ui_asset_t;

/* The generated table (sorted by path, ending with a NULL path) and its length. */
extern const ig_ui_asset_t ig_ui_assets[];
extern const size_t ig_ui_assets_n;

/* The dashboard's policy: its own origin only, no inline code, no framing. */
#define IG_UI_CSP                                                                                            \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "       \
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

/* The asset a /ui path names (index.html for the dashboard's routes), or NULL; _in: in table tab of n. */
const ig_ui_asset_t *ig_ui_lookup(ig_iov_t path);
const ig_ui_asset_t *ig_ui_lookup_in(const ig_ui_asset_t *tab, size_t n, ig_iov_t path);
/* Whether an Accept-Encoding value admits gzip: a "gzip" (or else "*") coding whose q is not 0. */
bool ig_ui_accepts_gzip(ig_iov_t accept_encoding);

/* Answers a request under /ui (any method). */
void ig_ui_handle(ig_req_t *req);
/* GET or HEAD of the bare address: 302 to /ui/ (a browser pointed at the gateway lands on the dashboard). */
void ig_ui_handle_root(ig_req_t *req);

#endif

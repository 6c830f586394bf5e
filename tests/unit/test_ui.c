/* The dashboard's file lookup (routes → index.html, hashed assets by exact path, nothing outside /ui/) and
 * the Accept-Encoding reading that decides whether the gzip form is sent. */
#include "app/ui.h"
#include "unit.h"

static const unsigned char X[] = "x";
static const ig_ui_asset_t TAB[] = {
    {"assets/app-ABC123.css", "text/css; charset=utf-8", "\"c\"", X, 1, NULL, 0},
    {"assets/app-ABC123.js", "text/javascript; charset=utf-8", "\"j\"", X, 1, NULL, 0},
    {"assets/logo-XYZ.svg", "image/svg+xml", "\"s\"", X, 1, NULL, 0},
    {"index.html", "text/html; charset=utf-8", "\"i\"", X, 1, NULL, 0},
    {NULL, NULL, NULL, NULL, 0, NULL, 0},
};
#define N 4

static const char *look(const char *path)
{
    const ig_ui_asset_t *a = ig_ui_lookup_in(TAB, N, ig_iov_str(path));
    return a ? a->path : "-";
}

TEST(lookup)
{
    /* the dashboard's routes, reloaded or deep-linked: its one page */
    CHECK_EQ_STR(look("/ui/"), "index.html");
    CHECK_EQ_STR(look("/ui/logs"), "index.html");
    CHECK_EQ_STR(look("/ui/logs/0190c6c4-1111-7222-8333-444455556666"), "index.html");
    CHECK_EQ_STR(look("/ui/settings/"), "index.html");
    /* files by their exact name */
    CHECK_EQ_STR(look("/ui/assets/app-ABC123.js"), "assets/app-ABC123.js");
    CHECK_EQ_STR(look("/ui/assets/app-ABC123.css"), "assets/app-ABC123.css");
    CHECK_EQ_STR(look("/ui/assets/logo-XYZ.svg"), "assets/logo-XYZ.svg");
    /* a name that is not there, or close to one, is not found (never the page in its place) */
    CHECK_EQ_STR(look("/ui/assets/app-ABC124.js"), "-");
    CHECK_EQ_STR(look("/ui/assets/app-ABC123.js2"), "-");
    CHECK_EQ_STR(look("/ui/assets/app-ABC123.j"), "-");
    CHECK_EQ_STR(look("/ui/app-ABC123.js"), "-");
    CHECK_EQ_STR(look("/ui/favicon.ico"), "-");
    /* one address for the page: /ui/ */
    CHECK_EQ_STR(look("/ui/index.html"), "-");
    /* outside /ui/ */
    CHECK_EQ_STR(look("/ui"), "-");
    CHECK_EQ_STR(look("/uiassets/app-ABC123.js"), "-");
    CHECK_EQ_STR(look("/assets/app-ABC123.js"), "-");
    CHECK_EQ_STR(look(""), "-");
    /* an empty table (a binary built without the dashboard) has nothing */
    CHECK(ig_ui_lookup_in(TAB, 0, IG_IOV_LIT("/ui/")) == NULL);
}

TEST(accept_encoding)
{
    CHECK(ig_ui_accepts_gzip(IG_IOV_LIT("gzip")));
    CHECK(ig_ui_accepts_gzip(IG_IOV_LIT("gzip, deflate, br, zstd")));
    CHECK(ig_ui_accepts_gzip(IG_IOV_LIT("br;q=1.0, GZIP;q=0.5")));
    CHECK(ig_ui_accepts_gzip(IG_IOV_LIT("x-gzip")));
    CHECK(ig_ui_accepts_gzip(IG_IOV_LIT("*")));
    CHECK(ig_ui_accepts_gzip(IG_IOV_LIT("identity, *;q=0.1")));
    CHECK(!ig_ui_accepts_gzip(IG_IOV_LIT("gzip;q=0")));
    CHECK(!ig_ui_accepts_gzip(IG_IOV_LIT("gzip; q=0.000")));
    CHECK(!ig_ui_accepts_gzip(IG_IOV_LIT("*, gzip;q=0"))); /* named beats the wildcard */
    CHECK(!ig_ui_accepts_gzip(IG_IOV_LIT("br, deflate")));
    CHECK(!ig_ui_accepts_gzip(IG_IOV_LIT("identity")));
    CHECK(!ig_ui_accepts_gzip(IG_IOV_LIT("gzipx")));
    CHECK(!ig_ui_accepts_gzip(IG_IOV_LIT("")));
    CHECK(!ig_ui_accepts_gzip(IG_IOV_NULL));
}

int main(void)
{
    RUN(lookup);
    RUN(accept_encoding);
    UNIT_DONE();
}

/*
 * Unit tests of src/capture/logwriter.c driven directly (ig_logwriter_new / write / replay) with hand-made
 * capture records, real orgs in a control database and per-org log databases in a fresh temporary
 * directory. Covers: the org data key created on first use and shared by every writer; capture modes full /
 * metadata / off; fields sealed under the org key with AAD bound to org, record and column; PII redaction
 * (pattern, hash, drop) only for enterprise orgs unless the operator forces it; tokens and cost from the
 * response; blind-index lookups; key last use; orphans; the spool when an org's database is locked and its
 * replay; and that no raw PII byte reaches any file. Budgets: a stream that reports no usage settles its
 * budget hold and its tokens-per-minute charge with an estimate from its bytes (capped at what was charged);
 * an alert two writers (two nodes) cross together is queued once; an alert that cannot be queued stays
 * pending and is queued by a later pass, once, even if it was queued before a crash.
 */
#include "unit.h"
#include "capture/capture.h"
#include "capture/logwriter.h"
#include "capture/orgctx.h"
#include "capture/pricing.h"
#include "capture/spool.h"
#include "core/err.h"
#include "core/log.h"
#include "crypto/orgkey.h"
#include "limit/budget.h"
#include "limit/limiter.h"
#include "net/loop.h"
#include "webhook/webhook.h"
#include "store/logstore.h"
#include "store/store.h"

#include <dirent.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* PII the tests put in bodies and ids: it must never reach a file in clear. */
#define EMAIL    "alice.pii@example.com"
#define CARD     "4111 1111 1111 1111"
#define CARD_RUN "4111111111111111"
#define SSN      "123-45-6789"
#define PII_BODY                                                                                             \
    "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"mail " EMAIL " card " CARD         \
    " ssn " SSN "\"}]}"
#define PII_RESP "{\"id\":\"chatcmpl-9\",\"choices\":[{\"message\":{\"content\":\"I wrote to " EMAIL "\"}}]}"
#define REDACTED_BODY                                                                                        \
    "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"mail [REDACTED] card [REDACTED] "  \
    "ssn "                                                                                                   \
    "[REDACTED]\"}]}"
#define REDACTED_RESP                                                                                        \
    "{\"id\":\"chatcmpl-9\",\"choices\":[{\"message\":{\"content\":\"I wrote to [REDACTED]\"}}]}"

#define REDACT_PATTERN "{\"redaction\":{\"enabled\":true,\"mode\":\"pattern\"}}"

static char g_dir[64], g_url[128], g_logs[128], g_spool[128];
static uint8_t g_kek[32];
static ig_store_t *g_st;
static ig_pricing_t *g_pricing;
static unsigned g_seq;

/* ---- setup helpers ---- */

static ig_capture_conf_t conf_of(bool redact_all)
{
    return (ig_capture_conf_t){.store_url = g_url,
                               .logs_dir = g_logs,
                               .spool_dir = g_spool,
                               .kek = g_kek,
                               .kek_id = 3,
                               .redact_all_orgs = redact_all,
                               .pricing = g_pricing,
                               .queue_len = 1024};
}

static ig_logwriter_t *new_writer(bool redact_all)
{
    ig_capture_conf_t c = conf_of(redact_all);
    ig_logwriter_t *w = ig_logwriter_new(&c);
    CHECK(w != NULL);
    return w;
}

/* A new org with this plan and settings (NULL = none); its id into id[33]. */
static void new_org(const char *slug, int plan, const char *settings, char id[33])
{
    ig_org_t *o = calloc(1, sizeof *o);
    id[0] = '\0';
    CHECK(o != NULL);
    if (!o) return;
    CHECK_EQ_INT(ig_store_org_create(g_st, slug, slug, o), IG_OK);
    snprintf(id, 33, "%s", o->id);
    CHECK_EQ_INT(strlen(id), 32);
    if (plan != IG_STORE_PLAN_FREE) CHECK_EQ_INT(ig_store_org_set_plan(g_st, id, plan), IG_OK);
    if (settings) CHECK_EQ_INT(ig_store_org_update(g_st, id, NULL, NULL, settings, NULL), IG_OK);
    ig_orgctx_bump(); /* as the API does after a change */
    free(o);
}

/* A record as the proxy hands it over; bodies and ids may be NULL. */
static ig_capture_rec_t *mk(const char *org_id, const char *req, const char *resp, const char *user,
                            const char *session)
{
    ig_capture_rec_t *r = calloc(1, sizeof *r);
    CHECK(r != NULL);
    if (!r) return NULL;
    snprintf(r->meta.id, sizeof r->meta.id, "%08x-0000-4000-8000-%012x", (unsigned)getpid(), ++g_seq);
    snprintf(r->meta.org_id, sizeof r->meta.org_id, "%s", org_id);
    snprintf(r->meta.key_prefix, sizeof r->meta.key_prefix, "igk_abcd");
    snprintf(r->meta.provider, sizeof r->meta.provider, "openai");
    snprintf(r->meta.method, sizeof r->meta.method, "POST");
    r->meta.status = 200;
    r->meta.latency_ms = 12.5;
    r->meta.ttfb_ms = 3.25;
    r->meta.created_at = ig_wall_ms();
    r->path = strdup("/v1/chat/completions");
    ig_buf_init(&r->req_body, 1 << 20);
    ig_buf_init(&r->resp_body, 1 << 20);
    if (req) CHECK_EQ_INT(ig_buf_append(&r->req_body, req, strlen(req)), IG_OK);
    if (resp) CHECK_EQ_INT(ig_buf_append(&r->resp_body, resp, strlen(resp)), IG_OK);
    r->meta.req_bytes = (int64_t)r->req_body.len;
    r->meta.resp_bytes = (int64_t)r->resp_body.len;
    if (user) r->user_id = strdup(user);
    if (session) r->session_id = strdup(session);
    snprintf(r->client_ip, sizeof r->client_ip, "203.0.113.7");
    r->req_ctype = strdup("application/json");
    r->resp_ctype = strdup("application/json");
    return r;
}

/* Writes one record as a batch of one and frees it; its id into id[37]. */
static void write_one(ig_logwriter_t *w, ig_capture_rec_t *r, char id[37])
{
    if (!w || !r) {
        ig_capture_rec_free(r);
        return;
    }
    snprintf(id, 37, "%s", r->meta.id);
    ig_logwriter_write(w, &r, 1);
    ig_capture_rec_free(r);
}

static ig_logstore_t *open_ls(const char *org)
{
    int err = 0;
    ig_logstore_t *ls = ig_logstore_open(g_logs, org, &err);
    CHECK(ls != NULL);
    return ls;
}

static int64_t count_of(const char *org)
{
    ig_logstore_t *ls = open_ls(org);
    int64_t n = -1;
    if (ls) CHECK_EQ_INT(ig_logstore_count(ls, &n), IG_OK);
    ig_logstore_close(ls);
    return n;
}

/* The stored record (caller frees with ig_logrow_free); IG_ENOTFOUND etc. */
static int get_row(const char *org, const char *id, ig_logrow_t *row)
{
    ig_logstore_t *ls = open_ls(org);
    int rc = ls ? ig_logstore_get(ls, id, row) : IG_ESTORE;
    ig_logstore_close(ls);
    return rc;
}

/* The org's data key, unwrapped with the test's KEK. */
static int org_dk(const char *org, uint8_t dk[32])
{
    uint8_t *w = NULL;
    size_t wlen = 0;
    int rc = ig_store_org_data_key_get(g_st, org, &w, &wlen);
    if (rc == IG_OK && !w) rc = IG_ENOTFOUND;
    if (rc == IG_OK) rc = ig_orgkey_unwrap(g_kek, org, ig_iov((const char *)w, wlen), dk);
    free(w);
    return rc;
}

/* Opens a sealed field of record rec_id into a malloc'd NUL-terminated string (*out NULL on failure). */
static int open_field(const uint8_t dk[32], const char *org, const char *rec_id, const char *field,
                      const uint8_t *ct, size_t len, char **out)
{
    ig_buf_t pt;
    ig_buf_init(&pt, 32u << 20);
    *out = NULL;
    int rc = ct ? ig_field_open(dk, org, rec_id, field, ig_iov((const char *)ct, len), &pt) : IG_ENOTFOUND;
    if (rc == IG_OK) {
        *out = malloc(pt.len + 1);
        if (*out) {
            memcpy(*out, pt.data, pt.len);
            (*out)[pt.len] = '\0';
        }
    }
    ig_buf_free(&pt, true);
    return rc;
}

/* Checks that the sealed field opens to `want` (NULL = the field is absent). */
static void expect_field(const char *org, const ig_logrow_t *row, const char *field, const uint8_t *ct,
                         size_t len, const char *want)
{
    uint8_t dk[32];
    char *got = NULL;
    CHECK_EQ_INT(org_dk(org, dk), IG_OK);
    if (!want) {
        if (ct || len) fprintf(stderr, "  %s: present, expected absent\n", field);
        CHECK(ct == NULL && len == 0);
        return;
    }
    CHECK_EQ_INT(open_field(dk, org, row->r.id, field, ct, len, &got), IG_OK);
    CHECK_EQ_STR(got, want);
    free(got);
}

static void expect_tag(const char *org, const char *field, const char *value, const uint8_t tag[16])
{
    uint8_t dk[32], tk[32], want[16];
    CHECK_EQ_INT(org_dk(org, dk), IG_OK);
    CHECK_EQ_INT(ig_field_tag_key(dk, tk), IG_OK);
    CHECK_EQ_INT(ig_field_tag(tk, field, ig_iov_str(value), want), IG_OK);
    CHECK_MEM(tag, want, 16);
}

static int spool_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strncmp(e->d_name, "spool-", 6) == 0;
    closedir(d);
    return n;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- scanning every file for raw PII ---- */

static const char *const PII[] = {EMAIL, CARD, CARD_RUN, SSN};
static int g_pii_hits, g_files_scanned;
static bool g_scan_quiet;

static int scan_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    if (flag != FTW_F) return 0;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t cap = (size_t)sb->st_size + 1, n;
    char *buf = malloc(cap);
    n = buf ? fread(buf, 1, cap, f) : 0;
    fclose(f);
    g_files_scanned++;
    for (size_t i = 0; buf && i < IG_ARRAY_LEN(PII); i++)
        if (memmem(buf, n, PII[i], strlen(PII[i]))) {
            if (!g_scan_quiet) fprintf(stderr, "  raw PII \"%s\" found in %s\n", PII[i], path);
            g_pii_hits++;
        }
    free(buf);
    return 0;
}

/* Number of raw PII occurrences in any file under the temp dir (-wal and -shm files and spool included). */
static int scan_pii(void)
{
    g_pii_hits = g_files_scanned = 0;
    CHECK_EQ_INT(nftw(g_dir, scan_entry, 16, FTW_PHYS), 0);
    return g_pii_hits;
}

/* ---- tests ---- */

TEST(data_key_created_on_first_use)
{
    char org[33], id1[37] = "", id2[37] = "";
    new_org("dk-org", IG_STORE_PLAN_FREE, NULL, org);
    uint8_t *wr = NULL;
    size_t wlen = 0;
    CHECK_EQ_INT(ig_store_org_data_key_get(g_st, org, &wr, &wlen), IG_OK);
    CHECK(wr == NULL); /* none until the first record */
    free(wr);

    ig_logwriter_t *w = new_writer(false);
    write_one(w, mk(org, "{\"q\":1}", "{\"a\":1}", NULL, NULL), id1);
    CHECK_EQ_INT(ig_store_org_data_key_get(g_st, org, &wr, &wlen), IG_OK);
    CHECK(wr != NULL && wlen > 32);
    uint8_t dk[32], other[32];
    CHECK_EQ_INT(ig_orgkey_unwrap(g_kek, org, ig_iov((const char *)wr, wlen), dk), IG_OK);
    memcpy(other, g_kek, 32);
    other[0] ^= 1;
    CHECK_EQ_INT(ig_orgkey_unwrap(other, org, ig_iov((const char *)wr, wlen), dk), IG_ECRYPTO);
    free(wr);

    /* a second writer (another thread or process) uses the same key */
    ig_logwriter_t *w2 = new_writer(false);
    write_one(w2, mk(org, "{\"q\":2}", "{\"a\":2}", NULL, NULL), id2);
    ig_logrow_t row;
    CHECK_EQ_INT(get_row(org, id1, &row), IG_OK);
    expect_field(org, &row, "req_body", row.r.req_body, row.r.req_body_len, "{\"q\":1}");
    ig_logrow_free(&row);
    CHECK_EQ_INT(get_row(org, id2, &row), IG_OK);
    expect_field(org, &row, "req_body", row.r.req_body, row.r.req_body_len, "{\"q\":2}");
    ig_logrow_free(&row);
    CHECK_EQ_INT(count_of(org), 2);
    ig_logwriter_free(w2);
    ig_logwriter_free(w);
}

TEST(capture_full)
{
    char org[33], id[37] = "";
    new_org("full-org", IG_STORE_PLAN_FREE, "{\"capture\":\"full\"}", org);
    unsigned long long written0 = atomic_load(&ig_capture_stats.written);
    ig_logwriter_t *w = new_writer(false);
    ig_capture_rec_t *r =
        mk(org, "{\"model\":\"gpt-4o\",\"q\":\"hello\"}", "{\"answer\":\"hi\"}", "user-7", "sess-1");
    if (r) {
        r->model = strdup("gpt-4o");
        r->error = strdup("upstream_timeout");
        r->meta.status = 504;
        r->meta.stream = true;
        r->meta.resp_truncated = true;
        memcpy(r->meta.key_id, "0123456789abcdef0123456789abcdef", 33);
    }
    int64_t created = r ? r->meta.created_at : 0;
    write_one(w, r, id);
    CHECK_EQ_INT(atomic_load(&ig_capture_stats.written) - written0, 1);
    CHECK_EQ_INT(count_of(org), 1);

    ig_logrow_t row;
    CHECK_EQ_INT(get_row(org, id, &row), IG_OK);
    CHECK_EQ_STR(row.r.id, id);
    CHECK_EQ_STR(row.r.path, "/v1/chat/completions");
    CHECK_EQ_STR(row.r.model, "gpt-4o");
    CHECK_EQ_STR(row.r.error, "upstream_timeout");
    CHECK_EQ_STR(row.r.provider, "openai");
    CHECK_EQ_STR(row.r.method, "POST");
    CHECK_EQ_STR(row.r.key_prefix, "igk_abcd");
    CHECK_EQ_STR(row.r.key_id, "0123456789abcdef0123456789abcdef");
    CHECK_EQ_INT(row.r.status, 504);
    CHECK(row.r.stream);
    CHECK(row.r.resp_truncated);
    CHECK(!row.r.req_truncated);
    CHECK(row.r.latency_ms == 12.5);
    CHECK(row.r.ttfb_ms == 3.25);
    CHECK_EQ_INT(row.r.created_at, created);
    CHECK_EQ_INT(row.r.req_bytes, 30);
    CHECK_EQ_INT(row.r.input_tokens, -1); /* no usage in that response */
    CHECK_EQ_INT(row.r.cost_micros, -1);
    expect_field(org, &row, "req_body", row.r.req_body, row.r.req_body_len,
                 "{\"model\":\"gpt-4o\",\"q\":\"hello\"}");
    expect_field(org, &row, "resp_body", row.r.resp_body, row.r.resp_body_len, "{\"answer\":\"hi\"}");
    expect_field(org, &row, "user_id", row.r.user_id, row.r.user_id_len, "user-7");
    expect_field(org, &row, "session_id", row.r.session_id, row.r.session_id_len, "sess-1");
    expect_field(org, &row, "client_ip", row.r.client_ip, row.r.client_ip_len, "203.0.113.7");
    CHECK(row.r.has_user_tag);
    CHECK(row.r.has_session_tag);
    expect_tag(org, "user_id", "user-7", row.r.user_tag);
    expect_tag(org, "session_id", "sess-1", row.r.session_tag);
    /* ciphertext, not the text */
    CHECK(row.r.req_body_len > 30 && !memmem(row.r.req_body, row.r.req_body_len, "hello", 5));
    CHECK(!memmem(row.r.user_id, row.r.user_id_len, "user-7", 6));
    ig_logrow_free(&row);
    ig_logwriter_free(w);
}

TEST(capture_metadata)
{
    char org[33], id[37] = "";
    new_org("meta-org", IG_STORE_PLAN_FREE, "{\"capture\":\"metadata\"}", org);
    ig_logwriter_t *w = new_writer(false);
    ig_capture_rec_t *r = mk(org, "{\"model\":\"gpt-4o\",\"q\":\"secret prompt\"}",
                             "{\"a\":\"secret answer\"}", "user-8", "sess-2");
    if (r) r->error = strdup("upstream_error");
    write_one(w, r, id);
    ig_logrow_t row;
    CHECK_EQ_INT(get_row(org, id, &row), IG_OK);
    /* no bodies */
    CHECK(row.r.req_body == NULL && row.r.req_body_len == 0);
    CHECK(row.r.resp_body == NULL && row.r.resp_body_len == 0);
    /* everything else */
    CHECK_EQ_STR(row.r.path, "/v1/chat/completions");
    CHECK_EQ_STR(row.r.error, "upstream_error");
    CHECK_EQ_INT(row.r.req_bytes, 38);
    expect_field(org, &row, "user_id", row.r.user_id, row.r.user_id_len, "user-8");
    expect_field(org, &row, "session_id", row.r.session_id, row.r.session_id_len, "sess-2");
    expect_field(org, &row, "client_ip", row.r.client_ip, row.r.client_ip_len, "203.0.113.7");
    CHECK(row.r.has_user_tag && row.r.has_session_tag);
    expect_tag(org, "user_id", "user-8", row.r.user_tag);
    ig_logrow_free(&row);
    ig_logwriter_free(w);
}

#define OPENAI_RESP                                                                                          \
    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{"   \
    "\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"hi\"}}],\"usage\":{\"prompt_tokens\":"    \
    "1000,"                                                                                                  \
    "\"completion_tokens\":500,\"total_tokens\":1500,\"prompt_tokens_details\":{\"cached_tokens\":200}}}"

/* The same usage answered by other model versions. */
#define OPENAI_RESP_0513                                                                                     \
    "{\"id\":\"chatcmpl-2\",\"model\":\"gpt-4o-2024-05-13\",\"usage\":{\"prompt_tokens\":1000,"              \
    "\"completion_tokens\":500,\"total_tokens\":1500,\"prompt_tokens_details\":{\"cached_tokens\":200}}}"
#define OPENAI_RESP_ACME                                                                                     \
    "{\"id\":\"chatcmpl-3\",\"model\":\"acme-llm-1-0301\",\"usage\":{\"prompt_tokens\":1000,"                \
    "\"completion_tokens\":500,\"total_tokens\":1500,\"prompt_tokens_details\":{\"cached_tokens\":200}}}"

TEST(capture_off)
{
    char org[33], id[37] = "";
    new_org("off-org", IG_STORE_PLAN_FREE, "{\"capture\":\"off\"}", org);
    ig_logwriter_t *w = new_writer(false);
    ig_capture_rec_t *r = mk(org, "{\"model\":\"gpt-4o\",\"q\":\"x\"}", OPENAI_RESP, "user-9", "sess-3");
    if (r) {
        r->model = strdup("gpt-4o");
        r->error = strdup("upstream_error");
        memcpy(r->meta.key_id, "fedcba9876543210fedcba9876543210", 33);
        r->meta.status = 201;
    }
    write_one(w, r, id);
    ig_logrow_t row;
    CHECK_EQ_INT(get_row(org, id, &row), IG_OK);
    /* only what usage and budgets need */
    CHECK_EQ_STR(row.r.path, "");
    CHECK(row.r.error == NULL);
    CHECK(row.r.req_body == NULL && row.r.resp_body == NULL);
    CHECK(row.r.user_id == NULL && row.r.session_id == NULL && row.r.client_ip == NULL);
    CHECK(!row.r.has_user_tag && !row.r.has_session_tag);
    /* ... and that is kept */
    CHECK_EQ_STR(row.r.model, "gpt-4o");
    CHECK_EQ_STR(row.r.provider, "openai");
    CHECK_EQ_STR(row.r.key_id, "fedcba9876543210fedcba9876543210");
    CHECK_EQ_INT(row.r.status, 201);
    CHECK_EQ_INT(row.r.input_tokens, 1000);
    CHECK_EQ_INT(row.r.output_tokens, 500);
    CHECK_EQ_INT(row.r.cached_tokens, 200);
    CHECK_EQ_INT(row.r.cost_micros, 7250);
    CHECK(row.r.latency_ms == 12.5);
    ig_logrow_free(&row);
    ig_logwriter_free(w);
}

/* Each field is sealed for its own org, record and column. */
TEST(fields_sealed_with_aad)
{
    char org[33], org2[33], id[37] = "", id2[37] = "";
    new_org("aad-org", IG_STORE_PLAN_FREE, NULL, org);
    new_org("aad-org2", IG_STORE_PLAN_FREE, NULL, org2);
    ig_logwriter_t *w = new_writer(false);
    write_one(w, mk(org, "{\"q\":\"aad\"}", "{\"a\":1}", "user-aad", "sess-aad"), id);
    write_one(w, mk(org, "{\"q\":\"other\"}", "{\"a\":2}", "user-aad", NULL), id2);
    write_one(w, mk(org2, "{\"q\":\"x\"}", NULL, NULL, NULL), (char[37]){0});
    ig_logrow_t row;
    uint8_t dk[32], dk2[32];
    char *pt = NULL;
    CHECK_EQ_INT(org_dk(org, dk), IG_OK);
    CHECK_EQ_INT(org_dk(org2, dk2), IG_OK);
    CHECK(memcmp(dk, dk2, 32) != 0); /* one key per org */
    CHECK_EQ_INT(get_row(org, id, &row), IG_OK);
    const uint8_t *u = row.r.user_id, *b = row.r.req_body;
    size_t un = row.r.user_id_len, bn = row.r.req_body_len;
    CHECK_EQ_INT(open_field(dk, org, id, "user_id", u, un, &pt), IG_OK);
    CHECK_EQ_STR(pt, "user-aad");
    free(pt);
    CHECK_EQ_INT(open_field(dk, org, id2, "user_id", u, un, &pt), IG_ECRYPTO);   /* another record */
    CHECK_EQ_INT(open_field(dk, org, id, "session_id", u, un, &pt), IG_ECRYPTO); /* another column */
    CHECK_EQ_INT(open_field(dk, org2, id, "user_id", u, un, &pt), IG_ECRYPTO);   /* another org's AAD */
    CHECK_EQ_INT(open_field(dk2, org, id, "user_id", u, un, &pt), IG_ECRYPTO);   /* another org's key */
    CHECK_EQ_INT(open_field(dk, org, id, "req_body", b, bn, &pt), IG_OK);
    CHECK_EQ_STR(pt, "{\"q\":\"aad\"}");
    free(pt);
    CHECK_EQ_INT(open_field(dk, org, id, "resp_body", b, bn, &pt), IG_ECRYPTO);
    CHECK_EQ_INT(open_field(dk, org, id2, "req_body", b, bn, &pt), IG_ECRYPTO);
    CHECK(pt == NULL);
    ig_logrow_free(&row);
    ig_logwriter_free(w);
}

TEST(redaction_enterprise_pattern)
{
    char org[33], id[37] = "";
    new_org("red-ent", IG_STORE_PLAN_ENTERPRISE, REDACT_PATTERN, org);
    unsigned long long bytes0 = atomic_load(&ig_capture_stats.redact_bytes);
    ig_logwriter_t *w = new_writer(false);
    write_one(w, mk(org, PII_BODY, PII_RESP, EMAIL, "sess-42"), id);
    CHECK(atomic_load(&ig_capture_stats.redact_bytes) - bytes0 >=
          strlen(PII_BODY) + strlen(PII_RESP) + strlen(EMAIL));
    ig_logrow_t row;
    CHECK_EQ_INT(get_row(org, id, &row), IG_OK);
    expect_field(org, &row, "req_body", row.r.req_body, row.r.req_body_len, REDACTED_BODY);
    expect_field(org, &row, "resp_body", row.r.resp_body, row.r.resp_body_len, REDACTED_RESP);
    expect_field(org, &row, "user_id", row.r.user_id, row.r.user_id_len, "[REDACTED]");
    expect_field(org, &row, "session_id", row.r.session_id, row.r.session_id_len, "sess-42");
    expect_field(org, &row, "client_ip", row.r.client_ip, row.r.client_ip_len, "203.0.113.7");
    /* the tag is of what was stored, so it never indexes the raw address */
    expect_tag(org, "user_id", "[REDACTED]", row.r.user_tag);
    ig_logrow_free(&row);
    ig_logwriter_free(w);
}

/* Redaction is an Enterprise feature: a free org asking for it is stored as is, unless the operator
 * redacts every org. */
TEST(redaction_plan_gate)
{
    char org[33], id[37] = "", id2[37] = "";
    new_org("red-free", IG_STORE_PLAN_FREE, REDACT_PATTERN, org);
    ig_logwriter_t *w = new_writer(false);
    write_one(w, mk(org, PII_BODY, PII_RESP, EMAIL, NULL), id);
    ig_logrow_t row;
    CHECK_EQ_INT(get_row(org, id, &row), IG_OK);
    expect_field(org, &row, "req_body", row.r.req_body, row.r.req_body_len, PII_BODY);
    expect_field(org, &row, "resp_body", row.r.resp_body, row.r.resp_body_len, PII_RESP);
    expect_field(org, &row, "user_id", row.r.user_id, row.r.user_id_len, EMAIL);
    ig_logrow_free(&row);
    ig_logwriter_free(w);

    /* the operator's redact_all_orgs: the same free org is redacted */
    w = new_writer(true);
    write_one(w, mk(org, PII_BODY, PII_RESP, EMAIL, NULL), id2);
    CHECK_EQ_INT(get_row(org, id2, &row), IG_OK);
    expect_field(org, &row, "req_body", row.r.req_body, row.r.req_body_len, REDACTED_BODY);
    expect_field(org, &row, "resp_body", row.r.resp_body, row.r.resp_body_len, REDACTED_RESP);
    expect_field(org, &row, "user_id", row.r.user_id, row.r.user_id_len, "[REDACTED]");
    ig_logrow_free(&row);

    /* and an org that did not ask for it at all */
    char org2[33], id3[37] = "";
    new_org("red-none", IG_STORE_PLAN_FREE, NULL, org2);
    write_one(w, mk(org2, PII_BODY, NULL, NULL, NULL), id3);
    CHECK_EQ_INT(get_row(org2, id3, &row), IG_OK);
    expect_field(org2, &row, "req_body", row.r.req_body, row.r.req_body_len, REDACTED_BODY);
    ig_logrow_free(&row);
    ig_logwriter_free(w);

    /* an enterprise org with redaction off keeps its bodies */
    char org3[33], id4[37] = "";
    new_org("red-ent-off", IG_STORE_PLAN_ENTERPRISE,
            "{\"redaction\":{\"enabled\":false,\"mode\":\"pattern\"}}", org3);
    w = new_writer(false);
    write_one(w, mk(org3, PII_BODY, NULL, NULL, NULL), id4);
    CHECK_EQ_INT(get_row(org3, id4, &row), IG_OK);
    expect_field(org3, &row, "req_body", row.r.req_body, row.r.req_body_len, PII_BODY);
    ig_logrow_free(&row);
    ig_logwriter_free(w);
}

#define HD_BODY "{\"messages\":[{\"role\":\"user\",\"content\":\"mail " EMAIL " now\"}],\"n\":1}"

TEST(redaction_hash_and_drop)
{
    char horg[33], dorg[33], hid[37] = "", did[37] = "";
    new_org("red-hash", IG_STORE_PLAN_ENTERPRISE, "{\"redaction\":{\"enabled\":true,\"mode\":\"hash\"}}",
            horg);
    new_org("red-drop", IG_STORE_PLAN_ENTERPRISE, "{\"redaction\":{\"enabled\":true,\"mode\":\"drop\"}}",
            dorg);
    ig_logwriter_t *w = new_writer(false);
    write_one(w, mk(horg, HD_BODY, "{\"n\":" CARD_RUN ",\"ok\":true}", "id:" EMAIL, "sess-h"), hid);
    write_one(w, mk(dorg, HD_BODY, "{\"n\":" CARD_RUN ",\"ok\":true}", "id:" EMAIL, "sess-d"), did);
    ig_logrow_t row;
    CHECK_EQ_INT(get_row(horg, hid, &row), IG_OK);
    /* hash: the whole value becomes "[REDACTED]" (a number becomes that string) */
    expect_field(horg, &row, "req_body", row.r.req_body, row.r.req_body_len,
                 "{\"messages\":[{\"role\":\"user\",\"content\":\"[REDACTED]\"}],\"n\":1}");
    expect_field(horg, &row, "resp_body", row.r.resp_body, row.r.resp_body_len,
                 "{\"n\":\"[REDACTED]\",\"ok\":true}");
    expect_field(horg, &row, "user_id", row.r.user_id, row.r.user_id_len, "[REDACTED]");
    expect_field(horg, &row, "session_id", row.r.session_id, row.r.session_id_len, "sess-h");
    CHECK(row.r.has_user_tag);
    ig_logrow_free(&row);

    CHECK_EQ_INT(get_row(dorg, did, &row), IG_OK);
    /* drop: the value becomes null; a matching attribution id is not stored at all */
    expect_field(dorg, &row, "req_body", row.r.req_body, row.r.req_body_len,
                 "{\"messages\":[{\"role\":\"user\",\"content\":null}],\"n\":1}");
    expect_field(dorg, &row, "resp_body", row.r.resp_body, row.r.resp_body_len, "{\"n\":null,\"ok\":true}");
    expect_field(dorg, &row, "user_id", row.r.user_id, row.r.user_id_len, NULL);
    CHECK(!row.r.has_user_tag);
    expect_field(dorg, &row, "session_id", row.r.session_id, row.r.session_id_len, "sess-d");
    CHECK(row.r.has_session_tag);
    ig_logrow_free(&row);
    ig_logwriter_free(w);
}

#define ANTHROPIC_RESP                                                                                       \
    "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-3-5-sonnet-"           \
    "20241022\","                                                                                            \
    "\"content\":[{\"type\":\"text\",\"text\":\"hi\"}],\"usage\":{\"input_tokens\":100,\"output_tokens\":"   \
    "50,"                                                                                                    \
    "\"cache_read_input_tokens\":1000,\"cache_creation_input_tokens\":0}}"

TEST(tokens_and_cost)
{
    char org[33], id[5][37] = {"", "", "", "", ""};
    new_org("cost-org", IG_STORE_PLAN_FREE, NULL, org);
    ig_logwriter_t *w = new_writer(false);
    /* 0: gpt-4o answered as gpt-4o-2024-08-06 (priced as gpt-4o: 2.5 / 1.25 cached / 10 USD per 1M):
     *    800 * 2.5 + 200 * 1.25 + 500 * 10 = 7250 micro-USD */
    ig_capture_rec_t *r = mk(org, "{\"model\":\"gpt-4o\"}", OPENAI_RESP, NULL, NULL);
    if (r) r->model = strdup("gpt-4o");
    write_one(w, r, id[0]);
    /* 1: the response's exact version has its own price (gpt-4o-2024-05-13: 5 / 15, cache reads at the
     *    input price): 1000 * 5 + 500 * 15 = 12500; the stored model stays the one asked for */
    r = mk(org, "{\"model\":\"gpt-4o\"}", OPENAI_RESP_0513, NULL, NULL);
    if (r) r->model = strdup("gpt-4o");
    write_one(w, r, id[1]);
    /* 2: a model the table does not know (openai has no wildcard): tokens, but cost unknown */
    r = mk(org, "{\"model\":\"acme-llm-1\"}", OPENAI_RESP_ACME, NULL, NULL);
    if (r) r->model = strdup("acme-llm-1");
    write_one(w, r, id[2]);
    /* 3: Anthropic: input excludes cache reads: 100 * 3 + 1000 * 0.3 + 50 * 15 = 1350 */
    r = mk(org, "{\"model\":\"claude-3-5-sonnet\"}", ANTHROPIC_RESP, NULL, NULL);
    if (r) {
        r->model = strdup("claude-3-5-sonnet");
        snprintf(r->meta.provider, sizeof r->meta.provider, "anthropic");
    }
    write_one(w, r, id[3]);
    /* 4: no usage at all */
    r = mk(org, "{\"model\":\"gpt-4o\"}", "{\"error\":{\"message\":\"overloaded\"}}", NULL, NULL);
    if (r) {
        r->model = strdup("gpt-4o");
        r->meta.status = 529;
    }
    write_one(w, r, id[4]);

    struct {
        const char *model;
        int64_t in, out, cached, cost;
    } want[5] = {{"gpt-4o", 1000, 500, 200, 7250},
                 {"gpt-4o", 1000, 500, 200, 12500},
                 {"acme-llm-1", 1000, 500, 200, -1},
                 {"claude-3-5-sonnet", 100, 50, 1000, 1350},
                 {"gpt-4o", -1, -1, -1, -1}};
    for (int i = 0; i < 5; i++) {
        ig_logrow_t row;
        CHECK_EQ_INT(get_row(org, id[i], &row), IG_OK);
        CHECK_EQ_STR(row.r.model, want[i].model);
        CHECK_EQ_INT(row.r.input_tokens, want[i].in);
        CHECK_EQ_INT(row.r.output_tokens, want[i].out);
        CHECK_EQ_INT(row.r.cached_tokens, want[i].cached);
        CHECK_EQ_INT(row.r.cost_micros, want[i].cost);
        ig_logrow_free(&row);
    }
    ig_logwriter_free(w);

    /* without a price table nothing is priced */
    ig_capture_conf_t c = conf_of(false);
    c.pricing = NULL;
    w = ig_logwriter_new(&c);
    CHECK(w != NULL);
    char id5[37] = "";
    r = mk(org, "{\"model\":\"gpt-4o\"}", OPENAI_RESP, NULL, NULL);
    if (r) r->model = strdup("gpt-4o");
    write_one(w, r, id5);
    ig_logrow_t row;
    CHECK_EQ_INT(get_row(org, id5, &row), IG_OK);
    CHECK_EQ_INT(row.r.input_tokens, 1000);
    CHECK_EQ_INT(row.r.cost_micros, -1);
    ig_logrow_free(&row);
    ig_logwriter_free(w);

    /* the aggregates add the known costs */
    ig_logstore_t *ls = open_ls(org);
    ig_usage_summary_t u;
    if (ls && ig_logstore_usage_summary(ls, 0, 0, &u) == IG_OK) {
        CHECK_EQ_INT(u.requests, 6);
        CHECK_EQ_INT(u.cost_micros, 7250 + 12500 + 1350);
        CHECK_EQ_INT(u.input_tokens, 4 * 1000 + 100);
    } else {
        CHECK(!"usage summary");
    }
    ig_logstore_close(ls);
}

/* Records are found by end user or session through their blind-index tags. */
TEST(blind_index_query)
{
    char org[33], id[4][37] = {"", "", "", ""};
    new_org("tag-org", IG_STORE_PLAN_FREE, NULL, org);
    ig_logwriter_t *w = new_writer(false);
    const char *users[4] = {"user-1", "user-2", "user-1", NULL};
    const char *sess[4] = {"s-a", "s-a", "s-b", "s-a"};
    for (int i = 0; i < 4; i++) {
        ig_capture_rec_t *r = mk(org, "{}", "{}", users[i], sess[i]);
        if (r) r->meta.created_at = 1700000000000LL + i;
        write_one(w, r, id[i]);
    }
    ig_logwriter_free(w);

    uint8_t dk[32], tk[32], t_u1[16], t_u3[16], t_sa[16];
    CHECK_EQ_INT(org_dk(org, dk), IG_OK);
    CHECK_EQ_INT(ig_field_tag_key(dk, tk), IG_OK);
    CHECK_EQ_INT(ig_field_tag(tk, "user_id", ig_iov_str("user-1"), t_u1), IG_OK);
    CHECK_EQ_INT(ig_field_tag(tk, "user_id", ig_iov_str("user-3"), t_u3), IG_OK);
    CHECK_EQ_INT(ig_field_tag(tk, "session_id", ig_iov_str("s-a"), t_sa), IG_OK);
    ig_logstore_t *ls = open_ls(org);
    if (!ls) return;
    ig_logrow_t rows[8];
    size_t n = 0;
    char next[IG_LOGSTORE_CURSOR_MAX];

    ig_logfilter_t f = {.user_tag = t_u1};
    CHECK_EQ_INT(ig_logstore_query(ls, &f, "", false, rows, 8, &n, next), IG_OK);
    CHECK_EQ_INT(n, 2);
    if (n == 2) { /* newest first */
        CHECK_EQ_STR(rows[0].r.id, id[2]);
        CHECK_EQ_STR(rows[1].r.id, id[0]);
    }
    for (size_t i = 0; i < n; i++)
        ig_logrow_free(&rows[i]);

    f = (ig_logfilter_t){.user_tag = t_u3};
    CHECK_EQ_INT(ig_logstore_query(ls, &f, "", false, rows, 8, &n, next), IG_OK);
    CHECK_EQ_INT(n, 0);

    f = (ig_logfilter_t){.session_tag = t_sa};
    CHECK_EQ_INT(ig_logstore_query(ls, &f, "", false, rows, 8, &n, next), IG_OK);
    CHECK_EQ_INT(n, 3);
    if (n == 3) {
        CHECK_EQ_STR(rows[0].r.id, id[3]);
        CHECK_EQ_STR(rows[1].r.id, id[1]);
        CHECK_EQ_STR(rows[2].r.id, id[0]);
    }
    for (size_t i = 0; i < n; i++)
        ig_logrow_free(&rows[i]);

    f = (ig_logfilter_t){.user_tag = t_u1, .session_tag = t_sa};
    CHECK_EQ_INT(ig_logstore_query(ls, &f, "", false, rows, 8, &n, next), IG_OK);
    CHECK_EQ_INT(n, 1);
    if (n == 1) CHECK_EQ_STR(rows[0].r.id, id[0]);
    for (size_t i = 0; i < n; i++)
        ig_logrow_free(&rows[i]);
    /* a tag is per field: the user tag of "s-a" finds nothing */
    uint8_t t_wrong[16];
    CHECK_EQ_INT(ig_field_tag(tk, "user_id", ig_iov_str("s-a"), t_wrong), IG_OK);
    f = (ig_logfilter_t){.user_tag = t_wrong};
    CHECK_EQ_INT(ig_logstore_query(ls, &f, "", false, rows, 8, &n, next), IG_OK);
    CHECK_EQ_INT(n, 0);
    ig_logstore_close(ls);
}

TEST(key_last_use_raised)
{
    char org[33], id[37] = "";
    new_org("touch-org", IG_STORE_PLAN_FREE, NULL, org);
    uint8_t hash[32];
    for (int i = 0; i < 32; i++)
        hash[i] = (uint8_t)(0x5a ^ i);
    ig_keyrec_t key;
    CHECK_EQ_INT(ig_store_key_create(g_st, org, hash, "igk_touch", "k", IG_STORE_ROLE_MEMBER, 0, &key),
                 IG_OK);
    CHECK_EQ_INT(key.last_used_at, 0);
    int64_t t = ig_wall_ms();
    ig_logwriter_t *w = new_writer(false);
    ig_capture_rec_t *recs[3];
    int64_t at[3] = {t - 5000, t - 1000, t - 3000};
    for (int i = 0; i < 3; i++) {
        recs[i] = mk(org, "{}", "{}", NULL, NULL);
        if (!recs[i]) return;
        memcpy(recs[i]->meta.key_id, key.id, sizeof key.id);
        recs[i]->meta.created_at = at[i];
    }
    ig_logwriter_write(w, recs, 3);
    for (int i = 0; i < 3; i++)
        ig_capture_rec_free(recs[i]);
    ig_keyrec_t got;
    CHECK_EQ_INT(ig_store_key_get(g_st, org, key.id, &got), IG_OK);
    CHECK_EQ_INT(got.last_used_at, t - 1000);
    /* an older record never lowers it */
    ig_capture_rec_t *r = mk(org, "{}", "{}", NULL, NULL);
    if (r) {
        memcpy(r->meta.key_id, key.id, sizeof key.id);
        r->meta.created_at = t - 9000;
    }
    write_one(w, r, id);
    CHECK_EQ_INT(ig_store_key_get(g_st, org, key.id, &got), IG_OK);
    CHECK_EQ_INT(got.last_used_at, t - 1000);
    CHECK_EQ_INT(count_of(org), 4);
    ig_logwriter_free(w);
}

/* A record whose org does not exist (never did, or was deleted meanwhile) is discarded, not spooled. */
TEST(orphans_discarded)
{
    char org[33], id[37] = "";
    new_org("gone-org", IG_STORE_PLAN_FREE, NULL, org);
    unsigned long long orphaned0 = atomic_load(&ig_capture_stats.orphaned);
    unsigned long long spooled0 = atomic_load(&ig_capture_stats.spooled);
    unsigned long long dropped0 = atomic_load(&ig_capture_stats.dropped);
    unsigned long long written0 = atomic_load(&ig_capture_stats.written);
    ig_logwriter_t *w = new_writer(false);
    const char *never = "00000000000000000000000000000abc";
    write_one(w, mk(never, "{}", "{}", NULL, NULL), id);
    CHECK_EQ_INT(atomic_load(&ig_capture_stats.orphaned) - orphaned0, 1);
    char path[256];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s.db", g_logs, never);
    CHECK(stat(path, &sb) != 0); /* no database made for it */

    write_one(w, mk(org, "{}", "{}", NULL, NULL), id); /* cached by the writer now */
    CHECK_EQ_INT(count_of(org), 1);
    CHECK_EQ_INT(ig_store_org_delete(g_st, org), IG_OK);
    ig_orgctx_bump();
    write_one(w, mk(org, "{}", "{}", NULL, NULL), id);
    CHECK_EQ_INT(atomic_load(&ig_capture_stats.orphaned) - orphaned0, 2);
    CHECK_EQ_INT(atomic_load(&ig_capture_stats.written) - written0, 1);
    CHECK_EQ_INT(atomic_load(&ig_capture_stats.spooled) - spooled0, 0);
    CHECK_EQ_INT(atomic_load(&ig_capture_stats.dropped) - dropped0, 0);
    CHECK_EQ_INT(spool_files(g_spool), 0);
    ig_logwriter_free(w);
}

/* Records in an org's log database, read through a plain read-only connection. */
static int64_t raw_count(const char *org)
{
    char path[256];
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    int64_t n = -1;
    snprintf(path, sizeof path, "%s/%s.db", g_logs, org);
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT count(*) FROM logs", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        n = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return n;
}

/* Holds the write lock of an org's log database from another connection. */
static sqlite3 *lock_db(const char *org)
{
    char path[256];
    sqlite3 *db = NULL;
    snprintf(path, sizeof path, "%s/%s.db", g_logs, org);
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    return db;
}

static void unlock_db(sqlite3 *db)
{
    CHECK_EQ_INT(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* An org's database that cannot take the batch (another connection holds its write lock past the busy
 * timeout): the records go to the spool, sealed and redacted as they would be stored, and a replay once the
 * lock is gone stores each exactly once. */
TEST(spool_when_locked_then_replay)
{
    char org[33], other[33], first[37] = "", oid[37] = "";
    new_org("spool-org", IG_STORE_PLAN_ENTERPRISE, REDACT_PATTERN, org);
    new_org("spool-other", IG_STORE_PLAN_FREE, NULL, other);
    ig_logwriter_t *w = new_writer(false);
    if (!w) return;
    ig_logwriter_replay(w);                               /* nothing to do: a fresh writer checks once */
    write_one(w, mk(org, "{}", "{}", NULL, NULL), first); /* the database exists */
    unsigned long long spooled0 = atomic_load(&ig_capture_stats.spooled);
    unsigned long long replayed0 = atomic_load(&ig_capture_stats.replayed);
    unsigned long long written0 = atomic_load(&ig_capture_stats.written);
    unsigned long long dropped0 = atomic_load(&ig_capture_stats.dropped);

    sqlite3 *db = lock_db(org);
    ig_capture_rec_t *recs[4];
    char ids[3][37];
    for (int i = 0; i < 3; i++) {
        recs[i] = mk(org, PII_BODY, PII_RESP, EMAIL, "sess-s");
        if (!recs[i]) return;
        recs[i]->model = strdup("gpt-4o");
        snprintf(ids[i], sizeof ids[i], "%s", recs[i]->meta.id);
    }
    recs[3] = mk(other, PII_BODY, NULL, NULL, NULL); /* another org in the same batch is not held up */
    if (!recs[3]) return;
    snprintf(oid, sizeof oid, "%s", recs[3]->meta.id);
    int64_t t0 = ig_wall_ms();
    ig_logwriter_write(w, recs, 4);
    int64_t took = ig_wall_ms() - t0;
    for (int i = 0; i < 4; i++)
        ig_capture_rec_free(recs[i]);
    CHECK(took >= 4000); /* waited for the busy timeout (5 s)... */
    CHECK(took < 20000); /* ...and no longer */
    CHECK_EQ_INT(atomic_load(&ig_capture_stats.spooled) - spooled0, 3);
    CHECK_EQ_INT(atomic_load(&ig_capture_stats.written) - written0, 1);
    CHECK_EQ_INT(atomic_load(&ig_capture_stats.dropped) - dropped0, 0);
    CHECK_EQ_INT(count_of(other), 1);
    CHECK_EQ_INT(raw_count(org), 1); /* (a new log store handle cannot be opened while the lock is held) */
    CHECK_EQ_INT(spool_files(g_spool), 1); /* sealed: replayable */
    CHECK_EQ_INT(scan_pii(), 0);           /* the spool holds ciphertext of redacted text */

    unlock_db(db);
    /* the replay runs at most once a second: retry until the spool is empty */
    for (int i = 0; i < 40 && spool_files(g_spool) != 0; i++) {
        ig_logwriter_replay(w);
        if (spool_files(g_spool) != 0) sleep_ms(100);
    }
    CHECK_EQ_INT(spool_files(g_spool), 0);
    CHECK_EQ_INT(count_of(org), 4);
    CHECK_EQ_INT(atomic_load(&ig_capture_stats.replayed) - replayed0, 3);
    for (int i = 0; i < 3; i++) {
        ig_logrow_t row;
        CHECK_EQ_INT(get_row(org, ids[i], &row), IG_OK);
        expect_field(org, &row, "req_body", row.r.req_body, row.r.req_body_len, REDACTED_BODY);
        expect_field(org, &row, "user_id", row.r.user_id, row.r.user_id_len, "[REDACTED]");
        expect_field(org, &row, "session_id", row.r.session_id, row.r.session_id_len, "sess-s");
        expect_tag(org, "session_id", "sess-s", row.r.session_tag);
        CHECK_EQ_STR(row.r.model, "gpt-4o");
        ig_logrow_free(&row);
    }
    /* a later replay finds nothing more and stores nothing twice */
    sleep_ms(1100);
    ig_logwriter_replay(w);
    CHECK_EQ_INT(count_of(org), 4);
    CHECK_EQ_INT(atomic_load(&ig_capture_stats.replayed) - replayed0, 3);
    ig_logstore_t *ls = open_ls(org);
    ig_usage_summary_t u;
    if (ls && ig_logstore_usage_summary(ls, 0, 0, &u) == IG_OK) CHECK_EQ_INT(u.requests, 4);
    ig_logstore_close(ls);
    ig_logwriter_free(w);
}

/* A record the log store refuses must neither take the valid records of its batch down nor block the spool:
 * records spooled after it (any org) must still reach the store. Here the request's model name is 200 bytes:
 * ig_capture_model_of keeps up to 256 and build() copies up to IG_USAGE_MODEL_MAX (256), but
 * ig_logstore_insert refuses more than IG_LOGSTORE_MAX_MODEL (128) with IG_EINVAL, which fails the whole
 * group; the group is spooled, and the replay of that file fails the same way every time. */
TEST(invalid_record_does_not_block_spool)
{
    char org[33], org2[33];
    new_org("poison-org", IG_STORE_PLAN_FREE, NULL, org);
    new_org("poison-other", IG_STORE_PLAN_FREE, NULL, org2);
    char sdir[160];
    snprintf(sdir, sizeof sdir, "%s/spool-poison", g_dir);
    ig_capture_conf_t c = conf_of(false);
    c.spool_dir = sdir;
    ig_logwriter_t *w = ig_logwriter_new(&c);
    CHECK(w != NULL);
    if (!w) return;
    unsigned long long written0 = atomic_load(&ig_capture_stats.written);
    unsigned long long dropped0 = atomic_load(&ig_capture_stats.dropped);
    unsigned long long spooled0 = atomic_load(&ig_capture_stats.spooled);
    ig_capture_rec_t *recs[5];
    char long_model[201];
    memset(long_model, 'm', 200);
    long_model[200] = '\0';
    for (int i = 0; i < 5; i++) {
        recs[i] = mk(org, "{}", "{}", NULL, NULL);
        if (!recs[i]) return;
        recs[i]->model = strdup(i == 2 ? long_model : "gpt-4o");
    }
    ig_logwriter_write(w, recs, 5);
    for (int i = 0; i < 5; i++)
        ig_capture_rec_free(recs[i]);
    unsigned long long written = atomic_load(&ig_capture_stats.written) - written0;
    unsigned long long dropped = atomic_load(&ig_capture_stats.dropped) - dropped0;
    unsigned long long spooled = atomic_load(&ig_capture_stats.spooled) - spooled0;
    CHECK_EQ_INT(written + dropped + spooled, 5); /* every record accounted for */
    CHECK(written >= 4);                          /* the 4 valid ones are stored at once */

    /* a record of another org spooled later (e.g. by another writer on this directory) */
    int err = 0;
    ig_spool_t *sp = ig_spool_open(sdir, &err);
    ig_logrec_t lr = {.path = "/v1/x",
                      .status = 200,
                      .input_tokens = -1,
                      .output_tokens = -1,
                      .cached_tokens = -1,
                      .cost_micros = -1,
                      .created_at = ig_wall_ms()};
    snprintf(lr.id, sizeof lr.id, "later-spooled-record");
    usleep(2000);
    if (sp) {
        CHECK_EQ_INT(ig_spool_append(sp, org2, &lr), IG_OK);
        ig_spool_close(sp);
    }
    for (int i = 0; i < 25 && spool_files(sdir) != 0; i++) {
        ig_logwriter_replay(w);
        if (spool_files(sdir) != 0) sleep_ms(100);
    }
    CHECK_EQ_INT(spool_files(sdir), 0); /* not stuck on a record that can never be stored */
    CHECK_EQ_INT(count_of(org2), 1);
    CHECK(count_of(org) >= 4);
    ig_logwriter_free(w);
}

TEST(no_raw_pii_in_any_file)
{
    /* the scan does find a planted copy */
    char canary[160];
    snprintf(canary, sizeof canary, "%s/canary.txt", g_dir);
    FILE *f = fopen(canary, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("x " EMAIL " y", f);
        fclose(f);
    }
    g_scan_quiet = true;
    CHECK_EQ_INT(scan_pii(), 1);
    g_scan_quiet = false;
    CHECK_EQ_INT(remove(canary), 0);
    CHECK_EQ_INT(scan_pii(), 0);
    CHECK(g_files_scanned >= 10); /* control db, log dbs with -wal/-shm */
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

/* ---- budgets ---- */

/* Puts a reservation of est micro-USD on the budget `rule` in ledger l into the record, as the proxy does. */
static void hold_on(ig_capture_rec_t *r, ig_budget_ledger_t *l, const ig_budget_rule_t *rule, int64_t est)
{
    if (!r) return;
    r->budget.ledger = l;
    r->budget.n = 1;
    r->budget.rules[0] = *rule;
    r->budget.scope[0] = IG_STORE_BUDGET_ORG;
    CHECK_EQ_INT(ig_budget_reserve(l, rule, 1, est, ig_wall_ms(), &r->budget.hold, NULL, NULL, NULL), IG_OK);
}

static int64_t ledger_spent(ig_budget_ledger_t *l, const ig_budget_rule_t *rule)
{
    ig_budget_state_t st;
    CHECK_EQ_INT(ig_budget_state(l, rule->id, ig_wall_ms(), rule->period, &st), IG_OK);
    CHECK_EQ_INT(st.reserved_micros, 0);
    return st.spent_micros;
}

#define SSE_NO_USAGE                                                                                         \
    "data: "                                                                                                 \
    "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,"    \
    "\"delta\":{\"content\":\"Hello\"}}]}\n\n"                                                               \
    "data: "                                                                                                 \
    "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,"    \
    "\"delta\":{\"content\":\" there\"},\"finish_reason\":\"stop\"}]}\n\n"                                   \
    "data: [DONE]\n\n"
#define STREAM_REQ                                                                                           \
    "{\"model\":\"gpt-4o\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"

TEST(stream_without_usage_settles_an_estimate)
{
    char org[33], id[37];
    new_org("est-org", IG_STORE_PLAN_FREE, NULL, org);
    ig_limiter_t *lim = ig_limiter_local_new();
    ig_budget_ledger_t *l = ig_budget_ledger_new();
    ig_capture_conf_t c = conf_of(false);
    c.limiter = lim;
    ig_logwriter_t *w = ig_logwriter_new(&c);
    CHECK(w && lim && l);
    if (!w || !lim || !l) goto out;
    ig_budget_rule_t rule = {.id = "est-budget", .period = IG_BUDGET_MONTHLY, .hard_micros = 100000000};
    CHECK_EQ_INT(ig_budget_load(l, &rule, ig_wall_ms(), 0, 0), IG_OK);
    ig_limit_rule_t tpm = {100000, 60000};
    ig_limit_result_t res;
    const int64_t in = (int64_t)(strlen(STREAM_REQ) + 3) / 4,
                  out_tok = (int64_t)(strlen(SSE_NO_USAGE) + 3) / 4;
    ig_usage_t est;
    ig_usage_init(&est);
    est.input = in;
    est.output = out_tok;
    est.cached = 0;
    est.cache_write = 0;
    const int64_t est_cost = ig_pricing_cost_micros(g_pricing, "openai", "gpt-4o", &est);
    CHECK(est_cost > 0);

    /* a complete stream without usage: charged the estimate, not its reservation (1 USD, 4096 tokens) */
    ig_capture_rec_t *r = mk(org, STREAM_REQ, SSE_NO_USAGE, NULL, NULL);
    if (r) {
        r->model = strdup("gpt-4o");
        r->meta.stream = true;
        r->tpm_limit = tpm.limit;
        r->tpm_estimate = 4096;
        snprintf(r->lineage_id, sizeof r->lineage_id, "lin-est");
        CHECK_EQ_INT(ig_limiter_take(lim, ig_iov_str("lin-est:t"), &tpm, 4096, (int64_t)ig_now_ns(), &res),
                     IG_OK);
        hold_on(r, l, &rule, 1000000);
    }
    write_one(w, r, id);
    CHECK_EQ_INT(ledger_spent(l, &rule), est_cost);
    CHECK_EQ_INT(ig_limiter_take(lim, ig_iov_str("lin-est:t"), &tpm, 0, (int64_t)ig_now_ns(), &res), IG_OK);
    CHECK(res.remaining >= tpm.limit - (in + out_tok)); /* (plus what came back since) */
    CHECK(res.remaining > tpm.limit - 4096);
    ig_logrow_t row;
    CHECK_EQ_INT(get_row(org, id, &row), IG_OK);
    CHECK_EQ_INT(row.r.output_tokens, -1); /* the log keeps what the provider said: nothing */
    CHECK_EQ_INT(row.r.cost_micros, -1);
    ig_logrow_free(&row);

    /* the estimate never charges more than the reservation */
    r = mk(org, STREAM_REQ, SSE_NO_USAGE, NULL, NULL);
    if (r) {
        r->model = strdup("gpt-4o");
        r->meta.stream = true;
        hold_on(r, l, &rule, 10);
    }
    write_one(w, r, id);
    CHECK_EQ_INT(ledger_spent(l, &rule), est_cost + 10);

    /* a stream the client aborted (499) is still charged its reservation: the provider may have generated
     * more than was relayed */
    r = mk(org, STREAM_REQ, SSE_NO_USAGE, NULL, NULL);
    if (r) {
        r->model = strdup("gpt-4o");
        r->meta.stream = true;
        r->meta.status = 499;
        hold_on(r, l, &rule, 1000000);
    }
    write_one(w, r, id);
    CHECK_EQ_INT(ledger_spent(l, &rule), est_cost + 10 + 1000000);
out:
    ig_logwriter_free(w);
    ig_budget_ledger_free(l);
    ig_limiter_free(lim);
}

static int64_t deliveries_of(const char *org, const char *type)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    int64_t v = -1;
    char path[128];
    snprintf(path, sizeof path, "%s/control.db", g_dir);
    if (sqlite3_open(path, &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM webhook_deliveries WHERE org_id = ? AND event_type = ?",
                           -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, org, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, type, -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW) v = sqlite3_column_int64(q, 0);
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    return v;
}

static size_t pending_alerts(void)
{
    ig_budget_alert_t as[8];
    size_t n = 99;
    CHECK_EQ_INT(ig_store_budget_alerts_pending(g_st, as, 8, &n), IG_OK);
    return n;
}

static const uint8_t WH_KEY[32] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 9, 8, 7, 6, 5, 4,
                                   3, 2, 1, 0, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 9, 8};

static bool webhooks_up(void)
{
    ig_webhook_conf_t c = {.store_url = g_url, .key = WH_KEY, .retry_base_ms = 1000};
    const char *why = NULL;
    int rc = ig_webhook_init(&c, &why);
    CHECK_EQ_INT(rc, IG_OK);
    return rc == IG_OK;
}

/* A record of a gpt-4o call costing 7250 micro-USD (OPENAI_RESP) on the budget, reserved in ledger l (a
 * reservation of 100: each call outspends it, so the ledger admits them all). */
static void write_call(ig_logwriter_t *w, const char *org, ig_budget_ledger_t *l,
                       const ig_budget_rule_t *rule)
{
    char id[37];
    ig_capture_rec_t *r = mk(org, "{\"model\":\"gpt-4o\"}", OPENAI_RESP, NULL, NULL);
    if (r) {
        r->model = strdup("gpt-4o");
        hold_on(r, l, rule, 100);
    }
    write_one(w, r, id);
}

TEST(budget_alerts_once_across_writers_and_failures)
{
    char org[33];
    new_org("alert-org", IG_STORE_PLAN_ENTERPRISE, NULL, org);
    ig_budget_t b;
    CHECK_EQ_INT(ig_store_budget_create(g_st, org, IG_STORE_BUDGET_ORG, NULL, NULL, IG_STORE_PERIOD_MONTHLY,
                                        20000, 5000, &b),
                 IG_OK);
    if (!webhooks_up()) return;
    char secret[IG_WEBHOOK_SECRET_TEXT_MAX];
    uint32_t mask = (1u << IG_WEBHOOK_EV_BUDGET_WARNING) | (1u << IG_WEBHOOK_EV_BUDGET_EXCEEDED);
    CHECK_EQ_INT(ig_webhook_create(g_st, org, "https://hooks.example/budget", mask, NULL, secret, NULL),
                 IG_OK);
    ig_budget_rule_t rule = {.period = IG_BUDGET_MONTHLY, .hard_micros = 20000, .soft_micros = 5000};
    memcpy(rule.id, b.id, sizeof rule.id);
    /* two nodes: each its ledger (loaded from the store's empty spend) and its writer, one store */
    ig_budget_ledger_t *la = ig_budget_ledger_new(), *lb = ig_budget_ledger_new();
    ig_logwriter_t *wa = new_writer(false), *wb = new_writer(false);
    if (!la || !lb || !wa || !wb) goto out;
    CHECK_EQ_INT(ig_budget_load(la, &rule, ig_wall_ms(), 0, 0), IG_OK);
    CHECK_EQ_INT(ig_budget_load(lb, &rule, ig_wall_ms(), 0, 0), IG_OK);
    /* each node's first call takes its own ledger past the soft limit: budget.warning is queued once */
    write_call(wa, org, la, &rule);
    write_call(wb, org, lb, &rule);
    CHECK_EQ_INT(ledger_spent(lb, &rule), 7250);
    CHECK_EQ_INT(deliveries_of(org, "budget.warning"), 1);
    CHECK_EQ_INT(pending_alerts(), 0);

    /* the delivery queue cannot take budget.exceeded (the webhook module is down): it stays pending ... */
    ig_webhook_shutdown();
    write_call(wa, org, la, &rule);
    write_call(wa, org, la, &rule); /* 21750: past the hard limit */
    CHECK_EQ_INT(deliveries_of(org, "budget.exceeded"), 0);
    CHECK_EQ_INT(pending_alerts(), 1);
    /* ... and is queued by a later pass once the queue works again; the other node claims nothing */
    if (!webhooks_up()) goto out;
    write_call(wb, org, lb, &rule);
    write_call(wb, org, lb, &rule); /* node b crosses the hard limit in its ledger too */
    sleep_ms(1100);
    ig_logwriter_replay(wa);
    ig_logwriter_replay(wb);
    CHECK_EQ_INT(deliveries_of(org, "budget.exceeded"), 1);
    CHECK_EQ_INT(pending_alerts(), 0);

    /* a process that stopped after queuing but before recording it: the next queues nothing twice */
    char sql[256];
    snprintf(sql, sizeof sql, "UPDATE budget_spend SET pending = 3 WHERE budget_id = '%s'", b.id);
    char path[128];
    snprintf(path, sizeof path, "%s/control.db", g_dir);
    sqlite3 *db = NULL;
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ_INT(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    ig_logwriter_t *wc = new_writer(false); /* a restart */
    if (wc) ig_logwriter_replay(wc);
    CHECK_EQ_INT(pending_alerts(), 0);
    CHECK_EQ_INT(deliveries_of(org, "budget.warning"), 1);
    CHECK_EQ_INT(deliveries_of(org, "budget.exceeded"), 1);
    ig_logwriter_free(wc);
out:
    ig_webhook_shutdown();
    ig_logwriter_free(wa);
    ig_logwriter_free(wb);
    ig_budget_ledger_free(la);
    ig_budget_ledger_free(lb);
}

int main(void)
{
    ig_log_set_level(IG_LOG_ERROR);
    snprintf(g_dir, sizeof g_dir, "/tmp/ingate-test-logwriter-XXXXXX");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(g_url, sizeof g_url, "sqlite:%s/control.db", g_dir);
    snprintf(g_logs, sizeof g_logs, "%s/orgs", g_dir);
    snprintf(g_spool, sizeof g_spool, "%s/spool", g_dir);
    for (int i = 0; i < 32; i++)
        g_kek[i] = (uint8_t)(0xc3 + 7 * i);
    int err = 0;
    char perr[256];
    g_st = ig_store_open(g_url, &err);
    if (!g_st || ig_store_migrate(g_st) != IG_OK ||
        ig_pricing_load(NULL, &g_pricing, perr, sizeof perr) != IG_OK) {
        fprintf(stderr, "setup failed\n");
        return 1;
    }
    RUN(data_key_created_on_first_use);
    RUN(capture_full);
    RUN(capture_metadata);
    RUN(capture_off);
    RUN(fields_sealed_with_aad);
    RUN(redaction_enterprise_pattern);
    RUN(redaction_plan_gate);
    RUN(redaction_hash_and_drop);
    RUN(tokens_and_cost);
    RUN(blind_index_query);
    RUN(key_last_use_raised);
    RUN(orphans_discarded);
    RUN(spool_when_locked_then_replay);
    RUN(invalid_record_does_not_block_spool);
    RUN(no_raw_pii_in_any_file);
    RUN(stream_without_usage_settles_an_estimate);
    RUN(budget_alerts_once_across_writers_and_failures);
    ig_store_close(g_st);
    ig_pricing_free(g_pricing);
    if (nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) fprintf(stderr, "cannot remove %s\n", g_dir);
    UNIT_DONE();
}

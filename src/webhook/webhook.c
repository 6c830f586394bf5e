/*
 * webhook.c — event names, secrets and signatures, emission, and the delivery thread (contract in
 * webhook.h).
 *
 * Module state is one struct set up once by ig_webhook_init (key, policy, store URL, retry base) and only
 * read afterwards, plus the thread's control (a mutex and condition for wake-ups, an atomic stop flag that
 * libcurl's progress callback reads to abort a transfer in flight).
 *
 * Delivery is deliberately simple and blocking: one thread, one easy handle per attempt, deliveries one
 * after the other. Each attempt is bounded (connect 5 s, whole transfer 10 s), and the stop flag aborts a
 * transfer within libcurl's progress interval, so SIGTERM never waits on a slow receiver. Nothing of an
 * attempt's URL reaches a log line or the recorded error (a URL may carry a token): errors are libcurl's
 * static messages or the validator's static reasons.
 */
#include "webhook/webhook.h"
#include "capture/orgset.h"
#include "core/err.h"
#include "core/log.h"
#include "crypto/crypto.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const char *const g_event_names[IG_WEBHOOK_EV__COUNT] = {
#define IG_WEBHOOK_EV_NAME(name, wire) wire,
    IG_WEBHOOK_EVENT_MAP(IG_WEBHOOK_EV_NAME)
#undef IG_WEBHOOK_EV_NAME
};

_Static_assert(IG_WEBHOOK_EV__COUNT <= 32, "event masks are 32 bits");

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct {
    bool init;
    uint8_t key[32];
    ig_outbound_policy_t *policy;
    char store_url[4200];
    int64_t retry_base_ms;
    ig_webhook_body_fn logs_body;
    void *logs_body_ctx;
    /* the delivery thread */
    pthread_t thread;
    bool running;
    bool kick; /* under mu: something was queued since the thread last looked */
} g;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static atomic_int g_stop;

/* ---------------------------------------------------------------------------------------------------- */
/* events */

int ig_webhook_event_index(ig_iov_t name)
{
    for (int i = 0; i < IG_WEBHOOK_EV__COUNT; i++)
        if (ig_iov_eq(ig_iov_str(g_event_names[i]), name)) return i;
    return -1;
}

const char *ig_webhook_event_name(int i)
{
    return i >= 0 && i < IG_WEBHOOK_EV__COUNT ? g_event_names[i] : "";
}

int ig_webhook_events_text(uint32_t mask, char *out, size_t cap)
{
    size_t len = 0;
    if (!out || cap == 0) return IG_EINVAL;
    out[0] = '\0';
    if (mask == 0 || (IG_WEBHOOK_EV__COUNT < 32 && (mask >> IG_WEBHOOK_EV__COUNT))) return IG_EINVAL;
    for (int i = 0; i < IG_WEBHOOK_EV__COUNT; i++) {
        if (!(mask & (1u << i))) continue;
        size_t n = strlen(g_event_names[i]);
        if (len + (len ? 1 : 0) + n + 1 > cap) {
            out[0] = '\0';
            return IG_ETOOBIG;
        }
        if (len) out[len++] = ',';
        memcpy(out + len, g_event_names[i], n + 1);
        len += n;
    }
    return IG_OK;
}

int ig_webhook_events_mask(const char *text, uint32_t *mask)
{
    uint32_t m = 0;
    if (!text || !mask) return IG_EINVAL;
    for (const char *p = text;;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        int i = ig_webhook_event_index(ig_iov(p, n));
        if (i < 0) return IG_EINVAL;
        m |= 1u << i;
        if (!c) break;
        p = c + 1;
    }
    *mask = m;
    return IG_OK;
}

/* Whether the stored event list `events` names `type`. */
static bool subscribed(const char *events, const char *type)
{
    uint32_t m = 0;
    int i = ig_webhook_event_index(ig_iov_str(type));
    return i >= 0 && ig_webhook_events_mask(events, &m) == IG_OK && (m & (1u << i));
}

/* ---------------------------------------------------------------------------------------------------- */
/* secrets, signatures, backoff */

void ig_webhook_secret_text(const uint8_t raw[IG_WEBHOOK_SECRET_BYTES], char text[IG_WEBHOOK_SECRET_TEXT_MAX])
{
    size_t p = sizeof IG_WEBHOOK_SECRET_PREFIX - 1;
    memcpy(text, IG_WEBHOOK_SECRET_PREFIX, p);
    ig_b64url_encode(raw, IG_WEBHOOK_SECRET_BYTES, text + p); /* 43 chars + NUL: fits */
}

int ig_webhook_secret_new(uint8_t raw[IG_WEBHOOK_SECRET_BYTES], char text[IG_WEBHOOK_SECRET_TEXT_MAX])
{
    if (ig_random(raw, IG_WEBHOOK_SECRET_BYTES) != IG_OK) return IG_ECRYPTO;
    ig_webhook_secret_text(raw, text);
    return IG_OK;
}

int ig_webhook_sign(const char *secret_text, int64_t ts, ig_iov_t body, char out[IG_WEBHOOK_SIG_MAX])
{
    ig_buf_t msg;
    uint8_t mac[32];
    char prefix[32];
    int rc;
    out[0] = '\0';
    ig_buf_init(&msg, body.len + sizeof prefix);
    int n = snprintf(prefix, sizeof prefix, "%" PRId64 ".", ts);
    if ((rc = ig_buf_append(&msg, prefix, (size_t)n)) || (rc = ig_buf_append(&msg, body.base, body.len)))
        goto out;
    rc = ig_hmac_sha256((const uint8_t *)secret_text, strlen(secret_text), msg.data, msg.len, mac);
    if (rc) goto out;
    memcpy(out, "v1=", 3);
    ig_hex_encode(mac, sizeof mac, out + 3);
out:
    ig_buf_free(&msg, true); /* a logs.expiring body holds customer content */
    return rc;
}

int64_t ig_webhook_backoff_ms(int attempts, int64_t base_ms, uint32_t rnd)
{
    double d = (double)(base_ms > 0 ? base_ms : 1);
    for (int i = 1; i < attempts && d < 1e15; i++)
        d *= 3;
    d *= 0.8 + 0.4 * ((double)rnd / 4294967296.0);
    if (d > 1e15) d = 1e15; /* ~31 000 years: saturate rather than overflow */
    return d < 1 ? 1 : (int64_t)d;
}

int ig_webhook_next_state(int attempts, bool ok, bool final, int64_t now, int64_t base_ms, uint32_t rnd,
                          int64_t *next_at)
{
    *next_at = 0;
    if (ok) return IG_STORE_DELIVERY_SUCCEEDED;
    if (final || attempts >= IG_WEBHOOK_MAX_ATTEMPTS) return IG_STORE_DELIVERY_FAILED;
    *next_at = now + ig_webhook_backoff_ms(attempts, base_ms, rnd);
    return IG_STORE_DELIVERY_PENDING;
}

/* ---------------------------------------------------------------------------------------------------- */
/* sealing */

#define AAD_SECRET  "ingate/webhook-secret/v1:"
#define AAD_PAYLOAD "ingate/webhook-payload/v1:"

static int aad_for(const char *prefix, const char *org_id, const char *id, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s%s:%s", prefix, org_id, id);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

typedef struct {
    const char *aad_prefix;
    ig_iov_t pt;
} seal_ctx_t;

/* ig_store_seal_fn: seals ctx->pt for (org, row id) under the module key. */
static int seal_row(void *ctx, const char *org_id, const char *id, ig_buf_t *out)
{
    seal_ctx_t *c = ctx;
    char aad[128];
    int n = aad_for(c->aad_prefix, org_id, id, aad, sizeof aad);
    if (n < 0) return IG_EINVAL;
    return ig_seal(g.key, 0, ig_iov(aad, (size_t)n), c->pt, out);
}

static int open_row(const char *prefix, const char *org_id, const char *id, ig_iov_t sealed, ig_buf_t *out)
{
    char aad[128];
    if (!g.init) return IG_EUNAVAILABLE;
    int n = aad_for(prefix, org_id, id, aad, sizeof aad);
    if (n < 0) return IG_EINVAL;
    return ig_open(g.key, ig_iov(aad, (size_t)n), sealed, out);
}

int ig_webhook_open_payload(const char *org_id, const char *delivery_id, ig_iov_t sealed, ig_buf_t *out)
{
    return open_row(AAD_PAYLOAD, org_id, delivery_id, sealed, out);
}

int ig_webhook_open_secret(const ig_webhook_t *w, char text[IG_WEBHOOK_SECRET_TEXT_MAX])
{
    ig_buf_t raw;
    ig_buf_init_secret(&raw, 256);
    int rc = open_row(AAD_SECRET, w->org_id, w->id, ig_iov((const char *)w->secret, w->secret_len), &raw);
    if (rc == IG_OK && raw.len != IG_WEBHOOK_SECRET_BYTES) rc = IG_ECRYPTO;
    if (rc == IG_OK) ig_webhook_secret_text((const uint8_t *)raw.data, text);
    ig_buf_free(&raw, true);
    return rc;
}

/* ---------------------------------------------------------------------------------------------------- */
/* set-up */

int ig_webhook_init(const ig_webhook_conf_t *c, const char **why)
{
    ig_outbound_policy_t *p = NULL;
    if (why) *why = NULL;
    if (!c || !c->key) return IG_EINVAL;
    int rc = ig_outbound_policy_new(c->outbound_allowlist, &p, why);
    if (rc) return rc;
    ig_webhook_shutdown();
    memcpy(g.key, c->key, sizeof g.key);
    g.policy = p;
    snprintf(g.store_url, sizeof g.store_url, "%s", c->store_url ? c->store_url : "");
    g.retry_base_ms = c->retry_base_ms > 0 ? c->retry_base_ms : 10000;
    g.logs_body = c->logs_body;
    g.logs_body_ctx = c->logs_body_ctx;
    g.init = true;
    return IG_OK;
}

void ig_webhook_set_resolver(ig_outbound_resolve_fn fn, void *ctx)
{
    if (g.policy) ig_outbound_policy_set_resolver(g.policy, fn, ctx);
}

void ig_webhook_shutdown(void)
{
    ig_outbound_policy_free(g.policy);
    g.policy = NULL;
    ig_wipe(g.key, sizeof g.key);
    g.logs_body = NULL;
    g.logs_body_ctx = NULL;
    g.init = false;
}

int ig_webhook_check_url(const char *url, const char *org_allowlist, char norm[IG_OUTBOUND_URL_MAX],
                         const char **why)
{
    ig_outbound_target_t *t = malloc(sizeof *t);
    int rc = t ? ig_outbound_check(g.policy, org_allowlist, url, t, why) : IG_ENOMEM;
    if (rc == IG_OK) memcpy(norm, t->url, strlen(t->url) + 1);
    free(t);
    return rc;
}

int ig_webhook_create(ig_store_t *st, const char *org_id, const char *url, uint32_t mask,
                      const char *description, char secret_text[IG_WEBHOOK_SECRET_TEXT_MAX],
                      ig_webhook_t *out)
{
    uint8_t raw[IG_WEBHOOK_SECRET_BYTES];
    char events[IG_STORE_WEBHOOK_EVENTS_MAX + 1];
    int rc = IG_EUNAVAILABLE;
    secret_text[0] = '\0';
    if (!g.init) goto out;
    if ((rc = ig_webhook_events_text(mask, events, sizeof events))) goto out;
    if ((rc = ig_webhook_secret_new(raw, secret_text))) goto out;
    seal_ctx_t sc = {AAD_SECRET, ig_iov((const char *)raw, sizeof raw)};
    rc = ig_store_webhook_create(st, org_id, url, events, description, seal_row, &sc, out);
out:
    ig_wipe(raw, sizeof raw);
    if (rc) ig_wipe(secret_text, IG_WEBHOOK_SECRET_TEXT_MAX);
    return rc;
}

/* ---------------------------------------------------------------------------------------------------- */
/* emission */

static void wake(void)
{
    pthread_mutex_lock(&g_mu);
    g.kick = true;
    pthread_cond_signal(&g_cv);
    pthread_mutex_unlock(&g_mu);
}

void ig_webhook_wake(void)
{
    wake();
}

void ig_webhook_event_id(const char *text, char out[33])
{
    uint8_t h[32];
    ig_sha256(text, strlen(text), h);
    ig_hex_encode(h, 16, out);
}

/* The event's payload into out: {"id","type","org_id","timestamp","data"}; event_id: the id given (non-empty)
 * or, when empty, a new random one written into it. */
static int build_payload(const char *org_id, const char *type, const char *data_json, char event_id[33],
                         ig_buf_t *out)
{
    uint8_t r[16];
    if (!data_json) data_json = "{}";
    size_t dl = strlen(data_json);
    if (dl == 0 || dl > IG_WEBHOOK_DATA_MAX || data_json[0] != '{') return IG_EINVAL;
    if (!event_id[0]) {
        if (ig_random(r, sizeof r) != IG_OK) return IG_ECRYPTO;
        ig_hex_encode(r, sizeof r, event_id);
    }
    int rc = ig_buf_appendf(
        out, "{\"id\":\"%s\",\"type\":\"%s\",\"org_id\":\"%s\",\"timestamp\":%" PRId64 ",\"data\":", event_id,
        type, org_id, wall_ms() / 1000);
    if (rc == IG_OK) rc = ig_buf_append(out, data_json, dl);
    if (rc == IG_OK) rc = ig_buf_lit(out, "}");
    return rc;
}

/* Queues the payload for one webhook, due now. */
static int queue_one(ig_store_t *st, const char *org_id, const char *webhook_id, const char *event_id,
                     const char *type, const ig_buf_t *payload, ig_webhook_delivery_t *out)
{
    seal_ctx_t sc = {AAD_PAYLOAD, ig_buf_iov(payload)};
    int rc =
        ig_store_webhook_delivery_add(st, org_id, webhook_id, event_id, type, wall_ms(), seal_row, &sc, out);
    if (rc && rc != IG_ECONFLICT)
        IG_WARN("webhook", "%s delivery to webhook %s of org %s not queued (%s)", type, webhook_id, org_id,
                ig_err_name(rc));
    return rc;
}

int ig_webhook_emit(ig_store_t *st, const char *org_id, const char *type, const char *data_json)
{
    return ig_webhook_emit_id(st, org_id, type, data_json, NULL);
}

int ig_webhook_emit_id(ig_store_t *st, const char *org_id, const char *type, const char *data_json,
                       const char *id)
{
    ig_webhook_t *hooks = NULL;
    ig_buf_t payload;
    char event_id[33] = "";
    size_t n = 0;
    int rc = IG_EINVAL, first = IG_OK;
    bool queued = false;

    ig_buf_init(&payload, IG_WEBHOOK_DATA_MAX + 512);
    if (!st || !org_id || !type || ig_webhook_event_index(ig_iov_str(type)) < 0) goto out;
    if (id && (strlen(id) != 32 || strspn(id, "0123456789abcdef") != 32)) goto out;
    if (id) memcpy(event_id, id, 33);
    /* the cheap probe: with cap 0 the list answers IG_OK (none) or IG_ETOOBIG (some) after one row */
    rc = ig_store_webhook_list(st, org_id, NULL, 0, &n);
    if (rc != IG_ETOOBIG) goto out;
    rc = IG_EUNAVAILABLE;
    if (!g.init) goto out;
    rc = IG_ENOMEM;
    if (!(hooks = malloc(IG_STORE_WEBHOOKS_PER_ORG * sizeof *hooks))) goto out;
    rc = ig_store_webhook_list(st, org_id, hooks, IG_STORE_WEBHOOKS_PER_ORG, &n);
    if (rc && rc != IG_ETOOBIG) goto out;
    if ((rc = build_payload(org_id, type, data_json, event_id, &payload))) goto out;
    for (size_t i = 0; i < n; i++) {
        if (!hooks[i].enabled || !subscribed(hooks[i].events, type)) continue;
        int r = queue_one(st, org_id, hooks[i].id, event_id, type, &payload, NULL);
        if (r == IG_OK) queued = true;
        /* deleted meanwhile: not an error; a conflict: this event was queued to this webhook already */
        if (r && r != IG_ENOTFOUND && r != IG_ECONFLICT && first == IG_OK) first = r;
    }
    rc = first;
out:
    if (queued) wake();
    if (rc && rc != IG_EINVAL)
        IG_WARN("webhook", "%s of org %s not emitted (%s)", type, org_id, ig_err_name(rc));
    ig_buf_free(&payload, false);
    free(hooks);
    return rc;
}

int ig_webhook_emit_to(ig_store_t *st, const char *org_id, const char *webhook_id, const char *type,
                       const char *data_json, ig_webhook_delivery_t *out)
{
    ig_buf_t payload;
    char event_id[33] = "";
    int rc = IG_EINVAL;
    ig_buf_init(&payload, IG_WEBHOOK_DATA_MAX + 512);
    if (!st || !org_id || !webhook_id || !type || ig_webhook_event_index(ig_iov_str(type)) < 0) goto out;
    rc = IG_EUNAVAILABLE;
    if (!g.init) goto out;
    if ((rc = build_payload(org_id, type, data_json, event_id, &payload))) goto out;
    rc = ig_store_webhook_delivery_add(st, org_id, webhook_id, event_id, type, wall_ms(), seal_row,
                                       &(seal_ctx_t){AAD_PAYLOAD, ig_buf_iov(&payload)}, out);
    if (rc == IG_OK) wake();
out:
    ig_buf_free(&payload, false);
    return rc;
}

int ig_webhook_emit_batch(ig_store_t *st, const char *org_id, const char *webhook_id, const char *data_json,
                          const ig_logbatch_t *b, ig_webhook_delivery_t *out)
{
    const char *type = g_event_names[IG_WEBHOOK_EV_LOGS_EXPIRING];
    ig_buf_t payload;
    char event_id[33] = "";
    int rc = IG_EINVAL;
    ig_buf_init(&payload, IG_WEBHOOK_DATA_MAX + 512);
    if (!st || !org_id || !webhook_id || !b) goto out;
    rc = IG_EUNAVAILABLE;
    if (!g.init) goto out;
    if ((rc = build_payload(org_id, type, data_json, event_id, &payload))) goto out;
    rc = ig_store_logbatch_add(st, org_id, webhook_id, event_id, type, b, seal_row,
                               &(seal_ctx_t){AAD_PAYLOAD, ig_buf_iov(&payload)}, out);
    if (rc == IG_OK) wake();
out:
    ig_buf_free(&payload, false);
    return rc;
}

/* ---------------------------------------------------------------------------------------------------- */
/* delivery */

/* What one attempt produced. */
typedef struct {
    int status_code; /* 0 = no response */
    char error[IG_STORE_WEBHOOK_ERROR_MAX + 1];
    bool ok;      /* a 2xx */
    bool final;   /* retrying cannot help: fail the delivery now */
    bool aborted; /* stopped by ig_webhook_stop: not an attempt */
} attempt_t;

static void set_error(attempt_t *r, const char *a, const char *b)
{
    snprintf(r->error, sizeof r->error, "%s%s", a, b ? b : "");
}

/* The response body is not read: only the status matters. */
static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    IG_UNUSED(p);
    IG_UNUSED(ud);
    return size * n;
}

/* Aborts the transfer once ig_webhook_stop was called (libcurl calls this at least once a second). */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    IG_UNUSED(ud);
    IG_UNUSED(dltotal);
    IG_UNUSED(dlnow);
    IG_UNUSED(ultotal);
    IG_UNUSED(ulnow);
    return atomic_load(&g_stop) ? 1 : 0;
}

static struct curl_slist *add_header(struct curl_slist *list, bool *ok, const char *name, const char *value)
{
    char line[256];
    snprintf(line, sizeof line, "%s: %s", name, value);
    struct curl_slist *l = *ok ? curl_slist_append(list, line) : NULL;
    if (!l) *ok = false;
    return l ? l : list;
}

/* POSTs body (of content_type) to w's URL, checked again now (with the org's own allowlist) and pinned to the
 * checked address. */
static void post(const ig_webhook_t *w, const ig_webhook_delivery_t *d, const char *org_allowlist,
                 ig_iov_t body, const char *content_type, const char *secret, attempt_t *r)
{
    ig_outbound_target_t *t = malloc(sizeof *t);
    CURL *curl = NULL;
    struct curl_slist *pin = NULL, *hdrs = NULL;
    const char *why = NULL;
    char sig[IG_WEBHOOK_SIG_MAX], ts[24];
    bool ok = true;

    if (!t) {
        set_error(r, "out of memory", NULL);
        goto out;
    }
    /* the URL was checked at registration; DNS may answer differently now (rebinding) */
    int rc = ig_outbound_check(g.policy, org_allowlist, w->url, t, &why);
    if (rc) {
        set_error(r, rc == IG_EUNAVAILABLE ? "DNS: " : "URL refused: ", why ? why : ig_err_message(rc));
        goto out;
    }
    int64_t now_s = wall_ms() / 1000;
    snprintf(ts, sizeof ts, "%" PRId64, now_s);
    if (ig_webhook_sign(secret, now_s, body, sig) != IG_OK) {
        set_error(r, "signing failed", NULL);
        goto out;
    }
    /* a large body (logs.expiring) gets more time to go out */
    long timeout_ms =
        (long)(IG_WEBHOOK_TIMEOUT_MS + (int64_t)(body.len >> 20) * IG_WEBHOOK_TIMEOUT_PER_MIB_MS);
    curl = curl_easy_init();
    if (!curl || ig_outbound_curl_pin(curl, t, &pin) != IG_OK) {
        set_error(r, "cannot set up the request", NULL);
        goto out;
    }
    hdrs = add_header(hdrs, &ok, "Content-Type", content_type);
    hdrs = add_header(hdrs, &ok, "X-Ingate-Event", d->event_type);
    hdrs = add_header(hdrs, &ok, "X-Ingate-Delivery", d->id);
    hdrs = add_header(hdrs, &ok, "X-Ingate-Timestamp", ts);
    hdrs = add_header(hdrs, &ok, "X-Ingate-Signature", sig);
    if (ok) hdrs = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip */
    if (!ok || !hdrs || curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_USERAGENT, "ingate-webhook/" INGATE_VERSION) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_POST, 1L) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.base) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)IG_WEBHOOK_CONNECT_TIMEOUT_MS) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress) != CURLE_OK) {
        set_error(r, "cannot set up the request", NULL);
        goto out;
    }
    CURLcode cc = curl_easy_perform(curl);
    if (cc == CURLE_ABORTED_BY_CALLBACK && atomic_load(&g_stop)) {
        r->aborted = true;
        goto out;
    }
    if (cc != CURLE_OK) { /* libcurl's static text: never the URL */
        set_error(r, curl_easy_strerror(cc), NULL);
        goto out;
    }
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    r->status_code = code > 0 && code < 1000 ? (int)code : 0;
    r->ok = code >= 200 && code < 300;
    if (code >= 300 && code < 400) set_error(r, "redirects are not followed", NULL);
out:
    curl_easy_cleanup(curl); /* before t goes: the pinning guard reads it */
    curl_slist_free_all(hdrs);
    curl_slist_free_all(pin);
    free(t);
}

/* The rest of a logs.expiring body (its records) after the envelope; false with r set when it cannot be
 * built. */
static bool logs_body(ig_store_t *st, const ig_webhook_delivery_t *d, ig_buf_t *body, attempt_t *r)
{
    int rc = g.logs_body ? g.logs_body(g.logs_body_ctx, st, d, body) : IG_EUNAVAILABLE;
    if (rc == IG_OK) return true;
    if (rc == IG_ENOTFOUND) {
        set_error(r, "the batch of log records is gone", NULL);
        r->final = true;
    } else {
        set_error(r, "the log records cannot be read: ", ig_err_message(rc));
    }
    return false;
}

/* Attempts one due delivery and records the outcome. IG_OK unless the store fails. */
static int deliver_one(ig_store_t *st, const ig_webhook_delivery_t *d)
{
    ig_org_t *org = malloc(sizeof *org);
    ig_webhook_t *w = malloc(sizeof *w);
    uint8_t *blob = NULL;
    size_t blen = 0;
    ig_buf_t body;
    char secret[IG_WEBHOOK_SECRET_TEXT_MAX] = "";
    attempt_t r;
    int64_t now = wall_ms();
    int rc = IG_ENOMEM;

    memset(&r, 0, sizeof r);
    bool logs = strcmp(d->event_type, g_event_names[IG_WEBHOOK_EV_LOGS_EXPIRING]) == 0;
    ig_buf_init(&body, logs ? IG_WEBHOOK_LOGS_BODY_MAX : IG_STORE_WEBHOOK_PAYLOAD_MAX);
    if (!org || !w) goto out;
    /* the lease: nobody else (thread, process) attempts it until it expires or we record the outcome */
    rc =
        ig_store_webhook_lease(st, d->id, now, now + (logs ? IG_WEBHOOK_LOGS_LEASE_MS : IG_WEBHOOK_LEASE_MS));
    if (rc) goto out;
    int64_t started = wall_ms(), t0 = mono_ms();
    if ((rc = ig_store_org_get(st, d->org_id, org))) goto out; /* deleted: its deliveries went with it */
    if (org->plan != IG_STORE_PLAN_ENTERPRISE) {
        set_error(&r, "plan", NULL);
        r.final = true;
    } else if ((rc = ig_store_webhook_get(st, d->org_id, d->webhook_id, w))) {
        goto out; /* deleted meanwhile, with its deliveries */
    } else if (!w->enabled && strcmp(d->event_type, g_event_names[IG_WEBHOOK_EV_WEBHOOK_TEST]) != 0) {
        set_error(&r, "disabled", NULL);
        r.final = true;
    } else if ((rc = ig_store_webhook_payload(st, d->org_id, d->id, &blob, &blen))) {
        goto out;
    } else if (ig_webhook_open_payload(d->org_id, d->id, ig_iov((const char *)blob, blen), &body) != IG_OK ||
               ig_webhook_open_secret(w, secret) != IG_OK) {
        set_error(&r, "the sealed payload or secret cannot be opened (was the master key changed?)", NULL);
        r.final = true;
    } else if (!logs || logs_body(st, d, &body, &r)) {
        ig_orgset_t set; /* the org's allowlist as it is now: an entry removed since registration counts */
        ig_orgset_parse_text(org->settings, &set);
        post(w, d, set.allowlist, ig_buf_iov(&body), logs ? "application/x-ndjson" : "application/json",
             secret, &r);
        ig_orgset_clear(&set);
    }
    if (r.aborted) { /* shutting down: not an attempt; give the lease back so a restart resumes it at once */
        rc = ig_store_webhook_lease(st, d->id, INT64_MAX, wall_ms());
        goto out;
    }
    ig_webhook_attempt_t a = {
        .started_at = started, .status_code = r.status_code, .duration_ms = mono_ms() - t0};
    memcpy(a.error, r.error, sizeof a.error);
    uint32_t rnd = 0x80000000u; /* no jitter if the generator fails */
    (void)ig_random(&rnd, sizeof rnd);
    int64_t next = 0;
    int state = ig_webhook_next_state(d->attempts + 1, r.ok, r.final, wall_ms(), g.retry_base_ms, rnd, &next);
    rc = ig_store_webhook_record(st, d->org_id, d->id, &a, state, next, NULL);
    if (rc == IG_OK && state == IG_STORE_DELIVERY_FAILED)
        IG_WARN("webhook", "delivery %s of %s to webhook %s failed after %d attempts (last: %d %s)", d->id,
                d->event_type, d->webhook_id, d->attempts + 1, r.status_code, r.error);
    else if (rc == IG_OK)
        IG_DEBUG("webhook", "delivery %s attempt %d: status %d %s", d->id, d->attempts + 1, r.status_code,
                 r.ok ? "ok" : r.error);
out:
    if (rc == IG_ENOTFOUND || rc == IG_ECONFLICT) rc = IG_OK; /* leased elsewhere, finished, or deleted */
    ig_wipe(secret, sizeof secret);
    ig_buf_free(&body, logs); /* log records: customer content in clear */
    free(blob);
    free(w);
    free(org);
    return rc;
}

int ig_webhook_run_due(ig_store_t *st, size_t *attempted, bool *more)
{
    ig_webhook_delivery_t due[IG_WEBHOOK_BATCH];
    size_t n = 0, done = 0;
    int rc = ig_store_webhook_due(st, wall_ms(), due, IG_WEBHOOK_BATCH, &n);
    for (size_t i = 0; rc == IG_OK && i < n && !atomic_load(&g_stop); i++, done++)
        rc = deliver_one(st, &due[i]);
    if (attempted) *attempted = done;
    if (more) *more = rc == IG_OK && n == IG_WEBHOOK_BATCH && !atomic_load(&g_stop);
    return rc;
}

/* Deletes finished deliveries older than IG_WEBHOOK_KEEP_MS, a bounded batch at a time. */
static void purge_old(ig_store_t *st)
{
    size_t purged = 0, total = 0;
    int rc;
    do {
        rc = ig_store_webhook_purge(st, wall_ms() - IG_WEBHOOK_KEEP_MS, 1000, &purged);
        total += purged;
    } while (rc == IG_OK && purged == 1000 && !atomic_load(&g_stop));
    if (rc) IG_WARN("webhook", "purging old deliveries failed (%s)", ig_err_name(rc));
    if (total) IG_INFO("webhook", "%zu finished deliveries older than 30 days purged", total);
}

static void *delivery_main(void *arg)
{
    IG_UNUSED(arg);
    ig_store_t *st = NULL;
    int64_t next_purge = 0;
    while (!atomic_load(&g_stop)) {
        int64_t wait_ms = IG_WEBHOOK_POLL_MS;
        int err = 0;
        if (!st && !(st = ig_store_open(g.store_url, &err)))
            IG_WARN("webhook", "cannot open the store (%s): retrying", ig_err_name(err));
        if (st) {
            bool more = false;
            int64_t at = 0;
            int rc = ig_webhook_run_due(st, NULL, &more);
            if (rc == IG_OK && !more) rc = ig_store_webhook_next_due(st, &at);
            if (rc) {
                IG_WARN("webhook", "delivery pass failed (%s)", ig_err_name(rc));
                ig_store_close(st); /* a fresh handle next time */
                st = NULL;
                wait_ms = 1000;
            } else if (more) {
                wait_ms = 0;
            } else if (at) {
                wait_ms = IG_MIN(IG_MAX(at - wall_ms(), 0), (int64_t)IG_WEBHOOK_POLL_MS);
            }
            if (st && wall_ms() >= next_purge) {
                purge_old(st);
                next_purge = wall_ms() + 3600 * 1000;
            }
        } else {
            wait_ms = 1000;
        }
        pthread_mutex_lock(&g_mu);
        if (!g.kick && wait_ms > 0 && !atomic_load(&g_stop)) {
            struct timespec dl;
            clock_gettime(CLOCK_REALTIME, &dl);
            dl.tv_sec += wait_ms / 1000;
            dl.tv_nsec += (wait_ms % 1000) * 1000000L;
            if (dl.tv_nsec >= 1000000000L) {
                dl.tv_sec++;
                dl.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&g_cv, &g_mu, &dl);
        }
        g.kick = false;
        pthread_mutex_unlock(&g_mu);
    }
    ig_store_close(st);
    return NULL;
}

int ig_webhook_start(void)
{
    if (!g.init || !g.store_url[0]) return IG_EINVAL;
    if (g.running) return IG_OK;
    atomic_store(&g_stop, 0);
    if (pthread_create(&g.thread, NULL, delivery_main, NULL) != 0) return IG_EINTERNAL;
    g.running = true;
    return IG_OK;
}

void ig_webhook_stop(void)
{
    if (!g.running) return;
    atomic_store(&g_stop, 1);
    pthread_mutex_lock(&g_mu);
    pthread_cond_signal(&g_cv);
    pthread_mutex_unlock(&g_mu);
    pthread_join(g.thread, NULL);
    g.running = false;
    atomic_store(&g_stop, 0);
}

/* Unit tests of outbound webhooks: event names and masks, the secret's text form, the signature against
 * published and independently computed HMAC-SHA256 values, the backoff schedule and the delivery state
 * machine, the store's webhook tables (with tenant isolation, leases, attempts, purge and org deletion),
 * emission with sealed payloads, and delivery to a receiver thread on 127.0.0.1 (signature, headers, retry
 * state) including a URL whose DNS answer turns private between registration and delivery. */
#include "unit.h"
#include "core/err.h"
#include "crypto/crypto.h"
#include "store/store.h"
#include "webhook/webhook.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NO_ID "0123456789abcdef0123456789abcdef" /* well-formed, never generated */

static const uint8_t TEST_KEY[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                     17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static ig_store_t *open_mem(void)
{
    int err = -1;
    ig_store_t *st = ig_store_open(":memory:", &err);
    CHECK(st != NULL);
    if (st) CHECK_EQ_INT(ig_store_migrate(st), IG_OK);
    return st;
}

/* ---- events, secrets, signatures, backoff ---- */

TEST(event_names_and_masks)
{
    char text[IG_STORE_WEBHOOK_EVENTS_MAX + 1];
    uint32_t m = 0;
    CHECK_EQ_INT(IG_WEBHOOK_EV__COUNT, 10);
    CHECK_EQ_INT(ig_webhook_event_index(IG_IOV_LIT("key.create")), IG_WEBHOOK_EV_KEY_CREATE);
    CHECK_EQ_INT(ig_webhook_event_index(IG_IOV_LIT("webhook.test")), IG_WEBHOOK_EV_WEBHOOK_TEST);
    CHECK_EQ_INT(ig_webhook_event_index(IG_IOV_LIT("user.role_change")), IG_WEBHOOK_EV_USER_ROLE_CHANGE);
    CHECK_EQ_INT(ig_webhook_event_index(IG_IOV_LIT("Key.Create")), -1);
    CHECK_EQ_INT(ig_webhook_event_index(IG_IOV_LIT("key.create ")), -1);
    CHECK_EQ_INT(ig_webhook_event_index(IG_IOV_LIT("key")), -1);
    CHECK_EQ_INT(ig_webhook_event_index(IG_IOV_LIT("")), -1);
    CHECK_EQ_STR(ig_webhook_event_name(IG_WEBHOOK_EV_LOGS_EXPIRING), "logs.expiring");
    CHECK_EQ_STR(ig_webhook_event_name(99), "");

    CHECK_EQ_INT(ig_webhook_events_text((1u << IG_WEBHOOK_EV_USER_INVITE) | (1u << IG_WEBHOOK_EV_KEY_CREATE),
                                        text, sizeof text),
                 IG_OK);
    CHECK_EQ_STR(text, "key.create,user.invite");
    CHECK_EQ_INT(ig_webhook_events_text((1u << IG_WEBHOOK_EV__COUNT) - 1, text, sizeof text), IG_OK);
    CHECK_EQ_STR(text, "key.create,key.revoke,key.rotate,user.invite,user.role_change,user.remove,"
                       "budget.warning,budget.exceeded,logs.expiring,webhook.test");
    CHECK_EQ_INT(ig_webhook_events_mask(text, &m), IG_OK);
    CHECK_EQ_INT(m, (1u << IG_WEBHOOK_EV__COUNT) - 1);
    CHECK_EQ_INT(ig_webhook_events_text(0, text, sizeof text), IG_EINVAL);
    CHECK_EQ_INT(ig_webhook_events_text(1u << 20, text, sizeof text), IG_EINVAL);
    CHECK_EQ_INT(ig_webhook_events_text(3, text, 12), IG_ETOOBIG); /* "key.create," does not fit */
    CHECK_EQ_STR(text, "");
    CHECK_EQ_INT(ig_webhook_events_mask("key.revoke", &m), IG_OK);
    CHECK_EQ_INT(m, 1u << IG_WEBHOOK_EV_KEY_REVOKE);
    CHECK_EQ_INT(ig_webhook_events_mask("", &m), IG_EINVAL);
    CHECK_EQ_INT(ig_webhook_events_mask("key.create,", &m), IG_EINVAL);
    CHECK_EQ_INT(ig_webhook_events_mask("key.create,nope", &m), IG_EINVAL);
}

TEST(secret_text_form)
{
    uint8_t raw[32], raw2[32];
    char text[IG_WEBHOOK_SECRET_TEXT_MAX], text2[IG_WEBHOOK_SECRET_TEXT_MAX];
    for (int i = 0; i < 32; i++)
        raw[i] = (uint8_t)i;
    ig_webhook_secret_text(raw, text);
    CHECK_EQ_STR(text, "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"); /* Python base64.urlsafe */
    CHECK_EQ_INT(ig_webhook_secret_new(raw, text), IG_OK);
    CHECK_EQ_INT(ig_webhook_secret_new(raw2, text2), IG_OK);
    CHECK_EQ_INT(strlen(text), 49);
    CHECK(strncmp(text, "whsec_", 6) == 0);
    CHECK(strcmp(text, text2) != 0);
    for (const char *p = text + 6; *p; p++)
        CHECK((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
              *p == '_');
}

/* HMAC-SHA256 through OpenSSL's one-shot HMAC(), independently of ig_hmac_sha256 and ig_webhook_sign. */
static void reference_sig(const char *key, const char *msg, size_t len, char out[IG_WEBHOOK_SIG_MAX])
{
    uint8_t mac[32];
    unsigned int ml = 0;
    HMAC(EVP_sha256(), key, (int)strlen(key), (const uint8_t *)msg, len, mac, &ml);
    memcpy(out, "v1=", 3);
    ig_hex_encode(mac, ml, out + 3);
}

TEST(signature)
{
    char sig[IG_WEBHOOK_SIG_MAX], ref[IG_WEBHOOK_SIG_MAX];
    uint8_t mac[32];
    char hex[65];
    /* RFC 4231 test case 2 through the primitive the signature uses */
    CHECK_EQ_INT(ig_hmac_sha256((const uint8_t *)"Jefe", 4, "what do ya want for nothing?", 28, mac), IG_OK);
    ig_hex_encode(mac, 32, hex);
    CHECK_EQ_STR(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

    /* a vector computed with Python's hmac: key = the whole secret string, message = "<ts>.<body>" */
    const char *secret = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
    const char *body = "{\"id\":\"evt\",\"type\":\"key.create\"}";
    CHECK_EQ_INT(ig_webhook_sign(secret, 1700000000, ig_iov_str(body), sig), IG_OK);
    CHECK_EQ_STR(sig, "v1=a9f4c4e6b7d4449d196ec3e26e686488fc1545c4a1a9239374f4fc9b96bac504");

    /* and against OpenSSL's HMAC() for other inputs: an empty body, bytes that are not text */
    char msg[64];
    CHECK_EQ_INT(ig_webhook_sign(secret, 0, IG_IOV_NULL, sig), IG_OK);
    reference_sig(secret, "0.", 2, ref);
    CHECK_EQ_STR(sig, ref);
    const char bin[] = {'a', 0, 'b', '\n', (char)0xff};
    CHECK_EQ_INT(ig_webhook_sign(secret, 42, ig_iov(bin, sizeof bin), sig), IG_OK);
    memcpy(msg, "42.", 3);
    memcpy(msg + 3, bin, sizeof bin);
    reference_sig(secret, msg, 3 + sizeof bin, ref);
    CHECK_EQ_STR(sig, ref);
    /* the timestamp and the body are both covered */
    char a[IG_WEBHOOK_SIG_MAX], b[IG_WEBHOOK_SIG_MAX];
    CHECK_EQ_INT(ig_webhook_sign(secret, 1700000001, ig_iov_str(body), a), IG_OK);
    CHECK_EQ_INT(ig_webhook_sign(secret, 1700000000, ig_iov_str("{\"id\":\"evt\"}"), b), IG_OK);
    CHECK(strcmp(a, "v1=a9f4c4e6b7d4449d196ec3e26e686488fc1545c4a1a9239374f4fc9b96bac504") != 0);
    CHECK(strcmp(b, "v1=a9f4c4e6b7d4449d196ec3e26e686488fc1545c4a1a9239374f4fc9b96bac504") != 0);
}

TEST(backoff_schedule)
{
    /* 10 s x 3^(n-1): 10, 30, 90, 270, 810, 2430, 7290 s, each +/- 20 % */
    int64_t expect = 10000;
    for (int n = 1; n < IG_WEBHOOK_MAX_ATTEMPTS; n++, expect *= 3) {
        int64_t lo = ig_webhook_backoff_ms(n, 10000, 0);
        int64_t mid = ig_webhook_backoff_ms(n, 10000, 0x80000000u);
        int64_t hi = ig_webhook_backoff_ms(n, 10000, UINT32_MAX);
        CHECK_EQ_INT(lo, expect * 8 / 10);
        CHECK_EQ_INT(mid, expect);
        CHECK(hi <= expect * 12 / 10 && hi >= expect * 12 / 10 - 1);
        if (n > 1) CHECK(lo > ig_webhook_backoff_ms(n - 1, 10000, UINT32_MAX)); /* never overlapping */
    }
    CHECK(ig_webhook_backoff_ms(1000, 10000, UINT32_MAX) > 0); /* saturates, never overflows */
    CHECK_EQ_INT(ig_webhook_backoff_ms(1, 0, 0), 1);
    CHECK_EQ_INT(ig_webhook_backoff_ms(3, 100, 0x80000000u), 900);

    /* the state after each attempt: retried 7 times, then failed */
    int64_t next = -1, now = 1000000;
    CHECK_EQ_INT(ig_webhook_next_state(1, true, false, now, 10000, 0, &next), IG_STORE_DELIVERY_SUCCEEDED);
    CHECK_EQ_INT(next, 0);
    for (int n = 1; n < IG_WEBHOOK_MAX_ATTEMPTS; n++) {
        CHECK_EQ_INT(ig_webhook_next_state(n, false, false, now, 10000, 0x80000000u, &next),
                     IG_STORE_DELIVERY_PENDING);
        CHECK_EQ_INT(next, now + ig_webhook_backoff_ms(n, 10000, 0x80000000u));
    }
    CHECK_EQ_INT(ig_webhook_next_state(IG_WEBHOOK_MAX_ATTEMPTS, false, false, now, 10000, 0, &next),
                 IG_STORE_DELIVERY_FAILED);
    CHECK_EQ_INT(next, 0);
    CHECK_EQ_INT(IG_WEBHOOK_MAX_ATTEMPTS, 8);
    CHECK_EQ_INT(ig_webhook_next_state(1, false, true, now, 10000, 0, &next), IG_STORE_DELIVERY_FAILED);
    CHECK_EQ_INT(ig_webhook_next_state(IG_WEBHOOK_MAX_ATTEMPTS, true, false, now, 10000, 0, &next),
                 IG_STORE_DELIVERY_SUCCEEDED);
}

/* ---- the store ---- */

typedef struct {
    char last_org[33], last_id[33];
    int calls;
    int fail; /* error to return */
} seal_probe_t;

/* A seal callback that "seals" to a recognisable blob and remembers what it was asked. */
static int probe_seal(void *ctx, const char *org_id, const char *id, ig_buf_t *out)
{
    seal_probe_t *p = ctx;
    p->calls++;
    snprintf(p->last_org, sizeof p->last_org, "%s", org_id);
    snprintf(p->last_id, sizeof p->last_id, "%s", id);
    if (p->fail) return p->fail;
    return ig_buf_appendf(out, "sealed:%s", id);
}

static void attempt_of(ig_webhook_attempt_t *a, int status, const char *error)
{
    memset(a, 0, sizeof *a);
    a->started_at = now_ms();
    a->status_code = status;
    a->duration_ms = 12;
    snprintf(a->error, sizeof a->error, "%s", error);
}

TEST(store_webhooks_crud_and_isolation)
{
    ig_store_t *st = open_mem();
    ig_org_t a, b;
    ig_webhook_t w, got, list[30];
    seal_probe_t p = {0};
    size_t n = 0;
    if (!st) return;
    CHECK_EQ_INT(ig_store_org_create(st, "org-a", "A", &a), IG_OK);
    CHECK_EQ_INT(ig_store_org_create(st, "org-b", "B", &b), IG_OK);

    CHECK_EQ_INT(ig_store_webhook_create(st, a.id, "https://hooks.example/a", "key.create,user.invite", "ops",
                                         probe_seal, &p, &w),
                 IG_OK);
    CHECK_EQ_INT(p.calls, 1);
    CHECK_EQ_STR(p.last_org, a.id);
    CHECK_EQ_STR(p.last_id, w.id); /* sealed for the id it is stored under */
    CHECK_EQ_INT(strlen(w.id), 32);
    CHECK(w.enabled);
    CHECK_EQ_INT((int)w.secret_len, 7 + 32);
    CHECK(memcmp(w.secret, "sealed:", 7) == 0);
    CHECK(w.created_at > 0 && w.updated_at == w.created_at);

    CHECK_EQ_INT(ig_store_webhook_get(st, a.id, w.id, &got), IG_OK);
    CHECK_EQ_STR(got.url, "https://hooks.example/a");
    CHECK_EQ_STR(got.events, "key.create,user.invite");
    CHECK_EQ_STR(got.description, "ops");
    CHECK_EQ_INT((int)got.secret_len, (int)w.secret_len);
    CHECK(memcmp(got.secret, w.secret, w.secret_len) == 0);

    /* another org's id is a missing id, for every call */
    CHECK_EQ_INT(ig_store_webhook_get(st, b.id, w.id, &got), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_webhook_update(st, b.id, w.id, NULL, NULL, NULL, 0, NULL), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_webhook_delete(st, b.id, w.id), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_webhook_list(st, b.id, list, 30, &n), IG_OK);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(
        ig_store_webhook_delivery_add(st, b.id, w.id, "evt1", "key.create", now_ms(), probe_seal, &p, NULL),
        IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_webhook_get(st, a.id, NO_ID, &got), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_webhook_get(st, a.id, "x" NO_ID, &got), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_webhook_list(st, a.id, list, 30, &n), IG_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(ig_store_webhook_list(st, a.id, NULL, 0, &n), IG_ETOOBIG); /* the emission probe */
    CHECK_EQ_INT(ig_store_webhook_list(st, b.id, NULL, 0, &n), IG_OK);

    /* update: only what is given; "" clears the description */
    CHECK_EQ_INT(ig_store_webhook_update(st, a.id, w.id, NULL, "key.revoke", "", 0, &got), IG_OK);
    CHECK_EQ_STR(got.url, "https://hooks.example/a");
    CHECK_EQ_STR(got.events, "key.revoke");
    CHECK_EQ_STR(got.description, "");
    CHECK(!got.enabled);
    CHECK(got.updated_at >= w.updated_at);
    CHECK_EQ_INT(ig_store_webhook_update(st, a.id, w.id, "https://hooks.example/b", NULL, NULL, -1, &got),
                 IG_OK);
    CHECK_EQ_STR(got.url, "https://hooks.example/b");
    CHECK_EQ_STR(got.events, "key.revoke");
    CHECK(!got.enabled);

    /* validation */
    CHECK_EQ_INT(ig_store_webhook_create(st, a.id, "https://x y", "key.create", NULL, probe_seal, &p, NULL),
                 IG_EINVAL);
    CHECK_EQ_INT(ig_store_webhook_create(st, a.id, "https://x", "", NULL, probe_seal, &p, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_webhook_create(st, a.id, "https://x", "key.create", "a\nb", probe_seal, &p, NULL),
                 IG_EINVAL);
    CHECK_EQ_INT(ig_store_webhook_create(st, a.id, "https://x", "key.create", NULL, NULL, NULL, NULL),
                 IG_EINVAL);
    CHECK_EQ_INT(ig_store_webhook_update(st, a.id, w.id, NULL, NULL, NULL, 2, NULL), IG_EINVAL);
    CHECK_EQ_INT(ig_store_webhook_create(st, NO_ID, "https://x", "key.create", NULL, probe_seal, &p, NULL),
                 IG_ENOTFOUND);
    p.fail = IG_ECRYPTO; /* the seal's error is returned and nothing stored */
    CHECK_EQ_INT(ig_store_webhook_create(st, a.id, "https://x", "key.create", NULL, probe_seal, &p, NULL),
                 IG_ECRYPTO);
    p.fail = 0;
    CHECK_EQ_INT(ig_store_webhook_list(st, a.id, list, 30, &n), IG_OK);
    CHECK_EQ_INT(n, 1);

    /* at most IG_STORE_WEBHOOKS_PER_ORG per org, the other org unaffected */
    for (int i = 1; i < IG_STORE_WEBHOOKS_PER_ORG; i++)
        CHECK_EQ_INT(ig_store_webhook_create(st, a.id, "https://x", "key.create", NULL, probe_seal, &p, NULL),
                     IG_OK);
    CHECK_EQ_INT(ig_store_webhook_create(st, a.id, "https://x", "key.create", NULL, probe_seal, &p, NULL),
                 IG_ETOOBIG);
    CHECK_EQ_INT(ig_store_webhook_create(st, b.id, "https://x", "key.create", NULL, probe_seal, &p, NULL),
                 IG_OK);
    CHECK_EQ_INT(ig_store_webhook_list(st, a.id, list, 30, &n), IG_OK);
    CHECK_EQ_INT(n, IG_STORE_WEBHOOKS_PER_ORG);
    bool found = false; /* oldest first (ties within a millisecond in id order) */
    for (size_t i = 0; i < n; i++) {
        found = found || strcmp(list[i].id, w.id) == 0;
        if (i) CHECK(list[i].created_at >= list[i - 1].created_at);
    }
    CHECK(found);
    CHECK_EQ_INT(ig_store_webhook_list(st, a.id, list, 3, &n), IG_ETOOBIG);
    CHECK_EQ_INT(n, 3);

    CHECK_EQ_INT(ig_store_webhook_delete(st, a.id, w.id), IG_OK);
    CHECK_EQ_INT(ig_store_webhook_get(st, a.id, w.id, &got), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_webhook_delete(st, a.id, w.id), IG_ENOTFOUND);
    ig_store_close(st);
}

TEST(store_deliveries)
{
    ig_store_t *st = open_mem();
    ig_org_t a, b;
    ig_webhook_t w, wb;
    ig_webhook_delivery_t d, d2, due[8], list[8];
    ig_webhook_attempt_t at, atts[10];
    seal_probe_t p = {0};
    size_t n = 0;
    uint8_t *blob = NULL;
    size_t blen = 0;
    int64_t at_ms = 0;
    if (!st) return;
    CHECK_EQ_INT(ig_store_org_create(st, "org-a", "A", &a), IG_OK);
    CHECK_EQ_INT(ig_store_org_create(st, "org-b", "B", &b), IG_OK);
    CHECK_EQ_INT(ig_store_webhook_create(st, a.id, "https://a", "key.create", NULL, probe_seal, &p, &w),
                 IG_OK);
    CHECK_EQ_INT(ig_store_webhook_create(st, b.id, "https://b", "key.create", NULL, probe_seal, &p, &wb),
                 IG_OK);
    CHECK_EQ_INT(ig_store_webhook_next_due(st, &at_ms), IG_OK);
    CHECK_EQ_INT(at_ms, 0);

    int64_t t0 = now_ms();
    CHECK_EQ_INT(ig_store_webhook_delivery_add(st, a.id, w.id, "evt1", "key.create", t0, probe_seal, &p, &d),
                 IG_OK);
    CHECK_EQ_STR(p.last_id, d.id); /* the payload is sealed for the delivery's own id */
    CHECK_EQ_INT(d.status, IG_STORE_DELIVERY_PENDING);
    CHECK_EQ_INT(d.attempts, 0);
    CHECK_EQ_INT(ig_store_webhook_delivery_add(st, b.id, wb.id, "evt2", "key.create", t0 + 3600000,
                                               probe_seal, &p, &d2),
                 IG_OK);
    CHECK_EQ_INT(
        ig_store_webhook_delivery_add(st, a.id, NO_ID, "evt3", "key.create", t0, probe_seal, &p, NULL),
        IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_webhook_delivery_add(st, a.id, w.id, "", "key.create", t0, probe_seal, &p, NULL),
                 IG_EINVAL);
    CHECK_EQ_INT(ig_store_webhook_delivery_add(st, a.id, w.id, "e", "key.create", 0, probe_seal, &p, NULL),
                 IG_EINVAL);

    /* payloads: only through the owning org */
    CHECK_EQ_INT(ig_store_webhook_payload(st, a.id, d.id, &blob, &blen), IG_OK);
    CHECK_EQ_INT((int)blen, 7 + 32);
    CHECK(blob && memcmp(blob, "sealed:", 7) == 0);
    free(blob);
    blob = NULL;
    CHECK_EQ_INT(ig_store_webhook_payload(st, b.id, d.id, &blob, &blen), IG_ENOTFOUND);
    CHECK(blob == NULL);

    /* due now: only a's (b's is due in an hour); the earliest due time */
    CHECK_EQ_INT(ig_store_webhook_due(st, now_ms(), due, 8, &n), IG_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_STR(due[0].id, d.id);
    CHECK_EQ_INT(ig_store_webhook_next_due(st, &at_ms), IG_OK);
    CHECK_EQ_INT(at_ms, t0);

    /* a lease is taken once; a leased delivery is not due */
    int64_t now = now_ms();
    CHECK_EQ_INT(ig_store_webhook_lease(st, d.id, now, now + 60000), IG_OK);
    CHECK_EQ_INT(ig_store_webhook_lease(st, d.id, now, now + 60000), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_webhook_due(st, now, due, 8, &n), IG_OK);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(ig_store_webhook_lease(st, d.id, INT64_MAX, now), IG_OK); /* given back */
    CHECK_EQ_INT(ig_store_webhook_due(st, now, due, 8, &n), IG_OK);
    CHECK_EQ_INT(n, 1);

    /* attempts: numbered by the store, the delivery follows */
    attempt_of(&at, 500, "");
    CHECK_EQ_INT(ig_store_webhook_record(st, a.id, d.id, &at, IG_STORE_DELIVERY_PENDING, now + 100, &d2),
                 IG_OK);
    CHECK_EQ_INT(d2.attempts, 1);
    CHECK_EQ_INT(d2.last_status, 500);
    CHECK_EQ_STR(d2.last_error, "");
    CHECK_EQ_INT(d2.next_attempt_at, now + 100);
    CHECK_EQ_INT(d2.status, IG_STORE_DELIVERY_PENDING);
    CHECK_EQ_INT(ig_store_webhook_record(st, b.id, d.id, &at, IG_STORE_DELIVERY_PENDING, now + 100, NULL),
                 IG_ENOTFOUND); /* another org cannot record on it */
    attempt_of(&at, 0, "Couldn't connect to server");
    CHECK_EQ_INT(ig_store_webhook_record(st, a.id, d.id, &at, IG_STORE_DELIVERY_PENDING, now + 300, &d2),
                 IG_OK);
    CHECK_EQ_INT(d2.attempts, 2);
    CHECK_EQ_INT(d2.last_status, 0);
    CHECK_EQ_STR(d2.last_error, "Couldn't connect to server");
    attempt_of(&at, 200, "");
    CHECK_EQ_INT(ig_store_webhook_record(st, a.id, d.id, &at, IG_STORE_DELIVERY_SUCCEEDED, 0, &d2), IG_OK);
    CHECK_EQ_INT(d2.status, IG_STORE_DELIVERY_SUCCEEDED);
    CHECK_EQ_INT(d2.attempts, 3);
    CHECK_EQ_INT(d2.next_attempt_at, 0);
    CHECK_EQ_INT(ig_store_webhook_record(st, a.id, d.id, &at, IG_STORE_DELIVERY_FAILED, 0, NULL),
                 IG_ECONFLICT);
    CHECK_EQ_INT(ig_store_webhook_lease(st, d.id, INT64_MAX, now), IG_ENOTFOUND); /* finished */
    attempt_of(&at, 200, "a\nb");
    CHECK_EQ_INT(ig_store_webhook_record(st, a.id, d.id, &at, IG_STORE_DELIVERY_FAILED, 0, NULL), IG_EINVAL);
    attempt_of(&at, 200, "");
    CHECK_EQ_INT(ig_store_webhook_record(st, a.id, d.id, &at, IG_STORE_DELIVERY_PENDING, 0, NULL), IG_EINVAL);

    CHECK_EQ_INT(ig_store_webhook_attempts(st, a.id, d.id, atts, 10, &n), IG_OK);
    CHECK_EQ_INT(n, 3);
    CHECK_EQ_INT(atts[0].attempt, 1);
    CHECK_EQ_INT(atts[0].status_code, 500);
    CHECK_EQ_INT(atts[1].attempt, 2);
    CHECK_EQ_STR(atts[1].error, "Couldn't connect to server");
    CHECK_EQ_INT(atts[2].status_code, 200);
    CHECK_EQ_INT(atts[2].duration_ms, 12);
    CHECK_EQ_INT(ig_store_webhook_attempts(st, b.id, d.id, atts, 10, &n), IG_OK);
    CHECK_EQ_INT(n, 0);

    /* listing: newest first, scoped */
    ig_webhook_delivery_t d3;
    usleep(2000); /* a later created_at than d's (ties within a millisecond are in id order) */
    CHECK_EQ_INT(
        ig_store_webhook_delivery_add(st, a.id, w.id, "evt4", "key.revoke", now_ms(), probe_seal, &p, &d3),
        IG_OK);
    CHECK_EQ_INT(ig_store_webhook_deliveries(st, a.id, w.id, list, 8, &n), IG_OK);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_STR(list[0].id, d3.id);
    CHECK_EQ_STR(list[1].id, d.id);
    CHECK_EQ_INT(ig_store_webhook_deliveries(st, a.id, w.id, list, 1, &n), IG_OK); /* a page */
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(ig_store_webhook_deliveries(st, b.id, w.id, list, 8, &n), IG_OK);
    CHECK_EQ_INT(n, 0);

    /* purge: finished ones older than the cut-off only */
    size_t purged = 9;
    CHECK_EQ_INT(ig_store_webhook_purge(st, d2.updated_at, 100, &purged), IG_OK);
    CHECK_EQ_INT(purged, 0);
    CHECK_EQ_INT(ig_store_webhook_purge(st, now_ms() + 1, 100, &purged), IG_OK);
    CHECK_EQ_INT(purged, 1); /* d; d3 is pending, b's too */
    CHECK_EQ_INT(ig_store_webhook_attempts(st, a.id, d.id, atts, 10, &n), IG_OK);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(ig_store_webhook_deliveries(st, a.id, w.id, list, 8, &n), IG_OK);
    CHECK_EQ_INT(n, 1);

    /* deleting a webhook deletes its deliveries; deleting an org, everything of it */
    attempt_of(&at, 500, "");
    CHECK_EQ_INT(ig_store_webhook_record(st, a.id, d3.id, &at, IG_STORE_DELIVERY_PENDING, now + 1, NULL),
                 IG_OK);
    CHECK_EQ_INT(ig_store_webhook_delete(st, a.id, w.id), IG_OK);
    CHECK_EQ_INT(ig_store_webhook_payload(st, a.id, d3.id, &blob, &blen), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_store_webhook_attempts(st, a.id, d3.id, atts, 10, &n), IG_OK);
    CHECK_EQ_INT(n, 0);
    CHECK_EQ_INT(ig_store_org_delete(st, b.id), IG_OK);
    CHECK_EQ_INT(ig_store_webhook_next_due(st, &at_ms), IG_OK);
    CHECK_EQ_INT(at_ms, 0);
    CHECK_EQ_INT(ig_store_webhook_get(st, b.id, wb.id, &w), IG_ENOTFOUND);
    ig_store_close(st);
}

/* ---- emission and delivery ---- */

/* Resolver: hooks.example answers *g_answer (switchable between checks: DNS rebinding). */
static const char *g_answer = "127.0.0.1";

static int fake_resolve(void *ctx, const char *host, ig_outbound_addr_t *addrs, size_t max, size_t *n)
{
    IG_UNUSED(ctx);
    *n = 0;
    if (strcmp(host, "hooks.example") != 0) return IG_EUNAVAILABLE;
    if (max < 1 || !ig_outbound_addr_parse(g_answer, &addrs[0])) return IG_EUNAVAILABLE;
    *n = 1;
    return IG_OK;
}

/* A one-connection-at-a-time HTTP receiver: answers each request with the next status of its script and
 * keeps the last request's head and body. */
typedef struct {
    int fd, port;
    int statuses[8], nstatus;
    atomic_int served; /* counted before the answer is written: the client never sees an answer first */
    char head[4096], body[8192];
    pthread_t thread;
} receiver_t;

static void *receiver_main(void *arg)
{
    receiver_t *r = arg;
    while (atomic_load(&r->served) < r->nstatus) {
        int c = accept(r->fd, NULL, NULL);
        if (c < 0) break;
        char buf[12288];
        size_t len = 0;
        ssize_t k;
        char *end = NULL;
        size_t want = 0;
        while (len < sizeof buf - 1 && (k = read(c, buf + len, sizeof buf - 1 - len)) > 0) {
            len += (size_t)k;
            buf[len] = '\0';
            if (!end && (end = strstr(buf, "\r\n\r\n"))) {
                const char *cl = strcasestr(buf, "\r\nContent-Length:");
                want = (size_t)(end + 4 - buf) + (cl ? strtoul(cl + 17, NULL, 10) : 0);
            }
            if (end && len >= want) break;
        }
        if (end) {
            size_t hl = (size_t)(end - buf);
            snprintf(r->head, sizeof r->head, "%.*s", (int)hl, buf);
            snprintf(r->body, sizeof r->body, "%s", end + 4);
        }
        int status = r->statuses[atomic_load(&r->served)];
        atomic_fetch_add(&r->served, 1);
        char resp[128];
        int n = snprintf(resp, sizeof resp, "HTTP/1.1 %d X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                         status);
        if (write(c, resp, (size_t)n) < 0) { /* the test sees the missing attempt */
        }
        close(c);
    }
    return NULL;
}

static bool receiver_start(receiver_t *r)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    r->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (r->fd < 0 || bind(r->fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(r->fd, 8) != 0 ||
        getsockname(r->fd, (struct sockaddr *)&sa, &sl) != 0)
        return false;
    r->port = ntohs(sa.sin_port);
    return pthread_create(&r->thread, NULL, receiver_main, r) == 0;
}

static void receiver_stop(receiver_t *r)
{
    shutdown(r->fd, SHUT_RDWR);
    close(r->fd);
    pthread_join(r->thread, NULL);
}

/* The value of header name (with ": ") in a request head, copied into out. */
static const char *head_value(const char *head, const char *name, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\r\n%s: ", name);
    const char *p = strcasestr(head, pat);
    out[0] = '\0';
    if (!p) return out;
    p += strlen(pat);
    size_t n = strcspn(p, "\r\n");
    snprintf(out, cap, "%.*s", (int)IG_MIN(n, cap - 1), p);
    return out;
}

static bool init_module(int port)
{
    char allow[64];
    snprintf(allow, sizeof allow, "127.0.0.1:%d,hooks.example:%d", port, port);
    ig_webhook_conf_t c = {.store_url = ":memory:",
                           .key = TEST_KEY,
                           .outbound_allowlist = allow,
                           .retry_base_ms = 200}; /* retries after 160..240 ms */
    const char *why = NULL;
    int rc = ig_webhook_init(&c, &why);
    CHECK_EQ_INT(rc, IG_OK);
    ig_webhook_set_resolver(fake_resolve, NULL);
    return rc == IG_OK;
}

TEST(emission_seals_and_scopes)
{
    ig_store_t *st = open_mem();
    ig_org_t a, b;
    ig_webhook_t w1, w2, w3, wb;
    ig_webhook_delivery_t ds[8];
    char secret[IG_WEBHOOK_SECRET_TEXT_MAX], opened[IG_WEBHOOK_SECRET_TEXT_MAX];
    size_t n = 0;
    if (!st || !init_module(9)) return;
    CHECK_EQ_INT(ig_store_org_create(st, "org-a", "A", &a), IG_OK);
    CHECK_EQ_INT(ig_store_org_create(st, "org-b", "B", &b), IG_OK);
    /* no webhook: nothing to do, no error */
    CHECK_EQ_INT(ig_webhook_emit(st, a.id, "key.create", "{\"key_id\":\"k\"}"), IG_OK);

    uint32_t kc = 1u << IG_WEBHOOK_EV_KEY_CREATE, kr = 1u << IG_WEBHOOK_EV_KEY_REVOKE;
    CHECK_EQ_INT(ig_webhook_create(st, a.id, "https://hooks.example/1", kc | kr, NULL, secret, &w1), IG_OK);
    CHECK(strncmp(secret, "whsec_", 6) == 0);
    CHECK_EQ_INT(ig_webhook_open_secret(&w1, opened), IG_OK);
    CHECK_EQ_STR(opened, secret);
    ig_webhook_t moved = w1; /* a sealed secret copied to another org (or row) does not open */
    memcpy(moved.org_id, b.id, sizeof moved.org_id);
    CHECK_EQ_INT(ig_webhook_open_secret(&moved, opened), IG_ECRYPTO);
    CHECK_EQ_INT(ig_webhook_create(st, a.id, "https://hooks.example/2", kr, NULL, secret, &w2), IG_OK);
    CHECK_EQ_INT(ig_webhook_create(st, a.id, "https://hooks.example/3", kc, NULL, secret, &w3), IG_OK);
    CHECK_EQ_INT(ig_store_webhook_update(st, a.id, w3.id, NULL, NULL, NULL, 0, NULL), IG_OK); /* disabled */
    CHECK_EQ_INT(ig_webhook_create(st, b.id, "https://hooks.example/b", kc, NULL, secret, &wb), IG_OK);
    CHECK_EQ_INT(ig_webhook_create(st, a.id, "https://hooks.example/x", 0, NULL, secret, NULL), IG_EINVAL);

    CHECK_EQ_INT(ig_webhook_emit(st, a.id, "key.create", "{\"key_id\":\"k1\",\"name\":\"n\"}"), IG_OK);
    CHECK_EQ_INT(ig_store_webhook_deliveries(st, a.id, w1.id, ds, 8, &n), IG_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(ig_store_webhook_deliveries(st, a.id, w2.id, ds + 1, 7, &n), IG_OK);
    CHECK_EQ_INT(n, 0); /* not subscribed */
    CHECK_EQ_INT(ig_store_webhook_deliveries(st, a.id, w3.id, ds + 1, 7, &n), IG_OK);
    CHECK_EQ_INT(n, 0); /* disabled */
    CHECK_EQ_INT(ig_store_webhook_deliveries(st, b.id, wb.id, ds + 1, 7, &n), IG_OK);
    CHECK_EQ_INT(n, 0); /* another org */

    /* the payload opens for its org and delivery only, and is the documented document */
    uint8_t *blob = NULL;
    size_t blen = 0;
    ig_buf_t pt;
    ig_buf_init(&pt, 1 << 16);
    CHECK_EQ_INT(ig_store_webhook_payload(st, a.id, ds[0].id, &blob, &blen), IG_OK);
    CHECK(blob && !memmem(blob, blen, "key_id", 6)); /* sealed at rest */
    CHECK_EQ_INT(ig_webhook_open_payload(a.id, ds[0].id, ig_iov((const char *)blob, blen), &pt), IG_OK);
    CHECK(ig_buf_cstr(&pt) != NULL);
    char want[512];
    snprintf(want, sizeof want,
             "{\"id\":\"%s\",\"type\":\"key.create\",\"org_id\":\"%s\",\"timestamp\":", ds[0].event_id, a.id);
    CHECK(pt.data && strncmp(pt.data, want, strlen(want)) == 0);
    CHECK(pt.data && strstr(pt.data, ",\"data\":{\"key_id\":\"k1\",\"name\":\"n\"}}") != NULL);
    ig_buf_free(&pt, true);
    ig_buf_init(&pt, 1 << 16);
    CHECK_EQ_INT(ig_webhook_open_payload(b.id, ds[0].id, ig_iov((const char *)blob, blen), &pt), IG_ECRYPTO);
    CHECK_EQ_INT(ig_webhook_open_payload(a.id, w1.id, ig_iov((const char *)blob, blen), &pt), IG_ECRYPTO);
    ig_buf_free(&pt, true);
    free(blob);

    /* bad input */
    CHECK_EQ_INT(ig_webhook_emit(st, a.id, "key.explode", NULL), IG_EINVAL);
    char big[IG_WEBHOOK_DATA_MAX + 8];
    memset(big, ' ', sizeof big);
    big[0] = '{';
    big[sizeof big - 2] = '}';
    big[sizeof big - 1] = '\0';
    CHECK_EQ_INT(ig_webhook_emit(st, a.id, "key.create", big), IG_EINVAL);

    /* the test event: one webhook, whatever its subscriptions; never another org's */
    ig_webhook_delivery_t t;
    CHECK_EQ_INT(ig_webhook_emit_to(st, a.id, w2.id, "webhook.test", NULL, &t), IG_OK);
    CHECK_EQ_STR(t.webhook_id, w2.id);
    CHECK_EQ_STR(t.event_type, "webhook.test");
    CHECK_EQ_INT(ig_webhook_emit_to(st, a.id, wb.id, "webhook.test", NULL, NULL), IG_ENOTFOUND);
    CHECK_EQ_INT(ig_webhook_emit_to(st, b.id, w2.id, "webhook.test", NULL, NULL), IG_ENOTFOUND);

    ig_webhook_shutdown();
    /* without the module: a org with webhooks cannot emit (nothing to seal with) */
    CHECK_EQ_INT(ig_webhook_emit(st, a.id, "key.create", NULL), IG_EUNAVAILABLE);
    ig_store_close(st);
}

TEST(delivery_signs_retries_and_rechecks)
{
    receiver_t rx = {.statuses = {500, 200, 302}, .nstatus = 3};
    ig_store_t *st = open_mem();
    ig_org_t a;
    ig_webhook_t w;
    ig_webhook_delivery_t ds[4];
    ig_webhook_attempt_t atts[8];
    char secret[IG_WEBHOOK_SECRET_TEXT_MAX], url[128], v[160];
    size_t n = 0;
    bool more = true;
    if (!st || !receiver_start(&rx) || !init_module(rx.port)) goto out;
    CHECK_EQ_INT(ig_store_org_create(st, "org-a", "A", &a), IG_OK);
    CHECK_EQ_INT(ig_store_org_set_plan(st, a.id, IG_STORE_PLAN_ENTERPRISE), IG_OK);
    snprintf(url, sizeof url, "http://hooks.example:%d/in?token=abc", rx.port);
    char norm[IG_OUTBOUND_URL_MAX];
    const char *why = NULL;
    g_answer = "127.0.0.1";
    CHECK_EQ_INT(ig_webhook_check_url(url, NULL, norm, &why), IG_OK);
    CHECK_EQ_INT(ig_webhook_create(st, a.id, norm, 1u << IG_WEBHOOK_EV_KEY_CREATE, NULL, secret, &w), IG_OK);
    CHECK_EQ_INT(ig_webhook_emit(st, a.id, "key.create", "{\"key_id\":\"k1\"}"), IG_OK);

    /* attempt 1: 500 → pending, due again after the (200 ms +/- 20 %) backoff */
    CHECK_EQ_INT(ig_webhook_run_due(st, &n, &more), IG_OK);
    CHECK_EQ_INT(n, 1);
    CHECK(!more);
    CHECK_EQ_INT(ig_store_webhook_deliveries(st, a.id, w.id, ds, 4, &n), IG_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(ds[0].status, IG_STORE_DELIVERY_PENDING);
    CHECK_EQ_INT(ds[0].attempts, 1);
    CHECK_EQ_INT(ds[0].last_status, 500);
    CHECK(ds[0].next_attempt_at >= ds[0].created_at + 160);
    /* the request: POST, signed over "<ts>.<body>" with the secret, the documented headers */
    CHECK(strncmp(rx.head, "POST /in?token=abc HTTP/1.1", 27) == 0);
    CHECK_EQ_STR(head_value(rx.head, "X-Ingate-Event", v, sizeof v), "key.create");
    CHECK_EQ_STR(head_value(rx.head, "X-Ingate-Delivery", v, sizeof v), ds[0].id);
    CHECK_EQ_STR(head_value(rx.head, "Content-Type", v, sizeof v), "application/json");
    char ts[32], sig[IG_WEBHOOK_SIG_MAX], ref[IG_WEBHOOK_SIG_MAX], msg[8300];
    head_value(rx.head, "X-Ingate-Timestamp", ts, sizeof ts);
    head_value(rx.head, "X-Ingate-Signature", sig, sizeof sig);
    CHECK(llabs(strtoll(ts, NULL, 10) - now_ms() / 1000) < 60);
    int ml = snprintf(msg, sizeof msg, "%s.%s", ts, rx.body);
    reference_sig(secret, msg, (size_t)ml, ref);
    CHECK_EQ_STR(sig, ref);
    CHECK(strstr(rx.body, "\"data\":{\"key_id\":\"k1\"}") != NULL);

    /* not due yet: nothing happens; then attempt 2: 200 → succeeded */
    CHECK_EQ_INT(ig_webhook_run_due(st, &n, &more), IG_OK);
    CHECK_EQ_INT(n, 0);
    usleep(300 * 1000);
    CHECK_EQ_INT(ig_webhook_run_due(st, &n, &more), IG_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(ig_store_webhook_deliveries(st, a.id, w.id, ds, 4, &n), IG_OK);
    CHECK_EQ_INT(ds[0].status, IG_STORE_DELIVERY_SUCCEEDED);
    CHECK_EQ_INT(ds[0].attempts, 2);
    CHECK_EQ_INT(ds[0].last_status, 200);
    CHECK_EQ_INT(ig_store_webhook_attempts(st, a.id, ds[0].id, atts, 8, &n), IG_OK);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(atts[0].status_code, 500);
    CHECK_EQ_INT(atts[1].status_code, 200);

    /* DNS rebinding: a name that answered a public address when registered answers the metadata address
     * at delivery time; the attempt is refused before any connection is made (nothing on the network) */
    ig_webhook_t w2;
    g_answer = "93.184.216.34";
    CHECK_EQ_INT(ig_webhook_check_url("https://hooks.example/rebind?token=abc", NULL, norm, &why), IG_OK);
    CHECK_EQ_INT(ig_webhook_create(st, a.id, norm, 1u << IG_WEBHOOK_EV_KEY_REVOKE, NULL, secret, &w2), IG_OK);
    g_answer = "169.254.169.254";
    CHECK_EQ_INT(ig_webhook_check_url("https://hooks.example/rebind", NULL, norm, &why), IG_EFORBIDDEN);
    CHECK_EQ_INT(ig_webhook_emit_to(st, a.id, w2.id, "webhook.test", NULL, NULL), IG_OK);
    CHECK_EQ_INT(ig_webhook_run_due(st, &n, &more), IG_OK);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(ig_store_webhook_deliveries(st, a.id, w2.id, ds, 4, &n), IG_OK);
    CHECK_EQ_INT(ds[0].attempts, 1);
    CHECK_EQ_INT(ds[0].status, IG_STORE_DELIVERY_PENDING);
    CHECK_EQ_INT(ds[0].last_status, 0);
    CHECK(strncmp(ds[0].last_error, "URL refused: ", 13) == 0);
    CHECK(strstr(ds[0].last_error, "link-local") != NULL);
    CHECK(strstr(ds[0].last_error, "hooks.example") == NULL && strstr(ds[0].last_error, "token") == NULL);
    CHECK_EQ_INT(rx.served, 2); /* no connection was made */
    CHECK_EQ_INT(ig_store_webhook_delete(st, a.id, w2.id), IG_OK);
    g_answer = "127.0.0.1";

    /* a redirect is a failed attempt, not followed */
    CHECK_EQ_INT(ig_webhook_emit(st, a.id, "key.create", NULL), IG_OK);
    CHECK_EQ_INT(ig_webhook_run_due(st, &n, &more), IG_OK);
    CHECK_EQ_INT(ig_store_webhook_deliveries(st, a.id, w.id, ds, 4, &n), IG_OK);
    CHECK_EQ_INT(ds[0].last_status, 302);
    CHECK_EQ_STR(ds[0].last_error, "redirects are not followed");
    CHECK_EQ_INT(ds[0].status, IG_STORE_DELIVERY_PENDING);
    CHECK_EQ_INT(ds[0].attempts, 1);
    CHECK_EQ_INT(rx.served, 3);

    /* a downgraded org: failed at once with "plan", nothing sent */
    CHECK_EQ_INT(ig_store_org_set_plan(st, a.id, IG_STORE_PLAN_FREE), IG_OK);
    usleep(300 * 1000);
    CHECK_EQ_INT(ig_webhook_run_due(st, &n, &more), IG_OK);
    CHECK_EQ_INT(ig_store_webhook_deliveries(st, a.id, w.id, ds, 4, &n), IG_OK);
    CHECK_EQ_INT(ds[0].status, IG_STORE_DELIVERY_FAILED);
    CHECK_EQ_STR(ds[0].last_error, "plan");
    CHECK_EQ_INT(ds[0].attempts, 2);
    CHECK_EQ_INT(rx.served, 3);
out:
    ig_webhook_shutdown();
    if (rx.fd > 0) receiver_stop(&rx);
    ig_store_close(st);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    RUN(event_names_and_masks);
    RUN(secret_text_form);
    RUN(signature);
    RUN(backoff_schedule);
    RUN(store_webhooks_crud_and_isolation);
    RUN(store_deliveries);
    RUN(emission_seals_and_scopes);
    RUN(delivery_signs_retries_and_rechecks);
    curl_global_cleanup();
    UNIT_DONE();
}

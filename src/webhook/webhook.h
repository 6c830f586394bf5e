/*
 * webhook.h — outbound webhooks: the event names, the signing secret and the signature, emission of events
 * into the store's delivery queue, and the delivery thread that POSTs them.
 *
 * Flow: an API handler changes something, writes its audit entry, then calls ig_webhook_emit(), which
 * inserts one pending delivery per enabled webhook of the org subscribed to the event (one indexed query when
 * the org has none) and wakes the delivery thread. The thread takes due deliveries from the control store,
 * leases each one (so a second process or a restart cannot send it twice at once), re-checks the webhook's
 * URL with ig_outbound_check() (DNS answers change: rebinding), connects only to the checked address
 * (ig_outbound_curl_pin(): no second lookup, no redirects, no proxy), POSTs the payload and records the
 * attempt. A 2xx is success; anything else is retried with exponential backoff and jitter
 * (ig_webhook_backoff_ms) until IG_WEBHOOK_MAX_ATTEMPTS, then the delivery is failed. Deliveries live in the
 * store, so a restart resumes them; an org no longer on the Enterprise plan at delivery time gets its
 * deliveries failed with the error "plan".
 *
 * Request: POST <url>, body = the payload {"id","type","org_id","timestamp","data"} (data: ids and names of
 * the objects concerned, never a secret; a logs.expiring body is that envelope as its first line followed by
 * the batch's records as JSON lines, built at delivery time from the org's log database), headers
 * X-Ingate-Event (type), X-Ingate-Delivery (delivery id), X-Ingate-Timestamp (unix seconds, fresh for every
 * attempt) and X-Ingate-Signature "v1=" + hex(HMAC-SHA256(secret, "<timestamp>.<body>")), where the HMAC key
 * is the whole secret string as shown once at creation ("whsec_" + base64url of 32 random bytes).
 * docs/webhooks.md shows how to verify.
 *
 * Secrets at rest: the signing secret and every payload are sealed (crypto.h envelope) under the key the
 * server derives from the master key for "webhook-secrets", with AAD binding the org and the row id
 * ("ingate/webhook-secret/v1:<org>:<webhook>", "ingate/webhook-payload/v1:<org>:<delivery>").
 *
 * Threads: ig_webhook_init() before any worker runs, ig_webhook_start()/ig_webhook_stop() around serving,
 * ig_webhook_shutdown() last. The other functions are thread-safe; those that take a store handle, or check a
 * URL (DNS), block and belong on worker threads or the delivery thread, never on an event loop.
 */
#ifndef IG_WEBHOOK_WEBHOOK_H
#define IG_WEBHOOK_WEBHOOK_H

#include "core/buf.h"
#include "core/common.h"
#include "net/outbound.h"
#include "store/store.h"

#include <stdint.h>

/* The events a webhook can subscribe to (name, wire name). Append only: the stored lists use the names,
 * but the API's bit masks use the order. */
#define IG_WEBHOOK_EVENT_MAP(X)                                                                              \
    X(KEY_CREATE, "key.create")                                                                              \
    X(KEY_REVOKE, "key.revoke")                                                                              \
    X(KEY_ROTATE, "key.rotate")                                                                              \
    X(USER_INVITE, "user.invite")                                                                            \
    X(USER_ROLE_CHANGE, "user.role_change")                                                                  \
    X(USER_REMOVE, "user.remove")                                                                            \
    X(BUDGET_WARNING, "budget.warning")                                                                      \
    X(BUDGET_EXCEEDED, "budget.exceeded")                                                                    \
    X(LOGS_EXPIRING, "logs.expiring")                                                                        \
    X(WEBHOOK_TEST, "webhook.test")

typedef enum {
#define IG_WEBHOOK_EV_ENUM(name, wire) IG_WEBHOOK_EV_##name,
    IG_WEBHOOK_EVENT_MAP(IG_WEBHOOK_EV_ENUM)
#undef IG_WEBHOOK_EV_ENUM
        IG_WEBHOOK_EV__COUNT
} ig_webhook_event_t;

#define IG_WEBHOOK_SECRET_BYTES    32       /* random bytes of a signing secret */
#define IG_WEBHOOK_SECRET_PREFIX   "whsec_" /* so a leaked secret is recognisable (secret scanners) */
#define IG_WEBHOOK_SECRET_TEXT_MAX 64       /* "whsec_" + 43 base64url chars + NUL = 50 */
#define IG_WEBHOOK_SIG_MAX         68       /* "v1=" + 64 hex chars + NUL */
#define IG_WEBHOOK_DATA_MAX        4096     /* the data object of one event (ids and names) */

/* Delivery: at most this many attempts, the first one right away; then the delivery is failed. */
#define IG_WEBHOOK_MAX_ATTEMPTS 8
/* Per attempt: connect and whole-transfer timeouts (a receiver must answer quickly: queue, then work). */
#define IG_WEBHOOK_CONNECT_TIMEOUT_MS 5000
#define IG_WEBHOOK_TIMEOUT_MS         10000
/* A leased delivery is not taken again before this: longer than an attempt (check + transfer) can last. */
#define IG_WEBHOOK_LEASE_MS 60000
/* The thread re-reads the queue at least this often (another process may have queued deliveries). */
#define IG_WEBHOOK_POLL_MS 30000
/* Due deliveries taken per store query. */
#define IG_WEBHOOK_BATCH 16
/* Finished deliveries (and their attempts) are purged this long after their last attempt. */
#define IG_WEBHOOK_KEEP_MS (30LL * 86400 * 1000)
/* Ceiling of a logs.expiring body (the envelope and its records as JSON lines): batches are formed far below
 * it (capture/expiring.h), so only a single pathological record reaches it (it is then sent as a
 * record_too_large line). */
#define IG_WEBHOOK_LOGS_BODY_MAX (64u * 1024 * 1024)
/* A large body gets this much more time per MiB on top of IG_WEBHOOK_TIMEOUT_MS (at least 1 MiB/s), and its
 * lease as much longer as the largest body may need. */
#define IG_WEBHOOK_TIMEOUT_PER_MIB_MS 1000
#define IG_WEBHOOK_LOGS_LEASE_MS      (IG_WEBHOOK_LEASE_MS + (IG_WEBHOOK_LOGS_BODY_MAX >> 20) * 1000LL)

/* The index of the event named name (exact, case-sensitive), or -1. */
int ig_webhook_event_index(ig_iov_t name);
/* The wire name of event i ("" when out of range). */
const char *ig_webhook_event_name(int i);
/* The comma-separated names of the events in mask (bit i = event i), in table order, into out. IG_EINVAL
 * for an empty mask or bits past the table; IG_ETOOBIG when out is too small. */
int ig_webhook_events_text(uint32_t mask, char *out, size_t cap);
/* The mask of a comma-separated list of event names. IG_EINVAL when a name is unknown or the list empty. */
int ig_webhook_events_mask(const char *text, uint32_t *mask);

/* A fresh signing secret: raw (IG_WEBHOOK_SECRET_BYTES random bytes) and its text form. IG_ECRYPTO. */
int ig_webhook_secret_new(uint8_t raw[IG_WEBHOOK_SECRET_BYTES], char text[IG_WEBHOOK_SECRET_TEXT_MAX]);
/* The text form of a raw secret: "whsec_" + base64url (no padding). */
void ig_webhook_secret_text(const uint8_t raw[IG_WEBHOOK_SECRET_BYTES],
                            char text[IG_WEBHOOK_SECRET_TEXT_MAX]);
/* The X-Ingate-Signature value for a body sent at unix second ts: "v1=" + lowercase hex of
 * HMAC-SHA256(key = secret_text's bytes, message = "<ts>.<body>"). IG_ECRYPTO, IG_ENOMEM. */
int ig_webhook_sign(const char *secret_text, int64_t ts, ig_iov_t body, char out[IG_WEBHOOK_SIG_MAX]);

/* Delay before the retry that follows attempt number `attempts` (1-based, 1..IG_WEBHOOK_MAX_ATTEMPTS - 1):
 * base_ms × 3^(attempts - 1), scaled by a jitter factor 0.8 + 0.4 × rnd / 2^32 (so ± 20 %). Never below
 * 1 ms; saturates instead of overflowing. */
int64_t ig_webhook_backoff_ms(int attempts, int64_t base_ms, uint32_t rnd);
/* The delivery's state after its attempt number `attempts` (1-based): IG_STORE_DELIVERY_SUCCEEDED when ok,
 * IG_STORE_DELIVERY_FAILED when it was the last allowed one (or `final`: retrying cannot help), else
 * IG_STORE_DELIVERY_PENDING with *next_at = now + ig_webhook_backoff_ms(attempts, base_ms, rnd). */
int ig_webhook_next_state(int attempts, bool ok, bool final, int64_t now, int64_t base_ms, uint32_t rnd,
                          int64_t *next_at);

/* Builds the rest of a logs.expiring delivery's body: body holds the opened envelope; the function appends
 * "\n" and one JSON line per record of the delivery's batch (ig_store_logbatch_get), each ending in "\n",
 * within body's ceiling. Called by whichever thread attempts the delivery, with its store handle. IG_OK;
 * IG_ENOTFOUND when the delivery has no batch (it then fails for good); any other error fails this attempt
 * only (it is retried). */
typedef int (*ig_webhook_body_fn)(void *ctx, ig_store_t *st, const ig_webhook_delivery_t *d, ig_buf_t *body);

typedef struct {
    const char *store_url;          /* the delivery thread opens its own handle with this */
    const uint8_t *key;             /* 32 bytes: ig_derive_key(master, "webhook-secrets"); copied */
    const char *outbound_allowlist; /* operator allowlist (net/outbound.h syntax); NULL or "" = none */
    int64_t retry_base_ms;          /* first retry delay (ig_webhook_backoff_ms) */
    ig_webhook_body_fn logs_body;   /* NULL: logs.expiring deliveries cannot be built here (retried) */
    void *logs_body_ctx;            /* passed to logs_body; used by one thread at a time */
} ig_webhook_conf_t;

/* Copies the key and the store URL and builds the outbound policy. IG_OK; IG_EINVAL for a malformed
 * allowlist (*why is the validator's reason; why may be NULL) or a missing key; IG_ENOMEM. Call once,
 * before any other function of this module runs on another thread. */
int ig_webhook_init(const ig_webhook_conf_t *c, const char **why);
/* Replaces the outbound policy's resolver (tests; see ig_outbound_policy_set_resolver). Before sharing. */
void ig_webhook_set_resolver(ig_outbound_resolve_fn fn, void *ctx);
/* Starts the delivery thread. IG_EINVAL before ig_webhook_init; IG_EINTERNAL when the thread cannot start. */
int ig_webhook_start(void);
/* Stops the delivery thread: an attempt in flight is aborted (not counted, and due again at once, so a
 * restart resumes it), then the thread is joined. No-op when not started. */
void ig_webhook_stop(void);
/* Frees the policy and wipes the key (after ig_webhook_stop). Safe to call twice. */
void ig_webhook_shutdown(void);

/* Checks a webhook URL with the outbound validator (the operator's allowlist and org_allowlist, the org's
 * `outbound_allowlist` setting joined with commas, NULL for none) and writes the
 * normalised URL into norm. Blocking (DNS). IG_OK; IG_EINVAL / IG_EFORBIDDEN / IG_EUNAVAILABLE with *why
 * the validator's client-safe reason (never echoing the URL); IG_ENOMEM. */
int ig_webhook_check_url(const char *url, const char *org_allowlist, char norm[IG_OUTBOUND_URL_MAX],
                         const char **why);

/* Creates a webhook of org_id for the events in mask, with a fresh secret sealed for the new row; url must
 * already be checked and normalised. secret_text receives the secret (to show ONCE; the caller wipes it);
 * out (may be NULL) the row. Errors of ig_store_webhook_create; IG_EUNAVAILABLE before ig_webhook_init. */
int ig_webhook_create(ig_store_t *st, const char *org_id, const char *url, uint32_t mask,
                      const char *description, char secret_text[IG_WEBHOOK_SECRET_TEXT_MAX],
                      ig_webhook_t *out);

/* Emits event `type` (a name of IG_WEBHOOK_EVENT_MAP, else IG_EINVAL) of org_id: builds the payload
 * {"id","type","org_id","timestamp","data"} with data_json (a JSON object built by the caller from ids and
 * names, at most IG_WEBHOOK_DATA_MAX bytes; NULL = {}) and queues one delivery per enabled webhook of the
 * org subscribed to type, then wakes the delivery thread. One query when the org has no webhook. A delivery
 * that cannot be queued is logged and the others still are; returns the first error. */
int ig_webhook_emit(ig_store_t *st, const char *org_id, const char *type, const char *data_json);
/* As ig_webhook_emit, for an event whose id is given (32 lowercase hex chars; NULL = a fresh random id):
 * a webhook that already has a delivery of this event counts as queued (the store refuses a second one for
 * budget events, schema v9), so emitting the same event again after a failure or a crash sends it once. */
int ig_webhook_emit_id(ig_store_t *st, const char *org_id, const char *type, const char *data_json,
                       const char *event_id);
/* A stable event id for text (e.g. "<budget>:<period start>:budget.warning"): the lowercase hex of the first
 * 16 bytes of SHA-256(text). */
void ig_webhook_event_id(const char *text, char out[33]);
/* As ig_webhook_emit for ONE webhook of the org, whatever its subscriptions and enabled flag (the test
 * event). out (may be NULL) gets the queued delivery. IG_ENOTFOUND when the org has no such webhook. */
int ig_webhook_emit_to(ig_store_t *st, const char *org_id, const char *webhook_id, const char *type,
                       const char *data_json, ig_webhook_delivery_t *out);

/* Queues ONE logs.expiring delivery to the org's webhook webhook_id (the caller picked it: enabled and
 * subscribed) carrying the batch b of the org's log records: the sealed payload is the envelope
 * {"id","type":"logs.expiring","org_id","timestamp","data"} with data_json (as for ig_webhook_emit), stored
 * with the batch in one transaction (ig_store_logbatch_add); the records themselves are read when the
 * delivery is attempted (ig_webhook_conf_t.logs_body), and the body sent is the envelope line followed by one
 * line per record. Wakes the delivery thread. IG_ECONFLICT when these records are already queued to the
 * webhook; IG_ENOTFOUND, IG_EINVAL as ig_store_logbatch_add; IG_EUNAVAILABLE before ig_webhook_init. */
int ig_webhook_emit_batch(ig_store_t *st, const char *org_id, const char *webhook_id, const char *data_json,
                          const ig_logbatch_t *b, ig_webhook_delivery_t *out);
/* Wakes the delivery thread: another process queued deliveries (the control socket's "wake-webhooks"). A
 * no-op when the thread does not run. Thread-safe. */
void ig_webhook_wake(void);

/* Opens a delivery's sealed payload (appends the JSON to out; the caller frees it with ig_buf_free) and a
 * webhook's sealed secret (its text form). IG_ECRYPTO when it was not sealed for this org and row under the
 * current key; IG_EUNAVAILABLE before ig_webhook_init. */
int ig_webhook_open_payload(const char *org_id, const char *delivery_id, ig_iov_t sealed, ig_buf_t *out);
int ig_webhook_open_secret(const ig_webhook_t *w, char text[IG_WEBHOOK_SECRET_TEXT_MAX]);

/* One pass of the delivery thread (also for tests): attempts up to IG_WEBHOOK_BATCH deliveries due now, one
 * after the other, stopping early when ig_webhook_stop was called. *attempted (may be NULL) = how many were
 * attempted, *more = whether a full batch was due (call again at once). Store errors are returned. */
int ig_webhook_run_due(ig_store_t *st, size_t *attempted, bool *more);

#endif

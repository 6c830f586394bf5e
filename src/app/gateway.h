/*
 * gateway.h — the running gateway: its immutable settings, per-loop state, and the request router.
 *
 * ig_gateway_t is built once at startup and only read afterwards (config is an immutable snapshot). Each loop
 * thread has an ig_loopctx_t: its HTTP server and its libcurl multi handle. Worker threads have an
 * ig_worker_t with their own store handle.
 */
#ifndef IG_APP_GATEWAY_H
#define IG_APP_GATEWAY_H

#include "auth/authcache.h"
#include "config/options.h"
#include "http/http.h"
#include "net/loop.h"
#include "proxy/provider.h"
#include "proxy/upstream.h"
#include "store/store.h"

typedef struct ig_gateway {
    const ig_config_t *cfg;
    ig_providers_t providers;
    uint8_t provider_dek[32]; /* data-encryption key for provider keys, derived from the master key */
    uint8_t session_key[32];  /* HMAC key of session tokens, derived from the master key */
    struct ig_ratelimit *auth_limiter; /* signup/login/invitation attempts per client address */
    struct ig_limiter *key_limiter;    /* per-key requests / tokens per minute (limit/limiter.h) */
    struct ig_budget_ledger *budgets;  /* this node's spend budgets: reserve, then settle (limit/budget.h) */
    struct ig_trusted *trusted;        /* proxies whose X-Forwarded-For is believed (NULL = none) */
    uint8_t org_kek[32];               /* wraps the orgs' data keys, derived from the master key */
    char logs_dir[4200];               /* <data_dir>/orgs: one log database per org */
    char spool_dir[4200];              /* <data_dir>/spool */
    struct ig_pricing *pricing;        /* model prices (cost of calls) */
    ig_workpool_t *pool;
    char store_url[4200];
} ig_gateway_t;

typedef struct ig_loopctx {
    ig_loop_t loop;
    ig_http_server_t http;
    ig_upstream_t *up;
    ig_gateway_t *gw;
} ig_loopctx_t;

typedef struct ig_worker {
    ig_store_t *st;
    struct ig_orgcache *orgs; /* org data keys, settings and log databases (capture/orgctx.h) */
    int index;
} ig_worker_t;

/* Who is calling, whatever the credential (filled by the auth phase). */
typedef struct ig_caller {
    bool session;      /* a session token (else an API key) */
    int role;          /* live role: the key's role, or the user's membership role for a session */
    char org_id[33];   /* the org every query of this request is scoped by */
    char user_id[33];  /* session: the user; key: its creator ("" when none) */
    char key_id[33];   /* key: its id */
    char jti[33];      /* session: the token id */
    int64_t token_exp; /* session: the token's expiry (unix s) */
} ig_caller_t;

/* Per-request state shared by the auth phase and its handlers (lives in the request pool). */
typedef struct ig_reqstate {
    ig_loopctx_t *lc;
    ig_auth_t auth;
    bool have_auth;
    ig_caller_t who;     /* valid when authenticated */
    bool public_route;   /* signup, login, invitation accept: no credential */
    bool cookie_session; /* authenticated (or refused) by the dashboard's session cookie */
    int64_t retry_after; /* > 0: the auth limiter refused this attempt (seconds) */
    char client_ip[46];  /* peer, or X-Forwarded-For hop through trusted proxies */
    uint8_t key_hash[32];
    int route;     /* enum route */
    void *handler; /* the handler's own state */
} ig_reqstate_t;

/* HTTP handlers for ig_http_server_init (ctx = ig_loopctx_t via req->srv->loop->user). */
extern const ig_http_handlers_t ig_gateway_handlers;

/* The proxy (src/proxy/proxy.c). */
void ig_proxy_handle(ig_req_t *req, ig_reqstate_t *rs);

/* Derives the AAD binding a provider key to its org and provider: "ingate/provider-key/v1:<org>:<provider>".
 */
int ig_provider_key_aad(const char *org_id, const char *provider, char *out, size_t cap);

#endif
